/*
 * myosotis_layer.h -- the Myosotis layer (docs/design.md section 2): tokens mix
 * through the inverse of a tree-structured matrix, every output a convex
 * combination of all values, in O(N D) per sequence.
 *
 * Dimension letters, used in every shape below:
 *     B  sequences in a batch
 *     n  tokens of a sequence, myo_tree_num_tokens(tree)
 *     N  nodes of the tree, myo_tree_num_nodes(tree): the n tokens (labels
 *        0 .. n-1) and, in kary hierarchies, N - n virtual internal nodes
 *        (labels n .. N-1) whose features are the mean of their children's
 *     D  model width (d_model);  H  heads;  d = D / H  head width
 * All arrays are row-major; a (B, n, D) array holds B sequences of n rows
 * of D features, a weight W (D, D) maps a row x to x W.
 *
 * The layer, per sequence (X_all: the n token rows then the virtual rows):
 *     Q = X_all Wq,  K = X_all Wk,  V = X_all Wv                (N, D)
 *     per head h, on the channels [h d, (h + 1) d), and each tree edge
 *     (i, p = parent(i)):
 *         s_up[i] = <q_i, k_p> / sqrt(d),   w_up[i] = softplus(s_up[i])
 *         s_down[i] = <q_p, k_i> / sqrt(d), w_down[i] = softplus(s_down[i])
 *         M_h = I + L: diag[i] = 1 + w_up[i] (i not a root) + sum over the
 *         children c of i of w_down[c], up[i] = -w_up[i], down[i] = -w_down[i]
 *         Y_h = M_h^{-1} V_h
 *     out = Y[token rows] Wo                                      (n, D)
 * Direction MYO_DIR_UP sets w_down = 0, MYO_DIR_DOWN sets w_up = 0.
 *
 * All calls here are Local (no MPI communication).  They never print and
 * never exit; failures return a myo_status with a detail message
 * (myo_error_detail()).
 */
#ifndef MYOSOTIS_LAYER_H
#define MYOSOTIS_LAYER_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MYO_DIR_BOTH = 0, /* the default: a node mixes its ancestors and its descendants */
    MYO_DIR_UP = 1,   /* w_down = 0: a node mixes only its ancestors (a chain: a gated scan) */
    MYO_DIR_DOWN = 2  /* w_up = 0: a node mixes only its descendants */
} myo_layer_direction;

/* The shape of a layer; a zero-initialised direction is MYO_DIR_BOTH. */
typedef struct {
    int64_t d_model; /* D >= 1 */
    int64_t heads;   /* H >= 1, dividing D */
    myo_layer_direction direction;
} myo_layer_config;

/* Local.  MYO_OK when cfg describes a layer (D >= 1, H >= 1, H divides D,
 * a known direction); MYO_ERR_ARG naming the problem otherwise. */
myo_status myo_layer_config_check(const myo_layer_config *cfg);

/* ------------------------------------------------------------ workspace */

/* Everything a layer needs besides its parameters, for one tree, one
 * configuration and up to max_batch sequences: what forward keeps for
 * backward, the scratch of both passes and one multi-head factor (the
 * pivots of the H matrices) per sequence.  Forward and backward then
 * allocate nothing, except the first backward, which allocates its
 * one-sequence scratch once.
 *
 * Kept by forward, per sequence (read by backward, which leaves them
 * intact, so backward may run several times per forward):
 *     X_all (N, D)   the token rows and the pooled virtual rows
 *     Q, K  (N, D)   the projections
 *     Y     (N, D)   the mixed values, all heads (V is solved in place:
 *                    backward needs no V, since dV = G)
 *     s_up, s_down (N, H)   the scores (backward needs softplus' = sigmoid)
 *     the factor         the pivots of M_h, for the transposed solve
 * Recomputed by backward: nothing of the forward pass; its scratch is
 * G (N, D), dQ, dK (N, D) and the virtual rows of dX ((N - n), D), for one
 * sequence at a time.
 * Memory: about (4 max_batch + 3) N D + (N - n) D floats, plus
 * O(max_batch N H) for the scores and factors: O(N D) per sequence
 * (myo_layer_work_bytes).
 *
 * tree is borrowed: destroy the workspace first.  Local. */
typedef struct myo_layer_work myo_layer_work;

/* Local.  MYO_ERR_ARG for a NULL argument, a bad configuration or
 * max_batch < 1; MYO_ERR_NOMEM. */
myo_status myo_layer_work_create(const myo_tree *tree, const myo_layer_config *cfg,
                                 int64_t max_batch, myo_layer_work **out);
/* Local.  NULL-safe; sets *ws = NULL. */
void myo_layer_work_destroy(myo_layer_work **ws);
/* Local.  The phase timings of the last forward and backward on ws. */
void myo_layer_work_times(const myo_layer_work *ws, myo_phase_times *out);
/* Local.  Bytes the workspace holds now: its buffers (with the backward
 * scratch once a backward ran) plus the factors (myo_factor_bytes). */
size_t myo_layer_work_bytes(const myo_layer_work *ws);

/* Local.  The cost (myo_cost) of myo_layer_forward_f32 and
 * myo_layer_backward_f32 on batch sequences, on a tree of this shape
 * (myo_tree_shape_of(tree), or myo_tree_shape_kary / _chain / _heap
 * before the tree exists).  Per sequence, times batch, with E edges, v
 * virtual nodes, cv nodes whose parent is virtual (myo_tree_shape), s = 2
 * score directions (1 for MYO_DIR_UP or MYO_DIR_DOWN) and f = 4 bytes:
 *   projections (GEMMs of 2 rows D^2 flops each)
 *       forward   2 D^2 (3 N + n): Q, K, V on the N rows of X_all, Wo on
 *                 the n token rows
 *       backward  2 D^2 (6 N + 2 n): dWo and dY on n rows; dWq, dWk, dWv
 *                 and the three products of dX_all on N rows
 *   mixing
 *       forward   2 s E D (scores: a dot of d per edge, direction and head)
 *                 + 4 N D (tree solve) + D (v + cv) (pooling)
 *       backward  4 N D (transposed solve) + 7 s E D (score gradients: per
 *                 edge, direction and head a dot of differences, 3 d, and
 *                 two axpy, 4 d) + 2 D cv (pooling adjoint)
 *   bytes   forward f (2 n D + 4 N D + 4 N H + 4 D^2),
 *           backward f (2 n D + 6 N D + 4 N H + 8 D^2)
 *   work    myo_layer_work_bytes of a workspace created with max_batch =
 *           batch, after a backward (forward cache, backward scratch and
 *           the batch factors of H heads)
 * MYO_ERR_ARG for a NULL pointer, a shape myo_tree_shape_check refuses, a
 * configuration myo_layer_config_check refuses, or batch < 1. */
myo_status myo_layer_cost(const myo_tree_shape *shape, const myo_layer_config *cfg, int64_t batch,
                          myo_cost *out);

/* ------------------------------------------------------ float32 passes */

/* Local.  y (batch, n, D) = the layer applied to x (batch, n, D), each
 * sequence on ws's tree; 1 <= batch <= max_batch.  x and y are borrowed
 * and must not overlap.  Keeps what backward needs in ws.
 * MYO_ERR_ARG for NULL arguments or a bad batch; MYO_ERR_DATA or
 * MYO_ERR_SINGULAR from the solver when x or the weights are not finite.
 * Finite inputs do not fail and give no Inf or NaN: softplus saturates,
 * and the solver takes the edge weights in Laplacian form
 * (myo_refactor_laplacian_f32), whose pivots are sums of positive terms,
 * >= 1, so each output is a bounded average of the values.
 * Accuracy: float32 throughout, within 1e-4 relative of the double
 * reference, in every direction and at any score (tested up to ~1e7,
 * where a float diagonal 1 + sum of weights would have lost the 1). */
myo_status myo_layer_forward_f32(myo_layer_work *ws, const myo_qkvo_weights_f32 *w, int64_t batch,
                                 const float *x, float *y);

/* Local.  From dy (batch, n, D), the gradient of a loss with respect to
 * forward's y, writes dx (batch, n, D) and the weight gradients in dw (each
 * (D, D), summed over the batch); all are overwritten.  w and batch must be
 * those of the last successful forward on ws (MYO_ERR_ARG when batch
 * differs or no forward ran).  dy, dx and the gradients must not overlap. */
myo_status myo_layer_backward_f32(myo_layer_work *ws, const myo_qkvo_weights_f32 *w, int64_t batch,
                                  const float *dy, float *dx, const myo_qkvo_grads_f32 *dw);

/* Local.  The coefficients of the H matrices M_h of one sequence, laid out
 * for myo_factor_create_heads_f32 / myo_refactor_f32: from q, k (N, D) --
 * head h on channels [h d, (h + 1) d) -- writes diag, up, down (N, H) and,
 * when not NULL, the scores s_up, s_down (N, H).  At roots up = down =
 * s_up = s_down = 0; with MYO_DIR_UP down = s_down = 0, with MYO_DIR_DOWN
 * up = s_up = 0; diag = 1 + w_up + the children's w_down is summed in
 * double, then rounded.  The edge weights come from the code forward uses;
 * forward itself hands them to the solver in Laplacian form
 * (myo_refactor_laplacian_f32) and never forms diag, which in float loses
 * the identity once the weights reach ~1e7.  Allocates an (N, H) double
 * scratch.
 * MYO_ERR_ARG for NULL arguments or a bad configuration. */
myo_status myo_layer_coefficients_f32(const myo_tree *tree, const myo_layer_config *cfg,
                                      const float *q, const float *k, float *diag, float *up,
                                      float *down, float *s_up, float *s_down);

/* --------------------------------------------- frozen reference (double) */

/* Local.  The oracle: the same layer in plain double loops, no BLAS and
 * no library solver.  It pools the virtual rows in an order found by
 * itself (depths from the parent links), forms each head's dense N x N
 * matrix M_h and solves with Gaussian elimination with partial pivoting.
 * O(B H N^3) time and O(N^2) memory: small trees only (N <= 4096, else
 * MYO_ERR_ARG).  Shapes and errors as myo_layer_forward_f32. */
myo_status myo_layer_forward_ref(const myo_tree *tree, const myo_layer_config *cfg,
                                 const myo_qkvo_weights_f64 *w, int64_t batch, const double *x,
                                 double *y);

/* Local.  The gradients of the reference: it recomputes the forward pass
 * and backpropagates through the dense matrices (G = M^{-T} dY, dM =
 * -G Y^T, then dw_up[i] = dM[i][i] - dM[i][p], dw_down[i] = dM[p][p] -
 * dM[p][i]).  Shapes as myo_layer_backward_f32; x as given to forward. */
myo_status myo_layer_backward_ref(const myo_tree *tree, const myo_layer_config *cfg,
                                  const myo_qkvo_weights_f64 *w, int64_t batch, const double *x,
                                  const double *dy, double *dx, const myo_qkvo_grads_f64 *dw);

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_LAYER_H */
