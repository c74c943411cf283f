/*
 * dataset_file.c -- the in-memory dataset (myo_data.h) and its HDF5 file
 * (dataset_file.h): allocation, attributes, splits, concatenation,
 * validation, a crash-safe and byte-reproducible write, whole and sliced
 * reads, and the error helper of datasets/.
 */
#include <config.h>

#include "dataset_file.h"

#include "h5_header_check.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

static _Thread_local char data_detail[512];

myo_status myo_data_vfail(myo_status s, const char *fmt, va_list ap)
{
    /* Through a copy: an argument may be myo_data_error() itself. */
    char line[sizeof data_detail];
    vsnprintf(line, sizeof line, fmt, ap);
    memcpy(data_detail, line, sizeof line);
    return s;
}

myo_status myo_data_fail(myo_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    myo_data_vfail(s, fmt, ap);
    va_end(ap);
    return s;
}

const char *myo_data_error(void)
{
    return data_detail[0] ? data_detail : myo_error_detail();
}

void myo_data_clear_error(void)
{
    data_detail[0] = '\0';
}

/* ------------------------------------------------------- in-memory data */

/* The root attributes the layout itself uses (not dataset attributes):
 * the header's, and the split counts (split_attrs, in split order). */
static const char *const reserved_attrs[] = {
    "format",  "task",        "source",           "count",     "docs", "n", "vocab",
    "classes", "train_count", "validation_count", "test_count"};
enum { NRESERVED = (int)(sizeof reserved_attrs / sizeof reserved_attrs[0]) };
/* the integer fields of the header, and the split counts */
static const char *const *const int_attrs = reserved_attrs + 3;
enum { NINT_ATTRS = 5 };
static const char *const *const split_attrs = reserved_attrs + NRESERVED - MYO_SPLITS;
static const char *const split_names[MYO_SPLITS] = {"train", "validation", "test"};

/* The integer header fields of d, as the file names them: count, docs,
 * n, vocab, classes, then the split counts when d has splits.  Fills
 * names and values (room for 8), returns how many. */
static int header_ints(const myo_dataset *d, const char **names, int64_t *values)
{
    const int64_t ivalues[NINT_ATTRS] = {d->count, d->docs, d->n, d->vocab, d->classes};
    int k = 0;
    for (; k < NINT_ATTRS; k++)
        names[k] = int_attrs[k], values[k] = ivalues[k];
    for (int s = 0; d->has_splits && s < MYO_SPLITS; s++, k++)
        names[k] = split_attrs[s], values[k] = d->split_count[s];
    return k;
}

static int is_reserved(const char *key)
{
    for (int k = 0; k < NRESERVED; k++)
        if (strcmp(key, reserved_attrs[k]) == 0) return 1;
    return 0;
}

/* calloc of a * b * c int32 (at least one element), NULL on overflow. */
static int32_t *alloc_i32(int64_t a, int64_t b, int64_t c)
{
    if (a < 0 || b < 0 || c < 0) return NULL;
    uint64_t count = 1;
    int64_t f[3] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        if (f[k] != 0 && count > (uint64_t)SIZE_MAX / sizeof(int32_t) / (uint64_t)f[k]) return NULL;
        count *= (uint64_t)f[k];
    }
    return calloc(count ? (size_t)count : 1, sizeof(int32_t));
}

myo_status myo_dataset_alloc(myo_dataset *d, int64_t count, int with_parents)
{
    if (!d || count < 0 || d->docs < 1 || d->n < 1)
        return myo_data_fail(MYO_ERR_ARG,
                             "myo_dataset_alloc: needs count >= 0, docs >= 1 and n >= 1");
    d->tokens = alloc_i32(count, d->docs, d->n);
    d->labels = alloc_i32(count, 1, 1);
    d->lengths = alloc_i32(count, d->docs, 1);
    d->parents = with_parents ? alloc_i32(count, d->n, 1) : NULL;
    if (!d->tokens || !d->labels || !d->lengths || (with_parents && !d->parents)) {
        free(d->tokens);
        free(d->labels);
        free(d->lengths);
        free(d->parents);
        d->tokens = d->labels = d->lengths = d->parents = NULL;
        return myo_data_fail(MYO_ERR_NOMEM,
                             "dataset of %lld examples x %lld documents x %lld tokens: "
                             "cannot allocate",
                             (long long)count, (long long)d->docs, (long long)d->n);
    }
    d->count = count;
    return MYO_OK;
}

void myo_dataset_free(myo_dataset *d)
{
    if (!d) return;
    free(d->tokens);
    free(d->labels);
    free(d->lengths);
    free(d->parents);
    memset(d, 0, sizeof *d);
}

myo_status myo_dataset_set_attr(myo_dataset *d, const char *key, const char *value)
{
    if (!d || !key || !value || !key[0])
        return myo_data_fail(MYO_ERR_ARG, "myo_dataset_set_attr: key and value are required");
    if (strlen(key) >= sizeof d->attr_key[0])
        return myo_data_fail(MYO_ERR_ARG, "attribute name '%s' is longer than %zu characters", key,
                             sizeof d->attr_key[0] - 1);
    if (strlen(value) >= sizeof d->attr_value[0])
        return myo_data_fail(MYO_ERR_ARG, "attribute '%s': value longer than %zu characters", key,
                             sizeof d->attr_value[0] - 1);
    if (is_reserved(key)) {
        /* The layout's own attributes come from the header fields: a key
         * that restates its field is accepted (and not stored twice). */
        char own[64] = "";
        if (strcmp(key, "format") == 0) snprintf(own, sizeof own, "%s", MYO_DATA_FORMAT);
        if (strcmp(key, "task") == 0) snprintf(own, sizeof own, "%s", d->task);
        if (strcmp(key, "source") == 0) snprintf(own, sizeof own, "%s", d->source);
        const char *inames[8];
        int64_t ivalues[8];
        int ni = header_ints(d, inames, ivalues);
        for (int k = 0; k < ni; k++)
            if (strcmp(key, inames[k]) == 0)
                snprintf(own, sizeof own, "%lld", (long long)ivalues[k]);
        /* a split count of a dataset without splits restates nothing */
        if (own[0] && strcmp(own, value) == 0) return MYO_OK;
        return myo_data_fail(MYO_ERR_ARG,
                             "attribute '%s' = '%s' contradicts the dataset's own '%s' (a name "
                             "the file layout reserves)",
                             key, value, own);
    }
    int k = 0;
    while (k < d->nattrs && strcmp(d->attr_key[k], key) != 0)
        k++;
    if (k == d->nattrs) {
        if (d->nattrs >= MYO_DATA_MAX_ATTRS)
            return myo_data_fail(MYO_ERR_ARG, "attribute '%s': more than %d attributes", key,
                                 MYO_DATA_MAX_ATTRS);
        d->nattrs++;
        snprintf(d->attr_key[k], sizeof d->attr_key[k], "%s", key);
    }
    snprintf(d->attr_value[k], sizeof d->attr_value[k], "%s", value);
    return MYO_OK;
}

myo_status myo_dataset_set_attrf(myo_dataset *d, const char *key, const char *fmt, ...)
{
    char value[sizeof d->attr_value[0]];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return myo_dataset_set_attr(d, key, value);
}

const char *myo_dataset_get_attr(const myo_dataset *d, const char *key)
{
    if (!d || !key) return NULL;
    for (int k = 0; k < d->nattrs; k++)
        if (strcmp(d->attr_key[k], key) == 0) return d->attr_value[k];
    return NULL;
}

/* ---------------------------------------------------------------- splits */

const char *myo_split_name(int split)
{
    return split >= 0 && split < MYO_SPLITS ? split_names[split] : NULL;
}

int64_t myo_dataset_split_first(const myo_dataset *d, int split)
{
    if (!d || !d->has_splits || split < 0 || split >= MYO_SPLITS) return -1;
    int64_t first = 0;
    for (int s = 0; s < split; s++)
        first += d->split_count[s];
    return first;
}

myo_status myo_dataset_set_splits(myo_dataset *d, int64_t train, int64_t valid, int64_t test)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "myo_dataset_set_splits: no dataset");
    if (train < 0 || valid < 0 || test < 0 || train > d->count || valid > d->count - train ||
        test != d->count - train - valid)
        return myo_data_fail(MYO_ERR_ARG,
                             "splits train %lld, validation %lld, test %lld: not a cut of the "
                             "dataset's %lld examples",
                             (long long)train, (long long)valid, (long long)test,
                             (long long)d->count);
    d->has_splits = 1;
    d->split_count[MYO_SPLIT_TRAIN] = train;
    d->split_count[MYO_SPLIT_VALID] = valid;
    d->split_count[MYO_SPLIT_TEST] = test;
    return MYO_OK;
}

myo_status myo_dataset_split_tail(myo_dataset *d, int64_t num, int64_t den)
{
    if (!d || num < 0 || den < 1 || num > den / 4)
        return myo_data_fail(MYO_ERR_ARG, "myo_dataset_split_tail: needs 0 <= 4 num <= den");
    int64_t part = myo_split_share(d->count, num, den);
    return myo_dataset_set_splits(d, d->count - 2 * part, part, part);
}

myo_status myo_dataset_concat(const myo_dataset *parts, int nparts, myo_dataset *out)
{
    if (!out) return myo_data_fail(MYO_ERR_ARG, "myo_dataset_concat: no output");
    memset(out, 0, sizeof *out);
    if (!parts || nparts < 1) return myo_data_fail(MYO_ERR_ARG, "myo_dataset_concat: no part");
    const myo_dataset *a = &parts[0];
    int64_t total = 0;
    for (int k = 0; k < nparts; k++) {
        const myo_dataset *b = &parts[k];
        if (strcmp(b->task, a->task) != 0 || b->docs != a->docs || b->n != a->n ||
            b->vocab != a->vocab || b->classes != a->classes || !b->parents != !a->parents)
            return myo_data_fail(MYO_ERR_ARG,
                                 "myo_dataset_concat: part %d (task %s, %lld x %lld tokens, vocab "
                                 "%lld, classes %lld%s) differs from part 0",
                                 k, b->task, (long long)b->docs, (long long)b->n,
                                 (long long)b->vocab, (long long)b->classes,
                                 b->parents ? ", parse trees" : "");
        if (b->count < 0 || b->count > INT64_MAX - total)
            return myo_data_fail(MYO_ERR_ARG, "myo_dataset_concat: bad count in part %d", k);
        total += b->count;
    }
    /* part 0's header and attributes, no splits */
    memcpy(out->task, a->task, sizeof out->task);
    memcpy(out->source, a->source, sizeof out->source);
    out->docs = a->docs, out->n = a->n, out->vocab = a->vocab, out->classes = a->classes;
    out->nattrs = a->nattrs;
    memcpy(out->attr_key, a->attr_key, sizeof out->attr_key);
    memcpy(out->attr_value, a->attr_value, sizeof out->attr_value);
    myo_status st = myo_dataset_alloc(out, total, a->parents != NULL);
    if (st != MYO_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    const size_t G = (size_t)a->docs, n = (size_t)a->n, w = sizeof(int32_t);
    size_t e = 0;
    for (int k = 0; k < nparts; k++) {
        const myo_dataset *b = &parts[k];
        const size_t c = (size_t)b->count;
        if (c == 0) continue;
        memcpy(out->tokens + e * G * n, b->tokens, c * G * n * w);
        memcpy(out->labels + e, b->labels, c * w);
        memcpy(out->lengths + e * G, b->lengths, c * G * w);
        if (b->parents) memcpy(out->parents + e * n, b->parents, c * n * w);
        e += c;
    }
    return MYO_OK;
}

int64_t myo_split_share(int64_t count, int64_t num, int64_t den)
{
    if (count < 0 || num < 0 || den < 1 || num > den) return 0;
    int64_t q = count / den, r = count % den; /* count = q den + r, r num < den^2 */
    return q * num + (2 * r * num + den) / (2 * den);
}

/* ------------------------------------------------------------ validation */

static myo_status check_header(const myo_dataset *d, const char *what)
{
    if (d->count < 0 || d->docs < 1 || d->n < 1 || d->vocab < 1 || d->classes < 1)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: invalid sizes: count %lld, docs %lld, n %lld, vocab %lld, "
                             "classes %lld (need count >= 0 and the others >= 1)",
                             what, (long long)d->count, (long long)d->docs, (long long)d->n,
                             (long long)d->vocab, (long long)d->classes);
    if (d->n > INT32_MAX || d->vocab > (int64_t)INT32_MAX + 1 ||
        d->classes > (int64_t)INT32_MAX + 1)
        return myo_data_fail(MYO_ERR_DATA, "%s: n, vocab or classes beyond int32", what);
    if (d->parents && d->docs != 1)
        return myo_data_fail(MYO_ERR_DATA, "%s: parse trees need docs == 1 (docs is %lld)", what,
                             (long long)d->docs);
    if (!d->has_splits) return MYO_OK;
    const int64_t *c = d->split_count;
    for (int s = 0; s < MYO_SPLITS; s++)
        if (c[s] < 0 || c[s] > d->count)
            return myo_data_fail(MYO_ERR_DATA, "%s: %s %lld outside [0, count %lld]", what,
                                 split_attrs[s], (long long)c[s], (long long)d->count);
    if (c[0] + c[1] + c[2] != d->count)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: the splits do not cut the examples: %s %lld + %s %lld + %s "
                             "%lld = %lld, not count %lld",
                             what, split_attrs[0], (long long)c[0], split_attrs[1], (long long)c[1],
                             split_attrs[2], (long long)c[2], (long long)(c[0] + c[1] + c[2]),
                             (long long)d->count);
    return MYO_OK;
}

/* Values of examples [0, d->count); first is the index of example 0 in the
 * file, for the messages. */
static myo_status check_values(const myo_dataset *d, const char *what, int64_t first)
{
    const int64_t G = d->docs, n = d->n;
    for (int64_t e = 0; e < d->count; e++) {
        long long ex = (long long)(e + first);
        if (d->labels[e] < 0 || d->labels[e] >= d->classes)
            return myo_data_fail(MYO_ERR_DATA, "%s: example %lld: label %d outside [0, %lld)", what,
                                 ex, (int)d->labels[e], (long long)d->classes);
        for (int64_t g = 0; g < G; g++) {
            int32_t len = d->lengths[e * G + g];
            if (len < 0 || len > n)
                return myo_data_fail(MYO_ERR_DATA,
                                     "%s: example %lld document %lld: length %d outside [0, %lld]",
                                     what, ex, (long long)g, (int)len, (long long)n);
            const int32_t *t = d->tokens + (e * G + g) * n;
            for (int64_t i = 0; i < n; i++) {
                if (t[i] < 0 || t[i] >= d->vocab)
                    return myo_data_fail(MYO_ERR_DATA,
                                         "%s: example %lld document %lld token %lld: id %d "
                                         "outside [0, %lld)",
                                         what, ex, (long long)g, (long long)i, (int)t[i],
                                         (long long)d->vocab);
                if (i >= len && t[i] != 0)
                    return myo_data_fail(MYO_ERR_DATA,
                                         "%s: example %lld document %lld token %lld: id %d after "
                                         "the document's end (length %d; padding must be 0)",
                                         what, ex, (long long)g, (long long)i, (int)t[i], (int)len);
            }
        }
        if (!d->parents) continue;
        const int32_t *p = d->parents + e * n;
        int32_t len = d->lengths[e];
        for (int64_t i = 0; i < n; i++) {
            if (p[i] == -1) continue;
            if (p[i] < 0 || p[i] >= n)
                return myo_data_fail(MYO_ERR_DATA,
                                     "%s: example %lld token %lld: parent %d outside [-1, %lld)",
                                     what, ex, (long long)i, (int)p[i], (long long)n);
            if (p[i] >= i)
                return myo_data_fail(MYO_ERR_DATA,
                                     "%s: example %lld token %lld: parent %d is not an earlier "
                                     "token",
                                     what, ex, (long long)i, (int)p[i]);
            if (i >= len)
                return myo_data_fail(MYO_ERR_DATA,
                                     "%s: example %lld token %lld: a padding token (length %d) "
                                     "has parent %d (must be -1)",
                                     what, ex, (long long)i, (int)len, (int)p[i]);
        }
    }
    return MYO_OK;
}

myo_status myo_dataset_validate(const myo_dataset *d, const char *what)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "myo_dataset_validate: no dataset");
    if (!what) what = "dataset";
    myo_status st = check_header(d, what);
    if (st != MYO_OK) return st;
    if (d->count > 0 && (!d->tokens || !d->labels || !d->lengths))
        return myo_data_fail(MYO_ERR_DATA, "%s: tokens, labels or lengths missing", what);
    if (d->nattrs < 0 || d->nattrs > MYO_DATA_MAX_ATTRS)
        return myo_data_fail(MYO_ERR_DATA, "%s: %d attributes", what, d->nattrs);
    return check_values(d, what, 0);
}

/* ----------------------------------------------------------------- HDF5 */

typedef struct {
    H5E_auto2_t func;
    void *data;
} quiet_h5;

static quiet_h5 quiet_begin(void)
{
    quiet_h5 q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static void quiet_end(quiet_h5 q)
{
    H5Eset_auto2(H5E_DEFAULT, q.func, q.data);
}

static myo_status write_i32(hid_t file, const char *path, const char *name, int ndims,
                            const hsize_t *dims, const int32_t *data)
{
    hid_t space = H5Screate_simple(ndims, dims, NULL);
    /* No time stamps in the object header: the same data, the same bytes. */
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t e = dcpl >= 0 ? H5Pset_obj_track_times(dcpl, 0) : -1;
    hid_t dset = space >= 0 && e >= 0
                     ? H5Dcreate2(file, name, H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)
                     : -1;
    e = dset >= 0 ? H5Dwrite(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (dset >= 0 && H5Dclose(dset) < 0) e = -1;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (e < 0) return myo_data_fail(MYO_ERR_IO, "%s: cannot write '/%s' (disk full?)", path, name);
    return MYO_OK;
}

/* A scalar root attribute: a string, or an int64 when text is NULL. */
static myo_status write_attr(hid_t file, const char *path, const char *name, const char *text,
                             int64_t value)
{
    hid_t type = text ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_STD_I64LE);
    if (type >= 0 && text) H5Tset_size(type, strlen(text) + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = type >= 0 && space >= 0
                     ? H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT)
                     : -1;
    herr_t e = attr < 0 ? -1
               : text   ? H5Awrite(attr, type, text)
                        : H5Awrite(attr, H5T_NATIVE_INT64, &value);
    if (attr >= 0 && H5Aclose(attr) < 0) e = -1;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (e < 0) return myo_data_fail(MYO_ERR_IO, "%s: cannot write attribute '%s'", path, name);
    return MYO_OK;
}

static myo_status write_contents(int64_t file, const char *path, const void *contents)
{
    const myo_dataset *d = contents;
    hsize_t E = (hsize_t)d->count, G = (hsize_t)d->docs, n = (hsize_t)d->n;
    myo_status st = write_attr(file, path, "format", MYO_DATA_FORMAT, 0);
    if (st == MYO_OK) st = write_attr(file, path, "task", d->task, 0);
    if (st == MYO_OK) st = write_attr(file, path, "source", d->source, 0);
    const char *inames[8];
    int64_t ivalues[8];
    int ni = header_ints(d, inames, ivalues);
    for (int k = 0; k < ni && st == MYO_OK; k++)
        st = write_attr(file, path, inames[k], NULL, ivalues[k]);
    for (int k = 0; k < d->nattrs && st == MYO_OK; k++)
        st = write_attr(file, path, d->attr_key[k], d->attr_value[k], 0);
    hsize_t dt[3] = {E, G, n}, dl[2] = {E, G}, dp[2] = {E, n};
    if (st == MYO_OK) st = write_i32(file, path, "tokens", 3, dt, d->tokens);
    if (st == MYO_OK) st = write_i32(file, path, "labels", 1, dl, d->labels);
    if (st == MYO_OK) st = write_i32(file, path, "lengths", 2, dl, d->lengths);
    if (st == MYO_OK && d->parents) st = write_i32(file, path, "parents", 2, dp, d->parents);
    return st;
}

myo_status myo_dataset_write(const char *path, const myo_dataset *d)
{
    if (!path || !path[0] || !d)
        return myo_data_fail(MYO_ERR_ARG, "myo_dataset_write: path and dataset are required");
    myo_status st = myo_dataset_validate(d, path);
    if (st != MYO_OK) return st;
    for (int k = 0; k < d->nattrs; k++)
        if (!d->attr_key[k][0] || is_reserved(d->attr_key[k]))
            return myo_data_fail(MYO_ERR_DATA, "%s: attribute name '%s' is empty or reserved", path,
                                 d->attr_key[k]);
    /* The datasets' size, reserved on disk before writing. */
    uint64_t cells = (uint64_t)d->count * ((uint64_t)d->docs * ((uint64_t)d->n + 1) + 1) +
                     (d->parents ? (uint64_t)d->count * (uint64_t)d->n : 0);
    /* A failure of write_contents leaves its detail here, one of
     * libmyosotis' own myo_error_detail(), where myo_data_error() falls
     * back. */
    myo_data_clear_error();
    return myo_h5_write_atomic(path, cells * sizeof(int32_t), write_contents, d);
}

/* ------------------------------------------------------------------ read */

/* The attributes the suite's tools interpret (dataset_file.h): read before
 * any other, so that they always find a place among the kept ones. */
static const char *const interpreted_attrs[] = {"ordering"};
enum { NINTERPRETED = (int)(sizeof interpreted_attrs / sizeof interpreted_attrs[0]) };

static int interpreted_index(const char *name)
{
    for (int k = 0; k < NINTERPRETED; k++)
        if (strcmp(name, interpreted_attrs[k]) == 0) return k;
    return -1;
}

/* One value of a root attribute, read: its class (string, integer or
 * float), the integer, and the text (strings as they are, numbers
 * printed); why says what prevents reading it. */
typedef struct {
    H5T_class_t cls;
    int64_t i;
    char text[sizeof((myo_dataset *)0)->attr_value[0]];
    char why[64];
} attr_value;

/* A string attribute's value into v->text, at most max - 1 characters:
 * 0, else -1 with v->why. */
static int read_string_value(hid_t attr, hid_t type, size_t max, attr_value *v)
{
    char *s = NULL;
    int vlen = H5Tis_variable_str(type) > 0;
    size_t ts = vlen ? 0 : H5Tget_size(type);
    hid_t mt = H5Tcopy(H5T_C_S1);
    herr_t e = mt >= 0 ? H5Tset_cset(mt, H5Tget_cset(type)) : -1; /* h5py writes UTF-8 */
    if (e >= 0) e = H5Tset_size(mt, vlen ? H5T_VARIABLE : ts + 1);
    if (e >= 0 && vlen) {
        e = H5Aread(attr, mt, &s);
    } else if (e >= 0) {
        /* one byte more than the file's: a string without a NUL (h5py's
         * np.bytes_) keeps its last character */
        s = calloc(ts + 2, 1);
        e = s ? H5Aread(attr, mt, s) : -1;
    }
    int rc = -1;
    if (e < 0 || !s)
        snprintf(v->why, sizeof v->why, "unreadable");
    else if (strlen(s) >= max)
        snprintf(v->why, sizeof v->why, "a value over %zu characters", max - 1);
    else
        rc = 0, snprintf(v->text, sizeof v->text, "%s", s);
    if (vlen && s)
        H5free_memory(s);
    else
        free(s);
    if (mt >= 0) H5Tclose(mt);
    return rc;
}

/* Read the root attribute name into *v, a string of at most max - 1
 * characters or a number: 0, else -1 with v->why. */
static int read_attr(hid_t file, const char *name, size_t max, attr_value *v)
{
    memset(v, 0, sizeof *v);
    v->cls = H5T_NO_CLASS;
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int rc = -1;
    if (type < 0 || space < 0)
        snprintf(v->why, sizeof v->why, "unreadable");
    else if (H5Sget_simple_extent_npoints(space) != 1)
        snprintf(v->why, sizeof v->why, "not one value");
    else if (cls == H5T_STRING)
        rc = read_string_value(attr, type, max, v);
    else if (cls == H5T_INTEGER && H5Aread(attr, H5T_NATIVE_INT64, &v->i) >= 0)
        rc = 0, snprintf(v->text, sizeof v->text, "%lld", (long long)v->i);
    else if (cls == H5T_FLOAT) {
        double x = 0;
        if (H5Aread(attr, H5T_NATIVE_DOUBLE, &x) >= 0)
            rc = 0, snprintf(v->text, sizeof v->text, "%.17g", x);
    }
    if (rc < 0 && !v->why[0])
        snprintf(v->why, sizeof v->why, "%s",
                 cls == H5T_INTEGER || cls == H5T_FLOAT ? "unreadable"
                                                        : "not a string or a number");
    if (rc == 0) v->cls = cls;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

/* A root attribute of the layout (cls, what names it in messages) into
 * *v, a string of at most max - 1 characters: MYO_ERR_DATA when it is
 * missing, unreadable or of another class. */
static myo_status read_layout_attr(hid_t file, const myo_h5_names *names, const char *path,
                                   const char *name, H5T_class_t cls, const char *what, size_t max,
                                   attr_value *v)
{
    if (!myo_h5_names_find(names, name))
        return myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' is missing", path, name);
    if (read_attr(file, name, max, v) < 0)
        return myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' is not %s: %s", path, name, what,
                             v->why);
    if (v->cls != cls)
        return myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' is not %s", path, name, what);
    return MYO_OK;
}

/* An attribute the reader does not keep: counted, its name listed while
 * there is room (then ", ..."). */
static void note_skipped(myo_dataset *d, const char *name)
{
    char shown[64], *list = d->skipped_names;
    const size_t room = sizeof d->skipped_names, used = strlen(list);
    const char *sep = d->skipped_attrs++ ? ", " : "";
    myo_h5_printable(name, shown, sizeof shown);
    if (used >= 5 && strcmp(list + used - 5, ", ...") == 0) return;
    if (used + strlen(sep) + strlen(shown) + 6 <= room)
        snprintf(list + used, room - used, "%s%s", sep, shown);
    else
        snprintf(list + used, room - used, "%s...", sep);
}

/* The dataset attributes: the interpreted ones first (one that cannot be
 * kept refuses the file), then every other root attribute outside the
 * layout's own, in name order, kept when it can be (a name of at most 47
 * characters, one string or number of at most 207, room left), else
 * counted in d->skipped_attrs. */
static myo_status read_dataset_attrs(hid_t file, const myo_h5_names *names, const char *path,
                                     myo_dataset *d)
{
    attr_value kept[NINTERPRETED], v;
    int pending = 0;
    for (int k = 0; k < NINTERPRETED; k++) {
        if (!myo_h5_names_find(names, interpreted_attrs[k])) continue;
        if (read_attr(file, interpreted_attrs[k], sizeof d->attr_value[0], &kept[k]) < 0)
            return myo_data_fail(MYO_ERR_DATA,
                                 "%s: attribute '%s', which the tools interpret, cannot be kept: "
                                 "%s",
                                 path, interpreted_attrs[k], kept[k].why);
        pending++;
    }
    for (int a = 0; a < names->count; a++) {
        const char *name = names->names[a];
        int k = interpreted_index(name);
        if (is_reserved(name)) continue;
        if (k >= 0) {
            pending--;
            if (myo_dataset_set_attr(d, name, kept[k].text) != MYO_OK)
                return myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s': %s", path, name,
                                     myo_data_error());
            continue;
        }
        if (strlen(name) >= sizeof d->attr_key[0] || d->nattrs + pending >= MYO_DATA_MAX_ATTRS ||
            read_attr(file, name, sizeof d->attr_value[0], &v) < 0 ||
            myo_dataset_set_attr(d, name, v.text) != MYO_OK)
            note_skipped(d, name);
    }
    return MYO_OK;
}

/* The object header address of the hard link name in file: 0, else -1
 * (no such link, or a soft or external one). */
static int link_address(hid_t file, const char *name, uint64_t *addr)
{
#if H5_VERSION_GE(1, 12, 0)
    H5L_info2_t li;
    haddr_t a = HADDR_UNDEF;
    if (H5Lget_info2(file, name, &li, H5P_DEFAULT) < 0 || li.type != H5L_TYPE_HARD ||
        H5VLnative_token_to_addr(file, li.u.token, &a) < 0)
        return -1;
#else
    H5L_info_t li;
    if (H5Lget_info(file, name, &li, H5P_DEFAULT) < 0 || li.type != H5L_TYPE_HARD) return -1;
    haddr_t a = li.u.address;
#endif
    *addr = (uint64_t)a;
    return 0;
}

/* Open a dataset that must be int32 of the given shape; its object header
 * is checked (myo_h5_check_object) before HDF5 decodes it. */
static myo_status open_i32(hid_t file, myo_h5_raw *raw, const char *path, const char *name,
                           int ndims, const hsize_t *want, hid_t *out)
{
    *out = -1;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
        return myo_data_fail(MYO_ERR_DATA, "%s: dataset '/%s' is missing", path, name);
    uint64_t addr = 0;
    if (link_address(file, name, &addr) < 0)
        return myo_data_fail(MYO_ERR_DATA, "%s: '/%s' is not a dataset (a soft or external link)",
                             path, name);
    char what[64];
    snprintf(what, sizeof what, "dataset '/%s'", name);
    myo_status st = myo_h5_check_object(raw, addr, what);
    if (st != MYO_OK) return st;
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0) return myo_data_fail(MYO_ERR_DATA, "%s: '/%s' is not a dataset", path, name);
    hid_t type = H5Dget_type(dset);
    hid_t space = H5Dget_space(dset);
    if (type < 0 || H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 4 ||
        H5Tget_sign(type) != H5T_SGN_2) {
        st = myo_data_fail(MYO_ERR_DATA, "%s: dataset '/%s' is not int32", path, name);
    } else {
        hsize_t dims[H5S_MAX_RANK];
        int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
        int same = rank == ndims;
        for (int k = 0; same && k < ndims; k++)
            same = dims[k] == want[k];
        if (!same) {
            char got[128] = "", exp[128] = "";
            for (int k = 0; k < rank && k < 3; k++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", k ? ", " : "",
                         (unsigned long long)dims[k]);
            for (int k = 0; k < ndims; k++)
                snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%llu", k ? ", " : "",
                         (unsigned long long)want[k]);
            st = myo_data_fail(MYO_ERR_DATA,
                               "%s: dataset '/%s' has shape (%s%s), expected (%s) from the "
                               "attributes",
                               path, name, got, rank > 3 ? ", ..." : "", exp);
        }
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (st != MYO_OK) {
        H5Dclose(dset);
        return st;
    }
    *out = dset;
    return MYO_OK;
}

/* Read rows [first, first + count) along the first dimension. */
static myo_status read_rows(hid_t dset, const char *path, const char *name, int ndims,
                            const hsize_t *dims, int64_t first, int64_t count, int32_t *buf)
{
    if (count == 0) return MYO_OK;
    hsize_t start[3] = {(hsize_t)first, 0, 0}, cnt[3];
    for (int k = 0; k < ndims; k++)
        cnt[k] = k == 0 ? (hsize_t)count : dims[k];
    hid_t fspace = H5Dget_space(dset);
    herr_t e =
        fspace >= 0 ? H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) : -1;
    hid_t mspace = e >= 0 ? H5Screate_simple(ndims, cnt, NULL) : -1;
    e = mspace >= 0 ? H5Dread(dset, H5T_NATIVE_INT32, mspace, fspace, H5P_DEFAULT, buf) : -1;
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (e < 0)
        return myo_data_fail(MYO_ERR_DATA, "%s: cannot read dataset '/%s' (truncated?)", path,
                             name);
    return MYO_OK;
}

/* The split counts, all three or none (d->has_splits); their values are
 * checked with the header's (check_header). */
static myo_status read_splits(hid_t file, const myo_h5_names *names, const char *path,
                              myo_dataset *d)
{
    char have[64] = "", lack[64] = "";
    int present = 0;
    for (int s = 0; s < MYO_SPLITS; s++) {
        int found = myo_h5_names_find(names, split_attrs[s]);
        char *list = found ? have : lack;
        snprintf(list + strlen(list), sizeof have - strlen(list), "%s'%s'", list[0] ? ", " : "",
                 split_attrs[s]);
        present += found;
    }
    if (present == 0) return MYO_OK;
    if (present < MYO_SPLITS)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: split attribute%s %s without %s (the splits need all three or "
                             "none)",
                             path, present > 1 ? "s" : "", have, lack);
    attr_value v;
    for (int s = 0; s < MYO_SPLITS; s++) {
        myo_status st = read_layout_attr(file, names, path, split_attrs[s], H5T_INTEGER,
                                         "an integer", sizeof v.text, &v);
        if (st != MYO_OK) return st;
        d->split_count[s] = v.i;
    }
    d->has_splits = 1;
    return MYO_OK;
}

/* The layout's attributes into d's header fields. */
static myo_status read_header(hid_t file, const myo_h5_names *names, const char *path,
                              myo_dataset *d)
{
    attr_value v;
    myo_status st = read_layout_attr(file, names, path, "format", H5T_STRING, "a string", 64, &v);
    if (st != MYO_OK)
        return myo_data_fail(MYO_ERR_DATA, "%s: not a myo-data file (no attribute 'format')", path);
    if (strcmp(v.text, MYO_DATA_FORMAT) != 0) {
        char shown[64];
        return myo_data_fail(MYO_ERR_DATA, "%s: format '%s', expected '%s'", path,
                             myo_h5_printable(v.text, shown, sizeof shown), MYO_DATA_FORMAT);
    }
    const char *snames[2] = {"task", "source"};
    char *svalues[2] = {d->task, d->source};
    for (int k = 0; k < 2 && st == MYO_OK; k++) {
        st = read_layout_attr(file, names, path, snames[k], H5T_STRING, "a string", sizeof d->task,
                              &v);
        if (st == MYO_OK) memcpy(svalues[k], v.text, strlen(v.text) + 1);
    }
    int64_t *ivalues[NINT_ATTRS] = {&d->count, &d->docs, &d->n, &d->vocab, &d->classes};
    for (int k = 0; k < NINT_ATTRS && st == MYO_OK; k++) {
        st = read_layout_attr(file, names, path, int_attrs[k], H5T_INTEGER, "an integer",
                              sizeof v.text, &v);
        *ivalues[k] = v.i;
    }
    if (st == MYO_OK) st = read_splits(file, names, path, d);
    if (st == MYO_OK) st = check_header(d, path);
    return st;
}

/* A root attribute name, for H5Aiterate2 (never stops the walk). */
static herr_t list_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)loc, (void)info;
    return myo_h5_names_add(data, name) == MYO_OK ? 0 : -1;
}

/* Header, and when want_data is 1 examples [first, first + count), when 2
 * all of them.  root: the checked root group (its attribute names listed
 * here when its header is checksummed). */
static myo_status read_contents(hid_t file, myo_h5_raw *raw, myo_h5_root *root, const char *path,
                                myo_dataset *d, int want_data, int64_t first, int64_t count,
                                int *has_parents)
{
    myo_status st = MYO_OK;
    if (!root->checked) {
        hsize_t idx = 0;
        if (H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &idx, list_attr, &root->attrs) < 0)
            st = myo_data_fail(MYO_ERR_DATA, "%s: cannot list the attributes", path);
        if (st == MYO_OK) st = myo_h5_names_sort(&root->attrs, path);
    }
    if (st == MYO_OK) st = read_header(file, &root->attrs, path, d);
    if (st == MYO_OK) st = read_dataset_attrs(file, &root->attrs, path, d);
    if (st != MYO_OK) return st;

    hsize_t E = (hsize_t)d->count, G = (hsize_t)d->docs, n = (hsize_t)d->n;
    hsize_t dt[3] = {E, G, n}, dl[2] = {E, G}, dp[2] = {E, n};
    hid_t dsets[4] = {-1, -1, -1, -1};
    int parents = H5Lexists(file, "parents", H5P_DEFAULT) > 0;
    if (parents && d->docs != 1)
        st = myo_data_fail(MYO_ERR_DATA, "%s: '/parents' with docs = %lld (parse trees need 1)",
                           path, (long long)d->docs);
    if (st == MYO_OK) st = open_i32(file, raw, path, "tokens", 3, dt, &dsets[0]);
    if (st == MYO_OK) st = open_i32(file, raw, path, "labels", 1, dl, &dsets[1]);
    if (st == MYO_OK) st = open_i32(file, raw, path, "lengths", 2, dl, &dsets[2]);
    if (st == MYO_OK && parents) st = open_i32(file, raw, path, "parents", 2, dp, &dsets[3]);
    if (has_parents) *has_parents = parents;
    if (st == MYO_OK && want_data == 2) count = d->count; /* the whole file */
    if (st == MYO_OK && want_data) {
        if (first < 0 || count < 0 || first > d->count || count > d->count - first)
            st = myo_data_fail(MYO_ERR_ARG, "%s: examples [%lld, %lld) outside the file's %lld",
                               path, (long long)first, (long long)(first + count),
                               (long long)d->count);
        if (st == MYO_OK) {
            d->docs = (int64_t)G; /* myo_dataset_alloc keeps them */
            st = myo_dataset_alloc(d, count, parents);
        }
        if (st == MYO_OK) st = read_rows(dsets[0], path, "tokens", 3, dt, first, count, d->tokens);
        if (st == MYO_OK) st = read_rows(dsets[1], path, "labels", 1, dl, first, count, d->labels);
        if (st == MYO_OK)
            st = read_rows(dsets[2], path, "lengths", 2, dl, first, count, d->lengths);
        if (st == MYO_OK && parents)
            st = read_rows(dsets[3], path, "parents", 2, dp, first, count, d->parents);
        if (st == MYO_OK) st = check_values(d, path, first);
    }
    for (int k = 0; k < 4; k++)
        if (dsets[k] >= 0) H5Dclose(dsets[k]);
    return st;
}

/* Check the file's structures (h5_header_check.h), then read it. */
static myo_status read_file(const char *path, myo_dataset *d, int want_data, int64_t first,
                            int64_t count, int *has_parents)
{
    if (!path || !d) return myo_data_fail(MYO_ERR_ARG, "myo_dataset_read: path and d required");
    memset(d, 0, sizeof *d);
    myo_h5_raw *raw = NULL;
    myo_h5_root root = {0, {0, NULL}};
    myo_status st = myo_h5_raw_open(path, &raw);
    if (st == MYO_OK) st = myo_h5_check_root(raw, &root);
    if (st == MYO_OK) {
        quiet_h5 q = quiet_begin();
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file < 0) {
            st = myo_data_fail(MYO_ERR_IO, "%s: not an HDF5 file, or truncated or corrupt", path);
        } else {
            st = read_contents(file, raw, &root, path, d, want_data, first, count, has_parents);
            if (H5Fclose(file) < 0 && st == MYO_OK)
                st = myo_data_fail(MYO_ERR_IO, "%s: closing the file failed", path);
        }
        quiet_end(q);
    }
    myo_h5_names_free(&root.attrs);
    myo_h5_raw_close(raw);
    if (st != MYO_OK) myo_dataset_free(d);
    return st;
}

myo_status myo_dataset_read(const char *path, myo_dataset *d)
{
    return read_file(path, d, 2, 0, 0, NULL);
}

myo_status myo_dataset_read_info(const char *path, myo_dataset *d, int *has_parents)
{
    if (has_parents) *has_parents = 0;
    return read_file(path, d, 0, 0, 0, has_parents);
}

myo_status myo_dataset_read_range(const char *path, int64_t first, int64_t count, myo_dataset *d)
{
    return read_file(path, d, 1, first, count, NULL);
}
