/* bench_kernel.h -- what a kernel gives myo-bench's harness.
 *
 * The harness (myo_bench.c) owns the sweep: the points, the memory and
 * time budgets, validation once per configuration, the repetitions (cache
 * eviction, barrier, MPI_Wtime, the slowest rank), the MPI calls counted
 * during each timed pass, the HDF5 rows, the progress and the output.  A
 * kernel (one --method) owns what differs: whether it supports a point,
 * what the point costs, how to set it up, run one pass, validate it against
 * an independent method, and tear it down.  The kernels:
 *   bench_kernels.c    the layers (myosotis, dense-tiled, dense-materialized,
 *                      ssm) and the tree solver (solve, solve-only)
 *   bench_yardsticks.c memcpy and lapack-pt, the solver's yardsticks
 * README.md, "myo-bench", documents what each measures.
 *
 * Hooks marked Collective are called by every rank of MPI_COMM_WORLD with
 * the same point and must return the same status everywhere (agreed). */
#ifndef MYO_BENCH_KERNEL_H
#define MYO_BENCH_KERNEL_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

/* Validation: the relative error a kernel may show against its
 * independent method, on a case of BENCH_VAL_N tokens (a test build may
 * tighten the tolerance to see exit code 7). */
#ifndef BENCH_VAL_TOL
#define BENCH_VAL_TOL 1e-4 /* float32 against the double reference */
#endif
#define BENCH_VAL_TOL_F64 1e-10 /* float64 (the solvers, --precision double) */
#define BENCH_VAL_N 64

/* How a point uses the MPI ranks.
 *   sequence  one sequence of n tokens split over the P ranks (distributed
 *             kernels, messages between the ranks)
 *   data      each rank its own B sequences (serial kernels; fwd+bwd sums
 *             the weight gradients over the ranks)
 *   local     each rank its share of a sequence, ceil(n / P) tokens, with
 *             the serial kernels and no communication, all ranks at once:
 *             the work of sequence mode without its messages */
enum { BENCH_MODE_SEQ, BENCH_MODE_DATA, BENCH_MODE_LOCAL, BENCH_MODE_COUNT };
enum { BENCH_PH_FWD, BENCH_PH_FB, BENCH_PH_COUNT };
enum { BENCH_TREE_KARY, BENCH_TREE_CHAIN, BENCH_TREE_HEAP, BENCH_TREE_COUNT };
enum { BENCH_PREC_SINGLE, BENCH_PREC_DOUBLE, BENCH_PREC_COUNT };

extern const char *const BENCH_MODE_NAME[BENCH_MODE_COUNT];
extern const char *const BENCH_PHASE_NAME[BENCH_PH_COUNT];
extern const char *const BENCH_TREE_NAME[BENCH_TREE_COUNT];
extern const char *const BENCH_PREC_NAME[BENCH_PREC_COUNT];

/* One point of the sweep. */
typedef struct {
    int method; /* index in bench_kernels */
    int mode, phase, tree, arity, dir, prec;
    int causal; /* dense attention: query i sees keys j <= i only */
    int64_t n, D, H, B;
    char key[256];    /* canonical: every parameter defining the point */
    char series[256]; /* the key without n: the points a time prediction extrapolates */
    double cost;      /* the time model: B n^p D, x3 with backward, / ranks in sequence mode */
    int done;         /* recorded OK in the file already (--resume) */
} bench_point;

/* What a kernel uses of a point (the parameters it ignores are set to one
 * value, so that they make no duplicate points). */
enum {
    BENCH_USES_TREE = 1,   /* --tree, --arity, --direction */
    BENCH_USES_HEADS = 2,  /* --heads */
    BENCH_HAS_DOUBLE = 4,  /* --precision double */
    BENCH_HAS_BWD = 8,     /* --phase fwd+bwd */
    BENCH_EXPLICIT = 16,   /* in the sweep only when --method names it */
    BENCH_USES_MASK = 32   /* --mask full, causal */
};

/* A kernel's objects for one point on this rank (each kernel's own). */
typedef struct bench_run bench_run;

/* The seconds of the last pass in the dense projections and in the mixing
 * (myo_phase_times); NAN when the kernel does not split them. */
typedef struct {
    double proj, mix;
} bench_split;

typedef struct {
    const char *name; /* --method */
    int id;           /* the kernel file's own number for it */
    int power;        /* of n in its time, for the time predictions */
    unsigned uses;    /* BENCH_USES_* | BENCH_HAS_* */
    /* Local.  Why p cannot run (a SKIP:unsupported row), NULL when it can. */
    const char *(*unsupported)(const bench_point *p);
    /* Local.  Bytes one rank allocates for p, before the harness's margin. */
    double (*predict_bytes)(const bench_point *p, int ranks);
    /* Local.  Floating-point operations and bytes moved of one pass of p
     * over all ranks, N the nodes of its tree (n when none). */
    void (*cost)(const bench_point *p, double N, int ranks, double *flops, double *bytes);
    /* Collective.  p's objects at n tokens and B sequences, filled with
     * inputs from seed; *why says what failed.  MYO_ERR_NOMEM: out of
     * memory; MYO_ERR_ARG: a size the library refuses. */
    myo_status (*setup)(const bench_point *p, uint64_t seed, bench_run **out, const char **why);
    /* Collective in sequence mode and where the ranks reduce.  One pass. */
    myo_status (*run)(bench_run *r);
    /* Local.  Nodes of the point's tree on this rank's problem (n when none). */
    int64_t (*nodes)(const bench_run *r);
    /* Local, may be NULL.  The last pass's projection and mixing seconds. */
    void (*split)(const bench_run *r, bench_split *out);
    /* Collective.  Runs p's configuration on a small case and compares it
     * with an independent method: *err the largest relative error, *tol
     * the threshold; MYO_OK or the agreed status of a failure (why). */
    myo_status (*validate)(const bench_point *p, uint64_t seed, double *err, double *tol,
                           char *why, size_t why_size);
    /* Local.  NULL-safe. */
    void (*teardown)(bench_run **r);
} bench_kernel;

/* Every kernel, in the order of the default sweep. */
extern const bench_kernel *const bench_kernels[];
extern const int bench_kernel_count;

/* The kernels of bench_kernels.c and bench_yardsticks.c. */
extern const bench_kernel bench_kernel_myosotis, bench_kernel_dense_tiled,
    bench_kernel_dense_materialized, bench_kernel_ssm, bench_kernel_solve, bench_kernel_solve_only,
    bench_kernel_memcpy, bench_kernel_lapack_pt;

/* ---------------------------------------------- what kernels share */

/* Tokens of this rank's problem in local mode: ceil(n / ranks). */
int64_t bench_local_n(int64_t n, int ranks);

/* p as this rank runs it: in local mode its share of the tokens
 * (bench_local_n) through the serial calls, i.e. as in data mode. */
bench_point bench_as_run(const bench_point *p, int ranks);

/* Nodes of p's tree over n tokens, an upper bound (kary: the virtual
 * internal nodes; n when the kernel uses no tree). */
int64_t bench_nodes_bound(const bench_point *p, int64_t n);

/* Local.  count values uniform in [lo, lo + width) from a fast generator,
 * into the float array f or else the double array d (the same values). */
void bench_fill(float *f, double *d, size_t count, uint64_t seed, float lo, float width);

/* splitmix64's finaliser: seeds per rank and per array. */
uint64_t bench_mix64(uint64_t z);

#endif
