/* myo_train.c -- myo-train, training to a measured accuracy.
 *
 * Trains the LRA encoder classifier (myosotis_model.h) with one token
 * mixer on a myo-data file's training split, evaluates it on the
 * validation split every K updates, and reports the test accuracy of the
 * parameters that scored best on validation: the accuracy half of the
 * LRA comparison (myo-lra and myo-bench give the cost half).
 *
 * Recipe: AdamW (beta1 0.9, beta2 0.98, eps 1e-9, LRA's), a linear
 * warm-up then a cosine (or linear, or no) decay, weight decay, gradient
 * norm clipping, dropout and label smoothing, every value from the task's
 * recipe (lra_task.h: "lra", the LRA configuration, or "small") unless
 * given.
 *
 * Data order: epoch e visits the training split in a permutation drawn
 * from (seed, e) alone; update s of the run takes the global examples
 * [b B, (b + 1) B) of that order, b = s mod (updates per epoch), and the
 * last partial batch of an epoch is dropped.  Under MPI with P ranks the
 * batch is split over the ranks (data parallel: rank r takes its share,
 * the gradients are summed with MPI_Allreduce, every rank applies the
 * same update).  Dropout masks are a function of (seed, update, rank).
 * So the state of a training is its parameters, AdamW's moments and the
 * update count: a checkpoint (train_checkpoint.h) holds them, and
 * resuming gives the parameters of an uninterrupted run bit for bit (the
 * same ranks, the same BLAS threads).
 *
 * Evaluation: a split's examples are divided over the ranks in contiguous
 * shares, each example evaluated exactly once; loss and correct counts
 * are summed over the ranks.
 *
 * Log (HDF5, schema "myo-train/1", appended to, rank 0): the tables
 * steps, evals and results (README.md, "myo-train"), the run metadata.
 */
#include <config.h>

#include "bench.h"
#include "cli.h"
#include "dataset_file.h"
#include "images.h"
#include "lra_task.h"
#include "orderings.h"
#include "run_meta.h"
#include "sweep.h"
#include "train_checkpoint.h"
#include "myosotis.h"
#include "myosotis_h5log.h"
#include "myosotis_model.h"

#include <mpi.h>

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const TOOL = "myo-train";
#define SCHEMA "myo-train/1"
#define DEFAULT_OUTPUT "myo-train.h5"
#define DEFAULT_SEED 1
#define EXIT_DIVERGED 7

enum { M_MYOSOTIS, M_DENSE_TILED, M_DENSE_MAT, M_SSM, M_COUNT };
static const myo_mixer_kind MIXER_KIND[M_COUNT] = {MYO_MIXER_MYOSOTIS, MYO_MIXER_DENSE_TILED,
                                                   MYO_MIXER_DENSE_MATERIALIZED, MYO_MIXER_SSM};
static const char *MIXER_NAME[M_COUNT + 1];
static const char *const ORDER_WORDS[] = {"raster", "morton", "hilbert", NULL};
static const char *const DECAY_WORDS[] = {"cosine", "linear", "constant", NULL};
static const char *const PROGRESS_WORDS[] = {"auto", "lines", "none", NULL};

/* ------------------------------------------------------------ options */

typedef struct {
    int task, method, recipe, ordering, decay, progress, resume;
    const char *data, *output, *checkpoint;
    int tree_auto, parse_trees;
    opt_tree tree;
    /* -1 (integers) or NAN (reals): the recipe's */
    int64_t steps, batch, warmup, eval_every, checkpoint_every, log_every, stop_at;
    int64_t max_examples; /* of each split: the first ones (0: all) */
    int64_t D, H, F, L;
    double epochs, lr, weight_decay, dropout, label_smoothing, clip, final_fraction;
    uint64_t seed;
    char checkpoint_buf[4096];
    /* the data file's header; without --data (Fashion-MNIST from its
     * Debian package) the whole dataset, loaded */
    myo_dataset info;
    int loaded;
    const char *data_name; /* the file, or the package's folder */
    int has_parents;
    int file_ordering; /* images: the file's pixel order; -1 otherwise */
} train_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s --data FILE.h5 [--method M] [--preset lra|small] [OPTION]...\n"
            "Train the LRA encoder classifier with one token mixer on the training split of\n"
            "a myo-data file, evaluate it on the validation split every K updates, and report\n"
            "the test accuracy of the parameters that did best on validation.  Logs every\n"
            "update's loss and every evaluation to an HDF5 file; checkpoints let a killed or\n"
            "requeued run continue bit for bit (--resume).  Under mpiexec the batch is split\n"
            "over the ranks (data parallel).\n"
            "\n"
            "  --data FILE          a myo-data file with train/validation/test splits (myo-data\n"
            "                       listops, pathfinder, fashion-mnist, cifar write them)\n"
            "  --task TASK          the file's task, checked (listops, text, retrieval, image,\n"
            "                       pathfinder, pathx, fashion-mnist)\n"
            "  --method M           myosotis (default), dense-tiled, dense-materialized, ssm\n"
            "  --preset P           the recipe: lra (the LRA configuration of the task; the\n"
            "                       default) or small (two narrow layers, minutes of a node)\n"
            "  --tree T             Myosotis' tree: auto (parse trees when the file has them,\n"
            "                       kary4 for images, kary2 otherwise), parse, chain, kary<k>,\n"
            "                       heap<k>\n"
            "  --ordering O         images: raster, morton or hilbert pixel order (default:\n"
            "                       the file's); the file is reordered as it is read\n"
            "  --steps S | --epochs E   updates, or passes over the training split\n"
            "  --batch B            examples per update over all ranks\n"
            "  --lr R, --warmup W, --decay cosine|linear|constant, --final-lr-fraction F\n"
            "                       peak rate, warm-up updates, decay to F x peak (default 0)\n"
            "  --weight-decay W, --dropout P, --label-smoothing E, --clip C (0: none)\n"
            "  --d-model D, --heads H, --layers L, --mlp-dim F   the model\n"
            "  --eval-every K       updates between validations (default: a tenth of the run)\n"
            "  --checkpoint FILE    (default: OUTPUT with .h5 replaced by .ckpt.h5)\n"
            "  --checkpoint-every K updates between checkpoints (default: --eval-every)\n"
            "  --log-every K        updates per row of the steps table (default: --eval-every/10)\n"
            "  --resume             continue from the checkpoint (start afresh when there is\n"
            "                       none); without it an existing checkpoint is an error\n"
            "  --stop-at S          stop after update S with a checkpoint (exit 0)\n"
            "  --max-examples N     use only the first N examples of each split (quick runs)\n"
            "  --output FILE        HDF5 log, created or appended to (default %s)\n"
            "  --seed S             parameters, data order and dropout (default %d)\n"
            "  --progress WHEN      auto, lines, none (progress lines on stderr)\n"
            "  --help, --version\n"
            "\n"
            "Exit status: 0 done (or stopped by --stop-at), 2 bad command line or an existing\n"
            "checkpoint without --resume, 3 invalid input: a data file without splits or of\n"
            "another task, a checkpoint of another training or damaged (checksum), a log of\n"
            "another schema; 5 a file cannot be read or written (not HDF5, truncated), 6 out\n"
            "of memory or internal failure, 7 the loss is no longer finite (diverged), 128 +\n"
            "the signal after SIGTERM, SIGINT or SIGUSR1 (a checkpoint is written first).\n",
            TOOL, DEFAULT_OUTPUT, DEFAULT_SEED);
}

/* The examples of split s the run uses. */
static int64_t split_used(const train_opts *o, int s)
{
    const int64_t all = o->info.split_count[s];
    return o->max_examples > 0 && o->max_examples < all ? o->max_examples : all;
}

/* A real option: finite and >= 0. */
static int parse_real(const char *text, void *value)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || v < 0) return -1;
    *(double *)value = v;
    return 0;
}

/* What the command line leaves to the recipe and the file.  Local.  -1
 * to go on, otherwise the exit code after one line. */
static int resolve(train_opts *o)
{
    const myo_dataset *d = &o->info;
    const int task = lra_task_find(d->task);
    if (task < 0) {
        myo_bench_say(0, "--data %s: task '%s' is none of myo-train's", o->data_name, d->task);
        return MYO_EXIT_DATA;
    }
    if (o->task >= 0 && o->task != task) {
        myo_bench_say(0, "--task %s, but --data %s holds task %s", LRA_TASK_NAMES[o->task],
                      o->data_name, d->task);
        return MYO_EXIT_USAGE;
    }
    o->task = task;
    const lra_task *t = &LRA_TASKS[task];
    if (!d->has_splits) {
        myo_bench_say(0,
                      "--data %s has no train/validation/test splits (make it with myo-data, "
                      "which writes them)",
                      o->data_name);
        return MYO_EXIT_DATA;
    }
    for (int s = 0; s < MYO_SPLITS; s++)
        if (d->split_count[s] < 1) {
            myo_bench_say(0, "--data %s: the %s split is empty", o->data_name, myo_split_name(s));
            return MYO_EXIT_DATA;
        }
    if (d->docs != (t->dual ? 2 : 1)) {
        myo_bench_say(0, "--data %s: %lld documents per example, task %s has %d", o->data_name,
                      (long long)d->docs, t->name, t->dual ? 2 : 1);
        return MYO_EXIT_DATA;
    }
    if (d->vocab > 65536 || (o->has_parents && d->n > 32767)) {
        myo_bench_say(0,
                      "--data %s: vocabulary %lld or parse trees of %lld tokens: myo-train "
                      "holds ids in 16 bits and parents in 15",
                      o->data_name, (long long)d->vocab, (long long)d->n);
        return MYO_EXIT_DATA;
    }
    /* pixel orders */
    o->file_ordering = -1;
    if (t->image) {
        const char *ord = myo_dataset_get_attr(d, "ordering");
        myo_ordering fo = MYO_ORDER_RASTER;
        if (ord && myo_ordering_parse(ord, &fo) != MYO_OK) {
            myo_bench_say(0, "--data %s: unknown pixel ordering '%s'", o->data_name, ord);
            return MYO_EXIT_DATA;
        }
        o->file_ordering = (int)fo;
        if (o->ordering < 0) o->ordering = (int)fo;
        int64_t side = (int64_t)llround(sqrt((double)d->n));
        if (side * side != d->n) {
            myo_bench_say(0, "--data %s: %lld pixels are no square image", o->data_name,
                          (long long)d->n);
            return MYO_EXIT_DATA;
        }
    } else if (o->ordering >= 0) {
        myo_bench_say(0, "--ordering applies to images; task %s is not one", t->name);
        return MYO_EXIT_USAGE;
    }
    /* Myosotis' tree */
    if (o->parse_trees && !o->has_parents) {
        myo_bench_say(0, "--tree parse: --data %s has no parse trees", o->data_name);
        return MYO_EXIT_USAGE;
    }
    if (o->method != M_MYOSOTIS)
        o->parse_trees = 0;
    else if (o->tree_auto) {
        if (o->has_parents)
            o->parse_trees = 1;
        else
            opt_parse_tree(t->tree, NULL, &o->tree);
    }
    /* the recipe, then the command line */
    const lra_recipe *r = lra_recipe_of(task, o->recipe);
    if (o->L < 0) o->L = r->layers;
    if (o->D < 0) o->D = r->d_model;
    if (o->H < 0) o->H = r->heads;
    if (o->F < 0) o->F = r->mlp_dim;
    if (o->batch < 0) o->batch = r->batch;
    if (o->steps < 0 && isnan(o->epochs)) o->steps = r->steps, o->epochs = r->epochs;
    if (o->steps < 0) o->steps = 0;
    if (isnan(o->epochs)) o->epochs = 0;
    if (isnan(o->lr)) o->lr = r->lr;
    if (o->warmup < 0) o->warmup = r->warmup;
    if (isnan(o->weight_decay)) o->weight_decay = r->weight_decay;
    if (isnan(o->dropout)) o->dropout = r->dropout;
    if (isnan(o->label_smoothing)) o->label_smoothing = r->label_smoothing;
    if (isnan(o->clip)) o->clip = r->clip;
    if (isnan(o->final_fraction)) o->final_fraction = 0;
    if (myo_bench_heads_check(o->D, o->H) != MYO_EXIT_OK) return MYO_EXIT_USAGE;
    if (!(o->dropout < 1) || !(o->label_smoothing < 1) || !(o->final_fraction <= 1) ||
        !(o->lr > 0)) {
        myo_bench_say(0, "--dropout and --label-smoothing must be below 1, --final-lr-fraction "
                         "at most 1, --lr above 0 (see --help)");
        return MYO_EXIT_USAGE;
    }
    const int64_t P = myo_bench_size();
    if (o->batch < P) {
        myo_bench_say(0, "--batch %lld is smaller than the %lld ranks", (long long)o->batch,
                      (long long)P);
        return MYO_EXIT_USAGE;
    }
    if (o->batch > split_used(o, MYO_SPLIT_TRAIN)) {
        myo_bench_say(0,
                      "--batch %lld is larger than the training split of %s (%lld examples used)",
                      (long long)o->batch, o->data_name, (long long)split_used(o, MYO_SPLIT_TRAIN));
        return MYO_EXIT_USAGE;
    }
    if (!o->checkpoint) {
        size_t len = strlen(o->output);
        int h5 = len > 3 && strcmp(o->output + len - 3, ".h5") == 0;
        snprintf(o->checkpoint_buf, sizeof o->checkpoint_buf, "%.*s.ckpt.h5",
                 (int)(h5 ? len - 3 : len), o->output);
        o->checkpoint = o->checkpoint_buf;
    }
    o->progress = myo_sweep_progress_enabled(o->progress);
    return -1;
}

/* Collective.  -1 to go on, otherwise the exit code (0 after --help). */
static int parse_options(int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->task = o->ordering = -1;
    o->method = M_MYOSOTIS;
    o->recipe = R_LRA;
    o->tree_auto = 1;
    o->output = DEFAULT_OUTPUT;
    o->progress = MYO_SWEEP_PROGRESS_AUTO;
    o->seed = DEFAULT_SEED;
    o->steps = o->batch = o->warmup = o->eval_every = o->checkpoint_every = o->log_every = -1;
    o->stop_at = -1;
    o->L = o->F = -1;
    o->epochs = o->lr = o->weight_decay = o->dropout = o->label_smoothing = o->clip = NAN;
    o->final_fraction = NAN;
    o->decay = MYO_LR_COSINE;
    for (int m = 0; m < M_COUNT; m++)
        MIXER_NAME[m] = myo_mixer_name(MIXER_KIND[m]);
    opt_tree tree;
    int n_tree = 0;
    const char *real = "a number >= 0";
    const opt_spec own[] = {
        {.name = "data", .kind = OPT_TEXT, .value = &o->data},
        {.name = "task", .kind = OPT_WORD, .value = &o->task, .words = LRA_TASK_NAMES},
        {.name = "method",
         .alias = "mixer",
         .kind = OPT_WORD,
         .value = &o->method,
         .words = MIXER_NAME},
        {.name = "preset", .kind = OPT_WORD, .value = &o->recipe, .words = LRA_RECIPE_NAMES},
        {.name = "tree",
         .kind = OPT_TREES,
         .value = &tree,
         .count = &n_tree,
         .max = 1,
         .words = LRA_TREE_WORDS},
        {.name = "ordering", .kind = OPT_WORD, .value = &o->ordering, .words = ORDER_WORDS},
        {.name = "steps", .kind = OPT_INT, .value = &o->steps, .lo = 1, .hi = INT64_C(1) << 40},
        {.name = "epochs",
         .kind = OPT_CUSTOM,
         .value = &o->epochs,
         .parse = parse_real,
         .expect = real},
        {.name = "batch", .kind = OPT_INT, .value = &o->batch, .lo = 1, .hi = 1 << 20},
        {.name = "lr", .kind = OPT_CUSTOM, .value = &o->lr, .parse = parse_real, .expect = real},
        {.name = "warmup", .kind = OPT_INT, .value = &o->warmup, .lo = 0, .hi = INT64_C(1) << 40},
        {.name = "decay", .kind = OPT_WORD, .value = &o->decay, .words = DECAY_WORDS},
        {.name = "final-lr-fraction",
         .kind = OPT_CUSTOM,
         .value = &o->final_fraction,
         .parse = parse_real,
         .expect = real},
        {.name = "weight-decay",
         .kind = OPT_CUSTOM,
         .value = &o->weight_decay,
         .parse = parse_real,
         .expect = real},
        {.name = "dropout",
         .kind = OPT_CUSTOM,
         .value = &o->dropout,
         .parse = parse_real,
         .expect = real},
        {.name = "label-smoothing",
         .kind = OPT_CUSTOM,
         .value = &o->label_smoothing,
         .parse = parse_real,
         .expect = real},
        {.name = "clip",
         .kind = OPT_CUSTOM,
         .value = &o->clip,
         .parse = parse_real,
         .expect = real},
        {.name = "layers", .kind = OPT_INT, .value = &o->L, .lo = 1, .hi = 1024},
        {.name = "mlp-dim", .kind = OPT_INT, .value = &o->F, .lo = 1, .hi = 1 << 20},
        {.name = "eval-every",
         .kind = OPT_INT,
         .value = &o->eval_every,
         .lo = 1,
         .hi = INT64_C(1) << 40},
        {.name = "checkpoint", .kind = OPT_TEXT, .value = &o->checkpoint},
        {.name = "checkpoint-every",
         .kind = OPT_INT,
         .value = &o->checkpoint_every,
         .lo = 1,
         .hi = INT64_C(1) << 40},
        {.name = "log-every",
         .kind = OPT_INT,
         .value = &o->log_every,
         .lo = 1,
         .hi = INT64_C(1) << 40},
        {.name = "resume", .kind = OPT_FLAG, .value = &o->resume},
        {.name = "max-examples",
         .kind = OPT_INT,
         .value = &o->max_examples,
         .lo = 1,
         .hi = INT64_C(1) << 40},
        {.name = "stop-at", .kind = OPT_INT, .value = &o->stop_at, .lo = 1, .hi = INT64_C(1) << 40},
        {.name = "output", .kind = OPT_TEXT, .value = &o->output, .letter = 'o'},
        {.name = "seed", .kind = OPT_INT, .value = &o->seed, .lo = 0, .hi = INT64_MAX},
        {.name = "progress", .kind = OPT_WORD, .value = &o->progress, .words = PROGRESS_WORDS},
    };
    myo_bench_common_opts common;
    myo_bench_common_defaults(&common);
    common.D = common.H = 0;
    myo_bench_say_hold();
    int code = myo_bench_parse_options(argc, argv, own, (int)(sizeof own / sizeof own[0]),
                                       MYO_BENCH_OPT_MODEL, &common, usage);
    o->D = common.D ? common.D : -1;
    o->H = common.H ? common.H : -1;
    if (code < 0 && n_tree) code = lra_tree_option(&tree, &o->tree_auto, &o->parse_trees, &o->tree);
    if (code < 0 && !o->data && o->task != T_FASHION_MNIST) {
        myo_bench_say(0, "--data FILE is required%s%s (a myo-data file with splits: see --help)",
                      o->task >= 0 ? " for task " : "",
                      o->task >= 0 ? LRA_TASK_NAMES[o->task] : "");
        code = MYO_EXIT_USAGE;
    }
    if (code < 0 && o->steps > 0 && !isnan(o->epochs)) {
        myo_bench_say(0, "--steps and --epochs exclude each other");
        code = MYO_EXIT_USAGE;
    }
    if (code < 0 && o->data) {
        o->data_name = o->data;
        myo_status s = myo_dataset_read_info(o->data, &o->info, &o->has_parents);
        if (s != MYO_OK) {
            myo_bench_say(1, "--data: %s", myo_data_error());
            code = myo_cli_exit_code(s);
        }
    } else if (code < 0) { /* --task fashion-mnist: the Debian package, read by every rank */
        o->data_name = MYO_FMNIST_DIR;
        myo_status s = myo_fashion_mnist_load(NULL, &o->info);
        if (s != MYO_OK) {
            myo_bench_say(1,
                          "Fashion-MNIST: %s (apt-get install dataset-fashion-mnist, or give "
                          "--data FILE)",
                          myo_data_error());
            code = myo_cli_exit_code(s);
        }
        o->loaded = 1;
    }
    if ((code = myo_bench_agree_said(code)) >= 0) return code;
    if ((code = lra_data_agree_view(o->data_name, &o->info, o->has_parents)) >= 0) return code;
    myo_bench_say_hold();
    return myo_bench_agree_said(resolve(o));
}

/* --------------------------------------------------------------- data */

/* One split in memory, compact: ids in 16 bits, parents in 15. */
typedef struct {
    int64_t count;
    uint16_t *tokens; /* (count, docs, n) */
    int32_t *labels;  /* (count,) */
    int16_t *parents; /* (count, n) or NULL */
} split_data;

typedef struct {
    const train_opts *o;
    const lra_task *t;
    int rank, P;
    int64_t n, docs, B, b_local, b_offset, max_local;
    int64_t steps_per_epoch, total;
    split_data split[MYO_SPLITS];
    int32_t *perm;                      /* pixel reordering of the file's images, or NULL */
    int64_t perm_epoch;                 /* the epoch of order, -1 when none */
    int64_t *order;                     /* (train count,) */
    int32_t *tokens, *labels, *parents; /* a rank's batch */
    myo_tree *tree;
    myo_model *model;
    myo_lr_schedule sched;
    myo_adam_config adam;
    myo_h5log *log;
    int64_t run_id;
    char train_id[96], key[512];
    train_checkpoint ck; /* the state: ck.params etc. alias the model's, best_params owned */
    double t_start, wall_before;
} train_ctx;

static void split_free(split_data *s)
{
    free(s->tokens), free(s->labels), free(s->parents);
    memset(s, 0, sizeof *s);
}

/* The image reordering from the file's pixel order to --ordering, as a
 * gather permutation (out[p] = in[perm[p]]), or NULL when they agree. */
static myo_status pixel_perm(const train_opts *o, int64_t n, int32_t **out)
{
    *out = NULL;
    if (o->file_ordering < 0 || o->file_ordering == o->ordering) return MYO_OK;
    const int side = (int)llround(sqrt((double)n));
    int32_t *from = malloc((size_t)n * sizeof *from), *to = malloc((size_t)n * sizeof *to),
            *inv = malloc((size_t)n * sizeof *inv);
    myo_status s = from && to && inv ? MYO_OK : MYO_ERR_NOMEM;
    if (s == MYO_OK) s = myo_ordering_perm((myo_ordering)o->file_ordering, side, from);
    if (s == MYO_OK) s = myo_ordering_perm((myo_ordering)o->ordering, side, to);
    if (s == MYO_OK) s = myo_perm_inverse(from, n, inv);
    if (s == MYO_OK) /* sequence position q of the file holds raster pixel from[q] */
        for (int64_t p = 0; p < n; p++)
            to[p] = inv[to[p]];
    free(from), free(inv);
    if (s != MYO_OK)
        free(to);
    else
        *out = to;
    return s;
}

/* Read split s of the file into c->split[s], in chunks.  Local. */
static myo_status load_split(train_ctx *c, int s)
{
    const train_opts *o = c->o;
    const int64_t first = myo_dataset_split_first(&o->info, s);
    const int64_t count = split_used(o, s);
    const int64_t n = c->n, row = c->docs * n;
    split_data *sd = &c->split[s];
    sd->count = count;
    sd->tokens = malloc((size_t)(count * row) * sizeof *sd->tokens);
    sd->labels = malloc((size_t)count * sizeof *sd->labels);
    /* the parse trees only when Myosotis runs on them */
    sd->parents = o->parse_trees ? malloc((size_t)(count * n) * sizeof *sd->parents) : NULL;
    int32_t *tmp = malloc((size_t)n * sizeof *tmp);
    if (!sd->tokens || !sd->labels || (o->parse_trees && !sd->parents) || !tmp) {
        free(tmp);
        return myo_data_fail(MYO_ERR_NOMEM, "the %s split (%lld examples): out of memory",
                             myo_split_name(s), (long long)count);
    }
    myo_status st = MYO_OK;
    for (int64_t done = 0; done < count && st == MYO_OK;) {
        const int64_t chunk = count - done < 1024 ? count - done : 1024;
        myo_dataset d;
        memset(&d, 0, sizeof d);
        if (o->loaded) { /* a view of the loaded examples */
            const myo_dataset *all = &o->info;
            d = *all, d.count = chunk;
            d.tokens = all->tokens + (first + done) * row, d.labels = all->labels + first + done;
            d.parents = all->parents ? all->parents + (first + done) * n : NULL;
        } else {
            st = myo_dataset_read_range(o->data, first + done, chunk, &d);
        }
        if (st == MYO_OK && (d.n != n || d.docs != c->docs))
            st = myo_data_fail(MYO_ERR_DATA, "%s changed while being read", o->data_name);
        for (int64_t e = 0; st == MYO_OK && e < chunk; e++) {
            for (int64_t g = 0; g < c->docs; g++) {
                const int32_t *src = d.tokens + (e * c->docs + g) * n;
                if (c->perm) {
                    myo_perm_gather(c->perm, n, src, tmp);
                    src = tmp;
                }
                uint16_t *dst = sd->tokens + ((done + e) * c->docs + g) * n;
                for (int64_t j = 0; j < n; j++)
                    dst[j] = (uint16_t)src[j];
            }
            sd->labels[done + e] = d.labels[e];
            if (sd->parents)
                for (int64_t j = 0; j < n; j++)
                    sd->parents[(done + e) * n + j] = (int16_t)d.parents[e * n + j];
        }
        if (!o->loaded) myo_dataset_free(&d);
        done += chunk;
    }
    free(tmp);
    return st;
}

/* Examples idx[0 .. count) of split sd into the batch buffers. */
static void gather(train_ctx *c, const split_data *sd, const int64_t *idx, int64_t first,
                   int64_t count)
{
    const int64_t n = c->n, row = c->docs * n;
    for (int64_t i = 0; i < count; i++) {
        const int64_t e = idx ? idx[first + i] : first + i;
        const uint16_t *src = sd->tokens + e * row;
        for (int64_t j = 0; j < row; j++)
            c->tokens[i * row + j] = src[j];
        c->labels[i] = sd->labels[e];
        if (sd->parents)
            for (int64_t j = 0; j < n; j++)
                c->parents[i * n + j] = sd->parents[e * n + j];
    }
}

/* The training order of epoch e (Fisher-Yates from (seed, e)). */
static void epoch_order(train_ctx *c, int64_t epoch)
{
    if (c->perm_epoch == epoch) return;
    const int64_t E = c->split[MYO_SPLIT_TRAIN].count;
    myo_rng rng = myo_rng_seed(c->o->seed ^ 0x6f72646572ULL /* "order" */ ^
                               ((uint64_t)epoch * 0x9e3779b97f4a7c15ULL));
    for (int64_t i = 0; i < E; i++)
        c->order[i] = i;
    for (int64_t i = E - 1; i > 0; i--) {
        int64_t j = (int64_t)myo_rng_below(&rng, (uint64_t)i + 1);
        int64_t t = c->order[i];
        c->order[i] = c->order[j], c->order[j] = t;
    }
    c->perm_epoch = epoch;
}

/* ---------------------------------------------------------------- log */

typedef struct {
    int64_t run_id;
    char train_id[96];
    int64_t step;
    double epoch, loss, lr, grad_norm, examples_per_s, wall_s;
} step_row;

typedef struct {
    int64_t run_id;
    char train_id[96];
    int64_t step;
    char split[16];
    double loss, accuracy;
    int64_t examples;
    double wall_s;
} eval_row;

typedef struct {
    int64_t run_id;
    char train_id[96], task[32], method[32], tree[32], ordering[16];
    int64_t seed;
    char preset[16];
    int64_t params, steps, best_step;
    double val_accuracy, test_accuracy, test_loss, train_s, examples_per_s;
    int64_t peak_bytes, ranks, batch;
} result_row;

#define I64(s, m)                                                                                  \
    {                                                                                              \
#m, MYO_H5COL_INT64, offsetof(s, m), 0                                                     \
    }
#define DBL(s, m)                                                                                  \
    {                                                                                              \
#m, MYO_H5COL_DOUBLE, offsetof(s, m), 0                                                    \
    }
#define STR(s, m)                                                                                  \
    {                                                                                              \
#m, MYO_H5COL_STRING, offsetof(s, m), sizeof(((s *)0)->m)                                  \
    }
static const myo_h5col STEP_COLS[] = {
    I64(step_row, run_id),    STR(step_row, train_id),       I64(step_row, step),
    DBL(step_row, epoch),     DBL(step_row, loss),           DBL(step_row, lr),
    DBL(step_row, grad_norm), DBL(step_row, examples_per_s), DBL(step_row, wall_s)};
static const myo_h5col EVAL_COLS[] = {
    I64(eval_row, run_id), STR(eval_row, train_id), I64(eval_row, step),     STR(eval_row, split),
    DBL(eval_row, loss),   DBL(eval_row, accuracy), I64(eval_row, examples), DBL(eval_row, wall_s)};
static const myo_h5col RESULT_COLS[] = {
    I64(result_row, run_id),         STR(result_row, train_id),   STR(result_row, task),
    STR(result_row, method),         STR(result_row, tree),       STR(result_row, ordering),
    I64(result_row, seed),           STR(result_row, preset),     I64(result_row, params),
    I64(result_row, steps),          I64(result_row, best_step),  DBL(result_row, val_accuracy),
    DBL(result_row, test_accuracy),  DBL(result_row, test_loss),  DBL(result_row, train_s),
    DBL(result_row, examples_per_s), I64(result_row, peak_bytes), I64(result_row, ranks),
    I64(result_row, batch)};
#define NCOLS(a) ((int)(sizeof a / sizeof a[0]))
enum { TAB_STEPS, TAB_EVALS, TAB_RESULTS, TAB_COUNT };
static const myo_h5table TABLES[TAB_COUNT] = {
    {"steps", STEP_COLS, NCOLS(STEP_COLS), sizeof(step_row)},
    {"evals", EVAL_COLS, NCOLS(EVAL_COLS), sizeof(eval_row)},
    {"results", RESULT_COLS, NCOLS(RESULT_COLS), sizeof(result_row)}};

/* Rank 0 appends one row; every rank learns whether it worked.
 * Collective.  MYO_EXIT_OK or the exit code after one line. */
static int append(train_ctx *c, int table, const void *row)
{
    int code = MYO_EXIT_OK;
    if (c->rank == 0) {
        myo_status s = myo_h5log_append(c->log, table, row, 1);
        if (s != MYO_OK) {
            myo_bench_say(0, "%s: %s", c->o->output, myo_error_detail());
            code = myo_cli_exit_code(s);
        }
    }
    return myo_bench_agree(code);
}

static const char *tree_name(const train_ctx *c)
{
    if (c->o->method != M_MYOSOTIS) return "-";
    return c->o->parse_trees ? "parse" : c->o->tree.name;
}

static const char *ordering_name(const train_ctx *c)
{
    return c->o->ordering >= 0 ? ORDER_WORDS[c->o->ordering] : "-";
}

/* ------------------------------------------------------------ training */

static double wall(const train_ctx *c)
{
    return c->wall_before + (MPI_Wtime() - c->t_start);
}

/* Collective: the sum over the ranks of v[0 .. count). */
static void sum_ranks(double *v, int count)
{
    myo_bench_sum_over_ranks(v, count);
}

/* Evaluate split s: every example once, over the ranks in contiguous
 * shares, chunks of at most max_local.  Collective. */
static myo_status evaluate(train_ctx *c, int s, double *loss, double *accuracy, int64_t *examples)
{
    const split_data *sd = &c->split[s];
    const int64_t E = sd->count, lo = E * c->rank / c->P, hi = E * (c->rank + 1) / c->P;
    const int64_t most = (E + c->P - 1) / c->P, chunks = (most + c->max_local - 1) / c->max_local;
    double sums[3] = {0, 0, 0}; /* loss x examples, correct, examples */
    myo_status st = myo_model_set_dropout(c->model, 0, 0);
    for (int64_t k = 0; k < chunks; k++) {
        const int64_t first = lo + k * c->max_local;
        const int64_t count =
            first >= hi ? 0 : (hi - first < c->max_local ? hi - first : c->max_local);
        double l = 0;
        int64_t right = 0;
        if (count > 0 && st == MYO_OK) {
            gather(c, sd, NULL, first, count);
            if (c->o->parse_trees) st = myo_model_set_trees(c->model, count, c->parents);
            if (st == MYO_OK)
                st = myo_model_forward(c->model, count, c->tokens, c->labels, &l, &right);
            sums[0] += l * (double)count, sums[1] += (double)right, sums[2] += (double)count;
        }
        if (myo_bench_any_failed(&st)) return st;
    }
    sum_ranks(sums, 3);
    *examples = (int64_t)sums[2];
    *loss = sums[0] / sums[2];
    *accuracy = sums[1] / sums[2];
    return MYO_OK;
}

/* One update (step counted from 0).  Collective. */
static myo_status train_step(train_ctx *c, int64_t step, double *loss, double *gnorm, double *lr)
{
    const int64_t epoch = step / c->steps_per_epoch, pos = step % c->steps_per_epoch;
    epoch_order(c, epoch);
    gather(c, &c->split[MYO_SPLIT_TRAIN], c->order, pos * c->B + c->b_offset, c->b_local);
    myo_status s = MYO_OK;
    if (c->o->parse_trees) s = myo_model_set_trees(c->model, c->b_local, c->parents);
    if (s == MYO_OK)
        s = myo_model_set_dropout(c->model, c->o->dropout,
                                  c->o->seed ^ 0x64726f70ULL ^ ((uint64_t)step << 20) ^
                                      ((uint64_t)c->rank * 0xd1b54a32d192ed03ULL));
    double l = 0;
    if (s == MYO_OK) s = myo_model_forward(c->model, c->b_local, c->tokens, c->labels, &l, NULL);
    if (s == MYO_OK) s = myo_model_backward(c->model);
    if (myo_bench_any_failed(&s)) return s;
    if (c->P > 1) lra_allreduce_grads(c->model, (double)c->b_local / (double)c->B);
    double sum = l * (double)c->b_local / (double)c->B;
    sum_ranks(&sum, 1);
    *loss = sum;
    s = myo_model_clip_grads(c->model, c->o->clip > 0 ? c->o->clip : INFINITY, gnorm);
    if (s != MYO_OK) return s; /* the same gradients on every rank: the same verdict */
    *lr = myo_lr_at(&c->sched, step);
    c->adam.lr = *lr;
    return myo_model_adam_step(c->model, &c->adam);
}

/* Rank 0 writes the checkpoint of the state after `step` updates; every
 * rank learns whether it worked.  Collective. */
static int save_checkpoint(train_ctx *c, int64_t step)
{
    int code = MYO_EXIT_OK;
    if (c->rank == 0) {
        c->ck.step = step;
        c->ck.adam_steps = myo_model_adam_steps(c->model);
        c->ck.wall_s = wall(c);
        char err[600];
        myo_status s = train_checkpoint_write(c->o->checkpoint, &c->ck, err, sizeof err);
        if (s != MYO_OK) {
            myo_bench_say(0, "%s", err);
            code = myo_cli_exit_code(s);
        }
    }
    return myo_bench_agree(code);
}

/* Broadcast the floats of v (count) from rank 0. */
static void bcast_floats(float *v, int64_t count)
{
    for (int64_t done = 0; done < count;) {
        int chunk = count - done > (1 << 30) ? 1 << 30 : (int)(count - done);
        myo_bench_mpi_check(MPI_Bcast(v + done, chunk, MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast");
        done += chunk;
    }
}

/* --resume: rank 0 reads the checkpoint, every rank takes its state.
 * Collective.  *start = the updates done (0 when there is none). */
static int load_checkpoint(train_ctx *c, int64_t *start)
{
    const train_opts *o = c->o;
    struct stat st;
    int exists = stat(o->checkpoint, &st) == 0;
    int code = MYO_EXIT_OK;
    *start = 0;
    if (c->rank == 0 && exists && !o->resume) {
        myo_bench_say(0, "checkpoint %s exists: pass --resume to continue it, or remove it",
                      o->checkpoint);
        code = MYO_EXIT_USAGE;
    }
    if (c->rank == 0 && exists && o->resume) {
        char err[600];
        myo_status s = train_checkpoint_read(o->checkpoint, &c->ck, err, sizeof err);
        if (s != MYO_OK) {
            myo_bench_say(0, "--resume: %s", err);
            code = myo_cli_exit_code(s);
        }
    }
    if ((code = myo_bench_agree(code)) != MYO_EXIT_OK) return code;
    int64_t nums[4] = {c->ck.step, c->ck.adam_steps, c->ck.best_step, exists};
    double reals[3] = {c->ck.wall_s, c->ck.best_accuracy, c->ck.best_loss};
    myo_bench_mpi_check(MPI_Bcast(nums, 4, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
    myo_bench_mpi_check(MPI_Bcast(reals, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    if (!nums[3]) {
        if (o->resume && c->rank == 0)
            fprintf(stderr, "%s: no checkpoint at %s: starting at update 0\n", TOOL, o->checkpoint);
        return MYO_EXIT_OK;
    }
    c->ck.step = nums[0], c->ck.adam_steps = nums[1], c->ck.best_step = nums[2];
    c->ck.wall_s = reals[0], c->ck.best_accuracy = reals[1], c->ck.best_loss = reals[2];
    bcast_floats(c->ck.params, c->ck.num_params);
    bcast_floats(c->ck.moment1, c->ck.num_params);
    bcast_floats(c->ck.moment2, c->ck.num_params);
    bcast_floats(c->ck.best_params, c->ck.num_params);
    if (myo_model_set_adam_steps(c->model, c->ck.adam_steps) != MYO_OK) return MYO_EXIT_INTERNAL;
    c->wall_before = c->ck.wall_s;
    *start = c->ck.step;
    if (c->rank == 0)
        fprintf(stderr, "%s: resuming %s at update %lld of %lld\n", TOOL, c->o->checkpoint,
                (long long)*start, (long long)c->total);
    return MYO_EXIT_OK;
}

/* The model, its tree, the schedule, the batch buffers.  Collective. */
static int setup(train_ctx *c)
{
    const train_opts *o = c->o;
    const int64_t P = c->P, r = c->rank;
    c->B = o->batch;
    c->b_local = c->B / P + (r < c->B % P);
    c->b_offset = r * (c->B / P) + (r < c->B % P ? r : c->B % P);
    c->max_local = c->B / P + (c->B % P != 0);
    const int64_t E = split_used(o, MYO_SPLIT_TRAIN);
    c->steps_per_epoch = E / c->B;
    c->total = o->steps > 0 ? o->steps : (int64_t)ceil(o->epochs * (double)c->steps_per_epoch);
    if (c->total < 1) c->total = 1;
    c->sched = (myo_lr_schedule){o->lr, o->warmup < c->total ? o->warmup : c->total, c->total,
                                 (myo_lr_decay)o->decay, o->final_fraction};
    c->adam = (myo_adam_config){o->lr, 0.9, 0.98, 1e-9, o->weight_decay};
    c->perm_epoch = -1;
    myo_bench_say_hold();
    myo_status s = pixel_perm(o, c->n, &c->perm);
    if (s == MYO_OK && o->method == M_MYOSOTIS && !o->parse_trees)
        s = myo_bench_tree_create(&o->tree, c->n, &c->tree);
    myo_model_config cfg = {
        o->info.vocab,         c->n,    o->D,        o->H, o->F, o->L, o->info.classes, c->t->dual,
        MIXER_KIND[o->method], c->tree, MYO_DIR_BOTH};
    if (s == MYO_OK) s = myo_model_create(&cfg, c->max_local, o->seed, &c->model);
    if (s == MYO_OK) s = myo_model_set_label_smoothing(c->model, o->label_smoothing);
    c->order = malloc((size_t)E * sizeof *c->order);
    c->tokens = malloc((size_t)(c->max_local * c->docs * c->n) * sizeof *c->tokens);
    c->labels = malloc((size_t)c->max_local * sizeof *c->labels);
    c->parents = o->parse_trees ? malloc((size_t)(c->max_local * c->n) * sizeof *c->parents) : NULL;
    if (s == MYO_OK && (!c->order || !c->tokens || !c->labels || (o->parse_trees && !c->parents)))
        s = MYO_ERR_NOMEM;
    if (s == MYO_OK) {
        c->ck.num_params = myo_model_num_params(c->model);
        c->ck.params = myo_model_params(c->model);
        c->ck.moment1 = myo_model_adam_moment1(c->model);
        c->ck.moment2 = myo_model_adam_moment2(c->model);
        c->ck.best_params = malloc((size_t)c->ck.num_params * sizeof(float));
        if (!c->ck.best_params)
            s = MYO_ERR_NOMEM;
        else
            memcpy(c->ck.best_params, c->ck.params, (size_t)c->ck.num_params * sizeof(float));
        c->ck.best_step = -1, c->ck.best_accuracy = -1, c->ck.best_loss = NAN;
        c->ck.seed = (int64_t)o->seed;
    }
    if (s != MYO_OK)
        myo_bench_say(1, "the model: %s",
                      s == MYO_ERR_NOMEM ? "out of memory" : myo_error_detail());
    int code = myo_bench_agree_said(s == MYO_OK ? MYO_EXIT_OK : myo_cli_exit_code(s));
    if (code != MYO_EXIT_OK) return code;
    myo_bench_say_hold();
    for (int sp = 0; sp < MYO_SPLITS && s == MYO_OK; sp++)
        s = load_split(c, sp);
    if (s != MYO_OK) myo_bench_say(1, "--data: %s", myo_data_error());
    return myo_bench_agree_said(s == MYO_OK ? MYO_EXIT_OK : myo_cli_exit_code(s));
}

/* The training's key and id (train_checkpoint.h). */
static void make_key(train_ctx *c)
{
    const train_opts *o = c->o;
    const char *base = strrchr(o->data_name, '/');
    base = base ? base + 1 : o->data_name;
    snprintf(
        c->key, sizeof c->key,
        "task=%s data=%s examples=%lld/%lld/%lld n=%lld method=%s tree=%s ordering=%s layers=%lld "
        "d_model=%lld heads=%lld mlp_dim=%lld batch=%lld updates=%lld lr=%.6g warmup=%lld "
        "decay=%s final=%.6g weight_decay=%.6g dropout=%.6g smoothing=%.6g clip=%.6g "
        "seed=%llu ranks=%d params=%lld",
        c->t->name, base, (long long)split_used(o, 0), (long long)split_used(o, 1),
        (long long)split_used(o, 2), (long long)c->n, MIXER_NAME[o->method], tree_name(c),
        ordering_name(c), (long long)o->L, (long long)o->D, (long long)o->H, (long long)o->F,
        (long long)c->B, (long long)c->total, o->lr, (long long)o->warmup, DECAY_WORDS[o->decay],
        o->final_fraction, o->weight_decay, o->dropout, o->label_smoothing, o->clip,
        (unsigned long long)o->seed, c->P, (long long)c->ck.num_params);
    snprintf(c->ck.key, sizeof c->ck.key, "%s", c->key);
    snprintf(c->train_id, sizeof c->train_id, "%s-%s-%s-%s-s%llu-%08llx", c->t->name,
             MIXER_NAME[o->method], tree_name(c), ordering_name(c), (unsigned long long)o->seed,
             (unsigned long long)(myo_bench_hash_str(c->key) & 0xffffffffULL));
    snprintf(c->ck.train_id, sizeof c->ck.train_id, "%s", c->train_id);
}

/* Rank 0 opens the log and records the run's metadata.  Collective. */
static int open_log(train_ctx *c, int argc, char **argv)
{
    const train_opts *o = c->o;
    run_meta meta;
    myo_bench_say_hold();
    myo_status s = run_meta_collect(MPI_COMM_WORLD, argc, argv, &meta);
    char num[64];
    const char *kv[][2] = {{"tool", TOOL},
                           {"task", c->t->name},
                           {"method", MIXER_NAME[o->method]},
                           {"tree", tree_name(c)},
                           {"ordering", ordering_name(c)},
                           {"preset", LRA_RECIPE_NAMES[o->recipe]},
                           {"data", o->data_name},
                           {"checkpoint", o->checkpoint},
                           {"train_id", c->train_id},
                           {"key", c->key},
                           {"recipe", lra_recipe_of(c->o->task, o->recipe)->why}};
    for (size_t i = 0; s == MYO_OK && i < sizeof kv / sizeof kv[0]; i++)
        s = run_meta_set(&meta, kv[i][0], kv[i][1]);
    snprintf(num, sizeof num, "%llu", (unsigned long long)o->seed);
    if (s == MYO_OK) s = run_meta_set(&meta, "seed", num);
    int code = MYO_EXIT_OK;
    if (s != MYO_OK) {
        myo_bench_say(1, "run metadata: %s", myo_error_detail());
        code = MYO_EXIT_INTERNAL;
    }
    if (code == MYO_EXIT_OK && c->rank == 0) {
        s = myo_h5log_open(o->output, SCHEMA, TABLES, TAB_COUNT, &c->log);
        if (s == MYO_OK) s = run_meta_write(c->log, &meta);
        if (s != MYO_OK) {
            myo_bench_say(0, "%s", myo_error_detail());
            code = myo_cli_exit_code(s);
            if (code == MYO_EXIT_USAGE) code = MYO_EXIT_INTERNAL;
        } else {
            c->run_id = myo_h5log_run_id(c->log);
            run_meta_print(stdout, &meta);
        }
    }
    run_meta_free(&meta);
    return myo_bench_agree_said(code);
}

/* Evaluate on validation after `step` updates, keep the best, log it. */
static int validate(train_ctx *c, int64_t step)
{
    double loss, acc;
    int64_t count;
    myo_bench_say_hold();
    myo_status s = evaluate(c, MYO_SPLIT_VALID, &loss, &acc, &count);
    if (s != MYO_OK) {
        myo_bench_say(1, "evaluation: %s", myo_error_detail());
        return myo_bench_agree_said(myo_cli_exit_code(s));
    }
    const int best = acc > c->ck.best_accuracy;
    if (best) {
        c->ck.best_accuracy = acc, c->ck.best_loss = loss, c->ck.best_step = step;
        memcpy(c->ck.best_params, c->ck.params, (size_t)c->ck.num_params * sizeof(float));
    }
    eval_row row = {.run_id = c->run_id,
                    .step = step,
                    .loss = loss,
                    .accuracy = acc,
                    .examples = count,
                    .wall_s = wall(c)};
    snprintf(row.train_id, sizeof row.train_id, "%s", c->train_id);
    snprintf(row.split, sizeof row.split, "validation");
    if (c->rank == 0 && c->o->progress)
        fprintf(stderr, "%s: update %lld: validation accuracy %.2f%% loss %.4f (%lld examples)%s\n",
                TOOL, (long long)step, 100 * acc, loss, (long long)count, best ? " best" : "");
    return append(c, TAB_EVALS, &row);
}

/* The end: the test split on the best validation parameters, the
 * results row and the summary.  Collective. */
static int finish(train_ctx *c, double ex_per_s)
{
    const int64_t P = c->ck.num_params;
    float *now = malloc((size_t)P * sizeof *now);
    if (!now) return MYO_EXIT_INTERNAL;
    memcpy(now, c->ck.params, (size_t)P * sizeof *now);
    memcpy(c->ck.params, c->ck.best_params, (size_t)P * sizeof *now);
    double loss, acc;
    int64_t count;
    myo_bench_say_hold();
    myo_status s = evaluate(c, MYO_SPLIT_TEST, &loss, &acc, &count);
    memcpy(c->ck.params, now, (size_t)P * sizeof *now);
    free(now);
    if (s != MYO_OK) {
        myo_bench_say(1, "test evaluation: %s", myo_error_detail());
        return myo_bench_agree_said(myo_cli_exit_code(s));
    }
    eval_row er = {.run_id = c->run_id,
                   .step = c->ck.best_step,
                   .loss = loss,
                   .accuracy = acc,
                   .examples = count,
                   .wall_s = wall(c)};
    snprintf(er.train_id, sizeof er.train_id, "%s", c->train_id);
    snprintf(er.split, sizeof er.split, "test");
    int code = append(c, TAB_EVALS, &er);
    if (code != MYO_EXIT_OK) return code;
    double peak = myo_bench_peak_rss_mib();
    myo_bench_max_over_ranks(&peak, 1);
    result_row r = {.run_id = c->run_id,
                    .seed = (int64_t)c->o->seed,
                    .params = P,
                    .steps = c->total,
                    .best_step = c->ck.best_step,
                    .val_accuracy = c->ck.best_accuracy,
                    .test_accuracy = acc,
                    .test_loss = loss,
                    .train_s = wall(c),
                    .examples_per_s = ex_per_s,
                    .peak_bytes = (int64_t)(peak * 1048576.0),
                    .ranks = c->P,
                    .batch = c->B};
    snprintf(r.train_id, sizeof r.train_id, "%s", c->train_id);
    snprintf(r.task, sizeof r.task, "%s", c->t->name);
    snprintf(r.method, sizeof r.method, "%s", MIXER_NAME[c->o->method]);
    snprintf(r.tree, sizeof r.tree, "%s", tree_name(c));
    snprintf(r.ordering, sizeof r.ordering, "%s", ordering_name(c));
    snprintf(r.preset, sizeof r.preset, "%s", LRA_RECIPE_NAMES[c->o->recipe]);
    code = append(c, TAB_RESULTS, &r);
    if (code == MYO_EXIT_OK && c->rank == 0) {
        printf("%-14s %-18s %-6s %-8s %6s %8s %9s %9s %9s %10s %10s %9s\n", "task", "method",
               "tree", "ordering", "seed", "updates", "best_at", "val_acc%", "test_acc%", "train_s",
               "examples/s", "peak_MiB");
        printf("%-14s %-18s %-6s %-8s %6lld %8lld %9lld %9.2f %9.2f %10.1f %10.1f %9.0f\n", r.task,
               r.method, r.tree, r.ordering, (long long)r.seed, (long long)r.steps,
               (long long)r.best_step, 100 * r.val_accuracy, 100 * r.test_accuracy, r.train_s,
               r.examples_per_s, peak);
        printf("# log: %s (train_id %s); checkpoint: %s\n", c->o->output, c->train_id,
               c->o->checkpoint);
    }
    return code;
}

static int train_loop(train_ctx *c, int64_t start)
{
    const train_opts *o = c->o;
    const int64_t total = c->total;
    const int64_t eval_every = o->eval_every > 0 ? o->eval_every : (total + 9) / 10;
    const int64_t ck_every = o->checkpoint_every > 0 ? o->checkpoint_every : eval_every;
    const int64_t log_every = o->log_every > 0   ? o->log_every
                              : eval_every >= 10 ? eval_every / 10
                                                 : 1;
    const int64_t stop = o->stop_at > 0 && o->stop_at < total ? o->stop_at : total;
    double acc_loss = 0, acc_t0 = MPI_Wtime(), last_gnorm = 0, last_lr = 0;
    int64_t acc_steps = 0, trained = 0;
    double train_time = 0;
    int code = MYO_EXIT_OK;
    for (int64_t step = start; step < stop; step++) {
        double loss, gnorm, lr;
        const double t0 = MPI_Wtime();
        myo_bench_say_hold();
        myo_status s = train_step(c, step, &loss, &gnorm, &lr);
        train_time += MPI_Wtime() - t0, trained++;
        if (s != MYO_OK) {
            myo_bench_say(1, "update %lld: %s", (long long)step, myo_error_detail());
            return myo_bench_agree_said(
                s == MYO_ERR_DATA && !isfinite(gnorm) ? EXIT_DIVERGED : myo_cli_exit_code(s));
        }
        if (!isfinite(loss)) {
            if (c->rank == 0)
                fprintf(stderr, "%s: update %lld: the loss is %g: the training diverged\n", TOOL,
                        (long long)step, loss);
            return EXIT_DIVERGED;
        }
        acc_loss += loss, acc_steps++, last_gnorm = gnorm, last_lr = lr;
        const int64_t done = step + 1;
        if (done % log_every == 0 || done == stop) {
            const double now = MPI_Wtime();
            step_row row = {.run_id = c->run_id,
                            .step = done,
                            .epoch = (double)done / (double)c->steps_per_epoch,
                            .loss = acc_loss / (double)acc_steps,
                            .lr = last_lr,
                            .grad_norm = last_gnorm,
                            .examples_per_s = (double)(acc_steps * c->B) / (now - acc_t0),
                            .wall_s = wall(c)};
            snprintf(row.train_id, sizeof row.train_id, "%s", c->train_id);
            if ((code = append(c, TAB_STEPS, &row)) != MYO_EXIT_OK) return code;
            if (c->rank == 0 && o->progress)
                fprintf(stderr,
                        "%s: update %lld/%lld epoch %.2f loss %.4f lr %.3g |g| %.3g %.0f ex/s\n",
                        TOOL, (long long)done, (long long)total, row.epoch, row.loss, row.lr,
                        row.grad_norm, row.examples_per_s);
            acc_loss = 0, acc_steps = 0, acc_t0 = MPI_Wtime();
        }
        if (done % eval_every == 0 || done == total)
            if ((code = validate(c, done)) != MYO_EXIT_OK) return code;
        const int sig = myo_sweep_stop_agreed();
        if (done % ck_every == 0 || done == stop || sig)
            if ((code = save_checkpoint(c, done)) != MYO_EXIT_OK) return code;
        if (sig) {
            if (c->rank == 0)
                fprintf(stderr, "%s: signal %d: checkpoint %s at update %lld; --resume continues\n",
                        TOOL, sig, o->checkpoint, (long long)done);
            return 128 + sig;
        }
    }
    if (start >= total && c->ck.best_step < 0)
        if ((code = validate(c, total)) != MYO_EXIT_OK) return code;
    if (stop < total) {
        if (c->rank == 0)
            fprintf(stderr,
                    "%s: stopped after update %lld of %lld (--stop-at); --resume continues\n", TOOL,
                    (long long)stop, (long long)total);
        return MYO_EXIT_OK;
    }
    return finish(c, trained ? (double)(trained * c->B) / train_time : 0);
}

static int train_main(int argc, char **argv)
{
    myo_cli_ignore_sigxfsz();
    train_opts o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0) return code;
    train_ctx c;
    memset(&c, 0, sizeof c);
    c.o = &o, c.t = &LRA_TASKS[o.task];
    c.rank = myo_bench_rank(), c.P = myo_bench_size();
    c.n = o.info.n, c.docs = o.info.docs;
    myo_sweep_catch_signals();
    code = setup(&c);
    if (o.loaded) { /* the header stays; the examples are in c.split now */
        free(o.info.tokens), free(o.info.labels), free(o.info.lengths), free(o.info.parents);
        o.info.tokens = o.info.labels = o.info.lengths = o.info.parents = NULL;
    }
    make_key(&c);
    int64_t start = 0;
    if (code == MYO_EXIT_OK) code = load_checkpoint(&c, &start);
    if (code == MYO_EXIT_OK) code = open_log(&c, argc, argv);
    if (code == MYO_EXIT_OK) {
        c.t_start = MPI_Wtime();
        code = train_loop(&c, start);
    }
    if (c.log) {
        myo_status s = myo_h5log_close(&c.log);
        if (s != MYO_OK && code == MYO_EXIT_OK) {
            fprintf(stderr, "%s: %s: %s\n", TOOL, o.output, myo_error_detail());
            code = MYO_EXIT_IO;
        }
    }
    for (int s = 0; s < MYO_SPLITS; s++)
        split_free(&c.split[s]);
    free(c.perm), free(c.order), free(c.tokens), free(c.labels), free(c.parents);
    free(c.ck.best_params);
    myo_model_destroy(&c.model);
    myo_tree_destroy(&c.tree);
    myo_dataset_free(&o.info);
    return code;
}

int main(int argc, char **argv)
{
    return myo_bench_main(argc, argv, TOOL, train_main);
}
