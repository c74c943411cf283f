/* bench.h -- what the MPI drivers share (myo-bench and its kernels,
 * myo-lra), compiled into libcli: main and the command line (the options
 * they share), diagnostics and MPI checks, the timed repetitions and their
 * order statistics, the cache-eviction buffer, the STREAM triad, and
 * memory queries and budgets (host memory, peak resident set).
 *
 * A benchmark runs the same work on every rank of MPI_COMM_WORLD and
 * reports, per repetition, the slowest rank.  Functions marked Collective
 * must be called by every rank; the others are Local.  myo_bench_init comes
 * first, right after MPI_Init: it fixes the tool name of every message and
 * installs MPI_ERRORS_RETURN, so that failed MPI calls reach
 * myo_bench_mpi_check (which stops all ranks). */
#ifndef MYO_BENCH_H
#define MYO_BENCH_H

#include "myosotis_dist.h"
#include "options.h"


#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MYO_BENCH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MYO_BENCH_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------ ranks, messages */

/* Collective.  Remembers tool (a string literal: borrowed for the whole
 * run), installs MPI_ERRORS_RETURN on MPI_COMM_WORLD and learns this rank
 * and the rank count.  Stops all ranks (exit code 6) if MPI fails. */
void myo_bench_init(const char *tool);
int myo_bench_rank(void);
int myo_bench_size(void);

/* Local.  One line "tool: ..." on stderr, from rank 0 only, or from this
 * rank when only it knows (any_rank; the rank is named when there are
 * several). */
MYO_BENCH_PRINTF(2, 3) void myo_bench_say(int any_rank, const char *fmt, ...);

/* The main of every benchmark: MPI_Init, myo_bench_init(tool), body,
 * MPI_Finalize.  Returns body's exit code (6 when MPI_Init fails). */
int myo_bench_main(int argc, char **argv, const char *tool, int (*body)(int argc, char **argv));

/* Local.  A failed MPI call (rc != MPI_SUCCESS): the ranks can no longer
 * agree on anything, so say what failed and stop them all (MPI_Abort with
 * exit code 6). */
void myo_bench_mpi_check(int rc, const char *what);

/* Collective: the worst (largest) exit code over the ranks. */
int myo_bench_agree(int code);

/* A verdict some ranks may reach alone (a file one rank cannot read, a
 * header that differs), told in one line:
 *     myo_bench_say_hold();
 *     int code = ...;              (-1 to go on, or an exit code after a
 *                                   myo_bench_say on this rank)
 *     code = myo_bench_agree_said(code);
 * myo_bench_say_hold (Local) makes myo_bench_say keep the first line it is
 * given on this rank, on every rank whatever its any_rank, instead of
 * printing it.  myo_bench_agree_said (Collective) returns the worst code
 * over the ranks, as myo_bench_agree; the lowest rank whose code is that
 * worst one and that holds a line prints it (as myo_bench_say would have
 * there, but naming the rank -- said with any_rank -- only when not every
 * rank reached that code), every other held line is dropped, and holding
 * stops on every rank. */
void myo_bench_say_hold(void);
int myo_bench_agree_said(int code);

/* Collective: v (count,) becomes its elementwise maximum, or sum, over
 * the ranks. */
void myo_bench_max_over_ranks(double *v, int count);
void myo_bench_sum_over_ranks(double *v, int count);

/* Local.  A result line on stdout from rank 0, flushed at once, so that a
 * run killed later keeps every finished row. */
MYO_BENCH_PRINTF(1, 2) void myo_bench_row(const char *fmt, ...);

/* ------------------------------------------------------------- helpers */

/* Local.  count * size bytes, 64-byte aligned (one cache line, any vector
 * width); NULL on failure or overflow.  Release with free(). */
void *myo_bench_alloc(size_t count, size_t size);

/* Local.  FNV-1a of count bytes, and of a string: seeds that depend on a
 * name, the same on every machine. */
uint64_t myo_bench_hash(const void *data, size_t count);
uint64_t myo_bench_hash_str(const char *s);

/* Local.  stat = min, median, max of t (r,), r >= 1; t is sorted in place. */
void myo_bench_summarize(double *t, int64_t r, double stat[3]);

/* ------------------------------------------------------ option helpers */

/* The options several tools share, chosen by a mask of these bits;
 * --help and --version come with every set. */
enum {
    MYO_BENCH_OPT_REPS = 1,    /* --reps R, 1 <= R <= 10^6 */
    MYO_BENCH_OPT_WARMUP = 2,  /* --warmup W, 0 <= W <= 10^6 */
    MYO_BENCH_OPT_NOFLUSH = 4, /* --no-flush */
    MYO_BENCH_OPT_MODEL = 8,   /* --d-model D, --heads H: 1 .. 2^16, H dividing D */
    MYO_BENCH_OPT_MAXMEM = 16  /* --max-memory BYTES (K, M, G suffixes, 2^k) */
};

/* Their values. */
typedef struct {
    int64_t reps, warmup;
    int flush;         /* 0 after --no-flush */
    int64_t D, H;      /* d_model, heads */
    double max_memory; /* bytes; 0 when not given */
} myo_bench_common_opts;

/* The defaults, for a tool to change before parsing: --reps 5, --warmup 1,
 * the caches evicted, --d-model 256, --heads 8, no --max-memory. */
void myo_bench_common_defaults(myo_bench_common_opts *o);

/* Collective (no communication).  The command line of an MPI tool,
 * through the suite's option layer (options.h): the tool's own options
 * (own, n_own of them) and the shared ones the mask names (into common);
 * --help prints usage on stdout and --version the version (rank 0); a bad
 * command line, one line from rank 0 ending "(see --help)".  With
 * MYO_BENCH_OPT_MODEL, H must divide D (not checked when the tool's
 * default for D or H is 0: the tool fills it in and calls
 * myo_bench_heads_check).  Returns -1 to go on, otherwise the exit code
 * (0 after --help or --version, MYO_EXIT_USAGE for a bad command line). */
int myo_bench_parse_options(int argc, char **argv, const opt_spec *own, int n_own,
                            unsigned shared, myo_bench_common_opts *common,
                            void (*usage)(FILE *));

/* Collective (no communication).  MYO_EXIT_OK when H (--heads) divides D
 * (--d-model), else MYO_EXIT_USAGE after a one-line message. */
int myo_bench_heads_check(int64_t D, int64_t H);

/* Local.  The tree of spec (chain, kary<k>, heap<k>) over n tokens, and
 * its number of nodes (the builders' shape: myo_tree_shape_*). */
myo_status myo_bench_tree_create(const opt_tree *spec, int64_t n, myo_tree **out);
int64_t myo_bench_tree_nodes(const opt_tree *spec, int64_t n);

/* ---------------------------------------------------- cache eviction */

/* A buffer read through before each timed operation, so that every one
 * starts from memory: twice the last-level cache as glibc reports it,
 * within [64, 256] MiB (a VM may report a whole socket's L3). */
typedef struct {
    unsigned char *buf; /* NULL: no eviction */
    size_t bytes;
} myo_bench_flush;

/* Collective.  With enable, allocates and touches the buffer; otherwise
 * leaves fl empty.  Returns the exit code agreed over the ranks (6 when
 * out of memory on any rank). */
int myo_bench_flush_create(int enable, myo_bench_flush *fl);
/* The bytes myo_bench_flush_create(1, ...) allocates. */
size_t myo_bench_flush_bytes(void);
/* Local.  Reads the whole buffer (nothing when empty). */
void myo_bench_flush_caches(const myo_bench_flush *fl);
void myo_bench_flush_free(myo_bench_flush *fl);
/* Local.  "#   eviction buffer: N MiB<suffix>" on stdout when there is one. */
void myo_bench_print_flush_buffer(const myo_bench_flush *fl, const char *suffix);

/* ---------------------------------------------------------- repetitions */

/* Local.  Before each timed operation: evict the caches (fl NULL or empty:
 * no eviction) and wait for every rank (MPI_Barrier).  The caller then
 * starts its clock (MPI_Wtime). */
void myo_bench_sync(const myo_bench_flush *fl);

/* Collective, after each repetition: whether a rank failed (its *fail is
 * not MYO_OK).  Then every rank stops: one leaving alone would hang the
 * others' barriers; a rank that did not fail itself gets *fail =
 * MYO_ERR_MPI, so that only the failing ranks say why. */
int myo_bench_any_failed(myo_status *fail);

/* The measures of the timed repetitions: `kinds` series (an operation's
 * seconds, or any per-repetition value) of reps values each, the warmup
 * repetitions before them not kept. */
typedef struct {
    double *v; /* (kinds, reps) */
    int kinds;
    int64_t reps, warmup;
} myo_bench_reps;

/* Local.  Allocates r; returns 0, or -1 when out of memory. */
int myo_bench_reps_create(int kinds, int64_t reps, int64_t warmup, myo_bench_reps *r);
/* Local.  Value of series kind at repetition it, 0 <= it < warmup + reps
 * (nothing kept for a warm-up repetition). */
void myo_bench_reps_put(myo_bench_reps *r, int kind, int64_t it, double value);
/* Collective: every value becomes its max over the ranks (the time of a
 * repetition is that of its slowest rank). */
void myo_bench_reps_max_over_ranks(myo_bench_reps *r);
/* Local.  min, median, max of series kind (sorted in place). */
void myo_bench_reps_stat(myo_bench_reps *r, int kind, double stat[3]);
void myo_bench_reps_free(myo_bench_reps *r);

/* Local.  The projections Wq, Wk, Wv, Wo of the layers (and where their
 * gradients go): the four consecutive (D, D) blocks of w (4 D^2 floats). */
myo_qkvo_weights_f32 myo_bench_qkvo_f32(const float *w, int64_t D);
myo_qkvo_grads_f32 myo_bench_qkvo_grads_f32(float *g, int64_t D);

/* ---------------------------------------------------------- validation */

/* Local.  A normwise relative error from the sums of squares of the
 * differences (num) and of the reference (den): sqrt(num / den), sqrt(num)
 * when den is 0; a NaN counts as infinite. */
double myo_bench_rel_err(double num, double den);

/* Local.  The exit code for a failed library call the tool made itself:
 * myo_cli_exit_code, but a bad argument is an internal failure (6), not
 * the user's. */
int myo_bench_status_code(myo_status s);

/* ------------------------------------------------------------- memory */

/* Collective: ranks of MPI_COMM_WORLD on this rank's host. */
int myo_bench_node_ranks(void);

/* Local.  Physical memory of the host in bytes (INFINITY when unknown),
 * and what the kernel estimates can be allocated without swapping
 * (MemAvailable; free pages when it says nothing). */
double myo_bench_host_memory(void);
double myo_bench_host_available(void);

/* What the points of a sweep may use on a host: --max-memory, or its
 * MemAvailable at start. */
typedef struct {
    double bytes;    /* on this host */
    int from_option; /* --max-memory given */
    int node_ranks;  /* ranks on this host */
} myo_bench_budget;

/* Collective.  The budget for max_memory (bytes; <= 0: MemAvailable). */
void myo_bench_budget_init(double max_memory, myo_bench_budget *b);
/* Collective.  What a point needing need_per_rank bytes on top of what
 * every rank holds now comes to on this host: (max over ranks of the need
 * + max over ranks of the resident set) times the ranks on the host. */
double myo_bench_budget_need(const myo_bench_budget *b, double need_per_rank);
/* "memory: predicted X GiB (R rank[s]) > Y GiB" into note: why a point
 * needing need bytes on the host is skipped. */
void myo_bench_budget_note(const myo_bench_budget *b, double need, char *note, size_t size);
/* For the header: "MemAvailable at start" or "--max-memory". */
const char *myo_bench_budget_source(const myo_bench_budget *b);

/* ------------------------------------------------------------- triad */

/* The bandwidth yardstick: a STREAM triad a[i] = b[i] + 3 c[i] over three
 * arrays of doubles on every rank at once. */
typedef struct {
    int done;
    char note[160];     /* why not measured */
    double aggregate;   /* GB/s: median over reps of P * bytes / max time */
    double rank_gbs[3]; /* min, median, max over ranks of each rank's median GB/s */
    double bytes_rank;  /* bytes moved per rank and repetition (3 arrays) */
} myo_bench_triad_result;

/* Collective.  The triad over arrays of mib MiB each per rank (0: not
 * measured, note "--triad-mib 0"), one warm-up then reps >= 1 timed
 * repetitions, each after a barrier; not measured either (note says why)
 * when the arrays do not fit mem.  Returns the exit code agreed over the
 * ranks (6 when out of memory). */
int myo_bench_triad(int64_t mib, int64_t reps, const myo_bench_budget *mem,
                    myo_bench_triad_result *tr);

/* Local.  The resident set now, and its peak since the start or the last
 * myo_bench_peak_rss_reset, in MiB (-1 when unknown). */
double myo_bench_rss_mib(void);
double myo_bench_peak_rss_mib(void);
/* Local.  Restart the peak resident set at the current one (Linux >= 4.0,
 * /proc/self/clear_refs), so that the next myo_bench_peak_rss_mib is the
 * peak of what follows.  Returns 0, or -1 when the kernel refuses (the
 * peak then stays that of the whole run). */
int myo_bench_peak_rss_reset(void);

/* Collective.  The last line of a run: "# peak resident memory (max over
 * ranks) ... MiB, total time ... s" (from t_start, an MPI_Wtime), printed
 * by rank 0; the peak spans the whole run, across resets. */
void myo_bench_print_totals(double t_start);

/* ------------------------------------------------------------- header */

/* OpenBLAS's own thread control (configure requires OpenBLAS), declared
 * here so that the drivers need no BLAS_CFLAGS (where cblas.h lives). */
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

/* Local.  If OPENBLAS_NUM_THREADS is unset, set it to 1 (and tell OpenBLAS,
 * which read the environment when it was loaded): one core per rank.
 * The header then records that the tool set it.  Returns 1 when it did. */
int myo_bench_blas_single_thread(void);

#endif
