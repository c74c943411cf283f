/*
 * myosotis_model.h -- the Long Range Arena encoder classifier (LRA paper;
 * docs/lra.md sections 1 and 2) around any of the suite's
 * token mixers, float32, with its backward pass and an Adam update: what
 * myo-lra times.
 *
 * Letters: B sequences in a batch, n tokens per sequence (the task's
 * length; shorter inputs are padded with token 0), D d_model, H heads,
 * F mlp_dim, L layers, C classes, V vocabulary.
 *
 * Per sequence (tokens (n,) of ids in [0, V)):
 *     X = Drop(E[tokens] + P)                  embedding (V, D), learned
 *                                              positions P (n, D)
 *     L times:  X = X + Drop(Mix(LayerNorm_1(X)))     the mixer, width D
 *               X = X + Drop(W2 gelu(W1 LayerNorm_2(X) + b1) + b2)  (D->F->D)
 *     u = mean over the n rows of LayerNorm_f(X)                (D,)
 *     logits = u Wc + bc                                         (C,)
 *     loss = cross-entropy(logits, target), averaged over the batch,
 *            target = (1 - eps) onehot(label) + eps / C
 * Drop is the identity and eps 0 unless myo_model_set_dropout and
 * myo_model_set_label_smoothing say otherwise (see there).
 * Dual encoder (dual = 1, LRA Retrieval): two documents per example
 * share the encoder; the classifier reads [u1, u2, u1 * u2, u1 - u2]
 * (4 D,) through a hidden layer of F units with gelu (LRA's Retrieval
 * head), then (C,): h = gelu(z Wh + bh), logits = h Wc + bc.
 *
 * Mixers: MYO_MIXER_MYOSOTIS (myosotis_layer.h on cfg->tree, which must
 * have n tokens, or on a different tree per example: myo_model_set_trees),
 * MYO_MIXER_DENSE_TILED / _MATERIALIZED
 * (myosotis_attention.h, bidirectional), MYO_MIXER_SSM (myosotis_ssm.h,
 * Mamba's defaults).
 *
 * LayerNorm: gain and bias, epsilon 1e-6 (flax's, as LRA).  gelu is the
 * tanh approximation x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), flax's
 * nn.gelu default, used in the MLPs and the dual head.
 * Initialisation, deterministic from the seed (myo_rng): E normal(0, 1)
 * (LRA's nn.Embed), P normal(0, 0.02), every dense weight (the mixers'
 * Wq, Wk, Wv, Wo, the MLPs', the head's) Xavier-uniform
 * U(+-sqrt(6 / (fan_in + fan_out))), biases 0, LayerNorm gains 1 and
 * biases 0, the SSM's parameters as myo_ssm_params_init_f32 (Mamba's).
 * The same seed gives the same parameters whatever max_batch.
 * AdamW decays the weight matrices and the embeddings E and P only: never
 * LayerNorm gains or biases, biases (the MLPs', the head's, the SSM's
 * conv_b and dt_bias), nor the SSM's a_log and d_skip (Mamba's
 * _no_weight_decay).
 *
 * Memory: everything is allocated by myo_model_create (the mixers' work
 * objects add their backward scratch at the first backward); forward,
 * backward and the update allocate nothing.  The attention and SSM work
 * objects run a fixed number of sequences, so a batch smaller than
 * max_batch runs them on zero rows beyond its own (exact, but timed).
 * Per-example trees are the exception: each myo_model_set_trees that
 * changes the trees builds a forest and L Myosotis workspaces for it, and
 * the first backward after it allocates their backward scratch (see
 * there).  Dropout stores no mask: backward regenerates it from its hash.
 *
 * All calls are Local; they never print and never exit.
 */
#ifndef MYOSOTIS_MODEL_H
#define MYOSOTIS_MODEL_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MYO_MIXER_MYOSOTIS = 0,
    MYO_MIXER_DENSE_TILED = 1,
    MYO_MIXER_DENSE_MATERIALIZED = 2,
    MYO_MIXER_SSM = 3
} myo_mixer_kind;

/* Local.  The mixer's name: "myosotis", "dense-tiled",
 * "dense-materialized", "ssm" (the benchmarks' words for them); "?" for
 * any other value (never NULL, as myo_attention_form_name). */
const char *myo_mixer_name(myo_mixer_kind k);
/* Local.  The kind named text, exactly one of those names (case matters);
 * *out untouched on failure.  MYO_ERR_ARG for a NULL argument or another
 * word, with a detail listing the valid names. */
myo_status myo_mixer_parse(const char *text, myo_mixer_kind *out);

typedef struct {
    int64_t vocab;   /* V >= 2 */
    int64_t n;       /* tokens per sequence */
    int64_t d_model; /* D */
    int64_t heads;   /* H, dividing D (attention, Myosotis) */
    int64_t mlp_dim; /* F */
    int64_t layers;  /* L >= 1 */
    int64_t classes; /* C >= 2 */
    int dual;        /* 1: two documents per example (Retrieval) */
    myo_mixer_kind mixer;
    const myo_tree *tree;          /* Myosotis: the tree over the n tokens (borrowed), or
                                      NULL: per-example trees (myo_model_set_trees) */
    myo_layer_direction direction; /* Myosotis */
} myo_model_config;

/* Adam with decoupled weight decay (AdamW; LRA's optimizer). */
typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
} myo_adam_config;

typedef struct myo_model myo_model;

/* Local.  MYO_OK when cfg describes a model (vocab >= 2, n, d_model,
 * heads, mlp_dim, layers >= 1, classes >= 2, dual 0 or 1, a known mixer;
 * heads dividing d_model for attention and Myosotis; for Myosotis a valid
 * direction and a tree of n tokens or NULL, when every batch's trees come
 * from myo_model_set_trees); MYO_ERR_ARG naming the problem otherwise. */
myo_status myo_model_config_check(const myo_model_config *cfg);

/* Local.  A model for batches of up to max_batch examples, parameters
 * initialised from seed (deterministic), with its mixers' workspaces, the
 * activations backward needs, the gradients and Adam's moments.
 * MYO_ERR_ARG, MYO_ERR_NOMEM. */
myo_status myo_model_create(const myo_model_config *cfg, int64_t max_batch, uint64_t seed,
                            myo_model **out);
void myo_model_destroy(myo_model **m);

/* Local.  Trainable parameters; bytes the model holds now (parameters,
 * gradients, moments, activations and workspaces). */
int64_t myo_model_num_params(const myo_model *m);
size_t myo_model_bytes(const myo_model *m);

/* Local.  Forward on batch examples: tokens (batch, n) int32 ids in
 * [0, V) ((batch, 2, n) when dual), labels (batch,) in [0, C) or NULL (no
 * loss).  Writes the mean cross-entropy to *loss and the number of
 * correct argmax predictions to *correct (either may be NULL); keeps what
 * backward needs.  Runs with the label smoothing and dropout set now
 * (myo_model_set_label_smoothing, myo_model_set_dropout); *correct does
 * not depend on the smoothing.  MYO_ERR_ARG for a bad batch (with
 * per-example trees set: another batch than theirs; Myosotis with no tree
 * at all); MYO_ERR_DATA for an id or label out of range (naming example
 * and position). */
myo_status myo_model_forward(myo_model *m, int64_t batch, const int32_t *tokens,
                             const int32_t *labels, double *loss, int64_t *correct);

/* Local.  Per-example trees for the Myosotis mixer (ListOps' parse trees):
 * the forwards that follow run example b's sequence on its own tree,
 * parents (batch, n) ((batch, 2, n) when dual: one tree per document):
 * parents[b][i] is the position of token i's parent in [0, n), or -1 at a
 * root (padding tokens are usually roots of their own: the tree of an
 * example may be a forest).  Internally one forest over the batch n
 * tokens -- example b's token i is node b n + i, its parent
 * b n + parents[b][i] -- and each Myosotis layer runs the (batch, n, D)
 * activations as ONE sequence of batch n tokens on it: the forest couples
 * no two examples, so losses and gradients are those of each example on
 * its own tree (to float rounding).
 * The trees stay until the next call; every forward must then have this
 * batch (MYO_ERR_ARG otherwise).  parents NULL drops them (batch ignored):
 * cfg->tree serves again, or, when it is NULL, forward fails until trees
 * are set.  With cfg->tree given, per-example trees take precedence while
 * set.  Either change discards the last forward (run forward again before
 * backward).
 * Cost: a call with other trees than the current ones (compared with
 * memcmp; the same trees again cost nothing) builds the forest
 * (myo_tree_create, O(batch n)) and one Myosotis workspace per layer for
 * one sequence of batch n tokens (myo_layer_work_create: about 7 batch n D
 * floats each, against (4 max_batch + 3) n D for cfg->tree's), dropping the
 * previous ones first; and the first backward after it allocates each
 * workspace's backward scratch (about 3 batch n D floats per layer).  Call
 * it outside the timed part of a step; the scratch allocation stays in the
 * first backward.
 * MYO_ERR_ARG for a NULL model, another mixer, a batch outside
 * [1, max_batch]; MYO_ERR_DATA for a parent outside [-1, n), a self-loop
 * or a cycle (naming example and position); MYO_ERR_NOMEM (then no
 * per-example trees are set). */
myo_status myo_model_set_trees(myo_model *m, int64_t batch, const int32_t *parents);

/* Local.  Gradients of the last forward's mean loss with respect to every
 * parameter, overwriting the previous ones: that loss as it ran, with its
 * label smoothing and its dropout masks (whatever was set since).
 * MYO_ERR_ARG when the last forward had no labels or none ran. */
myo_status myo_model_backward(myo_model *m);

/* Local.  Label smoothing (LRA's and S4's classification losses): the
 * forwards that follow, and the backwards of those forwards, take the
 * cross-entropy against the target t = (1 - eps) onehot(label) + eps / C:
 *     loss = lse(logits) - (1 - eps) logits[label] - eps mean_j logits[j]
 *     dlogits = (softmax(logits) - t) / B
 * eps 0 (at creation) is the plain cross-entropy, bit for bit; the
 * correct count never depends on eps.  MYO_ERR_ARG for a NULL model or eps
 * outside [0, 1) (NaN included). */
myo_status myo_model_set_label_smoothing(myo_model *m, double eps);

/* Local.  Inverted dropout (the LRA Transformer's, at rate p) in the
 * forwards that follow and their backwards, at three kinds of sites, each
 * on (rows, D) with rows = the batch's S n rows in forward's order (row s
 * n + t is token t of sequence s; dual: example b's document d is sequence
 * 2 b + d):
 *     site 0, layer 0:  the embedding sum E[tokens] + P;
 *     site 1, layer l:  block l's mixer output, before its residual add;
 *     site 2, layer l:  block l's MLP output (after b2), before its
 *                       residual add.
 * Entry (row, col) of a site is kept, times 1 / (1 - p), when u >= p and
 * zeroed otherwise, u uniform on [0, 1) from a counter-based hash:
 *     key = mix(seed ^ mix(4 layer + site + G))
 *     u   = (mix(key + G (row 2^32 + col + 1)) >> 11) / 2^53
 * (mix: splitmix64's output function, G = 0x9e3779b97f4a7c15, arithmetic
 * mod 2^64).  The masks are a pure function of (seed, site, layer, row,
 * col), with no generator state to save in a checkpoint, the same in
 * forward, backward and myo_model_gradient_check's forwards.  Not
 * dropped: the attention weights, the MLP's hidden units, the final
 * LayerNorm and the head.
 * A data-parallel driver sets, before each training forward, a seed drawn
 * from (run seed, step, the rank's first example): rows are numbered
 * within the batch, so ranks with the same seed would drop alike; and
 * myo_model_set_dropout(m, 0, 0) before evaluating.  Rate 0 (at creation)
 * runs no dropout pass at all: forward and backward are those without
 * dropout, bit for bit, at their cost.  No memory: backward regenerates
 * the masks.  MYO_ERR_ARG for a NULL model or rate outside [0, 1) (NaN
 * included). */
myo_status myo_model_set_dropout(myo_model *m, double rate, uint64_t seed);

/* Local.  One AdamW step on every parameter with the current gradients
 * (those of the last myo_model_backward), step t counted from 1:
 *     m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
 *     p = p (1 - lr weight_decay)   (decayed tensors only, see above)
 *         - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * MYO_ERR_ARG for lr < 0, a beta outside [0, 1), eps <= 0, a negative
 * weight_decay, a non-finite value, or no backward yet. */
myo_status myo_model_adam_step(myo_model *m, const myo_adam_config *a);

/* Local.  An upper bound on the spread of the logits, max_c logit_c -
 * min_c logit_c, over every input the model may see, from its current
 * parameters alone (the final LayerNorm's gain and bias bound each pooled
 * row; the head's weights do the rest: model.c derives it), with a margin
 * for float rounding; NaN for a NULL model.  The loss of an example, with
 * label smoothing eps, lies between (1 - eps) (mean(logits) - logit_label)
 * + ln C and (1 - eps) (max(logits) - logit_label) + eps (max(logits) -
 * mean(logits)) + ln C (eps 0: the plain cross-entropy's), and dropout
 * acts before the final LayerNorm, so a correctly computed loss (one
 * example or a batch mean, any eps and dropout) is within this bound of
 * ln C: further is a broken forward.  (At initialisation, single encoder:
 * about 2 sqrt(D) times the largest column of Wc less the mean column;
 * the dual head's is looser.) */
double myo_model_logit_spread_bound(const myo_model *m);

/* Local.  Check the gradients g of the last myo_model_backward against the
 * loss L of its forward (that batch and those labels) by a central
 * difference along them, steps of eta = delta / |g|^2 (delta: the loss
 * change they predict):
 *     *ratio = (L(theta + eta g) - L(theta - eta g)) / (2 eta |g|^2)
 * (the step as taken in float), 1 for exact gradients up to O(eta^2) --
 * a strongly curved loss (tiny d_model) needs a smaller delta -- and float
 * rounding of L (relative 1e-7 or so: delta >= 1e-5 |L|); about -1 for
 * gradients of the wrong sign, 0.5 for doubled ones, anything for wrong
 * ones; NaN when g is all zero or not finite.  Three forwards (the last
 * one at theta again), with the label smoothing and dropout masks of the
 * forward checked (dropout: a fixed mask makes L smooth in theta): the
 * model is left as it was, parameters and settings bit for bit.
 * MYO_ERR_ARG for a NULL argument, delta not positive and finite, or no
 * backward after a forward with labels; MYO_ERR_NOMEM (a copy of the
 * parameters). */
myo_status myo_model_gradient_check(myo_model *m, double delta, double *ratio);

/* Local.  Seconds of the last forward, backward and update, the mixers'
 * share of forward and backward. */
typedef struct {
    double forward, backward, update, mixer_forward, mixer_backward;
} myo_model_times;
void myo_model_last_times(const myo_model *m, myo_model_times *out);

/* Local.  The flat parameter and gradient vectors (myo_model_num_params
 * floats each), for tests (finite differences) and checkpoints.  Tensor
 * after tensor: E (V, D), P (n, D); per layer ln1 g, b (D); the mixer's
 * Wq, Wk, Wv, Wo (D, D) or the SSM's flat array (myosotis_ssm.h); ln2 g,
 * b; W1 (D, F), b1 (F), W2 (F, D), b2 (D); then lnf g, b; dual: Wh
 * (4D, F), bh (F); Wc (D or F, C), bc (C).  Weights are (in, out)
 * row-major: a row x maps to x W.  Both are writable: a data-parallel
 * driver sums the gradients over its ranks in place (MPI_Allreduce)
 * between myo_model_backward and myo_model_adam_step. */
float *myo_model_params(myo_model *m);
float *myo_model_grads(myo_model *m);

/* Local.  AdamW's state: its two moments (myo_model_num_params floats
 * each, in the layout of myo_model_params; writable) and the number of
 * steps taken (t of the next myo_model_adam_step is this + 1).  A
 * checkpoint saves the parameters, both moments and the step count;
 * restoring the four into a model of the same configuration continues
 * training bit for bit. */
float *myo_model_adam_moment1(myo_model *m);
float *myo_model_adam_moment2(myo_model *m);
int64_t myo_model_adam_steps(const myo_model *m);
/* MYO_ERR_ARG for a NULL model or steps < 0. */
myo_status myo_model_set_adam_steps(myo_model *m, int64_t steps);

/* Local.  Gradient-norm clipping, between the (all-reduced) backward and
 * the update: *norm (may be NULL) = the Euclidean norm of the whole
 * gradient vector (summed in double, in one fixed order); when it exceeds
 * max_norm, every gradient is scaled by max_norm / norm.  max_norm =
 * INFINITY measures only.  MYO_ERR_ARG for a NULL model or max_norm not
 * > 0; MYO_ERR_DATA when the norm is not finite (*norm set, gradients
 * untouched). */
myo_status myo_model_clip_grads(myo_model *m, double max_norm, double *norm);

/* The learning rate of a schedule at an update (LRA's and S4's): linear
 * warm-up from 0 over `warmup` updates, then a decay from peak to
 * peak * final_fraction at update `total`:
 *     t < warmup:   lr = peak (t + 1) / warmup
 *     cosine:       lr = peak (f + (1 - f) (1 + cos(pi q)) / 2)
 *     linear:       lr = peak (1 - (1 - f) q)
 *     constant:     lr = peak
 * with q = (t - warmup) / (total - warmup) clamped to [0, 1], t counted
 * from 0. */
typedef enum { MYO_LR_COSINE = 0, MYO_LR_LINEAR = 1, MYO_LR_CONSTANT = 2 } myo_lr_decay;
typedef struct {
    double peak;           /* > 0 */
    int64_t warmup, total; /* 0 <= warmup <= total, total >= 1 */
    myo_lr_decay decay;
    double final_fraction; /* f in [0, 1] */
} myo_lr_schedule;

/* Local.  MYO_ERR_ARG naming the problem, MYO_OK when s is valid. */
myo_status myo_lr_schedule_check(const myo_lr_schedule *s);
/* Local.  The rate at update t >= 0 (t >= total: the final rate); NaN for
 * an invalid schedule or t < 0. */
double myo_lr_at(const myo_lr_schedule *s, int64_t t);
/* Local.  "cosine", "linear", "constant" ("?" otherwise); parse: exactly
 * one of them, MYO_ERR_ARG listing them otherwise. */
const char *myo_lr_decay_name(myo_lr_decay d);
myo_status myo_lr_decay_parse(const char *text, myo_lr_decay *out);

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_MODEL_H */
