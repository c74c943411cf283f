/* mpi_util.c -- what the library's MPI modules share (mpi_util.h). */
#include <config.h>

#include "core/core.h"
#include "mpi_util.h"

#include <limits.h>
#include <stdio.h>

myo_status myo_mpi_enter(MPI_Comm comm, const char *who, MPI_Errhandler *saved)
{
    if (comm == MPI_COMM_NULL) return myo_fail(MYO_ERR_ARG, "%s: comm is MPI_COMM_NULL", who);
    if (MPI_Comm_get_errhandler(comm, saved) != MPI_SUCCESS ||
        MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN) != MPI_SUCCESS)
        return myo_fail(MYO_ERR_MPI, "%s: cannot set MPI_ERRORS_RETURN on comm", who);
    int inter = 0;
    myo_status st = MYO_OK;
    if (MPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS)
        st = myo_fail(MYO_ERR_MPI, "%s: MPI_Comm_test_inter failed", who);
    else if (inter)
        st = myo_fail(MYO_ERR_ARG, "%s: comm is an inter-communicator", who);
    if (st != MYO_OK) myo_mpi_leave(comm, saved);
    return st;
}

void myo_mpi_leave(MPI_Comm comm, MPI_Errhandler *saved)
{
    MPI_Comm_set_errhandler(comm, *saved);
    MPI_Errhandler_free(saved);
}

myo_status myo_mpi_status(int rc, const char *who, const char *what)
{
    if (rc == MPI_SUCCESS) return MYO_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return myo_fail(MYO_ERR_MPI, "%s: %s failed: %s", who, what, msg);
}

myo_status myo_mpi_failed_elsewhere(myo_status st, const char *who, long long failed_rank, int size)
{
    return myo_fail(st, "%s: rank %lld of %d failed with %s (its detail message is there)", who,
                    failed_rank, size, myo_status_str(st));
}

myo_status myo_mpi_agree(MPI_Comm comm, const char *who, myo_status mine, int rank, int size,
                         long long *v, int nv)
{
    v[0] = (long long)mine;
    v[1] = mine != MYO_OK ? size - rank : 0;
    MYO_CHECK(myo_mpi_status(MPI_Allreduce(MPI_IN_PLACE, v, nv, MPI_LONG_LONG, MPI_MAX, comm), who,
                             "MPI_Allreduce"));
    myo_status st = (myo_status)v[0];
    if (st != MYO_OK && mine == MYO_OK) myo_mpi_failed_elsewhere(st, who, size - v[1], size);
    return st;
}

void myo_mpi_name_rank(myo_status mine, int rank, int size)
{
    if (mine == MYO_OK) return;
    char detail[512];
    snprintf(detail, sizeof detail, "%s", myo_error_detail());
    myo_fail(mine, "rank %d of %d: %s", rank, size, detail);
}

myo_status myo_mpi_agree_config(MPI_Comm comm, const char *who, myo_status mine, int rank, int size,
                                int nval, const long long *val, const char *const *name)
{
    long long v[2 + 2 * 3];
    const int ok = mine == MYO_OK;
    for (int k = 0; k < nval; k++) {
        v[2 + 2 * k] = ok ? val[k] : 0;
        v[3 + 2 * k] = ok ? -val[k] : LLONG_MIN;
    }
    MYO_CHECK(myo_mpi_agree(comm, who, mine, rank, size, v, 2 + 2 * nval));
    int differ = 0;
    for (int k = 0; k < nval; k++)
        differ |= v[2 + 2 * k] != -v[3 + 2 * k];
    if (!differ) return MYO_OK;
    /* every value with its range over the ranks: "a (..), b (..) or c (..)" */
    char list[512];
    size_t at = 0;
    for (int k = 0; k < nval && at < sizeof list; k++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s (%lld .. %lld)",
                               k == 0          ? ""
                               : k == nval - 1 ? " or "
                                               : ", ",
                               name[k], -v[3 + 2 * k], v[2 + 2 * k]);
    return myo_fail(MYO_ERR_ARG,
                    "%s: %s %s between ranks (every rank must use the same configuration)", who,
                    list, nval == 1 ? "differs" : "differ");
}

myo_status myo_mpi_any(MPI_Comm comm, const char *who, int flag, int *any)
{
    *any = flag;
    return myo_mpi_status(MPI_Allreduce(MPI_IN_PLACE, any, 1, MPI_INT, MPI_MAX, comm), who,
                          "MPI_Allreduce");
}
