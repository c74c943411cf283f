/*
 * dataset_file.c -- the in-memory dataset (myo_data.h) and its HDF5 file
 * (dataset_file.h): allocation, attributes, validation, a crash-safe and
 * byte-reproducible write, whole and sliced reads, and the error helper of
 * datasets/.
 */
#include <config.h>

#include "dataset_file.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The root attributes the layout itself uses (not dataset attributes). */
static const char *const reserved_attrs[] = {"format", "task", "source", "count",
                                             "docs",   "n",    "vocab",  "classes"};
enum { NRESERVED = (int)(sizeof reserved_attrs / sizeof reserved_attrs[0]) };

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
        const char *inames[5] = {"count", "docs", "n", "vocab", "classes"};
        int64_t ivalues[5] = {d->count, d->docs, d->n, d->vocab, d->classes};
        for (int k = 0; k < 5; k++)
            if (strcmp(key, inames[k]) == 0)
                snprintf(own, sizeof own, "%lld", (long long)ivalues[k]);
        if (strcmp(own, value) == 0) return MYO_OK;
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
    const char *inames[5] = {"count", "docs", "n", "vocab", "classes"};
    int64_t ivalues[5] = {d->count, d->docs, d->n, d->vocab, d->classes};
    for (int k = 0; k < 5 && st == MYO_OK; k++)
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

/* A root attribute that must hold one value of class cls (what names the
 * class in the message): MYO_ERR_DATA when it is missing or not such a
 * value.  Close with close_scalar_attr, whatever the status. */
typedef struct {
    hid_t attr, type, space;
} scalar_attr;

static myo_status open_scalar_attr(hid_t file, const char *path, const char *name, H5T_class_t cls,
                                   const char *what, scalar_attr *a)
{
    a->attr = a->type = a->space = -1;
    if (H5Aexists(file, name) <= 0)
        return myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' is missing", path, name);
    a->attr = H5Aopen(file, name, H5P_DEFAULT);
    a->type = a->attr >= 0 ? H5Aget_type(a->attr) : -1;
    a->space = a->attr >= 0 ? H5Aget_space(a->attr) : -1;
    if (a->type < 0 || a->space < 0 || H5Tget_class(a->type) != cls ||
        H5Sget_simple_extent_npoints(a->space) != 1)
        return myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' is not %s", path, name, what);
    return MYO_OK;
}

static void close_scalar_attr(scalar_attr *a)
{
    if (a->space >= 0) H5Sclose(a->space);
    if (a->type >= 0) H5Tclose(a->type);
    if (a->attr >= 0) H5Aclose(a->attr);
}

/* Read a scalar string attribute into buf; MYO_ERR_DATA when missing or
 * not a string (or too long). */
static myo_status read_string_attr(hid_t file, const char *path, const char *name, char *buf,
                                   size_t size)
{
    scalar_attr a;
    myo_status st = open_scalar_attr(file, path, name, H5T_STRING, "a string", &a);
    hid_t attr = a.attr, type = a.type;
    if (st == MYO_OK && H5Tis_variable_str(type) > 0) {
        char *v = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(type)); /* h5py writes UTF-8 */
        if (H5Aread(attr, mt, &v) < 0 || !v || strlen(v) >= size)
            st = myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' unreadable or too long", path,
                               name);
        else
            snprintf(buf, size, "%s", v);
        if (v) H5free_memory(v);
        H5Tclose(mt);
    } else if (st == MYO_OK) {
        size_t ts = H5Tget_size(type);
        /* one byte more than the file's: a string without a NUL (h5py's
         * np.bytes_) keeps its last character */
        char *v = calloc(ts + 2, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, ts + 1);
        H5Tset_cset(mt, H5Tget_cset(type));
        if (!v || H5Aread(attr, mt, v) < 0 || strlen(v) >= size)
            st = myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' unreadable or too long", path,
                               name);
        else
            snprintf(buf, size, "%s", v);
        free(v);
        H5Tclose(mt);
    }
    close_scalar_attr(&a);
    return st;
}

static myo_status read_int_attr(hid_t file, const char *path, const char *name, int64_t *value)
{
    scalar_attr a;
    myo_status st = open_scalar_attr(file, path, name, H5T_INTEGER, "an integer", &a);
    if (st == MYO_OK && H5Aread(a.attr, H5T_NATIVE_INT64, value) < 0)
        st = myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' is not an integer", path, name);
    close_scalar_attr(&a);
    return st;
}

typedef struct {
    const char *path;
    myo_dataset *d;
    myo_status st;
} attr_walk;

/* Every root attribute outside the layout's own becomes a dataset
 * attribute: strings as they are, integers and floats printed. */
static herr_t collect_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    attr_walk *w = data;
    if (is_reserved(name)) return 0;
    char value[sizeof w->d->attr_value[0]];
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    myo_status st = MYO_OK;
    if (cls == H5T_STRING) {
        st = read_string_attr(loc, w->path, name, value, sizeof value);
    } else if (cls == H5T_INTEGER) {
        int64_t v = 0;
        st = read_int_attr(loc, w->path, name, &v);
        snprintf(value, sizeof value, "%lld", (long long)v);
    } else if (cls == H5T_FLOAT) {
        double v = 0;
        attr = H5Aopen(loc, name, H5P_DEFAULT);
        if (attr < 0 || H5Aread(attr, H5T_NATIVE_DOUBLE, &v) < 0)
            st = myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' unreadable", w->path, name);
        if (attr >= 0) H5Aclose(attr);
        snprintf(value, sizeof value, "%.17g", v);
    } else {
        st = myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' is not a string or a number", w->path,
                           name);
    }
    if (st == MYO_OK && myo_dataset_set_attr(w->d, name, value) != MYO_OK)
        st = myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s': %s", w->path, name, myo_data_error());
    w->st = st;
    return st == MYO_OK ? 0 : 1;
}

/* Open a dataset that must be int32 of the given shape. */
static myo_status open_i32(hid_t file, const char *path, const char *name, int ndims,
                           const hsize_t *want, hid_t *out)
{
    *out = -1;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
        return myo_data_fail(MYO_ERR_DATA, "%s: dataset '/%s' is missing", path, name);
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0) return myo_data_fail(MYO_ERR_DATA, "%s: '/%s' is not a dataset", path, name);
    hid_t type = H5Dget_type(dset);
    hid_t space = H5Dget_space(dset);
    myo_status st = MYO_OK;
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

/* Header, and when want_data is 1 examples [first, first + count), when 2
 * all of them. */
static myo_status read_contents(hid_t file, const char *path, myo_dataset *d, int want_data,
                                int64_t first, int64_t count, int *has_parents)
{
    char format[64];
    myo_status st = read_string_attr(file, path, "format", format, sizeof format);
    if (st != MYO_OK)
        return myo_data_fail(MYO_ERR_DATA, "%s: not a myo-data file (no attribute 'format')", path);
    if (strcmp(format, MYO_DATA_FORMAT) != 0)
        return myo_data_fail(MYO_ERR_DATA, "%s: format '%s', expected '%s'", path, format,
                             MYO_DATA_FORMAT);
    st = read_string_attr(file, path, "task", d->task, sizeof d->task);
    if (st == MYO_OK) st = read_string_attr(file, path, "source", d->source, sizeof d->source);
    const char *inames[5] = {"count", "docs", "n", "vocab", "classes"};
    int64_t *ivalues[5] = {&d->count, &d->docs, &d->n, &d->vocab, &d->classes};
    for (int k = 0; k < 5 && st == MYO_OK; k++)
        st = read_int_attr(file, path, inames[k], ivalues[k]);
    if (st == MYO_OK) st = check_header(d, path);
    if (st != MYO_OK) return st;
    attr_walk w = {path, d, MYO_OK};
    hsize_t idx = 0;
    if (H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &w) < 0)
        return w.st != MYO_OK ? w.st
                              : myo_data_fail(MYO_ERR_DATA, "%s: cannot list the attributes", path);

    hsize_t E = (hsize_t)d->count, G = (hsize_t)d->docs, n = (hsize_t)d->n;
    hsize_t dt[3] = {E, G, n}, dl[2] = {E, G}, dp[2] = {E, n};
    hid_t dsets[4] = {-1, -1, -1, -1};
    int parents = H5Lexists(file, "parents", H5P_DEFAULT) > 0;
    if (parents && d->docs != 1)
        st = myo_data_fail(MYO_ERR_DATA, "%s: '/parents' with docs = %lld (parse trees need 1)",
                           path, (long long)d->docs);
    if (st == MYO_OK) st = open_i32(file, path, "tokens", 3, dt, &dsets[0]);
    if (st == MYO_OK) st = open_i32(file, path, "labels", 1, dl, &dsets[1]);
    if (st == MYO_OK) st = open_i32(file, path, "lengths", 2, dl, &dsets[2]);
    if (st == MYO_OK && parents) st = open_i32(file, path, "parents", 2, dp, &dsets[3]);
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

static myo_status read_file(const char *path, myo_dataset *d, int want_data, int64_t first,
                            int64_t count, int *has_parents)
{
    if (!path || !d) return myo_data_fail(MYO_ERR_ARG, "myo_dataset_read: path and d required");
    memset(d, 0, sizeof *d);
    if (access(path, R_OK) != 0)
        return myo_data_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    quiet_h5 q = quiet_begin();
    myo_status st;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        st = myo_data_fail(MYO_ERR_IO, "%s: not an HDF5 file, or truncated or corrupt", path);
    } else {
        st = read_contents(file, path, d, want_data, first, count, has_parents);
        if (H5Fclose(file) < 0 && st == MYO_OK)
            st = myo_data_fail(MYO_ERR_IO, "%s: closing the file failed", path);
    }
    quiet_end(q);
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
