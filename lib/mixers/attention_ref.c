/* attention_ref.c -- the frozen reference twin of dense softmax attention.
 *
 * Plain double loops, no BLAS, the formulas of myosotis_attention.h as
 * written: every head's n x n probabilities are formed, the backward pass
 * uses the textbook softmax Jacobian dS = P .* (dP - rowsum(P .* dP))
 * (the optimised code uses rowsum(dO .* O) instead; the two agree only if
 * both are right).  Do not optimise this file: it is the oracle. */
#include <config.h>

#include "core/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* c (rows, D) = a (rows, D) w (D, D) */
static void mul(const double *a, const double *w, double *c, int64_t rows, int64_t D)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < D; j++) {
            double s = 0;
            for (int64_t t = 0; t < D; t++)
                s += a[i * D + t] * w[t * D + j];
            c[i * D + j] = s;
        }
}

/* c (rows, D) (+)= a (rows, D) w^T, w (D, D) */
static void mul_wt(const double *a, const double *w, double *c, int64_t rows, int64_t D,
                   int accumulate)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < D; j++) {
            double s = 0;
            for (int64_t t = 0; t < D; t++)
                s += a[i * D + t] * w[j * D + t];
            c[i * D + j] = accumulate ? c[i * D + j] + s : s;
        }
}

/* c (D, D) = a^T b, a and b (rows, D) */
static void mul_at(const double *a, const double *b, double *c, int64_t rows, int64_t D)
{
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) {
            double s = 0;
            for (int64_t t = 0; t < rows; t++)
                s += a[t * D + i] * b[t * D + j];
            c[i * D + j] = s;
        }
}

/* The forward pass of the whole batch, everything kept. */
typedef struct {
    int64_t n, batch, D, H, d;
    int causal;
    double *q, *k, *v, *o; /* (B n, D) */
    double *p;             /* (B, H, n, n): P of each sequence and head */
} ref_pass;

static void ref_pass_free(ref_pass *f)
{
    free(f->q), free(f->k), free(f->v), free(f->o), free(f->p);
}

static myo_status ref_pass_run(const myo_attention_config *cfg, int64_t n, int64_t batch,
                               const myo_qkvo_weights_f64 *w, const double *x, ref_pass *f,
                               const char *who)
{
    memset(f, 0, sizeof *f);
    MYO_CHECK(myo_attention_check(cfg, n, batch));
    if (!w || !w->wq || !w->wk || !w->wv || !w->wo || !x)
        return myo_fail(MYO_ERR_ARG, "%s: NULL weights or input", who);
    f->n = n, f->batch = batch, f->D = cfg->d_model, f->H = cfg->heads;
    f->d = f->D / f->H, f->causal = cfg->causal;
    int64_t rows = batch * n, D = f->D, H = f->H, d = f->d;
    f->q = myo_alloc((size_t)(rows * D), sizeof(double), who);
    f->k = myo_alloc((size_t)(rows * D), sizeof(double), who);
    f->v = myo_alloc((size_t)(rows * D), sizeof(double), who);
    f->o = myo_alloc((size_t)(rows * D), sizeof(double), who);
    f->p = myo_alloc((size_t)(batch * H * n * n), sizeof(double), who);
    if (!f->q || !f->k || !f->v || !f->o || !f->p) {
        ref_pass_free(f);
        return MYO_ERR_NOMEM;
    }
    mul(x, w->wq, f->q, rows, D);
    mul(x, w->wk, f->k, rows, D);
    mul(x, w->wv, f->v, rows, D);
    double scale = 1.0 / sqrt((double)d);
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < H; h++) {
            double *p = f->p + (b * H + h) * n * n;
            for (int64_t i = 0; i < n; i++) {
                int64_t keys = f->causal ? i + 1 : n;
                const double *qi = f->q + (b * n + i) * D + h * d;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < n; j++) {
                    const double *kj = f->k + (b * n + j) * D + h * d;
                    double s = 0;
                    for (int64_t c = 0; c < d; c++)
                        s += qi[c] * kj[c];
                    p[i * n + j] = s * scale;
                    if (j < keys && p[i * n + j] > mx) mx = p[i * n + j];
                }
                for (int64_t j = 0; j < n; j++) {
                    p[i * n + j] = j < keys ? exp(p[i * n + j] - mx) : 0.0;
                    sum += p[i * n + j];
                }
                for (int64_t j = 0; j < n; j++)
                    p[i * n + j] /= sum;
                double *oi = f->o + (b * n + i) * D + h * d;
                for (int64_t c = 0; c < d; c++) {
                    double s = 0;
                    for (int64_t j = 0; j < n; j++)
                        s += p[i * n + j] * f->v[(b * n + j) * D + h * d + c];
                    oi[c] = s;
                }
            }
        }
    return MYO_OK;
}

myo_status myo_attention_forward_ref(const myo_attention_config *cfg, int64_t n, int64_t batch,
                                     const myo_qkvo_weights_f64 *wts, const double *x, double *y)
{
    ref_pass f;
    MYO_CHECK(ref_pass_run(cfg, n, batch, wts, x, &f, "myo_attention_forward_ref"));
    if (!y) {
        ref_pass_free(&f);
        return myo_fail(MYO_ERR_ARG, "myo_attention_forward_ref: NULL output");
    }
    mul(f.o, wts->wo, y, batch * n, f.D);
    ref_pass_free(&f);
    return MYO_OK;
}

myo_status myo_attention_backward_ref(const myo_attention_config *cfg, int64_t n, int64_t batch,
                                      const myo_qkvo_weights_f64 *wts, const double *x,
                                      const double *dy, double *dx, const myo_qkvo_grads_f64 *g)
{
    const char *who = "myo_attention_backward_ref";
    if (!dy || !dx || !g || !g->wq || !g->wk || !g->wv || !g->wo) {
        MYO_CHECK(myo_attention_check(cfg, n, batch));
        return myo_fail(MYO_ERR_ARG, "%s: NULL gradient input or output", who);
    }
    ref_pass f;
    MYO_CHECK(ref_pass_run(cfg, n, batch, wts, x, &f, who));
    int64_t rows = batch * n, D = f.D, H = f.H, d = f.d;
    double scale = 1.0 / sqrt((double)d);
    double *dout = myo_alloc((size_t)(rows * D), sizeof(double), who);
    double *dq = calloc((size_t)(rows * D), sizeof(double));
    double *dk = calloc((size_t)(rows * D), sizeof(double));
    double *dv = calloc((size_t)(rows * D), sizeof(double));
    double *dp = myo_alloc((size_t)(n * n), sizeof(double), who);
    if (!dout || !dq || !dk || !dv || !dp) {
        free(dout), free(dq), free(dk), free(dv), free(dp), ref_pass_free(&f);
        return myo_fail(MYO_ERR_NOMEM, "%s: out of memory for n = %lld, batch = %lld", who,
                        (long long)n, (long long)batch);
    }
    /* Y = O Wo: dO = dY Wo^T, dWo = O^T dY. */
    mul_wt(dy, wts->wo, dout, rows, D, 0);
    mul_at(f.o, dy, g->wo, rows, D);
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < H; h++) {
            const double *p = f.p + (b * H + h) * n * n;
#define AT(a, i) ((a) + (b * n + (i)) * D + h * d) /* row i of head h of sequence b */
            /* dP = dO V^T, dV = P^T dO. */
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t c = 0; c < d; c++)
                        s += AT(dout, i)[c] * AT(f.v, j)[c];
                    dp[i * n + j] = s;
                    for (int64_t c = 0; c < d; c++)
                        AT(dv, j)[c] += p[i * n + j] * AT(dout, i)[c];
                }
            /* Softmax Jacobian, then S = scale Q K^T. */
            for (int64_t i = 0; i < n; i++) {
                double pdp = 0;
                for (int64_t j = 0; j < n; j++)
                    pdp += p[i * n + j] * dp[i * n + j];
                for (int64_t j = 0; j < n; j++) {
                    double ds = p[i * n + j] * (dp[i * n + j] - pdp) * scale;
                    for (int64_t c = 0; c < d; c++) {
                        AT(dq, i)[c] += ds * AT(f.k, j)[c];
                        AT(dk, j)[c] += ds * AT(f.q, i)[c];
                    }
                }
            }
#undef AT
        }
    /* Q = X Wq etc.: dW = X^T dQ, dX = dQ Wq^T + dK Wk^T + dV Wv^T. */
    mul_at(x, dq, g->wq, rows, D);
    mul_at(x, dk, g->wk, rows, D);
    mul_at(x, dv, g->wv, rows, D);
    mul_wt(dq, wts->wq, dx, rows, D, 0);
    mul_wt(dk, wts->wk, dx, rows, D, 1);
    mul_wt(dv, wts->wv, dx, rows, D, 1);
    free(dout), free(dq), free(dk), free(dv), free(dp), ref_pass_free(&f);
    return MYO_OK;
}
