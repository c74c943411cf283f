/* bench.h -- what the benchmark drivers share (myo-bench-solve,
 * myo-bench-layer), compiled into libcli: the '#' header lines that record
 * the machine and the libraries, diagnostics and MPI checks, order
 * statistics over repetitions, the cache-eviction buffer, memory queries
 * (host memory, peak resident set) and the option helpers both parse with.
 *
 * A benchmark runs the same work on every rank of MPI_COMM_WORLD and
 * reports, per repetition, the slowest rank.  Functions marked Collective
 * must be called by every rank; the others are Local.  myo_bench_init comes
 * first, right after MPI_Init: it fixes the tool name of every message and
 * installs MPI_ERRORS_RETURN, so that failed MPI calls reach
 * myo_bench_mpi_check (which stops all ranks). */
#ifndef MYO_BENCH_H
#define MYO_BENCH_H

#include "myosotis.h"

#include <mpi.h>

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
const char *myo_bench_tool(void);

/* Local.  One line "tool: ..." on stderr, from rank 0 only, or from this
 * rank when only it knows (any_rank; the rank is named when there are
 * several). */
MYO_BENCH_PRINTF(2, 3) void myo_bench_say(int any_rank, const char *fmt, ...);

/* The options every benchmark's getopt loop shares: 'h' (--help: usage on
 * stdout), 'V' (--version), ':' (a missing value) and anything unknown.
 * Returns the exit code for the tool to return: MYO_EXIT_OK after help or
 * version, MYO_EXIT_USAGE with a one-line message otherwise. */
int myo_bench_common_option(int c, char **argv, const char *tool, void (*usage)(FILE *));

/* MYO_EXIT_OK when getopt consumed every argument, else MYO_EXIT_USAGE
 * with a message naming the first operand. */
int myo_bench_no_operands(int argc, char **argv);

/* Local.  A failed MPI call (rc != MPI_SUCCESS): the ranks can no longer
 * agree on anything, so say what failed and stop them all (MPI_Abort with
 * exit code 6). */
void myo_bench_mpi_check(int rc, const char *what);

/* Collective: the worst (largest) exit code over the ranks. */
int myo_bench_agree(int code);

/* Collective: v (count,) becomes its elementwise maximum over the ranks. */
void myo_bench_max_over_ranks(double *v, int count);

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

/* A whole-string integer in [lo, hi] with an optional K, M or G suffix
 * (powers of 1024).  Returns 0, or -1 when text is not such a number. */
int myo_bench_parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out);
/* The same for option `name`: MYO_EXIT_OK, or MYO_EXIT_USAGE after a
 * one-line message saying which range was expected. */
int myo_bench_int_option(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out);

/* Split a comma list in place into at most max items; an empty item is an
 * error.  Returns the count, or -1. */
int myo_bench_split_list(char *text, char **items, int max);

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

/* ------------------------------------------------------------- memory */

/* Collective: ranks of MPI_COMM_WORLD on this rank's host. */
int myo_bench_node_ranks(void);

/* Local.  Physical memory of the host in bytes (INFINITY when unknown),
 * and what the kernel estimates can be allocated without swapping
 * (MemAvailable; free pages when it says nothing). */
double myo_bench_host_memory(void);
double myo_bench_host_available(void);

/* Collective.  Refuse what cannot fit rather than be killed half-way
 * (with memory overcommitted, malloc succeeds and touching the pages kills
 * the job): when need_per_rank times the ranks on the host exceeds its
 * physical memory, say so with the hint ("lower --n or --m").  Returns the
 * exit code agreed over the ranks: 0, or 6. */
int myo_bench_check_host_memory(double need_per_rank, const char *hint);

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

/* Local.  If OPENBLAS_NUM_THREADS is unset, set it to 1 (and tell OpenBLAS,
 * which read the environment when it was loaded): one core per rank.
 * The header then records that the tool set it.  Returns 1 when it did. */
int myo_bench_blas_single_thread(void);

/* Collective: the distinct hosts of all ranks, for the header (rank 0's
 * out is filled; at most 8 named, then a count). */
void myo_bench_hosts(char *out, size_t out_size);

/* Local (rank 0).  The header lines every benchmark starts with:
 *     # TOOL (myosotis) VERSION, revision REV
 *     # date, hosts, MPI ranks, Slurm job
 *     # compiler, CFLAGS, kernel flags, MPI library
 *     # BLAS configuration[; LABEL from the object that defines SYMBOL]
 *     # OPENBLAS_NUM_THREADS, threads OpenBLAS uses, CPUs allowed,
 *       transparent hugepages, GLIBC_TUNABLES
 * symbol (may be NULL) names a function whose library is worth
 * recording, e.g. which LAPACK the solver benchmark compares with. */
void myo_bench_print_machine(const char *hosts, const char *label, const char *symbol);

#endif
