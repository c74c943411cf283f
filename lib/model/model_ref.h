/* model_ref.h -- the pieces of the LRA encoder classifier (myosotis_model.h)
 * that the mixers do not provide, declared for the tests (not installed):
 * the float32 kernels model.c runs and their plain double reference twins
 * in model_ref.c, which share nothing with them but the formulas below and
 * the dropout mask (one definition, here), and the whole model in double.
 *
 * Letters as in myosotis_model.h: S sequences (B examples, 2 B when
 * dual), n tokens, D d_model, F mlp_dim, C classes, V vocabulary; rows =
 * S n.  Every array is row-major; a weight W (a, b) maps a row x (a) to
 * x W (b).
 *
 *   LayerNorm, per row:  mu = mean(x), var = mean((x - mu)^2),
 *       xhat = (x - mu) / sqrt(var + MYO_MODEL_LN_EPS),  y = g .* xhat + b
 *   GELU, the tanh approximation (flax's nn.gelu, LRA's MLP blocks):
 *       gelu(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   MLP: y = gelu(x W1 + b1) W2 + b2,  W1 (D, F), W2 (F, D)
 *   mean pool: u_s = (1/n) sum_t x[s, t]
 *   embedding: x[s, t] = E[tokens[s, t]] + P[t]
 *   head: single, logits = u Wc + bc, Wc (D, C);  dual (LRA Retrieval),
 *       z = [u1, u2, u1 .* u2, u1 - u2] (4 D), h = gelu(z Wh + bh) (F),
 *       logits = h Wc + bc, Wh (4D, F), Wc (F, C); u1 = u[2 b], u2 =
 *       u[2 b + 1].  loss = mean over examples of the cross-entropy
 *       against the target t = (1 - eps) onehot(label) + eps / C (label
 *       smoothing eps, the head's `smoothing`): log-sum-exp(logits) -
 *       (1 - eps) logits[label] - eps mean(logits); dlogits = (softmax -
 *       t) / B; correct counts argmax == label (first maximum).
 *   dropout at rate p (0 <= p < 1) of one site: y = keep .* x / (1 - p),
 *       keep the mask of myo_model_dropout_keep below (the same function
 *       in the float kernels and the twins: it is the specification, not
 *       a kernel); its backward is the same map of dy.
 *
 * All Local; none prints.  The float kernels never allocate or fail; the
 * twins that return a myo_status allocate their scratch (MYO_ERR_NOMEM). */
#ifndef MYO_MODEL_REF_H
#define MYO_MODEL_REF_H

#include "myosotis_model.h"

#include <math.h>
#include <stdint.h>

/* LayerNorm's epsilon (flax's default, as LRA). */
#define MYO_MODEL_LN_EPS 1e-6

/* ------------------------------------- the dropout mask (model.c, model_ref.c) */

/* The sites (myosotis_model.h): the embedding sum (layer 0), each block's
 * mixer output and MLP output (layer l). */
enum { MYO_DROP_EMBED = 0, MYO_DROP_MIXER = 1, MYO_DROP_MLP = 2 };

/* splitmix64's output function (Steele, Lea and Flood 2014): a bijection
 * of 64-bit words with full avalanche. */
static inline uint64_t myo_model_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

#define MYO_MODEL_GOLDEN 0x9e3779b97f4a7c15u /* splitmix64's increment */

/* The key of one mask: site (MYO_DROP_*) of layer l under seed; distinct
 * (site, layer) give distinct keys for one seed. */
static inline uint64_t myo_model_dropout_key(uint64_t seed, int site, int64_t layer)
{
    return myo_model_mix64(
        seed ^ myo_model_mix64(((uint64_t)layer << 2 | (uint64_t)site) + MYO_MODEL_GOLDEN));
}

/* The threshold of rate p in [0, 1): ceil(p 2^53). */
static inline uint64_t myo_model_dropout_cut(double rate)
{
    return (uint64_t)ceil(ldexp(rate, 53));
}

/* 1 when entry (row, col) of key's mask is kept: u >= rate for u = the top
 * 53 bits of splitmix64's output number row 2^32 + col + 1 from state key,
 * over 2^53 (uniform on [0, 1); injective in (row, col) for row, col <
 * 2^32, so no two entries share a draw).  cut = myo_model_dropout_cut(rate):
 * kept with probability 1 - cut / 2^53 = 1 - rate to 2^-53.  A pure
 * function: no state, the same mask in forward and backward. */
static inline int myo_model_dropout_keep(uint64_t key, int64_t row, int64_t col, uint64_t cut)
{
    const uint64_t counter = ((uint64_t)row << 32) + (uint64_t)col + 1;
    return (myo_model_mix64(key + MYO_MODEL_GOLDEN * counter) >> 11) >= cut;
}

/* ------------------------------------------------ float kernels (model.c) */

/* x (rows, D) -> xhat (rows, D), rstd (rows,) = 1 / sqrt(var + eps),
 * y (rows, D) = g .* xhat + b; y may equal x. */
void myo_model_ln_forward_f32(int64_t rows, int64_t D, const float *x, const float *g,
                              const float *b, float *xhat, float *rstd, float *y);
/* From dy (rows, D) and forward's xhat, rstd: dx (rows, D) += the input
 * gradient (accumulated: the residual stream's); dg, db (D,) overwritten;
 * acc (2 D doubles) scratch. */
void myo_model_ln_backward_f32(int64_t rows, int64_t D, const float *xhat, const float *rstd,
                               const float *g, const float *dy, float *dx, float *dg, float *db,
                               double *acc);

/* x (rows, D) -> hpre (rows, F) = x W1 + b1 (kept for backward), act
 * (rows, F) = gelu(hpre), y (rows, D) += act W2 + b2 (accumulated: the
 * residual). */
void myo_model_mlp_forward_f32(int64_t rows, int64_t D, int64_t F, const float *x, const float *w1,
                               const float *b1, const float *w2, const float *b2, float *hpre,
                               float *act, float *y);
/* From dy (rows, D) and forward's x, hpre: dx (rows, D), dw1 (D, F), db1
 * (F,), dw2 (F, D), db2 (D,) overwritten; act (rows, F) scratch (gelu
 * recomputed, then dh in place); acc (max(D, F) doubles) scratch. */
void myo_model_mlp_backward_f32(int64_t rows, int64_t D, int64_t F, const float *x,
                                const float *hpre, const float *w1, const float *w2,
                                const float *dy, float *act, float *dx, float *dw1, float *db1,
                                float *dw2, float *db2, double *acc);

/* x (S, n, D) -> u (S, D), the mean of each sequence's rows (summed in
 * double in acc (D,)). */
void myo_model_pool_forward_f32(int64_t S, int64_t n, int64_t D, const float *x, float *u,
                                double *acc);
/* du (S, D) -> dx (S, n, D) = du / n on every row, overwritten. */
void myo_model_pool_backward_f32(int64_t S, int64_t n, int64_t D, const float *du, float *dx);

/* tokens (S, n) in [0, V) (unchecked) -> x (S, n, D) = E[token] + P[t]. */
void myo_model_embed_forward_f32(int64_t S, int64_t n, int64_t D, const int32_t *tokens,
                                 const float *emb, const float *pos, float *x);
/* dx (S, n, D) -> demb (V, D) (scatter-add), dpos (n, D), overwritten. */
void myo_model_embed_backward_f32(int64_t S, int64_t n, int64_t D, int64_t V, const int32_t *tokens,
                                  const float *dx, float *demb, float *dpos);

/* The classifier's shape and weights: wh (4D, F) and bh (F,) when dual
 * (else unused), wc (K, C), bc (C,), K = dual ? F : D. */
typedef struct {
    int64_t D, F, C;
    int dual;
    const float *wh, *bh, *wc, *bc;
    double smoothing; /* label smoothing eps in [0, 1) (0: plain cross-entropy) */
} myo_model_head_f32;
/* What the head's forward keeps, for B examples: z (B, 4D), hpre, act
 * (B, F) when dual; logits, probs (B, C). */
typedef struct {
    float *z, *hpre, *act, *logits, *probs;
} myo_model_head_cache;
/* u (S, D) -> the cache; with labels (B,) not NULL, returns the mean
 * cross-entropy (log-sum-exp in double) and sets *correct (may be NULL);
 * returns 0 without labels. */
double myo_model_head_forward_f32(const myo_model_head_f32 *hd, int64_t B, const float *u,
                                  const int32_t *labels, const myo_model_head_cache *c,
                                  int64_t *correct);
/* The gradients of that mean loss: du (S, D), dwh (4D, F), dbh (F,)
 * (dual only), dwc (K, C), dbc (C,) overwritten.  dlogits (B, C), dact
 * (B, F), dz (B, 4D) scratch; acc (max(4D, F, C) doubles) scratch. */
void myo_model_head_backward_f32(const myo_model_head_f32 *hd, int64_t B, const float *u,
                                 const int32_t *labels, const myo_model_head_cache *c, float *du,
                                 float *dwh, float *dbh, float *dwc, float *dbc, float *dlogits,
                                 float *dact, float *dz, double *acc);

/* y (rows, D) = keep .* x / (1 - rate) (accumulate 0) or y += that
 * (accumulate 1), keep the mask of key (myo_model_dropout_keep) on rows
 * numbered from 0 at x's first; rate in [0, 1).  y may equal x. */
void myo_model_dropout_f32(int64_t rows, int64_t D, double rate, uint64_t key, const float *x,
                           float *y, int accumulate);

/* gelu (tanh form) and its derivative, float. */
float myo_model_gelu_f32(float x, float *dgelu);

/* ------------------------------------------- reference twins (model_ref.c) */

double myo_model_gelu_ref(double x, double *dgelu);

/* y (rows, D) = LayerNorm(x) with gain g and bias b. */
void myo_model_ln_forward_ref(int64_t rows, int64_t D, const double *x, const double *g,
                              const double *b, double *y);
/* Recomputing the forward: dx (rows, D), dg, db (D,) overwritten. */
void myo_model_ln_backward_ref(int64_t rows, int64_t D, const double *x, const double *g,
                               const double *dy, double *dx, double *dg, double *db);

/* y (rows, D) = gelu(x W1 + b1) W2 + b2 (overwritten, no residual). */
myo_status myo_model_mlp_forward_ref(int64_t rows, int64_t D, int64_t F, const double *x,
                                     const double *w1, const double *b1, const double *w2,
                                     const double *b2, double *y);
myo_status myo_model_mlp_backward_ref(int64_t rows, int64_t D, int64_t F, const double *x,
                                      const double *w1, const double *b1, const double *w2,
                                      const double *dy, double *dx, double *dw1, double *db1,
                                      double *dw2, double *db2);

void myo_model_pool_forward_ref(int64_t S, int64_t n, int64_t D, const double *x, double *u);
void myo_model_pool_backward_ref(int64_t S, int64_t n, int64_t D, const double *du, double *dx);

void myo_model_embed_forward_ref(int64_t S, int64_t n, int64_t D, const int32_t *tokens,
                                 const double *emb, const double *pos, double *x);
void myo_model_embed_backward_ref(int64_t S, int64_t n, int64_t D, int64_t V, const int32_t *tokens,
                                  const double *dx, double *demb, double *dpos);

typedef struct {
    int64_t D, F, C;
    int dual;
    const double *wh, *bh, *wc, *bc;
    double smoothing; /* as myo_model_head_f32's */
} myo_model_head_f64;
/* *loss = the mean cross-entropy of u (S, D) against labels (B,) (0
 * when labels is NULL); logits (B, C), *loss, *correct each unless NULL. */
myo_status myo_model_head_forward_ref(const myo_model_head_f64 *hd, int64_t B, const double *u,
                                      const int32_t *labels, double *logits, double *loss,
                                      int64_t *correct);
/* Its gradients, recomputing the forward: du (S, D), dwh, dbh (dual), dwc,
 * dbc overwritten. */
myo_status myo_model_head_backward_ref(const myo_model_head_f64 *hd, int64_t B, const double *u,
                                       const int32_t *labels, double *du, double *dwh, double *dbh,
                                       double *dwc, double *dbc);

/* y (rows, D) = keep .* x / (1 - rate), overwritten (rate 0: y = x); y
 * may equal x. */
void myo_model_dropout_ref(int64_t rows, int64_t D, double rate, uint64_t key, const double *x,
                           double *y);

/* The whole model in double, composed of the twins above and the mixers'
 * (myo_layer_forward_ref on cfg->tree, myo_attention_forward_ref,
 * myo_ssm_forward_ref and their backwards), with its own walk of the
 * parameter layout of myosotis_model.h: the forward of myo_model_forward
 * on batch examples -- tokens (batch, n) or (batch, 2, n), labels (batch,)
 * -- under params (myo_model_num_params doubles, myo_model_params's
 * layout), label smoothing `smoothing` and dropout (rate, seed) as
 * myo_model_set_label_smoothing and myo_model_set_dropout define them.
 * *loss (the mean loss) and *correct unless NULL; grads (the same layout,
 * overwritten) unless NULL.  MYO_ERR_ARG for a bad configuration or
 * Myosotis without cfg->tree (no per-example trees here); MYO_ERR_NOMEM.
 * Every activation of every layer is kept: small models only. */
myo_status myo_model_loss_ref(const myo_model_config *cfg, const double *params, int64_t batch,
                              const int32_t *tokens, const int32_t *labels, double smoothing,
                              double rate, uint64_t seed, double *loss, int64_t *correct,
                              double *grads);

/* ------------------------------------------ the parameter table (model.c) */

/* One tensor of the flat parameter vector: its name ("layer1.mlp.w1"),
 * offset and count in floats, and whether AdamW decays it. */
typedef struct {
    char name[40];
    int64_t offset, count;
    int decay;
} myo_model_tensor;
/* The number of tensors, and tensor i (NULL when out of range). */
int64_t myo_model_num_tensors(const myo_model *m);
const myo_model_tensor *myo_model_tensor_at(const myo_model *m, int64_t i);

#endif
