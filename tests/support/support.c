/* support.c -- shared test helpers: random trees, oracles, tolerances. */
#include <config.h>

#include "support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <klu.h>
#include <lapacke.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void *test_alloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        fail_msg("out of memory allocating %zu x %zu bytes", count, size);
        abort(); /* fail_msg does not return; this says so to the compiler */
    }
    return p;
}

/* Seed-taking conveniences over the library's generators (lib/core/random.c). */
void test_random_recursive_parents(int64_t n, uint64_t seed, int64_t *parent)
{
    test_random_forest_parents(n, 1, seed, parent);
}

void test_random_forest_parents(int64_t n, int64_t trees, uint64_t seed, int64_t *parent)
{
    myo_rng r = myo_rng_seed(seed);
    myo_random_forest_parents(n, trees, &r, parent);
}

void test_shuffle_labels(int64_t *parent, int64_t n, uint64_t seed, int64_t *new_label)
{
    myo_rng r = myo_rng_seed(seed);
    assert_int_equal(myo_random_shuffle_labels(parent, n, &r, new_label), MYO_OK);
}

void test_dominant_coeffs(const int64_t *parent, int64_t n, uint64_t seed, int signed_diag,
                          double *diag, double *up, double *down)
{
    myo_rng r = myo_rng_seed(seed);
    assert_int_equal(myo_random_dominant_coeffs(parent, n, &r, signed_diag, diag, up, down),
                     MYO_OK);
}

void test_random_values(double *v, int64_t count, uint64_t seed)
{
    myo_rng r = myo_rng_seed(seed);
    myo_random_values(v, count, &r);
}

int test_dense_solve(const int64_t *parent, int64_t n, const double *diag, const double *up,
                     const double *down, myo_op op, const double *rhs, double *x, int64_t m)
{
    /* A (n, n) row-major: A[i][p] = up[i], A[p][i] = down[i]; transposed for MYO_OP_T. */
    double *a = test_alloc((size_t)(n * n), sizeof(double));
    lapack_int *ipiv = test_alloc((size_t)n, sizeof(lapack_int));
    for (int64_t i = 0; i < n; i++) {
        a[i * n + i] = diag[i];
        int64_t p = parent[i];
        if (p < 0) continue;
        double to_parent = op == MYO_OP_N ? up[i] : down[i];
        double from_parent = op == MYO_OP_N ? down[i] : up[i];
        a[i * n + p] = to_parent;
        a[p * n + i] = from_parent;
    }
    memcpy(x, rhs, (size_t)(n * m) * sizeof(double));
    lapack_int info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)m, a,
                                    (lapack_int)n, ipiv, x, (lapack_int)m);
    free(a), free(ipiv);
    return (int)info;
}

int test_klu_solve(const int64_t *parent, int64_t n, const double *diag, const double *up,
                   const double *down, myo_op op, const double *rhs, double *x, int64_t m)
{
    /* op(M) in compressed sparse columns: column j holds (j, j), (p, j) for
     * j's parent p, and (c, j) for each child c. */
    int64_t nnz = n;
    for (int64_t i = 0; i < n; i++)
        nnz += parent[i] >= 0 ? 2 : 0;
    int *ap = test_alloc((size_t)n + 1, sizeof(int)), *ai = test_alloc((size_t)nnz, sizeof(int));
    double *ax = test_alloc((size_t)nnz, sizeof(double));
    int *fill = test_alloc((size_t)n, sizeof(int));
    for (int64_t i = 0; i < n; i++) {
        ap[i + 1]++;
        if (parent[i] >= 0) ap[i + 1]++, ap[parent[i] + 1]++;
    }
    for (int64_t j = 0; j < n; j++)
        ap[j + 1] += ap[j];
    for (int64_t j = 0; j < n; j++)
        fill[j] = ap[j];
#define PUT(row, col, val) (ai[fill[col]] = (int)(row), ax[fill[col]++] = (val))
    for (int64_t i = 0; i < n; i++) {
        PUT(i, i, diag[i]);
        int64_t p = parent[i];
        if (p < 0) continue;
        /* M[i][p] = up[i], M[p][i] = down[i]; op T swaps them. */
        PUT(i, p, op == MYO_OP_N ? up[i] : down[i]);
        PUT(p, i, op == MYO_OP_N ? down[i] : up[i]);
    }
#undef PUT
    /* KLU wants sorted row indices per column. */
    for (int64_t j = 0; j < n; j++)
        for (int k = ap[j] + 1; k < ap[j + 1]; k++)
            for (int l = k; l > ap[j] && ai[l - 1] > ai[l]; l--) {
                int ti = ai[l];
                ai[l] = ai[l - 1], ai[l - 1] = ti;
                double tx = ax[l];
                ax[l] = ax[l - 1], ax[l - 1] = tx;
            }
    double *b = test_alloc((size_t)(n * m), sizeof(double)); /* column-major */
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < m; k++)
            b[k * n + i] = rhs[i * m + k];
    klu_common common;
    klu_defaults(&common);
    int rc = 1;
    klu_symbolic *sym = klu_analyze((int)n, ap, ai, &common);
    klu_numeric *num = sym ? klu_factor(ap, ai, ax, sym, &common) : NULL;
    if (num && klu_solve(sym, num, (int)n, (int)m, b, &common)) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < m; k++)
                x[i * m + k] = b[k * n + i];
        rc = 0;
    }
    if (num) klu_free_numeric(&num, &common);
    if (sym) klu_free_symbolic(&sym, &common);
    free(ap), free(ai), free(ax), free(fill), free(b);
    return rc;
}

double test_max_scaled_error(const double *a, const double *b, int64_t count, double atol,
                             double rtol)
{
    double worst = 0.0;
    for (int64_t i = 0; i < count; i++) {
        double e = fabs(a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(e <= worst) && !isnan(worst)) worst = e; /* a NaN sticks as the worst */
    }
    return worst;
}

static void report_close(const char *what, int64_t count, double max_abs, double max_rel,
                         int64_t worst_i, double worst, double atol, double rtol)
{
    int failed = !(worst <= 1.0);
    if (failed || getenv("MYO_TEST_VERBOSE"))
        print_message("%s: %s max |a-b| = %.3e, max |a-b|/|ref| = %.3e over %lld values "
                      "(atol %.1e, rtol %.1e, worst index %lld)\n",
                      what, failed ? "FAIL" : "ok", max_abs, max_rel, (long long)count, atol, rtol,
                      (long long)worst_i);
    if (failed) fail_msg("%s: |a-b| <= atol + rtol|ref| violated", what);
}

#define ASSERT_CLOSE_BODY(GOT)                                                                     \
    double max_abs = 0, max_rel = 0, worst = 0;                                                    \
    int64_t worst_i = -1;                                                                          \
    for (int64_t i = 0; i < count; i++) {                                                          \
        double d = fabs((double)GOT[i] - ref[i]);                                                  \
        double e = d / (atol + rtol * fabs(ref[i]));                                               \
        /* !(x <= max) takes a NaN, && !isnan(max) keeps it */                                     \
        if (!(d <= max_abs) && !isnan(max_abs)) max_abs = d;                                       \
        if (ref[i] != 0 && !(d / fabs(ref[i]) <= max_rel) && !isnan(max_rel))                      \
            max_rel = d / fabs(ref[i]);                                                            \
        if (!(e <= worst) && !isnan(worst)) worst = e, worst_i = i;                                \
    }                                                                                              \
    report_close(what, count, max_abs, max_rel, worst_i, worst, atol, rtol)

void test_assert_close_f64(const double *got, const double *ref, int64_t count, double atol,
                           double rtol, const char *what)
{
    ASSERT_CLOSE_BODY(got);
}

void test_assert_close_f32(const float *got, const double *ref, int64_t count, double atol,
                           double rtol, const char *what)
{
    ASSERT_CLOSE_BODY(got);
}

void test_check_gradient(const char *what, double *x, int64_t count, int64_t stride,
                         const double *grad, test_loss_fn loss, void *ctx, double h, double atol,
                         double rtol)
{
    if (stride < 1) stride = 1;
    int64_t checked = (count + stride - 1) / stride, k = 0;
    double *fd = test_alloc((size_t)checked, sizeof(double));
    double *analytic = test_alloc((size_t)checked, sizeof(double));
    for (int64_t i = 0; i < count; i += stride, k++) {
        double saved = x[i];
        x[i] = saved + h;
        double plus = loss(ctx);
        x[i] = saved - h;
        double minus = loss(ctx);
        x[i] = saved;
        fd[k] = (plus - minus) / (2.0 * h);
        analytic[k] = grad[i];
    }
    char label[200];
    snprintf(label, sizeof label,
             "%s: gradient vs central differences (h %.0e, %lld of %lld entries)", what, h,
             (long long)checked, (long long)count);
    test_assert_close_f64(analytic, fd, checked, atol, rtol, label);
    free(fd), free(analytic);
}

char *test_make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    size_t len = strlen(base) + 32;
    char *dir = test_alloc(len, 1);
    snprintf(dir, len, "%s/myo-test-XXXXXX", base);
    if (!mkdtemp(dir)) fail_msg("cannot create a temporary directory under %s", base);
    return dir;
}

void test_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) break;
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(path, 0700);
            test_remove_dir(path);
        } else {
            unlink(path);
        }
        free(path);
    }
    closedir(d);
    rmdir(dir);
}

unsigned char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = test_alloc(len > 0 ? (size_t)len : 1, 1);
    if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        fail_msg("cannot read %s", path);
    }
    fclose(f);
    *size = (size_t)len;
    return buf;
}

char *test_read_text(const char *path)
{
    size_t size = 0;
    unsigned char *bytes = test_read_file(path, &size);
    char *text = test_alloc(size + 1, 1);
    if (bytes) memcpy(text, bytes, size);
    free(bytes);
    return text;
}

char *test_path_in(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = test_alloc(len, 1);
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

void test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s", path);
    if ((len && fwrite(data, 1, len, f) != len) | (fclose(f) != 0))
        fail_msg("cannot write %zu bytes to %s", len, path);
}

int64_t test_env_count(const char *name, int64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end == '\0' && v > 0 ? (int64_t)v : dflt;
}

int64_t test_fuzz_iterations(int64_t dflt)
{
    return test_env_count("MYO_FUZZ_ITERATIONS", dflt);
}

/* One random edit of buf (*len bytes, room for cap). */
static void fuzz_edit(char *buf, size_t *len, size_t cap, const char *alphabet, size_t letters,
                      myo_rng *r)
{
    size_t n = *len, at = n ? (size_t)myo_rng_below(r, (int64_t)n) : 0, k;
    switch (myo_rng_below(r, 6)) {
    case 0: /* flip a byte */
        if (n) buf[at] ^= (char)(1 + myo_rng_below(r, 255));
        break;
    case 1: /* replace with a meaningful character */
        if (n) buf[at] = alphabet[myo_rng_below(r, (int64_t)letters)];
        break;
    case 2: /* insert one */
        if (n + 1 < cap) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = alphabet[myo_rng_below(r, (int64_t)letters)];
            *len = n + 1;
        }
        break;
    case 3: /* delete a run */
        k = 1 + (size_t)myo_rng_below(r, 8);
        if (at + k > n) k = n - at;
        memmove(buf + at, buf + at + k, n - at - k);
        *len = n - k;
        break;
    case 4: /* duplicate a run */
        k = 1 + (size_t)myo_rng_below(r, 16);
        if (at + k > n) k = n - at;
        if (n + k < cap) {
            memmove(buf + at + k, buf + at, n - at);
            *len = n + k;
        }
        break;
    default: /* truncate */
        *len = at;
        break;
    }
}

int64_t test_fuzz_mutations(uint64_t seed, int64_t dflt_iterations, const char *base, size_t len,
                            const char *alphabet, test_fuzz_fn check, void *ctx)
{
    const int64_t iterations = test_fuzz_iterations(dflt_iterations);
    const size_t cap = 4 * len + 64, letters = strlen(alphabet);
    char *buf = test_alloc(cap + 1, 1);
    myo_rng r = myo_rng_seed(seed);
    for (int64_t it = 0; it < iterations; it++) {
        size_t n = len;
        memcpy(buf, base, len);
        for (int edits = 1 + (int)myo_rng_below(&r, 6); edits > 0; edits--)
            fuzz_edit(buf, &n, cap, alphabet, letters, &r);
        buf[n] = '\0';
        check(it, buf, n, ctx);
    }
    free(buf);
    return iterations;
}

char *test_tool_path(const char *tool)
{
    const char *bindir = getenv("MYO_BINDIR");
    if (!bindir || !*bindir) {
        fprintf(stderr, "MYO_BINDIR is not set: run the tests through 'make check', or set it to "
                        "the build's drivers/ directory\n");
        return NULL;
    }
    size_t len = strlen(bindir) + strlen(tool) + 2;
    char *path = malloc(len);
    if (!path) return NULL;
    snprintf(path, len, "%s/%s", bindir, tool);
    if (access(path, X_OK) != 0) {
        fprintf(stderr, "%s is not an executable (MYO_BINDIR=%s)\n", path, bindir);
        free(path);
        return NULL;
    }
    return path;
}

/* The longest a tool run may take: $MYO_TEST_RUN_TIMEOUT seconds, default
 * 600.  A guard against hangs (a launcher that never returns), not a time
 * budget: the runs take seconds. */
static int test_run_timeout_s(void)
{
    const char *v = getenv("MYO_TEST_RUN_TIMEOUT");
    int s = v && *v ? atoi(v) : 0;
    return s > 0 ? s : 600;
}

/* waitpid(pid) for at most limit_s seconds, polling from 1 to 50 ms apart;
 * 1 when it exited (its status in *status), 0 when still running. */
static int wait_with_deadline(pid_t pid, int *status, int limit_s)
{
    struct timespec start, now, pause = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t done = waitpid(pid, status, WNOHANG);
        if (done == pid) return 1;
        if (done < 0) fail_msg("waitpid failed");
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= limit_s) return 0;
        nanosleep(&pause, NULL);
        if (pause.tv_nsec < 50000000) pause.tv_nsec *= 2;
    }
}

test_run_result test_run(const char *const *argv, const char *out_path, const char *err_path,
                         long long fsize_limit)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) fail_msg("fork failed");
    /* the child in its own process group, a timeout kills what it started;
     * set in both processes, whichever runs first */
    setpgid(pid, pid);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY); /* a background group must not read a terminal */
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || err < 0 || out < 0 || dup2(in, 0) < 0 || dup2(err, 2) < 0 || dup2(out, 1) < 0)
            _exit(126);
        if (fsize_limit > 0) {
            struct rlimit lim;
            getrlimit(RLIMIT_FSIZE, &lim);
            lim.rlim_cur = (rlim_t)fsize_limit;
            if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(126);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0, limit_s = test_run_timeout_s();
    if (!wait_with_deadline(pid, &status, limit_s)) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        char *err = test_read_text(err_path);
        fail_msg("%s did not exit within %d s (MYO_TEST_RUN_TIMEOUT): killed with its process "
                 "group; stderr so far: %s", argv[0], limit_s, err);
    }
    test_run_result r = {-1, test_read_text(out_path), test_read_text(err_path)};
    if (WIFSIGNALED(status))
        fail_msg("%s died from signal %d; stderr: %s", argv[0], WTERMSIG(status), r.err);
    r.code = WEXITSTATUS(status);
    if (r.code == 126 || r.code == 127) fail_msg("could not run %s", argv[0]);
    return r;
}

void test_run_free(test_run_result *r)
{
    free(r->out), free(r->err);
    r->out = r->err = NULL;
}

void test_assert_one_line(const char *err, const char *tool, const char *const *mentions)
{
    size_t len = strlen(err), tool_len = strlen(tool);
    if (len == 0) fail_msg("stderr is empty");
    if (strncmp(err, tool, tool_len) != 0 || strncmp(err + tool_len, ": ", 2) != 0)
        fail_msg("stderr does not start with '%s: ': %s", tool, err);
    if (err[len - 1] != '\n' || strchr(err, '\n') != err + len - 1)
        fail_msg("stderr is not exactly one line:\n%s", err);
    for (; mentions && *mentions; mentions++)
        if (!strstr(err, *mentions)) fail_msg("stderr does not mention \"%s\": %s", *mentions, err);
}

/* ------------------------------------- float/double copies (test_layer.c) */

void test_round_to_f32(double *v, float *f, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        float r = (float)v[i];
        v[i] = r;
        if (f) f[i] = r;
    }
}

void test_widen_to_f64(const float *f, double *out, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        out[i] = f[i];
}

double test_max_abs(const double *v, int64_t count)
{
    double m = 0.0;
    for (int64_t i = 0; i < count; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

/* ============================================================ MPI tests */

void test_mpi_init(int *argc, char ***argv, MPI_Comm *comm, int *rank, int *size)
{
    MPI_Init(argc, argv);
    MPI_Comm_dup(MPI_COMM_WORLD, comm);
    MPI_Comm_rank(*comm, rank);
    MPI_Comm_size(*comm, size);
}

const char *test_mpi_group_name(const char *what, MPI_Comm comm)
{
    static char group[64];
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    snprintf(group, sizeof group, "%s, rank %d of %d", what, rank, size);
    return group;
}

int test_mpi_failures_anywhere(MPI_Comm comm, int failed)
{
    int failed_anywhere = 0;
    MPI_Allreduce(&failed, &failed_anywhere, 1, MPI_INT, MPI_SUM, comm);
    return failed_anywhere;
}

int test_mpi_finalize(MPI_Comm *comm, int failed_anywhere)
{
    MPI_Comm_free(comm);
    MPI_Finalize();
    return failed_anywhere != 0;
}

void test_assert_all_ranks(int ok, MPI_Comm comm, const char *what)
{
    int all = 0, rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
    if (!all)
        fail_msg("%s: failed on at least one rank (rank %d: %s)", what, rank, ok ? "ok" : "failed");
}

MPI_Comm test_mpi_reversed(MPI_Comm comm)
{
    int rank = 0, size = 1;
    MPI_Comm rev;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    MPI_Comm_split(comm, 0, size - 1 - rank, &rev);
    return rev;
}

void test_split(test_split_kind kind, int64_t n, int p, uint64_t seed, int64_t *off)
{
    off[0] = 0, off[p] = n;
    if (kind == TEST_SPLIT_RANDOM) {
        myo_rng r = myo_rng_seed(seed);
        for (int i = 1; i < p; i++)
            off[i] = myo_rng_below(&r, n + 1);
        for (int i = 1; i < p; i++) /* insertion sort */
            for (int j = i; j > 1 && off[j - 1] > off[j]; j--) {
                int64_t t = off[j];
                off[j] = off[j - 1], off[j - 1] = t;
            }
    } else if (kind == TEST_SPLIT_FIRST_EMPTY && p > 1) {
        for (int i = 1; i < p; i++)
            off[i] = (i - 1) * n / (p - 1);
    } else if (kind == TEST_SPLIT_ALL_ON_LAST) {
        for (int i = 1; i < p; i++)
            off[i] = 0;
    } else {
        for (int i = 1; i < p; i++)
            off[i] = i * n / p;
    }
}
