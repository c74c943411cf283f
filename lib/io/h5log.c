/* h5log.c -- measurement logs in HDF5 (myosotis_h5log.h).
 *
 * Plain serial HDF5 (no high-level library): appendable 1-D compound
 * datasets, one attribute group per run, H5Fflush after every change so
 * that a process killed between two calls leaves a readable file (default
 * file format, global flush).  A new file is built in memory and appears
 * whole under its name (rename), one writer at a time holds the file's
 * lock, and disk space is reserved before every write (file_guard.h), so
 * that a full disk stops the log with every flushed row readable.  HDF5's
 * automatic error printing is switched off inside every call. */
#include <config.h>

#include "core/core.h"
#include "file_guard.h"
#include "h5util.h"
#include "myosotis_h5log.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The layout version written as the root attribute "schema_version". */
#define H5LOG_LAYOUT_VERSION 1
/* Rows per chunk: small enough that a log of a few rows stays small, large
 * enough that appends do not touch a chunk index per row. */
#define H5LOG_CHUNK_ROWS 64

/* A table of an open log: a deep copy of the caller's description, its
 * dataset and the memory type of its row struct. */
typedef struct {
    char *name;
    myo_h5col *cols; /* names point into names_buf */
    char *names_buf;
    int ncols;
    size_t row_size;
    int run_id_col;
    hid_t dset;
    hid_t mem_type;
    int64_t rows;
} h5log_table;

struct myo_h5log {
    char *path;
    hid_t file;
    hid_t run;
    int64_t run_id;
    int ntables;
    h5log_table *tables;
    myo_writer_lock lock;
    int fd;           /* the file again, for the disk reserve */
    uint64_t reserve; /* bytes kept allocated beyond the file's end */
    /* a write or flush failed: what HDF5 holds in memory may differ from
     * the file, so nothing more is written (the file keeps what was
     * flushed before) */
    int failed;
};

/* ------------------------------------------------------------ schemas */

static size_t col_size(const myo_h5col *c)
{
    return c->type == MYO_H5COL_INT64    ? sizeof(int64_t)
           : c->type == MYO_H5COL_DOUBLE ? sizeof(double)
                                         : c->size;
}

myo_status myo_h5log_check_schema(const myo_h5table *tables, int ntables)
{
    if (!tables || ntables < 1)
        return myo_fail(MYO_ERR_ARG, "h5log schema: at least one table is required");
    for (int t = 0; t < ntables; t++) {
        const myo_h5table *tb = &tables[t];
        if (!tb->name || !tb->name[0])
            return myo_fail(MYO_ERR_ARG, "h5log schema: table %d has no name", t);
        if (strchr(tb->name, '/') || strchr(tb->name, '.') == tb->name)
            return myo_fail(MYO_ERR_ARG,
                            "h5log schema: table name '%s' must be a plain name (no '/', no "
                            "leading '.')",
                            tb->name);
        if (strcmp(tb->name, "runs") == 0)
            return myo_fail(MYO_ERR_ARG, "h5log schema: table name 'runs' is reserved");
        for (int u = 0; u < t; u++)
            if (strcmp(tables[u].name, tb->name) == 0)
                return myo_fail(MYO_ERR_ARG, "h5log schema: two tables are named '%s'", tb->name);
        if (!tb->cols || tb->ncols < 1)
            return myo_fail(MYO_ERR_ARG, "h5log schema: table '%s' has no columns", tb->name);
        if (tb->row_size == 0)
            return myo_fail(MYO_ERR_ARG, "h5log schema: table '%s' has row_size 0", tb->name);
        int run_id = 0;
        for (int c = 0; c < tb->ncols; c++) {
            const myo_h5col *col = &tb->cols[c];
            if (!col->name || !col->name[0])
                return myo_fail(MYO_ERR_ARG, "h5log schema: table '%s' column %d has no name",
                                tb->name, c);
            for (int d = 0; d < c; d++)
                if (strcmp(tb->cols[d].name, col->name) == 0)
                    return myo_fail(MYO_ERR_ARG, "h5log schema: table '%s' has two columns '%s'",
                                    tb->name, col->name);
            if (col->type != MYO_H5COL_INT64 && col->type != MYO_H5COL_DOUBLE &&
                col->type != MYO_H5COL_STRING)
                return myo_fail(MYO_ERR_ARG, "h5log schema: table '%s' column '%s' has type %d",
                                tb->name, col->name, (int)col->type);
            if (col->type == MYO_H5COL_STRING && col->size < 2)
                return myo_fail(MYO_ERR_ARG,
                                "h5log schema: table '%s' string column '%s' has size %zu (at "
                                "least 2: one character and the NUL)",
                                tb->name, col->name, col->size);
            size_t size = col_size(col);
            if (col->offset > tb->row_size || size > tb->row_size - col->offset)
                return myo_fail(MYO_ERR_ARG,
                                "h5log schema: table '%s' column '%s' (offset %zu, %zu bytes) "
                                "lies outside the row (%zu bytes)",
                                tb->name, col->name, col->offset, size, tb->row_size);
            if (strcmp(col->name, "run_id") == 0) {
                if (col->type != MYO_H5COL_INT64)
                    return myo_fail(MYO_ERR_ARG,
                                    "h5log schema: table '%s' column 'run_id' must be int64",
                                    tb->name);
                run_id = 1;
            }
        }
        if (!run_id)
            return myo_fail(MYO_ERR_ARG, "h5log schema: table '%s' has no int64 column 'run_id'",
                            tb->name);
    }
    return MYO_OK;
}

/* A fixed-length, NUL-padded string type of size bytes. */
static hid_t string_type(size_t size, H5T_str_t pad)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, pad) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* The compound type of a table: in memory (the caller's struct: native
 * types at the caller's offsets) or in the file (packed, little-endian, in
 * column order).  -1 on failure. */
static hid_t table_type(const myo_h5table *tb, int in_file)
{
    size_t total = 0;
    for (int c = 0; c < tb->ncols; c++)
        total += col_size(&tb->cols[c]);
    hid_t type = H5Tcreate(H5T_COMPOUND, in_file ? total : tb->row_size);
    if (type < 0) return -1;
    size_t packed = 0;
    for (int c = 0; c < tb->ncols; c++) {
        const myo_h5col *col = &tb->cols[c];
        hid_t member = -1;
        int own = 0;
        if (col->type == MYO_H5COL_INT64)
            member = in_file ? H5T_STD_I64LE : H5T_NATIVE_INT64;
        else if (col->type == MYO_H5COL_DOUBLE)
            member = in_file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
        else
            member = string_type(col->size, H5T_STR_NULLPAD), own = 1;
        herr_t rc =
            member < 0 ? -1 : H5Tinsert(type, col->name, in_file ? packed : col->offset, member);
        if (own && member >= 0) H5Tclose(member);
        if (rc < 0) {
            H5Tclose(type);
            return -1;
        }
        packed += col_size(col);
    }
    return type;
}

/* -------------------------------------------------------- attributes */

/* A scalar fixed-length string attribute (size strlen + 1, NUL-terminated,
 * as H5LTset_attribute_string writes), replacing an existing one. */
static int write_string_attr(hid_t obj, const char *key, const char *value)
{
    htri_t exists = H5Aexists(obj, key);
    if (exists < 0 || (exists > 0 && H5Adelete(obj, key) < 0)) return -1;
    hid_t type = string_type(strlen(value) + 1, H5T_STR_NULLTERM);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr =
        type >= 0 && space >= 0 ? H5Acreate2(obj, key, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = attr >= 0 && H5Awrite(attr, type, value) >= 0 ? 0 : -1;
    if (attr >= 0 && H5Aclose(attr) < 0) rc = -1;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return rc;
}

static int write_int_attr(hid_t obj, const char *key, int64_t value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr =
        space >= 0 ? H5Acreate2(obj, key, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = attr >= 0 && H5Awrite(attr, H5T_NATIVE_INT64, &value) >= 0 ? 0 : -1;
    if (attr >= 0 && H5Aclose(attr) < 0) rc = -1;
    if (space >= 0) H5Sclose(space);
    return rc;
}

/* The scalar attribute key of obj read as cls: 1 when read into out (a
 * string: NUL-terminated into str_size bytes; an integer: an int64_t), 0
 * when absent or not of that class (a string: not fixed-length), -1 when
 * HDF5 fails. */
static int read_attr(hid_t obj, const char *key, H5T_class_t cls, size_t str_size, void *out)
{
    htri_t exists = H5Aexists(obj, key);
    if (exists <= 0) return exists < 0 ? -1 : 0;
    hid_t attr = H5Aopen(obj, key, H5P_DEFAULT);
    if (attr < 0) return -1;
    hid_t ftype = H5Aget_type(attr);
    int rc = 0;
    if (ftype >= 0 && H5Tget_class(ftype) == cls &&
        (cls != H5T_STRING || H5Tis_variable_str(ftype) == 0)) {
        hid_t mtype =
            cls == H5T_STRING ? string_type(str_size, H5T_STR_NULLTERM) : H5T_NATIVE_INT64;
        rc = mtype >= 0 && H5Aread(attr, mtype, out) >= 0 ? 1 : -1;
        if (cls == H5T_STRING && mtype >= 0) H5Tclose(mtype);
    } else if (ftype < 0) {
        rc = -1;
    }
    if (ftype >= 0) H5Tclose(ftype);
    H5Aclose(attr);
    return rc;
}

/* The fixed-length string attribute key of obj into buf (size bytes,
 * NUL-terminated, cut to fit).  1 when read, 0 when absent or not a
 * fixed-length string, -1 when HDF5 fails. */
static int read_string_attr(hid_t obj, const char *key, char *buf, size_t size)
{
    buf[0] = '\0';
    int rc = read_attr(obj, key, H5T_STRING, size, buf);
    buf[size - 1] = '\0';
    return rc;
}

/* 1 with *value when obj has an integer attribute key, 0 when not, -1 on
 * failure. */
static int read_int_attr(hid_t obj, const char *key, int64_t *value)
{
    return read_attr(obj, key, H5T_INTEGER, 0, value);
}

/* ------------------------------------------------------ checking a file */

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_STRING:
        return "string";
    case H5T_COMPOUND:
        return "compound";
    default:
        return "other";
    }
}

/* A member's description for messages: "'name' (class, N bytes)". */
static void member_text(hid_t type, unsigned idx, char *buf, size_t size)
{
    char *name = H5Tget_member_name(type, idx);
    hid_t m = H5Tget_member_type(type, idx);
    snprintf(buf, size, "'%s' (%s, %zu bytes)", name ? name : "?",
             m >= 0 ? class_name(H5Tget_class(m)) : "?", m >= 0 ? H5Tget_size(m) : (size_t)0);
    if (m >= 0) H5Tclose(m);
    if (name) H5free_memory(name);
}

/* 1 when member idx of a and b have the same name, class and size. */
static int same_member(hid_t a, hid_t b, unsigned idx)
{
    char *na = H5Tget_member_name(a, idx), *nb = H5Tget_member_name(b, idx);
    hid_t ma = H5Tget_member_type(a, idx), mb = H5Tget_member_type(b, idx);
    int same = na && nb && strcmp(na, nb) == 0 && ma >= 0 && mb >= 0 &&
               H5Tget_class(ma) == H5Tget_class(mb) && H5Tget_size(ma) == H5Tget_size(mb);
    if (ma >= 0) H5Tclose(ma);
    if (mb >= 0) H5Tclose(mb);
    if (na) H5free_memory(na);
    if (nb) H5free_memory(nb);
    return same;
}

/* The table's dataset in an existing file has exactly the members of the
 * schema (names, classes, sizes, in order) and is 1-D. */
static myo_status check_table(hid_t file, const char *path, const myo_h5table *tb)
{
    htri_t exists = H5Lexists(file, tb->name, H5P_DEFAULT);
    if (exists < 0) return myo_fail(MYO_ERR_HDF5, "%s: cannot read the root group", path);
    if (!exists)
        return myo_fail(MYO_ERR_DATA, "%s: incompatible schema: table '%s' is missing", path,
                        tb->name);
    hid_t obj = H5Oopen(file, tb->name, H5P_DEFAULT);
    if (obj < 0) return myo_fail(MYO_ERR_HDF5, "%s: cannot open '%s'", path, tb->name);
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5Oclose(obj);
        return myo_fail(MYO_ERR_DATA, "%s: incompatible schema: '%s' is not a dataset", path,
                        tb->name);
    }
    myo_status st = MYO_OK;
    hid_t ftype = H5Dget_type(obj), space = H5Dget_space(obj);
    hid_t want = table_type(tb, 1);
    if (ftype < 0 || space < 0 || want < 0) {
        st = myo_fail(MYO_ERR_HDF5, "%s: cannot read the type of table '%s'", path, tb->name);
    } else if (H5Tget_class(ftype) != H5T_COMPOUND || H5Sget_simple_extent_ndims(space) != 1) {
        st = myo_fail(MYO_ERR_DATA,
                      "%s: incompatible schema: table '%s' is not a 1-D table of compound rows",
                      path, tb->name);
    } else {
        int have_n = H5Tget_nmembers(ftype), want_n = H5Tget_nmembers(want);
        int common = have_n < want_n ? have_n : want_n;
        char have[160], expected[160];
        for (int c = 0; c < common && st == MYO_OK; c++)
            if (!same_member(ftype, want, (unsigned)c)) {
                member_text(ftype, (unsigned)c, have, sizeof have);
                member_text(want, (unsigned)c, expected, sizeof expected);
                st = myo_fail(MYO_ERR_DATA,
                              "%s: incompatible schema: table '%s' column %d is %s in the file, "
                              "%s expected",
                              path, tb->name, c, have, expected);
            }
        if (st == MYO_OK && have_n < want_n) {
            member_text(want, (unsigned)have_n, expected, sizeof expected);
            st = myo_fail(MYO_ERR_DATA,
                          "%s: incompatible schema: table '%s' lacks column %s (%d columns in "
                          "the file, %d expected)",
                          path, tb->name, expected, have_n, want_n);
        } else if (st == MYO_OK && have_n > want_n) {
            member_text(ftype, (unsigned)want_n, have, sizeof have);
            st = myo_fail(MYO_ERR_DATA,
                          "%s: incompatible schema: table '%s' has an extra column %s (%d "
                          "columns in the file, %d expected)",
                          path, tb->name, have, have_n, want_n);
        }
    }
    if (want >= 0) H5Tclose(want);
    if (ftype >= 0) H5Tclose(ftype);
    if (space >= 0) H5Sclose(space);
    H5Oclose(obj);
    return st;
}

/* The root attributes and every table of an existing file match. */
static myo_status check_file(hid_t file, const char *path, const char *schema,
                             const myo_h5table *tables, int ntables)
{
    size_t size = strlen(schema) + 2; /* room to see a longer name differ */
    char *have = myo_alloc(size < 256 ? 256 : size, 1, "schema name");
    if (!have) return MYO_ERR_NOMEM;
    int rc = read_string_attr(file, "schema", have, size < 256 ? 256 : size);
    myo_status st = MYO_OK;
    if (rc < 0)
        st = myo_fail(MYO_ERR_HDF5, "%s: cannot read the attribute 'schema'", path);
    else if (rc == 0)
        st = myo_fail(MYO_ERR_DATA,
                      "%s: incompatible schema: no fixed-length string attribute 'schema' at "
                      "the root (not a myosotis log?)",
                      path);
    else if (strcmp(have, schema) != 0)
        st = myo_fail(MYO_ERR_DATA, "%s: incompatible schema: the file has schema '%s', not '%s'",
                      path, have, schema);
    free(have);
    int64_t version = 0;
    if (st == MYO_OK && (rc = read_int_attr(file, "schema_version", &version)) != 1)
        st = rc < 0
                 ? myo_fail(MYO_ERR_HDF5, "%s: cannot read the attribute 'schema_version'", path)
                 : myo_fail(MYO_ERR_DATA,
                            "%s: incompatible schema: no integer attribute 'schema_version'", path);
    if (st == MYO_OK && version != H5LOG_LAYOUT_VERSION)
        st = myo_fail(MYO_ERR_DATA,
                      "%s: incompatible schema: log layout version %lld, this library writes %d",
                      path, (long long)version, H5LOG_LAYOUT_VERSION);
    for (int t = 0; t < ntables && st == MYO_OK; t++)
        st = check_table(file, path, &tables[t]);
    if (st == MYO_OK) {
        htri_t runs = H5Lexists(file, "runs", H5P_DEFAULT);
        hid_t g = runs > 0 ? H5Oopen(file, "runs", H5P_DEFAULT) : -1;
        if (g < 0 || H5Iget_type(g) != H5I_GROUP)
            st = myo_fail(MYO_ERR_DATA, "%s: incompatible schema: no group '/runs'", path);
        if (g >= 0) H5Oclose(g);
    }
    return st;
}

/* The largest run id under /runs ("run-<id>"), 0 when there is none. */
static myo_status largest_run_id(hid_t file, const char *path, int64_t *out)
{
    *out = 0;
    hid_t g = H5Gopen2(file, "runs", H5P_DEFAULT);
    H5G_info_t info;
    if (g < 0 || H5Gget_info(g, &info) < 0) {
        if (g >= 0) H5Gclose(g);
        return myo_fail(MYO_ERR_HDF5, "%s: cannot list the group '/runs'", path);
    }
    myo_status st = MYO_OK;
    for (hsize_t k = 0; k < info.nlinks && st == MYO_OK; k++) {
        char name[64];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_NATIVE, k, name,
                                         sizeof name, H5P_DEFAULT);
        if (len < 0) {
            st = myo_fail(MYO_ERR_HDF5, "%s: cannot list the group '/runs'", path);
            break;
        }
        long long id = 0;
        char end = 0;
        if ((size_t)len < sizeof name && sscanf(name, "run-%lld%c", &id, &end) == 1 && id > *out)
            *out = id;
    }
    H5Gclose(g);
    return st;
}

/* ----------------------------------------------------------- the log */

static void free_tables(h5log_table *t, int n)
{
    for (int k = 0; t && k < n; k++) {
        if (t[k].dset >= 0) H5Dclose(t[k].dset);
        if (t[k].mem_type >= 0) H5Tclose(t[k].mem_type);
        free(t[k].name);
        free(t[k].cols);
        free(t[k].names_buf);
    }
    free(t);
}

/* Close what is open (HDF5 objects, the file, the reserve), release the
 * lock, free.  The first failure of closing the file, MYO_OK otherwise. */
static myo_status log_free(myo_h5log *log)
{
    if (!log) return MYO_OK;
    myo_status st = MYO_OK;
    free_tables(log->tables, log->ntables);
    if (log->run >= 0 && H5Gclose(log->run) < 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot close the run's group", log->path);
    if (log->file >= 0 && H5Fclose(log->file) < 0 && st == MYO_OK)
        st = myo_fail(MYO_ERR_IO, "%s: cannot close the file (disk full?)", log->path);
    if (log->fd >= 0) {
        close(log->fd);
        myo_disk_reserve_release(log->path);
    }
    myo_writer_lock_release(&log->lock);
    free(log->path);
    free(log);
    return st;
}

/* Bytes kept free beyond the file's end: room for several new chunks of
 * every table and the metadata that indexes them, at least 1 MiB. */
static uint64_t reserve_bytes(const myo_h5table *tables, int ntables)
{
    uint64_t chunks = 0;
    for (int t = 0; t < ntables; t++)
        for (int c = 0; c < tables[t].ncols; c++)
            chunks += H5LOG_CHUNK_ROWS * (uint64_t)col_size(&tables[t].cols[c]);
    uint64_t r = 4 * chunks + (UINT64_C(256) << 10);
    return r < (UINT64_C(1) << 20) ? UINT64_C(1) << 20 : r;
}

/* Before HDF5 writes to the log: refused once a write failed, then the
 * disk reserve renewed. */
static myo_status ready_to_write(myo_h5log *log)
{
    if (log->failed)
        return myo_fail(MYO_ERR_IO, "%s: an earlier write failed: nothing more is written",
                        log->path);
    return myo_disk_reserve(log->fd, log->path, log->reserve);
}

static char *dup_string(const char *s)
{
    char *d = myo_alloc(strlen(s) + 1, 1, "a string");
    if (d) memcpy(d, s, strlen(s) + 1);
    return d;
}

/* Deep copies of the tables, with their memory types (datasets not yet
 * open). */
static myo_status copy_tables(const myo_h5table *tables, int ntables, h5log_table **out)
{
    h5log_table *t = myo_alloc((size_t)ntables, sizeof *t, "the log's tables");
    if (!t) return MYO_ERR_NOMEM;
    for (int k = 0; k < ntables; k++)
        t[k].dset = t[k].mem_type = -1;
    myo_status st = MYO_OK;
    for (int k = 0; k < ntables && st == MYO_OK; k++) {
        const myo_h5table *tb = &tables[k];
        size_t names = 0;
        for (int c = 0; c < tb->ncols; c++)
            names += strlen(tb->cols[c].name) + 1;
        t[k].name = dup_string(tb->name);
        t[k].cols = myo_alloc((size_t)tb->ncols, sizeof(myo_h5col), "the log's columns");
        t[k].names_buf = myo_alloc(names, 1, "the log's column names");
        if (!t[k].name || !t[k].cols || !t[k].names_buf) {
            st = MYO_ERR_NOMEM;
            t[k].ncols = 0;
            break;
        }
        t[k].ncols = tb->ncols;
        t[k].row_size = tb->row_size;
        size_t used = 0;
        for (int c = 0; c < tb->ncols; c++) {
            t[k].cols[c] = tb->cols[c];
            size_t len = strlen(tb->cols[c].name) + 1;
            memcpy(t[k].names_buf + used, tb->cols[c].name, len);
            t[k].cols[c].name = t[k].names_buf + used;
            used += len;
            if (strcmp(tb->cols[c].name, "run_id") == 0) t[k].run_id_col = c;
        }
        t[k].mem_type = table_type(tb, 0);
        if (t[k].mem_type < 0)
            st = myo_fail(MYO_ERR_HDF5, "h5log: cannot build the row type of table '%s'", tb->name);
    }
    if (st != MYO_OK) {
        free_tables(t, ntables);
        return st;
    }
    *out = t;
    return MYO_OK;
}

/* A new file's contents: root attributes, empty tables, /runs. */
static myo_status create_contents(hid_t file, const char *path, const char *schema,
                                  const myo_h5table *tables, int ntables)
{
    if (write_string_attr(file, "schema", schema) < 0 ||
        write_int_attr(file, "schema_version", H5LOG_LAYOUT_VERSION) < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot write the root attributes", path);
    hid_t g = H5Gcreate2(file, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return myo_fail(MYO_ERR_IO, "%s: cannot create the group '/runs'", path);
    H5Gclose(g);
    myo_status st = MYO_OK;
    for (int t = 0; t < ntables && st == MYO_OK; t++) {
        hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = H5LOG_CHUNK_ROWS;
        hid_t type = table_type(&tables[t], 1);
        hid_t space = H5Screate_simple(1, &dims, &maxdims);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hid_t dset = -1;
        if (type >= 0 && space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0)
            dset = H5Dcreate2(file, tables[t].name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (dset < 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot create the table '%s'", path, tables[t].name);
        else
            H5Dclose(dset);
        if (dcpl >= 0) H5Pclose(dcpl);
        if (space >= 0) H5Sclose(space);
        if (type >= 0) H5Tclose(type);
    }
    return st;
}

/* The next run's group in an open file: /runs/run-NNNNNN after the
 * largest there, with its utc_start; *run_id is its number. */
static myo_status add_run_group(hid_t file, const char *path, int64_t *run_id)
{
    MYO_CHECK(largest_run_id(file, path, run_id));
    char name[64], now[32];
    snprintf(name, sizeof name, "runs/run-%06lld", (long long)++*run_id);
    myo_h5log_utc_now(now, sizeof now);
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    myo_status st = MYO_OK;
    if (g < 0 || write_string_attr(g, "utc_start", now) < 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot create the group '/%s'", path, name);
    if (g >= 0) H5Gclose(g);
    return st;
}

/* The image of a new log (root attributes, empty tables, /runs with the
 * first run's group), built in memory (HDF5's core driver, no backing
 * store): nothing touches the disk, so nothing can fail half-written there.
 * *image is malloc'ed. */
static myo_status new_file_image(const char *path, const char *schema, const myo_h5table *tables,
                                 int ntables, void **image, size_t *size, int64_t *run_id)
{
    *image = NULL, *size = 0;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t file = fapl >= 0 && H5Pset_fapl_core(fapl, 64 << 10, 0) >= 0
                     ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                     : -1;
    if (fapl >= 0) H5Pclose(fapl);
    if (file < 0) return myo_fail(MYO_ERR_HDF5, "%s: cannot lay out a new log in memory", path);
    myo_status st = create_contents(file, path, schema, tables, ntables);
    if (st == MYO_OK) st = add_run_group(file, path, run_id);
    ssize_t len = st == MYO_OK && H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0
                      ? H5Fget_file_image(file, NULL, 0)
                      : -1;
    void *buf = len > 0 ? myo_alloc((size_t)len, 1, "the new log's image") : NULL;
    if (st == MYO_OK && (!buf || H5Fget_file_image(file, buf, (size_t)len) != len))
        st = buf ? myo_fail(MYO_ERR_HDF5, "%s: cannot take the new log's image", path)
                 : MYO_ERR_NOMEM;
    if (H5Fclose(file) < 0 && st == MYO_OK)
        st = myo_fail(MYO_ERR_HDF5, "%s: cannot close the new log in memory", path);
    if (st != MYO_OK) {
        free(buf);
        return st;
    }
    *image = buf, *size = (size_t)len;
    return MYO_OK;
}

/* Write a new log whole under a temporary name beside path (path.tmp-PID,
 * created with O_EXCL: a missing directory or a permission problem is
 * reported with its reason) with the disk reserve behind it, then rename
 * it onto path: a run killed at any moment leaves either no file or a
 * complete one with its first run, and a disk too full for the log leaves
 * none.
 * The caller holds the writer's lock, so no other run creates path
 * meanwhile.  The temporary file is removed when anything fails. */
static myo_status create_file(const char *path, const char *schema, const myo_h5table *tables,
                              int ntables, uint64_t reserve, int64_t *run_id)
{
    void *image;
    size_t size;
    MYO_CHECK(new_file_image(path, schema, tables, ntables, &image, &size, run_id));
    size_t len = strlen(path) + 32;
    char *tmp = myo_alloc(len, 1, "a temporary file name");
    if (!tmp) {
        free(image);
        return MYO_ERR_NOMEM;
    }
    snprintf(tmp, len, "%s.tmp-%ld", path, (long)getpid());
    myo_status st = MYO_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = myo_fail(MYO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    } else {
        const char *p = image;
        size_t left = size;
        while (left > 0 && st == MYO_OK) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                st = myo_fail(MYO_ERR_IO, "%s: cannot write the new file: %s", path,
                              w < 0 ? strerror(errno) : "no progress");
            else
                p += w, left -= (size_t)w;
        }
        if (st == MYO_OK) st = myo_disk_reserve(fd, path, reserve);
        if (st == MYO_OK && fsync(fd) != 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot write the new file: %s", path, strerror(errno));
        if (close(fd) != 0 && st == MYO_OK)
            st = myo_fail(MYO_ERR_IO, "%s: cannot write the new file: %s", path, strerror(errno));
        if (st == MYO_OK && rename(tmp, path) != 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        if (st != MYO_OK) unlink(tmp);
    }
    free(tmp);
    free(image);
    return st;
}

/* An existing path: an HDF5 file with this schema.  Read-only, so that a
 * failure leaves the file as it was. */
static myo_status check_existing(const char *path, const char *schema, const myo_h5table *tables,
                                 int ntables)
{
    MYO_CHECK(myo_h5_input_file(path));
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return myo_fail(MYO_ERR_IO,
                        "%s: not an HDF5 file, or corrupt, or locked by a process writing it",
                        path);
    myo_status st = check_file(file, path, schema, tables, ntables);
    if (H5Fclose(file) < 0 && st == MYO_OK)
        st = myo_fail(MYO_ERR_HDF5, "%s: closing the file failed", path);
    return st;
}

/* The new run's group with its "utc_start", the tables' datasets. */
/* Copy src to dst (created, never overwritten) with the disk reserve
 * behind it, fsynced. */
static myo_status copy_file(const char *src, const char *dst, const char *path, uint64_t reserve)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return myo_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (out < 0) {
        close(in);
        return myo_fail(MYO_ERR_IO, "%s: cannot create a copy: %s", path, strerror(errno));
    }
    myo_status st = MYO_OK;
    char buf[1 << 16];
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) st = myo_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        if (r <= 0) break;
        for (ssize_t done = 0; done < r && st == MYO_OK;) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                st = myo_fail(MYO_ERR_IO, "%s: cannot write a copy: %s", path,
                              w < 0 ? strerror(errno) : "no progress");
            else
                done += w;
        }
        if (st != MYO_OK) break;
    }
    if (st == MYO_OK) st = myo_disk_reserve(out, path, reserve);
    if (st == MYO_OK && fsync(out) != 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot write a copy: %s", path, strerror(errno));
    if (close(out) != 0 && st == MYO_OK)
        st = myo_fail(MYO_ERR_IO, "%s: cannot write a copy: %s", path, strerror(errno));
    close(in);
    return st;
}

/* Add the next run's group (with utc_start) to path as one step: copy the
 * file to path.tmp-PID, add the group to the copy, fsync it and rename it
 * onto path.  HDF5 rewrites several metadata blocks in place when a group
 * gains a link, and a run killed between them left '/runs' unreadable;
 * this way a kill at any moment leaves the file as it was or with the new
 * run.  The caller holds the writer's lock and has not opened path. */
static myo_status add_run(const char *path, uint64_t reserve, int64_t *run_id)
{
    size_t len = strlen(path) + 32;
    char *tmp = myo_alloc(len, 1, "a temporary file name");
    if (!tmp) return MYO_ERR_NOMEM;
    snprintf(tmp, len, "%s.tmp-%ld", path, (long)getpid());
    myo_status st = copy_file(path, tmp, path, reserve);
    if (st == MYO_OK) {
        hid_t file = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
        if (file < 0) st = myo_fail(MYO_ERR_IO, "%s: cannot open its copy %s", path, tmp);
        if (st == MYO_OK) st = add_run_group(file, path, run_id);
        if (file >= 0 && H5Fclose(file) < 0 && st == MYO_OK)
            st = myo_fail(MYO_ERR_IO, "%s: cannot write the new run (disk full?)", path);
    }
    if (st == MYO_OK) {
        int fd = open(tmp, O_RDWR | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot write the new run: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
    }
    if (st == MYO_OK && rename(tmp, path) != 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot replace: %s", path, strerror(errno));
    if (st != MYO_OK) unlink(tmp);
    free(tmp);
    return st;
}

/* Open this run's group (add_run made it) and the tables. */
static myo_status start_run(myo_h5log *log)
{
    char name[64];
    snprintf(name, sizeof name, "runs/run-%06lld", (long long)log->run_id);
    log->run = H5Gopen2(log->file, name, H5P_DEFAULT);
    if (log->run < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot open the group '/%s'", log->path, name);
    for (int t = 0; t < log->ntables; t++) {
        h5log_table *tb = &log->tables[t];
        tb->dset = H5Dopen2(log->file, tb->name, H5P_DEFAULT);
        hid_t space = tb->dset >= 0 ? H5Dget_space(tb->dset) : -1;
        hsize_t dims = 0;
        if (space < 0 || H5Sget_simple_extent_dims(space, &dims, NULL) != 1) {
            if (space >= 0) H5Sclose(space);
            return myo_fail(MYO_ERR_HDF5, "%s: cannot open the table '%s'", log->path, tb->name);
        }
        H5Sclose(space);
        tb->rows = (int64_t)dims;
    }
    if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot flush the file (disk full?)", log->path);
    return MYO_OK;
}

myo_status myo_h5log_open(const char *path, const char *schema, const myo_h5table *tables,
                          int ntables, myo_h5log **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_h5log_open: out is required");
    *out = NULL;
    if (!path || !path[0] || !schema || !schema[0])
        return myo_fail(MYO_ERR_ARG, "myo_h5log_open: a path and a schema name are required");
    MYO_CHECK(myo_h5log_check_schema(tables, ntables));

    myo_h5log *log = myo_alloc(1, sizeof *log, "the log");
    if (!log) return MYO_ERR_NOMEM;
    log->file = log->run = -1;
    log->fd = log->lock.fd = -1;
    log->lock.path = NULL;
    log->failed = 0;
    log->tables = NULL;
    log->ntables = 0;
    log->reserve = reserve_bytes(tables, ntables);
    log->path = dup_string(path);
    if (!log->path) {
        free(log);
        return MYO_ERR_NOMEM;
    }
    myo_status st = copy_tables(tables, ntables, &log->tables);
    if (st == MYO_OK) log->ntables = ntables;
    /* one writer at a time, whatever HDF5's own file locking does (it is
     * often switched off on cluster file systems) */
    if (st == MYO_OK) st = myo_writer_lock_take(path, &log->lock);

    myo_h5_quiet q = myo_h5_quiet_begin();
    struct stat sb;
    if (st != MYO_OK) {
        /* detail recorded */
    } else if (stat(path, &sb) == 0) {
        st = check_existing(path, schema, tables, ntables);
        if (st == MYO_OK && access(path, W_OK) != 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        /* the copy takes the reserve: give back the one behind the file */
        if (st == MYO_OK) myo_disk_reserve_release(path);
        if (st == MYO_OK) st = add_run(path, log->reserve, &log->run_id);
    } else if (errno == ENOENT) {
        st = create_file(path, schema, tables, ntables, log->reserve, &log->run_id);
    } else {
        st = myo_fail(MYO_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (st == MYO_OK) {
        if (access(path, W_OK) != 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        else if ((log->file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)) < 0)
            st = myo_fail(MYO_ERR_IO,
                          "%s: cannot open for writing (another process has it open? HDF5 "
                          "locks files while they are open)",
                          path);
        else if ((log->fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    if (st == MYO_OK) st = start_run(log);
    if (st != MYO_OK) log_free(log);
    myo_h5_quiet_end(q);
    if (st == MYO_OK) *out = log;
    return st;
}

int64_t myo_h5log_run_id(const myo_h5log *log)
{
    return log ? log->run_id : 0;
}

myo_status myo_h5log_set_meta(myo_h5log *log, const char *key, const char *value)
{
    if (!log || !key || !key[0] || !value)
        return myo_fail(MYO_ERR_ARG, "myo_h5log_set_meta: a log, a key and a value are required");
    MYO_CHECK(ready_to_write(log));
    myo_h5_quiet q = myo_h5_quiet_begin();
    myo_status st = MYO_OK;
    if (write_string_attr(log->run, key, value) < 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot write the attribute '%s' of run %lld", log->path, key,
                      (long long)log->run_id);
    else if (H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot flush the file (disk full?)", log->path);
    if (st != MYO_OK) log->failed = 1;
    myo_h5_quiet_end(q);
    return st;
}

/* The rows' strings fit their columns (a NUL inside each array) and their
 * run_id is this run's. */
static myo_status check_rows(const myo_h5log *log, const h5log_table *tb, const unsigned char *rows,
                             int64_t count)
{
    for (int64_t r = 0; r < count; r++) {
        const unsigned char *row = rows + (size_t)r * tb->row_size;
        for (int c = 0; c < tb->ncols; c++) {
            const myo_h5col *col = &tb->cols[c];
            if (col->type == MYO_H5COL_STRING && !memchr(row + col->offset, '\0', col->size))
                return myo_fail(MYO_ERR_ARG,
                                "%s: table '%s' row %lld: the string of column '%s' does not fit "
                                "its %zu bytes (at most %zu characters)",
                                log->path, tb->name, (long long)r, col->name, col->size,
                                col->size - 1);
        }
        int64_t id;
        memcpy(&id, row + tb->cols[tb->run_id_col].offset, sizeof id);
        if (id != log->run_id)
            return myo_fail(MYO_ERR_ARG,
                            "%s: table '%s' row %lld has run_id %lld, but this run is %lld "
                            "(myo_h5log_run_id)",
                            log->path, tb->name, (long long)r, (long long)id,
                            (long long)log->run_id);
    }
    return MYO_OK;
}

myo_status myo_h5log_append(myo_h5log *log, int table, const void *rows, int64_t count)
{
    if (!log || !rows || count < 1)
        return myo_fail(MYO_ERR_ARG, "myo_h5log_append: a log and count >= 1 rows are required");
    if (table < 0 || table >= log->ntables)
        return myo_fail(MYO_ERR_ARG, "myo_h5log_append: table %d does not exist (%d tables)", table,
                        log->ntables);
    h5log_table *tb = &log->tables[table];
    MYO_CHECK(check_rows(log, tb, rows, count));
    MYO_CHECK(ready_to_write(log));
    /* A copy with the bytes after each string's NUL zeroed: HDF5 stores the
     * whole array, and what follows the NUL in the caller's struct may be
     * stale. */
    unsigned char *buf = myo_alloc((size_t)count, tb->row_size, "rows to append");
    if (!buf) return MYO_ERR_NOMEM;
    memcpy(buf, rows, (size_t)count * tb->row_size);
    for (int64_t r = 0; r < count; r++)
        for (int c = 0; c < tb->ncols; c++) {
            const myo_h5col *col = &tb->cols[c];
            if (col->type != MYO_H5COL_STRING) continue;
            char *s = (char *)buf + (size_t)r * tb->row_size + col->offset;
            size_t len = strlen(s);
            memset(s + len, 0, col->size - len);
        }

    myo_h5_quiet q = myo_h5_quiet_begin();
    myo_status st = MYO_OK;
    hsize_t old = (hsize_t)tb->rows, n = (hsize_t)count, total = old + n;
    hid_t fspace = -1, mspace = -1;
    if (H5Dset_extent(tb->dset, &total) < 0) {
        st = myo_fail(MYO_ERR_IO, "%s: cannot extend the table '%s'", log->path, tb->name);
    } else {
        fspace = H5Dget_space(tb->dset);
        mspace = H5Screate_simple(1, &n, NULL);
        if (fspace < 0 || mspace < 0 ||
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &old, NULL, &n, NULL) < 0 ||
            H5Dwrite(tb->dset, tb->mem_type, mspace, fspace, H5P_DEFAULT, buf) < 0) {
            st = myo_fail(MYO_ERR_IO, "%s: cannot write %lld rows to the table '%s'", log->path,
                          (long long)count, tb->name);
            H5Dset_extent(tb->dset, &old); /* no rows of fill values */
        } else {
            tb->rows = (int64_t)total;
        }
    }
    if (fspace >= 0) H5Sclose(fspace);
    if (mspace >= 0) H5Sclose(mspace);
    if (st == MYO_OK && H5Fflush(log->file, H5F_SCOPE_GLOBAL) < 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot flush the file (disk full?)", log->path);
    if (st != MYO_OK) log->failed = 1;
    myo_h5_quiet_end(q);
    free(buf);
    return st;
}

int64_t myo_h5log_rows(const myo_h5log *log, int table)
{
    if (!log || table < 0 || table >= log->ntables) return 0;
    return log->tables[table].rows;
}

myo_status myo_h5log_read_strings(const myo_h5log *log, int table, const char *column,
                                  char **values, size_t *width, int64_t *count)
{
    if (!values || !width || !count)
        return myo_fail(MYO_ERR_ARG,
                        "myo_h5log_read_strings: values, width and count are required");
    *values = NULL, *width = 0, *count = 0;
    if (!log || !column || table < 0 || table >= log->ntables)
        return myo_fail(MYO_ERR_ARG,
                        "myo_h5log_read_strings: a log, a table and a column are required");
    const h5log_table *tb = &log->tables[table];
    const myo_h5col *col = NULL;
    for (int c = 0; c < tb->ncols && !col; c++)
        if (strcmp(tb->cols[c].name, column) == 0) col = &tb->cols[c];
    if (!col || col->type != MYO_H5COL_STRING)
        return myo_fail(MYO_ERR_ARG, "%s: table '%s' has no string column '%s'", log->path,
                        tb->name, column);
    /* One byte more than the column, NUL-terminated: every value ends
     * within width, whatever wrote the file. */
    size_t w = col->size + 1;
    int64_t n = tb->rows;
    char *buf = NULL;
    if (n > 0 && !(buf = myo_alloc((size_t)n, w, "the column's strings"))) return MYO_ERR_NOMEM;
    myo_h5_quiet q = myo_h5_quiet_begin();
    myo_status st = MYO_OK;
    if (n > 0) {
        hid_t str = string_type(w, H5T_STR_NULLTERM);
        hid_t mtype = H5Tcreate(H5T_COMPOUND, w);
        if (str < 0 || mtype < 0 || H5Tinsert(mtype, col->name, 0, str) < 0 ||
            H5Dread(tb->dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = myo_fail(MYO_ERR_IO, "%s: cannot read the column '%s' of the table '%s'",
                          log->path, col->name, tb->name);
        if (mtype >= 0) H5Tclose(mtype);
        if (str >= 0) H5Tclose(str);
    }
    myo_h5_quiet_end(q);
    if (st != MYO_OK) {
        free(buf);
        return st;
    }
    *values = buf, *width = w, *count = n;
    return MYO_OK;
}

myo_status myo_h5log_close(myo_h5log **log)
{
    if (!log || !*log) return MYO_OK;
    myo_h5log *l = *log;
    *log = NULL;
    myo_h5_quiet q = myo_h5_quiet_begin();
    /* utc_end goes into the reserve the last write left: a disk that
     * filled since then does not stop it */
    myo_status st = MYO_OK;
    char now[32];
    myo_h5log_utc_now(now, sizeof now);
    if (!l->failed && write_string_attr(l->run, "utc_end", now) < 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot write the run's attribute 'utc_end'", l->path);
    if (!l->failed && H5Fflush(l->file, H5F_SCOPE_GLOBAL) < 0 && st == MYO_OK)
        st = myo_fail(MYO_ERR_IO, "%s: cannot flush the file (disk full?)", l->path);
    myo_status closed = log_free(l);
    myo_h5_quiet_end(q);
    return st != MYO_OK ? st : closed;
}

void myo_h5log_utc_now(char *buf, size_t size)
{
    if (!buf || size == 0) return;
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) buf[0] = '\0';
}
