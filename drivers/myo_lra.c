/* myo_lra.c -- myo-lra, Long Range Arena-style workloads.
 *
 * Times training steps (forward, backward, the data-parallel gradient
 * all-reduce, an AdamW update) and inference steps (forward alone) of the
 * LRA encoder classifier (myosotis_model.h) with the LRA tasks' published
 * configurations, for each token mixer at the same width -- Myosotis on the
 * task's tree, exact softmax attention (tiled, and materialized as the LRA
 * Transformer) and a Mamba-style SSM -- and reproduces the LRA paper's
 * efficiency table (training steps per second and peak memory relative to
 * the dense Transformer at 1K..4K), then extends it to lengths the dense
 * model cannot reach.
 *
 * Data: by default every batch comes from a deterministic synthetic stream
 * with the task's shape (token ids uniform over the vocabulary, labels
 * uniform over the classes); every row and the '#' header say data =
 * "synthetic".  With --data FILE (a myo-data dataset file,
 * datasets/dataset_file.h) the task, n, V and C come from the file and the
 * batches are its examples in order, wrapping around (the examples the run
 * uses are read and validated before the results file is opened); the
 * data column names the file and its source (generated, loaded).  On
 * ListOps files with parse trees, Myosotis (--tree auto) runs every
 * example on its own parse tree (myo_model_set_trees; tree "parse").
 * Nothing here measures accuracy.
 *
 * Per point (task, mixer, n, batch): skip what is predicted to exceed the
 * memory or time budget (a SKIP row with the reason) before allocating
 * anything for it; create the model; validate (one example at
 * initialisation: the loss finite and within the model's logit spread
 * bound of ln C; the gradients finite, not all zero, and consistent with
 * the loss by a central difference); warm up; time; append the row to the
 * HDF5 file (rank 0, flushed) and print it on stdout.
 * Under MPI with P ranks the run is data parallel: each rank takes its
 * share of the batch and the gradients are summed with MPI_Allreduce
 * before the update (timed inside the step, and reported on its own).
 * The ranks agree on the command line's verdict, and on what they read of
 * a --data file, before any other collective (one line from the rank
 * that knows). */
#include <config.h>

#include "bench.h"
#include "cli.h"
#include "dataset_file.h"
#include "lra_task.h"
#include "run_meta.h"
#include "sweep.h"
#include "myosotis.h"
#include "myosotis_h5log.h"
#include "myosotis_model.h"

#include <mpi.h>

#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TOOL = "myo-lra";
#define SCHEMA "myo-lra/2"
#define DEFAULT_OUTPUT "myo-lra.h5"
#define DEFAULT_SEED 0x6c7261ULL /* "lra" */
#define MAX_LENGTHS 32
#define EFF_DENSE_MAX 4096 /* the LRA efficiency table's largest length (4K) */
/* Validation (one example at initialisation): the loss within the
 * model's own bound of ln C (myo_model_logit_spread_bound: no correct
 * forward can stray further, whatever D and the data), and the gradients
 * finite, not all zero, and what the loss does along them
 * (myo_model_gradient_check: 1 within 1e-3 in practice) within
 * VAL_GRAD_TOL of 1 at one of the predicted loss changes VAL_GRAD_DELTA
 * (times max(1, loss)), tried in turn */
#define VAL_GRAD_TOL 0.1
#define VAL_GRAD_STEPS 3
static const double VAL_GRAD_DELTA[VAL_GRAD_STEPS] = {1e-3, 1e-4, 1e-5};

/* ------------------------------------------------------------ presets */

/* The tasks' presets: lra_task.h. */

enum { M_MYOSOTIS, M_DENSE_TILED, M_DENSE_MAT, M_SSM, M_COUNT };
static const char *MIXER_NAME[M_COUNT + 1] = {"myosotis", "dense-tiled", "dense-materialized",
                                              "ssm", NULL};
static const myo_mixer_kind MIXER_KIND[M_COUNT] = {MYO_MIXER_MYOSOTIS, MYO_MIXER_DENSE_TILED,
                                                   MYO_MIXER_DENSE_MATERIALIZED, MYO_MIXER_SSM};
static const int MIXER_POWER[M_COUNT] = {1, 2, 2, 1}; /* time ~ n^p, for the time budget */

enum { ST_OK, ST_SKIP_MEMORY, ST_SKIP_TIME, ST_INTERRUPTED };
static const char *const STATUS_NAME[] = {"OK", "SKIP:memory", "SKIP:time", "INTERRUPTED"};

/* ------------------------------------------------------------ options */

typedef struct {
    int task;
    int mixer[M_COUNT], n_mixers;
    int64_t lengths[MAX_LENGTHS];
    int n_lengths, lengths_given;
    int efficiency;
    int64_t batch; /* examples per step over all ranks */
    int64_t steps, warmup, infer_steps;
    int64_t D, H, F, L;
    int tree_auto;
    opt_tree tree;
    const char *output;
    int resume;
    double max_memory; /* bytes per host; <= 0: MemAvailable at start */
    double time_budget;
    int progress;
    uint64_t seed;
    myo_adam_config adam;
    /* --data: the file's header (arrays NULL), the task it defines (the
     * preset's model with the file's n, V, C), what the rows say of it */
    const char *data;
    myo_dataset info;
    int has_parents;
    int parse_trees; /* Myosotis on the per-example parse trees */
    lra_task data_task;
    char data_label[96];     /* "FILE (generated)": the data column */
    char data_order[16];     /* images: the file's pixel ordering */
    char data_tree_why[160]; /* Myosotis' tree, said of the file */
} lra_opts;

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: %s --task TASK [OPTION]...\n"
        "       %s --data FILE.h5 [--task TASK] [OPTION]...\n"
        "Time training steps (forward, backward, gradient all-reduce, AdamW) and inference\n"
        "steps of the LRA encoder classifier with the task's published configuration, for\n"
        "the Myosotis mixer, exact softmax attention (tiled, and materialized as the LRA\n"
        "Transformer) and a Mamba-style SSM at the same width; append one row per point\n"
        "to an HDF5 file and print it.  Data: a deterministic SYNTHETIC stream with the\n"
        "task's shape, or a myo-data dataset file (--data); no accuracy is measured.\n"
        "Under mpiexec the batch is split over the ranks (data parallel).\n"
        "\n"
        "  --task TASK          listops, text, retrieval, image, pathfinder, pathx or\n"
        "                       fashion-mnist\n"
        "  --data FILE          a myo-data dataset file (HDF5, myo-data/1): the task, n, V\n"
        "                       and C come from it (--task, when given, must match; the\n"
        "                       preset's model applies), batches are its examples in order,\n"
        "                       wrapping around; ListOps files with parse trees run Myosotis\n"
        "                       on each example's own tree (--tree auto: tree 'parse')\n"
        "  --method LIST        comma list of myosotis, dense-tiled, dense-materialized, ssm\n"
        "                       (default: all four; --mixer is the older name)\n"
        "  --n LIST             sequence lengths: comma list of values and lo:hi[:xF]\n"
        "                       ranges (K = 1024, 2^k; --lengths is the older name; default: the\n"
        "                       task's own length; with --efficiency-table 1K,2K,3K,4K,8K,\n"
        "                       16K,32K,64K)\n"
        "  --efficiency-table   the LRA paper's efficiency table: the task's full batch,\n"
        "                       the lengths above; dense-materialized only up to 4K\n"
        "  --batch B            examples per training step over all ranks (default: the\n"
        "                       task's with --efficiency-table, else max(2, ranks))\n"
        "  --steps S            timed training steps (default 3; 5 with --efficiency-table)\n"
        "  --warmup W           untimed training steps before them (default 1)\n"
        "  --infer-steps I      timed inference steps (default 3; 5 with --efficiency-table)\n"
        "  --d-model D, --heads H, --layers L, --mlp-dim F\n"
        "                       override the task's model (H must divide D)\n"
        "  --tree T             Myosotis' tree: auto (kary2 for listops, text, retrieval;\n"
        "                       kary4 with Morton order for image, pathfinder, pathx; with\n"
        "                       --data: parse for ListOps files with parse trees, and the\n"
        "                       file's pixel order), parse, chain, kary<k> or heap<k>\n"
        "  --output FILE        HDF5 results file, created or appended to (default %s)\n"
        "  --resume             skip the points FILE already holds (status OK or SKIP)\n"
        "  --max-memory BYTES   memory this host may use (K, M, G; default: MemAvailable at\n"
        "                       start); points predicted to exceed it are recorded SKIP:memory\n"
        "  --time-budget S      seconds a point may take (default 900), predicted from the\n"
        "                       mixer's previous length; larger points are recorded SKIP:time\n"
        "  --progress WHEN      progress lines on stderr: auto (when stderr is a terminal\n"
        "                       outside mpiexec and Slurm; the default), lines, none\n"
        "  --seed S             seed of the parameters and the synthetic data (default %llu)\n"
        "  --help, --version\n"
        "\n"
        "Exit status: 0 when every measured point is VALID, 2 for a bad command line or\n"
        "model, 3 when FILE has an incompatible schema or the --data file is invalid (not\n"
        "myo-data/1, bad shapes or values, ids out of its vocabulary, a vocabulary or\n"
        "class count the model cannot take) or differs between ranks, 5 when FILE or the\n"
        "--data file cannot be read or written or is not HDF5, on any rank (an existing\n"
        "FILE is never modified then: every check precedes opening it), 6 when out of\n"
        "memory or on an internal failure, 7 when a point fails validation (its loss\n"
        "beyond the model's logit spread bound of ln C, or its gradients not finite, all\n"
        "zero or inconsistent with the loss), 128 + the signal after SIGTERM, SIGINT or\n"
        "SIGUSR1 (the file holds every finished point and the interrupted one as\n"
        "INTERRUPTED; --resume reruns it).  Under mpiexec the ranks agree first: one\n"
        "line, from the rank that knows, and the same exit status on every rank.\n",
        TOOL, TOOL, DEFAULT_OUTPUT, (unsigned long long)DEFAULT_SEED);
}

static const char *const PROGRESS_WORDS[] = {"auto", "lines", "none", NULL};

/* --data: read the file's header (shapes checked, values not yet: the
 * examples the run uses are read and validated by load_data).  Local:
 * each rank reads its own view of the file (a node-local path may name
 * another file, or none, on another host).  -1 to go on, otherwise the
 * exit code after a one-line message. */
static int data_read_header(lra_opts *o)
{
    myo_status s = myo_dataset_read_info(o->data, &o->info, &o->has_parents);
    if (s == MYO_OK) return -1;
    myo_bench_say(1, "--data: %s", myo_data_error());
    return myo_cli_exit_code(s);
}

/* --data: the task the file's header defines (the preset's model with
 * the file's n, V, C), and what the rows say of it.  Local (every rank
 * sees the same header: data_agree_view).  -1 to go on, otherwise the
 * exit code after a one-line message. */
static int data_options(lra_opts *o)
{
    const myo_dataset *d = &o->info;
    const int task = lra_task_find(d->task);
    if (task < 0) {
        myo_bench_say(0,
                      "--data %s: task '%s' is none of myo-lra's (listops, text, retrieval, "
                      "image, pathfinder, pathx, fashion-mnist)",
                      o->data, d->task);
        return MYO_EXIT_DATA;
    }
    if (o->task >= 0 && o->task != task) {
        myo_bench_say(0, "--task %s, but --data %s holds task %s", LRA_TASK_NAMES[o->task], o->data,
                      d->task);
        return MYO_EXIT_USAGE;
    }
    o->task = task;
    lra_task *t = &o->data_task;
    *t = LRA_TASKS[task];
    if (d->docs != (t->dual ? 2 : 1) || d->count < 1) {
        myo_bench_say(0,
                      "--data %s: %lld examples of %lld documents: myo-lra's %s needs at least "
                      "one example of %d document%s",
                      o->data, (long long)d->count, (long long)d->docs, t->name, t->dual ? 2 : 1,
                      t->dual ? "s" : "");
        return MYO_EXIT_DATA;
    }
    /* n, V and C come from the file: one the model cannot take makes the
     * file invalid data for myo-lra (exit 3), unlike a size typed on the
     * command line (exit 2).  The model's own limits, the rest of it at
     * its smallest. */
    const myo_model_config file_part = {.vocab = d->vocab,
                                        .n = d->n,
                                        .d_model = 1,
                                        .heads = 1,
                                        .mlp_dim = 1,
                                        .layers = 1,
                                        .classes = d->classes,
                                        .dual = t->dual,
                                        .mixer = MYO_MIXER_SSM};
    if (myo_model_config_check(&file_part) != MYO_OK) {
        myo_bench_say(0, "--data %s: the LRA model cannot take this file: %s", o->data,
                      myo_error_detail());
        return MYO_EXIT_DATA;
    }
    if (o->efficiency || (o->lengths_given && (o->n_lengths != 1 || o->lengths[0] != d->n))) {
        myo_bench_say(0,
                      "--data %s fixes n = %lld: --lengths must be %lld or absent, and "
                      "--efficiency-table (lengths of its own) does not apply",
                      o->data, (long long)d->n, (long long)d->n);
        return MYO_EXIT_USAGE;
    }
    t->n = d->n, t->vocab = d->vocab, t->classes = d->classes;
    const char *base = strrchr(o->data, '/');
    base = base ? base + 1 : o->data;
    snprintf(o->data_label, sizeof o->data_label, "%s (%s)", base, d->source);
    const char *ord = myo_dataset_get_attr(d, "ordering");
    snprintf(o->data_order, sizeof o->data_order, "%s", t->image ? (ord ? ord : "raster") : "-");
    /* Myosotis' tree, said of the file */
    if (o->parse_trees && !o->has_parents) {
        myo_bench_say(0, "--tree parse: --data %s has no parse trees", o->data);
        return MYO_EXIT_USAGE;
    }
    if (o->tree_auto && o->has_parents) o->parse_trees = 1;
    if (o->parse_trees)
        snprintf(o->data_tree_why, sizeof o->data_tree_why,
                 "each example's own parse tree from the file (one forest over the batch)");
    else if (t->image)
        snprintf(o->data_tree_why, sizeof o->data_tree_why,
                 "quad-tree over the pixels in the file's %s order%s", o->data_order,
                 strcmp(o->data_order, "raster") == 0 ? " (kary4 is no quad-tree then)" : "");
    else
        snprintf(o->data_tree_why, sizeof o->data_tree_why, "%s%s", t->tree_why,
                 task == T_LISTOPS ? "; the file has no parse trees" : "");
    t->tree_why = o->data_tree_why;
    o->lengths[0] = d->n, o->n_lengths = 1, o->lengths_given = 1;
    return -1;
}

/* What the command line and the --data header leave open: the task's
 * model, lengths, batch and steps.  Local.  -1 to go on, otherwise the
 * exit code after a one-line message. */
static int resolve_options(lra_opts *o)
{
    int code;
    if (o->data && (code = data_options(o)) >= 0) return code;
    if (o->task < 0) {
        myo_bench_say(0, "--task is required (listops, text, retrieval, image, pathfinder, "
                         "pathx, fashion-mnist; see --help), or --data");
        return MYO_EXIT_USAGE;
    }
    const lra_task *t = o->data ? &o->data_task : &LRA_TASKS[o->task];
    if (!o->D) o->D = t->d_model;
    if (!o->H) o->H = t->heads;
    if (!o->F) o->F = t->mlp_dim;
    if (!o->L) o->L = t->layers;
    if (myo_bench_heads_check(o->D, o->H) != MYO_EXIT_OK) return MYO_EXIT_USAGE;
    if (o->tree_auto || o->parse_trees) opt_parse_tree(t->tree, NULL, &o->tree);
    if (!o->lengths_given) {
        if (o->efficiency) {
            static const int64_t eff[] = {1024, 2048, 3072, 4096, 8192, 16384, 32768, 65536};
            o->n_lengths = (int)(sizeof eff / sizeof *eff);
            memcpy(o->lengths, eff, sizeof eff);
        } else {
            o->n_lengths = 1;
            o->lengths[0] = t->n;
        }
    }
    const int64_t P = myo_bench_size();
    if (!o->batch) o->batch = o->efficiency ? t->batch : (P > 2 ? P : 2);
    if (o->batch < P) {
        myo_bench_say(0,
                      "--batch %lld is smaller than the %lld ranks (data parallel: every rank "
                      "needs at least one example)",
                      (long long)o->batch, (long long)P);
        return MYO_EXIT_USAGE;
    }
    if (o->steps < 0) o->steps = o->efficiency ? 5 : 3;
    if (o->infer_steps < 0) o->infer_steps = o->efficiency ? 5 : 3;
    o->progress = myo_sweep_progress_enabled(o->progress);
    return -1;
}

/* Collective: every rank reaches the same verdict, told in one line by the
 * rank that knows (the worst exit code over the ranks: a --data file one
 * rank cannot read stops them all), before any other collective.
 * Returns -1 to go on, otherwise the exit code (0 after --help/--version). */
static int parse_options(int argc, char **argv, lra_opts *o)
{
    memset(o, 0, sizeof *o);
    o->task = -1;
    for (int m = 0; m < M_COUNT; m++)
        o->mixer[m] = m;
    o->n_mixers = M_COUNT;
    o->steps = o->infer_steps = -1;
    o->tree_auto = 1;
    o->output = DEFAULT_OUTPUT;
    o->time_budget = 900.0;
    o->progress = MYO_SWEEP_PROGRESS_AUTO;
    o->seed = DEFAULT_SEED;
    /* AdamW as LRA's configs (beta2 0.98, eps 1e-9); lr and decay only
     * keep the loss finite over a few steps: the run times, it does not train */
    o->adam = (myo_adam_config){
        .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-9, .weight_decay = 0.01};
    myo_bench_common_opts common;
    myo_bench_common_defaults(&common); /* --warmup 1 */
    common.D = common.H = 0;            /* the task's unless given */
    for (int m = 0; m < M_COUNT; m++)   /* the library's names of the mixers */
        MIXER_NAME[m] = myo_mixer_name(MIXER_KIND[m]);
    opt_tree tree;
    int n_tree = 0;
    const opt_spec own[] = {
        {.name = "task", .kind = OPT_WORD, .value = &o->task, .words = LRA_TASK_NAMES},
        {.name = "method",
         .alias = "mixer",
         .kind = OPT_WORDS,
         .value = o->mixer,
         .count = &o->n_mixers,
         .max = M_COUNT,
         .words = MIXER_NAME},
        {.name = "n",
         .alias = "lengths",
         .kind = OPT_LENGTHS,
         .value = o->lengths,
         .count = &o->n_lengths,
         .max = MAX_LENGTHS,
         .lo = 2,
         .hi = INT64_C(1) << 30,
         .given = &o->lengths_given},
        {.name = "efficiency-table", .kind = OPT_FLAG, .value = &o->efficiency},
        {.name = "batch", .kind = OPT_INT, .value = &o->batch, .lo = 1, .hi = 1 << 20},
        {.name = "steps", .kind = OPT_INT, .value = &o->steps, .lo = 1, .hi = 1000000},
        {.name = "infer-steps", .kind = OPT_INT, .value = &o->infer_steps, .lo = 1, .hi = 1000000},
        {.name = "layers", .kind = OPT_INT, .value = &o->L, .lo = 1, .hi = 1024},
        {.name = "mlp-dim", .kind = OPT_INT, .value = &o->F, .lo = 1, .hi = 1 << 20},
        {.name = "tree",
         .kind = OPT_TREES,
         .value = &tree,
         .count = &n_tree,
         .max = 1,
         .words = LRA_TREE_WORDS},
        {.name = "output", .kind = OPT_TEXT, .value = &o->output},
        {.name = "resume", .kind = OPT_FLAG, .value = &o->resume},
        {.name = "time-budget", .kind = OPT_SECONDS, .value = &o->time_budget},
        {.name = "progress", .kind = OPT_WORD, .value = &o->progress, .words = PROGRESS_WORDS},
        {.name = "seed", .kind = OPT_INT, .value = &o->seed, .lo = 0, .hi = INT64_MAX},
        {.name = "data", .kind = OPT_TEXT, .value = &o->data},
    };
    myo_bench_say_hold();
    int code = myo_bench_parse_options(
        argc, argv, own, (int)(sizeof own / sizeof own[0]),
        MYO_BENCH_OPT_WARMUP | MYO_BENCH_OPT_MODEL | MYO_BENCH_OPT_MAXMEM, &common, usage);
    if (code < 0 && n_tree) code = lra_tree_option(&tree, &o->tree_auto, &o->parse_trees, &o->tree);
    o->warmup = common.warmup;
    o->max_memory = common.max_memory;
    o->D = common.D, o->H = common.H;
    if (code < 0 && o->parse_trees && !o->data) {
        myo_bench_say(0, "--tree parse needs --data (a ListOps file with parse trees)");
        code = MYO_EXIT_USAGE;
    }
    if (code < 0 && o->data) code = data_read_header(o);
    /* a file one rank cannot read, and then one header against another */
    if ((code = myo_bench_agree_said(code)) >= 0) return code;
    if (o->data && (code = lra_data_agree_view(o->data, &o->info, o->has_parents)) >= 0)
        return code;
    myo_bench_say_hold();
    return myo_bench_agree_said(resolve_options(o));
}

/* ------------------------------------------------------------ points */

/* One (mixer, n) of the sweep, in the order run: by n, then mixer. */
typedef struct {
    int mixer;
    int64_t n;
} point_id;

/* Rows of the HDF5 tables (schema "myo-lra/2": /1 with data 16 bytes wide,
 * which only said "synthetic"); strings NUL-padded. */
typedef struct {
    int64_t run_id, point;
    char point_key[192], task[16], data[96], mixer[24], tree[16], order[16];
    int64_t n, vocab, classes, documents, layers, d_model, heads, mlp_dim, batch, ranks, params;
    int64_t steps, warmup, infer_steps, seed;
    double train_step_med, train_step_min, train_step_max, infer_step_med, allreduce_med;
    double examples_per_s, tokens_per_s, steps_per_s, infer_examples_per_s, mixer_share;
    double peak_rss_mib, model_mib, predicted_mib, loss_valid, loss_first, loss_last;
    char valid[8], status[16], note[200];
} point_row;

typedef struct {
    int64_t run_id, point;
    char kind[16]; /* train, infer, allreduce */
    int64_t rep;
    double seconds;
} rep_row;

typedef struct {
    int64_t run_id, point;
    char task[16], mixer[24];
    int64_t n, batch;
    double steps_per_s, speed_rel, peak_rss_mib, memory_rel, model_mib, model_memory_rel;
    char note[120];
} eff_row;

#define COL_I(S, f)                                                                                \
    {                                                                                              \
#f, MYO_H5COL_INT64, offsetof(S, f), 0                                                     \
    }
#define COL_D(S, f)                                                                                \
    {                                                                                              \
#f, MYO_H5COL_DOUBLE, offsetof(S, f), 0                                                    \
    }
#define COL_S(S, f)                                                                                \
    {                                                                                              \
#f, MYO_H5COL_STRING, offsetof(S, f), sizeof(((S *)0)->f)                                  \
    }

static const myo_h5col POINT_COLS[] = {
    COL_I(point_row, run_id),
    COL_I(point_row, point),
    COL_S(point_row, point_key),
    COL_S(point_row, task),
    COL_S(point_row, data),
    COL_S(point_row, mixer),
    COL_S(point_row, tree),
    COL_S(point_row, order),
    COL_I(point_row, n),
    COL_I(point_row, vocab),
    COL_I(point_row, classes),
    COL_I(point_row, documents),
    COL_I(point_row, layers),
    COL_I(point_row, d_model),
    COL_I(point_row, heads),
    COL_I(point_row, mlp_dim),
    COL_I(point_row, batch),
    COL_I(point_row, ranks),
    COL_I(point_row, params),
    COL_I(point_row, steps),
    COL_I(point_row, warmup),
    COL_I(point_row, infer_steps),
    COL_I(point_row, seed),
    COL_D(point_row, train_step_med),
    COL_D(point_row, train_step_min),
    COL_D(point_row, train_step_max),
    COL_D(point_row, infer_step_med),
    COL_D(point_row, allreduce_med),
    COL_D(point_row, examples_per_s),
    COL_D(point_row, tokens_per_s),
    COL_D(point_row, steps_per_s),
    COL_D(point_row, infer_examples_per_s),
    COL_D(point_row, mixer_share),
    COL_D(point_row, peak_rss_mib),
    COL_D(point_row, model_mib),
    COL_D(point_row, predicted_mib),
    COL_D(point_row, loss_valid),
    COL_D(point_row, loss_first),
    COL_D(point_row, loss_last),
    COL_S(point_row, valid),
    COL_S(point_row, status),
    COL_S(point_row, note),
};
static const myo_h5col REP_COLS[] = {
    COL_I(rep_row, run_id), COL_I(rep_row, point),   COL_S(rep_row, kind),
    COL_I(rep_row, rep),    COL_D(rep_row, seconds),
};
static const myo_h5col EFF_COLS[] = {
    COL_I(eff_row, run_id),      COL_I(eff_row, point),     COL_S(eff_row, task),
    COL_S(eff_row, mixer),       COL_I(eff_row, n),         COL_I(eff_row, batch),
    COL_D(eff_row, steps_per_s), COL_D(eff_row, speed_rel), COL_D(eff_row, peak_rss_mib),
    COL_D(eff_row, memory_rel),  COL_D(eff_row, model_mib), COL_D(eff_row, model_memory_rel),
    COL_S(eff_row, note),
};
enum { TAB_POINTS, TAB_REPS, TAB_EFF, TAB_COUNT };
static const myo_h5table TABLES[TAB_COUNT] = {
    {"points", POINT_COLS, (int)(sizeof POINT_COLS / sizeof *POINT_COLS), sizeof(point_row)},
    {"repetitions", REP_COLS, (int)(sizeof REP_COLS / sizeof *REP_COLS), sizeof(rep_row)},
    {"efficiency", EFF_COLS, (int)(sizeof EFF_COLS / sizeof *EFF_COLS), sizeof(eff_row)},
};

/* Everything the sweep shares. */
typedef struct {
    const lra_opts *o;
    const lra_task *t;
    int P, rank;
    int64_t b_local, b_offset; /* this rank's share of the batch, its first example */
    myo_bench_budget budget;   /* memory on this host */
    myo_h5log *log;            /* rank 0 */
    int64_t run_id;
    myo_sweep_keys done;
    int64_t point_seq; /* the next point number in this run */
    /* the time budget's history, per mixer */
    int have[M_COUNT];
    int64_t prev_n[M_COUNT];
    double prev_wall[M_COUNT];
    int invalid;
    myo_dataset ds; /* --data: the file's first ds.count examples (load_data) */
} sweep_ctx;

static int docs_of(const lra_task *t)
{
    return t->dual ? 2 : 1;
}

/* Morton order applies to a 2^k x 2^k image under a 4-ary hierarchy (the
 * synthetic stream's relabelling; a --data file comes in its own order). */
static int morton_side(const sweep_ctx *c, int mixer, int64_t n)
{
    if (c->o->data || !c->t->image || mixer != M_MYOSOTIS || c->o->tree.kind != OPT_TREE_KARY ||
        c->o->tree.arity != 4)
        return 0;
    int64_t side = 1;
    while (side * side < n)
        side *= 2;
    return side * side == n ? (int)side : 0;
}

static const char *order_name(const sweep_ctx *c, int mixer, int64_t n)
{
    if (!c->t->image) return "sequence";
    if (c->o->data) return c->o->data_order; /* the file's, for every mixer */
    return morton_side(c, mixer, n) ? "morton" : "raster";
}

static const char *tree_name(const sweep_ctx *c, int mixer)
{
    if (mixer != M_MYOSOTIS) return "-";
    return c->o->parse_trees ? "parse" : c->o->tree.name;
}

/* The key --resume matches: everything that defines a point's work. */
static void point_key(const sweep_ctx *c, int mixer, int64_t n, char *buf, size_t size)
{
    const lra_opts *o = c->o;
    snprintf(buf, size,
             "%s/%s/%s/%s/n=%lld/B=%lld/L=%lld/D=%lld/H=%lld/F=%lld/V=%lld/C=%lld/P=%d/s=%lld/"
             "i=%lld",
             c->t->name, MIXER_NAME[mixer], tree_name(c, mixer), order_name(c, mixer, n),
             (long long)n, (long long)o->batch, (long long)o->L, (long long)o->D, (long long)o->H,
             (long long)o->F, (long long)c->t->vocab, (long long)c->t->classes, c->P,
             (long long)o->steps, (long long)o->infer_steps);
    if (o->data) { /* another data set is another point */
        size_t at = strlen(buf);
        if (at < size) snprintf(buf + at, size - at, "/data=%s", o->data_label);
    }
}

/* Bytes one rank's model is predicted to hold at (mixer, n), from the
 * shapes (a deliberate over-estimate; the rows record it beside
 * myo_model_bytes): parameters with their gradients, two Adam moments and
 * the validation's copy (myo_model_gradient_check);
 * per sequence and layer the activations backward keeps (about 10 n D +
 * 3 n F floats) and the mixer's (Myosotis ~8 N D on N tree nodes; dense
 * 8 n D, materialized + 2 H n^2 for the kept probabilities and their
 * scratch; SSM ~16 n D with Mamba's expansion 2). */
static double predict_bytes(const sweep_ctx *c, int mixer, int64_t n_)
{
    const lra_opts *o = c->o;
    const double n = (double)n_, D = (double)o->D, F = (double)o->F;
    const double L = (double)o->L, V = (double)c->t->vocab, C = (double)c->t->classes;
    const double S = (double)c->b_local * docs_of(c->t);
    double mix_params = mixer == M_SSM ? 7 * D * D : 4 * D * D;
    double params = V * D + n * D + L * (mix_params + 2 * D * F + F + 5 * D) + 4 * D * F + F * C;
    /* the mixer's workspace for the S sequences, after a backward: the
     * library's cost model (parse trees, unknown before the data: a
     * kary2 hierarchy over n, whose ~2n nodes bound a parse tree's) */
    myo_cost cost;
    myo_tree_shape shape;
    myo_status s = MYO_OK;
    const int64_t Si = (int64_t)S;
    if (mixer == M_MYOSOTIS) {
        const myo_layer_config cfg = {.d_model = o->D, .heads = o->H};
        s = o->parse_trees                   ? myo_tree_shape_kary(n_, 2, &shape)
            : o->tree.kind == OPT_TREE_CHAIN ? myo_tree_shape_chain(n_, &shape)
            : o->tree.kind == OPT_TREE_HEAP  ? myo_tree_shape_heap(n_, o->tree.arity, &shape)
                                             : myo_tree_shape_kary(n_, o->tree.arity, &shape);
        if (s == MYO_OK) s = myo_layer_cost(&shape, &cfg, Si, &cost);
    } else if (mixer == M_SSM) {
        const myo_ssm_config cfg = {.d_model = o->D};
        s = myo_ssm_cost(&cfg, n_, Si, &cost);
    } else {
        const myo_attention_config cfg = {.d_model = o->D, .heads = o->H};
        s = myo_attention_cost(
            &cfg, mixer == M_DENSE_TILED ? MYO_ATTN_TILED : MYO_ATTN_MATERIALIZED, n_, Si, &cost);
    }
    if (s != MYO_OK) return INFINITY; /* a size the library refuses: SKIP:memory */
    double act = S * L * (10 * n * D + 3 * n * F);
    return 4.0 * (5 * params + act) + L * cost.work_bytes;
}

/* Relative cost of a point (flops, roughly), for the ETA. */
static double point_cost(const sweep_ctx *c, int mixer, int64_t n_)
{
    const lra_opts *o = c->o;
    const double n = (double)n_, D = (double)o->D, F = (double)o->F;
    double per_seq = n * (8 * D * D + 4 * D * F) + (MIXER_POWER[mixer] == 2 ? 4 * n * n * D : 0);
    if (mixer == M_MYOSOTIS) per_seq += n * 8 * D * D; /* Q, K, V on the virtual nodes too */
    return per_seq * (double)o->L * docs_of(c->t) * (double)o->batch *
           (3.0 * (double)(o->steps + o->warmup) + (double)o->infer_steps);
}

/* Local.  Whether (mixer, n) is sure to be skipped for memory: its
 * prediction alone, times the ranks on the host, exceeds the budget
 * (run_point's test adds the resident set and takes the worst rank, so
 * it skips every point this says). */
static int over_budget(const sweep_ctx *c, int mixer, int64_t n)
{
    return predict_bytes(c, mixer, n) * c->budget.node_ranks > c->budget.bytes;
}

/* The model of (mixer, n); tree: Myosotis' (borrowed), NULL otherwise (or
 * not built yet: myo_model_config_check then checks all but the tree,
 * which myo_bench_tree_create makes over n tokens). */
static myo_model_config model_config(const sweep_ctx *c, int mixer, int64_t n, const myo_tree *tree)
{
    return (myo_model_config){.vocab = c->t->vocab,
                              .n = n,
                              .d_model = c->o->D,
                              .heads = c->o->H,
                              .mlp_dim = c->o->F,
                              .layers = c->o->L,
                              .classes = c->t->classes,
                              .dual = c->t->dual,
                              .mixer = MIXER_KIND[mixer],
                              .tree = tree,
                              .direction = MYO_DIR_BOTH};
}

/* ------------------------------------------------------------- data */

/* The synthetic stream: example e of step s has tokens uniform over
 * [0, V) and a label uniform over [0, C), from a generator seeded by
 * (seed, task, stream, s, e) alone -- the same batch for any rank count.
 * Image tasks under Morton order relabel the raster pixels (a no-op for
 * the statistics of i.i.d. synthetic pixels, but the work of the real
 * pipeline). */
enum { STREAM_TRAIN = 1, STREAM_INFER = 2, STREAM_VALID = 3 };

static void fill_batch(const sweep_ctx *c, int64_t n, int side, int stream, int64_t step,
                       int64_t first, int64_t count, int32_t *tokens, int32_t *labels,
                       int32_t *raster)
{
    const lra_task *t = c->t;
    const int docs = docs_of(t);
    for (int64_t i = 0; i < count; i++) {
        uint64_t e = (uint64_t)(first + i);
        myo_rng rng =
            myo_rng_seed(c->o->seed ^ myo_bench_hash_str(t->name) ^ ((uint64_t)stream << 56) ^
                         ((uint64_t)step * 0x9e3779b97f4a7c15ULL) ^ (e * 0xd1b54a32d192ed03ULL));
        for (int d = 0; d < docs; d++) {
            int32_t *x = tokens + ((size_t)i * docs + d) * (size_t)n;
            int32_t *dst = side ? raster : x;
            for (int64_t j = 0; j < n; j++)
                dst[j] = (int32_t)myo_rng_below(&rng, t->vocab);
            if (side) /* x[morton(col, row)] = raster[row * side + col] */
                for (int64_t row = 0; row < side; row++)
                    for (int64_t col = 0; col < side; col++) {
                        uint64_t m = 0;
                        for (int b = 0; (1 << b) < side; b++)
                            m |= (((uint64_t)col >> b) & 1) << (2 * b) | (((uint64_t)row >> b) & 1)
                                                                             << (2 * b + 1);
                        x[m] = raster[row * side + col];
                    }
        }
        labels[i] = (int32_t)myo_rng_below(&rng, t->classes);
    }
}

/* --data: the examples the run uses, read and validated before the
 * results file is opened.  The run's example g -- validation: 0; training
 * step it (warm-up included): it B + j; inference step it: (warmup + steps
 * + it) B + j; j in [0, B), rank r taking its share b_offset .. b_offset +
 * b_local - 1 -- is the file's example g mod E, so the run reads the first
 * min(E, (warmup + steps + infer_steps) B) of them (every rank all of
 * them: a point's steps see the same data whatever the ranks).
 * Collective.  MYO_EXIT_OK, or the exit code after one line. */
static int load_data(sweep_ctx *c)
{
    const lra_opts *o = c->o;
    const int64_t E = o->info.count, need = (o->warmup + o->steps + o->infer_steps) * o->batch;
    myo_bench_say_hold();
    myo_status s = myo_dataset_read_range(o->data, 0, need < E ? need : E, &c->ds);
    const myo_dataset *d = &c->ds;
    if (s == MYO_OK && (d->n != c->t->n || d->vocab != c->t->vocab || d->classes != c->t->classes ||
                        strcmp(d->task, c->t->name) != 0))
        s = myo_data_fail(MYO_ERR_DATA, "%s changed while being read (its header differs)",
                          o->data);
    if (s == MYO_OK && o->parse_trees && !d->parents)
        s = myo_data_fail(MYO_ERR_DATA, "%s: the parse trees are missing", o->data);
    if (s != MYO_OK) myo_bench_say(1, "--data: %s", myo_data_error());
    int code = myo_bench_agree_said(s == MYO_OK ? MYO_EXIT_OK : myo_cli_exit_code(s));
    if (code != MYO_EXIT_OK) return code;
    /* the examples themselves alike on every rank (the same header need
     * not mean the same file): their hash against rank 0's */
    const size_t tokens = (size_t)d->count * (size_t)d->docs * (size_t)d->n;
    uint64_t mine[3] = {myo_bench_hash(d->tokens, tokens * sizeof(int32_t)),
                        myo_bench_hash(d->labels, (size_t)d->count * sizeof(int32_t)),
                        d->parents ? myo_bench_hash(d->parents, (size_t)d->count * (size_t)d->n *
                                                                    sizeof(int32_t))
                                   : 0},
             first[3];
    lra_from_rank0(first, mine, sizeof mine);
    myo_bench_say_hold();
    code = MYO_EXIT_OK;
    if (memcmp(mine, first, sizeof mine) != 0) {
        myo_bench_say(0,
                      "--data %s: rank %d reads other examples than rank 0 among the first %lld "
                      "(every rank must read the same file)",
                      o->data, c->rank, (long long)d->count);
        code = MYO_EXIT_DATA;
    }
    return myo_bench_agree_said(code);
}

/* --data: the count examples of the run's order from first (global),
 * wrapped into the file: tokens (count, docs, n), labels (count,) and,
 * when parents is not NULL, the parse trees (count, n). */
static void data_batch(const sweep_ctx *c, int64_t first, int64_t count, int32_t *tokens,
                       int32_t *labels, int32_t *parents)
{
    const myo_dataset *d = &c->ds;
    const size_t row = (size_t)d->docs * (size_t)d->n;
    for (int64_t i = 0; i < count; i++) {
        const int64_t e = (first + i) % c->o->info.count; /* < d->count (load_data) */
        memcpy(tokens + (size_t)i * row, d->tokens + (size_t)e * row, row * sizeof(int32_t));
        labels[i] = d->labels[e];
        if (parents)
            memcpy(parents + (size_t)i * (size_t)d->n, d->parents + (size_t)e * (size_t)d->n,
                   (size_t)d->n * sizeof(int32_t));
    }
}

/* ------------------------------------------------------------ output */

static void row_init(const sweep_ctx *c, int mixer, int64_t n, point_row *r)
{
    const lra_opts *o = c->o;
    memset(r, 0, sizeof *r);
    r->run_id = c->run_id;
    r->point = c->point_seq;
    point_key(c, mixer, n, r->point_key, sizeof r->point_key);
    snprintf(r->task, sizeof r->task, "%s", c->t->name);
    snprintf(r->data, sizeof r->data, "%s", o->data ? o->data_label : "synthetic");
    snprintf(r->mixer, sizeof r->mixer, "%s", MIXER_NAME[mixer]);
    snprintf(r->tree, sizeof r->tree, "%s", tree_name(c, mixer));
    snprintf(r->order, sizeof r->order, "%s", order_name(c, mixer, n));
    r->n = n, r->vocab = c->t->vocab, r->classes = c->t->classes, r->documents = docs_of(c->t);
    r->layers = o->L, r->d_model = o->D, r->heads = o->H, r->mlp_dim = o->F;
    r->batch = o->batch, r->ranks = c->P, r->steps = o->steps, r->warmup = o->warmup;
    r->infer_steps = o->infer_steps, r->seed = (int64_t)o->seed;
    r->params = -1;
    r->train_step_med = r->train_step_min = r->train_step_max = r->infer_step_med = NAN;
    r->allreduce_med = r->examples_per_s = r->tokens_per_s = r->steps_per_s = NAN;
    r->infer_examples_per_s = r->mixer_share = r->peak_rss_mib = r->model_mib = NAN;
    r->loss_valid = r->loss_first = r->loss_last = NAN;
    r->predicted_mib = predict_bytes(c, mixer, n) / 1048576.0;
    snprintf(r->valid, sizeof r->valid, "-");
    snprintf(r->note, sizeof r->note, "-");
}

#define COLS_FMT                                                                                   \
    "%-18s %-6s %-8s %7s %5s %4s %3s %5s %2s %3s %10s %10s %10s %10s %10s %10s %10s %10s %8s "     \
    "%6s %9s %9s %8s %8s %-7s %-11s %s\n"

static void print_columns(void)
{
    myo_bench_row(COLS_FMT, "#mixer", "tree", "order", "n", "B", "D", "H", "F", "L", "P", "params",
                  "train_ms", "train_min", "train_max", "infer_ms", "allred_ms", "examples/s",
                  "tokens/s", "steps/s", "mix%", "rss_MiB", "model_MiB", "loss0", "loss_end",
                  "valid", "status", "note");
}

static void print_row(const point_row *r)
{
    char cols[512];
    const double ms = 1e3;
    if (strcmp(r->status, "OK") == 0)
        snprintf(cols, sizeof cols,
                 "%10lld %10.2f %10.2f %10.2f %10.2f %10.3f %10.3g %10.4g %8.4g %6.1f %9.1f %9.1f "
                 "%8.4f %8.4f",
                 (long long)r->params, r->train_step_med * ms, r->train_step_min * ms,
                 r->train_step_max * ms, r->infer_step_med * ms, r->allreduce_med * ms,
                 r->examples_per_s, r->tokens_per_s, r->steps_per_s, 100 * r->mixer_share,
                 r->peak_rss_mib, r->model_mib, r->loss_first, r->loss_last);
    else {
        char params[24] = "-";
        if (r->params >= 0) snprintf(params, sizeof params, "%lld", (long long)r->params);
        snprintf(cols, sizeof cols,
                 "%10s %10s %10s %10s %10s %10s %10s %10s %8s %6s %9s %9s %8s %8s", params, "-",
                 "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-");
    }
    myo_bench_row("%-18s %-6s %-8s %7lld %5lld %4lld %3lld %5lld %2lld %3lld %s %-7s %-11s %s\n",
                  r->mixer, r->tree, r->order, (long long)r->n, (long long)r->batch,
                  (long long)r->d_model, (long long)r->heads, (long long)r->mlp_dim,
                  (long long)r->layers, (long long)r->ranks, cols, r->valid, r->status, r->note);
}

/* Rank 0 appends rows; every rank learns whether it worked.  Collective. */
static int append_agreed(sweep_ctx *c, int table, const void *rows, int64_t count)
{
    int code = MYO_EXIT_OK;
    if (c->rank == 0 && count > 0) {
        myo_status s = myo_h5log_append(c->log, table, rows, count);
        if (s != MYO_OK) {
            myo_bench_say(0, "appending to table '%s': %s", TABLES[table].name,
                          myo_error_detail()); /* the detail names the file */
            code =
                myo_cli_exit_code(s) == MYO_EXIT_USAGE ? MYO_EXIT_INTERNAL : myo_cli_exit_code(s);
        }
    }
    return myo_bench_agree(code);
}

/* -------------------------------------------------------- one point */

/* The measured series of a point: per training step (timed ones only). */
enum { S_TRAIN, S_ALLREDUCE, S_SHARE, S_COUNT };

typedef struct {
    myo_tree *tree;
    myo_model *model;
    int32_t *tokens, *labels, *raster;
    int32_t *parents;     /* (b_local, n): parse trees (o->parse_trees, Myosotis) */
    myo_bench_reps train; /* S_COUNT series of steps values */
    myo_bench_reps infer; /* 1 series of infer_steps values */
    double *loss;         /* (steps,) this rank's weighted share of each step's mean loss */
} point_work;

static void work_free(point_work *w)
{
    myo_model_destroy(&w->model);
    myo_tree_destroy(&w->tree);
    free(w->tokens), free(w->labels), free(w->raster), free(w->parents), free(w->loss);
    myo_bench_reps_free(&w->train);
    myo_bench_reps_free(&w->infer);
    memset(w, 0, sizeof *w);
}

static int all_finite(const float *v, int64_t count, int *nonzero)
{
    *nonzero = 0;
    for (int64_t i = 0; i < count; i++) {
        if (!isfinite(v[i])) return 0;
        if (v[i] != 0.0f) *nonzero = 1;
    }
    return 1;
}

/* Training step it (warm-up ones included) on the batch in w: forward,
 * backward, the gradient all-reduce, AdamW; its times go into w->train.
 * Collective.  MYO_OK, the failure, or MYO_ERR_MPI on the ranks that did
 * not fail themselves. */
static myo_status train_step(const sweep_ctx *c, point_work *w, int64_t it, double *loss)
{
    myo_bench_sync(NULL);
    double t0 = MPI_Wtime();
    myo_status s = myo_model_forward(w->model, c->b_local, w->tokens, w->labels, loss, NULL);
    if (s == MYO_OK) s = myo_model_backward(w->model);
    /* every rank reaches the all-reduce, or none does */
    if (myo_bench_any_failed(&s)) return s;
    double t1 = MPI_Wtime();
    if (c->P > 1) lra_allreduce_grads(w->model, (double)c->b_local / (double)c->o->batch);
    double t2 = MPI_Wtime();
    s = myo_model_adam_step(w->model, &c->o->adam);
    double t3 = MPI_Wtime();
    if (myo_bench_any_failed(&s)) return s;
    myo_model_times mt;
    myo_model_last_times(w->model, &mt);
    double fb = mt.forward + mt.backward;
    myo_bench_reps_put(&w->train, S_TRAIN, it, t3 - t0);
    myo_bench_reps_put(&w->train, S_ALLREDUCE, it, t2 - t1);
    myo_bench_reps_put(&w->train, S_SHARE, it,
                       fb > 0 ? (mt.mixer_forward + mt.mixer_backward) / fb : NAN);
    return MYO_OK;
}

/* This rank's count examples from first (global) of the stream's step:
 * the synthetic stream's, or the file's (load_data says which); with
 * parse trees, they become the model's trees (myo_model_set_trees: a
 * forest and the Myosotis workspaces, before the step's timing starts).
 * Collective when w has parse trees (a failure stops every rank). */
static myo_status get_batch(const sweep_ctx *c, point_work *w, int64_t n, int side, int stream,
                            int64_t step, int64_t first, int64_t count)
{
    const lra_opts *o = c->o;
    if (!o->data) {
        fill_batch(c, n, side, stream, step, first, count, w->tokens, w->labels, w->raster);
        return MYO_OK;
    }
    const int64_t base = stream == STREAM_VALID   ? 0
                         : stream == STREAM_TRAIN ? step * o->batch
                                                  : (o->warmup + o->steps + step) * o->batch;
    data_batch(c, base + first, count, w->tokens, w->labels, w->parents);
    if (!w->parents) return MYO_OK;
    myo_status s = myo_model_set_trees(w->model, count, w->parents);
    (void)myo_bench_any_failed(&s);
    return s;
}

/* Say what failed (the failing ranks) and return the exit code. */
static int point_fail(int mixer, int64_t n, const char *what, myo_status s)
{
    if (s != MYO_ERR_MPI) /* MYO_ERR_MPI: another rank failed and says why */
        myo_bench_say(1, "%s, n = %lld: %s: %s: %s", MIXER_NAME[mixer], (long long)n, what,
                      myo_status_str(s), myo_error_detail());
    return myo_bench_status_code(s);
}

/* Run (mixer, n).  Collective.  Fills r (status OK, SKIP:*, INTERRUPTED)
 * and, when measured, reps (*n_reps rows, malloc'ed).  Returns an exit
 * code, the same on every rank. */
static int run_point(sweep_ctx *c, int mixer, int64_t n, point_row *r, rep_row **reps,
                     int64_t *n_reps)
{
    const lra_opts *o = c->o;
    const lra_task *t = c->t;
    *reps = NULL, *n_reps = 0;

    /* budgets: memory first (an out-of-memory kill loses the run), then time */
    double need = myo_bench_budget_need(&c->budget, predict_bytes(c, mixer, n));
    if (myo_bench_agree(need > c->budget.bytes)) { /* hosts may differ: the worst verdict */
        snprintf(r->status, sizeof r->status, "%s", STATUS_NAME[ST_SKIP_MEMORY]);
        if (need > c->budget.bytes)
            myo_bench_budget_note(&c->budget, need, r->note, sizeof r->note);
        else
            snprintf(r->note, sizeof r->note, "memory: predicted over the budget on another host");
        return MYO_EXIT_OK;
    }
    if (c->have[mixer]) { /* the same history on every rank */
        double ratio = (double)n / (double)c->prev_n[mixer];
        double pred = c->prev_wall[mixer] * pow(ratio, MIXER_POWER[mixer]);
        if (pred > o->time_budget) {
            snprintf(r->status, sizeof r->status, "%s", STATUS_NAME[ST_SKIP_TIME]);
            snprintf(r->note, sizeof r->note,
                     "time: predicted %.3g s (from n = %lld, ~n^%d) > --time-budget %.3g s", pred,
                     (long long)c->prev_n[mixer], MIXER_POWER[mixer], o->time_budget);
            return MYO_EXIT_OK;
        }
    }

    const double t_point = MPI_Wtime();
#ifdef __GLIBC__
    malloc_trim(0); /* the previous points' freed heap back to the kernel: a lower baseline */
#endif
    myo_bench_peak_rss_reset();
    point_work w;
    memset(&w, 0, sizeof w);
    const int docs = docs_of(t);
    const int side = morton_side(c, mixer, n);
    const int parse = mixer == M_MYOSOTIS && o->parse_trees; /* tree NULL: per example */
    myo_status s = MYO_OK;
    if (mixer == M_MYOSOTIS && !parse) s = myo_bench_tree_create(&o->tree, n, &w.tree);
    myo_model_config cfg = model_config(c, mixer, n, w.tree);
    if (s == MYO_OK) s = myo_model_create(&cfg, c->b_local, o->seed, &w.model);
    if (s == MYO_OK) {
        w.tokens = myo_bench_alloc((size_t)c->b_local * docs * (size_t)n, sizeof(int32_t));
        w.labels = myo_bench_alloc((size_t)c->b_local, sizeof(int32_t));
        w.raster = side ? myo_bench_alloc((size_t)n, sizeof(int32_t)) : NULL;
        w.parents = parse ? myo_bench_alloc((size_t)c->b_local * (size_t)n, sizeof(int32_t)) : NULL;
        w.loss = myo_bench_alloc((size_t)o->steps, sizeof(double));
        if (!w.tokens || !w.labels || (side && !w.raster) || (parse && !w.parents) || !w.loss ||
            myo_bench_reps_create(S_COUNT, o->steps, o->warmup, &w.train) != 0 ||
            myo_bench_reps_create(1, o->infer_steps, 0, &w.infer) != 0)
            s = MYO_ERR_NOMEM;
    }
    /* an allocation refused is a skip for memory, not a failure */
    int st = s == MYO_OK ? 0 : s == MYO_ERR_NOMEM ? 1 : 2;
    if (st == 2) point_fail(mixer, n, "creating the model", s);
    st = myo_bench_agree(st);
    if (st != 0) {
        work_free(&w);
        if (st == 2) return MYO_EXIT_INTERNAL;
        snprintf(r->status, sizeof r->status, "%s", STATUS_NAME[ST_SKIP_MEMORY]);
        snprintf(r->note, sizeof r->note, "memory: an allocation of the model failed");
        return MYO_EXIT_OK;
    }
    r->params = myo_model_num_params(w.model);

    /* validation: one example (the same on every rank), one forward, one
     * backward and the gradient check (three forwards a step), no update */
    double loss = NAN, ratio = NAN;
    s = get_batch(c, &w, n, side, STREAM_VALID, 0, 0, 1);
    if (s == MYO_OK) s = myo_model_forward(w.model, 1, w.tokens, w.labels, &loss, NULL);
    if (s == MYO_OK) s = myo_model_backward(w.model);
    int nonzero = 0, finite = 0;
    if (s == MYO_OK) finite = all_finite(myo_model_grads(w.model), r->params, &nonzero);
    /* the gradient check at the largest of the steps where it holds: a
     * strongly curved loss (tiny D) needs a smaller one than float rounding
     * can bear for a large model; wrong gradients fail at every step */
    for (int k = 0; s == MYO_OK && finite && nonzero && k < VAL_GRAD_STEPS; k++) {
        s = myo_model_gradient_check(w.model, VAL_GRAD_DELTA[k] * fmax(1, fabs(loss)), &ratio);
        if (fabs(ratio - 1) <= VAL_GRAD_TOL) break;
    }
    if (myo_bench_any_failed(&s)) {
        work_free(&w);
        return point_fail(mixer, n, "validation", s);
    }
    const double lnC = log((double)t->classes), bound = myo_model_logit_spread_bound(w.model);
    const int loss_ok = isfinite(loss) && fabs(loss - lnC) <= bound;
    const int grad_ok = finite && nonzero && fabs(ratio - 1) <= VAL_GRAD_TOL;
    int valid = !myo_bench_agree(!(loss_ok && grad_ok));
    r->loss_valid = loss;
    snprintf(r->valid, sizeof r->valid, "%s", valid ? "VALID" : "INVALID");
    if (!valid) {
        c->invalid = 1;
        myo_bench_say(0,
                      "%s, n = %lld: INVALID: validation loss %.4g (%s: ln C = %.4g, the model's "
                      "logit spread bound %.4g), gradients %s (along them the loss changes %.4g "
                      "times as they predict)",
                      MIXER_NAME[mixer], (long long)n, loss, loss_ok ? "fine" : "impossible", lnC,
                      bound,
                      !finite    ? "not finite"
                      : !nonzero ? "all zero"
                      : grad_ok  ? "consistent"
                                 : "inconsistent with the loss",
                      ratio);
    }

    /* warm-up and timed training steps, then timed inference steps; a
     * signal abandons the point between two steps */
    int sig = 0;
    int64_t done_train = 0, done_infer = 0;
    for (int64_t it = 0; it < o->warmup + o->steps; it++) {
        if ((sig = myo_sweep_stop_agreed()) != 0) break;
        s = get_batch(c, &w, n, side, STREAM_TRAIN, it, c->b_offset, c->b_local);
        if (s != MYO_OK || (s = train_step(c, &w, it, &loss)) != MYO_OK) {
            work_free(&w);
            return point_fail(mixer, n, "training step", s);
        }
        if (it >= o->warmup) {
            w.loss[it - o->warmup] = loss * (double)c->b_local / (double)o->batch;
            done_train++;
        }
    }
    for (int64_t it = 0; !sig && it < o->infer_steps; it++) {
        if ((sig = myo_sweep_stop_agreed()) != 0) break;
        if ((s = get_batch(c, &w, n, side, STREAM_INFER, it, c->b_offset, c->b_local)) != MYO_OK) {
            work_free(&w);
            return point_fail(mixer, n, "inference step", s);
        }
        myo_bench_sync(NULL);
        double t0 = MPI_Wtime();
        s = myo_model_forward(w.model, c->b_local, w.tokens, NULL, NULL, NULL);
        myo_bench_reps_put(&w.infer, 0, it, MPI_Wtime() - t0);
        if (myo_bench_any_failed(&s)) {
            work_free(&w);
            return point_fail(mixer, n, "inference step", s);
        }
        done_infer++;
    }
    if (sig) {
        snprintf(r->status, sizeof r->status, "%s", STATUS_NAME[ST_INTERRUPTED]);
        snprintf(r->note, sizeof r->note,
                 "signal %d after %lld of %lld training and %lld of %lld inference steps: "
                 "abandoned",
                 sig, (long long)done_train, (long long)o->steps, (long long)done_infer,
                 (long long)o->infer_steps);
        work_free(&w);
        return MYO_EXIT_OK;
    }

    /* a step takes as long as its slowest rank; the loss is the batch's mean */
    myo_bench_reps_max_over_ranks(&w.train);
    myo_bench_reps_max_over_ranks(&w.infer);
    myo_bench_sum_over_ranks(w.loss, (int)o->steps);
    double mem[2] = {myo_bench_peak_rss_mib(), (double)myo_model_bytes(w.model) / 1048576.0};
    myo_bench_max_over_ranks(mem, 2);

    /* every repetition, before the statistics sort them */
    *n_reps = o->steps + o->infer_steps + (c->P > 1 ? o->steps : 0);
    *reps = calloc((size_t)*n_reps, sizeof **reps);
    if (myo_bench_agree(*reps ? MYO_EXIT_OK : MYO_EXIT_INTERNAL) != MYO_EXIT_OK) {
        free(*reps), *reps = NULL, *n_reps = 0;
        work_free(&w);
        myo_bench_say(1, "out of memory for the repetition rows");
        return MYO_EXIT_INTERNAL;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < o->steps; i++)
        (*reps)[k++] =
            (rep_row){r->run_id, r->point, "train", i, w.train.v[S_TRAIN * o->steps + i]};
    for (int64_t i = 0; i < o->infer_steps; i++)
        (*reps)[k++] = (rep_row){r->run_id, r->point, "infer", i, w.infer.v[i]};
    for (int64_t i = 0; c->P > 1 && i < o->steps; i++)
        (*reps)[k++] =
            (rep_row){r->run_id, r->point, "allreduce", i, w.train.v[S_ALLREDUCE * o->steps + i]};

    double st3[3];
    r->loss_first = w.loss[0], r->loss_last = w.loss[o->steps - 1];
    myo_bench_reps_stat(&w.train, S_TRAIN, st3);
    r->train_step_min = st3[0], r->train_step_med = st3[1], r->train_step_max = st3[2];
    myo_bench_reps_stat(&w.train, S_ALLREDUCE, st3);
    r->allreduce_med = c->P > 1 ? st3[1] : 0.0;
    myo_bench_reps_stat(&w.train, S_SHARE, st3);
    r->mixer_share = st3[1];
    myo_bench_reps_stat(&w.infer, 0, st3);
    r->infer_step_med = st3[1];
    r->infer_examples_per_s = (double)o->batch / st3[1];
    r->steps_per_s = 1.0 / r->train_step_med;
    r->examples_per_s = (double)o->batch / r->train_step_med;
    r->tokens_per_s = r->examples_per_s * (double)(docs * n);
    r->peak_rss_mib = mem[0], r->model_mib = mem[1];
    snprintf(r->status, sizeof r->status, "%s", STATUS_NAME[ST_OK]);
    if (mixer == M_MYOSOTIS && (o->tree_auto || parse))
        snprintf(r->note, sizeof r->note, "%s%s", t->tree_why,
                 t->image && !side && !o->data ? " (n is no 2^k x 2^k image: raster order)" : "");
    work_free(&w);

    double wall = MPI_Wtime() - t_point;
    myo_bench_max_over_ranks(&wall, 1);
    c->have[mixer] = 1, c->prev_n[mixer] = n, c->prev_wall[mixer] = wall;
    return MYO_EXIT_OK;
}

/* ------------------------------------------------------------ header */

static void print_header(const sweep_ctx *c, const run_meta *meta, int64_t n_points)
{
    const lra_opts *o = c->o;
    const lra_task *t = c->t;
    run_meta_print(stdout, meta);
    printf("# results: %s, run %lld, schema %s (tables points, repetitions, efficiency; "
           "/runs/run-%06lld holds the metadata)%s\n",
           o->output, (long long)c->run_id, SCHEMA, (long long)c->run_id,
           o->resume ? "; --resume: points the file holds (OK or SKIP) are skipped" : "");
    if (o->data)
        printf("# data: %s -- %s (%s, source %s): %lld examples of task %s, n = %lld, V = %lld, "
               "C = %lld%s%s%s;\n#   batches in the file's order, wrapping around (rank r takes "
               "its share of each), the first %lld examples read and validated; timing only, no "
               "accuracy is measured or claimed\n",
               o->data_label, o->data, MYO_DATA_FORMAT, o->info.source, (long long)o->info.count,
               o->info.task, (long long)t->n, (long long)t->vocab, (long long)t->classes,
               o->has_parents ? ", parse trees" : "", t->image ? ", pixel ordering " : "",
               t->image ? o->data_order : "", (long long)c->ds.count);
    else
        printf("# data: SYNTHETIC -- a deterministic stream (seed %llu) with the task's shape, "
               "token ids uniform over [0, V), labels uniform over [0, C);\n"
               "#   timing only, no accuracy is measured or claimed\n",
               (unsigned long long)o->seed);
    printf("# task %s (LRA preset, docs/lra.md sections 1 and 2%s): n = %lld, V = %lld, "
           "C = %lld, L = %lld, D = %lld, H = %lld, F = %lld, batch %lld%s\n",
           t->name, o->data ? "; n, V, C from --data" : "", (long long)t->n, (long long)t->vocab,
           (long long)t->classes, (long long)t->layers, (long long)t->d_model, (long long)t->heads,
           (long long)t->mlp_dim, (long long)t->batch,
           t->dual ? ", dual encoder over 2 documents of n tokens" : "");
    printf("# this run: L = %lld, D = %lld, H = %lld, F = %lld, batch %lld over %d rank%s (%lld "
           "on rank 0), %lld timed training steps after %lld warm-up, %lld inference steps, "
           "%lld points%s\n",
           (long long)o->L, (long long)o->D, (long long)o->H, (long long)o->F, (long long)o->batch,
           c->P, c->P > 1 ? "s" : "", (long long)c->b_local, (long long)o->steps,
           (long long)o->warmup, (long long)o->infer_steps, (long long)n_points,
           o->efficiency ? "; --efficiency-table (dense-materialized only up to 4K)" : "");
    printf("# model: myosotis_model.h -- embedding + learned positions, L x (LayerNorm, mixer, "
           "residual, LayerNorm, MLP D->F->D gelu, residual), LayerNorm, mean pooling, "
           "classifier%s;\n#   every mixer at width D (LRA's separate qkv width and CLS "
           "token are not reproduced); AdamW lr %g, betas %g/%g, eps %g, decay %g\n",
           t->dual ? " on [u1, u2, u1*u2, u1-u2] through F gelu units" : "", o->adam.lr,
           o->adam.beta1, o->adam.beta2, o->adam.eps, o->adam.weight_decay);
    if (o->parse_trees)
        printf("# myosotis: tree parse, direction both; %s: myo_model_set_trees before each step "
               "(outside its timing) builds the forest and one workspace per layer, and the "
               "step's first backward allocates their scratch\n",
               t->tree_why);
    else
        printf("# myosotis: tree %s%s, direction both; %s\n", o->tree.name,
               o->tree.kind == OPT_TREE_KARY ? " (virtual internal nodes)" : "",
               o->tree_auto ? t->tree_why : "--tree given");
    if (t->image && !o->data)
        printf("#   pixels: Morton order for myosotis on kary4 when n is a 2^k x 2^k image, "
               "raster (LRA's) otherwise; with synthetic i.i.d. pixels the order only relabels "
               "them\n");
    printf("# validation per point: one example at initialisation, one forward (loss finite and "
           "within the model's logit spread bound of ln C = %.4g) and one backward (gradients "
           "finite, not all zero,\n#   and a central difference along them within %g of what "
           "they predict): VALID\n",
           log((double)t->classes), VAL_GRAD_TOL);
    printf("# timing: per step MPI_Barrier, MPI_Wtime; a training step = forward + backward + "
           "gradient MPI_Allreduce (data parallel, weighted by each rank's share) + AdamW, the\n"
           "#   slowest rank's time; medians over steps; allred_ms = the all-reduce inside it "
           "(0 on 1 rank); infer_ms = forward alone; mix%% = mixers' share of forward+backward "
           "(myo_model_last_times);\n#   examples/s = batch / train_ms, tokens/s = examples/s "
           "x n x documents, steps/s = 1 / train_ms; loss0, loss_end = batch mean loss of the "
           "first and last timed step\n");
    printf("# memory: rss_MiB = peak resident set during the point (VmHWM reset before it; max "
           "over ranks), model_MiB = myo_model_bytes; a point whose predicted bytes (per rank, "
           "times the ranks on the host,\n#   plus the resident set now) exceed %.2f GiB (%s) is "
           "recorded SKIP:memory; one predicted from the mixer's previous length to take more "
           "than %.3g s SKIP:time\n",
           c->budget.bytes / 1073741824.0, myo_bench_budget_source(&c->budget), o->time_budget);
    print_columns();
    fflush(stdout);
}

/* ------------------------------------------------------ efficiency */

/* The LRA paper's efficiency table from this run's measured rows: per
 * length, each mixer's training steps per second and memory relative to
 * dense-materialized (the LRA Transformer) at the same n.  Printed as '#'
 * lines and stored in the table "efficiency" (rank 0).  Collective. */
static int efficiency_table(sweep_ctx *c, const point_row *rows, int64_t count)
{
    int code = MYO_EXIT_OK;
    eff_row *eff = calloc((size_t)(count ? count : 1), sizeof *eff);
    int64_t k = 0;
    if (c->rank == 0 && eff) {
        printf("# efficiency table (LRA paper style), task %s, batch %lld, %d rank%s: training "
               "steps/s and memory relative to dense-materialized (the LRA Transformer) at the "
               "same n\n",
               c->t->name, (long long)c->o->batch, c->P, c->P > 1 ? "s" : "");
        printf("#%-18s %7s %10s %8s %10s %8s %10s %8s\n", "mixer", "n", "steps/s", "speed",
               "rss_MiB", "memory", "model_MiB", "model");
        for (int64_t i = 0; i < count; i++) {
            const point_row *r = &rows[i];
            if (strcmp(r->status, "OK") != 0) continue;
            const point_row *base = NULL;
            for (int64_t j = 0; j < count; j++)
                if (rows[j].n == r->n && strcmp(rows[j].mixer, MIXER_NAME[M_DENSE_MAT]) == 0 &&
                    strcmp(rows[j].status, "OK") == 0)
                    base = &rows[j];
            eff_row *e = &eff[k++];
            e->run_id = r->run_id, e->point = r->point, e->n = r->n, e->batch = r->batch;
            snprintf(e->task, sizeof e->task, "%s", r->task);
            snprintf(e->mixer, sizeof e->mixer, "%s", r->mixer);
            e->steps_per_s = r->steps_per_s, e->peak_rss_mib = r->peak_rss_mib;
            e->model_mib = r->model_mib;
            e->speed_rel = base ? r->steps_per_s / base->steps_per_s : NAN;
            e->memory_rel = base ? r->peak_rss_mib / base->peak_rss_mib : NAN;
            e->model_memory_rel = base ? r->model_mib / base->model_mib : NAN;
            snprintf(e->note, sizeof e->note, "%s",
                     base ? "-" : "no dense-materialized row at this n (skipped or not run)");
            char sp[16] = "-", me[16] = "-", mo[16] = "-";
            if (base) {
                snprintf(sp, sizeof sp, "%.2fx", e->speed_rel);
                snprintf(me, sizeof me, "%.2fx", e->memory_rel);
                snprintf(mo, sizeof mo, "%.2fx", e->model_memory_rel);
            }
            printf("# %-18s %7lld %10.4g %8s %10.1f %8s %10.1f %8s\n", e->mixer, (long long)e->n,
                   e->steps_per_s, sp, e->peak_rss_mib, me, e->model_mib, mo);
        }
        if (k == 0) printf("#   (no measured point)\n");
        fflush(stdout);
    }
    if (myo_bench_agree(eff ? MYO_EXIT_OK : MYO_EXIT_INTERNAL) != MYO_EXIT_OK) {
        free(eff);
        return MYO_EXIT_INTERNAL;
    }
    code = append_agreed(c, TAB_EFF, eff, k);
    free(eff);
    return code;
}

/* ------------------------------------------------------------ main */

/* Rank 0 opens the log (creating or appending; the schema checked before
 * anything is written) and loads the keys for --resume; all ranks agree. */
static int open_log(sweep_ctx *c, const run_meta *meta)
{
    int code = MYO_EXIT_OK;
    if (c->rank == 0) {
        myo_status s = myo_h5log_open(c->o->output, SCHEMA, TABLES, TAB_COUNT, &c->log);
        if (s != MYO_OK) {
            myo_bench_say(0, "%s", myo_error_detail());
            code = myo_cli_exit_code(s);
            if (code == MYO_EXIT_USAGE) code = MYO_EXIT_INTERNAL; /* our schema, not the user */
        } else {
            c->run_id = myo_h5log_run_id(c->log);
            if (c->o->resume) {
                static const char *const done[] = {"OK", "SKIP", NULL};
                s = myo_sweep_keys_load(c->log, TAB_POINTS, "point_key", "status", done, &c->done);
                if (s != MYO_OK) {
                    myo_bench_say(0, "%s: reading the recorded points: %s", c->o->output,
                                  myo_error_detail());
                    code = MYO_EXIT_IO;
                }
            }
            if (code == MYO_EXIT_OK && run_meta_write(c->log, meta) != MYO_OK) {
                myo_bench_say(0, "%s: writing the run's metadata: %s", c->o->output,
                              myo_error_detail());
                code = MYO_EXIT_IO;
            }
        }
    }
    code = myo_bench_agree(code);
    int64_t id = c->run_id;
    myo_bench_mpi_check(MPI_Bcast(&id, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
    c->run_id = id;
    return code;
}

/* The run's own metadata, after run_meta_collect's (Local): what the
 * rows hold too, and the preset with its source. */
static myo_status add_meta(const sweep_ctx *c, run_meta *meta)
{
    const lra_opts *o = c->o;
    const lra_task *t = c->t;
    char lengths[512] = "", mixers[128] = "", preset[256], config[512];
    size_t used = 0;
    for (int i = 0; i < o->n_lengths && used < sizeof lengths; i++)
        used += (size_t)snprintf(lengths + used, sizeof lengths - used, "%s%lld", i ? "," : "",
                                 (long long)o->lengths[i]);
    used = 0;
    for (int i = 0; i < o->n_mixers && used < sizeof mixers; i++)
        used += (size_t)snprintf(mixers + used, sizeof mixers - used, "%s%s", i ? "," : "",
                                 MIXER_NAME[o->mixer[i]]);
    const lra_task *pt = &LRA_TASKS[o->task]; /* the preset, whatever --data sets */
    snprintf(preset, sizeof preset,
             "n=%lld V=%lld C=%lld L=%lld D=%lld H=%lld F=%lld batch=%lld documents=%d "
             "(docs/lra.md sections 1 and 2)%s",
             (long long)pt->n, (long long)pt->vocab, (long long)pt->classes, (long long)pt->layers,
             (long long)pt->d_model, (long long)pt->heads, (long long)pt->mlp_dim,
             (long long)pt->batch, docs_of(pt), o->data ? "; n, V, C from --data" : "");
    snprintf(config, sizeof config,
             "L=%lld D=%lld H=%lld F=%lld batch=%lld ranks=%d steps=%lld warmup=%lld "
             "infer_steps=%lld seed=%llu time_budget=%g adamw lr=%g beta1=%g beta2=%g eps=%g "
             "weight_decay=%g",
             (long long)o->L, (long long)o->D, (long long)o->H, (long long)o->F,
             (long long)o->batch, c->P, (long long)o->steps, (long long)o->warmup,
             (long long)o->infer_steps, (unsigned long long)o->seed, o->time_budget, o->adam.lr,
             o->adam.beta1, o->adam.beta2, o->adam.eps, o->adam.weight_decay);
    char data_note[512], data_attrs[4096] = "";
    if (o->data) {
        snprintf(data_note, sizeof data_note,
                 "%s (%s, source %s): %lld examples of task %s, n=%lld V=%lld C=%lld%s%s%s; "
                 "batches in the file's order, wrapping around; timing only, no accuracy claims",
                 o->data, MYO_DATA_FORMAT, o->info.source, (long long)o->info.count, o->info.task,
                 (long long)t->n, (long long)t->vocab, (long long)t->classes,
                 o->has_parents ? ", parse trees" : "", t->image ? ", pixel ordering " : "",
                 t->image ? o->data_order : "");
        used = 0; /* the file's own attributes (generator or loader parameters), one line */
        for (int i = 0; i < o->info.nattrs && used < sizeof data_attrs; i++)
            used += (size_t)snprintf(data_attrs + used, sizeof data_attrs - used, "%s%s=%s",
                                     i ? "; " : "", o->info.attr_key[i], o->info.attr_value[i]);
        if (o->info.skipped_attrs && used < sizeof data_attrs) /* what the reader could not keep */
            snprintf(data_attrs + used, sizeof data_attrs - used, "%snot kept (%d): %s",
                     used ? "; " : "", o->info.skipped_attrs, o->info.skipped_names);
    } else
        snprintf(data_note, sizeof data_note,
                 "a deterministic synthetic stream with the task's shape (ids uniform over "
                 "[0, V), labels uniform over [0, C)); timing only, no accuracy claims");
    const char *kv[][2] = {
        {"schema", SCHEMA},
        {"task", t->name},
        {"data", o->data ? o->data_label : "synthetic"},
        {"data_note", data_note},
        {"data_file", o->data ? o->data : "-"},
        {"data_source", o->data ? o->info.source : "synthetic"},
        {"data_attrs", o->data ? (data_attrs[0] ? data_attrs : "-") : "-"},
        {"preset", preset},
        {"config", config},
        {"mixers", mixers},
        {"lengths", lengths},
        {"efficiency_table", o->efficiency ? "yes" : "no"},
        {"tree", o->parse_trees ? "parse" : o->tree.name},
        {"tree_note", o->tree_auto ? t->tree_why : "--tree given"},
        {"resume", o->resume ? "yes" : "no"},
    };
    myo_status s = MYO_OK;
    for (size_t i = 0; i < sizeof kv / sizeof *kv && s == MYO_OK; i++)
        s = run_meta_set(meta, kv[i][0], kv[i][1]);
    return s;
}

static int lra_main(int argc, char **argv)
{
    lra_opts o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0) return code;
    myo_bench_blas_single_thread();
    const double t_start = MPI_Wtime();

    sweep_ctx c;
    memset(&c, 0, sizeof c);
    c.o = &o, c.t = o.data ? &o.data_task : &LRA_TASKS[o.task];
    c.P = myo_bench_size(), c.rank = myo_bench_rank();
    c.b_local = o.batch / c.P + (c.rank < o.batch % c.P);
    c.b_offset = c.rank * (o.batch / c.P) + (c.rank < o.batch % c.P ? c.rank : o.batch % c.P);

    /* the points; the memory budget first: a point predicted over it is
     * recorded SKIP:memory without building anything (run_point), and
     * every other point's model configuration is checked before any work
     * (Myosotis' tree comes after the budget too: run_point builds it) */
    myo_bench_budget_init(o.max_memory, &c.budget);
    myo_bench_say_hold();
    point_id *pts = calloc((size_t)(o.n_lengths * o.n_mixers), sizeof *pts);
    int64_t n_pts = 0;
    if (!pts) {
        myo_bench_say(1, "out of memory");
        code = MYO_EXIT_INTERNAL;
    }
    for (int i = 0; i < o.n_lengths && code < 0; i++)
        for (int k = 0; k < o.n_mixers && code < 0; k++) {
            const int m = o.mixer[k];
            const int64_t n = o.lengths[i];
            if (o.efficiency && m == M_DENSE_MAT && n > EFF_DENSE_MAX) continue;
            myo_model_config cfg = model_config(&c, m, n, NULL);
            if (!over_budget(&c, m, n) && myo_model_config_check(&cfg) != MYO_OK) {
                myo_bench_say(0, "%s at n = %lld: %s", MIXER_NAME[m], (long long)n,
                              myo_error_detail());
                code = MYO_EXIT_USAGE;
            }
            pts[n_pts++] = (point_id){m, n};
        }
    code = myo_bench_agree_said(code < 0 ? MYO_EXIT_OK : code);
    /* --data: the examples the run uses, read and validated before the
     * results file is opened (a bad file leaves it untouched) */
    if (code == MYO_EXIT_OK && o.data) code = load_data(&c);
    if (code != MYO_EXIT_OK) {
        myo_dataset_free(&c.ds);
        free(pts);
        return code;
    }

    run_meta meta;
    myo_status s = run_meta_collect(MPI_COMM_WORLD, argc, argv, &meta);
    if (s == MYO_OK) s = add_meta(&c, &meta);
    if (s != MYO_OK) myo_bench_say(1, "collecting the run's metadata: %s", myo_error_detail());
    code = myo_bench_agree(s == MYO_OK ? MYO_EXIT_OK : myo_bench_status_code(s));
    if (code == MYO_EXIT_OK) code = open_log(&c, &meta);
    if (code != MYO_EXIT_OK) {
        if (c.rank == 0) myo_h5log_close(&c.log);
        myo_sweep_keys_free(&c.done);
        run_meta_free(&meta);
        myo_dataset_free(&c.ds);
        free(pts);
        return code;
    }
    myo_sweep_catch_signals();
    if (c.rank == 0) print_header(&c, &meta, n_pts);

    point_row *rows = calloc((size_t)(n_pts ? n_pts : 1), sizeof *rows);
    code = myo_bench_agree(rows ? MYO_EXIT_OK : MYO_EXIT_INTERNAL);
    int64_t n_rows = 0, resumed = 0;
    double cost_all = 0;
    for (int64_t i = 0; i < n_pts; i++)
        cost_all += point_cost(&c, pts[i].mixer, pts[i].n);
    myo_sweep_progress prog;
    myo_sweep_progress_start(&prog, o.progress, n_pts, cost_all);
    int sig = 0;
    for (int64_t i = 0; i < n_pts && code == MYO_EXIT_OK; i++) {
        const int m = pts[i].mixer;
        const int64_t n = pts[i].n;
        const double cost = point_cost(&c, m, n);
        char what[96];
        if ((sig = myo_sweep_stop_agreed()) != 0) break;
        point_row *r = &rows[n_rows];
        c.point_seq = n_rows + 1;
        row_init(&c, m, n, r);
        if (o.resume && myo_sweep_keys_has_agreed(&c.done, r->point_key)) {
            resumed++;
            snprintf(what, sizeof what, "%s n = %lld: recorded already (--resume)", MIXER_NAME[m],
                     (long long)n);
            myo_sweep_progress_point(&prog, cost, 0, what);
            continue;
        }
        rep_row *reps = NULL;
        int64_t n_reps = 0;
        code = run_point(&c, m, n, r, &reps, &n_reps);
        if (code != MYO_EXIT_OK) {
            free(reps);
            break;
        }
        n_rows++;
        /* the file first: a row on stdout is a row in the file */
        code = append_agreed(&c, TAB_REPS, reps, n_reps);
        if (code == MYO_EXIT_OK) code = append_agreed(&c, TAB_POINTS, r, 1);
        free(reps);
        if (code == MYO_EXIT_OK && c.rank == 0) print_row(r);
        int ran = strcmp(r->status, "OK") == 0;
        snprintf(what, sizeof what, "%s n = %lld: %s%s", MIXER_NAME[m], (long long)n, r->status,
                 ran                                     ? ""
                 : strcmp(r->status, "INTERRUPTED") == 0 ? ""
                                                         : " (skipped)");
        myo_sweep_progress_point(&prog, cost, ran, what);
        if (strcmp(r->status, "INTERRUPTED") == 0) { /* the same on every rank */
            sig = myo_sweep_stop_agreed();
            break;
        }
    }
    if (code == MYO_EXIT_OK) code = efficiency_table(&c, rows, n_rows);
    if (c.rank == 0) {
        if (resumed)
            printf("# --resume: %lld point%s recorded by earlier runs skipped\n",
                   (long long)resumed, resumed > 1 ? "s" : "");
        if (sig)
            printf("# stopped by signal %d: %lld of %lld points not run (rerun with --resume)\n",
                   sig, (long long)(n_pts - n_rows - resumed), (long long)n_pts);
        fflush(stdout);
    }
    if (code == MYO_EXIT_OK) myo_bench_print_totals(t_start);
    if (c.rank == 0) {
        s = myo_h5log_close(&c.log);
        if (s != MYO_OK) {
            myo_bench_say(0, "%s: closing: %s", o.output, myo_error_detail());
            if (code == MYO_EXIT_OK) code = MYO_EXIT_IO;
        }
    }
    code = myo_bench_agree(code);
    myo_sweep_keys_free(&c.done);
    run_meta_free(&meta);
    myo_dataset_free(&c.ds);
    free(rows), free(pts);
    if (code == MYO_EXIT_OK && sig) {
        int ssig = myo_bench_agree(sig);
        return 128 + ssig;
    }
    if (code == MYO_EXIT_OK && c.invalid) code = MYO_EXIT_CHECK;
    return code;
}

int main(int argc, char **argv)
{
    return myo_bench_main(argc, argv, TOOL, lra_main);
}
