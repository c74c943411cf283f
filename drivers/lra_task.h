/*
 * lra_task.h -- the Long Range Arena tasks as myo-lra and myo-train run
 * them: each task's shape and published model (the presets), the training
 * recipes (LRA's own, and the scaled-down "small" ones for one machine),
 * and what the ranks must agree on of a myo-data file before they use it.
 *
 * Not a library module: it may print (through myo_bench_say) and uses
 * MPI_COMM_WORLD, as the drivers do.
 */
#ifndef MYO_LRA_TASK_H
#define MYO_LRA_TASK_H

#include "myo_data.h"
#include "options.h"
#include "myosotis_model.h"

#include <stddef.h>
#include <stdint.h>

/* A task: its data's shape and the LRA repository's Transformer
 * configuration for it (docs/lra.md; the table in lra_task.c). */
typedef struct {
    const char *name;
    int64_t n, vocab, classes, layers, d_model, heads, mlp_dim, batch;
    int dual;             /* two documents per example (Retrieval) */
    int image;            /* pixels: a quad-tree and Morton order for Myosotis */
    const char *tree;     /* Myosotis' tree when --tree auto */
    const char *tree_why; /* what that tree stands for */
} lra_task;

enum { T_LISTOPS, T_TEXT, T_RETRIEVAL, T_IMAGE, T_PATHFINDER, T_PATHX, T_FASHION_MNIST, T_COUNT };
extern const lra_task LRA_TASKS[T_COUNT];
/* The tasks' names, NULL-terminated (an opt_spec's words). */
extern const char *const LRA_TASK_NAMES[T_COUNT + 1];
/* The index of the task named name, or -1. */
int lra_task_find(const char *name);

/* A training recipe (myo-train): the model, the batch and the optimiser
 * of a task.  Exactly one of steps and epochs is > 0. */
typedef struct {
    int64_t layers, d_model, heads, mlp_dim, batch;
    int64_t steps;  /* updates, or 0 when epochs decide */
    double epochs;  /* passes over the training split, or 0 */
    double lr;      /* the peak learning rate */
    int64_t warmup; /* updates of linear warm-up */
    double weight_decay, dropout, label_smoothing, clip;
    const char *why; /* where the numbers come from, one line */
} lra_recipe;

enum { R_LRA, R_SMALL, R_COUNT };
extern const char *const LRA_RECIPE_NAMES[R_COUNT + 1]; /* "lra", "small", NULL */
/* The recipe of task (an index of LRA_TASKS) and kind (R_LRA, R_SMALL). */
const lra_recipe *lra_recipe_of(int task, int kind);

/* --tree of myo-lra and myo-train: the words auto and parse (an
 * opt_spec's words), besides chain, kary<k>, heap<k>. */
extern const char *const LRA_TREE_WORDS[];
/* Local.  The --tree given: *tree_auto (auto), *parse_trees (parse) or,
 * for a builder, *tree.  -1 to go on; MYO_EXIT_USAGE after one line for
 * "kary" without its arity. */
int lra_tree_option(const opt_tree *given, int *tree_auto, int *parse_trees, opt_tree *tree);

/* Collective.  Rank 0's copy of this rank's size bytes at mine, into out. */
void lra_from_rank0(void *out, const void *mine, size_t size);

/* Collective.  Every rank's view of a myo-data file's header (read by
 * myo_dataset_read_info into info, with has_parents) against rank 0's:
 * the counts, shapes, task, source, ordering, splits and whether it has
 * parse trees.  -1 when they agree, otherwise exit 3 after one line from
 * the lowest rank that sees another file, e.g.
 *     --data F: rank 1 sees n = 512, rank 0 n = 1024 (every rank must read
 *     the same file) */
int lra_data_agree_view(const char *path, const myo_dataset *info, int has_parents);

/* Collective.  The data-parallel step: every rank's gradients (those of
 * its share of the batch, a mean over it) times weight (its share: local
 * examples / batch) summed over the ranks into every rank's model, in
 * place (MPI_Allreduce), between myo_model_backward and the update. */
void lra_allreduce_grads(myo_model *m, double weight);

#endif
