/* myo_bench_layer.c -- myo-bench-layer, the layer benchmark.
 *
 * Times, on one core per rank and in float32, the Myosotis layer (on one
 * tree, direction both) against exact softmax attention (tiled and
 * materialized) and a Mamba-style SSM mixer at the same d_model, for a
 * geometric range of sequence lengths n: the forward pass alone and
 * forward + backward, split into projections and mixing by the layers' own
 * phase timers, with achieved GFLOP/s (from the analytic flop counts the
 * header states) and peak memory.
 *
 * Per point (method, n): predict time and memory and skip what exceeds the
 * budgets (a SKIP row, never an OOM kill); validate a small case of the
 * same configuration against the method's _ref twin; warm up; time.  After
 * the sweep a '#' summary gives slopes and ratios computed from the rows.
 * stdout: a '#' header, then one aligned row per (method, n, phase),
 * flushed as soon as it is measured (docs/design.md section 6). */
#include <config.h>

#include "bench.h"
#include "cli.h"
#include "myosotis.h"

#include <mpi.h>

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const TOOL = "myo-bench-layer";

#define SEED 0x6d796f73ULL /* "myos": every run times the same inputs */
#ifndef VAL_TOL            /* (a test build may tighten it to see exit code 7) */
#define VAL_TOL 1e-4       /* normwise relative error of float32 against the double twin */
#endif
#define VAL_N_EVEN 64     /* tokens of the validation case ... */
#define VAL_N_ODD 33      /* ... when the timed n is odd */
#define PEAK_GFLOPS 250.0 /* above any one core's float32 rate: a first point's time bound */

#define SLOPE_FROM 4096 /* the summary fits the mixing time's log-log slope on n >= this */

enum { M_MYOSOTIS, M_DENSE_TILED, M_DENSE_MAT, M_SSM, M_COUNT };
static const char *const METHOD_NAME[M_COUNT] = {"myosotis", "dense-tiled", "dense-materialized",
                                                 "ssm"};
/* Complexity in n of each method's time, for the time prediction. */
static const int METHOD_POWER[M_COUNT] = {1, 2, 2, 1};

enum { PH_FWD, PH_FB, PH_COUNT };
static const char *const PHASE_NAME[PH_COUNT] = {"fwd", "fwd+bwd"};

enum { ST_OK, ST_SKIP_TIME, ST_SKIP_MEMORY, ST_SKIP_LIMIT };
static const char *const STATUS_NAME[] = {"OK", "SKIP:time", "SKIP:memory", "SKIP:limit"};

enum { PROGRESS_AUTO, PROGRESS_LINES, PROGRESS_NONE };

typedef struct {
    int method[M_COUNT]; /* in the order given */
    int n_methods;
    myo_bench_tree_spec tree;
    int causal;
    int64_t n_min, n_max, n_factor;
    int64_t batch;
    int phase[PH_COUNT];     /* which phases are timed */
    double time_budget;      /* seconds per point */
    int progress;            /* PROGRESS_*, then: print progress lines on stderr (rank 0) */
    myo_bench_common_opts c; /* --d-model, --heads, --reps, --warmup, --max-memory, --no-flush */
} bench_opts;

/* ------------------------------------------------------------ options */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [OPTION]...\n"
            "Time the Myosotis layer against exact softmax attention (tiled and materialized)\n"
            "and a Mamba-style SSM mixer at the same d_model, forward and forward+backward,\n"
            "float32 on one core per rank, over a range of sequence lengths; print one row\n"
            "per method, n and phase, then a summary of slopes and ratios.  Run under mpiexec\n"
            "for several ranks: each runs the same sweep and each repetition reports the\n"
            "slowest.\n"
            "\n"
            "  --methods LIST      comma list of myosotis, dense-tiled, dense-materialized, ssm\n"
            "                      (default: all four)\n"
            "  --tree T            Myosotis tree: chain, kary<k> or heap<k>, 2 <= k <= 64\n"
            "                      (default kary2; also e.g. kary4, heap2)\n"
            "  --causal            causal dense attention (default non-causal)\n"
            "  --n RANGE           sequence lengths min:max[:xF] (default 1K:1M:x2; K, M, G are\n"
            "                      powers of 1024)\n"
            "  --d-model D         model width (default 256)\n"
            "  --heads H           heads, dividing D (default 8)\n"
            "  --batch B           sequences per pass (default 1)\n"
            "  --reps R            timed repetitions, median reported (default 5)\n"
            "  --warmup W          untimed repetitions before them (default 1)\n"
            "  --phase P           fwd, fwd+bwd or both (default both)\n"
            "  --max-memory BYTES  memory this host may use (K, M, G suffixes; default: its\n"
            "                      MemAvailable at start); larger points are skipped\n"
            "  --time-budget S     seconds a point may take (default 60); a point predicted to\n"
            "                      take longer is skipped, and so are the method's larger n\n"
            "  --no-flush          do not evict the caches before each timed repetition\n"
            "  --progress WHEN     progress lines on stderr: auto (when stderr is a terminal,\n"
            "                      the default), lines (always) or none\n"
            "  --help              print this help and exit\n"
            "  --version           print the version and exit\n"
            "\n"
            "OPENBLAS_NUM_THREADS is set to 1 when unset.  Exit status: 0 when every row\n"
            "validates (skipped points are reported, not failed), 2 for a bad command line,\n"
            "6 when out of memory or on an internal failure, 7 when a point fails validation.\n",
            TOOL);
}

static int parse_methods(const char *text, bench_opts *o)
{
    char buf[256], *items[M_COUNT + 1];
    int count = myo_bench_split_copy(text, buf, sizeof buf, items, M_COUNT);
    if (count < 1) return -1;
    int seen[M_COUNT] = {0};
    for (int i = 0; i < count; i++) {
        int m = 0;
        while (m < M_COUNT && strcmp(items[i], METHOD_NAME[m]) != 0)
            m++;
        if (m == M_COUNT || seen[m]) return -1;
        seen[m] = 1;
        o->method[i] = m;
    }
    o->n_methods = count;
    return 0;
}

/* The codes of the tool's own options: 256 + their index in longopts. */
enum { OPT_METHODS = 256, OPT_TREE, OPT_CAUSAL, OPT_N, OPT_BATCH, OPT_PHASE, OPT_BUDGET };
enum { OPT_PROGRESS = OPT_BUDGET + 1 };

static int own_option(int c, const char *arg, void *ctx)
{
    bench_opts *o = ctx;
    static const char *const progress[] = {"auto", "lines", "none", NULL};
    switch (c) {
    case OPT_METHODS:
        if (parse_methods(arg, o) == 0) return MYO_EXIT_OK;
        myo_bench_say(0,
                      "--methods: '%s' is not a comma list of distinct myosotis, dense-tiled, "
                      "dense-materialized, ssm",
                      arg);
        return MYO_EXIT_USAGE;
    case OPT_TREE:
        if (myo_bench_parse_tree(arg, &o->tree) == 0) return MYO_EXIT_OK;
        myo_bench_say(0, "--tree: '%s' is not chain, kary<k> or heap<k> with 2 <= k <= 64", arg);
        return MYO_EXIT_USAGE;
    case OPT_CAUSAL:
        o->causal = 1;
        return MYO_EXIT_OK;
    case OPT_N:
        if (myo_cli_parse_range(arg, &o->n_min, &o->n_max, &o->n_factor) == 0 &&
            o->n_max <= (INT64_C(1) << 40))
            return MYO_EXIT_OK;
        myo_bench_say(0,
                      "--n: '%s' is not min:max[:xF] with 1 <= min <= max <= 2^40, F >= 2 (K, M, "
                      "G suffixes allowed)",
                      arg);
        return MYO_EXIT_USAGE;
    case OPT_BATCH:
        return myo_bench_int_option("--batch", arg, 1, 1 << 20, &o->batch);
    case OPT_PHASE:
        return myo_bench_pair_option("--phase", arg, "fwd", "fwd+bwd", o->phase);
    case OPT_BUDGET:
        return myo_bench_seconds_option("--time-budget", arg, &o->time_budget);
    default: /* OPT_PROGRESS */
        return myo_bench_choice_option("--progress", arg, progress, &o->progress);
    }
}

/* Returns -1 to go on, otherwise the exit code (0 after --help/--version). */
static int parse_options(int argc, char **argv, bench_opts *o)
{
    static const char *const longopts[] = {
        /* in the order of the OPT_* codes */
        "methods=", "tree=", "causal", "n=", "batch=", "phase=", "time-budget=", "progress=", NULL};
    memset(o, 0, sizeof *o);
    for (int m = 0; m < M_COUNT; m++)
        o->method[m] = m;
    o->n_methods = M_COUNT;
    myo_bench_parse_tree("kary2", &o->tree);
    o->n_min = 1024, o->n_max = INT64_C(1) << 20, o->n_factor = 2;
    o->batch = 1;
    o->phase[PH_FWD] = o->phase[PH_FB] = 1;
    o->time_budget = 60.0;
    o->progress = PROGRESS_AUTO;
    myo_bench_common_defaults(&o->c);
    int code = myo_bench_parse_options(argc, argv, longopts, MYO_BENCH_OPT_ALL, &o->c, own_option,
                                       o, usage);
    if (code >= 0) return code;
    o->progress = o->progress == PROGRESS_LINES || (o->progress == PROGRESS_AUTO && isatty(2));
    return -1;
}

/* ------------------------------------------------------ shapes, counts */

/* What the counts need of a Myosotis tree (the other methods: N = n, the
 * rest unused). */
typedef struct {
    int64_t n;  /* tokens */
    int64_t N;  /* nodes */
    int64_t E;  /* edges, N - roots */
    int64_t v;  /* virtual nodes, N - n */
    int64_t cv; /* nodes whose parent is virtual (pooled into it) */
} tree_shape;

static tree_shape shape_of_tree(const myo_tree *t)
{
    tree_shape s;
    s.n = myo_tree_num_tokens(t), s.N = myo_tree_num_nodes(t);
    s.E = s.N - myo_tree_num_roots(t), s.v = s.N - s.n, s.cv = 0;
    const int64_t *parent = myo_tree_parents(t);
    for (int64_t i = 0; i < s.N; i++)
        s.cv += parent[i] >= s.n;
    return s;
}

/* An upper bound before the tree exists, for the predictions: in a kary
 * hierarchy every node but the root has a virtual parent. */
static tree_shape shape_bound(const myo_bench_tree_spec *spec, int64_t n)
{
    tree_shape s;
    s.n = n, s.N = myo_bench_tree_nodes_bound(spec, n), s.E = s.N - 1, s.v = s.N - n;
    s.cv = spec->kind == MYO_BENCH_TREE_KARY && n > 1 ? s.N - 1 : 0;
    return s;
}

typedef struct {
    double proj, mix;
} flops;

/* The flop counts the header states, for the whole batch: fwd of one
 * forward, bwd of one backward. */
static void count_flops(int method, const bench_opts *o, const myo_ssm_layout *ly,
                        const tree_shape *ts, flops *fwd, flops *bwd)
{
    const double B = (double)o->batch, D = (double)o->c.D, H = (double)o->c.H, n = (double)ts->n;
    if (method == M_MYOSOTIS) {
        const double N = (double)ts->N, E = (double)ts->E, v = (double)ts->v, cv = (double)ts->cv;
        fwd->proj = 2 * D * D * (3 * N + n);
        fwd->mix = 4 * E * D + 4 * N * D + D * (v + cv);
        bwd->proj = 2 * D * D * (6 * N + 2 * n);
        bwd->mix = 4 * N * D + 14 * E * D + 2 * D * cv;
    } else if (method == M_DENSE_TILED || method == M_DENSE_MAT) {
        const double c = o->causal ? (n + 1) / (2 * n) : 1.0, n2 = n * n;
        fwd->proj = 8 * n * D * D;
        fwd->mix = c * (4 * n2 * D + 5 * H * n2);
        bwd->proj = 16 * n * D * D;
        bwd->mix = 2 * n * D + c * (8 * n2 * D + 2 * H * n2);
        if (method == M_DENSE_TILED) bwd->mix += c * (2 * n2 * D + 2 * H * n2);
    } else {
        const double L = (double)ly->d_inner, Ns = (double)ly->d_state, R = (double)ly->dt_rank;
        const double K = (double)ly->d_conv, P = R + 2 * Ns;
        fwd->proj = 2 * n * (2 * D * L + L * P + R * L + L * D);
        fwd->mix = 7 * n * L * Ns + n * L * (2 * K + 14);
        bwd->proj = 2 * n * (6 * D * L + 2 * L * P + 3 * R * L);
        bwd->mix = 26 * n * L * Ns + n * L * (6 * K + 30);
    }
    fwd->proj *= B, fwd->mix *= B, bwd->proj *= B, bwd->mix *= B;
}

static double phase_flops(int phase, const flops *fwd, const flops *bwd)
{
    double f = fwd->proj + fwd->mix;
    return phase == PH_FWD ? f : f + bwd->proj + bwd->mix;
}

/* Bytes a point allocates (beyond what the process holds already): the
 * work object as its header documents it, after a backward, plus the
 * benchmark's x, y, dy, dx (B, n, D) and the parameters and gradients. */
static double predict_bytes(int method, const bench_opts *o, const myo_ssm_layout *ly,
                            const tree_shape *ts)
{
    const double B = (double)o->batch, D = (double)o->c.D, H = (double)o->c.H, n = (double)ts->n;
    const double f = 4.0, io = 4 * B * n * D * f;
    if (method == M_MYOSOTIS) {
        const double N = (double)ts->N, v = (double)ts->v;
        double tree = 4 * 8 * N; /* four int64 arrays */
        double work = f * (4 * B * N * D + 2 * B * N * H + 3 * N * H + v) + 8 * N * H;
        double factors = B * (3 * f + 8) * N * H; /* inv, up, down; acc */
        double back = f * (3 * N * D + v * D);    /* G, dQ, dK, dX virtual */
        return tree + work + factors + back + io + 8 * D * D * f;
    }
    if (method == M_DENSE_TILED || method == M_DENSE_MAT) {
        double work = f * (8 * B * n * D + n);
        if (method == M_DENSE_MAT)
            work += f * (B * H * n * n + n * n);
        else
            work += f * (B * H * n + 2.0 * 128 * 256 + 2 * 128);
        return work + io + 8 * D * D * f;
    }
    const double L = (double)ly->d_inner, Ns = (double)ly->d_state, K = (double)ly->d_conv;
    const double P = (double)(ly->dt_rank + 2 * ly->d_state), T = fmin((double)ly->block, n);
    const double L8 = ceil(L / 8) * 8, blocks = ceil(n / (double)ly->block);
    double work = f * (B * n * (2 * L + P) + B * blocks * L8 * Ns + T * (9 * L + P + 32 * Ns) +
                       L8 * (3 * Ns + 1) + L * (3 * K - 1) + 8 * Ns);
    return work + io + 2.0 * (double)ly->count * f;
}

/* ------------------------------------------------------------ runners */

/* One method at one n: its workspace, inputs and outputs, parameters. */
typedef struct {
    int method;
    const bench_opts *o;
    const myo_ssm_layout *ly;
    int64_t n;
    myo_tree *tree; /* myosotis */
    tree_shape shape;
    myo_layer_work *lw;
    myo_attention_work *aw;
    myo_ssm_work *sw;
    myo_layer_config lcfg;
    myo_attention_config acfg;
    myo_ssm_config scfg;
    float *x, *y, *dy, *dx; /* (B, n, D) */
    float *params, *grads;  /* qkvo: Wq, Wk, Wv, Wo (D, D) each; ssm: layout.count */
    int64_t n_params;
    const char *why; /* what failed in runner_create */
} runner;

static void runner_free(runner *r)
{
    myo_layer_work_destroy(&r->lw);
    myo_attention_work_destroy(&r->aw);
    myo_ssm_work_destroy(&r->sw);
    myo_tree_destroy(&r->tree);
    free(r->x), free(r->y), free(r->dy), free(r->dx), free(r->params), free(r->grads);
    memset(r, 0, sizeof *r);
}

/* The workspace and the arrays of method at n.  Returns the library's
 * status (MYO_ERR_ARG: a size beyond what the method supports). */
static myo_status runner_create(int method, const bench_opts *o, const myo_ssm_layout *ly,
                                int64_t n, runner *r)
{
    memset(r, 0, sizeof *r);
    r->method = method, r->o = o, r->ly = ly, r->n = n;
    const int64_t D = o->c.D;
    r->n_params = method == M_SSM ? ly->count : 4 * D * D;
    r->lcfg = (myo_layer_config){.d_model = D, .heads = o->c.H, .direction = MYO_DIR_BOTH};
    r->acfg = (myo_attention_config){.d_model = D, .heads = o->c.H, .causal = o->causal};
    r->scfg = (myo_ssm_config){.d_model = D};
    myo_status s = MYO_OK;
    if (method == M_MYOSOTIS) {
        s = myo_bench_tree_create(&o->tree, n, &r->tree);
        if (s == MYO_OK) {
            r->shape = shape_of_tree(r->tree);
            s = myo_layer_work_create(r->tree, &r->lcfg, o->batch, &r->lw);
        }
    } else {
        r->shape = (tree_shape){n, n, n - 1, 0, 0};
        if (method == M_SSM)
            s = myo_ssm_work_create(&r->scfg, n, o->batch, &r->sw);
        else
            s = myo_attention_work_create(
                &r->acfg, method == M_DENSE_TILED ? MYO_ATTN_TILED : MYO_ATTN_MATERIALIZED, n,
                o->batch, &r->aw);
    }
    if (s != MYO_OK) {
        r->why = myo_error_detail();
        return s;
    }
    const size_t io = (size_t)o->batch * (size_t)n * (size_t)D;
    r->x = myo_bench_alloc(io, sizeof(float)), r->y = myo_bench_alloc(io, sizeof(float));
    r->dy = myo_bench_alloc(io, sizeof(float)), r->dx = myo_bench_alloc(io, sizeof(float));
    r->params = myo_bench_alloc((size_t)r->n_params, sizeof(float));
    r->grads = myo_bench_alloc((size_t)r->n_params, sizeof(float));
    if (!r->x || !r->y || !r->dy || !r->dx || !r->params || !r->grads) {
        r->why = "out of memory for x, y, dy, dx and the parameters";
        return MYO_ERR_NOMEM;
    }
    /* touched now, so that no timed pass takes the page faults */
    memset(r->y, 0, io * sizeof(float)), memset(r->dx, 0, io * sizeof(float));
    memset(r->grads, 0, (size_t)r->n_params * sizeof(float));
    return MYO_OK;
}

/* Stores u rounded to float in f[i] and, when d is not NULL, the rounded
 * value in d[i]: the double twin then sees exactly the float inputs. */
static void put(float *f, double *d, size_t i, double u)
{
    f[i] = (float)u;
    if (d) d[i] = (double)f[i];
}

/* x, dy uniform in [-1, 1); the Q, K, V, O weights uniform in +-1/sqrt(D)
 * (nn.Linear's scale: ordinary scores); the SSM's parameters Mamba's
 * initialisation.  The double copies (for the reference) when not NULL.
 * The same for every run and rank. */
static myo_status runner_fill(runner *r, double *x_d, double *dy_d, double *p_d)
{
    const size_t io = (size_t)r->o->batch * (size_t)r->n * (size_t)r->o->c.D;
    myo_rng rng = myo_rng_seed(SEED ^ myo_bench_hash_str(METHOD_NAME[r->method]) ^
                               ((uint64_t)r->n * 0x9e3779b97f4a7c15ULL));
    for (size_t i = 0; i < io; i++)
        put(r->x, x_d, i, myo_rng_uniform(&rng, -1.0, 1.0));
    for (size_t i = 0; i < io; i++)
        put(r->dy, dy_d, i, myo_rng_uniform(&rng, -1.0, 1.0));
    if (r->method != M_SSM) {
        double bound = 1.0 / sqrt((double)r->o->c.D);
        for (int64_t i = 0; i < r->n_params; i++)
            put(r->params, p_d, (size_t)i, myo_rng_uniform(&rng, -bound, bound));
        return MYO_OK;
    }
    double *tmp = p_d ? p_d : malloc((size_t)r->n_params * sizeof(double));
    if (!tmp) return MYO_ERR_NOMEM;
    myo_status s = myo_ssm_params_init_f64(&r->scfg, &rng, tmp);
    for (int64_t i = 0; s == MYO_OK && i < r->n_params; i++)
        put(r->params, p_d, (size_t)i, tmp[i]);
    if (!p_d) free(tmp);
    return s;
}

static myo_status runner_forward(runner *r)
{
    if (r->method == M_SSM) return myo_ssm_forward_f32(r->sw, r->params, r->x, r->y);
    myo_qkvo_weights_f32 w = myo_bench_qkvo_f32(r->params, r->o->c.D);
    if (r->method == M_MYOSOTIS) return myo_layer_forward_f32(r->lw, &w, r->o->batch, r->x, r->y);
    return myo_attention_forward_f32(r->aw, &w, r->x, r->y);
}

static myo_status runner_backward(runner *r)
{
    if (r->method == M_SSM)
        return myo_ssm_backward_f32(r->sw, r->params, r->x, r->dy, r->dx, r->grads);
    myo_qkvo_weights_f32 w = myo_bench_qkvo_f32(r->params, r->o->c.D);
    myo_qkvo_grads_f32 g = myo_bench_qkvo_grads_f32(r->grads, r->o->c.D);
    if (r->method == M_MYOSOTIS)
        return myo_layer_backward_f32(r->lw, &w, r->o->batch, r->dy, r->dx, &g);
    return myo_attention_backward_f32(r->aw, &w, r->dy, r->dx, &g);
}

static void runner_times(const runner *r, myo_phase_times *t)
{
    if (r->method == M_MYOSOTIS)
        myo_layer_work_times(r->lw, t);
    else if (r->method == M_SSM)
        myo_ssm_work_times(r->sw, t);
    else
        myo_attention_work_times(r->aw, t);
}

static size_t runner_work_bytes(const runner *r)
{
    if (r->method == M_MYOSOTIS) return myo_layer_work_bytes(r->lw);
    if (r->method == M_SSM) return myo_ssm_work_bytes(r->sw);
    return myo_attention_work_bytes(r->aw);
}

/* --------------------------------------------------------- validation */

/* ||got - ref||_2 / ||ref||_2 over count entries (the absolute norm when
 * ref is 0); a NaN counts as an infinite error. */
static double rel_err(const float *got, const double *ref, size_t count)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)got[i] - ref[i];
        num += d * d, den += ref[i] * ref[i];
    }
    return myo_bench_rel_err(num, den);
}

/* The reference twin of runner r's method on x_d (and dy_d), in double. */
static myo_status reference(const runner *r, const double *x_d, const double *p_d,
                            const double *dy_d, double *y_d, double *dx_d, double *g_d)
{
    const bench_opts *o = r->o;
    const size_t DD = (size_t)(o->c.D * o->c.D);
    if (r->method == M_SSM) {
        if (!dy_d) return myo_ssm_forward_ref(&r->scfg, r->n, o->batch, p_d, x_d, y_d);
        return myo_ssm_backward_ref(&r->scfg, r->n, o->batch, p_d, x_d, dy_d, dx_d, g_d);
    }
    myo_qkvo_weights_f64 w = {p_d, p_d + DD, p_d + 2 * DD, p_d + 3 * DD};
    myo_qkvo_grads_f64 g = {g_d, g_d + DD, g_d + 2 * DD, g_d + 3 * DD};
    if (r->method == M_MYOSOTIS) {
        if (!dy_d) return myo_layer_forward_ref(r->tree, &r->lcfg, &w, o->batch, x_d, y_d);
        return myo_layer_backward_ref(r->tree, &r->lcfg, &w, o->batch, x_d, dy_d, dx_d, &g);
    }
    if (!dy_d) return myo_attention_forward_ref(&r->acfg, r->n, o->batch, &w, x_d, y_d);
    return myo_attention_backward_ref(&r->acfg, r->n, o->batch, &w, x_d, dy_d, dx_d, &g);
}

/* The largest relative error over the gradient arrays: dx, then each
 * parameter array on its own (a small one is not hidden by a large one). */
static double grad_err(const runner *r, const double *dx_d, const double *g_d, size_t io)
{
    double e = rel_err(r->dx, dx_d, io);
    if (r->method != M_SSM) {
        const size_t DD = (size_t)(r->o->c.D * r->o->c.D);
        for (int k = 0; k < 4; k++)
            e = fmax(e, rel_err(r->grads + k * DD, g_d + k * DD, DD));
        return e;
    }
    const myo_ssm_layout *ly = r->ly;
    const int64_t off[10] = {ly->w_in,    ly->conv_w, ly->conv_b, ly->w_x,   ly->w_dt,
                             ly->dt_bias, ly->a_log,  ly->d_skip, ly->w_out, ly->count};
    for (int k = 0; k < 9; k++)
        e = fmax(e, rel_err(r->grads + off[k], g_d + off[k], (size_t)(off[k + 1] - off[k])));
    return e;
}

/* Validate method on the small case of n_val tokens: forward output and,
 * with backward, dx and the parameter gradients, against the _ref twin.
 * err[PH_FWD], err[PH_FB] (the latter including the forward's).  Local;
 * returns an exit code for failures to run (not for a large error). */
static int validate(int method, const bench_opts *o, const myo_ssm_layout *ly, int64_t n_val,
                    double err[PH_COUNT])
{
    err[PH_FWD] = err[PH_FB] = NAN;
    runner r;
    myo_status s = runner_create(method, o, ly, n_val, &r);
    const size_t io = (size_t)o->batch * (size_t)n_val * (size_t)o->c.D;
    const size_t np = (size_t)(method == M_SSM ? ly->count : 4 * o->c.D * o->c.D);
    double *x_d = malloc(io * sizeof(double)), *dy_d = malloc(io * sizeof(double));
    double *y_d = malloc(io * sizeof(double)), *dx_d = malloc(io * sizeof(double));
    double *p_d = malloc(np * sizeof(double)), *g_d = malloc(np * sizeof(double));
    if (s == MYO_OK && (!x_d || !dy_d || !y_d || !dx_d || !p_d || !g_d)) s = MYO_ERR_NOMEM;
    const char *what = "setup";
    if (s == MYO_OK) s = runner_fill(&r, x_d, dy_d, p_d);
    if (s == MYO_OK) what = "forward", s = runner_forward(&r);
    if (s == MYO_OK) what = "reference forward", s = reference(&r, x_d, p_d, NULL, y_d, NULL, NULL);
    if (s == MYO_OK) err[PH_FWD] = rel_err(r.y, y_d, io);
    if (s == MYO_OK && o->phase[PH_FB]) {
        what = "backward", s = runner_backward(&r);
        if (s == MYO_OK)
            what = "reference backward", s = reference(&r, x_d, p_d, dy_d, NULL, dx_d, g_d);
        if (s == MYO_OK) err[PH_FB] = fmax(err[PH_FWD], grad_err(&r, dx_d, g_d, io));
    }
    int code = MYO_EXIT_OK;
    if (s != MYO_OK) {
        myo_bench_say(1, "%s, validation case n = %lld: %s: %s: %s", METHOD_NAME[method],
                      (long long)n_val, what, myo_status_str(s),
                      r.why ? r.why : myo_error_detail());
        code = myo_bench_status_code(s);
    }
    free(x_d), free(dy_d), free(y_d), free(dx_d), free(p_d), free(g_d);
    runner_free(&r);
    return code;
}

/* -------------------------------------------------------------- points */

/* One row: a (method, n, phase). */
typedef struct {
    int status;       /* ST_* */
    char note[160];   /* why a point was skipped */
    int64_t nodes;    /* of the Myosotis tree (n for the other methods) */
    double t[3];      /* min, median, max seconds over repetitions (max over ranks each) */
    double proj, mix; /* medians of the layer's phase timings, seconds */
    double gflop;     /* of one pass, the whole batch */
    double work_mib, rss_mib;
    double err;
    int valid;
} phase_row;

/* What the time prediction knows of a method's last timed point. */
typedef struct {
    int have;
    int64_t n;
    double timed_s, other_s; /* inside the timed passes; the rest of the point */
    int stopped;             /* skipped for time: larger n are skipped too */
    int64_t stopped_n;
} method_hist;

typedef struct {
    const bench_opts *o;
    const myo_ssm_layout *ly;
    const myo_bench_flush *fl;
    myo_bench_budget mem;
    method_hist hist[M_COUNT];
} sweep;

static void skip_rows(phase_row rows[PH_COUNT], int status, const char *note, int64_t nodes)
{
    for (int p = 0; p < PH_COUNT; p++) {
        memset(&rows[p], 0, sizeof rows[p]);
        rows[p].status = status;
        rows[p].nodes = nodes;
        snprintf(rows[p].note, sizeof rows[p].note, "%s", note);
    }
}

/* Collective.  Whether method at n should be skipped, and why (in rows);
 * every rank takes the same decision.  Returns 1 to skip. */
static int decide_skip(sweep *sw, int method, int64_t n, phase_row rows[PH_COUNT])
{
    const bench_opts *o = sw->o;
    method_hist *h = &sw->hist[method];
    char note[160] = "";
    tree_shape ts =
        method == M_MYOSOTIS ? shape_bound(&o->tree, n) : (tree_shape){n, n, n - 1, 0, 0};
    if (h->stopped) {
        snprintf(note, sizeof note, "time: skipped for time from n = %lld",
                 (long long)h->stopped_n);
        skip_rows(rows, ST_SKIP_TIME, note, ts.N);
        return 1;
    }
    /* memory: the point's arrays on top of what every rank holds now */
    double need = myo_bench_budget_need(&sw->mem, predict_bytes(method, o, sw->ly, &ts));
    /* time: extrapolated from the previous point, or bounded by the flops */
    double pred;
    const char *how;
    if (h->have) {
        double r = (double)n / (double)h->n;
        pred = h->other_s * r + h->timed_s * pow(r, METHOD_POWER[method]);
        how = "extrapolated";
    } else {
        flops f, b;
        count_flops(method, o, sw->ly, &ts, &f, &b);
        double per_rep = (o->phase[PH_FWD] ? phase_flops(PH_FWD, &f, &b) : 0.0) +
                         (o->phase[PH_FB] ? phase_flops(PH_FB, &f, &b) : 0.0);
        pred = (double)(o->c.warmup + o->c.reps) * per_rep / (PEAK_GFLOPS * 1e9);
        how = "lower bound from the flops";
    }
    int code = 0;
    if (need > sw->mem.bytes) {
        code = ST_SKIP_MEMORY;
        myo_bench_budget_note(&sw->mem, need, note, sizeof note);
    } else if (pred > o->time_budget) {
        code = ST_SKIP_TIME;
        snprintf(note, sizeof note, "time: predicted %.3g s (%s) > budget %.3g s", pred, how,
                 o->time_budget);
    }
    /* MemAvailable may differ between hosts: the worst verdict wins */
    code = myo_bench_agree(code);
    if (code == 0) return 0;
    if (code == ST_SKIP_TIME) {
        if (strncmp(note, "time", 4) != 0)
            snprintf(note, sizeof note, "time: predicted over budget on another rank");
        h->stopped = 1, h->stopped_n = n;
    } else if (strncmp(note, "memory", 6) != 0) {
        snprintf(note, sizeof note, "memory: predicted over the limit on another rank");
    }
    skip_rows(rows, code, note, ts.N);
    return 1;
}

/* The series of a point's repetitions: per phase, the time and the
 * layer's own projection and mixing times. */
enum { R_T, R_PROJ, R_MIX, R_KINDS };

/* Validate, warm up, time method at n.  Collective on MPI_COMM_WORLD.
 * Returns an exit code (the same on every rank); rows receive the rows
 * (status SKIP when skipped). */
static int run_point(sweep *sw, int method, int64_t n, phase_row rows[PH_COUNT])
{
    const bench_opts *o = sw->o;
    memset(rows, 0, PH_COUNT * sizeof *rows);
    if (decide_skip(sw, method, n, rows)) return MYO_EXIT_OK;
    const double t_point = MPI_Wtime();
    myo_bench_peak_rss_reset();

    /* validation on the small case */
    double err[PH_COUNT];
    int code = myo_bench_agree(validate(method, o, sw->ly, n % 2 ? VAL_N_ODD : VAL_N_EVEN, err));
    if (code != MYO_EXIT_OK) return code;
    myo_bench_max_over_ranks(err, PH_COUNT);

    runner r;
    myo_status s = runner_create(method, o, sw->ly, n, &r);
    if (s == MYO_OK && (s = runner_fill(&r, NULL, NULL, NULL)) != MYO_OK)
        r.why = s == MYO_ERR_NOMEM ? "out of memory" : myo_error_detail();
    /* a size the library refuses is a limit of the method, not a failure */
    int st = s == MYO_OK ? 0 : s == MYO_ERR_ARG ? 1 : 2;
    if (st == 2)
        myo_bench_say(1, "%s, n = %lld: %s: %s", METHOD_NAME[method], (long long)n,
                      myo_status_str(s), r.why);
    char note[160];
    snprintf(note, sizeof note, "limit: %s", s == MYO_ERR_ARG ? r.why : "on another rank");
    st = myo_bench_agree(st);
    if (st != 0) {
        int64_t nodes = r.shape.N ? r.shape.N : n;
        runner_free(&r);
        if (st == 2) return MYO_EXIT_INTERNAL;
        skip_rows(rows, ST_SKIP_LIMIT, note, nodes);
        return MYO_EXIT_OK;
    }

    myo_bench_reps rt;
    code =
        myo_bench_agree(myo_bench_reps_create(R_KINDS * PH_COUNT, o->c.reps, o->c.warmup, &rt) == 0
                            ? MYO_EXIT_OK
                            : MYO_EXIT_INTERNAL);
    if (code != MYO_EXIT_OK) {
        myo_bench_reps_free(&rt);
        runner_free(&r);
        return code;
    }

    /* Each repetition runs the phases in turn, so that a slow moment of a
     * shared machine hits them alike.  Before each: evict the caches and
     * barrier (untimed). */
    myo_status fail = MYO_OK;
    double timed = 0.0;
    for (int64_t it = 0; it < o->c.warmup + o->c.reps && fail == MYO_OK; it++) {
        for (int p = 0; p < PH_COUNT && fail == MYO_OK; p++) {
            if (!o->phase[p]) continue;
            myo_bench_sync(sw->fl);
            double t0 = MPI_Wtime();
            s = runner_forward(&r);
            if (s == MYO_OK && p == PH_FB) s = runner_backward(&r);
            double t = MPI_Wtime() - t0;
            if (s != MYO_OK) fail = s;
            timed += t;
            myo_phase_times pt;
            runner_times(&r, &pt);
            myo_bench_reps_put(&rt, R_KINDS * p + R_T, it, t);
            myo_bench_reps_put(&rt, R_KINDS * p + R_PROJ, it,
                               pt.forward_projection + (p == PH_FB ? pt.backward_projection : 0));
            myo_bench_reps_put(&rt, R_KINDS * p + R_MIX, it,
                               pt.forward_mixing + (p == PH_FB ? pt.backward_mixing : 0));
        }
        if (myo_bench_any_failed(&fail)) break;
    }
    if (fail != MYO_OK) {
        if (fail != MYO_ERR_MPI)
            myo_bench_say(1, "%s, n = %lld: %s: %s", METHOD_NAME[method], (long long)n,
                          myo_status_str(fail), myo_error_detail());
        myo_bench_reps_free(&rt);
        runner_free(&r);
        return MYO_EXIT_INTERNAL;
    }

    myo_bench_reps_max_over_ranks(&rt);
    flops f, b;
    count_flops(method, o, sw->ly, &r.shape, &f, &b);
    double mem[2] = {(double)runner_work_bytes(&r) / 1048576.0, myo_bench_peak_rss_mib()};
    myo_bench_max_over_ranks(mem, 2);
    for (int p = 0; p < PH_COUNT; p++) {
        phase_row *row = &rows[p];
        row->status = ST_OK;
        row->nodes = r.shape.N;
        if (!o->phase[p]) continue;
        double st3[3];
        myo_bench_reps_stat(&rt, R_KINDS * p + R_T, row->t);
        myo_bench_reps_stat(&rt, R_KINDS * p + R_PROJ, st3);
        row->proj = st3[1];
        myo_bench_reps_stat(&rt, R_KINDS * p + R_MIX, st3);
        row->mix = st3[1];
        row->gflop = phase_flops(p, &f, &b) * 1e-9;
        row->work_mib = mem[0], row->rss_mib = mem[1];
        row->err = err[p];
        row->valid = err[p] <= VAL_TOL;
    }
    myo_bench_reps_free(&rt);
    runner_free(&r);

    /* what the next point's prediction starts from (the same on every rank) */
    double wall = MPI_Wtime() - t_point, tw[2] = {timed, wall};
    myo_bench_max_over_ranks(tw, 2);
    method_hist *h = &sw->hist[method];
    h->have = 1, h->n = n, h->timed_s = tw[0], h->other_s = fmax(tw[1] - tw[0], 0.0);
    return MYO_EXIT_OK;
}

/* ------------------------------------------------------------- output */

static const char *form_name(int method, const bench_opts *o, char *buf, size_t size)
{
    if (method == M_MYOSOTIS)
        snprintf(buf, size, "%s", o->tree.name);
    else if (method == M_SSM)
        snprintf(buf, size, "mamba");
    else
        snprintf(buf, size, "%s", o->causal ? "causal" : "full");
    return buf;
}

#define COLS_FMT                                                                                   \
    "%-18s %-6s %8s %8s %5s %3s %3s %-7s %11s %11s %11s %11s %11s %9s %8s %9s %9s %9s %-7s "       \
    "%-11s %s\n"

static void print_columns(void)
{
    myo_bench_row(COLS_FMT, "#method", "form", "n", "nodes", "D", "H", "B", "phase", "t_ms",
                  "t_min", "t_max", "proj_ms", "mix_ms", "GFLOP", "GFLOP/s", "work_MiB", "rss_MiB",
                  "err", "valid", "status", "note");
}

static void print_row(int method, const bench_opts *o, int64_t n, int phase, const phase_row *r)
{
    char form[32], cols[256];
    form_name(method, o, form, sizeof form);
    const double ms = 1e3;
    if (r->status == ST_OK)
        snprintf(cols, sizeof cols,
                 "%11.3f %11.3f %11.3f %11.3f %11.3f %9.3f %8.2f %9.1f %9.1f %9.2e %-7s",
                 r->t[1] * ms, r->t[0] * ms, r->t[2] * ms, r->proj * ms, r->mix * ms, r->gflop,
                 r->gflop / r->t[1], r->work_mib, r->rss_mib, r->err,
                 r->valid ? "VALID" : "INVALID");
    else
        snprintf(cols, sizeof cols, "%11s %11s %11s %11s %11s %9s %8s %9s %9s %9s %-7s", "-", "-",
                 "-", "-", "-", "-", "-", "-", "-", "-", "-");
    myo_bench_row("%-18s %-6s %8lld %8lld %5lld %3lld %3lld %-7s %s %-11s %s\n",
                  METHOD_NAME[method], form, (long long)n, (long long)r->nodes, (long long)o->c.D,
                  (long long)o->c.H, (long long)o->batch, PHASE_NAME[phase], cols,
                  STATUS_NAME[r->status], r->status == ST_OK ? "-" : r->note);
}

static void print_header(const bench_opts *o, const myo_ssm_layout *ly, const char *hosts,
                         const myo_bench_flush *fl, const myo_bench_budget *mem, double rss0,
                         int rss_reset)
{
    myo_bench_print_machine(hosts, "cblas_sgemm", "cblas_sgemm");
    const char *phases = o->phase[PH_FWD] && o->phase[PH_FB] ? "fwd and fwd+bwd"
                         : o->phase[PH_FWD]                  ? "fwd"
                                                             : "fwd+bwd";
    printf("# float32, D = %lld, H = %lld (d = %lld), batch = %lld, n = %lld .. %lld (x%lld), "
           "phases %s, reps = %lld timed after warmup = %lld, seed 0x%llx\n",
           (long long)o->c.D, (long long)o->c.H, (long long)(o->c.D / o->c.H), (long long)o->batch,
           (long long)o->n_min, (long long)o->n_max, (long long)o->n_factor, phases,
           (long long)o->c.reps, (long long)o->c.warmup, (unsigned long long)SEED);
    printf("# methods:");
    for (int i = 0; i < o->n_methods; i++) {
        int m = o->method[i];
        printf("%s %s", i ? ";" : "", METHOD_NAME[m]);
        if (m == M_MYOSOTIS)
            printf(" (myo_layer_*_f32, tree %s%s, direction both)", o->tree.name,
                   o->tree.kind == MYO_BENCH_TREE_KARY ? " with virtual internal nodes" : "");
        else if (m == M_DENSE_TILED)
            printf(" (myo_attention_*_f32, FlashAttention-2, tiles %d x %d, %s)",
                   MYO_ATTN_TILE_Q_DEFAULT, MYO_ATTN_TILE_K_DEFAULT,
                   o->causal ? "causal" : "non-causal");
        else if (m == M_DENSE_MAT)
            printf(" (myo_attention_*_f32, the H n x n probabilities kept, %s)",
                   o->causal ? "causal" : "non-causal");
        else
            printf(" (myo_ssm_*_f32, Mamba: L = E D = %lld, state Ns = %lld, conv K = %lld, dt "
                   "rank R = %lld, block %lld)",
                   (long long)ly->d_inner, (long long)ly->d_state, (long long)ly->d_conv,
                   (long long)ly->dt_rank, (long long)ly->block);
    }
    printf("\n");
    printf("# inputs: x, dy uniform in [-1,1); Wq, Wk, Wv, Wo uniform in +-1/sqrt(D); ssm: "
           "myo_ssm_params_init (Mamba's initialisation).\n");
    printf("# validation per point, before timing, on a small case of the same configuration "
           "(n = %d, or %d when n is odd): err = the largest ||x - x_ref||_2 / ||x_ref||_2 over "
           "y and, for fwd+bwd, dx and each weight gradient,\n#   x_ref from the method's _ref "
           "twin in double on the same float inputs; VALID when err <= %.0e.\n",
           VAL_N_EVEN, VAL_N_ODD, VAL_TOL);
    printf("# timing: each repetition times the phases asked for in turn, fwd (forward alone) "
           "then fwd+bwd (forward then backward on the same inputs), each after %s and "
           "MPI_Barrier,\n#   with MPI_Wtime;"
           " max over ranks per repetition; t_ms = median, t_min/t_max = extremes; proj_ms, "
           "mix_ms = medians of the layer's own timers (myo_*_work_times: projection = the\n"
           "#   products with weight matrices and their gradients, mixing = everything else).\n",
           fl->buf ? "evicting the caches (reading a buffer)" : "no cache eviction (--no-flush)");
    myo_bench_print_flush_buffer(fl, "");
    printf("# memory: work_MiB = myo_*_work_bytes after the point (forward cache and backward "
           "scratch); rss_MiB = peak resident set of the process %s (max over ranks),\n#   "
           "which includes the baseline, %.0f MiB at start (eviction buffer, libraries), and x, "
           "y, dy, dx (4 B n D floats) and the weights and gradients.\n",
           rss_reset ? "during the point (VmHWM, reset before each point)"
                     : "so far (this kernel refuses to reset VmHWM)",
           rss0);
    printf("# budgets: a point is skipped (SKIP row, never run) when its predicted time > "
           "--time-budget %.3g s: from the method's previous point, (untimed part) r + (timed "
           "part) r^p,\n#   r = n / n_prev, p = 1 for myosotis and ssm, 2 for dense; for a "
           "method's first point, a lower bound from the flops at %.0f GFLOP/s; once a method "
           "skips for time,\n#   its larger n are skipped too; or when its predicted memory "
           "(the analytic bytes of the work object and arrays, plus the resident set now) times "
           "the ranks on\n#   the host > %.2f GiB (%s).\n",
           o->time_budget, PEAK_GFLOPS, mem->bytes / 1073741824.0, myo_bench_budget_source(mem));
    printf("# flops, per sequence (times B); GFLOP is the phase's count (fwd, or fwd + bwd), "
           "GFLOP/s = GFLOP / t_ms; an exp, log or division counts 1:\n");
    printf("#   myosotis fwd = 2 D^2 (3N + n) [Q, K, V on N nodes, Wo on n tokens] + 4 E D "
           "[scores: 2 dots of d per edge and head] + 4 N D [tree solve] + D (v + cv) "
           "[pooling]\n"
           "#            bwd = 2 D^2 (6N + 2n) [dWo, dY, dWq, dWk, dWv, dX] + 4 N D [transposed "
           "solve] + 14 E D [score gradients: per edge, direction, head 3d + 2 axpy of d] + "
           "2 D cv [pooling adjoint]\n"
           "#            N nodes (column 'nodes'), E = N - 1 edges, v = N - n virtual nodes, cv "
           "nodes whose parent is virtual\n");
    printf("#   dense    fwd = 8 n D^2 + c (4 n^2 D [Q K^T, P V] + 5 H n^2 [softmax: max, "
           "subtract, exp, sum, scale])\n"
           "#            bwd = 16 n D^2 + 2 n D + c (8 n^2 D [dV, dP, dQ, dK] + 2 H n^2 [dS]), "
           "tiled + c (2 n^2 D + 2 H n^2) [S and P recomputed]; c = 1, causal (n + 1) / 2n\n");
    printf("#   ssm      fwd = 2 n (2 D L + L P + R L + L D) [W_in, W_x, W_dt, W_out] + 7 n L Ns "
           "[scan] + n L (2K + 14) [conv, silu, softplus, skip, gate]; P = R + 2 Ns\n"
           "#            bwd = 2 n (6 D L + 2 L P + 3 R L) [gradients, dt recomputed] + 26 n L Ns "
           "[states recomputed, reverse scan] + n L (6K + 30) [elementwise, approximate]\n");
    printf("# status: OK, or SKIP:time / SKIP:memory / SKIP:limit (a size the library refuses) "
           "with the reason in 'note'.\n");
    print_columns();
    fflush(stdout);
}

/* --------------------------------------------------------------- summary */

/* The measured rows the summary reads: rows[method][n index][phase]. */
typedef struct {
    int64_t *n;
    int count;
    phase_row (*rows)[M_COUNT][PH_COUNT];
} results;

static const phase_row *measured(const results *res, int method, int i, int phase)
{
    const phase_row *r = &res->rows[i][method][phase];
    return r->status == ST_OK && r->t[1] > 0 ? r : NULL;
}

/* Least-squares slope of log(mix) against log(n) over the measured rows
 * of method with n >= from; NAN when fewer than two. */
static double mix_slope(const results *res, int phase, int64_t from, int *points, int64_t *first,
                        int64_t *last)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int k = 0;
    for (int i = 0; i < res->count; i++) {
        const phase_row *r = measured(res, M_MYOSOTIS, i, phase);
        if (res->n[i] < from || !r || !(r->mix > 0)) continue;
        double x = log((double)res->n[i]), y = log(r->mix);
        sx += x, sy += y, sxx += x * x, sxy += x * y;
        if (k++ == 0) *first = res->n[i];
        *last = res->n[i];
    }
    *points = k;
    if (k < 2) return NAN;
    return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

/* "n: ratio" for every n where both rows are measured, ratio = the time of
 * (num_method, num_phase) / the time of (den_method, den_phase), into list;
 * the largest in *worst at *worst_n.  Returns how many. */
static int ratio_list(const results *res, int num_method, int num_phase, int den_method,
                      int den_phase, char *list, size_t size, double *worst, int64_t *worst_n)
{
    int k = 0;
    size_t used = 0;
    list[0] = '\0';
    *worst = 0, *worst_n = 0;
    for (int i = 0; i < res->count; i++) {
        const phase_row *a = measured(res, num_method, i, num_phase);
        const phase_row *b = measured(res, den_method, i, den_phase);
        if (!a || !b) continue;
        double ratio = a->t[1] / b->t[1];
        k++;
        if (ratio > *worst) *worst = ratio, *worst_n = res->n[i];
        if (used + 48 < size)
            used += (size_t)snprintf(list + used, size - used, "%s%lld: %.2f", used ? ", " : "",
                                     (long long)res->n[i], ratio);
    }
    return k;
}

static void print_summary(const bench_opts *o, const results *res)
{
    if (myo_bench_rank() != 0) return;
    printf("# summary: slopes and ratios of median times from the rows above ('not measured' "
           "when a row needed was skipped or not asked for)\n");
    /* 1. mixing time against n */
    for (int p = 0; p < PH_COUNT; p++) {
        if (!o->phase[p]) continue;
        int k = 0;
        int64_t first = 0, last = 0;
        double s = mix_slope(res, p, SLOPE_FROM, &k, &first, &last);
        if (k < 2)
            printf("# myosotis %s mixing time vs n, log-log slope from n = %d: not measured "
                   "(%d point%s)\n",
                   PHASE_NAME[p], SLOPE_FROM, k, k == 1 ? "" : "s");
        else
            printf("# myosotis %s mixing time vs n, log-log least-squares slope over n = %lld .. "
                   "%lld (%d points): %.3f\n",
                   PHASE_NAME[p], (long long)first, (long long)last, k, s);
    }
    char list[1024];
    double worst;
    int64_t worst_n;
    /* 2. speedup over exact tiled attention */
    for (int p = 0; p < PH_COUNT; p++) {
        if (!o->phase[p]) continue;
        if (ratio_list(res, M_DENSE_TILED, p, M_MYOSOTIS, p, list, sizeof list, &worst, &worst_n) ==
            0)
            printf("# myosotis layer %s speedup over dense-tiled: not measured\n", PHASE_NAME[p]);
        else
            printf("# myosotis layer %s speedup over dense-tiled (dense-tiled / myosotis time) at "
                   "n = %s\n",
                   PHASE_NAME[p], list);
    }
    /* 3. against the SSM */
    if (ratio_list(res, M_SSM, PH_FWD, M_MYOSOTIS, PH_FWD, list, sizeof list, &worst, &worst_n) ==
        0)
        printf("# myosotis vs ssm, fwd time ssm / myosotis at common n: not measured\n");
    else
        printf("# myosotis vs ssm, fwd time ssm / myosotis at n = %s\n", list);
    /* 4. cost of the backward */
    if (ratio_list(res, M_MYOSOTIS, PH_FB, M_MYOSOTIS, PH_FWD, list, sizeof list, &worst,
                   &worst_n) == 0)
        printf("# myosotis fwd+bwd / fwd: not measured\n");
    else
        printf("# myosotis fwd+bwd / fwd at n = %s; largest %.2f at n = %lld\n", list, worst,
               (long long)worst_n);
    fflush(stdout);
}

/* ------------------------------------------------------------------ main */

static int bench_main(int argc, char **argv)
{
    bench_opts o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0) return code;
    myo_bench_blas_single_thread();
    const double t_start = MPI_Wtime();

    myo_ssm_layout ly;
    myo_ssm_config scfg = {.d_model = o.c.D};
    if (myo_ssm_layout_of(&scfg, &ly) != MYO_OK) {
        myo_bench_say(0, "--d-model %lld: %s", (long long)o.c.D, myo_error_detail());
        return MYO_EXIT_USAGE;
    }

    char hosts[512] = "";
    myo_bench_hosts(hosts, sizeof hosts);
    sweep sw = {.o = &o, .ly = &ly};
    myo_bench_budget_init(o.c.max_memory, &sw.mem);

    myo_bench_flush fl;
    if ((code = myo_bench_flush_create(o.c.flush, &fl)) != MYO_EXIT_OK) return code;
    sw.fl = &fl;

    results res = {0};
    for (int64_t n = o.n_min; n <= o.n_max;
         n = n > o.n_max / o.n_factor ? o.n_max + 1 : n * o.n_factor)
        res.count++;
    res.n = calloc((size_t)res.count, sizeof *res.n);
    res.rows = calloc((size_t)res.count, sizeof *res.rows);
    code = myo_bench_agree(res.n && res.rows ? MYO_EXIT_OK : MYO_EXIT_INTERNAL);
    if (code != MYO_EXIT_OK) {
        free(res.n), free(res.rows);
        myo_bench_flush_free(&fl);
        return code;
    }
    {
        int i = 0;
        for (int64_t n = o.n_min; n <= o.n_max;
             n = n > o.n_max / o.n_factor ? o.n_max + 1 : n * o.n_factor)
            res.n[i++] = n;
    }

    double rss0[2] = {myo_bench_rss_mib(), myo_bench_peak_rss_reset() == 0 ? 0.0 : 1.0};
    myo_bench_max_over_ranks(rss0, 2);
    if (myo_bench_rank() == 0) print_header(&o, &ly, hosts, &fl, &sw.mem, rss0[0], rss0[1] == 0.0);

    int invalid = 0;
    for (int i = 0; i < res.count && code == MYO_EXIT_OK; i++)
        for (int k = 0; k < o.n_methods && code == MYO_EXIT_OK; k++) {
            const int m = o.method[k];
            const int64_t n = res.n[i];
            phase_row *rows = res.rows[i][m];
            double t0 = MPI_Wtime();
            code = run_point(&sw, m, n, rows);
            if (code != MYO_EXIT_OK) break;
            for (int p = 0; p < PH_COUNT; p++) {
                if (!o.phase[p]) continue;
                print_row(m, &o, n, p, &rows[p]);
                if (rows[p].status == ST_OK && !rows[p].valid) {
                    invalid = 1;
                    myo_bench_say(0, "%s, n = %lld, %s: INVALID (err %.3g, tolerance %.0e)",
                                  METHOD_NAME[m], (long long)n, PHASE_NAME[p], rows[p].err,
                                  VAL_TOL);
                }
            }
            if (o.progress && myo_bench_rank() == 0) {
                if (rows[0].status != ST_OK)
                    myo_bench_say(0, "%s n = %lld: %s (%s)", METHOD_NAME[m], (long long)n,
                                  STATUS_NAME[rows[0].status], rows[0].note);
                else
                    myo_bench_say(0, "%s n = %lld: %s%.4g ms%s%.4g ms (%.1f s)", METHOD_NAME[m],
                                  (long long)n, o.phase[PH_FWD] ? "fwd " : "",
                                  o.phase[PH_FWD] ? rows[PH_FWD].t[1] * 1e3 : 0.0,
                                  o.phase[PH_FB] ? ", fwd+bwd " : "",
                                  o.phase[PH_FB] ? rows[PH_FB].t[1] * 1e3 : 0.0, MPI_Wtime() - t0);
            }
        }
    if (code == MYO_EXIT_OK) {
        print_summary(&o, &res);
        myo_bench_print_totals(t_start);
        code = invalid ? MYO_EXIT_CHECK : MYO_EXIT_OK;
    }
    free(res.n), free(res.rows);
    myo_bench_flush_free(&fl);
    return code;
}

int main(int argc, char **argv)
{
    return myo_bench_main(argc, argv, TOOL, bench_main);
}
