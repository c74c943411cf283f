/* h5_fixture.h -- system files for the tests of the HDF5 reader
 * (test_system_io.c) and of the tools (test_myo_solve.c,
 * test_myo_system.c): good ones and deliberately broken ones (a dataset
 * absent, a group in its place, another type or shape), written with the
 * plain HDF5 C API so that they do not go through the code under test; plus
 * file and directory inspection (also for test_h5log.c).
 *
 * Header-only (static inline) because only these few programs use it;
 * include after <cmocka.h> and "support.h". */
#ifndef MYO_TEST_H5_FIXTURE_H
#define MYO_TEST_H5_FIXTURE_H

#include <dirent.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The five datasets of a system file, in the order of fix_system_specs. */
enum { FIX_PARENT, FIX_DIAG, FIX_UP, FIX_DOWN, FIX_RHS, FIX_COUNT };

typedef enum {
    FIX_DATASET, /* a dataset (the default) */
    FIX_GROUP,   /* a group under the dataset's name */
    FIX_ABSENT   /* nothing under that name */
} fix_kind;

/* One object to write: rank 0 is a scalar dataset; data holds at least
 * prod(dims) elements of mem_type. */
typedef struct {
    const char *name;
    fix_kind kind;
    hid_t file_type;
    hid_t mem_type;
    int rank;
    hsize_t dims[3];
    const void *data;
} fix_spec;

/* A system in memory: parent (n,), diag, up, down (n,), rhs (n, m), stored
 * with shape (n,) when rhs_rank is 1. */
typedef struct {
    int64_t n, m;
    int rhs_rank;
    int64_t *parent;
    double *diag, *up, *down, *rhs;
} fix_system;

/* A strictly diagonally dominant system on parent (n,), copied. */
static inline fix_system fix_system_make(const int64_t *parent, int64_t n, int64_t m, int rhs_rank,
                                         uint64_t seed)
{
    fix_system s = {n,
                    m,
                    rhs_rank,
                    test_alloc((size_t)n, sizeof(int64_t)),
                    test_alloc((size_t)n, sizeof(double)),
                    test_alloc((size_t)n, sizeof(double)),
                    test_alloc((size_t)n, sizeof(double)),
                    test_alloc((size_t)n * (size_t)m, sizeof(double))};
    memcpy(s.parent, parent, (size_t)n * sizeof(int64_t));
    test_dominant_coeffs(parent, n, seed, 1, s.diag, s.up, s.down);
    test_random_values(s.rhs, n * m, seed + 1);
    return s;
}

static inline void fix_system_free(fix_system *s)
{
    free(s->parent), free(s->diag), free(s->up), free(s->down), free(s->rhs);
    memset(s, 0, sizeof *s);
}

/* The specs of a well-formed file for s: int64 parent, float64 the rest. */
static inline void fix_system_specs(const fix_system *s, fix_spec spec[FIX_COUNT])
{
    const hsize_t n = (hsize_t)s->n;
    spec[FIX_PARENT] =
        (fix_spec){"parent", FIX_DATASET, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, {n, 0, 0}, s->parent};
    spec[FIX_DIAG] =
        (fix_spec){"diag", FIX_DATASET, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, {n, 0, 0}, s->diag};
    spec[FIX_UP] =
        (fix_spec){"up", FIX_DATASET, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, {n, 0, 0}, s->up};
    spec[FIX_DOWN] =
        (fix_spec){"down", FIX_DATASET, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, {n, 0, 0}, s->down};
    spec[FIX_RHS] =
        (fix_spec){"rhs",       FIX_DATASET,           H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                   s->rhs_rank, {n, (hsize_t)s->m, 0}, s->rhs};
}

/* Write the objects of spec (count,) into a new file at path. */
static inline void fix_write_specs(const char *path, const fix_spec *spec, int count)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) fail_msg("fixture: cannot create %s", path);
    for (int k = 0; k < count; k++) {
        const fix_spec *d = &spec[k];
        if (d->kind == FIX_ABSENT) continue;
        if (d->kind == FIX_GROUP) {
            hid_t g = H5Gcreate2(file, d->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) fail_msg("fixture: cannot create group %s in %s", d->name, path);
            H5Gclose(g);
            continue;
        }
        hid_t space =
            d->rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(d->rank, d->dims, NULL);
        hid_t dset =
            H5Dcreate2(file, d->name, d->file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (space < 0 || dset < 0)
            fail_msg("fixture: cannot create dataset %s in %s", d->name, path);
        hssize_t count_elems = H5Sget_simple_extent_npoints(space);
        if (count_elems > 0 &&
            H5Dwrite(dset, d->mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->data) < 0)
            fail_msg("fixture: cannot write dataset %s in %s", d->name, path);
        H5Dclose(dset);
        H5Sclose(space);
    }
    if (H5Fclose(file) < 0) fail_msg("fixture: cannot close %s", path);
}

static inline void fix_write_system(const char *path, const fix_system *s)
{
    fix_spec spec[FIX_COUNT];
    fix_system_specs(s, spec);
    fix_write_specs(path, spec, FIX_COUNT);
}

/* Dataset name of path as doubles (owned by the caller), with its rank,
 * dims and stored element size (8 for float64, 4 for float32). */
static inline double *fix_read_doubles(const char *path, const char *name, int *rank,
                                       hsize_t dims[2], size_t *elem_size)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) fail_msg("fixture: cannot open %s", path);
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0) fail_msg("fixture: %s has no dataset %s", path, name);
    hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
    *rank = H5Sget_simple_extent_ndims(space);
    if (*rank < 1 || *rank > 2) fail_msg("fixture: %s:%s has rank %d", path, name, *rank);
    dims[1] = 1;
    H5Sget_simple_extent_dims(space, dims, NULL);
    if (H5Tget_class(type) != H5T_FLOAT)
        fail_msg("fixture: %s:%s is not floating-point", path, name);
    *elem_size = H5Tget_size(type);
    double *v = test_alloc((size_t)(dims[0] * (*rank == 2 ? dims[1] : 1)), sizeof(double));
    if (H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        fail_msg("fixture: cannot read %s:%s", path, name);
    H5Tclose(type), H5Sclose(space), H5Dclose(dset), H5Fclose(file);
    return v;
}

/* "dir/name", owned by the caller. */
static inline char *fix_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = test_alloc(len, 1);
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static inline void fix_write_bytes(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fail_msg("fixture: cannot write %s", path);
}

/* Copy the first `keep` bytes of src to dst (a truncated file). */
static inline void fix_copy_prefix(const char *src, const char *dst, size_t keep)
{
    size_t size = 0;
    unsigned char *buf = test_read_file(src, &size);
    if (!buf) fail_msg("fixture: cannot read %s", src);
    fix_write_bytes(dst, buf, keep < size ? keep : size);
    free(buf);
}

/* Fail unless path holds exactly size bytes equal to data. */
static inline void fix_assert_file_bytes(const char *path, const void *data, size_t size)
{
    size_t got_size = 0;
    unsigned char *got = test_read_file(path, &got_size);
    if (!got) fail_msg("%s disappeared", path);
    if (got_size != size || memcmp(got, data, size) != 0)
        fail_msg("%s changed (%zu bytes, expected %zu unchanged bytes)", path, got_size, size);
    free(got);
}

/* Fail unless dir holds exactly the entry `only` (or nothing when only is
 * NULL): catches outputs and temporary files left behind. */
static inline void fix_assert_dir_holds(const char *dir, const char *only)
{
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot list %s", dir);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (only && !strcmp(e->d_name, only)) {
            found = 1;
            continue;
        }
        char name[256];
        snprintf(name, sizeof name, "%s", e->d_name);
        closedir(d);
        fail_msg("%s: unexpected file '%s' left behind", dir, name);
    }
    closedir(d);
    if (only && !found) fail_msg("%s: '%s' is missing", dir, only);
}

#endif
