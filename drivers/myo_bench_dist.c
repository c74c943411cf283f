/* myo_bench_dist.c -- myo-bench-dist, the scaling benchmark of the distributed
 * tree solve and layer (docs/design.md sections 4 and 6).
 *
 * One run is one rank count P (mpirun -np P myo-bench-dist ...); runs of
 * several P are compared through what every row carries.  For each kernel
 * it times, on all P ranks of MPI_COMM_WORLD:
 *   - the distributed call (myo_dist_refactor_laplacian_f32 = factor +
 *     solve, myo_dist_solve_f32 alone, or myo_layer_dist_forward_f32 /
 *     _backward_f32) -- the max over ranks of each repetition;
 *   - the same per-rank local work without communication, run
 *     concurrently on the same P ranks (barrier, then every rank times its
 *     own serial call on its own part: the plan's local forest for the
 *     solve, a tree over its own tokens for the layer) -- the max over ranks;
 *   - the messages of the distributed call: the plan's counters
 *     (myo_dist_plan_stats) and the MPI calls it made, counted by PMPI
 *     wrappers below;
 * and, once per run, a STREAM-triad bandwidth on the same P ranks at once.
 * The distributed results are first validated against the serial kernels
 * on the whole tree of a small problem, with the same P ranks.
 *
 * Per point: predict the memory and skip what exceeds it (a SKIP row,
 * never an out-of-memory kill); warm up; time.  stdout: a '#' header, then
 * one aligned row per (kernel, pass), flushed as soon as it is measured,
 * then a '#' summary of each row's overhead and message rounds. */
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

static const char *const TOOL = "myo-bench-dist";

#define SEED 0x6d796f73ULL /* "myos": every run times the same inputs */
#ifndef VAL_TOL            /* (a test build may tighten it to see exit code 7) */
#define VAL_TOL 1e-4       /* relative error of the distributed float32 result vs serial */
#endif

enum { K_SOLVE, K_LAYER, K_COUNT };
static const char *const KERNEL_NAME[K_COUNT] = {"solve", "layer"};

/* The rows of a kernel: solve: factor+solve, solve; layer: fwd, fwd+bwd. */
enum { P_FACTOR_SOLVE, P_SOLVE, P_FWD, P_FB, P_COUNT };
static const char *const PASS_NAME[P_COUNT] = {"factor+solve", "solve", "fwd", "fwd+bwd"};

enum { ST_OK, ST_SKIP_MEMORY, ST_SKIP_LIMIT };
static const char *const STATUS_NAME[] = {"OK", "SKIP:memory", "SKIP:limit"};

typedef struct {
    int kernel[K_COUNT];      /* which kernels run */
    int strong;               /* strong scaling: --tokens is the total */
    int64_t tokens;           /* per rank (weak) or total (strong); 0: the default */
    myo_bench_tree_spec tree; /* chain or kary<arity> */
    int chain;                /* tree.kind == MYO_BENCH_TREE_CHAIN */
    int arity;                /* --arity (also with a chain: the share bound's slack) */
    int tree_arity;           /* from --tree kary<k>; 0: none */
    int arity_given;
    int direction;     /* myo_layer_direction */
    int pass[P_COUNT]; /* P_FWD, P_FB: the layer passes timed */
    int64_t val_tokens;
    int64_t triad_mib, triad_reps;
    myo_bench_common_opts c; /* --d-model, --heads, --reps, --warmup, --max-memory, --no-flush */
} bench_opts;

/* ------------------------------------------------- counting MPI calls */

/* PMPI wrappers: while g_counting is set (only around the timed
 * distributed calls), the MPI calls this process makes -- the library's
 * included -- are counted.  Collectives: MPI_Allreduce, MPI_Reduce,
 * MPI_Bcast, MPI_Allgather(v), MPI_Gather(v), MPI_Scatter(v), MPI_Exscan,
 * MPI_Scan, MPI_Barrier, MPI_Alltoall(v), MPI_Reduce_scatter_block and the
 * communicator makers MPI_Comm_split and MPI_Comm_dup; point-to-point
 * sends: MPI_Send, MPI_Isend, MPI_Ssend, MPI_Issend, MPI_Sendrecv (a
 * message each, with its bytes). */
typedef struct {
    int64_t colls, p2p, p2p_bytes;
} mpi_counts;

static int g_counting = 0;
static mpi_counts g_counts;

static void count_coll(void)
{
    if (g_counting) g_counts.colls++;
}

static void count_send(int count, MPI_Datatype type)
{
    if (!g_counting) return;
    int size = 0;
    if (PMPI_Type_size(type, &size) != MPI_SUCCESS) size = 0;
    g_counts.p2p++;
    g_counts.p2p_bytes += (int64_t)count * size;
}

/* MPI_name(params): count, then PMPI_name(args). */
#define COUNTED(count, name, params, args)                                                         \
    int MPI_##name params                                                                          \
    {                                                                                              \
        count;                                                                                     \
        return PMPI_##name args;                                                                   \
    }

COUNTED(count_coll(), Allreduce,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, count, type, op, comm))
COUNTED(count_coll(), Reduce,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, int root,
         MPI_Comm comm),
        (sb, rb, count, type, op, root, comm))
COUNTED(count_coll(), Bcast, (void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm),
        (buf, count, type, root, comm))
COUNTED(count_coll(), Allgather,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, comm))
COUNTED(count_coll(), Allgatherv,
        (const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[], const int displs[],
         MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, st, rb, rc, displs, rt, comm))
COUNTED(count_coll(), Gather,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root,
         MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, root, comm))
COUNTED(count_coll(), Gatherv,
        (const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[], const int displs[],
         MPI_Datatype rt, int root, MPI_Comm comm),
        (sb, sc, st, rb, rc, displs, rt, root, comm))
COUNTED(count_coll(), Scatter,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root,
         MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, root, comm))
COUNTED(count_coll(), Scatterv,
        (const void *sb, const int sc[], const int displs[], MPI_Datatype st, void *rb, int rc,
         MPI_Datatype rt, int root, MPI_Comm comm),
        (sb, sc, displs, st, rb, rc, rt, root, comm))
COUNTED(count_coll(), Exscan,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, count, type, op, comm))
COUNTED(count_coll(), Scan,
        (const void *sb, void *rb, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, count, type, op, comm))
COUNTED(count_coll(), Barrier, (MPI_Comm comm), (comm))
COUNTED(count_coll(), Alltoall,
        (const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, st, rb, rc, rt, comm))
COUNTED(count_coll(), Alltoallv,
        (const void *sb, const int sc[], const int sd[], MPI_Datatype st, void *rb, const int rc[],
         const int rd[], MPI_Datatype rt, MPI_Comm comm),
        (sb, sc, sd, st, rb, rc, rd, rt, comm))
COUNTED(count_coll(), Reduce_scatter_block,
        (const void *sb, void *rb, int rc, MPI_Datatype type, MPI_Op op, MPI_Comm comm),
        (sb, rb, rc, type, op, comm))
COUNTED(count_coll(), Comm_split, (MPI_Comm comm, int color, int key, MPI_Comm *out),
        (comm, color, key, out))
COUNTED(count_coll(), Comm_dup, (MPI_Comm comm, MPI_Comm *out), (comm, out))
COUNTED(count_send(count, type), Send,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
COUNTED(count_send(count, type), Ssend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm),
        (buf, count, type, dest, tag, comm))
COUNTED(count_send(count, type), Isend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *req),
        (buf, count, type, dest, tag, comm, req))
COUNTED(count_send(count, type), Issend,
        (const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
         MPI_Request *req),
        (buf, count, type, dest, tag, comm, req))
COUNTED(count_send(sc, st), Sendrecv,
        (const void *sb, int sc, MPI_Datatype st, int dest, int stag, void *rb, int rc,
         MPI_Datatype rt, int source, int rtag, MPI_Comm comm, MPI_Status *status),
        (sb, sc, st, dest, stag, rb, rc, rt, source, rtag, comm, status))

/* ------------------------------------------------------------ options */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: mpirun -np P %s [OPTION]...\n"
            "Scaling benchmark of the distributed tree solve and Myosotis layer on P ranks,\n"
            "float32, one core per rank: the distributed call against the same per-rank local\n"
            "work without communication run concurrently on the same ranks, the messages it\n"
            "sends, and a STREAM-triad bandwidth on the same ranks.  One run is one P; run it\n"
            "for each P and compare the rows (README.md, myo-bench-dist).\n"
            "\n"
            "  --kernel K          solve, layer or both (default both)\n"
            "  --scaling S         weak (--tokens per rank) or strong (--tokens in all)\n"
            "                      (default weak)\n"
            "  --tokens N          tokens per rank (weak) or in all (strong); K, M, G suffixes\n"
            "                      (powers of 1024) or 2^k (default weak 2^20, strong 2^24)\n"
            "  --d-model D         model width; the solve has D / H channels per head\n"
            "                      (default 256)\n"
            "  --heads H           heads, dividing D (default 8)\n"
            "  --tree T            kary (a balanced hierarchy with virtual internal nodes) or\n"
            "                      chain (default kary; kary<k> sets the arity too)\n"
            "  --arity K           arity of the kary tree, 2 <= K <= 64 (default 2)\n"
            "  --direction DIR     both, up or down: the edge weights kept (default both)\n"
            "  --pass P            layer passes: fwd, fwd+bwd or both (default fwd+bwd)\n"
            "  --reps R            timed repetitions, median reported (default 5)\n"
            "  --warmup W          untimed repetitions before them (default 1)\n"
            "  --val-tokens N      tokens of the validation problem (default 4096)\n"
            "  --triad-mib M       MiB per triad array, 3 arrays per rank; 0: no triad\n"
            "                      (default 64)\n"
            "  --triad-reps R      timed triad repetitions (default 10)\n"
            "  --max-memory BYTES  memory this host may use (K, M, G suffixes; default: its\n"
            "                      MemAvailable at start); larger points are skipped\n"
            "  --no-flush          do not evict the caches before each timed call\n"
            "  --help              print this help and exit\n"
            "  --version           print the version and exit\n"
            "\n"
            "OpenBLAS runs one thread per rank (set by the tool).  Exit status: 0 when every\n"
            "row validates (skipped points are reported, not failed), 2 for a bad command\n"
            "line, 6 when out of memory or on an internal failure, 7 when the distributed\n"
            "result does not match the serial one.\n",
            TOOL);
}

/* A token count: what myo_bench_parse_int takes, or 2^k. */
static int parse_count(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    if (text[0] == '2' && text[1] == '^') {
        int64_t k;
        if (myo_bench_parse_int(text + 2, 0, 62, &k) == 0 && text[2] != '\0' &&
            (INT64_C(1) << k) >= lo && (INT64_C(1) << k) <= hi) {
            *out = INT64_C(1) << k;
            return MYO_EXIT_OK;
        }
    } else if (myo_bench_parse_int(text, lo, hi, out) == 0) {
        return MYO_EXIT_OK;
    }
    myo_bench_say(0, "%s: '%s' is not an integer in [%lld, %lld] (K, M, G suffixes or 2^k)", name,
                  text, (long long)lo, (long long)hi);
    return MYO_EXIT_USAGE;
}

/* The codes of the tool's own options: 256 + their index in longopts. */
enum { OPT_KERNEL = 256, OPT_SCALING, OPT_TOKENS, OPT_TREE, OPT_ARITY, OPT_DIRECTION, OPT_PASS };
enum { OPT_VAL = OPT_PASS + 1, OPT_TRIAD_MIB, OPT_TRIAD_REPS };

static int own_option(int c, const char *arg, void *ctx)
{
    bench_opts *o = ctx;
    static const char *const scalings[] = {"weak", "strong", NULL};
    static const char *const directions[] = {"both", "up", "down", NULL};
    static const int direction_of[] = {MYO_DIR_BOTH, MYO_DIR_UP, MYO_DIR_DOWN};
    myo_bench_tree_spec spec;
    int64_t k;
    switch (c) {
    case OPT_KERNEL:
        return myo_bench_pair_option("--kernel", arg, "solve", "layer", o->kernel);
    case OPT_SCALING:
        return myo_bench_choice_option("--scaling", arg, scalings, &o->strong);
    case OPT_TOKENS:
        return parse_count("--tokens", arg, 1, INT64_C(1) << 40, &o->tokens);
    case OPT_TREE:
        if (strcmp(arg, "kary") == 0) {
            o->chain = 0, o->tree_arity = 0;
        } else if (myo_bench_parse_tree(arg, &spec) == 0 && spec.kind != MYO_BENCH_TREE_HEAP) {
            o->chain = spec.kind == MYO_BENCH_TREE_CHAIN;
            o->tree_arity = o->chain ? 0 : spec.arity;
        } else {
            myo_bench_say(0, "--tree: '%s' is not kary, kary<k> (2 <= k <= 64) or chain", arg);
            return MYO_EXIT_USAGE;
        }
        return MYO_EXIT_OK;
    case OPT_ARITY:
        if (myo_bench_int_option("--arity", arg, 2, 64, &k) != MYO_EXIT_OK) return MYO_EXIT_USAGE;
        o->arity = (int)k, o->arity_given = 1;
        return MYO_EXIT_OK;
    case OPT_DIRECTION:
        if (myo_bench_choice_option("--direction", arg, directions, &o->direction) != MYO_EXIT_OK)
            return MYO_EXIT_USAGE;
        o->direction = direction_of[o->direction];
        return MYO_EXIT_OK;
    case OPT_PASS:
        return myo_bench_pair_option("--pass", arg, "fwd", "fwd+bwd", &o->pass[P_FWD]);
    case OPT_VAL:
        return parse_count("--val-tokens", arg, 1, 1 << 20, &o->val_tokens);
    case OPT_TRIAD_MIB:
        return myo_bench_int_option("--triad-mib", arg, 0, 1 << 20, &o->triad_mib);
    default: /* OPT_TRIAD_REPS */
        return myo_bench_int_option("--triad-reps", arg, 1, 1000000, &o->triad_reps);
    }
}

/* Returns -1 to go on, otherwise the exit code (0 after --help/--version). */
static int parse_options(int argc, char **argv, bench_opts *o)
{
    static const char *const longopts[] = {
        /* in the order of the OPT_* codes */
        "kernel=", "scaling=",    "tokens=",    "tree=",       "arity=", "direction=",
        "pass=",   "val-tokens=", "triad-mib=", "triad-reps=", NULL};
    memset(o, 0, sizeof *o);
    o->kernel[K_SOLVE] = o->kernel[K_LAYER] = 1;
    o->arity = 2, o->direction = MYO_DIR_BOTH;
    o->pass[P_FACTOR_SOLVE] = o->pass[P_SOLVE] = 1;
    o->pass[P_FB] = 1;
    o->val_tokens = 4096;
    o->triad_mib = 64, o->triad_reps = 10;
    myo_bench_common_defaults(&o->c);
    int code = myo_bench_parse_options(argc, argv, longopts, MYO_BENCH_OPT_ALL, &o->c, own_option,
                                       o, usage);
    if (code >= 0) return code;
    if (o->tree_arity) {
        if (o->arity_given && o->arity != o->tree_arity) {
            myo_bench_say(0, "--tree kary%d contradicts --arity %d", o->tree_arity, o->arity);
            return MYO_EXIT_USAGE;
        }
        o->arity = o->tree_arity;
    }
    char name[16] = "chain";
    if (!o->chain) snprintf(name, sizeof name, "kary%d", o->arity);
    myo_bench_parse_tree(name, &o->tree);
    if (o->tokens == 0) o->tokens = INT64_C(1) << (o->strong ? 24 : 20);
    return -1;
}

/* ------------------------------------------------------------ helpers */

static inline uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) from a key: the same value for the same key on every
 * rank and for every P (a counter-based generator). */
static inline double unit_of(uint64_t stream, uint64_t key)
{
    return (double)(mix64(stream ^ (key * 0xd1342543de82ef95ULL)) >> 11) * 0x1p-53;
}

enum { STREAM_WUP = 1, STREAM_WDOWN, STREAM_RHS, STREAM_RHS2, STREAM_X, STREAM_DY, STREAM_W };

/* The edge weights of node `label`, head h: uniform in [0, 2), 0 where
 * the direction drops them. */
static void edge_weights(const bench_opts *o, int64_t label, int64_t h, float *w_up, float *w_down)
{
    uint64_t key = (uint64_t)label * (uint64_t)o->c.H + (uint64_t)h;
    *w_up = o->direction == MYO_DIR_DOWN ? 0.0f : (float)(2.0 * unit_of(SEED + STREAM_WUP, key));
    *w_down = o->direction == MYO_DIR_UP ? 0.0f : (float)(2.0 * unit_of(SEED + STREAM_WDOWN, key));
}

/* count floats uniform in [-1, 1) from a fast per-stream generator
 * (xorshift64): the timed problems' values, which only need to be finite. */
static void fill_fast(float *a, size_t count, uint64_t seed)
{
    uint64_t s = mix64(seed) | 1;
    for (size_t i = 0; i < count; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        a[i] = (float)((double)(s >> 40) * 0x1p-23 - 1.0);
    }
}

/* The weights Wq, Wk, Wv, Wo (4 D^2), uniform in +-1/sqrt(D), the same on
 * every rank. */
static void fill_weights(const bench_opts *o, float *w)
{
    const double bound = 1.0 / sqrt((double)o->c.D);
    const int64_t count = 4 * o->c.D * o->c.D;
    for (int64_t i = 0; i < count; i++)
        w[i] = (float)(bound * (2.0 * unit_of(SEED + STREAM_W, (uint64_t)i) - 1.0));
}

/* Collective.  The ranks' agreed exit code for a status s of this rank
 * (MYO_OK on all: MYO_EXIT_OK); says what failed. */
static int agree_status(myo_status s, const char *what)
{
    if (s != MYO_OK) myo_bench_say(1, "%s: %s: %s", what, myo_status_str(s), myo_error_detail());
    return myo_bench_agree(s == MYO_OK ? MYO_EXIT_OK : myo_bench_status_code(s));
}

/* The partition: leaf ranges for a kary tree, even node counts for a chain
 * (or when the leaf ranges fail; fallback (200) then holds why). */
static myo_status partition(const bench_opts *o, const myo_tree *t, int size, int64_t *off,
                            char *fallback)
{
    fallback[0] = '\0';
    if (!o->chain) {
        int idle = 0;
        myo_status s = myo_dist_leaf_ranges(t, size, off, &idle);
        if (s == MYO_OK) return MYO_OK;
        snprintf(fallback, 200, "myo_dist_leaf_ranges failed (%s: %s): even ranges",
                 myo_status_str(s), myo_error_detail());
    }
    return myo_dist_even_ranges(myo_tree_num_nodes(t), size, off);
}

/* Collective.  The tree over tokens (every rank holds all of it) and this
 * rank's positions [*lo, *hi) of the partition; fallback as partition's.
 * Returns the agreed exit code (what: the message's prefix); on a failure
 * *t is destroyed. */
static int tree_and_share(const bench_opts *o, int64_t tokens, myo_tree **t, int64_t *lo,
                          int64_t *hi, char *fallback, const char *what)
{
    const int rank = myo_bench_rank(), size = myo_bench_size();
    int64_t *off = malloc((size_t)(size + 1) * sizeof *off);
    myo_status s = off ? myo_bench_tree_create(&o->tree, tokens, t) : MYO_ERR_NOMEM;
    if (s == MYO_OK) s = partition(o, *t, size, off, fallback);
    if (s == MYO_OK) *lo = off[rank], *hi = off[rank + 1];
    free(off);
    int code = agree_status(s, what);
    if (code != MYO_EXIT_OK) myo_tree_destroy(t);
    return code;
}

/* The token rows of the positions [lo, hi) in position order: labels <
 * n_tokens among them, into tok (hi - lo).  Returns their count. */
static int64_t token_rows(const myo_tree *t, int64_t lo, int64_t hi, int64_t *tok)
{
    const int64_t *order = myo_tree_preorder(t), n = myo_tree_num_tokens(t);
    int64_t k = 0;
    for (int64_t p = lo; p < hi; p++)
        if (order[p] < n) tok[k++] = order[p];
    return k;
}

/* --------------------------------------------------------- validation */

typedef struct {
    double err[P_COUNT]; /* per row kind; NAN when not validated */
    int kernel_bits;     /* local factor kernels seen: 1 chain, 2 tree, 4 other */
    char partition[200]; /* the fallback note, or "" */
    int64_t n_val, nodes_val;
} validation;

/* Factor + solve and the solve alone, distributed on the P ranks, against
 * the serial kernel on the whole tree (both float32): err = max |y_dist -
 * y_serial| / max |y_serial| over all nodes and channels.  Collective;
 * returns the agreed exit code of failures to run. */
static int validate_solve(const bench_opts *o, validation *v)
{
    const int64_t H = o->c.H, D = o->c.D, m = D / H;
    myo_tree *t = NULL;
    myo_dist_plan *plan = NULL;
    myo_factor *f = NULL, *lf = NULL;
    float *wu = NULL, *wd = NULL, *r1 = NULL, *r2 = NULL, *y1 = NULL, *y2 = NULL;
    float *lwu = NULL, *lwd = NULL, *l1 = NULL, *l2 = NULL;
    const char *what = "validation: setup";
    int64_t lo = 0, hi = 0;
    int code = tree_and_share(o, o->val_tokens, &t, &lo, &hi, v->partition, what);
    if (code != MYO_EXIT_OK) return code;
    const int64_t N = v->nodes_val = myo_tree_num_nodes(t), nl = hi - lo;
    myo_status s = MYO_OK;
    wu = malloc((size_t)(N * H) * sizeof *wu), wd = malloc((size_t)(N * H) * sizeof *wd);
    r1 = malloc((size_t)(N * D) * sizeof *r1), r2 = malloc((size_t)(N * D) * sizeof *r2);
    y1 = malloc((size_t)(N * D) * sizeof *y1), y2 = malloc((size_t)(N * D) * sizeof *y2);
    lwu = myo_bench_alloc((size_t)(nl * H), sizeof *lwu);
    lwd = myo_bench_alloc((size_t)(nl * H), sizeof *lwd);
    l1 = myo_bench_alloc((size_t)(nl * D), sizeof *l1);
    l2 = myo_bench_alloc((size_t)(nl * D), sizeof *l2);
    if (!wu || !wd || !r1 || !r2 || !y1 || !y2 || !lwu || !lwd || !l1 || !l2) s = MYO_ERR_NOMEM;
    if (s == MYO_OK) {
        for (int64_t i = 0; i < N; i++)
            for (int64_t h = 0; h < H; h++)
                edge_weights(o, i, h, &wu[i * H + h], &wd[i * H + h]);
        for (int64_t i = 0; i < N * D; i++) {
            r1[i] = (float)(2.0 * unit_of(SEED + STREAM_RHS, (uint64_t)i) - 1.0);
            r2[i] = (float)(2.0 * unit_of(SEED + STREAM_RHS2, (uint64_t)i) - 1.0);
        }
        const int64_t *order = myo_tree_preorder(t);
        for (int64_t p = lo; p < hi; p++) {
            const int64_t i = order[p], q = p - lo;
            memcpy(lwu + q * H, wu + i * H, (size_t)H * sizeof *wu);
            memcpy(lwd + q * H, wd + i * H, (size_t)H * sizeof *wd);
            memcpy(l1 + q * D, r1 + i * D, (size_t)D * sizeof *r1);
            memcpy(l2 + q * D, r2 + i * D, (size_t)D * sizeof *r2);
        }
        what = "validation: serial factor + solve on the whole tree";
        s = myo_factor_create_empty(t, H, MYO_F32, &f);
        if (s == MYO_OK) s = myo_refactor_laplacian_f32(f, wu, wd, MYO_OP_N, r1, y1, m);
        if (s == MYO_OK)
            what = "validation: serial solve", s = myo_solve_f32(f, MYO_OP_N, r2, y2, m);
    }
    code = agree_status(s, what);
    if (code != MYO_EXIT_OK) goto done;

    s = myo_dist_plan_create(MPI_COMM_WORLD, t, lo, hi, H, MYO_F32, &plan);
    if ((code = agree_status(s, "validation: myo_dist_plan_create")) != MYO_EXIT_OK) goto done;
    /* the serial kernel the local baseline runs on this rank's forest */
    const myo_tree *lt = myo_dist_plan_local_tree(plan);
    s = MYO_OK;
    v->kernel_bits = 0;
    if (nl > 0) {
        if (!lt)
            s = MYO_ERR_ARG, what = "validation: myo_dist_plan_local_tree returned NULL";
        else
            s = myo_factor_create_empty(lt, H, MYO_F32, &lf), what = "validation: local factor";
        if (s == MYO_OK) {
            const char *k = myo_solve_kernel_name(lf);
            v->kernel_bits = strcmp(k, "chain") == 0 ? 1 : strcmp(k, "tree") == 0 ? 2 : 4;
        }
    }
    if ((code = agree_status(s, what)) != MYO_EXIT_OK) goto done;
    myo_bench_mpi_check(
        MPI_Allreduce(MPI_IN_PLACE, &v->kernel_bits, 1, MPI_INT, MPI_BOR, MPI_COMM_WORLD),
        "MPI_Allreduce");

    s = myo_dist_refactor_laplacian_f32(MPI_COMM_WORLD, plan, lwu, lwd, MYO_OP_N, l1, m);
    if ((code = agree_status(s, "validation: myo_dist_refactor_laplacian_f32")) != MYO_EXIT_OK)
        goto done;
    s = myo_dist_solve_f32(MPI_COMM_WORLD, plan, MYO_OP_N, l2, m);
    if ((code = agree_status(s, "validation: myo_dist_solve_f32")) != MYO_EXIT_OK) goto done;

    {
        const int64_t *order = myo_tree_preorder(t);
        double e[4] = {0, 0, 0, 0}; /* |diff| fs, |diff| s, |y1|, |y2| maxima */
        for (int64_t p = lo; p < hi; p++) {
            const int64_t i = order[p], q = p - lo;
            for (int64_t c = 0; c < D; c++) {
                e[0] = myo_bench_max_abs_err(e[0], l1[q * D + c], y1[i * D + c]);
                e[1] = myo_bench_max_abs_err(e[1], l2[q * D + c], y2[i * D + c]);
            }
        }
        for (int64_t i = 0; i < N * D; i++)
            e[2] = fmax(e[2], fabs(y1[i])), e[3] = fmax(e[3], fabs(y2[i]));
        myo_bench_max_over_ranks(e, 4);
        v->err[P_FACTOR_SOLVE] = e[2] > 0 ? e[0] / e[2] : e[0];
        v->err[P_SOLVE] = e[3] > 0 ? e[1] / e[3] : e[1];
    }
done:
    myo_factor_destroy(&lf);
    myo_factor_destroy(&f);
    myo_dist_plan_destroy(&plan);
    myo_tree_destroy(&t);
    free(wu), free(wd), free(r1), free(r2), free(y1), free(y2);
    free(lwu), free(lwd), free(l1), free(l2);
    return code;
}

/* Sums of squares of got - ref and of ref over count entries. */
static void sq_sums(const float *got, const float *ref, size_t count, double *num, double *den)
{
    for (size_t i = 0; i < count; i++) {
        double d = (double)got[i] - (double)ref[i];
        *num += d * d, *den += (double)ref[i] * (double)ref[i];
    }
}

/* The distributed layer (forward, and forward + backward) against the
 * serial layer on the whole sequence, both float32: err = the largest
 * normwise relative error over y (fwd) and dx and each weight gradient
 * (fwd+bwd, with the forward's).  Collective. */
static int validate_layer(const bench_opts *o, validation *v)
{
    const int64_t D = o->c.D, n = o->val_tokens;
    const size_t DD = (size_t)(D * D);
    myo_layer_config cfg = {.d_model = D, .heads = o->c.H, .direction = o->direction};
    myo_tree *t = NULL;
    myo_layer_work *lw = NULL;
    myo_layer_dist_work *dw = NULL;
    int64_t *tok = NULL;
    float *w = NULL, *gs = NULL, *gd = NULL, *x = NULL, *dy = NULL, *y = NULL, *dx = NULL;
    float *xl = NULL, *dyl = NULL, *yl = NULL, *dxl = NULL;
    char fallback[200];
    const char *what = "layer validation: setup";
    int64_t lo = 0, hi = 0, nt = 0;
    int code = tree_and_share(o, n, &t, &lo, &hi, fallback, what);
    if (code != MYO_EXIT_OK) return code;
    myo_status s = MYO_OK;
    tok = myo_bench_alloc((size_t)(hi - lo), sizeof *tok);
    w = malloc(4 * DD * sizeof *w);
    gs = malloc(4 * DD * sizeof *gs), gd = malloc(4 * DD * sizeof *gd);
    x = malloc((size_t)(n * D) * sizeof *x), dy = malloc((size_t)(n * D) * sizeof *dy);
    y = malloc((size_t)(n * D) * sizeof *y), dx = malloc((size_t)(n * D) * sizeof *dx);
    if (!tok || !w || !gs || !gd || !x || !dy || !y || !dx) s = MYO_ERR_NOMEM;
    if (s == MYO_OK) {
        nt = token_rows(t, lo, hi, tok);
        xl = myo_bench_alloc((size_t)(nt * D), sizeof *xl);
        dyl = myo_bench_alloc((size_t)(nt * D), sizeof *dyl);
        yl = myo_bench_alloc((size_t)(nt * D), sizeof *yl);
        dxl = myo_bench_alloc((size_t)(nt * D), sizeof *dxl);
        if (!xl || !dyl || !yl || !dxl) s = MYO_ERR_NOMEM;
    }
    if (s == MYO_OK) {
        fill_weights(o, w);
        for (int64_t i = 0; i < n * D; i++) {
            x[i] = (float)(2.0 * unit_of(SEED + STREAM_X, (uint64_t)i) - 1.0);
            dy[i] = (float)(2.0 * unit_of(SEED + STREAM_DY, (uint64_t)i) - 1.0);
        }
        for (int64_t k = 0; k < nt; k++) {
            memcpy(xl + k * D, x + tok[k] * D, (size_t)D * sizeof *x);
            memcpy(dyl + k * D, dy + tok[k] * D, (size_t)D * sizeof *dy);
        }
        myo_qkvo_weights_f32 wts = myo_bench_qkvo_f32(w, D);
        myo_qkvo_grads_f32 g = myo_bench_qkvo_grads_f32(gs, D);
        what = "layer validation: serial layer on the whole sequence";
        s = myo_layer_work_create(t, &cfg, 1, &lw);
        if (s == MYO_OK) s = myo_layer_forward_f32(lw, &wts, 1, x, y);
        if (s == MYO_OK && o->pass[P_FB]) s = myo_layer_backward_f32(lw, &wts, 1, dy, dx, &g);
    }
    code = agree_status(s, what);
    if (code != MYO_EXIT_OK) goto done;

    s = myo_layer_dist_work_create(MPI_COMM_WORLD, t, &cfg, lo, hi, &dw);
    if ((code = agree_status(s, "layer validation: myo_layer_dist_work_create")) != MYO_EXIT_OK)
        goto done;
    s = MYO_OK;
    if (myo_layer_dist_local_tokens(dw) != nt) {
        myo_bench_say(1,
                      "layer validation: myo_layer_dist_local_tokens = %lld, but positions "
                      "[%lld, %lld) hold %lld tokens",
                      (long long)myo_layer_dist_local_tokens(dw), (long long)lo, (long long)hi,
                      (long long)nt);
        s = MYO_ERR_DATA;
    }
    if ((code = myo_bench_agree(s == MYO_OK ? MYO_EXIT_OK : MYO_EXIT_INTERNAL)) != MYO_EXIT_OK)
        goto done;
    {
        myo_qkvo_weights_f32 wts = myo_bench_qkvo_f32(w, D);
        myo_qkvo_grads_f32 g = myo_bench_qkvo_grads_f32(gd, D);
        s = myo_layer_dist_forward_f32(MPI_COMM_WORLD, dw, &wts, xl, yl);
        if ((code = agree_status(s, "layer validation: myo_layer_dist_forward_f32")) != MYO_EXIT_OK)
            goto done;
        if (o->pass[P_FB]) {
            s = myo_layer_dist_backward_f32(MPI_COMM_WORLD, dw, &wts, dyl, dxl, &g);
            if ((code = agree_status(s, "layer validation: myo_layer_dist_backward_f32")) !=
                MYO_EXIT_OK)
                goto done;
        }
    }
    {
        double sums[4] = {0, 0, 0, 0}; /* y num, den; dx num, den */
        for (int64_t k = 0; k < nt; k++) {
            sq_sums(yl + k * D, y + tok[k] * D, (size_t)D, &sums[0], &sums[1]);
            if (o->pass[P_FB]) sq_sums(dxl + k * D, dx + tok[k] * D, (size_t)D, &sums[2], &sums[3]);
        }
        myo_bench_sum_over_ranks(sums, 4);
        double e[2] = {myo_bench_rel_err(sums[0], sums[1]), 0.0};
        if (o->pass[P_FB]) {
            e[1] = fmax(e[0], myo_bench_rel_err(sums[2], sums[3]));
            for (int k = 0; k < 4; k++) {
                double num = 0, den = 0;
                sq_sums(gd + k * DD, gs + k * DD, DD, &num, &den);
                e[1] = fmax(e[1], myo_bench_rel_err(num, den));
            }
        }
        myo_bench_max_over_ranks(e, 2);
        v->err[P_FWD] = e[0];
        if (o->pass[P_FB]) v->err[P_FB] = e[1];
    }
done:
    myo_layer_dist_work_destroy(&dw);
    myo_layer_work_destroy(&lw);
    myo_tree_destroy(&t);
    free(tok), free(w), free(gs), free(gd), free(x), free(dy), free(y), free(dx);
    free(xl), free(dyl), free(yl), free(dxl);
    return code;
}

/* -------------------------------------------------------------- points */

/* One row: a (kernel, pass). */
typedef struct {
    int kernel, pass; /* K_*, P_* */
    int status;
    char note[200];
    int64_t tokens_total, tokens_rank, nodes_local; /* max over ranks */
    double td[3], tl[3]; /* min, median, max seconds: distributed, local */
    /* per timed call, max over ranks */
    double rounds, msgs, bytes, kept, colls, p2p, solves;
    int valid;
    double err;
} row;

/* What a timed distributed call sent, accumulated over the timed calls. */
typedef struct {
    int64_t calls;
    double solves, rounds, msgs, bytes, colls, p2p, kept;
} comm_acc;

typedef struct {
    myo_dist_stats st;
    mpi_counts mc;
} comm_snap;

static void snap_begin(const myo_dist_plan *p, comm_snap *c)
{
    memset(c, 0, sizeof *c);
    if (p) myo_dist_plan_stats(p, &c->st);
    c->mc = g_counts;
    g_counting = 1;
}

/* The counting stops; a timed call's deltas go into acc (NULL: a warm-up). */
static void snap_end(const myo_dist_plan *p, const comm_snap *c, comm_acc *acc)
{
    g_counting = 0;
    if (!acc) return;
    myo_dist_stats st;
    memset(&st, 0, sizeof st);
    if (p) myo_dist_plan_stats(p, &st);
    acc->calls++;
    acc->solves += (double)(st.calls - c->st.calls);
    acc->rounds += (double)(st.rounds - c->st.rounds);
    acc->msgs += (double)(st.messages - c->st.messages);
    acc->bytes += (double)(st.bytes - c->st.bytes);
    acc->colls += (double)(g_counts.colls - c->mc.colls);
    acc->p2p += (double)(g_counts.p2p - c->mc.p2p);
    acc->kept = (double)st.kept;
}

/* The row's per-call counters: max over ranks of each. */
static void finish_counts(const comm_acc *acc, row *r)
{
    double k = acc->calls > 0 ? (double)acc->calls : 1.0;
    double v[7] = {acc->rounds / k, acc->msgs / k, acc->bytes / k, acc->kept,
                   acc->colls / k,  acc->p2p / k,  acc->solves / k};
    myo_bench_max_over_ranks(v, 7);
    r->rounds = v[0], r->msgs = v[1], r->bytes = v[2], r->kept = v[3];
    r->colls = v[4], r->p2p = v[5], r->solves = v[6];
}

typedef struct {
    const bench_opts *o;
    const myo_bench_flush *fl;
    myo_bench_budget mem;
    const validation *val;
} sweep;

static void skip_row(row *r, int status, const char *note)
{
    r->status = status;
    snprintf(r->note, sizeof r->note, "%s", note);
}

#define MEM_MARGIN 1.10 /* on the analytic bytes: what the formulas leave out */

/* Collective.  Whether need_per_rank bytes (MEM_MARGIN times the formula,
 * beyond what every rank holds now) exceed the limit on some host; then
 * note (200) says why. */
static int memory_over(const sweep *sw, double need_per_rank, char *note)
{
    double need = myo_bench_budget_need(&sw->mem, MEM_MARGIN * need_per_rank);
    int code = myo_bench_agree(need > sw->mem.bytes); /* MemAvailable may differ between hosts */
    if (!code) return 0;
    if (need > sw->mem.bytes)
        myo_bench_budget_note(&sw->mem, need, note, 200);
    else
        snprintf(note, 200, "memory: predicted over the limit on another host");
    return 1;
}

/* Collective.  memory_over, and then the rows are skipped. */
static int memory_skip(const sweep *sw, double need_per_rank, row *rows, int count)
{
    char note[200];
    if (!memory_over(sw, need_per_rank, note)) return 0;
    for (int i = 0; i < count; i++)
        skip_row(&rows[i], ST_SKIP_MEMORY, note);
    return 1;
}

static int64_t tokens_total(const bench_opts *o)
{
    return o->strong ? o->tokens : o->tokens * myo_bench_size();
}

/* The tree every rank holds (4 int64 arrays; its construction peaks at
 * about twice that) and one rank's share of N nodes (the spanning paths
 * included). */
static double tree_bytes(int64_t N)
{
    return 64.0 * (double)N;
}

static int64_t share_bound(const bench_opts *o, int64_t N)
{
    return N / myo_bench_size() + 64 * (o->arity + 1) + 1;
}

/* A kernel's two rows before they are measured: the sizes predicted from
 * the options.  Returns the bound on the tree's nodes. */
static int64_t rows_init(const bench_opts *o, row rows[2])
{
    const int64_t n_tot = tokens_total(o), size = myo_bench_size();
    const int64_t Nb = myo_bench_tree_nodes_bound(&o->tree, n_tot);
    for (int i = 0; i < 2; i++) {
        memset(&rows[i], 0, sizeof rows[i]);
        rows[i].tokens_total = n_tot;
        rows[i].tokens_rank = (n_tot + size - 1) / size;
        rows[i].nodes_local = share_bound(o, Nb);
    }
    return Nb;
}

/* Times the distributed call (dist) and the local one (local) of a row in
 * turn per repetition, each after evicting the caches and a barrier;
 * fills r->td and the counters (sides & 1), r->tl (sides & 2) (max over
 * ranks per repetition).  The callbacks return a status; the ranks agree
 * on failures after each repetition.  Collective. */
typedef myo_status (*call_fn)(void *ctx, int pass);

static int time_row(const sweep *sw, call_fn dist, call_fn local, void *ctx, int pass,
                    const myo_dist_plan *(*plan_of)(void *ctx), int sides, row *r, const char *what)
{
    const bench_opts *o = sw->o;
    myo_bench_reps t;
    int code = myo_bench_agree(myo_bench_reps_create(2, o->c.reps, o->c.warmup, &t) == 0
                                   ? MYO_EXIT_OK
                                   : MYO_EXIT_INTERNAL);
    if (code != MYO_EXIT_OK) {
        myo_bench_reps_free(&t);
        return code;
    }
    comm_acc acc;
    memset(&acc, 0, sizeof acc);
    myo_status fail = MYO_OK;
    const char *which = "";
    for (int64_t it = 0; it < o->c.warmup + o->c.reps; it++) {
        for (int side = 0; side < 2 && fail == MYO_OK; side++) {
            if (!(sides & (1 << side))) continue;
            myo_bench_sync(sw->fl);
            comm_snap cs;
            const myo_dist_plan *p = side == 0 ? plan_of(ctx) : NULL;
            if (side == 0) snap_begin(p, &cs);
            double t0 = MPI_Wtime();
            myo_status s = side == 0 ? dist(ctx, pass) : local(ctx, pass);
            double dt = MPI_Wtime() - t0;
            if (side == 0) snap_end(p, &cs, it >= o->c.warmup ? &acc : NULL);
            if (s != MYO_OK) fail = s, which = side == 0 ? "distributed" : "local";
            myo_bench_reps_put(&t, side, it, dt);
        }
        if (myo_bench_any_failed(&fail)) break;
    }
    if (fail != MYO_OK) {
        if (fail != MYO_ERR_MPI)
            myo_bench_say(1, "%s, %s: %s call: %s: %s", what, PASS_NAME[pass], which,
                          myo_status_str(fail), myo_error_detail());
        myo_bench_reps_free(&t);
        return MYO_EXIT_INTERNAL;
    }
    myo_bench_reps_max_over_ranks(&t);
    if (sides & 1) {
        myo_bench_reps_stat(&t, 0, r->td);
        finish_counts(&acc, r);
    }
    if (sides & 2) myo_bench_reps_stat(&t, 1, r->tl);
    myo_bench_reps_free(&t);
    return MYO_EXIT_OK;
}

/* ---- the solve */

typedef struct {
    const bench_opts *o;
    myo_dist_plan *plan;
    myo_factor *lf; /* on the plan's local forest; NULL when the range is empty */
    float *wu, *wd, *rhs;
    int64_t m;
} solve_ctx;

static const myo_dist_plan *solve_plan(void *ctx)
{
    return ((solve_ctx *)ctx)->plan;
}

static myo_status solve_dist(void *ctx, int pass)
{
    solve_ctx *c = ctx;
    if (pass == P_FACTOR_SOLVE)
        return myo_dist_refactor_laplacian_f32(MPI_COMM_WORLD, c->plan, c->wu, c->wd, MYO_OP_N,
                                               c->rhs, c->m);
    return myo_dist_solve_f32(MPI_COMM_WORLD, c->plan, MYO_OP_N, c->rhs, c->m);
}

static myo_status solve_local(void *ctx, int pass)
{
    solve_ctx *c = ctx;
    if (!c->lf) return MYO_OK;
    if (pass == P_FACTOR_SOLVE)
        return myo_refactor_laplacian_f32(c->lf, c->wu, c->wd, MYO_OP_N, c->rhs, c->rhs, c->m);
    return myo_solve_f32(c->lf, MYO_OP_N, c->rhs, c->rhs, c->m);
}

/* Bytes a solve point allocates per rank: the tree, the weights and rhs
 * (nl, H), (nl, D), the plan (its local forest, factor and interface) and
 * the local factor: a factor of H heads holds (3 floats + 1 double) per
 * node and head. */
static double solve_bytes(const bench_opts *o, int64_t N, int64_t nl)
{
    const double H = (double)o->c.H, D = (double)o->c.D, n = (double)nl;
    return tree_bytes(N) + n * (8.0 * H + 4.0 * D) + (32.0 * n + 20.0 * n * H + 16.0 * n) +
           20.0 * n * H;
}

static int run_solve(const sweep *sw, row rows[2])
{
    const bench_opts *o = sw->o;
    const int rank = myo_bench_rank();
    const int64_t H = o->c.H, D = o->c.D;
    const int64_t Nb = rows_init(o, rows);
    if (memory_skip(sw, solve_bytes(o, Nb, share_bound(o, Nb)), rows, 2)) return MYO_EXIT_OK;

    solve_ctx c = {.o = o, .m = D / H};
    myo_tree *t = NULL;
    char fallback[200] = "";
    int64_t lo = 0, hi = 0;
    int code =
        tree_and_share(o, tokens_total(o), &t, &lo, &hi, fallback, "solve: tree and partition");
    if (code != MYO_EXIT_OK) return code;
    const int64_t nl = hi - lo;
    myo_status s = myo_dist_plan_create(MPI_COMM_WORLD, t, lo, hi, H, MYO_F32, &c.plan);
    if ((code = agree_status(s, "solve: myo_dist_plan_create")) != MYO_EXIT_OK) {
        myo_tree_destroy(&t);
        return code;
    }
    const myo_tree *lt = myo_dist_plan_local_tree(c.plan);
    c.wu = myo_bench_alloc((size_t)(nl * H), sizeof(float));
    c.wd = myo_bench_alloc((size_t)(nl * H), sizeof(float));
    c.rhs = myo_bench_alloc((size_t)(nl * D), sizeof(float));
    s = c.wu && c.wd && c.rhs ? MYO_OK : MYO_ERR_NOMEM;
    if (s == MYO_OK && nl > 0)
        s = lt ? myo_factor_create_empty(lt, H, MYO_F32, &c.lf) : MYO_ERR_ARG;
    if ((code = agree_status(s, "solve: arrays and the local factor")) == MYO_EXIT_OK) {
        const int64_t *order = myo_tree_preorder(t);
        for (int64_t p = lo; p < hi; p++)
            for (int64_t h = 0; h < H; h++)
                edge_weights(o, order[p], h, &c.wu[(p - lo) * H + h], &c.wd[(p - lo) * H + h]);
        fill_fast(c.rhs, (size_t)(nl * D), SEED + STREAM_RHS + 977 * (uint64_t)rank);
        double v[3] = {(double)nl, (double)nl, 0};
        {
            /* tokens of this rank: nodes below n_tokens */
            const int64_t nt = myo_tree_num_tokens(t);
            int64_t k = 0;
            for (int64_t p = lo; p < hi; p++)
                k += order[p] < nt;
            v[2] = (double)k;
        }
        myo_bench_max_over_ranks(v, 3);
        for (int i = 0; i < 2; i++) {
            rows[i].nodes_local = (int64_t)v[0];
            rows[i].tokens_rank = (int64_t)v[2];
            if (fallback[0]) snprintf(rows[i].note, sizeof rows[i].note, "%s", fallback);
        }
        for (int i = 0; i < 2 && code == MYO_EXIT_OK; i++) {
            const int pass = i == 0 ? P_FACTOR_SOLVE : P_SOLVE;
            code =
                time_row(sw, solve_dist, solve_local, &c, pass, solve_plan, 3, &rows[i], "solve");
            rows[i].err = sw->val->err[pass];
            rows[i].valid = rows[i].err <= VAL_TOL;
        }
    }
    free(c.wu), free(c.wd), free(c.rhs);
    myo_factor_destroy(&c.lf);
    myo_dist_plan_destroy(&c.plan);
    myo_tree_destroy(&t);
    return code;
}

/* ---- the layer */

typedef struct {
    const bench_opts *o;
    myo_layer_dist_work *dw;
    myo_layer_work *lw;
    float *w, *g, *x, *y, *dy, *dx;
} layer_ctx;

static const myo_dist_plan *layer_plan(void *ctx)
{
    layer_ctx *c = ctx;
    return c->dw ? myo_layer_dist_plan(c->dw) : NULL;
}

static myo_status layer_dist(void *ctx, int pass)
{
    layer_ctx *c = ctx;
    myo_qkvo_weights_f32 w = myo_bench_qkvo_f32(c->w, c->o->c.D);
    myo_qkvo_grads_f32 g = myo_bench_qkvo_grads_f32(c->g, c->o->c.D);
    myo_status s = myo_layer_dist_forward_f32(MPI_COMM_WORLD, c->dw, &w, c->x, c->y);
    if (s == MYO_OK && pass == P_FB)
        s = myo_layer_dist_backward_f32(MPI_COMM_WORLD, c->dw, &w, c->dy, c->dx, &g);
    return s;
}

static myo_status layer_local(void *ctx, int pass)
{
    layer_ctx *c = ctx;
    if (!c->lw) return MYO_OK;
    myo_qkvo_weights_f32 w = myo_bench_qkvo_f32(c->w, c->o->c.D);
    myo_qkvo_grads_f32 g = myo_bench_qkvo_grads_f32(c->g, c->o->c.D);
    myo_status s = myo_layer_forward_f32(c->lw, &w, 1, c->x, c->y);
    if (s == MYO_OK && pass == P_FB) s = myo_layer_backward_f32(c->lw, &w, 1, c->dy, c->dx, &g);
    return s;
}

/* Bytes a layer point allocates per rank: the tree; `works` layer
 * workspaces of nl nodes and nt tokens (2: the distributed one and the
 * local baseline's both alive, the repetitions alternating them; 1: one
 * after the other), each about 7 nl D + (nl - nt) D floats, scores and
 * factors 2 nl H floats and (3 floats + 1 double) nl H, plus the
 * distributed table and plan; x, y, dy, dx (nt, D) and the weights and
 * gradients. */
static double layer_bytes(const bench_opts *o, int64_t N, int64_t nl, int64_t nt, int works)
{
    const double H = (double)o->c.H, D = (double)o->c.D, n = (double)nl, k = (double)nt;
    const double work = 4.0 * (7.0 * n * D + (n - k) * D + 2.0 * n * H) + 20.0 * n * H;
    return tree_bytes(N) + 32.0 * n + works * (work + 32.0 * n) + 4.0 * 4.0 * k * D +
           8.0 * 4.0 * D * D;
}

/* The local baseline: the serial layer on a tree of the same kind over
 * this rank's nt tokens (none when nt is 0). */
static myo_status local_layer(const bench_opts *o, const myo_layer_config *cfg, int64_t nt,
                              myo_tree **lt, myo_layer_work **lw)
{
    if (nt <= 0) return MYO_OK;
    myo_status s = myo_bench_tree_create(&o->tree, nt, lt);
    return s == MYO_OK ? myo_layer_work_create(*lt, cfg, 1, lw) : s;
}

static int run_layer(const sweep *sw, row rows[2])
{
    const bench_opts *o = sw->o;
    const int rank = myo_bench_rank();
    const int64_t D = o->c.D;
    const size_t DD = (size_t)(D * D);
    const int64_t Nb = rows_init(o, rows), nlb = share_bound(o, Nb);
    /* both workspaces alive, the repetitions alternating them; when they do
     * not fit, one after the other: all the distributed repetitions, then
     * all the local ones */
    char note[200];
    int sequential = 0;
    if (memory_over(sw, layer_bytes(o, Nb, nlb, rows[0].tokens_rank, 2), note)) {
        if (memory_skip(sw, layer_bytes(o, Nb, nlb, rows[0].tokens_rank, 1), rows, 2))
            return MYO_EXIT_OK;
        sequential = 1;
    }

    myo_layer_config cfg = {.d_model = D, .heads = o->c.H, .direction = o->direction};
    layer_ctx c = {.o = o};
    myo_tree *t = NULL, *lt = NULL;
    char fallback[200] = "";
    int64_t lo = 0, hi = 0;
    int code =
        tree_and_share(o, tokens_total(o), &t, &lo, &hi, fallback, "layer: tree and partition");
    if (code != MYO_EXIT_OK) return code;
    myo_status s = myo_layer_dist_work_create(MPI_COMM_WORLD, t, &cfg, lo, hi, &c.dw);
    if ((code = agree_status(s, "layer: myo_layer_dist_work_create")) != MYO_EXIT_OK) {
        myo_tree_destroy(&t);
        return code;
    }
    const int64_t nt = myo_layer_dist_local_tokens(c.dw);
    const size_t io = (size_t)(nt * D);
    c.w = myo_bench_alloc(4 * DD, sizeof(float)), c.g = myo_bench_alloc(4 * DD, sizeof(float));
    c.x = myo_bench_alloc(io, sizeof(float)), c.y = myo_bench_alloc(io, sizeof(float));
    c.dy = myo_bench_alloc(io, sizeof(float)), c.dx = myo_bench_alloc(io, sizeof(float));
    s = c.w && c.g && c.x && c.y && c.dy && c.dx ? MYO_OK : MYO_ERR_NOMEM;
    if (s == MYO_OK && !sequential) s = local_layer(o, &cfg, nt, &lt, &c.lw);
    if ((code = agree_status(s, "layer: arrays and the local layer")) != MYO_EXIT_OK) goto done;
    fill_weights(o, c.w);
    fill_fast(c.x, io, SEED + STREAM_X + 977 * (uint64_t)rank);
    fill_fast(c.dy, io, SEED + STREAM_DY + 977 * (uint64_t)rank);
    memset(c.y, 0, io * sizeof(float)), memset(c.dx, 0, io * sizeof(float));
    memset(c.g, 0, 4 * DD * sizeof(float));
    double v[2] = {(double)(hi - lo), (double)nt};
    myo_bench_max_over_ranks(v, 2);
    int idx[P_COUNT], i = 0;
    for (int pass = P_FWD; pass <= P_FB; pass++) {
        if (!o->pass[pass]) continue;
        idx[pass] = i;
        rows[i].nodes_local = (int64_t)v[0], rows[i].tokens_rank = (int64_t)v[1];
        rows[i].err = sw->val->err[pass];
        rows[i].valid = rows[i].err <= VAL_TOL;
        snprintf(rows[i].note, sizeof rows[i].note, "%s%s%s",
                 sequential ? "sequential (both workspaces do not fit): all distributed "
                              "reps, then all local reps"
                            : "",
                 sequential && fallback[0] ? "; " : "", fallback);
        i++;
    }
    for (int pass = P_FWD; pass <= P_FB && code == MYO_EXIT_OK; pass++)
        if (o->pass[pass])
            code = time_row(sw, layer_dist, layer_local, &c, pass, layer_plan, sequential ? 1 : 3,
                            &rows[idx[pass]], "layer");
    if (code != MYO_EXIT_OK || !sequential) goto done;
    /* sequential: the distributed workspace and the tree go, the local layer comes */
    myo_layer_dist_work_destroy(&c.dw);
    myo_tree_destroy(&t);
    s = local_layer(o, &cfg, nt, &lt, &c.lw);
    if ((code = agree_status(s, "layer: the local layer")) != MYO_EXIT_OK) goto done;
    for (int pass = P_FWD; pass <= P_FB && code == MYO_EXIT_OK; pass++)
        if (o->pass[pass])
            code = time_row(sw, layer_dist, layer_local, &c, pass, layer_plan, 2, &rows[idx[pass]],
                            "layer");
done:
    myo_layer_work_destroy(&c.lw);
    myo_tree_destroy(&lt);
    myo_layer_dist_work_destroy(&c.dw);
    myo_tree_destroy(&t);
    free(c.w), free(c.g), free(c.x), free(c.y), free(c.dy), free(c.dx);
    return code;
}

/* ------------------------------------------------------------- output */

#define COLS_FMT                                                                                   \
    "%-6s %-7s %4s %11s %10s %10s %5s %3s %-12s %11s %11s %11s %8s %7s %7s %10s %6s %6s %6s %8s "  \
    "%-7s %-11s %s\n"

static void print_columns(void)
{
    myo_bench_row(COLS_FMT, "#kernel", "scaling", "P", "tokens_total", "tok_rank", "nodes_loc", "D",
                  "H", "pass", "t_dist_med", "t_dist_min", "t_local_med", "overhead", "rounds",
                  "msgs", "bytes", "kept", "colls", "p2p", "triad_GBs", "valid", "status", "note");
}

static void print_row(const bench_opts *o, const row *r, const myo_bench_triad_result *tr)
{
    char cols[320], triad[32];
    if (tr->done)
        snprintf(triad, sizeof triad, "%8.2f", tr->aggregate);
    else
        snprintf(triad, sizeof triad, "%8s", "-");
    if (r->status == ST_OK)
        snprintf(cols, sizeof cols,
                 "%11.4e %11.4e %11.4e %8.3f %7.1f %7.1f %10.0f %6.0f %6.1f %6.1f %s %-7s",
                 r->td[1], r->td[0], r->tl[1], r->tl[1] > 0 ? r->td[1] / r->tl[1] : INFINITY,
                 r->rounds, r->msgs, r->bytes, r->kept, r->colls, r->p2p, triad,
                 r->valid ? "VALID" : "INVALID");
    else
        snprintf(cols, sizeof cols, "%11s %11s %11s %8s %7s %7s %10s %6s %6s %6s %s %-7s", "-", "-",
                 "-", "-", "-", "-", "-", "-", "-", "-", triad, "-");
    myo_bench_row("%-6s %-7s %4d %11lld %10lld %10lld %5lld %3lld %-12s %s %-11s %s\n",
                  KERNEL_NAME[r->kernel], o->strong ? "strong" : "weak", myo_bench_size(),
                  (long long)r->tokens_total, (long long)r->tokens_rank, (long long)r->nodes_local,
                  (long long)o->c.D, (long long)o->c.H, PASS_NAME[r->pass], cols,
                  STATUS_NAME[r->status], r->note[0] ? r->note : "-");
}

static const char *direction_name(myo_layer_direction d)
{
    return d == MYO_DIR_UP ? "up" : d == MYO_DIR_DOWN ? "down" : "both";
}

static void print_config(const bench_opts *o, const char *hosts, int n_hosts, const char *blas_note,
                         const myo_bench_flush *fl, const myo_bench_budget *mem)
{
    myo_bench_print_machine(hosts, "cblas_sgemm", "cblas_sgemm");
    const int P = myo_bench_size();
    const char *tree = o->tree.name;
    printf("# P = %d MPI ranks on %d host%s (%d on rank 0's host); OpenBLAS threads per rank: "
           "%d (%s)\n",
           P, n_hosts, n_hosts > 1 ? "s" : "", mem->node_ranks, openblas_get_num_threads(),
           blas_note);
    printf("# float32, kernels %s%s%s, %s scaling: %lld tokens %s -> %lld in all, tree %s, "
           "D = %lld, H = %lld (solve: m = D / H = %lld channels per head), direction %s, "
           "layer passes %s%s%s, reps = %lld timed after warmup = %lld, seed 0x%llx\n",
           o->kernel[K_SOLVE] ? "solve" : "", o->kernel[K_SOLVE] && o->kernel[K_LAYER] ? "," : "",
           o->kernel[K_LAYER] ? "layer" : "", o->strong ? "strong" : "weak", (long long)o->tokens,
           o->strong ? "in all" : "per rank", (long long)tokens_total(o), tree, (long long)o->c.D,
           (long long)o->c.H, (long long)(o->c.D / o->c.H), direction_name(o->direction),
           o->pass[P_FWD] ? "fwd" : "", o->pass[P_FWD] && o->pass[P_FB] ? "," : "",
           o->pass[P_FB] ? "fwd+bwd" : "", (long long)o->c.reps, (long long)o->c.warmup,
           (unsigned long long)SEED);
    printf("# partition: %s; every rank holds the whole tree (int64 arrays of all N nodes)\n",
           o->chain ? "myo_dist_even_ranges (equal node counts)"
                    : "myo_dist_leaf_ranges (equal leaf counts, whole subtrees)");
    printf("# kernels: solve factor+solve = myo_dist_refactor_laplacian_f32 (op N) vs the serial "
           "myo_refactor_laplacian_f32 on the plan's local forest (myo_dist_plan_local_tree, a "
           "factor of\n#   myo_factor_create_empty, H heads) with the same local arrays; solve "
           "= myo_dist_solve_f32 vs myo_solve_f32 on that factor; rhs (nodes_loc, D) in place, "
           "weights (nodes_loc, H)\n#   uniform in [0, 2); layer = myo_layer_dist_forward_f32 "
           "[+ _backward_f32] (myo_layer_dist_work) vs the serial myo_layer_forward_f32 [+ "
           "_backward_f32] on a %s tree\n#   over the rank's own tokens (batch 1); x, dy uniform "
           "in [-1, 1), Wq, Wk, Wv, Wo uniform in +-1/sqrt(D).\n",
           tree);
    printf("# timing: each repetition times the distributed call, then the local call, each "
           "after %s and MPI_Barrier, with MPI_Wtime on every rank; max over ranks per "
           "repetition;\n#   t_dist_med, t_dist_min = median and min of the distributed call "
           "(s), t_local_med = median of the local call, all P ranks running it at once "
           "(a rank without nodes: 0);\n#   overhead = t_dist_med / t_local_med.\n",
           fl->buf ? "evicting the caches (reading a buffer)" : "no cache eviction (--no-flush)");
    myo_bench_print_flush_buffer(fl, " per rank");
    printf("# messages, per timed distributed call, max over ranks: rounds, msgs, bytes = the "
           "plan's counters (myo_dist_plan_stats deltas: point-to-point rounds, messages and "
           "bytes this rank sent;\n#   the layer: of all its solves), kept = interface nodes "
           "this rank sent in the last call; colls = collective MPI calls and p2p = "
           "point-to-point sends this process made\n#   during the call (PMPI wrappers: "
           "Allreduce, Reduce, Bcast, Allgather(v), Gather(v), Scatter(v), Exscan, Scan, "
           "Barrier, Alltoall(v), Reduce_scatter_block, Comm_split,\n#   Comm_dup; Send, Isend, "
           "Ssend, Issend, Sendrecv).  Rounds per solve: 2 ceil(log2 P) = %d (binomial-tree gather "
           "and scatter).\n",
           P > 1 ? 2 * (int)ceil(log2((double)P)) : 0);
    printf("# memory: a point is skipped (SKIP:memory row, never run) when its predicted bytes "
           "per rank (the analytic count + %.0f%%) plus the resident set now, times the ranks on "
           "the host, exceed %.2f GiB (%s);\n#   the solve holds the tree (64 N bytes while it "
           "is built), rhs and weights, the plan and the local factor; the layer the tree, x, y, "
           "dy, dx and the distributed and the\n#   local workspaces (~8 nodes_loc D floats "
           "each), both alive with the repetitions alternating them, or, when both do not fit, "
           "one after the other (all distributed\n#   repetitions, then all local ones: the "
           "row's note says so).\n",
           100.0 * (MEM_MARGIN - 1.0), mem->bytes / 1073741824.0, myo_bench_budget_source(mem));
    fflush(stdout);
}

static void print_validation(const bench_opts *o, const validation *v)
{
    char k[64] = "";
    if (v->kernel_bits & 1) strcat(k, "chain ");
    if (v->kernel_bits & 2) strcat(k, "tree ");
    if (v->kernel_bits & 4) strcat(k, "other ");
    if (!k[0]) strcpy(k, "- ");
    k[strlen(k) - 1] = '\0';
    printf("# validation, before timing, on %lld tokens (%lld nodes) over the same %d ranks, "
           "float32: err = max |y_dist - y_serial| / max |y_serial| over all nodes (solve), "
           "normwise relative (layer: y;\n#   fwd+bwd also dx and each weight gradient), against "
           "the serial kernel on the whole tree; VALID when err <= %.0e.\n",
           (long long)o->val_tokens, (long long)v->nodes_val, myo_bench_size(), VAL_TOL);
    printf("#   err:");
    int any = 0;
    for (int p = 0; p < P_COUNT; p++) {
        if (isnan(v->err[p])) continue;
        printf("%s %s/%s %.3e", any ? "," : "", p <= P_SOLVE ? "solve" : "layer", PASS_NAME[p],
               v->err[p]);
        any = 1;
    }
    if (!any) printf(" (none)");
    printf("\n");
    if (o->kernel[K_SOLVE]) printf("#   local factor kernel (myo_solve_kernel_name): %s\n", k);
    if (v->partition[0]) printf("#   partition: %s\n", v->partition);
    fflush(stdout);
}

static void print_triad(const bench_opts *o, const myo_bench_triad_result *tr)
{
    if (!tr->done) {
        printf("# triad: not measured (%s)\n", tr->note);
    } else {
        printf("# triad: a[i] = b[i] + 3 c[i] over 3 x %lld MiB of doubles per rank (%.0f bytes "
               "per repetition counted, no write-allocate), all %d ranks at once after a "
               "barrier, %lld reps after 1 warm-up:\n#   aggregate %.2f GB/s (median over reps "
               "of P bytes / max time); per rank %.2f / %.2f / %.2f GB/s (min / median / max over "
               "ranks of each rank's median)\n",
               (long long)o->triad_mib, tr->bytes_rank, myo_bench_size(), (long long)o->triad_reps,
               tr->aggregate, tr->rank_gbs[0], tr->rank_gbs[1], tr->rank_gbs[2]);
    }
    printf("# status: OK, or SKIP:memory with the reason in 'note'; valid: VALID/INVALID from the "
           "validation above (the row's kernel and pass)\n");
    fflush(stdout);
}

static void print_summary(const row *rows, int count)
{
    if (myo_bench_rank() != 0) return;
    const int P = myo_bench_size();
    printf("# summary for P = %d (scaling compares runs of several P: README.md, "
           "myo-bench-dist):\n",
           P);
    for (int i = 0; i < count; i++) {
        const row *r = &rows[i];
        if (r->status != ST_OK) {
            printf("#   %s %s: not measured (%s)\n", KERNEL_NAME[r->kernel], PASS_NAME[r->pass],
                   STATUS_NAME[r->status]);
            continue;
        }
        double ov = r->tl[1] > 0 ? r->td[1] / r->tl[1] : INFINITY;
        double per_solve = r->solves > 0 ? r->rounds / r->solves : 0.0;
        printf("#   %s %s: overhead %.3f; %.1f solve%s per call, %.1f rounds per solve\n",
               KERNEL_NAME[r->kernel], PASS_NAME[r->pass], ov, r->solves,
               r->solves == 1.0 ? "" : "s", per_solve);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------ main */

static int bench_main(int argc, char **argv)
{
    bench_opts o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0) return code;
    const double t_start = MPI_Wtime();

    /* one BLAS thread per rank: P ranks on P cores */
    char blas_note[160];
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (myo_bench_blas_single_thread())
        snprintf(blas_note, sizeof blas_note, "OPENBLAS_NUM_THREADS was unset: set to 1");
    else
        snprintf(blas_note, sizeof blas_note, "OPENBLAS_NUM_THREADS=%s", env);
    if (openblas_get_num_threads() != 1) {
        openblas_set_num_threads(1);
        snprintf(blas_note, sizeof blas_note,
                 "OPENBLAS_NUM_THREADS=%s overridden by openblas_set_num_threads(1)",
                 env ? env : "(unset)");
    }

    char hosts[512] = "";
    myo_bench_hosts(hosts, sizeof hosts);
    const int n_hosts = myo_bench_host_count();
    sweep sw = {.o = &o};
    myo_bench_budget_init(o.c.max_memory, &sw.mem);

    myo_bench_flush fl;
    if ((code = myo_bench_flush_create(o.c.flush, &fl)) != MYO_EXIT_OK) return code;
    sw.fl = &fl;
    if (myo_bench_rank() == 0) print_config(&o, hosts, n_hosts, blas_note, &fl, &sw.mem);

    validation val;
    memset(&val, 0, sizeof val);
    for (int p = 0; p < P_COUNT; p++)
        val.err[p] = NAN;
    val.n_val = o.val_tokens;
    if (o.kernel[K_SOLVE]) code = validate_solve(&o, &val);
    if (code == MYO_EXIT_OK && o.kernel[K_LAYER]) code = validate_layer(&o, &val);
    if (code != MYO_EXIT_OK) {
        myo_bench_flush_free(&fl);
        return code;
    }
    sw.val = &val;
    if (myo_bench_rank() == 0) print_validation(&o, &val);

    myo_bench_triad_result tr;
    if ((code = myo_bench_triad(o.triad_mib, o.triad_reps, &sw.mem, &tr)) != MYO_EXIT_OK) {
        myo_bench_flush_free(&fl);
        return code;
    }
    if (myo_bench_rank() == 0) {
        print_triad(&o, &tr);
        print_columns();
    }

    /* the rows: solve factor+solve, solve; layer fwd, fwd+bwd (those asked for) */
    row rows[4];
    int count = 0, invalid = 0;
    for (int k = 0; k < K_COUNT && code == MYO_EXIT_OK; k++) {
        if (!o.kernel[k]) continue;
        const int first = k == K_SOLVE ? P_FACTOR_SOLVE : P_FWD;
        code = k == K_SOLVE ? run_solve(&sw, &rows[count]) : run_layer(&sw, &rows[count]);
        for (int p = first; p <= first + 1 && code == MYO_EXIT_OK; p++) {
            if (!o.pass[p]) continue;
            rows[count].kernel = k, rows[count].pass = p;
            print_row(&o, &rows[count], &tr);
            invalid |= rows[count].status == ST_OK && !rows[count].valid;
            count++;
        }
    }
    if (code == MYO_EXIT_OK) {
        print_summary(rows, count);
        myo_bench_print_totals(t_start);
        if (invalid) myo_bench_say(0, "a distributed result differs from the serial one (INVALID)");
        code = invalid ? MYO_EXIT_CHECK : MYO_EXIT_OK;
    }
    myo_bench_flush_free(&fl);
    return code;
}

int main(int argc, char **argv)
{
    return myo_bench_main(argc, argv, TOOL, bench_main);
}
