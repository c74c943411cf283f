/*
 * myosotis_attention.h -- the dense softmax attention baseline
 * (docs/design.md section 5), included by myosotis.h.
 *
 * Exact multi-head softmax attention with the Myosotis layer's projections.
 * Dimension letters, used in every shape comment:
 *     B  batch (sequences)           n  tokens per sequence
 *     D  model width (d_model)       H  heads, d = D / H the head width
 * X (B, n, D) row-major; Wq, Wk, Wv, Wo (D, D) row-major; Q = X Wq, K = X Wk,
 * V = X Wv; head h owns columns [h d, (h + 1) d) of Q, K, V and O.  Per
 * sequence and head:
 *     S = Q_h K_h^T / sqrt(d)   (n, n)
 *     P = softmax of each row of S over the keys (causal: keys j <= i only)
 *     O_h = P V_h               (n, d)
 * and Y = concat_h(O_h) Wo.
 *
 * Two forms compute the same function:
 *  - MYO_ATTN_MATERIALIZED: the n x n matrix P of every head is formed and
 *    kept for backward, as the vanilla Transformer of the Long Range Arena
 *    benchmark.  Memory O(B H n^2).
 *  - MYO_ATTN_TILED: FlashAttention-2 on the CPU.  Query blocks of tile_q
 *    rows against key blocks of tile_k rows, with a running max m and sum l
 *    per query row, an accumulator rescaled by e^(m_old - m_new) and divided
 *    by l once at the end; logsumexp L = m + log l is saved per row and
 *    backward recomputes P = exp(S - L) block by block.  Causal attention
 *    skips key blocks that lie wholly in the future.  Memory O(B n D).
 * Every score tile goes through OpenBLAS (cblas_sgemm); the softmax
 * subtracts the row max, so extreme scores give no Inf or NaN.
 *
 * All calls here are Local (no MPI communication).
 */
#ifndef MYOSOTIS_ATTENTION_H
#define MYOSOTIS_ATTENTION_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MYO_ATTN_MATERIALIZED = 0, /* the n x n probabilities of every head, kept for backward */
    MYO_ATTN_TILED = 1         /* online softmax over key blocks (FlashAttention-2) */
} myo_attention_form;

/* Default tiles of MYO_ATTN_TILED (rows of Q and of K/V per block), sized
 * for a core's L2 cache (1-2 MiB): with d = 32 one block step touches the
 * Q block and accumulator (16 KiB each), the K and V blocks (32 KiB each)
 * and the score and dP tiles (128 KiB each), about 350 KiB; the scores'
 * GEMMs (128 x 256 x d) are large enough for OpenBLAS to amortise its
 * packing.  Measured on one Zen 4 core (n = 4096, D = 256, H = 8, forward
 * and backward): 64x256 to 256x256 within 2%, 64x128 3% and 128x512 6%
 * slower.  Both are clamped to n. */
#define MYO_ATTN_TILE_Q_DEFAULT 128
#define MYO_ATTN_TILE_K_DEFAULT 256

/* A zero-initialised config is invalid (d_model = 0); set d_model and
 * heads, and leave the rest 0 for the defaults. */
typedef struct {
    int64_t d_model; /* D >= 1 */
    int64_t heads;   /* H >= 1, dividing D */
    int causal;      /* 0: every query sees every key (default); 1: query i sees keys j <= i */
    int64_t tile_q;  /* MYO_ATTN_TILED: query rows per block; 0 = MYO_ATTN_TILE_Q_DEFAULT */
    int64_t tile_k;  /* MYO_ATTN_TILED: key rows per block; 0 = MYO_ATTN_TILE_K_DEFAULT */
} myo_attention_config;

/* MYO_OK when cfg describes valid attention over batch sequences of n
 * tokens; otherwise MYO_ERR_ARG with a detail saying what is wrong (NULL
 * cfg, D < 1, H < 1, D not divisible by H, causal not 0 or 1, a negative
 * tile, n < 1, batch < 1).  Local. */
myo_status myo_attention_check(const myo_attention_config *cfg, int64_t n, int64_t batch);

/* "materialized" or "tiled" ("?" for anything else).  Never NULL. */
const char *myo_attention_form_name(myo_attention_form form);

/* The workspace of one configuration: everything forward keeps for
 * backward, and backward's scratch.  Reused across any number of calls;
 * not thread-safe (one call at a time per workspace). */
typedef struct myo_attention_work myo_attention_work;

/* A workspace for batch sequences of n tokens in the given form; cfg is
 * copied.  Memory, in floats (N = B n):
 *   both forms      5 N D: copies of X, Q, K, V and O
 *   materialized    + B H n^2 (P of every head) + n^2 (one head's dP, at
 *                   the first backward)
 *   tiled           + B H n (logsumexp) + 2 tile_q tile_k + 2 tile_q
 *   at the first backward, both forms add 3 N D (dQ, dK, dV) + n.
 * Errors: as myo_attention_check, or MYO_ERR_ARG for an unknown form or
 * sizes beyond BLAS's int (B n, or n^2 for the materialized form);
 * MYO_ERR_NOMEM.  Local. */
myo_status myo_attention_work_create(const myo_attention_config *cfg, myo_attention_form form,
                                     int64_t n, int64_t batch, myo_attention_work **out);
void myo_attention_work_destroy(myo_attention_work **w);

/* The phase timings of the last forward and backward on w.  Local. */
void myo_attention_work_times(const myo_attention_work *w, myo_phase_times *out);
/* Bytes the workspace holds now (its forward cache, plus the backward
 * scratch once backward has run). */
size_t myo_attention_work_bytes(const myo_attention_work *w);
myo_attention_form myo_attention_work_form(const myo_attention_work *w);
/* The tiles in use (MYO_ATTN_TILED; for the materialized form both are n). */
void myo_attention_work_tiles(const myo_attention_work *w, int64_t *tile_q, int64_t *tile_k);

/* The cost (myo_cost) of myo_attention_forward_f32 and
 * myo_attention_backward_f32 on a workspace of (cfg, form, n, batch).  Per
 * sequence, times batch, with c = 1, or (n + 1) / (2 n) when causal (the
 * share of the n^2 query-key pairs a causal query sees) and f = 4 bytes:
 *   projections  forward 8 n D^2 (Q, K, V, Wo), backward 16 n D^2
 *   mixing
 *       forward   c (4 n^2 D (Q K^T, P V) + 5 H n^2 (softmax: max,
 *                 subtract, exp, sum, scale))
 *       backward  2 n D + c (8 n^2 D (dV, dP, dQ, dK) + 2 H n^2 (dS));
 *                 tiled + c (2 n^2 D + 2 H n^2) (S and P recomputed)
 *       (the causal count is the useful work: the materialized form
 *       multiplies the masked half too)
 *   bytes   forward f (6 n D + 2 D r + 4 D^2), materialized + f 2 H n^2 (P
 *           written and read); backward twice the forward.  r: the K and
 *           V rows the query blocks read, n per block of tile_q rows (the
 *           tiles in use, myo_attention_work_tiles: cfg's or the defaults
 *           clamped to n; n for the materialized form), with causal only
 *           the rows up to each block's last query
 *   work    myo_attention_work_bytes after a backward
 * Errors: as myo_attention_check; MYO_ERR_ARG for an unknown form or a
 * NULL out.  Local. */
myo_status myo_attention_cost(const myo_attention_config *cfg, myo_attention_form form, int64_t n,
                              int64_t batch, myo_cost *out);

/* Y = attention(X).  x (B, n, D) and y (B, n, D), borrowed; y may equal x
 * (x is copied into the workspace first).  Fills w's cache for the next
 * backward.  Errors: MYO_ERR_ARG for a NULL pointer.  Local. */
myo_status myo_attention_forward_f32(myo_attention_work *w, const myo_qkvo_weights_f32 *wts,
                                     const float *x, float *y);

/* Gradients of a loss given dL/dY = dy (B, n, D), for the inputs of the
 * last forward with w, which must have used the same weights wts.  dx
 * (B, n, D) and the four (D, D) arrays of g are overwritten (the weights'
 * gradients are summed over the batch); dx serves as scratch meanwhile, so
 * it must not overlap dy.  The first call allocates the backward scratch
 * (see myo_attention_work_create).  Errors: MYO_ERR_ARG for a NULL pointer,
 * overlapping dx and dy, or no forward before; MYO_ERR_NOMEM.  Local. */
myo_status myo_attention_backward_f32(myo_attention_work *w, const myo_qkvo_weights_f32 *wts,
                                      const float *dy, float *dx, const myo_qkvo_grads_f32 *g);

/* Frozen reference twin: plain double loops, no BLAS, the n x n softmax of
 * every head formed naively (memory O(B H n^2 + B n D)); the tiles in cfg are
 * ignored.  x, y (B, n, D); y may equal x.  Local. */
myo_status myo_attention_forward_ref(const myo_attention_config *cfg, int64_t n, int64_t batch,
                                     const myo_qkvo_weights_f64 *wts, const double *x, double *y);

/* Its backward, from the textbook softmax Jacobian (dS = P .* (dP -
 * rowsum(P .* dP))), recomputing the forward: dy (B, n, D) in; dx (B, n, D)
 * and g overwritten.  dx may equal dy.  Local. */
myo_status myo_attention_backward_ref(const myo_attention_config *cfg, int64_t n, int64_t batch,
                                      const myo_qkvo_weights_f64 *wts, const double *x,
                                      const double *dy, double *dx, const myo_qkvo_grads_f64 *g);

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_ATTENTION_H */
