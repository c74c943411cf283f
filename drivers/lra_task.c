/* lra_task.c -- the LRA tasks' presets and training recipes, and the
 * ranks' agreement on a myo-data file's header (lra_task.h). */
#include <config.h>

#include "lra_task.h"

#include "bench.h"
#include "cli.h"
#include "dataset_file.h"
#include "myosotis.h"
#include "myosotis_model.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ presets */

/* The LRA tasks as published (docs/lra.md; section 1 for n, V, C;
 * section 2, the LRA repository's Transformer configurations, for L, D,
 * H, F and the batch):
 *
 *   task       n      V    C  L  D    H  F     batch  source
 *   listops    2000   18   10 4  512  8  1024  32     s1 row ListOps ("<=2000 ... pads to 2000";
 *                                                     V: S4 "actual size 18" with pad/unk/eos);
 *                                                     s2 row ListOps
 *   text       4096   257  2  4  256  4  1024  32     s1 row Text (S4 l_max 4096, the LRA
 *                                                     paper's 4K; the LRA repo config says
 *                                                     max_length 1000); V: bytes 0-255 + pad;
 *                                                     s2 row Text
 *   retrieval  4000   257  2  4  128  4  512   32     s1 row Retrieval (4,000 bytes x 2
 *                                                     documents, dual encoder); s2 row Retrieval
 *   image      1024   256  10 1  128  8  128   256    s1 row Image (32x32 gray levels);
 *                                                     s2 row Image
 *   pathfinder 1024   256  2  4  32   4  32    512    s1 row Pathfinder; s2 row pathfinder
 *   pathx      16384  256  2  1  32   2  32    64     s1 row Path-X (128x128); s2 row pathx
 *   fashion-mnist 1024 256 10 1  128  8  128   256    Fashion-MNIST's 28x28 gray images centred in
 *                                                     32x32 (myo-data fashion-mnist): the image
 *                                                     task's model, as the closest LRA task
 *
 * Not reproduced: the LRA configs' separate qkv width (image 64,
 * pathfinder and Path-X 16: here every mixer works at width D, so that
 * the mixers are compared at the same width), the CLS token (the model
 * mean-pools), dropout and the learning-rate schedules (timing only). */

const lra_task LRA_TASKS[T_COUNT] = {
    {"listops", 2000, 18, 10, 4, 512, 8, 1024, 32, 0, 0, "kary2",
     "binary hierarchy (synthetic data has no parse trees: --data with a myo-data ListOps file "
     "uses them)"},
    {"text", 4096, 257, 2, 4, 256, 4, 1024, 32, 0, 0, "kary2", "binary hierarchy over the bytes"},
    {"retrieval", 4000, 257, 2, 4, 128, 4, 512, 32, 1, 0, "kary2",
     "binary hierarchy over the bytes of each document"},
    {"image", 1024, 256, 10, 1, 128, 8, 128, 256, 0, 1, "kary4",
     "quad-tree over the pixels in Morton order"},
    {"pathfinder", 1024, 256, 2, 4, 32, 4, 32, 512, 0, 1, "kary4",
     "quad-tree over the pixels in Morton order"},
    {"pathx", 16384, 256, 2, 1, 32, 2, 32, 64, 0, 1, "kary4",
     "quad-tree over the pixels in Morton order"},
    {"fashion-mnist", 1024, 256, 10, 1, 128, 8, 128, 256, 0, 1, "kary4",
     "quad-tree over the pixels in Morton order"},
};

const char *const LRA_TASK_NAMES[T_COUNT + 1] = {"listops",    "text",  "retrieval",     "image",
                                                 "pathfinder", "pathx", "fashion-mnist", NULL};

/* ------------------------------------------------------------ recipes */

/* Training recipes.  "lra": the LRA repository's configuration of each
 * task (docs/lra.md, its hyperparameter table), translated to AdamW with
 * a linear warm-up and a cosine decay: LRA's schedule is a linear
 * warm-up then an inverse-square-root decay of base rate 0.05 for
 * ListOps and Text, whose peak, 0.05 / sqrt(warm-up), is the rate here.
 * "small": this suite's scaled-down recipes, a few minutes of a
 * 16-core node: two narrow layers, a few thousand updates.
 *                 L  D    H  F     batch steps  epochs lr      warmup wd    drop  smooth clip */
static const lra_recipe RECIPES[T_COUNT][R_COUNT] = {
    [T_LISTOPS] = {{4, 512, 8, 1024, 32, 5000, 0, 1.58e-3, 1000, 0.1, 0.1, 0, 0,
                    "LRA ListOps: 5K steps, base rate 0.05, warm-up 1K, weight decay 0.1"},
                   {2, 64, 4, 128, 32, 3000, 0, 1e-3, 300, 0.05, 0, 0, 1.0,
                    "small: 2 x 64, 3K updates of 32"}},
    [T_TEXT] = {{4, 256, 4, 1024, 32, 20000, 0, 5.59e-4, 8000, 0.1, 0.1, 0, 0,
                 "LRA Text: 20K steps, base rate 0.05, warm-up 8K"},
                {2, 64, 4, 128, 32, 2000, 0, 1e-3, 200, 0.05, 0, 0, 1.0,
                 "small: 2 x 64, 2K updates of 32"}},
    [T_RETRIEVAL] = {{4, 128, 4, 512, 32, 5000, 0, 5.59e-4, 8000 / 4, 0.1, 0.1, 0, 0,
                      "LRA Retrieval: 5K steps; rate as Text's, warm-up this suite's"},
                     {2, 64, 4, 128, 32, 2000, 0, 1e-3, 200, 0.05, 0, 0, 1.0,
                      "small: 2 x 64, 2K updates of 32"}},
    [T_IMAGE] = {{1, 128, 8, 128, 256, 0, 200, 5e-4, 1000, 0, 0.3, 0, 0,
                  "LRA Image: 200 epochs, rate 5e-4, dropout 0.3; warm-up this suite's"},
                 {2, 32, 4, 64, 32, 0, 2, 1e-2, 100, 0.01, 0, 0, 1.0,
                  "small: 2 x 32, 2 epochs of 32"}},
    [T_PATHFINDER] = {{4, 32, 4, 32, 512, 0, 200, 1e-3, 1000, 0, 0.1, 0, 0,
                       "LRA Pathfinder-32: 200 epochs, rate 1e-3; warm-up this suite's"},
                      {2, 32, 4, 64, 64, 0, 2, 2e-3, 200, 0.01, 0, 0, 1.0,
                       "small: 2 x 32, 2 epochs of 64"}},
    [T_PATHX] = {{1, 32, 2, 32, 64, 0, 200, 1e-3, 1000, 0, 0.1, 0, 1.0,
                  "LRA Path-X: clip 1.0; rate and length Pathfinder's"},
                 {1, 32, 2, 32, 32, 1000, 0, 1e-3, 100, 0.01, 0, 0, 1.0,
                  "small: 1 x 32, 1K updates of 32"}},
    [T_FASHION_MNIST] = {{1, 128, 8, 128, 256, 0, 200, 5e-4, 1000, 0, 0.3, 0, 0,
                          "LRA Image's recipe (the closest LRA task)"},
                         {2, 32, 4, 64, 32, 0, 2, 1e-2, 100, 0.01, 0, 0, 1.0,
                          "small: 2 x 32, 2 epochs of 32"}},
};

const char *const LRA_RECIPE_NAMES[R_COUNT + 1] = {"lra", "small", NULL};

const lra_recipe *lra_recipe_of(int task, int kind)
{
    if (task < 0 || task >= T_COUNT || kind < 0 || kind >= R_COUNT) return NULL;
    return &RECIPES[task][kind];
}

int lra_task_find(const char *name)
{
    for (int i = 0; name && i < T_COUNT; i++)
        if (strcmp(name, LRA_TASK_NAMES[i]) == 0) return i;
    return -1;
}

/* -------------------------------------------------------------- trees */

const char *const LRA_TREE_WORDS[] = {"auto", "parse", NULL};

int lra_tree_option(const opt_tree *given, int *tree_auto, int *parse_trees, opt_tree *tree)
{
    *tree_auto = given->kind == OPT_TREE_WORD && given->word == 0;
    *parse_trees = given->kind == OPT_TREE_WORD && given->word == 1;
    if (given->kind != OPT_TREE_WORD) *tree = *given;
    if (given->kind == OPT_TREE_KARY && !given->arity) {
        myo_bench_say(0, "--tree: 'kary' needs its arity, e.g. kary2 or kary4 (see --help)");
        return MYO_EXIT_USAGE;
    }
    return -1;
}

/* ----------------------------------------------------- the file's view */

/* Rank 0's copy of this rank's size bytes at mine, into out.  Collective. */
void lra_from_rank0(void *out, const void *mine, size_t size)
{
    memcpy(out, mine, size);
    myo_bench_mpi_check(MPI_Bcast(out, (int)size, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

/* What every rank must see of the --data file alike: the header fields
 * that shape the run (the collectives' counts, the model, the rows). */
enum {
    VIEW_COUNT,
    VIEW_DOCS,
    VIEW_N,
    VIEW_VOCAB,
    VIEW_CLASSES,
    VIEW_TRAIN,
    VIEW_VALID,
    VIEW_TEST,
    VIEW_INTS
};
enum { VIEW_TASK, VIEW_SOURCE, VIEW_ORDERING, VIEW_TREES, VIEW_STRS };
static const char *const VIEW_INT_NAME[VIEW_INTS] = {
    "count", "docs", "n", "vocab", "classes", "train_count", "validation_count", "test_count"};
static const char *const VIEW_STR_NAME[VIEW_STRS] = {"task", "source", "ordering", "parse trees"};
typedef struct {
    int64_t v[VIEW_INTS];
    char s[VIEW_STRS][sizeof(((myo_dataset *)0)->attr_value[0])];
} data_view;

/* Collective.  Every rank's view of the --data file (data_read_header)
 * against rank 0's: -1 when they agree, otherwise exit 3 after one line
 * from the lowest rank that sees another file, e.g.
 *     --data F: rank 1 sees n = 512, rank 0 n = 1024 (every rank must read
 *     the same file) */
int lra_data_agree_view(const char *path, const myo_dataset *info, int has_parents)
{
    const myo_dataset *d = info;
    const char *ord = myo_dataset_get_attr(d, "ordering");
    data_view mine, first;
    memset(&mine, 0, sizeof mine);
    const int64_t v[VIEW_INTS] = {d->count,
                                  d->docs,
                                  d->n,
                                  d->vocab,
                                  d->classes,
                                  d->has_splits ? d->split_count[MYO_SPLIT_TRAIN] : -1,
                                  d->has_splits ? d->split_count[MYO_SPLIT_VALID] : -1,
                                  d->has_splits ? d->split_count[MYO_SPLIT_TEST] : -1};
    memcpy(mine.v, v, sizeof v);
    const char *str[VIEW_STRS] = {d->task, d->source, ord ? ord : "(none)",
                                  has_parents ? "yes" : "no"};
    for (int i = 0; i < VIEW_STRS; i++)
        snprintf(mine.s[i], sizeof mine.s[i], "%s", str[i]);
    lra_from_rank0(&first, &mine, sizeof mine);
    myo_bench_say_hold();
    int code = -1;
    const char *tail = "(every rank must read the same file)";
    for (int i = 0; i < VIEW_INTS && code < 0; i++)
        if (mine.v[i] != first.v[i]) {
            myo_bench_say(0, "--data %s: rank %d sees %s = %lld, rank 0 %s = %lld %s", path,
                          myo_bench_rank(), VIEW_INT_NAME[i], (long long)mine.v[i],
                          VIEW_INT_NAME[i], (long long)first.v[i], tail);
            code = MYO_EXIT_DATA;
        }
    for (int i = 0; i < VIEW_STRS && code < 0; i++)
        if (strcmp(mine.s[i], first.s[i]) != 0) {
            myo_bench_say(0, "--data %s: rank %d sees %s = %s, rank 0 %s = %s %s", path,
                          myo_bench_rank(), VIEW_STR_NAME[i], mine.s[i], VIEW_STR_NAME[i],
                          first.s[i], tail);
            code = MYO_EXIT_DATA;
        }
    return myo_bench_agree_said(code);
}

/* ------------------------------------------------------ data parallel */

void lra_allreduce_grads(myo_model *m, double weight)
{
    float *g = myo_model_grads(m);
    const int64_t count = myo_model_num_params(m);
    const float w = (float)weight;
    for (int64_t i = 0; i < count; i++)
        g[i] *= w;
    for (int64_t done = 0; done < count;) { /* MPI counts are int */
        int chunk = count - done > (1 << 30) ? 1 << 30 : (int)(count - done);
        myo_bench_mpi_check(
            MPI_Allreduce(MPI_IN_PLACE, g + done, chunk, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce (gradients)");
        done += chunk;
    }
}
