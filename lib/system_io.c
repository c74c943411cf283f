/* system_io.c -- tree-structured systems and their solutions in HDF5 files
 * (README.md, "File format").
 *
 * HDF5's automatic error printing is switched off for the duration of each
 * call (the library never prints); its failures are translated into
 * statuses whose message names the file and the dataset. */
#include <config.h>

#include "internal.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Silence HDF5's error stack printing, restoring the caller's handler later. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static h5_quiet h5_quiet_begin(void)
{
    h5_quiet q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static void h5_quiet_end(h5_quiet q) { H5Eset_auto2(H5E_DEFAULT, q.func, q.data); }

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
    H5O_info_t info;
    if (H5Oget_info_by_name(file, name, &info, H5P_DEFAULT) < 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot read object '%s' (corrupt file?)", path, name);
    if (info.type != H5O_TYPE_DATASET)
        return myo_fail(MYO_ERR_DATA, "%s: '%s' is not a dataset", path, name);
    d->dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (d->dset < 0) return myo_fail(MYO_ERR_IO, "%s: cannot open dataset '%s' (corrupt file?)", path, name);
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

static myo_status read_all(const char *path, const char *name, hid_t dset, hid_t mem_type, void *buf)
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
                return myo_fail(MYO_ERR_DATA, "%s: dataset '%s' has a non-finite value (%g) at (%lld, %lld)",
                                path, name, v[i], (long long)(i / m), (long long)(i % m));
            return myo_fail(MYO_ERR_DATA, "%s: dataset '%s' has a non-finite value (%g) at index %lld",
                            path, name, v[i], (long long)i);
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
        st = s->parent ? read_all(path, "parent", d.dset, H5T_NATIVE_INT64, s->parent) : MYO_ERR_NOMEM;
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
        if (s->m > INT64_MAX / s->n) st = myo_fail(MYO_ERR_DATA, "%s: dataset 'rhs' is too large", path);
    }
    if (st == MYO_OK) {
        s->rhs = myo_alloc((size_t)s->n * (size_t)s->m, sizeof(double), "rhs");
        st = s->rhs ? read_all(path, "rhs", d.dset, H5T_NATIVE_DOUBLE, s->rhs) : MYO_ERR_NOMEM;
    }
    if (d.dset >= 0) H5Dclose(d.dset);
    if (st == MYO_OK) st = check_finite(path, "rhs", s->rhs, s->n, s->m, s->rhs_rank);
    return st;
}

myo_status myo_system_read_h5(const char *path, myo_system *out)
{
    if (!path || !out) return myo_fail(MYO_ERR_ARG, "myo_system_read_h5: path and out are required");
    memset(out, 0, sizeof *out);
    if (access(path, R_OK) != 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    h5_quiet q = h5_quiet_begin();
    myo_status st;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        st = myo_fail(MYO_ERR_IO, "%s: not an HDF5 file, or truncated or corrupt", path);
    } else {
        st = read_system(file, path, out);
        if (H5Fclose(file) < 0 && st == MYO_OK)
            st = myo_fail(MYO_ERR_IO, "%s: closing the file failed", path);
    }
    h5_quiet_end(q);
    if (st != MYO_OK) myo_system_free(out);
    return st;
}

static myo_status write_solution(const char *tmp, const char *path, const void *sol,
                                 myo_precision precision, int64_t n, int64_t m, int ndims)
{
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return myo_fail(MYO_ERR_IO, "%s: cannot create the output file", path);
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)m};
    hid_t space = H5Screate_simple(ndims, dims, NULL);
    hid_t file_type = precision == MYO_F32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
    hid_t mem_type = precision == MYO_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    hid_t dset = space >= 0 ? H5Dcreate2(file, "solution", file_type, space, H5P_DEFAULT,
                                         H5P_DEFAULT, H5P_DEFAULT)
                            : -1;
    myo_status st = MYO_OK;
    if (dset < 0 || H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, sol) < 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot write dataset 'solution' (disk full?)", path);
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    if (H5Fclose(file) < 0 && st == MYO_OK)
        st = myo_fail(MYO_ERR_IO, "%s: cannot finish writing the output file (disk full?)", path);
    return st;
}

myo_status myo_solution_write_h5(const char *path, const void *sol, myo_precision precision,
                                 int64_t n, int64_t m, int ndims)
{
    if (!path || !sol || n < 1 || m < 1 || (ndims != 1 && ndims != 2) || (ndims == 1 && m != 1) ||
        (precision != MYO_F64 && precision != MYO_F32))
        return myo_fail(MYO_ERR_ARG, "myo_solution_write_h5: invalid arguments");
    size_t len = strlen(path);
    char *tmp = myo_alloc(len + 16, 1, "temporary file name");
    if (!tmp) return MYO_ERR_NOMEM;
    /* A temporary name in the same directory, so rename() is atomic. */
    snprintf(tmp, len + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        myo_status st = myo_fail(MYO_ERR_IO, "%s: cannot write there: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    close(fd);
    h5_quiet q = h5_quiet_begin();
    myo_status st = write_solution(tmp, path, sol, precision, n, m, ndims);
    h5_quiet_end(q);
    if (st == MYO_OK && rename(tmp, path) != 0)
        st = myo_fail(MYO_ERR_IO, "%s: cannot move the finished file into place: %s", path,
                      strerror(errno));
    if (st != MYO_OK) unlink(tmp);
    free(tmp);
    return st;
}
