/* bench.c -- what the MPI drivers share (bench.h). */
#include <config.h>

#include "bench.h"
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Who this process is: set once by myo_bench_init, read by the messages. */
static const char *g_tool = "myo-bench";
static int g_rank = 0, g_size = 1;
static int g_threads_set = 0;    /* OPENBLAS_NUM_THREADS set by myo_bench_blas_single_thread */
static double g_peak_before = 0; /* MiB: the peak resident set before the last reset */
/* myo_bench_say_hold: the first line said since, not yet printed (its
 * text after "tool: ", and whether it names the rank) */
static int g_hold = 0, g_held = 0, g_held_any_rank = 0;
static char g_held_line[1024];

/* ------------------------------------------------------ ranks, messages */

void myo_bench_init(const char *tool)
{
    g_tool = tool;
    myo_bench_mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                        "MPI_Comm_set_errhandler");
    myo_bench_mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank");
    myo_bench_mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "MPI_Comm_size");
}

int myo_bench_rank(void)
{
    return g_rank;
}
int myo_bench_size(void)
{
    return g_size;
}

/* One line "tool: [rank R: ]text" on stderr. */
static void say_line(int name_rank, const char *text)
{
    if (name_rank && g_size > 1)
        fprintf(stderr, "%s: rank %d: %s\n", g_tool, g_rank, text);
    else
        fprintf(stderr, "%s: %s\n", g_tool, text);
}

void myo_bench_say(int any_rank, const char *fmt, ...)
{
    if (!g_hold && !any_rank && g_rank != 0) return;
    if (g_hold && g_held) return; /* the first line is the one that tells */
    char text[sizeof g_held_line];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (g_hold) {
        memcpy(g_held_line, text, sizeof text);
        g_held = 1, g_held_any_rank = any_rank;
    } else {
        say_line(any_rank, text);
    }
}

void myo_bench_say_hold(void)
{
    g_hold = 1, g_held = 0;
}

int myo_bench_agree_said(int code)
{
    const int worst = myo_bench_agree(code);
    /* the lowest rank that has the worst code and a line, and whether every
     * rank has that code (then no rank is named) */
    int v[2] = {code == worst && g_held ? g_rank : g_size, code == worst};
    myo_bench_mpi_check(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
                        "MPI_Allreduce");
    if (v[0] == g_rank) say_line(g_held_any_rank && !v[1], g_held_line);
    g_hold = g_held = 0;
    return worst;
}

void myo_bench_mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
    g_hold = 0; /* nothing to agree on any more: say it now */
    myo_bench_say(1, "%s failed: %s", what, msg);
    MPI_Abort(MPI_COMM_WORLD, MYO_EXIT_INTERNAL);
    exit(MYO_EXIT_INTERNAL);
}

int myo_bench_agree(int code)
{
    int worst = code;
    myo_bench_mpi_check(MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                        "MPI_Allreduce");
    return worst;
}

void myo_bench_max_over_ranks(double *v, int count)
{
    myo_bench_mpi_check(MPI_Allreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
                        "MPI_Allreduce");
}

void myo_bench_sum_over_ranks(double *v, int count)
{
    myo_bench_mpi_check(MPI_Allreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
                        "MPI_Allreduce");
}

void myo_bench_row(const char *fmt, ...)
{
    if (g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

int myo_bench_main(int argc, char **argv, const char *tool, int (*body)(int argc, char **argv))
{
    myo_cli_ignore_sigxfsz();
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "%s: MPI_Init failed\n", tool);
        return MYO_EXIT_INTERNAL;
    }
    myo_bench_init(tool);
    int code = body(argc, argv);
    MPI_Finalize();
    return code;
}

/* ------------------------------------------------------------- helpers */

void *myo_bench_alloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = NULL;
    size_t bytes = count * size;
    return posix_memalign(&p, 64, bytes ? bytes : 1) == 0 ? p : NULL;
}

uint64_t myo_bench_hash(const void *data, size_t count)
{
    const unsigned char *c = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < count; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t myo_bench_hash_str(const char *s)
{
    return myo_bench_hash(s, strlen(s));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void myo_bench_summarize(double *t, int64_t r, double stat[3])
{
    qsort(t, (size_t)r, sizeof *t, cmp_double);
    stat[0] = t[0];
    stat[1] = r % 2 ? t[r / 2] : 0.5 * (t[r / 2 - 1] + t[r / 2]);
    stat[2] = t[r - 1];
}

/* ------------------------------------------------------ option helpers */

void myo_bench_common_defaults(myo_bench_common_opts *o)
{
    *o = (myo_bench_common_opts){.reps = 5, .warmup = 1, .flush = 1, .D = 256, .H = 8};
}

int myo_bench_parse_options(int argc, char **argv, const opt_spec *own, int n_own,
                            unsigned shared, myo_bench_common_opts *common,
                            void (*usage)(FILE *))
{
    int no_flush = 0;
    int64_t max_memory = 0;
    const opt_spec table[] = {
        {.name = "reps", .kind = OPT_INT, .value = &common->reps, .lo = 1, .hi = 1000000},
        {.name = "warmup", .kind = OPT_INT, .value = &common->warmup, .lo = 0, .hi = 1000000},
        {.name = "no-flush", .kind = OPT_FLAG, .value = &no_flush},
        {.name = "d-model", .kind = OPT_INT, .value = &common->D, .lo = 1, .hi = 1 << 16},
        {.name = "heads", .kind = OPT_INT, .value = &common->H, .lo = 1, .hi = 1 << 16},
        {.name = "max-memory", .kind = OPT_INT, .value = &max_memory, .lo = 1, .hi = INT64_MAX},
    };
    const unsigned bit[] = {MYO_BENCH_OPT_REPS,  MYO_BENCH_OPT_WARMUP, MYO_BENCH_OPT_NOFLUSH,
                            MYO_BENCH_OPT_MODEL, MYO_BENCH_OPT_MODEL,  MYO_BENCH_OPT_MAXMEM};
    enum { SHARED = sizeof table / sizeof table[0], MAX = 48 };
    opt_spec all[MAX];
    int n = 0;
    for (int i = 0; i < n_own && n < MAX; i++)
        all[n++] = own[i];
    for (int i = 0; i < SHARED && n < MAX; i++)
        if (bit[i] & shared) all[n++] = table[i];
    /* defaults of 0 for D or H: the tool fills them in and checks later */
    const int check_heads = common->D && common->H;
    char msg[1024];
    switch (opt_parse(argc, argv, all, n, msg, sizeof msg)) {
    case OPT_HELP:
        if (myo_bench_rank() == 0) usage(stdout);
        return MYO_EXIT_OK;
    case OPT_VERSION:
        if (myo_bench_rank() == 0) myo_cli_print_version(g_tool);
        return MYO_EXIT_OK;
    case OPT_BAD:
        myo_bench_say(0, "%s (see --help)", msg);
        return MYO_EXIT_USAGE;
    }
    if (no_flush) common->flush = 0;
    if (max_memory) common->max_memory = (double)max_memory;
    if ((shared & MYO_BENCH_OPT_MODEL) && check_heads &&
        myo_bench_heads_check(common->D, common->H) != MYO_EXIT_OK)
        return MYO_EXIT_USAGE;
    return -1;
}

int myo_bench_heads_check(int64_t D, int64_t H)
{
    if (D % H == 0) return MYO_EXIT_OK;
    myo_bench_say(0,
                  "--heads %lld does not divide --d-model %lld (every head needs the same "
                  "width d = D / H)",
                  (long long)H, (long long)D);
    return MYO_EXIT_USAGE;
}

myo_status myo_bench_tree_create(const opt_tree *spec, int64_t n, myo_tree **out)
{
    if (spec->kind == OPT_TREE_CHAIN) return myo_tree_create_chain(n, out);
    if (spec->kind == OPT_TREE_KARY) return myo_tree_create_kary(n, spec->arity, out);
    return myo_tree_create_heap(n, spec->arity, out);
}

int64_t myo_bench_tree_nodes(const opt_tree *spec, int64_t n)
{
    myo_tree_shape s;
    myo_status st = spec->kind == OPT_TREE_CHAIN  ? myo_tree_shape_chain(n, &s)
                    : spec->kind == OPT_TREE_KARY ? myo_tree_shape_kary(n, spec->arity, &s)
                                                  : myo_tree_shape_heap(n, spec->arity, &s);
    return st == MYO_OK ? s.nodes : n;
}

/* ---------------------------------------------------- cache eviction */

size_t myo_bench_flush_bytes(void)
{
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    size_t want = llc > 0 ? 2 * (size_t)llc : 0, lo = (size_t)64 << 20, hi = (size_t)256 << 20;
    return want < lo ? lo : want > hi ? hi : want;
}

int myo_bench_flush_create(int enable, myo_bench_flush *fl)
{
    memset(fl, 0, sizeof *fl);
    if (!enable) return myo_bench_agree(MYO_EXIT_OK);
    fl->bytes = myo_bench_flush_bytes();
    fl->buf = myo_bench_alloc(fl->bytes, 1);
    if (!fl->buf)
        myo_bench_say(1, "out of memory for the %zu-byte cache-eviction buffer", fl->bytes);
    else
        memset(fl->buf, 1, fl->bytes);
    return myo_bench_agree(fl->buf ? MYO_EXIT_OK : MYO_EXIT_INTERNAL);
}

static volatile unsigned char flush_sink;

void myo_bench_flush_caches(const myo_bench_flush *fl)
{
    if (!fl->buf) return;
    unsigned char acc = 0;
    for (size_t i = 0; i < fl->bytes; i += 64)
        acc ^= fl->buf[i];
    flush_sink = acc;
}

void myo_bench_flush_free(myo_bench_flush *fl)
{
    free(fl->buf);
    memset(fl, 0, sizeof *fl);
}

void myo_bench_print_flush_buffer(const myo_bench_flush *fl, const char *suffix)
{
    if (fl->buf) printf("#   eviction buffer: %.0f MiB%s\n", (double)fl->bytes / 1048576.0, suffix);
}

/* ---------------------------------------------------------- repetitions */

void myo_bench_sync(const myo_bench_flush *fl)
{
    if (fl) myo_bench_flush_caches(fl);
    myo_bench_mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

int myo_bench_any_failed(myo_status *fail)
{
    if (!myo_bench_agree(*fail != MYO_OK)) return 0;
    if (*fail == MYO_OK) *fail = MYO_ERR_MPI; /* another rank failed */
    return 1;
}

int myo_bench_reps_create(int kinds, int64_t reps, int64_t warmup, myo_bench_reps *r)
{
    r->kinds = kinds, r->reps = reps, r->warmup = warmup;
    r->v = myo_bench_alloc((size_t)kinds * (size_t)reps, sizeof(double));
    return r->v ? 0 : -1;
}

void myo_bench_reps_put(myo_bench_reps *r, int kind, int64_t it, double value)
{
    if (it >= r->warmup) r->v[kind * r->reps + (it - r->warmup)] = value;
}

void myo_bench_reps_max_over_ranks(myo_bench_reps *r)
{
    myo_bench_max_over_ranks(r->v, (int)(r->kinds * r->reps));
}

void myo_bench_reps_stat(myo_bench_reps *r, int kind, double stat[3])
{
    myo_bench_summarize(r->v + kind * r->reps, r->reps, stat);
}

void myo_bench_reps_free(myo_bench_reps *r)
{
    free(r->v);
    r->v = NULL;
}

myo_qkvo_weights_f32 myo_bench_qkvo_f32(const float *w, int64_t D)
{
    const size_t DD = (size_t)(D * D);
    return (myo_qkvo_weights_f32){w, w + DD, w + 2 * DD, w + 3 * DD};
}

myo_qkvo_grads_f32 myo_bench_qkvo_grads_f32(float *g, int64_t D)
{
    const size_t DD = (size_t)(D * D);
    return (myo_qkvo_grads_f32){g, g + DD, g + 2 * DD, g + 3 * DD};
}

/* ---------------------------------------------------------- validation */

double myo_bench_rel_err(double num, double den)
{
    double e = den > 0 ? sqrt(num / den) : sqrt(num);
    return isnan(e) ? INFINITY : e;
}

int myo_bench_status_code(myo_status s)
{
    int code = s == MYO_ERR_NOMEM ? MYO_EXIT_INTERNAL : myo_cli_exit_code(s);
    return code == MYO_EXIT_USAGE ? MYO_EXIT_INTERNAL : code; /* our call, not the user's */
}

/* ------------------------------------------------------------- memory */

/* Collective.  This rank's rank among those of its host, and their count. */
static void node_rank_size(int *rank, int *size)
{
    MPI_Comm node;
    *rank = 0, *size = 1;
    myo_bench_mpi_check(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
    myo_bench_mpi_check(MPI_Comm_rank(node, rank), "MPI_Comm_rank");
    myo_bench_mpi_check(MPI_Comm_size(node, size), "MPI_Comm_size");
    myo_bench_mpi_check(MPI_Comm_free(&node), "MPI_Comm_free");
}

int myo_bench_node_ranks(void)
{
    int rank, size;
    node_rank_size(&rank, &size);
    return size;
}

double myo_bench_host_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : INFINITY;
}

/* The value of "key:" in a /proc file of "key: value kB" lines, in kB;
 * -1 when absent. */
static double proc_kib(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1.0;
    char line[256];
    size_t len = strlen(key);
    double v = -1.0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            v = strtod(line + len + 1, NULL);
            break;
        }
    fclose(f);
    return v;
}

double myo_bench_host_available(void)
{
    double kib = proc_kib("/proc/meminfo", "MemAvailable");
    if (kib >= 0) return kib * 1024.0;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : myo_bench_host_memory();
}

void myo_bench_budget_init(double max_memory, myo_bench_budget *b)
{
    b->node_ranks = myo_bench_node_ranks();
    b->from_option = max_memory > 0;
    b->bytes = b->from_option ? max_memory : myo_bench_host_available();
}

double myo_bench_budget_need(const myo_bench_budget *b, double need_per_rank)
{
    double v[2] = {need_per_rank, fmax(myo_bench_rss_mib(), 0) * 1048576.0};
    myo_bench_max_over_ranks(v, 2);
    return (v[0] + v[1]) * b->node_ranks;
}

void myo_bench_budget_note(const myo_bench_budget *b, double need, char *note, size_t size)
{
    snprintf(note, size, "memory: predicted %.2f GiB (%d rank%s) > %.2f GiB", need / 1073741824.0,
             b->node_ranks, b->node_ranks > 1 ? "s" : "", b->bytes / 1073741824.0);
}

const char *myo_bench_budget_source(const myo_bench_budget *b)
{
    return b->from_option ? "--max-memory" : "MemAvailable at start";
}

double myo_bench_rss_mib(void)
{
    double kib = proc_kib("/proc/self/status", "VmRSS");
    return kib >= 0 ? kib / 1024.0 : -1.0;
}

double myo_bench_peak_rss_mib(void)
{
    double kib = proc_kib("/proc/self/status", "VmHWM");
    if (kib >= 0) return kib / 1024.0;
    struct rusage ru; /* not reset by myo_bench_peak_rss_reset: the whole run */
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1.0;
}

int myo_bench_peak_rss_reset(void)
{
    double peak = myo_bench_peak_rss_mib();
    if (peak > g_peak_before) g_peak_before = peak;
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0; /* 5: reset the peak resident set to the current one */
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

void myo_bench_print_totals(double t_start)
{
    struct rusage ru;
    double rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1.0;
    double peak = myo_bench_peak_rss_mib();
    /* ru_maxrss survives the resets on some kernels and not on others: take
     * the largest of what is known */
    if (peak > rss) rss = peak;
    if (g_peak_before > rss) rss = g_peak_before;
    myo_bench_max_over_ranks(&rss, 1);
    if (g_rank == 0) {
        printf("# peak resident memory (max over ranks) %.0f MiB, total time %.1f s\n", rss,
               MPI_Wtime() - t_start);
        fflush(stdout);
    }
}

/* -------------------------------------------------------------- triad */

static volatile double triad_sink;

static void triad_kernel(double *restrict a, const double *restrict b, const double *restrict c,
                         double s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

/* The arrays are touched first by their rank. */
int myo_bench_triad(int64_t mib, int64_t reps, const myo_bench_budget *mem,
                    myo_bench_triad_result *tr)
{
    memset(tr, 0, sizeof *tr);
    if (mib == 0) {
        snprintf(tr->note, sizeof tr->note, "--triad-mib 0");
        return MYO_EXIT_OK;
    }
    const size_t n = (size_t)mib << 17; /* doubles */
    const double bytes = 3.0 * 8.0 * (double)n;
    const double need = myo_bench_budget_need(mem, bytes);
    if (need > mem->bytes) {
        snprintf(tr->note, sizeof tr->note, "memory: %.2f GiB (%d ranks) > %.2f GiB",
                 need / 1073741824.0, mem->node_ranks, mem->bytes / 1073741824.0);
        return myo_bench_agree(MYO_EXIT_OK);
    }
    double *a = myo_bench_alloc(n, sizeof(double)), *b = myo_bench_alloc(n, sizeof(double));
    double *c = myo_bench_alloc(n, sizeof(double));
    double *t = myo_bench_alloc((size_t)reps, sizeof(double));
    double *tmax = myo_bench_alloc((size_t)reps, sizeof(double));
    int ok = a && b && c && t && tmax;
    if (!ok) myo_bench_say(1, "out of memory for the triad arrays (3 x %lld MiB)", (long long)mib);
    int code = myo_bench_agree(ok ? MYO_EXIT_OK : MYO_EXIT_INTERNAL);
    if (code == MYO_EXIT_OK) {
        for (size_t i = 0; i < n; i++)
            a[i] = 0.0, b[i] = 1.0, c[i] = 2.0;
        for (int64_t it = -1; it < reps; it++) { /* one warm-up */
            myo_bench_sync(NULL);
            double t0 = MPI_Wtime();
            triad_kernel(a, b, c, 3.0, n);
            double dt = MPI_Wtime() - t0;
            if (it >= 0) t[it] = tmax[it] = dt;
        }
        triad_sink = a[n / 2];
        myo_bench_max_over_ranks(tmax, (int)reps);
        double st[3];
        for (int64_t k = 0; k < reps; k++)
            tmax[k] = (double)myo_bench_size() * bytes / tmax[k] * 1e-9;
        myo_bench_summarize(tmax, reps, st);
        tr->aggregate = st[1];
        myo_bench_summarize(t, reps, st);
        double mine = bytes / st[1] * 1e-9;
        double v[3] = {-mine, mine, 0};
        myo_bench_max_over_ranks(v, 2);
        /* the median over ranks: gathered on rank 0 */
        double *all = myo_bench_rank() == 0
                          ? myo_bench_alloc((size_t)myo_bench_size(), sizeof(double))
                          : NULL;
        myo_bench_mpi_check(MPI_Gather(&mine, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD),
                            "MPI_Gather");
        if (all) {
            double sr[3];
            myo_bench_summarize(all, myo_bench_size(), sr);
            v[2] = sr[1];
            free(all);
        }
        tr->rank_gbs[0] = -v[0], tr->rank_gbs[1] = v[2], tr->rank_gbs[2] = v[1];
        tr->bytes_rank = bytes;
        tr->done = 1;
    }
    free(a), free(b), free(c), free(t), free(tmax);
    return code;
}

/* ------------------------------------------------------------- header */

int myo_bench_blas_single_thread(void)
{
    if (getenv("OPENBLAS_NUM_THREADS")) return 0;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    openblas_set_num_threads(1);
    g_threads_set = 1;
    return 1;
}
