/* run_meta.h -- the metadata every driver records about a run
 * (docs/design.md section 6): what ran (tool, version, git revision,
 * configure arguments, compiler and flags), with which libraries (MPI,
 * HDF5, OpenBLAS and its threads), where (ranks, hosts, Slurm job), when
 * (utc_start) and how (the command line).  Key/value strings, printed as '#' header lines on
 * stdout and written as attributes of the run's group in the HDF5 log
 * (/runs/run-NNNNNN, README.md "HDF5 results files").
 *
 * Keys run_meta_collect fills, in this order:
 *     tool version git_revision git_dirty configure_flags compiler cflags
 *     mpi_library hdf5_version openblas_version openblas_threads ranks
 *     hosts host_count slurm_job_id slurm_array_job_id
 *     slurm_array_task_id slurm_nodelist slurm_cluster utc_start
 *     command_line
 * ("-" for a Slurm variable that is not set).  Drivers add their own with
 * run_meta_set. */
#ifndef MYO_RUN_META_H
#define MYO_RUN_META_H

#include "myosotis.h"
#include "myosotis_h5log.h"

#include <mpi.h>
#include <stdio.h>

#define RUN_META_MAX 64     /* entries */
#define RUN_META_KEY_MAX 64 /* bytes of a key, NUL included */

typedef struct {
    char key[RUN_META_KEY_MAX];
    char *value; /* owned, one line */
} run_meta_entry;

typedef struct {
    int count;
    run_meta_entry entries[RUN_META_MAX];
} run_meta;

/* Collective on comm: every rank gets the same entries (the host names
 * travel by MPI_Allgather; the rest is local and, on a Slurm allocation,
 * the same everywhere).  argv (argc entries) becomes command_line,
 * shell-quoted where needed, and tool is the last path component of
 * argv[0] (run_meta_set replaces it).  out is initialised here (free it
 * with run_meta_free, also after a failure).  Returns MYO_OK, MYO_ERR_MPI
 * when an MPI call fails (under MPI_ERRORS_RETURN) or MYO_ERR_NOMEM. */
myo_status run_meta_collect(MPI_Comm comm, int argc, char **argv, run_meta *out);

/* Collective on comm: the distinct host names (MPI_Get_processor_name) of
 * comm's ranks, on every rank (MPI_Allgather), in the order of each host's
 * first rank: *count of them, MPI_MAX_PROCESSOR_NAME bytes apart, in
 * *names (free it; NULL after a failure).  Returns MYO_OK, MYO_ERR_MPI
 * when an MPI call fails (under MPI_ERRORS_RETURN) or MYO_ERR_NOMEM.
 * (run_meta_collect's hosts and host_count; myo_bench_hosts.) */
myo_status run_meta_hosts(MPI_Comm comm, char **names, int *count);

/* Local.  Set key (shorter than RUN_META_KEY_MAX) to a copy of value,
 * replacing an existing entry in place or adding one at the end; line
 * breaks in value become spaces.  MYO_ERR_ARG for a bad key or a full
 * table, MYO_ERR_NOMEM. */
myo_status run_meta_set(run_meta *m, const char *key, const char *value);

/* Local.  One "# key: value" line per entry, in order, on f (the '#'
 * header of a driver's text output), flushed. */
void run_meta_print(FILE *f, const run_meta *m);

/* Local (the rank that owns the log).  Every entry as a string attribute
 * of the log's run group (myo_h5log_set_meta).  The first failure. */
myo_status run_meta_write(myo_h5log *log, const run_meta *m);

/* Local.  Frees the values; m is left empty.  NULL-safe. */
void run_meta_free(run_meta *m);

#endif
