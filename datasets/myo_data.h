/*
 * myo_data.h -- the in-memory dataset every generator and loader of
 * datasets/ fills, and that dataset_file.c writes to and reads from the
 * HDF5 dataset files myo-data makes and myo-lra reads (README.md, "myo-data").
 *
 * Letters: E examples, G documents per example (1; 2 for Retrieval),
 * n tokens per document after truncation and padding (the task length).
 *
 * Splits.  A dataset may be cut into training, validation and test
 * examples (has_splits): the examples are stored train first, then
 * validation, then test, split_count[s] of each, the three summing to
 * count.  The file keeps them as the root attributes train_count,
 * validation_count and test_count (dataset_file.h).
 * Token ids follow LRA's vocabularies (each module documents its own);
 * id 0 is always the padding.  Nothing here prints or exits: failures
 * return a myo_status with a one-line detail naming the file and line
 * (myo_data_error(), dataset_file.h).
 */
#ifndef MYO_DATA_H
#define MYO_DATA_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#define MYO_DATA_MAX_ATTRS 48

/* The splits, in their order in a dataset. */
enum { MYO_SPLIT_TRAIN = 0, MYO_SPLIT_VALID = 1, MYO_SPLIT_TEST = 2, MYO_SPLITS = 3 };

typedef struct {
    char task[32];    /* "listops", "text", "retrieval", "image", "pathfinder", "pathx" */
    char source[32];  /* "generated", "loaded", "synthetic" */
    int64_t count;    /* E */
    int64_t docs;     /* G */
    int64_t n;        /* tokens per document */
    int64_t vocab;    /* ids are in [0, vocab) */
    int64_t classes;  /* labels are in [0, classes) */
    int32_t *tokens;  /* (E, G, n) ids, 0 after a document's end */
    int32_t *labels;  /* (E,) */
    int32_t *lengths; /* (E, G) tokens before padding (<= n) */
    /* (E, n) parse trees or NULL: parents[e][i] = the token that owns
     * token i of example e (an index in [0, n)), -1 at the root and at the
     * padding tokens (which are then roots of their own: the tree of an
     * example is a forest of its expression and the padding) */
    int32_t *parents;
    /* 1 when the examples are cut into splits (above): split_count[s]
     * examples of split s, in the order train, validation, test, summing
     * to count; 0 (and the counts 0) otherwise.  After
     * myo_dataset_read_range they are the file's (summing to the file's
     * count, not to the slice's). */
    int has_splits;
    int64_t split_count[MYO_SPLITS];
    /* generator or loader parameters, recorded as attributes */
    int nattrs;
    char attr_key[MYO_DATA_MAX_ATTRS][48];
    char attr_value[MYO_DATA_MAX_ATTRS][208];
    /* attributes of a file read that were not kept here (a name over 47
     * or a value over 207 characters, not one string or number, or no
     * room left; dataset_file.h): how many, and their names as far as they
     * fit ("a, b, ..."; bytes outside printable ASCII shown as '?').
     * Never written. */
    int skipped_attrs;
    char skipped_names[256];
} myo_dataset;

/* Allocate the arrays of a dataset of count examples (zeroed; parents only
 * when with_parents); keeps task, docs, n, vocab, classes given.
 * MYO_ERR_ARG, MYO_ERR_NOMEM.  (dataset_file.c) */
myo_status myo_dataset_alloc(myo_dataset *d, int64_t count, int with_parents);
/* Free the arrays; NULL-safe; zeroes the struct. */
void myo_dataset_free(myo_dataset *d);
/* Add or replace an attribute (MYO_ERR_ARG when too long or full). */
myo_status myo_dataset_set_attr(myo_dataset *d, const char *key, const char *value);

/* out = the examples of parts[0], then parts[1], ... (nparts >= 1; every
 * part of the same task, docs, n, vocab and classes, all with parse trees
 * or none: else MYO_ERR_ARG) with part 0's header and attributes and no
 * splits; out is allocated here (free with myo_dataset_free).
 * MYO_ERR_NOMEM.  (dataset_file.c) */
myo_status myo_dataset_concat(const myo_dataset *parts, int nparts, myo_dataset *out);

/* "train", "validation", "test" for MYO_SPLIT_TRAIN, _VALID, _TEST; NULL
 * for any other value. */
const char *myo_split_name(int split);
/* The index of the first example of split in d (0 for train, then
 * split_count[train], then train + validation); -1 when d is NULL, has
 * no splits or split is not one of the three. */
int64_t myo_dataset_split_first(const myo_dataset *d, int split);
/* Cut d's count examples into train, valid and test examples (each >= 0,
 * summing to d->count): sets has_splits and split_count.  MYO_ERR_ARG
 * otherwise (d unchanged). */
myo_status myo_dataset_set_splits(myo_dataset *d, int64_t train, int64_t valid, int64_t test);
/* myo_dataset_set_splits with validation and test of
 * myo_split_share(d->count, num, den) examples each, the rest train (LRA's
 * ListOps: 1/50; Pathfinder: 1/10).  MYO_ERR_ARG unless 0 <= 4 num <= den
 * (so that both fit). */
myo_status myo_dataset_split_tail(myo_dataset *d, int64_t num, int64_t den);
/* round(count * num / den), halves rounded up, without overflow for
 * count >= 0, 0 <= num <= den, den >= 1 (0 otherwise): the size of a
 * share of count, e.g. myo_split_share(100000, 1, 50) = 2000. */
int64_t myo_split_share(int64_t count, int64_t num, int64_t den);

#endif
