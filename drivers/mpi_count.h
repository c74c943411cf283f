/* mpi_count.h -- the MPI calls this process makes, counted by PMPI
 * wrappers (mpi_count.c) while counting is on: collectives (every
 * collective call and the communicator makers MPI_Comm_split and
 * MPI_Comm_dup, on communicators of more than one rank) and point-to-point
 * sends (MPI_Send, MPI_Isend, MPI_Ssend, MPI_Issend, MPI_Sendrecv: a
 * message each, with its bytes).  The library's
 * calls are counted too: that is the point.  Link mpi_count.c into one
 * program only (it defines MPI_Send and friends). */
#ifndef MYO_MPI_COUNT_H
#define MYO_MPI_COUNT_H

#include <stdint.h>

typedef struct {
    int64_t colls, p2p, p2p_bytes;
} mpi_counts;

/* Local.  The counts so far (since the start of the process). */
void mpi_count_now(mpi_counts *out);
/* Local.  Counting on; off again with mpi_count_stop, which turns *since
 * (the counts mpi_count_now gave before mpi_count_start) into what was
 * counted in between. */
void mpi_count_start(void);
void mpi_count_stop(mpi_counts *since);

#endif
