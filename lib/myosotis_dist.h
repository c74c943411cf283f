/*
 * myosotis_dist.h -- the distributed (MPI) layer, included by myosotis.h.
 *
 * Every call here takes the communicator it works on (never
 * MPI_COMM_WORLD) and says whether it is Collective on it.  While a call
 * runs, the communicator's error handler is MPI_ERRORS_RETURN (the
 * caller's handler is restored before returning), so MPI failures come
 * back as MYO_ERR_MPI instead of aborting.  Invalid input on any rank is
 * agreed on (one MPI_Allreduce) before any data moves: every rank then
 * returns the same error, and no rank is left waiting.  They never print
 * and never exit.
 */
#ifndef MYOSOTIS_DIST_H
#define MYOSOTIS_DIST_H

#include "myosotis.h"

#include <mpi.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The selective scan of myo_ssm_scan_f32 on one sequence whose time steps
 * are split over the ranks of comm in rank order: rank r holds the
 * n_local consecutive steps that follow those of ranks 0 .. r-1.
 *
 * Per rank, with the letters of myo_ssm_scan_f32 (n = n_local):
 *     u, delta, y (n_local, channels); b, c (n_local, d_state)  this rank's steps
 *     a (channels, d_state), d_skip (channels) or NULL          the same on every rank
 *     h (channels, d_state)
 * h: on entry, rank 0's h is the initial state h0 of the sequence (the
 * other ranks' h is only written); on return, every rank's h is the state
 * after its own last step -- so the last rank (size - 1) holds the final
 * state of the whole sequence, and a rank without steps returns the state
 * it received.  y must not overlap the inputs.  All borrowed.
 *
 * n_local = 0 is allowed on any rank (u, delta, b, c, y may then be NULL);
 * channels and d_state must agree on all ranks.
 *
 * Method: (1) each rank scans its steps from h = 0 into y, which gives the
 * segment's affine map h_end = A_seg h_in + B_seg per (channel, state) with
 * A_seg = exp(a sum_t delta[t]) (rank 0, knowing h0, scans from it and
 * sends the constant map (0, h_end)); (2) MPI_Exscan of the maps with a
 * non-commutative user op composes them in rank order into each rank's
 * incoming state; (3) each rank other than 0 rescans its steps from that
 * state into y.  Cost per rank: two local scans + O(log P) messages of
 * 2 channels d_state values; the result matches the serial scan to
 * rounding (the incoming states go through the composed maps).
 *
 * Errors, on every rank alike: MYO_ERR_ARG for a NULL array, a negative
 * n_local, a size < 1, channels or d_state differing between ranks, or
 * 2 channels d_state beyond INT_MAX; MYO_ERR_DATA for an a > 0 or a
 * delta < 0 or NaN on any rank; MYO_ERR_NOMEM.  The detail message names
 * the first failing rank.  On an agreed error h is unchanged and y may
 * have been overwritten.  MYO_ERR_MPI when an MPI call fails (then the
 * ranks may disagree).  Collective on comm. */
myo_status myo_ssm_scan_dist_f32(MPI_Comm comm, int64_t n_local, int64_t channels, int64_t d_state,
                                 const float *u, const float *delta, const float *a, const float *b,
                                 const float *c, const float *d_skip, float *h, float *y);

/* The same in double through myo_ssm_scan_ref (the oracle's local scan;
 * A_seg in double).  Collective on comm. */
myo_status myo_ssm_scan_dist_ref(MPI_Comm comm, int64_t n_local, int64_t channels, int64_t d_state,
                                 const double *u, const double *delta, const double *a,
                                 const double *b, const double *c, const double *d_skip, double *h,
                                 double *y);

/* The backward of myo_ssm_scan_dist_f32: the gradients of
 *     L = sum dy .* y + sum dh_final .* h_final
 * (myo_ssm_scan_backward_f32's loss) for the sequence split over the ranks
 * of comm as in the forward, each rank holding its own slices.
 *
 * Per rank (n = n_local):
 *     u, delta, dy, du, ddelta (n_local, channels);
 *     b, c, db, dc (n_local, d_state)                      this rank's steps
 *     a, da (channels, d_state); d_skip (channels) or NULL; dd_skip (channels)
 *     h0: rank 0's initial state (channels, d_state); not read elsewhere (may be NULL)
 *     dh_final (channels, d_state): the last rank's (size - 1) dL/d(final
 *         state); not read elsewhere (may be NULL)
 *     dh (channels, d_state): on return, dL/d(the state entering this
 *         rank's segment) -- dL/dh0 on rank 0
 * du, ddelta, db, dc receive this rank's slices of the serial gradients;
 * da and dd_skip the totals over all ranks, on every rank (dd_skip is the
 * gradient at d_skip = 0 when d_skip is NULL).  Inputs are read only, as
 * in the forward; outputs are overwritten and must not overlap the inputs.
 * All borrowed.  n_local = 0 is allowed on any rank (the step arrays may
 * then be NULL); channels and d_state must agree on all ranks.
 *
 * Method.  The adjoint runs backwards in time: dL/dh before a segment is
 * affine in dL/dh after it, dh_in = A_seg dh_out + G_seg, with A_seg the
 * forward's exp(a sum_t delta[t]) and G_seg the local backward from
 * dh_out = 0 (it does not depend on the forward states).  (1) Locally:
 * the forward segment map (as myo_ssm_scan_dist_f32, one local scan) and
 * the adjoint map (one local backward; the last rank, knowing dh_final,
 * makes the constant map (0, dh_in)); (2) the ranks agree on errors;
 * (3) MPI_Exscan of the forward maps gives each rank its incoming state,
 * and MPI_Exscan of the adjoint maps (the same non-commutative compose op)
 * on a communicator with the ranks in reverse order, made by one
 * MPI_Comm_split (key size - 1 - rank) per call and freed before return,
 * gives each rank its dh_out; (4) a local backward from that state and
 * that dh_out (myo_ssm_scan_backward_f32, which recomputes the forward
 * states from it); (5) one MPI_Allreduce sums da and dd_skip.  Cost per
 * rank: one local scan + two local backwards (each with its forward
 * recompute), O(log P) messages of 2 channels d_state values per scan,
 * one comm split and one allreduce of channels (d_state + 1) + 1 values.
 *
 * Errors, on every rank alike: as myo_ssm_scan_dist_f32 (NULL arrays as
 * above: da, dd_skip, dh and a always required); on an agreed error the
 * outputs may have been overwritten.  MYO_ERR_MPI when an MPI call fails.
 * Collective on comm. */
myo_status myo_ssm_scan_dist_backward_f32(MPI_Comm comm, int64_t n_local, int64_t channels,
                                          int64_t d_state, const float *u, const float *delta,
                                          const float *a, const float *b, const float *c,
                                          const float *d_skip, const float *h0, const float *dy,
                                          const float *dh_final, float *du, float *ddelta,
                                          float *da, float *db, float *dc, float *dd_skip,
                                          float *dh);

/* The same in double through myo_ssm_scan_backward_ref (the oracle's local
 * backward).  Collective on comm. */
myo_status myo_ssm_scan_dist_backward_ref(MPI_Comm comm, int64_t n_local, int64_t channels,
                                          int64_t d_state, const double *u, const double *delta,
                                          const double *a, const double *b, const double *c,
                                          const double *d_skip, const double *h0, const double *dy,
                                          const double *dh_final, double *du, double *ddelta,
                                          double *da, double *db, double *dc, double *dd_skip,
                                          double *dh);

/* ---------------------------------------------------- ring attention */

/* Exact softmax attention (myosotis_attention.h: the tiled form's
 * function, letters D, H, d there) of one sequence whose tokens are split
 * over the ranks of comm in rank order: rank r holds the n_local
 * consecutive rows that follow those of ranks 0 .. r-1 (any split, n_local
 * = 0 included; the total must be >= 1).  The weights are replicated: each
 * rank passes the same Wq, Wk, Wv, Wo.
 *
 * Method (Ring Attention over FlashAttention-2's block kernels): Q, K, V
 * and the output projection are local GEMMs on the rank's rows.  Forward:
 * the K/V block travels round the ring (to rank + 1, from rank - 1) for
 * size - 1 steps, double-buffered: the MPI_Isend / MPI_Irecv of the next
 * block are in flight while the block in hand is folded into the running
 * max and sum of every local query row; the logsumexp is kept for the
 * backward.  Backward: K and V travel again the same way, dQ accumulates
 * locally, and each block's partial dK, dV follow it one step behind (a
 * rank computes its contribution into a zeroed buffer while the partial
 * from rank - 1 is in flight, then adds it and sends the sum on); after
 * the full ring dK, dV reach their owners; P is recomputed from the
 * logsumexp.  The weights' gradients are summed by one MPI_Allreduce.
 * Causal attention is supported: key blocks wholly in a query block's
 * future are skipped (they still travel).  Per rank and step: messages of
 * 2 n_max D floats (forward) and 4 n_max D floats (backward), n_max the
 * largest n_local.  Messages use tags 0x6d79 .. 0x6d7a on comm; do not have
 * receives with MPI_ANY_TAG pending on comm meanwhile. */
typedef struct myo_attention_ring_work myo_attention_ring_work;

/* A workspace for this rank's n_local >= 0 rows; cfg is copied (its tiles
 * apply to the local blocks).  Memory, in floats: 5 n_local D (X, Q, K,
 * V, O) + 2 H n_local + 2 tile_q tile_k; each call adds its ring buffers
 * (forward 4 n_max D, backward 8 n_max D + 3 n_local D + H n_local) for
 * the call's duration.  Errors: as myo_attention_check (with n = 1,
 * batch = 1), MYO_ERR_ARG for n_local < 0 or n_local D beyond INT_MAX;
 * MYO_ERR_NOMEM.  Local. */
myo_status myo_attention_ring_work_create(const myo_attention_config *cfg, int64_t n_local,
                                          myo_attention_ring_work **out);
void myo_attention_ring_work_destroy(myo_attention_ring_work **w);

/* Y = attention(X) for this rank's rows: x, y (n_local, D), borrowed
 * (NULL allowed where n_local = 0); y may equal x.  Fills w for the next
 * backward.  Errors, on every rank alike (one MPI_Allreduce agrees on them
 * before any data moves; the detail names the first failing rank):
 * MYO_ERR_ARG for a NULL workspace, weight, x or y, a comm that is NULL or
 * an inter-communicator, D, H or causal differing between ranks, no rows
 * at all, or 4 n_max D or 4 D^2 beyond INT_MAX; MYO_ERR_NOMEM (a
 * second MPI_Allreduce agrees on the ring buffers' allocation).  MYO_ERR_MPI when an
 * MPI call fails (then the ranks may disagree).  Collective on comm. */
myo_status myo_attention_ring_forward_f32(MPI_Comm comm, myo_attention_ring_work *w,
                                          const myo_qkvo_weights_f32 *wts, const float *x,
                                          float *y);

/* Gradients given dL/dY = dy (n_local, D) for this rank's rows, after a
 * forward with w on the same comm and weights: dx (n_local, D) receives
 * this rank's rows of dL/dX, and the four (D, D) arrays of g the totals
 * over the whole sequence, on every rank.  dx is scratch meanwhile and
 * must not overlap dy.  Errors, on every rank alike: as the forward, and
 * MYO_ERR_ARG for a NULL gradient array, overlapping dx and dy, or no
 * forward with w before.  Collective on comm. */
myo_status myo_attention_ring_backward_f32(MPI_Comm comm, myo_attention_ring_work *w,
                                           const myo_qkvo_weights_f32 *wts, const float *dy,
                                           float *dx, const myo_qkvo_grads_f32 *g);

/* ------------------------------------------------ distributed tree solve */

/* Layout.  The nodes of the tree t are split over the ranks of comm by
 * contiguous ranges of pre-order positions (myo_tree_preorder: position p
 * holds node order[p]): rank r owns the positions [lo_r, hi_r), with
 * lo_0 = 0, lo_r = hi_{r-1} and hi_{size-1} = N (empty ranges allowed).
 * Every rank holds the whole tree (the same parent array) and the
 * coefficients diag, up, down (N,) of all nodes in the tree's labels, and
 * the right-hand-side rows of its own positions only, in position order:
 * rhs (hi - lo, m) row-major, row p - lo holding node order[p].  A subtree
 * is a contiguous range of positions, so each rank owns whole subtrees
 * except along the path from a root to position hi.
 *
 * off (size + 1) receives an even split: off[r] = floor(n r / size); rank r
 * owns [off[r], off[r + 1]).  MYO_ERR_ARG for n < 0, size < 1, NULL.
 * Local. */
myo_status myo_dist_even_ranges(int64_t n, int size, int64_t *off);

/* Copy the rows of the positions [lo, hi) between a (N, m) array in the
 * tree's labels (global) and the rank's (hi - lo, m) array in position
 * order (local); to_labels writes only those rows of global.  MYO_ERR_ARG
 * for a NULL tree or array, a bad range or m < 1.  Local. */
myo_status myo_dist_rows_from_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                     const double *global, double *local);
myo_status myo_dist_rows_to_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                   const double *local, double *global);

/* Solve op(M) Y = R (DESIGN.md section 1; op = MYO_OP_T solves with M^T)
 * for the layout above: rhs (hi - lo, m) holds this rank's rows of R on
 * entry and of Y on return.  diag, up, down (N,) borrowed, the same on
 * every rank (not checked beyond N).
 *
 * Method.  (1) Locally: the interface of a rank is the path of ancestors
 * of position hi inside [lo, hi) and the nodes whose parent lies before lo;
 * every other local node has its whole subtree local and is eliminated
 * into its parent (children first, in double).  The path is then
 * compressed: a path node below the path's top with no child on a higher
 * rank has exactly two neighbours left (its current parent and its path
 * child) and is eliminated with a fill edge between them.  The kept nodes
 * (myo_dist_solve_kept_nodes: 2 per rank on a chain, O(height) on a
 * balanced hierarchy) form a forest.  (2) One MPI_Allgather agrees on
 * errors, ranges and kept counts; two MPI_Gatherv bring the kept nodes
 * (position, reduced parent, pivot, couplings, rhs row) to rank 0, which
 * solves them with myo_factor_create_f64 / myo_solve_f64; an MPI_Bcast
 * shares its status and an MPI_Scatterv returns the solutions.  (3) Each
 * rank back-substitutes its compressed path nodes (bottom up) and its
 * other nodes (parents first).  O(1) collectives, O(log P) message rounds
 * inside them; the work is O(N m / P + N) per rank plus O(K m) on rank 0
 * (K the total of kept nodes).  Results equal the serial solve to
 * rounding (the pivots of path nodes are those of another elimination
 * order).
 *
 * Errors, on every rank alike: MYO_ERR_ARG for a NULL tree or array (rhs
 * may be NULL where hi = lo), m < 1, a bad op, ranges that do not tile
 * [0, N) in rank order, m or N differing between ranks, a reduced system
 * beyond INT_MAX doubles, or an inter-communicator; MYO_ERR_DATA for a
 * non-finite coefficient of an owned node; MYO_ERR_SINGULAR for a zero
 * or non-finite pivot on any rank or in the reduced system; MYO_ERR_NOMEM.
 * The detail names the first failing rank.  On an error rhs may have been
 * overwritten.  MYO_ERR_MPI when an MPI call fails (then the ranks may
 * disagree).  Collective on comm. */
myo_status myo_solve_dist_f64(MPI_Comm comm, const myo_tree *t, const double *diag,
                              const double *up, const double *down, int64_t lo, int64_t hi,
                              myo_op op, double *rhs, int64_t m);

/* The number of nodes the rank owning [lo, hi) contributes to the reduced
 * system of myo_solve_dist_f64 (-1 for a bad range or no memory).  Local. */
int64_t myo_dist_solve_kept_nodes(const myo_tree *t, int64_t lo, int64_t hi);

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_DIST_H */
