/*
 * myosotis_dist.h -- the distributed (MPI) layer: the one public header
 * that includes <mpi.h> (it includes myosotis.h).
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

/* ------------------------------------------------------ partitioning */

/* Layout.  The nodes of a tree t are split over the ranks of comm by
 * contiguous ranges of pre-order positions (myo_tree_preorder: position p
 * holds node order[p]): rank r owns the positions [off[r], off[r + 1]),
 * off[0] = 0, off[size] = N, empty ranges allowed.  A subtree is a
 * contiguous range of positions, so a rank owns whole subtrees except
 * along the path from a root to its range's end.  Every rank holds the
 * whole tree (the same parent array); arrays of a rank's nodes are in
 * position order ("local position" p - lo).
 *
 * The partitioners below are Local and deterministic: every rank computes
 * the same off (size + 1) and takes its own [off[rank], off[rank + 1]).
 * They return MYO_ERR_ARG for a NULL argument or size < 1, MYO_ERR_NOMEM,
 * and set *idle (when not NULL) to the number of empty ranges. */

/* off[r] = floor(n r / size): equal node counts.  Also MYO_ERR_ARG for
 * n < 0. */
myo_status myo_dist_even_ranges(int64_t n, int size, int64_t *off);

/* The leaf-range rule for hierarchies (kary trees, whose tokens are the
 * leaves, left to right in pre-order): the leaves are split evenly in
 * pre-order (rank r gets leaves floor(L r / size) .. floor(L (r+1) / size)
 * - 1), every node whose leaves all lie in one rank's leaves goes with
 * them, and a node spanning several ranks goes to the rank owning its
 * first (leftmost) leaf -- which keeps every range contiguous in
 * pre-order.  Leaves are the nodes without children; off[r] is 0 when
 * rank r's first leaf f_r is 0 and otherwise the position just after
 * leaf f_r - 1 (the topmost node whose leftmost leaf is leaf f_r).  A
 * rank without leaves owns nothing (so with one leaf, a chain, the last
 * rank owns everything). */
myo_status myo_dist_leaf_ranges(const myo_tree *t, int size, int64_t *off, int *idle);

/* Proportional mapping by work for arbitrary trees: the cut points are
 * the positions where the running work (pre-order prefix sums of work
 * (N,) by label, or 1 per node when work is NULL) crosses multiples of
 * total / size, so each subtree of work w gets about w size / total ranks
 * and each rank about total / size.  Exactly, in double: with S(p) the
 * work of the positions [0, p) and total = S(N), off[r] (0 < r < size) is
 * the smallest p with S(p) >= total r / size (N if none), so the node
 * whose work crosses a target stays on the lower rank and each rank's
 * work is at most total / size plus the largest single work.  total = 0
 * gives myo_dist_even_ranges(N, ...).  MYO_ERR_ARG also for a negative or
 * non-finite work (naming the node) or a total that overflows. */
myo_status myo_dist_work_ranges(const myo_tree *t, int size, const double *work, int64_t *off,
                                int *idle);

/* Copy the rows of the positions [lo, hi) between a (N, m) array in the
 * tree's labels (global) and the rank's (hi - lo, m) array in position
 * order (local); to_labels writes only those rows of global.  MYO_ERR_ARG
 * for a NULL tree or array, a bad range or m < 1.  Local. */
myo_status myo_dist_rows_from_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                     const double *global, double *local);
myo_status myo_dist_rows_to_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                   const double *local, double *global);

/* ------------------------------------------------ distributed tree solve */

/* A plan for solving, on the layout above, H matrices op(M_h) on one tree
 * (docs/design.md section 1) in one precision, many times: the structure of the
 * distributed elimination of this rank, its local pivots after the last
 * refactor, and message counters.
 *
 * Method.  The local forest of a rank is its nodes with the edges into
 * its interface cut: the interface is the path (the ancestors of position
 * hi inside [lo, hi)) and the hanging nodes (whose parent lies before lo,
 * on a lower rank).  (1) The serial kernel (solve.c: factor, then pass 1)
 * eliminates every local subtree into its root.  (2) The path is
 * compressed: a path node other than its top with no child beyond hi has
 * two neighbours left and is eliminated with a fill edge between them; a
 * rank keeps O(height) interface nodes (2 on a chain), in double.  (3) A
 * binomial-tree gather (point-to-point, ceil(log2 P) rounds) brings every
 * rank's status and kept nodes (position, reduced parent, H pivots and
 * couplings, H m right-hand-side values) to rank 0, which solves the
 * reduced forest with the serial solver; a binomial-tree scatter
 * (ceil(log2 P) rounds) returns the verdict and the solutions of each
 * rank's kept nodes and of its hanging nodes' parents.  (4) Each rank
 * back-substitutes its compressed path nodes, its hanging nodes, and its
 * local subtrees (pass 2 of the serial kernel).  So one call is the
 * serial kernel's three sweeps on N / P nodes plus 2 ceil(log2 P) message
 * rounds; errors travel with the data, so a failure on any rank (a
 * singular pivot on rank 2) reaches every rank in the same call.  Results
 * equal the serial solve to rounding (interface pivots come from another
 * elimination order).
 *
 * The Laplacian form (myo_dist_refactor_laplacian_*) takes edge weights as
 * myo_refactor_laplacian_f32 does: local subtrees keep its cancellation-
 * free pivots; the interface is converted to the general form in double.
 *
 * Messages use tags 0x6d7b .. 0x6d7c on comm: do not have receives with
 * MPI_ANY_TAG pending on comm during a call. */
typedef struct myo_dist_plan myo_dist_plan;

/* Message counters of a plan since its creation. */
typedef struct {
    int64_t calls;    /* solves (each refactor with m > 0 counts as one) */
    int64_t rounds;   /* point-to-point rounds: 2 ceil(log2 P) per call */
    int64_t messages; /* messages this rank sent */
    int64_t bytes;    /* bytes this rank sent */
    int64_t kept;     /* this rank's kept interface nodes in the last call */
} myo_dist_stats;

/* Collective on comm: one MPI_Allgather checks that the ranges tile
 * [0, N) in rank order and that N, heads and precision agree.  t is
 * borrowed (destroy the plan first) and must be the same tree on every
 * rank.  Errors, on every rank alike: MYO_ERR_ARG (naming the first bad
 * rank), MYO_ERR_NOMEM; MYO_ERR_MPI. */
myo_status myo_dist_plan_create(MPI_Comm comm, const myo_tree *t, int64_t lo, int64_t hi,
                                int64_t heads, myo_precision precision, myo_dist_plan **out);
void myo_dist_plan_destroy(myo_dist_plan **p);

/* Local.  All ranks' ranges: off (size + 1), borrowed; this rank's local
 * forest (labels 0 .. hi - lo - 1 = local positions; the tree the "same
 * local work without communication" of a benchmark factors with the
 * serial solver); the counters. */
const int64_t *myo_dist_plan_offsets(const myo_dist_plan *p);
const myo_tree *myo_dist_plan_local_tree(const myo_dist_plan *p);
void myo_dist_plan_stats(const myo_dist_plan *p, myo_dist_stats *out);

/* Factor with this rank's coefficients -- diag, up, down (hi - lo, H) in
 * local position order, as myo_refactor_f32 takes them (up, down of a
 * root are ignored) -- then, when m > 0, solve op(M_h) Y_h = R_h in place:
 * rhs (hi - lo, H m), head h on the channels [h m, (h + 1) m) of each row.
 * rhs may be NULL when m = 0 or the range is empty.
 * Errors, on every rank alike: MYO_ERR_ARG for a NULL plan or array, m
 * < 0, a bad op, m differing between ranks, a plan of the other precision;
 * MYO_ERR_DATA for a non-finite coefficient; MYO_ERR_SINGULAR for a zero
 * or non-finite pivot on any rank or in the reduced system; MYO_ERR_NOMEM.
 * The detail names the rank that failed (on that rank: the node).  On an
 * error rhs may have been overwritten and the plan needs a refactor.
 * MYO_ERR_MPI when an MPI call fails (then the ranks may disagree).  With
 * m = 0 the factor is local: no messages, and no agreement on errors.
 * Collective on comm when m > 0. */
myo_status myo_dist_refactor_f32(MPI_Comm comm, myo_dist_plan *p, const float *diag,
                                 const float *up, const float *down, myo_op op, float *rhs,
                                 int64_t m);
myo_status myo_dist_refactor_f64(MPI_Comm comm, myo_dist_plan *p, const double *diag,
                                 const double *up, const double *down, myo_op op, double *rhs,
                                 int64_t m);
/* The same with edge weights w_up, w_down (hi - lo, H) >= 0 (the matrix I
 * + L of myo_refactor_laplacian_f32). */
myo_status myo_dist_refactor_laplacian_f32(MPI_Comm comm, myo_dist_plan *p, const float *w_up,
                                           const float *w_down, myo_op op, float *rhs, int64_t m);
myo_status myo_dist_refactor_laplacian_f64(MPI_Comm comm, myo_dist_plan *p, const double *w_up,
                                           const double *w_down, myo_op op, double *rhs,
                                           int64_t m);
/* Solve again with the last refactor's matrices (op N or T), m >= 1.
 * Errors as the refactor, and MYO_ERR_ARG when the plan holds no valid
 * factor on some rank.  Collective on comm. */
myo_status myo_dist_solve_f32(MPI_Comm comm, myo_dist_plan *p, myo_op op, float *rhs, int64_t m);
myo_status myo_dist_solve_f64(MPI_Comm comm, myo_dist_plan *p, myo_op op, double *rhs, int64_t m);

/* Factor and solve once, without a plan (myo-solve's MPI path), on the
 * position-range layout above: every rank passes the coefficients diag,
 * up, down (N,) of all nodes in the tree's labels and its rows rhs
 * (hi - lo, m) in position order; a plan is made, used and destroyed.
 * Errors as myo_dist_plan_create and myo_dist_refactor_f64.  Collective on
 * comm. */
myo_status myo_factor_solve_ranges_f64(MPI_Comm comm, const myo_tree *t, const double *diag,
                                       const double *up, const double *down, int64_t lo, int64_t hi,
                                       myo_op op, double *rhs, int64_t m);

/* The number of interface nodes the rank owning [lo, hi) sends to rank 0
 * (its kept path nodes, ancestors of position hi, and a proxy per parent
 * of its hanging nodes, ancestors of position lo: at most the depths of
 * the nodes at lo and hi together; 2 on a chain, O(height) on any tree),
 * -1 for a bad range or no memory.  Local. */
int64_t myo_dist_solve_kept_nodes(const myo_tree *t, int64_t lo, int64_t hi);

/* ----------------------------------------- distributed Myosotis layer */

/* Sequence parallel: one sequence on the tree t (every rank holds it),
 * its nodes split over the ranks of comm by position ranges as above
 * (myo_dist_leaf_ranges for kary hierarchies).  A rank's tokens are the
 * token nodes (labels < myo_tree_num_tokens) among its positions, in
 * position order (for kary trees: a contiguous range of token labels);
 * x, y, dx, dy are (n_local, D) arrays of those rows.  The weights are
 * replicated; the weight gradients are summed over all ranks (one
 * MPI_Allreduce) and returned on every rank.  The result equals
 * myo_layer_forward_f32 / myo_layer_backward_f32 on the whole sequence to
 * float rounding.
 *
 * Method.  Every rank derives the same table T of shared nodes: the
 * virtual nodes whose subtree leaves their owner's range (ancestors of
 * range ends) and the cut parents (nodes with a child on another rank):
 * O(P height) rows for a kary hierarchy under myo_dist_leaf_ranges, at
 * most P - 1 for a chain.  Forward: local virtual rows are pooled
 * bottom-up; the rows of T from per-rank partial sums by one
 * MPI_Allreduce of |T| D floats, then finished bottom-up over T on every
 * rank, which then holds X, Q, K of T whole; scores of cut edges use the
 * parent's q, k from that table; the mixing is the distributed tree solve
 * (myo_dist_refactor_laplacian_f32, H heads, m = d).  Backward: the
 * transposed distributed solve (myo_dist_solve_f32, op T), one
 * MPI_Allreduce of [G | Y] of T (2 |T| D floats) for the edge gradients
 * of cut edges, and one MPI_Allreduce of the partial dX rows of T and the
 * four weight gradients (|T| D + 4 D^2 floats); the unpooling runs
 * top-down over T, then over the local rows.  Besides that, each pass
 * agrees on errors (one MPI_Allreduce of 2 long longs).  Work per rank:
 * the serial layer's on its nl = hi - lo rows plus O(|T| D^2); create
 * scans the whole tree once (O(N)).  Memory: about 9 nl D + 4 nl H +
 * 8 |T| D + 4 D^2 floats, all allocated by create. */
typedef struct myo_layer_dist_work myo_layer_dist_work;

/* Collective on comm (makes a myo_dist_plan).  t and cfg as
 * myo_layer_work_create (max_batch 1), the same on every rank; [lo, hi)
 * this rank's positions.  t is borrowed: destroy the workspace first.
 * Errors, on every rank alike: as myo_layer_work_create and
 * myo_dist_plan_create, MYO_ERR_ARG also when d_model, heads or direction
 * differ between ranks, or d_model > 23170 (4 D^2 floats in one MPI
 * message); MYO_ERR_MPI. */
myo_status myo_layer_dist_work_create(MPI_Comm comm, const myo_tree *t, const myo_layer_config *cfg,
                                      int64_t lo, int64_t hi, myo_layer_dist_work **out);
void myo_layer_dist_work_destroy(myo_layer_dist_work **w);
/* Local.  The rank's token rows n_local; its plan (counters). */
int64_t myo_layer_dist_local_tokens(const myo_layer_dist_work *w);
myo_dist_plan *myo_layer_dist_plan(myo_layer_dist_work *w);

/* Collective.  y (n_local, D) = the layer applied to the sequence whose
 * rows of this rank are x (n_local, D); x, y must not overlap (both may be
 * NULL where n_local = 0).  Errors on every rank alike (the detail names
 * the first failing rank): MYO_ERR_ARG for NULL arguments; MYO_ERR_DATA
 * for a non-finite x on any rank (checked before any data moves);
 * MYO_ERR_DATA / MYO_ERR_SINGULAR from the distributed solve; MYO_ERR_MPI
 * (then the ranks may disagree).  After an error backward refuses w until
 * the next successful forward. */
myo_status myo_layer_dist_forward_f32(MPI_Comm comm, myo_layer_dist_work *w,
                                      const myo_qkvo_weights_f32 *wts, const float *x, float *y);
/* Collective.  dx (n_local, D) and the total weight gradients g (each
 * (D, D), on every rank; overwritten) from dy (n_local, D), after a
 * successful forward with w and the same weights; backward leaves w's
 * forward state intact (it may run again).  dy, dx must not overlap.
 * Errors on every rank alike: MYO_ERR_ARG for NULL arguments or no
 * forward before on some rank; errors of the transposed solve;
 * MYO_ERR_MPI. */
myo_status myo_layer_dist_backward_f32(MPI_Comm comm, myo_layer_dist_work *w,
                                       const myo_qkvo_weights_f32 *wts, const float *dy,
                                       float *dx, const myo_qkvo_grads_f32 *g);

/* Data parallel: each rank holds its own sequences (its share of a global
 * batch) in its myo_layer_work; forward is local (the call only agrees on
 * errors), backward sums the weight gradients over all ranks' sequences
 * (one MPI_Allreduce of 4 D^2 floats) and returns them on every rank.
 * batch >= 0 per rank (0: a rank without sequences contributes zero
 * gradients; ws, x, y may then be NULL but D must still agree, given by
 * d_model, which must be ws's D where batch > 0: it is not checked against
 * ws).  Errors on every rank alike: MYO_ERR_ARG for d_model < 1 or
 * > 23170, differing d_model, batch < 0, NULL arguments; any error of
 * myo_layer_forward_f32 / myo_layer_backward_f32 on any rank (e.g. a
 * non-finite x); MYO_ERR_NOMEM; MYO_ERR_MPI.  Collective on comm. */
myo_status myo_layer_dp_forward_f32(MPI_Comm comm, myo_layer_work *ws, int64_t d_model,
                                    const myo_qkvo_weights_f32 *wts, int64_t batch,
                                    const float *x, float *y);
myo_status myo_layer_dp_backward_f32(MPI_Comm comm, myo_layer_work *ws, int64_t d_model,
                                     const myo_qkvo_weights_f32 *wts, int64_t batch,
                                     const float *dy, float *dx, const myo_qkvo_grads_f32 *g);

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_DIST_H */
