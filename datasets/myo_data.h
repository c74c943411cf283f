/*
 * myo_data.h -- the in-memory dataset every generator and loader of
 * datasets/ fills, and that dataset_file.c writes to and reads from the
 * HDF5 dataset files myo-data makes and myo-lra reads (README.md, "myo-data").
 *
 * Letters: E examples, G documents per example (1; 2 for Retrieval),
 * n tokens per document after truncation and padding (the task length).
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

#endif
