/*
 * myosotis_ssm.h -- the SSM baseline (docs/design.md section 5): a Mamba-style
 * selective-scan mixer, included by myosotis.h.
 *
 * Dimension letters, used in every shape below:
 *     B  sequences in a batch          n  tokens per sequence
 *     D  model width (d_model)         E  expansion (2), L = E D inner channels
 *     N  state size per channel (16)   R  rank of the step-size projection,
 *     K  causal convolution width (4)     ceil(D / 16)
 *     P = R + 2 N  columns of the x_proj output (dt_low, B, C)
 * All arrays are row-major; a weight W (a, b) maps a row x (a) to x W (b),
 * so every W here is the transpose of the matching PyTorch nn.Linear weight.
 *
 * The mixer, per sequence X (n, D), as Mamba's Mamba module (mamba_simple.py)
 * with selective_scan_ref (docs/design.md section 5.3):
 *     [x | z] = X W_in                                  (n, 2L): x, z (n, L)
 *     xc[t,c] = conv_b[c] + sum_k conv_w[c,k] x[t - (K-1) + k, c]   (x[<0] = 0)
 *     u = silu(xc)                                      (n, L)
 *     [dt_low | Bm | Cm] = u W_x                        (n, R), (n, N), (n, N)
 *     delta = softplus(dt_low W_dt + dt_bias)           (n, L)
 *     A = -exp(A_log)                                   (L, N)
 *     h_t[c,s] = exp(delta[t,c] A[c,s]) h_{t-1}[c,s] + delta[t,c] Bm[t,s] u[t,c],  h_{-1} = 0
 *     y[t,c] = sum_s Cm[t,s] h_t[c,s] + Dskip[c] u[t,c]
 *     out = (y .* silu(z)) W_out                        (n, D)
 * A is discretised by zero-order hold, B by Euler (delta B), as Mamba's
 * reference.  A < 0 and delta > 0 make every exp(delta A) lie in (0, 1], and
 * softplus, sigmoid and silu saturate, so finite inputs give no Inf or NaN
 * unless the values themselves overflow float.
 *
 * Parameters live in one flat array of myo_ssm_layout.count values, in this
 * order (offsets in myo_ssm_layout):
 *     w_in    (D, 2L)    columns [0, L) make x, [L, 2L) make z
 *     conv_w  (L, K)     tap k multiplies x[t - (K-1) + k]  (PyTorch's (L, 1, K))
 *     conv_b  (L)
 *     w_x     (L, P)     columns [0, R) dt_low, [R, R+N) Bm, [R+N, P) Cm
 *     w_dt    (R, L)
 *     dt_bias (L)
 *     a_log   (L, N)
 *     d_skip  (L)
 *     w_out   (L, D)
 * Gradients use the same layout.  No projection has a bias (Mamba's
 * defaults: bias = False, conv_bias = True).
 *
 * All calls here are Local (no MPI communication).  They never print and
 * never exit; failures return a myo_status with a detail message
 * (myo_error_detail()).
 */
#ifndef MYOSOTIS_SSM_H
#define MYOSOTIS_SSM_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Time steps per block of the optimised passes: the projections run as
 * GEMMs over the block's rows, the scan runs over the block for one group
 * of 8 channels at a time (their N x 8 states in registers and L1), and
 * forward saves the scan state at every block start for backward. */
#define MYO_SSM_BLOCK_DEFAULT 128

/* The shape of a mixer.  Set d_model and leave the rest 0 for Mamba's
 * defaults. */
typedef struct {
    int64_t d_model; /* D >= 1 */
    int64_t d_state; /* N; 0 = 16 */
    int64_t expand;  /* E; 0 = 2 */
    int64_t d_conv;  /* K; 0 = 4 */
    int64_t dt_rank; /* R; 0 = ceil(D / 16) */
    int64_t block;   /* time steps per block of the optimised passes; 0 = MYO_SSM_BLOCK_DEFAULT
                        (the results do not depend on it beyond rounding) */
} myo_ssm_config;

/* Offsets of each parameter in the flat array (see the top of this file),
 * the dimensions with the defaults filled in, and the total count. */
typedef struct {
    int64_t d_model, d_state, expand, d_conv, dt_rank, block; /* D, N, E, K, R, block */
    int64_t d_inner;                                          /* L = E D */
    int64_t w_in, conv_w, conv_b, w_x, w_dt, dt_bias, a_log, d_skip, w_out;
    int64_t count;
} myo_ssm_layout;

/* The layout of cfg's parameters.  MYO_ERR_ARG naming the problem for a
 * NULL pointer, D < 1, a negative field, or sizes beyond 2^24 (D, N, E, K, R,
 * block each) or 2^31 values in one weight.  Local. */
myo_status myo_ssm_layout_of(const myo_ssm_config *cfg, myo_ssm_layout *out);

/* MYO_OK when cfg is valid (as myo_ssm_layout_of) and n >= 1, batch >= 1;
 * MYO_ERR_ARG naming the problem otherwise.  Local. */
myo_status myo_ssm_check(const myo_ssm_config *cfg, int64_t n, int64_t batch);

/* Initialise params (layout.count values) as Mamba does: w_in U(+-1/sqrt D),
 * conv_w and conv_b U(+-1/sqrt K), w_x U(+-1/sqrt L), w_dt U(+-1/sqrt R),
 * dt_bias = softplus^-1(dt) with dt log-uniform in [0.001, 0.1], a_log[c,s] =
 * log(s + 1) (S4D-real: A = -(1 .. N)), d_skip = 1, w_out U(+-1/sqrt L).
 * The same rng state gives the same values in both precisions (the float
 * ones rounded from the double ones); rng advances.  Local. */
myo_status myo_ssm_params_init_f64(const myo_ssm_config *cfg, myo_rng *rng, double *params);
myo_status myo_ssm_params_init_f32(const myo_ssm_config *cfg, myo_rng *rng, float *params);

/* The workspace of the optimised passes for batch sequences of n tokens:
 * what forward keeps for backward, and the block scratch.  cfg is copied.
 * Reused across any number of calls; one call at a time per workspace.
 *
 * Forward keeps, per token, [x | z] (2L floats) and [dt_low | Bm | Cm]
 * (P floats), and per sequence the scan state h (L, N) at the start of
 * every block.  Backward recomputes from them, block by block in reverse:
 * the convolution and u, delta (one (T, R) x (R, L) GEMM and softplus), the
 * states h of the block (a forward scan from the saved block-start state,
 * kept for one group of 8 channels at a time), y and the gate.  The
 * (n, L, N) states are never stored whole.  Memory, in floats, with
 * T = min(block, n) and L8 = L rounded up to a multiple of 8:
 *     B n (2L + P) + B ceil(n / block) L8 N              kept by forward
 *     T (9L + P + 32N) + L8 (3N + 1) + L (3K - 1) + 8N   scratch
 * i.e. O(B n L) + O(T L + L N).  D = 256 with the defaults: 4544 bytes per
 * token (4096 of them [x | z], 256 block-start states) plus 2.8 MB.
 * Errors: as myo_ssm_check; MYO_ERR_NOMEM.  Local. */
typedef struct myo_ssm_work myo_ssm_work;
myo_status myo_ssm_work_create(const myo_ssm_config *cfg, int64_t n, int64_t batch,
                               myo_ssm_work **out);
/* Accepts NULL and sets *w to NULL.  Local. */
void myo_ssm_work_destroy(myo_ssm_work **w);
/* The phase timings of the last forward and backward on w (projection =
 * the GEMMs with W_in, W_x, W_dt, W_out and their gradients).  Local. */
void myo_ssm_work_times(const myo_ssm_work *w, myo_phase_times *out);
/* Bytes the workspace holds.  Local. */
size_t myo_ssm_work_bytes(const myo_ssm_work *w);

/* The cost (myo_cost) of myo_ssm_forward_f32 and myo_ssm_backward_f32 on
 * a workspace of (cfg, n, batch), from cfg's layout (myo_ssm_layout_of:
 * D, L, N, R, K, P = R + 2 N).  Per sequence, times batch, f = 4 bytes:
 *   projections
 *       forward   2 n (2 D L + L P + R L + L D): W_in, W_x, W_dt, W_out
 *       backward  2 n (6 D L + 2 L P + 3 R L): both gradients of each, and
 *                 dt_low W_dt recomputed
 *   mixing (the elementwise terms approximate)
 *       forward   7 n L N (scan) + n L (2 K + 14) (convolution, silu,
 *                 softplus, skip, gate)
 *       backward  26 n L N (states recomputed, reverse scan) + n L (6 K + 30)
 *   bytes   forward f n (2 D + 2 L + P), backward f n (2 D + 2 (2 L + P) + 2 L)
 *   work    myo_ssm_work_bytes (backward allocates nothing)
 * Errors: as myo_ssm_check; MYO_ERR_ARG for a NULL out.  Local. */
myo_status myo_ssm_cost(const myo_ssm_config *cfg, int64_t n, int64_t batch, myo_cost *out);

/* Y = mixer(X).  params (layout.count), x (B, n, D) and y (B, n, D),
 * borrowed; y must not overlap x.  Fills w's cache for the next backward.
 * Errors: MYO_ERR_ARG for a NULL pointer or overlapping x and y.  Local. */
myo_status myo_ssm_forward_f32(myo_ssm_work *w, const float *params, const float *x, float *y);

/* Gradients of a loss given dL/dY = dy (B, n, D), for the x and params of
 * the last forward with w (pass the same arrays, unchanged: backward reads x
 * again and recomputes from params).  dx (B, n, D) and dparams
 * (layout.count) are overwritten, not accumulated (the parameters'
 * gradients are summed over the batch); they must not overlap the inputs.
 * The cache is not consumed: backward may run again.  Errors: MYO_ERR_ARG
 * for a NULL pointer or no forward before.  Local. */
myo_status myo_ssm_backward_f32(myo_ssm_work *w, const float *params, const float *x,
                                const float *dy, float *dx, float *dparams);

/* Frozen reference twin: plain double loops, no BLAS; every intermediate,
 * including all the states h (n, L, N) of a sequence, is stored.  cfg's
 * block is ignored.  x, y (B, n, D); y may equal x.  Local. */
myo_status myo_ssm_forward_ref(const myo_ssm_config *cfg, int64_t n, int64_t batch,
                               const double *params, const double *x, double *y);

/* Its backward, recomputing the forward: dy (B, n, D) in; dx (B, n, D) and
 * dparams (layout.count) overwritten.  dx may equal dy.  Local. */
myo_status myo_ssm_backward_ref(const myo_ssm_config *cfg, int64_t n, int64_t batch,
                                const double *params, const double *x, const double *dy, double *dx,
                                double *dparams);

/* The selective scan alone, Mamba's selective_scan_ref on one sequence with
 * delta already through softplus and no gate:
 *     h[c,s] <- exp(delta[t,c] a[c,s]) h[c,s] + delta[t,c] b[t,s] u[t,c]
 *     y[t,c] = sum_s c[t,s] h[c,s] + d_skip[c] u[t,c]         for t = 0 .. n-1
 * u, delta, y (n, channels), every delta >= 0; a (channels, d_state), every
 * a <= 0; b, c (n, d_state); d_skip (channels) or NULL for 0; h (channels,
 * d_state) holds the initial state on entry and the final one on return (the
 * carry a segmented or distributed scan passes on).  y must not overlap the
 * inputs.  The f32 version computes exp(delta a) by a polynomial (within 1
 * ulp; 0 below e^-87).
 * Errors: MYO_ERR_ARG for a NULL pointer or a size < 1, MYO_ERR_DATA naming
 * an a > 0, a delta < 0 or a NaN in either.  The f32 version runs the
 * mixer's kernel.  Local. */
myo_status myo_ssm_scan_f32(int64_t n, int64_t channels, int64_t d_state, const float *u,
                            const float *delta, const float *a, const float *b, const float *c,
                            const float *d_skip, float *h, float *y);
myo_status myo_ssm_scan_ref(int64_t n, int64_t channels, int64_t d_state, const double *u,
                            const double *delta, const double *a, const double *b, const double *c,
                            const double *d_skip, double *h, double *y);

/* The backward of that scan: the gradients of a loss
 *     L = sum_{t,c} dy[t,c] y[t,c] + sum_{c,s} dh_final[c,s] h_final[c,s]
 * where y and h_final are what myo_ssm_scan_* computes from h0 (so dy and
 * dh_final are dL/dy and dL/dh_final of any loss), with respect to every
 * input:
 *     du, ddelta (n, channels); db, dc (n, d_state) (summed over channels);
 *     da (channels, d_state) (summed over steps); dd_skip (channels),
 *     sum_t dy[t,c] u[t,c] (the gradient at d_skip = 0 when d_skip is
 *     NULL), or NULL to skip it; dh0 (channels, d_state) = dL/dh0.
 * The adjoint recurrence, with dh = dh_final before step n-1:
 *     dh += c[t,:] dy[t,c];  dh_{t-1} = exp(delta[t,c] a) dh
 * Inputs as myo_ssm_scan_* (h0 is h's value on entry there, const here);
 * dy (n, channels), dh_final (channels, d_state).  All borrowed; outputs
 * are overwritten, not accumulated, and must not overlap the inputs, except
 * that dh0 may equal dh_final.  The states h_t are recomputed from h0: the
 * f32 version with the mixer's kernels (one forward pass keeping the state
 * every MYO_SSM_BLOCK_DEFAULT steps, then per block in reverse a forward
 * from that state and the reverse scan); the ref version stores all n
 * states.  Errors as myo_ssm_scan_*; MYO_ERR_NOMEM.  Local. */
myo_status myo_ssm_scan_backward_f32(int64_t n, int64_t channels, int64_t d_state, const float *u,
                                     const float *delta, const float *a, const float *b,
                                     const float *c, const float *d_skip, const float *h0,
                                     const float *dy, const float *dh_final, float *du,
                                     float *ddelta, float *da, float *db, float *dc, float *dd_skip,
                                     float *dh0);
myo_status myo_ssm_scan_backward_ref(int64_t n, int64_t channels, int64_t d_state, const double *u,
                                     const double *delta, const double *a, const double *b,
                                     const double *c, const double *d_skip, const double *h0,
                                     const double *dy, const double *dh_final, double *du,
                                     double *ddelta, double *da, double *db, double *dc,
                                     double *dd_skip, double *dh0);

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_SSM_H */
