/* myo_bench_solve.c -- myo-bench-solve, the solver benchmark.
 *
 * For each tree and each channel count m it times, on one SPD system:
 *   (1) factor + solve: myo_refactor_* with a right-hand side, i.e. new
 *       pivots in an existing factor's storage and the solve (in place), as
 *       a layer does per head and step; and the solve alone with pivots
 *       already computed;
 *   (2) a memcpy of the (N, m) right-hand side: the bandwidth yardstick, since
 *       the solver's two streaming passes cost at least two such copies;
 *   (3) on chains, LAPACK's ?pttrf + ?pttrs on the same tridiagonal matrix and
 *       the same right-hand sides, column-major (LAPACK's own layout).
 * Every point is validated against myo_solve_ref before it is timed
 * (docs/design.md section 6).  stdout: a '#' header, then one aligned row per
 * (tree, m), flushed as soon as it is measured. */
#include <config.h>

#include "bench.h"
#include "cli.h"
#include "myosotis.h"

#include <lapacke.h>
#include <mpi.h>

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TOOL = "myo-bench-solve";

#define MAX_LIST 32        /* entries in --m and in --trees */
#define REF_BLOCK 16       /* channels per reference solve: bounds its (N, 16) doubles */
#define SEED 0x6d796f73ULL /* "myos": every run solves the same systems */

typedef struct {
    int64_t n; /* nodes of chains and heaps; tokens of kary hierarchies */
    int64_t m[MAX_LIST];
    int n_m;
    myo_bench_tree_spec trees[MAX_LIST];
    int n_trees;
    myo_precision prec;
    myo_bench_common_opts c; /* --reps, --warmup, --no-flush */
    const char *m_text, *trees_text;
} bench_opts;

/* One tree and its matrix, set up once and shared by every m. */
typedef struct {
    myo_bench_tree_spec spec;
    myo_tree *tree;
    int64_t N;                      /* nodes: tokens plus virtual nodes */
    void *diag, *up, *down;         /* (N,) working precision, by label */
    double *diag_d, *up_d, *down_d; /* the same values widened, for the reference */
    void *lap_d, *lap_e;            /* chains: LAPACK's d (N,), e (N,) of which N-1 used */
    const char *kernel;             /* what myo_solve runs: myo_solve_kernel_name */
    int64_t height;
} bench_tree;

/* Timing kinds, in the order a repetition runs them. */
enum { T_FS, T_SOLVE, T_COPY, T_LAPACK, T_KINDS };

/* What one (tree, m) point reports. */
typedef struct {
    double stat[T_KINDS][3]; /* min, median, max over repetitions, seconds */
    int has_lapack;
    double err, err_lapack; /* validation: max|x - ref| / max|ref| */
    int same_bits;          /* solve with stored pivots == one-sweep factor+solve, bitwise */
    int valid;
} bench_row;

/* ---------------------------------------------------------------- options */

/* The codes of the tool's own options: 256 + their index in longopts. */
enum { OPT_N = 256, OPT_M, OPT_TREES, OPT_PREC };

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [OPTION]...\n"
            "Time the tree solver against a memcpy of its right-hand side and, on chains,\n"
            "against LAPACK's ?pttrf + ?pttrs; print medians and ratios (one row per tree\n"
            "and channel count).  Run under mpiexec for several ranks: each rank runs the\n"
            "whole benchmark and each repetition reports the slowest rank.\n"
            "\n"
            "  --n N               sequence length (default 1M = 2^20; K, M, G suffixes are\n"
            "                      powers of 1024): nodes of chain and heap trees, tokens of\n"
            "                      kary trees (which add virtual nodes)\n"
            "  --m LIST            comma list of channel counts (default 1,8,16,32,128)\n"
            "  --trees LIST        comma list of chain, kary<k>, heap<k> with 2 <= k <= 64\n"
            "                      (default chain,kary2)\n"
            "  --reps R            timed repetitions (default 11)\n"
            "  --warmup W          untimed repetitions before them (default 2)\n"
            "  --precision P       single or double (default single)\n"
            "  --no-flush          do not evict the caches before each timed operation\n"
            "  --help              print this help and exit\n"
            "  --version           print the version and exit\n"
            "\n"
            "Exit status: 0 when every point validates, 2 for a bad command line, 6 when out\n"
            "of memory or on an internal failure, 7 when a point fails validation.\n",
            TOOL);
}

static int own_option(int c, const char *arg, void *ctx)
{
    bench_opts *o = ctx;
    static const char *const precisions[] = {"single", "double", NULL};
    int k;
    switch (c) {
    case OPT_N:
        if (myo_bench_parse_int(arg, 2, INT64_C(1) << 40, &o->n) == 0) return MYO_EXIT_OK;
        myo_bench_say(0, "--n: '%s' is not an integer in [2, 2^40] (K, M, G suffixes allowed)",
                      arg);
        return MYO_EXIT_USAGE;
    case OPT_M:
        o->m_text = arg;
        return MYO_EXIT_OK;
    case OPT_TREES:
        o->trees_text = arg;
        return MYO_EXIT_OK;
    default: /* OPT_PREC */
        if (myo_bench_choice_option("--precision", arg, precisions, &k) != MYO_EXIT_OK)
            return MYO_EXIT_USAGE;
        o->prec = k == 0 ? MYO_F32 : MYO_F64;
        return MYO_EXIT_OK;
    }
}

/* Returns -1 to go on, otherwise the exit code (0 after --help/--version). */
static int parse_options(int argc, char **argv, bench_opts *o)
{
    static const char *const longopts[] = {"n=", "m=", "trees=", "precision=", NULL}; /* OPT_* */
    memset(o, 0, sizeof *o);
    o->n = INT64_C(1) << 20;
    o->prec = MYO_F32;
    myo_bench_common_defaults(&o->c);
    o->c.reps = 11, o->c.warmup = 2;
    o->m_text = "1,8,16,32,128", o->trees_text = "chain,kary2";
    int code = myo_bench_parse_options(
        argc, argv, longopts, MYO_BENCH_OPT_REPS | MYO_BENCH_OPT_WARMUP | MYO_BENCH_OPT_NOFLUSH,
        &o->c, own_option, o, usage);
    if (code >= 0) return code;
    const char *m_text = o->m_text, *trees_text = o->trees_text;

    char buf[1024], *items[MAX_LIST];
    if (strlen(m_text) >= sizeof buf) {
        myo_bench_say(0, "--m: the list is too long");
        return MYO_EXIT_USAGE;
    }
    strcpy(buf, m_text);
    o->n_m = myo_bench_split_list(buf, items, MAX_LIST);
    for (int i = 0; i < o->n_m; i++)
        if (myo_bench_parse_int(items[i], 1, INT64_C(1) << 20, &o->m[i]) != 0) o->n_m = -1;
    if (o->n_m < 1) {
        myo_bench_say(0, "--m: '%s' is not a comma list of at most %d integers in [1, 2^20]",
                      m_text, MAX_LIST);
        return MYO_EXIT_USAGE;
    }
    if (strlen(trees_text) >= sizeof buf) {
        myo_bench_say(0, "--trees: the list is too long");
        return MYO_EXIT_USAGE;
    }
    strcpy(buf, trees_text);
    o->n_trees = myo_bench_split_list(buf, items, MAX_LIST);
    for (int i = 0; i < o->n_trees; i++)
        if (myo_bench_parse_tree(items[i], &o->trees[i]) != 0) {
            myo_bench_say(0, "--trees: '%s' is not chain, kary<k> or heap<k> with 2 <= k <= 64",
                          items[i]);
            return MYO_EXIT_USAGE;
        }
    if (o->n_trees < 1) {
        myo_bench_say(0, "--trees: '%s' is not a comma list of at most %d trees", trees_text,
                      MAX_LIST);
        return MYO_EXIT_USAGE;
    }
    /* A kary hierarchy has fewer than 2 n nodes; every (N, m) array in double
     * must stay far from overflowing a size_t. */
    for (int i = 0; i < o->n_m; i++)
        if (o->m[i] > (INT64_MAX / 16) / (2 * o->n)) {
            myo_bench_say(0, "--n %lld with --m %lld: the right-hand side is too large to address",
                          (long long)o->n, (long long)o->m[i]);
            return MYO_EXIT_USAGE;
        }
    return -1;
}

/* ---------------------------------------------------- data in either type */

static size_t real_size(myo_precision p)
{
    return p == MYO_F32 ? sizeof(float) : sizeof(double);
}

static double get_real(const void *a, size_t i, myo_precision p)
{
    return p == MYO_F32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

/* Stores v rounded to the working precision; returns the stored value. */
static double set_real(void *a, size_t i, double v, myo_precision p)
{
    if (p == MYO_F32) return ((float *)a)[i] = (float)v;
    return ((double *)a)[i] = v;
}

/* col (N, m) column-major = row (N, m) row-major; blocked so both sides
 * stay in cache lines.  Untimed: it prepares LAPACK's layout. */
static void to_col_major(const void *row, void *col, int64_t N, int64_t m, myo_precision p)
{
    const int64_t B = 64;
    for (int64_t i0 = 0; i0 < N; i0 += B)
        for (int64_t k0 = 0; k0 < m; k0 += B) {
            int64_t i1 = i0 + B < N ? i0 + B : N, k1 = k0 + B < m ? k0 + B : m;
            if (p == MYO_F32) {
                const float *r = row;
                float *c = col;
                for (int64_t k = k0; k < k1; k++)
                    for (int64_t i = i0; i < i1; i++)
                        c[k * N + i] = r[i * m + k];
            } else {
                const double *r = row;
                double *c = col;
                for (int64_t k = k0; k < k1; k++)
                    for (int64_t i = i0; i < i1; i++)
                        c[k * N + i] = r[i * m + k];
            }
        }
}

/* ------------------------------------------------------------------ trees */

static void bench_tree_free(bench_tree *bt)
{
    myo_tree_destroy(&bt->tree);
    free(bt->diag), free(bt->up), free(bt->down);
    free(bt->diag_d), free(bt->up_d), free(bt->down_d);
    free(bt->lap_d), free(bt->lap_e);
    memset(bt, 0, sizeof *bt);
}

/* The tree and its matrix: up[i] = down[i] = -w_i with w_i in (0, 1], and
 * diag[i] = 1 + the sum of |off-diagonals| in row i (w_i for its own edge,
 * w_c for each child c).  Symmetric and strictly diagonally dominant with
 * margin 1, hence SPD, as LAPACK's ?pttrf requires.  Returns an exit code. */
static int bench_tree_setup(const myo_bench_tree_spec *spec, int64_t n, myo_precision p,
                            bench_tree *bt)
{
    memset(bt, 0, sizeof *bt);
    bt->spec = *spec;
    myo_status s = myo_bench_tree_create(spec, n, &bt->tree);
    if (s != MYO_OK) {
        myo_bench_say(1, "tree %s of n = %lld: %s: %s", spec->name, (long long)n, myo_status_str(s),
                      myo_error_detail());
        return myo_cli_exit_code(s);
    }
    const int64_t N = bt->N = myo_tree_num_nodes(bt->tree);
    const int64_t *parent = myo_tree_parents(bt->tree);
    bt->height = myo_tree_height(bt->tree);
    size_t rs = real_size(p);
    bt->diag = myo_bench_alloc((size_t)N, rs), bt->up = myo_bench_alloc((size_t)N, rs);
    bt->down = myo_bench_alloc((size_t)N, rs);
    bt->diag_d = myo_bench_alloc((size_t)N, sizeof(double));
    bt->up_d = myo_bench_alloc((size_t)N, sizeof(double));
    bt->down_d = myo_bench_alloc((size_t)N, sizeof(double));
    if (spec->kind == MYO_BENCH_TREE_CHAIN) {
        bt->lap_d = myo_bench_alloc((size_t)N, rs);
        bt->lap_e = myo_bench_alloc((size_t)N, rs);
    }
    if (!bt->diag || !bt->up || !bt->down || !bt->diag_d || !bt->up_d || !bt->down_d ||
        (spec->kind == MYO_BENCH_TREE_CHAIN && (!bt->lap_d || !bt->lap_e))) {
        myo_bench_say(1, "out of memory for the matrix of tree %s (N = %lld)", spec->name,
                      (long long)N);
        return MYO_EXIT_INTERNAL;
    }
    myo_rng rng = myo_rng_seed(SEED ^ myo_bench_hash_str(spec->name) ^ (uint64_t)N);
    for (int64_t i = 0; i < N; i++)
        bt->diag_d[i] = 1.0;
    for (int64_t i = 0; i < N; i++) {
        /* w rounded to the working precision first, so that the diagonal is
         * dominant for the matrix actually solved */
        double w = parent[i] >= 0 ? 1.0 - myo_rng_uniform(&rng, 0.0, 1.0) : 0.0; /* (0, 1] */
        w = -set_real(bt->up, (size_t)i, -w, p);
        set_real(bt->down, (size_t)i, -w, p);
        bt->up_d[i] = bt->down_d[i] = -w;
        bt->diag_d[i] += w;
        if (parent[i] >= 0) bt->diag_d[parent[i]] += w;
    }
    for (int64_t i = 0; i < N; i++)
        bt->diag_d[i] = set_real(bt->diag, (size_t)i, bt->diag_d[i], p);
    if (spec->kind == MYO_BENCH_TREE_CHAIN) { /* d = diag, e[i] = M[i+1][i] = down[i+1] */
        for (int64_t i = 0; i < N; i++) {
            set_real(bt->lap_d, (size_t)i, bt->diag_d[i], p);
            set_real(bt->lap_e, (size_t)i, i + 1 < N ? bt->down_d[i + 1] : 0.0, p);
        }
    }
    /* A factor now, to learn which kernel myo_solve runs (and that it factors). */
    myo_factor *f = NULL;
    s = p == MYO_F32 ? myo_factor_create_f32(bt->tree, bt->diag, bt->up, bt->down, &f)
                     : myo_factor_create_f64(bt->tree, bt->diag, bt->up, bt->down, &f);
    if (s != MYO_OK) {
        myo_bench_say(1, "factor of tree %s: %s: %s", spec->name, myo_status_str(s),
                      myo_error_detail());
        return myo_cli_exit_code(s);
    }
    bt->kernel = myo_solve_kernel_name(f); /* a string literal, outlives f */
    myo_factor_destroy(&f);
    return MYO_EXIT_OK;
}

/* ------------------------------------------------------------ operations */

static myo_status factor_create(const bench_tree *bt, myo_precision p, myo_factor **f)
{
    return p == MYO_F32 ? myo_factor_create_f32(bt->tree, bt->diag, bt->up, bt->down, f)
                        : myo_factor_create_f64(bt->tree, bt->diag, bt->up, bt->down, f);
}

static myo_status solve_in_place(const myo_factor *f, myo_precision p, void *x, int64_t m)
{
    return p == MYO_F32 ? myo_solve_f32(f, MYO_OP_N, x, x, m) : myo_solve_f64(f, MYO_OP_N, x, x, m);
}

/* (1): what a user pays for one solve with a new matrix on a tree it has
 * already used: myo_refactor (the pivots recomputed into the storage of
 * factor f, on a chain inside the solve's first pass) and the solve. */
static myo_status factor_and_solve(const bench_tree *bt, myo_precision p, void *x, int64_t m,
                                   myo_factor *f)
{
    return p == MYO_F32 ? myo_refactor_f32(f, bt->diag, bt->up, bt->down, MYO_OP_N, x, x, m)
                        : myo_refactor_f64(f, bt->diag, bt->up, bt->down, MYO_OP_N, x, x, m);
}

/* (3): d (N,), e (N-1,) are overwritten by the L D L^T factor, b (N, m)
 * column-major by the solution.  Returns LAPACK's info. */
static lapack_int lapack_pt(myo_precision p, int64_t N, int64_t m, void *d, void *e, void *b)
{
    lapack_int n = (lapack_int)N, nrhs = (lapack_int)m, info;
    if (p == MYO_F32) {
        info = LAPACKE_spttrf(n, d, e);
        if (info == 0) info = LAPACKE_spttrs(LAPACK_COL_MAJOR, n, nrhs, d, e, b, n);
    } else {
        info = LAPACKE_dpttrf(n, d, e);
        if (info == 0) info = LAPACKE_dpttrs(LAPACK_COL_MAJOR, n, nrhs, d, e, b, n);
    }
    return info;
}

/* LAPACK's indices are lapack_int: skip it where they would overflow. */
static int lapack_fits(int64_t N, int64_t m)
{
    return N <= (int64_t)INT32_MAX && m <= (int64_t)INT32_MAX / N;
}

/* ------------------------------------------------------------------ point */

typedef struct {
    void *pristine, *work; /* (N, m) row-major: the right-hand side and the solve's */
    void *col0, *col;      /* chains: (N, m) column-major, pristine and LAPACK's */
    void *d, *e;           /* chains: LAPACK's work copies of d and e */
    double *ref;           /* (N, kb) the reference solve of kb <= REF_BLOCK channels */
    myo_bench_reps times;  /* (T_KINDS, reps) */
} point_bufs;

static void point_bufs_free(point_bufs *b)
{
    free(b->pristine), free(b->work), free(b->col0), free(b->col);
    free(b->d), free(b->e), free(b->ref);
    myo_bench_reps_free(&b->times);
    memset(b, 0, sizeof *b);
}

/* Validation on the very problem that is then timed: the optimised solve
 * (and LAPACK's) against myo_solve_ref in double, REF_BLOCK channels at a
 * time.  Error: max |x - ref| / max |ref| over all entries.  Returns an exit
 * code for failures to run (not for a large error). */
static int validate(const bench_tree *bt, int64_t m, myo_precision p, int lapack, point_bufs *b,
                    bench_row *row)
{
    const int64_t N = bt->N;
    const size_t bytes = (size_t)N * (size_t)m * real_size(p);
    /* The solve with stored pivots must reproduce the one-sweep factor+solve
     * bit for bit (the same operations in the same order). */
    myo_factor *f = NULL;
    memcpy(b->work, b->pristine, bytes);
    myo_status s = factor_create(bt, p, &f);
    if (s == MYO_OK) s = factor_and_solve(bt, p, b->work, m, f);
    uint64_t swept = s == MYO_OK ? myo_bench_hash(b->work, bytes) : 0;
    memcpy(b->work, b->pristine, bytes);
    if (s == MYO_OK) s = solve_in_place(f, p, b->work, m);
    myo_factor_destroy(&f);
    if (s != MYO_OK) {
        myo_bench_say(1, "%s, m = %lld: %s: %s", bt->spec.name, (long long)m, myo_status_str(s),
                      myo_error_detail());
        return myo_cli_exit_code(s);
    }
    row->same_bits = myo_bench_hash(b->work, bytes) == swept;
    int lapack_ok = 1;
    if (lapack) {
        memcpy(b->col, b->col0, bytes);
        memcpy(b->d, bt->lap_d, (size_t)N * real_size(p));
        memcpy(b->e, bt->lap_e, (size_t)N * real_size(p));
        lapack_int info = lapack_pt(p, N, m, b->d, b->e, b->col);
        if (info != 0) {
            myo_bench_say(1, "%s, m = %lld: LAPACK ?pttrf/?pttrs returned info = %d", bt->spec.name,
                          (long long)m, (int)info);
            lapack_ok = 0;
        }
    }
    const int64_t *parent = myo_tree_parents(bt->tree);
    double ref_max = 0.0, diff = 0.0, diff_lapack = 0.0;
    for (int64_t k0 = 0; k0 < m; k0 += REF_BLOCK) {
        int64_t kb = m - k0 < REF_BLOCK ? m - k0 : REF_BLOCK;
        for (int64_t i = 0; i < N; i++)
            for (int64_t k = 0; k < kb; k++)
                b->ref[i * kb + k] = get_real(b->pristine, (size_t)(i * m + k0 + k), p);
        s = myo_solve_ref(parent, N, bt->diag_d, bt->up_d, bt->down_d, MYO_OP_N, b->ref, b->ref,
                          kb);
        if (s != MYO_OK) {
            myo_bench_say(1, "%s, m = %lld: myo_solve_ref: %s: %s", bt->spec.name, (long long)m,
                          myo_status_str(s), myo_error_detail());
            return myo_cli_exit_code(s);
        }
        for (int64_t i = 0; i < N; i++)
            for (int64_t k = 0; k < kb; k++) {
                double r = b->ref[i * kb + k];
                double x = get_real(b->work, (size_t)(i * m + k0 + k), p);
                ref_max = fmax(ref_max, fabs(r));
                diff = myo_bench_max_abs_err(diff, x, r);
                if (lapack && lapack_ok)
                    diff_lapack = myo_bench_max_abs_err(
                        diff_lapack, get_real(b->col, (size_t)((k0 + k) * N + i), p), r);
            }
    }
    row->err = ref_max > 0 ? diff / ref_max : diff;
    row->err_lapack = !lapack     ? NAN
                      : lapack_ok ? (ref_max > 0 ? diff_lapack / ref_max : diff_lapack)
                                  : INFINITY;
    return MYO_EXIT_OK;
}

/* Validate, warm up, time.  Collective on MPI_COMM_WORLD.  Returns an exit
 * code (the same on every rank); row->valid carries the verdict. */
static int run_point(const bench_tree *bt, int64_t m, const bench_opts *o, double tol,
                     const myo_bench_flush *fl, bench_row *row)
{
    const myo_precision p = o->prec;
    const int64_t N = bt->N;
    const size_t rs = real_size(p), bytes = (size_t)N * (size_t)m * rs;
    const int lapack = bt->spec.kind == MYO_BENCH_TREE_CHAIN && lapack_fits(N, m);
    const int64_t kb = m < REF_BLOCK ? m : REF_BLOCK;
    memset(row, 0, sizeof *row);
    row->has_lapack = lapack;

    point_bufs b = {0};
    b.pristine = myo_bench_alloc((size_t)N * (size_t)m, rs);
    b.work = myo_bench_alloc((size_t)N * (size_t)m, rs);
    b.ref = myo_bench_alloc((size_t)N * (size_t)kb, sizeof(double));
    const int no_times = myo_bench_reps_create(T_KINDS, o->c.reps, o->c.warmup, &b.times) != 0;
    if (lapack) {
        b.col0 = myo_bench_alloc((size_t)N * (size_t)m, rs);
        b.col = myo_bench_alloc((size_t)N * (size_t)m, rs);
        b.d = myo_bench_alloc((size_t)N, rs);
        b.e = myo_bench_alloc((size_t)N, rs);
    }
    int code = MYO_EXIT_OK;
    if (!b.pristine || !b.work || !b.ref || no_times ||
        (lapack && (!b.col0 || !b.col || !b.d || !b.e))) {
        myo_bench_say(1, "%s, m = %lld: out of memory for %s %.1f MiB right-hand sides",
                      bt->spec.name, (long long)m, lapack ? "four" : "two",
                      (double)bytes / 1048576.0);
        code = MYO_EXIT_INTERNAL;
    }
    if ((code = myo_bench_agree(code)) != MYO_EXIT_OK) {
        point_bufs_free(&b);
        return code;
    }

    /* The right-hand side, uniform in [-1, 1), the same for every run and rank;
     * writing it also pre-touches the pages. */
    myo_rng rng = myo_rng_seed(SEED ^ myo_bench_hash_str(bt->spec.name) ^
                               ((uint64_t)m * 0x9e3779b97f4a7c15ULL));
    for (size_t i = 0; i < (size_t)N * (size_t)m; i++)
        set_real(b.pristine, i, myo_rng_uniform(&rng, -1.0, 1.0), p);
    memset(b.work, 0, bytes);
    if (lapack) {
        to_col_major(b.pristine, b.col0, N, m, p);
        memset(b.col, 0, bytes);
    }

    code = myo_bench_agree(validate(bt, m, p, lapack, &b, row));
    if (code != MYO_EXIT_OK) {
        point_bufs_free(&b);
        return code;
    }
    double errs[3] = {row->err, lapack ? row->err_lapack : 0.0, row->same_bits ? 0.0 : 1.0};
    myo_bench_max_over_ranks(errs, 3);
    row->err = errs[0];
    if (lapack) row->err_lapack = errs[1];
    row->same_bits = errs[2] == 0.0;
    row->valid = row->err <= tol && (!lapack || row->err_lapack <= tol) && row->same_bits;

    /* Each repetition runs the four operations in turn, so that a slow
     * phase of a shared machine hits them alike.  Before each: restore the
     * input (the solves are in place), evict the caches, barrier: untimed. */
    myo_factor *f = NULL;
    myo_status s = factor_create(bt, p, &f), fail = s;
    lapack_int linfo = 0;
    myo_bench_any_failed(&fail);
    for (int64_t it = 0; it < o->c.warmup + o->c.reps && fail == MYO_OK; it++) {
        double t[T_KINDS] = {0}, t0;

        memcpy(b.work, b.pristine, bytes);
        myo_bench_sync(fl);
        t0 = MPI_Wtime();
        s = factor_and_solve(bt, p, b.work, m, f);
        t[T_FS] = MPI_Wtime() - t0;
        if (s != MYO_OK) fail = s;

        memcpy(b.work, b.pristine, bytes);
        myo_bench_sync(fl);
        t0 = MPI_Wtime();
        s = solve_in_place(f, p, b.work, m);
        t[T_SOLVE] = MPI_Wtime() - t0;
        if (s != MYO_OK) fail = s;

        myo_bench_sync(fl);
        t0 = MPI_Wtime();
        memcpy(b.work, b.pristine, bytes);
        t[T_COPY] = MPI_Wtime() - t0;

        if (lapack) {
            memcpy(b.col, b.col0, bytes);
            memcpy(b.d, bt->lap_d, (size_t)N * rs);
            memcpy(b.e, bt->lap_e, (size_t)N * rs);
            myo_bench_sync(fl);
            t0 = MPI_Wtime();
            lapack_int info = lapack_pt(p, N, m, b.d, b.e, b.col);
            t[T_LAPACK] = MPI_Wtime() - t0;
            if (info != 0)
                linfo = info, fail = fail == MYO_OK ? MYO_ERR_DATA : fail; /* said below */
        }
        for (int k = 0; k < T_KINDS; k++)
            myo_bench_reps_put(&b.times, k, it, t[k]);
        if (myo_bench_any_failed(&fail)) break;
    }
    myo_factor_destroy(&f);
    if (fail != MYO_OK || linfo != 0) {
        if (linfo != 0)
            myo_bench_say(1, "%s, m = %lld: LAPACK returned info = %d while timing", bt->spec.name,
                          (long long)m, (int)linfo);
        else if (fail != MYO_ERR_MPI)
            myo_bench_say(1, "%s, m = %lld: %s: %s", bt->spec.name, (long long)m,
                          myo_status_str(fail), myo_error_detail());
        point_bufs_free(&b);
        return myo_bench_agree(MYO_EXIT_INTERNAL);
    }

    myo_bench_reps_max_over_ranks(&b.times);
    for (int k = 0; k < T_KINDS; k++)
        myo_bench_reps_stat(&b.times, k, row->stat[k]);
    point_bufs_free(&b);
    return MYO_EXIT_OK;
}

/* ----------------------------------------------------------------- output */

#define ROW_FMT_HEAD                                                                               \
    "%-7s %-6s %9s %5s %12s %10s %10s %10s %10s %7s %7s %7s %8s %9s %9s %-7s %10s %10s %10s %10s " \
    "%10s %10s %10s %10s\n"

static void print_columns(void)
{
    printf(ROW_FMT_HEAD, "#tree", "kernel", "N", "m", "bytes", "fs_ms", "solve_ms", "memcpy_ms",
           "lapack_ms", "fs/cpy", "sol/cpy", "lap/fs", "cpy_GB/s", "err", "err_lap", "valid",
           "fs_min", "fs_max", "solve_min", "solve_max", "memcpy_min", "memcpy_max", "lapack_min",
           "lapack_max");
}

static void print_row(const bench_tree *bt, int64_t m, myo_precision p, const bench_row *r)
{
    double bytes = (double)bt->N * (double)m * (double)real_size(p);
    const double ms = 1e3;
    char lap[3][32], lapfs[32], errl[32];
    if (r->has_lapack) {
        for (int k = 0; k < 3; k++)
            snprintf(lap[k], sizeof lap[k], "%.4f", r->stat[T_LAPACK][k] * ms);
        snprintf(lapfs, sizeof lapfs, "%.2f", r->stat[T_LAPACK][1] / r->stat[T_FS][1]);
        snprintf(errl, sizeof errl, "%.2e", r->err_lapack);
    } else {
        for (int k = 0; k < 3; k++)
            strcpy(lap[k], "-");
        strcpy(lapfs, "-"), strcpy(errl, "-");
    }
    myo_bench_row(
        "%-7s %-6s %9lld %5lld %12.0f %10.4f %10.4f %10.4f %10s %7.2f %7.2f %7s %8.2f %9.2e "
        "%9s %-7s %10.4f %10.4f %10.4f %10.4f %10.4f %10.4f %10s %10s\n",
        bt->spec.name, bt->kernel, (long long)bt->N, (long long)m, bytes, r->stat[T_FS][1] * ms,
        r->stat[T_SOLVE][1] * ms, r->stat[T_COPY][1] * ms, lap[1],
        r->stat[T_FS][1] / r->stat[T_COPY][1], r->stat[T_SOLVE][1] / r->stat[T_COPY][1], lapfs,
        bytes / r->stat[T_COPY][1] * 1e-9, r->err, errl, r->valid ? "VALID" : "INVALID",
        r->stat[T_FS][0] * ms, r->stat[T_FS][2] * ms, r->stat[T_SOLVE][0] * ms,
        r->stat[T_SOLVE][2] * ms, r->stat[T_COPY][0] * ms, r->stat[T_COPY][2] * ms, lap[0], lap[2]);
}

static void print_header(const bench_opts *o, const bench_tree *trees, double tol,
                         const myo_bench_flush *fl, const char *hosts)
{
    const char *prec = o->prec == MYO_F32 ? "single (float, 4 bytes)" : "double (8 bytes)";
    /* the object that defines the symbol LAPACKE will call */
    myo_bench_print_machine(hosts, "LAPACK symbols", o->prec == MYO_F32 ? "spttrs_" : "dpttrs_");
    printf("# precision %s, n = %lld, reps = %lld timed after warmup = %lld, seed 0x%llx\n", prec,
           (long long)o->n, (long long)o->c.reps, (long long)o->c.warmup, (unsigned long long)SEED);
    for (int t = 0; t < o->n_trees; t++)
        printf("# tree %-6s N = %lld nodes%s, height %lld, myo_solve kernel: %s\n",
               trees[t].spec.name, (long long)trees[t].N,
               trees[t].spec.kind == MYO_BENCH_TREE_KARY ? " (n tokens + virtual nodes)" : "",
               (long long)trees[t].height, trees[t].kernel);
    printf("# matrix: up[i] = down[i] = -w_i, w_i uniform in (0,1]; diag[i] = 1 + sum of "
           "|off-diagonals| of row i: symmetric, strictly diagonally dominant, SPD.\n"
           "# right-hand side (N, m) uniform in [-1,1): for kary trees the system, the memcpy and "
           "'bytes' all use all N = tokens + virtual nodes rows.\n");
    printf("# validation before timing, on the same system: err = max|x - x_ref| / max|x_ref|, "
           "x_ref = myo_solve_ref in double; VALID when err (and err_lap) <= %.0e.\n",
           tol);
    printf("# timing: MPI_Wtime per operation, barrier before each, max over ranks per "
           "repetition; columns *_ms are medians (headline), *_min/*_max the extremes.\n"
           "# before each timed operation (untimed): the in-place input is restored from a "
           "pristine copy and %s.\n",
           fl->buf ? "the caches are evicted by reading a buffer" : "nothing else (--no-flush)");
    myo_bench_print_flush_buffer(fl, "");
    printf("# fs = myo_refactor + solve (in place, op N): new pivots in an existing factor's "
           "storage (no allocation), on chains computed inside the solve's first pass;\n"
           "# solve = myo_solve alone with the pivots already computed (validated to reproduce fs "
           "bit for bit);\n"
           "# memcpy = memcpy of bytes = N*m*sizeof(real) between two distinct pre-touched "
           "buffers (the bandwidth yardstick; cpy_GB/s = bytes / memcpy time);\n"
           "# lapack (chains only) = LAPACKE_%cpttrf + LAPACKE_%cpttrs(LAPACK_COL_MAJOR, n, m, "
           "d, e, b, n) on copies of d, e and a column-major b, NaN checks off.\n",
           o->prec == MYO_F32 ? 's' : 'd', o->prec == MYO_F32 ? 's' : 'd');
    printf("# fs/cpy, sol/cpy = time / memcpy time (two streaming passes: 2.0, or 4/3 against a "
           "memcpy whose stores read the line first); lap/fs = LAPACK time / fs time (our "
           "speedup);\n# solve: ~4*N*m flops, at least 4*bytes of memory traffic (two in-place "
           "passes).\n");
    print_columns();
    fflush(stdout);
}

/* ------------------------------------------------------------------- main */

/* Bytes one rank will hold at its peak, roughly: every tree with its
 * matrix (kept for the whole run), one factor, the largest point's arrays. */
static double memory_estimate(const bench_opts *o, size_t flush_bytes)
{
    const double rs = (double)real_size(o->prec);
    double trees = 0.0, point = 0.0;
    for (int t = 0; t < o->n_trees; t++) {
        double N = (double)myo_bench_tree_nodes_bound(&o->trees[t], o->n);
        int chain = o->trees[t].kind == MYO_BENCH_TREE_CHAIN;
        /* tree: 4 int64 arrays; matrix: 3 working + 3 double (+ LAPACK's d, e);
         * one factor: 5 working + 1 double */
        trees += N * (4 * 8 + 3 * rs + 3 * 8 + (chain ? 2 * rs : 0));
        for (int i = 0; i < o->n_m; i++) {
            double m = (double)o->m[i], kb = m < REF_BLOCK ? m : REF_BLOCK;
            double need = N * (5 * rs + 8) + N * m * rs * (chain ? 4 : 2) + N * kb * 8 +
                          (chain ? 2 * N * rs : 0);
            if (need > point) point = need;
        }
    }
    return trees + point + (double)flush_bytes;
}

/* Returns the exit code; MPI is initialised and finalised by main. */
static int bench_main(int argc, char **argv)
{
    LAPACKE_set_nancheck(0); /* time LAPACK, not LAPACKE's extra NaN scans of d, e and b */
    bench_opts o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0) return code;
    const double tol = o.prec == MYO_F32 ? 1e-4 : 1e-12;
    double t_start = MPI_Wtime();

    char hosts[512] = "";
    myo_bench_hosts(hosts, sizeof hosts);

    code = myo_bench_check_host_memory(memory_estimate(&o, o.c.flush ? myo_bench_flush_bytes() : 0),
                                       "lower --n or --m");
    if (code != 0) return code;
    code = -1;

    bench_tree trees[MAX_LIST];
    memset(trees, 0, sizeof trees);
    for (int t = 0; t < o.n_trees && code <= 0; t++) {
        code = myo_bench_agree(bench_tree_setup(&o.trees[t], o.n, o.prec, &trees[t]));
        if (code == 0) code = -1;
    }

    myo_bench_flush fl = {0};
    if (code < 0) {
        code = myo_bench_flush_create(o.c.flush, &fl);
        if (code == 0) code = -1;
    }

    int invalid = 0;
    if (code < 0) {
        if (myo_bench_rank() == 0) print_header(&o, trees, tol, &fl, hosts);
        for (int t = 0; t < o.n_trees && code < 0; t++)
            for (int i = 0; i < o.n_m && code < 0; i++) {
                bench_row row;
                int c = run_point(&trees[t], o.m[i], &o, tol, &fl, &row);
                if (c != MYO_EXIT_OK) {
                    code = c;
                    break;
                }
                print_row(&trees[t], o.m[i], o.prec, &row);
                if (!row.valid) {
                    invalid = 1;
                    char lap[48] = "";
                    if (row.has_lapack) snprintf(lap, sizeof lap, ", err_lap %.3g", row.err_lapack);
                    myo_bench_say(0, "%s, m = %lld: INVALID (err %.3g%s, tolerance %.0e)",
                                  trees[t].spec.name, (long long)o.m[i], row.err, lap, tol);
                }
            }
    }
    if (code < 0) {
        myo_bench_print_totals(t_start);
        code = invalid ? MYO_EXIT_CHECK : MYO_EXIT_OK;
    }
    myo_bench_flush_free(&fl);
    for (int t = 0; t < o.n_trees; t++)
        bench_tree_free(&trees[t]);
    return code;
}

int main(int argc, char **argv)
{
    return myo_bench_main(argc, argv, TOOL, bench_main);
}
