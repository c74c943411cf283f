/* test_ssm.c -- the SSM mixer: the float passes against the double
 * reference twin, the reference's backward against central differences,
 * the scan and the whole mixer against their formulas written out,
 * causality, batches, extreme inputs and bad arguments.
 *
 * Tolerances (max errors printed on failure or with MYO_TEST_VERBOSE=1):
 *  - float vs the double reference, norm-scaled per array (each parameter's
 *    gradient on its own): |got - ref| <= TOL_F32 (max|ref| + |ref|);
 *  - the reference's gradient vs central differences in double (h = 1e-5):
 *    |grad - fd| <= FD_ATOL + FD_RTOL |fd|;
 *  - the reference against formulas written out: 1e-14 relative. */
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

#define TOL_F32 2e-5
#define FD_H 1e-5
#define FD_RTOL 1e-6
#define FD_ATOL 1e-10

/* ------------------------------------------------------------- helpers */

/* Parameters of cfg from Mamba's initialisation with seed, each then moved
 * by U(-jitter, jitter) so that every path (a longer memory, larger steps)
 * carries weight; *pf receives the same values rounded to float. */
static double *make_params(const myo_ssm_config *cfg, uint64_t seed, double jitter, float **pf)
{
    myo_ssm_layout ly;
    assert_int_equal(myo_ssm_layout_of(cfg, &ly), MYO_OK);
    double *p = test_alloc((size_t)ly.count, sizeof(double));
    myo_rng r = myo_rng_seed(seed);
    assert_int_equal(myo_ssm_params_init_f64(cfg, &r, p), MYO_OK);
    for (int64_t i = 0; i < ly.count; i++)
        p[i] += myo_rng_uniform(&r, -jitter, jitter);
    if (pf) {
        *pf = test_alloc((size_t)ly.count, sizeof(float));
        for (int64_t i = 0; i < ly.count; i++)
            (*pf)[i] = (float)p[i];
    }
    return p;
}

/* count values uniform in [-scale, scale), and their float copies. */
static double *make_values(int64_t count, uint64_t seed, double scale, float **pf)
{
    double *v = test_alloc((size_t)count, sizeof(double));
    test_random_values(v, count, seed);
    for (int64_t i = 0; i < count; i++)
        v[i] *= scale;
    if (pf) {
        *pf = test_alloc((size_t)count, sizeof(float));
        for (int64_t i = 0; i < count; i++)
            (*pf)[i] = (float)v[i];
    }
    return v;
}

/* got vs ref within tol (max|ref| + |ref|). */
static void assert_close_scaled(const float *got, const double *ref, int64_t count, double tol,
                                const char *what)
{
    test_assert_close_f32(got, ref, count, fmax(tol * test_max_abs(ref, count), 1e-300), tol, what);
}

static void assert_all_finite_f32(const float *v, int64_t count, const char *what)
{
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(v[i])) fail_msg("%s: entry %lld is %g", what, (long long)i, (double)v[i]);
}

static void assert_all_finite_f64(const double *v, int64_t count, const char *what)
{
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(v[i])) fail_msg("%s: entry %lld is %g", what, (long long)i, v[i]);
}

/* The parameters in layout order, for per-parameter checks. */
typedef struct {
    const char *name;
    int64_t off, count;
} param_block;

static int param_blocks(const myo_ssm_layout *ly, param_block out[9])
{
    int64_t L = ly->d_inner, N = ly->d_state;
    param_block b[9] = {
        {"w_in", ly->w_in, 0},       {"conv_w", ly->conv_w, 0}, {"conv_b", ly->conv_b, 0},
        {"w_x", ly->w_x, 0},         {"w_dt", ly->w_dt, 0},     {"dt_bias", ly->dt_bias, L},
        {"a_log", ly->a_log, L * N}, {"d_skip", ly->d_skip, L}, {"w_out", ly->w_out, 0}};
    for (int i = 0; i < 9; i++)
        b[i].count = (i < 8 ? b[i + 1].off : ly->count) - b[i].off;
    memcpy(out, b, sizeof b);
    return 9;
}

/* ----------------------------------------- float passes vs the reference */

/* Forward (and with backward, backward for a random dL/dY) of one shape in
 * float and in the reference; compares Y, dX and every parameter's
 * gradient. */
static void compare_with_ref(const myo_ssm_config *cfg, int64_t n, int64_t batch, int backward,
                             uint64_t seed)
{
    myo_ssm_layout ly;
    assert_int_equal(myo_ssm_layout_of(cfg, &ly), MYO_OK);
    int64_t count = batch * n * ly.d_model;
    float *pf, *xf, *gf;
    double *p = make_params(cfg, seed, 0.3, &pf);
    double *x = make_values(count, seed + 1, 1.0, &xf);
    double *g = make_values(count, seed + 2, 1.0, &gf);
    double *y = test_alloc((size_t)count, sizeof(double));
    float *yf = test_alloc((size_t)count, sizeof(float));
    myo_ssm_work *w = NULL;
    assert_int_equal(myo_ssm_work_create(cfg, n, batch, &w), MYO_OK);
    assert_int_equal(myo_ssm_forward_ref(cfg, n, batch, p, x, y), MYO_OK);
    assert_int_equal(myo_ssm_forward_f32(w, pf, xf, yf), MYO_OK);
    char shape[120], what[160];
    snprintf(shape, sizeof shape, "D %lld N %lld E %lld K %lld R %lld n %lld batch %lld block %lld",
             (long long)ly.d_model, (long long)ly.d_state, (long long)ly.expand,
             (long long)ly.d_conv, (long long)ly.dt_rank, (long long)n, (long long)batch,
             (long long)ly.block);
    snprintf(what, sizeof what, "Y %s", shape);
    assert_close_scaled(yf, y, count, TOL_F32, what);
    if (backward) {
        double *dx = test_alloc((size_t)count, sizeof(double));
        double *dp = test_alloc((size_t)ly.count, sizeof(double));
        float *dxf = test_alloc((size_t)count, sizeof(float));
        float *dpf = test_alloc((size_t)ly.count, sizeof(float));
        assert_int_equal(myo_ssm_backward_ref(cfg, n, batch, p, x, g, dx, dp), MYO_OK);
        assert_int_equal(myo_ssm_backward_f32(w, pf, xf, gf, dxf, dpf), MYO_OK);
        snprintf(what, sizeof what, "dX %s", shape);
        assert_close_scaled(dxf, dx, count, TOL_F32, what);
        param_block pb[9];
        for (int i = 0; i < param_blocks(&ly, pb); i++) {
            snprintf(what, sizeof what, "d%s %s", pb[i].name, shape);
            assert_close_scaled(dpf + pb[i].off, dp + pb[i].off, pb[i].count, TOL_F32, what);
        }
        free(dx), free(dp), free(dxf), free(dpf);
    }
    myo_ssm_work_destroy(&w);
    assert_null(w);
    free(p), free(pf), free(x), free(xf), free(g), free(gf), free(y), free(yf);
}

static const int64_t sizes_n[] = {1, 3, 17, 64};
static const int64_t sizes_d[] = {4, 8, 16};
static const int64_t sizes_state[] = {4, 16};

static void test_ssm_forward_matches_ref(void **state)
{
    (void)state;
    uint64_t seed = 100;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++)
                for (int64_t batch = 1; batch <= 2; batch++) {
                    myo_ssm_config cfg = {.d_model = sizes_d[b], .d_state = sizes_state[c]};
                    compare_with_ref(&cfg, sizes_n[a], batch, 0, seed += 10);
                }
}

static void test_ssm_backward_matches_ref(void **state)
{
    (void)state;
    uint64_t seed = 200;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 2; c++)
                for (int64_t batch = 1; batch <= 2; batch++) {
                    myo_ssm_config cfg = {.d_model = sizes_d[b], .d_state = sizes_state[c]};
                    compare_with_ref(&cfg, sizes_n[a], batch, 1, seed += 10);
                }
}

/* Short blocks: many block boundaries (saved states, the dL/dh and
 * convolution carries), last blocks shorter than the convolution, channel
 * counts that leave a partial group of scan lanes, other expansions,
 * convolution widths (1 included) and ranks, and longer sequences. */
static void test_ssm_blocks_and_other_shapes_match_ref(void **state)
{
    (void)state;
    const struct {
        myo_ssm_config cfg;
        int64_t n, batch;
    } cases[] = {
        {{.d_model = 4, .d_state = 4, .block = 5}, 17, 2},
        {{.d_model = 4, .d_state = 16, .block = 3}, 64, 1},
        {{.d_model = 8, .d_state = 4, .block = 1}, 30, 2},
        {{.d_model = 3, .d_state = 4, .block = 2}, 9, 2},
        {{.d_model = 5, .d_state = 16, .block = 4}, 23, 1},
        {{.d_model = 1, .d_state = 4, .block = 7}, 11, 3},
        {{.d_model = 7, .d_state = 5, .block = 40}, 41, 2},
        {{.d_model = 6, .d_state = 3, .expand = 3, .d_conv = 1, .block = 4}, 13, 2},
        {{.d_model = 5, .d_state = 2, .expand = 1, .d_conv = 6, .dt_rank = 3, .block = 2}, 15, 1},
        {{.d_model = 20, .d_state = 8, .d_conv = 2, .block = 9}, 50, 1}, /* R = 2 */
        {{.d_model = 16, .d_state = 16}, 257, 1},
        {{.d_model = 8, .d_state = 16}, 129, 2},
        {{.d_model = 16, .d_state = 16, .block = 64}, 1000, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_with_ref(&cases[i].cfg, cases[i].n, cases[i].batch, 1, 300 + 10 * i);
}

/* ------------------------------------- the reference vs finite differences */

typedef struct {
    const myo_ssm_config *cfg;
    int64_t n, batch, count;
    const double *p, *x, *g;
    double *y;
} fd_ctx;

/* sum(G .* Y) */
static double fd_loss(void *arg)
{
    fd_ctx *c = arg;
    assert_int_equal(myo_ssm_forward_ref(c->cfg, c->n, c->batch, c->p, c->x, c->y), MYO_OK);
    double s = 0.0;
    for (int64_t i = 0; i < c->count; i++)
        s += c->g[i] * c->y[i];
    return s;
}

static void check_ref_gradients(const myo_ssm_config *cfg, int64_t n, int64_t batch, uint64_t seed)
{
    myo_ssm_layout ly;
    assert_int_equal(myo_ssm_layout_of(cfg, &ly), MYO_OK);
    int64_t count = batch * n * ly.d_model;
    double *p = make_params(cfg, seed, 0.5, NULL);
    /* steps delta ~ 0.3 .. 1.3 rather than Mamba's 0.001 .. 0.1, so that the
     * scan's terms (A_log, Bm, Cm) carry gradients well above FD's noise */
    myo_rng r = myo_rng_seed(seed + 3);
    for (int64_t c = 0; c < ly.d_inner; c++)
        p[ly.dt_bias + c] = myo_rng_uniform(&r, -1.0, 1.0);
    double *x = make_values(count, seed + 1, 1.0, NULL);
    double *g = make_values(count, seed + 2, 1.0, NULL);
    double *y = test_alloc((size_t)count, sizeof(double));
    double *dx = test_alloc((size_t)count, sizeof(double));
    double *dp = test_alloc((size_t)ly.count, sizeof(double));
    assert_int_equal(myo_ssm_backward_ref(cfg, n, batch, p, x, g, dx, dp), MYO_OK);
    fd_ctx ctx = {cfg, n, batch, count, p, x, g, y};
    char what[120];
    snprintf(what, sizeof what, "dX (n %lld, batch %lld)", (long long)n, (long long)batch);
    test_check_gradient(what, x, count, 1, dx, fd_loss, &ctx, FD_H, FD_ATOL, FD_RTOL);
    param_block pb[9];
    for (int i = 0; i < param_blocks(&ly, pb); i++) {
        snprintf(what, sizeof what, "d%s (n %lld, batch %lld)", pb[i].name, (long long)n,
                 (long long)batch);
        test_check_gradient(what, p + pb[i].off, pb[i].count, 1, dp + pb[i].off, fd_loss, &ctx,
                            FD_H, FD_ATOL, FD_RTOL);
    }
    free(p), free(x), free(g), free(y), free(dx), free(dp);
}

static void test_ssm_ref_backward_matches_finite_differences(void **state)
{
    (void)state;
    myo_ssm_config small = {.d_model = 4, .d_state = 4}; /* L 8, R 1, K 4 */
    myo_ssm_config wide = {.d_model = 3,
                           .d_state = 3,
                           .dt_rank = 2, /* R > 1, K 3, E 3 */
                           .d_conv = 3,
                           .expand = 3};
    check_ref_gradients(&small, 7, 2, 400);
    check_ref_gradients(&small, 1, 1, 410);
    check_ref_gradients(&wide, 6, 1, 420);
}

/* -------------------------------------------- the bare scan's backward */

typedef struct {
    int64_t n, ch, ns;
    double *u, *delta, *a, *b, *c, *dskip, *h0, *dy, *dhf;
    double *h, *y; /* scratch */
} scan_fd_ctx;

/* sum(dy .* y) + sum(dh_final .* h_final) */
static double scan_fd_loss(void *arg)
{
    scan_fd_ctx *x = arg;
    int64_t m = x->ch * x->ns;
    memcpy(x->h, x->h0, (size_t)m * sizeof(double));
    assert_int_equal(myo_ssm_scan_ref(x->n, x->ch, x->ns, x->u, x->delta, x->a, x->b, x->c,
                                      x->dskip, x->h, x->y),
                     MYO_OK);
    double s = 0.0;
    for (int64_t i = 0; i < x->n * x->ch; i++)
        s += x->dy[i] * x->y[i];
    for (int64_t i = 0; i < m; i++)
        s += x->dhf[i] * x->h[i];
    return s;
}

/* myo_ssm_scan_backward_ref against central differences of
 * myo_ssm_scan_ref, and myo_ssm_scan_backward_f32 against it (norm-scaled,
 * TOL_F32), from a nonzero h0 and dh_final; n = 300 crosses the f32
 * version's blocks, 11 channels a partial lane group. */
static void check_scan_backward(int64_t n, int64_t ch, int64_t ns, uint64_t seed, int fd)
{
    int64_t m = ch * ns;
    float *uf, *df, *af, *bf, *cf, *sf, *h0f, *dyf, *dhff;
    double *u = make_values(n * ch, seed, 1.0, &uf), *dl = make_values(n * ch, seed + 1, 1.0, &df);
    double *a = make_values(m, seed + 2, 1.5, &af), *bm = make_values(n * ns, seed + 3, 1.0, &bf);
    double *cm = make_values(n * ns, seed + 4, 1.0, &cf), *ds = make_values(ch, seed + 5, 1.0, &sf);
    double *h0 = make_values(m, seed + 6, 1.0, &h0f),
           *dy = make_values(n * ch, seed + 7, 1.0, &dyf);
    double *dhf = make_values(m, seed + 8, 1.0, &dhff);
    for (int64_t i = 0; i < n * ch; i++) /* steps 0.2 .. 1.2: terms well above FD noise */
        dl[i] = 0.2 + fabs(dl[i]), df[i] = (float)dl[i];
    for (int64_t i = 0; i < m; i++)
        a[i] = -fabs(a[i]), af[i] = (float)a[i];
    a[0] = -1e-3, af[0] = (float)a[0]; /* a state that barely decays (FD moves a by +-h) */
    struct {
        const char *name;
        int64_t count;
    } outs[7] = {{"du", n * ch}, {"ddelta", n * ch}, {"da", m}, {"db", n * ns},
                 {"dc", n * ns}, {"dd_skip", ch},    {"dh0", m}};
    double *g[7], *in[7] = {u, dl, a, bm, cm, ds, h0};
    float *gf[7];
    for (int i = 0; i < 7; i++) {
        g[i] = test_alloc((size_t)outs[i].count, sizeof(double));
        gf[i] = test_alloc((size_t)outs[i].count, sizeof(float));
    }
    assert_int_equal(myo_ssm_scan_backward_ref(n, ch, ns, u, dl, a, bm, cm, ds, h0, dy, dhf, g[0],
                                               g[1], g[2], g[3], g[4], g[5], g[6]),
                     MYO_OK);
    assert_int_equal(myo_ssm_scan_backward_f32(n, ch, ns, uf, df, af, bf, cf, sf, h0f, dyf, dhff,
                                               gf[0], gf[1], gf[2], gf[3], gf[4], gf[5], gf[6]),
                     MYO_OK);
    char what[96];
    for (int i = 0; i < 7; i++) {
        snprintf(what, sizeof what, "scan backward f32 %s (n %lld, ch %lld, ns %lld)", outs[i].name,
                 (long long)n, (long long)ch, (long long)ns);
        assert_close_scaled(gf[i], g[i], outs[i].count, TOL_F32, what);
    }
    if (fd) {
        scan_fd_ctx ctx = {n,
                           ch,
                           ns,
                           u,
                           dl,
                           a,
                           bm,
                           cm,
                           ds,
                           h0,
                           dy,
                           dhf,
                           test_alloc((size_t)m, sizeof(double)),
                           test_alloc((size_t)(n * ch), sizeof(double))};
        for (int i = 0; i < 7; i++) {
            snprintf(what, sizeof what, "scan backward ref %s (n %lld, ch %lld, ns %lld)",
                     outs[i].name, (long long)n, (long long)ch, (long long)ns);
            test_check_gradient(what, in[i], outs[i].count, 1, g[i], scan_fd_loss, &ctx, FD_H,
                                FD_ATOL, FD_RTOL);
        }
        free(ctx.h), free(ctx.y);
    }
    /* dh0 may equal dh_final; dd_skip may be NULL */
    assert_int_equal(myo_ssm_scan_backward_f32(n, ch, ns, uf, df, af, bf, cf, NULL, h0f, dyf, dhff,
                                               gf[0], gf[1], gf[2], gf[3], gf[4], NULL, dhff),
                     MYO_OK);
    assert_int_equal(myo_ssm_scan_backward_ref(n, ch, ns, u, dl, a, bm, cm, NULL, h0, dy, dhf, g[0],
                                               g[1], g[2], g[3], g[4], NULL, dhf),
                     MYO_OK);
    assert_close_scaled(dhff, dhf, m, TOL_F32, "scan backward dh0 in place of dh_final");
    for (int i = 0; i < 7; i++)
        free(g[i]), free(gf[i]);
    free(u), free(dl), free(a), free(bm), free(cm), free(ds), free(h0), free(dy), free(dhf);
    free(uf), free(df), free(af), free(bf), free(cf), free(sf), free(h0f), free(dyf), free(dhff);
}

static void test_ssm_scan_backward_matches_finite_differences_and_f32(void **state)
{
    (void)state;
    check_scan_backward(1, 1, 1, 700, 1);
    check_scan_backward(7, 3, 4, 710, 1);
    check_scan_backward(13, 11, 2, 720, 1);
    check_scan_backward(300, 11, 5, 730, 0); /* several f32 blocks */
    check_scan_backward(129, 16, 16, 740, 0);
    float x[1] = {1}, h[1] = {0}, g[1], an[1] = {-1}, dn[1] = {-0.5f};
    assert_int_equal(
        myo_ssm_scan_backward_f32(1, 1, 1, x, dn, an, x, x, NULL, h, x, h, g, g, g, g, g, NULL, g),
        MYO_ERR_DATA);
    assert_int_equal(myo_ssm_scan_backward_f32(1, 1, 1, x, x, an, x, x, NULL, h, NULL, h, g, g, g,
                                               g, g, NULL, g),
                     MYO_ERR_ARG);
}

/* ------------------------------------------------- formulas written out */

/* n = 3 tokens, 2 channels, 2 states, from a non-zero initial state. */
static void test_ssm_scan_equals_the_recurrence_written_out(void **state)
{
    (void)state;
    const double u[3][2] = {{0.5, -1.25}, {2.0, 0.75}, {-0.5, 1.5}};
    const double dl[3][2] = {{0.1, 0.7}, {1.3, 0.02}, {0.4, 2.5}};
    const double a[2][2] = {{-1.0, -2.0}, {-0.5, -3.0}};
    const double bm[3][2] = {{0.3, -0.8}, {1.1, 0.25}, {-0.6, 0.9}};
    const double cm[3][2] = {{-0.4, 0.6}, {0.9, 1.2}, {0.35, -1.1}};
    const double dsk[2] = {1.0, -0.5}, h_init[2][2] = {{0.2, -0.3}, {1.5, 0.05}};
    double want_y[3][2], want_h[2][2];
    for (int c = 0; c < 2; c++) {
        double h0[2], h1[2], h2[2];
        for (int s = 0; s < 2; s++) {
            h0[s] = exp(dl[0][c] * a[c][s]) * h_init[c][s] + dl[0][c] * bm[0][s] * u[0][c];
            h1[s] = exp(dl[1][c] * a[c][s]) * h0[s] + dl[1][c] * bm[1][s] * u[1][c];
            h2[s] = exp(dl[2][c] * a[c][s]) * h1[s] + dl[2][c] * bm[2][s] * u[2][c];
            want_h[c][s] = h2[s];
        }
        want_y[0][c] = cm[0][0] * h0[0] + cm[0][1] * h0[1] + dsk[c] * u[0][c];
        want_y[1][c] = cm[1][0] * h1[0] + cm[1][1] * h1[1] + dsk[c] * u[1][c];
        want_y[2][c] = cm[2][0] * h2[0] + cm[2][1] * h2[1] + dsk[c] * u[2][c];
    }
    double h[2][2], y[3][2];
    memcpy(h, h_init, sizeof h);
    assert_int_equal(myo_ssm_scan_ref(3, 2, 2, &u[0][0], &dl[0][0], &a[0][0], &bm[0][0], &cm[0][0],
                                      dsk, &h[0][0], &y[0][0]),
                     MYO_OK);
    test_assert_close_f64(&y[0][0], &want_y[0][0], 6, 0.0, 1e-14, "scan_ref y");
    test_assert_close_f64(&h[0][0], &want_h[0][0], 4, 0.0, 1e-14, "scan_ref final state");

    float uf[6], dlf[6], af[4], bf[6], cf[6], dsf[2], hf[4], yf[6];
    for (int i = 0; i < 6; i++)
        uf[i] = (float)(&u[0][0])[i], dlf[i] = (float)(&dl[0][0])[i], bf[i] = (float)(&bm[0][0])[i],
        cf[i] = (float)(&cm[0][0])[i];
    for (int i = 0; i < 4; i++)
        af[i] = (float)(&a[0][0])[i], hf[i] = (float)(&h_init[0][0])[i];
    dsf[0] = (float)dsk[0], dsf[1] = (float)dsk[1];
    assert_int_equal(myo_ssm_scan_f32(3, 2, 2, uf, dlf, af, bf, cf, dsf, hf, yf), MYO_OK);
    test_assert_close_f32(yf, &want_y[0][0], 6, 1e-6, 1e-6, "scan_f32 y");
    test_assert_close_f32(hf, &want_h[0][0], 4, 1e-6, 1e-6, "scan_f32 final state");
}

/* The float scan kernel against the reference on a longer case with a
 * partial lane group (11 channels), chained in two segments through the
 * state it returns, as a segmented scan uses it. */
static void test_ssm_scan_f32_matches_ref_and_chains_segments(void **state)
{
    (void)state;
    enum { n = 50, ch = 11, ns = 5, cut = 19 };
    float *uf, *df, *af, *bf, *cf, *sf;
    double *u = make_values(n * ch, 1, 1.0, &uf), *dl = make_values(n * ch, 2, 1.0, &df);
    double *a = make_values(ch * ns, 3, 2.0, &af), *bm = make_values(n * ns, 4, 1.0, &bf);
    double *cm = make_values(n * ns, 5, 1.0, &cf), *ds = make_values(ch, 6, 1.0, &sf);
    for (int i = 0; i < n * ch; i++)
        dl[i] = fabs(dl[i]), df[i] = fabsf(df[i]);
    for (int i = 0; i < ch * ns; i++)
        a[i] = -fabs(a[i]), af[i] = -fabsf(af[i]);
    double h[ch * ns] = {0}, y[n * ch];
    float hf[ch * ns] = {0}, yf[n * ch];
    assert_int_equal(myo_ssm_scan_ref(n, ch, ns, u, dl, a, bm, cm, ds, h, y), MYO_OK);
    assert_int_equal(myo_ssm_scan_f32(cut, ch, ns, uf, df, af, bf, cf, sf, hf, yf), MYO_OK);
    assert_int_equal(myo_ssm_scan_f32(n - cut, ch, ns, uf + cut * ch, df + cut * ch, af,
                                      bf + cut * ns, cf + cut * ns, sf, hf, yf + cut * ch),
                     MYO_OK);
    assert_close_scaled(yf, y, n * ch, 1e-6, "scan_f32 y, two segments");
    assert_close_scaled(hf, h, ch * ns, 1e-6, "scan_f32 final state, two segments");
    free(u), free(dl), free(a), free(bm), free(cm), free(ds);
    free(uf), free(df), free(af), free(bf), free(cf), free(sf);
}

static double silu(double v)
{
    return v / (1.0 + exp(-v));
}
static double softplus(double v)
{
    return log1p(exp(v));
}

/* The whole mixer with one channel (D = 1, E = 1, N = 1, R = 1, K = 2):
 * every weight a scalar, the formulas of myosotis_ssm.h written out. */
static void test_ssm_mixer_equals_its_formulas_for_one_channel(void **state)
{
    (void)state;
    myo_ssm_config cfg = {.d_model = 1, .d_state = 1, .expand = 1, .d_conv = 2};
    myo_ssm_layout ly;
    assert_int_equal(myo_ssm_layout_of(&cfg, &ly), MYO_OK);
    assert_int_equal(ly.count, 2 + 2 + 1 + 3 + 1 + 1 + 1 + 1 + 1);
    float *pf;
    double *p = make_params(&cfg, 7, 0.5, &pf);
    const double wx = p[ly.w_in], wz = p[ly.w_in + 1], k0 = p[ly.conv_w], k1 = p[ly.conv_w + 1];
    const double cb = p[ly.conv_b], wdl = p[ly.w_x], wb = p[ly.w_x + 1], wc = p[ly.w_x + 2];
    const double wdt = p[ly.w_dt], dtb = p[ly.dt_bias], A = -exp(p[ly.a_log]);
    const double dsk = p[ly.d_skip], wo = p[ly.w_out];
    const double X[4] = {0.7, -1.2, 0.4, 2.0};
    double want[4], h = 0.0, xprev = 0.0;
    for (int t = 0; t < 4; t++) {
        double xt = X[t] * wx, zt = X[t] * wz;
        double ut = silu(cb + k0 * xprev + k1 * xt);
        double delta = softplus(ut * wdl * wdt + dtb);
        h = exp(delta * A) * h + delta * (ut * wb) * ut;
        want[t] = ((ut * wc) * h + dsk * ut) * silu(zt) * wo;
        xprev = xt;
    }
    double y[4];
    assert_int_equal(myo_ssm_forward_ref(&cfg, 4, 1, p, X, y), MYO_OK);
    test_assert_close_f64(y, want, 4, 1e-15, 1e-14, "reference mixer, one channel");
    float xf[4], yf[4];
    for (int t = 0; t < 4; t++)
        xf[t] = (float)X[t];
    myo_ssm_work *w = NULL;
    assert_int_equal(myo_ssm_work_create(&cfg, 4, 1, &w), MYO_OK);
    assert_int_equal(myo_ssm_forward_f32(w, pf, xf, yf), MYO_OK);
    assert_close_scaled(yf, want, 4, 1e-6, "float mixer, one channel");
    myo_ssm_work_destroy(&w);
    free(p), free(pf);
}

/* ------------------------------------------------------------ properties */

/* Changing tokens after t leaves outputs up to t untouched (bit for bit),
 * in float (several blocks) and in the reference. */
static void test_ssm_is_causal(void **state)
{
    (void)state;
    enum { D = 8, n = 40, cut = 12 };
    myo_ssm_config cfg = {.d_model = D, .d_state = 16, .block = 7};
    float *pf, *xf;
    double *p = make_params(&cfg, 11, 0.3, &pf);
    double *x = make_values(n * D, 12, 1.0, &xf);
    double y0[n * D], y1[n * D];
    float yf0[n * D], yf1[n * D];
    myo_ssm_work *w = NULL;
    assert_int_equal(myo_ssm_work_create(&cfg, n, 1, &w), MYO_OK);
    assert_int_equal(myo_ssm_forward_ref(&cfg, n, 1, p, x, y0), MYO_OK);
    assert_int_equal(myo_ssm_forward_f32(w, pf, xf, yf0), MYO_OK);
    for (int64_t i = (cut + 1) * D; i < n * D; i++)
        x[i] += 0.5, xf[i] += 0.5f;
    assert_int_equal(myo_ssm_forward_ref(&cfg, n, 1, p, x, y1), MYO_OK);
    assert_int_equal(myo_ssm_forward_f32(w, pf, xf, yf1), MYO_OK);
    assert_memory_equal(y0, y1, (cut + 1) * D * sizeof(double));
    assert_memory_equal(yf0, yf1, (cut + 1) * D * sizeof(float));
    /* and the later outputs did change */
    assert_true(fabs(y0[(cut + 1) * D] - y1[(cut + 1) * D]) > 1e-6);
    assert_true(fabsf(yf0[n * D - 1] - yf1[n * D - 1]) > 1e-6f);
    myo_ssm_work_destroy(&w);
    free(p), free(pf), free(x), free(xf);
}

/* A batch computes each sequence on its own, and a workspace gives the
 * same results when reused (backward does not consume the forward cache). */
static void test_ssm_batch_sequences_are_independent_and_workspaces_reusable(void **state)
{
    (void)state;
    enum { D = 8, n = 21, B = 3 };
    myo_ssm_config cfg = {.d_model = D, .d_state = 4, .block = 8};
    myo_ssm_layout ly;
    assert_int_equal(myo_ssm_layout_of(&cfg, &ly), MYO_OK);
    float *pf, *xf, *gf, *pf2;
    double *p = make_params(&cfg, 21, 0.3, &pf), *p2 = make_params(&cfg, 22, 0.3, &pf2);
    double *x = make_values(B * n * D, 23, 1.0, &xf), *g = make_values(B * n * D, 24, 1.0, &gf);
    float *y = test_alloc(B * n * D, sizeof(float)), *dx = test_alloc(B * n * D, sizeof(float));
    float *dp = test_alloc((size_t)ly.count, sizeof(float));
    float *y1 = test_alloc(n * D, sizeof(float)), *dx1 = test_alloc(n * D, sizeof(float));
    float *dp1 = test_alloc((size_t)ly.count, sizeof(float));
    float *dpsum = test_alloc((size_t)ly.count, sizeof(float));
    myo_ssm_work *wb = NULL, *w1 = NULL;
    assert_int_equal(myo_ssm_work_create(&cfg, n, B, &wb), MYO_OK);
    assert_int_equal(myo_ssm_work_create(&cfg, n, 1, &w1), MYO_OK);
    assert_true(myo_ssm_work_bytes(wb) > myo_ssm_work_bytes(w1));
    /* a first use with other parameters, which must leave no trace */
    assert_int_equal(myo_ssm_forward_f32(wb, pf2, xf, y), MYO_OK);
    assert_int_equal(myo_ssm_backward_f32(wb, pf2, xf, gf, dx, dp), MYO_OK);
    assert_int_equal(myo_ssm_forward_f32(wb, pf, xf, y), MYO_OK);
    assert_int_equal(myo_ssm_backward_f32(wb, pf, xf, gf, dx, dp), MYO_OK);
    for (int b = 0; b < B; b++) {
        assert_int_equal(myo_ssm_forward_f32(w1, pf, xf + b * n * D, y1), MYO_OK);
        assert_int_equal(myo_ssm_backward_f32(w1, pf, xf + b * n * D, gf + b * n * D, dx1, dp1),
                         MYO_OK);
        assert_memory_equal(y1, y + b * n * D, n * D * sizeof(float));
        assert_memory_equal(dx1, dx + b * n * D, n * D * sizeof(float));
        for (int64_t i = 0; i < ly.count; i++)
            dpsum[i] += dp1[i];
    }
    double *dpd = test_alloc((size_t)ly.count, sizeof(double));
    for (int64_t i = 0; i < ly.count; i++)
        dpd[i] = dpsum[i];
    assert_close_scaled(dp, dpd, ly.count, 1e-6, "batch gradient = sum of the sequences'");
    /* backward again from the same cache */
    float *dx2 = test_alloc(B * n * D, sizeof(float));
    float *dp2 = test_alloc((size_t)ly.count, sizeof(float));
    assert_int_equal(myo_ssm_backward_f32(wb, pf, xf, gf, dx2, dp2), MYO_OK);
    assert_memory_equal(dx2, dx, B * n * D * sizeof(float));
    assert_memory_equal(dp2, dp, (size_t)ly.count * sizeof(float));
    myo_ssm_work_destroy(&wb);
    myo_ssm_work_destroy(&w1);
    myo_ssm_work_destroy(&w1); /* NULL-safe */
    free(p), free(p2), free(pf), free(pf2), free(x), free(xf), free(g), free(gf);
    free(y), free(dx), free(dp), free(y1), free(dx1), free(dp1), free(dpsum), free(dpd);
    free(dx2), free(dp2);
}

/* Saturating inputs and parameters: huge and tiny steps (softplus at both
 * ends, exp(delta A) underflowing), saturated silu, large activations.
 * Nothing may become Inf or NaN, in float or in double, forward or back. */
static void test_ssm_extreme_inputs_stay_finite(void **state)
{
    (void)state;
    enum { D = 8, n = 33, B = 2 };
    myo_ssm_config cfg = {.d_model = D, .d_state = 16, .block = 16};
    myo_ssm_layout ly;
    assert_int_equal(myo_ssm_layout_of(&cfg, &ly), MYO_OK);
    const double x_scales[] = {1e2, 3e3};
    for (int variant = 0; variant < 4; variant++) {
        double *p = make_params(&cfg, 31 + variant, 0.3, NULL);
        int64_t L = ly.d_inner, N = ly.d_state;
        for (int64_t c = 0; c < L; c++) {
            /* steps from softplus(-200) to softplus(200), A down to -e^12 */
            p[ly.dt_bias + c] = variant & 1 ? (c % 2 ? 200.0 : -200.0) : (c % 2 ? 40.0 : -90.0);
            p[ly.conv_b + c] = c % 3 == 0 ? 60.0 : c % 3 == 1 ? -60.0 : 0.0;
            for (int64_t s = 0; s < N; s++)
                p[ly.a_log + c * N + s] = variant & 2 ? 12.0 : -12.0;
        }
        float *pf = test_alloc((size_t)ly.count, sizeof(float));
        for (int64_t i = 0; i < ly.count; i++)
            pf[i] = (float)p[i];
        float *xf, *gf;
        double *x = make_values(B * n * D, 41, x_scales[variant / 2], &xf);
        double *g = make_values(B * n * D, 42, 1.0, &gf);
        double *y = test_alloc(B * n * D, sizeof(double)),
               *dx = test_alloc(B * n * D, sizeof(double));
        double *dp = test_alloc((size_t)ly.count, sizeof(double));
        float *yf = test_alloc(B * n * D, sizeof(float)),
              *dxf = test_alloc(B * n * D, sizeof(float));
        float *dpf = test_alloc((size_t)ly.count, sizeof(float));
        myo_ssm_work *w = NULL;
        assert_int_equal(myo_ssm_work_create(&cfg, n, B, &w), MYO_OK);
        assert_int_equal(myo_ssm_forward_f32(w, pf, xf, yf), MYO_OK);
        assert_int_equal(myo_ssm_backward_f32(w, pf, xf, gf, dxf, dpf), MYO_OK);
        assert_int_equal(myo_ssm_forward_ref(&cfg, n, B, p, x, y), MYO_OK);
        assert_int_equal(myo_ssm_backward_ref(&cfg, n, B, p, x, g, dx, dp), MYO_OK);
        assert_all_finite_f32(yf, B * n * D, "float Y");
        assert_all_finite_f32(dxf, B * n * D, "float dX");
        assert_all_finite_f32(dpf, ly.count, "float dparams");
        assert_all_finite_f64(y, B * n * D, "reference Y");
        assert_all_finite_f64(dx, B * n * D, "reference dX");
        assert_all_finite_f64(dp, ly.count, "reference dparams");
        char what[80];
        snprintf(what, sizeof what, "extreme variant %d: forward", variant);
        assert_close_scaled(yf, y, B * n * D, 1e-4, what);
        myo_ssm_work_destroy(&w);
        free(p), free(pf), free(x), free(xf), free(g), free(gf), free(y), free(dx), free(dp);
        free(yf), free(dxf), free(dpf);
    }
}

/* Mamba's defaults and initialisation. */
static void test_ssm_init_follows_mamba_defaults(void **state)
{
    (void)state;
    myo_ssm_config cfg = {.d_model = 40};
    myo_ssm_layout ly;
    assert_int_equal(myo_ssm_layout_of(&cfg, &ly), MYO_OK);
    assert_int_equal(ly.d_state, 16);
    assert_int_equal(ly.expand, 2);
    assert_int_equal(ly.d_inner, 80);
    assert_int_equal(ly.d_conv, 4);
    assert_int_equal(ly.dt_rank, 3);
    assert_int_equal(ly.block, MYO_SSM_BLOCK_DEFAULT);
    int64_t D = 40, L = 80, N = 16, K = 4, R = 3, P = R + 2 * N;
    assert_int_equal(ly.count, D * 2 * L + L * K + L + L * P + R * L + L + L * N + L + L * D);
    double *p = test_alloc((size_t)ly.count, sizeof(double));
    float *pf = test_alloc((size_t)ly.count, sizeof(float));
    myo_rng r1 = myo_rng_seed(5), r2 = myo_rng_seed(5);
    assert_int_equal(myo_ssm_params_init_f64(&cfg, &r1, p), MYO_OK);
    assert_int_equal(myo_ssm_params_init_f32(&cfg, &r2, pf), MYO_OK);
    assert_int_equal(r1.state, r2.state);
    for (int64_t i = 0; i < ly.count; i++)
        assert_true(pf[i] == (float)p[i]);
    for (int64_t i = 0; i < D * 2 * L; i++)
        assert_true(fabs(p[ly.w_in + i]) <= 1 / sqrt(D));
    for (int64_t i = 0; i < L * K; i++)
        assert_true(fabs(p[ly.conv_w + i]) <= 0.5);
    for (int64_t i = 0; i < L * P; i++)
        assert_true(fabs(p[ly.w_x + i]) <= 1 / sqrt(L));
    for (int64_t i = 0; i < R * L; i++)
        assert_true(fabs(p[ly.w_dt + i]) <= 1 / sqrt(R));
    for (int64_t i = 0; i < L * D; i++)
        assert_true(fabs(p[ly.w_out + i]) <= 1 / sqrt(L));
    for (int64_t c = 0; c < L; c++) {
        double dt = softplus(p[ly.dt_bias + c]);
        assert_true(dt >= 0.001 * (1 - 1e-12) && dt <= 0.1 * (1 + 1e-12));
        assert_true(p[ly.d_skip + c] == 1.0);
        for (int64_t s = 0; s < N; s++)
            assert_true(fabs(p[ly.a_log + c * N + s] - log((double)(s + 1))) < 1e-15);
    }
    free(p), free(pf);
}

static void test_ssm_rejects_bad_arguments(void **state)
{
    (void)state;
    myo_ssm_config ok = {.d_model = 4, .d_state = 4};
    myo_ssm_config bad[] = {{.d_model = 0},
                            {.d_model = -3},
                            {.d_model = 4, .d_state = -1},
                            {.d_model = 4, .block = -2},
                            {.d_model = (int64_t)1 << 25},
                            {.d_model = 1 << 20, .expand = 64}};
    myo_ssm_layout ly;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(myo_ssm_layout_of(&bad[i], &ly), MYO_ERR_ARG);
        assert_true(strlen(myo_error_detail()) > 0);
    }
    assert_int_equal(myo_ssm_layout_of(NULL, &ly), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_check(&ok, 0, 1), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_check(&ok, 5, 0), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_check(&ok, 5, 1), MYO_OK);
    myo_ssm_work *w = (myo_ssm_work *)&ok;
    assert_int_equal(myo_ssm_work_create(&ok, 0, 1, &w), MYO_ERR_ARG);
    assert_null(w);
    assert_int_equal(myo_ssm_work_create(&ok, 5, 1, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_work_create(&ok, 5, 2, &w), MYO_OK);
    assert_int_equal(myo_ssm_layout_of(&ok, &ly), MYO_OK);
    float *pf = test_alloc((size_t)ly.count, sizeof(float));
    float *x = test_alloc(2 * 5 * 4, sizeof(float)), *y = test_alloc(2 * 5 * 4, sizeof(float));
    float *dp = test_alloc((size_t)ly.count, sizeof(float));
    float *dx = test_alloc(2 * 5 * 4, sizeof(float));
    myo_rng r = myo_rng_seed(1);
    assert_int_equal(myo_ssm_params_init_f32(&ok, &r, pf), MYO_OK);
    assert_int_equal(myo_ssm_params_init_f32(&ok, NULL, pf), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_backward_f32(w, pf, x, y, dx, dp), MYO_ERR_ARG); /* no forward */
    assert_int_equal(myo_ssm_forward_f32(w, NULL, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_forward_f32(NULL, pf, x, y), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_forward_f32(w, pf, x, x + 3), MYO_ERR_ARG); /* overlap */
    assert_int_equal(myo_ssm_forward_f32(w, pf, x, y), MYO_OK);
    assert_int_equal(myo_ssm_backward_f32(w, pf, x, y, NULL, dp), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_backward_f32(w, pf, x, y, dx, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_backward_f32(w, pf, x, y, y, dp), MYO_ERR_ARG);  /* dx = dy */
    assert_int_equal(myo_ssm_backward_f32(w, pf, x, y, dx, pf), MYO_ERR_ARG); /* dparams = params */
    assert_int_equal(myo_ssm_backward_f32(w, pf, x, y, dx, dp), MYO_OK);
    double pd[1] = {0}, xd[1] = {0};
    assert_int_equal(myo_ssm_forward_ref(&ok, 1, 1, NULL, xd, xd), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_forward_ref(&ok, 0, 1, pd, xd, xd), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_backward_ref(&ok, 1, 1, pd, xd, xd, xd, NULL), MYO_ERR_ARG);
    /* the scan alone: A must be <= 0 and delta >= 0 */
    float u[2] = {1, 1}, dl[2] = {0.5f, 0.5f}, a[2] = {-1, 0.5f}, bc[2] = {1, 1}, h[2] = {0, 0};
    float ys[2];
    assert_int_equal(myo_ssm_scan_f32(1, 1, 2, u, dl, a, bc, bc, NULL, h, ys), MYO_ERR_DATA);
    assert_non_null(strstr(myo_error_detail(), "a[0][1]"));
    a[1] = -2.0f, dl[0] = -0.1f;
    assert_int_equal(myo_ssm_scan_f32(1, 2, 1, u, dl, a, bc, bc, NULL, h, ys), MYO_ERR_DATA);
    assert_int_equal(myo_ssm_scan_f32(0, 2, 1, u, dl, a, bc, bc, NULL, h, ys), MYO_ERR_ARG);
    assert_int_equal(myo_ssm_scan_f32(1, 2, 1, u, dl, a, NULL, bc, NULL, h, ys), MYO_ERR_ARG);
    double ud[1] = {1}, dd[1] = {0.5}, ad[1] = {1}, bd[1] = {1}, hd[1] = {0}, yd[1];
    assert_int_equal(myo_ssm_scan_ref(1, 1, 1, ud, dd, ad, bd, bd, NULL, hd, yd), MYO_ERR_DATA);
    ad[0] = NAN;
    assert_int_equal(myo_ssm_scan_ref(1, 1, 1, ud, dd, ad, bd, bd, NULL, hd, yd), MYO_ERR_DATA);
    ad[0] = -1;
    assert_int_equal(myo_ssm_scan_ref(1, 1, 1, ud, dd, ad, bd, bd, NULL, hd, yd), MYO_OK);
    myo_ssm_work_destroy(&w);
    assert_null(w);
    free(pf), free(x), free(y), free(dp), free(dx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssm_scan_equals_the_recurrence_written_out),
        cmocka_unit_test(test_ssm_scan_f32_matches_ref_and_chains_segments),
        cmocka_unit_test(test_ssm_scan_backward_matches_finite_differences_and_f32),
        cmocka_unit_test(test_ssm_mixer_equals_its_formulas_for_one_channel),
        cmocka_unit_test(test_ssm_ref_backward_matches_finite_differences),
        cmocka_unit_test(test_ssm_forward_matches_ref),
        cmocka_unit_test(test_ssm_backward_matches_ref),
        cmocka_unit_test(test_ssm_blocks_and_other_shapes_match_ref),
        cmocka_unit_test(test_ssm_is_causal),
        cmocka_unit_test(test_ssm_batch_sequences_are_independent_and_workspaces_reusable),
        cmocka_unit_test(test_ssm_extreme_inputs_stay_finite),
        cmocka_unit_test(test_ssm_init_follows_mamba_defaults),
        cmocka_unit_test(test_ssm_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
