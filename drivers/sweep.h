/* sweep.h -- what the sweep drivers that log to HDF5 share (myo-bench,
 * myo-lra), compiled into libcli beside bench.h: stopping cleanly on
 * SIGTERM (Slurm's time limit), a progress line with an ETA from the
 * expected cost of what is left, and the set of points a results file
 * already holds (--resume).
 *
 * Functions marked Collective must be called by every rank of
 * MPI_COMM_WORLD; the others are Local.  Messages go through
 * myo_bench_say (myo_bench_init first). */
#ifndef MYO_SWEEP_H
#define MYO_SWEEP_H

#include "myosotis.h"
#include "myosotis_h5log.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ signals */

/* Local.  From now on SIGTERM, SIGINT and SIGUSR1 only set a flag (the
 * signal's number): the driver finishes or abandons the point it is on,
 * writes and flushes what it has, closes its file and exits.  (Slurm sends
 * SIGTERM at the time limit and SIGKILL KillWait seconds later; sbatch
 * --signal=USR1@T asks for SIGUSR1 T seconds before.) */
void myo_sweep_catch_signals(void);

/* Local.  The signal caught on this rank, 0 when none. */
int myo_sweep_signal(void);

/* Collective.  The signal caught on any rank (the largest number), 0 when
 * none: every rank stops at the same place. */
int myo_sweep_stop_agreed(void);

/* ----------------------------------------------------------- progress */

/* The modes of --progress, in the order of its words auto, lines, none
 * (for myo_bench_choice_option). */
enum { MYO_SWEEP_PROGRESS_AUTO, MYO_SWEEP_PROGRESS_LINES, MYO_SWEEP_PROGRESS_NONE };

/* Local.  Whether to print progress lines for mode: lines always, none
 * never, auto when stderr is a terminal and the process was started
 * neither by an MPI launcher nor by Slurm (under mpirun a rank's stderr
 * is a pipe, and progress in batch logs is noise). */
int myo_sweep_progress_enabled(int mode);

/* What a sweep has done: points and their expected cost (any unit, e.g.
 * flops), so that the ETA weighs what is left by its cost rather than by
 * the number of points (a point at 2n of a quadratic method costs 4x). */
typedef struct {
    int on;           /* print (rank 0 only) */
    double t_start;   /* MPI_Wtime at start */
    int64_t points;   /* in the sweep */
    int64_t done;     /* finished, skipped or resumed */
    double cost_all;  /* expected cost of every point */
    double cost_done; /* of the points done that ran */
    double cost_gone; /* of the points done without running (skipped, resumed) */
} myo_sweep_progress;

/* Local.  Start counting (t_start = now). */
void myo_sweep_progress_start(myo_sweep_progress *p, int on, int64_t points, double cost_all);

/* Local.  One point done: ran says whether it ran (a skipped or resumed
 * point adds nothing to the rate); prints, when on and on rank 0,
 *     "tool: [k/N] what; elapsed 12.3 s, ETA 45.6 s"
 * (ETA "-" until a point has run). */
void myo_sweep_progress_point(myo_sweep_progress *p, double cost, int ran, const char *what);

/* ------------------------------------------------------------ resume */

/* The keys of the rows a results table already holds in a "done" state. */
typedef struct {
    char *keys; /* count rows of width bytes, each NUL-terminated */
    size_t width;
    int64_t count;
} myo_sweep_keys;

/* Local (the rank that owns the log).  The values of the string column
 * key_col of table's rows whose string column status_col starts with one
 * of the prefixes in done (a NULL-terminated list, e.g. {"OK", "SKIP",
 * NULL}): the points a --resume run skips.  A row that says INTERRUPTED is
 * not done.  MYO_ERR_ARG for an unknown column (myo_h5log_read_strings),
 * MYO_ERR_NOMEM. */
myo_status myo_sweep_keys_load(const myo_h5log *log, int table, const char *key_col,
                               const char *status_col, const char *const *done,
                               myo_sweep_keys *out);

/* Local.  Whether key is in k (an empty set when k is NULL or empty). */
int myo_sweep_keys_has(const myo_sweep_keys *k, const char *key);

/* Collective.  Rank 0's answer to myo_sweep_keys_has on every rank (only
 * rank 0 holds the log, and so the keys). */
int myo_sweep_keys_has_agreed(const myo_sweep_keys *k, const char *key);

/* Local.  NULL-safe; leaves k empty. */
void myo_sweep_keys_free(myo_sweep_keys *k);

#endif
