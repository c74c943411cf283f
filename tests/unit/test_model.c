/* test_model.c -- the LRA encoder classifier (myosotis_model.h): its float
 * kernels against their double reference twins (lib/model/model_ref.h), the
 * twins' gradients against central finite differences, the whole model's
 * gradient against central finite differences of its own float loss for
 * every mixer, single and dual, AdamW training on a fixed batch, batches
 * smaller than max_batch, per-example trees for Myosotis (the batch on one
 * forest = each example alone on its own tree, and central differences),
 * the logit spread bound and the gradient check myo-lra validates with,
 * label smoothing and dropout (the mask's statistics, both off bit for
 * bit, the model against the whole model in double -- myo_model_loss_ref,
 * the same masks -- and against central differences with both on), the
 * parameter table, and argument errors.
 *
 * Tolerances, |a - b| <= atol + rtol |ref| (max errors printed on failure,
 * and with MYO_TEST_VERBOSE=1 for every comparison; each test prints its
 * worst case):
 *   float kernel vs double twin (inputs rounded to float first): rtol 1e-4,
 *     atol 1e-5 (values O(1), D <= 12, F <= 20);
 *   twin gradient vs central differences (double, h 1e-5): rtol 1e-6,
 *     atol 1e-8 (truncation h^2 ~ 1e-10, rounding eps / h ~ 1e-11);
 *   model gradient vs central differences of the float model's loss (the
 *     loss summed in double, h 1e-2, divided by the float difference of the
 *     perturbed parameters): atol 5e-4, rtol 1e-2 (rounding ~1e-7 / 2h ~
 *     1e-5, truncation h^2 f''' / 6 ~ 1e-5 f'''; measured at most 5e-5
 *     absolute, 1% of the tolerance).  Three entries of every tensor (its
 *     first, last and one at random), every parameter first moved off its
 *     initial value by U(-0.1, 0.1) so that gains are not 1 nor biases 0;
 *   gelu float vs double on [-16, 16]: atol 2e-6, rtol 1e-5 (its
 *     derivative's cancellation costs a few float ulps of 1);
 *   the whole float model vs the whole model in double (loss and every
 *     gradient, smoothing 0.1 and dropout 0.3, and neither): the kernels'
 *     atol 1e-5, rtol 1e-4 (measured at most 0.007 of it);
 *   dropout mask fractions: within 5 sigma = 5 sqrt(p (1 - p) / N). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_ref.h"
#include "myosotis.h"
#include "myosotis_model.h"
#include "support.h"

#define RTOL_F32 1e-4
#define ATOL_F32 1e-5
#define RTOL_FD 1e-6
#define ATOL_FD 1e-8
#define FD_STEP 1e-5
#define MODEL_FD_STEP 1e-2
#define MODEL_ATOL 5e-4
#define MODEL_RTOL 1e-2

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int verbose(void)
{
    const char *v = getenv("MYO_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* count random values in [-scale, scale) in double and the same in float. */
static double *rand_pair(int64_t count, double scale, uint64_t seed, float **f)
{
    double *d = test_alloc((size_t)count, sizeof(double));
    test_random_values(d, count, seed);
    for (int64_t i = 0; i < count; i++)
        d[i] *= scale;
    *f = test_alloc((size_t)count, sizeof(float));
    test_round_to_f32(d, *f, count);
    return d;
}

static void close_f32(const float *got, const double *ref, int64_t count, const char *what)
{
    test_assert_close_f32(got, ref, count, ATOL_F32, RTOL_F32, what);
}

/* The largest |got - ref| / (ATOL_F32 + RTOL_F32 |ref|) (<= 1 passes). */
static double max_scaled_error_f32(const float *got, const double *ref, int64_t count)
{
    double worst = 0;
    for (int64_t i = 0; i < count; i++)
        worst = fmax(worst, fabs((double)got[i] - ref[i]) / (ATOL_F32 + RTOL_F32 * fabs(ref[i])));
    return worst;
}

/* ================================================ kernels vs twins */

static void test_model_layernorm_and_mlp_match_reference(void **state)
{
    (void)state;
    const int64_t rows = 7, D = 12, F = 20;
    float *xf, *gf, *bf, *dyf, *w1f, *b1f, *w2f, *b2f;
    double *x = rand_pair(rows * D, 2.0, 1, &xf), *g = rand_pair(D, 1.0, 2, &gf);
    double *b = rand_pair(D, 1.0, 3, &bf), *dy = rand_pair(rows * D, 1.0, 4, &dyf);
    double *w1 = rand_pair(D * F, 0.4, 5, &w1f), *b1 = rand_pair(F, 0.5, 6, &b1f);
    double *w2 = rand_pair(F * D, 0.4, 7, &w2f), *b2 = rand_pair(D, 0.5, 8, &b2f);
    for (int64_t j = 0; j < D; j++) /* a row mean far from 0: the two-pass variance */
        x[j] += 30.0, xf[j] += 30.0f;

    /* LayerNorm forward and backward. */
    double *y = test_alloc((size_t)(rows * D), sizeof(double));
    double *dx = test_alloc((size_t)(rows * D), sizeof(double));
    double dg[12], db[12], acc[64];
    float *yf = test_alloc((size_t)(rows * D), sizeof(float));
    float *xhat = test_alloc((size_t)(rows * D), sizeof(float)), rstd[7];
    float *dxf = test_alloc((size_t)(rows * D), sizeof(float)), dgf[12], dbf[12];
    myo_model_ln_forward_ref(rows, D, x, g, b, y);
    myo_model_ln_forward_f32(rows, D, xf, gf, bf, xhat, rstd, yf);
    close_f32(yf, y, rows * D, "layernorm forward");
    myo_model_ln_backward_ref(rows, D, x, g, dy, dx, dg, db);
    for (int64_t i = 0; i < rows * D; i++)
        dxf[i] = 0.5f; /* backward accumulates into dx */
    myo_model_ln_backward_f32(rows, D, xhat, rstd, gf, dyf, dxf, dgf, dbf, acc);
    for (int64_t i = 0; i < rows * D; i++)
        dx[i] += 0.5;
    close_f32(dxf, dx, rows * D, "layernorm backward dx (accumulated)");
    close_f32(dgf, dg, D, "layernorm backward dg");
    close_f32(dbf, db, D, "layernorm backward db");

    /* MLP forward (accumulating into y) and backward. */
    float *hpre = test_alloc((size_t)(rows * F), sizeof(float));
    float *act = test_alloc((size_t)(rows * F), sizeof(float));
    float *dw1f = test_alloc((size_t)(D * F), sizeof(float)), db1f[20];
    float *dw2f = test_alloc((size_t)(F * D), sizeof(float)), db2f[12];
    double *dw1 = test_alloc((size_t)(D * F), sizeof(double)), db1[20];
    double *dw2 = test_alloc((size_t)(F * D), sizeof(double)), db2[12];
    assert_int_equal(myo_model_mlp_forward_ref(rows, D, F, x, w1, b1, w2, b2, y), MYO_OK);
    for (int64_t i = 0; i < rows * D; i++)
        yf[i] = 0.25f, y[i] += 0.25;
    myo_model_mlp_forward_f32(rows, D, F, xf, w1f, b1f, w2f, b2f, hpre, act, yf);
    close_f32(yf, y, rows * D, "mlp forward (accumulated)");
    assert_int_equal(
        myo_model_mlp_backward_ref(rows, D, F, x, w1, b1, w2, dy, dx, dw1, db1, dw2, db2), MYO_OK);
    myo_model_mlp_backward_f32(rows, D, F, xf, hpre, w1f, w2f, dyf, act, dxf, dw1f, db1f, dw2f,
                               db2f, acc);
    close_f32(dxf, dx, rows * D, "mlp backward dx");
    close_f32(dw1f, dw1, D * F, "mlp backward dw1");
    close_f32(db1f, db1, F, "mlp backward db1");
    close_f32(dw2f, dw2, F * D, "mlp backward dw2");
    close_f32(db2f, db2, D, "mlp backward db2");

    /* GELU: the tanh form, float against double over a range (and saturated). */
    double worst = 0;
    for (int i = -4000; i <= 4000; i++) {
        double v = i * 0.004, dr, gr = myo_model_gelu_ref((double)(float)v, &dr);
        float df, gf1 = myo_model_gelu_f32((float)v, &df);
        worst = fmax(worst, fabs(gf1 - gr) / (2e-6 + 1e-5 * fabs(gr)));
        worst = fmax(worst, fabs(df - dr) / (2e-6 + 1e-5 * fabs(dr)));
    }
    float dbig, dsmall;
    assert_true(myo_model_gelu_f32(1e30f, &dbig) == 1e30f && dbig == 1.0f);
    assert_true(myo_model_gelu_f32(-1e30f, &dsmall) == 0.0f && dsmall == 0.0f);
    assert_true(fabs(myo_model_gelu_ref(1.0, NULL) - 0.841191990608276) < 1e-12); /* tanh form */
    if (verbose() || worst > 1)
        printf("gelu float vs double on [-16, 16]: max scaled error %.3g (atol 2e-6, rtol 1e-5)\n",
               worst);
    assert_true(worst <= 1);

    free(x), free(xf), free(g), free(gf), free(b), free(bf), free(dy), free(dyf), free(w1);
    free(w1f), free(b1), free(b1f), free(w2), free(w2f), free(b2), free(b2f), free(y), free(dx);
    free(yf), free(xhat), free(dxf), free(hpre), free(act), free(dw1f), free(dw2f), free(dw1);
    free(dw2);
}

static void test_model_pool_embed_head_match_reference(void **state)
{
    (void)state;
    const int64_t S = 4, n = 5, D = 6, V = 9, F = 10, C = 3, B = 2;
    float *xf, *duf;
    double *x = rand_pair(S * n * D, 1.0, 11, &xf), *du = rand_pair(S * D, 1.0, 12, &duf);
    double acc[64], u[24], dxr[120];
    float uf[24], dxf[120];
    myo_model_pool_forward_ref(S, n, D, x, u);
    myo_model_pool_forward_f32(S, n, D, xf, uf, acc);
    close_f32(uf, u, S * D, "mean pool forward");
    myo_model_pool_backward_ref(S, n, D, du, dxr);
    myo_model_pool_backward_f32(S, n, D, duf, dxf);
    close_f32(dxf, dxr, S * n * D, "mean pool backward");

    /* Embedding: token 8 never occurs (its gradient row is 0). */
    int32_t tok[20];
    myo_rng r = myo_rng_seed(13);
    for (int i = 0; i < 20; i++)
        tok[i] = (int32_t)myo_rng_below(&r, V - 1);
    float *ef, *pf;
    double *emb = rand_pair(V * D, 1.0, 14, &ef), *pos = rand_pair(n * D, 0.1, 15, &pf);
    double demb[54], dpos[30];
    float xo[120], dembf[54], dposf[30];
    myo_model_embed_forward_ref(S, n, D, tok, emb, pos, dxr);
    myo_model_embed_forward_f32(S, n, D, tok, ef, pf, xo);
    close_f32(xo, dxr, S * n * D, "embedding forward");
    myo_model_embed_backward_ref(S, n, D, V, tok, x, demb, dpos);
    myo_model_embed_backward_f32(S, n, D, V, tok, xf, dembf, dposf);
    close_f32(dembf, demb, V * D, "embedding backward demb");
    close_f32(dposf, dpos, n * D, "embedding backward dpos");
    for (int64_t j = 0; j < D; j++)
        assert_true(dembf[8 * D + j] == 0.0f);

    /* The head, single (B = S examples) and dual (B = S / 2 pairs), plain
     * and with label smoothing 0.2. */
    for (int k = 0; k < 4; k++) {
        const int dual = k / 2;
        const double eps = 0.2 * (k % 2);
        const int64_t Bx = dual ? B : S, K = dual ? F : D;
        float *whf, *bhf, *wcf, *bcf;
        double *wh = rand_pair(4 * D * F, 0.5, 16, &whf), *bh = rand_pair(F, 0.3, 17, &bhf);
        double *wc = rand_pair(K * C, 0.5, 18, &wcf), *bc = rand_pair(C, 0.3, 19, &bcf);
        int32_t lab[4] = {0, 2, 1, 2};
        myo_model_head_f64 h64 = {D, F, C, dual, wh, bh, wc, bc, eps};
        myo_model_head_f32 h32 = {D, F, C, dual, whf, bhf, wcf, bcf, eps};
        float z[4 * 6 * 4], hpre[40], act[40], logits[12], probs[12], dl[12], dact[40], dz[96];
        myo_model_head_cache cache = {z, hpre, act, logits, probs};
        double lg[12], loss_ref, dur[24], dwh[240], dbh[10], dwc[30], dbc[3];
        int64_t cr = -1, cf = -1;
        assert_int_equal(myo_model_head_forward_ref(&h64, Bx, u, lab, lg, &loss_ref, &cr), MYO_OK);
        double loss_f = myo_model_head_forward_f32(&h32, Bx, uf, lab, &cache, &cf);
        close_f32(logits, lg, Bx * C, dual ? "dual head logits" : "head logits");
        assert_true(fabs(loss_f - loss_ref) <= 1e-5 + 1e-4 * fabs(loss_ref));
        assert_int_equal(cf, cr);
        float duf2[24], dwhf[240], dbhf[10], dwcf[30], dbcf[3];
        assert_int_equal(myo_model_head_backward_ref(&h64, Bx, u, lab, dur, dwh, dbh, dwc, dbc),
                         MYO_OK);
        myo_model_head_backward_f32(&h32, Bx, uf, lab, &cache, duf2, dwhf, dbhf, dwcf, dbcf, dl,
                                    dact, dz, acc);
        close_f32(duf2, dur, S * D, "head backward du");
        close_f32(dwcf, dwc, K * C, "head backward dwc");
        close_f32(dbcf, dbc, C, "head backward dbc");
        if (dual) {
            close_f32(dwhf, dwh, 4 * D * F, "head backward dwh");
            close_f32(dbhf, dbh, F, "head backward dbh");
        }
        free(wh), free(whf), free(bh), free(bhf), free(wc), free(wcf), free(bc), free(bcf);
    }
    free(x), free(xf), free(du), free(duf), free(emb), free(ef), free(pos), free(pf);
}

/* ========================================= twins vs finite differences */

/* A twin's scalar loss sum(w .* f(inputs)) (or the head's own loss). */
typedef struct {
    int kind; /* 0 layernorm, 1 mlp, 2 pool, 3 embed, 4 head */
    int64_t rows, D, F, S, n, V, C, B;
    double *x, *g, *b, *w1, *b1, *w2, *b2, *w, *out;
    int32_t *tok, *lab;
    myo_model_head_f64 head;
} twin_ctx;

static double twin_loss(void *p)
{
    twin_ctx *c = p;
    int64_t count = 0;
    switch (c->kind) {
    case 0:
        myo_model_ln_forward_ref(c->rows, c->D, c->x, c->g, c->b, c->out);
        count = c->rows * c->D;
        break;
    case 1:
        assert_int_equal(myo_model_mlp_forward_ref(c->rows, c->D, c->F, c->x, c->w1, c->b1, c->w2,
                                                   c->b2, c->out),
                         MYO_OK);
        count = c->rows * c->D;
        break;
    case 2:
        myo_model_pool_forward_ref(c->S, c->n, c->D, c->x, c->out);
        count = c->S * c->D;
        break;
    case 3:
        myo_model_embed_forward_ref(c->S, c->n, c->D, c->tok, c->g, c->b, c->out);
        count = c->S * c->n * c->D;
        break;
    default: {
        double loss;
        assert_int_equal(
            myo_model_head_forward_ref(&c->head, c->B, c->x, c->lab, NULL, &loss, NULL), MYO_OK);
        return loss;
    }
    }
    double s = 0;
    for (int64_t i = 0; i < count; i++)
        s += c->w[i] * c->out[i];
    return s;
}

static double *rnd(int64_t count, double scale, uint64_t seed)
{
    double *v = test_alloc((size_t)count, sizeof(double));
    test_random_values(v, count, seed);
    for (int64_t i = 0; i < count; i++)
        v[i] *= scale;
    return v;
}

static void test_model_reference_gradients_match_finite_differences(void **state)
{
    (void)state;
    const int64_t rows = 3, D = 5, F = 7, S = 4, n = 3, V = 6, C = 4;
    twin_ctx c = {0};
    c.rows = rows, c.D = D, c.F = F, c.S = S, c.n = n, c.V = V, c.C = C;
    c.out = test_alloc(256, sizeof(double));
    c.w = rnd(256, 1.0, 21);
    double *gx = test_alloc(256, sizeof(double)), *gg = test_alloc(256, sizeof(double));
    double *gb = test_alloc(256, sizeof(double)), *g1 = test_alloc(256, sizeof(double));
    double *g2 = test_alloc(256, sizeof(double)), *gb1 = test_alloc(64, sizeof(double));
    double *gb2 = test_alloc(64, sizeof(double));

    /* LayerNorm: x, g, b. */
    c.kind = 0, c.x = rnd(rows * D, 1.5, 22), c.g = rnd(D, 1.0, 23), c.b = rnd(D, 1.0, 24);
    myo_model_ln_backward_ref(rows, D, c.x, c.g, c.w, gx, gg, gb);
    test_check_gradient("layernorm twin dx", c.x, rows * D, 1, gx, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);
    test_check_gradient("layernorm twin dg", c.g, D, 1, gg, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);
    test_check_gradient("layernorm twin db", c.b, D, 1, gb, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);

    /* MLP: x, W1, b1, W2, b2. */
    c.kind = 1, c.w1 = rnd(D * F, 0.7, 25), c.b1 = rnd(F, 0.5, 26), c.w2 = rnd(F * D, 0.7, 27);
    c.b2 = rnd(D, 0.5, 28);
    assert_int_equal(
        myo_model_mlp_backward_ref(rows, D, F, c.x, c.w1, c.b1, c.w2, c.w, gx, g1, gb1, g2, gb2),
        MYO_OK);
    test_check_gradient("mlp twin dx", c.x, rows * D, 1, gx, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);
    test_check_gradient("mlp twin dw1", c.w1, D * F, 1, g1, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);
    test_check_gradient("mlp twin db1", c.b1, F, 1, gb1, twin_loss, &c, FD_STEP, ATOL_FD, RTOL_FD);
    test_check_gradient("mlp twin dw2", c.w2, F * D, 1, g2, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);
    test_check_gradient("mlp twin db2", c.b2, D, 1, gb2, twin_loss, &c, FD_STEP, ATOL_FD, RTOL_FD);

    /* Mean pool: x (S, n, D). */
    c.kind = 2;
    double *xp = rnd(S * n * D, 1.0, 29), *xsave = c.x;
    c.x = xp;
    myo_model_pool_backward_ref(S, n, D, c.w, gx);
    test_check_gradient("mean pool twin dx", c.x, S * n * D, 1, gx, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);

    /* Embedding: E (V, D) in g, P (n, D) in b (token 5 unused). */
    c.kind = 3;
    int32_t tok[12] = {0, 1, 2, 3, 4, 0, 1, 1, 2, 3, 3, 0};
    c.tok = tok;
    double *e = rnd(V * D, 1.0, 30), *pz = rnd(n * D, 1.0, 31), *gsave = c.g, *bsave = c.b;
    c.g = e, c.b = pz;
    myo_model_embed_backward_ref(S, n, D, V, tok, c.w, gg, gb);
    test_check_gradient("embedding twin demb", e, V * D, 1, gg, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);
    test_check_gradient("embedding twin dpos", pz, n * D, 1, gb, twin_loss, &c, FD_STEP, ATOL_FD,
                        RTOL_FD);

    /* The head, single (B = S) and dual (B = S / 2): u, Wh, bh, Wc, bc. */
    c.kind = 4;
    int32_t lab[4] = {3, 0, 2, 1};
    c.lab = lab;
    double *u = rnd(S * D, 1.0, 32), *wh = rnd(4 * D * F, 0.6, 33), *bh = rnd(F, 0.3, 34);
    double *wc = rnd(F * C, 0.6, 35), *bc = rnd(C, 0.3, 36);
    c.x = u;
    for (int k = 0; k < 4; k++) { /* single and dual, label smoothing 0 and 0.3 */
        const int dual = k / 2;
        const int64_t K = dual ? F : D;
        c.B = dual ? S / 2 : S;
        c.head = (myo_model_head_f64){D, F, C, dual, wh, bh, wc, bc, 0.3 * (k % 2)};
        assert_int_equal(myo_model_head_backward_ref(&c.head, c.B, u, lab, gx, g1, gb1, g2, gb2),
                         MYO_OK);
        test_check_gradient(dual ? "dual head twin du" : "head twin du", u, S * D, 1, gx, twin_loss,
                            &c, FD_STEP, ATOL_FD, RTOL_FD);
        test_check_gradient("head twin dwc", wc, K * C, 1, g2, twin_loss, &c, FD_STEP, ATOL_FD,
                            RTOL_FD);
        test_check_gradient("head twin dbc", bc, C, 1, gb2, twin_loss, &c, FD_STEP, ATOL_FD,
                            RTOL_FD);
        if (dual) {
            test_check_gradient("dual head twin dwh", wh, 4 * D * F, 1, g1, twin_loss, &c, FD_STEP,
                                ATOL_FD, RTOL_FD);
            test_check_gradient("dual head twin dbh", bh, F, 1, gb1, twin_loss, &c, FD_STEP,
                                ATOL_FD, RTOL_FD);
        }
    }
    free(xsave), free(gsave), free(bsave), free(xp), free(e), free(pz), free(u), free(wh);
    free(bh), free(wc), free(bc), free(c.w1), free(c.b1), free(c.w2), free(c.b2), free(c.w);
    free(c.out), free(gx), free(gg), free(gb), free(g1), free(g2), free(gb1), free(gb2);
}

/* ============================================================ the model */

static const char *const mixer_names[] = {"myosotis(kary2)", "dense-tiled", "dense-materialized",
                                          "ssm"};

/* The tiny model of the end-to-end tests: D 8, H 2, F 16, L 2, C 3, V 11,
 * n 16; the Myosotis mixer on a binary hierarchy over the 16 tokens. */
static myo_model_config tiny_config(myo_mixer_kind mixer, int dual, myo_tree **tree)
{
    myo_model_config cfg = {11, 16, 8, 2, 16, 2, 3, dual, mixer, NULL, MYO_DIR_BOTH};
    if (mixer == MYO_MIXER_MYOSOTIS) {
        assert_int_equal(myo_tree_create_kary(16, 2, tree), MYO_OK);
        cfg.tree = *tree;
    }
    return cfg;
}

/* myo_model_create(cfg, max_batch, seed); fails the test unless MYO_OK. */
static myo_model *tiny_model(const myo_model_config *cfg, int64_t max_batch, uint64_t seed)
{
    myo_model *m = NULL;
    assert_int_equal(myo_model_create(cfg, max_batch, seed, &m), MYO_OK);
    return m;
}

/* tiny_model with every parameter moved off its initial value (gains off
 * 1, biases off 0) by U(-0.1, 0.1) drawn from r. */
static myo_model *moved_model(const myo_model_config *cfg, int64_t max_batch, uint64_t seed,
                              myo_rng *r)
{
    myo_model *m = tiny_model(cfg, max_batch, seed);
    float *p = myo_model_params(m);
    for (int64_t i = 0; i < myo_model_num_params(m); i++)
        p[i] += (float)myo_rng_uniform(r, -0.1, 0.1);
    return m;
}

/* tokens (batch, docs, n), labels (batch,) from seed. */
static void tiny_batch(const myo_model_config *cfg, int64_t batch, uint64_t seed, int32_t *tokens,
                       int32_t *labels)
{
    myo_rng r = myo_rng_seed(seed);
    for (int64_t i = 0; i < batch * (cfg->dual ? 2 : 1) * cfg->n; i++)
        tokens[i] = (int32_t)myo_rng_below(&r, cfg->vocab);
    for (int64_t b = 0; b < batch; b++)
        labels[b] = (int32_t)myo_rng_below(&r, cfg->classes);
}

typedef struct {
    myo_model *m;
    int64_t batch;
    const int32_t *tokens, *labels;
} model_ctx;

static double model_loss(model_ctx *c)
{
    double loss = 0;
    assert_int_equal(myo_model_forward(c->m, c->batch, c->tokens, c->labels, &loss, NULL), MYO_OK);
    return loss;
}

/* The gradient m holds (of c's batch) against central differences of the
 * model's own float loss on three entries of every tensor (first, last, one
 * drawn from r); prints the worst case under label.  Returns the worst
 * scaled error (<= 1 passes). */
static double check_model_fd(model_ctx *c, myo_rng *r, const char *label)
{
    myo_model *m = c->m;
    const int64_t P = myo_model_num_params(m);
    float *p = myo_model_params(m);
    float *grad = test_alloc((size_t)P, sizeof(float));
    memcpy(grad, myo_model_grads(m), (size_t)P * sizeof(float));
    double worst = 0, worst_abs = 0;
    const char *worst_name = "";
    int64_t checked = 0;
    for (int64_t ti = 0; ti < myo_model_num_tensors(m); ti++) {
        const myo_model_tensor *te = myo_model_tensor_at(m, ti);
        int64_t idx[3] = {0, te->count - 1, myo_rng_below(r, te->count)};
        for (int k = 0; k < 3; k++) {
            const int64_t i = te->offset + idx[k];
            const float v = p[i], vp = (float)(v + MODEL_FD_STEP), vm = (float)(v - MODEL_FD_STEP);
            p[i] = vp;
            double lp = model_loss(c);
            p[i] = vm;
            double lm = model_loss(c);
            p[i] = v;
            const double fd = (lp - lm) / ((double)vp - (double)vm);
            const double err = fabs(grad[i] - fd), sc = err / (MODEL_ATOL + MODEL_RTOL * fabs(fd));
            if (sc > 1)
                printf("  %s %s[%lld]: grad %.6g, central difference %.6g\n", label, te->name,
                       (long long)idx[k], (double)grad[i], fd);
            if (sc > worst) worst = sc, worst_name = te->name;
            worst_abs = fmax(worst_abs, err);
            checked++;
        }
    }
    printf("model gradient vs central differences, %s: %lld entries of %lld parameters, max "
           "|g - fd| %.3g, max scaled error %.3g (%s; <= 1 passes)\n",
           label, (long long)checked, (long long)P, worst_abs, worst, worst_name);
    free(grad);
    return worst;
}

static void test_model_gradients_match_finite_differences(void **state)
{
    (void)state;
    int32_t tokens[3 * 2 * 16], labels[3];
    for (int mixer = 0; mixer < 4; mixer++)
        for (int dual = 0; dual <= 1; dual++) {
            myo_tree *t = NULL;
            myo_model_config cfg = tiny_config((myo_mixer_kind)mixer, dual, &t);
            myo_rng r = myo_rng_seed(7 + (uint64_t)mixer);
            myo_model *m = moved_model(&cfg, 3, 42, &r);
            tiny_batch(&cfg, 3, 100 + (uint64_t)(2 * mixer + dual), tokens, labels);
            model_ctx c = {m, 3, tokens, labels};
            (void)model_loss(&c);
            assert_int_equal(myo_model_backward(m), MYO_OK);
            char label[64];
            snprintf(label, sizeof label, "%s, dual=%d", mixer_names[mixer], dual);
            assert_true(check_model_fd(&c, &r, label) <= 1);
            myo_model_destroy(&m);
            myo_tree_destroy(&t);
        }
}

/* ============================================== per-example trees */

/* parents (S, n) of S random parse-tree-like forests: a random length in
 * [n - n/4, n]; token 0 a root, token i < length a child of an earlier
 * token (a root with probability 1/8), the padding roots of their own. */
static void random_parse_trees(int64_t S, int64_t n, uint64_t seed, int32_t *parents)
{
    myo_rng r = myo_rng_seed(seed);
    for (int64_t s = 0; s < S; s++) {
        const int64_t len = n - myo_rng_below(&r, n / 4 + 1);
        for (int64_t i = 0; i < n; i++)
            parents[s * n + i] = i == 0 || i >= len || myo_rng_below(&r, 8) == 0
                                     ? -1
                                     : (int32_t)myo_rng_below(&r, i);
    }
}

/* Per-example trees: the batch's loss and gradients are the mean of each
 * example's alone (batch 1) on its own tree; a batch whose examples share
 * one tree gives what cfg->tree = that tree gives; central differences of
 * the loss agree with the gradient. */
static void test_model_per_example_trees_match_each_alone(void **state)
{
    (void)state;
    enum { B = 3, n = 16 };
    int32_t tokens[B * 2 * n], labels[B], parents[B * 2 * n], same[B * 2 * n];
    for (int dual = 0; dual <= 1; dual++) {
        const int64_t docs = dual ? 2 : 1, S = docs * B;
        myo_model_config cfg = {11,   n,           8, 2, 16, 2, 3, dual, MYO_MIXER_MYOSOTIS,
                                NULL, MYO_DIR_BOTH};
        myo_model *mb = tiny_model(&cfg, B, 21), *m1 = tiny_model(&cfg, 1, 21);
        const int64_t P = myo_model_num_params(mb);
        /* Parameters off their initial values, the same in both models. */
        float *pb = myo_model_params(mb), *p1 = myo_model_params(m1);
        myo_rng r = myo_rng_seed(33 + (uint64_t)dual);
        for (int64_t i = 0; i < P; i++)
            pb[i] += (float)myo_rng_uniform(&r, -0.1, 0.1);
        memcpy(p1, pb, (size_t)P * sizeof(float));
        tiny_batch(&cfg, B, 500 + (uint64_t)dual, tokens, labels);
        random_parse_trees(S, n, 600 + (uint64_t)dual, parents);

        /* The batch on the forest. */
        double loss = 0;
        int64_t correct = 0;
        assert_int_equal(myo_model_set_trees(mb, B, parents), MYO_OK);
        assert_int_equal(myo_model_forward(mb, B, tokens, labels, &loss, &correct), MYO_OK);
        assert_int_equal(myo_model_backward(mb), MYO_OK);
        /* Each example alone on its own tree; the batch's loss is the mean. */
        double *want = test_alloc((size_t)P, sizeof(double)), want_loss = 0;
        int64_t want_correct = 0;
        for (int64_t b = 0; b < B; b++) {
            double lb = 0;
            int64_t cb = 0;
            assert_int_equal(myo_model_set_trees(m1, 1, parents + b * docs * n), MYO_OK);
            assert_int_equal(myo_model_forward(m1, 1, tokens + b * docs * n, labels + b, &lb, &cb),
                             MYO_OK);
            assert_int_equal(myo_model_backward(m1), MYO_OK);
            const float *g = myo_model_grads(m1);
            for (int64_t i = 0; i < P; i++)
                want[i] += (double)g[i] / B;
            want_loss += lb / B, want_correct += cb;
        }
        printf("per-example trees, dual=%d: batch loss %.9g, mean of the %d alone %.9g\n", dual,
               loss, (int)B, want_loss);
        assert_true(fabs(loss - want_loss) <= 1e-6 * fabs(want_loss));
        assert_int_equal(correct, want_correct);
        char what[80];
        snprintf(what, sizeof what, "per-example trees vs each alone, dual=%d", dual);
        test_assert_close_f32(myo_model_grads(mb), want, P, 1e-6, 1e-4, what);

        /* One tree for all: the forest equals cfg->tree = that tree. */
        int64_t fp[n];
        for (int64_t i = 0; i < n; i++)
            fp[i] = parents[i];
        for (int64_t s = 0; s < S; s++)
            memcpy(same + s * n, parents, n * sizeof(int32_t));
        myo_tree *t0 = NULL;
        assert_int_equal(myo_tree_create(fp, n, &t0), MYO_OK);
        myo_model_config cfg0 = cfg;
        cfg0.tree = t0;
        myo_model *m0 = tiny_model(&cfg0, B, 21);
        memcpy(myo_model_params(m0), pb, (size_t)P * sizeof(float));
        double l0 = 0, ls = 0;
        assert_int_equal(myo_model_forward(m0, B, tokens, labels, &l0, NULL), MYO_OK);
        assert_int_equal(myo_model_backward(m0), MYO_OK);
        assert_int_equal(myo_model_set_trees(mb, B, same), MYO_OK);
        assert_int_equal(myo_model_forward(mb, B, tokens, labels, &ls, NULL), MYO_OK);
        assert_int_equal(myo_model_backward(mb), MYO_OK);
        assert_true(fabs(l0 - ls) <= 1e-6 * fabs(l0));
        test_widen_to_f64(myo_model_grads(m0), want, P);
        snprintf(what, sizeof what, "one tree for all: forest vs cfg->tree, dual=%d", dual);
        test_assert_close_f32(myo_model_grads(mb), want, P, 1e-6, 1e-4, what);
        /* cfg->tree's model with per-example trees set, then dropped. */
        assert_int_equal(myo_model_set_trees(m0, B, parents), MYO_OK);
        assert_int_equal(myo_model_forward(m0, B, tokens, labels, &l0, NULL), MYO_OK);
        assert_true(fabs(l0 - loss) <= 1e-6 * fabs(loss));
        assert_int_equal(myo_model_set_trees(m0, 0, NULL), MYO_OK);
        assert_int_equal(myo_model_forward(m0, B, tokens, labels, &l0, NULL), MYO_OK);
        assert_true(fabs(l0 - ls) <= 1e-6 * fabs(ls));

        /* Central differences on the forest (a tiny batch of 2). */
        assert_int_equal(myo_model_set_trees(mb, 2, parents), MYO_OK);
        model_ctx c = {mb, 2, tokens, labels};
        (void)model_loss(&c);
        assert_int_equal(myo_model_backward(mb), MYO_OK);
        snprintf(what, sizeof what, "myosotis per-example trees, dual=%d", dual);
        assert_true(check_model_fd(&c, &r, what) <= 1);

        free(want);
        myo_model_destroy(&mb), myo_model_destroy(&m1), myo_model_destroy(&m0);
        myo_tree_destroy(&t0);
    }
}

static void test_model_per_example_trees_reject_bad_input(void **state)
{
    (void)state;
    enum { n = 16 };
    int32_t tokens[2 * n], labels[2], parents[2 * n];
    myo_model_config cfg = {11, n, 8, 2, 16, 2, 3, 0, MYO_MIXER_MYOSOTIS, NULL, MYO_DIR_BOTH};
    assert_int_equal(myo_model_config_check(&cfg), MYO_OK);
    myo_model *m = tiny_model(&cfg, 2, 4);
    tiny_batch(&cfg, 2, 700, tokens, labels);
    random_parse_trees(2, n, 701, parents);
    /* No tree yet. */
    assert_int_equal(myo_model_forward(m, 2, tokens, labels, NULL, NULL), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "no tree"));
    /* Arguments. */
    assert_int_equal(myo_model_set_trees(NULL, 1, parents), MYO_ERR_ARG);
    assert_int_equal(myo_model_set_trees(m, 0, parents), MYO_ERR_ARG);
    assert_int_equal(myo_model_set_trees(m, 3, parents), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "batch = 3"));
    /* Bad parents, named by example and position; nothing set then. */
    const int32_t bad[][2] = {{5, n}, {5, -2}, {5, 5}};
    for (int j = 0; j < COUNT(bad); j++) {
        const int32_t saved = parents[n + bad[j][0]];
        parents[n + bad[j][0]] = bad[j][1];
        assert_int_equal(myo_model_set_trees(m, 2, parents), MYO_ERR_DATA);
        assert_non_null(strstr(myo_error_detail(), "example 1, position 5"));
        parents[n + bad[j][0]] = saved;
    }
    parents[n + 3] = 7, parents[n + 7] = 3; /* a cycle 3 -> 7 -> 3 */
    assert_int_equal(myo_model_set_trees(m, 2, parents), MYO_ERR_DATA);
    assert_non_null(strstr(myo_error_detail(), "example 1"));
    assert_non_null(strstr(myo_error_detail(), "cycle"));
    parents[n + 3] = 0, parents[n + 7] = 0;
    /* Set: forward needs that batch; the same trees again keep the forward. */
    assert_int_equal(myo_model_set_trees(m, 2, parents), MYO_OK);
    assert_int_equal(myo_model_forward(m, 1, tokens, labels, NULL, NULL), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "set the trees of 2 examples"));
    assert_int_equal(myo_model_forward(m, 2, tokens, labels, NULL, NULL), MYO_OK);
    const size_t bytes = myo_model_bytes(m);
    assert_true(bytes > 0);
    assert_int_equal(myo_model_set_trees(m, 2, parents), MYO_OK);
    assert_int_equal(myo_model_backward(m), MYO_OK);
    /* Other trees discard the forward. */
    parents[n + 9] = 2;
    assert_int_equal(myo_model_set_trees(m, 2, parents), MYO_OK);
    assert_int_equal(myo_model_backward(m), MYO_ERR_ARG);
    /* Dropped: no tree again. */
    assert_int_equal(myo_model_set_trees(m, 0, NULL), MYO_OK);
    assert_int_equal(myo_model_forward(m, 2, tokens, labels, NULL, NULL), MYO_ERR_ARG);
    myo_model_destroy(&m);
    /* Other mixers have no trees. */
    myo_tree *t = NULL;
    myo_model_config ssm = tiny_config(MYO_MIXER_SSM, 0, &t);
    m = tiny_model(&ssm, 2, 4);
    assert_int_equal(myo_model_set_trees(m, 2, parents), MYO_ERR_ARG);
    assert_non_null(strstr(myo_error_detail(), "Myosotis"));
    myo_model_destroy(&m);
}

/* Runs body on each tiny configuration: every mixer, single and dual (the
 * Myosotis tree made before and destroyed after). */
static void each_tiny_config(void (*body)(const myo_model_config *cfg, int mixer, int dual))
{
    for (int mixer = 0; mixer < 4; mixer++)
        for (int dual = 0; dual <= 1; dual++) {
            myo_tree *t = NULL;
            const myo_model_config cfg = tiny_config((myo_mixer_kind)mixer, dual, &t);
            body(&cfg, mixer, dual);
            myo_tree_destroy(&t);
        }
}

static void adamw_reduces_the_loss(const myo_model_config *cfg, int mixer, int dual)
{
    int32_t tokens[3 * 2 * 16], labels[3];
    const myo_adam_config adam = {1e-2, 0.9, 0.999, 1e-8, 0.01};
    myo_model *m = tiny_model(cfg, 3, 5);
    tiny_batch(cfg, 3, 200 + (uint64_t)(2 * mixer + dual), tokens, labels);
    double first = 0, loss = 0;
    int64_t correct = 0;
    for (int step = 0; step < 30; step++) {
        assert_int_equal(myo_model_forward(m, 3, tokens, labels, &loss, &correct), MYO_OK);
        if (step == 0) first = loss;
        assert_int_equal(myo_model_backward(m), MYO_OK);
        assert_int_equal(myo_model_adam_step(m, &adam), MYO_OK);
    }
    assert_int_equal(myo_model_forward(m, 3, tokens, labels, &loss, &correct), MYO_OK);
    printf("AdamW, %s, dual=%d: loss %.4f -> %.4f after 30 steps, %lld/3 correct\n",
           mixer_names[mixer], dual, first, loss, (long long)correct);
    assert_true(isfinite(loss));
    assert_true(loss < 0.25 * first);
    assert_int_equal(correct, 3);
    myo_model_times tm;
    myo_model_last_times(m, &tm);
    assert_true(tm.forward > 0 && tm.backward > 0 && tm.update > 0);
    assert_true(tm.mixer_forward > 0 && tm.mixer_forward <= tm.forward);
    assert_true(tm.mixer_backward > 0 && tm.mixer_backward <= tm.backward);
    myo_model_destroy(&m);
}

static void test_model_adamw_reduces_the_loss(void **state)
{
    (void)state;
    each_tiny_config(adamw_reduces_the_loss);
}

/* A checkpoint's state -- parameters, AdamW's moments and step count --
 * copied into a fresh model of the same configuration (another seed:
 * other initial parameters) continues training bit for bit: 3 more steps
 * after 2 give the parameters of 5 straight, for every mixer.  Not
 * vacuous: without the step count (t restarting at 1) the parameters
 * differ. */
static void test_model_adam_state_restores_bit_for_bit(void **state)
{
    (void)state;
    int32_t tokens[2 * 16], labels[2];
    const myo_adam_config adam = {1e-2, 0.9, 0.999, 1e-8, 0.01};
    for (int mixer = 0; mixer < 4; mixer++) {
        myo_tree *t = NULL;
        myo_model_config cfg = tiny_config((myo_mixer_kind)mixer, 0, &t);
        myo_model *straight = tiny_model(&cfg, 2, 5), *resumed = tiny_model(&cfg, 2, 99),
                  *no_steps = tiny_model(&cfg, 2, 99);
        const int64_t P = myo_model_num_params(straight);
        for (int step = 0; step < 5; step++) {
            tiny_batch(&cfg, 2, 300 + (uint64_t)step, tokens, labels);
            if (step == 2) {
                myo_model *dst[2] = {resumed, no_steps};
                for (int k = 0; k < 2; k++) {
                    memcpy(myo_model_params(dst[k]), myo_model_params(straight), (size_t)P * 4);
                    memcpy(myo_model_adam_moment1(dst[k]), myo_model_adam_moment1(straight),
                           (size_t)P * 4);
                    memcpy(myo_model_adam_moment2(dst[k]), myo_model_adam_moment2(straight),
                           (size_t)P * 4);
                }
                assert_int_equal(myo_model_adam_steps(straight), 2);
                assert_int_equal(myo_model_set_adam_steps(resumed, 2), MYO_OK);
            }
            myo_model *each[3] = {straight, resumed, no_steps};
            for (int k = 0; k < (step < 2 ? 1 : 3); k++) {
                assert_int_equal(myo_model_forward(each[k], 2, tokens, labels, NULL, NULL), MYO_OK);
                assert_int_equal(myo_model_backward(each[k]), MYO_OK);
                assert_int_equal(myo_model_adam_step(each[k], &adam), MYO_OK);
            }
        }
        assert_int_equal(myo_model_adam_steps(resumed), 5);
        assert_memory_equal(myo_model_params(straight), myo_model_params(resumed), (size_t)P * 4);
        assert_memory_not_equal(myo_model_params(straight), myo_model_params(no_steps),
                                (size_t)P * 4);
        assert_int_equal(myo_model_set_adam_steps(resumed, -1), MYO_ERR_ARG);
        myo_model_destroy(&straight), myo_model_destroy(&resumed), myo_model_destroy(&no_steps);
        myo_tree_destroy(&t);
    }
}

/* Clipping: the norm against an independent sum (long double, reverse
 * order; relative 1e-12), the clipped vector's norm max_norm (relative
 * 1e-6, float scaling) and direction kept; a larger max_norm or INFINITY
 * leaves every gradient bit for bit; bad arguments refused. */
static void test_model_clip_grads(void **state)
{
    (void)state;
    int32_t tokens[2 * 16], labels[2];
    myo_tree *t = NULL;
    myo_model_config cfg = tiny_config(MYO_MIXER_MYOSOTIS, 0, &t);
    myo_model *m = tiny_model(&cfg, 2, 5);
    const int64_t P = myo_model_num_params(m);
    tiny_batch(&cfg, 2, 41, tokens, labels);
    assert_int_equal(myo_model_forward(m, 2, tokens, labels, NULL, NULL), MYO_OK);
    assert_int_equal(myo_model_backward(m), MYO_OK);
    float *g = myo_model_grads(m), *keep = malloc((size_t)P * 4);
    assert_non_null(keep);
    memcpy(keep, g, (size_t)P * 4);
    long double sum = 0;
    for (int64_t i = P - 1; i >= 0; i--)
        sum += (long double)g[i] * g[i];
    const double want = (double)sqrtl(sum);
    double norm = 0;
    assert_int_equal(myo_model_clip_grads(m, INFINITY, &norm), MYO_OK);
    assert_true(fabs(norm - want) <= 1e-12 * want);
    assert_memory_equal(g, keep, (size_t)P * 4);
    assert_int_equal(myo_model_clip_grads(m, 2 * want, &norm), MYO_OK);
    assert_memory_equal(g, keep, (size_t)P * 4);
    assert_int_equal(myo_model_clip_grads(m, 0.25 * want, &norm), MYO_OK);
    double after = 0;
    assert_int_equal(myo_model_clip_grads(m, INFINITY, &after), MYO_OK);
    printf("clip: norm %.6g (independent %.6g), clipped to %.6g (target %.6g)\n", norm, want,
           after, 0.25 * want);
    assert_true(fabs(after - 0.25 * want) <= 1e-6 * want);
    for (int64_t i = 0; i < P; i++)
        assert_true(fabsf(g[i] - 0.25f * keep[i]) <= 1e-6f * fabsf(keep[i]) + 1e-30f);
    assert_int_equal(myo_model_clip_grads(m, 0, &norm), MYO_ERR_ARG);
    assert_int_equal(myo_model_clip_grads(NULL, 1, &norm), MYO_ERR_ARG);
    g[3] = NAN;
    assert_int_equal(myo_model_clip_grads(m, 1, &norm), MYO_ERR_DATA);
    free(keep);
    myo_model_destroy(&m);
    myo_tree_destroy(&t);
}

/* Schedules against hand-computed values: warm-up 4 of 14 updates, peak
 * 2, final fraction 0.1: t = 0 -> 0.5, t = 3 -> 2, t = 4 -> 2 (decay
 * starts), t = 9 (q = 1/2) -> cosine 2 (0.1 + 0.9 / 2) = 1.1, linear
 * 1.1, t >= 14 -> 0.2; constant 2 after the warm-up; bad schedules NaN. */
static void test_lr_schedule(void **state)
{
    (void)state;
    myo_lr_schedule s = {2.0, 4, 14, MYO_LR_COSINE, 0.1};
    assert_int_equal(myo_lr_schedule_check(&s), MYO_OK);
    const double tol = 1e-12;
    assert_true(fabs(myo_lr_at(&s, 0) - 0.5) < tol);
    assert_true(fabs(myo_lr_at(&s, 3) - 2.0) < tol);
    assert_true(fabs(myo_lr_at(&s, 4) - 2.0) < tol);
    assert_true(fabs(myo_lr_at(&s, 9) - 1.1) < tol);
    assert_true(fabs(myo_lr_at(&s, 6) - 2.0 * (0.1 + 0.45 * (1 + cos(M_PI * 0.2)))) < tol);
    assert_true(fabs(myo_lr_at(&s, 14) - 0.2) < tol);
    assert_true(fabs(myo_lr_at(&s, 1000) - 0.2) < tol);
    s.decay = MYO_LR_LINEAR;
    assert_true(fabs(myo_lr_at(&s, 9) - 1.1) < tol);
    assert_true(fabs(myo_lr_at(&s, 6) - 2.0 * (1 - 0.9 * 0.2)) < tol);
    s.decay = MYO_LR_CONSTANT;
    assert_true(fabs(myo_lr_at(&s, 13) - 2.0) < tol);
    s = (myo_lr_schedule){1.0, 0, 1, MYO_LR_COSINE, 0.0};
    assert_true(fabs(myo_lr_at(&s, 0) - 1.0) < tol); /* no warm-up: the peak first */
    assert_true(isnan(myo_lr_at(&s, -1)));
    myo_lr_schedule bad[] = {{0, 0, 1, MYO_LR_COSINE, 0},  {1, 2, 1, MYO_LR_COSINE, 0},
                             {1, 0, 0, MYO_LR_COSINE, 0},  {1, 0, 1, (myo_lr_decay)7, 0},
                             {1, 0, 1, MYO_LR_LINEAR, 1.5}, {NAN, 0, 1, MYO_LR_LINEAR, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(myo_lr_schedule_check(&bad[k]), MYO_ERR_ARG);
        assert_true(isnan(myo_lr_at(&bad[k], 0)));
    }
    myo_lr_decay d;
    assert_int_equal(myo_lr_decay_parse("linear", &d), MYO_OK);
    assert_int_equal(d, MYO_LR_LINEAR);
    assert_string_equal(myo_lr_decay_name(MYO_LR_COSINE), "cosine");
    assert_int_equal(myo_lr_decay_parse("Cosine", &d), MYO_ERR_ARG);
}

/* myo_model_logit_spread_bound: every example's loss (each label), and a
 * batch's mean, within the bound of ln C, for every mixer, single and
 * dual, D = 1 (the final LayerNorm's output is its bias), 4, 8, 16, at
 * initialisation, with every parameter moved off it, and after AdamW has
 * driven the loss far from ln C; every example's also with label
 * smoothing 0.4 and dropout 0.5.  Not vacuous: a single-encoder head
 * whose pooled u is its final LayerNorm's bias, set along a column of Wc
 * less the mean column, reaches more than a quarter of it (and, with
 * smoothing 0.4, more than a fifth). */
static void test_model_logit_spread_bound_holds(void **state)
{
    (void)state;
    enum { B = 3 };
    int32_t tokens[B * 2 * 16], labels[B];
    const int64_t dims[] = {1, 4, 8, 16};
    const myo_adam_config adam = {1e-2, 0.9, 0.999, 1e-8, 0.0};
    double worst = 0, worst_reg = 0; /* max |loss - ln C| / bound; with the regularisers */
    for (int mixer = 0; mixer < 4; mixer++)
        for (int dual = 0; dual <= 1; dual++)
            for (int di = 0; di < COUNT(dims); di++) {
                myo_tree *t = NULL;
                myo_model_config cfg = tiny_config((myo_mixer_kind)mixer, dual, &t);
                cfg.d_model = dims[di], cfg.heads = dims[di] > 1 ? 2 : 1;
                for (int phase = 0; phase < 3; phase++) { /* init, moved, trained */
                    myo_model *m = tiny_model(&cfg, B, 70 + (uint64_t)phase);
                    tiny_batch(&cfg, B, 80 + (uint64_t)(8 * mixer + 2 * di + dual), tokens, labels);
                    float *p = myo_model_params(m);
                    myo_rng r = myo_rng_seed(90 + (uint64_t)mixer);
                    if (phase == 1)
                        for (int64_t i = 0; i < myo_model_num_params(m); i++)
                            p[i] += (float)myo_rng_uniform(&r, -0.3, 0.3);
                    double loss = 0;
                    for (int step = 0; phase == 2 && step < 40; step++) {
                        assert_int_equal(myo_model_forward(m, B, tokens, labels, &loss, NULL),
                                         MYO_OK);
                        assert_int_equal(myo_model_backward(m), MYO_OK);
                        assert_int_equal(myo_model_adam_step(m, &adam), MYO_OK);
                    }
                    const double bound = myo_model_logit_spread_bound(m), lnC = log(3.0);
                    assert_true(isfinite(bound) && bound > 0);
                    assert_int_equal(myo_model_forward(m, B, tokens, labels, &loss, NULL), MYO_OK);
                    worst = fmax(worst, fabs(loss - lnC) / bound);
                    for (int reg = 0; reg <= 1; reg++) { /* smoothing 0.4, dropout 0.5 */
                        assert_int_equal(myo_model_set_label_smoothing(m, 0.4 * reg), MYO_OK);
                        assert_int_equal(myo_model_set_dropout(m, 0.5 * reg, 60), MYO_OK);
                        for (int64_t b = 0; b < B; b++)
                            for (int32_t label = 0; label < 3; label++) {
                                const int64_t docs = dual ? 2 : 1;
                                assert_int_equal(myo_model_forward(m, 1, tokens + b * docs * 16,
                                                                   &label, &loss, NULL),
                                                 MYO_OK);
                                if (!(fabs(loss - lnC) <= bound))
                                    fail_msg("%s, dual=%d, D=%lld, phase %d%s: loss %.6g is "
                                             "further than the bound %.6g from ln C",
                                             mixer_names[mixer], dual, (long long)dims[di], phase,
                                             reg ? ", smoothing 0.4, dropout 0.5" : "", loss,
                                             bound);
                                worst = fmax(worst, fabs(loss - lnC) / bound);
                                if (reg) worst_reg = fmax(worst_reg, fabs(loss - lnC) / bound);
                            }
                    }
                    myo_model_destroy(&m);
                }
                myo_tree_destroy(&t);
            }
    printf("logit spread bound: max |loss - ln C| / bound %.3f, %.3f with smoothing 0.4 and "
           "dropout 0.5 (<= 1 passes)\n",
           worst, worst_reg);

    /* Not vacuous: gain 0 and bias b make u = b for every input; b along
     * the column of Wc (less the mean column) that the bound is made of. */
    myo_tree *t = NULL;
    myo_model_config cfg = tiny_config(MYO_MIXER_SSM, 0, &t);
    myo_model *m = tiny_model(&cfg, 1, 3);
    float *p = myo_model_params(m);
    const int64_t D = cfg.d_model, C = cfg.classes, P = myo_model_num_params(m);
    const int64_t wc = P - C - D * C, lnf = wc - 2 * D; /* ...; lnf g, b; Wc (D, C), bc */
    int64_t best = 0;
    double best_norm = 0;
    for (int64_t c = 0; c < C; c++) {
        double norm = 0;
        for (int64_t k = 0; k < D; k++) {
            double mean = 0;
            for (int64_t c2 = 0; c2 < C; c2++)
                mean += p[wc + k * C + c2] / (double)C;
            norm += (p[wc + k * C + c] - mean) * (p[wc + k * C + c] - mean);
        }
        if (norm > best_norm) best_norm = norm, best = c;
    }
    for (int64_t k = 0; k < D; k++) {
        double mean = 0;
        for (int64_t c2 = 0; c2 < C; c2++)
            mean += p[wc + k * C + c2] / (double)C;
        p[lnf + k] = 0.0f;                                                         /* gain */
        p[lnf + D + k] = (float)((p[wc + k * C + best] - mean) / sqrt(best_norm)); /* |b| = 1 */
    }
    const double bound = myo_model_logit_spread_bound(m);
    double far = 0, loss = 0;
    tiny_batch(&cfg, 1, 4, tokens, labels);
    for (int32_t label = 0; label < C; label++) {
        assert_int_equal(myo_model_forward(m, 1, tokens, &label, &loss, NULL), MYO_OK);
        far = fmax(far, fabs(loss - log((double)C)));
    }
    printf("logit spread bound %.4g, reached %.4g (%.0f%%)\n", bound, far, 100 * far / bound);
    assert_true(far <= bound && far > 0.25 * bound);
    assert_int_equal(myo_model_set_label_smoothing(m, 0.4), MYO_OK);
    far = 0;
    for (int32_t label = 0; label < C; label++) {
        assert_int_equal(myo_model_forward(m, 1, tokens, &label, &loss, NULL), MYO_OK);
        far = fmax(far, fabs(loss - log((double)C)));
    }
    printf("logit spread bound %.4g, reached %.4g (%.0f%%) with smoothing 0.4\n", bound, far,
           100 * far / bound);
    assert_true(far <= bound && far > 0.2 * bound);
    myo_model_destroy(&m);
    myo_tree_destroy(&t);
}

/* myo_model_gradient_check: the model's own gradients give a ratio within
 * 1e-2 of 1 (every mixer, single and dual, per-example trees, D = 4 and
 * 16); the model is left as it was (the parameters bit for bit, and a
 * backward gives the same gradients again); gradients of the wrong sign
 * give about -1, doubled ones about 0.5, zero ones NaN; no backward to
 * check, or a bad delta, is refused. */
static void test_model_gradient_check_catches_wrong_gradients(void **state)
{
    (void)state;
    enum { B = 3 };
    int32_t tokens[B * 2 * 16], labels[B], parents[B * 2 * 16];
    double lo = INFINITY, hi = -INFINITY;
    for (int mixer = 0; mixer < 5; mixer++) /* 4: Myosotis on per-example trees */
        for (int dual = 0; dual <= 1; dual++)
            for (int64_t D = 4; D <= 16; D *= 4) {
                myo_tree *t = NULL;
                myo_model_config cfg =
                    tiny_config(mixer == 4 ? MYO_MIXER_MYOSOTIS : (myo_mixer_kind)mixer, dual, &t);
                cfg.d_model = D;
                if (mixer == 4) cfg.tree = NULL;
                myo_model *m = tiny_model(&cfg, B, 11);
                const int64_t P = myo_model_num_params(m);
                tiny_batch(&cfg, B, 12 + (uint64_t)(4 * mixer + dual), tokens, labels);
                if (mixer == 4) {
                    random_parse_trees((dual ? 2 : 1) * B, 16, 13, parents);
                    assert_int_equal(myo_model_set_trees(m, B, parents), MYO_OK);
                }
                double loss = 0, ratio = 0;
                assert_int_equal(myo_model_gradient_check(m, 1e-3, &ratio), MYO_ERR_ARG);
                assert_int_equal(myo_model_forward(m, B, tokens, labels, &loss, NULL), MYO_OK);
                assert_int_equal(myo_model_backward(m), MYO_OK);
                assert_int_equal(myo_model_gradient_check(m, 0, &ratio), MYO_ERR_ARG);
                assert_int_equal(myo_model_gradient_check(m, NAN, &ratio), MYO_ERR_ARG);
                float *keep = test_alloc((size_t)2 * P, sizeof(float)), *kept_g = keep + P;
                float *g = myo_model_grads(m);
                memcpy(keep, myo_model_params(m), (size_t)P * sizeof(float));
                memcpy(kept_g, g, (size_t)P * sizeof(float));
                assert_int_equal(myo_model_gradient_check(m, 1e-3, &ratio), MYO_OK);
                assert_memory_equal(keep, myo_model_params(m), (size_t)P * sizeof(float));
                assert_int_equal(myo_model_backward(m), MYO_OK); /* the forward at theta again */
                assert_memory_equal(kept_g, g, (size_t)P * sizeof(float));
                lo = fmin(lo, ratio), hi = fmax(hi, ratio);
                if (!(fabs(ratio - 1) <= 1e-2))
                    fail_msg("%s, dual=%d, D=%lld: ratio %.6g",
                             mixer == 4 ? "parse trees" : mixer_names[mixer], dual, (long long)D,
                             ratio);
                /* wrong gradients, kept in place of the model's */
                const double scale[3] = {-1, 2, 0}, want[3] = {-1, 0.5, NAN};
                for (int k = 0; k < 3; k++) {
                    assert_int_equal(myo_model_forward(m, B, tokens, labels, &loss, NULL), MYO_OK);
                    assert_int_equal(myo_model_backward(m), MYO_OK);
                    for (int64_t i = 0; i < P; i++)
                        g[i] = (float)(g[i] * scale[k]);
                    assert_int_equal(myo_model_gradient_check(m, 1e-3, &ratio), MYO_OK);
                    if (k < 2 ? !(fabs(ratio - want[k]) <= 0.05 * fabs(want[k])) : !isnan(ratio))
                        fail_msg("gradients times %g: ratio %.6g (expected about %g)", scale[k],
                                 ratio, want[k]);
                }
                free(keep);
                myo_model_destroy(&m);
                myo_tree_destroy(&t);
            }
    printf("gradient check: ratio in [%.6f, %.6f] for the model's own gradients\n", lo, hi);
    assert_int_equal(myo_model_gradient_check(NULL, 1e-3, &(double){0}), MYO_ERR_ARG);
}

/* ======================================== label smoothing and dropout */

/* The dropout mask (model_ref.h) and its kernels.  Float kernel vs double
 * twin on random values (overwrite and accumulate, rate 0.3; rate 0 is the
 * identity in both, bit for bit in float).  Statistics of the mask at rate
 * 0.5 over N = 9 masks (the embedding's, and the mixer's and the MLP's of
 * 4 layers) of 4096 rows x 64 columns = 2359296 entries, sigma =
 * sqrt(p (1 - p) / N) = 3.3e-4, each within 5 sigma of its expectation:
 * the kept fraction (0.5), and, for independence, the fraction kept in
 * both of two masks (0.25) -- another site or layer, another seed (s + 1),
 * the next row, the next column of the same mask; at rates 0.1
 * and 0.9 the kept fraction of one mask (N = 262144) within 5 sigma of 1 -
 * p.  A pure function: the same arguments give the same bit. */
static void test_model_dropout_mask_matches_reference_and_rate(void **state)
{
    (void)state;
    const int64_t rows = 9, D = 7;
    float *xf;
    double *x = rand_pair(rows * D, 2.0, 51, &xf);
    double *y = test_alloc((size_t)(rows * D), sizeof(double));
    float *yf = test_alloc((size_t)(rows * D), sizeof(float));
    const uint64_t key = myo_model_dropout_key(77, MYO_DROP_MIXER, 1);
    myo_model_dropout_ref(rows, D, 0.3, key, x, y);
    myo_model_dropout_f32(rows, D, 0.3, key, xf, yf, 0);
    close_f32(yf, y, rows * D, "dropout forward (overwrite)");
    int64_t zeros = 0;
    for (int64_t i = 0; i < rows * D; i++)
        zeros += yf[i] == 0.0f;
    assert_true(zeros > 0 && zeros < rows * D); /* some dropped, some kept */
    for (int64_t i = 0; i < rows * D; i++)
        yf[i] = 0.5f, y[i] += 0.5;
    myo_model_dropout_f32(rows, D, 0.3, key, xf, yf, 1);
    close_f32(yf, y, rows * D, "dropout forward (accumulated)");
    myo_model_dropout_f32(rows, D, 0.0, key, xf, yf, 0);
    assert_memory_equal(yf, xf, (size_t)(rows * D) * sizeof(float));
    myo_model_dropout_ref(rows, D, 0.0, key, x, y);
    assert_memory_equal(y, x, (size_t)(rows * D) * sizeof(double));

    /* Statistics at rate 0.5. */
    enum { NR = 4096, NC = 64, NL = 4 };
    const uint64_t cut = myo_model_dropout_cut(0.5), seed = 12345;
    uint64_t keys[1 + 2 * NL], next_seed[1 + 2 * NL]; /* under seed and seed + 1 */
    for (int q = 0; q < 2; q++) {
        uint64_t *k = q ? next_seed : keys;
        k[0] = myo_model_dropout_key(seed + (uint64_t)q, MYO_DROP_EMBED, 0);
        for (int64_t l = 0; l < NL; l++) {
            k[1 + 2 * l] = myo_model_dropout_key(seed + (uint64_t)q, MYO_DROP_MIXER, l);
            k[2 + 2 * l] = myo_model_dropout_key(seed + (uint64_t)q, MYO_DROP_MLP, l);
        }
    }
    const int nk = COUNT(keys);
    /* pairs: each mask with the next and the one after it in the order
     * embedding, mixer 0, MLP 0, mixer 1, ... (cyclic), with itself under
     * seed + 1, and each entry with the next row's and the next column's */
    int64_t kept = 0, both_next = 0, both_after = 0, both_seed = 0, both_row = 0, both_col = 0;
    for (int k = 0; k < nk; k++)
        for (int64_t r = 0; r < NR; r++)
            for (int64_t c = 0; c < NC; c++) {
                const int a = myo_model_dropout_keep(keys[k], r, c, cut);
                assert_int_equal(a, myo_model_dropout_keep(keys[k], r, c, cut));
                kept += a;
                /* pairs, each over as many entries as the kept count */
                const int64_t rr = (r + 1) % NR, cc = (c + 1) % NC;
                both_row += a && myo_model_dropout_keep(keys[k], rr, c, cut);
                both_col += a && myo_model_dropout_keep(keys[k], r, cc, cut);
                both_next += a && myo_model_dropout_keep(keys[(k + 1) % nk], r, c, cut);
                both_after += a && myo_model_dropout_keep(keys[(k + 2) % nk], r, c, cut);
                both_seed += a && myo_model_dropout_keep(next_seed[k], r, c, cut);
            }
    const double N = (double)nk * NR * NC;
    const struct {
        const char *what;
        int64_t count;
        double p;
    } st[] = {{"kept", kept, 0.5},
              {"kept in both, the next mask", both_next, 0.25},
              {"kept in both, the mask after", both_after, 0.25},
              {"kept in both, seed + 1", both_seed, 0.25},
              {"kept in both, the next row", both_row, 0.25},
              {"kept in both, the next column", both_col, 0.25}};
    for (int i = 0; i < COUNT(st); i++) {
        const double f = (double)st[i].count / N, sigma = sqrt(st[i].p * (1 - st[i].p) / N);
        printf("dropout mask, rate 0.5, %s: fraction %.6f, expected %.2f, %.2f sigma (sigma "
               "%.2g, N %.0f; within 5 passes)\n",
               st[i].what, f, st[i].p, (f - st[i].p) / sigma, sigma, N);
        assert_true(fabs(f - st[i].p) <= 5 * sigma);
    }
    const double rates[2] = {0.1, 0.9};
    for (int i = 0; i < 2; i++) {
        const uint64_t ct = myo_model_dropout_cut(rates[i]);
        int64_t k1 = 0;
        for (int64_t r = 0; r < NR; r++)
            for (int64_t c = 0; c < NC; c++)
                k1 += myo_model_dropout_keep(keys[1], r, c, ct);
        const double n1 = (double)NR * NC, p = 1 - rates[i], f = (double)k1 / n1;
        printf("dropout mask, rate %.1f: kept fraction %.6f, %.2f sigma\n", rates[i], f,
               (f - p) / sqrt(p * (1 - p) / n1));
        assert_true(fabs(f - p) <= 5 * sqrt(p * (1 - p) / n1));
    }
    assert_int_equal(myo_model_dropout_cut(0.0), 0);
    free(x), free(xf), free(y), free(yf);
}

/* Rate 0 and smoothing 0, set (even after other values were used), give
 * the model without the calls bit for bit: loss, correct count, gradients
 * and the parameters after an AdamW step, every mixer, single and dual.
 * Not vacuous: rate 0.3 with seed 5 changes the loss, gives the same bits
 * again with seed 5, and other ones with seed 6; smoothing 0.2 changes the
 * loss but not the correct count. */
static void regularisers_off_are_bit_identical(const myo_model_config *cfg, int mixer, int dual)
{
    int32_t tokens[3 * 2 * 16], labels[3];
    const myo_adam_config adam = {1e-2, 0.9, 0.999, 1e-8, 0.01};
    myo_model *a = tiny_model(cfg, 3, 8), *b = tiny_model(cfg, 3, 8);
    const int64_t P = myo_model_num_params(a);
    tiny_batch(cfg, 3, 800 + (uint64_t)(2 * mixer + dual), tokens, labels);
    double la = 0, lb = 0, l5 = 0, l5b = 0, l6 = 0, ls = 0;
    int64_t ca = 0, cb = 0, cs = 0;
    /* b: regularised forwards first, then both set back to 0 */
    assert_int_equal(myo_model_set_dropout(b, 0.3, 5), MYO_OK);
    assert_int_equal(myo_model_forward(b, 3, tokens, labels, &l5, NULL), MYO_OK);
    assert_int_equal(myo_model_backward(b), MYO_OK);
    assert_int_equal(myo_model_forward(b, 3, tokens, labels, &l5b, NULL), MYO_OK);
    assert_int_equal(myo_model_set_dropout(b, 0.3, 6), MYO_OK);
    assert_int_equal(myo_model_forward(b, 3, tokens, labels, &l6, NULL), MYO_OK);
    assert_int_equal(myo_model_set_dropout(b, 0, 0), MYO_OK);
    assert_int_equal(myo_model_set_label_smoothing(b, 0.2), MYO_OK);
    assert_int_equal(myo_model_forward(b, 3, tokens, labels, &ls, &cs), MYO_OK);
    assert_int_equal(myo_model_set_label_smoothing(b, 0), MYO_OK);
    assert_int_equal(myo_model_set_dropout(b, 0, 99), MYO_OK);
    assert_int_equal(myo_model_forward(a, 3, tokens, labels, &la, &ca), MYO_OK);
    assert_int_equal(myo_model_forward(b, 3, tokens, labels, &lb, &cb), MYO_OK);
    assert_true(la == lb && ca == cb);
    assert_true(l5 == l5b && l5 != la && l6 != l5 && ls != la && cs == ca);
    assert_int_equal(myo_model_backward(a), MYO_OK);
    assert_int_equal(myo_model_backward(b), MYO_OK);
    assert_memory_equal(myo_model_grads(a), myo_model_grads(b), (size_t)P * 4);
    assert_int_equal(myo_model_adam_step(a, &adam), MYO_OK);
    assert_int_equal(myo_model_adam_step(b, &adam), MYO_OK);
    assert_memory_equal(myo_model_params(a), myo_model_params(b), (size_t)P * 4);
    myo_model_destroy(&a), myo_model_destroy(&b);
}

static void test_model_regularisers_off_are_bit_identical(void **state)
{
    (void)state;
    each_tiny_config(regularisers_off_are_bit_identical);
}

/* The model with label smoothing 0.1 and dropout 0.3 (and with neither)
 * against the whole model in double (myo_model_loss_ref: the twins and the
 * mixers' references, the same masks): loss, correct count and every
 * gradient, every mixer, single and dual, the parameters moved off their
 * initial values; tolerances of the kernels, atol 1e-5, rtol 1e-4 (the
 * loss: the same on its value). */
static void test_model_regularised_matches_reference(void **state)
{
    (void)state;
    int32_t tokens[3 * 2 * 16], labels[3];
    double worst_loss = 0, worst_grad = 0;
    for (int mixer = 0; mixer < 4; mixer++)
        for (int dual = 0; dual <= 1; dual++)
            for (int reg = 0; reg <= 1; reg++) {
                const double eps = reg ? 0.1 : 0, rate = reg ? 0.3 : 0;
                const uint64_t seed = 1000 + (uint64_t)mixer;
                myo_tree *t = NULL;
                myo_model_config cfg = tiny_config((myo_mixer_kind)mixer, dual, &t);
                myo_rng r = myo_rng_seed(19 + (uint64_t)mixer);
                myo_model *m = moved_model(&cfg, 3, 17, &r);
                const int64_t P = myo_model_num_params(m);
                tiny_batch(&cfg, 3, 900 + (uint64_t)(2 * mixer + dual), tokens, labels);
                assert_int_equal(myo_model_set_label_smoothing(m, eps), MYO_OK);
                assert_int_equal(myo_model_set_dropout(m, rate, seed), MYO_OK);
                double loss = 0, loss_ref = 0;
                int64_t correct = -1, correct_ref = -2;
                assert_int_equal(myo_model_forward(m, 3, tokens, labels, &loss, &correct), MYO_OK);
                assert_int_equal(myo_model_backward(m), MYO_OK);
                double *p64 = test_alloc((size_t)P, sizeof(double));
                double *g64 = test_alloc((size_t)P, sizeof(double));
                test_widen_to_f64(myo_model_params(m), p64, P);
                assert_int_equal(myo_model_loss_ref(&cfg, p64, 3, tokens, labels, eps, rate, seed,
                                                    &loss_ref, &correct_ref, g64),
                                 MYO_OK);
                char what[96];
                snprintf(what, sizeof what, "%s, dual=%d, smoothing %.1f, dropout %.1f",
                         mixer_names[mixer], dual, eps, rate);
                const double el = fabs(loss - loss_ref) / (ATOL_F32 + RTOL_F32 * fabs(loss_ref));
                const double eg = max_scaled_error_f32(myo_model_grads(m), g64, P);
                printf("model vs reference, %s: loss %.9g vs %.9g (scaled error %.3g), "
                       "gradients max scaled error %.3g (<= 1 passes)\n",
                       what, loss, loss_ref, el, eg);
                worst_loss = fmax(worst_loss, el), worst_grad = fmax(worst_grad, eg);
                assert_int_equal(correct, correct_ref);
                assert_true(el <= 1);
                close_f32(myo_model_grads(m), g64, P, what);
                free(p64), free(g64);
                myo_model_destroy(&m);
                myo_tree_destroy(&t);
            }
    printf("model vs reference: max scaled error loss %.3g, gradients %.3g (atol %.0e, rtol "
           "%.0e)\n",
           worst_loss, worst_grad, ATOL_F32, RTOL_F32);
}

/* Smoothing 0.1 and dropout 0.3: the gradient against central differences
 * of the model's own float loss (a fixed mask makes it smooth in the
 * parameters; tolerances as the unregularised check), and
 * myo_model_gradient_check within 1e-2 of 1, every mixer, per-example
 * trees, single and dual.  The check runs the masks of the forward it
 * checks although another seed and smoothing were set since, and leaves
 * those settings in place. */
static void test_model_regularised_gradients_match_finite_differences(void **state)
{
    (void)state;
    int32_t tokens[3 * 2 * 16], labels[3], parents[3 * 2 * 16];
    double lo = INFINITY, hi = -INFINITY;
    for (int mixer = 0; mixer < 5; mixer++) /* 4: Myosotis on per-example trees */
        for (int dual = 0; dual <= 1; dual++) {
            myo_tree *t = NULL;
            myo_model_config cfg =
                tiny_config(mixer == 4 ? MYO_MIXER_MYOSOTIS : (myo_mixer_kind)mixer, dual, &t);
            if (mixer == 4) cfg.tree = NULL;
            myo_rng r = myo_rng_seed(27 + (uint64_t)mixer);
            myo_model *m = moved_model(&cfg, 3, 43, &r);
            tiny_batch(&cfg, 3, 110 + (uint64_t)(2 * mixer + dual), tokens, labels);
            if (mixer == 4) {
                random_parse_trees((dual ? 2 : 1) * 3, 16, 111, parents);
                assert_int_equal(myo_model_set_trees(m, 3, parents), MYO_OK);
            }
            assert_int_equal(myo_model_set_label_smoothing(m, 0.1), MYO_OK);
            assert_int_equal(myo_model_set_dropout(m, 0.3, 2024 + (uint64_t)mixer), MYO_OK);
            model_ctx c = {m, 3, tokens, labels};
            const double l0 = model_loss(&c);
            assert_int_equal(myo_model_backward(m), MYO_OK);
            char label[96];
            snprintf(label, sizeof label, "%s, dual=%d, smoothing 0.1, dropout 0.3",
                     mixer == 4 ? "myosotis per-example trees" : mixer_names[mixer], dual);
            assert_true(check_model_fd(&c, &r, label) <= 1);
            /* check_model_fd's forwards leave its gradient in place; another
             * seed and smoothing set after the forward checked */
            assert_int_equal(myo_model_forward(m, 3, tokens, labels, NULL, NULL), MYO_OK);
            assert_int_equal(myo_model_backward(m), MYO_OK);
            assert_int_equal(myo_model_set_dropout(m, 0.3, 1), MYO_OK);
            assert_int_equal(myo_model_set_label_smoothing(m, 0.5), MYO_OK);
            double ratio = 0, l1 = 0;
            assert_int_equal(myo_model_gradient_check(m, 1e-3, &ratio), MYO_OK);
            lo = fmin(lo, ratio), hi = fmax(hi, ratio);
            if (!(fabs(ratio - 1) <= 1e-2)) fail_msg("%s: gradient check ratio %.6g", label, ratio);
            assert_int_equal(myo_model_forward(m, 3, tokens, labels, &l1, NULL), MYO_OK);
            assert_true(l1 != l0); /* the settings made after the forward checked are back */
            myo_model_destroy(&m);
            myo_tree_destroy(&t);
        }
    printf("gradient check with smoothing 0.1 and dropout 0.3: ratio in [%.6f, %.6f]\n", lo, hi);
}

/* A batch of 2 on a model for 3 (the attention and SSM works run a zero
 * third example) gives the loss and gradients of a model made for 2. */
static void test_model_smaller_batch_matches(void **state)
{
    (void)state;
    int32_t tokens[3 * 2 * 16], labels[3];
    for (int mixer = 0; mixer < 4; mixer++)
        for (int dual = 0; dual <= 1; dual++) {
            myo_tree *t = NULL;
            myo_model_config cfg = tiny_config((myo_mixer_kind)mixer, dual, &t);
            myo_model *m3 = tiny_model(&cfg, 3, 9), *m2 = tiny_model(&cfg, 2, 9);
            const int64_t P = myo_model_num_params(m3);
            assert_int_equal(P, myo_model_num_params(m2));
            assert_memory_equal(myo_model_params(m3), myo_model_params(m2), (size_t)P * 4);
            tiny_batch(&cfg, 3, 300, tokens, labels);
            double l3, l2;
            /* A full batch first, so that stale rows would show. */
            assert_int_equal(myo_model_forward(m3, 3, tokens, labels, &l3, NULL), MYO_OK);
            assert_int_equal(myo_model_forward(m3, 2, tokens, labels, &l3, NULL), MYO_OK);
            assert_int_equal(myo_model_forward(m2, 2, tokens, labels, &l2, NULL), MYO_OK);
            assert_true(fabs(l3 - l2) <= 1e-6 * fabs(l2));
            assert_int_equal(myo_model_backward(m3), MYO_OK);
            assert_int_equal(myo_model_backward(m2), MYO_OK);
            double *g2 = test_alloc((size_t)P, sizeof(double));
            test_widen_to_f64(myo_model_grads(m2), g2, P);
            char what[80];
            snprintf(what, sizeof what, "batch 2 of 3 vs of 2, %s, dual=%d", mixer_names[mixer],
                     dual);
            test_assert_close_f32(myo_model_grads(m3), g2, P, 1e-6, 1e-4, what);
            free(g2);
            myo_model_destroy(&m3), myo_model_destroy(&m2);
            myo_tree_destroy(&t);
        }
}

static void test_model_parameters_layout_and_init(void **state)
{
    (void)state;
    for (int mixer = 0; mixer < 4; mixer++)
        for (int dual = 0; dual <= 1; dual++) {
            myo_tree *t = NULL;
            myo_model_config cfg = tiny_config((myo_mixer_kind)mixer, dual, &t);
            myo_model *a = tiny_model(&cfg, 2, 1), *b = tiny_model(&cfg, 4, 1),
                      *c = tiny_model(&cfg, 2, 2);
            const int64_t P = myo_model_num_params(a);
            /* Deterministic from the seed, whatever max_batch. */
            assert_memory_equal(myo_model_params(a), myo_model_params(b), (size_t)P * 4);
            assert_memory_not_equal(myo_model_params(a), myo_model_params(c), (size_t)P * 4);
            /* The tensors tile [0, P) exactly; LayerNorms and biases are not decayed. */
            int64_t at = 0;
            const float *p = myo_model_params(a);
            for (int64_t i = 0; i < myo_model_num_tensors(a); i++) {
                const myo_model_tensor *te = myo_model_tensor_at(a, i);
                assert_int_equal(te->offset, at);
                at += te->count;
                int norm_or_bias = strstr(te->name, ".g") || strstr(te->name, ".b") ||
                                   strstr(te->name, "bias") || strstr(te->name, "a_log") ||
                                   strstr(te->name, "d_skip") || strstr(te->name, "conv_b");
                assert_int_equal(te->decay, !norm_or_bias);
                if (strstr(te->name, "ln") && strstr(te->name, ".g"))
                    for (int64_t j = 0; j < te->count; j++)
                        assert_true(p[te->offset + j] == 1.0f);
            }
            assert_int_equal(at, P);
            assert_null(myo_model_tensor_at(a, -1));
            assert_null(myo_model_tensor_at(a, myo_model_num_tensors(a)));
            /* Parameters, gradients and two moments at least; more for a larger batch. */
            assert_true(myo_model_bytes(a) >= (size_t)(16 * P));
            assert_true(myo_model_bytes(b) > myo_model_bytes(a));
            myo_model_destroy(&a), myo_model_destroy(&b), myo_model_destroy(&c);
            myo_tree_destroy(&t);
        }
}

static void test_model_rejects_bad_config(void **state)
{
    (void)state;
    myo_tree *t = NULL, *t8 = NULL;
    const myo_model_config good = tiny_config(MYO_MIXER_MYOSOTIS, 0, &t);
    assert_int_equal(myo_tree_create_kary(8, 2, &t8), MYO_OK);
    assert_int_equal(myo_model_config_check(&good), MYO_OK);
    myo_model_config bad[16];
    const char *expect[16];
    int nb = 0;
#define BAD(field, value, text)                                                                    \
    do {                                                                                           \
        bad[nb] = good;                                                                            \
        bad[nb].field = value;                                                                     \
        expect[nb++] = text;                                                                       \
    } while (0)
    BAD(vocab, 1, "vocab = 1");
    BAD(n, 0, "n = 0");
    BAD(d_model, 0, "d_model = 0");
    BAD(heads, 0, "heads = 0");
    BAD(heads, 3, "not divisible by heads");
    BAD(mlp_dim, 0, "mlp_dim = 0");
    BAD(layers, 0, "layers = 0");
    BAD(classes, 1, "classes = 1");
    BAD(dual, 2, "dual = 2");
    BAD(mixer, (myo_mixer_kind)9, "mixer = 9");
    BAD(tree, t8, "8 tokens");
    BAD(direction, (myo_layer_direction)7, "direction");
    BAD(vocab, (int64_t)1 << 40, "vocab = 1099511627776 is too large");
    BAD(classes, (int64_t)1 << 31, "classes = 2147483648 is too large");
    BAD(n, (int64_t)1 << 30, "n = 1073741824 is too large");
#undef BAD
    for (int j = 0; j < nb; j++) {
        myo_model *m = (myo_model *)&m;
        assert_int_equal(myo_model_config_check(&bad[j]), MYO_ERR_ARG);
        if (!strstr(myo_error_detail(), expect[j]))
            fail_msg("config %d: detail '%s' does not mention '%s'", j, myo_error_detail(),
                     expect[j]);
        assert_int_equal(myo_model_create(&bad[j], 1, 0, &m), MYO_ERR_ARG);
        assert_null(m);
    }
    assert_int_equal(myo_model_config_check(NULL), MYO_ERR_ARG);
    /* The SSM ignores the heads' divisibility; attention does not. */
    myo_model_config ssm = good;
    ssm.mixer = MYO_MIXER_SSM, ssm.heads = 3, ssm.tree = NULL;
    assert_int_equal(myo_model_config_check(&ssm), MYO_OK);
    ssm.mixer = MYO_MIXER_DENSE_TILED;
    assert_int_equal(myo_model_config_check(&ssm), MYO_ERR_ARG);
    myo_model *m = NULL;
    assert_int_equal(myo_model_create(&good, 0, 0, &m), MYO_ERR_ARG);
    assert_null(m);
    assert_int_equal(myo_model_create(&good, 1, 0, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_model_create(NULL, 1, 0, &m), MYO_ERR_ARG);
    myo_model_destroy(&m);
    myo_model_destroy(NULL);
    myo_tree_destroy(&t), myo_tree_destroy(&t8);
}

static void test_model_rejects_bad_inputs(void **state)
{
    (void)state;
    int32_t tokens[2 * 2 * 16], labels[2] = {0, 1};
    const myo_adam_config adam = {1e-3, 0.9, 0.999, 1e-8, 0.0};
    for (int dual = 0; dual <= 1; dual++) {
        myo_tree *t = NULL;
        myo_model_config cfg = tiny_config(MYO_MIXER_DENSE_TILED, dual, &t);
        myo_model *m = tiny_model(&cfg, 2, 3);
        tiny_batch(&cfg, 2, 400, tokens, labels);
        /* Nothing to differentiate or apply yet. */
        assert_int_equal(myo_model_backward(m), MYO_ERR_ARG);
        assert_non_null(strstr(myo_error_detail(), "no successful forward"));
        assert_int_equal(myo_model_adam_step(m, &adam), MYO_ERR_ARG);
        assert_non_null(strstr(myo_error_detail(), "no gradients"));
        assert_int_equal(myo_model_backward(NULL), MYO_ERR_ARG);
        /* Batch and pointers. */
        assert_int_equal(myo_model_forward(m, 0, tokens, labels, NULL, NULL), MYO_ERR_ARG);
        assert_int_equal(myo_model_forward(m, 3, tokens, labels, NULL, NULL), MYO_ERR_ARG);
        assert_non_null(strstr(myo_error_detail(), "batch = 3"));
        assert_int_equal(myo_model_forward(m, 1, NULL, labels, NULL, NULL), MYO_ERR_ARG);
        assert_int_equal(myo_model_forward(NULL, 1, tokens, labels, NULL, NULL), MYO_ERR_ARG);
        /* An id out of range, named by example (and document) and position. */
        const int64_t docs = dual ? 2 : 1, at = 1 * docs * 16 + (docs - 1) * 16 + 5;
        const int32_t saved = tokens[at];
        tokens[at] = 11;
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, NULL, NULL), MYO_ERR_DATA);
        assert_non_null(strstr(myo_error_detail(), "example 1"));
        assert_non_null(strstr(myo_error_detail(), "position 5"));
        assert_non_null(strstr(myo_error_detail(), "token id 11"));
        if (dual) assert_non_null(strstr(myo_error_detail(), "document 1"));
        tokens[at] = -1;
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, NULL, NULL), MYO_ERR_DATA);
        tokens[at] = saved;
        /* A label out of range. */
        int32_t bad_labels[2] = {0, 3};
        assert_int_equal(myo_model_forward(m, 2, tokens, bad_labels, NULL, NULL), MYO_ERR_DATA);
        assert_non_null(strstr(myo_error_detail(), "example 1: label 3"));
        bad_labels[1] = -2;
        assert_int_equal(myo_model_forward(m, 2, tokens, bad_labels, NULL, NULL), MYO_ERR_DATA);
        /* No labels: predictions only, and then nothing to differentiate. */
        double loss = -1;
        int64_t correct = -1;
        assert_int_equal(myo_model_forward(m, 2, tokens, NULL, &loss, &correct), MYO_OK);
        assert_true(loss == 0.0 && correct == 0);
        assert_int_equal(myo_model_backward(m), MYO_ERR_ARG);
        assert_non_null(strstr(myo_error_detail(), "no labels"));
        /* A failed forward leaves nothing to differentiate. */
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, &loss, NULL), MYO_OK);
        tokens[0] = 99;
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, &loss, NULL), MYO_ERR_DATA);
        tokens[0] = 0;
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, &loss, NULL), MYO_OK);
        assert_int_equal(myo_model_backward(m), MYO_OK);
        /* Bad AdamW settings. */
        const myo_adam_config bad[] = {{-1, 0.9, 0.999, 1e-8, 0},    {1e-3, 1.0, 0.999, 1e-8, 0},
                                       {1e-3, 0.9, -0.1, 1e-8, 0},   {1e-3, 0.9, 0.999, 0, 0},
                                       {1e-3, 0.9, 0.999, 1e-8, -1}, {NAN, 0.9, 0.999, 1e-8, 0}};
        for (int j = 0; j < COUNT(bad); j++)
            assert_int_equal(myo_model_adam_step(m, &bad[j]), MYO_ERR_ARG);
        assert_int_equal(myo_model_adam_step(m, NULL), MYO_ERR_ARG);
        assert_int_equal(myo_model_adam_step(m, &adam), MYO_OK);
        /* Bad regulariser settings, refused; the settings stay as they were. */
        double before = 0, after = 0;
        assert_int_equal(myo_model_set_label_smoothing(m, 0.25), MYO_OK);
        assert_int_equal(myo_model_set_dropout(m, 0.25, 7), MYO_OK);
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, &before, NULL), MYO_OK);
        const double bad_rate[] = {-0.1, 1.0, 1.5, -INFINITY, INFINITY, NAN};
        for (int i = 0; i < COUNT(bad_rate); i++) {
            assert_int_equal(myo_model_set_label_smoothing(m, bad_rate[i]), MYO_ERR_ARG);
            assert_non_null(strstr(myo_error_detail(), "0 <= eps < 1"));
            assert_int_equal(myo_model_set_dropout(m, bad_rate[i], 8), MYO_ERR_ARG);
            assert_non_null(strstr(myo_error_detail(), "0 <= rate < 1"));
        }
        assert_int_equal(myo_model_set_label_smoothing(NULL, 0.1), MYO_ERR_ARG);
        assert_int_equal(myo_model_set_dropout(NULL, 0.1, 1), MYO_ERR_ARG);
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, &after, NULL), MYO_OK);
        assert_true(before == after);
        assert_int_equal(myo_model_set_label_smoothing(m, 0.999), MYO_OK); /* just below 1 */
        assert_int_equal(myo_model_set_dropout(m, 0.999, 7), MYO_OK);
        assert_int_equal(myo_model_forward(m, 2, tokens, labels, &after, NULL), MYO_OK);
        assert_true(isfinite(after));
        assert_null(myo_model_params(NULL));
        assert_null(myo_model_grads(NULL));
        assert_int_equal(myo_model_num_params(NULL), 0);
        assert_int_equal(myo_model_bytes(NULL), 0);
        myo_model_destroy(&m);
        assert_null(m);
        myo_tree_destroy(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_layernorm_and_mlp_match_reference),
        cmocka_unit_test(test_model_pool_embed_head_match_reference),
        cmocka_unit_test(test_model_reference_gradients_match_finite_differences),
        cmocka_unit_test(test_model_gradients_match_finite_differences),
        cmocka_unit_test(test_model_per_example_trees_match_each_alone),
        cmocka_unit_test(test_model_per_example_trees_reject_bad_input),
        cmocka_unit_test(test_model_adamw_reduces_the_loss),
        cmocka_unit_test(test_model_adam_state_restores_bit_for_bit),
        cmocka_unit_test(test_model_clip_grads),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_model_logit_spread_bound_holds),
        cmocka_unit_test(test_model_gradient_check_catches_wrong_gradients),
        cmocka_unit_test(test_model_dropout_mask_matches_reference_and_rate),
        cmocka_unit_test(test_model_regularisers_off_are_bit_identical),
        cmocka_unit_test(test_model_regularised_matches_reference),
        cmocka_unit_test(test_model_regularised_gradients_match_finite_differences),
        cmocka_unit_test(test_model_smaller_batch_matches),
        cmocka_unit_test(test_model_parameters_layout_and_init),
        cmocka_unit_test(test_model_rejects_bad_config),
        cmocka_unit_test(test_model_rejects_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
