/* test_myo_solve.c -- end-to-end tests of the myo-solve binary
 * ($MYO_BINDIR/myo-solve, set by make check).
 *
 * Each test writes its input with the plain HDF5 API (tests/support/h5_fixture.h),
 * runs the real binary through test_run (support.c: fork/execv, stdout
 * and stderr captured to files), and checks either the solution against
 * SuiteSparse's KLU on the same matrix, or the failure contract: the documented exit code, exactly
 * one line on stderr saying what is wrong and where, no output or temporary
 * file left behind, and a pre-existing output file left byte-identical.
 *
 * Tolerances |a - b| <= atol + rtol |ref| (max error printed on failure or
 * with MYO_TEST_VERBOSE=1): double rtol 1e-12, atol 1e-13 (the systems are
 * strictly diagonally dominant: backward stable, condition numbers O(10));
 * single rtol 1e-4, atol 1e-5. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "myosotis.h"
#include "support.h"
#include "h5_fixture.h"

#define RTOL_F64 1e-12
#define ATOL_F64 1e-13
#define RTOL_F32 1e-4
#define ATOL_F32 1e-5

/* Exit codes documented by myo-solve --help (drivers/cli.h). */
enum { EXIT_USAGE = 2, EXIT_DATA = 3, EXIT_SINGULAR = 4, EXIT_IO = 5 };

static char *myo_solve_binary; /* $MYO_BINDIR/myo-solve */

/* Per test: dir/in holds inputs, dir/out only outputs (so anything left
 * behind shows), the captured streams live in dir itself. */
typedef struct {
    char *dir, *in, *out;
    char *sys;      /* in/system.h5 */
    char *sol;      /* out/solution.h5 */
    char *err_path; /* stderr of the last run */
    char *out_path; /* stdout of the last run */
} e2e_state;

static int e2e_setup(void **state)
{
    e2e_state *s = test_alloc(1, sizeof *s);
    s->dir = test_make_temp_dir();
    s->in = fix_path(s->dir, "in");
    s->out = fix_path(s->dir, "out");
    if (mkdir(s->in, 0700) != 0 || mkdir(s->out, 0700) != 0) return -1;
    s->sys = fix_path(s->in, "system.h5");
    s->sol = fix_path(s->out, "solution.h5");
    s->err_path = fix_path(s->dir, "stderr.txt");
    s->out_path = fix_path(s->dir, "stdout.txt");
    *state = s;
    return 0;
}

static int e2e_teardown(void **state)
{
    e2e_state *s = *state;
    test_remove_dir(s->dir);
    free(s->dir), free(s->in), free(s->out), free(s->sys), free(s->sol);
    free(s->err_path), free(s->out_path), free(s);
    return 0;
}

/* ------------------------------------------------------------ running */

/* Run myo-solve with args (NULL-terminated; "@OUT" stands for s->sol);
 * fsize_limit as for test_run. */
static test_run_result run_solve(const e2e_state *s, const char *const *args, long long fsize_limit)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = myo_solve_binary;
    for (; *args && argc < 31; args++)
        argv[argc++] = strcmp(*args, "@OUT") ? *args : s->sol;
    argv[argc] = NULL;
    return test_run(argv, s->out_path, s->err_path, fsize_limit);
}

/* The failure contract, checked twice: with no output file beforehand
 * (none may appear), and with one (it must stay byte-identical).  Either
 * way out/ must hold nothing else afterwards: no temporary file. */
static void expect_failure(const e2e_state *s, const char *const *args, int want,
                           const char *const *mentions)
{
    for (int existing = 0; existing < 2; existing++) {
        const char previous[] = "an earlier solution that a failed run must not touch\n";
        if (existing) fix_write_bytes(s->sol, previous, sizeof previous - 1);
        test_run_result r = run_solve(s, args, 0);
        if (r.code != want)
            fail_msg("exit status %d, expected %d; stderr: %s", r.code, want, r.err);
        test_assert_one_line(r.err, "myo-solve", mentions);
        if (existing) {
            fix_assert_file_bytes(s->sol, previous, sizeof previous - 1);
            fix_assert_dir_holds(s->out, "solution.h5");
            unlink(s->sol);
        } else {
            fix_assert_dir_holds(s->out, NULL);
        }
        test_run_free(&r);
    }
}

/* expect_failure for a plain solve of s->sys. */
static void expect_solve_failure(const e2e_state *s, int want, const char *const *mentions)
{
    const char *args[] = {"--input", s->sys, "--output", "@OUT", NULL};
    expect_failure(s, args, want, mentions);
}

/* --------------------------------------------------------- good systems */

/* Write sys, solve it with myo-solve (op, precision) and compare with KLU. */
static void solve_and_compare(const e2e_state *s, const fix_system *sys, myo_op op, int single,
                              const char *what)
{
    fix_write_system(s->sys, sys);
    const char *args[8] = {"--input", s->sys, "--output", "@OUT"};
    int k = 4;
    if (op == MYO_OP_T) args[k++] = "--transpose";
    if (single) args[k++] = "--precision", args[k++] = "single";
    args[k] = NULL;
    test_run_result r = run_solve(s, args, 0);
    if (r.code != 0) fail_msg("%s: myo-solve exited %d: %s", what, r.code, r.err);
    assert_string_equal(r.err, "");
    test_run_free(&r);
    fix_assert_dir_holds(s->out, "solution.h5");

    int rank;
    hsize_t dims[2];
    size_t elem;
    double *got = fix_read_doubles(s->sol, "solution", &rank, dims, &elem);
    assert_int_equal(rank, sys->rhs_rank); /* same shape as rhs */
    assert_int_equal(dims[0], sys->n);
    if (rank == 2) assert_int_equal(dims[1], sys->m);
    assert_int_equal(elem, single ? 4 : 8);

    int64_t count = sys->n * sys->m;
    double *ref = test_alloc((size_t)count, sizeof(double));
    assert_int_equal(test_klu_solve(sys->parent, sys->n, sys->diag, sys->up, sys->down, op,
                                    sys->rhs, ref, sys->m),
                     0);
    char label[160];
    snprintf(label, sizeof label, "%s: myo-solve%s%s vs KLU (n = %lld, m = %lld)", what,
             op == MYO_OP_T ? " --transpose" : "", single ? " --precision single" : "",
             (long long)sys->n, (long long)sys->m);
    if (single)
        test_assert_close_f64(got, ref, count, ATOL_F32, RTOL_F32, label);
    else
        test_assert_close_f64(got, ref, count, ATOL_F64, RTOL_F64, label);
    free(got), free(ref);
    unlink(s->sol);
}

/* A dominant system on parent (n,), solved with M and M^T and compared. */
static void check_parents(const e2e_state *s, const int64_t *parent, int64_t n, int64_t m,
                          int rhs_rank, uint64_t seed, const char *what)
{
    fix_system sys = fix_system_make(parent, n, m, rhs_rank, seed);
    solve_and_compare(s, &sys, MYO_OP_N, 0, what);
    solve_and_compare(s, &sys, MYO_OP_T, 0, what);
    fix_system_free(&sys);
}

static int64_t *builder_parents(myo_status (*build)(int64_t, int, myo_tree **), int64_t n,
                                int arity, int64_t *nodes)
{
    myo_tree *t = NULL;
    assert_int_equal(build(n, arity, &t), MYO_OK);
    *nodes = myo_tree_num_nodes(t);
    int64_t *parent = test_alloc((size_t)*nodes, sizeof(int64_t));
    memcpy(parent, myo_tree_parents(t), (size_t)*nodes * sizeof(int64_t));
    myo_tree_destroy(&t);
    return parent;
}

static void test_myo_solve_chain_matches_klu(void **state)
{
    e2e_state *s = *state;
    int64_t n = 1000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i - 1;
    check_parents(s, parent, n, 1, 1, 1, "chain, rhs (n,)");
    check_parents(s, parent, n, 3, 2, 2, "chain, rhs (n, 3)");
    free(parent);
}

static void test_myo_solve_kary_hierarchies_match_klu(void **state)
{
    e2e_state *s = *state;
    for (int arity = 2; arity <= 4; arity += 2) {
        int64_t nodes;
        int64_t *parent = builder_parents(myo_tree_create_kary, 1000, arity, &nodes);
        check_parents(s, parent, nodes, 4, 2, 10 + (uint64_t)arity, "kary hierarchy");
        free(parent);
    }
}

static void test_myo_solve_heap_matches_klu(void **state)
{
    e2e_state *s = *state;
    int64_t nodes;
    int64_t *parent = builder_parents(myo_tree_create_heap, 999, 3, &nodes);
    check_parents(s, parent, nodes, 2, 2, 20, "heap");
    free(parent);
}

static void test_myo_solve_star_with_1e5_children_matches_klu(void **state)
{
    e2e_state *s = *state;
    int64_t n = 100001;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i == 777 ? -1 : 777; /* the hub is not node 0 */
    check_parents(s, parent, n, 1, 1, 30, "star");
    free(parent);
}

static void test_myo_solve_random_tree_with_shuffled_labels_matches_klu(void **state)
{
    e2e_state *s = *state;
    int64_t n = 20000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    test_random_recursive_parents(n, 40, parent);
    test_shuffle_labels(parent, n, 41, NULL);
    check_parents(s, parent, n, 3, 2, 42, "random recursive tree, shuffled labels");
    free(parent);
}

static void test_myo_solve_forest_matches_klu(void **state)
{
    e2e_state *s = *state;
    int64_t n = 20000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    test_random_forest_parents(n, 13, 50, parent);
    test_shuffle_labels(parent, n, 51, NULL);
    check_parents(s, parent, n, 2, 2, 52, "forest of 13 trees");
    for (int64_t i = 0; i < 100; i++)
        parent[i] = -1; /* isolated nodes: M is diagonal */
    check_parents(s, parent, 100, 1, 1, 53, "isolated nodes");
    check_parents(s, parent, 1, 2, 2, 54, "a single node");
    free(parent);
}

static void test_myo_solve_deep_chain_of_1e6_matches_klu(void **state)
{
    e2e_state *s = *state;
    int64_t n = 1000000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i - 1;
    fix_system sys = fix_system_make(parent, n, 1, 1, 60);
    solve_and_compare(s, &sys, MYO_OP_N, 0, "deep chain");
    fix_system_free(&sys);
    free(parent);
}

static void test_myo_solve_single_precision_matches_klu(void **state)
{
    e2e_state *s = *state;
    int64_t n = 5000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    test_random_recursive_parents(n, 70, parent);
    test_shuffle_labels(parent, n, 71, NULL);
    fix_system sys = fix_system_make(parent, n, 2, 2, 72);
    solve_and_compare(s, &sys, MYO_OP_N, 1, "random tree");
    solve_and_compare(s, &sys, MYO_OP_T, 1, "random tree");
    fix_system_free(&sys);
    for (int64_t i = 0; i < n; i++)
        parent[i] = i - 1;
    sys = fix_system_make(parent, n, 1, 1, 73);
    solve_and_compare(s, &sys, MYO_OP_N, 1, "chain");
    fix_system_free(&sys);
    free(parent);
}

static void test_myo_solve_rhs_of_one_column_keeps_its_shape(void **state)
{
    e2e_state *s = *state;
    int64_t parent[5] = {-1, 0, 0, 1, 1};
    check_parents(s, parent, 5, 1, 2, 80, "rhs (n, 1)"); /* solution (n, 1), not (n,) */
}

static void test_myo_solve_replaces_existing_output_on_success(void **state)
{
    e2e_state *s = *state;
    fix_write_bytes(s->sol, "old", 3);
    int64_t parent[4] = {1, -1, 1, 2};
    fix_system sys = fix_system_make(parent, 4, 2, 2, 90);
    solve_and_compare(s, &sys, MYO_OP_N, 0, "over an existing output");
    fix_system_free(&sys);
}

/* ------------------------------------------------------ bad system files */

/* A small valid system: a random tree of 40 nodes, rhs (40, 3). */
static fix_system small_system(uint64_t seed)
{
    int64_t parent[40];
    test_random_recursive_parents(40, seed, parent);
    test_shuffle_labels(parent, 40, seed + 1, NULL);
    return fix_system_make(parent, 40, 3, 2, seed + 2);
}

static const char *const names[FIX_COUNT] = {"parent", "diag", "up", "down", "rhs"};

/* Each of the five datasets in turn absent, or a group in its place: exit 3
 * naming the dataset and saying what is wrong. */
static void expect_each_dataset_replaced(e2e_state *s, fix_kind kind, const char *what,
                                         uint64_t seed)
{
    fix_system sys = small_system(seed);
    for (int k = 0; k < FIX_COUNT; k++) {
        fix_spec spec[FIX_COUNT];
        fix_system_specs(&sys, spec);
        spec[k].kind = kind;
        fix_write_specs(s->sys, spec, FIX_COUNT);
        char quoted[16];
        snprintf(quoted, sizeof quoted, "'%s'", names[k]);
        expect_solve_failure(s, EXIT_DATA, (const char *[]){quoted, what, s->sys, NULL});
    }
    fix_system_free(&sys);
}

static void test_myo_solve_missing_dataset_exits_3(void **state)
{
    expect_each_dataset_replaced(*state, FIX_ABSENT, "missing", 100);
}

static void test_myo_solve_group_instead_of_dataset_exits_3(void **state)
{
    expect_each_dataset_replaced(*state, FIX_GROUP, "not a dataset", 110);
}

static void test_myo_solve_misshaped_dataset_exits_3(void **state)
{
    e2e_state *s = *state;
    fix_system sys = small_system(120);
    for (int k = 0; k < FIX_COUNT; k++) {
        char quoted[16];
        snprintf(quoted, sizeof quoted, "'%s'", names[k]);
        fix_spec spec[FIX_COUNT];
        /* One dimension too many: (n, 1), or (n, m, 1) for rhs. */
        fix_system_specs(&sys, spec);
        spec[k].rank = k == FIX_RHS ? 3 : 2;
        spec[k].dims[1] = k == FIX_RHS ? 3 : 1;
        spec[k].dims[2] = 1;
        fix_write_specs(s->sys, spec, FIX_COUNT);
        expect_solve_failure(s, EXIT_DATA, (const char *[]){quoted, "shape", NULL});
        if (k == FIX_PARENT) continue; /* parent defines n */
        /* One node short. */
        fix_system_specs(&sys, spec);
        spec[k].dims[0] = 39;
        fix_write_specs(s->sys, spec, FIX_COUNT);
        expect_solve_failure(s, EXIT_DATA, (const char *[]){quoted, "39", "40", NULL});
    }
    fix_system_free(&sys);
}

static void test_myo_solve_wrong_number_type_exits_3(void **state)
{
    e2e_state *s = *state;
    fix_system sys = small_system(130);
    for (int k = 0; k < FIX_COUNT; k++) {
        fix_spec spec[FIX_COUNT];
        fix_system_specs(&sys, spec);
        /* Floats where integers belong and integers where floats belong;
         * HDF5 converts the values on write. */
        spec[k].file_type = k == FIX_PARENT ? H5T_IEEE_F64LE : H5T_STD_I32LE;
        fix_write_specs(s->sys, spec, FIX_COUNT);
        char quoted[16];
        snprintf(quoted, sizeof quoted, "'%s'", names[k]);
        const char *kind = k == FIX_PARENT ? "integer" : "floating-point";
        expect_solve_failure(s, EXIT_DATA, (const char *[]){quoted, kind, NULL});
    }
    fix_system_free(&sys);
}

static void test_myo_solve_nan_or_inf_exits_3_naming_dataset_and_index(void **state)
{
    e2e_state *s = *state;
    fix_system sys = small_system(140);
    double *arrays[4] = {sys.diag, sys.up, sys.down, sys.rhs};
    for (int k = FIX_DIAG; k < FIX_COUNT; k++) {
        double *a = arrays[k - FIX_DIAG];
        int64_t at = k == FIX_RHS ? 11 * 3 + 1 : 11; /* rhs: (11, 1) */
        double saved = a[at];
        a[at] = k % 2 ? NAN : -INFINITY;
        fix_write_system(s->sys, &sys);
        a[at] = saved;
        char quoted[16];
        snprintf(quoted, sizeof quoted, "'%s'", names[k]);
        expect_solve_failure(s, EXIT_DATA,
                             (const char *[]){quoted, k == FIX_RHS ? "(11, 1)" : "11", NULL});
    }
    fix_system_free(&sys);
}

static void test_myo_solve_invalid_tree_exits_3_naming_the_node(void **state)
{
    e2e_state *s = *state;
    /* Coefficients for a valid chain; then the parent array is broken. */
    int64_t parent[10];
    for (int64_t i = 0; i < 10; i++)
        parent[i] = i - 1;
    fix_system sys = fix_system_make(parent, 10, 1, 1, 150);

    sys.parent[6] = 6; /* self-loop */
    fix_write_system(s->sys, &sys);
    expect_solve_failure(s, EXIT_DATA, (const char *[]){"'parent'", "node 6", "self-loop", NULL});

    sys.parent[6] = 12; /* out of range */
    fix_write_system(s->sys, &sys);
    expect_solve_failure(s, EXIT_DATA, (const char *[]){"'parent'", "node 6", "12", NULL});

    sys.parent[6] = -2;
    fix_write_system(s->sys, &sys);
    expect_solve_failure(s, EXIT_DATA, (const char *[]){"'parent'", "node 6", "-2", NULL});

    sys.parent[6] = 8; /* 6 -> 8 -> 7 -> 6: a cycle cut off from the root */
    fix_write_system(s->sys, &sys);
    expect_solve_failure(s, EXIT_DATA, (const char *[]){"'parent'", "cycle", "node ", NULL});
    fix_system_free(&sys);
}

static void test_myo_solve_singular_pivot_exits_4_naming_the_node(void **state)
{
    e2e_state *s = *state;
    int64_t parent[10];
    for (int64_t i = 0; i < 10; i++)
        parent[i] = i - 1;
    fix_system sys = fix_system_make(parent, 10, 2, 2, 160);
    sys.diag[9] = 0.0; /* the leaf: its pivot is its diagonal */
    fix_write_system(s->sys, &sys);
    expect_solve_failure(s, EXIT_SINGULAR, (const char *[]){"node 9", "singular", NULL});
    fix_system_free(&sys);

    /* [[1, 1], [1, 1]]: the root's pivot 1 - 1*1/1 vanishes after elimination. */
    int64_t pair[2] = {-1, 0};
    sys = fix_system_make(pair, 2, 1, 1, 161);
    sys.diag[0] = sys.diag[1] = sys.up[1] = sys.down[1] = 1.0;
    fix_write_system(s->sys, &sys);
    expect_solve_failure(s, EXIT_SINGULAR, (const char *[]){"node 0", "singular", NULL});
    const char *single[] = {"--input", s->sys, "--output", "@OUT", "--precision", "single", NULL};
    expect_failure(s, single, EXIT_SINGULAR, (const char *[]){"node 0", NULL});
    fix_system_free(&sys);
}

static void test_myo_solve_overflowing_solution_exits_4(void **state)
{
    e2e_state *s = *state;
    /* One node: pivot 1e-300 is finite and nonzero, y = 1e300 / 1e-300 is not. */
    int64_t parent[1] = {-1};
    fix_system sys = fix_system_make(parent, 1, 1, 1, 170);
    sys.diag[0] = 1e-300, sys.rhs[0] = 1e300;
    fix_write_system(s->sys, &sys);
    expect_solve_failure(s, EXIT_SINGULAR, (const char *[]){"solution overflowed", "node 0", NULL});
    fix_system_free(&sys);
}

static void test_myo_solve_value_beyond_single_precision_exits_3(void **state)
{
    e2e_state *s = *state;
    fix_system sys = small_system(180);
    sys.diag[5] = 1e39; /* finite in double, not in float */
    fix_write_system(s->sys, &sys);
    const char *args[] = {"--input", s->sys, "--output", "@OUT", "--precision", "single", NULL};
    expect_failure(s, args, EXIT_DATA, (const char *[]){"'diag'", "node 5", "single", NULL});
    fix_system_free(&sys);
}

/* ----------------------------------------------------------- bad files */

static void test_myo_solve_missing_input_exits_5(void **state)
{
    e2e_state *s = *state;
    expect_solve_failure(s, EXIT_IO, (const char *[]){s->sys, NULL});
}

static void test_myo_solve_non_hdf5_input_exits_5(void **state)
{
    e2e_state *s = *state;
    const char text[] = "this is not an HDF5 file\n";
    fix_write_bytes(s->sys, text, sizeof text - 1);
    expect_solve_failure(s, EXIT_IO, (const char *[]){s->sys, "HDF5", NULL});
}

static void test_myo_solve_truncated_input_exits_5(void **state)
{
    e2e_state *s = *state;
    char *good = fix_path(s->in, "good.h5");
    fix_system sys = small_system(190);
    fix_write_system(good, &sys);
    size_t size = 0;
    free(test_read_file(good, &size));
    fix_copy_prefix(good, s->sys, size / 2);
    expect_solve_failure(s, EXIT_IO, (const char *[]){s->sys, NULL});
    fix_system_free(&sys);
    free(good);
}

static void test_myo_solve_unwritable_output_exits_5(void **state)
{
    e2e_state *s = *state;
    fix_system sys = small_system(200);
    fix_write_system(s->sys, &sys);
    fix_system_free(&sys);
    /* A missing directory, a file used as a directory, a directory as the
     * output: all fail even for root. */
    char *missing = fix_path(s->out, "no-such-dir/solution.h5");
    const char *a1[] = {"--input", s->sys, "--output", missing, NULL};
    expect_failure(s, a1, EXIT_IO, (const char *[]){missing, NULL});
    char *under_input = fix_path(s->sys, "solution.h5");
    const char *a2[] = {"--input", s->sys, "--output", under_input, NULL};
    expect_failure(s, a2, EXIT_IO, (const char *[]){under_input, NULL});
    char *subdir = fix_path(s->dir, "a-directory");
    assert_int_equal(mkdir(subdir, 0700), 0);
    const char *a3[] = {"--input", s->sys, "--output", subdir, NULL};
    expect_failure(s, a3, EXIT_IO, (const char *[]){subdir, NULL});
    fix_assert_dir_holds(subdir, NULL);
    if (geteuid() != 0) { /* permissions do not stop root */
        assert_int_equal(chmod(s->out, 0500), 0);
        expect_solve_failure(s, EXIT_IO, (const char *[]){s->sol, NULL});
        chmod(s->out, 0700);
    }
    free(missing), free(under_input), free(subdir);
}

static void test_myo_solve_failed_write_keeps_existing_output(void **state)
{
    e2e_state *s = *state;
    /* 100000 doubles (800 kB) under a 64 kB file-size limit: the disk
     * "fills up" while writing the solution. */
    int64_t n = 100000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i - 1;
    fix_system sys = fix_system_make(parent, n, 1, 1, 210);
    fix_write_system(s->sys, &sys);
    const char previous[] = "an earlier solution\n";
    const char *args[] = {"--input", s->sys, "--output", "@OUT", NULL};
    for (int existing = 0; existing < 2; existing++) {
        if (existing) fix_write_bytes(s->sol, previous, sizeof previous - 1);
        test_run_result r = run_solve(s, args, 65536);
        if (r.code != EXIT_IO) fail_msg("exit status %d, expected %d: %s", r.code, EXIT_IO, r.err);
        test_assert_one_line(r.err, "myo-solve", (const char *[]){s->sol, NULL});
        if (existing) fix_assert_file_bytes(s->sol, previous, sizeof previous - 1);
        fix_assert_dir_holds(s->out, existing ? "solution.h5" : NULL);
        test_run_free(&r);
    }
    fix_system_free(&sys);
    free(parent);
}

/* ---------------------------------------------------------- command line */

static void test_myo_solve_usage_errors_exit_2(void **state)
{
    e2e_state *s = *state;
    fix_system sys = small_system(220);
    fix_write_system(s->sys, &sys);
    fix_system_free(&sys);
    struct {
        const char *args[8];
        const char *mention;
    } cases[] = {
        {{NULL}, "--input"},
        {{"--output", "@OUT", NULL}, "--input"},
        {{"--input", s->sys, NULL}, "--output"},
        {{"--input", s->sys, "--output", "@OUT", "--frobnicate", NULL}, "--frobnicate"},
        {{"--input", s->sys, "--output", "@OUT", "-z", NULL}, "-z"},
        {{"--input", s->sys, "--output", "@OUT", "--precision", "half", NULL}, "half"},
        {{"--input", s->sys, "--output", "@OUT", "--precision", NULL}, "--precision"},
        {{"--input", s->sys, "--output", "@OUT", "extra", NULL}, "extra"},
        {{"--input", s->sys, "--output", "@OUT", "--transpose=yes", NULL}, "--transpose"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        expect_failure(s, cases[c].args, EXIT_USAGE, (const char *[]){cases[c].mention, NULL});
}

static void test_myo_solve_same_input_and_output_exits_2(void **state)
{
    e2e_state *s = *state;
    fix_system sys = small_system(230);
    fix_write_system(s->sys, &sys);
    fix_system_free(&sys);
    size_t size = 0;
    unsigned char *before = test_read_file(s->sys, &size);
    /* The same path, another spelling of it, and a hard link. */
    char *spelled = fix_path(s->in, "../in/system.h5");
    char *linked = fix_path(s->in, "link.h5");
    assert_int_equal(link(s->sys, linked), 0);
    const char *outputs[] = {s->sys, spelled, linked};
    for (int k = 0; k < 3; k++) {
        const char *args[] = {"--input", s->sys, "--output", outputs[k], NULL};
        test_run_result r = run_solve(s, args, 0);
        assert_int_equal(r.code, EXIT_USAGE);
        test_assert_one_line(r.err, "myo-solve", (const char *[]){"same file", NULL});
        fix_assert_file_bytes(s->sys, before, size);
        test_run_free(&r);
    }
    free(before), free(spelled), free(linked);
}

static void test_myo_solve_help_and_version_exit_0(void **state)
{
    e2e_state *s = *state;
    test_run_result r = run_solve(s, (const char *[]){"--help", NULL}, 0);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    /* The options, the file format and the exit codes are documented. */
    const char *documented[] = {"--input",  "--output",    "--transpose", "--precision", "single",
                                "parent",   "diag",        "up",          "down",        "rhs",
                                "solution", "Exit status", "  2 ",        "  3 ",        "  4 ",
                                "  5 ",     "  6 "};
    for (size_t k = 0; k < sizeof documented / sizeof documented[0]; k++)
        if (!strstr(r.out, documented[k]))
            fail_msg("--help does not mention \"%s\"", documented[k]);
    test_run_free(&r);

    r = run_solve(s, (const char *[]){"--version", NULL}, 0);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    const char *banner = "myo-solve (" PACKAGE_NAME ") " PACKAGE_VERSION;
    if (strncmp(r.out, banner, strlen(banner)) != 0)
        fail_msg("--version printed \"%s\", expected it to start with \"%s\"", r.out, banner);
    test_run_free(&r);
    fix_assert_dir_holds(s->out, NULL);
}

int main(void)
{
    myo_solve_binary = test_tool_path("myo-solve");
    if (!myo_solve_binary) return 1;
#define T(name) cmocka_unit_test_setup_teardown(name, e2e_setup, e2e_teardown)
    const struct CMUnitTest tests[] = {
        T(test_myo_solve_chain_matches_klu),
        T(test_myo_solve_kary_hierarchies_match_klu),
        T(test_myo_solve_heap_matches_klu),
        T(test_myo_solve_star_with_1e5_children_matches_klu),
        T(test_myo_solve_random_tree_with_shuffled_labels_matches_klu),
        T(test_myo_solve_forest_matches_klu),
        T(test_myo_solve_deep_chain_of_1e6_matches_klu),
        T(test_myo_solve_single_precision_matches_klu),
        T(test_myo_solve_rhs_of_one_column_keeps_its_shape),
        T(test_myo_solve_replaces_existing_output_on_success),
        T(test_myo_solve_missing_dataset_exits_3),
        T(test_myo_solve_group_instead_of_dataset_exits_3),
        T(test_myo_solve_misshaped_dataset_exits_3),
        T(test_myo_solve_wrong_number_type_exits_3),
        T(test_myo_solve_nan_or_inf_exits_3_naming_dataset_and_index),
        T(test_myo_solve_invalid_tree_exits_3_naming_the_node),
        T(test_myo_solve_singular_pivot_exits_4_naming_the_node),
        T(test_myo_solve_overflowing_solution_exits_4),
        T(test_myo_solve_value_beyond_single_precision_exits_3),
        T(test_myo_solve_missing_input_exits_5),
        T(test_myo_solve_non_hdf5_input_exits_5),
        T(test_myo_solve_truncated_input_exits_5),
        T(test_myo_solve_unwritable_output_exits_5),
        T(test_myo_solve_failed_write_keeps_existing_output),
        T(test_myo_solve_usage_errors_exit_2),
        T(test_myo_solve_same_input_and_output_exits_2),
        T(test_myo_solve_help_and_version_exit_0),
    };
#undef T
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(myo_solve_binary);
    return failed;
}
