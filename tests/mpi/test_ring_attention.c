/* test_ring_attention.c -- ring attention over MPI ranks
 * (myo_attention_ring_forward_f32 / _backward_f32) against the serial tiled
 * attention (myo_attention_forward_f32 / _backward_f32) and the double
 * oracle (myo_attention_forward_ref / _backward_ref) on the whole
 * sequence, and errors agreed on by every rank.
 *
 * make check runs this program under mpiexec with 1, 2, 3 and 4 ranks
 * (tests/mpi/test_ring_attention.mpi).  Every rank generates the same global
 * X, weights and dY from a fixed seed and takes its rows.  A check never
 * fails on one rank alone: the ranks combine their verdicts with
 * MPI_Allreduce and all fail together.  main returns non-zero when any
 * rank saw a failure.
 *
 * Tolerance, norm-scaled per output array (Y, dX, each weight gradient):
 * |got - ref| <= TOL_F32 (max|ref| + |ref|), against the float serial
 * result and against the double oracle, with an absolute floor of 1e-6
 * (for gradients that vanish exactly); rank 0 prints the worst scaled
 * errors (max over ranks and cases). */
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

#define TOL_F32 1e-4

static MPI_Comm comm_all; /* a dup of MPI_COMM_WORLD: the library gets a comm, never WORLD */
static int my_rank, n_ranks;

/* The ways of cutting n rows into p contiguous blocks: off (p + 1). */
enum { SPLIT_EVEN, SPLIT_RANDOM, SPLIT_ALL_ON_LAST, SPLITS };
static const test_split_kind split_kinds[SPLITS] = {TEST_SPLIT_EVEN, TEST_SPLIT_RANDOM,
                                                    TEST_SPLIT_ALL_ON_LAST};
static const char *const split_names[SPLITS] = {"even", "random cuts (empty blocks too)",
                                                "all on the last rank"};

/* A problem: X, dY (n, D) and the four weights (D, D), in double and
 * rounded to float (both see the same values). */
typedef struct {
    int64_t n, D;
    double *x, *dy, *w[4];
    float *xf, *dyf, *wf[4];
} problem;

static double *uniform(int64_t count, myo_rng *r, double lo, double hi, float **f)
{
    double *v = test_alloc((size_t)count, sizeof(double));
    for (int64_t i = 0; i < count; i++)
        v[i] = myo_rng_uniform(r, lo, hi);
    *f = test_alloc((size_t)count, sizeof(float));
    test_round_to_f32(v, *f, count);
    return v;
}

static problem make_problem(int64_t n, int64_t D, uint64_t seed)
{
    problem pb = {.n = n, .D = D};
    myo_rng r = myo_rng_seed(seed);
    double ws = 1.5 / sqrt((double)D); /* scores of order 1: a softmax far from uniform */
    pb.x = uniform(n * D, &r, -1, 1, &pb.xf);
    for (int i = 0; i < 4; i++)
        pb.w[i] = uniform(D * D, &r, -ws, ws, &pb.wf[i]);
    pb.dy = uniform(n * D, &r, -1, 1, &pb.dyf);
    return pb;
}

static void free_problem(problem *pb)
{
    free(pb->x), free(pb->dy), free(pb->xf), free(pb->dyf);
    for (int i = 0; i < 4; i++)
        free(pb->w[i]), free(pb->wf[i]);
}

/* Outputs: Y, dX (n, D) and the weight gradients (D, D). */
enum { O_Y, O_DX, O_GQ, O_GK, O_GV, O_GO, NOUT };

/* The largest |got - ref| / (tol (max|ref_all| + |ref|)) over count
 * values of float got: <= 1 passes.  ref_all (count_all) sets the scale. */
static double scaled_err(const float *got, const double *ref, int64_t count, const double *ref_all,
                         int64_t count_all)
{
    if (count == 0) return 0.0;
    double *g = test_alloc((size_t)count, sizeof(double));
    test_widen_to_f64(got, g, count);
    /* the floor: with n = 1 the softmax is constant, dWq = dWk = 0 exactly in
     * the oracle and rounding-sized in float */
    double scale = fmax(TOL_F32 * test_max_abs(ref_all, count_all), 1e-6);
    double e = test_max_scaled_error(g, ref, count, scale, TOL_F32);
    free(g);
    return isnan(e) ? INFINITY : e;
}

typedef struct {
    double vs_serial, vs_ref;
    int cases;
} worst;

/* One case: the ring on comm against serial and oracle. */
static void run_case(MPI_Comm comm, int64_t n, int64_t D, int64_t H, int causal, int64_t tile,
                     int kind, uint64_t seed, worst *wst)
{
    int rank, p;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &p);
    problem pb = make_problem(n, D, seed);
    myo_attention_config cfg = {
        .d_model = D, .heads = H, .causal = causal, .tile_q = tile, .tile_k = tile};
    int64_t nD = n * D, DD = D * D;

    /* serial float, tiled, on the whole sequence */
    float *ys = test_alloc((size_t)nD, sizeof(float)), *dxs = test_alloc((size_t)nD, sizeof(float));
    float *gs = test_alloc((size_t)(4 * DD), sizeof(float));
    myo_attention_work *sw = NULL;
    myo_qkvo_weights_f32 wf = {pb.wf[0], pb.wf[1], pb.wf[2], pb.wf[3]};
    myo_qkvo_grads_f32 gsf = {gs, gs + DD, gs + 2 * DD, gs + 3 * DD};
    int ok = myo_attention_work_create(&cfg, MYO_ATTN_TILED, n, 1, &sw) == MYO_OK &&
             myo_attention_forward_f32(sw, &wf, pb.xf, ys) == MYO_OK &&
             myo_attention_backward_f32(sw, &wf, pb.dyf, dxs, &gsf) == MYO_OK;
    myo_attention_work_destroy(&sw);

    /* double oracle */
    double *yr = test_alloc((size_t)nD, sizeof(double)),
           *dxr = test_alloc((size_t)nD, sizeof(double));
    double *gr = test_alloc((size_t)(4 * DD), sizeof(double));
    myo_qkvo_weights_f64 wd = {pb.w[0], pb.w[1], pb.w[2], pb.w[3]};
    myo_qkvo_grads_f64 grd = {gr, gr + DD, gr + 2 * DD, gr + 3 * DD};
    ok = ok && myo_attention_forward_ref(&cfg, n, 1, &wd, pb.x, yr) == MYO_OK &&
         myo_attention_backward_ref(&cfg, n, 1, &wd, pb.x, pb.dy, dxr, &grd) == MYO_OK;

    /* the ring, this rank's rows */
    int64_t *off = test_alloc((size_t)p + 1, sizeof(int64_t));
    test_split(split_kinds[kind], n, p, seed, off);
    int64_t r0 = off[rank], nl = off[rank + 1] - r0;
    float *y = test_alloc((size_t)(nl ? nl * D : 1), sizeof(float));
    float *dx = test_alloc((size_t)(nl ? nl * D : 1), sizeof(float));
    float *g = test_alloc((size_t)(4 * DD), sizeof(float));
    myo_qkvo_grads_f32 gf = {g, g + DD, g + 2 * DD, g + 3 * DD};
    myo_attention_ring_work *rw = NULL;
    myo_status sc = myo_attention_ring_work_create(&cfg, nl, &rw);
    myo_status sf = myo_attention_ring_forward_f32(comm, rw, &wf, pb.xf + r0 * D, y);
    myo_status sb = myo_attention_ring_backward_f32(comm, rw, &wf, pb.dyf + r0 * D, dx, &gf);
    myo_attention_ring_work_destroy(&rw);
    if (sc != MYO_OK || sf != MYO_OK || sb != MYO_OK) {
        ok = 0;
        fprintf(stderr, "rank %d: ring attention: %s / %s / %s: %s\n", rank, myo_status_str(sc),
                myo_status_str(sf), myo_status_str(sb), myo_error_detail());
    }

    const float *got[NOUT] = {y, dx, g, g + DD, g + 2 * DD, g + 3 * DD};
    const float *ser[NOUT] = {ys, dxs, gs, gs + DD, gs + 2 * DD, gs + 3 * DD};
    const double *ref[NOUT] = {yr, dxr, gr, gr + DD, gr + 2 * DD, gr + 3 * DD};
    double e[2] = {0, 0};
    for (int i = 0; i < NOUT; i++) {
        int rows = i == O_Y || i == O_DX;
        int64_t first = rows ? r0 * D : 0, len = rows ? nl * D : DD, all = rows ? nD : DD;
        double *sd = test_alloc((size_t)all, sizeof(double));
        test_widen_to_f64(ser[i], sd, all);
        e[0] = fmax(e[0], scaled_err(got[i], sd + first, len, sd, all));
        e[1] = fmax(e[1], scaled_err(got[i], ref[i] + first, len, ref[i], all));
        free(sd);
    }
    if (!ok) e[0] = e[1] = INFINITY;
    double ge[2];
    MPI_Allreduce(e, ge, 2, MPI_DOUBLE, MPI_MAX, comm);
    wst->vs_serial = fmax(wst->vs_serial, ge[0]);
    wst->vs_ref = fmax(wst->vs_ref, ge[1]);
    wst->cases++;
    if (!(ge[0] <= 1 && ge[1] <= 1))
        fail_msg("n = %lld, D = %lld, H = %lld, causal %d, tile %lld, %s over %d ranks: scaled "
                 "errors (<= 1 passes) vs serial f32 %.3g, vs double ref %.3g",
                 (long long)n, (long long)D, (long long)H, causal, (long long)tile,
                 split_names[kind], p, ge[0], ge[1]);
    free(ys), free(dxs), free(gs), free(yr), free(dxr), free(gr);
    free(off), free(y), free(dx), free(g);
    free_problem(&pb);
}

static void report(const char *what, const worst *w, int p, double secs)
{
    if (my_rank == 0)
        print_message("%s, %d ranks, %d cases, %.2f s: max scaled error (<= 1 passes, tol "
                      "%.0e): vs serial tiled f32 %.3g, vs double ref %.3g\n",
                      what, p, w->cases, secs, TOL_F32, w->vs_serial, w->vs_ref);
}

/* n in {1 per rank, 7, 100} x D {8, 16} x H {1, 2} x the splits, tiles of
 * 3 rows (several tiles per block) and the defaults. */
static void run_grid(int causal, const char *what)
{
    worst w = {0};
    double t0 = MPI_Wtime();
    uint64_t seed = causal ? 9000 : 7000;
    const int64_t ns[] = {n_ranks, 7, 100}, Ds[] = {8, 16}, Hs[] = {1, 2}, tiles[] = {3, 0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++)
                for (int t = 0; t < 2; t++)
                    for (int kind = 0; kind < SPLITS; kind++, seed++)
                        run_case(comm_all, ns[i], Ds[j], Hs[k], causal, tiles[t], kind, seed, &w);
    report(what, &w, n_ranks, MPI_Wtime() - t0);
}

static void test_ring_attention_matches_serial_for_every_split(void **state)
{
    (void)state;
    run_grid(0, "ring attention vs serial");
}

static void test_ring_attention_causal_matches_serial_for_every_split(void **state)
{
    (void)state;
    run_grid(1, "causal ring attention vs serial");
}

/* On a comm with the ranks in reverse order: the ring follows comm's
 * ranks, not MPI_COMM_WORLD's. */
static void test_ring_attention_follows_the_rank_order_of_its_comm(void **state)
{
    (void)state;
    MPI_Comm rev = test_mpi_reversed(comm_all);
    worst w = {0};
    double t0 = MPI_Wtime();
    for (int kind = 0; kind < SPLITS; kind++)
        run_case(rev, 37, 16, 2, kind == SPLIT_RANDOM, 4, kind, 123 + (uint64_t)kind, &w);
    MPI_Comm_free(&rev);
    report("ring attention on a reversed comm", &w, n_ranks, MPI_Wtime() - t0);
}

/* One forward (what 0: NULL x, 3: NULL workspace) or
 * backward (2: NULL dy, 4: no forward before) call in which rank `bad`
 * gets a broken argument: every rank must return want, without hanging,
 * and every rank's detail must name the failing rank. */
static void expect_agreed_error(int what, int bad, myo_status want, const char *label)
{
    enum { n = 20, D = 8 };
    problem pb = make_problem(n, D, 4242);
    int64_t *off = test_alloc((size_t)n_ranks + 1, sizeof(int64_t));
    test_split(TEST_SPLIT_EVEN, n, n_ranks, 0, off);
    int64_t r0 = off[my_rank], nl = off[my_rank + 1] - r0;
    int me = my_rank == bad;
    myo_attention_config cfg = {.d_model = D, .heads = 2};
    myo_attention_ring_work *rw = NULL;
    int ok = myo_attention_ring_work_create(&cfg, nl, &rw) == MYO_OK;
    if (me && what == 3) myo_attention_ring_work_destroy(&rw);
    myo_qkvo_weights_f32 wf = {pb.wf[0], pb.wf[1], pb.wf[2], pb.wf[3]};
    float y[n * D], dx[n * D], g[4 * D * D];
    myo_qkvo_grads_f32 gf = {g, g + D * D, g + 2 * D * D, g + 3 * D * D};
    myo_status s;
    if (what == 0 || what == 1 || what == 3) {
        s = myo_attention_ring_forward_f32(comm_all, rw, &wf,
                                           me && what == 0 ? NULL : pb.xf + r0 * D, y);
    } else {
        ok = ok && myo_attention_ring_forward_f32(comm_all, rw, &wf, pb.xf + r0 * D, y) == MYO_OK;
        if (me && what == 4) { /* a fresh workspace: no forward with it */
            myo_attention_ring_work_destroy(&rw);
            ok = ok && myo_attention_ring_work_create(&cfg, nl, &rw) == MYO_OK;
        }
        s = myo_attention_ring_backward_f32(comm_all, rw, &wf,
                                            me && what == 2 ? NULL : pb.dyf + r0 * D, dx, &gf);
    }
    myo_attention_ring_work_destroy(&rw);
    char name[32];
    snprintf(name, sizeof name, "rank %d", bad);
    ok = ok && s == want && strstr(myo_error_detail(), name) != NULL;
    if (!ok)
        fprintf(stderr, "rank %d: %s: got %s (want %s): %s\n", my_rank, label, myo_status_str(s),
                myo_status_str(want), myo_error_detail());
    free(off);
    free_problem(&pb);
    test_assert_all_ranks(ok, comm_all, label);
}

static void test_ring_attention_bad_input_on_one_rank_fails_on_every_rank(void **state)
{
    (void)state;
    int last = n_ranks - 1, mid = n_ranks / 2;
    expect_agreed_error(0, last, MYO_ERR_ARG, "forward: NULL x on the last rank");
    expect_agreed_error(3, 0, MYO_ERR_ARG, "forward: NULL workspace on rank 0");
    expect_agreed_error(2, mid, MYO_ERR_ARG, "backward: NULL dy on the middle rank");
    expect_agreed_error(4, last, MYO_ERR_ARG, "backward: no forward before on the last rank");
    if (n_ranks > 1) {
        /* the ranks disagree on heads: every rank fails, the detail names no rank */
        enum { n = 8, D = 8 };
        myo_attention_config cfg = {.d_model = D, .heads = my_rank == last ? 4 : 2};
        myo_attention_ring_work *rw = NULL;
        problem pb = make_problem(n, D, 1);
        myo_qkvo_weights_f32 wf = {pb.wf[0], pb.wf[1], pb.wf[2], pb.wf[3]};
        float y[n * D];
        int ok = myo_attention_ring_work_create(&cfg, my_rank == 0 ? n : 0, &rw) == MYO_OK;
        myo_status s = myo_attention_ring_forward_f32(comm_all, rw, &wf, pb.xf, y);
        ok = ok && s == MYO_ERR_ARG && strstr(myo_error_detail(), "differ") != NULL;
        myo_attention_ring_work_destroy(&rw);
        free_problem(&pb);
        test_assert_all_ranks(ok, comm_all, "forward: heads differ between ranks");
    }
    /* and the comm still works */
    worst w = {0};
    run_case(comm_all, 9, 8, 2, 0, 2, SPLIT_RANDOM, 5, &w);
}

int main(int argc, char **argv)
{
    test_mpi_init(&argc, &argv, &comm_all, &my_rank, &n_ranks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_attention_matches_serial_for_every_split),
        cmocka_unit_test(test_ring_attention_causal_matches_serial_for_every_split),
        cmocka_unit_test(test_ring_attention_follows_the_rank_order_of_its_comm),
        cmocka_unit_test(test_ring_attention_bad_input_on_one_rank_fails_on_every_rank),
    };
    int failed_anywhere = test_mpi_run_group("ring_attention", tests, comm_all);
    return test_mpi_finalize(&comm_all, failed_anywhere);
}
