/* test_system_io.c -- myo_system_read_h5 and myo_solution_write_h5 on files
 * written here with the plain HDF5 API (tests/support/h5_fixture.h): round trips,
 * every way a system file can be wrong (MYO_ERR_DATA, naming the dataset),
 * files that are not HDF5, are cut short, or are no regular file (a FIFO,
 * a directory: MYO_ERR_IO), and writes that
 * fail without leaving a file or clobbering an existing one. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "myosotis.h"
#include "support.h"
#include "h5_fixture.h"

#define N 50
#define M 3

/* Per test: a temporary directory and a good system on a random tree. */
typedef struct {
    char *dir;
    char *sys_path; /* dir/system.h5 */
    fix_system sys; /* rhs (N, M) */
} io_state;

static int io_setup(void **state)
{
    io_state *s = test_alloc(1, sizeof *s);
    s->dir = test_make_temp_dir();
    s->sys_path = fix_path(s->dir, "system.h5");
    int64_t parent[N];
    test_random_recursive_parents(N, 11, parent);
    test_shuffle_labels(parent, N, 12, NULL);
    s->sys = fix_system_make(parent, N, M, 2, 13);
    *state = s;
    return 0;
}

static int io_teardown(void **state)
{
    io_state *s = *state;
    test_remove_dir(s->dir);
    fix_system_free(&s->sys);
    free(s->sys_path), free(s->dir), free(s);
    return 0;
}

/* Read s->sys_path expecting failure with status want and a detail that
 * mentions each of the NULL-terminated strings in mentions. */
static void expect_read_failure(const io_state *s, myo_status want, const char *const *mentions)
{
    myo_system got;
    myo_status st = myo_system_read_h5(s->sys_path, &got);
    const char *detail = myo_error_detail();
    if (st != want)
        fail_msg("expected %s, got %s (%s)", myo_status_str(want), myo_status_str(st), detail);
    assert_null(got.parent); /* nothing leaks to the caller on failure */
    assert_null(got.rhs);
    for (; *mentions; mentions++)
        if (!strstr(detail, *mentions))
            fail_msg("detail \"%s\" does not mention \"%s\"", detail, *mentions);
}

/* Write the good system with spec[which] changed by the caller first. */
static void write_variant(const io_state *s, int which, fix_spec change)
{
    fix_spec spec[FIX_COUNT];
    fix_system_specs(&s->sys, spec);
    spec[which] = change;
    fix_write_specs(s->sys_path, spec, FIX_COUNT);
}

static void assert_system_equal(const myo_system *got, const fix_system *want)
{
    assert_int_equal(got->n, want->n);
    assert_int_equal(got->m, want->m);
    assert_int_equal(got->rhs_rank, want->rhs_rank);
    size_t n = (size_t)want->n;
    assert_memory_equal(got->parent, want->parent, n * sizeof(int64_t));
    assert_memory_equal(got->diag, want->diag, n * sizeof(double));
    assert_memory_equal(got->up, want->up, n * sizeof(double));
    assert_memory_equal(got->down, want->down, n * sizeof(double));
    assert_memory_equal(got->rhs, want->rhs, n * (size_t)want->m * sizeof(double));
}

/* ------------------------------------------------------------ good files */

static void test_system_io_round_trip_matrix_rhs(void **state)
{
    io_state *s = *state;
    fix_write_system(s->sys_path, &s->sys);
    myo_system got;
    assert_int_equal(myo_system_read_h5(s->sys_path, &got), MYO_OK);
    assert_system_equal(&got, &s->sys);
    myo_system_free(&got);
    assert_null(got.rhs);  /* free resets the struct */
    myo_system_free(&got); /* and is idempotent */
    myo_system_free(NULL);
}

static void test_system_io_round_trip_vector_rhs(void **state)
{
    io_state *s = *state;
    s->sys.m = 1, s->sys.rhs_rank = 1; /* rhs (N,): the first N values */
    fix_write_system(s->sys_path, &s->sys);
    myo_system got;
    assert_int_equal(myo_system_read_h5(s->sys_path, &got), MYO_OK);
    assert_system_equal(&got, &s->sys);
    myo_system_free(&got);

    /* (N, 1) is a matrix of one channel: m = 1, rank 2. */
    s->sys.rhs_rank = 2;
    fix_write_system(s->sys_path, &s->sys);
    assert_int_equal(myo_system_read_h5(s->sys_path, &got), MYO_OK);
    assert_int_equal(got.m, 1);
    assert_int_equal(got.rhs_rank, 2);
    myo_system_free(&got);
}

static void test_system_io_converts_other_integer_and_float_widths(void **state)
{
    io_state *s = *state;
    fix_spec spec[FIX_COUNT];
    fix_system_specs(&s->sys, spec);
    spec[FIX_PARENT].file_type = H5T_STD_I32BE; /* converted on write and read */
    spec[FIX_DIAG].file_type = H5T_IEEE_F32LE;
    fix_write_specs(s->sys_path, spec, FIX_COUNT);
    myo_system got;
    assert_int_equal(myo_system_read_h5(s->sys_path, &got), MYO_OK);
    assert_memory_equal(got.parent, s->sys.parent, N * sizeof(int64_t));
    for (int i = 0; i < N; i++)
        assert_true(got.diag[i] == (double)(float)s->sys.diag[i]);
    myo_system_free(&got);
}

static void test_system_io_leaves_forest_checks_to_the_tree(void **state)
{
    io_state *s = *state;
    s->sys.parent[7] = 7; /* a self-loop: the reader passes it on */
    fix_write_system(s->sys_path, &s->sys);
    myo_system got;
    assert_int_equal(myo_system_read_h5(s->sys_path, &got), MYO_OK);
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(got.parent, got.n, &t), MYO_ERR_DATA);
    assert_non_null(strstr(myo_error_detail(), "node 7"));
    myo_system_free(&got);
}

/* ---------------------------------------------------------- bad datasets */

static const char *const dataset_names[FIX_COUNT] = {"parent", "diag", "up", "down", "rhs"};

/* Each of the five datasets in turn absent, or a group in its place. */
static void expect_each_dataset_replaced(io_state *s, fix_kind kind, const char *what)
{
    for (int k = 0; k < FIX_COUNT; k++) {
        fix_spec spec[FIX_COUNT];
        fix_system_specs(&s->sys, spec);
        spec[k].kind = kind;
        fix_write_specs(s->sys_path, spec, FIX_COUNT);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", dataset_names[k]);
        expect_read_failure(s, MYO_ERR_DATA, (const char *[]){quoted, what, s->sys_path, NULL});
    }
}

static void test_system_io_missing_dataset_is_data_error(void **state)
{
    expect_each_dataset_replaced(*state, FIX_ABSENT, "missing");
}

static void test_system_io_group_instead_of_dataset_is_data_error(void **state)
{
    expect_each_dataset_replaced(*state, FIX_GROUP, "not a dataset");
}

static void test_system_io_wrong_rank_is_data_error(void **state)
{
    io_state *s = *state;
    for (int k = 0; k < FIX_COUNT; k++) {
        fix_spec spec[FIX_COUNT];
        fix_system_specs(&s->sys, spec);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", dataset_names[k]);
        /* (n, 1) for the vectors, (n, m, 1) for rhs: the same values, one
         * dimension too many. */
        spec[k].rank = k == FIX_RHS ? 3 : 2;
        spec[k].dims[1] = k == FIX_RHS ? M : 1;
        spec[k].dims[2] = 1;
        fix_write_specs(s->sys_path, spec, FIX_COUNT);
        expect_read_failure(s, MYO_ERR_DATA, (const char *[]){quoted, "shape", NULL});
        /* A scalar. */
        fix_system_specs(&s->sys, spec);
        spec[k].rank = 0;
        fix_write_specs(s->sys_path, spec, FIX_COUNT);
        expect_read_failure(s, MYO_ERR_DATA, (const char *[]){quoted, "shape", NULL});
    }
}

static void test_system_io_wrong_length_is_data_error(void **state)
{
    io_state *s = *state;
    for (int k = FIX_DIAG; k < FIX_COUNT; k++) { /* parent defines n */
        fix_spec spec[FIX_COUNT];
        fix_system_specs(&s->sys, spec);
        spec[k].dims[0] = N - 1;
        fix_write_specs(s->sys_path, spec, FIX_COUNT);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", dataset_names[k]);
        expect_read_failure(s, MYO_ERR_DATA, (const char *[]){quoted, "49", "50", NULL});
    }
}

static void test_system_io_empty_dataset_is_data_error(void **state)
{
    io_state *s = *state;
    fix_spec parent = {"parent", FIX_DATASET, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, {0, 0, 0}, NULL};
    write_variant(s, FIX_PARENT, parent);
    expect_read_failure(s, MYO_ERR_DATA, (const char *[]){"'parent'", "empty", NULL});
    fix_spec rhs = {"rhs", FIX_DATASET, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, {N, 0, 0}, NULL};
    write_variant(s, FIX_RHS, rhs);
    expect_read_failure(s, MYO_ERR_DATA, (const char *[]){"'rhs'", "empty", NULL});
}

static void test_system_io_integer_where_float_expected_is_data_error(void **state)
{
    io_state *s = *state;
    for (int k = FIX_DIAG; k < FIX_COUNT; k++) {
        fix_spec spec[FIX_COUNT];
        fix_system_specs(&s->sys, spec);
        spec[k].file_type = H5T_STD_I64LE; /* HDF5 converts the doubles on write */
        fix_write_specs(s->sys_path, spec, FIX_COUNT);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", dataset_names[k]);
        expect_read_failure(s, MYO_ERR_DATA, (const char *[]){quoted, "floating-point", NULL});
    }
}

static void test_system_io_float_where_integer_expected_is_data_error(void **state)
{
    io_state *s = *state;
    fix_spec spec[FIX_COUNT];
    fix_system_specs(&s->sys, spec);
    spec[FIX_PARENT].file_type = H5T_IEEE_F64LE;
    fix_write_specs(s->sys_path, spec, FIX_COUNT);
    expect_read_failure(s, MYO_ERR_DATA, (const char *[]){"'parent'", "integer", NULL});
}

static void test_system_io_nonfinite_value_names_dataset_and_index(void **state)
{
    io_state *s = *state;
    double *arrays[4] = {s->sys.diag, s->sys.up, s->sys.down, s->sys.rhs};
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int k = FIX_DIAG; k < FIX_COUNT; k++)
        for (int b = 0; b < 3; b++) {
            double *a = arrays[k - FIX_DIAG];
            /* rhs (N, M): element (17, 2); the vectors: index 17. */
            int64_t at = k == FIX_RHS ? 17 * M + 2 : 17;
            double saved = a[at];
            a[at] = bad[b];
            fix_write_system(s->sys_path, &s->sys);
            a[at] = saved;
            char quoted[32];
            snprintf(quoted, sizeof quoted, "'%s'", dataset_names[k]);
            const char *where = k == FIX_RHS ? "(17, 2)" : "17";
            expect_read_failure(s, MYO_ERR_DATA, (const char *[]){quoted, where, "finite", NULL});
        }
    /* rhs stored as (N,): a plain index. */
    s->sys.m = 1, s->sys.rhs_rank = 1;
    s->sys.rhs[23] = NAN;
    fix_write_system(s->sys_path, &s->sys);
    expect_read_failure(s, MYO_ERR_DATA, (const char *[]){"'rhs'", "index 23", NULL});
}

/* ------------------------------------------------------------ bad files */

static void test_system_io_missing_file_is_io_error(void **state)
{
    io_state *s = *state;
    expect_read_failure(s, MYO_ERR_IO, (const char *[]){s->sys_path, NULL});
}

static void test_system_io_non_hdf5_file_is_io_error(void **state)
{
    io_state *s = *state;
    const char text[] = "parent,diag,up,down,rhs\n-1,2,0,0,1\n";
    fix_write_bytes(s->sys_path, text, sizeof text - 1);
    expect_read_failure(s, MYO_ERR_IO, (const char *[]){s->sys_path, "HDF5", NULL});
    fix_write_bytes(s->sys_path, "", 0); /* empty */
    expect_read_failure(s, MYO_ERR_IO, (const char *[]){s->sys_path, NULL});
}

static void test_system_io_fifo_or_directory_is_io_error(void **state)
{
    io_state *s = *state;
    /* opening a FIFO blocks until a writer comes: the alarm fails the test
     * instead of hanging it */
    assert_int_equal(mkfifo(s->sys_path, 0600), 0);
    alarm(60);
    expect_read_failure(s, MYO_ERR_IO, (const char *[]){s->sys_path, "not a regular file", NULL});
    alarm(0);
    assert_int_equal(unlink(s->sys_path), 0);
    assert_int_equal(mkdir(s->sys_path, 0700), 0);
    expect_read_failure(s, MYO_ERR_IO, (const char *[]){s->sys_path, "directory", NULL});
    assert_int_equal(rmdir(s->sys_path), 0);
}

static void test_system_io_truncated_file_is_io_error(void **state)
{
    io_state *s = *state;
    char *good = fix_path(s->dir, "good.h5");
    fix_write_system(good, &s->sys);
    size_t size = 0;
    free(test_read_file(good, &size));
    fix_copy_prefix(good, s->sys_path, size / 2);
    expect_read_failure(s, MYO_ERR_IO, (const char *[]){s->sys_path, NULL});
    free(good);
}

/* ------------------------------------------------------------- writing */

static void test_system_io_solution_round_trips_in_both_precisions(void **state)
{
    io_state *s = *state;
    char *out = fix_path(s->dir, "solution.h5");
    const double *y = s->sys.rhs; /* any (N, M) values */
    float y32[N * M];
    for (int i = 0; i < N * M; i++)
        y32[i] = (float)y[i];
    struct {
        myo_precision precision;
        const void *data;
        int64_t m;
        int ndims;
        size_t elem;
    } cases[] = {{MYO_F64, y, M, 2, 8},
                 {MYO_F64, y, 1, 1, 8},
                 {MYO_F64, y, 1, 2, 8},
                 {MYO_F32, y32, M, 2, 4},
                 {MYO_F32, y32, 1, 1, 4}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(myo_solution_write_h5(out, cases[c].data, cases[c].precision, N,
                                               cases[c].m, cases[c].ndims),
                         MYO_OK);
        int rank;
        hsize_t dims[2];
        size_t elem;
        double *got = fix_read_doubles(out, "solution", &rank, dims, &elem);
        assert_int_equal(rank, cases[c].ndims);
        assert_int_equal(dims[0], N);
        if (rank == 2) assert_int_equal(dims[1], cases[c].m);
        assert_int_equal(elem, cases[c].elem);
        for (int64_t i = 0; i < N * cases[c].m; i++)
            assert_true(got[i] == (cases[c].precision == MYO_F64 ? y[i] : (double)y32[i]));
        free(got);
        fix_assert_dir_holds(s->dir, "solution.h5"); /* replaced, no temporaries */
    }
    free(out);
}

static void test_system_io_written_file_mode_follows_umask(void **state)
{
    io_state *s = *state;
    char *out = fix_path(s->dir, "solution.h5");
    mode_t old = umask(022);
    assert_int_equal(myo_solution_write_h5(out, s->sys.rhs, MYO_F64, N, M, 2), MYO_OK);
    umask(old);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* not mkstemp's 0600 */
    free(out);
}

static void test_system_io_write_rejects_bad_arguments(void **state)
{
    io_state *s = *state;
    char *out = fix_path(s->dir, "solution.h5");
    const double *y = s->sys.rhs;
    assert_int_equal(myo_solution_write_h5(out, y, MYO_F64, N, 2, 1),
                     MYO_ERR_ARG); /* (n,) needs m = 1 */
    assert_int_equal(myo_solution_write_h5(out, y, MYO_F64, 0, 1, 1), MYO_ERR_ARG);
    assert_int_equal(myo_solution_write_h5(out, y, MYO_F64, N, 1, 3), MYO_ERR_ARG);
    assert_int_equal(myo_solution_write_h5(out, NULL, MYO_F64, N, 1, 1), MYO_ERR_ARG);
    assert_int_equal(myo_solution_write_h5(NULL, y, MYO_F64, N, 1, 1), MYO_ERR_ARG);
    assert_int_equal(myo_system_read_h5(NULL, NULL), MYO_ERR_ARG);
    fix_assert_dir_holds(s->dir, NULL);
    free(out);
}

static void test_system_io_unwritable_output_is_io_error(void **state)
{
    io_state *s = *state;
    const double *y = s->sys.rhs;
    /* A directory that does not exist, and a "directory" that is a file:
     * both fail even for root, unlike a chmod'ed directory. */
    char *missing = fix_path(s->dir, "no-such-dir/solution.h5");
    assert_int_equal(myo_solution_write_h5(missing, y, MYO_F64, N, M, 2), MYO_ERR_IO);
    assert_non_null(strstr(myo_error_detail(), missing));
    char *file = fix_path(s->dir, "plain-file");
    fix_write_bytes(file, "x", 1);
    char *under_file = fix_path(file, "solution.h5");
    assert_int_equal(myo_solution_write_h5(under_file, y, MYO_F64, N, M, 2), MYO_ERR_IO);
    assert_non_null(strstr(myo_error_detail(), under_file));
    /* An existing directory as the output: the rename fails at the end. */
    char *subdir = fix_path(s->dir, "subdir");
    assert_int_equal(mkdir(subdir, 0700), 0);
    assert_int_equal(myo_solution_write_h5(subdir, y, MYO_F64, N, M, 2), MYO_ERR_IO);
    fix_assert_dir_holds(subdir, NULL);
    if (geteuid() != 0) { /* permissions do not stop root */
        char *locked = fix_path(s->dir, "locked");
        assert_int_equal(mkdir(locked, 0500), 0);
        char *inside = fix_path(locked, "solution.h5");
        assert_int_equal(myo_solution_write_h5(inside, y, MYO_F64, N, M, 2), MYO_ERR_IO);
        fix_assert_dir_holds(locked, NULL);
        free(inside), free(locked);
    }
    free(missing), free(file), free(under_file), free(subdir);
}

/* Write a solution of n_big rows under a file-size limit far below its
 * size, so the write itself fails (EFBIG) after the temporary exists. */
static myo_status write_under_size_limit(const char *path, int64_t n_big)
{
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 16384;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a signal */
    double *y = test_alloc((size_t)n_big, sizeof(double));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    myo_status st = myo_solution_write_h5(path, y, MYO_F64, n_big, 1, 1);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    free(y);
    return st;
}

static void test_system_io_failed_write_leaves_no_file(void **state)
{
    io_state *s = *state;
    char *out = fix_path(s->dir, "solution.h5");
    assert_int_equal(write_under_size_limit(out, 100000), MYO_ERR_IO);
    assert_non_null(strstr(myo_error_detail(), "solution"));
    fix_assert_dir_holds(s->dir, NULL);
    free(out);
}

static void test_system_io_failed_write_keeps_existing_file(void **state)
{
    io_state *s = *state;
    char *out = fix_path(s->dir, "solution.h5");
    const char old[] = "an earlier result, to be kept";
    fix_write_bytes(out, old, sizeof old);
    assert_int_equal(write_under_size_limit(out, 100000), MYO_ERR_IO);
    fix_assert_file_bytes(out, old, sizeof old);
    fix_assert_dir_holds(s->dir, "solution.h5");
    free(out);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, io_setup, io_teardown)
    const struct CMUnitTest tests[] = {
        T(test_system_io_round_trip_matrix_rhs),
        T(test_system_io_round_trip_vector_rhs),
        T(test_system_io_converts_other_integer_and_float_widths),
        T(test_system_io_leaves_forest_checks_to_the_tree),
        T(test_system_io_missing_dataset_is_data_error),
        T(test_system_io_group_instead_of_dataset_is_data_error),
        T(test_system_io_wrong_rank_is_data_error),
        T(test_system_io_wrong_length_is_data_error),
        T(test_system_io_empty_dataset_is_data_error),
        T(test_system_io_integer_where_float_expected_is_data_error),
        T(test_system_io_float_where_integer_expected_is_data_error),
        T(test_system_io_nonfinite_value_names_dataset_and_index),
        T(test_system_io_missing_file_is_io_error),
        T(test_system_io_non_hdf5_file_is_io_error),
        T(test_system_io_fifo_or_directory_is_io_error),
        T(test_system_io_truncated_file_is_io_error),
        T(test_system_io_solution_round_trips_in_both_precisions),
        T(test_system_io_written_file_mode_follows_umask),
        T(test_system_io_write_rejects_bad_arguments),
        T(test_system_io_unwritable_output_is_io_error),
        T(test_system_io_failed_write_leaves_no_file),
        T(test_system_io_failed_write_keeps_existing_file),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
