/* support.h -- what the test programs share: random trees and matrices,
 * independent oracles (dense LAPACK, sparse KLU), tolerance checks that
 * report the max error, and temporary directories.  Link with CMocka. */
#ifndef MYO_TEST_SUPPORT_H
#define MYO_TEST_SUPPORT_H

#include "myosotis_dist.h" /* the MPI helpers below; it includes myosotis.h */

#include <stddef.h>
#include <stdint.h>

/* Random inputs from the library's generators (lib/core/random.c), by seed. */
/* parent (n,) of a random recursive tree: node i >= 1 hangs below a uniform
 * node in [0, i); node 0 is the root. */
void test_random_recursive_parents(int64_t n, uint64_t seed, int64_t *parent);
/* A forest of `trees` random recursive trees over n nodes (n >= trees). */
void test_random_forest_parents(int64_t n, int64_t trees, uint64_t seed, int64_t *parent);
/* Relabel the nodes of parent (n,) by a random permutation, in place;
 * new_label (n,), if not NULL, receives the new label of each old label. */
void test_shuffle_labels(int64_t *parent, int64_t n, uint64_t seed, int64_t *new_label);

/* See myo_random_dominant_coeffs. */
void test_dominant_coeffs(const int64_t *parent, int64_t n, uint64_t seed, int signed_diag,
                          double *diag, double *up, double *down);
void test_random_values(double *v, int64_t count, uint64_t seed);

/* op(M) X = R through LAPACKE_dgesv on the assembled dense matrix (small n).
 * rhs, x (n, m) row-major.  Returns LAPACK's info (0 on success). */
int test_dense_solve(const int64_t *parent, int64_t n, const double *diag, const double *up,
                     const double *down, myo_op op, const double *rhs, double *x, int64_t m);

/* The same through SuiteSparse's KLU on the sparse matrix (any n).
 * Returns 0 on success, nonzero when KLU fails. */
int test_klu_solve(const int64_t *parent, int64_t n, const double *diag, const double *up,
                   const double *down, myo_op op, const double *rhs, double *x, int64_t m);

/* Fail the current CMocka test unless |got - ref| <= atol + rtol |ref|
 * elementwise; prints the max absolute and relative errors either way
 * when verbose (MYO_TEST_VERBOSE set) and always on failure. */
void test_assert_close_f64(const double *got, const double *ref, int64_t count, double atol,
                           double rtol, const char *what);
void test_assert_close_f32(const float *got, const double *ref, int64_t count, double atol,
                           double rtol, const char *what);

/* The largest |a-b| / (atol + rtol |b|) over count elements (<= 1 passes). */
double test_max_scaled_error(const double *a, const double *b, int64_t count, double atol,
                             double rtol);

/* Gradient check by central finite differences, in double.  loss(ctx)
 * evaluates a scalar loss from parameters that include x (count,); x is
 * perturbed in place by +-h (and restored).  Fails the current test unless
 * |grad_i - fd_i| <= atol + rtol |fd_i| for every i; prints the max absolute
 * and relative errors on failure, or always with MYO_TEST_VERBOSE set.  For
 * large x, stride > 1 checks every stride-th entry only (entry 0, stride,
 * ...). */
typedef double (*test_loss_fn)(void *ctx);
void test_check_gradient(const char *what, double *x, int64_t count, int64_t stride,
                         const double *grad, test_loss_fn loss, void *ctx, double h, double atol,
                         double rtol);

/* A fresh directory under $TMPDIR (or /tmp), and its recursive removal. */
char *test_make_temp_dir(void);
void test_remove_dir(const char *dir);

/* The whole file at path (owned by the caller) and its size; NULL when it
 * cannot be opened. */
unsigned char *test_read_file(const char *path, size_t *size);
/* The file as a NUL-terminated string (owned); "" when it cannot be opened. */
char *test_read_text(const char *path);
/* "dir/name" (owned by the caller). */
char *test_path_in(const char *dir, const char *name);
/* Write len bytes of data to path (created or truncated); fails the current
 * test when that cannot be done. */
void test_write_file(const char *path, const void *data, size_t len);

/* ------------------------------ mutation fuzzing (the dataset loaders) */

/* The environment variable name when it is a positive integer, else dflt. */
int64_t test_env_count(const char *name, int64_t dflt);
/* test_env_count("MYO_FUZZ_ITERATIONS", dflt). */
int64_t test_fuzz_iterations(int64_t dflt);

/* A mutated input: buf (len bytes, NUL-terminated after them, writable). */
typedef void (*test_fuzz_fn)(int64_t iteration, char *buf, size_t len, void *ctx);

/* A fixed-seed mutation fuzz: test_fuzz_iterations(dflt_iterations) times,
 * a copy of base (len bytes) gets 1 to 6 random edits (flip a byte, replace
 * or insert a character of alphabet (NUL-terminated), delete or duplicate a
 * run of up to 8 / 16 bytes, truncate), and check sees it.  The same seed
 * gives the same inputs on every machine.  Returns the iteration count. */
int64_t test_fuzz_mutations(uint64_t seed, int64_t dflt_iterations, const char *base, size_t len,
                            const char *alphabet, test_fuzz_fn check, void *ctx);

/* ------------------------------------------- running the tools end to end */

/* "$MYO_BINDIR/tool" (owned by the caller), or NULL after saying on stderr
 * why not (MYO_BINDIR unset, or no executable there).  For main(), before
 * the tests run: make check sets MYO_BINDIR to the build's drivers/. */
char *test_tool_path(const char *tool);

/* A finished run: the exit status and the captured streams (owned,
 * NUL-terminated; free with test_run_free). */
typedef struct {
    int code;
    char *out;
    char *err;
} test_run_result;

/* Run argv[0] with argv (NULL-terminated) in a child process, its stdout
 * and stderr captured through the files out_path and err_path.
 * fsize_limit > 0 caps the size of the files it writes (RLIMIT_FSIZE, as
 * `ulimit -f` does; SIGXFSZ keeps its default action, so the tool must
 * ignore it to see its writes fail with EFBIG: a disk filling up).  Fails
 * the current test when the program cannot be started, dies from a signal
 * or runs past $MYO_TEST_RUN_TIMEOUT seconds (default 600: then its process
 * group, mpiexec's ranks included, is killed). */
test_run_result test_run(const char *const *argv, const char *out_path, const char *err_path,
                         long long fsize_limit);
void test_run_free(test_run_result *r);

/* Fail unless err is exactly one line "tool: ..." mentioning each of the
 * NULL-terminated strings in mentions (which may be NULL). */
void test_assert_one_line(const char *err, const char *tool, const char *const *mentions);

/* Checked allocation for tests: fails the test when out of memory. */
#if defined(__GNUC__)
__attribute__((returns_nonnull))
#endif
void *
test_alloc(size_t count, size_t size);

/* ------------------------------------- float/double copies (test_layer.c) */

/* Round v (count,) to float precision in place and, when f is not NULL,
 * store the float copy in f (count,): a double oracle and a float kernel
 * then see exactly the same inputs. */
void test_round_to_f32(double *v, float *f, int64_t count);
/* out (count,) = f (count,) widened to double. */
void test_widen_to_f64(const float *f, double *out, int64_t count);
/* max |v_i| over count values (0 for none). */
double test_max_abs(const double *v, int64_t count);

/* ============================================== MPI tests (test_dist_*.c,
 * test_ring_attention.c).  They run under mpiexec; every rank generates the
 * same global arrays from fixed seeds and takes its slice, and a check
 * never fails on one rank alone: the verdicts are combined across ranks
 * first, so that no rank leaves a test early while the others wait in a
 * collective. */

/* MPI_Init, then *comm = a dup of MPI_COMM_WORLD (the library gets a comm,
 * never WORLD) and this rank and the number of ranks in it. */
void test_mpi_init(int *argc, char ***argv, MPI_Comm *comm, int *rank, int *size);

/* Run the CMocka group tests (an array) as "what, rank R of P" on every
 * rank of comm; the number of failures summed over the ranks. */
#define test_mpi_run_group(what, tests, comm)                                                      \
    test_mpi_failures_anywhere(                                                                    \
        (comm),                                                                                    \
        cmocka_run_group_tests_name(test_mpi_group_name((what), (comm)), tests, NULL, NULL))
/* "what, rank R of P" (a static buffer). */
const char *test_mpi_group_name(const char *what, MPI_Comm comm);
/* failed summed over the ranks of comm. */
int test_mpi_failures_anywhere(MPI_Comm comm, int failed);

/* Free *comm and MPI_Finalize; main's exit status (non-zero when any rank
 * saw a failure). */
int test_mpi_finalize(MPI_Comm *comm, int failed_anywhere);

/* Fail the current test on every rank unless ok holds on every rank of
 * comm (the message names this rank of MPI_COMM_WORLD and its verdict). */
void test_assert_all_ranks(int ok, MPI_Comm comm, const char *what);

/* A comm with the ranks of comm in reverse order (free it). */
MPI_Comm test_mpi_reversed(MPI_Comm comm);

/* The ways of cutting n rows into p contiguous ranges, off (p + 1): even
 * (off[i] = i n / p), p - 1 uniform random cuts in [0, n] sorted (uneven,
 * empty ranges too), rank 0 empty and the rest even (even when p = 1), and
 * everything on the last rank. */
typedef enum {
    TEST_SPLIT_EVEN,
    TEST_SPLIT_RANDOM,
    TEST_SPLIT_FIRST_EMPTY,
    TEST_SPLIT_ALL_ON_LAST
} test_split_kind;
void test_split(test_split_kind kind, int64_t n, int p, uint64_t seed, int64_t *off);

#endif
