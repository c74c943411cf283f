/* test_attention.c -- dense softmax attention: both float forms
 * (materialized, tiled) against the double reference twin, the twin's
 * gradients against central finite differences, causality, edge cases.
 *
 * Tolerances, |a - b| <= atol + rtol |ref| elementwise, the max errors
 * printed on failure or with MYO_TEST_VERBOSE=1 (each sweep also prints
 * one summary line of its worst errors):
 *  - float against the double reference: rtol 1e-4 plus an absolute
 *    floor of 1e-5 max|ref| over the array (norm-wise, as in HPCG: a
 *    weight gradient sums B n terms and its small entries come from
 *    cancellation);
 *  - the reference's gradients against central differences of its own
 *    forward (h = 1e-5, double): rtol 1e-6, atol 1e-8 (the truncation
 *    error is O(h^2), the rounding error O(eps |loss| / h) ~ 1e-10);
 *  - extreme scores (max |S| ~ 6e4): float rounding moves each score by
 *    about eps_f |S|, and the softmax's gradient is that sensitive: the
 *    gradients' floor is eps_f max|S| (~8e-3), Y's 1e-4 max|Y|;
 *  - causality: bit-identical rows, no tolerance. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myosotis.h"
#include "support.h"

#define F32_RTOL 1e-4
#define F32_ATOL_NORM 1e-5 /* times max|ref| of the array compared */
#define EXTREME_Y_ATOL_NORM 1e-4
#define FD_H 1e-5
#define FD_RTOL 1e-6
#define FD_ATOL 1e-8

/* ------------------------------------------------------------ problems */

/* Random attention inputs: x (B, n, D) and g = dL/dY (B, n, D) uniform in
 * [-1, 1); the weights uniform in [-s, s) / sqrt(D), which makes the
 * scores' standard deviation about (s / 3)^2 (s = 3: scores of order 1,
 * a softmax far from uniform and far from one-hot). */
typedef struct {
    myo_attention_config cfg;
    int64_t n, batch, D;
    double *x, *w[4], *g; /* w: wq, wk, wv, wo */
} problem;

static problem make_problem(int64_t D, int64_t H, int64_t n, int64_t batch, int causal,
                            uint64_t seed)
{
    problem p = {{D, H, causal, 0, 0}, n, batch, D, NULL, {NULL}, NULL};
    int64_t count = batch * n * D;
    p.x = test_alloc((size_t)count, sizeof(double));
    p.g = test_alloc((size_t)count, sizeof(double));
    test_random_values(p.x, count, seed);
    test_random_values(p.g, count, seed + 1);
    for (int i = 0; i < 4; i++) {
        p.w[i] = test_alloc((size_t)(D * D), sizeof(double));
        test_random_values(p.w[i], D * D, seed + 2 + (uint64_t)i);
        for (int64_t j = 0; j < D * D; j++)
            p.w[i][j] *= 3.0 / sqrt((double)D);
    }
    return p;
}

static void free_problem(problem *p)
{
    free(p->x), free(p->g);
    for (int i = 0; i < 4; i++)
        free(p->w[i]);
}

static int64_t io_count(const problem *p)
{
    return p->batch * p->n * p->D;
}

static float *to_f32(const double *a, int64_t count)
{
    float *f = test_alloc((size_t)count, sizeof(float));
    for (int64_t i = 0; i < count; i++)
        f[i] = (float)a[i];
    return f;
}

/* Results of one pass: y, and with gradients dx (B, n, D), dw[4] (D, D). */
typedef struct {
    double *y, *dx, *dw[4];
} result;

static result new_result(const problem *p)
{
    result r = {test_alloc((size_t)io_count(p), sizeof(double)),
                test_alloc((size_t)io_count(p), sizeof(double)),
                {NULL}};
    for (int i = 0; i < 4; i++)
        r.dw[i] = test_alloc((size_t)(p->D * p->D), sizeof(double));
    return r;
}

static void free_result(result *r)
{
    free(r->y), free(r->dx);
    for (int i = 0; i < 4; i++)
        free(r->dw[i]);
}

static void run_ref(const problem *p, int grads, result *r)
{
    myo_qkvo_weights_f64 w = {p->w[0], p->w[1], p->w[2], p->w[3]};
    assert_int_equal(myo_attention_forward_ref(&p->cfg, p->n, p->batch, &w, p->x, r->y), MYO_OK);
    if (!grads) return;
    myo_qkvo_grads_f64 g = {r->dw[0], r->dw[1], r->dw[2], r->dw[3]};
    assert_int_equal(myo_attention_backward_ref(&p->cfg, p->n, p->batch, &w, p->x, p->g, r->dx, &g),
                     MYO_OK);
}

/* One float form with tiles tq x tk (0: default), converted to double. */
static void run_f32(const problem *p, myo_attention_form form, int64_t tq, int64_t tk, int grads,
                    result *r)
{
    int64_t count = io_count(p), DD = p->D * p->D;
    myo_attention_config cfg = p->cfg;
    cfg.tile_q = tq, cfg.tile_k = tk;
    float *x = to_f32(p->x, count), *g = to_f32(p->g, count), *w[4], *dw[4];
    float *y = test_alloc((size_t)count, sizeof(float)),
          *dx = test_alloc((size_t)count, sizeof(float));
    for (int i = 0; i < 4; i++)
        w[i] = to_f32(p->w[i], DD), dw[i] = test_alloc((size_t)DD, sizeof(float));
    myo_attention_work *work = NULL;
    assert_int_equal(myo_attention_work_create(&cfg, form, p->n, p->batch, &work), MYO_OK);
    myo_qkvo_weights_f32 wts = {w[0], w[1], w[2], w[3]};
    assert_int_equal(myo_attention_forward_f32(work, &wts, x, y), MYO_OK);
    for (int64_t i = 0; i < count; i++)
        r->y[i] = y[i];
    if (grads) {
        myo_qkvo_grads_f32 gr = {dw[0], dw[1], dw[2], dw[3]};
        assert_int_equal(myo_attention_backward_f32(work, &wts, g, dx, &gr), MYO_OK);
        for (int64_t i = 0; i < count; i++)
            r->dx[i] = dx[i];
        for (int k = 0; k < 4; k++)
            for (int64_t i = 0; i < DD; i++)
                r->dw[k][i] = dw[k][i];
    }
    myo_attention_work_destroy(&work);
    assert_null(work);
    free(x), free(g), free(y), free(dx);
    for (int i = 0; i < 4; i++)
        free(w[i]), free(dw[i]);
}

/* The worst errors of a sweep: max |a - b| / max|ref| per array. */
typedef struct {
    double y, grad;
    int64_t cases;
} worst;

/* Compare float results (as double) with reference results: rtol per
 * entry plus a floor of atol_norm times scale (see the tolerances at the
 * top); returns max |got - ref| / scale. */
static double compare_f32(const double *got, const double *ref, int64_t count, double atol_norm,
                          double scale, const char *what)
{
    double err = 0;
    for (int64_t i = 0; i < count; i++)
        err = fmax(err, fabs(got[i] - ref[i]));
    test_assert_close_f64(got, ref, count, atol_norm * scale, F32_RTOL, what);
    return scale > 0 ? err / scale : err;
}

/* Y with a floor of y_atol_norm max|Y|; the five gradients with a floor
 * of grad_atol_norm times the largest entry of any of them (a gradient
 * that is 0 in exact arithmetic, as dWq for n = 1, is rounding noise of
 * the others' size). */
static void compare_results(const problem *p, const result *got, const result *ref, int grads,
                            double y_atol_norm, double grad_atol_norm, const char *label, worst *w)
{
    static const char *names[4] = {"dWq", "dWk", "dWv", "dWo"};
    char what[200];
    snprintf(what, sizeof what, "%s: Y", label);
    double ys = test_max_abs(ref->y, io_count(p));
    w->y = fmax(w->y, compare_f32(got->y, ref->y, io_count(p), y_atol_norm, ys, what));
    if (grads) {
        double gs = test_max_abs(ref->dx, io_count(p));
        for (int i = 0; i < 4; i++)
            gs = fmax(gs, test_max_abs(ref->dw[i], p->D * p->D));
        snprintf(what, sizeof what, "%s: dX", label);
        w->grad =
            fmax(w->grad, compare_f32(got->dx, ref->dx, io_count(p), grad_atol_norm, gs, what));
        for (int i = 0; i < 4; i++) {
            snprintf(what, sizeof what, "%s: %s", label, names[i]);
            w->grad = fmax(w->grad, compare_f32(got->dw[i], ref->dw[i], p->D * p->D, grad_atol_norm,
                                                gs, what));
        }
    }
    w->cases++;
}

/* The forms and tiles every sweep runs: the materialized form, the tiled
 * form with its default tiles, and small tiles of unequal sizes that are
 * not multiples of each other (n = 130 then spans many blocks, the last
 * ones partial, and causal diagonal blocks are cut both ways). */
typedef struct {
    myo_attention_form form;
    int64_t tq, tk;
    const char *name;
} variant;
static const variant variants[] = {
    {MYO_ATTN_MATERIALIZED, 0, 0, "materialized"},
    {MYO_ATTN_TILED, 0, 0, "tiled (default tiles)"},
    {MYO_ATTN_TILED, 16, 24, "tiled 16x24"},
    {MYO_ATTN_TILED, 24, 7, "tiled 24x7"},
};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

static const int64_t sweep_n[] = {1, 5, 64, 130};
static const int64_t sweep_dh[][2] = {{4, 1}, {4, 2}, {8, 1}, {8, 2}, {12, 1}, {12, 2}, {12, 3}};

/* Every (n, D, H, batch, causal) of the sweep against the reference;
 * with grads, the backward passes too (on a subset of widths). */
static void sweep_against_reference(int grads)
{
    worst w[N_VARIANTS] = {{0, 0, 0}};
    uint64_t seed = grads ? 5000 : 1000;
    for (size_t in = 0; in < sizeof sweep_n / sizeof sweep_n[0]; in++)
        for (size_t idh = 0; idh < sizeof sweep_dh / sizeof sweep_dh[0]; idh++)
            for (int64_t batch = 1; batch <= 2; batch++)
                for (int causal = 0; causal <= 1; causal++) {
                    int64_t D = sweep_dh[idh][0], H = sweep_dh[idh][1], n = sweep_n[in];
                    if (grads && idh % 2 == 1) continue; /* (4,1) (8,1) (12,1) (12,3) */
                    problem p = make_problem(D, H, n, batch, causal, seed++);
                    result ref = new_result(&p), got = new_result(&p);
                    run_ref(&p, grads, &ref);
                    for (size_t v = 0; v < N_VARIANTS; v++) {
                        char label[160];
                        snprintf(label, sizeof label,
                                 "%s, n=%lld D=%lld H=%lld batch=%lld causal=%d", variants[v].name,
                                 (long long)n, (long long)D, (long long)H, (long long)batch,
                                 causal);
                        run_f32(&p, variants[v].form, variants[v].tq, variants[v].tk, grads, &got);
                        compare_results(&p, &got, &ref, grads, F32_ATOL_NORM, F32_ATOL_NORM, label,
                                        &w[v]);
                    }
                    free_result(&ref), free_result(&got), free_problem(&p);
                }
    for (size_t v = 0; v < N_VARIANTS; v++) {
        char grad[64] = "";
        if (grads) snprintf(grad, sizeof grad, ", gradients %.2e", w[v].grad);
        print_message("%s vs reference, %lld cases: max |a-b|/max|ref| Y %.2e%s\n",
                      variants[v].name, (long long)w[v].cases, w[v].y, grad);
    }
}

/* -------------------------------------------------------------- tests */

static void test_attention_forward_matches_reference(void **state)
{
    (void)state;
    sweep_against_reference(0);
}

static void test_attention_backward_matches_reference(void **state)
{
    (void)state;
    sweep_against_reference(1);
}

/* loss = sum(g .* Y) through the reference forward. */
static double ref_loss(void *ctx)
{
    const problem *p = ctx;
    int64_t count = io_count(p);
    double *y = test_alloc((size_t)count, sizeof(double)), loss = 0;
    myo_qkvo_weights_f64 w = {p->w[0], p->w[1], p->w[2], p->w[3]};
    assert_int_equal(myo_attention_forward_ref(&p->cfg, p->n, p->batch, &w, p->x, y), MYO_OK);
    for (int64_t i = 0; i < count; i++)
        loss += p->g[i] * y[i];
    free(y);
    return loss;
}

static void test_attention_reference_gradients_match_finite_differences(void **state)
{
    (void)state;
    static const char *names[4] = {"Wq", "Wk", "Wv", "Wo"};
    static const int64_t shapes[][4] = {{8, 2, 6, 2}, {12, 3, 5, 1}, {4, 1, 7, 2}}; /* D H n B */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int causal = 0; causal <= 1; causal++) {
            problem p = make_problem(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], causal,
                                     9000 + 10 * s + (uint64_t)causal);
            result ref = new_result(&p);
            run_ref(&p, 1, &ref);
            char what[160];
            snprintf(what, sizeof what, "reference D=%lld H=%lld n=%lld batch=%lld causal=%d: dX",
                     (long long)p.D, (long long)p.cfg.heads, (long long)p.n, (long long)p.batch,
                     causal);
            test_check_gradient(what, p.x, io_count(&p), 1, ref.dx, ref_loss, &p, FD_H, FD_ATOL,
                                FD_RTOL);
            for (int i = 0; i < 4; i++) {
                snprintf(what, sizeof what,
                         "reference D=%lld H=%lld n=%lld batch=%lld causal=%d: d%s", (long long)p.D,
                         (long long)p.cfg.heads, (long long)p.n, (long long)p.batch, causal,
                         names[i]);
                test_check_gradient(what, p.w[i], p.D * p.D, 1, ref.dw[i], ref_loss, &p, FD_H,
                                    FD_ATOL, FD_RTOL);
            }
            free_result(&ref), free_problem(&p);
        }
}

static void test_attention_materialized_equals_tiled(void **state)
{
    (void)state;
    /* n = 600 spans three default key blocks, the last one partial. */
    static const int64_t shapes[][4] = {{12, 3, 130, 2}, {16, 2, 600, 1}}; /* D H n B */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int causal = 0; causal <= 1; causal++) {
            problem p = make_problem(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], causal,
                                     12000 + 10 * s + (uint64_t)causal);
            result mat = new_result(&p), til = new_result(&p);
            run_f32(&p, MYO_ATTN_MATERIALIZED, 0, 0, 1, &mat);
            for (size_t v = 1; v < N_VARIANTS; v++) {
                char label[160];
                snprintf(label, sizeof label, "%s vs materialized, n=%lld causal=%d",
                         variants[v].name, (long long)p.n, causal);
                run_f32(&p, variants[v].form, variants[v].tq, variants[v].tk, 1, &til);
                worst w = {0, 0, 0};
                compare_results(&p, &til, &mat, 1, F32_ATOL_NORM, F32_ATOL_NORM, label, &w);
                if (getenv("MYO_TEST_VERBOSE"))
                    print_message("%s: max |a-b|/max|ref| = %.2e (Y), %.2e (gradients)\n", label,
                                  w.y, w.grad);
            }
            free_result(&mat), free_result(&til), free_problem(&p);
        }
}

/* Y rows <= i must not depend on X rows > i, bit for bit: masked keys
 * contribute exact zeros, in both forms; and backward sends nothing back
 * in time. */
static void test_attention_causal_does_not_look_ahead(void **state)
{
    (void)state;
    int64_t D = 8, H = 2, n = 130, batch = 2, count = batch * n * D;
    static const int64_t cuts[] = {0, 6, 63, 64, 100, 128};
    for (size_t v = 0; v < N_VARIANTS; v++)
        for (int causal = 1; causal >= 0; causal--) {
            problem p = make_problem(D, H, n, batch, causal, 15000 + v);
            myo_attention_config cfg = p.cfg;
            cfg.tile_q = variants[v].tq, cfg.tile_k = variants[v].tk;
            float *x = to_f32(p.x, count), *x2 = test_alloc((size_t)count, sizeof(float));
            float *y = test_alloc((size_t)count, sizeof(float)),
                  *y2 = test_alloc((size_t)count, sizeof(float));
            float *w[4];
            for (int i = 0; i < 4; i++)
                w[i] = to_f32(p.w[i], D * D);
            myo_qkvo_weights_f32 wts = {w[0], w[1], w[2], w[3]};
            myo_attention_work *work = NULL;
            assert_int_equal(myo_attention_work_create(&cfg, variants[v].form, n, batch, &work),
                             MYO_OK);
            assert_int_equal(myo_attention_forward_f32(work, &wts, x, y), MYO_OK);
            for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
                int64_t cut = cuts[c]; /* rows > cut change */
                memcpy(x2, x, (size_t)count * sizeof(float));
                for (int64_t b = 0; b < batch; b++)
                    for (int64_t i = cut + 1; i < n; i++)
                        for (int64_t j = 0; j < D; j++)
                            x2[(b * n + i) * D + j] += 0.5f;
                assert_int_equal(myo_attention_forward_f32(work, &wts, x2, y2), MYO_OK);
                for (int64_t b = 0; b < batch; b++) {
                    size_t past = (size_t)((cut + 1) * D) * sizeof(float);
                    int same = memcmp(y + b * n * D, y2 + b * n * D, past) == 0;
                    if (causal && !same)
                        fail_msg("%s: causal Y rows <= %lld of sequence %lld changed with X rows "
                                 "> %lld",
                                 variants[v].name, (long long)cut, (long long)b, (long long)cut);
                    if (!causal && same)
                        fail_msg("%s: non-causal Y rows <= %lld did not change: the check is "
                                 "blind",
                                 variants[v].name, (long long)cut);
                }
                /* Backward, a loss on Y rows <= cut only: no gradient may reach
                 * X rows > cut (exact zeros: every term is a product with a
                 * zero of dO or of the masked P). */
                if (!causal) continue;
                float *g = to_f32(p.g, count), dw[4][64];
                myo_qkvo_grads_f32 gr = {dw[0], dw[1], dw[2], dw[3]};
                for (int64_t b = 0; b < batch; b++)
                    memset(g + (b * n + cut + 1) * D, 0,
                           (size_t)((n - cut - 1) * D) * sizeof(float));
                assert_int_equal(myo_attention_forward_f32(work, &wts, x, y2), MYO_OK);
                assert_int_equal(myo_attention_backward_f32(work, &wts, g, x2, &gr), MYO_OK);
                for (int64_t b = 0; b < batch; b++)
                    for (int64_t i = (b * n + cut + 1) * D; i < (b + 1) * n * D; i++)
                        if (x2[i] != 0.0f)
                            fail_msg("%s: dX row %lld of sequence %lld is not 0 for a loss on "
                                     "Y rows <= %lld",
                                     variants[v].name, (long long)(i / D - b * n), (long long)b,
                                     (long long)cut);
                free(g);
            }
            myo_attention_work_destroy(&work);
            free(x), free(x2), free(y), free(y2), free_problem(&p);
            for (int i = 0; i < 4; i++)
                free(w[i]);
        }
}

/* One token attends only to itself: Y = X Wv Wo, and its gradients follow
 * (dWq = dWk = 0: the scores do not matter). */
static void test_attention_single_token_is_the_value_path(void **state)
{
    (void)state;
    for (int causal = 0; causal <= 1; causal++) {
        problem p = make_problem(12, 3, 1, 2, causal, 17000 + (uint64_t)causal);
        int64_t D = p.D, count = io_count(&p);
        double *xv = test_alloc((size_t)count, sizeof(double));
        double *expect = test_alloc((size_t)count, sizeof(double));
        for (int64_t r = 0; r < p.batch; r++)
            for (int64_t j = 0; j < D; j++) {
                double s = 0;
                for (int64_t t = 0; t < D; t++)
                    s += p.x[r * D + t] * p.w[2][t * D + j];
                xv[r * D + j] = s;
            }
        for (int64_t r = 0; r < p.batch; r++)
            for (int64_t j = 0; j < D; j++) {
                double s = 0;
                for (int64_t t = 0; t < D; t++)
                    s += xv[r * D + t] * p.w[3][t * D + j];
                expect[r * D + j] = s;
            }
        result ref = new_result(&p);
        run_ref(&p, 1, &ref);
        test_assert_close_f64(ref.y, expect, count, 1e-14, 1e-12, "reference n=1: Y = X Wv Wo");
        double zero[144] = {0};
        test_assert_close_f64(ref.dw[0], zero, D * D, 1e-14, 0, "reference n=1: dWq = 0");
        test_assert_close_f64(ref.dw[1], zero, D * D, 1e-14, 0, "reference n=1: dWk = 0");
        for (size_t v = 0; v < N_VARIANTS; v++) {
            result got = new_result(&p);
            run_f32(&p, variants[v].form, variants[v].tq, variants[v].tk, 1, &got);
            worst w = {0, 0, 0};
            compare_results(&p, &got, &ref, 1, F32_ATOL_NORM, F32_ATOL_NORM, variants[v].name, &w);
            test_assert_close_f64(got.dw[0], zero, D * D, 1e-6, 0, "n=1: dWq = 0");
            test_assert_close_f64(got.dw[1], zero, D * D, 1e-6, 0, "n=1: dWk = 0");
            free_result(&got);
        }
        free(xv), free(expect), free_result(&ref), free_problem(&p);
    }
}

/* A batch is its sequences run one by one; weight gradients add up. */
static void test_attention_batch_is_independent_sequences(void **state)
{
    (void)state;
    problem p = make_problem(8, 2, 70, 3, 1, 19000);
    int64_t seq = p.n * p.D;
    for (size_t v = 0; v < N_VARIANTS; v++) {
        result all = new_result(&p);
        run_f32(&p, variants[v].form, variants[v].tq, variants[v].tk, 1, &all);
        result sum = new_result(&p);
        for (int i = 0; i < 4; i++)
            memset(sum.dw[i], 0, (size_t)(p.D * p.D) * sizeof(double));
        for (int64_t b = 0; b < p.batch; b++) {
            problem one = p;
            one.batch = 1, one.x = p.x + b * seq, one.g = p.g + b * seq;
            result r = new_result(&one);
            run_f32(&one, variants[v].form, variants[v].tq, variants[v].tk, 1, &r);
            memcpy(sum.y + b * seq, r.y, (size_t)seq * sizeof(double));
            memcpy(sum.dx + b * seq, r.dx, (size_t)seq * sizeof(double));
            for (int i = 0; i < 4; i++)
                for (int64_t j = 0; j < p.D * p.D; j++)
                    sum.dw[i][j] += r.dw[i][j];
            free_result(&r);
        }
        char label[120];
        snprintf(label, sizeof label, "%s: batch of 3 vs one by one", variants[v].name);
        worst w = {0, 0, 0};
        compare_results(&p, &all, &sum, 1, F32_ATOL_NORM, F32_ATOL_NORM, label, &w);
        free_result(&all), free_result(&sum);
    }
    free_problem(&p);
}

/* Scores of order 1e4 (Wq, Wk scaled up): the softmax is one-hot to
 * float precision; no Inf or NaN anywhere, and the reference agrees. */
static void test_attention_extreme_scores_stay_finite(void **state)
{
    (void)state;
    for (int causal = 0; causal <= 1; causal++) {
        problem p = make_problem(8, 2, 130, 2, causal, 21000 + (uint64_t)causal);
        for (int i = 0; i < 2; i++)
            for (int64_t j = 0; j < p.D * p.D; j++)
                p.w[i][j] *= 100.0;
        /* The largest score, to show the test is what it says. */
        int64_t D = p.D, d = D / p.cfg.heads, rows = p.batch * p.n;
        double *q = test_alloc((size_t)(rows * D), sizeof(double));
        double *k = test_alloc((size_t)(rows * D), sizeof(double)), smax = 0;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < D; j++) {
                double a = 0, b = 0;
                for (int64_t t = 0; t < D; t++)
                    a += p.x[r * D + t] * p.w[0][t * D + j],
                        b += p.x[r * D + t] * p.w[1][t * D + j];
                q[r * D + j] = a, k[r * D + j] = b;
            }
        for (int64_t b = 0; b < p.batch; b++)
            for (int64_t i = 0; i < p.n; i++)
                for (int64_t j = 0; j < p.n; j++)
                    for (int64_t h = 0; h < p.cfg.heads; h++) {
                        double s = 0;
                        for (int64_t c = 0; c < d; c++)
                            s +=
                                q[(b * p.n + i) * D + h * d + c] * k[(b * p.n + j) * D + h * d + c];
                        smax = fmax(smax, fabs(s) / sqrt((double)d));
                    }
        assert_true(smax > 1e4);
        result ref = new_result(&p);
        run_ref(&p, 1, &ref);
        for (size_t v = 0; v < N_VARIANTS; v++) {
            result got = new_result(&p);
            run_f32(&p, variants[v].form, variants[v].tq, variants[v].tk, 1, &got);
            for (int64_t i = 0; i < io_count(&p); i++)
                if (!isfinite(got.y[i]) || !isfinite(got.dx[i]))
                    fail_msg("%s: non-finite output at %lld", variants[v].name, (long long)i);
            char label[160];
            snprintf(label, sizeof label, "%s, max |score| %.1e, causal=%d", variants[v].name, smax,
                     causal);
            worst w = {0, 0, 0};
            compare_results(&p, &got, &ref, 1, EXTREME_Y_ATOL_NORM, FLT_EPSILON * smax, label, &w);
            if (getenv("MYO_TEST_VERBOSE"))
                print_message("%s: max |a-b|/max|ref| = %.2e (Y), %.2e (gradients)\n", label, w.y,
                              w.grad);
            free_result(&got);
        }
        free(q), free(k), free_result(&ref), free_problem(&p);
    }
}

/* One workspace through several calls gives what fresh ones give, bit for
 * bit, and its memory is as documented. */
static void test_attention_workspace_is_reused_across_calls(void **state)
{
    (void)state;
    int64_t D = 8, H = 2, n = 100, batch = 2, count = batch * n * D;
    problem a = make_problem(D, H, n, batch, 1, 23000), b = make_problem(D, H, n, batch, 1, 23100);
    for (size_t v = 0; v < N_VARIANTS; v++) {
        myo_attention_config cfg = a.cfg;
        cfg.tile_q = variants[v].tq, cfg.tile_k = variants[v].tk;
        float *xa = to_f32(a.x, count), *xb = to_f32(b.x, count), *g = to_f32(b.g, count), *w[4],
              *dw[4];
        float *y = test_alloc((size_t)count, sizeof(float)),
              *dx = test_alloc((size_t)count, sizeof(float));
        for (int i = 0; i < 4; i++)
            w[i] = to_f32(b.w[i], D * D), dw[i] = test_alloc((size_t)(D * D), sizeof(float));
        myo_qkvo_weights_f32 wts = {w[0], w[1], w[2], w[3]};
        myo_qkvo_grads_f32 gr = {dw[0], dw[1], dw[2], dw[3]};
        myo_attention_work *work = NULL;
        assert_int_equal(myo_attention_work_create(&cfg, variants[v].form, n, batch, &work),
                         MYO_OK);
        assert_int_equal(myo_attention_work_form(work), variants[v].form);
        int64_t tq, tk;
        myo_attention_work_tiles(work, &tq, &tk);
        size_t floats = (size_t)(5 * count);
        if (variants[v].form == MYO_ATTN_MATERIALIZED)
            floats += (size_t)(batch * H * n * n);
        else
            floats += (size_t)(batch * H * n + 2 * tq * tk + 2 * tq);
        size_t fwd_bytes = myo_attention_work_bytes(work);
        assert_true(fwd_bytes >= floats * sizeof(float) &&
                    fwd_bytes < floats * sizeof(float) + 1024);
        /* A forward with other inputs, then the real pair, twice. */
        assert_int_equal(myo_attention_forward_f32(work, &wts, xa, y), MYO_OK);
        for (int rep = 0; rep < 2; rep++) {
            assert_int_equal(myo_attention_forward_f32(work, &wts, xb, y), MYO_OK);
            assert_int_equal(myo_attention_backward_f32(work, &wts, g, dx, &gr), MYO_OK);
            size_t bwd = floats + (size_t)(3 * count + n) +
                         (variants[v].form == MYO_ATTN_MATERIALIZED ? (size_t)(n * n) : 0);
            size_t bytes = myo_attention_work_bytes(work);
            assert_true(bytes >= bwd * sizeof(float) && bytes < bwd * sizeof(float) + 1024);
        }
        result fresh = new_result(&b);
        run_f32(&b, variants[v].form, variants[v].tq, variants[v].tk, 1, &fresh);
        for (int64_t i = 0; i < count; i++)
            if ((double)y[i] != fresh.y[i] || (double)dx[i] != fresh.dx[i])
                fail_msg("%s: reused workspace differs at %lld", variants[v].name, (long long)i);
        for (int k = 0; k < 4; k++)
            for (int64_t i = 0; i < D * D; i++)
                if ((double)dw[k][i] != fresh.dw[k][i])
                    fail_msg("%s: reused workspace weight gradient differs", variants[v].name);
        /* y may be x: x is copied in first. */
        memcpy(y, xb, (size_t)count * sizeof(float));
        assert_int_equal(myo_attention_forward_f32(work, &wts, y, y), MYO_OK);
        for (int64_t i = 0; i < count; i++)
            if ((double)y[i] != fresh.y[i])
                fail_msg("%s: in-place forward differs at %lld", variants[v].name, (long long)i);
        myo_attention_work_destroy(&work);
        free_result(&fresh), free(xa), free(xb), free(g), free(y), free(dx);
        for (int i = 0; i < 4; i++)
            free(w[i]), free(dw[i]);
    }
    free_problem(&a), free_problem(&b);
}

static void test_attention_heads_not_dividing_width_is_an_error(void **state)
{
    (void)state;
    myo_attention_config cfg = {10, 3, 0, 0, 0};
    myo_attention_work *work = (myo_attention_work *)&cfg; /* must be set to NULL */
    assert_int_equal(myo_attention_check(&cfg, 4, 1), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "not divisible"));
    assert_int_equal(myo_attention_work_create(&cfg, MYO_ATTN_TILED, 4, 1, &work), MYO_ERR_ARG);
    assert_null(work);
    assert_non_null(strstr(myo_error_detail(), "d_model = 10 is not divisible by heads = 3"));
    double x[40] = {0}, w[100] = {0}, y[40], dw[4][100];
    myo_qkvo_weights_f64 wts = {w, w, w, w};
    myo_qkvo_grads_f64 g = {dw[0], dw[1], dw[2], dw[3]};
    assert_int_equal(myo_attention_forward_ref(&cfg, 4, 1, &wts, x, y), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "not divisible"));
    assert_int_equal(myo_attention_backward_ref(&cfg, 4, 1, &wts, x, x, y, &g), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "not divisible"));
}

static void test_attention_rejects_bad_arguments(void **state)
{
    (void)state;
    myo_attention_config ok = {4, 2, 0, 0, 0}, bad;
    myo_attention_work *work = NULL;
    assert_int_equal(myo_attention_check(&ok, 3, 2), MYO_OK);
    assert_int_equal(myo_attention_check(NULL, 3, 2), MYO_ERR_ARG);
    assert_int_equal(myo_attention_check(&ok, 0, 2), MYO_ERR_ARG);
    assert_int_equal(myo_attention_check(&ok, 3, 0), MYO_ERR_ARG);
    bad = ok, bad.d_model = 0;
    assert_int_equal(myo_attention_check(&bad, 3, 2), MYO_ERR_ARG);
    bad = ok, bad.heads = 0;
    assert_int_equal(myo_attention_check(&bad, 3, 2), MYO_ERR_ARG);
    bad = ok, bad.causal = 2;
    assert_int_equal(myo_attention_check(&bad, 3, 2), MYO_ERR_ARG);
    bad = ok, bad.tile_k = -1;
    assert_int_equal(myo_attention_check(&bad, 3, 2), MYO_ERR_ARG);
    assert_int_equal(myo_attention_work_create(&ok, (myo_attention_form)7, 3, 2, &work),
                     MYO_ERR_ARG);
    assert_int_equal(myo_attention_work_create(&ok, MYO_ATTN_TILED, 3, 2, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_attention_work_create(&ok, MYO_ATTN_MATERIALIZED, 1 << 20, 1 << 20, &work),
                     MYO_ERR_ARG); /* sizes beyond BLAS's int */
    assert_string_equal(myo_attention_form_name(MYO_ATTN_TILED), "tiled");
    assert_string_equal(myo_attention_form_name(MYO_ATTN_MATERIALIZED), "materialized");
    assert_string_equal(myo_attention_form_name((myo_attention_form)7), "?");

    assert_int_equal(myo_attention_work_create(&ok, MYO_ATTN_TILED, 3, 2, &work), MYO_OK);
    float x[24] = {0}, y[24], dx[24], w[16] = {0}, dw[4][16];
    myo_qkvo_weights_f32 wts = {w, w, w, w}, no_wo = {w, w, w, NULL};
    myo_qkvo_grads_f32 g = {dw[0], dw[1], dw[2], dw[3]}, no_g = {dw[0], NULL, dw[2], dw[3]};
    assert_int_equal(myo_attention_backward_f32(work, &wts, x, dx, &g), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "no forward"));
    assert_int_equal(myo_attention_forward_f32(NULL, &wts, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_attention_forward_f32(work, &no_wo, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_attention_forward_f32(work, &wts, NULL, y), MYO_ERR_ARG);
    assert_int_equal(myo_attention_forward_f32(work, &wts, x, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_attention_forward_f32(work, &wts, x, y), MYO_OK);
    assert_int_equal(myo_attention_backward_f32(work, &wts, x, dx, &no_g), MYO_ERR_ARG);
    assert_int_equal(myo_attention_backward_f32(work, &wts, NULL, dx, &g), MYO_ERR_ARG);
    assert_int_equal(myo_attention_backward_f32(work, &wts, y, y + 20, &g), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "overlaps"));
    assert_int_equal(myo_attention_backward_f32(work, &wts, y, dx, &g), MYO_OK);
    myo_attention_work_destroy(&work);
    assert_null(work);
    myo_attention_work_destroy(&work);
    myo_attention_work_destroy(NULL);
    assert_int_equal(myo_attention_work_bytes(NULL), 0);

    double xd[24] = {0}, wd[16] = {0}, yd[24], dwd[4][16];
    myo_qkvo_weights_f64 wtsd = {wd, wd, wd, wd};
    myo_qkvo_grads_f64 gd = {dwd[0], dwd[1], dwd[2], dwd[3]},
                       no_gd = {dwd[0], dwd[1], NULL, dwd[3]};
    assert_int_equal(myo_attention_forward_ref(&ok, 3, 2, NULL, xd, yd), MYO_ERR_ARG);
    assert_int_equal(myo_attention_forward_ref(&ok, 3, 2, &wtsd, xd, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_attention_forward_ref(&ok, 0, 2, &wtsd, xd, yd), MYO_ERR_ARG);
    assert_int_equal(myo_attention_backward_ref(&ok, 3, 2, &wtsd, xd, xd, yd, &no_gd), MYO_ERR_ARG);
    assert_int_equal(myo_attention_backward_ref(&ok, 3, 2, &wtsd, xd, NULL, yd, &gd), MYO_ERR_ARG);
    assert_int_equal(myo_attention_backward_ref(&ok, 3, 2, &wtsd, xd, xd, yd, &gd), MYO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_forward_matches_reference),
        cmocka_unit_test(test_attention_reference_gradients_match_finite_differences),
        cmocka_unit_test(test_attention_backward_matches_reference),
        cmocka_unit_test(test_attention_materialized_equals_tiled),
        cmocka_unit_test(test_attention_causal_does_not_look_ahead),
        cmocka_unit_test(test_attention_single_token_is_the_value_path),
        cmocka_unit_test(test_attention_batch_is_independent_sequences),
        cmocka_unit_test(test_attention_extreme_scores_stay_finite),
        cmocka_unit_test(test_attention_workspace_is_reused_across_calls),
        cmocka_unit_test(test_attention_heads_not_dividing_width_is_an_error),
        cmocka_unit_test(test_attention_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
