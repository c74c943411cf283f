/* model_ref.c -- the frozen reference twins of model.c's kernels (see
 * model_ref.h for the formulas): plain double loops, no BLAS, written to
 * be read against the formulas; every backward recomputes its forward.
 * They share nothing with model.c.  Letters as in model_ref.h. */
#include <config.h>

#include "core/core.h"
#include "model_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double myo_model_gelu_ref(double x, double *dgelu)
{
    const double c = sqrt(2.0 / M_PI), k = 0.044715;
    const double t = tanh(c * (x + k * x * x * x));
    if (dgelu) *dgelu = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * k * x * x);
    return 0.5 * x * (1.0 + t);
}

/* One row's mean and 1 / sqrt(var + eps). */
static void ref_row_stats(const double *x, int64_t D, double *mu, double *rstd)
{
    double s = 0, v = 0;
    for (int64_t j = 0; j < D; j++)
        s += x[j];
    *mu = s / (double)D;
    for (int64_t j = 0; j < D; j++)
        v += (x[j] - *mu) * (x[j] - *mu);
    *rstd = 1.0 / sqrt(v / (double)D + MYO_MODEL_LN_EPS);
}

void myo_model_ln_forward_ref(int64_t rows, int64_t D, const double *x, const double *g,
                              const double *b, double *y)
{
    for (int64_t r = 0; r < rows; r++) {
        double mu, rs;
        ref_row_stats(x + r * D, D, &mu, &rs);
        for (int64_t j = 0; j < D; j++)
            y[r * D + j] = g[j] * (x[r * D + j] - mu) * rs + b[j];
    }
}

/* The full Jacobian of xhat, row by row: d xhat_j / d x_i = rstd (delta_ij
 * - 1/D - xhat_i xhat_j / D); dx_i = sum_j dy_j g_j d xhat_j / d x_i. */
void myo_model_ln_backward_ref(int64_t rows, int64_t D, const double *x, const double *g,
                               const double *dy, double *dx, double *dg, double *db)
{
    for (int64_t j = 0; j < D; j++)
        dg[j] = db[j] = 0;
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * D, *dyr = dy + r * D;
        double mu, rs;
        ref_row_stats(xr, D, &mu, &rs);
        for (int64_t i = 0; i < D; i++) {
            double s = 0, xi = (xr[i] - mu) * rs;
            for (int64_t j = 0; j < D; j++) {
                double xj = (xr[j] - mu) * rs;
                s += dyr[j] * g[j] * rs *
                     ((i == j ? 1.0 : 0.0) - 1.0 / (double)D - xi * xj / (double)D);
            }
            dx[r * D + i] = s;
            dg[i] += dyr[i] * xi;
            db[i] += dyr[i];
        }
    }
}

/* h (rows, F) = gelu(x W1 + b1), the pre-activation into pre unless NULL. */
static void ref_mlp_hidden(int64_t rows, int64_t D, int64_t F, const double *x, const double *w1,
                           const double *b1, double *pre, double *h)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t f = 0; f < F; f++) {
            double s = b1[f];
            for (int64_t j = 0; j < D; j++)
                s += x[r * D + j] * w1[j * F + f];
            if (pre) pre[r * F + f] = s;
            h[r * F + f] = myo_model_gelu_ref(s, NULL);
        }
}

myo_status myo_model_mlp_forward_ref(int64_t rows, int64_t D, int64_t F, const double *x,
                                     const double *w1, const double *b1, const double *w2,
                                     const double *b2, double *y)
{
    double *h = myo_alloc((size_t)(rows * F), sizeof(double), "the reference MLP");
    if (!h) return MYO_ERR_NOMEM;
    ref_mlp_hidden(rows, D, F, x, w1, b1, NULL, h);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < D; j++) {
            double s = b2[j];
            for (int64_t f = 0; f < F; f++)
                s += h[r * F + f] * w2[f * D + j];
            y[r * D + j] = s;
        }
    free(h);
    return MYO_OK;
}

myo_status myo_model_mlp_backward_ref(int64_t rows, int64_t D, int64_t F, const double *x,
                                      const double *w1, const double *b1, const double *w2,
                                      const double *dy, double *dx, double *dw1, double *db1,
                                      double *dw2, double *db2)
{
    double *pre = myo_alloc((size_t)(rows * F), sizeof(double), "the reference MLP");
    double *h = myo_alloc((size_t)(rows * F), sizeof(double), "the reference MLP");
    if (!pre || !h) {
        free(pre), free(h);
        return MYO_ERR_NOMEM;
    }
    ref_mlp_hidden(rows, D, F, x, w1, b1, pre, h);
    memset(dw1, 0, (size_t)(D * F) * sizeof(double));
    memset(dw2, 0, (size_t)(F * D) * sizeof(double));
    memset(db1, 0, (size_t)F * sizeof(double));
    memset(db2, 0, (size_t)D * sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        const double *dyr = dy + r * D;
        for (int64_t j = 0; j < D; j++) {
            db2[j] += dyr[j];
            dx[r * D + j] = 0;
        }
        for (int64_t f = 0; f < F; f++) {
            double dh = 0, dg;
            for (int64_t j = 0; j < D; j++) {
                dw2[f * D + j] += h[r * F + f] * dyr[j];
                dh += dyr[j] * w2[f * D + j];
            }
            (void)myo_model_gelu_ref(pre[r * F + f], &dg);
            const double dp = dh * dg;
            db1[f] += dp;
            for (int64_t j = 0; j < D; j++) {
                dw1[j * F + f] += x[r * D + j] * dp;
                dx[r * D + j] += dp * w1[j * F + f];
            }
        }
    }
    free(pre), free(h);
    return MYO_OK;
}

void myo_model_pool_forward_ref(int64_t S, int64_t n, int64_t D, const double *x, double *u)
{
    for (int64_t s = 0; s < S; s++)
        for (int64_t j = 0; j < D; j++) {
            double t = 0;
            for (int64_t i = 0; i < n; i++)
                t += x[(s * n + i) * D + j];
            u[s * D + j] = t / (double)n;
        }
}

void myo_model_pool_backward_ref(int64_t S, int64_t n, int64_t D, const double *du, double *dx)
{
    for (int64_t s = 0; s < S; s++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < D; j++)
                dx[(s * n + i) * D + j] = du[s * D + j] / (double)n;
}

void myo_model_embed_forward_ref(int64_t S, int64_t n, int64_t D, const int32_t *tokens,
                                 const double *emb, const double *pos, double *x)
{
    for (int64_t s = 0; s < S; s++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < D; j++)
                x[(s * n + i) * D + j] = emb[tokens[s * n + i] * (int64_t)D + j] + pos[i * D + j];
}

/* demb[v] = sum of the rows whose token is v, found by searching (no scatter). */
void myo_model_embed_backward_ref(int64_t S, int64_t n, int64_t D, int64_t V, const int32_t *tokens,
                                  const double *dx, double *demb, double *dpos)
{
    for (int64_t v = 0; v < V; v++)
        for (int64_t j = 0; j < D; j++) {
            double t = 0;
            for (int64_t r = 0; r < S * n; r++)
                if (tokens[r] == v) t += dx[r * D + j];
            demb[v * D + j] = t;
        }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < D; j++) {
            double t = 0;
            for (int64_t s = 0; s < S; s++)
                t += dx[(s * n + i) * D + j];
            dpos[i * D + j] = t;
        }
}

/* The head's input row of example b: u (D,) or, dual, gelu(z Wh + bh) (F,)
 * with z = [u1, u2, u1 u2, u1 - u2]; z (4D,) and pre (F,) kept. */
static int64_t ref_head_input(const myo_model_head_f64 *hd, int64_t b, const double *u, double *z,
                              double *pre, double *in)
{
    const int64_t D = hd->D, F = hd->F;
    if (!hd->dual) {
        memcpy(in, u + b * D, (size_t)D * sizeof(double));
        return D;
    }
    const double *u1 = u + 2 * b * D, *u2 = u1 + D;
    for (int64_t j = 0; j < D; j++)
        z[j] = u1[j], z[D + j] = u2[j], z[2 * D + j] = u1[j] * u2[j], z[3 * D + j] = u1[j] - u2[j];
    for (int64_t f = 0; f < F; f++) {
        double s = hd->bh[f];
        for (int64_t j = 0; j < 4 * D; j++)
            s += z[j] * hd->wh[j * F + f];
        pre[f] = s;
        in[f] = myo_model_gelu_ref(s, NULL);
    }
    return F;
}

myo_status myo_model_head_forward_ref(const myo_model_head_f64 *hd, int64_t B, const double *u,
                                      const int32_t *labels, double *logits, double *loss_out,
                                      int64_t *correct)
{
    const int64_t D = hd->D, F = hd->F, C = hd->C;
    double *z =
        myo_alloc((size_t)(4 * D + F + (D > F ? D : F) + C), sizeof(double), "the reference head");
    if (!z) return MYO_ERR_NOMEM;
    double *pre = z + 4 * D, *in = pre + F, *lg = in + (D > F ? D : F);
    double loss = 0;
    int64_t right = 0;
    for (int64_t b = 0; b < B; b++) {
        const int64_t K = ref_head_input(hd, b, u, z, pre, in);
        double mx = -INFINITY, sum = 0;
        int64_t arg = 0;
        for (int64_t c = 0; c < C; c++) {
            double s = hd->bc[c];
            for (int64_t k = 0; k < K; k++)
                s += in[k] * hd->wc[k * C + c];
            lg[c] = s;
            if (logits) logits[b * C + c] = s;
            if (s > mx) mx = s, arg = c;
        }
        for (int64_t c = 0; c < C; c++)
            sum += exp(lg[c] - mx);
        if (labels) loss += mx + log(sum) - lg[labels[b]], right += arg == labels[b];
    }
    free(z);
    if (correct) *correct = right;
    if (loss_out) *loss_out = labels ? loss / (double)B : 0.0;
    return MYO_OK;
}

myo_status myo_model_head_backward_ref(const myo_model_head_f64 *hd, int64_t B, const double *u,
                                       const int32_t *labels, double *du, double *dwh, double *dbh,
                                       double *dwc, double *dbc)
{
    const int64_t D = hd->D, F = hd->F, C = hd->C, K = hd->dual ? F : D;
    double *z = myo_alloc((size_t)(8 * D + F + 2 * K + C), sizeof(double), "the reference head");
    if (!z) return MYO_ERR_NOMEM;
    double *dz = z + 4 * D, *pre = dz + 4 * D, *in = pre + F, *din = in + K, *dl = din + K;
    memset(dwc, 0, (size_t)(K * C) * sizeof(double));
    memset(dbc, 0, (size_t)C * sizeof(double));
    if (hd->dual) {
        memset(dwh, 0, (size_t)(4 * D * F) * sizeof(double));
        memset(dbh, 0, (size_t)F * sizeof(double));
    }
    for (int64_t b = 0; b < B; b++) {
        ref_head_input(hd, b, u, z, pre, in);
        /* dlogits = (softmax - onehot) / B */
        double mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < C; c++) {
            double s = hd->bc[c];
            for (int64_t k = 0; k < K; k++)
                s += in[k] * hd->wc[k * C + c];
            dl[c] = s;
            mx = fmax(mx, s);
        }
        for (int64_t c = 0; c < C; c++)
            sum += exp(dl[c] - mx);
        for (int64_t c = 0; c < C; c++)
            dl[c] = (exp(dl[c] - mx) / sum - (c == labels[b] ? 1.0 : 0.0)) / (double)B;
        for (int64_t k = 0; k < K; k++) {
            double s = 0;
            for (int64_t c = 0; c < C; c++) {
                dwc[k * C + c] += in[k] * dl[c];
                s += dl[c] * hd->wc[k * C + c];
            }
            din[k] = s;
        }
        for (int64_t c = 0; c < C; c++)
            dbc[c] += dl[c];
        if (!hd->dual) {
            memcpy(du + b * D, din, (size_t)D * sizeof(double));
            continue;
        }
        for (int64_t j = 0; j < 4 * D; j++)
            dz[j] = 0;
        for (int64_t f = 0; f < F; f++) {
            double dg;
            (void)myo_model_gelu_ref(pre[f], &dg);
            const double dp = din[f] * dg;
            dbh[f] += dp;
            for (int64_t j = 0; j < 4 * D; j++) {
                dwh[j * F + f] += z[j] * dp;
                dz[j] += dp * hd->wh[j * F + f];
            }
        }
        const double *u1 = u + 2 * b * D, *u2 = u1 + D;
        for (int64_t j = 0; j < D; j++) {
            du[2 * b * D + j] = dz[j] + dz[2 * D + j] * u2[j] + dz[3 * D + j];
            du[(2 * b + 1) * D + j] = dz[D + j] + dz[2 * D + j] * u1[j] - dz[3 * D + j];
        }
    }
    free(z);
    return MYO_OK;
}
