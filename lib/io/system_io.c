/* system_io.c -- tree-structured systems and their solutions in HDF5 files
 * (README.md, "File format").
 *
 * HDF5's automatic error printing is switched off for the duration of each
 * call (the library never prints); its failures are translated into
 * statuses whose message names the file and the dataset. */
#include <config.h>

#include "core/core.h"
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The shape and class of dataset name; MYO_ERR_DATA when it is absent or
 * not a dataset. */
typedef struct {
    hid_t dset;
    H5T_class_t cls;
    int ndims;
    hsize_t dims[H5S_MAX_RANK];
} dataset_info;

static myo_status open_dataset(hid_t file, const char *path, const char *name, dataset_info *d)
{
    d->dset = -1;
    htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
    if (exists < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot read the file's root group (corrupt file?)", path);
    if (!exists) return myo_fail(MYO_ERR_DATA, "%s: dataset '%s' is missing", path, name);
    /* H5Oopen + H5Iget_type rather than H5Oget_info_by_name, whose
     * signature changed in HDF5 1.12. */
    hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot open object '%s' (corrupt file?)", path, name);
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5Oclose(obj);
        return myo_fail(MYO_ERR_DATA, "%s: '%s' is not a dataset", path, name);
    }
    d->dset = obj;
    hid_t type = H5Dget_type(d->dset), space = H5Dget_space(d->dset);
    d->cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    d->ndims = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (d->ndims > 0) H5Sget_simple_extent_dims(space, d->dims, NULL);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (d->cls == H5T_NO_CLASS || d->ndims < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot read the type or shape of '%s'", path, name);
    return MYO_OK;
}

static void shape_text(const dataset_info *d, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int k = 0; k < d->ndims && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, k ? ", %llu" : "%llu",
                                 (unsigned long long)d->dims[k]);
    if (d->ndims == 1 && used < size) used += (size_t)snprintf(buf + used, size - used, ",");
    if (used < size) snprintf(buf + used, size - used, ")");
}

/* Open name, check its class, its rank (1, or 1..2 when allow_matrix) and,
 * when n > 0, that its first dimension is n. */
static myo_status open_checked(hid_t file, const char *path, const char *name, H5T_class_t cls,
                               int allow_matrix, int64_t n, dataset_info *d)
{
    MYO_CHECK(open_dataset(file, path, name, d));
    if (d->cls != cls)
        return myo_fail(MYO_ERR_DATA, "%s: dataset '%s' must hold %s numbers", path, name,
                        cls == H5T_INTEGER ? "integer" : "floating-point");
    char shape[96];
    shape_text(d, shape, sizeof shape);
    if (d->ndims != 1 && !(allow_matrix && d->ndims == 2))
        return myo_fail(MYO_ERR_DATA, "%s: dataset '%s' has shape %s, expected (%s,)%s", path, name,
                        shape, n > 0 ? "n" : "n", allow_matrix ? " or (n, m)" : "");
    if (n > 0 && d->dims[0] != (hsize_t)n)
        return myo_fail(MYO_ERR_DATA, "%s: dataset '%s' has shape %s, but 'parent' has %lld nodes",
                        path, name, shape, (long long)n);
    if (d->dims[0] == 0 || (d->ndims == 2 && d->dims[1] == 0))
        return myo_fail(MYO_ERR_DATA, "%s: dataset '%s' is empty (shape %s)", path, name, shape);
    return MYO_OK;
}

static myo_status read_all(const char *path, const char *name, hid_t dset, hid_t mem_type,
                           void *buf)
{
    if (H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot read dataset '%s' (truncated or corrupt file?)",
                        path, name);
    return MYO_OK;
}

static myo_status check_finite(const char *path, const char *name, const double *v, int64_t n,
                               int64_t m, int ndims)
{
    for (int64_t i = 0; i < n * m; i++)
        if (!isfinite(v[i])) {
            if (ndims == 2)
                return myo_fail(MYO_ERR_DATA,
                                "%s: dataset '%s' has a non-finite value (%g) at (%lld, %lld)",
                                path, name, v[i], (long long)(i / m), (long long)(i % m));
            return myo_fail(MYO_ERR_DATA,
                            "%s: dataset '%s' has a non-finite value (%g) at index %lld", path,
                            name, v[i], (long long)i);
        }
    return MYO_OK;
}

void myo_system_free(myo_system *s)
{
    if (!s) return;
    free(s->parent), free(s->diag), free(s->up), free(s->down), free(s->rhs);
    memset(s, 0, sizeof *s);
}

static myo_status read_system(hid_t file, const char *path, myo_system *s)
{
    dataset_info d = {.dset = -1};
    myo_status st = open_checked(file, path, "parent", H5T_INTEGER, 0, 0, &d);
    if (st == MYO_OK) {
        s->n = (int64_t)d.dims[0];
        s->parent = myo_alloc((size_t)s->n, sizeof(int64_t), "parent");
        st = s->parent ? read_all(path, "parent", d.dset, H5T_NATIVE_INT64, s->parent)
                       : MYO_ERR_NOMEM;
    }
    if (d.dset >= 0) H5Dclose(d.dset);
    if (st != MYO_OK) return st;

    const char *names[3] = {"diag", "up", "down"};
    double **arrays[3] = {&s->diag, &s->up, &s->down};
    for (int k = 0; k < 3 && st == MYO_OK; k++) {
        d.dset = -1;
        st = open_checked(file, path, names[k], H5T_FLOAT, 0, s->n, &d);
        if (st == MYO_OK) {
            *arrays[k] = myo_alloc((size_t)s->n, sizeof(double), names[k]);
            st = *arrays[k] ? read_all(path, names[k], d.dset, H5T_NATIVE_DOUBLE, *arrays[k])
                            : MYO_ERR_NOMEM;
        }
        if (d.dset >= 0) H5Dclose(d.dset);
        if (st == MYO_OK) st = check_finite(path, names[k], *arrays[k], s->n, 1, 1);
    }
    if (st != MYO_OK) return st;

    d.dset = -1;
    st = open_checked(file, path, "rhs", H5T_FLOAT, 1, s->n, &d);
    if (st == MYO_OK) {
        s->rhs_rank = d.ndims;
        s->m = d.ndims == 2 ? (int64_t)d.dims[1] : 1;
        if (s->m > INT64_MAX / s->n)
            st = myo_fail(MYO_ERR_DATA, "%s: dataset 'rhs' is too large", path);
    }
    if (st == MYO_OK) {
        s->rhs = myo_alloc((size_t)s->n * (size_t)s->m, sizeof(double), "rhs");
        st = s->rhs ? read_all(path, "rhs", d.dset, H5T_NATIVE_DOUBLE, s->rhs) : MYO_ERR_NOMEM;
    }
    if (d.dset >= 0) H5Dclose(d.dset);
    if (st == MYO_OK) st = check_finite(path, "rhs", s->rhs, s->n, s->m, s->rhs_rank);
    return st;
}

/* Open path read-only with HDF5's printing silenced and hand it to read_fn. */
typedef myo_status (*read_contents_fn)(hid_t file, const char *path, void *out);

static myo_status read_file(const char *path, read_contents_fn read_fn, void *out)
{
    MYO_CHECK(myo_h5_input_file(path));
    myo_h5_quiet q = myo_h5_quiet_begin();
    myo_status st;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        st = myo_fail(MYO_ERR_IO, "%s: not an HDF5 file, or truncated or corrupt", path);
    } else {
        st = read_fn(file, path, out);
        if (H5Fclose(file) < 0 && st == MYO_OK)
            st = myo_fail(MYO_ERR_IO, "%s: closing the file failed", path);
    }
    myo_h5_quiet_end(q);
    return st;
}

static myo_status read_system_contents(hid_t file, const char *path, void *out)
{
    return read_system(file, path, out);
}

myo_status myo_system_read_h5(const char *path, myo_system *out)
{
    if (!path || !out)
        return myo_fail(MYO_ERR_ARG, "myo_system_read_h5: path and out are required");
    memset(out, 0, sizeof *out);
    myo_status st = read_file(path, read_system_contents, out);
    if (st != MYO_OK) myo_system_free(out);
    return st;
}

typedef struct {
    int64_t n, m;
    double *values;
} solution_read;

static myo_status read_solution_contents(hid_t file, const char *path, void *out)
{
    solution_read *r = out;
    dataset_info d = {.dset = -1};
    myo_status st = open_checked(file, path, "solution", H5T_FLOAT, 1, r->n, &d);
    /* (n,) and (n, 1) hold the same numbers: either will do when m is 1. */
    int64_t got_m = d.ndims == 2 ? (int64_t)d.dims[1] : 1;
    if (st == MYO_OK && got_m != r->m)
        st = myo_fail(MYO_ERR_DATA, "%s: dataset 'solution' has %lld channels, expected %lld", path,
                      (long long)got_m, (long long)r->m);
    if (st == MYO_OK) {
        r->values = myo_alloc((size_t)r->n * (size_t)r->m, sizeof(double), "solution");
        st = r->values ? read_all(path, "solution", d.dset, H5T_NATIVE_DOUBLE, r->values)
                       : MYO_ERR_NOMEM;
    }
    if (d.dset >= 0) H5Dclose(d.dset);
    return st;
}

myo_status myo_solution_read_h5(const char *path, int64_t n, int64_t m, double **out)
{
    if (!path || !out || n < 1 || m < 1)
        return myo_fail(MYO_ERR_ARG, "myo_solution_read_h5: invalid arguments");
    solution_read r = {n, m, NULL};
    myo_status st = read_file(path, read_solution_contents, &r);
    if (st != MYO_OK) free(r.values), r.values = NULL;
    *out = r.values;
    return st;
}

/* Reserve bytes of disk for file before HDF5 writes anything, so that a
 * full disk, a quota or a file-size limit fails here with a clear errno
 * while H5Fclose still has next to nothing to flush.  (When H5Fclose fails
 * to flush, HDF5 before 1.14.1 leaves a freed file in its ID table and
 * crashes at exit.)  Returns 0 or an error number; POSIX (sec2) files only. */
static int reserve_space(hid_t file, uint64_t bytes)
{
    hid_t fapl = H5Fget_access_plist(file);
    int posix = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2;
    if (fapl >= 0) H5Pclose(fapl);
    void *handle = NULL;
    if (!posix || H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || !handle) return 0;
    int err = posix_fallocate(*(int *)handle, 0, (off_t)bytes);
    return err == EINVAL || err == EOPNOTSUPP ? 0 : err; /* unsupported: write and see */
}

/* One dataset of the given shape, written whole from memory. */
static myo_status write_dataset(hid_t file, const char *path, const char *name, hid_t file_type,
                                hid_t mem_type, int ndims, const hsize_t *dims, const void *data)
{
    hid_t space = H5Screate_simple(ndims, dims, NULL);
    /* No modification times in the object headers: the same data then give
     * the same bytes, whenever they are written. */
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0) H5Pset_obj_track_times(dcpl, 0);
    hid_t dset = space >= 0 && dcpl >= 0
                     ? H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)
                     : -1;
    if (dcpl >= 0) H5Pclose(dcpl);
    herr_t e = dset >= 0 ? H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (dset >= 0 && H5Dclose(dset) < 0) e = -1;
    if (space >= 0) H5Sclose(space);
    if (e < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot write dataset '%s' (disk full?)", path, name);
    return MYO_OK;
}

/* A scalar attribute of the root group: a string, or an int64 when text is NULL. */
static myo_status write_attr(hid_t file, const char *path, const myo_attr *a)
{
    hid_t type = a->text ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_STD_I64LE);
    if (type >= 0 && a->text) H5Tset_size(type, strlen(a->text) + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = type >= 0 && space >= 0
                     ? H5Acreate2(file, a->name, type, space, H5P_DEFAULT, H5P_DEFAULT)
                     : -1;
    herr_t e = attr < 0  ? -1
               : a->text ? H5Awrite(attr, type, a->text)
                         : H5Awrite(attr, H5T_NATIVE_INT64, &a->value);
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (e < 0) return myo_fail(MYO_ERR_IO, "%s: cannot write attribute '%s'", path, a->name);
    return MYO_OK;
}

/* The public callbacks name the file an int64_t, which hid_t is. */
_Static_assert(sizeof(hid_t) == sizeof(int64_t), "hid_t is not int64_t");

typedef struct {
    const void *sol;
    myo_precision precision;
    int ndims;
    hsize_t dims[2];
} solution_contents;

static myo_status write_solution_contents(int64_t file, const char *path, const void *contents)
{
    const solution_contents *c = contents;
    int single = c->precision == MYO_F32;
    return write_dataset(file, path, "solution", single ? H5T_IEEE_F32LE : H5T_IEEE_F64LE,
                         single ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, c->ndims, c->dims, c->sol);
}

typedef struct {
    const myo_system *s;
    const myo_attr *attrs;
    int n_attrs;
} system_contents;

static myo_status write_system_contents(int64_t file, const char *path, const void *contents)
{
    const system_contents *c = contents;
    const myo_system *s = c->s;
    hsize_t dims[2] = {(hsize_t)s->n, (hsize_t)s->m};
    myo_status st =
        write_dataset(file, path, "parent", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, s->parent);
    const char *names[4] = {"diag", "up", "down", "rhs"};
    const double *data[4] = {s->diag, s->up, s->down, s->rhs};
    for (int k = 0; k < 4 && st == MYO_OK; k++)
        st = write_dataset(file, path, names[k], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                           k == 3 ? s->rhs_rank : 1, dims, data[k]);
    for (int k = 0; k < c->n_attrs && st == MYO_OK; k++)
        st = write_attr(file, path, &c->attrs[k]);
    return st;
}

/* Create the empty file path.tmp-PID-K, for the first K free.  Not mkstemp:
 * it makes files 0600, while open(2) applies the umask, so the finished
 * output gets the mode of any other new file.  Returns the descriptor. */
static int create_temp(const char *path, char *tmp, size_t size)
{
    for (unsigned k = 0; k < 1000; k++) {
        snprintf(tmp, size, "%s.tmp-%ld-%u", path, (long)getpid(), k);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1; /* errno is EEXIST */
}

/* (myosotis.h.)  data_bytes (the size of the datasets) is reserved on disk
 * first, so that a full disk fails here and not in an H5Fclose that cannot
 * flush (HDF5 before 1.14.1 crashes at exit after that). */
myo_status myo_h5_write_atomic(const char *path, uint64_t data_bytes,
                               myo_h5_contents_fn contents_fn, const void *contents)
{
    if (!path || !path[0] || !contents_fn)
        return myo_fail(MYO_ERR_ARG, "myo_h5_write_atomic: path and contents_fn are required");
    size_t len = strlen(path) + 32;
    char *tmp = myo_alloc(len, 1, "temporary file name");
    if (!tmp) return MYO_ERR_NOMEM;
    int fd = create_temp(path, tmp, len);
    if (fd < 0) {
        myo_status st = myo_fail(MYO_ERR_IO, "%s: cannot write there: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    close(fd);
    myo_h5_quiet q = myo_h5_quiet_begin();
    myo_status st = MYO_OK;
    /* The root group without time stamps too (a file creation property list
     * is a group creation one): the same data, the same bytes. */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0) H5Pset_obj_track_times(fcpl, 0);
    hid_t file = fcpl >= 0 ? H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT) : -1;
    if (fcpl >= 0) H5Pclose(fcpl);
    if (file < 0) st = myo_fail(MYO_ERR_IO, "%s: cannot create the output file", path);
    int err = file >= 0 ? reserve_space(file, data_bytes) : 0;
    if (err != 0) st = myo_fail(MYO_ERR_IO, "%s: cannot write the file: %s", path, strerror(err));
    if (st == MYO_OK) st = contents_fn(file, path, contents);
    if (file >= 0 && H5Fclose(file) < 0 && st == MYO_OK)
        st = myo_fail(MYO_ERR_IO, "%s: cannot finish writing the output file (disk full?)", path);
    myo_h5_quiet_end(q);
    if (st == MYO_OK && rename(tmp, path) != 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot move the finished file into place: %s", path,
                      strerror(errno));
    if (st != MYO_OK) unlink(tmp);
    free(tmp);
    return st;
}

myo_status myo_solution_write_h5(const char *path, const void *sol, myo_precision precision,
                                 int64_t n, int64_t m, int ndims)
{
    if (!path || !sol || n < 1 || m < 1 || (ndims != 1 && ndims != 2) || (ndims == 1 && m != 1) ||
        (precision != MYO_F64 && precision != MYO_F32))
        return myo_fail(MYO_ERR_ARG, "myo_solution_write_h5: invalid arguments");
    solution_contents c = {sol, precision, ndims, {(hsize_t)n, (hsize_t)m}};
    uint64_t elem = precision == MYO_F32 ? sizeof(float) : sizeof(double);
    return myo_h5_write_atomic(path, (uint64_t)n * (uint64_t)m * elem, write_solution_contents, &c);
}

myo_status myo_system_write_h5(const char *path, const myo_system *s, const myo_attr *attrs,
                               int n_attrs)
{
    if (!path || !s || !s->parent || !s->diag || !s->up || !s->down || !s->rhs || s->n < 1 ||
        s->m < 1 || (s->rhs_rank != 1 && s->rhs_rank != 2) || (s->rhs_rank == 1 && s->m != 1) ||
        n_attrs < 0 || (n_attrs > 0 && !attrs))
        return myo_fail(MYO_ERR_ARG, "myo_system_write_h5: invalid arguments");
    system_contents c = {s, attrs, n_attrs};
    /* parent, diag, up, down (n,) and rhs (n, m), 8 bytes each. */
    return myo_h5_write_atomic(path, 8 * (uint64_t)s->n * (4 + (uint64_t)s->m),
                               write_system_contents, &c);
}
