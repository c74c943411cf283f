/* model_ref.c -- the frozen reference twins of model.c's kernels (see
 * model_ref.h for the formulas): plain double loops, no BLAS, written to
 * be read against the formulas; every backward recomputes its forward.
 * They share nothing with model.c but the dropout mask (model_ref.h).
 * Then the whole model in double (myo_model_loss_ref), composed of these
 * twins and the mixers' own.  Letters as in model_ref.h. */
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

/* The smoothed target t_c = (1 - eps) [c == label] + eps / C. */
static double ref_target(const myo_model_head_f64 *hd, int32_t label, int64_t c)
{
    return (1.0 - hd->smoothing) * (c == label ? 1.0 : 0.0) + hd->smoothing / (double)hd->C;
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
        if (labels) {
            /* - sum_c t_c log softmax_c = lse - sum_c t_c logit_c */
            double tl = 0;
            for (int64_t c = 0; c < C; c++)
                tl += ref_target(hd, labels[b], c) * lg[c];
            loss += mx + log(sum) - tl;
            right += arg == labels[b];
        }
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
        /* dlogits = (softmax - t) / B */
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
            dl[c] = (exp(dl[c] - mx) / sum - ref_target(hd, labels[b], c)) / (double)B;
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

void myo_model_dropout_ref(int64_t rows, int64_t D, double rate, uint64_t key, const double *x,
                           double *y)
{
    const uint64_t cut = myo_model_dropout_cut(rate);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < D; j++)
            y[r * D + j] =
                myo_model_dropout_keep(key, r, j, cut) ? x[r * D + j] / (1.0 - rate) : 0.0;
}

/* ------------------------------------------------------- the whole model */

/* One block's offsets in the flat vector (myosotis_model.h's layout). */
typedef struct {
    int64_t ln1_g, ln1_b, mix, ln2_g, ln2_b, w1, b1, w2, b2;
} ref_block;

/* The mixer of cfg on x (S, n, D) -> y; dy -> dx and the mixer's gradients
 * dw (its slot of the flat gradient) when dy is not NULL (then y unused). */
static myo_status ref_mixer(const myo_model_config *cfg, int64_t S, const double *w,
                            const double *x, double *y, const double *dy, double *dx, double *dw)
{
    const int64_t D = cfg->d_model, DD = D * D;
    const myo_qkvo_weights_f64 q = {w, w + DD, w + 2 * DD, w + 3 * DD};
    const myo_qkvo_grads_f64 dq = {dw, dw + DD, dw + 2 * DD, dw + 3 * DD};
    switch (cfg->mixer) {
    case MYO_MIXER_MYOSOTIS: {
        const myo_layer_config lc = {D, cfg->heads, cfg->direction};
        return dy ? myo_layer_backward_ref(cfg->tree, &lc, &q, S, x, dy, dx, &dq)
                  : myo_layer_forward_ref(cfg->tree, &lc, &q, S, x, y);
    }
    case MYO_MIXER_DENSE_TILED:
    case MYO_MIXER_DENSE_MATERIALIZED: {
        const myo_attention_config ac = {.d_model = D, .heads = cfg->heads};
        return dy ? myo_attention_backward_ref(&ac, cfg->n, S, &q, x, dy, dx, &dq)
                  : myo_attention_forward_ref(&ac, cfg->n, S, &q, x, y);
    }
    case MYO_MIXER_SSM: {
        const myo_ssm_config sc = {.d_model = D};
        return dy ? myo_ssm_backward_ref(&sc, cfg->n, S, w, x, dy, dx, dw)
                  : myo_ssm_forward_ref(&sc, cfg->n, S, w, x, y);
    }
    }
    return myo_fail(MYO_ERR_ARG, "myo_model_loss_ref: unknown mixer");
}

/* a += b, count values. */
static void ref_add(int64_t count, const double *b, double *a)
{
    for (int64_t i = 0; i < count; i++)
        a[i] += b[i];
}

myo_status myo_model_loss_ref(const myo_model_config *cfg, const double *params, int64_t batch,
                              const int32_t *tokens, const int32_t *labels, double smoothing,
                              double rate, uint64_t seed, double *loss, int64_t *correct,
                              double *grads)
{
    MYO_CHECK(myo_model_config_check(cfg));
    if (!params || !tokens || batch < 1 || (grads && !labels) || !(rate >= 0 && rate < 1) ||
        !(smoothing >= 0 && smoothing < 1))
        return myo_fail(MYO_ERR_ARG, "myo_model_loss_ref: params, tokens, batch >= 1, labels "
                                     "for grads, rate and smoothing in [0, 1) required");
    if (cfg->mixer == MYO_MIXER_MYOSOTIS && !cfg->tree)
        return myo_fail(MYO_ERR_ARG, "myo_model_loss_ref: Myosotis needs cfg->tree");
    const int64_t n = cfg->n, D = cfg->d_model, F = cfg->mlp_dim, L = cfg->layers;
    const int64_t C = cfg->classes, V = cfg->vocab, K = cfg->dual ? F : D;
    const int64_t S = (cfg->dual ? 2 : 1) * batch, R = S * n, RD = R * D;
    int64_t mc = 4 * D * D;
    if (cfg->mixer == MYO_MIXER_SSM) {
        myo_ssm_layout sl;
        MYO_CHECK(myo_ssm_layout_of(&(myo_ssm_config){.d_model = D}, &sl));
        mc = sl.count;
    }
    /* The layout: E, P; per block ln1 g b, the mixer, ln2 g b, W1 b1 W2 b2;
     * lnf g b; dual Wh bh; Wc bc. */
    ref_block *blk = myo_alloc((size_t)L, sizeof *blk, "the reference model's blocks");
    /* xs (L + 1, R, D): the stream entering each block and the last; a1, xm,
     * a2 (L, R, D): LN1's output, the stream after the mixer, LN2's
     * output; y, t, g, d (R, D); u, du (S, D). */
    double *xs = myo_alloc((size_t)((4 * L + 5) * RD + 2 * S * D), sizeof(double),
                           "the reference model's activations");
    if (!blk || !xs) {
        free(blk), free(xs);
        return MYO_ERR_NOMEM;
    }
    double *a1 = xs + (L + 1) * RD, *xm = a1 + L * RD, *a2 = xm + L * RD, *y = a2 + L * RD;
    double *t = y + RD, *g = t + RD, *d = g + RD, *u = d + RD, *du = u + S * D;
    const int64_t emb = 0, pos = V * D;
    int64_t off = pos + n * D;
    for (int64_t l = 0; l < L; l++) {
        ref_block *b = &blk[l];
        b->ln1_g = off, b->ln1_b = off + D, b->mix = off + 2 * D;
        b->ln2_g = b->mix + mc, b->ln2_b = b->ln2_g + D, b->w1 = b->ln2_b + D;
        b->b1 = b->w1 + D * F, b->w2 = b->b1 + F, b->b2 = b->w2 + F * D;
        off = b->b2 + D;
    }
    const int64_t lnf_g = off, lnf_b = off + D, wh = off + 2 * D, bh = wh + 4 * D * F;
    const int64_t wc = cfg->dual ? bh + F : off + 2 * D, bc = wc + K * C;
    const double *p = params;
    const myo_model_head_f64 hd = {
        D,      F,      C,        cfg->dual, cfg->dual ? p + wh : NULL, cfg->dual ? p + bh : NULL,
        p + wc, p + bc, smoothing};
#define KEY(site, layer) myo_model_dropout_key(seed, (site), (layer))
    myo_status s = MYO_OK;
    /* forward */
    myo_model_embed_forward_ref(S, n, D, tokens, p + emb, p + pos, y);
    myo_model_dropout_ref(R, D, rate, KEY(MYO_DROP_EMBED, 0), y, xs);
    for (int64_t l = 0; l < L && s == MYO_OK; l++) {
        const ref_block *b = &blk[l];
        double *x = xs + l * RD, *al = a1 + l * RD, *ml = xm + l * RD, *bl = a2 + l * RD;
        myo_model_ln_forward_ref(R, D, x, p + b->ln1_g, p + b->ln1_b, al);
        s = ref_mixer(cfg, S, p + b->mix, al, y, NULL, NULL, NULL);
        if (s != MYO_OK) break;
        myo_model_dropout_ref(R, D, rate, KEY(MYO_DROP_MIXER, l), y, y);
        for (int64_t i = 0; i < RD; i++)
            ml[i] = x[i] + y[i];
        myo_model_ln_forward_ref(R, D, ml, p + b->ln2_g, p + b->ln2_b, bl);
        s = myo_model_mlp_forward_ref(R, D, F, bl, p + b->w1, p + b->b1, p + b->w2, p + b->b2, y);
        if (s != MYO_OK) break;
        myo_model_dropout_ref(R, D, rate, KEY(MYO_DROP_MLP, l), y, y);
        for (int64_t i = 0; i < RD; i++)
            x[RD + i] = ml[i] + y[i];
    }
    const double *xL = xs + L * RD;
    if (s == MYO_OK) {
        myo_model_ln_forward_ref(R, D, xL, p + lnf_g, p + lnf_b, y);
        myo_model_pool_forward_ref(S, n, D, y, u);
        s = myo_model_head_forward_ref(&hd, batch, u, labels, NULL, loss, correct);
    }
    /* backward: g is the stream's gradient, y a branch's output gradient */
    if (s == MYO_OK && grads) {
        double *gr = grads;
        s = myo_model_head_backward_ref(&hd, batch, u, labels, du, cfg->dual ? gr + wh : NULL,
                                        cfg->dual ? gr + bh : NULL, gr + wc, gr + bc);
        myo_model_pool_backward_ref(S, n, D, du, y);
        myo_model_ln_backward_ref(R, D, xL, p + lnf_g, y, g, gr + lnf_g, gr + lnf_b);
        for (int64_t l = L - 1; l >= 0 && s == MYO_OK; l--) {
            const ref_block *b = &blk[l];
            myo_model_dropout_ref(R, D, rate, KEY(MYO_DROP_MLP, l), g, y);
            s = myo_model_mlp_backward_ref(R, D, F, a2 + l * RD, p + b->w1, p + b->b1, p + b->w2, y,
                                           d, gr + b->w1, gr + b->b1, gr + b->w2, gr + b->b2);
            if (s != MYO_OK) break;
            myo_model_ln_backward_ref(R, D, xm + l * RD, p + b->ln2_g, d, t, gr + b->ln2_g,
                                      gr + b->ln2_b);
            ref_add(RD, t, g);
            myo_model_dropout_ref(R, D, rate, KEY(MYO_DROP_MIXER, l), g, y);
            s = ref_mixer(cfg, S, p + b->mix, a1 + l * RD, NULL, y, d, gr + b->mix);
            if (s != MYO_OK) break;
            myo_model_ln_backward_ref(R, D, xs + l * RD, p + b->ln1_g, d, t, gr + b->ln1_g,
                                      gr + b->ln1_b);
            ref_add(RD, t, g);
        }
        if (s == MYO_OK) {
            myo_model_dropout_ref(R, D, rate, KEY(MYO_DROP_EMBED, 0), g, g);
            myo_model_embed_backward_ref(S, n, D, V, tokens, g, gr + emb, gr + pos);
        }
    }
#undef KEY
    free(blk), free(xs);
    return s;
}
