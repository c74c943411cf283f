/* train_checkpoint.c -- myo-train's checkpoints (train_checkpoint.h):
 * an atomic HDF5 write, and a read that trusts nothing it has not
 * checked. */
#include <config.h>

#include "train_checkpoint.h"

#include "dataset_file.h"
#include "h5_header_check.h"

#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static myo_status fail(char *err, size_t errsize, myo_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static myo_status fail(char *err, size_t errsize, myo_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return s;
}

enum { N_ARRAYS = 4 };
static const char *const ARRAY_NAMES[N_ARRAYS] = {"params", "moment1", "moment2", "best_params"};

static float **arrays_of(train_checkpoint *c, float *out[N_ARRAYS])
{
    out[0] = c->params, out[1] = c->moment1, out[2] = c->moment2, out[3] = c->best_params;
    return out;
}

/* FNV-1a over the arrays and every number of the layout. */
static uint64_t fnv(uint64_t h, const void *data, size_t count)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < count; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t checksum(train_checkpoint *c)
{
    float *arr[N_ARRAYS];
    arrays_of(c, arr);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int k = 0; k < N_ARRAYS; k++)
        h = fnv(h, arr[k], (size_t)c->num_params * sizeof(float));
    const int64_t ints[5] = {c->step, c->adam_steps, c->best_step, c->seed, c->num_params};
    const double reals[3] = {c->wall_s, c->best_accuracy, c->best_loss};
    h = fnv(h, ints, sizeof ints);
    h = fnv(h, reals, sizeof reals);
    h = fnv(h, c->key, strlen(c->key));
    return fnv(h, c->train_id, strlen(c->train_id));
}

/* ------------------------------------------------------------- writing */

enum { A_STRING, A_INT64, A_UINT64, A_DOUBLE };

static herr_t write_attr(hid_t file, const char *name, int kind, const void *value)
{
    hid_t type = kind == A_STRING   ? H5Tcopy(H5T_C_S1)
                 : kind == A_INT64  ? H5Tcopy(H5T_STD_I64LE)
                 : kind == A_UINT64 ? H5Tcopy(H5T_STD_U64LE)
                                    : H5Tcopy(H5T_IEEE_F64LE);
    herr_t e = type < 0 ? -1 : 0;
    if (e >= 0 && kind == A_STRING) e = H5Tset_size(type, strlen(value) + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr =
        e >= 0 && space >= 0 ? H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    hid_t mem = kind == A_STRING   ? type
                : kind == A_INT64  ? H5T_NATIVE_INT64
                : kind == A_UINT64 ? H5T_NATIVE_UINT64
                                   : H5T_NATIVE_DOUBLE;
    e = attr >= 0 ? H5Awrite(attr, mem, value) : -1;
    if (attr >= 0 && H5Aclose(attr) < 0) e = -1;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return e;
}

static herr_t write_floats(hid_t file, const char *name, int64_t count, const float *data)
{
    hsize_t dims[1] = {(hsize_t)count};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dset = space >= 0 ? H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT,
                                         H5P_DEFAULT, H5P_DEFAULT)
                            : -1;
    herr_t e =
        dset >= 0 ? H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (dset >= 0 && H5Dclose(dset) < 0) e = -1;
    if (space >= 0) H5Sclose(space);
    return e;
}

/* The file at path and its folder to disk. */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse it */
        close(fd);
    }
    return rc;
}

myo_status train_checkpoint_write(const char *path, const train_checkpoint *c0, char *err,
                                  size_t errsize)
{
    train_checkpoint c = *c0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    H5E_auto2_t func;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = file < 0 ? -1 : 0;
    float *arr[N_ARRAYS];
    arrays_of(&c, arr);
    for (int k = 0; k < N_ARRAYS && e >= 0; k++)
        e = write_floats(file, ARRAY_NAMES[k], c.num_params, arr[k]);
    const uint64_t sum = checksum(&c);
    if (e >= 0) e = write_attr(file, "format", A_STRING, TRAIN_CHECKPOINT_FORMAT);
    if (e >= 0) e = write_attr(file, "train_id", A_STRING, c.train_id);
    if (e >= 0) e = write_attr(file, "key", A_STRING, c.key);
    if (e >= 0) e = write_attr(file, "step", A_INT64, &c.step);
    if (e >= 0) e = write_attr(file, "adam_steps", A_INT64, &c.adam_steps);
    if (e >= 0) e = write_attr(file, "best_step", A_INT64, &c.best_step);
    if (e >= 0) e = write_attr(file, "seed", A_INT64, &c.seed);
    if (e >= 0) e = write_attr(file, "wall_s", A_DOUBLE, &c.wall_s);
    if (e >= 0) e = write_attr(file, "best_accuracy", A_DOUBLE, &c.best_accuracy);
    if (e >= 0) e = write_attr(file, "best_loss", A_DOUBLE, &c.best_loss);
    if (e >= 0) e = write_attr(file, "checksum", A_UINT64, &sum);
    if (file >= 0 && H5Fclose(file) < 0) e = -1;
    H5Eset_auto2(H5E_DEFAULT, func, data);
    if (e < 0 || sync_path(tmp) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return fail(err, errsize, MYO_ERR_IO, "%s: cannot write the checkpoint (through %s)", path,
                    tmp);
    }
    (void)sync_path(path);
    return MYO_OK;
}

/* ------------------------------------------------------------- reading */

/* A scalar attribute of the expected class into value (strings: at most
 * size bytes with the NUL); -1 when missing or another class or shape. */
static int read_attr(hid_t file, const char *name, int kind, void *value, size_t size)
{
    if (H5Aexists(file, name) <= 0) return -1;
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : -1;
    int rc = -1;
    if (type >= 0 && space >= 0 && H5Sget_simple_extent_type(space) == H5S_SCALAR) {
        H5T_class_t cls = H5Tget_class(type);
        if (kind == A_STRING && cls == H5T_STRING && !H5Tis_variable_str(type) &&
            H5Tget_size(type) < size) {
            hid_t mem = H5Tcopy(type);
            memset(value, 0, size);
            rc = mem >= 0 && H5Aread(attr, mem, value) >= 0 ? 0 : -1;
            if (mem >= 0) H5Tclose(mem);
        } else if ((kind == A_INT64 || kind == A_UINT64) && cls == H5T_INTEGER) {
            rc = H5Aread(attr, kind == A_INT64 ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64, value) >= 0
                     ? 0
                     : -1;
        } else if (kind == A_DOUBLE && cls == H5T_FLOAT) {
            rc = H5Aread(attr, H5T_NATIVE_DOUBLE, value) >= 0 ? 0 : -1;
        }
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

/* The 1-D float dataset name of count elements into out; -1 when missing,
 * of another class or shape, or unreadable (a truncated file). */
static int read_floats(hid_t file, const char *name, int64_t count, float *out, int64_t *found)
{
    *found = -1;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return -1;
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t space = dset >= 0 ? H5Dget_space(dset) : -1;
    hid_t type = dset >= 0 ? H5Dget_type(dset) : -1;
    int rc = -1;
    hsize_t dims[1] = {0};
    if (space >= 0 && type >= 0 && H5Tget_class(type) == H5T_FLOAT &&
        H5Sget_simple_extent_ndims(space) == 1 &&
        H5Sget_simple_extent_dims(space, dims, NULL) == 1) {
        *found = (int64_t)dims[0];
        if ((int64_t)dims[0] == count)
            rc = H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0 ? 0 : -2;
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return rc;
}

/* The first "name=value" word of a that differs from b's, into out. */
static void key_difference(const char *a, const char *b, char *out, size_t size)
{
    char wa[160], wb[160];
    for (const char *pa = a, *pb = b;;) {
        int la = 0, lb = 0;
        while (pa[la] && pa[la] != ' ')
            la++;
        while (pb[lb] && pb[lb] != ' ')
            lb++;
        if (la != lb || strncmp(pa, pb, (size_t)la) != 0 || (!la && !lb)) {
            snprintf(wa, sizeof wa, "%.*s", la, pa);
            snprintf(wb, sizeof wb, "%.*s", lb, pb);
            snprintf(out, size, "%s there, %s here", la ? wa : "(nothing)", lb ? wb : "(nothing)");
            return;
        }
        pa += la + (pa[la] == ' '), pb += lb + (pb[lb] == ' ');
    }
}

static myo_status read_contents(hid_t file, const char *path, train_checkpoint *c, char *err,
                                size_t errsize)
{
    char format[64], key[sizeof c->key], id[sizeof c->train_id];
    if (read_attr(file, "format", A_STRING, format, sizeof format) != 0 ||
        strcmp(format, TRAIN_CHECKPOINT_FORMAT) != 0)
        return fail(err, errsize, MYO_ERR_DATA, "%s: not a myo-train checkpoint (format %s)", path,
                    TRAIN_CHECKPOINT_FORMAT);
    if (read_attr(file, "key", A_STRING, key, sizeof key) != 0 ||
        read_attr(file, "train_id", A_STRING, id, sizeof id) != 0)
        return fail(err, errsize, MYO_ERR_DATA, "%s: the attribute 'key' or 'train_id' is missing",
                    path);
    if (strcmp(key, c->key) != 0) {
        char diff[400];
        key_difference(key, c->key, diff, sizeof diff);
        return fail(err, errsize, MYO_ERR_DATA, "%s: a checkpoint of another training (%s)", path,
                    diff);
    }
    train_checkpoint got = *c;
    snprintf(got.train_id, sizeof got.train_id, "%s", id);
    struct {
        const char *name;
        int kind;
        void *value;
    } nums[] = {
        {"step", A_INT64, &got.step},           {"adam_steps", A_INT64, &got.adam_steps},
        {"best_step", A_INT64, &got.best_step}, {"seed", A_INT64, &got.seed},
        {"wall_s", A_DOUBLE, &got.wall_s},      {"best_accuracy", A_DOUBLE, &got.best_accuracy},
        {"best_loss", A_DOUBLE, &got.best_loss}};
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
        if (read_attr(file, nums[k].name, nums[k].kind, nums[k].value, 0) != 0)
            return fail(err, errsize, MYO_ERR_DATA,
                        "%s: the attribute '%s' is missing or of another type", path, nums[k].name);
    uint64_t sum = 0;
    if (read_attr(file, "checksum", A_UINT64, &sum, 0) != 0)
        return fail(err, errsize, MYO_ERR_DATA, "%s: the attribute 'checksum' is missing", path);
    float *arr[N_ARRAYS];
    arrays_of(&got, arr);
    for (int k = 0; k < N_ARRAYS; k++) {
        int64_t found;
        int rc = read_floats(file, ARRAY_NAMES[k], c->num_params, arr[k], &found);
        if (rc == -2)
            return fail(err, errsize, MYO_ERR_IO, "%s: '/%s' cannot be read (truncated file?)",
                        path, ARRAY_NAMES[k]);
        if (rc != 0)
            return fail(err, errsize, MYO_ERR_DATA,
                        "%s: '/%s' is missing or not %lld floats (found %lld)", path,
                        ARRAY_NAMES[k], (long long)c->num_params, (long long)found);
    }
    if (got.step < 0 || got.adam_steps < 0 || got.best_step < -1 || got.best_step > got.step)
        return fail(err, errsize, MYO_ERR_DATA,
                    "%s: inconsistent counters (step %lld, adam_steps %lld, best_step %lld)", path,
                    (long long)got.step, (long long)got.adam_steps, (long long)got.best_step);
    if (checksum(&got) != sum)
        return fail(err, errsize, MYO_ERR_DATA,
                    "%s: the checksum does not match the contents (altered or damaged file)", path);
    *c = got;
    return MYO_OK;
}

myo_status train_checkpoint_read(const char *path, train_checkpoint *c, char *err, size_t errsize)
{
    myo_h5_raw *raw = NULL;
    myo_h5_root root = {0, {0, NULL}};
    myo_status s = myo_h5_raw_open(path, &raw);
    if (s == MYO_OK) s = myo_h5_check_root(raw, &root);
    myo_h5_names_free(&root.attrs);
    myo_h5_raw_close(raw);
    if (s != MYO_OK)
        return fail(err, errsize, s == MYO_ERR_NOMEM ? s : MYO_ERR_IO, "checkpoint %s",
                    myo_data_error());
    H5E_auto2_t func;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        s = fail(err, errsize, MYO_ERR_IO, "%s: not an HDF5 file, or truncated or corrupt", path);
    } else {
        s = read_contents(file, path, c, err, errsize);
        H5Fclose(file);
    }
    H5Eset_auto2(H5E_DEFAULT, func, data);
    return s;
}
