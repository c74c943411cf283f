/* myo_bench.c -- myo-bench, the benchmark harness: kernel and layer
 * scaling with HDF5 results.
 *
 * Sweeps over method (the kernels of bench_kernel.h: myosotis,
 * dense-tiled, dense-materialized, ssm, the tree solver solve and
 * solve-only, the yardsticks memcpy and lapack-pt), sequence length n,
 * d_model, heads, batch, tree kind and arity, direction, phase (fwd,
 * fwd+bwd), mode (sequence: one sequence split over the ranks; data: each
 * rank its own batch, weight gradients summed over the ranks; local: each
 * rank its share of a sequence, no communication) and precision.
 *
 * Per point: skip what would exceed the memory or the time budget (a
 * SKIP row with the reason, never an OOM kill); validate the same method,
 * mode, phase and shape on a small case against an independent method
 * (once per configuration, VALID/INVALID in every row); warm up; time each
 * repetition after MPI_Barrier with MPI_Wtime, the slowest rank's time
 * counting, the MPI calls of the pass counted (mpi_count.h); keep every
 * repetition.  Rank 0 appends each point to an HDF5 file
 * (myosotis_h5log.h: tables "points" and "repetitions", schema
 * "myo-bench/2", one run group of metadata per run), flushed at once, then
 * prints the row on stdout.  SIGTERM/SIGINT stop the sweep between points
 * (or abandon the point in progress, recorded as INTERRUPTED); the file is
 * then closed with utc_end.  README.md, "myo-bench", documents it all. */
#include <config.h>

#include "bench.h"
#include "bench_kernel.h"
#include "cli.h"
#include "mpi_count.h"
#include "run_meta.h"
#include "sweep.h"
#include "myosotis.h"
#include "myosotis_h5log.h"

#include <mpi.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const TOOL = "myo-bench";
static const char *const SCHEMA = "myo-bench/2";

#define SEED_DEFAULT 0x6d796f73ULL /* "myos" */
#define DENSE_MAT_DEFAULT_N 4096 /* dense-materialized joins the default sweep up to this n */
#define MEM_MARGIN 1.15          /* predicted bytes times this */
#define PROGRESS_BAR_S 0.1       /* between redraws of the bar */
#define PROGRESS_LINE_S 30.0     /* seconds between progress lines */
#define TRIAD_REPS 10            /* timed repetitions of the STREAM triad */
#define MAX_LIST 16              /* items of a list option */
#define MAX_POINTS 65536         /* in one sweep */
#define MAX_KERNELS 16           /* in bench_kernels */

/* the kernels (bench_kernel.h), the modes, phases, trees and precisions */
#define KERNEL(p) (bench_kernels[(p)->method])
#define METHOD_NAME(i) (bench_kernels[i]->name)
#define M_COUNT bench_kernel_count
#define MODE_NAME BENCH_MODE_NAME
#define PHASE_NAME BENCH_PHASE_NAME
#define TREE_NAME BENCH_TREE_NAME
#define PREC_NAME BENCH_PREC_NAME
enum { MODE_SEQ = BENCH_MODE_SEQ, MODE_DATA = BENCH_MODE_DATA, MODE_LOCAL = BENCH_MODE_LOCAL };
enum { PH_FWD = BENCH_PH_FWD, PH_FB = BENCH_PH_FB };
enum { TREE_KARY = BENCH_TREE_KARY, TREE_CHAIN = BENCH_TREE_CHAIN, TREE_HEAP = BENCH_TREE_HEAP };
enum { PREC_SINGLE = BENCH_PREC_SINGLE, PREC_DOUBLE = BENCH_PREC_DOUBLE };
static const char *const DIR_NAME[3] = {"both", "up", "down"}; /* myo_layer_direction */
enum { ORD_RASTER, ORD_MORTON, ORD_HILBERT, ORD_COUNT };
static const char *const ORD_NAME[ORD_COUNT + 1] = {"raster", "morton", "hilbert", NULL};

enum {
    ST_OK,
    ST_SKIP_MEMORY,
    ST_SKIP_TIME,
    ST_SKIP_UNSUPPORTED,
    ST_SKIP_LIMIT,
    ST_FAILED,
    ST_INTERRUPTED
};
static const char *const STATUS_NAME[] = {
    "OK", "SKIP:memory", "SKIP:time", "SKIP:unsupported", "SKIP:limit", "FAILED", "INTERRUPTED"};

enum { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_LINES, PROGRESS_NONE };

/* Every kernel, the default sweep's first, in its order. */
const bench_kernel *const bench_kernels[] = {
    &bench_kernel_myosotis,  &bench_kernel_dense_tiled, &bench_kernel_ssm,
    &bench_kernel_solve,     &bench_kernel_dense_materialized, &bench_kernel_solve_only,
    &bench_kernel_memcpy,    &bench_kernel_lapack_pt};
const int bench_kernel_count = (int)(sizeof bench_kernels / sizeof bench_kernels[0]);

/* ------------------------------------------------------------ options */

typedef struct {
    int method[MAX_KERNELS], n_methods, methods_given;
    int64_t n[MAX_POINTS > 4096 ? 4096 : MAX_POINTS];
    int n_n;
    int64_t d[MAX_LIST], h[MAX_LIST], b[MAX_LIST];
    int n_d, n_h, n_b;
    opt_tree tree[MAX_LIST]; /* as given: chain, kary (the --arity list), kary<k>, heap<k> */
    int n_tree;
    int64_t arity[MAX_LIST];
    int n_arity;
    int tree_kind[MAX_LIST * MAX_LIST], tree_arity[MAX_LIST * MAX_LIST], n_trees; /* expanded */
    int dir[3], n_dir;
    int mask[2], n_mask;
    int ordering;
    int phase[BENCH_PH_COUNT], n_phase, phase_word;
    int prec[BENCH_PREC_COUNT], n_prec;
    int mode[BENCH_MODE_COUNT + 1], n_mode;
    myo_bench_common_opts common; /* --reps, --warmup, --no-flush, --max-memory */
    double time_budget;
    const char *output;
    int resume;
    int progress;
    int64_t seed; /* >= 0 */
    int64_t triad_mib;
} opts;

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: %s [OPTION]...\n"
        "Time the Myosotis layer, its baselines (exact softmax attention, tiled and\n"
        "materialized; a Mamba-style SSM), the bare tree solver and its yardsticks over\n"
        "a sweep of sequence lengths and shapes, float32 (solvers: float64 too), one\n"
        "core per rank, sequence- or data-parallel over the MPI ranks, or each rank its\n"
        "share alone (local).  One aligned row per point on stdout; every point and\n"
        "repetition appended to an HDF5 file (README.md, \"myo-bench\").\n"
        "\n"
        "  --method LIST        myosotis, dense-tiled, ssm, solve, dense-materialized (the\n"
        "                       default; dense-materialized up to n = %d), and on request\n"
        "                       solve-only (the solve, pivots computed), memcpy (a copy of\n"
        "                       the solve's right-hand sides), lapack-pt (LAPACK ?pttrf +\n"
        "                       ?pttrs, chain trees)\n"
        "  --n LIST             sequence lengths: comma list of values and lo:hi[:xF]\n"
        "                       ranges, K, M, G suffixes (powers of 1024) or 2^k; default\n"
        "                       1K:64K:x4\n"
        "  --d-model LIST       model widths D (default 128)\n"
        "  --heads LIST         heads H, each dividing every D (default 4)\n"
        "  --batch LIST         sequences per rank (data) or one after the other (sequence)\n"
        "                       (default 1)\n"
        "  --tree LIST          chain, kary<k>, heap<k> (2 <= k <= 64), kary (once per\n"
        "                       --arity): the tree of myosotis and the solvers (default kary)\n"
        "  --arity LIST         arities of a bare kary, 2..64 (default 2)\n"
        "  --direction LIST     both, up, down: the tree's (default both)\n"
        "  --mask LIST          full, causal: dense attention's (default full)\n"
        "  --ordering O         raster, morton, hilbert: image token order; recorded only\n"
        "                       (myo-bench sweeps sequences: tokens stay in sequence order;\n"
        "                       image orderings are in myo-data and myo-lra) (default raster)\n"
        "  --phase P            fwd, fwd+bwd or both (default both)\n"
        "  --mode LIST          sequence, data, local; both = sequence,data (the default)\n"
        "  --precision LIST     single, double: float32 (every method) or float64 (solve,\n"
        "                       solve-only, memcpy, lapack-pt) (default single)\n"
        "  --reps R             timed repetitions (default 3)\n"
        "  --warmup W           untimed repetitions first (default 1)\n"
        "  --no-flush           do not evict the caches before each repetition\n"
        "  --max-memory BYTES   memory a host may use (K, M, G; default its MemAvailable at\n"
        "                       start); larger points are skipped (SKIP:memory)\n"
        "  --time-budget S      seconds a point's warm-up and repetitions may take (default\n"
        "                       20); predicted longer: skipped (SKIP:time)\n"
        "  --output FILE        HDF5 results file, appended to (default myo-bench.h5)\n"
        "  --resume             skip the points the file holds with status OK\n"
        "  --progress WHEN      auto, bar, lines or none (stderr, rank 0; default auto)\n"
        "  --seed S             seed of the inputs (default %llu)\n"
        "  --triad-mib M        MiB per STREAM-triad array, 0: no triad (default 64)\n"
        "  --help, --version\n"
        "\n"
        "Exit status: 0 when every point ran or was skipped and validated, 2 bad command\n"
        "line, 3 an incompatible results file, 5 a file that cannot be read or written or\n"
        "is not HDF5, 6 an internal failure, 7 a failed validation, 128+N after signal N\n"
        "(SIGTERM: 143) once the file is closed.\n",
        TOOL, DENSE_MAT_DEFAULT_N, (unsigned long long)SEED_DEFAULT);
}

static const char *const PHASE_WORDS[] = {"fwd", "fwd+bwd", "both", NULL};
static const char *const MODE_WORDS[] = {"sequence", "data", "local", "both", NULL};
static const char *const PREC_WORDS[] = {"single", "double", NULL};
static const char *const DIR_WORDS[] = {"both", "up", "down", NULL};
static const char *const MASK_WORDS[] = {"full", "causal", NULL};
static const char *const PROGRESS_WORDS[] = {"auto", "bar", "lines", "none", NULL};

/* Returns -1 to go on, otherwise the exit code (0 after --help/--version).
 * Every rank parses the same command line and takes the same decision;
 * messages come from rank 0.  No file is touched here. */
static int parse_options(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    static const char *method_words[MAX_KERNELS + 1];
    for (int i = 0; i < M_COUNT; i++) { /* every kernel but those named only explicitly */
        method_words[i] = METHOD_NAME(i);
        if (!(bench_kernels[i]->uses & BENCH_EXPLICIT)) o->method[o->n_methods++] = i;
    }
    o->n[0] = 1024, o->n[1] = 4096, o->n[2] = 16384, o->n[3] = 65536, o->n_n = 4;
    o->d[0] = 128, o->n_d = 1, o->h[0] = 4, o->n_h = 1, o->b[0] = 1, o->n_b = 1;
    opt_parse_tree("kary", NULL, &o->tree[0]), o->n_tree = 1, o->arity[0] = 2, o->n_arity = 1;
    o->dir[0] = MYO_DIR_BOTH, o->n_dir = 1, o->ordering = ORD_RASTER;
    o->mask[0] = 0, o->n_mask = 1;
    o->phase_word = 2; /* both */
    o->prec[0] = PREC_SINGLE, o->n_prec = 1;
    o->mode[0] = MODE_SEQ, o->mode[1] = MODE_DATA, o->n_mode = 2;
    o->time_budget = 20.0, o->output = "myo-bench.h5";
    o->progress = PROGRESS_AUTO, o->seed = SEED_DEFAULT, o->triad_mib = 64;
    myo_bench_common_defaults(&o->common);
    o->common.reps = 3;

    const int n_cap = (int)(sizeof o->n / sizeof o->n[0]);
    const opt_spec own[] = {
        {.name = "method", .alias = "methods", .kind = OPT_WORDS, .value = o->method,
         .count = &o->n_methods, .max = MAX_KERNELS, .words = method_words,
         .given = &o->methods_given},
        {.name = "n", .kind = OPT_LENGTHS, .value = o->n, .count = &o->n_n, .max = n_cap,
         .lo = 1, .hi = INT64_C(1) << 36},
        {.name = "d-model", .kind = OPT_INTS, .value = o->d, .count = &o->n_d, .max = MAX_LIST,
         .lo = 1, .hi = 16384},
        {.name = "heads", .kind = OPT_INTS, .value = o->h, .count = &o->n_h, .max = MAX_LIST,
         .lo = 1, .hi = 4096},
        {.name = "batch", .kind = OPT_INTS, .value = o->b, .count = &o->n_b, .max = MAX_LIST,
         .lo = 1, .hi = 65536},
        {.name = "tree", .kind = OPT_TREES, .value = o->tree, .count = &o->n_tree,
         .max = MAX_LIST},
        {.name = "arity", .kind = OPT_INTS, .value = o->arity, .count = &o->n_arity,
         .max = MAX_LIST, .lo = 2, .hi = 64},
        {.name = "direction", .kind = OPT_WORDS, .value = o->dir, .count = &o->n_dir, .max = 3,
         .words = DIR_WORDS},
        {.name = "mask", .kind = OPT_WORDS, .value = o->mask, .count = &o->n_mask, .max = 2,
         .words = MASK_WORDS},
        {.name = "ordering", .kind = OPT_WORD, .value = &o->ordering, .words = ORD_NAME},
        {.name = "phase", .kind = OPT_WORD, .value = &o->phase_word, .words = PHASE_WORDS},
        {.name = "mode", .kind = OPT_WORDS, .value = o->mode, .count = &o->n_mode,
         .max = BENCH_MODE_COUNT + 1, .words = MODE_WORDS},
        {.name = "precision", .kind = OPT_WORDS, .value = o->prec, .count = &o->n_prec,
         .max = BENCH_PREC_COUNT, .words = PREC_WORDS},
        {.name = "time-budget", .kind = OPT_SECONDS, .value = &o->time_budget},
        {.name = "output", .kind = OPT_TEXT, .value = &o->output},
        {.name = "resume", .kind = OPT_FLAG, .value = &o->resume},
        {.name = "progress", .kind = OPT_WORD, .value = &o->progress, .words = PROGRESS_WORDS},
        {.name = "seed", .kind = OPT_INT, .value = &o->seed, .lo = 0, .hi = INT64_MAX},
        {.name = "triad-mib", .kind = OPT_INT, .value = &o->triad_mib, .lo = 0, .hi = 1 << 20},
    };
    int code = myo_bench_parse_options(argc, argv, own, (int)(sizeof own / sizeof own[0]),
                                       MYO_BENCH_OPT_REPS | MYO_BENCH_OPT_WARMUP |
                                           MYO_BENCH_OPT_NOFLUSH | MYO_BENCH_OPT_MAXMEM,
                                       &o->common, usage);
    if (code >= 0) return code;
    /* --phase: fwd, fwd+bwd or both; --mode both: sequence and data */
    o->n_phase = 0;
    for (int i = 0; i < BENCH_PH_COUNT; i++)
        if (o->phase_word == i || o->phase_word == 2) o->phase[o->n_phase++] = i;
    int k = 0, both = 0;
    for (int i = 0; i < o->n_mode; i++)
        if (o->mode[i] == BENCH_MODE_COUNT)
            both = 1;
        else
            o->mode[k++] = o->mode[i];
    for (int m = MODE_SEQ; both && m <= MODE_DATA; m++) {
        int have = 0;
        for (int i = 0; i < k; i++)
            have |= o->mode[i] == m;
        if (!have) o->mode[k++] = m;
    }
    o->n_mode = k;
    /* the trees: kary without k once per --arity */
    o->n_trees = 0;
    for (int t = 0; t < o->n_tree; t++) {
        const opt_tree *tr = &o->tree[t];
        const int kind = tr->kind == OPT_TREE_CHAIN  ? TREE_CHAIN
                         : tr->kind == OPT_TREE_HEAP ? TREE_HEAP
                                                     : TREE_KARY;
        for (int a = 0; a < (tr->kind == OPT_TREE_KARY && !tr->arity ? o->n_arity : 1); a++) {
            o->tree_kind[o->n_trees] = kind;
            o->tree_arity[o->n_trees++] = kind == TREE_CHAIN ? 0 : tr->arity ? tr->arity
                                                                                : (int)o->arity[a];
        }
    }
    for (int i = 0; i < o->n_d; i++)
        for (int j = 0; j < o->n_h; j++)
            if (o->d[i] % o->h[j] != 0) {
                myo_bench_say(0,
                              "--heads %lld does not divide --d-model %lld (every head needs the "
                              "same width d = D / H)",
                              (long long)o->h[j], (long long)o->d[i]);
                return MYO_EXIT_USAGE;
            }
    return -1;
}

/* ------------------------------------------------------------- points */

typedef bench_point point;

static int uses_tree(const point *p)
{
    return (KERNEL(p)->uses & BENCH_USES_TREE) != 0;
}
static const char *tree_name(const point *p)
{
    return uses_tree(p) ? TREE_NAME[p->tree] : "-";
}
static const char *dir_name(const point *p)
{
    return uses_tree(p) ? DIR_NAME[p->dir] : "-";
}
static const char *mask_name(const point *p)
{
    return KERNEL(p)->uses & BENCH_USES_MASK ? MASK_WORDS[p->causal] : "-";
}
static const char *ord_name(const point *p, const opts *o)
{
    return uses_tree(p) ? ORD_NAME[o->ordering] : "-";
}

static void point_keys(point *p, const opts *o, int ranks)
{
    char rest[200];
    snprintf(rest, sizeof rest,
             "precision=%s tree=%s arity=%d direction=%s mask=%s ordering=%s d_model=%lld "
             "heads=%lld batch=%lld ranks=%d",
             PREC_NAME[p->prec], tree_name(p), p->arity, dir_name(p), mask_name(p), ord_name(p, o),
             (long long)p->D, (long long)p->H, (long long)p->B, ranks);
    snprintf(p->key, sizeof p->key, "method=%s mode=%s phase=%s n=%lld %s", METHOD_NAME(p->method),
             MODE_NAME[p->mode], PHASE_NAME[p->phase], (long long)p->n, rest);
    snprintf(p->series, sizeof p->series, "method=%s mode=%s phase=%s %s", METHOD_NAME(p->method),
             MODE_NAME[p->mode], PHASE_NAME[p->phase], rest);
    const double n = p->mode == MODE_LOCAL ? (double)bench_local_n(p->n, ranks) : (double)p->n;
    double c = (double)p->B * pow(n, KERNEL(p)->power) * (double)p->D;
    if (p->phase == PH_FB) c *= 3.0;
    if (p->mode == MODE_SEQ) c /= ranks;
    p->cost = c;
}

/* Local.  Whether p belongs to the sweep, its parameters that its method
 * ignores set to one value (so that they make no duplicate). */
static int point_normalize(point *p, const opts *o)
{
    const unsigned uses = KERNEL(p)->uses;
    if (KERNEL(p) == &bench_kernel_dense_materialized && !o->methods_given &&
        (p->n > DENSE_MAT_DEFAULT_N || p->mode == MODE_SEQ))
        return 0; /* the default sweep: small n, data mode */
    if (p->prec == PREC_DOUBLE && !(uses & BENCH_HAS_DOUBLE)) return 0; /* float32 kernels */
    if (p->phase == PH_FB && !(uses & BENCH_HAS_BWD)) return 0;         /* no backward */
    if (!(uses & BENCH_USES_TREE)) p->tree = TREE_KARY, p->arity = 0, p->dir = 0;
    if (p->tree == TREE_CHAIN) p->arity = 0;
    if (!(uses & BENCH_USES_HEADS)) p->H = 0;
    if (!(uses & BENCH_USES_MASK)) p->causal = 0;
    return 1;
}

/* The sweep: every combination of the lists, n outermost (cost grows along
 * it), duplicates dropped.  Returns the count, or -1 when out of memory or
 * beyond MAX_POINTS. */
static int make_points(const opts *o, int ranks, point **out)
{
    enum { I_N, I_D, I_H, I_B, I_MODE, I_METHOD, I_TREE, I_DIR, I_MASK, I_PHASE, I_PREC, DIMS };
    const int len[DIMS] = {o->n_n,     o->n_d,       o->n_h,     o->n_b,
                           o->n_mode,  o->n_methods, o->n_trees, o->n_dir,
                           o->n_mask,  o->n_phase,   o->n_prec};
    int i[DIMS] = {0};
    size_t cap = 256, count = 0;
    point *pts = malloc(cap * sizeof *pts);
    for (int d = 0; pts && d >= 0;) {
        point p;
        memset(&p, 0, sizeof p);
        p.n = o->n[i[I_N]], p.D = o->d[i[I_D]], p.H = o->h[i[I_H]], p.B = o->b[i[I_B]];
        p.mode = o->mode[i[I_MODE]], p.method = o->method[i[I_METHOD]];
        p.tree = o->tree_kind[i[I_TREE]], p.arity = o->tree_arity[i[I_TREE]];
        p.dir = o->dir[i[I_DIR]], p.causal = o->mask[i[I_MASK]];
        p.phase = o->phase[i[I_PHASE]], p.prec = o->prec[i[I_PREC]];
        int keep = point_normalize(&p, o);
        if (keep) point_keys(&p, o, ranks);
        for (size_t q = 0; q < count && keep; q++)
            keep = strcmp(pts[q].key, p.key) != 0;
        if (keep && count == cap) {
            point *more = 2 * cap <= MAX_POINTS ? realloc(pts, 2 * cap * sizeof *pts) : NULL;
            if (!more) free(pts);
            pts = more, cap *= 2;
        }
        if (keep && pts) pts[count++] = p;
        /* the next combination: an odometer, the last list turning fastest */
        for (d = DIMS - 1; d >= 0 && ++i[d] == len[d]; d--)
            i[d] = 0;
    }
    *out = pts;
    return pts ? (int)count : -1;
}

/* ------------------------------------------------------ HDF5 schema */

typedef struct {
    int64_t run_id, point;
    char point_key[256];
    char method[24], mode[12], phase[12], precision[8], tree[8];
    int64_t arity;
    char direction[8], mask[8], ordering[8];
    int64_t n, nodes, d_model, heads, batch, ranks, reps;
    double t_min, t_med, t_max, flops, bytes, gflops, gbytes_per_s, triad_gbytes_per_s;
    double peak_rss_mib;
    double t_proj_med, t_mix_med;              /* medians of the projections' and the mixing's */
    double messages, message_bytes, collectives; /* per pass and rank, the max over ranks */
    char valid[8];
    double val_error;
    char status[20];
    char note[160];
} points_row;

typedef struct {
    int64_t run_id, point, rep;
    double seconds;
} reps_row;

#define COL_I(T, f)                                                                                \
    {                                                                                              \
#f, MYO_H5COL_INT64, offsetof(T, f), 0                                                     \
    }
#define COL_D(T, f)                                                                                \
    {                                                                                              \
#f, MYO_H5COL_DOUBLE, offsetof(T, f), 0                                                    \
    }
#define COL_S(T, f)                                                                                \
    {                                                                                              \
#f, MYO_H5COL_STRING, offsetof(T, f), sizeof(((T *)0)->f)                                  \
    }

static const myo_h5col POINT_COLS[] = {
    COL_I(points_row, run_id),       COL_I(points_row, point),
    COL_S(points_row, point_key),    COL_S(points_row, method),
    COL_S(points_row, mode),         COL_S(points_row, phase),
    COL_S(points_row, precision),    COL_S(points_row, tree),
    COL_I(points_row, arity),        COL_S(points_row, direction),
    COL_S(points_row, mask),
    COL_S(points_row, ordering),     COL_I(points_row, n),
    COL_I(points_row, nodes),        COL_I(points_row, d_model),
    COL_I(points_row, heads),        COL_I(points_row, batch),
    COL_I(points_row, ranks),        COL_I(points_row, reps),
    COL_D(points_row, t_min),        COL_D(points_row, t_med),
    COL_D(points_row, t_max),        COL_D(points_row, flops),
    COL_D(points_row, bytes),        COL_D(points_row, gflops),
    COL_D(points_row, gbytes_per_s), COL_D(points_row, triad_gbytes_per_s),
    COL_D(points_row, peak_rss_mib), COL_D(points_row, t_proj_med),
    COL_D(points_row, t_mix_med),    COL_D(points_row, messages),
    COL_D(points_row, message_bytes), COL_D(points_row, collectives),
    COL_S(points_row, valid),        COL_D(points_row, val_error),
    COL_S(points_row, status),       COL_S(points_row, note),
};
static const myo_h5col REP_COLS[] = {
    COL_I(reps_row, run_id),
    COL_I(reps_row, point),
    COL_I(reps_row, rep),
    COL_D(reps_row, seconds),
};
enum { TABLE_POINTS, TABLE_REPS };
static const myo_h5table TABLES[2] = {
    {"points", POINT_COLS, (int)(sizeof POINT_COLS / sizeof POINT_COLS[0]), sizeof(points_row)},
    {"repetitions", REP_COLS, (int)(sizeof REP_COLS / sizeof REP_COLS[0]), sizeof(reps_row)},
};

/* ------------------------------------------------------------- sweep */

/* What the time predictions know: per series (the same point but n) the
 * last measured point, and per method the seconds per unit of cost. */
typedef struct {
    char series[256];
    double cost, wall;
    int stopped;
    int64_t stopped_n;
} series_hist;

typedef struct {
    const opts *o;
    point *pts;
    int count;
    int ranks;
    myo_bench_budget mem;      /* --max-memory or MemAvailable, per host */
    const myo_bench_flush *fl; /* read before each repetition (--no-flush: empty) */
    series_hist *hist;
    int n_hist;
    double rate_t[MAX_KERNELS], rate_c[MAX_KERNELS]; /* sums of measured wall and of cost */
    double triad;                            /* aggregate GB/s, NAN when not measured */
    /* validation cache */
    struct vcache {
        char key[128];
        double err, tol;
        int ok;
        char why[160];
    } * val;
    int n_val;
} sweep;

static series_hist *find_series(sweep *sw, const char *series, int create)
{
    for (int i = 0; i < sw->n_hist; i++)
        if (strcmp(sw->hist[i].series, series) == 0) return &sw->hist[i];
    if (!create) return NULL;
    series_hist *more = realloc(sw->hist, (size_t)(sw->n_hist + 1) * sizeof *more);
    if (!more) return NULL;
    sw->hist = more;
    series_hist *h = &sw->hist[sw->n_hist++];
    memset(h, 0, sizeof *h);
    snprintf(h->series, sizeof h->series, "%s", series);
    return h;
}

/* Predicted seconds of p's warm-up and repetitions; -1 when nothing is
 * known yet. */
static double predict_time(sweep *sw, const point *p)
{
    series_hist *h = find_series(sw, p->series, 0);
    if (h && h->wall > 0 && h->cost > 0) return h->wall * p->cost / h->cost;
    if (sw->rate_c[p->method] > 0) return p->cost * sw->rate_t[p->method] / sw->rate_c[p->method];
    return -1.0;
}

static void init_row(points_row *row, const point *p, const opts *o, int64_t run_id, int index,
                     int ranks)
{
    memset(row, 0, sizeof *row);
    row->run_id = run_id, row->point = index;
    snprintf(row->point_key, sizeof row->point_key, "%s", p->key);
    snprintf(row->method, sizeof row->method, "%s", METHOD_NAME(p->method));
    snprintf(row->mode, sizeof row->mode, "%s", MODE_NAME[p->mode]);
    snprintf(row->phase, sizeof row->phase, "%s", PHASE_NAME[p->phase]);
    snprintf(row->precision, sizeof row->precision, "%s", PREC_NAME[p->prec]);
    snprintf(row->tree, sizeof row->tree, "%s", tree_name(p));
    row->arity = p->arity;
    snprintf(row->direction, sizeof row->direction, "%s", dir_name(p));
    snprintf(row->mask, sizeof row->mask, "%s", mask_name(p));
    snprintf(row->ordering, sizeof row->ordering, "%s", ord_name(p, o));
    const int64_t n = p->mode == MODE_LOCAL ? bench_local_n(p->n, ranks) : p->n;
    row->n = p->n, row->nodes = bench_nodes_bound(p, n), row->d_model = p->D, row->heads = p->H;
    row->batch = p->B, row->ranks = ranks, row->reps = 0;
    row->t_min = row->t_med = row->t_max = NAN;
    row->flops = row->bytes = row->gflops = row->gbytes_per_s = NAN;
    row->triad_gbytes_per_s = NAN, row->peak_rss_mib = NAN, row->val_error = NAN;
    row->t_proj_med = row->t_mix_med = NAN;
    row->messages = row->message_bytes = row->collectives = NAN;
    snprintf(row->valid, sizeof row->valid, "-");
}

static void set_status(points_row *row, int st, const char *note)
{
    snprintf(row->status, sizeof row->status, "%s", STATUS_NAME[st]);
    snprintf(row->note, sizeof row->note, "%s", note && *note ? note : "-");
}

/* Collective.  SKIP verdicts for p (unsupported, time, memory), the same
 * on every rank; 0 to run it. */
static int decide_skip(sweep *sw, const point *p, char *note, size_t size)
{
    note[0] = '\0';
    const char *why = KERNEL(p)->unsupported(p);
    if (why) {
        snprintf(note, size, "%s", why);
        return ST_SKIP_UNSUPPORTED;
    }
    series_hist *h = find_series(sw, p->series, 0);
    if (h && h->stopped) {
        snprintf(note, size, "time: the series was skipped for time from n = %lld",
                 (long long)h->stopped_n);
        return ST_SKIP_TIME;
    }
    const double need =
        myo_bench_budget_need(&sw->mem, KERNEL(p)->predict_bytes(p, sw->ranks) * MEM_MARGIN);
    const double pred = predict_time(sw, p);
    int st = 0;
    if (need > sw->mem.bytes) {
        st = ST_SKIP_MEMORY;
        myo_bench_budget_note(&sw->mem, need, note, size);
    } else if (pred > sw->o->time_budget) {
        st = ST_SKIP_TIME;
        snprintf(note, size, "time: predicted %.3g s > budget %.3g s", pred, sw->o->time_budget);
    }
    int agreed = myo_bench_agree(st); /* MemAvailable differs between hosts: the worst wins */
    if (agreed != st)
        snprintf(note, size, "%s: over the limit on another host",
                 agreed == ST_SKIP_MEMORY ? "memory" : "time");
    if (agreed == ST_SKIP_TIME && (h = find_series(sw, p->series, 1)))
        h->stopped = 1, h->stopped_n = p->n;
    return agreed;
}

static void validation_key(const point *p, char *key, size_t size)
{
    snprintf(key, size, "%s %s %s %s %s %d %s %s %lld %lld", METHOD_NAME(p->method),
             MODE_NAME[p->mode], PHASE_NAME[p->phase], PREC_NAME[p->prec], tree_name(p), p->arity,
             dir_name(p), mask_name(p), (long long)p->D, (long long)p->H);
}

/* Collective.  The validation of p's configuration, cached. */
static struct vcache *validation_of(sweep *sw, const point *p)
{
    char key[128];
    validation_key(p, key, sizeof key);
    for (int i = 0; i < sw->n_val; i++)
        if (strcmp(sw->val[i].key, key) == 0) return &sw->val[i];
    struct vcache *more = realloc(sw->val, (size_t)(sw->n_val + 1) * sizeof *more);
    if (more) sw->val = more;
    if (myo_bench_agree(more == NULL)) return NULL; /* validate is collective: all or none */
    struct vcache *v = &sw->val[sw->n_val++];
    memset(v, 0, sizeof *v);
    snprintf(v->key, sizeof v->key, "%s", key);
    myo_status s = KERNEL(p)->validate(p, sw->o->seed, &v->err, &v->tol, v->why, sizeof v->why);
    v->ok = s == MYO_OK && v->err <= v->tol;
    return v;
}

/* Collective.  Measure point p into row (and its repetitions into reps,
 * *nreps of them; the kernel's projection and mixing seconds into split,
 * two per repetition).  Returns the row's status. */
static int run_point(sweep *sw, const point *p, points_row *row, double *reps, double *split,
                     int *nreps)
{
    const opts *o = sw->o;
    const bench_kernel *kern = KERNEL(p);
    *nreps = 0;
    char note[160] = "";
    int st = decide_skip(sw, p, note, sizeof note);
    if (st != 0) {
        set_status(row, st, note);
        return st;
    }
    struct vcache *v = validation_of(sw, p);
    if (!v) {
        set_status(row, ST_FAILED, "out of memory for the validation cache");
        return ST_FAILED;
    }
    row->val_error = v->err;
    snprintf(row->valid, sizeof row->valid, "%s", v->ok ? "VALID" : "INVALID");

    myo_bench_peak_rss_reset();
    bench_run *r = NULL;
    const char *why = NULL;
    myo_status s = kern->setup(p, o->seed, &r, &why);
    if (r) row->nodes = kern->nodes(r);
    if (s != MYO_OK) {
        st = s == MYO_ERR_NOMEM ? ST_SKIP_MEMORY : s == MYO_ERR_ARG ? ST_SKIP_LIMIT : ST_FAILED;
        snprintf(note, sizeof note, "%s: %s: %.100s", st == ST_SKIP_MEMORY ? "memory" : "setup",
                 myo_status_str(s), why ? why : myo_error_detail());
        kern->teardown(&r);
        snprintf(row->valid, sizeof row->valid, "-"); /* nothing timed to vouch for */
        row->val_error = NAN;
        set_status(row, st, note);
        return st;
    }

    const int64_t total = o->common.warmup + o->common.reps;
    int64_t k = 0;
    int failed = 0;
    double counts[3] = {0, 0, 0}; /* messages, their bytes, collectives over the timed passes */
    myo_bench_sync(NULL);
    const double t_loop = MPI_Wtime();
    for (int64_t it = 0; it < total; it++) {
        mpi_counts c;
        myo_bench_sync(sw->fl);
        mpi_count_now(&c);
        mpi_count_start();
        const double t0 = MPI_Wtime();
        s = kern->run(r);
        const double t = MPI_Wtime() - t0;
        mpi_count_stop(&c);
        /* all ranks stop together, after a failure or a signal on any rank */
        if ((failed = myo_bench_any_failed(&s))) break;
        if (it >= o->common.warmup) {
            bench_split sp = {NAN, NAN};
            if (kern->split) kern->split(r, &sp);
            split[2 * k] = sp.proj, split[2 * k + 1] = sp.mix;
            counts[0] += (double)c.p2p, counts[1] += (double)c.p2p_bytes;
            counts[2] += (double)c.colls;
            reps[k++] = t;
        }
        if (myo_sweep_stop_agreed()) break;
    }
    double wall = MPI_Wtime() - t_loop;
    myo_bench_max_over_ranks(&wall, 1);
    if (failed) {
        if (s != MYO_ERR_MPI)
            myo_bench_say(1, "%s: %s: %s", p->key, myo_status_str(s), myo_error_detail());
        snprintf(note, sizeof note, "run: %s: %.120s", myo_status_str(s),
                 s != MYO_ERR_MPI ? myo_error_detail() : "on another rank");
        st = ST_FAILED;
    } else if (k < o->common.reps) {
        snprintf(note, sizeof note, "signal %d after %lld of %lld repetitions", myo_sweep_signal(),
                 (long long)k, (long long)o->common.reps);
        st = ST_INTERRUPTED;
    } else {
        st = ST_OK;
    }
    if (k > 0) {
        myo_bench_max_over_ranks(reps, (int)k);
        myo_bench_max_over_ranks(split, 2 * (int)k);
        for (int i = 0; i < 3; i++)
            counts[i] /= (double)k;
        myo_bench_max_over_ranks(counts, 3);
    }
    double mem = myo_bench_peak_rss_mib();
    myo_bench_max_over_ranks(&mem, 1);
    kern->teardown(&r);

    *nreps = (int)k;
    row->reps = k;
    row->peak_rss_mib = mem;
    kern->cost(p, (double)row->nodes, sw->ranks, &row->flops, &row->bytes);
    row->triad_gbytes_per_s = sw->triad;
    if (k > 0) {
        double *sorted = malloc((size_t)k * sizeof *sorted), st3[3];
        if (sorted) {
            memcpy(sorted, reps, (size_t)k * sizeof *sorted);
            myo_bench_summarize(sorted, k, st3);
            row->t_min = st3[0], row->t_med = st3[1], row->t_max = st3[2];
            row->gflops = row->flops / row->t_med * 1e-9;
            row->gbytes_per_s = row->bytes / row->t_med * 1e-9;
            for (int part = 0; part < 2 && isfinite(split[part]); part++) {
                for (int64_t i = 0; i < k; i++)
                    sorted[i] = split[2 * i + part];
                myo_bench_summarize(sorted, k, st3);
                *(part ? &row->t_mix_med : &row->t_proj_med) = st3[1];
            }
            free(sorted);
        }
        row->messages = counts[0], row->message_bytes = counts[1], row->collectives = counts[2];
    }
    if (st == ST_OK) {
        series_hist *h = find_series(sw, p->series, 1);
        if (h) h->cost = p->cost, h->wall = wall;
        sw->rate_t[p->method] += wall, sw->rate_c[p->method] += p->cost;
    }
    set_status(row, st, st == ST_OK ? (v->ok ? "" : v->why) : note);
    return st;
}

/* ------------------------------------------------------------- output */

#define COLS_FMT                                                                                   \
    "%5s %-18s %-8s %-7s %-6s %-5s %2s %-5s %9s %9s %5s %3s %3s %11s %11s %11s %8s %8s %6s %8s "   \
    "%10s %10s %6s %8s %5s %-7s %8s %-16s %s\n"

static void print_columns(void)
{
    myo_bench_row(COLS_FMT, "#  pt", "method", "mode", "phase", "prec", "tree", "k", "dir", "n",
                  "nodes", "D", "H", "B", "t_med_ms", "t_min_ms", "t_max_ms", "GFLOP/s", "GB/s",
                  "triad", "rss_MiB", "proj_ms", "mix_ms", "msgs", "MiB_sent", "colls", "valid",
                  "val_err", "status", "note");
}

static void print_row(const points_row *r)
{
    enum { NUMS = 12 };
    char num[NUMS][24];
    const double v[NUMS] = {r->t_med * 1e3,
                            r->t_min * 1e3,
                            r->t_max * 1e3,
                            r->gflops,
                            r->gbytes_per_s,
                            r->gbytes_per_s / r->triad_gbytes_per_s,
                            r->peak_rss_mib,
                            r->t_proj_med * 1e3,
                            r->t_mix_med * 1e3,
                            r->messages,
                            r->message_bytes / 1048576.0,
                            r->collectives};
    const char *fmt[NUMS] = {"%.3f", "%.3f", "%.3f", "%.2f", "%.2f", "%.3f",
                             "%.0f", "%.3f", "%.3f", "%.0f", "%.3f", "%.0f"};
    for (int i = 0; i < NUMS; i++)
        if (isfinite(v[i]))
            snprintf(num[i], sizeof num[i], fmt[i], v[i]);
        else
            snprintf(num[i], sizeof num[i], "-");
    char err[24], ints[7][24];
    if (isfinite(r->val_error))
        snprintf(err, sizeof err, "%.2e", r->val_error);
    else
        snprintf(err, sizeof err, "-");
    const long long iv[7] = {r->point, r->arity, r->n, r->nodes, r->d_model, r->heads, r->batch};
    for (int i = 0; i < 7; i++)
        snprintf(ints[i], sizeof ints[i], "%lld", iv[i]);
    myo_bench_row(COLS_FMT, ints[0], r->method, r->mode, r->phase, r->precision, r->tree,
                  r->arity ? ints[1] : "-", r->direction, ints[2], ints[3], ints[4],
                  r->heads ? ints[5] : "-", ints[6], num[0], num[1], num[2], num[3], num[4], num[5],
                  num[6], num[7], num[8], num[9], num[10], num[11], r->valid, err, r->status,
                  r->note);
}

/* ----------------------------------------------------------- progress */

/* stderr is a terminal and no launcher started the process (set in main) */
static int g_interactive = 0;

typedef struct {
    int mode; /* PROGRESS_BAR, PROGRESS_LINES or PROGRESS_NONE (auto resolved) */
    double t0, last;
    int todo, done, skipped, resumed;
} progress;

static void fmt_secs(double s, char *buf, size_t size)
{
    if (s < 100)
        snprintf(buf, size, "%.0f s", s);
    else if (s < 6000)
        snprintf(buf, size, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
    else
        snprintf(buf, size, "%.0fh%02.0fm", floor(s / 3600), fmod(floor(s / 60), 60));
}

/* Local (rank 0 prints).  next: the index of the point about to run. */
static void progress_show(progress *pg, sweep *sw, int next, int final)
{
    if (myo_bench_rank() != 0 || pg->mode == PROGRESS_NONE) return;
    const double now = MPI_Wtime();
    if (!final && pg->last > 0 &&
        now - pg->last < (pg->mode == PROGRESS_LINES ? PROGRESS_LINE_S : PROGRESS_BAR_S))
        return;
    pg->last = now;
    /* the ETA: the predicted time of every point left that will run (the
     * series' last point scaled by the cost model, else the method's rate so
     * far); points with no estimate yet are counted apart */
    double eta = 0.0;
    int unknown = 0;
    for (int i = next; i < sw->count; i++) {
        const point *p = &sw->pts[i];
        if (p->done || KERNEL(p)->unsupported(p))
            continue;
        series_hist *h = find_series(sw, p->series, 0);
        if (h && h->stopped) continue;
        double t = predict_time(sw, p);
        if (t < 0)
            unknown++;
        else if (t <= sw->o->time_budget)
            eta += t;
    }
    char el[32], et[48], unk[64] = "";
    fmt_secs(now - pg->t0, el, sizeof el);
    fmt_secs(eta, et, sizeof et);
    if (unknown && eta > 0)
        snprintf(unk, sizeof unk, " + %d point%s not estimated yet", unknown,
                 unknown > 1 ? "s" : "");
    else if (unknown)
        snprintf(et, sizeof et, "not known until a point of each method ran");
    if (final) snprintf(et, sizeof et, "0 s"), unk[0] = '\0';
    const int total = pg->todo;
    if (pg->mode == PROGRESS_BAR) {
        char bar[31];
        int w = total > 0 ? (int)(30.0 * pg->done / total) : 30;
        for (int i = 0; i < 30; i++)
            bar[i] = i < w ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %d/%d points, elapsed %s, ETA %s%s", TOOL, bar, pg->done,
                total, el, et, unk);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %d/%d points (%d skipped), elapsed %s, ETA %s%s\n", TOOL, pg->done,
                total, pg->skipped, el, et, unk);
    }
    fflush(stderr);
}

/* ------------------------------------------------------------- header */

static void print_list_i(const char *name, const int64_t *v, int count)
{
    printf("%s ", name);
    for (int i = 0; i < count; i++)
        printf("%s%lld", i ? "," : "", (long long)v[i]);
}

static void print_header(const sweep *sw, const run_meta *meta, int64_t run_id, int resumed,
                         const myo_bench_triad_result *tr)
{
    const opts *o = sw->o;
    printf("# ");
    myo_cli_print_version(TOOL);
    run_meta_print(stdout, meta);
    printf("# results file %s: run_id %lld, schema %s, tables 'points' (one row per point) and "
           "'repetitions' (one row per timed repetition)\n",
           o->output, (long long)run_id, SCHEMA);
    printf("# sweep: %d points", sw->count);
    if (o->resume) printf(" (%d recorded OK before: skipped by --resume)", resumed);
    printf("; methods ");
    for (int i = 0; i < o->n_methods; i++)
        printf("%s%s", i ? "," : "", METHOD_NAME(o->method[i]));
    if (!o->methods_given) printf(" (dense-materialized: data mode, n <= %d)", DENSE_MAT_DEFAULT_N);
    printf("; ");
    print_list_i("n", o->n, o->n_n);
    printf("; ");
    print_list_i("D", o->d, o->n_d);
    printf("; ");
    print_list_i("H", o->h, o->n_h);
    printf("; ");
    print_list_i("B", o->b, o->n_b);
    printf("\n# trees ");
    for (int i = 0; i < o->n_trees; i++)
        if (o->tree_kind[i] == TREE_CHAIN)
            printf("%schain", i ? "," : "");
        else
            printf("%s%s%d", i ? "," : "", TREE_NAME[o->tree_kind[i]], o->tree_arity[i]);
    printf(", direction ");
    for (int i = 0; i < o->n_dir; i++)
        printf("%s%s", i ? "," : "", DIR_NAME[o->dir[i]]);
    printf(" (myosotis, solve); ordering %s (recorded only: tokens stay in sequence order; "
           "image orderings are in myo-data and myo-lra); phases ",
           ORD_NAME[o->ordering]);
    for (int i = 0; i < o->n_phase; i++)
        printf("%s%s", i ? "," : "", PHASE_NAME[o->phase[i]]);
    printf("; modes ");
    for (int i = 0; i < o->n_mode; i++)
        printf("%s%s", i ? "," : "", MODE_NAME[o->mode[i]]);
    printf("; precision ");
    for (int i = 0; i < o->n_prec; i++)
        printf("%s%s", i ? "," : "", o->prec[i] == PREC_DOUBLE ? "double (solvers only)" : "single");
    printf("; seed %lld\n", (long long)o->seed);
    printf("# modes: sequence = one sequence of n tokens split over the %d ranks (myosotis "
           "myo_layer_dist_*, leaf ranges of the kary tree or even ranges of the chain;\n#   "
           "dense-tiled ring attention myo_attention_ring_*; solve myo_dist_plan, Laplacian "
           "refactor + solve); B sequences one after the other; ssm, dense-materialized,\n#   "
           "memcpy, lapack-pt: SKIP:unsupported.  data = each rank its own B sequences with the "
           "serial kernels, fwd+bwd sums the weight gradients over the ranks\n#   "
           "(myo_layer_dp_*; MPI_Allreduce for the others; solvers: no gradients).  local = "
           "each rank its share, ceil(n / %d) tokens, through the serial kernels, no\n#   "
           "communication, all ranks at once: sequence mode's work without its messages.  "
           "solve: fwd = factor + solve with M = I + L (H heads, d = D/H channels each),\n#   "
           "fwd+bwd = then the solve with M^T; solve-only: the same without the factorisation; "
           "memcpy: a copy of the solve's right-hand sides; lapack-pt: ?pttrf + ?pttrs.\n",
           sw->ranks, sw->ranks);
    printf("# masks ");
    for (int i = 0; i < o->n_mask; i++)
        printf("%s%s", i ? "," : "", MASK_WORDS[o->mask[i]]);
    printf(" (dense attention)\n");
    printf("# validation, once per method, mode, phase, tree, arity, direction, mask, D, H: n = %d, "
           "one sequence, the same calls as the timed points on the same ranks, against the\n#   "
           "double reference twin on the whole sequence (data mode: weight gradients against "
           "P times the reference's; lapack-pt: myo_solve_ref on the same chain; memcpy:\n#   "
           "values compared); val_err = the largest ||x - x_ref|| / ||x_ref|| over y and, for "
           "fwd+bwd, dx and each weight-gradient block;\n#   VALID when <= %.0e (%.0e for "
           "double, 0 differing values for memcpy).\n",
           BENCH_VAL_N, BENCH_VAL_TOL, BENCH_VAL_TOL_F64);
    printf("# columns proj_ms, mix_ms: medians of the layer's own phase timers "
           "(myo_phase_times: projections, mixing), data and local mode; msgs, MiB_sent, colls: "
           "point-to-point\n#   messages, their MiB and collective calls of one pass, per rank "
           "(the max over ranks), counted by PMPI wrappers.\n");
    printf("# timing: %lld warm-up then %lld timed repetitions, each after %s and MPI_Barrier, "
           "timed with MPI_Wtime; a repetition's time is its slowest rank's; t_med, t_min, "
           "t_max over the repetitions.\n",
           (long long)o->common.warmup, (long long)o->common.reps,
           sw->fl->buf ? "evicting the caches" : "no cache eviction (--no-flush)");
    myo_bench_print_flush_buffer(sw->fl, " per rank, read before each repetition");
    printf("# GFLOP/s, GB/s: the flops and bytes of one pass over all ranks (README.md) / t_med; "
           "triad = GB/s / the triad's aggregate GB/s.\n");
    if (tr->done)
        printf("# triad: a[i] = b[i] + 3 c[i] over 3 x %lld MiB of doubles per rank, the %d ranks "
               "at once, %d repetitions: %.2f GB/s aggregate (per rank min %.2f, median %.2f, max "
               "%.2f GB/s)\n",
               (long long)o->triad_mib, sw->ranks, TRIAD_REPS, tr->aggregate, tr->rank_gbs[0],
               tr->rank_gbs[1], tr->rank_gbs[2]);
    else
        printf("# triad: not measured (%s)\n", tr->note);
    printf("# budgets: SKIP:memory when the predicted bytes per rank x %.2f plus the resident set, "
           "times the %d rank%s on the host, exceed %.2f GiB (%s);\n#   SKIP:time when the "
           "predicted time of the warm-up and repetitions exceeds %.3g s (the series' previous n "
           "scaled by n (myosotis, ssm, solve) or n^2 (dense),\n#   else the method's "
           "measured seconds per unit of B n^p D); once a series skips for time its larger n "
           "do too.\n",
           MEM_MARGIN, sw->mem.node_ranks, sw->mem.node_ranks > 1 ? "s" : "",
           sw->mem.bytes / 1073741824.0, myo_bench_budget_source(&sw->mem), o->time_budget);
    print_columns();
    fflush(stdout);
}

/* --------------------------------------------------------------- main */

static int bench_main(int argc, char **argv)
{
    const int rank = myo_bench_rank(), size = myo_bench_size();
    /* getopt permutes argv: the command line as given, for the metadata */
    char **argv0 = malloc((size_t)(argc + 1) * sizeof *argv0);
    if (!argv0) return MYO_EXIT_INTERNAL;
    memcpy(argv0, argv, (size_t)(argc + 1) * sizeof *argv0);
    opts o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0) {
        free(argv0);
        return code;
    }
    myo_sweep_catch_signals();
    myo_bench_blas_single_thread();
    const double t_start = MPI_Wtime();

    sweep sw;
    memset(&sw, 0, sizeof sw);
    sw.o = &o, sw.ranks = size, sw.triad = NAN;
    sw.count = make_points(&o, size, &sw.pts);
    if (sw.count <= 0) {
        if (sw.count < 0)
            myo_bench_say(0, "the sweep has more than %d points: fewer values, please", MAX_POINTS);
        else
            myo_bench_say(0,
                          "the sweep is empty: --precision double applies to --method solve only");
        free(sw.pts), free(argv0);
        return MYO_EXIT_USAGE;
    }

    /* the results file: every check passes before it is written */
    myo_h5log *log = NULL;
    code = MYO_EXIT_OK;
    if (rank == 0) {
        myo_status s = myo_h5log_open(o.output, SCHEMA, TABLES, 2, &log);
        if (s != MYO_OK) {
            myo_bench_say(0, "%s", myo_error_detail());
            code = myo_bench_status_code(s);
        }
    }
    if ((code = myo_bench_agree(code)) != MYO_EXIT_OK) {
        free(sw.pts), free(argv0);
        return code;
    }
    int64_t run_id = rank == 0 ? myo_h5log_run_id(log) : 0;
    myo_bench_mpi_check(MPI_Bcast(&run_id, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");

    /* --resume: the points recorded OK by any earlier run */
    int resumed = 0;
    if (o.resume) {
        myo_sweep_keys keys;
        memset(&keys, 0, sizeof keys);
        static const char *const done[] = {"OK", NULL};
        if (rank == 0) {
            myo_status s =
                myo_sweep_keys_load(log, TABLE_POINTS, "point_key", "status", done, &keys);
            if (s != MYO_OK) {
                myo_bench_say(0, "--resume: %s", myo_error_detail());
                code = myo_cli_exit_code(s);
            }
        }
        code = myo_bench_agree(code);
        for (int i = 0; i < sw.count && code == MYO_EXIT_OK; i++)
            resumed += sw.pts[i].done = myo_sweep_keys_has_agreed(&keys, sw.pts[i].key);
        myo_sweep_keys_free(&keys);
    }

    run_meta meta;
    memset(&meta, 0, sizeof meta);
    myo_status ms =
        code == MYO_EXIT_OK ? run_meta_collect(MPI_COMM_WORLD, argc, argv0, &meta) : MYO_OK;
    if (code == MYO_EXIT_OK) {
        char cfg[64];
        snprintf(cfg, sizeof cfg, "%d", sw.count);
        if (ms == MYO_OK) ms = run_meta_set(&meta, "schema", SCHEMA);
        if (ms == MYO_OK) ms = run_meta_set(&meta, "points", cfg);
        if (ms == MYO_OK) ms = run_meta_set(&meta, "output", o.output);
        if (ms != MYO_OK) myo_bench_say(1, "run metadata: %s", myo_status_str(ms));
        if (rank == 0 && ms == MYO_OK && (ms = run_meta_write(log, &meta)) != MYO_OK)
            myo_bench_say(0, "%s", myo_error_detail());
        code = myo_bench_agree(ms == MYO_OK ? MYO_EXIT_OK : myo_cli_exit_code(ms));
    }

    myo_bench_budget_init(o.common.max_memory, &sw.mem);
    myo_bench_flush fl;
    memset(&fl, 0, sizeof fl);
    if (code == MYO_EXIT_OK) code = myo_bench_flush_create(o.common.flush, &fl);
    sw.fl = &fl;
    myo_bench_triad_result tr;
    memset(&tr, 0, sizeof tr);
    if (code == MYO_EXIT_OK) code = myo_bench_triad(o.triad_mib, TRIAD_REPS, &sw.mem, &tr);
    sw.triad = tr.done ? tr.aggregate : NAN;
    if (code == MYO_EXIT_OK && rank == 0) print_header(&sw, &meta, run_id, resumed, &tr);

    /* the sweep */
    progress pg;
    memset(&pg, 0, sizeof pg);
    {
        int m = o.progress;
        if (m == PROGRESS_AUTO) m = g_interactive ? PROGRESS_BAR : PROGRESS_LINES;
        pg.mode = m, pg.t0 = MPI_Wtime(), pg.todo = sw.count - resumed, pg.resumed = resumed;
    }
    double *reps = myo_bench_alloc((size_t)o.common.reps, sizeof(double));
    double *split = myo_bench_alloc(2 * (size_t)o.common.reps, sizeof(double));
    reps_row *rrows = myo_bench_alloc((size_t)o.common.reps, sizeof(reps_row));
    if (code == MYO_EXIT_OK)
        code = myo_bench_agree(reps && split && rrows ? 0 : MYO_EXIT_INTERNAL);
    int invalid = 0, failed = 0, sig = 0, ran = 0;
    if (code == MYO_EXIT_OK) progress_show(&pg, &sw, 0, 0);
    for (int i = 0; i < sw.count && code == MYO_EXIT_OK; i++) {
        const point *p = &sw.pts[i];
        if (p->done) continue;
        if ((sig = myo_sweep_stop_agreed()) != 0) break;
        points_row row;
        init_row(&row, p, &o, run_id, i, size);
        int nr = 0;
        int st = run_point(&sw, p, &row, reps, split, &nr);
        ran += st == ST_OK;
        if (st == ST_OK && strcmp(row.valid, "VALID") != 0) invalid = 1;
        if (st == ST_FAILED) failed = 1;
        /* the repetitions first: a point row implies its repetitions */
        if (rank == 0) {
            myo_status s = MYO_OK;
            for (int k = 0; k < nr; k++)
                rrows[k] = (reps_row){run_id, i, k, reps[k]};
            if (nr > 0) s = myo_h5log_append(log, TABLE_REPS, rrows, nr);
            if (s == MYO_OK) s = myo_h5log_append(log, TABLE_POINTS, &row, 1);
            if (s != MYO_OK) {
                myo_bench_say(0, "%s", myo_error_detail());
                code = myo_bench_status_code(s);
            } else {
                print_row(&row); /* a row on stdout is a row in the file */
            }
        }
        code = myo_bench_agree(code);
        pg.done++;
        pg.skipped += st != ST_OK;
        progress_show(&pg, &sw, i + 1, 0);
        if (st == ST_INTERRUPTED) sig = myo_sweep_stop_agreed();
        if (sig) break;
    }
    if (code == MYO_EXIT_OK && !sig) progress_show(&pg, &sw, sw.count, 1);
    if (sig && rank == 0) {
        if (pg.mode == PROGRESS_BAR) fputc('\n', stderr);
        myo_bench_say(0, "signal %d: stopped after %d of %d points; %s closed", sig, pg.done,
                      pg.todo, o.output);
        printf("# stopped by signal %d after %d of %d points\n", sig, pg.done, pg.todo);
    }
    if (rank == 0) {
        myo_status s = myo_h5log_close(&log);
        if (s != MYO_OK) {
            myo_bench_say(0, "%s", myo_error_detail());
            if (code == MYO_EXIT_OK) code = MYO_EXIT_IO;
        }
    }
    code = myo_bench_agree(code);
    if (code == MYO_EXIT_OK) myo_bench_print_totals(t_start);
    if (code == MYO_EXIT_OK) {
        if (sig)
            code = 128 + sig;
        else if (failed)
            code = MYO_EXIT_INTERNAL;
        else if (invalid) {
            myo_bench_say(0, "a point failed validation (INVALID rows)");
            code = MYO_EXIT_CHECK;
        }
    }
    (void)ran;
    run_meta_free(&meta);
    myo_bench_flush_free(&fl);
    free(reps), free(split), free(rrows), free(sw.pts), free(sw.hist), free(sw.val), free(argv0);
    return code;
}

int main(int argc, char **argv)
{
    /* before MPI_Init: a singleton MPI_Init sets the launcher's variables */
    g_interactive = myo_sweep_progress_enabled(MYO_SWEEP_PROGRESS_AUTO);
    return myo_bench_main(argc, argv, TOOL, bench_main);
}
