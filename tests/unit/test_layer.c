/* test_layer.c -- the Myosotis layer: the float32 forward and backward
 * against the double reference twin on every tree shape, the reference's
 * gradients against central finite differences, the properties of
 * docs/design.md section 2 (rows of P = M^{-1} convex, the up-chain is a gated
 * recurrence), edge cases and argument errors.
 *
 * Tolerances, |a - b| <= atol + rtol |ref| (the max error is printed on
 * failure and, with MYO_TEST_VERBOSE=1, for every comparison; each test
 * prints its worst case):
 *   float vs double reference, forward and backward: rtol 1e-4, atol 1e-5
 *     (inputs are rounded to float first, so only float arithmetic differs;
 *     values and weights O(1), D <= 12);
 *   reference gradient vs central differences (h 1e-5, double): rtol 1e-6,
 *     atol 1e-8 (truncation h^2 ~ 1e-10, rounding eps / h ~ 1e-11);
 *   rows of P: sums 1 within 1e-5, entries > 0 (exactly 0 off the
 *     ancestors for MYO_DIR_UP, off the descendants for MYO_DIR_DOWN). */
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
#include "support.h"

#define RTOL_F32 1e-4
#define ATOL_F32 1e-5
#define RTOL_FD 1e-6
#define ATOL_FD 1e-8
#define FD_STEP 1e-5

/* ----------------------------------------------------------- fixtures */

typedef enum { CHAIN, KARY2, KARY3, KARY4, HEAP, RANDOM, FOREST, N_TREE_KINDS } tree_kind;
static const char *const tree_names[] = {"chain", "kary2",           "kary3", "kary4",
                                         "heap",  "random-shuffled", "forest"};

/* A tree over n tokens (kary: plus its virtual nodes). */
static myo_tree *make_tree(tree_kind kind, int64_t n, uint64_t seed)
{
    myo_tree *t = NULL;
    int64_t *parent = NULL;
    switch (kind) {
    case CHAIN:
        assert_int_equal(myo_tree_create_chain(n, &t), MYO_OK);
        break;
    case KARY2:
    case KARY3:
    case KARY4:
        assert_int_equal(myo_tree_create_kary(n, 2 + (int)(kind - KARY2), &t), MYO_OK);
        break;
    case HEAP:
        assert_int_equal(myo_tree_create_heap(n, 2, &t), MYO_OK);
        break;
    case RANDOM:
    case FOREST:
        parent = test_alloc((size_t)n, sizeof(int64_t));
        test_random_forest_parents(n, kind == FOREST ? (n < 3 ? n : 3) : 1, seed, parent);
        test_shuffle_labels(parent, n, seed + 1, NULL);
        assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
        free(parent);
        break;
    default:
        fail();
    }
    return t;
}

/* Inputs of one layer call, in double and the same values in float. */
typedef struct {
    myo_tree *t;
    myo_layer_config cfg;
    int64_t batch, n, D;
    double *x, *dy, *w[4]; /* x, dy (batch, n, D); wq, wk, wv, wo (D, D) */
    float *xf, *dyf, *wf[4];
} layer_case;

/* Random x, dy in [-1, 1), weights in [-1, 1) * weight_scale / sqrt(D):
 * scores of order weight_scale^2. */
static layer_case make_case(myo_tree *t, myo_layer_config cfg, int64_t batch, uint64_t seed,
                            double weight_scale)
{
    layer_case c = {t,    cfg,  batch, myo_tree_num_tokens(t), cfg.d_model, NULL, NULL, {0},
                    NULL, NULL, {0}};
    int64_t xs = batch * c.n * c.D, ws = c.D * c.D;
    c.x = test_alloc((size_t)xs, sizeof(double)), c.xf = test_alloc((size_t)xs, sizeof(float));
    c.dy = test_alloc((size_t)xs, sizeof(double)), c.dyf = test_alloc((size_t)xs, sizeof(float));
    test_random_values(c.x, xs, seed);
    test_round_to_f32(c.x, c.xf, xs);
    test_random_values(c.dy, xs, seed + 1);
    test_round_to_f32(c.dy, c.dyf, xs);
    for (int j = 0; j < 4; j++) {
        c.w[j] = test_alloc((size_t)ws, sizeof(double)),
        c.wf[j] = test_alloc((size_t)ws, sizeof(float));
        test_random_values(c.w[j], ws, seed + 2 + (uint64_t)j);
        for (int64_t i = 0; i < ws; i++)
            c.w[j][i] *= weight_scale / sqrt((double)c.D);
        test_round_to_f32(c.w[j], c.wf[j], ws);
    }
    return c;
}

static void free_case(layer_case *c)
{
    free(c->x), free(c->xf), free(c->dy), free(c->dyf);
    for (int j = 0; j < 4; j++)
        free(c->w[j]), free(c->wf[j]);
    myo_tree_destroy(&c->t);
}

static myo_qkvo_weights_f32 weights_f32(const layer_case *c)
{
    return (myo_qkvo_weights_f32){c->wf[0], c->wf[1], c->wf[2], c->wf[3]};
}
static myo_qkvo_weights_f64 weights_f64(const layer_case *c)
{
    return (myo_qkvo_weights_f64){c->w[0], c->w[1], c->w[2], c->w[3]};
}

static const char *dir_name(myo_layer_direction d)
{
    return d == MYO_DIR_UP ? "up" : d == MYO_DIR_DOWN ? "down" : "both";
}

/* The worst comparison of a test, for its summary line. */
typedef struct {
    double max_abs, max_scaled;
    int compared;
} worst_error;

/* Fail unless got is within (atol, rtol) of ref; remember the worst. */
static void compare_f32(const float *got, const double *ref, int64_t count, double atol,
                        double rtol, const char *what, worst_error *worst)
{
    test_assert_close_f32(got, ref, count, atol, rtol, what);
    double *g = test_alloc((size_t)count, sizeof(double));
    test_widen_to_f64(got, g, count);
    double scaled = test_max_scaled_error(g, ref, count, atol, rtol);
    for (int64_t i = 0; i < count; i++)
        if (fabs(g[i] - ref[i]) > worst->max_abs) worst->max_abs = fabs(g[i] - ref[i]);
    if (scaled > worst->max_scaled) worst->max_scaled = scaled;
    worst->compared++;
    free(g);
}

static void report_worst(const char *test, const worst_error *w, double atol, double rtol)
{
    print_message("%s: %d comparisons, worst max |a-b| = %.3e, worst |a-b| / (atol + rtol|ref|) "
                  "= %.3f (atol %.0e, rtol %.0e)\n",
                  test, w->compared, w->max_abs, w->max_scaled, atol, rtol);
}

/* Forward in float (through a workspace) and in double (the reference). */
static void forward_both(const layer_case *c, float *yf, double *yref)
{
    myo_layer_work *ws = NULL;
    myo_qkvo_weights_f32 w32 = weights_f32(c);
    myo_qkvo_weights_f64 w64 = weights_f64(c);
    assert_int_equal(myo_layer_work_create(c->t, &c->cfg, c->batch, &ws), MYO_OK);
    assert_int_equal(myo_layer_forward_f32(ws, &w32, c->batch, c->xf, yf), MYO_OK);
    assert_int_equal(myo_layer_forward_ref(c->t, &c->cfg, &w64, c->batch, c->x, yref), MYO_OK);
    myo_layer_work_destroy(&ws);
    assert_null(ws);
}

/* Gradients in float and double for dy; arrays: dx (batch n D), then the
 * four (D, D) weight gradients, in one buffer each. */
static void backward_both(const layer_case *c, float *gf, double *gref)
{
    const int64_t xs = c->batch * c->n * c->D, ws2 = c->D * c->D;
    myo_layer_work *ws = NULL;
    myo_qkvo_weights_f32 w32 = weights_f32(c);
    myo_qkvo_weights_f64 w64 = weights_f64(c);
    float *y = test_alloc((size_t)xs, sizeof(float));
    myo_qkvo_grads_f32 g32 = {gf + xs, gf + xs + ws2, gf + xs + 2 * ws2, gf + xs + 3 * ws2};
    myo_qkvo_grads_f64 g64 = {gref + xs, gref + xs + ws2, gref + xs + 2 * ws2, gref + xs + 3 * ws2};
    assert_int_equal(myo_layer_work_create(c->t, &c->cfg, c->batch, &ws), MYO_OK);
    assert_int_equal(myo_layer_forward_f32(ws, &w32, c->batch, c->xf, y), MYO_OK);
    assert_int_equal(myo_layer_backward_f32(ws, &w32, c->batch, c->dyf, gf, &g32), MYO_OK);
    assert_int_equal(myo_layer_backward_ref(c->t, &c->cfg, &w64, c->batch, c->x, c->dy, gref, &g64),
                     MYO_OK);
    myo_layer_work_destroy(&ws);
    free(y);
}

static const int64_t token_counts[] = {1, 2, 7, 33};
static const int64_t widths_heads[][2] = {{4, 1},  {4, 2},  {8, 1}, {8, 2},
                                          {12, 1}, {12, 2}, {12, 3}};
#define COUNT(a) ((int)(sizeof(a) / sizeof(a[0])))

/* ------------------------------------------------- against the reference */

static void test_layer_forward_matches_reference_on_every_tree(void **state)
{
    (void)state;
    worst_error worst = {0};
    uint64_t seed = 100;
    for (int kind = 0; kind < N_TREE_KINDS; kind++)
        for (int in = 0; in < COUNT(token_counts); in++)
            for (int iw = 0; iw < COUNT(widths_heads); iw++)
                for (int dir = MYO_DIR_BOTH; dir <= MYO_DIR_DOWN; dir++)
                    for (int64_t batch = 1; batch <= 3; batch += 2, seed += 10) {
                        myo_layer_config cfg = {widths_heads[iw][0], widths_heads[iw][1],
                                                (myo_layer_direction)dir};
                        layer_case c = make_case(make_tree((tree_kind)kind, token_counts[in], seed),
                                                 cfg, batch, seed, 2.0);
                        int64_t count = batch * c.n * c.D;
                        float *yf = test_alloc((size_t)count, sizeof(float));
                        double *yref = test_alloc((size_t)count, sizeof(double));
                        forward_both(&c, yf, yref);
                        char what[160];
                        snprintf(what, sizeof what, "forward %s n=%lld D=%lld H=%lld %s batch=%lld",
                                 tree_names[kind], (long long)c.n, (long long)cfg.d_model,
                                 (long long)cfg.heads, dir_name(cfg.direction), (long long)batch);
                        compare_f32(yf, yref, count, ATOL_F32, RTOL_F32, what, &worst);
                        free(yf), free(yref);
                        free_case(&c);
                    }
    report_worst("forward f32 vs reference", &worst, ATOL_F32, RTOL_F32);
}

static void test_layer_backward_matches_reference_on_every_tree(void **state)
{
    (void)state;
    worst_error worst = {0};
    uint64_t seed = 7000;
    static const char *const part[] = {"dx", "dWq", "dWk", "dWv", "dWo"};
    for (int kind = 0; kind < N_TREE_KINDS; kind++)
        for (int in = 1; in < COUNT(token_counts); in++)
            for (int iw = 0; iw < COUNT(widths_heads); iw += 2)
                for (int dir = MYO_DIR_BOTH; dir <= MYO_DIR_DOWN; dir++, seed += 10) {
                    int64_t batch = 1 + (int64_t)(seed / 10 % 2) * 2; /* 1 or 3 */
                    myo_layer_config cfg = {widths_heads[iw][0], widths_heads[iw][1],
                                            (myo_layer_direction)dir};
                    layer_case c = make_case(make_tree((tree_kind)kind, token_counts[in], seed),
                                             cfg, batch, seed, 2.0);
                    const int64_t xs = batch * c.n * c.D, ws2 = c.D * c.D, total = xs + 4 * ws2;
                    float *gf = test_alloc((size_t)total, sizeof(float));
                    double *gref = test_alloc((size_t)total, sizeof(double));
                    backward_both(&c, gf, gref);
                    for (int j = 0; j < 5; j++) {
                        int64_t at = j == 0 ? 0 : xs + (j - 1) * ws2, count = j == 0 ? xs : ws2;
                        char what[160];
                        snprintf(what, sizeof what,
                                 "backward %s %s n=%lld D=%lld H=%lld %s batch=%lld", part[j],
                                 tree_names[kind], (long long)c.n, (long long)cfg.d_model,
                                 (long long)cfg.heads, dir_name(cfg.direction), (long long)batch);
                        compare_f32(gf + at, gref + at, count, ATOL_F32, RTOL_F32, what, &worst);
                    }
                    free(gf), free(gref);
                    free_case(&c);
                }
    report_worst("backward f32 vs reference", &worst, ATOL_F32, RTOL_F32);
}

/* -------------------------------------- reference gradients vs differences */

typedef struct {
    const layer_case *c;
    double *y; /* (batch, n, D) scratch */
} fd_ctx;

/* loss = sum(dy .* y(x, W)): its gradients are backward's outputs for dy. */
static double fd_loss(void *ctx)
{
    fd_ctx *f = ctx;
    myo_qkvo_weights_f64 w = weights_f64(f->c);
    int64_t count = f->c->batch * f->c->n * f->c->D;
    assert_int_equal(myo_layer_forward_ref(f->c->t, &f->c->cfg, &w, f->c->batch, f->c->x, f->y),
                     MYO_OK);
    double s = 0;
    for (int64_t i = 0; i < count; i++)
        s += f->c->dy[i] * f->y[i];
    return s;
}

static void check_reference_gradients(myo_tree *t, myo_layer_direction dir, const char *name,
                                      uint64_t seed)
{
    myo_layer_config cfg = {4, 2, dir};
    layer_case c = make_case(t, cfg, 2, seed, 2.0);
    const int64_t xs = c.batch * c.n * c.D, ws2 = c.D * c.D;
    double *dx = test_alloc((size_t)xs, sizeof(double)), *dw[4];
    for (int j = 0; j < 4; j++)
        dw[j] = test_alloc((size_t)ws2, sizeof(double));
    myo_qkvo_weights_f64 w = weights_f64(&c);
    myo_qkvo_grads_f64 g = {dw[0], dw[1], dw[2], dw[3]};
    assert_int_equal(myo_layer_backward_ref(t, &cfg, &w, c.batch, c.x, c.dy, dx, &g), MYO_OK);

    fd_ctx f = {&c, test_alloc((size_t)xs, sizeof(double))};
    static const char *const wname[] = {"Wq", "Wk", "Wv", "Wo"};
    char what[160];
    snprintf(what, sizeof what, "reference dx, %s, %s", name, dir_name(dir));
    test_check_gradient(what, c.x, xs, 1, dx, fd_loss, &f, FD_STEP, ATOL_FD, RTOL_FD);
    for (int j = 0; j < 4; j++) {
        snprintf(what, sizeof what, "reference d%s, %s, %s", wname[j], name, dir_name(dir));
        test_check_gradient(what, c.w[j], ws2, 1, dw[j], fd_loss, &f, FD_STEP, ATOL_FD, RTOL_FD);
    }
    free(f.y), free(dx);
    for (int j = 0; j < 4; j++)
        free(dw[j]);
    free_case(&c);
}

static void test_layer_reference_gradients_match_finite_differences(void **state)
{
    (void)state;
    for (int dir = MYO_DIR_BOTH; dir <= MYO_DIR_DOWN; dir++) {
        /* 7 tokens in a binary hierarchy: virtual nodes below virtual nodes. */
        check_reference_gradients(make_tree(KARY2, 7, 1), (myo_layer_direction)dir,
                                  "kary2 n=7 (6 virtual nodes)", 300 + (uint64_t)dir);
        check_reference_gradients(make_tree(RANDOM, 9, 2), (myo_layer_direction)dir,
                                  "random shuffled n=9", 400 + (uint64_t)dir);
    }
    print_message("reference gradients vs central differences (h %.0e): all within atol %.0e + "
                  "rtol %.0e (MYO_TEST_VERBOSE=1 prints each max error)\n",
                  FD_STEP, ATOL_FD, RTOL_FD);
}

/* ------------------------------------------------------------ properties */

/* Mark anc (N, N): anc[i][j] = 1 when j is i or an ancestor of i. */
static void ancestors(const myo_tree *t, char *anc)
{
    const int64_t N = myo_tree_num_nodes(t);
    const int64_t *parent = myo_tree_parents(t);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = i; j >= 0; j = parent[j])
            anc[i * N + j] = 1;
}

/* The coefficients the layer builds from random q, k; then P_h = M_h^{-1}
 * through the multi-head solver: V = 1 gives 1, V = I gives the rows of
 * P_h, positive where the direction lets a node read. */
static void check_mixing_rows(myo_tree *t, myo_layer_direction dir, const char *name, uint64_t seed)
{
    const int64_t N = myo_tree_num_nodes(t), D = 12, H = 3;
    myo_layer_config cfg = {D, H, dir};
    double *qd = test_alloc((size_t)(N * D), sizeof(double)),
           *kd = test_alloc((size_t)(N * D), sizeof(double));
    float *q = test_alloc((size_t)(N * D), sizeof(float)),
          *k = test_alloc((size_t)(N * D), sizeof(float));
    test_random_values(qd, N * D, seed);
    test_random_values(kd, N * D, seed + 1);
    for (int64_t i = 0; i < N * D; i++)
        q[i] = (float)(2 * qd[i]), k[i] = (float)(2 * kd[i]);
    float *diag = test_alloc((size_t)(N * H), sizeof(float)),
          *up = test_alloc((size_t)(N * H), sizeof(float));
    float *down = test_alloc((size_t)(N * H), sizeof(float));
    assert_int_equal(myo_layer_coefficients_f32(t, &cfg, q, k, diag, up, down, NULL, NULL), MYO_OK);
    myo_factor *f = NULL;
    assert_int_equal(myo_factor_create_heads_f32(t, H, diag, up, down, &f), MYO_OK);

    /* V = 1: every row sums to 1. */
    float *ones = test_alloc((size_t)(N * H), sizeof(float));
    double *one_ref = test_alloc((size_t)(N * H), sizeof(double));
    for (int64_t i = 0; i < N * H; i++)
        ones[i] = 1, one_ref[i] = 1;
    assert_int_equal(myo_solve_f32(f, MYO_OP_N, ones, ones, 1), MYO_OK);
    char what[160];
    snprintf(what, sizeof what, "P 1 = 1, %s, %s", name, dir_name(dir));
    test_assert_close_f32(ones, one_ref, N * H, 1e-5, 0, what);

    /* V = I in every head: rows of P_h, (N, H N). */
    float *p = test_alloc((size_t)(N * H * N), sizeof(float));
    for (int64_t i = 0; i < N; i++)
        for (int64_t h = 0; h < H; h++)
            p[i * H * N + h * N + i] = 1;
    assert_int_equal(myo_solve_f32(f, MYO_OP_N, p, p, N), MYO_OK);
    char *anc = test_alloc((size_t)(N * N), 1);
    ancestors(t, anc);
    for (int64_t i = 0; i < N; i++)
        for (int64_t h = 0; h < H; h++) {
            double sum = 0;
            for (int64_t j = 0; j < N; j++) {
                float v = p[i * H * N + h * N + j];
                int reads = dir == MYO_DIR_UP     ? anc[i * N + j]
                            : dir == MYO_DIR_DOWN ? anc[j * N + i]
                                                  : 1;
                if (reads && !(v > 0))
                    fail_msg("%s %s: P_%lld[%lld][%lld] = %g, expected > 0", name, dir_name(dir),
                             (long long)h, (long long)i, (long long)j, v);
                if (!reads && v != 0)
                    fail_msg("%s %s: P_%lld[%lld][%lld] = %g, expected exactly 0 (node %lld "
                             "cannot read node %lld in this direction)",
                             name, dir_name(dir), (long long)h, (long long)i, (long long)j, v,
                             (long long)i, (long long)j);
                sum += v;
            }
            if (!(fabs(sum - 1) <= 1e-5))
                fail_msg("%s %s: row %lld of P_%lld sums to %.9f", name, dir_name(dir),
                         (long long)i, (long long)h, sum);
        }
    myo_factor_destroy(&f);
    free(qd), free(kd), free(q), free(k), free(diag), free(up), free(down), free(ones);
    free(one_ref), free(p), free(anc);
    myo_tree_destroy(&t);
}

static void test_layer_mixing_rows_are_positive_and_sum_to_one(void **state)
{
    (void)state;
    for (int dir = MYO_DIR_BOTH; dir <= MYO_DIR_DOWN; dir++) {
        check_mixing_rows(make_tree(KARY2, 33, 1), (myo_layer_direction)dir, "kary2 n=33", 10);
        check_mixing_rows(make_tree(KARY4, 20, 1), (myo_layer_direction)dir, "kary4 n=20", 20);
        check_mixing_rows(make_tree(RANDOM, 40, 5), (myo_layer_direction)dir, "random n=40", 30);
    }
}

/* A chain with direction up is the gated recurrence y_i = (1 - g_i) v_i +
 * g_i y_{i-1}, g_i = w_i / (1 + w_i), w_i = softplus(<q_i, k_{i-1}> / sqrt d);
 * with direction down the same runs backwards with <q_i, k_{i+1}>. */
static void test_layer_chain_is_a_gated_recurrence(void **state)
{
    (void)state;
    const int64_t n = 50, D = 8, H = 2, d = D / H, B = 2;
    for (int dir = MYO_DIR_UP; dir <= MYO_DIR_DOWN; dir++) {
        myo_layer_config cfg = {D, H, (myo_layer_direction)dir};
        layer_case c = make_case(make_tree(CHAIN, n, 0), cfg, B, 77 + (uint64_t)dir, 2.0);
        for (int64_t i = 0; i < D * D; i++)
            c.w[3][i] = c.wf[3][i] = (i % (D + 1)) == 0; /* Wo = I */
        float *y = test_alloc((size_t)(B * n * D), sizeof(float));
        double *ref = test_alloc((size_t)(B * n * D), sizeof(double));
        double *q = test_alloc((size_t)(n * D), sizeof(double)),
               *k = test_alloc((size_t)(n * D), sizeof(double));
        double *v = test_alloc((size_t)(n * D), sizeof(double));
        for (int64_t b = 0; b < B; b++) {
            const double *x = c.x + b * n * D;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < D; j++) {
                    q[i * D + j] = k[i * D + j] = v[i * D + j] = 0;
                    for (int64_t l = 0; l < D; l++) {
                        q[i * D + j] += x[i * D + l] * c.w[0][l * D + j];
                        k[i * D + j] += x[i * D + l] * c.w[1][l * D + j];
                        v[i * D + j] += x[i * D + l] * c.w[2][l * D + j];
                    }
                }
            double *yb = ref + b * n * D;
            for (int64_t step = 0; step < n; step++) {
                int64_t i = dir == MYO_DIR_UP ? step : n - 1 - step,
                        prev = dir == MYO_DIR_UP ? i - 1 : i + 1;
                for (int64_t h = 0; h < H; h++) {
                    double g = 0;
                    if (prev >= 0 && prev < n) {
                        double s = 0;
                        for (int64_t l = h * d; l < (h + 1) * d; l++)
                            s += q[i * D + l] * k[prev * D + l];
                        double w = log1p(exp(s / sqrt((double)d)));
                        g = w / (1 + w);
                    }
                    for (int64_t l = h * d; l < (h + 1) * d; l++)
                        yb[i * D + l] = (1 - g) * v[i * D + l] + (g > 0 ? g * yb[prev * D + l] : 0);
                }
            }
        }
        myo_layer_work *ws = NULL;
        myo_qkvo_weights_f32 w = weights_f32(&c);
        assert_int_equal(myo_layer_work_create(c.t, &cfg, B, &ws), MYO_OK);
        assert_int_equal(myo_layer_forward_f32(ws, &w, B, c.xf, y), MYO_OK);
        test_assert_close_f32(y, ref, B * n * D, ATOL_F32, RTOL_F32,
                              dir == MYO_DIR_UP ? "chain up vs gated recurrence"
                                                : "chain down vs reversed gated recurrence");
        myo_layer_work_destroy(&ws);
        free(y), free(ref), free(q), free(k), free(v);
        free_case(&c);
    }
}

/* ------------------------------------------------------------ edge cases */

/* One token: M = I, so y = x Wv Wo; the scores get no gradient. */
static void test_layer_single_token_is_the_value_projection(void **state)
{
    (void)state;
    const int64_t D = 6, H = 3;
    for (int kind = CHAIN; kind <= KARY4; kind++) {
        layer_case c =
            make_case(make_tree((tree_kind)kind, 1, 0), (myo_layer_config){D, H, 0}, 1, 55, 2.0);
        double ref[6] = {0}, xv[6] = {0};
        for (int64_t j = 0; j < D; j++)
            for (int64_t l = 0; l < D; l++)
                xv[j] += c.x[l] * c.w[2][l * D + j];
        for (int64_t j = 0; j < D; j++)
            for (int64_t l = 0; l < D; l++)
                ref[j] += xv[l] * c.w[3][l * D + j];
        float y[6], dx[6], dwf[4][36];
        myo_layer_work *ws = NULL;
        myo_qkvo_weights_f32 w = weights_f32(&c);
        myo_qkvo_grads_f32 g = {dwf[0], dwf[1], dwf[2], dwf[3]};
        assert_int_equal(myo_layer_work_create(c.t, &c.cfg, 1, &ws), MYO_OK);
        assert_int_equal(myo_layer_forward_f32(ws, &w, 1, c.xf, y), MYO_OK);
        test_assert_close_f32(y, ref, D, ATOL_F32, RTOL_F32, "n = 1: y = x Wv Wo");
        assert_int_equal(myo_layer_backward_f32(ws, &w, 1, c.dyf, dx, &g), MYO_OK);
        for (int64_t i = 0; i < D * D; i++) {
            assert_true(dwf[0][i] == 0.0f);
            assert_true(dwf[1][i] == 0.0f);
        }
        myo_layer_work_destroy(&ws);
        free_case(&c);
    }
}

/* A batch is its sequences run one by one; a workspace is reused across
 * calls and batch sizes; backward leaves the cache intact. */
static void test_layer_batch_and_workspace_reuse(void **state)
{
    (void)state;
    const int64_t B = 3;
    myo_layer_config cfg = {8, 2, MYO_DIR_BOTH};
    layer_case c = make_case(make_tree(KARY3, 13, 0), cfg, B, 900, 2.0);
    const int64_t n = c.n, D = c.D, seq = n * D;
    float *y = test_alloc((size_t)(B * seq), sizeof(float)),
          *y1 = test_alloc((size_t)seq, sizeof(float));
    float *dx = test_alloc((size_t)(B * seq), sizeof(float)),
          *dx2 = test_alloc((size_t)(B * seq), sizeof(float));
    float *g1 = test_alloc((size_t)(4 * D * D), sizeof(float)),
          *g2 = test_alloc((size_t)(4 * D * D), sizeof(float));
    double *yd = test_alloc((size_t)seq, sizeof(double));
    myo_qkvo_grads_f32 grads1 = {g1, g1 + D * D, g1 + 2 * D * D, g1 + 3 * D * D};
    myo_qkvo_grads_f32 grads2 = {g2, g2 + D * D, g2 + 2 * D * D, g2 + 3 * D * D};
    myo_qkvo_weights_f32 w = weights_f32(&c);
    myo_layer_work *ws = NULL;
    assert_int_equal(myo_layer_work_create(c.t, &cfg, B, &ws), MYO_OK);

    assert_int_equal(myo_layer_forward_f32(ws, &w, B, c.xf, y), MYO_OK);
    assert_int_equal(myo_layer_backward_f32(ws, &w, B, c.dyf, dx, &grads1), MYO_OK);
    assert_int_equal(myo_layer_backward_f32(ws, &w, B, c.dyf, dx2, &grads2), MYO_OK);
    assert_memory_equal(dx, dx2, (size_t)(B * seq) * sizeof(float));
    assert_memory_equal(g1, g2, (size_t)(4 * D * D) * sizeof(float));
    size_t bytes = myo_layer_work_bytes(ws);

    /* Each sequence alone, through the same workspace with batch 1. */
    for (int64_t b = 0; b < B; b++) {
        assert_int_equal(myo_layer_forward_f32(ws, &w, 1, c.xf + b * seq, y1), MYO_OK);
        test_widen_to_f64(y + b * seq, yd, seq);
        test_assert_close_f32(y1, yd, seq, 1e-6, 1e-6, "sequence alone vs in a batch of 3");
    }
    /* The backward of a batch-1 forward refuses the old batch size. */
    assert_int_equal(myo_layer_backward_f32(ws, &w, B, c.dyf, dx, &grads1), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "last forward"));
    /* Steady state allocates nothing more. */
    assert_int_equal(myo_layer_forward_f32(ws, &w, B, c.xf, y), MYO_OK);
    assert_int_equal(myo_layer_backward_f32(ws, &w, B, c.dyf, dx2, &grads2), MYO_OK);
    assert_memory_equal(dx, dx2, (size_t)(B * seq) * sizeof(float));
    assert_true(myo_layer_work_bytes(ws) == bytes);
    myo_layer_work_destroy(&ws);
    free(y), free(y1), free(dx), free(dx2), free(g1), free(g2), free(yd);
    free_case(&c);
}

/* The workspace is O(N D) per sequence: doubling n doubles it. */
static void test_layer_workspace_memory_is_linear_in_nodes(void **state)
{
    (void)state;
    myo_layer_config cfg = {64, 8, MYO_DIR_BOTH};
    size_t bytes[2];
    for (int j = 0; j < 2; j++) {
        myo_tree *t = make_tree(KARY2, 4096 << j, 0);
        myo_layer_work *ws = NULL;
        assert_int_equal(myo_layer_work_create(t, &cfg, 2, &ws), MYO_OK);
        bytes[j] = myo_layer_work_bytes(ws);
        myo_layer_work_destroy(&ws);
        myo_tree_destroy(&t);
    }
    double ratio = (double)bytes[1] / (double)bytes[0];
    print_message("workspace, D = 64, H = 8, batch 2, kary2: %zu bytes at n = 4096, ratio %.3f "
                  "for 2n\n",
                  bytes[0], ratio);
    assert_true(ratio > 1.9 && ratio < 2.1);
}

/* Wq and Wk scaled by 1e4: scores up to ~1e7, softplus saturated both
 * ways.  Nothing may fail, overflow or turn NaN, and with Wv = Wo = I each
 * output must stay within the values' range (rows of P are non-negative
 * and sum to at most 1).  Where float can still represent the layer it
 * must match the reference, in every direction (the solver takes the
 * weights in Laplacian form, never a float diagonal of size w that would
 * lose the identity): the forward and the gradients that do not pass
 * through the scores (dWv, dWo).  Gradients through the scores (dx, dWq, dWk) are
 * differences of outputs equal to O(1/w): rounding noise in float, checked
 * for finiteness only. */
static void test_layer_extreme_scores_stay_finite(void **state)
{
    (void)state;
    worst_error worst = {0};
    const tree_kind kinds[] = {KARY2, RANDOM, CHAIN};
    for (int ik = 0; ik < COUNT(kinds); ik++)
        for (int dir = MYO_DIR_BOTH; dir <= MYO_DIR_DOWN; dir++) {
            myo_layer_config cfg = {8, 2, (myo_layer_direction)dir};
            layer_case c = make_case(make_tree(kinds[ik], 33, 3), cfg, 2, 1234, 1.0);
            const int64_t xs = c.batch * c.n * c.D, ws2 = c.D * c.D, total = xs + 4 * ws2;
            for (int64_t i = 0; i < ws2; i++) {
                c.w[0][i] *= 1e4, c.w[1][i] *= 1e4;
                c.w[2][i] = c.w[3][i] = i % (c.D + 1) == 0; /* Wv = Wo = I */
            }
            for (int j = 0; j < 4; j++)
                test_round_to_f32(c.w[j], c.wf[j], ws2);
            float *yf = test_alloc((size_t)xs, sizeof(float)),
                  *gf = test_alloc((size_t)total, sizeof(float));
            double *yref = test_alloc((size_t)xs, sizeof(double)),
                   *gref = test_alloc((size_t)total, sizeof(double));
            forward_both(&c, yf, yref);
            backward_both(&c, gf, gref);
            for (int64_t i = 0; i < total; i++)
                assert_true(isfinite(gf[i]));
            for (int64_t b = 0; b < c.batch; b++)
                for (int64_t j = 0; j < c.D; j++) {
                    double hi = 0; /* pooled rows are means: the tokens bound them */
                    for (int64_t i = 0; i < c.n; i++)
                        hi = fmax(hi, fabs(c.x[(b * c.n + i) * c.D + j]));
                    for (int64_t i = 0; i < c.n; i++) {
                        float v = yf[(b * c.n + i) * c.D + j];
                        if (!(fabsf(v) <= hi * (1 + 1e-5)))
                            fail_msg("extreme scores %s %s: y[%lld][%lld][%lld] = %g outside "
                                     "[-%g, %g]",
                                     tree_names[kinds[ik]], dir_name(cfg.direction), (long long)b,
                                     (long long)i, (long long)j, v, hi, hi);
                    }
                }
            char what[160];
            snprintf(what, sizeof what, "extreme scores, forward, %s, %s", tree_names[kinds[ik]],
                     dir_name(cfg.direction));
            compare_f32(yf, yref, xs, ATOL_F32, RTOL_F32, what, &worst);
            snprintf(what, sizeof what, "extreme scores, dWv and dWo, %s, %s",
                     tree_names[kinds[ik]], dir_name(cfg.direction));
            compare_f32(gf + xs + 2 * ws2, gref + xs + 2 * ws2, 2 * ws2, ATOL_F32, RTOL_F32, what,
                        &worst);
            free(yf), free(gf), free(yref), free(gref);
            free_case(&c);
        }
    report_worst("extreme scores, f32 vs reference", &worst, ATOL_F32, RTOL_F32);
}

/* ---------------------------------------------------------------- errors */

static void test_layer_rejects_heads_not_dividing_d_model(void **state)
{
    (void)state;
    myo_tree *t = make_tree(CHAIN, 4, 0);
    myo_layer_config cfg = {10, 3, MYO_DIR_BOTH};
    myo_layer_work *ws = (myo_layer_work *)&cfg; /* must come back NULL */
    assert_int_equal(myo_layer_work_create(t, &cfg, 1, &ws), MYO_ERR_ARG);
    assert_null(ws);
    assert_non_null(strstr(myo_error_detail(), "d_model = 10 is not divisible by heads = 3"));
    assert_int_equal(myo_layer_config_check(&cfg), MYO_ERR_ARG);
    double w[100] = {0}, x[40] = {0}, y[40];
    myo_qkvo_weights_f64 w64 = {w, w, w, w};
    assert_int_equal(myo_layer_forward_ref(t, &cfg, &w64, 1, x, y), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "not divisible"));
    myo_tree_destroy(&t);
}

static void test_layer_rejects_bad_arguments(void **state)
{
    (void)state;
    myo_tree *t = make_tree(KARY2, 5, 0);
    const myo_layer_config good = {4, 2, MYO_DIR_BOTH};
    myo_layer_work *ws = NULL;
    /* Configurations. */
    myo_layer_config bad[] = {{0, 1, MYO_DIR_BOTH},
                              {4, 0, MYO_DIR_BOTH},
                              {4, -2, MYO_DIR_BOTH},
                              {4, 2, (myo_layer_direction)7}};
    for (int j = 0; j < COUNT(bad); j++) {
        assert_int_equal(myo_layer_config_check(&bad[j]), MYO_ERR_ARG);
        assert_int_equal(myo_layer_work_create(t, &bad[j], 1, &ws), MYO_ERR_ARG);
        assert_null(ws);
    }
    assert_int_equal(myo_layer_config_check(NULL), MYO_ERR_ARG);
    assert_int_equal(myo_layer_config_check(&good), MYO_OK);
    assert_int_equal(myo_layer_work_create(NULL, &good, 1, &ws), MYO_ERR_ARG);
    assert_int_equal(myo_layer_work_create(t, NULL, 1, &ws), MYO_ERR_ARG);
    assert_int_equal(myo_layer_work_create(t, &good, 0, &ws), MYO_ERR_ARG);
    assert_int_equal(myo_layer_work_create(t, &good, 1, NULL), MYO_ERR_ARG);

    /* Passes. */
    float w[16] = {0}, x[2 * 5 * 4] = {0}, y[2 * 5 * 4], dw[4][16];
    myo_qkvo_weights_f32 wt = {w, w, w, w}, holey = {w, NULL, w, w};
    myo_qkvo_grads_f32 g = {dw[0], dw[1], dw[2], dw[3]}, g_holey = {dw[0], dw[1], NULL, dw[3]};
    assert_int_equal(myo_layer_work_create(t, &good, 2, &ws), MYO_OK);
    assert_int_equal(myo_layer_backward_f32(ws, &wt, 1, x, y, &g), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "no successful forward"));
    assert_int_equal(myo_layer_forward_f32(ws, &wt, 0, x, y), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "batch = 0"));
    assert_int_equal(myo_layer_forward_f32(ws, &wt, 3, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_f32(NULL, &wt, 1, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_f32(ws, NULL, 1, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_f32(ws, &holey, 1, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_f32(ws, &wt, 1, NULL, y), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_f32(ws, &wt, 1, x, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_f32(ws, &wt, 2, x, y), MYO_OK);
    assert_int_equal(myo_layer_backward_f32(ws, &wt, 2, NULL, y, &g), MYO_ERR_ARG);
    assert_int_equal(myo_layer_backward_f32(ws, &wt, 2, x, NULL, &g), MYO_ERR_ARG);
    assert_int_equal(myo_layer_backward_f32(ws, &wt, 2, x, y, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_layer_backward_f32(ws, &wt, 2, x, y, &g_holey), MYO_ERR_ARG);
    assert_int_equal(myo_layer_backward_f32(ws, &wt, 2, x, y, &g), MYO_OK);
    myo_layer_work_destroy(&ws);
    myo_layer_work_destroy(&ws); /* NULL-safe */
    myo_layer_work_destroy(NULL);

    /* The coefficient builder. */
    float q[9 * 4] = {0}, c[9 * 2];
    assert_int_equal(myo_layer_coefficients_f32(NULL, &good, q, q, c, c, c, NULL, NULL),
                     MYO_ERR_ARG);
    assert_int_equal(myo_layer_coefficients_f32(t, &good, NULL, q, c, c, c, NULL, NULL),
                     MYO_ERR_ARG);
    assert_int_equal(myo_layer_coefficients_f32(t, &good, q, q, c, NULL, c, NULL, NULL),
                     MYO_ERR_ARG);

    /* The reference. */
    double wd[16] = {0}, xd[2 * 5 * 4] = {0}, yd[2 * 5 * 4], dwd[4][16];
    myo_qkvo_weights_f64 w64 = {wd, wd, wd, wd};
    myo_qkvo_grads_f64 g64 = {dwd[0], dwd[1], dwd[2], dwd[3]};
    assert_int_equal(myo_layer_forward_ref(t, &good, &w64, 0, xd, yd), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_ref(NULL, &good, &w64, 1, xd, yd), MYO_ERR_ARG);
    assert_int_equal(myo_layer_forward_ref(t, &good, &w64, 1, NULL, yd), MYO_ERR_ARG);
    assert_int_equal(myo_layer_backward_ref(t, &good, &w64, 1, xd, NULL, yd, &g64), MYO_ERR_ARG);
    assert_int_equal(myo_layer_backward_ref(t, &good, &w64, 2, xd, xd, yd, &g64), MYO_OK);
    myo_tree_destroy(&t);
    t = make_tree(KARY2, 4096, 0); /* 8191 nodes: too many for dense matrices */
    assert_int_equal(myo_layer_forward_ref(t, &good, &w64, 1, xd, yd), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "dense"));
    myo_tree_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_forward_matches_reference_on_every_tree),
        cmocka_unit_test(test_layer_backward_matches_reference_on_every_tree),
        cmocka_unit_test(test_layer_reference_gradients_match_finite_differences),
        cmocka_unit_test(test_layer_mixing_rows_are_positive_and_sum_to_one),
        cmocka_unit_test(test_layer_chain_is_a_gated_recurrence),
        cmocka_unit_test(test_layer_single_token_is_the_value_projection),
        cmocka_unit_test(test_layer_batch_and_workspace_reuse),
        cmocka_unit_test(test_layer_workspace_memory_is_linear_in_nodes),
        cmocka_unit_test(test_layer_extreme_scores_stay_finite),
        cmocka_unit_test(test_layer_rejects_heads_not_dividing_d_model),
        cmocka_unit_test(test_layer_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
