/* test_dist_layer.c -- the distributed Myosotis layer: sequence parallel
 * (myo_layer_dist_forward_f32 / _backward_f32) and data parallel
 * (myo_layer_dp_forward_f32 / _backward_f32) against the serial float
 * layer (myo_layer_forward_f32 / _backward_f32) on the whole sequence or
 * batch, and errors agreed on by every rank.
 *
 * make check runs this program under mpiexec with 1, 2, 3 and 4 ranks
 * (tests/mpi/test_dist_layer.mpi).  Every rank builds the same tree, inputs
 * and weights from fixed seeds, computes the serial result itself and
 * compares its own rows (sequence parallel: its token rows, in position
 * order; data parallel: its sequences) and the weight gradients (totals,
 * on every rank).  A check never fails on one rank alone: the ranks
 * combine their verdicts first.
 *
 * Tolerance, per output array (Y, dX, dWq, dWk, dWv, dWo), against the
 * serial float layer (the same inputs; only the order of float sums
 * differs): |got - ref| <= ATOL max(1, max|ref|) + RTOL |ref|, ATOL 1e-5,
 * RTOL 1e-4 (the serial test's float tolerances, the absolute part scaled
 * by the array's size for gradients that are sums over ~100 rows).  Rank 0
 * prints the worst error (max over ranks and cases) of each test. */
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

#define RTOL 1e-4
#define ATOL 1e-5

static MPI_Comm comm_all;
static int my_rank, n_ranks;

/* ----------------------------------------------------------- fixtures */

typedef enum { KARY2, KARY3, CHAIN, RANDOM, N_TREES } tree_kind;
static const char *const tree_names[] = {"kary2", "kary3", "chain", "random-shuffled"};

static myo_tree *make_tree(tree_kind kind, int64_t n, uint64_t seed)
{
    myo_tree *t = NULL;
    if (kind == KARY2 || kind == KARY3) {
        assert_int_equal(myo_tree_create_kary(n, kind == KARY2 ? 2 : 3, &t), MYO_OK);
    } else if (kind == CHAIN) {
        assert_int_equal(myo_tree_create_chain(n, &t), MYO_OK);
    } else {
        int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
        test_random_recursive_parents(n, seed, parent);
        test_shuffle_labels(parent, n, seed + 1, NULL);
        assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
        free(parent);
    }
    return t;
}

/* x, dy (count) and four weights (D, D) in [-1, 1) / sqrt(D), float. */
typedef struct {
    int64_t D;
    float *x, *dy, *w[4];
} inputs;

static float *random_f32(int64_t count, uint64_t seed, double scale)
{
    double *v = test_alloc((size_t)count, sizeof(double));
    float *f = test_alloc((size_t)count, sizeof(float));
    test_random_values(v, count, seed);
    for (int64_t i = 0; i < count; i++)
        v[i] *= scale;
    test_round_to_f32(v, f, count);
    free(v);
    return f;
}

static inputs make_inputs(int64_t rows, int64_t D, uint64_t seed)
{
    inputs in = {.D = D};
    in.x = random_f32(rows * D, seed, 1.0);
    in.dy = random_f32(rows * D, seed + 1, 1.0);
    for (int j = 0; j < 4; j++)
        in.w[j] = random_f32(D * D, seed + 2 + (uint64_t)j, 1.0 / sqrt((double)D));
    return in;
}

static void free_inputs(inputs *in)
{
    free(in->x), free(in->dy);
    for (int j = 0; j < 4; j++)
        free(in->w[j]);
}

/* The serial layer on batch sequences of t: y, dx (batch, n, D), g (4 D D). */
static int serial(const myo_tree *t, const myo_layer_config *cfg, const inputs *in, int64_t batch,
                  float *y, float *dx, float *g)
{
    const int64_t DD = cfg->d_model * cfg->d_model;
    myo_layer_work *ws = NULL;
    myo_qkvo_weights_f32 wf = {in->w[0], in->w[1], in->w[2], in->w[3]};
    myo_qkvo_grads_f32 gf = {g, g + DD, g + 2 * DD, g + 3 * DD};
    int ok = myo_layer_work_create(t, cfg, batch, &ws) == MYO_OK &&
             myo_layer_forward_f32(ws, &wf, batch, in->x, y) == MYO_OK &&
             myo_layer_backward_f32(ws, &wf, batch, in->dy, dx, &gf) == MYO_OK;
    myo_layer_work_destroy(&ws);
    return ok;
}

/* max |got - ref| / (ATOL max(1, max|ref_all|) + RTOL |ref|) over count
 * values (<= 1 passes); ref_all (count_all) sets the scale. */
static double scaled_err(const float *got, const float *ref, int64_t count, const float *ref_all,
                         int64_t count_all)
{
    double big = 1.0;
    for (int64_t i = 0; i < count_all; i++)
        big = fmax(big, fabs((double)ref_all[i]));
    double e = 0;
    for (int64_t i = 0; i < count; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double s = d / (ATOL * big + RTOL * fabs((double)ref[i]));
        if (!(s <= e)) e = isnan(s) ? INFINITY : s;
    }
    return e;
}

typedef struct {
    double err;
    int cases;
} worst;

/* ------------------------------------------------------ sequence parallel */

typedef enum { SPLIT_LEAF, SPLIT_EVEN, SPLIT_WORK, SPLIT_RANDOM, N_SPLITS } split_kind;
static const char *const split_names[] = {"leaf ranges", "even ranges", "work ranges",
                                          "random cuts (empty ranges too)"};

/* One case: the distributed layer over comm against the serial one. */
static void run_case(MPI_Comm comm, tree_kind kind, int64_t n, myo_layer_direction dir,
                     split_kind split, uint64_t seed, worst *wst)
{
    int rank, p;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &p);
    const int64_t D = 8, H = 2, DD = D * D;
    myo_layer_config cfg = {.d_model = D, .heads = H, .direction = dir};
    myo_tree *t = make_tree(kind, n, seed);
    const int64_t N = myo_tree_num_nodes(t), nt = myo_tree_num_tokens(t);
    const int64_t *order = myo_tree_preorder(t);
    inputs in = make_inputs(nt, D, seed + 10);

    float *ys = test_alloc((size_t)(nt * D), sizeof(float));
    float *dxs = test_alloc((size_t)(nt * D), sizeof(float));
    float *gs = test_alloc((size_t)(4 * DD), sizeof(float));
    int ok = serial(t, &cfg, &in, 1, ys, dxs, gs);

    int64_t *off = test_alloc((size_t)p + 1, sizeof(int64_t));
    myo_status so = MYO_OK;
    if (split == SPLIT_LEAF)
        so = myo_dist_leaf_ranges(t, p, off, NULL);
    else if (split == SPLIT_EVEN)
        so = myo_dist_even_ranges(N, p, off);
    else if (split == SPLIT_WORK)
        so = myo_dist_work_ranges(t, p, NULL, off, NULL);
    else
        test_split(TEST_SPLIT_RANDOM, N, p, seed + 20, off);
    ok = ok && so == MYO_OK;
    const int64_t lo = off[rank], hi = off[rank + 1];

    /* this rank's token rows, in position order, and their labels */
    int64_t ntl = 0;
    int64_t *lab = test_alloc((size_t)(hi - lo + 1), sizeof(int64_t));
    for (int64_t pos = lo; pos < hi; pos++)
        if (order[pos] < nt) lab[ntl++] = order[pos];
    float *x = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    float *dy = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    float *yref = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    float *dxref = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    for (int64_t k = 0; k < ntl; k++) {
        memcpy(x + k * D, in.x + lab[k] * D, (size_t)D * sizeof(float));
        memcpy(dy + k * D, in.dy + lab[k] * D, (size_t)D * sizeof(float));
        memcpy(yref + k * D, ys + lab[k] * D, (size_t)D * sizeof(float));
        memcpy(dxref + k * D, dxs + lab[k] * D, (size_t)D * sizeof(float));
    }

    float *y = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    float *dx = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    float *g = test_alloc((size_t)(4 * DD), sizeof(float));
    myo_qkvo_weights_f32 wf = {in.w[0], in.w[1], in.w[2], in.w[3]};
    myo_qkvo_grads_f32 gf = {g, g + DD, g + 2 * DD, g + 3 * DD};
    myo_layer_dist_work *w = NULL;
    myo_status sc = myo_layer_dist_work_create(comm, t, &cfg, lo, hi, &w);
    myo_status sf = sc, sb = sc;
    if (sc == MYO_OK) {
        if (myo_layer_dist_local_tokens(w) != ntl || !myo_layer_dist_plan(w)) ok = 0;
        sf = myo_layer_dist_forward_f32(comm, w, &wf, x, y);
        sb = sf == MYO_OK ? myo_layer_dist_backward_f32(comm, w, &wf, dy, dx, &gf) : sf;
    }
    myo_layer_dist_work_destroy(&w);
    if (sc != MYO_OK || sf != MYO_OK || sb != MYO_OK) {
        ok = 0;
        fprintf(stderr, "rank %d: dist layer: %s / %s / %s: %s\n", rank, myo_status_str(sc),
                myo_status_str(sf), myo_status_str(sb), myo_error_detail());
    }

    double e[6] = {scaled_err(y, yref, ntl * D, ys, nt * D),
                   scaled_err(dx, dxref, ntl * D, dxs, nt * D)};
    for (int i = 0; i < 4; i++)
        e[2 + i] = scaled_err(g + i * DD, gs + i * DD, DD, gs + i * DD, DD);
    double mine = ok ? 0 : INFINITY;
    for (int i = 0; i < 6; i++)
        mine = fmax(mine, e[i]);
    double ge[7], em[7];
    for (int i = 0; i < 6; i++)
        em[i] = e[i];
    em[6] = mine;
    MPI_Allreduce(em, ge, 7, MPI_DOUBLE, MPI_MAX, comm);
    wst->err = fmax(wst->err, ge[6]);
    wst->cases++;
    if (!(ge[6] <= 1))
        fail_msg("%s n = %lld (N = %lld), direction %d, %s over %d ranks: scaled errors (<= 1 "
                 "passes) y %.3g, dx %.3g, dWq %.3g, dWk %.3g, dWv %.3g, dWo %.3g",
                 tree_names[kind], (long long)n, (long long)N, (int)dir, split_names[split], p,
                 ge[0], ge[1], ge[2], ge[3], ge[4], ge[5]);
    free(ys), free(dxs), free(gs), free(off), free(lab), free(x), free(dy), free(yref);
    free(dxref), free(y), free(dx), free(g);
    free_inputs(&in);
    myo_tree_destroy(&t);
}

static void report(const char *what, const worst *w, double secs)
{
    if (my_rank == 0)
        print_message("%s, %d ranks, %d cases, %.2f s: max scaled error %.3g (<= 1 passes: atol "
                      "%.0e max(1, max|ref|), rtol %.0e)\n",
                      what, n_ranks, w->cases, secs, w->err, ATOL, RTOL);
}

static void test_dist_layer_matches_serial(void **state)
{
    (void)state;
    worst w = {0};
    double t0 = MPI_Wtime();
    uint64_t seed = 100;
    const struct {
        tree_kind kind;
        int64_t n;
    } trees[] = {{KARY2, 37}, {KARY2, 100}, {KARY3, 37}, {KARY3, 100}, {CHAIN, 37}, {RANDOM, 60}};
    for (size_t i = 0; i < sizeof trees / sizeof trees[0]; i++)
        for (int dir = 0; dir < 3; dir++)
            for (int s = 0; s < N_SPLITS; s++, seed += 50) {
                if (s == SPLIT_LEAF && trees[i].kind != KARY2 && trees[i].kind != KARY3) continue;
                run_case(comm_all, trees[i].kind, trees[i].n, (myo_layer_direction)dir,
                         (split_kind)s, seed, &w);
            }
    report("sequence parallel vs serial", &w, MPI_Wtime() - t0);
}

/* On a comm with the ranks in reverse order: ranges follow comm's ranks. */
static void test_dist_layer_follows_the_rank_order_of_its_comm(void **state)
{
    (void)state;
    MPI_Comm rev = test_mpi_reversed(comm_all);
    worst w = {0};
    double t0 = MPI_Wtime();
    run_case(rev, KARY2, 50, MYO_DIR_BOTH, SPLIT_LEAF, 7, &w);
    run_case(rev, RANDOM, 40, MYO_DIR_UP, SPLIT_RANDOM, 8, &w);
    MPI_Comm_free(&rev);
    report("sequence parallel on a reversed comm", &w, MPI_Wtime() - t0);
}

/* --------------------------------------------------------- data parallel */

static void dp_case(tree_kind kind, int64_t n, int64_t B, myo_layer_direction dir, uint64_t seed,
                    worst *wst)
{
    const int64_t D = 8, H = 2, DD = D * D;
    myo_layer_config cfg = {.d_model = D, .heads = H, .direction = dir};
    myo_tree *t = make_tree(kind, n, seed);
    const int64_t nt = myo_tree_num_tokens(t), S = nt * D; /* floats per sequence */
    inputs in = make_inputs(B * nt, D, seed + 10);
    float *ys = test_alloc((size_t)(B * S), sizeof(float));
    float *dxs = test_alloc((size_t)(B * S), sizeof(float));
    float *gs = test_alloc((size_t)(4 * DD), sizeof(float));
    int ok = serial(t, &cfg, &in, B, ys, dxs, gs);

    /* rank r: sequences [b0, b1), possibly none */
    int64_t b0 = B * my_rank / n_ranks, b1 = B * (my_rank + 1) / n_ranks, nb = b1 - b0;
    myo_layer_work *ws = NULL;
    if (nb > 0) ok = ok && myo_layer_work_create(t, &cfg, nb, &ws) == MYO_OK;
    float *y = test_alloc((size_t)(nb * S + 1), sizeof(float));
    float *dx = test_alloc((size_t)(nb * S + 1), sizeof(float));
    float *g = test_alloc((size_t)(4 * DD), sizeof(float));
    myo_qkvo_weights_f32 wf = {in.w[0], in.w[1], in.w[2], in.w[3]};
    myo_qkvo_grads_f32 gf = {g, g + DD, g + 2 * DD, g + 3 * DD};
    myo_status sf = myo_layer_dp_forward_f32(comm_all, ws, D, &wf, nb, nb ? in.x + b0 * S : NULL,
                                             nb ? y : NULL);
    myo_status sb = sf == MYO_OK
                        ? myo_layer_dp_backward_f32(comm_all, ws, D, &wf, nb,
                                                    nb ? in.dy + b0 * S : NULL, nb ? dx : NULL, &gf)
                        : sf;
    myo_layer_work_destroy(&ws);
    if (sf != MYO_OK || sb != MYO_OK) {
        ok = 0;
        fprintf(stderr, "rank %d: dp layer: %s / %s: %s\n", my_rank, myo_status_str(sf),
                myo_status_str(sb), myo_error_detail());
    }
    double e = ok ? 0 : INFINITY;
    e = fmax(e, scaled_err(y, ys + b0 * S, nb * S, ys, B * S));
    e = fmax(e, scaled_err(dx, dxs + b0 * S, nb * S, dxs, B * S));
    for (int i = 0; i < 4; i++)
        e = fmax(e, scaled_err(g + i * DD, gs + i * DD, DD, gs + i * DD, DD));
    double ge;
    MPI_Allreduce(&e, &ge, 1, MPI_DOUBLE, MPI_MAX, comm_all);
    wst->err = fmax(wst->err, ge);
    wst->cases++;
    if (!(ge <= 1))
        fail_msg("data parallel: %s n = %lld, batch %lld, direction %d over %d ranks: scaled "
                 "error %.3g (<= 1 passes)",
                 tree_names[kind], (long long)n, (long long)B, (int)dir, n_ranks, ge);
    free(ys), free(dxs), free(gs), free(y), free(dx), free(g);
    free_inputs(&in);
    myo_tree_destroy(&t);
}

static void test_dp_layer_matches_serial_on_the_whole_batch(void **state)
{
    (void)state;
    worst w = {0};
    double t0 = MPI_Wtime();
    dp_case(KARY2, 37, 3, MYO_DIR_BOTH, 1, &w); /* 4 ranks: one without sequences */
    dp_case(KARY3, 20, 7, MYO_DIR_UP, 2, &w);
    dp_case(RANDOM, 30, 5, MYO_DIR_DOWN, 3, &w);
    report("data parallel vs serial", &w, MPI_Wtime() - t0);
}

/* ---------------------------------------------------------------- errors */

/* Every rank returns the same status, want (a failing rank's detail and
 * the others' name the rank when named_rank >= 0). */
static void expect_same(myo_status s, myo_status want, int named_rank, const char *label)
{
    char name[32];
    snprintf(name, sizeof name, "rank %d", named_rank);
    int ok = s == want && (named_rank < 0 || strstr(myo_error_detail(), name) != NULL);
    if (!ok)
        fprintf(stderr, "rank %d: %s: got %s (want %s): %s\n", my_rank, label, myo_status_str(s),
                myo_status_str(want), myo_error_detail());
    test_assert_all_ranks(ok, comm_all, label);
}

static void test_dist_layer_bad_input_on_one_rank_fails_on_every_rank(void **state)
{
    (void)state;
    const int64_t n = 30, D = 8, DD = D * D;
    myo_layer_config cfg = {.d_model = D, .heads = 2};
    myo_tree *t = make_tree(KARY2, n, 0);
    const int64_t *order = myo_tree_preorder(t);
    int64_t *off = test_alloc((size_t)n_ranks + 1, sizeof(int64_t));
    assert_int_equal(myo_dist_leaf_ranges(t, n_ranks, off, NULL), MYO_OK);
    const int64_t lo = off[my_rank], hi = off[my_rank + 1];
    int64_t ntl = 0;
    for (int64_t pos = lo; pos < hi; pos++)
        ntl += order[pos] < n;
    inputs in = make_inputs(ntl + 1, D, 77);
    float *y = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    float *dx = test_alloc((size_t)(ntl * D + 1), sizeof(float));
    float g[4 * 64];
    myo_qkvo_weights_f32 wf = {in.w[0], in.w[1], in.w[2], in.w[3]};
    myo_qkvo_grads_f32 gf = {g, g + DD, g + 2 * DD, g + 3 * DD};
    int last = n_ranks - 1; /* holds tokens under leaf ranges */

    myo_layer_dist_work *w = NULL;
    expect_same(myo_layer_dist_work_create(comm_all, t, &cfg, lo, hi, &w), MYO_OK, -1, "create");

    /* non-finite x on the last rank only */
    float saved = in.x[0];
    if (my_rank == last) in.x[0] = NAN;
    expect_same(myo_layer_dist_forward_f32(comm_all, w, &wf, in.x, y), MYO_ERR_DATA, last,
                "forward: NaN in x on the last rank");
    in.x[0] = saved;
    /* after a failed forward, backward has nothing to differentiate */
    expect_same(myo_layer_dist_backward_f32(comm_all, w, &wf, in.dy, dx, &gf), MYO_ERR_ARG, -1,
                "backward after a failed forward");
    /* a NULL gradient on rank 0 */
    expect_same(myo_layer_dist_forward_f32(comm_all, w, &wf, in.x, y), MYO_OK, -1, "forward again");
    myo_qkvo_grads_f32 bad = gf;
    if (my_rank == 0) bad.wk = NULL;
    expect_same(myo_layer_dist_backward_f32(comm_all, w, &wf, in.dy, dx, &bad), MYO_ERR_ARG, 0,
                "backward: NULL gradient on rank 0");
    expect_same(myo_layer_dist_backward_f32(comm_all, w, &wf, in.dy, dx, &gf), MYO_OK, -1,
                "backward again");
    myo_layer_dist_work_destroy(&w);

    /* bad ranges on one rank: create fails everywhere */
    int64_t blo = my_rank == last ? hi + 1 : lo;
    expect_same(myo_layer_dist_work_create(comm_all, t, &cfg, blo, hi, &w), MYO_ERR_ARG, -1,
                "create: a bad range on the last rank");
    assert_null(w);
    /* heads differ between ranks */
    if (n_ranks > 1) {
        myo_layer_config c2 = cfg;
        if (my_rank == last) c2.heads = 4;
        expect_same(myo_layer_dist_work_create(comm_all, t, &c2, lo, hi, &w), MYO_ERR_ARG, -1,
                    "create: heads differ between ranks");
        myo_layer_dist_work_destroy(&w);
    }

    /* data parallel: NaN on the last rank's sequence */
    myo_layer_work *ws = NULL;
    assert_int_equal(myo_layer_work_create(t, &cfg, 1, &ws), MYO_OK);
    inputs seq = make_inputs(n, D, 78);
    float *ys = test_alloc((size_t)(n * D), sizeof(float));
    if (my_rank == last) seq.x[3] = INFINITY;
    myo_status s = myo_layer_dp_forward_f32(comm_all, ws, D, &wf, 1, seq.x, ys);
    int agreed[2] = {(int)s, -(int)s}, all[2];
    MPI_Allreduce(agreed, all, 2, MPI_INT, MPI_MAX, comm_all);
    int ok = s != MYO_OK && all[0] == -all[1];
    if (!ok)
        fprintf(stderr, "rank %d: dp forward with Inf on the last rank: %s: %s\n", my_rank,
                myo_status_str(s), myo_error_detail());
    test_assert_all_ranks(ok, comm_all, "dp forward: Inf in x on the last rank");
    /* and a batch of -1 on rank 0 */
    expect_same(
        myo_layer_dp_backward_f32(comm_all, ws, D, &wf, my_rank == 0 ? -1 : 1, seq.dy, ys, &gf),
        MYO_ERR_ARG, -1, "dp backward: batch -1 on rank 0");
    myo_layer_work_destroy(&ws);
    free(ys);
    free_inputs(&seq);

    free(off), free(y), free(dx);
    free_inputs(&in);
    myo_tree_destroy(&t);
    /* and the comm still works */
    worst wst = {0};
    run_case(comm_all, KARY3, 25, MYO_DIR_BOTH, SPLIT_EVEN, 3, &wst);
}

int main(int argc, char **argv)
{
    test_mpi_init(&argc, &argv, &comm_all, &my_rank, &n_ranks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_layer_matches_serial),
        cmocka_unit_test(test_dist_layer_follows_the_rank_order_of_its_comm),
        cmocka_unit_test(test_dp_layer_matches_serial_on_the_whole_batch),
        cmocka_unit_test(test_dist_layer_bad_input_on_one_rank_fails_on_every_rank),
    };
    int failed_anywhere = test_mpi_run_group("dist_layer", tests, comm_all);
    return test_mpi_finalize(&comm_all, failed_anywhere);
}
