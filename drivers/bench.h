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

/* The options every benchmark's getopt loop shares: 'h' (--help: usage on
 * stdout), 'V' (--version), ':' (a missing value) and anything unknown.
 * Returns the exit code for the tool to return: MYO_EXIT_OK after help or
 * version, MYO_EXIT_USAGE with a one-line message otherwise.
 * (myo_bench_parse_options calls it and myo_bench_no_operands.) */
int myo_bench_common_option(int c, char **argv, const char *tool, void (*usage)(FILE *));

/* MYO_EXIT_OK when getopt consumed every argument, else MYO_EXIT_USAGE
 * with a message naming the first operand. */
int myo_bench_no_operands(int argc, char **argv);

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

/* The options several benchmarks share, chosen by a mask of these bits;
 * --help and --version come with every set. */
enum {
    MYO_BENCH_OPT_REPS = 1,    /* --reps R, 1 <= R <= 10^6 */
    MYO_BENCH_OPT_WARMUP = 2,  /* --warmup W, 0 <= W <= 10^6 */
    MYO_BENCH_OPT_NOFLUSH = 4, /* --no-flush */
    MYO_BENCH_OPT_MODEL = 8,   /* --d-model D, --heads H: 1 .. 2^16, H dividing D */
    MYO_BENCH_OPT_MAXMEM = 16  /* --max-memory BYTES (K, M, G suffixes) */
};

/* All of them: the layer benchmarks' set. */
#define MYO_BENCH_OPT_ALL                                                                          \
    (MYO_BENCH_OPT_REPS | MYO_BENCH_OPT_WARMUP | MYO_BENCH_OPT_NOFLUSH | MYO_BENCH_OPT_MODEL |     \
     MYO_BENCH_OPT_MAXMEM)

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

/* The tool's own options: handles getopt_long's code c with its value
 * (NULL for a flag) and returns MYO_EXIT_OK, or MYO_EXIT_USAGE after a
 * one-line message. */
typedef int (*myo_bench_option_fn)(int c, const char *arg, void *ctx);

/* Collective (no communication).  The getopt_long loop of a benchmark:
 * the tool's own long options own (NULL-terminated names, at most 32 of
 * at most 31 characters, "NAME=" for one that takes a value) go to
 * own_option with the code 256 + their index, the shared ones the mask
 * names into common, --help prints usage on stdout; then no operand may
 * remain and, with MYO_BENCH_OPT_MODEL, H must divide D (not checked when
 * the tool's default for D or H is 0: the tool fills it in afterwards and
 * calls myo_bench_heads_check).  Messages: one line from rank 0.
 * Returns -1 to go on, otherwise the exit code (0 after --help or
 * --version, MYO_EXIT_USAGE for a bad command line). */
int myo_bench_parse_options(int argc, char **argv, const char *const *own, unsigned shared,
                            myo_bench_common_opts *common, myo_bench_option_fn own_option,
                            void *ctx, void (*usage)(FILE *));

/* Collective (no communication).  MYO_EXIT_OK when H (--heads) divides D
 * (--d-model), else MYO_EXIT_USAGE after a one-line message. */
int myo_bench_heads_check(int64_t D, int64_t H);

/* Option `name` whose value text must be one of words (NULL-terminated):
 * *out = its index and MYO_EXIT_OK, otherwise MYO_EXIT_USAGE after
 * "NAME: 'TEXT' is neither A nor B" (two words) or "... is none of A, B,
 * C". */
int myo_bench_choice_option(const char *name, const char *text, const char *const *words, int *out);

/* Option `name` whose value is a, b or both: on[0], on[1] say which of the
 * two are chosen.  MYO_EXIT_OK, or MYO_EXIT_USAGE as above. */
int myo_bench_pair_option(const char *name, const char *text, const char *a, const char *b,
                          int on[2]);

/* A whole-string integer in [lo, hi] with an optional K, M or G suffix
 * (powers of 1024).  Returns 0, or -1 when text is not such a number. */
int myo_bench_parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out);
/* The same for option `name`: MYO_EXIT_OK, or MYO_EXIT_USAGE after a
 * one-line message saying which range was expected. */
int myo_bench_int_option(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out);

/* Option `name` given in seconds, a positive number (inf allowed): into
 * *out and MYO_EXIT_OK, or MYO_EXIT_USAGE after a one-line message. */
int myo_bench_seconds_option(const char *name, const char *text, double *out);

/* Split a comma list in place into at most max items; an empty item is an
 * error.  Returns the count, or -1. */
int myo_bench_split_list(char *text, char **items, int max);
/* myo_bench_split_list on a copy of text in buf (size bytes), leaving text
 * as it is; -1 also when text does not fit. */
int myo_bench_split_copy(const char *text, char *buf, size_t size, char **items, int max);

/* The trees a benchmark runs on: chain, kary<k> (a balanced hierarchy with
 * virtual internal nodes over the tokens), heap<k>; 2 <= k <= 64. */
enum { MYO_BENCH_TREE_CHAIN, MYO_BENCH_TREE_KARY, MYO_BENCH_TREE_HEAP };

typedef struct {
    char name[16]; /* chain, kary2, kary4, heap2, ... */
    int kind;
    int arity; /* kary and heap only */
} myo_bench_tree_spec;

/* "chain", "kary<k>" or "heap<k>" into out.  Returns 0, or -1. */
int myo_bench_parse_tree(const char *text, myo_bench_tree_spec *out);

/* Local.  The tree of spec over n positions (tokens). */
myo_status myo_bench_tree_create(const myo_bench_tree_spec *spec, int64_t n, myo_tree **out);

/* Nodes of spec's tree over n positions, an upper bound: a kary hierarchy
 * adds at most ceil((n - 1) / (k - 1)) internal nodes. */
int64_t myo_bench_tree_nodes_bound(const myo_bench_tree_spec *spec, int64_t n);

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
