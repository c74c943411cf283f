/* test_cost.c -- the cost models (myo_cost: myo_solve_cost, myo_layer_cost,
 * myo_attention_cost, myo_ssm_cost), the tree shapes they read and the
 * mixer names.
 *
 *  - work_bytes against the real workspaces: each is created, runs one
 *    forward and one backward, and its myo_*_work_bytes must lie in
 *        actual <= predicted <= WORK_RATIO actual + WORK_SLACK bytes
 *    (1.25 and 4 KiB); the largest predicted / actual seen is printed.
 *  - flops against independent facts: linear scaling in n of the
 *    Myosotis layer and the SSM, quadratic of attention (the ratio of two
 *    lengths within 1%), causal attention's mixing about half of the
 *    bidirectional one, the projections recounted here GEMM by GEMM from
 *    the layers' documented formulas (exact up to rounding), the solver
 *    linear in N and affine in m, costs proportional to the batch.
 *  - the shapes from the builders' arguments equal those of the trees.
 *  - mixer names and bad arguments. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myosotis.h"
#include "myosotis_model.h"
#include "support.h"

#define WORK_RATIO 1.25
#define WORK_SLACK 4096.0
#define SCALE_RTOL 0.01 /* scaling ratios and the causal half */
#define EXACT_RTOL 1e-12

/* ------------------------------------------------------------- helpers */

/* count floats uniform in [-scale, scale) from seed (owned). */
static float *random_floats(int64_t count, double scale, uint64_t seed)
{
    double *d = test_alloc((size_t)count, sizeof(double));
    float *f = test_alloc((size_t)count, sizeof(float));
    test_random_values(d, count, seed);
    for (int64_t i = 0; i < count; i++)
        f[i] = (float)(scale * d[i]);
    free(d);
    return f;
}

/* Fail unless actual <= predicted <= WORK_RATIO actual + WORK_SLACK; keeps
 * the largest predicted / actual in *max_ratio. */
static void check_work(const char *what, double predicted, size_t actual, double *max_ratio)
{
    const double a = (double)actual;
    if (!(predicted >= a && predicted <= WORK_RATIO * a + WORK_SLACK)) {
        fprintf(stderr, "%s: predicted work %.0f bytes, the workspace holds %zu\n", what, predicted,
                actual);
        fail();
    }
    if (predicted / a > *max_ratio) *max_ratio = predicted / a;
}

static void assert_rel(double got, double want, double rtol, const char *what)
{
    if (!(fabs(got - want) <= rtol * fabs(want))) {
        fprintf(stderr, "%s: %.17g, want %.17g (rtol %g)\n", what, got, want, rtol);
        fail();
    }
}

static void assert_shape_equal(const myo_tree_shape *a, const myo_tree_shape *b, const char *what)
{
    if (a->nodes != b->nodes || a->tokens != b->tokens || a->edges != b->edges ||
        a->virtual_nodes != b->virtual_nodes || a->virtual_children != b->virtual_children ||
        a->chain != b->chain) {
        fprintf(stderr,
                "%s: shape N %lld n %lld E %lld v %lld cv %lld chain %d, the tree's N %lld n "
                "%lld E %lld v %lld cv %lld chain %d\n",
                what, (long long)a->nodes, (long long)a->tokens, (long long)a->edges,
                (long long)a->virtual_nodes, (long long)a->virtual_children, a->chain,
                (long long)b->nodes, (long long)b->tokens, (long long)b->edges,
                (long long)b->virtual_nodes, (long long)b->virtual_children, b->chain);
        fail();
    }
}

/* The textbook count of a GEMM of rows x a times a x b: 2 rows a b. */
static double gemm(double rows, double a, double b)
{
    return 2 * rows * a * b;
}

/* ---------------------------------------------------------- tree shapes */

enum { TREE_CHAIN, TREE_HEAP, TREE_KARY };

static myo_status make_tree(int kind, int64_t n, int arity, myo_tree **t)
{
    return kind == TREE_CHAIN  ? myo_tree_create_chain(n, t)
           : kind == TREE_HEAP ? myo_tree_create_heap(n, arity, t)
                               : myo_tree_create_kary(n, arity, t);
}

static myo_status make_shape(int kind, int64_t n, int arity, myo_tree_shape *s)
{
    return kind == TREE_CHAIN  ? myo_tree_shape_chain(n, s)
           : kind == TREE_HEAP ? myo_tree_shape_heap(n, arity, s)
                               : myo_tree_shape_kary(n, arity, s);
}

static void test_shapes_from_arguments_equal_the_trees(void **state)
{
    (void)state;
    static const int arities[] = {2, 3, 4, 5, 7, 16, 64};
    int checked = 0;
    for (int kind = TREE_CHAIN; kind <= TREE_KARY; kind++)
        for (size_t a = 0; a < sizeof arities / sizeof arities[0]; a++)
            for (int64_t n = 1; n <= 700; n += n < 40 ? 1 : 37) {
                myo_tree *t = NULL;
                myo_tree_shape got, want;
                assert_int_equal(make_tree(kind, n, arities[a], &t), MYO_OK);
                assert_int_equal(myo_tree_shape_of(t, &want), MYO_OK);
                assert_int_equal(make_shape(kind, n, arities[a], &got), MYO_OK);
                assert_int_equal(myo_tree_shape_check(&got), MYO_OK);
                char what[64];
                snprintf(what, sizeof what, "tree kind %d, arity %d, n %lld", kind, arities[a],
                         (long long)n);
                assert_shape_equal(&got, &want, what);
                /* independently of the shape code: the tree's own counts */
                assert_int_equal(want.nodes, myo_tree_num_nodes(t));
                assert_int_equal(want.edges, myo_tree_num_nodes(t) - myo_tree_num_roots(t));
                myo_tree_destroy(&t);
                checked++;
            }
    /* a 16M-token hierarchy without building it: N = 2n - 1 for arity 2 */
    myo_tree_shape big;
    assert_int_equal(myo_tree_shape_kary(INT64_C(1) << 24, 2, &big), MYO_OK);
    assert_int_equal(big.nodes, (INT64_C(1) << 25) - 1);
    assert_int_equal(big.virtual_children, big.nodes - 1);
    /* a random recursive tree: no virtual node, not a chain */
    int64_t parent[500];
    test_random_recursive_parents(500, 7, parent);
    myo_tree *t = NULL;
    myo_tree_shape s;
    assert_int_equal(myo_tree_create(parent, 500, &t), MYO_OK);
    assert_int_equal(myo_tree_shape_of(t, &s), MYO_OK);
    assert_int_equal(s.nodes, 500);
    assert_int_equal(s.edges, 499);
    assert_int_equal(s.virtual_nodes, 0);
    assert_int_equal(s.chain, 0);
    myo_tree_destroy(&t);
    printf("tree shapes: %d builder shapes equal their trees'\n", checked);
}

/* ------------------------------------------------------- work_bytes */

/* The inputs of one qkvo layer pass: weights, gradients, x, dy, y, dx. */
typedef struct {
    float *w, *g, *x, *dy, *y, *dx;
    myo_qkvo_weights_f32 wt;
    myo_qkvo_grads_f32 gr;
} qkvo_io;

static qkvo_io qkvo_io_make(int64_t D, int64_t rows, uint64_t seed)
{
    qkvo_io io;
    io.w = random_floats(4 * D * D, 1.0 / sqrt((double)D), seed);
    io.g = test_alloc((size_t)(4 * D * D), sizeof(float));
    io.x = random_floats(rows * D, 1.0, seed + 1);
    io.dy = random_floats(rows * D, 1.0, seed + 2);
    io.y = test_alloc((size_t)(rows * D), sizeof(float));
    io.dx = test_alloc((size_t)(rows * D), sizeof(float));
    io.wt = (myo_qkvo_weights_f32){io.w, io.w + D * D, io.w + 2 * D * D, io.w + 3 * D * D};
    io.gr = (myo_qkvo_grads_f32){io.g, io.g + D * D, io.g + 2 * D * D, io.g + 3 * D * D};
    return io;
}

static void qkvo_io_free(qkvo_io *io)
{
    free(io->w), free(io->g), free(io->x), free(io->dy), free(io->y), free(io->dx);
}

/* One Myosotis workspace on the tree (kind, n, arity) after a forward and
 * a backward against myo_layer_cost, from the tree's shape and from the
 * builder's arguments. */
static void layer_work_case(int kind, int arity, int64_t n, const myo_layer_config *cfg,
                            int64_t batch, uint64_t seed, double *max_ratio)
{
    myo_tree *t = NULL;
    assert_int_equal(make_tree(kind, n, arity, &t), MYO_OK);
    myo_tree_shape shape, before;
    assert_int_equal(myo_tree_shape_of(t, &shape), MYO_OK);
    assert_int_equal(make_shape(kind, n, arity, &before), MYO_OK);
    myo_cost cost, cost_before;
    assert_int_equal(myo_layer_cost(&shape, cfg, batch, &cost), MYO_OK);
    assert_int_equal(myo_layer_cost(&before, cfg, batch, &cost_before), MYO_OK);
    assert_true(cost_before.work_bytes == cost.work_bytes);

    myo_layer_work *ws = NULL;
    assert_int_equal(myo_layer_work_create(t, cfg, batch, &ws), MYO_OK);
    qkvo_io io = qkvo_io_make(cfg->d_model, batch * n, seed);
    assert_int_equal(myo_layer_forward_f32(ws, &io.wt, batch, io.x, io.y), MYO_OK);
    assert_int_equal(myo_layer_backward_f32(ws, &io.wt, batch, io.dy, io.dx, &io.gr), MYO_OK);
    char what[96];
    snprintf(what, sizeof what, "layer tree %d/%d n %lld D %lld H %lld B %lld", kind, arity,
             (long long)n, (long long)cfg->d_model, (long long)cfg->heads, (long long)batch);
    check_work(what, cost.work_bytes, myo_layer_work_bytes(ws), max_ratio);
    myo_layer_work_destroy(&ws);
    myo_tree_destroy(&t);
    qkvo_io_free(&io);
}

static void test_layer_work_bytes_bound_the_workspace(void **state)
{
    (void)state;
    static const int64_t ns[] = {1, 2, 7, 64, 301};
    static const int64_t dh[][2] = {{8, 2}, {12, 3}, {32, 4}};
    static const int trees[][2] = {{TREE_KARY, 2}, {TREE_KARY, 3}, {TREE_CHAIN, 0}, {TREE_HEAP, 2}};
    double max_ratio = 0;
    int runs = 0;
    for (size_t tr = 0; tr < sizeof trees / sizeof trees[0]; tr++)
        for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
            for (size_t c = 0; c < sizeof dh / sizeof dh[0]; c++)
                for (int64_t batch = 1; batch <= 3; batch += 2, runs++) {
                    const myo_layer_config cfg = {dh[c][0], dh[c][1],
                                                  (myo_layer_direction)(runs % 3)};
                    layer_work_case(trees[tr][0], trees[tr][1], ns[in], &cfg, batch,
                                    10 + 3 * (uint64_t)runs, &max_ratio);
                }
    printf("layer work_bytes: %d workspaces, max predicted / actual %.6f (allowed %.2f + %.0f "
           "bytes)\n",
           runs, max_ratio, WORK_RATIO, WORK_SLACK);
}

/* One attention workspace after a forward and a backward against
 * myo_attention_cost. */
static void attention_work_case(const myo_attention_config *cfg, myo_attention_form form, int64_t n,
                                int64_t batch, uint64_t seed, double *max_ratio)
{
    myo_cost cost;
    assert_int_equal(myo_attention_cost(cfg, form, n, batch, &cost), MYO_OK);
    myo_attention_work *ws = NULL;
    assert_int_equal(myo_attention_work_create(cfg, form, n, batch, &ws), MYO_OK);
    qkvo_io io = qkvo_io_make(cfg->d_model, batch * n, seed);
    assert_int_equal(myo_attention_forward_f32(ws, &io.wt, io.x, io.y), MYO_OK);
    assert_int_equal(myo_attention_backward_f32(ws, &io.wt, io.dy, io.dx, &io.gr), MYO_OK);
    char what[96];
    snprintf(what, sizeof what, "attention %s causal %d tiles %lld x %lld n %lld D %lld B %lld",
             myo_attention_form_name(form), cfg->causal, (long long)cfg->tile_q,
             (long long)cfg->tile_k, (long long)n, (long long)cfg->d_model, (long long)batch);
    check_work(what, cost.work_bytes, myo_attention_work_bytes(ws), max_ratio);
    myo_attention_work_destroy(&ws);
    qkvo_io_free(&io);
}

static void test_attention_work_bytes_bound_the_workspace(void **state)
{
    (void)state;
    static const int64_t ns[] = {1, 5, 64, 300};
    static const int64_t dh[][2] = {{8, 2}, {32, 4}};
    static const int64_t tiles[][2] = {{0, 0}, {16, 8}, {7, 5}};
    double max_ratio[2] = {0, 0};
    int runs = 0;
    for (int form = 0; form < 2; form++)
        for (int causal = 0; causal < 2; causal++)
            for (size_t ti = 0; ti < sizeof tiles / sizeof tiles[0]; ti++)
                for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
                    for (size_t c = 0; c < sizeof dh / sizeof dh[0]; c++)
                        for (int64_t batch = 1; batch <= 2; batch++, runs++) {
                            const myo_attention_config cfg = {dh[c][0], dh[c][1], causal,
                                                              tiles[ti][0], tiles[ti][1]};
                            attention_work_case(&cfg, (myo_attention_form)form, ns[in], batch,
                                                100 + 3 * (uint64_t)runs, &max_ratio[form]);
                        }
    printf("attention work_bytes: %d workspaces, max predicted / actual %.6f materialized, %.6f "
           "tiled (allowed %.2f + %.0f bytes)\n",
           runs, max_ratio[MYO_ATTN_MATERIALIZED], max_ratio[MYO_ATTN_TILED], WORK_RATIO,
           WORK_SLACK);
}

static void test_ssm_work_bytes_bound_the_workspace(void **state)
{
    (void)state;
    static const int64_t ns[] = {1, 7, 130, 300};
    static const myo_ssm_config cfgs[] = {
        {.d_model = 8},
        {.d_model = 17, .block = 16},
        {.d_model = 32},
        {.d_model = 12, .d_state = 4, .expand = 1, .d_conv = 2, .dt_rank = 3, .block = 50},
    };
    double max_ratio = 0;
    int runs = 0;
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++)
        for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
            for (int64_t batch = 1; batch <= 2; batch++) {
                const myo_ssm_config *cfg = &cfgs[c];
                const int64_t n = ns[in], D = cfg->d_model;
                myo_ssm_layout ly;
                assert_int_equal(myo_ssm_layout_of(cfg, &ly), MYO_OK);
                myo_cost cost;
                assert_int_equal(myo_ssm_cost(cfg, n, batch, &cost), MYO_OK);
                myo_ssm_work *ws = NULL;
                assert_int_equal(myo_ssm_work_create(cfg, n, batch, &ws), MYO_OK);
                float *p = test_alloc((size_t)ly.count, sizeof(float));
                myo_rng rng = myo_rng_seed(300 + (uint64_t)runs);
                assert_int_equal(myo_ssm_params_init_f32(cfg, &rng, p), MYO_OK);
                float *dp = test_alloc((size_t)ly.count, sizeof(float));
                float *x = random_floats(batch * n * D, 1.0, 400 + (uint64_t)runs);
                float *dy = random_floats(batch * n * D, 1.0, 500 + (uint64_t)runs);
                float *y = test_alloc((size_t)(batch * n * D), sizeof(float));
                float *dx = test_alloc((size_t)(batch * n * D), sizeof(float));
                assert_int_equal(myo_ssm_forward_f32(ws, p, x, y), MYO_OK);
                assert_int_equal(myo_ssm_backward_f32(ws, p, x, dy, dx, dp), MYO_OK);
                char what[96];
                snprintf(what, sizeof what, "ssm config %zu n %lld B %lld", c, (long long)n,
                         (long long)batch);
                check_work(what, cost.work_bytes, myo_ssm_work_bytes(ws), &max_ratio);
                myo_ssm_work_destroy(&ws);
                free(p), free(dp), free(x), free(dy), free(y), free(dx);
                runs++;
            }
    printf("ssm work_bytes: %d workspaces, max predicted / actual %.6f (allowed %.2f + %.0f "
           "bytes)\n",
           runs, max_ratio, WORK_RATIO, WORK_SLACK);
}

/* One factor of H heads on the tree (kind, n) after a Laplacian refactor +
 * solve with M and a solve with M^T, m channels per head, against
 * myo_solve_cost. */
static void solve_work_case(int kind, int64_t n, int64_t H, myo_precision prec, uint64_t seed,
                            double *max_ratio)
{
    const int64_t m = 2;
    myo_tree *t = NULL;
    assert_int_equal(make_tree(kind, n, 2, &t), MYO_OK);
    myo_tree_shape shape;
    assert_int_equal(myo_tree_shape_of(t, &shape), MYO_OK);
    myo_cost cost;
    assert_int_equal(myo_solve_cost(&shape, H, m, prec, 1, &cost), MYO_OK);
    const int64_t NH = shape.nodes * H;
    double *wu = test_alloc((size_t)NH, sizeof(double)),
           *wd = test_alloc((size_t)NH, sizeof(double));
    double *r = test_alloc((size_t)(NH * m), sizeof(double));
    test_random_values(wu, NH, seed);
    test_random_values(wd, NH, seed + 1);
    test_random_values(r, NH * m, seed + 2);
    for (int64_t i = 0; i < NH; i++)
        wu[i] = fabs(wu[i]), wd[i] = fabs(wd[i]); /* Laplacian weights are >= 0 */
    float *wuf = test_alloc((size_t)NH, sizeof(float)),
          *wdf = test_alloc((size_t)NH, sizeof(float));
    float *rf = test_alloc((size_t)(NH * m), sizeof(float));
    test_round_to_f32(wu, wuf, NH);
    test_round_to_f32(wd, wdf, NH);
    test_round_to_f32(r, rf, NH * m);
    myo_factor *f = NULL;
    assert_int_equal(myo_factor_create_empty(t, H, prec, &f), MYO_OK);
    if (prec == MYO_F64) {
        assert_int_equal(myo_refactor_laplacian_f64(f, wu, wd, MYO_OP_N, r, r, m), MYO_OK);
        assert_int_equal(myo_solve_f64(f, MYO_OP_T, r, r, m), MYO_OK);
    } else {
        assert_int_equal(myo_refactor_laplacian_f32(f, wuf, wdf, MYO_OP_N, rf, rf, m), MYO_OK);
        assert_int_equal(myo_solve_f32(f, MYO_OP_T, rf, rf, m), MYO_OK);
    }
    char what[96];
    snprintf(what, sizeof what, "solve tree %d n %lld H %lld precision %d", kind, (long long)n,
             (long long)H, (int)prec);
    check_work(what, cost.work_bytes, myo_factor_bytes(f), max_ratio);
    myo_factor_destroy(&f);
    myo_tree_destroy(&t);
    free(wu), free(wd), free(r), free(wuf), free(wdf), free(rf);
}

static void test_solve_work_bytes_bound_the_factor(void **state)
{
    (void)state;
    static const int64_t ns[] = {1, 2, 9, 200};
    double max_ratio = 0;
    int runs = 0;
    for (int kind = TREE_CHAIN; kind <= TREE_KARY; kind++)
        for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
            for (int64_t H = 1; H <= 3; H += 2)
                for (int prec = 0; prec < 2; prec++, runs++)
                    solve_work_case(kind, ns[in], H, (myo_precision)prec, 600 + 3 * (uint64_t)runs,
                                    &max_ratio);
    printf("solve work_bytes: %d factors, max predicted / actual %.6f (allowed %.2f + %.0f "
           "bytes)\n",
           runs, max_ratio, WORK_RATIO, WORK_SLACK);
}

/* -------------------------------------------------------------- flops */

static void test_linear_models_scale_with_n(void **state)
{
    (void)state;
    const int64_t n = INT64_C(1) << 20;
    const myo_layer_config lcfg = {256, 8, MYO_DIR_BOTH};
    for (int kind = TREE_CHAIN; kind <= TREE_KARY; kind++) {
        myo_tree_shape s1, s2;
        myo_cost c1, c2;
        assert_int_equal(make_shape(kind, n, 2, &s1), MYO_OK);
        assert_int_equal(make_shape(kind, 2 * n, 2, &s2), MYO_OK);
        assert_int_equal(myo_layer_cost(&s1, &lcfg, 1, &c1), MYO_OK);
        assert_int_equal(myo_layer_cost(&s2, &lcfg, 1, &c2), MYO_OK);
        for (int p = 0; p < 2; p++) {
            assert_rel(c2.flops[p] / c1.flops[p], 2.0, SCALE_RTOL, "myosotis flops(2n)/flops(n)");
            assert_rel(c2.bytes[p] / c1.bytes[p], 2.0, SCALE_RTOL, "myosotis bytes(2n)/bytes(n)");
        }
        assert_rel(c2.work_bytes / c1.work_bytes, 2.0, SCALE_RTOL, "myosotis work(2n)/work(n)");
    }
    const myo_ssm_config scfg = {.d_model = 256};
    myo_cost c1, c2;
    assert_int_equal(myo_ssm_cost(&scfg, n, 1, &c1), MYO_OK);
    assert_int_equal(myo_ssm_cost(&scfg, 2 * n, 1, &c2), MYO_OK);
    for (int p = 0; p < 2; p++) {
        assert_rel(c2.flops[p] / c1.flops[p], 2.0, SCALE_RTOL, "ssm flops(2n)/flops(n)");
        assert_rel(c2.bytes[p] / c1.bytes[p], 2.0, SCALE_RTOL, "ssm bytes(2n)/bytes(n)");
    }
    assert_rel(c2.work_bytes / c1.work_bytes, 2.0, SCALE_RTOL, "ssm work(2n)/work(n)");
}

static void test_attention_scales_quadratically_and_causal_halves(void **state)
{
    (void)state;
    const int64_t n = INT64_C(1) << 20;
    for (int form = 0; form < 2; form++) {
        const myo_attention_config cfg = {256, 8, 0, 0, 0}, causal = {256, 8, 1, 0, 0};
        myo_cost c1, c2, cc;
        assert_int_equal(myo_attention_cost(&cfg, (myo_attention_form)form, n, 1, &c1), MYO_OK);
        assert_int_equal(myo_attention_cost(&cfg, (myo_attention_form)form, 2 * n, 1, &c2), MYO_OK);
        assert_int_equal(myo_attention_cost(&causal, (myo_attention_form)form, n, 1, &cc), MYO_OK);
        for (int p = 0; p < 2; p++) {
            assert_rel(c2.flops[p] / c1.flops[p], 4.0, SCALE_RTOL, "attention flops(2n)/flops(n)");
            /* the n^2 part: the mixing, whose linear term is 2 n D of 8 n^2 D */
            const double mix = c1.flops[p] - c1.proj_flops[p];
            const double mix_causal = cc.flops[p] - cc.proj_flops[p];
            assert_rel(mix_causal / mix, 0.5, SCALE_RTOL, "causal / bidirectional mixing");
            assert_true(cc.proj_flops[p] == c1.proj_flops[p]);
        }
        /* the tiled form re-reads K and V per query block: bytes grow as n^2 too */
        if (form == MYO_ATTN_TILED)
            assert_rel(c2.bytes[0] / c1.bytes[0], 4.0, SCALE_RTOL, "tiled bytes(2n)/bytes(n)");
    }
    /* the tiled backward recomputes S and P: more mixing than materialized */
    const myo_attention_config cfg = {64, 4, 0, 0, 0};
    myo_cost m, t;
    assert_int_equal(myo_attention_cost(&cfg, MYO_ATTN_MATERIALIZED, 1000, 1, &m), MYO_OK);
    assert_int_equal(myo_attention_cost(&cfg, MYO_ATTN_TILED, 1000, 1, &t), MYO_OK);
    assert_true(t.flops[0] == m.flops[0]);
    assert_true(t.flops[1] > m.flops[1]);
    assert_true(m.work_bytes > t.work_bytes); /* the n x n probabilities */
}

/* The projections recounted GEMM by GEMM from the layers' headers. */
static void test_projection_flops_are_the_gemms(void **state)
{
    (void)state;
    const int64_t B = 3;
    /* Myosotis (myosotis_layer.h): forward Q, K, V = X_all W on the N rows
     * of X_all and out = Y[token rows] Wo on n rows; backward dWo = Y_tok^T
     * dy and dY = dy Wo^T on n rows, dWq, dWk, dWv = X_all^T (dQ, dK, G)
     * and dX_all = dQ Wq^T + dK Wk^T + G Wv^T on N rows. */
    for (int kind = TREE_CHAIN; kind <= TREE_KARY; kind++) {
        myo_tree_shape s;
        assert_int_equal(make_shape(kind, 1000, 3, &s), MYO_OK);
        const double D = 48, N = (double)s.nodes, n = (double)s.tokens;
        const myo_layer_config cfg = {48, 6, MYO_DIR_BOTH};
        myo_cost c;
        assert_int_equal(myo_layer_cost(&s, &cfg, B, &c), MYO_OK);
        const double fwd = 3 * gemm(N, D, D) + gemm(n, D, D);
        const double bwd = 2 * gemm(n, D, D) + 3 * gemm(D, N, D) + 3 * gemm(N, D, D);
        assert_rel(c.proj_flops[0], B * fwd, EXACT_RTOL, "myosotis forward projections");
        assert_rel(c.proj_flops[1], B * bwd, EXACT_RTOL, "myosotis backward projections");
        assert_true(c.flops[0] > c.proj_flops[0] && c.flops[1] > c.proj_flops[1]);
        /* one score direction does less mixing, the same projections */
        myo_cost up, down;
        const myo_layer_config cu = {48, 6, MYO_DIR_UP}, cd = {48, 6, MYO_DIR_DOWN};
        assert_int_equal(myo_layer_cost(&s, &cu, B, &up), MYO_OK);
        assert_int_equal(myo_layer_cost(&s, &cd, B, &down), MYO_OK);
        for (int p = 0; p < 2; p++) {
            assert_true(up.flops[p] == down.flops[p]);
            assert_true(up.flops[p] < c.flops[p]);
            assert_true(up.proj_flops[p] == c.proj_flops[p]);
        }
    }
    /* attention (myosotis_attention.h): Q, K, V, Wo on n rows; backward
     * dWo, dO, dWq, dWk, dWv and the three products of dX. */
    {
        const double n = 777, D = 40;
        const myo_attention_config cfg = {40, 5, 0, 0, 0};
        myo_cost c;
        assert_int_equal(myo_attention_cost(&cfg, MYO_ATTN_TILED, 777, B, &c), MYO_OK);
        assert_rel(c.proj_flops[0], B * 4 * gemm(n, D, D), EXACT_RTOL, "attention forward");
        assert_rel(c.proj_flops[1], B * (4 * gemm(D, n, D) + 4 * gemm(n, D, D)), EXACT_RTOL,
                   "attention backward");
    }
    /* SSM (myosotis_ssm.h): [x | z] = X W_in (D -> 2L), u W_x (L -> P),
     * dt_low W_dt (R -> L), out W_out (L -> D); backward both gradients of
     * each (input and weight), and dt_low W_dt once more (recomputed). */
    {
        const myo_ssm_config cfg = {.d_model = 40, .d_state = 8, .dt_rank = 5};
        myo_ssm_layout ly;
        assert_int_equal(myo_ssm_layout_of(&cfg, &ly), MYO_OK);
        const double n = 555, D = 40, L = (double)ly.d_inner, R = 5, P = R + 2 * 8;
        myo_cost c;
        assert_int_equal(myo_ssm_cost(&cfg, 555, B, &c), MYO_OK);
        const double fwd = gemm(n, D, 2 * L) + gemm(n, L, P) + gemm(n, R, L) + gemm(n, L, D);
        const double bwd =
            2 * gemm(n, D, 2 * L) + 2 * gemm(n, L, P) + 3 * gemm(n, R, L) + 2 * gemm(n, L, D);
        assert_rel(c.proj_flops[0], B * fwd, EXACT_RTOL, "ssm forward projections");
        assert_rel(c.proj_flops[1], B * bwd, EXACT_RTOL, "ssm backward projections");
    }
}

static void test_solve_flops_linear_in_nodes_and_channels(void **state)
{
    (void)state;
    myo_tree_shape s1, s2;
    assert_int_equal(myo_tree_shape_chain(100000, &s1), MYO_OK);
    assert_int_equal(myo_tree_shape_chain(200000, &s2), MYO_OK);
    myo_cost a, b, m1, m2, m3;
    assert_int_equal(myo_solve_cost(&s1, 4, 8, MYO_F64, 1, &a), MYO_OK);
    assert_int_equal(myo_solve_cost(&s2, 4, 8, MYO_F64, 1, &b), MYO_OK);
    for (int p = 0; p < 2; p++) {
        assert_rel(b.flops[p], 2 * a.flops[p], EXACT_RTOL, "solve flops(2N)");
        assert_rel(b.bytes[p], 2 * a.bytes[p], EXACT_RTOL, "solve bytes(2N)");
        assert_true(a.proj_flops[p] == 0);
    }
    /* in m: the backward (a solve) proportional, the forward affine (the
     * pivots do not depend on m) */
    assert_int_equal(myo_solve_cost(&s1, 4, 1, MYO_F32, 1, &m1), MYO_OK);
    assert_int_equal(myo_solve_cost(&s1, 4, 2, MYO_F32, 1, &m2), MYO_OK);
    assert_int_equal(myo_solve_cost(&s1, 4, 3, MYO_F32, 1, &m3), MYO_OK);
    assert_rel(m2.flops[1], 2 * m1.flops[1], EXACT_RTOL, "solve backward flops(2m)");
    assert_rel(m3.flops[1], 3 * m1.flops[1], EXACT_RTOL, "solve backward flops(3m)");
    assert_rel(m3.flops[0] - m2.flops[0], m2.flops[0] - m1.flops[0], EXACT_RTOL,
               "solve forward flops affine in m");
    assert_true(m2.flops[0] < 2 * m1.flops[0]);
    /* the precision changes the bytes, not the flops */
    myo_cost d1;
    assert_int_equal(myo_solve_cost(&s1, 4, 1, MYO_F64, 1, &d1), MYO_OK);
    assert_true(d1.flops[0] == m1.flops[0]);
    assert_rel(d1.bytes[0], 2 * m1.bytes[0], EXACT_RTOL, "solve bytes f64 / f32");
    assert_true(d1.work_bytes > m1.work_bytes);
}

/* Every model: batch B costs B times one sequence (work memory aside),
 * and a forward moves at least its input and output. */
static void test_costs_scale_with_the_batch(void **state)
{
    (void)state;
    const int64_t n = 513, D = 32, H = 4;
    myo_tree_shape s;
    assert_int_equal(myo_tree_shape_kary(n, 2, &s), MYO_OK);
    const myo_layer_config lcfg = {D, H, MYO_DIR_BOTH};
    const myo_attention_config acfg = {D, H, 1, 0, 0};
    const myo_ssm_config scfg = {.d_model = D};
    myo_cost one[5], four[5];
    assert_int_equal(myo_layer_cost(&s, &lcfg, 1, &one[0]), MYO_OK);
    assert_int_equal(myo_layer_cost(&s, &lcfg, 4, &four[0]), MYO_OK);
    assert_int_equal(myo_attention_cost(&acfg, MYO_ATTN_TILED, n, 1, &one[1]), MYO_OK);
    assert_int_equal(myo_attention_cost(&acfg, MYO_ATTN_TILED, n, 4, &four[1]), MYO_OK);
    assert_int_equal(myo_attention_cost(&acfg, MYO_ATTN_MATERIALIZED, n, 1, &one[2]), MYO_OK);
    assert_int_equal(myo_attention_cost(&acfg, MYO_ATTN_MATERIALIZED, n, 4, &four[2]), MYO_OK);
    assert_int_equal(myo_ssm_cost(&scfg, n, 1, &one[3]), MYO_OK);
    assert_int_equal(myo_ssm_cost(&scfg, n, 4, &four[3]), MYO_OK);
    assert_int_equal(myo_solve_cost(&s, H, D / H, MYO_F32, 1, &one[4]), MYO_OK);
    assert_int_equal(myo_solve_cost(&s, H, D / H, MYO_F32, 4, &four[4]), MYO_OK);
    for (int k = 0; k < 5; k++) {
        for (int p = 0; p < 2; p++) {
            assert_rel(four[k].flops[p], 4 * one[k].flops[p], EXACT_RTOL, "flops(4 B)");
            assert_rel(four[k].proj_flops[p], 4 * one[k].proj_flops[p], EXACT_RTOL,
                       "proj_flops(4 B)");
            assert_rel(four[k].bytes[p], 4 * one[k].bytes[p], EXACT_RTOL, "bytes(4 B)");
            assert_true(one[k].flops[p] > 0 && one[k].bytes[p] > 0);
            assert_true(one[k].proj_flops[p] <= one[k].flops[p]);
        }
        assert_true(four[k].work_bytes > one[k].work_bytes);
        assert_true(four[k].work_bytes <= 4 * one[k].work_bytes);
        if (k < 4) assert_true(one[k].bytes[0] >= 2.0 * 4 * (double)(n * D)); /* x in, y out */
    }
}

/* --------------------------------------------------------------- names */

static void test_mixer_names_round_trip(void **state)
{
    (void)state;
    static const char *const want[] = {"myosotis", "dense-tiled", "dense-materialized", "ssm"};
    const myo_mixer_kind kinds[] = {MYO_MIXER_MYOSOTIS, MYO_MIXER_DENSE_TILED,
                                    MYO_MIXER_DENSE_MATERIALIZED, MYO_MIXER_SSM};
    for (int i = 0; i < 4; i++) {
        const char *name = myo_mixer_name(kinds[i]);
        assert_string_equal(name, want[i]);
        myo_mixer_kind k = (myo_mixer_kind)-1;
        assert_int_equal(myo_mixer_parse(name, &k), MYO_OK);
        assert_int_equal(k, kinds[i]);
    }
    myo_mixer_kind k = MYO_MIXER_SSM;
    assert_int_equal(myo_mixer_parse("bogus", &k), MYO_ERR_ARG);
    assert_int_equal(k, MYO_MIXER_SSM); /* untouched */
    const char *detail = myo_error_detail();
    assert_non_null(strstr(detail, "bogus"));
    for (int i = 0; i < 4; i++)
        assert_non_null(strstr(detail, want[i]));
    assert_int_equal(myo_mixer_parse("Myosotis", &k), MYO_ERR_ARG);
    assert_int_equal(myo_mixer_parse("dense", &k), MYO_ERR_ARG);
    assert_int_equal(myo_mixer_parse("", &k), MYO_ERR_ARG);
    assert_int_equal(myo_mixer_parse(NULL, &k), MYO_ERR_ARG);
    assert_int_equal(myo_mixer_parse("ssm", NULL), MYO_ERR_ARG);
    assert_string_equal(myo_mixer_name((myo_mixer_kind)4), "?");
    assert_string_equal(myo_mixer_name((myo_mixer_kind)-1), "?");
}

/* ------------------------------------------------------- bad arguments */

static void test_bad_arguments(void **state)
{
    (void)state;
    myo_tree_shape s, bad;
    myo_cost c;
    assert_int_equal(myo_tree_shape_kary(10, 2, &s), MYO_OK);
    assert_int_equal(myo_tree_shape_kary(0, 2, &s), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_kary(10, 1, &s), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_kary(10, 2, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_heap(0, 2, &s), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_heap(5, 0, &s), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_chain(0, &s), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_chain(-3, &s), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_chain(3, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_of(NULL, &s), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_check(NULL), MYO_ERR_ARG);
    assert_int_equal(myo_tree_shape_kary(10, 2, &s), MYO_OK);

    /* shapes no forest has */
    const myo_tree_shape broken[] = {
        {0, 0, 0, 0, 0, 0}, {5, 6, 4, 0, 0, 0}, {5, 5, 5, 0, 0, 0}, {5, 5, -1, 0, 0, 0},
        {9, 5, 8, 3, 8, 0}, {9, 5, 8, 4, 9, 0}, {5, 5, 4, 0, 1, 0}, {5, 5, 4, 0, 0, 2},
        {5, 5, 3, 0, 0, 1}, {9, 5, 8, 4, 8, 1},
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        bad = broken[i];
        assert_int_equal(myo_tree_shape_check(&bad), MYO_ERR_ARG);
        assert_true(strlen(myo_error_detail()) > 0);
        assert_int_equal(myo_solve_cost(&bad, 2, 2, MYO_F32, 1, &c), MYO_ERR_ARG);
        const myo_layer_config lc = {8, 2, MYO_DIR_BOTH};
        assert_int_equal(myo_layer_cost(&bad, &lc, 1, &c), MYO_ERR_ARG);
    }

    /* the solver */
    assert_int_equal(myo_solve_cost(&s, 2, 2, MYO_F32, 1, &c), MYO_OK);
    assert_int_equal(myo_solve_cost(NULL, 2, 2, MYO_F32, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_solve_cost(&s, 2, 2, MYO_F32, 1, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_solve_cost(&s, 0, 2, MYO_F32, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_solve_cost(&s, 2, 0, MYO_F32, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_solve_cost(&s, 2, 2, MYO_F32, 0, &c), MYO_ERR_ARG);
    assert_int_equal(myo_solve_cost(&s, 2, 2, (myo_precision)7, 1, &c), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "precision"));

    /* the layer */
    const myo_layer_config lc = {8, 2, MYO_DIR_BOTH}, lc_bad = {8, 3, MYO_DIR_BOTH},
                           lc_dir = {8, 2, (myo_layer_direction)9};
    assert_int_equal(myo_layer_cost(&s, &lc, 2, &c), MYO_OK);
    assert_int_equal(myo_layer_cost(NULL, &lc, 2, &c), MYO_ERR_ARG);
    assert_int_equal(myo_layer_cost(&s, NULL, 2, &c), MYO_ERR_ARG);
    assert_int_equal(myo_layer_cost(&s, &lc, 2, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_layer_cost(&s, &lc, 0, &c), MYO_ERR_ARG);
    assert_int_equal(myo_layer_cost(&s, &lc_bad, 2, &c), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "divisible"));
    assert_int_equal(myo_layer_cost(&s, &lc_dir, 2, &c), MYO_ERR_ARG);

    /* attention */
    const myo_attention_config ac = {8, 2, 0, 0, 0}, ac_bad = {8, 3, 0, 0, 0},
                               ac_tile = {8, 2, 0, -1, 0}, ac_causal = {8, 2, 2, 0, 0};
    assert_int_equal(myo_attention_cost(&ac, MYO_ATTN_TILED, 10, 1, &c), MYO_OK);
    assert_int_equal(myo_attention_cost(NULL, MYO_ATTN_TILED, 10, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_attention_cost(&ac, MYO_ATTN_TILED, 10, 1, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_attention_cost(&ac, MYO_ATTN_TILED, 0, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_attention_cost(&ac, MYO_ATTN_TILED, 10, 0, &c), MYO_ERR_ARG);
    assert_int_equal(myo_attention_cost(&ac, (myo_attention_form)5, 10, 1, &c), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "form"));
    assert_int_equal(myo_attention_cost(&ac_bad, MYO_ATTN_TILED, 10, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_attention_cost(&ac_tile, MYO_ATTN_TILED, 10, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_attention_cost(&ac_causal, MYO_ATTN_TILED, 10, 1, &c), MYO_ERR_ARG);

    /* the SSM */
    const myo_ssm_config sc = {.d_model = 8}, sc_bad = {.d_model = 0},
                         sc_neg = {.d_model = 8, .d_state = -1};
    assert_int_equal(myo_ssm_cost(&sc, 10, 1, &c), MYO_OK);
    assert_int_equal(myo_ssm_cost(NULL, 10, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_cost(&sc, 10, 1, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_cost(&sc, 0, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_cost(&sc, 10, 0, &c), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_cost(&sc_bad, 10, 1, &c), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_cost(&sc_neg, 10, 1, &c), MYO_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_from_arguments_equal_the_trees),
        cmocka_unit_test(test_layer_work_bytes_bound_the_workspace),
        cmocka_unit_test(test_attention_work_bytes_bound_the_workspace),
        cmocka_unit_test(test_ssm_work_bytes_bound_the_workspace),
        cmocka_unit_test(test_solve_work_bytes_bound_the_factor),
        cmocka_unit_test(test_linear_models_scale_with_n),
        cmocka_unit_test(test_attention_scales_quadratically_and_causal_halves),
        cmocka_unit_test(test_projection_flops_are_the_gemms),
        cmocka_unit_test(test_solve_flops_linear_in_nodes_and_channels),
        cmocka_unit_test(test_costs_scale_with_the_batch),
        cmocka_unit_test(test_mixer_names_round_trip),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
