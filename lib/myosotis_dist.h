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

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_DIST_H */
