/* test_dist_scan.c -- the selective scan split over MPI ranks
 * (myo_ssm_scan_dist_f32 and its double twin) and its backward
 * (myo_ssm_scan_dist_backward_*) against the serial scans and backwards on
 * the whole sequence, and errors agreed on by every rank.
 *
 * make check runs this program under mpiexec with 1, 2, 3 and 4 ranks
 * (tests/mpi/test_dist_scan.mpi).  Every rank generates the same global arrays
 * from a fixed seed and takes its slice.  A check never fails on one rank
 * alone: each rank computes its verdict, the ranks combine them with
 * MPI_Allreduce, and all fail together -- a rank that left a test early
 * would leave the others waiting in the next collective.  main returns
 * non-zero when any rank saw a failure.
 *
 * Tolerances, with every scaled error printed by rank 0 (max over ranks):
 *  - float against the double oracle, norm-scaled:
 *    |got - ref| <= TOL_F32 (max|ref| + |ref|);
 *  - float distributed against float serial: the same (the incoming states
 *    travel through composed maps, so they differ by rounding);
 *  - double distributed against the double oracle: TOL_F64 likewise. */
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

#define TOL_F32 2e-5
#define TOL_F64 1e-12

static MPI_Comm comm_all; /* a dup of MPI_COMM_WORLD: the library gets a comm, never WORLD */
static int my_rank, n_ranks;

/* The ways of cutting n steps into p contiguous segments: off (p + 1). */
enum { SPLIT_RANDOM, SPLIT_FIRST_EMPTY, SPLIT_ALL_ON_LAST, SPLITS };
static const test_split_kind split_kinds[SPLITS] = {TEST_SPLIT_RANDOM, TEST_SPLIT_FIRST_EMPTY,
                                                    TEST_SPLIT_ALL_ON_LAST};
static const char *const split_names[SPLITS] = {"random cuts", "rank 0 empty, rest even",
                                                "all on the last rank"};

/* One sequence's inputs, in double and rounded to float (both see exactly
 * the same values). */
typedef struct {
    int64_t n, ch, ns;
    double *u, *delta, *a, *b, *c, *dskip, *h0;
    float *uf, *deltaf, *af, *bf, *cf, *dskipf, *h0f;
} inputs;

static double *uniform(int64_t count, myo_rng *r, double lo, double hi, float **f)
{
    double *v = test_alloc((size_t)(count ? count : 1), sizeof(double));
    for (int64_t i = 0; i < count; i++)
        v[i] = myo_rng_uniform(r, lo, hi);
    *f = test_alloc((size_t)(count ? count : 1), sizeof(float));
    test_round_to_f32(v, *f, count);
    return v;
}

/* a in [-1.5, -0.01) with a[0][0] = 0 (a state that never decays), delta in
 * [0, 0.3): states carry across many steps and every segment boundary. */
static inputs make_inputs(int64_t n, int64_t ch, int64_t ns, uint64_t seed, int zero_h0)
{
    inputs in;
    memset(&in, 0, sizeof in);
    in.n = n, in.ch = ch, in.ns = ns;
    myo_rng r = myo_rng_seed(seed);
    in.u = uniform(n * ch, &r, -1, 1, &in.uf);
    in.delta = uniform(n * ch, &r, 0, 0.3, &in.deltaf);
    in.a = uniform(ch * ns, &r, -1.5, -0.01, &in.af);
    in.a[0] = 0, in.af[0] = 0;
    in.b = uniform(n * ns, &r, -1, 1, &in.bf);
    in.c = uniform(n * ns, &r, -1, 1, &in.cf);
    in.dskip = uniform(ch, &r, -1, 1, &in.dskipf);
    in.h0 = uniform(ch * ns, &r, zero_h0 ? 0 : -2, zero_h0 ? 0 : 2, &in.h0f);
    return in;
}

static void free_inputs(inputs *in)
{
    free(in->u), free(in->delta), free(in->a), free(in->b), free(in->c), free(in->dskip);
    free(in->h0), free(in->uf), free(in->deltaf), free(in->af), free(in->bf), free(in->cf);
    free(in->dskipf), free(in->h0f);
}

/* The largest |got - ref| / (tol (max|ref_all| + |ref|)) over count
 * values: <= 1 passes.  ref_all (count_all) sets the scale. */
static double scaled_err(const double *got, const double *ref, int64_t count, const double *ref_all,
                         int64_t count_all, double tol)
{
    double scale = fmax(tol * test_max_abs(ref_all, count_all), 1e-300);
    return count ? test_max_scaled_error(got, ref, count, scale, tol) : 0.0;
}

/* The worst scaled errors of every case run so far (max over ranks). */
typedef struct {
    double f32_vs_ref, f32_vs_serial, ref_vs_ref;
    int cases;
} worst;

/* Scan the sequence of in split by kind over comm, in float and double,
 * and compare on every rank: y's slice with the oracle's and the serial
 * float scan's, h with the state after this rank's last step (so the last
 * rank's h is the final state).  use_dskip = 0 passes d_skip = NULL. */
static void run_case(MPI_Comm comm, const inputs *in, int kind, uint64_t seed, int use_dskip,
                     worst *w)
{
    int rank, p;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &p);
    int64_t n = in->n, ch = in->ch, ns = in->ns, m = ch * ns;
    int64_t *off = test_alloc((size_t)p + 1, sizeof(int64_t));
    test_split(split_kinds[kind], n, p, seed, off);
    int64_t t0 = off[rank], nl = off[rank + 1] - off[rank];

    /* the oracles on the whole sequence, and the oracle's state after this
     * rank's last step */
    double *y_ref = test_alloc((size_t)(n * ch), sizeof(double));
    double *h_ref = test_alloc((size_t)m, sizeof(double));
    double *h_mine = test_alloc((size_t)m, sizeof(double));
    const double *dsk = use_dskip ? in->dskip : NULL;
    const float *dskf = use_dskip ? in->dskipf : NULL;
    memcpy(h_ref, in->h0, (size_t)m * sizeof(double));
    int ok = myo_ssm_scan_ref(n, ch, ns, in->u, in->delta, in->a, in->b, in->c, dsk, h_ref,
                              y_ref) == MYO_OK;
    double *scratch = test_alloc((size_t)(n * ch), sizeof(double));
    memcpy(h_mine, in->h0, (size_t)m * sizeof(double));
    if (t0 + nl > 0)
        ok &= myo_ssm_scan_ref(t0 + nl, ch, ns, in->u, in->delta, in->a, in->b, in->c, dsk, h_mine,
                               scratch) == MYO_OK;
    float *ys = test_alloc((size_t)(n * ch), sizeof(float));
    float *hs = test_alloc((size_t)m, sizeof(float));
    memcpy(hs, in->h0f, (size_t)m * sizeof(float));
    ok &= myo_ssm_scan_f32(n, ch, ns, in->uf, in->deltaf, in->af, in->bf, in->cf, dskf, hs, ys) ==
          MYO_OK;
    double *ys_d = test_alloc((size_t)(n * ch), sizeof(double));
    double *hs_d = test_alloc((size_t)m, sizeof(double));
    test_widen_to_f64(ys, ys_d, n * ch);
    test_widen_to_f64(hs, hs_d, m);

    /* distributed: rank 0's h is h0, the others' h is garbage on entry;
     * a rank without steps passes NULL for its step arrays */
    float *yf = test_alloc((size_t)(nl ? nl * ch : 1), sizeof(float));
    float *hf = test_alloc((size_t)m, sizeof(float));
    double *yd = test_alloc((size_t)(nl ? nl * ch : 1), sizeof(double));
    double *hd = test_alloc((size_t)m, sizeof(double));
    for (int64_t i = 0; i < m; i++) {
        hf[i] = rank == 0 ? in->h0f[i] : NAN;
        hd[i] = rank == 0 ? in->h0[i] : NAN;
    }
#define SLICE(arr, width) (nl ? (arr) + t0 * (width) : NULL)
    myo_status sf =
        myo_ssm_scan_dist_f32(comm, nl, ch, ns, SLICE(in->uf, ch), SLICE(in->deltaf, ch), in->af,
                              SLICE(in->bf, ns), SLICE(in->cf, ns), dskf, hf, nl ? yf : NULL);
    myo_status sd =
        myo_ssm_scan_dist_ref(comm, nl, ch, ns, SLICE(in->u, ch), SLICE(in->delta, ch), in->a,
                              SLICE(in->b, ns), SLICE(in->c, ns), dsk, hd, nl ? yd : NULL);
#undef SLICE
    if (sf != MYO_OK || sd != MYO_OK) {
        ok = 0;
        fprintf(stderr, "rank %d: myo_ssm_scan_dist: %s / %s: %s\n", rank, myo_status_str(sf),
                myo_status_str(sd), myo_error_detail());
    }
    double *yf_d = test_alloc((size_t)(nl ? nl * ch : 1), sizeof(double));
    double *hf_d = test_alloc((size_t)m, sizeof(double));
    test_widen_to_f64(yf, yf_d, nl * ch);
    test_widen_to_f64(hf, hf_d, m);
    double e[3];
    e[0] = fmax(scaled_err(yf_d, y_ref + t0 * ch, nl * ch, y_ref, n * ch, TOL_F32),
                scaled_err(hf_d, h_mine, m, h_ref, m, TOL_F32));
    e[1] = fmax(scaled_err(yf_d, ys_d + t0 * ch, nl * ch, ys_d, n * ch, TOL_F32),
                rank == p - 1 ? scaled_err(hf_d, hs_d, m, hs_d, m, TOL_F32) : 0.0);
    e[2] = fmax(scaled_err(yd, y_ref + t0 * ch, nl * ch, y_ref, n * ch, TOL_F64),
                scaled_err(hd, h_mine, m, h_ref, m, TOL_F64));
    if (!ok) e[0] = e[1] = e[2] = INFINITY;
    for (int i = 0; i < 3; i++)
        if (isnan(e[i])) e[i] = INFINITY; /* NaN would pass "<= 1" tests by omission */
    double g[3];
    MPI_Allreduce(e, g, 3, MPI_DOUBLE, MPI_MAX, comm);
    w->f32_vs_ref = fmax(w->f32_vs_ref, g[0]);
    w->f32_vs_serial = fmax(w->f32_vs_serial, g[1]);
    w->ref_vs_ref = fmax(w->ref_vs_ref, g[2]);
    w->cases++;
    if (!(g[0] <= 1 && g[1] <= 1 && g[2] <= 1))
        fail_msg("n = %lld, channels = %lld, d_state = %lld, %s over %d ranks%s: scaled errors "
                 "(<= 1 passes) f32 vs ref %.3g, f32 vs serial f32 %.3g, dist ref vs ref %.3g",
                 (long long)n, (long long)ch, (long long)ns, split_names[kind], p,
                 use_dskip ? "" : ", no d_skip", g[0], g[1], g[2]);
    free(off), free(y_ref), free(h_ref), free(h_mine), free(scratch), free(ys), free(hs);
    free(ys_d), free(hs_d), free(yf), free(hf), free(yd), free(hd), free(yf_d), free(hf_d);
}

static void report(const char *what, const worst *w, int p)
{
    if (my_rank == 0)
        print_message("%s, %d ranks, %d cases: max scaled error (<= 1 passes): f32 vs double "
                      "ref %.3g (tol %.0e), f32 vs serial f32 %.3g, dist ref vs ref %.3g "
                      "(tol %.0e)\n",
                      what, p, w->cases, w->f32_vs_ref, TOL_F32, w->f32_vs_serial, w->ref_vs_ref,
                      TOL_F64);
}

/* One distributed call checked against the serial scans, accumulating into w. */
typedef void (*case_runner)(MPI_Comm comm, const inputs *in, int kind, uint64_t seed, int use_dskip,
                            worst *w);

/* n in {1, 5, 37, 200} x channels {1, 8, 13} x d_state {1, 4, 16} x the
 * three splits; a nonzero h0 (and dh_final) except with everything on the
 * last rank, which runs with h0 = 0 and d_skip = NULL. */
static void sweep_every_split(case_runner run, uint64_t seed, const char *what)
{
    static const int64_t ns_[] = {1, 5, 37, 200}, chs[] = {1, 8, 13}, states[] = {1, 4, 16};
    worst w = {0};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++)
                for (int kind = 0; kind < SPLITS; kind++, seed++) {
                    int last = kind == SPLIT_ALL_ON_LAST;
                    inputs in = make_inputs(ns_[i], chs[j], states[k], seed, last);
                    run(comm_all, &in, kind, seed, !last, &w);
                    free_inputs(&in);
                }
    report(what, &w, n_ranks);
}

/* The segments follow the ranks of the comm passed, not MPI_COMM_WORLD's:
 * a comm whose rank order is the reverse of comm_all's. */
static void sweep_reversed_comm(case_runner run, uint64_t seed, const char *what)
{
    MPI_Comm rev = test_mpi_reversed(comm_all);
    worst w = {0};
    for (int kind = 0; kind < SPLITS; kind++) {
        inputs in = make_inputs(37, 8, 4, seed + (uint64_t)kind, 0);
        run(rev, &in, kind, seed, 1, &w);
        free_inputs(&in);
    }
    MPI_Comm_free(&rev);
    report(what, &w, n_ranks);
}

static void test_dist_scan_matches_serial_scans_for_every_split(void **state)
{
    (void)state;
    sweep_every_split(run_case, 1000, "dist scan vs serial");
}

static void test_dist_scan_follows_the_rank_order_of_its_comm(void **state)
{
    (void)state;
    sweep_reversed_comm(run_case, 77, "dist scan on a reversed comm");
}

/* One call in which rank `bad` gets a broken argument (what: 0 a > 0,
 * 1 delta < 0, 2 NULL b, 3 n_local < 0, 4 channels off by one): every rank
 * must return `want`, the failing rank's detail must name it, the others'
 * must name that rank, and rank 0's h (h0) must be unchanged. */
static void expect_agreed_error(int what, int bad, myo_status want, const char *label)
{
    enum { n = 20, ch = 3, ns = 2 };
    inputs in = make_inputs(n, ch, ns, 4242, 0);
    int64_t *off = test_alloc((size_t)n_ranks + 1, sizeof(int64_t));
    test_split(TEST_SPLIT_RANDOM, n, n_ranks, 9, off);
    int64_t t0 = off[my_rank], nl = off[my_rank + 1] - t0;
    int me = my_rank == bad;
    if (me && what == 1) nl = nl ? nl : 1; /* a delta to break */
    if (me && what == 2) nl = nl ? nl : 1;
    if (t0 + nl > n) t0 = n - nl;
    /* room for one extra channel: the rank told channels = ch + 1 reads that much */
    float *a = test_alloc((ch + 1) * ns, sizeof(float));
    float *delta = test_alloc((n + 1) * (ch + 1), sizeof(float));
    for (int i = 0; i < (ch + 1) * ns; i++)
        a[i] = i < ch * ns ? in.af[i] : -1.0f;
    memcpy(delta, in.deltaf, sizeof(float) * n * ch);
    if (me && what == 0) a[ch * ns - 1] = 0.5f;
    if (me && what == 1) delta[t0 * ch + ch - 1] = -0.25f;
    if (me && what == 4) nl = 0; /* its step arrays are the wrong shape */
    float h[(ch + 1) * ns], y[n * ch];
    for (int i = 0; i < ch * ns; i++)
        h[i] = in.h0f[i];
    myo_status s = myo_ssm_scan_dist_f32(
        comm_all, me && what == 3 ? -1 : nl, me && what == 4 ? ch + 1 : ch, ns, in.uf + t0 * ch,
        delta + t0 * ch, a, me && what == 2 ? NULL : in.bf + t0 * ns, in.cf + t0 * ns, in.dskipf, h,
        y);
    char name[32];
    snprintf(name, sizeof name, "rank %d", bad);
    int ok = s == want;
    if (what != 4) /* a size mismatch is seen by all, named by none */
        ok &= strstr(myo_error_detail(), name) != NULL;
    if (my_rank == 0) ok &= memcmp(h, in.h0f, sizeof(float) * ch * ns) == 0;
    if (!ok)
        fprintf(stderr, "rank %d: %s: got %s (want %s): %s\n", my_rank, label, myo_status_str(s),
                myo_status_str(want), myo_error_detail());
    free(a), free(delta), free(off);
    free_inputs(&in);
    test_assert_all_ranks(ok, comm_all, label);
}

static void test_dist_scan_bad_input_on_one_rank_fails_on_every_rank(void **state)
{
    (void)state;
    int last = n_ranks - 1, mid = n_ranks / 2;
    expect_agreed_error(0, last, MYO_ERR_DATA, "a > 0 on the last rank");
    expect_agreed_error(1, 0, MYO_ERR_DATA, "delta < 0 on rank 0");
    expect_agreed_error(2, mid, MYO_ERR_ARG, "NULL b on the middle rank");
    expect_agreed_error(3, last, MYO_ERR_ARG, "n_local < 0 on the last rank");
    if (n_ranks > 1) expect_agreed_error(4, last, MYO_ERR_ARG, "channels differ on the last rank");

    /* the comm still works, and its error handler is the caller's again */
    worst w = {0};
    inputs in = make_inputs(5, 2, 3, 5, 0);
    run_case(comm_all, &in, SPLIT_RANDOM, 5, 1, &w);
    free_inputs(&in);
    MPI_Errhandler eh;
    MPI_Comm_get_errhandler(comm_all, &eh);
    int ok = eh == MPI_ERRORS_ARE_FATAL;
    MPI_Errhandler_free(&eh);
    test_assert_all_ranks(ok, comm_all, "the caller's error handler is restored");

    /* MPI_COMM_NULL is refused locally, without communication */
    float h[1] = {0}, a[1] = {-1};
    assert_int_equal(
        myo_ssm_scan_dist_f32(MPI_COMM_NULL, 0, 1, 1, NULL, NULL, a, NULL, NULL, NULL, h, NULL),
        MYO_ERR_ARG);
}

/* ------------------------------------------------------------ backward */

/* The gradients of the scan of one sequence (myo_ssm_scan_backward_*),
 * whole or a slice of it: du, ddelta (n, ch); db, dc (n, ns); da (ch, ns);
 * dd_skip (ch); dh (ch, ns). */
enum { G_DU, G_DDELTA, G_DB, G_DC, G_DA, G_DDSKIP, G_DH, NGRAD };

typedef struct {
    double *g[NGRAD];
    float *f[NGRAD];
} grads;

static grads grads_alloc(int64_t n, int64_t ch, int64_t ns)
{
    int64_t cnt[NGRAD] = {n * ch, n * ch, n * ns, n * ns, ch * ns, ch, ch * ns};
    grads r;
    for (int i = 0; i < NGRAD; i++) {
        r.g[i] = test_alloc((size_t)(cnt[i] ? cnt[i] : 1), sizeof(double));
        r.f[i] = test_alloc((size_t)(cnt[i] ? cnt[i] : 1), sizeof(float));
    }
    return r;
}

static void grads_free(grads *r)
{
    for (int i = 0; i < NGRAD; i++)
        free(r->g[i]), free(r->f[i]);
}

/* The backward of the sequence of in split by kind over comm, in float and
 * double, from a nonzero dy and dh_final (h0 as in): every rank's slices
 * of du, ddelta, db, dc and its dh against the whole-sequence serial
 * backward in double and in float, and da, dd_skip (totals) on every
 * rank.  Ranks other than 0 pass h0 = NULL, ranks other than the last
 * dh_final = NULL, ranks without steps NULL step arrays. */
static void run_bwd_case(MPI_Comm comm, const inputs *in, int kind, uint64_t seed, int use_dskip,
                         worst *w)
{
    int rank, p;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &p);
    int64_t n = in->n, ch = in->ch, ns = in->ns, m = ch * ns;
    int64_t *off = test_alloc((size_t)p + 1, sizeof(int64_t));
    test_split(split_kinds[kind], n, p, seed, off);
    int64_t t0 = off[rank], nl = off[rank + 1] - off[rank];
    myo_rng r = myo_rng_seed(seed + 99);
    float *dyf, *dhff;
    double *dy = uniform(n * ch, &r, -1, 1, &dyf), *dhf = uniform(m, &r, -1, 1, &dhff);
    const double *dsk = use_dskip ? in->dskip : NULL;
    const float *dskf = use_dskip ? in->dskipf : NULL;

    /* serial, whole sequence: ref (g) and f32 (f); the adjoint entering
     * this rank's segment from the backward of the steps t0 .. n-1 */
    grads whole = grads_alloc(n, ch, ns), suffix = grads_alloc(n, ch, ns);
    int ok = myo_ssm_scan_backward_ref(n, ch, ns, in->u, in->delta, in->a, in->b, in->c, dsk,
                                       in->h0, dy, dhf, whole.g[0], whole.g[1], whole.g[4],
                                       whole.g[2], whole.g[3], whole.g[5], whole.g[6]) == MYO_OK;
    ok &= myo_ssm_scan_backward_f32(n, ch, ns, in->uf, in->deltaf, in->af, in->bf, in->cf, dskf,
                                    in->h0f, dyf, dhff, whole.f[0], whole.f[1], whole.f[4],
                                    whole.f[2], whole.f[3], whole.f[5], whole.f[6]) == MYO_OK;
    double *dh_mine = test_alloc((size_t)m, sizeof(double));
    if (t0 < n)
        ok &= myo_ssm_scan_backward_ref(n - t0, ch, ns, in->u + t0 * ch, in->delta + t0 * ch, in->a,
                                        in->b + t0 * ns, in->c + t0 * ns, dsk, in->h0, dy + t0 * ch,
                                        dhf, suffix.g[0], suffix.g[1], suffix.g[4], suffix.g[2],
                                        suffix.g[3], suffix.g[5], dh_mine) == MYO_OK;
    else
        memcpy(dh_mine, dhf, (size_t)m * sizeof(double));
    double *wf[NGRAD];
    int64_t cnt[NGRAD] = {n * ch, n * ch, n * ns, n * ns, m, ch, m};
    for (int i = 0; i < NGRAD; i++) {
        wf[i] = test_alloc((size_t)cnt[i], sizeof(double));
        test_widen_to_f64(whole.f[i], wf[i], cnt[i]);
    }

    grads d = grads_alloc(nl, ch, ns);
#define SLICE(arr, width) (nl ? (arr) + t0 * (width) : NULL)
#define OUT(arr) (nl ? (arr) : NULL)
    myo_status sf = myo_ssm_scan_dist_backward_f32(
        comm, nl, ch, ns, SLICE(in->uf, ch), SLICE(in->deltaf, ch), in->af, SLICE(in->bf, ns),
        SLICE(in->cf, ns), dskf, rank == 0 ? in->h0f : NULL, SLICE(dyf, ch),
        rank == p - 1 ? dhff : NULL, OUT(d.f[0]), OUT(d.f[1]), d.f[4], OUT(d.f[2]), OUT(d.f[3]),
        d.f[5], d.f[6]);
    myo_status sd = myo_ssm_scan_dist_backward_ref(
        comm, nl, ch, ns, SLICE(in->u, ch), SLICE(in->delta, ch), in->a, SLICE(in->b, ns),
        SLICE(in->c, ns), dsk, rank == 0 ? in->h0 : NULL, SLICE(dy, ch), rank == p - 1 ? dhf : NULL,
        OUT(d.g[0]), OUT(d.g[1]), d.g[4], OUT(d.g[2]), OUT(d.g[3]), d.g[5], d.g[6]);
#undef SLICE
#undef OUT
    if (sf != MYO_OK || sd != MYO_OK) {
        ok = 0;
        fprintf(stderr, "rank %d: myo_ssm_scan_dist_backward: %s / %s: %s\n", rank,
                myo_status_str(sf), myo_status_str(sd), myo_error_detail());
    }
    /* this rank's part of each whole-sequence array, and its length */
    int64_t first[NGRAD] = {t0 * ch, t0 * ch, t0 * ns, t0 * ns, 0, 0, 0};
    int64_t len[NGRAD] = {nl * ch, nl * ch, nl * ns, nl * ns, m, ch, m};
    double e[3] = {0, 0, 0};
    double *got = test_alloc((size_t)(n * (ch + ns) + m + ch), sizeof(double));
    for (int i = 0; i < NGRAD; i++) {
        const double *ref = i == G_DH ? dh_mine : whole.g[i] + first[i];
        const double *ref_all = i == G_DH ? dh_mine : whole.g[i];
        int64_t all = i == G_DH ? m : cnt[i];
        test_widen_to_f64(d.f[i], got, len[i]);
        e[0] = fmax(e[0], scaled_err(got, ref, len[i], ref_all, all, TOL_F32));
        if (i != G_DH || rank == 0) /* f32 serial gives dh0 only */
            e[1] = fmax(e[1], scaled_err(got, wf[i] + first[i], len[i], wf[i], cnt[i], TOL_F32));
        e[2] = fmax(e[2], scaled_err(d.g[i], ref, len[i], ref_all, all, TOL_F64));
    }
    if (!ok) e[0] = e[1] = e[2] = INFINITY;
    for (int i = 0; i < 3; i++)
        if (isnan(e[i])) e[i] = INFINITY;
    double g[3];
    MPI_Allreduce(e, g, 3, MPI_DOUBLE, MPI_MAX, comm);
    w->f32_vs_ref = fmax(w->f32_vs_ref, g[0]);
    w->f32_vs_serial = fmax(w->f32_vs_serial, g[1]);
    w->ref_vs_ref = fmax(w->ref_vs_ref, g[2]);
    w->cases++;
    if (!(g[0] <= 1 && g[1] <= 1 && g[2] <= 1))
        fail_msg("backward, n = %lld, channels = %lld, d_state = %lld, %s over %d ranks%s: "
                 "scaled errors (<= 1 passes) f32 vs ref %.3g, f32 vs serial f32 %.3g, dist ref "
                 "vs ref %.3g",
                 (long long)n, (long long)ch, (long long)ns, split_names[kind], p,
                 use_dskip ? "" : ", no d_skip", g[0], g[1], g[2]);
    grads_free(&whole), grads_free(&suffix), grads_free(&d);
    for (int i = 0; i < NGRAD; i++)
        free(wf[i]);
    free(off), free(dy), free(dyf), free(dhf), free(dhff), free(dh_mine), free(got);
}

/* Then on a comm with the ranks reversed. */
static void test_dist_scan_backward_matches_serial_backwards_for_every_split(void **state)
{
    (void)state;
    sweep_every_split(run_bwd_case, 5000, "dist scan backward vs serial");
    sweep_reversed_comm(run_bwd_case, 88, "dist scan backward on a reversed comm");
}

/* One backward call in which rank `bad` gets a broken argument (what: 0
 * a > 0, 1 delta < 0, 2 NULL dy, 3 NULL h0 on rank 0, 4 NULL dh_final on
 * the last rank): every rank must return want, and every rank's detail
 * must name the failing rank. */
static void expect_agreed_bwd_error(int what, int bad, myo_status want, const char *label)
{
    enum { n = 20, ch = 3, ns = 2 };
    inputs in = make_inputs(n, ch, ns, 4343, 0);
    int64_t *off = test_alloc((size_t)n_ranks + 1, sizeof(int64_t));
    test_split(TEST_SPLIT_RANDOM, n, n_ranks, 11, off);
    int64_t t0 = off[my_rank], nl = off[my_rank + 1] - t0;
    int me = my_rank == bad;
    if (me && (what == 1 || what == 2)) nl = nl ? nl : 1;
    if (t0 + nl > n) t0 = n - nl;
    float a[ch * ns], delta[n * ch], dy[n * ch], dhf[ch * ns];
    memcpy(a, in.af, sizeof a);
    memcpy(delta, in.deltaf, sizeof delta);
    for (int i = 0; i < n * ch; i++)
        dy[i] = 0.5f;
    for (int i = 0; i < ch * ns; i++)
        dhf[i] = 0.25f;
    if (me && what == 0) a[ch * ns - 1] = 0.5f;
    if (me && what == 1) delta[t0 * ch + ch - 1] = -0.25f;
    float du[n * ch], dd[n * ch], db[n * ns], dc[n * ns], da[ch * ns], dds[ch], dh[ch * ns];
    myo_status s = myo_ssm_scan_dist_backward_f32(
        comm_all, nl, ch, ns, in.uf + t0 * ch, delta + t0 * ch, a, in.bf + t0 * ns, in.cf + t0 * ns,
        in.dskipf, me && what == 3 ? NULL : in.h0f, me && what == 2 ? NULL : dy + t0 * ch,
        me && what == 4 ? NULL : dhf, du, dd, da, db, dc, dds, dh);
    char name[32];
    snprintf(name, sizeof name, "rank %d", bad);
    int ok = s == want && strstr(myo_error_detail(), name) != NULL;
    if (!ok)
        fprintf(stderr, "rank %d: %s: got %s (want %s): %s\n", my_rank, label, myo_status_str(s),
                myo_status_str(want), myo_error_detail());
    free(off);
    free_inputs(&in);
    test_assert_all_ranks(ok, comm_all, label);
}

static void test_dist_scan_backward_bad_input_on_one_rank_fails_on_every_rank(void **state)
{
    (void)state;
    int last = n_ranks - 1, mid = n_ranks / 2;
    expect_agreed_bwd_error(0, last, MYO_ERR_DATA, "backward: a > 0 on the last rank");
    expect_agreed_bwd_error(1, 0, MYO_ERR_DATA, "backward: delta < 0 on rank 0");
    expect_agreed_bwd_error(2, mid, MYO_ERR_ARG, "backward: NULL dy on the middle rank");
    expect_agreed_bwd_error(3, 0, MYO_ERR_ARG, "backward: NULL h0 on rank 0");
    expect_agreed_bwd_error(4, last, MYO_ERR_ARG, "backward: NULL dh_final on the last rank");
    /* and the comm still works */
    worst w = {0};
    inputs in = make_inputs(5, 2, 3, 5, 0);
    run_bwd_case(comm_all, &in, SPLIT_RANDOM, 5, 1, &w);
    free_inputs(&in);
}

int main(int argc, char **argv)
{
    test_mpi_init(&argc, &argv, &comm_all, &my_rank, &n_ranks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_scan_matches_serial_scans_for_every_split),
        cmocka_unit_test(test_dist_scan_follows_the_rank_order_of_its_comm),
        cmocka_unit_test(test_dist_scan_bad_input_on_one_rank_fails_on_every_rank),
        cmocka_unit_test(test_dist_scan_backward_matches_serial_backwards_for_every_split),
        cmocka_unit_test(test_dist_scan_backward_bad_input_on_one_rank_fails_on_every_rank),
    };
    int failed_anywhere = test_mpi_run_group("dist_scan", tests, comm_all);
    return test_mpi_finalize(&comm_all, failed_anywhere);
}
