/*
 * dataset_file.h -- the HDF5 dataset files myo-data writes and myo-lra
 * reads (README.md, "myo-data"), and the error helper of datasets/.
 *
 * File layout (format "myo-data/1"; E examples, G documents, n tokens):
 *     /tokens    int32 (E, G, n)  token ids in [0, vocab); 0 after a
 *                                 document's end (lengths)
 *     /labels    int32 (E,)       labels in [0, classes)
 *     /lengths   int32 (E, G)     tokens before padding, in [0, n]
 *     /parents   int32 (E, n)     parse trees, only when the dataset has
 *                                 them (docs == 1): -1 or an earlier token
 *     /          attributes: format = "myo-data/1", task, source (strings),
 *                count, docs, n, vocab, classes (int64), the split
 *                counts train_count, validation_count, test_count (int64,
 *                only when the dataset has splits: myo_data.h), and every
 *                dataset attribute (attr_key/attr_value: strings)
 * Contiguous layout, no filters, no time stamps (H5Pset_obj_track_times
 * 0), earliest file format: the same dataset gives the same bytes on any
 * machine and on every run.
 *
 * Validation (myo_dataset_validate, and every read) -- MYO_ERR_DATA:
 *   - count >= 0, docs >= 1, n >= 1, vocab >= 1, classes >= 1;
 *   - splits (has_splits): each count in [0, count], the three summing to
 *     count; in a file, all three split attributes or none (one or two of
 *     them: MYO_ERR_DATA naming them), each an integer;
 *   - 0 <= tokens < vocab everywhere, and tokens == 0 at positions
 *     >= the document's length;
 *   - 0 <= labels < classes;
 *   - 0 <= lengths <= n;
 *   - parents (when present; then docs must be 1): for token i of example
 *     e, p = parents[e][i] is -1 (a root) or 0 <= p < i (a token earlier
 *     than its child, so every example is a forest); padding tokens
 *     (i >= lengths[e][0]) have p == -1.
 * A path that is not a regular file (refused before it is opened), a file
 * that is not HDF5 or cannot be opened, or whose HDF5 structures are
 * corrupt (h5_header_check.h: checked before libhdf5 decodes them) ->
 * MYO_ERR_IO; an HDF5 file with a missing or wrong format attribute, a
 * corrupt attribute message, a missing, mis-typed or mis-shaped dataset,
 * or invalid values -> MYO_ERR_DATA; the detail (myo_data_error()) names
 * the file and what is wrong, on one line.
 *
 * Attributes read: every root attribute outside the layout's own, in
 * name order, is kept (attr_key/attr_value, numbers printed) when its name
 * has at most 47 characters, it holds one string of at most 207 characters
 * or one number, and fewer than MYO_DATA_MAX_ATTRS are kept; any other is
 * skipped and counted (skipped_attrs, skipped_names), never stopping the
 * reading.  The attributes the tools interpret -- "ordering" (myo-data
 * order, myo-lra) -- are read first and keep their place; one of them that
 * cannot be kept refuses the file (MYO_ERR_DATA naming it).
 *
 * Nothing here prints or exits.
 */
#ifndef MYO_DATASET_FILE_H
#define MYO_DATASET_FILE_H

#include "myo_data.h"

#include <stdarg.h>
#include <stdint.h>

#define MYO_DATA_FORMAT "myo-data/1"

#if defined(__GNUC__)
#define MYO_DATA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MYO_DATA_PRINTF(f, a)
#endif

/* ------------------------------------------------------------- errors */

/* The error helper of every datasets/ module (lib's myo_fail is internal
 * to lib): records a one-line detail in this thread and returns s, e.g.
 *     return myo_data_fail(MYO_ERR_DATA, "%s:%lld: bad label", path, line);
 * Callers of datasets/ functions read the detail with myo_data_error().
 * To pass on a libmyosotis failure, record it:
 *     myo_data_fail(s, "%s", myo_error_detail()). */
myo_status myo_data_fail(myo_status s, const char *fmt, ...) MYO_DATA_PRINTF(2, 3);
myo_status myo_data_vfail(myo_status s, const char *fmt, va_list ap);
/* The detail of the last datasets/ failure in this thread; when none was
 * recorded, myo_error_detail() (never NULL). */
const char *myo_data_error(void);
/* Forget the last detail (myo_data_error() then falls back again). */
void myo_data_clear_error(void);

/* ----------------------------------------------------------- datasets */

/* (myo_dataset_set_attr, myo_data.h: the names format, task, source,
 * count, docs, n, vocab, classes, train_count, validation_count and
 * test_count are the layout's own; setting one is accepted only when the
 * value restates the header field, e.g. "n" = "2000" with d->n 2000, and
 * stores nothing; otherwise MYO_ERR_ARG.  The splits are set with
 * myo_dataset_set_splits, myo_data.h.) */

/* myo_dataset_set_attr with a printf-formatted value (cut to the
 * longest value that fits). */
myo_status myo_dataset_set_attrf(myo_dataset *d, const char *key, const char *fmt, ...)
    MYO_DATA_PRINTF(3, 4);

/* The value of attribute key, or NULL. */
const char *myo_dataset_get_attr(const myo_dataset *d, const char *key);

/* Check d against the rules above; what names it in the detail (a file
 * name or "dataset").  MYO_ERR_DATA (MYO_ERR_ARG for a NULL d). */
myo_status myo_dataset_validate(const myo_dataset *d, const char *what);

/* Validate d, then write it to path through a temporary file in the same
 * directory (path.tmp-PID-K) renamed onto path only when complete: a
 * failure leaves no file behind and path untouched.  MYO_ERR_DATA,
 * MYO_ERR_IO, MYO_ERR_HDF5, MYO_ERR_NOMEM. */
myo_status myo_dataset_write(const char *path, const myo_dataset *d);

/* Read and validate the whole file into d (which it fills; free with
 * myo_dataset_free).  On failure d is zeroed. */
myo_status myo_dataset_read(const char *path, myo_dataset *d);

/* Read only the header: task, source, count (all examples), docs, n,
 * vocab, classes, the splits, the attributes, and whether the file has parents
 * (*has_parents, may be NULL); d's arrays stay NULL.  The shapes of the
 * datasets are checked against the attributes, the values are not. */
myo_status myo_dataset_read_info(const char *path, myo_dataset *d, int *has_parents);

/* Read examples [first, first + count) (0 <= first, 0 <= count,
 * first + count <= the file's count: else MYO_ERR_ARG) into d: d->count is
 * count, the header as read_info; the slice is validated.  For
 * data-parallel readers: rank r reads its own slice.  has_splits and
 * split_count are the file's (they sum to the file's count, not to
 * d->count: myo_dataset_validate and myo_dataset_write refuse such a
 * slice unless it is the whole file or has_splits is cleared). */
myo_status myo_dataset_read_range(const char *path, int64_t first, int64_t count, myo_dataset *d);

#endif
