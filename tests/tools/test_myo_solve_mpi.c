/* test_myo_solve_mpi.c -- end-to-end tests of myo-solve under MPI: the
 * binary ($MYO_BINDIR/myo-solve) run under "$MYO_MPIEXEC -n P
 * $MYO_MPIEXEC_FLAGS" for P = 1 .. 4 writes the same solution file as the
 * serial run (the binary run directly), and fails like it.
 *
 * This program itself runs serially (a plain test of make check); it
 * spawns the launcher through test_run (support.c).  make check sets
 * MYO_MPIEXEC and MYO_MPIEXEC_FLAGS from configure's MPIEXEC and
 * MPIEXEC_FLAGS; without MYO_MPIEXEC the program skips (exit 77).  With
 * Open MPI the launcher also gets -q, so that a failing run's stderr holds
 * only myo-solve's own line.
 *
 * The distributed solve eliminates in another order than the serial one
 * (README.md), so the files are compared numerically, not byte for byte:
 * same shape, float64, and max |a - b| <= 1e-12 max |b| over each dataset
 * (the max relative error, and the largest entrywise one for information,
 * are printed with MYO_TEST_VERBOSE=1, and on failure).  Entrywise relative
 * error is no criterion: entries near 0 (1e-6 against O(1) values) carry
 * rounding of the size of the others, e.g. 1.4e-11 relative. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "myosotis.h"
#include "support.h"
#include "h5_fixture.h"

#define RTOL 1e-12
#define MAX_RANKS 4

enum { EXIT_USAGE = 2, EXIT_DATA = 3 };

static char *myo_solve_binary; /* $MYO_BINDIR/myo-solve */
static const char *mpiexec;    /* $MYO_MPIEXEC */
static char *flag_text;        /* a copy of $MYO_MPIEXEC_FLAGS, split in place */
static const char *flags[32];  /* its words, plus -q for Open MPI */
static int flag_count;

typedef struct {
    char *dir, *in, *out;
    char *sys;      /* in/system.h5 */
    char *err_path; /* stderr of the last run */
    char *out_path; /* stdout of the last run */
} mpi_state;

static int mpi_setup(void **state)
{
    mpi_state *s = test_alloc(1, sizeof *s);
    s->dir = test_make_temp_dir();
    s->in = fix_path(s->dir, "in");
    s->out = fix_path(s->dir, "out");
    if (mkdir(s->in, 0700) != 0 || mkdir(s->out, 0700) != 0) return -1;
    s->sys = fix_path(s->in, "system.h5");
    s->err_path = fix_path(s->dir, "stderr.txt");
    s->out_path = fix_path(s->dir, "stdout.txt");
    *state = s;
    return 0;
}

static int mpi_teardown(void **state)
{
    mpi_state *s = *state;
    test_remove_dir(s->dir);
    free(s->dir), free(s->in), free(s->out), free(s->sys);
    free(s->err_path), free(s->out_path), free(s);
    return 0;
}

/* Run myo-solve with args (NULL-terminated): directly when ranks is 0,
 * else under the launcher with that many ranks. */
static test_run_result run_solve(const mpi_state *s, int ranks, const char *const *args)
{
    const char *argv[64];
    char count[16];
    int argc = 0;
    if (ranks > 0) {
        snprintf(count, sizeof count, "%d", ranks);
        argv[argc++] = mpiexec;
        argv[argc++] = "-n";
        argv[argc++] = count;
        for (int k = 0; k < flag_count; k++)
            argv[argc++] = flags[k];
    }
    argv[argc++] = myo_solve_binary;
    for (; *args && argc < 63; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    return test_run(argv, s->out_path, s->err_path, 0);
}

/* Solve s->sys into out/<name> with ranks ranks (0: serial); must succeed
 * silently.  Returns the output path (owned). */
static char *solve_to(const mpi_state *s, int ranks, myo_op op, const char *name)
{
    char *path = fix_path(s->out, name);
    const char *args[] = {
        "--input", s->sys, "--output", path, op == MYO_OP_T ? "--transpose" : NULL, NULL};
    test_run_result r = run_solve(s, ranks, args);
    if (r.code != 0)
        fail_msg("myo-solve with %d ranks exited %d; stderr: %s", ranks, r.code, r.err);
    assert_string_equal(r.err, "");
    assert_string_equal(r.out, "");
    test_run_free(&r);
    return path;
}

/* The parallel file at path equals the serial one at ref_path: same shape,
 * float64, every entry within RTOL relative. */
static void assert_same_solution(const char *path, const char *ref_path, const char *what)
{
    int rank, ref_rank;
    hsize_t dims[2], ref_dims[2];
    size_t elem, ref_elem;
    double *got = fix_read_doubles(path, "solution", &rank, dims, &elem);
    double *ref = fix_read_doubles(ref_path, "solution", &ref_rank, ref_dims, &ref_elem);
    assert_int_equal(rank, ref_rank);
    assert_int_equal(dims[0], ref_dims[0]);
    if (rank == 2) assert_int_equal(dims[1], ref_dims[1]);
    assert_int_equal(elem, 8);
    assert_int_equal(ref_elem, 8);
    size_t count = (size_t)dims[0] * (rank == 2 ? (size_t)dims[1] : 1);
    double max_diff = 0, max_ref = 0, worst = 0; /* worst: entrywise, reported only */
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        double diff = fabs(got[i] - ref[i]);
        double rel = diff == 0 ? 0 : ref[i] == 0 ? INFINITY : diff / fabs(ref[i]);
        if (!(diff <= max_diff)) max_diff = diff;
        if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
        if (!(rel <= worst)) worst = rel, at = i;
    }
    double err = max_diff == 0 ? 0 : max_diff / max_ref;
    if (getenv("MYO_TEST_VERBOSE") || !(err <= RTOL))
        fprintf(stderr,
                "%s: max relative error %.3g (max |diff| / max |serial|); largest entrywise "
                "relative error %.3g at entry %zu (%.17g vs serial %.17g)\n",
                what, err, worst, at, got[at], ref[at]);
    if (!(err <= RTOL)) fail_msg("%s: max relative error %.3g > %g", what, err, RTOL);
    free(got), free(ref);
}

/* A dominant system on parent (n,) with m channels: for M and M^T, the
 * solution files of P = 1 .. MAX_RANKS ranks equal the serial one. */
static void check_parents(const mpi_state *s, const int64_t *parent, int64_t n, int64_t m,
                          int rhs_rank, uint64_t seed, const char *what)
{
    fix_system sys = fix_system_make(parent, n, m, rhs_rank, seed);
    fix_write_system(s->sys, &sys);
    fix_system_free(&sys);
    for (int t = 0; t < 2; t++) {
        myo_op op = t ? MYO_OP_T : MYO_OP_N;
        char *ref = solve_to(s, 0, op, "serial.h5");
        for (int p = 1; p <= MAX_RANKS; p++) {
            char name[32], label[200];
            snprintf(name, sizeof name, "ranks%d.h5", p);
            snprintf(label, sizeof label, "%s (n = %lld, m = %lld%s), %d ranks vs serial", what,
                     (long long)n, (long long)m, t ? ", --transpose" : "", p);
            char *path = solve_to(s, p, op, name);
            assert_same_solution(path, ref, label);
            unlink(path);
            free(path);
        }
        unlink(ref);
        free(ref);
    }
    fix_assert_dir_holds(s->out, NULL); /* no temporary file left behind */
}

static void test_myo_solve_mpi_chain_matches_serial(void **state)
{
    int64_t n = 1000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i - 1;
    check_parents(*state, parent, n, 1, 1, 1, "chain");
    check_parents(*state, parent, n, 3, 2, 2, "chain");
    free(parent);
}

static void test_myo_solve_mpi_kary2_matches_serial(void **state)
{
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_kary(1000, 2, &t), MYO_OK);
    int64_t n = myo_tree_num_nodes(t);
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    memcpy(parent, myo_tree_parents(t), (size_t)n * sizeof(int64_t));
    myo_tree_destroy(&t);
    check_parents(*state, parent, n, 1, 1, 10, "kary hierarchy of arity 2");
    check_parents(*state, parent, n, 3, 2, 11, "kary hierarchy of arity 2");
    free(parent);
}

static void test_myo_solve_mpi_shuffled_random_tree_matches_serial(void **state)
{
    int64_t n = 20000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    test_random_recursive_parents(n, 40, parent);
    test_shuffle_labels(parent, n, 41, NULL);
    check_parents(*state, parent, n, 1, 1, 42, "random recursive tree, shuffled labels");
    check_parents(*state, parent, n, 3, 2, 43, "random recursive tree, shuffled labels");
    free(parent);
}

/* A missing dataset under 3 ranks: exit 3, one line on stderr naming it
 * (rank 0 alone prints), no output file, an existing one left intact. */
static void test_myo_solve_mpi_missing_dataset_exits_3(void **state)
{
    mpi_state *s = *state;
    int64_t parent[50];
    for (int64_t i = 0; i < 50; i++)
        parent[i] = i - 1;
    fix_system sys = fix_system_make(parent, 50, 2, 2, 60);
    fix_spec spec[FIX_COUNT];
    fix_system_specs(&sys, spec);
    spec[FIX_DIAG].kind = FIX_ABSENT;
    fix_write_specs(s->sys, spec, FIX_COUNT);
    fix_system_free(&sys);
    char *sol = fix_path(s->out, "solution.h5");
    const char *args[] = {"--input", s->sys, "--output", sol, NULL};
    for (int existing = 0; existing < 2; existing++) {
        const char previous[] = "an earlier solution that a failed run must not touch\n";
        if (existing) fix_write_bytes(sol, previous, sizeof previous - 1);
        test_run_result r = run_solve(s, 3, args);
        if (r.code != EXIT_DATA)
            fail_msg("exit status %d, expected %d; stderr: %s", r.code, EXIT_DATA, r.err);
        test_assert_one_line(r.err, "myo-solve",
                             (const char *[]){"'diag'", "missing", s->sys, NULL});
        assert_string_equal(r.out, "");
        test_run_free(&r);
        if (existing) {
            fix_assert_file_bytes(sol, previous, sizeof previous - 1);
            fix_assert_dir_holds(s->out, "solution.h5");
            unlink(sol);
        } else {
            fix_assert_dir_holds(s->out, NULL);
        }
    }
    free(sol);
}

/* --precision single is refused with more than one rank: exit 2, one line. */
static void test_myo_solve_mpi_single_precision_is_a_usage_error(void **state)
{
    mpi_state *s = *state;
    int64_t parent[20];
    for (int64_t i = 0; i < 20; i++)
        parent[i] = i - 1;
    fix_system sys = fix_system_make(parent, 20, 1, 1, 70);
    fix_write_system(s->sys, &sys);
    fix_system_free(&sys);
    char *sol = fix_path(s->out, "solution.h5");
    const char *args[] = {"--input", s->sys, "--output", sol, "--precision", "single", NULL};
    test_run_result r = run_solve(s, 2, args);
    if (r.code != EXIT_USAGE)
        fail_msg("exit status %d, expected %d; stderr: %s", r.code, EXIT_USAGE, r.err);
    test_assert_one_line(r.err, "myo-solve", (const char *[]){"--precision single", NULL});
    test_run_free(&r);
    fix_assert_dir_holds(s->out, NULL);
    free(sol);
}

/* Whether the launcher is Open MPI's (as configure.ac decides it). */
static int launcher_is_open_mpi(void)
{
    size_t len = strlen(mpiexec) + 32;
    char *cmd = test_alloc(len, 1);
    snprintf(cmd, len, "'%s' --version 2>&1", mpiexec);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return 0;
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, p)) {
        for (char *c = line; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (strstr(line, "open mpi") || strstr(line, "openrte") || strstr(line, "open-rte"))
            found = 1;
    }
    pclose(p);
    return found;
}

int main(void)
{
    mpiexec = getenv("MYO_MPIEXEC");
    if (!mpiexec || !*mpiexec) {
        fprintf(stderr, "test_myo_solve_mpi: MYO_MPIEXEC is not set (make check sets it); "
                        "skipping\n");
        return 77;
    }
    myo_solve_binary = test_tool_path("myo-solve");
    if (!myo_solve_binary) return 1;
    const char *text = getenv("MYO_MPIEXEC_FLAGS");
    flag_text = strdup(text ? text : "");
    if (!flag_text) return 1;
    for (char *w = strtok(flag_text, " \t"); w && flag_count < 30; w = strtok(NULL, " \t"))
        flags[flag_count++] = w;
    if (launcher_is_open_mpi()) flags[flag_count++] = "-q";
    /* As tests/support/mpi-run.sh: Open MPI as root, no leak report of MPI's own
     * allocations in a sanitizer build. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    const char *asan = getenv("ASAN_OPTIONS");
    size_t len = (asan ? strlen(asan) : 0) + 32;
    char *asan_opts = test_alloc(len, 1);
    snprintf(asan_opts, len, "%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", asan_opts, 1);
    free(asan_opts);
    alarm(900); /* a hung launcher fails the test instead of stalling make check */

#define T(name) cmocka_unit_test_setup_teardown(name, mpi_setup, mpi_teardown)
    const struct CMUnitTest tests[] = {
        T(test_myo_solve_mpi_chain_matches_serial),
        T(test_myo_solve_mpi_kary2_matches_serial),
        T(test_myo_solve_mpi_shuffled_random_tree_matches_serial),
        T(test_myo_solve_mpi_missing_dataset_exits_3),
        T(test_myo_solve_mpi_single_precision_is_a_usage_error),
    };
#undef T
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(myo_solve_binary);
    free(flag_text);
    return failed;
}
