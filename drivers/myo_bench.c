/* myo_bench.c -- myo-bench, kernel and layer scaling with HDF5 results.
 *
 * Sweeps over method (myosotis, dense-tiled, dense-materialized, ssm and
 * the bare tree solver "solve"), sequence length n, d_model, heads,
 * batch, tree kind and arity, direction, phase (fwd, fwd+bwd) and parallel
 * mode (sequence: one sequence split over the ranks; data: each rank its
 * own batch, weight gradients summed over the ranks) and precision
 * (float32; float64 for solve).
 *
 * Per point: skip what would exceed the memory or the time budget (a
 * SKIP row with the reason, never an OOM kill); validate the same method,
 * mode, phase and shape on a small case against the double reference twin
 * (once per configuration, VALID/INVALID in every row); warm up; time each
 * repetition after MPI_Barrier with MPI_Wtime, the slowest rank's time
 * counting; keep every repetition.  Rank 0 appends each point to an HDF5
 * file (myosotis_h5log.h: tables "points" and "repetitions", schema
 * "myo-bench/1", one run group of metadata per run), flushed at once, then
 * prints the row on stdout.  SIGTERM/SIGINT stop the sweep between points
 * (or abandon the point in progress, recorded as INTERRUPTED); the file is
 * then closed with utc_end.  README.md, "myo-bench", documents it all. */
#include <config.h>

#include "bench.h"
#include "cli.h"
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
static const char *const SCHEMA = "myo-bench/1";

#define SEED_DEFAULT 0x6d796f73ULL /* "myos" */
#ifndef VAL_TOL
#define VAL_TOL 1e-4 /* normwise relative error of float32 against the double twin */
#endif
#ifndef VAL_TOL_F64
#define VAL_TOL_F64 1e-10 /* the same for the double solver (solve, --precision double) */
#endif
#define VAL_N 64                 /* tokens of the validation case */
#define DENSE_MAT_DEFAULT_N 4096 /* dense-materialized joins the default sweep up to this n */
#define MEM_MARGIN 1.15          /* predicted bytes times this */
#define PROGRESS_BAR_S 0.1       /* between redraws of the bar */
#define PROGRESS_LINE_S 30.0     /* seconds between progress lines */
#define TRIAD_REPS 10            /* timed repetitions of the STREAM triad */
#define MAX_LIST 16              /* items of a list option */
#define MAX_POINTS 65536         /* in one sweep */

enum { M_MYOSOTIS, M_DENSE_TILED, M_DENSE_MAT, M_SSM, M_SOLVE, M_COUNT };
static const char *const METHOD_NAME[M_COUNT] = {"myosotis", "dense-tiled", "dense-materialized",
                                                 "ssm", "solve"};
/* the power of n in each method's time */
static const int METHOD_POWER[M_COUNT] = {1, 2, 2, 1, 1};

enum { MODE_SEQ, MODE_DATA, MODE_COUNT };
static const char *const MODE_NAME[MODE_COUNT] = {"sequence", "data"};
enum { PH_FWD, PH_FB, PH_COUNT };
static const char *const PHASE_NAME[PH_COUNT] = {"fwd", "fwd+bwd"};
enum { TREE_KARY, TREE_CHAIN, TREE_COUNT };
static const char *const TREE_NAME[TREE_COUNT] = {"kary", "chain"};
static const char *const DIR_NAME[3] = {"both", "up", "down"}; /* myo_layer_direction */
enum { ORD_RASTER, ORD_MORTON, ORD_HILBERT, ORD_COUNT };
static const char *const ORD_NAME[ORD_COUNT + 1] = {"raster", "morton", "hilbert", NULL};
enum { PREC_SINGLE, PREC_DOUBLE, PREC_COUNT };
static const char *const PREC_NAME[PREC_COUNT] = {"single", "double"};

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

/* ------------------------------------------------------------ options */

typedef struct {
    int method[M_COUNT], n_methods, methods_given;
    int64_t n[MAX_POINTS > 4096 ? 4096 : MAX_POINTS];
    int n_n;
    int64_t d[MAX_LIST], h[MAX_LIST], b[MAX_LIST];
    int n_d, n_h, n_b;
    int tree[TREE_COUNT], n_tree;
    int arity[MAX_LIST], n_arity;
    int dir[3], n_dir;
    int ordering;
    int phase[PH_COUNT], n_phase;
    int prec[PREC_COUNT], n_prec;
    int mode[MODE_COUNT], n_mode;
    myo_bench_common_opts common; /* --reps, --warmup, --no-flush, --max-memory */
    double time_budget;
    const char *output;
    int resume;
    int progress;
    uint64_t seed;
    int64_t triad_mib;
} opts;

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: %s [OPTION]...\n"
        "Time the Myosotis layer, its baselines (exact softmax attention, tiled and\n"
        "materialized; a Mamba-style SSM) and the bare tree solver over a sweep of\n"
        "sequence lengths and shapes, float32 (solve: float64 too), one core per rank,\n"
        "sequence- or data-parallel over the MPI ranks.  One aligned row per point on\n"
        "stdout; every point and repetition appended to an HDF5 file (README.md,\n"
        "\"myo-bench\").\n"
        "\n"
        "  --method LIST        myosotis, dense-tiled, dense-materialized, ssm, solve (default\n"
        "                       myosotis,dense-tiled,ssm,solve, and dense-materialized up to\n"
        "                       n = %d)\n"
        "  --n LIST             sequence lengths: comma list of values or lo:hi[:xF] ranges,\n"
        "                       K, M, G suffixes (powers of 1024); default 1K:64K:x4\n"
        "  --d-model LIST       model widths D (default 128)\n"
        "  --heads LIST         heads H, each dividing every D (default 4)\n"
        "  --batch LIST         sequences per rank (data) or one after the other (sequence)\n"
        "                       (default 1)\n"
        "  --tree LIST          kary, chain: the tree of myosotis and solve (default kary)\n"
        "  --arity LIST         arities of the kary tree, 2..64 (default 2)\n"
        "  --direction LIST     both, up, down (default both)\n"
        "  --ordering O         raster, morton, hilbert: image token order; recorded only\n"
        "                       (myo-bench sweeps sequences: tokens stay in sequence order;\n"
        "                       image orderings are in myo-data and myo-lra) (default raster)\n"
        "  --phase P            fwd, fwd+bwd or both (default both)\n"
        "  --mode M             sequence, data or both (default both)\n"
        "  --precision LIST     single, double: float32 (every method) or float64 (solve\n"
        "                       only; the other methods have float32 kernels) (default single)\n"
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

/* Index of text in names (count), or -1. */
static int lookup(const char *text, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(text, names[i]) == 0) return i;
    return -1;
}

/* A comma list of distinct names into idx; returns the count or -1. */
static int parse_names(const char *text, const char *const *names, int count, int *idx)
{
    char buf[512], *items[MAX_LIST];
    int k = myo_bench_split_copy(text, buf, sizeof buf, items, count < MAX_LIST ? count : MAX_LIST);
    for (int i = 0; i < k; i++) {
        idx[i] = lookup(items[i], names, count);
        if (idx[i] < 0) return -1;
        for (int j = 0; j < i; j++)
            if (idx[j] == idx[i]) return -1;
    }
    return k;
}

/* A comma list of integers in [lo, hi] (K, M, G suffixes). */
static int parse_ints(const char *text, int64_t lo, int64_t hi, int64_t *out, int max)
{
    char buf[512], *items[MAX_LIST];
    int k = myo_bench_split_copy(text, buf, sizeof buf, items, max);
    for (int i = 0; i < k; i++)
        if (myo_bench_parse_int(items[i], lo, hi, &out[i]) != 0) return -1;
    return k;
}

/* --n: a comma list of values and lo:hi[:xF] ranges, sorted, distinct. */
static int parse_n(const char *text, opts *o)
{
    char buf[512], *items[MAX_LIST];
    int k = myo_bench_split_copy(text, buf, sizeof buf, items, MAX_LIST);
    if (k < 1) return -1;
    int count = 0;
    const int cap = (int)(sizeof o->n / sizeof o->n[0]);
    for (int i = 0; i < k; i++) {
        int64_t lo, hi, f;
        if (myo_cli_parse_range(items[i], &lo, &hi, &f) != 0 || hi > (INT64_C(1) << 36)) return -1;
        for (int64_t n = lo; n <= hi; n = n > hi / f ? hi + 1 : n * f) {
            if (count == cap) return -1;
            o->n[count++] = n;
        }
    }
    /* sort (insertion; short lists) and drop repeats */
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && o->n[j - 1] > o->n[j]; j--) {
            int64_t t = o->n[j];
            o->n[j] = o->n[j - 1], o->n[j - 1] = t;
        }
    int u = 0;
    for (int i = 0; i < count; i++)
        if (u == 0 || o->n[u - 1] != o->n[i]) o->n[u++] = o->n[i];
    o->n_n = u;
    return 0;
}

/* The tool's own options (bench.h adds --reps, --warmup, --no-flush,
 * --max-memory, --help, --version); "=" marks one that takes a value. */
static const char *const OWN_OPTIONS[] = {
    "method=", "methods=",   "n=",        "d-model=", "heads=",     "batch=",     "tree=",
    "arity=",  "direction=", "ordering=", "phase=",   "mode=",      "precision=", "time-budget=",
    "output=", "resume",     "progress=", "seed=",    "triad-mib=", NULL};
enum {
    OPT_METHOD = 256,
    OPT_METHODS,
    OPT_N,
    OPT_D,
    OPT_H,
    OPT_BATCH,
    OPT_TREE,
    OPT_ARITY,
    OPT_DIR,
    OPT_ORD,
    OPT_PHASE,
    OPT_MODE,
    OPT_PREC,
    OPT_BUDGET,
    OPT_OUTPUT,
    OPT_RESUME,
    OPT_PROGRESS,
    OPT_SEED,
    OPT_TRIAD
};

static int own_option(int c, const char *arg, void *ctx)
{
    opts *o = ctx;
    const char *bad = NULL; /* what the value should have been */
    int64_t v, a[MAX_LIST];
    int on[2];
    switch (c) {
    case OPT_METHOD:
    case OPT_METHODS:
        o->n_methods = parse_names(arg, METHOD_NAME, M_COUNT, o->method);
        o->methods_given = 1;
        if (o->n_methods < 1)
            bad = "a comma list of distinct myosotis, dense-tiled, dense-materialized, ssm, solve";
        break;
    case OPT_N:
        if (parse_n(arg, o) != 0)
            bad = "a comma list of n or lo:hi[:xF] with 1 <= lo <= hi <= 64G, F >= 2 (K, M, G "
                  "suffixes)";
        break;
    case OPT_D:
        if ((o->n_d = parse_ints(arg, 1, 16384, o->d, MAX_LIST)) < 1)
            bad = "a comma list of integers in [1, 16384]";
        break;
    case OPT_H:
        if ((o->n_h = parse_ints(arg, 1, 4096, o->h, MAX_LIST)) < 1)
            bad = "a comma list of integers in [1, 4096]";
        break;
    case OPT_BATCH:
        if ((o->n_b = parse_ints(arg, 1, 65536, o->b, MAX_LIST)) < 1)
            bad = "a comma list of integers in [1, 65536]";
        break;
    case OPT_TREE:
        if ((o->n_tree = parse_names(arg, TREE_NAME, TREE_COUNT, o->tree)) < 1)
            bad = "a comma list of kary, chain";
        break;
    case OPT_ARITY:
        if ((o->n_arity = parse_ints(arg, 2, 64, a, MAX_LIST)) < 1)
            bad = "a comma list of integers in [2, 64]";
        for (int i = 0; i < o->n_arity; i++)
            o->arity[i] = (int)a[i];
        break;
    case OPT_DIR:
        if ((o->n_dir = parse_names(arg, DIR_NAME, 3, o->dir)) < 1)
            bad = "a comma list of both, up, down";
        break;
    case OPT_ORD:
        return myo_bench_choice_option("--ordering", arg, ORD_NAME, &o->ordering);
    case OPT_PHASE:
    case OPT_MODE: {
        const int phase = c == OPT_PHASE;
        if (myo_bench_pair_option(phase ? "--phase" : "--mode", arg,
                                  phase ? PHASE_NAME[0] : MODE_NAME[0],
                                  phase ? PHASE_NAME[1] : MODE_NAME[1], on) != MYO_EXIT_OK)
            return MYO_EXIT_USAGE;
        int *list = phase ? o->phase : o->mode, k = 0;
        for (int i = 0; i < 2; i++)
            if (on[i]) list[k++] = i;
        *(phase ? &o->n_phase : &o->n_mode) = k;
        return MYO_EXIT_OK;
    }
    case OPT_PREC:
        if ((o->n_prec = parse_names(arg, PREC_NAME, PREC_COUNT, o->prec)) < 1)
            bad = "a comma list of single, double";
        break;
    case OPT_BUDGET:
        return myo_bench_seconds_option("--time-budget", arg, &o->time_budget);
    case OPT_OUTPUT:
        if (!*arg) bad = "a file name";
        o->output = arg;
        break;
    case OPT_RESUME:
        o->resume = 1;
        break;
    case OPT_PROGRESS: {
        static const char *const words[] = {"auto", "bar", "lines", "none", NULL};
        return myo_bench_choice_option("--progress", arg, words, &o->progress);
    }
    case OPT_SEED:
        if (myo_bench_int_option("--seed", arg, 0, INT64_MAX, &v) != MYO_EXIT_OK)
            return MYO_EXIT_USAGE;
        o->seed = (uint64_t)v;
        break;
    default: /* OPT_TRIAD */
        return myo_bench_int_option("--triad-mib", arg, 0, 1 << 20, &o->triad_mib);
    }
    if (bad) {
        const char *name = OWN_OPTIONS[c - 256];
        myo_bench_say(0, "--%.*s: '%s' is not %s", (int)strcspn(name, "="), name, arg, bad);
        return MYO_EXIT_USAGE;
    }
    return MYO_EXIT_OK;
}

/* Returns -1 to go on, otherwise the exit code (0 after --help/--version).
 * Every rank parses the same command line and takes the same decision;
 * messages come from rank 0.  No file is touched here. */
static int parse_options(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->method[0] = M_MYOSOTIS, o->method[1] = M_DENSE_TILED, o->method[2] = M_SSM;
    o->method[3] = M_SOLVE, o->method[4] = M_DENSE_MAT, o->n_methods = 5;
    parse_n("1K:64K:x4", o);
    o->d[0] = 128, o->n_d = 1, o->h[0] = 4, o->n_h = 1, o->b[0] = 1, o->n_b = 1;
    o->tree[0] = TREE_KARY, o->n_tree = 1, o->arity[0] = 2, o->n_arity = 1;
    o->dir[0] = MYO_DIR_BOTH, o->n_dir = 1, o->ordering = ORD_RASTER;
    o->phase[0] = PH_FWD, o->phase[1] = PH_FB, o->n_phase = 2;
    o->prec[0] = PREC_SINGLE, o->n_prec = 1;
    o->mode[0] = MODE_SEQ, o->mode[1] = MODE_DATA, o->n_mode = 2;
    o->time_budget = 20.0, o->output = "myo-bench.h5";
    o->progress = PROGRESS_AUTO, o->seed = SEED_DEFAULT, o->triad_mib = 64;
    myo_bench_common_defaults(&o->common);
    o->common.reps = 3;

    int code = myo_bench_parse_options(argc, argv, OWN_OPTIONS,
                                       MYO_BENCH_OPT_REPS | MYO_BENCH_OPT_WARMUP |
                                           MYO_BENCH_OPT_NOFLUSH | MYO_BENCH_OPT_MAXMEM,
                                       &o->common, own_option, o, usage);
    if (code >= 0) return code;
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

typedef struct {
    int method, mode, phase, tree, arity, dir, prec;
    int64_t n, D, H, B;
    char key[256];    /* canonical: every parameter defining the point */
    char series[256]; /* the key without n: the points a time prediction extrapolates */
    double cost;      /* the cost model: B n^p D, x3 with backward, / ranks in sequence mode */
    int done;         /* recorded OK in the file already (--resume) */
} point;

static const char *tree_name(const point *p)
{
    return p->method == M_MYOSOTIS || p->method == M_SOLVE ? TREE_NAME[p->tree] : "-";
}
static const char *dir_name(const point *p)
{
    return p->method == M_MYOSOTIS || p->method == M_SOLVE ? DIR_NAME[p->dir] : "-";
}
static const char *ord_name(const point *p, const opts *o)
{
    return p->method == M_MYOSOTIS || p->method == M_SOLVE ? ORD_NAME[o->ordering] : "-";
}

static void point_keys(point *p, const opts *o, int ranks)
{
    char rest[200];
    snprintf(rest, sizeof rest,
             "precision=%s tree=%s arity=%d direction=%s ordering=%s d_model=%lld heads=%lld "
             "batch=%lld ranks=%d",
             PREC_NAME[p->prec], tree_name(p), p->arity, dir_name(p), ord_name(p, o),
             (long long)p->D, (long long)p->H, (long long)p->B, ranks);
    snprintf(p->key, sizeof p->key, "method=%s mode=%s phase=%s n=%lld %s", METHOD_NAME[p->method],
             MODE_NAME[p->mode], PHASE_NAME[p->phase], (long long)p->n, rest);
    snprintf(p->series, sizeof p->series, "method=%s mode=%s phase=%s %s", METHOD_NAME[p->method],
             MODE_NAME[p->mode], PHASE_NAME[p->phase], rest);
    double c = (double)p->B * pow((double)p->n, METHOD_POWER[p->method]) * (double)p->D;
    if (p->phase == PH_FB) c *= 3.0;
    if (p->mode == MODE_SEQ) c /= ranks;
    p->cost = c;
}

/* Local.  Whether p belongs to the sweep, its parameters that its method
 * ignores set to one value (so that they make no duplicate). */
static int point_normalize(point *p, const opts *o)
{
    if (p->method == M_DENSE_MAT && !o->methods_given &&
        (p->n > DENSE_MAT_DEFAULT_N || p->mode == MODE_SEQ))
        return 0; /* the default sweep: small n, data mode */
    if (p->prec == PREC_DOUBLE && p->method != M_SOLVE) return 0; /* float32 kernels only */
    if (p->method != M_MYOSOTIS && p->method != M_SOLVE)
        p->tree = TREE_KARY, p->arity = 0, p->dir = 0;
    if (p->tree == TREE_CHAIN) p->arity = 0;
    if (p->method == M_SSM) p->H = 0;
    return 1;
}

/* The sweep: every combination of the lists, n outermost (cost grows along
 * it), duplicates dropped.  Returns the count, or -1 when out of memory or
 * beyond MAX_POINTS. */
static int make_points(const opts *o, int ranks, point **out)
{
    enum { I_N, I_D, I_H, I_B, I_MODE, I_METHOD, I_TREE, I_ARITY, I_DIR, I_PHASE, I_PREC, DIMS };
    const int len[DIMS] = {o->n_n,    o->n_d,     o->n_h,   o->n_b,     o->n_mode, o->n_methods,
                           o->n_tree, o->n_arity, o->n_dir, o->n_phase, o->n_prec};
    int i[DIMS] = {0};
    size_t cap = 256, count = 0;
    point *pts = malloc(cap * sizeof *pts);
    for (int d = 0; pts && d >= 0;) {
        point p;
        memset(&p, 0, sizeof p);
        p.n = o->n[i[I_N]], p.D = o->d[i[I_D]], p.H = o->h[i[I_H]], p.B = o->b[i[I_B]];
        p.mode = o->mode[i[I_MODE]], p.method = o->method[i[I_METHOD]];
        p.tree = o->tree[i[I_TREE]], p.arity = o->arity[i[I_ARITY]], p.dir = o->dir[i[I_DIR]];
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
    char direction[8], ordering[8];
    int64_t n, nodes, d_model, heads, batch, ranks, reps;
    double t_min, t_med, t_max, flops, bytes, gflops, gbytes_per_s, triad_gbytes_per_s;
    double peak_rss_mib;
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
    COL_S(points_row, ordering),     COL_I(points_row, n),
    COL_I(points_row, nodes),        COL_I(points_row, d_model),
    COL_I(points_row, heads),        COL_I(points_row, batch),
    COL_I(points_row, ranks),        COL_I(points_row, reps),
    COL_D(points_row, t_min),        COL_D(points_row, t_med),
    COL_D(points_row, t_max),        COL_D(points_row, flops),
    COL_D(points_row, bytes),        COL_D(points_row, gflops),
    COL_D(points_row, gbytes_per_s), COL_D(points_row, triad_gbytes_per_s),
    COL_D(points_row, peak_rss_mib), COL_S(points_row, valid),
    COL_D(points_row, val_error),    COL_S(points_row, status),
    COL_S(points_row, note),
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

/* ------------------------------------------------------ inputs */

static inline uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* count values uniform in [lo, lo + width) from a fast generator, into
 * the float array f or else the double array d (the same values). */
static void fill_fast(float *f, double *d, size_t count, uint64_t seed, float lo, float width)
{
    uint64_t s = mix64(seed) | 1;
    for (size_t i = 0; i < count; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        const float v = lo + width * (float)((double)(s >> 40) * 0x1p-24);
        if (f)
            f[i] = v;
        else
            d[i] = v;
    }
}

/* --------------------------------------------------------------- runner */

/* One point's objects on this rank.  Rows: data mode, B sequences of n
 * tokens (of N nodes for solve); sequence mode, this rank's nl rows of
 * one sequence (token rows; for solve, the nodes of its position range),
 * B sequences run one after the other. */
typedef struct {
    const point *pt;
    int64_t n, B, N;    /* tokens, sequences, nodes of the tree (n when none) */
    int64_t rows;       /* rows of one sequence on this rank */
    int64_t lo, hi;     /* sequence mode: position range (solve, myosotis) or token range */
    int64_t *row_label; /* sequence mode: the global row (label) of each local row */
    myo_tree *tree;
    myo_layer_config lcfg;
    myo_attention_config acfg;
    myo_ssm_config scfg;
    myo_ssm_layout ly;
    myo_layer_work *lw;
    myo_attention_work *aw;
    myo_ssm_work *sw;
    myo_factor **fac; /* solve, data: one per sequence */
    myo_layer_dist_work *ldw;
    myo_attention_ring_work *rw;
    myo_dist_plan *plan;
    float *x, *y, *dy, *dx; /* (B, rows, D) */
    float *params, *grads;
    int64_t n_params;
    float *wup, *wdown; /* solve: (B, rows, H) */
    int f64;            /* solve in double: y64, wu64, wd64 instead of y, wup, wdown */
    double *y64, *wu64, *wd64;
    const char *why;
} runner;

static void runner_free(runner *r)
{
    myo_layer_work_destroy(&r->lw);
    myo_attention_work_destroy(&r->aw);
    myo_ssm_work_destroy(&r->sw);
    if (r->fac)
        for (int64_t b = 0; b < r->B; b++)
            myo_factor_destroy(&r->fac[b]);
    free(r->fac);
    myo_layer_dist_work_destroy(&r->ldw);
    myo_attention_ring_work_destroy(&r->rw);
    myo_dist_plan_destroy(&r->plan);
    myo_tree_destroy(&r->tree);
    free(r->row_label);
    free(r->x), free(r->y), free(r->dy), free(r->dx), free(r->params), free(r->grads);
    free(r->wup), free(r->wdown), free(r->y64), free(r->wu64), free(r->wd64);
    memset(r, 0, sizeof *r);
}

static int is_qkvo(int method)
{
    return method == M_MYOSOTIS || method == M_DENSE_TILED || method == M_DENSE_MAT;
}

static myo_status make_tree(const point *p, int64_t n, myo_tree **out)
{
    return p->tree == TREE_CHAIN ? myo_tree_create_chain(n, out)
                                 : myo_tree_create_kary(n, p->arity, out);
}

static int64_t nodes_bound(const point *p)
{
    if (p->method != M_MYOSOTIS && p->method != M_SOLVE) return p->n;
    return p->tree == TREE_CHAIN ? p->n : p->n + (p->n - 1 + p->arity - 2) / (p->arity - 1);
}

/* Collective (sequence mode makes plans).  The objects of point p at n
 * tokens and B sequences; every rank returns the same status (agreed).
 * MYO_ERR_ARG: a size the library refuses. */
static myo_status runner_create(const point *p, int64_t n, int64_t B, runner *r)
{
    const int rank = myo_bench_rank(), size = myo_bench_size();
    memset(r, 0, sizeof *r);
    r->pt = p, r->n = n, r->B = B, r->N = n, r->f64 = p->prec == PREC_DOUBLE;
    const myo_precision prec = r->f64 ? MYO_F64 : MYO_F32;
    const int64_t D = p->D, H = p->H;
    r->lcfg = (myo_layer_config){.d_model = D, .heads = H, .direction = p->dir};
    r->acfg = (myo_attention_config){.d_model = D, .heads = H ? H : 1};
    r->scfg = (myo_ssm_config){.d_model = D};
    myo_status s = MYO_OK;
    if (p->method == M_SSM) s = myo_ssm_layout_of(&r->scfg, &r->ly);
    r->n_params = p->method == M_SSM ? r->ly.count : p->method == M_SOLVE ? 0 : 4 * D * D;
    if (s == MYO_OK && (p->method == M_MYOSOTIS || p->method == M_SOLVE)) {
        s = make_tree(p, n, &r->tree);
        if (s == MYO_OK) r->N = myo_tree_num_nodes(r->tree);
    }
    /* sequence mode: this rank's rows */
    if (s == MYO_OK && p->mode == MODE_SEQ) {
        int64_t *off = malloc((size_t)(size + 1) * sizeof *off);
        if (!off) s = MYO_ERR_NOMEM;
        if (s == MYO_OK) {
            if (r->tree && p->tree == TREE_KARY)
                s = myo_dist_leaf_ranges(r->tree, size, off, NULL);
            else
                s = myo_dist_even_ranges(r->tree ? r->N : n, size, off);
        }
        if (s == MYO_OK) {
            r->lo = off[rank], r->hi = off[rank + 1];
            r->row_label = malloc((size_t)(r->hi - r->lo + 1) * sizeof *r->row_label);
            if (!r->row_label) s = MYO_ERR_NOMEM;
        }
        if (s == MYO_OK) {
            int64_t k = 0;
            if (r->tree) {
                const int64_t *order = myo_tree_preorder(r->tree);
                for (int64_t q = r->lo; q < r->hi; q++)
                    if (p->method == M_SOLVE || order[q] < n) r->row_label[k++] = order[q];
            } else {
                for (int64_t q = r->lo; q < r->hi; q++)
                    r->row_label[k++] = q;
            }
            r->rows = k;
        }
        free(off);
    } else {
        r->rows = p->method == M_SOLVE ? r->N : n;
    }
    s = (myo_status)myo_bench_agree((int)s);
    if (s != MYO_OK) {
        r->why = "setup";
        return s;
    }

    /* the work objects (sequence mode: collective creations) */
    if (p->mode == MODE_DATA) {
        if (p->method == M_MYOSOTIS)
            s = myo_layer_work_create(r->tree, &r->lcfg, B, &r->lw);
        else if (p->method == M_DENSE_TILED || p->method == M_DENSE_MAT)
            s = myo_attention_work_create(
                &r->acfg, p->method == M_DENSE_TILED ? MYO_ATTN_TILED : MYO_ATTN_MATERIALIZED, n, B,
                &r->aw);
        else if (p->method == M_SSM)
            s = myo_ssm_work_create(&r->scfg, n, B, &r->sw);
        else {
            r->fac = calloc((size_t)B, sizeof *r->fac);
            if (!r->fac) s = MYO_ERR_NOMEM;
            for (int64_t b = 0; b < B && s == MYO_OK; b++)
                s = myo_factor_create_empty(r->tree, H, prec, &r->fac[b]);
        }
        if (s != MYO_OK) r->why = myo_error_detail();
        s = (myo_status)myo_bench_agree((int)s);
    } else {
        if (p->method == M_MYOSOTIS)
            s = myo_layer_dist_work_create(MPI_COMM_WORLD, r->tree, &r->lcfg, r->lo, r->hi,
                                           &r->ldw);
        else if (p->method == M_SOLVE)
            s = myo_dist_plan_create(MPI_COMM_WORLD, r->tree, r->lo, r->hi, H, prec, &r->plan);
        else if (p->method == M_DENSE_TILED) {
            s = myo_attention_ring_work_create(&r->acfg, r->rows, &r->rw);
            if (s != MYO_OK) r->why = myo_error_detail();
            s = (myo_status)myo_bench_agree((int)s);
        } else
            s = MYO_ERR_ARG; /* not reached: unsupported points are skipped */
        if (s != MYO_OK && !r->why) r->why = myo_error_detail();
    }
    if (s != MYO_OK) return s;

    const size_t io = (size_t)B * (size_t)r->rows * (size_t)D;
    int ok;
    if (p->method != M_SOLVE) {
        r->x = myo_bench_alloc(io, sizeof(float)), r->y = myo_bench_alloc(io, sizeof(float));
        r->dy = myo_bench_alloc(io, sizeof(float)), r->dx = myo_bench_alloc(io, sizeof(float));
        r->params = myo_bench_alloc((size_t)r->n_params, sizeof(float));
        r->grads = myo_bench_alloc((size_t)r->n_params, sizeof(float));
        ok = r->x && r->y && r->dy && r->dx && r->params && r->grads;
    } else if (r->f64) {
        const size_t w = (size_t)B * (size_t)r->rows * (size_t)H;
        r->y64 = myo_bench_alloc(io, sizeof(double));
        r->wu64 = myo_bench_alloc(w, sizeof(double)), r->wd64 = myo_bench_alloc(w, sizeof(double));
        ok = r->y64 && r->wu64 && r->wd64;
    } else {
        const size_t w = (size_t)B * (size_t)r->rows * (size_t)H;
        r->y = myo_bench_alloc(io, sizeof(float));
        r->wup = myo_bench_alloc(w, sizeof(float)), r->wdown = myo_bench_alloc(w, sizeof(float));
        ok = r->y && r->wup && r->wdown;
    }
    if (!ok) r->why = "out of memory for the inputs and outputs";
    s = myo_bench_agree(ok ? 0 : 1) ? MYO_ERR_NOMEM : MYO_OK;
    if (s == MYO_OK) {
        if (r->y) memset(r->y, 0, io * sizeof(float));
        if (r->dx) memset(r->dx, 0, io * sizeof(float));
        if (r->grads) memset(r->grads, 0, (size_t)r->n_params * sizeof(float));
    }
    return s;
}

/* The timed problem's values: x, dy uniform in [-1, 1) per rank; weights
 * uniform in +-1/sqrt(D) (the SSM: Mamba's initialisation) and solve's
 * edge weights in [0, 2), the same on every rank. */
static myo_status runner_fill(runner *r, uint64_t seed)
{
    const point *p = r->pt;
    const size_t io = (size_t)r->B * (size_t)r->rows * (size_t)p->D;
    const uint64_t mine = seed ^ mix64((uint64_t)myo_bench_rank() + 1);
    if (p->method == M_SOLVE) { /* the right-hand sides in y, solved in place */
        const size_t w = (size_t)r->B * (size_t)r->rows * (size_t)p->H;
        fill_fast(r->y, r->y64, io, mine ^ 1, -1.0f, 2.0f);
        fill_fast(r->wup, r->wu64, w, mine ^ 2, 0.0f, 2.0f);
        fill_fast(r->wdown, r->wd64, w, mine ^ 3, 0.0f, 2.0f);
        if (p->dir != MYO_DIR_BOTH) { /* up: no w_down; down: no w_up */
            float *f = p->dir == MYO_DIR_UP ? r->wdown : r->wup;
            double *d = p->dir == MYO_DIR_UP ? r->wd64 : r->wu64;
            if (f) memset(f, 0, w * sizeof *f);
            if (d) memset(d, 0, w * sizeof *d);
        }
        return MYO_OK;
    }
    fill_fast(r->x, NULL, io, mine ^ 1, -1.0f, 2.0f);
    fill_fast(r->dy, NULL, io, mine ^ 4, -1.0f, 2.0f);
    if (p->method == M_SSM) {
        myo_rng rng = myo_rng_seed(seed);
        return myo_ssm_params_init_f32(&r->scfg, &rng, r->params);
    }
    const float bound = (float)(1.0 / sqrt((double)p->D));
    fill_fast(r->params, NULL, (size_t)r->n_params, seed ^ 5, -bound, 2.0f * bound);
    return MYO_OK;
}

static myo_status sum_grads(runner *r)
{
    if (myo_bench_size() == 1) return MYO_OK;
    int rc =
        MPI_Allreduce(MPI_IN_PLACE, r->grads, (int)r->n_params, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MYO_OK : MYO_ERR_MPI;
}

/* Sequence b of a solve point: factor + solve with M (fwd+bwd: then the
 * solve with M^T), in place on its right-hand sides y, in the point's
 * precision; collective in sequence mode. */
static myo_status solve_run(runner *r, int64_t b)
{
    const point *p = r->pt;
    const int fb = p->phase == PH_FB, seq = p->mode == MODE_SEQ;
    const int64_t d = p->D / p->H;
    const size_t o = (size_t)b * (size_t)r->rows * (size_t)p->D;
    const size_t wo = (size_t)b * (size_t)r->rows * (size_t)p->H;
    myo_status s;
/* The body in one precision: T the element type, P the API's suffix (f32,
 * f64), Y, WU, WD the runner's buffers of that precision. */
#define SOLVE_RUN(T, P, Y, WU, WD)                                                                 \
    do {                                                                                           \
        T *y = r->rows ? (Y) + o : NULL;                                                           \
        const T *wu = (WU) + wo, *wd = (WD) + wo;                                                  \
        if (seq) {                                                                                 \
            s = myo_dist_refactor_laplacian_##P(MPI_COMM_WORLD, r->plan, wu, wd, MYO_OP_N, y, d);  \
            if (s == MYO_OK && fb)                                                                 \
                s = myo_dist_solve_##P(MPI_COMM_WORLD, r->plan, MYO_OP_T, y, d);                   \
        } else {                                                                                   \
            s = myo_refactor_laplacian_##P(r->fac[b], wu, wd, MYO_OP_N, y, y, d);                  \
            if (s == MYO_OK && fb) s = myo_solve_##P(r->fac[b], MYO_OP_T, y, y, d);                \
        }                                                                                          \
    } while (0)
    if (r->f64)
        SOLVE_RUN(double, f64, r->y64, r->wu64, r->wd64);
    else
        SOLVE_RUN(float, f32, r->y, r->wup, r->wdown);
#undef SOLVE_RUN
    return s;
}

/* One pass of the point's phase: collective in sequence mode and when
 * gradients are summed.  Solve: rhs y in place (fwd: factor + solve with
 * M; fwd+bwd: then the transposed solve). */
static myo_status runner_run(runner *r)
{
    const point *p = r->pt;
    const int fb = p->phase == PH_FB;
    const int64_t D = p->D, B = r->B;
    const size_t seq = (size_t)r->rows * (size_t)D;
    myo_qkvo_weights_f32 w;
    myo_qkvo_grads_f32 g;
    if (is_qkvo(p->method)) {
        w = myo_bench_qkvo_f32(r->params, D);
        g = myo_bench_qkvo_grads_f32(r->grads, D);
    }
    myo_status s = MYO_OK;
    if (p->mode == MODE_DATA) {
        switch (p->method) {
        case M_MYOSOTIS:
            s = myo_layer_dp_forward_f32(MPI_COMM_WORLD, r->lw, D, &w, B, r->x, r->y);
            if (s == MYO_OK && fb)
                s = myo_layer_dp_backward_f32(MPI_COMM_WORLD, r->lw, D, &w, B, r->dy, r->dx, &g);
            return s;
        case M_DENSE_TILED:
        case M_DENSE_MAT:
            s = myo_attention_forward_f32(r->aw, &w, r->x, r->y);
            if (s == MYO_OK && fb) s = myo_attention_backward_f32(r->aw, &w, r->dy, r->dx, &g);
            break;
        case M_SSM:
            s = myo_ssm_forward_f32(r->sw, r->params, r->x, r->y);
            if (s == MYO_OK && fb)
                s = myo_ssm_backward_f32(r->sw, r->params, r->x, r->dy, r->dx, r->grads);
            break;
        default:
            for (int64_t b = 0; b < B && s == MYO_OK; b++)
                s = solve_run(r, b);
            return s;
        }
        /* the weight gradients summed over the ranks, as data-parallel training does; a
         * failure on one rank must not leave the others in the collective */
        if (fb) {
            if (myo_bench_size() > 1 && myo_bench_agree(s != MYO_OK)) return s ? s : MYO_ERR_MPI;
            if (s == MYO_OK) s = sum_grads(r);
        }
        return s;
    }
    for (int64_t b = 0; b < B && s == MYO_OK; b++) {
        const size_t o = (size_t)b * seq;
        float *x = r->rows ? r->x + o : NULL, *y = r->rows ? r->y + o : NULL;
        float *dy = r->dy && r->rows ? r->dy + o : NULL, *dx = r->dx && r->rows ? r->dx + o : NULL;
        switch (p->method) {
        case M_MYOSOTIS:
            s = myo_layer_dist_forward_f32(MPI_COMM_WORLD, r->ldw, &w, x, y);
            if (s == MYO_OK && fb)
                s = myo_layer_dist_backward_f32(MPI_COMM_WORLD, r->ldw, &w, dy, dx, &g);
            break;
        case M_DENSE_TILED:
            s = myo_attention_ring_forward_f32(MPI_COMM_WORLD, r->rw, &w, x, y);
            if (s == MYO_OK && fb)
                s = myo_attention_ring_backward_f32(MPI_COMM_WORLD, r->rw, &w, dy, dx, &g);
            break;
        default:
            s = solve_run(r, b);
        }
    }
    return s;
}

/* --------------------------------------------------------- validation */

/* Sums of squares of got - ref and of ref over count entries; got is the
 * float array f or else the double array d. */
static void sq_sums(const float *f, const double *d, const double *ref, size_t count, double *num,
                    double *den)
{
    for (size_t i = 0; i < count; i++) {
        double e = (f ? (double)f[i] : d[i]) - ref[i];
        *num += e * e, *den += ref[i] * ref[i];
    }
}

/* The error of the weight gradients (each block on its own) against
 * scale times the reference's. */
static double grads_err(const runner *r, const double *g_d, double scale)
{
    double e = 0.0;
    int64_t off[10];
    int blocks;
    if (r->pt->method == M_SSM) {
        const myo_ssm_layout *ly = &r->ly;
        const int64_t o[10] = {ly->w_in,    ly->conv_w, ly->conv_b, ly->w_x,   ly->w_dt,
                               ly->dt_bias, ly->a_log,  ly->d_skip, ly->w_out, ly->count};
        memcpy(off, o, sizeof o), blocks = 9;
    } else {
        const int64_t DD = r->pt->D * r->pt->D;
        for (int k = 0; k <= 4; k++)
            off[k] = k * DD;
        blocks = 4;
    }
    for (int k = 0; k < blocks; k++) {
        double num = 0, den = 0;
        for (int64_t i = off[k]; i < off[k + 1]; i++) {
            double ref = scale * g_d[i], diff = (double)r->grads[i] - ref;
            num += diff * diff, den += ref * ref;
        }
        e = fmax(e, myo_bench_rel_err(num, den));
    }
    return e;
}

/* The reference of a solve point: y = M^-1 x (then M^-T y for fwd+bwd),
 * per head, in double on the whole tree (labels). */
static myo_status solve_reference(const runner *r, const float *wu, const float *wd,
                                  const double *x, double *y)
{
    const point *p = r->pt;
    const int64_t N = r->N, H = p->H, D = p->D, d = D / H;
    const int64_t *parent = myo_tree_parents(r->tree);
    double *diag = malloc((size_t)N * sizeof *diag), *up = malloc((size_t)N * sizeof *up);
    double *down = malloc((size_t)N * sizeof *down), *rh = malloc((size_t)(N * d) * sizeof *rh);
    myo_status s = diag && up && down && rh ? MYO_OK : MYO_ERR_NOMEM;
    for (int64_t h = 0; h < H && s == MYO_OK; h++) {
        for (int64_t i = 0; i < N; i++)
            diag[i] = 1.0, up[i] = down[i] = 0.0;
        for (int64_t i = 0; i < N; i++) {
            if (parent[i] < 0) continue;
            double a = wu[i * H + h], b = wd[i * H + h];
            diag[i] += a, diag[parent[i]] += b, up[i] = -a, down[i] = -b;
        }
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < d; c++)
                rh[i * d + c] = x[i * D + h * d + c];
        s = myo_solve_ref(parent, N, diag, up, down, MYO_OP_N, rh, rh, d);
        if (s == MYO_OK && p->phase == PH_FB)
            s = myo_solve_ref(parent, N, diag, up, down, MYO_OP_T, rh, rh, d);
        for (int64_t i = 0; i < N && s == MYO_OK; i++)
            for (int64_t c = 0; c < d; c++)
                y[i * D + h * d + c] = rh[i * d + c];
    }
    free(diag), free(up), free(down), free(rh);
    return s;
}

/* Collective.  Runs point p's method, mode and phase on a small case
 * (VAL_N tokens, one sequence) through the same calls as the timed
 * points, and compares with the double reference twin computed on every
 * rank on the whole sequence: y (and for fwd+bwd dx and each weight
 * gradient, data mode: P times the reference's, the ranks holding the
 * same sequence).  *err = the largest normwise relative error; returns
 * MYO_OK or the agreed status of a failure to run (detail in why). */
static myo_status validate(const point *p, uint64_t seed, double *err, char *why, size_t why_size)
{
    *err = NAN;
    why[0] = '\0';
    runner r;
    myo_status s = runner_create(p, VAL_N, 1, &r);
    if (s != MYO_OK) {
        snprintf(why, why_size, "validation setup: %s", myo_status_str(s));
        runner_free(&r);
        return s;
    }
    const int64_t D = p->D, N = r.N, rowsg = p->method == M_SOLVE ? N : VAL_N;
    const size_t io = (size_t)rowsg * (size_t)D, np = (size_t)r.n_params;
    /* global inputs, the same on every rank; floats, and their exact doubles */
    float *xg = malloc(io * sizeof *xg), *dyg = malloc(io * sizeof *dyg);
    float *wu = NULL, *wd = NULL;
    double *x_d = malloc(io * sizeof *x_d), *dy_d = malloc(io * sizeof *dy_d);
    double *y_d = malloc(io * sizeof *y_d), *dx_d = malloc(io * sizeof *dx_d);
    double *p_d = malloc((np ? np : 1) * sizeof *p_d), *g_d = malloc((np ? np : 1) * sizeof *g_d);
    int ok = xg && dyg && x_d && dy_d && y_d && dx_d && p_d && g_d;
    if (ok && p->method == M_SOLVE) {
        wu = malloc((size_t)(N * p->H) * sizeof *wu), wd = malloc((size_t)(N * p->H) * sizeof *wd);
        ok = wu && wd;
    }
    s = ok ? MYO_OK : MYO_ERR_NOMEM;
    const char *what = "setup";
    if (s == MYO_OK) {
        myo_rng rng = myo_rng_seed(seed ^ 0x76616cULL);
        for (size_t i = 0; i < io; i++)
            xg[i] = (float)myo_rng_uniform(&rng, -1, 1), x_d[i] = xg[i];
        for (size_t i = 0; i < io; i++)
            dyg[i] = (float)myo_rng_uniform(&rng, -1, 1), dy_d[i] = dyg[i];
        if (p->method == M_SOLVE) {
            for (int64_t i = 0; i < N * p->H; i++) {
                wu[i] = p->dir == MYO_DIR_DOWN ? 0.0f : (float)myo_rng_uniform(&rng, 0, 2);
                wd[i] = p->dir == MYO_DIR_UP ? 0.0f : (float)myo_rng_uniform(&rng, 0, 2);
            }
        } else if (p->method == M_SSM) {
            s = myo_ssm_params_init_f64(&r.scfg, &rng, p_d);
            for (size_t i = 0; i < np; i++)
                r.params[i] = (float)p_d[i], p_d[i] = r.params[i];
        } else {
            double bound = 1.0 / sqrt((double)D);
            for (size_t i = 0; i < np; i++)
                r.params[i] = (float)myo_rng_uniform(&rng, -bound, bound), p_d[i] = r.params[i];
        }
        /* this rank's rows */
        const size_t rd = (size_t)D * sizeof(float);
        const int64_t H = p->H;
        for (int64_t k = 0; k < r.rows; k++) {
            int64_t gl = p->mode == MODE_SEQ ? r.row_label[k] : k;
            if (r.x) memcpy(r.x + k * D, xg + gl * D, rd);
            if (r.y) memcpy(r.y + k * D, xg + gl * D, rd); /* solve: the right-hand sides */
            if (r.dy) memcpy(r.dy + k * D, dyg + gl * D, rd);
            for (int64_t c = 0; r.y64 && c < D; c++)
                r.y64[k * D + c] = xg[gl * D + c];
            for (int64_t h = 0; p->method == M_SOLVE && h < H; h++)
                if (r.f64)
                    r.wu64[k * H + h] = wu[gl * H + h], r.wd64[k * H + h] = wd[gl * H + h];
                else
                    r.wup[k * H + h] = wu[gl * H + h], r.wdown[k * H + h] = wd[gl * H + h];
        }
    }
    if (myo_bench_agree(s != MYO_OK)) {
        s = s ? s : MYO_ERR_NOMEM;
        goto done;
    }
    what = "run";
    s = (myo_status)myo_bench_agree((int)runner_run(&r));
    if (s != MYO_OK) goto done;

    /* the reference */
    what = "reference";
    const int fb = p->phase == PH_FB;
    const size_t DD = (size_t)(D * D);
    myo_qkvo_weights_f64 w64 = {p_d, p_d + DD, p_d + 2 * DD, p_d + 3 * DD};
    myo_qkvo_grads_f64 g64 = {g_d, g_d + DD, g_d + 2 * DD, g_d + 3 * DD};
    myo_attention_config acfg = r.acfg;
    switch (p->method) {
    case M_MYOSOTIS:
        s = myo_layer_forward_ref(r.tree, &r.lcfg, &w64, 1, x_d, y_d);
        if (s == MYO_OK && fb)
            s = myo_layer_backward_ref(r.tree, &r.lcfg, &w64, 1, x_d, dy_d, dx_d, &g64);
        break;
    case M_DENSE_TILED:
    case M_DENSE_MAT:
        s = myo_attention_forward_ref(&acfg, VAL_N, 1, &w64, x_d, y_d);
        if (s == MYO_OK && fb)
            s = myo_attention_backward_ref(&acfg, VAL_N, 1, &w64, x_d, dy_d, dx_d, &g64);
        break;
    case M_SSM:
        s = myo_ssm_forward_ref(&r.scfg, VAL_N, 1, p_d, x_d, y_d);
        if (s == MYO_OK && fb)
            s = myo_ssm_backward_ref(&r.scfg, VAL_N, 1, p_d, x_d, dy_d, dx_d, g_d);
        break;
    default:
        s = solve_reference(&r, wu, wd, x_d, y_d);
    }
    s = (myo_status)myo_bench_agree((int)s);
    if (s != MYO_OK) goto done;
    {
        double sums[4] = {0, 0, 0, 0};
        for (int64_t k = 0; k < r.rows; k++) {
            int64_t gl = p->mode == MODE_SEQ ? r.row_label[k] : k;
            sq_sums(r.y ? r.y + k * D : NULL, r.y64 ? r.y64 + k * D : NULL, y_d + gl * D, (size_t)D,
                    &sums[0], &sums[1]);
            if (fb && p->method != M_SOLVE)
                sq_sums(r.dx + k * D, NULL, dx_d + gl * D, (size_t)D, &sums[2], &sums[3]);
        }
        myo_bench_mpi_check(
            MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce");
        double e = myo_bench_rel_err(sums[0], sums[1]);
        if (fb && p->method != M_SOLVE) {
            e = fmax(e, myo_bench_rel_err(sums[2], sums[3]));
            e = fmax(e, grads_err(&r, g_d, p->mode == MODE_DATA ? myo_bench_size() : 1.0));
        }
        myo_bench_max_over_ranks(&e, 1);
        *err = e;
    }
done:
    if (s != MYO_OK)
        snprintf(why, why_size, "validation %s: %s: %.100s", what, myo_status_str(s),
                 myo_error_detail());
    free(xg), free(dyg), free(wu), free(wd), free(x_d), free(dy_d), free(y_d), free(dx_d);
    free(p_d), free(g_d);
    runner_free(&r);
    return s;
}

/* ------------------------------------------------------------ models */

/* The SSM's dimensions with Mamba's defaults (myosotis_ssm.h). */
static void ssm_dims(double D, double *L, double *Ns, double *R, double *P)
{
    *L = 2 * D, *Ns = 16, *R = ceil(D / 16), *P = *R + 2 * *Ns;
}

/* Bytes one rank allocates for point p (the work objects as their
 * headers document them, the inputs and outputs, the tree), before
 * MEM_MARGIN. */
static double predict_bytes(const point *p, int P)
{
    const double D = (double)p->D, H = p->H ? (double)p->H : 1, B = (double)p->B;
    const double n = (double)p->n, N = (double)nodes_bound(p), f = 4.0;
    const int seq = p->mode == MODE_SEQ;
    const double nl = seq ? ceil(N / P) + 64 : N, tl = seq ? ceil(n / P) + 64 : n;
    switch (p->method) {
    case M_MYOSOTIS:
        if (!seq)
            return 40 * N + f * ((4 * B + 3) * N * D + (N - n) * D + 2 * B * N * H + 3 * N * H) +
                   B * (3 * f + 8) * N * H + 4 * f * B * n * D + 8 * f * D * D;
        return 40 * N + f * (9 * nl * D + 4 * nl * H + 8 * P * (log2(N) + 2) * D + 4 * D * D) +
               20 * nl * H + 4 * f * B * tl * D + 8 * f * D * D;
    case M_DENSE_TILED:
    case M_DENSE_MAT:
        if (seq)
            return f * (16 * tl * D + 3 * H * tl + 2 * 128 * 256) + 4 * f * B * tl * D +
                   8 * f * D * D;
        return f * (8 * B * n * D + B * H * n + 2 * 128 * 256 + n) + 4 * f * B * n * D +
               8 * f * D * D + (p->method == M_DENSE_MAT ? f * (B * H * n * n + n * n) : 0.0);
    case M_SSM: {
        double L, Ns, R, Pc;
        ssm_dims(D, &L, &Ns, &R, &Pc);
        const double T = fmin(128, n), L8 = ceil(L / 8) * 8, blocks = ceil(n / 128);
        const double count = D * 2 * L + L * 4 + L + L * Pc + R * L + L + L * Ns + L + L * D;
        return f * (B * n * (2 * L + Pc) + B * blocks * L8 * Ns + T * (9 * L + Pc + 32 * Ns) +
                    L8 * (3 * Ns + 1) + 11 * L + 8 * Ns) +
               4 * f * B * n * D + 2 * f * count;
    }
    default: { /* solve: the weights, the factor (pivots in the working precision), the rhs */
        const double e = p->prec == PREC_DOUBLE ? 8.0 : 4.0;
        return 40 * N + B * (2 * e + 3 * e + 8) * nl * H + e * B * nl * D + 64 * nl;
    }
    }
}

/* Floating-point operations of one pass (the point's phase) over all
 * ranks: per sequence as the header states, times B sequences, times the
 * ranks in data mode.  N: nodes of the tree. */
static double point_flops(const point *p, double N, int P)
{
    const double D = (double)p->D, H = (double)p->H, n = (double)p->n;
    double fwd, bwd;
    switch (p->method) {
    case M_MYOSOTIS: {
        const double E = N - 1, v = N - n, cv = p->tree == TREE_KARY ? N - 1 : 0;
        fwd = 2 * D * D * (3 * N + n) + 4 * E * D + 4 * N * D + D * (v + cv);
        bwd = 2 * D * D * (6 * N + 2 * n) + 4 * N * D + 14 * E * D + 2 * D * cv;
        break;
    }
    case M_DENSE_TILED:
    case M_DENSE_MAT:
        fwd = 8 * n * D * D + 4 * n * n * D + 5 * H * n * n;
        bwd = 16 * n * D * D + 2 * n * D + 8 * n * n * D + 2 * H * n * n;
        if (p->method == M_DENSE_TILED) bwd += 2 * n * n * D + 2 * H * n * n;
        break;
    case M_SSM: {
        double L, Ns, R, Pc;
        ssm_dims(D, &L, &Ns, &R, &Pc);
        fwd = 2 * n * (2 * D * L + L * Pc + R * L + L * D) + 7 * n * L * Ns + n * L * (2 * 4 + 14);
        bwd = 2 * n * (6 * D * L + 2 * L * Pc + 3 * R * L) + 26 * n * L * Ns + n * L * (6 * 4 + 30);
        break;
    }
    default:
        fwd = 6 * N * H + 5 * N * D;
        bwd = 5 * N * D;
    }
    double t = fwd + (p->phase == PH_FB ? bwd : 0.0);
    return t * (double)p->B * (p->mode == MODE_DATA ? P : 1);
}

/* Bytes one pass must move at least (each array it reads or writes,
 * once; dense: K and V once per query tile), over all ranks. */
static double point_bytes(const point *p, double N, int P)
{
    const double D = (double)p->D, H = (double)p->H, n = (double)p->n;
    const double f = p->prec == PREC_DOUBLE ? 8.0 : 4.0; /* bytes per value */
    double fwd, bwd;
    switch (p->method) {
    case M_MYOSOTIS:
        fwd = f * (2 * n * D + 4 * N * D + 4 * N * H + 4 * D * D);
        bwd = f * (2 * n * D + 6 * N * D + 4 * N * H + 8 * D * D);
        break;
    case M_DENSE_TILED:
    case M_DENSE_MAT:
        fwd = f * (6 * n * D + 2 * n * D * ceil(n / MYO_ATTN_TILE_Q_DEFAULT) + 4 * D * D);
        if (p->method == M_DENSE_MAT) fwd += f * 2 * H * n * n;
        bwd = 2 * fwd;
        break;
    case M_SSM: {
        double L, Ns, R, Pc;
        ssm_dims(D, &L, &Ns, &R, &Pc);
        fwd = f * n * (2 * D + 2 * L + Pc);
        bwd = f * n * (2 * D + 2 * (2 * L + Pc) + 2 * L);
        break;
    }
    default:
        fwd = f * (5 * N * H + 2 * N * D);
        bwd = f * (3 * N * H + 2 * N * D);
    }
    double t = fwd + (p->phase == PH_FB ? bwd : 0.0);
    return t * (double)p->B * (p->mode == MODE_DATA ? P : 1);
}

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
    double rate_t[M_COUNT], rate_c[M_COUNT]; /* sums of measured wall and of cost */
    double triad;                            /* aggregate GB/s, NAN when not measured */
    /* validation cache */
    struct vcache {
        char key[128];
        double err;
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
    snprintf(row->method, sizeof row->method, "%s", METHOD_NAME[p->method]);
    snprintf(row->mode, sizeof row->mode, "%s", MODE_NAME[p->mode]);
    snprintf(row->phase, sizeof row->phase, "%s", PHASE_NAME[p->phase]);
    snprintf(row->precision, sizeof row->precision, "%s", PREC_NAME[p->prec]);
    snprintf(row->tree, sizeof row->tree, "%s", tree_name(p));
    row->arity = p->arity;
    snprintf(row->direction, sizeof row->direction, "%s", dir_name(p));
    snprintf(row->ordering, sizeof row->ordering, "%s", ord_name(p, o));
    row->n = p->n, row->nodes = nodes_bound(p), row->d_model = p->D, row->heads = p->H;
    row->batch = p->B, row->ranks = ranks, row->reps = 0;
    row->t_min = row->t_med = row->t_max = NAN;
    row->flops = row->bytes = row->gflops = row->gbytes_per_s = NAN;
    row->triad_gbytes_per_s = NAN, row->peak_rss_mib = NAN, row->val_error = NAN;
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
    if (p->mode == MODE_SEQ && (p->method == M_SSM || p->method == M_DENSE_MAT)) {
        snprintf(note, size,
                 p->method == M_SSM ? "no sequence-parallel SSM mixer (only the bare scan "
                                      "myo_ssm_scan_dist_f32 is distributed)"
                                    : "no sequence-parallel materialized attention (ring "
                                      "attention is the tiled form)");
        return ST_SKIP_UNSUPPORTED;
    }
    series_hist *h = find_series(sw, p->series, 0);
    if (h && h->stopped) {
        snprintf(note, size, "time: the series was skipped for time from n = %lld",
                 (long long)h->stopped_n);
        return ST_SKIP_TIME;
    }
    const double need = myo_bench_budget_need(&sw->mem, predict_bytes(p, sw->ranks) * MEM_MARGIN);
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
    snprintf(key, size, "%s %s %s %s %s %d %s %lld %lld", METHOD_NAME[p->method],
             MODE_NAME[p->mode], PHASE_NAME[p->phase], PREC_NAME[p->prec], tree_name(p), p->arity,
             dir_name(p), (long long)p->D, (long long)p->H);
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
    myo_status s = validate(p, sw->o->seed, &v->err, v->why, sizeof v->why);
    v->ok = s == MYO_OK && v->err <= (p->prec == PREC_DOUBLE ? VAL_TOL_F64 : VAL_TOL);
    return v;
}

/* Collective.  Measure point p into row (and its repetitions into reps,
 * *nreps of them).  Returns the row's status. */
static int run_point(sweep *sw, const point *p, points_row *row, double *reps, int *nreps)
{
    const opts *o = sw->o;
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
    runner r;
    myo_status s = runner_create(p, p->n, p->B, &r);
    row->nodes = r.N ? r.N : row->nodes;
    if (s == MYO_OK) s = (myo_status)myo_bench_agree((int)runner_fill(&r, o->seed));
    if (s != MYO_OK) {
        st = s == MYO_ERR_NOMEM ? ST_SKIP_MEMORY : s == MYO_ERR_ARG ? ST_SKIP_LIMIT : ST_FAILED;
        snprintf(note, sizeof note, "%s: %s: %.100s", st == ST_SKIP_MEMORY ? "memory" : "setup",
                 myo_status_str(s), r.why ? r.why : myo_error_detail());
        runner_free(&r);
        snprintf(row->valid, sizeof row->valid, "-"); /* nothing timed to vouch for */
        row->val_error = NAN;
        set_status(row, st, note);
        return st;
    }

    const int64_t total = o->common.warmup + o->common.reps;
    int64_t k = 0;
    int failed = 0;
    myo_bench_sync(NULL);
    const double t_loop = MPI_Wtime();
    for (int64_t it = 0; it < total; it++) {
        myo_bench_sync(sw->fl);
        const double t0 = MPI_Wtime();
        s = runner_run(&r);
        const double t = MPI_Wtime() - t0;
        /* all ranks stop together, after a failure or a signal on any rank */
        if ((failed = myo_bench_any_failed(&s))) break;
        if (it >= o->common.warmup) reps[k++] = t;
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
    if (k > 0) myo_bench_max_over_ranks(reps, (int)k);
    double mem = myo_bench_peak_rss_mib();
    myo_bench_max_over_ranks(&mem, 1);
    runner_free(&r);

    *nreps = (int)k;
    row->reps = k;
    row->peak_rss_mib = mem;
    row->flops = point_flops(p, (double)row->nodes, sw->ranks);
    row->bytes = point_bytes(p, (double)row->nodes, sw->ranks);
    row->triad_gbytes_per_s = sw->triad;
    if (k > 0) {
        double *sorted = malloc((size_t)k * sizeof *sorted), st3[3];
        if (sorted) {
            memcpy(sorted, reps, (size_t)k * sizeof *sorted);
            myo_bench_summarize(sorted, k, st3);
            free(sorted);
            row->t_min = st3[0], row->t_med = st3[1], row->t_max = st3[2];
            row->gflops = row->flops / row->t_med * 1e-9;
            row->gbytes_per_s = row->bytes / row->t_med * 1e-9;
        }
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
    "%-7s %8s %-16s %s\n"

static void print_columns(void)
{
    myo_bench_row(COLS_FMT, "#  pt", "method", "mode", "phase", "prec", "tree", "k", "dir", "n",
                  "nodes", "D", "H", "B", "t_med_ms", "t_min_ms", "t_max_ms", "GFLOP/s", "GB/s",
                  "triad", "rss_MiB", "valid", "val_err", "status", "note");
}

static void print_row(const points_row *r)
{
    char num[7][24];
    const double v[7] = {r->t_med * 1e3, r->t_min * 1e3,  r->t_max * 1e3,
                         r->gflops,      r->gbytes_per_s, r->gbytes_per_s / r->triad_gbytes_per_s,
                         r->peak_rss_mib};
    const char *fmt[7] = {"%.3f", "%.3f", "%.3f", "%.2f", "%.2f", "%.3f", "%.0f"};
    for (int i = 0; i < 7; i++)
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
                  num[6], r->valid, err, r->status, r->note);
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
        if (p->done || (p->mode == MODE_SEQ && (p->method == M_SSM || p->method == M_DENSE_MAT)))
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
        printf("%s%s", i ? "," : "", METHOD_NAME[o->method[i]]);
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
    for (int i = 0; i < o->n_tree; i++)
        printf("%s%s", i ? "," : "", TREE_NAME[o->tree[i]]);
    printf(", arity ");
    for (int i = 0; i < o->n_arity; i++)
        printf("%s%d", i ? "," : "", o->arity[i]);
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
        printf("%s%s", i ? "," : "", o->prec[i] == PREC_DOUBLE ? "double (solve only)" : "single");
    printf("; seed %llu\n", (unsigned long long)o->seed);
    printf("# modes: sequence = one sequence of n tokens split over the %d ranks (myosotis "
           "myo_layer_dist_*, leaf ranges of the kary tree or even ranges of the chain;\n#   "
           "dense-tiled ring attention myo_attention_ring_*; solve myo_dist_plan, Laplacian "
           "refactor + solve); B sequences one after the other; ssm, dense-materialized:\n#   "
           "SKIP:unsupported.  data = each rank its own B sequences with the serial kernels, "
           "fwd+bwd sums the weight gradients over the ranks (myo_layer_dp_*;\n#   MPI_Allreduce "
           "for the others; solve: no gradients).  solve: fwd = factor + solve with M = I + L "
           "(H heads, d = D/H channels each), fwd+bwd = then the solve with M^T.\n",
           sw->ranks);
    printf("# validation, once per method, mode, phase, tree, arity, direction, D, H: n = %d, "
           "one sequence, the same calls as the timed points on the same ranks, against the\n#   "
           "double reference twin on the whole sequence (data mode: weight gradients against "
           "P times the reference's); val_err = the largest ||x - x_ref|| / ||x_ref|| over y\n#  "
           " and, for fwd+bwd, dx and each weight-gradient block; VALID when <= %.0e (%.0e for "
           "double).\n",
           VAL_N, VAL_TOL, VAL_TOL_F64);
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
    reps_row *rrows = myo_bench_alloc((size_t)o.common.reps, sizeof(reps_row));
    if (code == MYO_EXIT_OK) code = myo_bench_agree(reps && rrows ? 0 : MYO_EXIT_INTERNAL);
    int invalid = 0, failed = 0, sig = 0, ran = 0;
    if (code == MYO_EXIT_OK) progress_show(&pg, &sw, 0, 0);
    for (int i = 0; i < sw.count && code == MYO_EXIT_OK; i++) {
        const point *p = &sw.pts[i];
        if (p->done) continue;
        if ((sig = myo_sweep_stop_agreed()) != 0) break;
        points_row row;
        init_row(&row, p, &o, run_id, i, size);
        int nr = 0;
        int st = run_point(&sw, p, &row, reps, &nr);
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
    free(reps), free(rrows), free(sw.pts), free(sw.hist), free(sw.val), free(argv0);
    return code;
}

int main(int argc, char **argv)
{
    /* before MPI_Init: a singleton MPI_Init sets the launcher's variables */
    g_interactive = myo_sweep_progress_enabled(MYO_SWEEP_PROGRESS_AUTO);
    return myo_bench_main(argc, argv, TOOL, bench_main);
}
