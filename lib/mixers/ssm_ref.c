/* ssm_ref.c -- the frozen reference twin of the SSM mixer.
 *
 * Plain double loops, no BLAS, the formulas of myosotis_ssm.h one by one;
 * every intermediate of a sequence is stored, the states h (n, L, N)
 * included, and the scan steps through myo_ssm_scan_ref one token at a
 * time.  Do not optimise this file: it is the oracle. */
#include <config.h>

#include "core/core.h"
#include "core/mathfn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

myo_status myo_ssm_scan_ref(int64_t n, int64_t channels, int64_t d_state, const double *u,
                            const double *delta, const double *a, const double *b, const double *c,
                            const double *d_skip, double *h, double *y)
{
    if (!u || !delta || !a || !b || !c || !h || !y || n < 1 || channels < 1 || d_state < 1)
        return myo_fail(MYO_ERR_ARG,
                        "myo_ssm_scan_ref: invalid arguments (n = %lld, channels = %lld, "
                        "d_state = %lld, or a NULL array)",
                        (long long)n, (long long)channels, (long long)d_state);
    for (int64_t i = 0; i < channels * d_state; i++)
        if (!(a[i] <= 0.0))
            return myo_fail(MYO_ERR_DATA, "myo_ssm_scan_ref: a[%lld][%lld] = %g is not <= 0",
                            (long long)(i / d_state), (long long)(i % d_state), a[i]);
    for (int64_t i = 0; i < n * channels; i++)
        if (!(delta[i] >= 0.0))
            return myo_fail(MYO_ERR_DATA, "myo_ssm_scan_ref: delta[%lld][%lld] = %g is not >= 0",
                            (long long)(i / channels), (long long)(i % channels), delta[i]);
    for (int64_t t = 0; t < n; t++)
        for (int64_t ch = 0; ch < channels; ch++) {
            double dt = delta[t * channels + ch], ut = u[t * channels + ch], acc = 0.0;
            for (int64_t s = 0; s < d_state; s++) {
                double *hs = &h[ch * d_state + s];
                *hs = exp(dt * a[ch * d_state + s]) * *hs + dt * b[t * d_state + s] * ut;
                acc += c[t * d_state + s] * *hs;
            }
            y[t * channels + ch] = acc + (d_skip ? d_skip[ch] * ut : 0.0);
        }
    return MYO_OK;
}

/* Every state h_t (n, channels, d_state) is stored, then the adjoint runs
 * backwards: dh = dL/dh_t, read by y_t and by h_{t+1}. */
myo_status myo_ssm_scan_backward_ref(int64_t n, int64_t channels, int64_t d_state, const double *u,
                                     const double *delta, const double *a, const double *b,
                                     const double *c, const double *d_skip, const double *h0,
                                     const double *dy, const double *dh_final, double *du,
                                     double *ddelta, double *da, double *db, double *dc,
                                     double *dd_skip, double *dh0)
{
    if (!h0 || !dy || !dh_final || !du || !ddelta || !da || !db || !dc || !dh0 || n < 1 ||
        channels < 1 || d_state < 1)
        return myo_fail(MYO_ERR_ARG,
                        "myo_ssm_scan_backward_ref: invalid arguments (n = %lld, channels = "
                        "%lld, d_state = %lld, or a NULL array)",
                        (long long)n, (long long)channels, (long long)d_state);
    int64_t m = channels * d_state;
    double *hs = myo_alloc((size_t)n * (size_t)m, sizeof(double), "myo_ssm_scan_backward_ref: h");
    double *y = myo_alloc((size_t)channels, sizeof(double), "myo_ssm_scan_backward_ref: y");
    if (!hs || !y) {
        free(hs), free(y);
        return MYO_ERR_NOMEM;
    }
    /* the forward, one token at a time (it checks u, delta, a, b, c) */
    myo_status st = MYO_OK;
    for (int64_t t = 0; t < n && st == MYO_OK; t++) {
        memcpy(hs + t * m, t ? hs + (t - 1) * m : h0, (size_t)m * sizeof(double));
        st = myo_ssm_scan_ref(1, channels, d_state, u + t * channels, delta + t * channels, a,
                              b + t * d_state, c + t * d_state, d_skip, hs + t * m, y);
    }
    if (st != MYO_OK) {
        free(hs), free(y);
        return st;
    }
    memmove(dh0, dh_final, (size_t)m * sizeof(double)); /* dh0 carries dL/dh_t */
    memset(da, 0, (size_t)m * sizeof(double));
    memset(db, 0, (size_t)(n * d_state) * sizeof(double));
    memset(dc, 0, (size_t)(n * d_state) * sizeof(double));
    if (dd_skip) memset(dd_skip, 0, (size_t)channels * sizeof(double));
    for (int64_t t = n - 1; t >= 0; t--)
        for (int64_t ch = 0; ch < channels; ch++) {
            int64_t tc = t * channels + ch;
            double dlt = delta[tc], ut = u[tc], dyt = dy[tc];
            double ddl = 0.0, duu = dyt * (d_skip ? d_skip[ch] : 0.0);
            if (dd_skip) dd_skip[ch] += dyt * ut;
            for (int64_t s = 0; s < d_state; s++) {
                int64_t cs = ch * d_state + s;
                double ht = hs[t * m + cs], hprev = t > 0 ? hs[(t - 1) * m + cs] : h0[cs];
                double abar = exp(dlt * a[cs]);
                dh0[cs] += dyt * c[t * d_state + s];
                dc[t * d_state + s] += dyt * ht;
                /* h_t = abar h_{t-1} + delta b u, abar = exp(delta a) */
                ddl += dh0[cs] * (hprev * abar * a[cs] + b[t * d_state + s] * ut);
                da[cs] += dh0[cs] * hprev * abar * dlt;
                db[t * d_state + s] += dh0[cs] * dlt * ut;
                duu += dh0[cs] * dlt * b[t * d_state + s];
                dh0[cs] *= abar;
            }
            ddelta[tc] = ddl, du[tc] = duu;
        }
    free(hs), free(y);
    return MYO_OK;
}

/* Everything the forward computes for one sequence, kept for backward. */
typedef struct {
    double *xz;    /* (n, 2L): x, z */
    double *xc;    /* (n, L): convolution output, before silu */
    double *u;     /* (n, L) */
    double *xdbl;  /* (n, P): dt_low, Bm, Cm */
    double *dtp;   /* (n, L): before softplus */
    double *delta; /* (n, L) */
    double *a;     /* (L, N): A = -exp(A_log) */
    double *h;     /* (n, L, N): state after each token */
    double *y;     /* (n, L): scan output, before the gate */
    double *g;     /* (n, L): y .* silu(z) */
} ref_seq;

static void ref_seq_free(ref_seq *s)
{
    free(s->xz), free(s->xc), free(s->u), free(s->xdbl), free(s->dtp), free(s->delta);
    free(s->a), free(s->h), free(s->y), free(s->g);
    memset(s, 0, sizeof *s);
}

static myo_status ref_seq_alloc(const myo_ssm_layout *ly, int64_t n, ref_seq *s)
{
    int64_t L = ly->d_inner, N = ly->d_state, P = ly->dt_rank + 2 * N;
    memset(s, 0, sizeof *s);
    s->xz = myo_alloc((size_t)(n * 2 * L), sizeof(double), "myo_ssm_ref: x, z");
    s->xc = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_ref: conv");
    s->u = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_ref: u");
    s->xdbl = myo_alloc((size_t)(n * P), sizeof(double), "myo_ssm_ref: x_proj");
    s->dtp = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_ref: dt");
    s->delta = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_ref: delta");
    s->a = myo_alloc((size_t)(L * N), sizeof(double), "myo_ssm_ref: A");
    s->h = myo_alloc((size_t)n * (size_t)(L * N), sizeof(double), "myo_ssm_ref: states");
    s->y = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_ref: y");
    s->g = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_ref: gated y");
    if (!s->xz || !s->xc || !s->u || !s->xdbl || !s->dtp || !s->delta || !s->a || !s->h || !s->y ||
        !s->g) {
        ref_seq_free(s);
        return MYO_ERR_NOMEM;
    }
    return MYO_OK;
}

/* One sequence: x (n, D) -> out (n, D), filling s.  Fails only on a NaN
 * A_log (from the scan's check of A). */
static myo_status ref_seq_forward(const myo_ssm_layout *ly, int64_t n, const double *p,
                                  const double *x, ref_seq *s, double *out)
{
    int64_t D = ly->d_model, L = ly->d_inner, N = ly->d_state, K = ly->d_conv, R = ly->dt_rank;
    int64_t P = R + 2 * N;
    const double *w_in = p + ly->w_in, *conv_w = p + ly->conv_w, *conv_b = p + ly->conv_b;
    const double *w_x = p + ly->w_x, *w_dt = p + ly->w_dt, *dt_bias = p + ly->dt_bias;
    const double *a_log = p + ly->a_log, *d_skip = p + ly->d_skip, *w_out = p + ly->w_out;

    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < 2 * L; j++) {
            double acc = 0.0;
            for (int64_t i = 0; i < D; i++)
                acc += x[t * D + i] * w_in[i * 2 * L + j];
            s->xz[t * 2 * L + j] = acc;
        }
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++) {
            double acc = conv_b[c];
            for (int64_t k = 0; k < K; k++) {
                int64_t src = t - (K - 1) + k;
                if (src >= 0) acc += conv_w[c * K + k] * s->xz[src * 2 * L + c];
            }
            s->xc[t * L + c] = acc;
            s->u[t * L + c] = myo_silu(acc);
        }
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < P; j++) {
            double acc = 0.0;
            for (int64_t c = 0; c < L; c++)
                acc += s->u[t * L + c] * w_x[c * P + j];
            s->xdbl[t * P + j] = acc;
        }
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++) {
            double acc = dt_bias[c];
            for (int64_t r = 0; r < R; r++)
                acc += s->xdbl[t * P + r] * w_dt[r * L + c];
            s->dtp[t * L + c] = acc;
            s->delta[t * L + c] = myo_softplus(acc);
        }
    for (int64_t i = 0; i < L * N; i++)
        s->a[i] = -exp(a_log[i]);
    /* The scan one token at a time, so that every state is kept. */
    for (int64_t t = 0; t < n; t++) {
        double *h = s->h + t * L * N;
        if (t == 0)
            memset(h, 0, (size_t)(L * N) * sizeof(double));
        else
            memcpy(h, h - L * N, (size_t)(L * N) * sizeof(double));
        MYO_CHECK(myo_ssm_scan_ref(1, L, N, s->u + t * L, s->delta + t * L, s->a,
                                   s->xdbl + t * P + R, s->xdbl + t * P + R + N, d_skip, h,
                                   s->y + t * L));
    }
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++)
            s->g[t * L + c] = s->y[t * L + c] * myo_silu(s->xz[t * 2 * L + L + c]);
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < D; j++) {
            double acc = 0.0;
            for (int64_t c = 0; c < L; c++)
                acc += s->g[t * L + c] * w_out[c * D + j];
            out[t * D + j] = acc;
        }
    return MYO_OK;
}

/* One sequence backward: dout (n, D) -> dx (n, D) (overwritten), grad
 * (layout.count) accumulated.  dx may equal dout. */
static myo_status ref_seq_backward(const myo_ssm_layout *ly, int64_t n, const double *p,
                                   const double *x, const ref_seq *s, const double *dout,
                                   double *dx, double *grad)
{
    int64_t D = ly->d_model, L = ly->d_inner, N = ly->d_state, K = ly->d_conv, R = ly->dt_rank;
    int64_t P = R + 2 * N;
    const double *w_in = p + ly->w_in, *conv_w = p + ly->conv_w, *w_x = p + ly->w_x;
    const double *w_dt = p + ly->w_dt, *d_skip = p + ly->d_skip, *w_out = p + ly->w_out;
    double *gw_in = grad + ly->w_in, *gconv_w = grad + ly->conv_w, *gconv_b = grad + ly->conv_b;
    double *gw_x = grad + ly->w_x, *gw_dt = grad + ly->w_dt, *gdt_bias = grad + ly->dt_bias;
    double *ga_log = grad + ly->a_log, *gd_skip = grad + ly->d_skip, *gw_out = grad + ly->w_out;

    double *dg = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_backward_ref: dg");
    double *dyv = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_backward_ref: dy");
    double *du = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_backward_ref: du");
    double *ddelta = myo_alloc((size_t)(n * L), sizeof(double), "myo_ssm_backward_ref: ddelta");
    double *dxdbl = myo_alloc((size_t)(n * P), sizeof(double), "myo_ssm_backward_ref: dxdbl");
    double *dxz = myo_alloc((size_t)(n * 2 * L), sizeof(double), "myo_ssm_backward_ref: dxz");
    double *dh = myo_alloc((size_t)(L * N), sizeof(double), "myo_ssm_backward_ref: dh");
    double *da = myo_alloc((size_t)(L * N), sizeof(double), "myo_ssm_backward_ref: dA");
    if (!dg || !dyv || !du || !ddelta || !dxdbl || !dxz || !dh || !da) {
        free(dg), free(dyv), free(du), free(ddelta), free(dxdbl), free(dxz), free(dh), free(da);
        return MYO_ERR_NOMEM;
    }

    /* out = g W_out */
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++) {
            double acc = 0.0;
            for (int64_t j = 0; j < D; j++) {
                acc += dout[t * D + j] * w_out[c * D + j];
                gw_out[c * D + j] += s->g[t * L + c] * dout[t * D + j];
            }
            dg[t * L + c] = acc;
        }
    /* g = y .* silu(z) */
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++) {
            double z = s->xz[t * 2 * L + L + c];
            dyv[t * L + c] = dg[t * L + c] * myo_silu(z);
            dxz[t * 2 * L + L + c] = dg[t * L + c] * s->y[t * L + c] * myo_silu_grad(z);
        }
    /* y = C . h + Dskip u */
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++) {
            gd_skip[c] += dyv[t * L + c] * s->u[t * L + c];
            du[t * L + c] = dyv[t * L + c] * d_skip[c];
            ddelta[t * L + c] = 0.0;
        }
    memset(dxdbl, 0, (size_t)(n * P) * sizeof(double));
    memset(dh, 0, (size_t)(L * N) * sizeof(double));
    memset(da, 0, (size_t)(L * N) * sizeof(double));
    /* The scan in reverse: dh carries dL/dh_t from the later tokens. */
    for (int64_t t = n - 1; t >= 0; t--) {
        const double *bt = s->xdbl + t * P + R, *ct = s->xdbl + t * P + R + N;
        double *dbt = dxdbl + t * P + R, *dct = dxdbl + t * P + R + N;
        for (int64_t c = 0; c < L; c++) {
            double dlt = s->delta[t * L + c], ut = s->u[t * L + c], dy = dyv[t * L + c];
            for (int64_t k = 0; k < N; k++) {
                int64_t cs = c * N + k;
                double ht = s->h[t * L * N + cs];
                double hprev = t > 0 ? s->h[(t - 1) * L * N + cs] : 0.0;
                double abar = exp(dlt * s->a[cs]);
                dh[cs] += dy * ct[k];
                dct[k] += dy * ht;
                /* h_t = abar h_{t-1} + delta Bm u, abar = exp(delta A) */
                ddelta[t * L + c] += dh[cs] * (hprev * abar * s->a[cs] + bt[k] * ut);
                da[cs] += dh[cs] * hprev * abar * dlt;
                dbt[k] += dh[cs] * dlt * ut;
                du[t * L + c] += dh[cs] * dlt * bt[k];
                dh[cs] *= abar;
            }
        }
    }
    for (int64_t i = 0; i < L * N; i++)
        ga_log[i] += da[i] * s->a[i]; /* dA/dA_log = A */
    /* delta = softplus(dt_low W_dt + dt_bias) */
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++) {
            double ddtp = ddelta[t * L + c] * myo_sigmoid(s->dtp[t * L + c]);
            gdt_bias[c] += ddtp;
            for (int64_t r = 0; r < R; r++) {
                gw_dt[r * L + c] += s->xdbl[t * P + r] * ddtp;
                dxdbl[t * P + r] += ddtp * w_dt[r * L + c];
            }
        }
    /* xdbl = u W_x */
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++)
            for (int64_t j = 0; j < P; j++) {
                du[t * L + c] += dxdbl[t * P + j] * w_x[c * P + j];
                gw_x[c * P + j] += s->u[t * L + c] * dxdbl[t * P + j];
            }
    /* u = silu(xc), xc = conv(x) */
    for (int64_t i = 0; i < n * 2 * L; i += 2 * L)
        memset(dxz + i, 0, (size_t)L * sizeof(double));
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < L; c++) {
            double dxc = du[t * L + c] * myo_silu_grad(s->xc[t * L + c]);
            gconv_b[c] += dxc;
            for (int64_t k = 0; k < K; k++) {
                int64_t src = t - (K - 1) + k;
                if (src < 0) continue;
                gconv_w[c * K + k] += dxc * s->xz[src * 2 * L + c];
                dxz[src * 2 * L + c] += dxc * conv_w[c * K + k];
            }
        }
    /* [x | z] = X W_in */
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = 0; j < 2 * L; j++)
                gw_in[i * 2 * L + j] += x[t * D + i] * dxz[t * 2 * L + j];
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < D; i++) {
            double acc = 0.0;
            for (int64_t j = 0; j < 2 * L; j++)
                acc += dxz[t * 2 * L + j] * w_in[i * 2 * L + j];
            dx[t * D + i] = acc;
        }
    free(dg), free(dyv), free(du), free(ddelta), free(dxdbl), free(dxz), free(dh), free(da);
    return MYO_OK;
}

myo_status myo_ssm_forward_ref(const myo_ssm_config *cfg, int64_t n, int64_t batch,
                               const double *params, const double *x, double *y)
{
    myo_ssm_layout ly;
    MYO_CHECK(myo_ssm_check(cfg, n, batch));
    MYO_CHECK(myo_ssm_layout_of(cfg, &ly));
    if (!params || !x || !y) return myo_fail(MYO_ERR_ARG, "myo_ssm_forward_ref: a NULL array");
    int64_t D = ly.d_model;
    double *out = myo_alloc((size_t)(n * D), sizeof(double), "myo_ssm_forward_ref: output");
    ref_seq s;
    if (!out) return MYO_ERR_NOMEM;
    myo_status st = ref_seq_alloc(&ly, n, &s);
    for (int64_t b = 0; b < batch && st == MYO_OK; b++) {
        st = ref_seq_forward(&ly, n, params, x + b * n * D, &s, out);
        if (st == MYO_OK) /* after x is read: y may equal x */
            memcpy(y + b * n * D, out, (size_t)(n * D) * sizeof(double));
    }
    ref_seq_free(&s);
    free(out);
    return st;
}

myo_status myo_ssm_backward_ref(const myo_ssm_config *cfg, int64_t n, int64_t batch,
                                const double *params, const double *x, const double *dy, double *dx,
                                double *dparams)
{
    myo_ssm_layout ly;
    MYO_CHECK(myo_ssm_check(cfg, n, batch));
    MYO_CHECK(myo_ssm_layout_of(cfg, &ly));
    if (!params || !x || !dy || !dx || !dparams)
        return myo_fail(MYO_ERR_ARG, "myo_ssm_backward_ref: a NULL array");
    int64_t D = ly.d_model;
    double *out = myo_alloc((size_t)(n * D), sizeof(double), "myo_ssm_backward_ref: output");
    ref_seq s;
    if (!out) return MYO_ERR_NOMEM;
    myo_status st = ref_seq_alloc(&ly, n, &s);
    if (st == MYO_OK) memset(dparams, 0, (size_t)ly.count * sizeof(double));
    for (int64_t b = 0; b < batch && st == MYO_OK; b++) {
        st = ref_seq_forward(&ly, n, params, x + b * n * D, &s, out);
        if (st == MYO_OK)
            st = ref_seq_backward(&ly, n, params, x + b * n * D, &s, dy + b * n * D, dx + b * n * D,
                                  dparams);
    }
    ref_seq_free(&s);
    free(out);
    return st;
}
