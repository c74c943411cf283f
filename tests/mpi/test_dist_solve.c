/* test_dist_solve.c -- the tree solve split over MPI ranks by pre-order
 * position ranges (myo_factor_solve_ranges_f64 and myo_dist_plan) against
 * myo_solve_ref on the whole system, and errors agreed on by every rank.
 *
 * make check runs this program under mpiexec with 1, 2, 3 and 4 ranks
 * (tests/mpi/test_dist_solve.mpi).  Every rank builds the same tree,
 * coefficients and right-hand side from fixed seeds, solves the whole
 * system with the oracle and takes its rows.  A check never fails on one
 * rank alone: the verdicts are combined with MPI_Allreduce, so all ranks
 * fail together.  Tolerance: |got - ref| <= 1e-12 + 1e-10 |ref| for every
 * entry; rank 0 prints the largest |got - ref| / (1e-12 + 1e-10 |ref|)
 * (max over ranks and cases) and the wall time.
 *
 * Message rounds are observed, not taken from the plan's counters: PMPI
 * wrappers of MPI_Send and MPI_Recv (below) number the rounds of each
 * call, which must be the 2 ceil(log2 P) of the binomial-tree gather and
 * scatter (myosotis_dist.h), whatever the tree. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myosotis.h"
#include "support.h"

#define ATOL 1e-12
#define RTOL 1e-10

static MPI_Comm comm_all; /* a dup of MPI_COMM_WORLD: the library gets a comm, never WORLD */
static int my_rank, n_ranks;
static double worst_scaled, worst_abs; /* max over every case so far (this rank) */
static long cases;

/* ------------------------------------------------------ message rounds */

/* While tracing is on (on every rank alike), each point-to-point operation
 * of this rank gets a round: one after the rank's previous operation and,
 * for a receive, no earlier than the matching send, whose round follows
 * the message on TAG_ROUND.  The distributed solve's only point-to-point
 * calls are MPI_Send and MPI_Recv (after MPI_Probe; lib/dist/dist_solve.c).
 * The largest round over the ranks is the number of message rounds of the
 * call: the length of its longest chain of messages, where a rank's own
 * operations follow one another. */
#define TAG_ROUND 0x7e57 /* not the library's 0x6d7b, 0x6d7c */
static int trace_on;
static long long trace_round, trace_sends;

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm)
{
    if (!trace_on) return PMPI_Send(buf, count, type, dest, tag, comm);
    long long round = ++trace_round;
    trace_sends++;
    int rc = PMPI_Send(buf, count, type, dest, tag, comm);
    if (rc == MPI_SUCCESS) rc = PMPI_Send(&round, 1, MPI_LONG_LONG, dest, TAG_ROUND, comm);
    return rc;
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
             MPI_Status *status)
{
    if (!trace_on) return PMPI_Recv(buf, count, type, source, tag, comm, status);
    MPI_Status st;
    long long round = 0;
    int rc = PMPI_Recv(buf, count, type, source, tag, comm, &st);
    if (rc == MPI_SUCCESS)
        rc = PMPI_Recv(&round, 1, MPI_LONG_LONG, st.MPI_SOURCE, TAG_ROUND, comm,
                       MPI_STATUS_IGNORE);
    trace_round = round > trace_round + 1 ? round : trace_round + 1;
    if (status != MPI_STATUS_IGNORE) *status = st;
    return rc;
}

static void trace_begin(void)
{
    trace_round = trace_sends = 0;
    trace_on = 1;
}

/* Ends tracing: *rounds = the rounds since trace_begin (max over ranks),
 * *sends = the messages all ranks sent.  Collective. */
static void trace_end(long long *rounds, long long *sends)
{
    trace_on = 0;
    assert_int_equal(MPI_Allreduce(&trace_round, rounds, 1, MPI_LONG_LONG, MPI_MAX, comm_all),
                     MPI_SUCCESS);
    assert_int_equal(MPI_Allreduce(&trace_sends, sends, 1, MPI_LONG_LONG, MPI_SUM, comm_all),
                     MPI_SUCCESS);
}

/* ceil(log2 p): the rounds of a binomial-tree gather over p ranks, and of
 * its scatter. */
static long long log2_ceil(int p)
{
    long long d = 0;
    while ((1LL << d) < p)
        d++;
    return d;
}

/* What the binomial-tree gather and scatter make of `calls` solves: 2
 * ceil(log2 P) rounds each, and each rank but 0 sends one message up and
 * receives one down: 2 (P - 1) messages.  Returns ok (rank 0 says why not). */
static int rounds_ok(long long rounds, long long sends, long long calls, const char *what)
{
    const long long want_rounds = 2 * log2_ceil(n_ranks) * calls;
    const long long want_sends = 2LL * (n_ranks - 1) * calls;
    if (rounds == want_rounds && sends == want_sends) return 1;
    if (my_rank == 0)
        fprintf(stderr,
                "%s: %lld solve%s over %d ranks: %lld message rounds and %lld messages, want "
                "%lld and %lld\n",
                what, calls, calls == 1 ? "" : "s", n_ranks, rounds, sends, want_rounds,
                want_sends);
    return 0;
}

/* The ways of cutting n positions into p ranges: off (p + 1). */
enum { SPLIT_EVEN, SPLIT_RANDOM, SPLIT_FIRST_EMPTY, SPLIT_ALL_ON_LAST, SPLITS };
static const test_split_kind split_kinds[SPLITS] = {TEST_SPLIT_EVEN, TEST_SPLIT_RANDOM,
                                                    TEST_SPLIT_FIRST_EMPTY, TEST_SPLIT_ALL_ON_LAST};

/* One system: the tree and its coefficients, the same on every rank. */
typedef struct {
    myo_tree *t;
    int64_t n;
    double *diag, *up, *down;
} sys;

static void sys_make(sys *s, myo_tree *t, uint64_t seed)
{
    s->t = t;
    s->n = myo_tree_num_nodes(t);
    s->diag = malloc((size_t)s->n * sizeof(double));
    s->up = malloc((size_t)s->n * sizeof(double));
    s->down = malloc((size_t)s->n * sizeof(double));
    assert_non_null(s->diag), assert_non_null(s->up), assert_non_null(s->down);
    test_dominant_coeffs(myo_tree_parents(t), s->n, seed, 1, s->diag, s->up, s->down);
}

static void sys_free(sys *s)
{
    myo_tree_destroy(&s->t);
    free(s->diag), free(s->up), free(s->down);
}

/* Solve with one split, m and op on every rank and compare with the oracle. */
static void check_case(const sys *s, int kind, int64_t m, myo_op op, uint64_t seed,
                       const char *what)
{
    int64_t n = s->n;
    int64_t *off = malloc((size_t)(n_ranks + 1) * sizeof(int64_t));
    double *r = malloc((size_t)(n * m) * sizeof(double));
    double *ref = malloc((size_t)(n * m) * sizeof(double));
    assert_non_null(off), assert_non_null(r), assert_non_null(ref);
    test_split(split_kinds[kind], n, n_ranks, seed, off);
    test_random_values(r, n * m, seed + 1);
    assert_int_equal(
        myo_solve_ref(myo_tree_parents(s->t), n, s->diag, s->up, s->down, op, r, ref, m), MYO_OK);
    int64_t lo = off[my_rank], hi = off[my_rank + 1];
    double *loc = malloc((size_t)((hi - lo) * m + 1) * sizeof(double));
    double *lref = malloc((size_t)((hi - lo) * m + 1) * sizeof(double));
    assert_non_null(loc), assert_non_null(lref);
    int ok = myo_dist_rows_from_labels(s->t, lo, hi, m, r, loc) == MYO_OK &&
             myo_dist_rows_from_labels(s->t, lo, hi, m, ref, lref) == MYO_OK;
    long long rounds = 0, sends = 0;
    trace_begin();
    myo_status st = myo_factor_solve_ranges_f64(comm_all, s->t, s->diag, s->up, s->down, lo, hi,
                                                op, hi > lo ? loc : NULL, m);
    trace_end(&rounds, &sends);
    if (!rounds_ok(rounds, sends, 1, what)) ok = 0;
    if (st != MYO_OK) {
        fprintf(stderr, "rank %d: %s: %s: %s\n", my_rank, what, myo_status_str(st),
                myo_error_detail());
        ok = 0;
    } else {
        for (int64_t i = 0; i < (hi - lo) * m; i++) {
            double e = fabs(loc[i] - lref[i]), sc = e / (ATOL + RTOL * fabs(lref[i]));
            if (!(sc <= 1.0)) ok = 0;
            if (!(sc <= worst_scaled)) worst_scaled = sc;
            if (!(e <= worst_abs)) worst_abs = e;
        }
        /* the rows come back in label order too */
        if (myo_dist_rows_to_labels(s->t, lo, hi, m, loc, r) != MYO_OK) ok = 0;
        for (int64_t p = lo; ok && p < hi; p++) {
            int64_t lab = myo_tree_preorder(s->t)[p];
            if (r[lab * m] != loc[(p - lo) * m]) ok = 0;
        }
    }
    cases++;
    if (!ok && my_rank == 0)
        fprintf(stderr, "%s: n = %lld, split %d, m = %lld, op %d failed\n", what, (long long)n,
                kind, (long long)m, (int)op);
    test_assert_all_ranks(ok, comm_all, what);
    free(off), free(r), free(ref), free(loc), free(lref);
}

/* Every split, m in {1, 3}, both ops. */
static void check_all(const sys *s, uint64_t seed, const char *what)
{
    for (int kind = 0; kind < SPLITS; kind++)
        for (int64_t m = 1; m <= 3; m += 2)
            for (int op = 0; op < 2; op++)
                check_case(s, kind, m, (myo_op)op, seed + 100 * kind + 10 * m + op, what);
}

static void test_dist_solve_chains(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 2, 7, 1000};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        sys s;
        myo_tree *t = NULL;
        assert_int_equal(myo_tree_create_chain(ns[i], &t), MYO_OK);
        sys_make(&s, t, 11 + i);
        check_all(&s, 1000 * i, "chain");
        sys_free(&s);
    }
}

/* kary 2 and 4 for every n in 1 .. 300: each n gets one (split, m, op)
 * combination in turn; a few n get all of them. */
static void test_dist_solve_kary(void **state)
{
    (void)state;
    for (int arity = 2; arity <= 4; arity += 2)
        for (int64_t n = 1; n <= 300; n++) {
            sys s;
            myo_tree *t = NULL;
            assert_int_equal(myo_tree_create_kary(n, arity, &t), MYO_OK);
            sys_make(&s, t, 7 * n + arity);
            if (n <= 3 || n == 17 || n == 64 || n == 300)
                check_all(&s, n, "kary");
            else
                check_case(&s, (int)(n % SPLITS), 1 + 2 * ((n / SPLITS) % 2),
                           (myo_op)((n / (2 * SPLITS)) % 2), 31 * n + arity, "kary");
            sys_free(&s);
        }
}

static void test_dist_solve_heaps_random_forests_star(void **state)
{
    (void)state;
    const int64_t n = 500;
    int64_t *parent = malloc((size_t)n * sizeof(int64_t));
    assert_non_null(parent);
    for (int which = 0; which < 6; which++) {
        myo_tree *t = NULL;
        const char *what = "";
        if (which == 0 || which == 1) {
            assert_int_equal(myo_tree_create_heap(n, which ? 3 : 2, &t), MYO_OK);
            what = "heap";
        } else if (which == 2 || which == 3) { /* random recursive, shuffled labels */
            test_random_recursive_parents(n, 77 + which, parent);
            test_shuffle_labels(parent, n, 99 + which, NULL);
            assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
            what = "random recursive tree";
        } else if (which == 4) { /* forest of 9 random trees, shuffled */
            test_random_forest_parents(n, 9, 5, parent);
            test_shuffle_labels(parent, n, 6, NULL);
            assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
            what = "forest";
        } else { /* a star whose centre has a large label */
            for (int64_t i = 0; i < n; i++)
                parent[i] = i == n / 2 ? -1 : n / 2;
            assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
            what = "star";
        }
        sys s;
        sys_make(&s, t, 500 + which);
        check_all(&s, 5000 + 100 * which, what);
        sys_free(&s);
    }
    free(parent);
}

/* A zero row and column at position N - 1 (a leaf; on the last rank
 * whenever its range is not empty): every rank returns MYO_ERR_SINGULAR. */
static void test_dist_solve_singular_on_last_rank_fails_everywhere(void **state)
{
    (void)state;
    for (int which = 0; which < 3; which++) {
        myo_tree *t = NULL;
        if (which == 0) assert_int_equal(myo_tree_create_chain(100, &t), MYO_OK);
        if (which == 1) assert_int_equal(myo_tree_create_kary(100, 2, &t), MYO_OK);
        if (which == 2) assert_int_equal(myo_tree_create_heap(100, 3, &t), MYO_OK);
        sys s;
        sys_make(&s, t, 3 + which);
        int64_t leaf = myo_tree_preorder(t)[s.n - 1];
        s.diag[leaf] = 0.0, s.up[leaf] = 0.0, s.down[leaf] = 0.0;
        for (int kind = 0; kind < SPLITS; kind++)
            for (int op = 0; op < 2; op++) {
                int64_t off[8 + 1], m = 2;
                if (n_ranks > 8) skip();
                test_split(split_kinds[kind], s.n, n_ranks, 40 + kind, off);
                int64_t lo = off[my_rank], hi = off[my_rank + 1];
                double *loc = calloc((size_t)((hi - lo) * m + 1), sizeof(double));
                assert_non_null(loc);
                for (int64_t i = 0; i < (hi - lo) * m; i++)
                    loc[i] = 1.0;
                myo_status st = myo_factor_solve_ranges_f64(comm_all, t, s.diag, s.up, s.down, lo,
                                                            hi, (myo_op)op, loc, m);
                int ok = st == MYO_ERR_SINGULAR;
                if (!ok)
                    fprintf(stderr, "rank %d: singular case %d/%d/%d: got %s\n", my_rank, which,
                            kind, op, myo_status_str(st));
                test_assert_all_ranks(ok, comm_all, "singular pivot on the last rank");
                free(loc);
            }
        sys_free(&s);
    }
}

/* Ranges that do not tile [0, N) (the last rank stops short), or a
 * different m on one rank: MYO_ERR_ARG on every rank. */
static void test_dist_solve_bad_ranges_fail_everywhere(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_chain(50, &t), MYO_OK);
    sys s;
    sys_make(&s, t, 9);
    int64_t off[8 + 1];
    if (n_ranks > 8) skip();
    test_split(TEST_SPLIT_EVEN, s.n, n_ranks, 0, off);
    int64_t lo = off[my_rank], hi = off[my_rank + 1];
    double *loc = calloc((size_t)((hi - lo) * 3 + 1), sizeof(double));
    assert_non_null(loc);
    int64_t bad_hi = my_rank == n_ranks - 1 ? hi - 1 : hi;
    myo_status st = myo_factor_solve_ranges_f64(comm_all, t, s.diag, s.up, s.down, lo, bad_hi,
                                                MYO_OP_N, loc, 1);
    test_assert_all_ranks(st == MYO_ERR_ARG, comm_all, "ranges that stop short");
    int64_t m = my_rank == n_ranks - 1 ? 3 : 1;
    st = myo_factor_solve_ranges_f64(comm_all, t, s.diag, s.up, s.down, lo, hi, MYO_OP_N, loc, m);
    test_assert_all_ranks(n_ranks == 1 ? st == MYO_OK : st == MYO_ERR_ARG, comm_all,
                          "m differing between ranks");
    free(loc);
    sys_free(&s);
}

/* The depth (strict ancestors) of the node at each pre-order position,
 * (N + 1) with 0 at position N. */
static int64_t *position_depths(const myo_tree *t)
{
    const int64_t n = myo_tree_num_nodes(t), *parent = myo_tree_parents(t);
    const int64_t *order = myo_tree_preorder(t);
    int64_t *by_label = malloc((size_t)(n + 1) * sizeof(int64_t));
    int64_t *depth = malloc((size_t)(n + 1) * sizeof(int64_t));
    assert_non_null(by_label), assert_non_null(depth);
    for (int64_t p = 0; p < n; p++) { /* a parent comes before its children */
        int64_t v = order[p];
        by_label[v] = parent[v] < 0 ? 0 : by_label[parent[v]] + 1;
        depth[p] = by_label[v];
    }
    depth[n] = 0;
    free(by_label);
    return depth;
}

/* The reduced nodes a rank sends (myo_dist_solve_kept_nodes) for the even
 * split.  The kept nodes are path nodes, ancestors of position hi, and the
 * proxies are parents of hanging nodes, ancestors of position lo: at most
 * depth(lo) + depth(hi) <= 2 height, whatever P (O(log n) on a kary
 * hierarchy); on a chain exactly the top and bottom of each segment, only
 * the top on the last rank.  Checked for P = 1 .. 64; rank 0 prints them
 * for this run's P. */
static void test_dist_solve_reduced_sizes(void **state)
{
    (void)state;
    for (int which = 0; which < 4; which++) {
        myo_tree *t = NULL;
        const char *what = which == 0   ? "chain 1000"
                           : which == 1 ? "kary2 300"
                           : which == 2 ? "kary4 1000"
                                        : "kary2 65536";
        if (which == 0) assert_int_equal(myo_tree_create_chain(1000, &t), MYO_OK);
        if (which == 1) assert_int_equal(myo_tree_create_kary(300, 2, &t), MYO_OK);
        if (which == 2) assert_int_equal(myo_tree_create_kary(1000, 4, &t), MYO_OK);
        if (which == 3) assert_int_equal(myo_tree_create_kary(65536, 2, &t), MYO_OK);
        int64_t *depth = position_depths(t), height = myo_tree_height(t), off[64 + 1];
        /* every P up to 64 (the count is local), printed for this run's P */
        for (int P = 1; P <= 64; P++) {
            assert_int_equal(myo_dist_even_ranges(myo_tree_num_nodes(t), P, off), MYO_OK);
            char line[512];
            int len = snprintf(line, sizeof line, "reduced nodes per rank, %s, P = %d:", what, P);
            for (int r = 0; r < P; r++) {
                int64_t k = myo_dist_solve_kept_nodes(t, off[r], off[r + 1]);
                if (which == 0 && k != (P == 1 ? 0 : r == P - 1 ? 1 : 2))
                    fail_msg("%s, rank %d of %d: %lld reduced nodes, want %d", what, r, P,
                             (long long)k, P == 1 ? 0 : r == P - 1 ? 1 : 2);
                if (!(k >= 0 && k <= depth[off[r]] + depth[off[r + 1]] && k <= 2 * height))
                    fail_msg("%s, rank %d of %d: %lld reduced nodes, more than depth(lo) %lld + "
                             "depth(hi) %lld (height %lld)",
                             what, r, P, (long long)k, (long long)depth[off[r]],
                             (long long)depth[off[r + 1]], (long long)height);
                if (len < (int)sizeof line - 24)
                    len += snprintf(line + len, sizeof line - (size_t)len, " %lld", (long long)k);
            }
            if (my_rank == 0 && P == n_ranks) printf("%s\n", line);
        }
        free(depth);
        myo_tree_destroy(&t);
    }
}

/* ------------------------------------------------------------ plans */

#define HEADS 3
#define PLAN_M 2

/* Per-head coefficients (N, H) by label: general (dominant, signed) or
 * Laplacian weights in [0, 20). */
static void plan_coeffs(const myo_tree *t, int laplacian, uint64_t seed, double *diag, double *up,
                        double *down)
{
    int64_t n = myo_tree_num_nodes(t);
    double *d = malloc((size_t)n * 3 * sizeof(double));
    assert_non_null(d);
    for (int h = 0; h < HEADS; h++) {
        if (laplacian) {
            test_random_values(d, 2 * n, seed + (uint64_t)h);
            for (int64_t i = 0; i < n; i++)
                d[i] = 10 * (1 + d[i]), d[n + i] = 10 * (1 + d[n + i]);
        } else
            test_dominant_coeffs(myo_tree_parents(t), n, seed + (uint64_t)h, 1, d + 2 * n, d,
                                 d + n);
        for (int64_t i = 0; i < n; i++) {
            up[i * HEADS + h] = d[i], down[i * HEADS + h] = d[n + i];
            if (!laplacian) diag[i * HEADS + h] = d[2 * n + i];
        }
    }
    free(d);
}

/* This rank's rows [lo, hi) of a (N, w) label-ordered array, in position
 * order, converted to float when f32. */
static void *local_rows(const myo_tree *t, int64_t lo, int64_t hi, int64_t w, const double *g,
                        int f32)
{
    size_t es = f32 ? sizeof(float) : sizeof(double);
    char *out = malloc((size_t)((hi - lo) * w + 1) * es);
    assert_non_null(out);
    for (int64_t p = lo; p < hi; p++)
        for (int64_t c = 0; c < w; c++) {
            double v = g[myo_tree_preorder(t)[p] * w + c];
            if (f32)
                ((float *)(void *)out)[(p - lo) * w + c] = (float)v;
            else
                ((double *)(void *)out)[(p - lo) * w + c] = v;
        }
    return out;
}

/* Compare this rank's rows with the oracle's; returns ok. */
static int plan_compare(const myo_tree *t, int64_t lo, int64_t hi, const void *got,
                        const double *ref, int f32, const char *what)
{
    const int64_t w = HEADS * PLAN_M;
    double atol = f32 ? 1e-5 : ATOL, rtol = f32 ? 1e-4 : RTOL;
    int ok = 1;
    for (int64_t p = lo; p < hi; p++)
        for (int64_t c = 0; c < w; c++) {
            double r = ref[myo_tree_preorder(t)[p] * w + c];
            double v = f32 ? ((const float *)got)[(p - lo) * w + c]
                           : ((const double *)got)[(p - lo) * w + c];
            double e = fabs(v - r), sc = e / (atol + rtol * fabs(r));
            if (!(sc <= 1.0)) {
                if (ok)
                    fprintf(stderr, "rank %d: %s: position %lld channel %lld: %.17g vs %.17g\n",
                            my_rank, what, (long long)p, (long long)c, v, r);
                ok = 0;
            }
            if (!f32 && !(sc <= worst_scaled)) worst_scaled = sc;
            if (!f32 && !(e <= worst_abs)) worst_abs = e;
        }
    return ok;
}

/* One tree, one split: for both forms and both precisions, a refactor and
 * solve with op, then a solve with the other op on the same plan, against
 * the serial multi-head solver in double on the whole tree. */
static void check_plan(const myo_tree *t, const int64_t *off, uint64_t seed, const char *what)
{
    const int64_t n = myo_tree_num_nodes(t), w = HEADS * PLAN_M, lo = off[my_rank],
                  hi = off[my_rank + 1];
    double *diag = malloc((size_t)(n * HEADS) * sizeof(double));
    double *up = malloc((size_t)(n * HEADS) * sizeof(double));
    double *down = malloc((size_t)(n * HEADS) * sizeof(double));
    double *r = malloc((size_t)(n * w) * sizeof(double));
    double *ref = malloc((size_t)(n * w) * sizeof(double));
    assert_non_null(diag), assert_non_null(up), assert_non_null(down), assert_non_null(r);
    assert_non_null(ref);
    test_random_values(r, n * w, seed + 7);
    for (int form = 0; form < 2; form++) {
        plan_coeffs(t, form, seed + 100 * (uint64_t)form, diag, up, down);
        myo_factor *f = NULL;
        assert_int_equal(myo_factor_create_empty(t, HEADS, MYO_F64, &f), MYO_OK);
        for (int f32 = 0; f32 < 2; f32++)
            for (int op = 0; op < 2; op++) {
                myo_dist_plan *plan = NULL;
                myo_status st = myo_dist_plan_create(comm_all, t, lo, hi, HEADS,
                                                     f32 ? MYO_F32 : MYO_F64, &plan);
                test_assert_all_ranks(st == MYO_OK, comm_all, "plan create");
                void *cd = local_rows(t, lo, hi, HEADS, diag, f32);
                void *cu = local_rows(t, lo, hi, HEADS, up, f32);
                void *cw = local_rows(t, lo, hi, HEADS, down, f32);
                void *rows = local_rows(t, lo, hi, w, r, f32);
                void *rows2 = local_rows(t, lo, hi, w, r, f32);
                myo_op op2 = op ? MYO_OP_N : MYO_OP_T;
                long long rounds[2] = {0, 0}, sends[2] = {0, 0}, my_sends = 0;
                trace_begin();
                if (f32)
                    st = form ? myo_dist_refactor_laplacian_f32(comm_all, plan, cu, cw,
                                                                (myo_op)op, rows, PLAN_M)
                              : myo_dist_refactor_f32(comm_all, plan, cd, cu, cw, (myo_op)op,
                                                      rows, PLAN_M);
                else
                    st = form ? myo_dist_refactor_laplacian_f64(comm_all, plan, cu, cw,
                                                                (myo_op)op, rows, PLAN_M)
                              : myo_dist_refactor_f64(comm_all, plan, cd, cu, cw, (myo_op)op,
                                                      rows, PLAN_M);
                trace_end(&rounds[0], &sends[0]);
                my_sends += trace_sends;
                int ok = st == MYO_OK;
                if (ok) {
                    trace_begin();
                    st = f32 ? myo_dist_solve_f32(comm_all, plan, op2, rows2, PLAN_M)
                             : myo_dist_solve_f64(comm_all, plan, op2, rows2, PLAN_M);
                    trace_end(&rounds[1], &sends[1]);
                    my_sends += trace_sends;
                }
                if (st != MYO_OK) {
                    fprintf(stderr, "rank %d: %s: %s: %s\n", my_rank, what, myo_status_str(st),
                            myo_error_detail());
                    ok = 0;
                }
                for (int pass = 0; ok && pass < 2; pass++) {
                    myo_op o = pass ? op2 : (myo_op)op;
                    myo_status s2 = form ? myo_refactor_laplacian_f64(f, up, down, o, r, ref, PLAN_M)
                                         : myo_refactor_f64(f, diag, up, down, o, r, ref, PLAN_M);
                    assert_int_equal(s2, MYO_OK);
                    ok = plan_compare(t, lo, hi, pass ? rows2 : rows, ref, f32, what);
                }
                /* the rounds and messages sent, observed, and the plan's
                 * counters of them */
                if (ok && !(rounds_ok(rounds[0], sends[0], 1, what) &&
                            rounds_ok(rounds[1], sends[1], 1, what)))
                    ok = 0;
                myo_dist_stats stats;
                myo_dist_plan_stats(plan, &stats);
                if (stats.calls != 2 || stats.rounds != rounds[0] + rounds[1] ||
                    stats.messages != my_sends ||
                    stats.kept != myo_dist_solve_kept_nodes(t, lo, hi))
                    ok = 0;
                cases++;
                if (!ok && my_rank == 0)
                    fprintf(stderr,
                            "%s: form %d, f32 %d, op %d failed (counted: calls %lld, rounds %lld, "
                            "messages %lld, kept %lld; observed: rounds %lld + %lld)\n",
                            what, form, f32, op, (long long)stats.calls, (long long)stats.rounds,
                            (long long)stats.messages, (long long)stats.kept, rounds[0],
                            rounds[1]);
                test_assert_all_ranks(ok, comm_all, what);
                myo_dist_plan_destroy(&plan);
                free(cd), free(cu), free(cw), free(rows), free(rows2);
            }
        myo_factor_destroy(&f);
    }
    free(diag), free(up), free(down), free(r), free(ref);
}

/* Plans on every tree kind with even, random and leaf-range splits. */
static void test_dist_plan_heads_precisions_forms(void **state)
{
    (void)state;
    const int64_t n = 240;
    int64_t *parent = malloc((size_t)n * sizeof(int64_t));
    int64_t *off = malloc((size_t)(n_ranks + 1) * sizeof(int64_t));
    assert_non_null(parent), assert_non_null(off);
    for (int which = 0; which < 7; which++) {
        myo_tree *t = NULL;
        const char *what = "";
        if (which <= 2) {
            assert_int_equal(myo_tree_create_kary(which == 2 ? 50 : n, which + 2, &t), MYO_OK);
            what = which == 0 ? "plan kary2" : which == 1 ? "plan kary3" : "plan kary4";
        } else if (which == 3) {
            assert_int_equal(myo_tree_create_chain(n, &t), MYO_OK);
            what = "plan chain";
        } else if (which == 4) {
            test_random_recursive_parents(n, 31, parent);
            test_shuffle_labels(parent, n, 32, NULL);
            assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
            what = "plan random recursive tree";
        } else if (which == 5) {
            test_random_forest_parents(n, 5, 33, parent);
            assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
            what = "plan forest";
        } else {
            for (int64_t i = 0; i < n; i++)
                parent[i] = i == 3 ? -1 : 3;
            assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
            what = "plan star";
        }
        int64_t N = myo_tree_num_nodes(t);
        for (int split = 0; split < 3; split++) {
            if (split == 0) test_split(TEST_SPLIT_EVEN, N, n_ranks, 0, off);
            if (split == 1) test_split(TEST_SPLIT_RANDOM, N, n_ranks, 40 + which, off);
            if (split == 2) assert_int_equal(myo_dist_leaf_ranges(t, n_ranks, off, NULL), MYO_OK);
            check_plan(t, off, 1000 * (uint64_t)which + 10 * (uint64_t)split, what);
        }
        myo_tree_destroy(&t);
    }
    free(parent), free(off);
}

/* Errors agreed by every rank: a solve before any refactor, a NaN weight
 * on the last rank, m differing on the last rank. */
static void test_dist_plan_errors_everywhere(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_kary(100, 2, &t), MYO_OK);
    int64_t N = myo_tree_num_nodes(t), off[8 + 1];
    if (n_ranks > 8) skip();
    assert_int_equal(myo_dist_leaf_ranges(t, n_ranks, off, NULL), MYO_OK);
    int64_t lo = off[my_rank], hi = off[my_rank + 1], nl = hi - lo;
    myo_dist_plan *plan = NULL;
    assert_int_equal(myo_dist_plan_create(comm_all, t, lo, hi, 2, MYO_F32, &plan), MYO_OK);
    float *w = malloc((size_t)(2 * nl * 2 + 1) * sizeof(float));
    float *rows = calloc((size_t)(nl * 2 * 3 + 1), sizeof(float));
    assert_non_null(w), assert_non_null(rows);
    for (int64_t i = 0; i < 2 * nl * 2; i++)
        w[i] = 0.5f;
    myo_status st = myo_dist_solve_f32(comm_all, plan, MYO_OP_N, rows, 1);
    test_assert_all_ranks(st == MYO_ERR_ARG, comm_all, "solve before refactor");
    if (my_rank == n_ranks - 1 && nl > 0) w[2 * nl - 1] = NAN;
    st = myo_dist_refactor_laplacian_f32(comm_all, plan, w, w + 2 * nl, MYO_OP_N, rows, 1);
    int bad_rank_has_nodes = off[n_ranks] > off[n_ranks - 1];
    test_assert_all_ranks(st == (bad_rank_has_nodes ? MYO_ERR_DATA : MYO_OK), comm_all,
                          "NaN weight on the last rank");
    if (my_rank == n_ranks - 1 && nl > 0) w[2 * nl - 1] = 0.5f;
    int64_t m = my_rank == n_ranks - 1 ? 3 : 1;
    st = myo_dist_refactor_laplacian_f32(comm_all, plan, w, w + 2 * nl, MYO_OP_N, rows, m);
    test_assert_all_ranks(n_ranks == 1 ? st == MYO_OK : st == MYO_ERR_ARG, comm_all,
                          "m differing between ranks");
    (void)N;
    myo_dist_plan_destroy(&plan);
    free(w), free(rows);
    myo_tree_destroy(&t);
}

int main(int argc, char **argv)
{
    test_mpi_init(&argc, &argv, &comm_all, &my_rank, &n_ranks);
    double t0 = MPI_Wtime();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_solve_chains),
        cmocka_unit_test(test_dist_solve_kary),
        cmocka_unit_test(test_dist_solve_heaps_random_forests_star),
        cmocka_unit_test(test_dist_solve_singular_on_last_rank_fails_everywhere),
        cmocka_unit_test(test_dist_solve_bad_ranges_fail_everywhere),
        cmocka_unit_test(test_dist_solve_reduced_sizes),
        cmocka_unit_test(test_dist_plan_heads_precisions_forms),
        cmocka_unit_test(test_dist_plan_errors_everywhere),
    };
    int failed_anywhere = test_mpi_run_group("dist_solve", tests, comm_all);
    double w[2] = {worst_scaled, worst_abs}, wmax[2];
    MPI_Allreduce(w, wmax, 2, MPI_DOUBLE, MPI_MAX, comm_all);
    if (my_rank == 0)
        printf("dist_solve, P = %d: %ld solves, max |got - ref| = %.3g, max scaled error = %.3g "
               "(1 = tolerance), %.2f s\n",
               n_ranks, cases, wmax[1], wmax[0], MPI_Wtime() - t0);
    return test_mpi_finalize(&comm_all, failed_anywhere);
}
