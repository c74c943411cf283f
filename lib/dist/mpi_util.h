/* mpi_util.h -- what the library's MPI modules (dist_scan.c, dist_solve.c,
 * dist_layer.c, ring_attention.c) share: the error handler around a call, MPI error codes
 * as MYO_ERR_MPI messages, and the ranks' agreement on a status (not
 * installed). */
#ifndef MYO_MPI_UTIL_H
#define MYO_MPI_UTIL_H

#include "myosotis_dist.h"

#include <mpi.h>

/* Check comm (not MPI_COMM_NULL, not an inter-communicator) and install
 * MPI_ERRORS_RETURN on it for the call, keeping the caller's handler in
 * *saved: local, unlike a per-call MPI_Comm_dup, which would add a
 * collective to every call.  On MYO_OK, myo_mpi_leave must follow; on a
 * failure the caller's handler is in place again.  who names the public
 * function in the messages. */
myo_status myo_mpi_enter(MPI_Comm comm, const char *who, MPI_Errhandler *saved);
/* Restore the handler that myo_mpi_enter saved. */
void myo_mpi_leave(MPI_Comm comm, MPI_Errhandler *saved);

/* MYO_OK for rc == MPI_SUCCESS, else MYO_ERR_MPI with the detail
 * "who: what failed: <MPI_Error_string>". */
myo_status myo_mpi_status(int rc, const char *who, const char *what);

/* Run an MPI call; on failure set st to MYO_ERR_MPI and goto done. */
#define MYO_MPI_TRY(who, call, what)                                                               \
    do {                                                                                           \
        myo_status myo_mpi_st_ = myo_mpi_status((call), (who), (what));                            \
        if (myo_mpi_st_ != MYO_OK) {                                                               \
            st = myo_mpi_st_;                                                                      \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* Record on a rank that did not fail that rank failed_rank of size failed
 * with st (whose detail is on that rank); returns st. */
myo_status myo_mpi_failed_elsewhere(myo_status st, const char *who, long long failed_rank,
                                    int size);

/* The ranks agree on a status: one MPI_Allreduce (MPI_MAX) of v (nv >= 2
 * long longs), whose v[0] and v[1] this fills with this rank's status mine
 * and size - rank when mine fails (so that the first failing rank's status
 * wins); v[2 .. nv) are the caller's (e.g. sizes with both signs, to see
 * whether they differ).  Returns the agreed status (a rank that did not
 * fail records which one did) or MYO_ERR_MPI.  Collective on comm. */
myo_status myo_mpi_agree(MPI_Comm comm, const char *who, myo_status mine, int rank, int size,
                         long long *v, int nv);

/* Name this rank in its own failure detail as the other ranks name it
 * ("rank <rank> of <size>: <detail>"); nothing when mine is MYO_OK.  Local. */
void myo_mpi_name_rank(myo_status mine, int rank, int size);

/* myo_mpi_agree on mine and on the configuration values val[0 .. nval)
 * (0 <= nval <= 3), named name[0 .. nval): each goes into the one
 * MPI_Allreduce with both signs (a failing rank's are left out), so that
 * when the ranks agree on MYO_OK but a value differs between them the
 * result is MYO_ERR_ARG "who: d_model (lo .. hi), heads (lo .. hi) or ...
 * differ between ranks (every rank must use the same configuration)" (one
 * value: "differs").  Collective on comm. */
myo_status myo_mpi_agree_config(MPI_Comm comm, const char *who, myo_status mine, int rank, int size,
                                int nval, const long long *val, const char *const *name);

/* *any = the maximum over ranks of flag (e.g. a local allocation failure):
 * one MPI_Allreduce.  MYO_OK or MYO_ERR_MPI.  Collective on comm. */
myo_status myo_mpi_any(MPI_Comm comm, const char *who, int flag, int *any);

#endif
