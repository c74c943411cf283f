/* mpi_count.c -- counting the MPI calls of a timed pass (mpi_count.h). */
#include <config.h>

#include "mpi_count.h"

#include <mpi.h>

#include <stdint.h>

/* PMPI wrappers: while counting (only around the timed passes), the MPI
 * calls this process makes -- the library's
 * included -- are counted.  Collectives: MPI_Allreduce, MPI_Reduce,
 * MPI_Bcast, MPI_Allgather(v), MPI_Gather(v), MPI_Scatter(v), MPI_Exscan,
 * MPI_Scan, MPI_Barrier, MPI_Alltoall(v), MPI_Reduce_scatter_block and the
 * communicator makers MPI_Comm_split and MPI_Comm_dup, on communicators of
 * more than one rank; point-to-point
 * sends: MPI_Send, MPI_Isend, MPI_Ssend, MPI_Issend, MPI_Sendrecv (a
 * message each, with its bytes). */
static int g_counting = 0;
static mpi_counts g_counts;

void mpi_count_start(void)
{
    g_counting = 1;
}

void mpi_count_stop(mpi_counts *since)
{
    g_counting = 0;
    since->colls = g_counts.colls - since->colls;
    since->p2p = g_counts.p2p - since->p2p;
    since->p2p_bytes = g_counts.p2p_bytes - since->p2p_bytes;
}

void mpi_count_now(mpi_counts *out)
{
    *out = g_counts;
}

/* A collective on a communicator of one rank (MPI_COMM_SELF) moves
 * nothing between ranks: not counted. */
static void count_coll(MPI_Comm comm)
{
    int size = 0;
    if (g_counting && PMPI_Comm_size(comm, &size) == MPI_SUCCESS && size > 1) g_counts.colls++;
}

static void count_send(int count, MPI_Datatype type)
{
    if (!g_counting) return;
    int size = 0;
    if (PMPI_Type_size(type, &size) != MPI_SUCCESS) size = 0;
    g_counts.p2p++;
    g_counts.p2p_bytes += (int64_t)count * size;
}

/* MPI_name(params): count, then PMPI_name(args). */
#define COUNTED(count, name, params, args)                                                         \
    int MPI_##name params                                                                          \
    {                                                                                              \
        count;                                                                                     \
        return PMPI_##name args;                                                                   \
    }

COUNTED(count_coll(comm), Allreduce,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, count, type, op, comm))
COUNTED(count_coll(comm), Reduce,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, int root,
         MPI_Comm comm),
        (sb, rb, count, type, op, root, comm))
COUNTED(count_coll(comm), Bcast, (void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm),
        (buf, count, type, root, comm))
COUNTED(count_coll(comm), Allgather,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, comm))
COUNTED(count_coll(comm), Allgatherv,
        (const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[], const int displs[],
         MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, st, rb, rc, displs, rt, comm))
COUNTED(count_coll(comm), Gather,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root,
         MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, root, comm))
COUNTED(count_coll(comm), Gatherv,
        (const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[], const int displs[],
         MPI_Datatype rt, int root, MPI_Comm comm),
        (sb, sc, st, rb, rc, displs, rt, root, comm))
COUNTED(count_coll(comm), Scatter,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root,
         MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, root, comm))
COUNTED(count_coll(comm), Scatterv,
        (const void *sb, const int sc[], const int displs[], MPI_Datatype st, void *rb, int rc,
         MPI_Datatype rt, int root, MPI_Comm comm),
        (sb, sc, displs, st, rb, rc, rt, root, comm))
COUNTED(count_coll(comm), Exscan,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, count, type, op, comm))
COUNTED(count_coll(comm), Scan,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, count, type, op, comm))
COUNTED(count_coll(comm), Barrier, (MPI_Comm comm), (comm))
COUNTED(count_coll(comm), Alltoall,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, comm))
COUNTED(count_coll(comm), Alltoallv,
        (const void *sb, const int sc[], const int sd[], MPI_Datatype st, void *rb, const int rc[],
         const int rd[], MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, sd, st, rb, rc, rd, rt, comm))
COUNTED(count_coll(comm), Reduce_scatter_block,
        (const void *sb, void *rb, int rc, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, rc, type, op, comm))
COUNTED(count_coll(comm), Comm_split, (MPI_Comm comm, int color, int key, MPI_Comm *out),
        (comm, color, key, out))
COUNTED(count_coll(comm), Comm_dup, (MPI_Comm comm, MPI_Comm *out), (comm, out))
COUNTED(count_send(count, type), Send,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
COUNTED(count_send(count, type), Ssend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
COUNTED(count_send(count, type), Isend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *req),
        (buf, count, type, dest, tag, comm, req))
COUNTED(count_send(count, type), Issend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *req),
        (buf, count, type, dest, tag, comm, req))
COUNTED(count_send(sc, st), Sendrecv,
        (const void *sb, int sc, MPI_Datatype st, int dest, int stag, void *rb, int rc,
         MPI_Datatype rt, int source, int rtag, MPI_Comm comm, MPI_Status *status),
        (sb, sc, st, dest, stag, rb, rc, rt, source, rtag, comm, status))
