/* model.c -- the LRA encoder classifier (myosotis_model.h) in float32:
 * embedding, L pre-norm blocks around any of the suite's mixers, final
 * LayerNorm, mean pooling and the (single or dual) classifier, forward,
 * backward to every parameter, and AdamW.
 *
 * Letters as in myosotis_model.h: B examples, S sequences (B, or 2 B when
 * dual: example b's documents are sequences 2 b and 2 b + 1), n tokens,
 * D d_model, H heads, F mlp_dim, L layers, C classes, V vocabulary;
 * rows = S n.  Every dense product runs through OpenBLAS sgemm on all the
 * batch's rows at once.
 *
 * Parameters live in one flat float vector (the gradients and Adam's two
 * moments in three more of the same layout), tensor after tensor:
 *     emb (V, D), pos (n, D),
 *     per layer: ln1.g, ln1.b (D); the mixer's weights -- Wq, Wk, Wv, Wo
 *         (D, D) each for Myosotis and attention, or the SSM's flat array
 *         (myosotis_ssm.h, its nine tensors in its order); ln2.g, ln2.b (D);
 *         mlp.w1 (D, F), mlp.b1 (F), mlp.w2 (F, D), mlp.b2 (D),
 *     lnf.g, lnf.b (D),
 *     head: dual: wh (4D, F), bh (F); then wc (K, C), bc (C), K = dual ? F : D.
 * Initialisation (deterministic from the seed, one myo_rng stream in that
 * order): emb normal(0, 1) (LRA's nn.Embed init), pos normal(0, 0.02),
 * every dense weight Xavier-uniform U(+-sqrt(6 / (fan_in + fan_out))),
 * biases 0, LayerNorm gains 1 and biases 0, the SSM's own init (Mamba's,
 * myo_ssm_params_init_f32).
 * AdamW decays every weight matrix and the embeddings, and nothing else:
 * not the LayerNorm gains and biases, not the biases (mlp, head, the SSM's
 * conv_b and dt_bias), not the SSM's a_log and d_skip (Mamba's
 * _no_weight_decay).
 *
 * What forward keeps for backward, per layer: xhat and rstd of both
 * LayerNorms ((rows, D), (rows,)), the MLP's pre-activation (rows, F),
 * and the mixer's own cache in its work object; then xhat, rstd of the
 * final LayerNorm, the pooled u (S, D) and the head's cache.  Backward
 * recomputes the LayerNorm outputs (g xhat + b) and the MLP's gelu.
 *
 * Dropout (myo_model_set_dropout) keeps nothing either: its masks are a
 * hash of (seed, site, layer, row, column) (model_ref.h), so backward
 * regenerates them; it runs the branches' output gradients Drop(g)
 * through y, free in backward.  At rate 0 no pass of it runs at all.
 *
 * The attention and SSM work objects run a fixed number of sequences:
 * they are created for max_batch examples, and a smaller batch runs them
 * on zero rows beyond its own (exact: those rows' output gradients are 0,
 * so they add nothing to the weight gradients; only their time is
 * wasted).  The Myosotis work takes any batch up to its maximum.
 *
 * Per-example trees (myo_model_set_trees, ListOps' parse trees): example
 * b's token i (document-major when dual: sequence s = docs b + doc) is
 * node s n + i of ONE forest over the S n tokens of the batch, its parent
 * s n + parents[s][i].  The (S, n, D) activations are exactly the (S n,
 * D) rows of one sequence, and a forest couples no two of its trees, so
 * each Myosotis layer runs once as a batch of 1 sequence of S n tokens on
 * that forest (its workspace tw, made for it) and computes what S
 * separate sequences on their own trees would. */
#include <config.h>

#include "core/core.h"
#include "core/mathfn.h"
#include "model_ref.h"
#include "myosotis_model.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t ln1_g, ln1_b, mix, ln2_g, ln2_b, w1, b1, w2, b2; /* offsets in the flat vector */
    myo_layer_work *lw; /* Myosotis on cfg.tree (NULL when cfg.tree is) */
    myo_layer_work *tw; /* Myosotis on the per-example forest (myo_model_set_trees) */
    myo_attention_work *aw;
    myo_ssm_work *sw;
    float *xhat1, *xhat2, *rstd1, *rstd2, *hpre; /* kept by forward */
} model_layer;

struct myo_model {
    myo_model_config cfg;
    int64_t max_batch, S_max, n, D, F, L, C, V, R_max; /* R_max = S_max n rows */
    int64_t num_params;
    myo_model_tensor *tensors;
    int64_t num_tensors, cap_tensors;
    int64_t emb, pos, lnf_g, lnf_b, wh, bh, wc, bc; /* offsets */
    myo_ssm_config ssm_cfg;
    myo_attention_config attn_cfg;
    myo_layer_config layer_cfg;
    model_layer *layers;
    void *block; /* one allocation holding every array below */
    size_t block_bytes;
    float *params, *grads, *mom1, *mom2;                               /* (num_params,) each */
    float *x, *a, *y, *g, *da;                                         /* (R_max, D) */
    float *act;                                                        /* (R_max, F) */
    float *xhatf, *rstdf;                                              /* (R_max, D), (R_max,) */
    float *u, *du;                                                     /* (S_max, D) */
    float *z, *hc_pre, *hc_act, *logits, *probs, *dlogits, *dact, *dz; /* the head's */
    double *acc;                                                       /* max(4D, F, C) */
    int32_t *tokens, *labels;                                          /* of the last forward */
    int64_t batch;  /* of the last successful forward; 0 when none */
    int has_labels; /* whether it had labels */
    int have_grads; /* a backward ran since the parameters were made */
    int64_t step;   /* AdamW steps taken */
    /* regularisers: as set (myo_model_set_label_smoothing, _set_dropout),
     * and as the last forward ran them (what backward differentiates) */
    double smoothing, drop_rate;
    uint64_t drop_seed;
    double run_smoothing, run_rate;
    uint64_t run_seed;
    myo_model_times times;
    /* per-example trees (myo_model_set_trees): the forest over S n tokens
     * of trees_batch examples, and a copy of their parents (S_max n,
     * allocated at the first call) to skip rebuilding an identical forest */
    myo_tree *forest;
    int64_t trees_batch; /* 0: none set (cfg.tree serves) */
    int32_t *trees_parents;
};

/* ============================================================== kernels */

/* c (m, k2) = a (m, k) op(b) + beta c: op(b) = b (k, k2), or b^T for b (k2, k). */
static void gemm_nn(int64_t m, int64_t k2, int64_t k, const float *a, const float *b, int trans_b,
                    float beta, float *c)
{
    if (m < 1 || k2 < 1) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)k2,
                (int)k, 1.0f, a, (int)k, b, trans_b ? (int)k : (int)k2, beta, c, (int)k2);
}

/* dw (k, k2) = a^T b: a (rows, k), b (rows, k2); 0 for rows < 1. */
static void gemm_tn(int64_t rows, int64_t k, int64_t k2, const float *a, const float *b, float *dw)
{
    if (rows < 1) {
        memset(dw, 0, (size_t)(k * k2) * sizeof(float));
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)k2, (int)rows, 1.0f, a,
                (int)k, b, (int)k2, 0.0f, dw, (int)k2);
}

/* y (rows, k) += bias (k,) on every row. */
static void add_bias(int64_t rows, int64_t k, const float *bias, float *y)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < k; j++)
            y[r * k + j] += bias[j];
}

/* db (k,) = the column sums of dy (rows, k), summed in double in acc (k,). */
static void col_sums(int64_t rows, int64_t k, const float *dy, float *db, double *acc)
{
    for (int64_t j = 0; j < k; j++)
        acc[j] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < k; j++)
            acc[j] += dy[r * k + j];
    for (int64_t j = 0; j < k; j++)
        db[j] = (float)acc[j];
}

/* y (rows, D) (+)= keep .* x / (1 - rate), keep = key's mask on rows
 * from 0: forward's map on a site's values and backward's on their
 * gradient (the mask regenerated from the hash, nothing stored).  The
 * factor is looked up (0 or 1 / (1 - rate)), not branched on: a random
 * mask mispredicts a branch (-O2 here: 8 ns an entry at rate 0.5, 1.2
 * looked up). */
void myo_model_dropout_f32(int64_t rows, int64_t D, double rate, uint64_t key, const float *x,
                           float *y, int accumulate)
{
    const uint64_t cut = myo_model_dropout_cut(rate);
    const float factor[2] = {0.0f, (float)(1.0 / (1.0 - rate))};
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        if (accumulate)
            for (int64_t j = 0; j < D; j++)
                yr[j] += xr[j] * factor[myo_model_dropout_keep(key, r, j, cut)];
        else
            for (int64_t j = 0; j < D; j++)
                yr[j] = xr[j] * factor[myo_model_dropout_keep(key, r, j, cut)];
    }
}

float myo_model_gelu_f32(float x, float *dgelu)
{
    /* tanh(y) = (1 - e) / (1 + e) with e = e^{-2|y|} <= 1, signed as y: no
     * overflow; x clamped to +-10 inside tanh and the derivative, where
     * tanh is +-1 in float and x^3 stays finite. */
    const float c = 0.7978845608028654f, k = 0.044715f;
    float xc = x > 10.0f ? 10.0f : (x < -10.0f ? -10.0f : x);
    float yy = c * (xc + k * xc * xc * xc);
    float e = myo_exp_nonposf(-2.0f * fabsf(yy)), t = (1.0f - e) / (1.0f + e);
    t = myo_select_negf(yy, -t, t);
    if (dgelu)
        *dgelu = 0.5f * (1.0f + t) + 0.5f * xc * (1.0f - t * t) * c * (1.0f + 3.0f * k * xc * xc);
    return 0.5f * x * (1.0f + t);
}

/* y (rows, D) = g (D,) .* xhat (rows, D) + b (D,): forward's output, and
 * backward's recomputation of it (the same code, so the same floats). */
static void ln_apply(int64_t rows, int64_t D, const float *xhat, const float *g, const float *b,
                     float *y)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < D; j++)
            y[r * D + j] = g[j] * xhat[r * D + j] + b[j];
}

/* x (rows, D) -> xhat (rows, D), rstd (rows,), y (rows, D); mean and
 * variance (two passes) summed in double. */
void myo_model_ln_forward_f32(int64_t rows, int64_t D, const float *x, const float *g,
                              const float *b, float *xhat, float *rstd, float *y)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        double s = 0, v = 0;
        for (int64_t j = 0; j < D; j++)
            s += xr[j];
        const double mu = s / (double)D;
        for (int64_t j = 0; j < D; j++)
            v += ((double)xr[j] - mu) * ((double)xr[j] - mu);
        const float rs = (float)(1.0 / sqrt(v / (double)D + MYO_MODEL_LN_EPS)), muf = (float)mu;
        for (int64_t j = 0; j < D; j++)
            xhat[r * D + j] = (xr[j] - muf) * rs;
        rstd[r] = rs;
    }
    ln_apply(rows, D, xhat, g, b, y);
}

/* dy (rows, D), xhat (rows, D), rstd (rows,), g (D,) ->
 *     dxhat = dy .* g,  dx += rstd (dxhat - mean(dxhat) - xhat mean(dxhat .* xhat))
 *     dg = sum over rows of dy .* xhat,  db = sum over rows of dy   (in acc (2D,)) */
void myo_model_ln_backward_f32(int64_t rows, int64_t D, const float *xhat, const float *rstd,
                               const float *g, const float *dy, float *dx, float *dg, float *db,
                               double *acc)
{
    double *ag = acc, *ab = acc + D;
    for (int64_t j = 0; j < D; j++)
        ag[j] = ab[j] = 0;
    const float invD = 1.0f / (float)D;
    for (int64_t r = 0; r < rows; r++) {
        const float *xh = xhat + r * D, *dyr = dy + r * D;
        float *dxr = dx + r * D;
        float s1 = 0, s2 = 0;
        for (int64_t j = 0; j < D; j++) {
            float dxh = dyr[j] * g[j];
            s1 += dxh, s2 += dxh * xh[j];
            ag[j] += (double)(dyr[j] * xh[j]);
            ab[j] += dyr[j];
        }
        s1 *= invD, s2 *= invD;
        const float rs = rstd[r];
        for (int64_t j = 0; j < D; j++)
            dxr[j] += rs * (dyr[j] * g[j] - s1 - xh[j] * s2);
    }
    for (int64_t j = 0; j < D; j++)
        dg[j] = (float)ag[j], db[j] = (float)ab[j];
}

/* x (rows, D) -> hpre (rows, F) = x W1 + b1, act = gelu(hpre) (rows, F),
 * y (rows, D) += act W2 + b2. */
void myo_model_mlp_forward_f32(int64_t rows, int64_t D, int64_t F, const float *x, const float *w1,
                               const float *b1, const float *w2, const float *b2, float *hpre,
                               float *act, float *y)
{
    gemm_nn(rows, F, D, x, w1, 0, 0.0f, hpre);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < F; j++) {
            float h = hpre[r * F + j] + b1[j];
            hpre[r * F + j] = h;
            act[r * F + j] = myo_model_gelu_f32(h, NULL);
        }
    gemm_nn(rows, D, F, act, w2, 0, 1.0f, y);
    add_bias(rows, D, b2, y);
}

/* From dy (rows, D), x (rows, D), hpre (rows, F):
 *     act = gelu(hpre);  dW2 (F, D) = act^T dy;  db2 = colsum(dy)
 *     dh (rows, F) = (dy W2^T) .* gelu'(hpre)   (in act's storage)
 *     dW1 (D, F) = x^T dh;  db1 = colsum(dh);  dx (rows, D) = dh W1^T */
void myo_model_mlp_backward_f32(int64_t rows, int64_t D, int64_t F, const float *x,
                                const float *hpre, const float *w1, const float *w2,
                                const float *dy, float *act, float *dx, float *dw1, float *db1,
                                float *dw2, float *db2, double *acc)
{
    for (int64_t i = 0; i < rows * F; i++)
        act[i] = myo_model_gelu_f32(hpre[i], NULL);
    gemm_tn(rows, F, D, act, dy, dw2);
    col_sums(rows, D, dy, db2, acc);
    gemm_nn(rows, F, D, dy, w2, 1, 0.0f, act); /* dact = dy W2^T */
    for (int64_t i = 0; i < rows * F; i++) {
        float dg;
        (void)myo_model_gelu_f32(hpre[i], &dg);
        act[i] *= dg;
    }
    gemm_tn(rows, D, F, x, act, dw1);
    col_sums(rows, F, act, db1, acc);
    gemm_nn(rows, D, F, act, w1, 1, 0.0f, dx);
}

/* x (S, n, D) -> u (S, D) = the mean over each sequence's n rows. */
void myo_model_pool_forward_f32(int64_t S, int64_t n, int64_t D, const float *x, float *u,
                                double *acc)
{
    for (int64_t s = 0; s < S; s++) {
        for (int64_t j = 0; j < D; j++)
            acc[j] = 0;
        for (int64_t t = 0; t < n; t++)
            for (int64_t j = 0; j < D; j++)
                acc[j] += x[(s * n + t) * D + j];
        for (int64_t j = 0; j < D; j++)
            u[s * D + j] = (float)(acc[j] / (double)n);
    }
}

/* du (S, D) -> dx (S, n, D) = du / n on every row. */
void myo_model_pool_backward_f32(int64_t S, int64_t n, int64_t D, const float *du, float *dx)
{
    const float inv = (float)(1.0 / (double)n);
    for (int64_t s = 0; s < S; s++)
        for (int64_t t = 0; t < n; t++)
            for (int64_t j = 0; j < D; j++)
                dx[(s * n + t) * D + j] = du[s * D + j] * inv;
}

/* tokens (S, n), emb (V, D), pos (n, D) -> x (S, n, D) = emb[token] + pos[t]. */
void myo_model_embed_forward_f32(int64_t S, int64_t n, int64_t D, const int32_t *tokens,
                                 const float *emb, const float *pos, float *x)
{
    for (int64_t s = 0; s < S; s++)
        for (int64_t t = 0; t < n; t++) {
            const float *e = emb + (int64_t)tokens[s * n + t] * D, *p = pos + t * D;
            float *xr = x + (s * n + t) * D;
            for (int64_t j = 0; j < D; j++)
                xr[j] = e[j] + p[j];
        }
}

/* dx (S, n, D) -> demb (V, D) = scatter-add of the rows by token, dpos
 * (n, D) = the sum over sequences. */
void myo_model_embed_backward_f32(int64_t S, int64_t n, int64_t D, int64_t V, const int32_t *tokens,
                                  const float *dx, float *demb, float *dpos)
{
    memset(demb, 0, (size_t)(V * D) * sizeof(float));
    memset(dpos, 0, (size_t)(n * D) * sizeof(float));
    for (int64_t s = 0; s < S; s++)
        for (int64_t t = 0; t < n; t++) {
            const float *dr = dx + (s * n + t) * D;
            float *e = demb + (int64_t)tokens[s * n + t] * D, *p = dpos + t * D;
            for (int64_t j = 0; j < D; j++)
                e[j] += dr[j], p[j] += dr[j];
        }
}

/* u (S, D) -> z (B, 4D) = [u1, u2, u1 .* u2, u1 - u2], u1 = u[2b], u2 = u[2b+1]. */
static void head_pairs(int64_t B, int64_t D, const float *u, float *z)
{
    for (int64_t b = 0; b < B; b++) {
        const float *u1 = u + 2 * b * D, *u2 = u1 + D;
        float *zb = z + b * 4 * D;
        for (int64_t j = 0; j < D; j++) {
            zb[j] = u1[j], zb[D + j] = u2[j];
            zb[2 * D + j] = u1[j] * u2[j], zb[3 * D + j] = u1[j] - u2[j];
        }
    }
}

/* u (S, D) -> [dual: z, hpre = z Wh + bh, act = gelu(hpre)] -> logits (B, C)
 * = in Wc + bc -> probs = softmax(logits); loss = mean(lse - (1 - eps)
 * logit[label] - eps mean(logits)), eps = hd->smoothing (its mean pass
 * only when eps > 0). */
double myo_model_head_forward_f32(const myo_model_head_f32 *hd, int64_t B, const float *u,
                                  const int32_t *labels, const myo_model_head_cache *c,
                                  int64_t *correct)
{
    const int64_t D = hd->D, F = hd->F, C = hd->C;
    const float *in = u;
    int64_t K = D;
    if (hd->dual) {
        head_pairs(B, D, u, c->z);
        gemm_nn(B, F, 4 * D, c->z, hd->wh, 0, 0.0f, c->hpre);
        add_bias(B, F, hd->bh, c->hpre);
        for (int64_t i = 0; i < B * F; i++)
            c->act[i] = myo_model_gelu_f32(c->hpre[i], NULL);
        in = c->act, K = F;
    }
    gemm_nn(B, C, K, in, hd->wc, 0, 0.0f, c->logits);
    add_bias(B, C, hd->bc, c->logits);
    double loss = 0;
    int64_t right = 0;
    for (int64_t b = 0; b < B; b++) {
        const float *lg = c->logits + b * C;
        int64_t arg = 0;
        for (int64_t j = 1; j < C; j++)
            if (lg[j] > lg[arg]) arg = j;
        double mx = lg[arg], sum = 0;
        for (int64_t j = 0; j < C; j++)
            sum += exp((double)lg[j] - mx);
        for (int64_t j = 0; j < C; j++)
            c->probs[b * C + j] = (float)(exp((double)lg[j] - mx) / sum);
        if (labels) {
            loss += mx + log(sum) - (double)lg[labels[b]];
            if (hd->smoothing > 0) {
                double mean = 0;
                for (int64_t j = 0; j < C; j++)
                    mean += lg[j];
                mean /= (double)C;
                loss += hd->smoothing * ((double)lg[labels[b]] - mean);
            }
            right += arg == labels[b];
        }
    }
    if (correct) *correct = right;
    return labels ? loss / (double)B : 0.0;
}

/* dlogits (B, C) = (probs - t) / B, t = (1 - eps) onehot(label) + eps / C
 * (eps 0: exactly 1 and 0);  dWc (K, C) = in^T dlogits;
 * dbc = colsum;  din (B, K) = dlogits Wc^T;  dual: dh = din .* gelu'(hpre),
 * dWh (4D, F) = z^T dh, dbh = colsum(dh), dz (B, 4D) = dh Wh^T,
 * du1 = dz0 + dz2 .* u2 + dz3,  du2 = dz1 + dz2 .* u1 - dz3. */
void myo_model_head_backward_f32(const myo_model_head_f32 *hd, int64_t B, const float *u,
                                 const int32_t *labels, const myo_model_head_cache *c, float *du,
                                 float *dwh, float *dbh, float *dwc, float *dbc, float *dlogits,
                                 float *dact, float *dz, double *acc)
{
    const int64_t D = hd->D, F = hd->F, C = hd->C;
    const float invB = (float)(1.0 / (double)B);
    const double eps = hd->smoothing;
    const float on = (float)(1.0 - eps + eps / (double)C), off = (float)(eps / (double)C);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < C; j++)
            dlogits[b * C + j] = (c->probs[b * C + j] - (j == labels[b] ? on : off)) * invB;
    col_sums(B, C, dlogits, dbc, acc);
    if (!hd->dual) {
        gemm_tn(B, D, C, u, dlogits, dwc);
        gemm_nn(B, D, C, dlogits, hd->wc, 1, 0.0f, du);
        return;
    }
    gemm_tn(B, F, C, c->act, dlogits, dwc);
    gemm_nn(B, F, C, dlogits, hd->wc, 1, 0.0f, dact);
    for (int64_t i = 0; i < B * F; i++) {
        float dg;
        (void)myo_model_gelu_f32(c->hpre[i], &dg);
        dact[i] *= dg;
    }
    gemm_tn(B, 4 * D, F, c->z, dact, dwh);
    col_sums(B, F, dact, dbh, acc);
    gemm_nn(B, 4 * D, F, dact, hd->wh, 1, 0.0f, dz);
    for (int64_t b = 0; b < B; b++) {
        const float *u1 = u + 2 * b * D, *u2 = u1 + D, *zb = dz + b * 4 * D;
        float *d1 = du + 2 * b * D, *d2 = d1 + D;
        for (int64_t j = 0; j < D; j++) {
            d1[j] = zb[j] + zb[2 * D + j] * u2[j] + zb[3 * D + j];
            d2[j] = zb[D + j] + zb[2 * D + j] * u1[j] - zb[3 * D + j];
        }
    }
}

/* ======================================================= configuration */

static int needs_heads(myo_mixer_kind k)
{
    return k == MYO_MIXER_MYOSOTIS || k == MYO_MIXER_DENSE_TILED ||
           k == MYO_MIXER_DENSE_MATERIALIZED;
}

myo_status myo_model_config_check(const myo_model_config *cfg)
{
    if (!cfg) return myo_fail(MYO_ERR_ARG, "myo_model: the configuration is NULL");
    /* Ids and labels are int32; every dimension of a product must fit BLAS's int. */
    const int64_t lim = INT_MAX / 4;
    struct {
        const char *name;
        int64_t v, min, max;
        const char *why; /* of max */
    } f[] = {{"vocab", cfg->vocab, 2, INT32_MAX, "token ids are int32"},
             {"n", cfg->n, 1, lim, "products must fit BLAS's int"},
             {"d_model", cfg->d_model, 1, lim, "products must fit BLAS's int"},
             {"heads", cfg->heads, 1, INT64_MAX, ""},
             {"mlp_dim", cfg->mlp_dim, 1, lim, "products must fit BLAS's int"},
             {"layers", cfg->layers, 1, lim, "products must fit BLAS's int"},
             {"classes", cfg->classes, 2, INT32_MAX, "labels are int32"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].v < f[i].min)
            return myo_fail(MYO_ERR_ARG, "myo_model: %s = %lld, need %s >= %lld", f[i].name,
                            (long long)f[i].v, f[i].name, (long long)f[i].min);
        if (f[i].v > f[i].max)
            return myo_fail(MYO_ERR_ARG, "myo_model: %s = %lld is too large (at most %lld: %s)",
                            f[i].name, (long long)f[i].v, (long long)f[i].max, f[i].why);
    }
    if (cfg->dual != 0 && cfg->dual != 1)
        return myo_fail(MYO_ERR_ARG, "myo_model: dual = %d, need 0 or 1", cfg->dual);
    if ((unsigned)cfg->mixer > (unsigned)MYO_MIXER_SSM)
        return myo_fail(MYO_ERR_ARG,
                        "myo_model: mixer = %d is none of MYO_MIXER_MYOSOTIS, "
                        "MYO_MIXER_DENSE_TILED, MYO_MIXER_DENSE_MATERIALIZED, MYO_MIXER_SSM",
                        (int)cfg->mixer);
    if (needs_heads(cfg->mixer) && cfg->d_model % cfg->heads != 0)
        return myo_fail(MYO_ERR_ARG, "myo_model: d_model = %lld is not divisible by heads = %lld",
                        (long long)cfg->d_model, (long long)cfg->heads);
    if (cfg->mixer == MYO_MIXER_MYOSOTIS) {
        /* cfg->tree NULL: per-example trees, myo_model_set_trees */
        if (cfg->tree && myo_tree_num_tokens(cfg->tree) != cfg->n)
            return myo_fail(MYO_ERR_ARG, "myo_model: the tree has %lld tokens, but n = %lld",
                            (long long)myo_tree_num_tokens(cfg->tree), (long long)cfg->n);
        myo_layer_config lc = {cfg->d_model, cfg->heads, cfg->direction};
        MYO_CHECK(myo_layer_config_check(&lc));
    }
    return MYO_OK;
}

/* ======================================================= the parameters */

/* Append a tensor at offset off (count floats); NULL m: count only. */
static int add_tensor(myo_model *m, const char *name, int64_t off, int64_t count, int decay)
{
    if (m->num_tensors == m->cap_tensors) {
        int64_t cap = m->cap_tensors ? 2 * m->cap_tensors : 32;
        myo_model_tensor *t = realloc(m->tensors, (size_t)cap * sizeof *t);
        if (!t) return 0;
        m->tensors = t, m->cap_tensors = cap;
    }
    myo_model_tensor *t = &m->tensors[m->num_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = off, t->count = count, t->decay = decay;
    return 1;
}

/* Lay the tensors out in the flat vector (see the top of this file). */
static myo_status layout_params(myo_model *m, const myo_ssm_layout *sl)
{
    const int64_t V = m->V, n = m->n, D = m->D, F = m->F, C = m->C;
    int64_t off = 0, ok = 1;
    char nm[40];
#define ADD(name, cnt, dec, dst)                                                                   \
    do {                                                                                           \
        (dst) = off;                                                                               \
        ok &= add_tensor(m, (name), off, (cnt), (dec));                                            \
        off += (cnt);                                                                              \
    } while (0)
    ADD("emb", V * D, 1, m->emb);
    ADD("pos", n * D, 1, m->pos);
    for (int64_t l = 0; l < m->L; l++) {
        model_layer *ly = &m->layers[l];
        int64_t qkvo_at; /* the four follow ly->mix: their offsets are not kept */
#define NAME(s) (snprintf(nm, sizeof nm, "layer%lld.%s", (long long)l, (s)), nm)
        ADD(NAME("ln1.g"), D, 0, ly->ln1_g);
        ADD(NAME("ln1.b"), D, 0, ly->ln1_b);
        ly->mix = off;
        if (m->cfg.mixer == MYO_MIXER_SSM) {
            const int64_t Li = sl->d_inner, N = sl->d_state, K = sl->d_conv, R = sl->dt_rank,
                          P = R + 2 * N;
            const struct {
                const char *name;
                int64_t at, count;
                int decay;
            } st[] = {{"ssm.w_in", sl->w_in, D * 2 * Li, 1}, {"ssm.conv_w", sl->conv_w, Li * K, 1},
                      {"ssm.conv_b", sl->conv_b, Li, 0},     {"ssm.w_x", sl->w_x, Li * P, 1},
                      {"ssm.w_dt", sl->w_dt, R * Li, 1},     {"ssm.dt_bias", sl->dt_bias, Li, 0},
                      {"ssm.a_log", sl->a_log, Li * N, 0},   {"ssm.d_skip", sl->d_skip, Li, 0},
                      {"ssm.w_out", sl->w_out, Li * D, 1}};
            int64_t sum = 0;
            for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
                ok &= add_tensor(m, NAME(st[i].name), off + st[i].at, st[i].count, st[i].decay);
                sum += st[i].count;
            }
            if (sum != sl->count)
                return myo_fail(MYO_ERR_ARG,
                                "myo_model: the SSM layout's %lld values are not "
                                "its nine tensors' %lld",
                                (long long)sl->count, (long long)sum);
            off += sl->count;
        } else {
            ADD(NAME("mix.wq"), D * D, 1, qkvo_at);
            ADD(NAME("mix.wk"), D * D, 1, qkvo_at);
            ADD(NAME("mix.wv"), D * D, 1, qkvo_at);
            ADD(NAME("mix.wo"), D * D, 1, qkvo_at);
        }
        (void)qkvo_at;
        ADD(NAME("ln2.g"), D, 0, ly->ln2_g);
        ADD(NAME("ln2.b"), D, 0, ly->ln2_b);
        ADD(NAME("mlp.w1"), D * F, 1, ly->w1);
        ADD(NAME("mlp.b1"), F, 0, ly->b1);
        ADD(NAME("mlp.w2"), F * D, 1, ly->w2);
        ADD(NAME("mlp.b2"), D, 0, ly->b2);
#undef NAME
    }
    ADD("lnf.g", D, 0, m->lnf_g);
    ADD("lnf.b", D, 0, m->lnf_b);
    m->wh = m->bh = -1;
    if (m->cfg.dual) {
        ADD("head.wh", 4 * D * F, 1, m->wh);
        ADD("head.bh", F, 0, m->bh);
    }
    ADD("head.wc", (m->cfg.dual ? F : D) * C, 1, m->wc);
    ADD("head.bc", C, 0, m->bc);
#undef ADD
    if (!ok) return myo_fail(MYO_ERR_NOMEM, "myo_model_create: cannot allocate the tensor table");
    m->num_params = off;
    return MYO_OK;
}

/* A standard normal from two uniforms (Box-Muller; the second is dropped). */
static double normal01(myo_rng *r)
{
    double u1 = 1.0 - myo_rng_uniform(r, 0.0, 1.0), u2 = myo_rng_uniform(r, 0.0, 1.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void fill_normal(float *p, int64_t count, double sd, myo_rng *r)
{
    for (int64_t i = 0; i < count; i++)
        p[i] = (float)(sd * normal01(r));
}

/* p (fan_in, fan_out) ~ U(+-sqrt(6 / (fan_in + fan_out))). */
static void fill_xavier(float *p, int64_t fan_in, int64_t fan_out, myo_rng *r)
{
    const double a = sqrt(6.0 / (double)(fan_in + fan_out));
    for (int64_t i = 0; i < fan_in * fan_out; i++)
        p[i] = (float)myo_rng_uniform(r, -a, a);
}

static void fill_const(float *p, int64_t count, float v)
{
    for (int64_t i = 0; i < count; i++)
        p[i] = v;
}

static myo_status init_params(myo_model *m, uint64_t seed)
{
    const int64_t D = m->D, F = m->F, C = m->C;
    myo_rng r = myo_rng_seed(seed);
    float *p = m->params;
    fill_normal(p + m->emb, m->V * D, 1.0, &r);
    fill_normal(p + m->pos, m->n * D, 0.02, &r);
    for (int64_t l = 0; l < m->L; l++) {
        const model_layer *ly = &m->layers[l];
        fill_const(p + ly->ln1_g, D, 1.0f), fill_const(p + ly->ln1_b, D, 0.0f);
        if (m->cfg.mixer == MYO_MIXER_SSM)
            MYO_CHECK(myo_ssm_params_init_f32(&m->ssm_cfg, &r, p + ly->mix));
        else
            for (int j = 0; j < 4; j++)
                fill_xavier(p + ly->mix + j * D * D, D, D, &r);
        fill_const(p + ly->ln2_g, D, 1.0f), fill_const(p + ly->ln2_b, D, 0.0f);
        fill_xavier(p + ly->w1, D, F, &r), fill_const(p + ly->b1, F, 0.0f);
        fill_xavier(p + ly->w2, F, D, &r), fill_const(p + ly->b2, D, 0.0f);
    }
    fill_const(p + m->lnf_g, D, 1.0f), fill_const(p + m->lnf_b, D, 0.0f);
    if (m->cfg.dual) fill_xavier(p + m->wh, 4 * D, F, &r), fill_const(p + m->bh, F, 0.0f);
    const int64_t K = m->cfg.dual ? F : D;
    fill_xavier(p + m->wc, K, C, &r), fill_const(p + m->bc, C, 0.0f);
    return MYO_OK;
}

/* ========================================================= the object */

typedef struct {
    char *base;
    size_t used;
    int overflow; /* the sizes exceed size_t */
} carver;

static void *carve_bytes(carver *c, int64_t count, size_t size)
{
    size_t at = c->used;
    if ((size_t)count > (SIZE_MAX / 2 - c->used) / size - 64) {
        c->overflow = 1;
        return NULL;
    }
    c->used += ((size_t)count * size + 63) / 64 * 64;
    return c->base ? c->base + at : NULL;
}
#define CARVE(c, count) ((float *)carve_bytes((c), (count), sizeof(float)))

static void carve_all(myo_model *m, carver *c)
{
    const int64_t P = m->num_params, R = m->R_max, D = m->D, F = m->F, C = m->C;
    const int64_t S = m->S_max, B = m->max_batch;
    m->params = CARVE(c, P), m->grads = CARVE(c, P), m->mom1 = CARVE(c, P);
    m->mom2 = CARVE(c, P);
    m->x = CARVE(c, R * D), m->a = CARVE(c, R * D), m->y = CARVE(c, R * D);
    m->g = CARVE(c, R * D), m->da = CARVE(c, R * D);
    m->act = CARVE(c, R * F);
    m->xhatf = CARVE(c, R * D), m->rstdf = CARVE(c, R);
    m->u = CARVE(c, S * D), m->du = CARVE(c, S * D);
    m->z = CARVE(c, B * 4 * D), m->dz = CARVE(c, B * 4 * D);
    m->hc_pre = CARVE(c, B * F), m->hc_act = CARVE(c, B * F), m->dact = CARVE(c, B * F);
    m->logits = CARVE(c, B * C), m->probs = CARVE(c, B * C), m->dlogits = CARVE(c, B * C);
    int64_t na = 4 * D > F ? 4 * D : F;
    if (C > na) na = C;
    m->acc = carve_bytes(c, na, sizeof(double));
    m->tokens = carve_bytes(c, R, sizeof(int32_t));
    m->labels = carve_bytes(c, B, sizeof(int32_t));
    for (int64_t l = 0; l < m->L; l++) {
        model_layer *ly = &m->layers[l];
        ly->xhat1 = CARVE(c, R * D), ly->xhat2 = CARVE(c, R * D);
        ly->rstd1 = CARVE(c, R), ly->rstd2 = CARVE(c, R);
        ly->hpre = CARVE(c, R * F);
    }
}

void myo_model_destroy(myo_model **mp)
{
    if (!mp || !*mp) return;
    myo_model *m = *mp;
    if (m->layers)
        for (int64_t l = 0; l < m->L; l++) {
            myo_layer_work_destroy(&m->layers[l].lw);
            myo_layer_work_destroy(&m->layers[l].tw);
            myo_attention_work_destroy(&m->layers[l].aw);
            myo_ssm_work_destroy(&m->layers[l].sw);
        }
    free(m->layers);
    myo_tree_destroy(&m->forest);
    free(m->trees_parents);
    free(m->tensors);
    free(m->block);
    free(m);
    *mp = NULL;
}

myo_status myo_model_create(const myo_model_config *cfg, int64_t max_batch, uint64_t seed,
                            myo_model **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_model_create: out is NULL");
    *out = NULL;
    MYO_CHECK(myo_model_config_check(cfg));
    const int64_t seqs = cfg->dual ? 2 : 1;
    if (max_batch < 1 || max_batch > INT_MAX / seqs / cfg->n)
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_create: max_batch = %lld, need 1 <= max_batch and max_batch "
                        "x %lld sequences x n = %lld rows within BLAS's int",
                        (long long)max_batch, (long long)seqs, (long long)cfg->n);
    myo_model *m = calloc(1, sizeof *m);
    if (!m) return myo_fail(MYO_ERR_NOMEM, "myo_model_create: cannot allocate");
    m->cfg = *cfg;
    m->max_batch = max_batch, m->S_max = seqs * max_batch, m->n = cfg->n, m->D = cfg->d_model;
    m->F = cfg->mlp_dim, m->L = cfg->layers, m->C = cfg->classes, m->V = cfg->vocab;
    m->R_max = m->S_max * m->n;
    m->ssm_cfg = (myo_ssm_config){.d_model = m->D};
    m->attn_cfg = (myo_attention_config){.d_model = m->D, .heads = cfg->heads};
    m->layer_cfg = (myo_layer_config){m->D, cfg->heads, cfg->direction};
    myo_ssm_layout sl = {0};
    myo_status s = MYO_OK;
    if (cfg->mixer == MYO_MIXER_SSM) s = myo_ssm_layout_of(&m->ssm_cfg, &sl);
    m->layers = calloc((size_t)m->L, sizeof *m->layers);
    if (s == MYO_OK && !m->layers)
        s = myo_fail(MYO_ERR_NOMEM, "myo_model_create: cannot allocate the layers");
    if (s == MYO_OK) s = layout_params(m, &sl);
    if (s == MYO_OK) {
        carver c = {NULL, 0, 0};
        carve_all(m, &c); /* sizes only */
        m->block_bytes = c.used;
        c.base = c.overflow ? NULL : aligned_alloc(64, c.used);
        if (c.overflow)
            s = myo_fail(MYO_ERR_NOMEM,
                         "myo_model_create: the activations of max_batch = %lld "
                         "examples exceed the address space",
                         (long long)max_batch);
        else if (!c.base)
            s = myo_fail(MYO_ERR_NOMEM, "myo_model_create: cannot allocate %zu bytes", c.used);
        else {
            memset(c.base, 0, c.used);
            m->block = c.base;
            c.used = 0;
            carve_all(m, &c);
        }
    }
    for (int64_t l = 0; l < m->L && s == MYO_OK; l++) {
        model_layer *ly = &m->layers[l];
        switch (cfg->mixer) {
        case MYO_MIXER_MYOSOTIS: /* no tree: per-example trees only (myo_model_set_trees) */
            if (cfg->tree) s = myo_layer_work_create(cfg->tree, &m->layer_cfg, m->S_max, &ly->lw);
            break;
        case MYO_MIXER_DENSE_TILED:
        case MYO_MIXER_DENSE_MATERIALIZED:
            s = myo_attention_work_create(
                &m->attn_cfg,
                cfg->mixer == MYO_MIXER_DENSE_TILED ? MYO_ATTN_TILED : MYO_ATTN_MATERIALIZED, m->n,
                m->S_max, &ly->aw);
            break;
        case MYO_MIXER_SSM:
            s = myo_ssm_work_create(&m->ssm_cfg, m->n, m->S_max, &ly->sw);
            break;
        }
    }
    if (s == MYO_OK) s = init_params(m, seed);
    if (s != MYO_OK) {
        myo_model_destroy(&m);
        return s;
    }
    *out = m;
    return MYO_OK;
}

int64_t myo_model_num_params(const myo_model *m)
{
    return m ? m->num_params : 0;
}

size_t myo_model_bytes(const myo_model *m)
{
    if (!m) return 0;
    size_t b = sizeof *m + m->block_bytes + (size_t)m->L * sizeof *m->layers +
               (size_t)m->cap_tensors * sizeof *m->tensors;
    for (int64_t l = 0; l < m->L; l++)
        b += myo_layer_work_bytes(m->layers[l].lw) + myo_layer_work_bytes(m->layers[l].tw) +
             myo_attention_work_bytes(m->layers[l].aw) + myo_ssm_work_bytes(m->layers[l].sw);
    if (m->trees_parents) b += (size_t)m->R_max * sizeof(int32_t);
    if (m->forest) /* the tree's own arrays: a few int64 per node (an estimate) */
        b += (size_t)myo_tree_num_nodes(m->forest) * 8 * sizeof(int64_t);
    return b;
}

float *myo_model_params(myo_model *m)
{
    return m ? m->params : NULL;
}

float *myo_model_grads(myo_model *m)
{
    return m ? m->grads : NULL;
}

float *myo_model_adam_moment1(myo_model *m)
{
    return m ? m->mom1 : NULL;
}

float *myo_model_adam_moment2(myo_model *m)
{
    return m ? m->mom2 : NULL;
}

int64_t myo_model_adam_steps(const myo_model *m)
{
    return m ? m->step : 0;
}

myo_status myo_model_set_adam_steps(myo_model *m, int64_t steps)
{
    if (!m || steps < 0)
        return myo_fail(MYO_ERR_ARG, "myo_model_set_adam_steps: a model and steps >= 0 required");
    m->step = steps;
    return MYO_OK;
}

myo_status myo_model_set_label_smoothing(myo_model *m, double eps)
{
    if (!m || !(eps >= 0 && eps < 1))
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_set_label_smoothing: eps = %g%s; need 0 <= eps < 1 and a model",
                        eps, m ? "" : ", model NULL");
    m->smoothing = eps;
    return MYO_OK;
}

myo_status myo_model_set_dropout(myo_model *m, double rate, uint64_t seed)
{
    if (!m || !(rate >= 0 && rate < 1))
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_set_dropout: rate = %g%s; need 0 <= rate < 1 and a model", rate,
                        m ? "" : ", model NULL");
    m->drop_rate = rate, m->drop_seed = seed;
    return MYO_OK;
}

/* The Euclidean norm of the gradient vector, summed in double in one
 * fixed order (the same bits on every run); scaled in place when above
 * max_norm. */
myo_status myo_model_clip_grads(myo_model *m, double max_norm, double *norm)
{
    if (!m || !(max_norm > 0)) /* +inf: measure only */
        return myo_fail(MYO_ERR_ARG, "myo_model_clip_grads: a model and max_norm > 0 required");
    double sum = 0;
    for (int64_t i = 0; i < m->num_params; i++)
        sum += (double)m->grads[i] * (double)m->grads[i];
    const double nrm = sqrt(sum);
    if (norm) *norm = nrm;
    if (!isfinite(nrm))
        return myo_fail(MYO_ERR_DATA, "myo_model_clip_grads: the gradient norm is %g", nrm);
    if (nrm > max_norm) {
        const float scale = (float)(max_norm / nrm);
        for (int64_t i = 0; i < m->num_params; i++)
            m->grads[i] *= scale;
    }
    return MYO_OK;
}

int64_t myo_model_num_tensors(const myo_model *m)
{
    return m ? m->num_tensors : 0;
}

const myo_model_tensor *myo_model_tensor_at(const myo_model *m, int64_t i)
{
    return m && i >= 0 && i < m->num_tensors ? &m->tensors[i] : NULL;
}

void myo_model_last_times(const myo_model *m, myo_model_times *out)
{
    if (m && out) *out = m->times;
}

/* Drop the per-example forest and its workspaces (cfg.tree serves again). */
static void clear_trees(myo_model *m)
{
    for (int64_t l = 0; l < m->L; l++)
        myo_layer_work_destroy(&m->layers[l].tw);
    myo_tree_destroy(&m->forest);
    m->trees_batch = 0;
}

/* MYO_OK when every parents[s][i] of the S sequences is -1 or another
 * token of [0, n) and no sequence has a cycle; MYO_ERR_DATA naming the
 * example (and document), the position and the problem otherwise.
 * state (n,) is scratch. */
static myo_status check_parents(const myo_model *m, int64_t S, const int32_t *parents,
                                unsigned char *state)
{
    const int64_t n = m->n, seqs = m->cfg.dual ? 2 : 1;
    for (int64_t s = 0; s < S; s++) {
        const int32_t *p = parents + s * n;
        char where[64];
        if (m->cfg.dual)
            snprintf(where, sizeof where, "example %lld, document %lld", (long long)(s / seqs),
                     (long long)(s % seqs));
        else
            snprintf(where, sizeof where, "example %lld", (long long)s);
        for (int64_t i = 0; i < n; i++)
            if (p[i] < -1 || p[i] >= n || p[i] == i)
                return myo_fail(MYO_ERR_DATA,
                                "myo_model_set_trees: %s, position %lld: parent %d, need -1 (a "
                                "root) or another position in [0, %lld)",
                                where, (long long)i, (int)p[i], (long long)n);
        /* 0 unseen, 1 on the current path up, 2 known to reach a root */
        for (int64_t i = 0; i < n; i++)
            state[i] = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t j = i;
            while (j >= 0 && state[j] == 0)
                state[j] = 1, j = p[j];
            if (j >= 0 && state[j] == 1)
                return myo_fail(MYO_ERR_DATA,
                                "myo_model_set_trees: %s: the parents of position %lld form a "
                                "cycle",
                                where, (long long)j);
            for (j = i; j >= 0 && state[j] == 1; j = p[j])
                state[j] = 2;
        }
    }
    return MYO_OK;
}

myo_status myo_model_set_trees(myo_model *m, int64_t batch, const int32_t *parents)
{
    if (!m) return myo_fail(MYO_ERR_ARG, "myo_model_set_trees: the model is NULL");
    if (m->cfg.mixer != MYO_MIXER_MYOSOTIS)
        return myo_fail(MYO_ERR_ARG, "myo_model_set_trees: per-example trees need the Myosotis "
                                     "mixer (MYO_MIXER_MYOSOTIS)");
    if (!parents) {
        if (m->trees_batch) m->batch = 0; /* the last forward ran on the forest */
        clear_trees(m);
        return MYO_OK;
    }
    if (batch < 1 || batch > m->max_batch)
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_set_trees: batch = %lld, need 1 <= batch <= %lld (max_batch)",
                        (long long)batch, (long long)m->max_batch);
    const int64_t n = m->n, S = (m->cfg.dual ? 2 : 1) * batch, R = S * n;
    /* The same trees as now: nothing to build. */
    if (m->trees_batch == batch &&
        memcmp(m->trees_parents, parents, (size_t)R * sizeof(int32_t)) == 0)
        return MYO_OK;
    unsigned char *state = malloc((size_t)n);
    if (!state) return myo_fail(MYO_ERR_NOMEM, "myo_model_set_trees: cannot allocate");
    myo_status s = check_parents(m, S, parents, state);
    free(state);
    MYO_CHECK(s);
    if (!m->trees_parents) {
        m->trees_parents = malloc((size_t)m->R_max * sizeof(int32_t));
        if (!m->trees_parents)
            return myo_fail(MYO_ERR_NOMEM, "myo_model_set_trees: cannot allocate the parents");
    }
    /* The old forest goes first (lower peak memory); a failure below
     * leaves no per-example trees set. */
    m->batch = 0; /* the last forward's cache is in the workspaces dropped here */
    clear_trees(m);
    int64_t *fp = malloc((size_t)R * sizeof(int64_t));
    if (!fp) return myo_fail(MYO_ERR_NOMEM, "myo_model_set_trees: cannot allocate the forest");
    for (int64_t q = 0; q < S; q++)
        for (int64_t i = 0; i < n; i++) {
            const int32_t p = parents[q * n + i];
            fp[q * n + i] = p < 0 ? -1 : q * n + p;
        }
    s = myo_tree_create(fp, R, &m->forest);
    free(fp);
    for (int64_t l = 0; l < m->L && s == MYO_OK; l++)
        s = myo_layer_work_create(m->forest, &m->layer_cfg, 1, &m->layers[l].tw);
    if (s != MYO_OK) {
        clear_trees(m);
        return s;
    }
    memcpy(m->trees_parents, parents, (size_t)R * sizeof(int32_t));
    m->trees_batch = batch;
    return MYO_OK;
}

/* ============================================================ passes */

static myo_qkvo_weights_f32 qkvo(const myo_model *m, const model_layer *ly)
{
    const float *w = m->params + ly->mix;
    const int64_t DD = m->D * m->D;
    return (myo_qkvo_weights_f32){w, w + DD, w + 2 * DD, w + 3 * DD};
}

/* The mixer of layer ly on in (rows of S sequences) -> out (S_max, n, D):
 * the attention and SSM works run all S_max sequences (in's rows beyond
 * S are zeroed first). */
static myo_status mixer_forward(myo_model *m, model_layer *ly, int64_t S, float *in, float *out)
{
    const int64_t nD = m->n * m->D;
    if (ly->tw) { /* per-example trees: the S sequences are one sequence on the forest */
        myo_qkvo_weights_f32 w = qkvo(m, ly);
        return myo_layer_forward_f32(ly->tw, &w, 1, in, out);
    }
    if (!ly->lw && S < m->S_max)
        memset(in + S * nD, 0, (size_t)((m->S_max - S) * nD) * sizeof(float));
    if (ly->lw) {
        myo_qkvo_weights_f32 w = qkvo(m, ly);
        return myo_layer_forward_f32(ly->lw, &w, S, in, out);
    }
    if (ly->aw) {
        myo_qkvo_weights_f32 w = qkvo(m, ly);
        return myo_attention_forward_f32(ly->aw, &w, in, out);
    }
    return myo_ssm_forward_f32(ly->sw, m->params + ly->mix, in, out);
}

/* dy (rows of S sequences; rows beyond are 0 already) -> dx, the mixer's
 * weight gradients into the flat gradient vector.  The SSM reads its
 * forward input again: x is forward's (recomputed by the caller). */
static myo_status mixer_backward(myo_model *m, model_layer *ly, int64_t S, const float *x,
                                 const float *dy, float *dx)
{
    if (ly->sw)
        return myo_ssm_backward_f32(ly->sw, m->params + ly->mix, x, dy, dx, m->grads + ly->mix);
    myo_qkvo_weights_f32 w = qkvo(m, ly);
    float *gw = m->grads + ly->mix;
    const int64_t DD = m->D * m->D;
    myo_qkvo_grads_f32 g = {gw, gw + DD, gw + 2 * DD, gw + 3 * DD};
    if (ly->tw) return myo_layer_backward_f32(ly->tw, &w, 1, dy, dx, &g);
    if (ly->lw) return myo_layer_backward_f32(ly->lw, &w, S, dy, dx, &g);
    return myo_attention_backward_f32(ly->aw, &w, dy, dx, &g);
}

/* The key of a dropout site's mask under the last forward's seed. */
static uint64_t drop_key(const myo_model *m, int site, int64_t layer)
{
    return myo_model_dropout_key(m->run_seed, site, layer);
}

static myo_model_head_f32 head_of(const myo_model *m)
{
    const float *p = m->params;
    return (myo_model_head_f32){m->D,
                                m->F,
                                m->C,
                                m->cfg.dual,
                                m->cfg.dual ? p + m->wh : NULL,
                                m->cfg.dual ? p + m->bh : NULL,
                                p + m->wc,
                                p + m->bc,
                                m->run_smoothing};
}

static myo_model_head_cache head_cache_of(const myo_model *m)
{
    return (myo_model_head_cache){m->z, m->hc_pre, m->hc_act, m->logits, m->probs};
}

myo_status myo_model_forward(myo_model *m, int64_t batch, const int32_t *tokens,
                             const int32_t *labels, double *loss, int64_t *correct)
{
    if (!m || !tokens)
        return myo_fail(MYO_ERR_ARG, "myo_model_forward: the model and tokens are required");
    if (batch < 1 || batch > m->max_batch)
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_forward: batch = %lld, need 1 <= batch <= %lld (max_batch)",
                        (long long)batch, (long long)m->max_batch);
    const int64_t n = m->n, D = m->D, F = m->F, V = m->V, seqs = m->cfg.dual ? 2 : 1;
    const int64_t S = seqs * batch, R = S * n;
    if (m->cfg.mixer == MYO_MIXER_MYOSOTIS && m->trees_batch && batch != m->trees_batch)
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_forward: batch = %lld, but myo_model_set_trees set the trees "
                        "of %lld examples",
                        (long long)batch, (long long)m->trees_batch);
    if (m->cfg.mixer == MYO_MIXER_MYOSOTIS && !m->trees_batch && !m->cfg.tree)
        return myo_fail(MYO_ERR_ARG, "myo_model_forward: no tree: the configuration's tree is "
                                     "NULL and myo_model_set_trees has set none");
    for (int64_t i = 0; i < R; i++)
        if (tokens[i] < 0 || tokens[i] >= V) {
            const int64_t ex = i / (seqs * n), doc = (i / n) % seqs, t = i % n;
            if (m->cfg.dual)
                return myo_fail(MYO_ERR_DATA,
                                "myo_model_forward: example %lld, document %lld, position %lld: "
                                "token id %d outside [0, %lld)",
                                (long long)ex, (long long)doc, (long long)t, (int)tokens[i],
                                (long long)V);
            return myo_fail(MYO_ERR_DATA,
                            "myo_model_forward: example %lld, position %lld: token id %d "
                            "outside [0, %lld)",
                            (long long)ex, (long long)t, (int)tokens[i], (long long)V);
        }
    if (labels)
        for (int64_t b = 0; b < batch; b++)
            if (labels[b] < 0 || labels[b] >= m->C)
                return myo_fail(MYO_ERR_DATA,
                                "myo_model_forward: example %lld: label %d outside [0, %lld)",
                                (long long)b, (int)labels[b], (long long)m->C);

    const double t0 = myo_now();
    m->batch = 0; /* the cache is invalid until this forward succeeds */
    m->times.forward = m->times.mixer_forward = 0;
    memcpy(m->tokens, tokens, (size_t)R * sizeof(int32_t));
    if (labels) memcpy(m->labels, labels, (size_t)batch * sizeof(int32_t));
    const float *p = m->params;
    /* The regularisers this forward runs with, and backward differentiates. */
    m->run_smoothing = m->smoothing, m->run_rate = m->drop_rate, m->run_seed = m->drop_seed;
    const double rate = m->run_rate;

    /* x (S, n, D) = Drop(E[tokens] + P) */
    myo_model_embed_forward_f32(S, n, D, tokens, p + m->emb, p + m->pos, m->x);
    if (rate > 0) myo_model_dropout_f32(R, D, rate, drop_key(m, MYO_DROP_EMBED, 0), m->x, m->x, 0);
    for (int64_t l = 0; l < m->L; l++) {
        model_layer *ly = &m->layers[l];
        /* x += Drop(Mix(LN1(x))) */
        myo_model_ln_forward_f32(R, D, m->x, p + ly->ln1_g, p + ly->ln1_b, ly->xhat1, ly->rstd1,
                                 m->a);
        myo_status s = MYO_OK;
        MYO_TIMED(m->times.mixer_forward, s = mixer_forward(m, ly, S, m->a, m->y));
        MYO_CHECK(s);
        if (rate > 0)
            myo_model_dropout_f32(R, D, rate, drop_key(m, MYO_DROP_MIXER, l), m->y, m->x, 1);
        else
            for (int64_t i = 0; i < R * D; i++)
                m->x[i] += m->y[i];
        /* x += Drop(W2 gelu(W1 LN2(x) + b1) + b2): without dropout the MLP
         * adds into x directly, with it into y (zeroed) first */
        myo_model_ln_forward_f32(R, D, m->x, p + ly->ln2_g, p + ly->ln2_b, ly->xhat2, ly->rstd2,
                                 m->a);
        float *mlp_out = m->x;
        if (rate > 0) {
            memset(m->y, 0, (size_t)(R * D) * sizeof(float));
            mlp_out = m->y;
        }
        myo_model_mlp_forward_f32(R, D, F, m->a, p + ly->w1, p + ly->b1, p + ly->w2, p + ly->b2,
                                  ly->hpre, m->act, mlp_out);
        if (rate > 0)
            myo_model_dropout_f32(R, D, rate, drop_key(m, MYO_DROP_MLP, l), m->y, m->x, 1);
    }
    /* u (S, D) = mean over rows of LNf(x) -> the head */
    myo_model_ln_forward_f32(R, D, m->x, p + m->lnf_g, p + m->lnf_b, m->xhatf, m->rstdf, m->a);
    myo_model_pool_forward_f32(S, n, D, m->a, m->u, m->acc);
    const myo_model_head_f32 hd = head_of(m);
    const myo_model_head_cache hc = head_cache_of(m);
    int64_t right = 0;
    double lo = myo_model_head_forward_f32(&hd, batch, m->u, labels, &hc, &right);
    if (loss) *loss = lo;
    if (correct) *correct = labels ? right : 0;
    m->batch = batch;
    m->has_labels = labels != NULL;
    m->times.forward = myo_now() - t0;
    return MYO_OK;
}

myo_status myo_model_backward(myo_model *m)
{
    if (!m) return myo_fail(MYO_ERR_ARG, "myo_model_backward: the model is NULL");
    if (m->batch == 0)
        return myo_fail(MYO_ERR_ARG, "myo_model_backward: no successful forward to differentiate");
    if (!m->has_labels)
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_backward: the last forward had no labels (no loss)");
    const double t0 = myo_now();
    m->times.backward = m->times.mixer_backward = 0;
    const int64_t n = m->n, D = m->D, F = m->F, B = m->batch;
    const int64_t S = (m->cfg.dual ? 2 : 1) * B, R = S * n;
    const float *p = m->params;
    float *gr = m->grads;

    /* The head: du (S, D) and the head's gradients. */
    const myo_model_head_f32 hd = head_of(m);
    const myo_model_head_cache hc = head_cache_of(m);
    myo_model_head_backward_f32(&hd, B, m->u, m->labels, &hc, m->du,
                                m->cfg.dual ? gr + m->wh : NULL, m->cfg.dual ? gr + m->bh : NULL,
                                gr + m->wc, gr + m->bc, m->dlogits, m->dact, m->dz, m->acc);
    /* da = du / n on every row; g (the residual stream's gradient) = LNf's backward. */
    myo_model_pool_backward_f32(S, n, D, m->du, m->da);
    memset(m->g, 0, (size_t)(m->R_max * D) * sizeof(float)); /* rows beyond R stay 0 */
    myo_model_ln_backward_f32(R, D, m->xhatf, m->rstdf, p + m->lnf_g, m->da, m->g, gr + m->lnf_g,
                              gr + m->lnf_b, m->acc);
    /* With dropout, a branch's output gradient is Drop(g) (the same mask,
     * from the hash) in y, whose rows beyond R stay 0 for the mixers. */
    const double rate = m->run_rate;
    const float *dy = rate > 0 ? m->y : m->g; /* the branches' output gradient */
    if (rate > 0 && R < m->R_max)
        memset(m->y + R * D, 0, (size_t)((m->R_max - R) * D) * sizeof(float));
    for (int64_t l = m->L - 1; l >= 0; l--) {
        model_layer *ly = &m->layers[l];
        /* The MLP from g: a = LN2(x) recomputed, da = its input gradient. */
        ln_apply(R, D, ly->xhat2, p + ly->ln2_g, p + ly->ln2_b, m->a);
        if (rate > 0)
            myo_model_dropout_f32(R, D, rate, drop_key(m, MYO_DROP_MLP, l), m->g, m->y, 0);
        myo_model_mlp_backward_f32(R, D, F, m->a, ly->hpre, p + ly->w1, p + ly->w2, dy, m->act,
                                   m->da, gr + ly->w1, gr + ly->b1, gr + ly->w2, gr + ly->b2,
                                   m->acc);
        myo_model_ln_backward_f32(R, D, ly->xhat2, ly->rstd2, p + ly->ln2_g, m->da, m->g,
                                  gr + ly->ln2_g, gr + ly->ln2_b, m->acc);
        /* The mixer from g; the SSM reads its input a = LN1(x) again. */
        if (ly->sw) {
            ln_apply(R, D, ly->xhat1, p + ly->ln1_g, p + ly->ln1_b, m->a);
            if (S < m->S_max) memset(m->a + R * D, 0, (size_t)((m->R_max - R) * D) * sizeof(float));
        }
        if (rate > 0)
            myo_model_dropout_f32(R, D, rate, drop_key(m, MYO_DROP_MIXER, l), m->g, m->y, 0);
        myo_status s = MYO_OK;
        MYO_TIMED(m->times.mixer_backward, s = mixer_backward(m, ly, S, m->a, dy, m->da));
        MYO_CHECK(s);
        myo_model_ln_backward_f32(R, D, ly->xhat1, ly->rstd1, p + ly->ln1_g, m->da, m->g,
                                  gr + ly->ln1_g, gr + ly->ln1_b, m->acc);
    }
    if (rate > 0) myo_model_dropout_f32(R, D, rate, drop_key(m, MYO_DROP_EMBED, 0), m->g, m->g, 0);
    myo_model_embed_backward_f32(S, n, D, m->V, m->tokens, m->g, gr + m->emb, gr + m->pos);
    m->have_grads = 1;
    m->times.backward = myo_now() - t0;
    return MYO_OK;
}

/* The bound of myosotis_model.h, in exact arithmetic, then a margin for
 * float rounding.  A row y = g .* xhat + b of the final LayerNorm has
 * xhat of mean 0 and mean square v / (v + eps) <= 1: |xhat|_2 <= sqrt(D),
 * |xhat_j| <= sqrt(D - 1); so |y|_2 <= max|g| sqrt(D) + |b|_2 = r2 and
 * |y_j| <= |g_j| sqrt(D - 1) + |b_j| <= rinf, and the pooled u, a mean of
 * rows, keeps both.  Dual: z = [u1, u2, u1 .* u2, u1 - u2] has |z|_2 <=
 * r2 sqrt(6 + rinf^2), and h = gelu(z Wh + bh) has |h|_2 <= |Wh|_F |z|_2
 * + |bh|_2 (|gelu(t)| <= |t|).  With the head's input x (u or h, |x|_2 <=
 * rx) and wbar the mean column of Wc: logit_c - logit_c' = x . (w_c -
 * wbar) - x . (w_c' - wbar) + bc_c - bc_c', at most 2 rx max_c |w_c -
 * wbar|_2 + max bc - min bc.  Dropout changes only what reaches the final
 * LayerNorm, so the bound stands with it.  The loss against the target
 * (1 - eps) onehot(y) + eps / C is lse - (1 - eps) l_y - eps mean(l), and
 * mean(l) + ln C <= lse <= max(l) + ln C (Jensen; the largest term), so
 *     (1 - eps) (mean(l) - l_y) <= loss - ln C
 *         <= (1 - eps) (max(l) - l_y) + eps (max(l) - mean(l)),
 * both sides within the spread for any eps in [0, 1). */
double myo_model_logit_spread_bound(const myo_model *m)
{
    if (!m) return NAN;
    const int64_t D = m->D, F = m->F, C = m->C, K = m->cfg.dual ? F : D;
    const float *p = m->params, *g = p + m->lnf_g, *b = p + m->lnf_b;
    double gmax = 0, b2 = 0, rinf = 0;
    for (int64_t j = 0; j < D; j++) {
        gmax = fmax(gmax, fabs(g[j]));
        b2 += (double)b[j] * b[j];
        rinf = fmax(rinf, fabs(g[j]) * sqrt((double)(D - 1)) + fabs(b[j]));
    }
    double rx = gmax * sqrt((double)D) + sqrt(b2);
    if (m->cfg.dual) {
        double wh = 0, bh = 0;
        for (int64_t i = 0; i < 4 * D * F; i++)
            wh += (double)p[m->wh + i] * p[m->wh + i];
        for (int64_t i = 0; i < F; i++)
            bh += (double)p[m->bh + i] * p[m->bh + i];
        rx = sqrt(wh) * rx * sqrt(6.0 + rinf * rinf) + sqrt(bh);
    }
    const float *wc = p + m->wc, *bc = p + m->bc; /* wc (K, C): column c is wc[k C + c] */
    double wmax = 0, blo = INFINITY, bhi = -INFINITY;
    for (int64_t c = 0; c < C; c++) {
        double norm = 0;
        for (int64_t k = 0; k < K; k++) {
            double mean = 0;
            for (int64_t c2 = 0; c2 < C; c2++)
                mean += wc[k * C + c2];
            const double d = wc[k * C + c] - mean / (double)C;
            norm += d * d;
        }
        wmax = fmax(wmax, sqrt(norm));
        blo = fmin(blo, bc[c]), bhi = fmax(bhi, bc[c]);
    }
    const double spread = 2 * rx * wmax + (bhi - blo);
    return spread * (1 + 1e-3) + 1e-3;
}

myo_status myo_model_gradient_check(myo_model *m, double delta, double *ratio)
{
    if (!m || !ratio || !(delta > 0 && isfinite(delta)))
        return myo_fail(MYO_ERR_ARG, "myo_model_gradient_check: a model, delta > 0 (finite) and "
                                     "ratio are required");
    *ratio = NAN;
    if (!m->have_grads || m->batch == 0 || !m->has_labels)
        return myo_fail(MYO_ERR_ARG, "myo_model_gradient_check: no forward with labels and its "
                                     "backward to check");
    const int64_t P = m->num_params, B = m->batch;
    const int64_t R = (m->cfg.dual ? 2 : 1) * B * m->n;
    double gg = 0;
    for (int64_t i = 0; i < P; i++)
        gg += (double)m->grads[i] * m->grads[i];
    if (!(gg > 0) || !isfinite(gg)) return MYO_OK; /* nothing to follow: ratio NaN */
    float *keep = myo_alloc((size_t)P, sizeof(float), "the parameters' copy");
    int32_t *tokens = myo_alloc((size_t)R, sizeof(int32_t), "the tokens' copy");
    int32_t *labels = myo_alloc((size_t)B, sizeof(int32_t), "the labels' copy");
    myo_status s = keep && tokens && labels ? MYO_OK : MYO_ERR_NOMEM;
    /* The forwards run with the regularisers of the one checked (the same
     * dropout masks), whatever was set since; the settings come back after. */
    const double set_smoothing = m->smoothing, set_rate = m->drop_rate;
    const uint64_t set_seed = m->drop_seed;
    m->smoothing = m->run_smoothing, m->drop_rate = m->run_rate, m->drop_seed = m->run_seed;
    if (s == MYO_OK) {
        memcpy(keep, m->params, (size_t)P * sizeof(float));
        memcpy(tokens, m->tokens, (size_t)R * sizeof(int32_t));
        memcpy(labels, m->labels, (size_t)B * sizeof(int32_t));
        const float eta = (float)(delta / gg);
        double loss[2] = {NAN, NAN}, taken = 0;
        for (int side = 0; side < 2 && s == MYO_OK; side++) { /* theta -/+ eta g */
            const float step = side ? eta : -eta;
            for (int64_t i = 0; i < P; i++)
                m->params[i] = keep[i] + step * m->grads[i];
            s = myo_model_forward(m, B, tokens, labels, &loss[side], NULL);
        }
        /* the step as taken in float: g . (theta+ - theta-) / 2 */
        for (int64_t i = 0; i < P; i++) {
            const float up = keep[i] + eta * m->grads[i], down = keep[i] + -eta * m->grads[i];
            taken += (double)m->grads[i] * ((double)up - (double)down) / 2;
        }
        memcpy(m->params, keep, (size_t)P * sizeof(float));
        if (s == MYO_OK) *ratio = (loss[1] - loss[0]) / (2 * taken);
        /* the forward at theta again: the model as it was */
        double again = 0;
        myo_status s2 = myo_model_forward(m, B, tokens, labels, &again, NULL);
        if (s == MYO_OK) s = s2;
    }
    m->smoothing = set_smoothing, m->drop_rate = set_rate, m->drop_seed = set_seed;
    free(keep), free(tokens), free(labels);
    return s;
}

myo_status myo_model_adam_step(myo_model *m, const myo_adam_config *a)
{
    if (!m || !a) return myo_fail(MYO_ERR_ARG, "myo_model_adam_step: model and config required");
    if (!(a->lr >= 0 && isfinite(a->lr)) || !(a->beta1 >= 0 && a->beta1 < 1) ||
        !(a->beta2 >= 0 && a->beta2 < 1) || !(a->eps > 0 && isfinite(a->eps)) ||
        !(a->weight_decay >= 0 && isfinite(a->weight_decay)))
        return myo_fail(MYO_ERR_ARG,
                        "myo_model_adam_step: lr = %g, beta1 = %g, beta2 = %g, eps = %g, "
                        "weight_decay = %g; need lr >= 0, 0 <= beta < 1, eps > 0, "
                        "weight_decay >= 0, all finite",
                        a->lr, a->beta1, a->beta2, a->eps, a->weight_decay);
    if (!m->have_grads)
        return myo_fail(MYO_ERR_ARG, "myo_model_adam_step: no gradients yet (run "
                                     "myo_model_backward first)");
    const double t0 = myo_now();
    m->step++;
    /* p -= lr wd p (decayed tensors only, decoupled);  m1 = b1 m1 + (1 - b1) g;
     * m2 = b2 m2 + (1 - b2) g^2;  p -= lr (m1 / (1 - b1^t)) / (sqrt(m2 / (1 - b2^t)) + eps) */
    const float b1 = (float)a->beta1, b2 = (float)a->beta2, eps = (float)a->eps;
    const float c1 = (float)(1.0 / (1.0 - pow(a->beta1, (double)m->step)));
    const float c2 = (float)(1.0 / (1.0 - pow(a->beta2, (double)m->step)));
    const float lr = (float)a->lr;
    for (int64_t t = 0; t < m->num_tensors; t++) {
        const myo_model_tensor *te = &m->tensors[t];
        float *p = m->params + te->offset, *m1 = m->mom1 + te->offset, *m2 = m->mom2 + te->offset;
        const float *g = m->grads + te->offset;
        const float keep = te->decay ? (float)(1.0 - a->lr * a->weight_decay) : 1.0f;
        for (int64_t i = 0; i < te->count; i++) {
            m1[i] = b1 * m1[i] + (1.0f - b1) * g[i];
            m2[i] = b2 * m2[i] + (1.0f - b2) * g[i] * g[i];
            p[i] = keep * p[i] - lr * (m1[i] * c1) / (sqrtf(m2[i] * c2) + eps);
        }
    }
    m->times.update = myo_now() - t0;
    return MYO_OK;
}

/* ------------------------------------------------------------ mixer names */

static const char *const MIXER_NAMES[] = {"myosotis", "dense-tiled", "dense-materialized", "ssm"};
enum { N_MIXERS = sizeof MIXER_NAMES / sizeof MIXER_NAMES[0] };

const char *myo_mixer_name(myo_mixer_kind k)
{
    return (int)k >= 0 && (int)k < N_MIXERS ? MIXER_NAMES[k] : "?";
}

myo_status myo_mixer_parse(const char *text, myo_mixer_kind *out)
{
    if (!text || !out) return myo_fail(MYO_ERR_ARG, "myo_mixer_parse: text and out are required");
    for (int k = 0; k < N_MIXERS; k++)
        if (strcmp(text, MIXER_NAMES[k]) == 0) {
            *out = (myo_mixer_kind)k;
            return MYO_OK;
        }
    return myo_fail(MYO_ERR_ARG,
                    "myo_mixer_parse: unknown mixer \"%.64s\"; valid: myosotis, dense-tiled, "
                    "dense-materialized, ssm",
                    text);
}
