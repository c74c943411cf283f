/* test_dataset_file.c -- the in-memory dataset (myo_data.h) and its HDF5
 * file (datasets/dataset_file.h): attributes, round trips with and
 * without parse trees, byte-identical rewrites, every validation error
 * (in memory and in files altered here with the plain HDF5 API), a file
 * that is not HDF5, failed writes that leave no file, slice reads, and
 * the train / validation / test splits (in memory, round trips, and split
 * attributes missing, mis-typed or not summing to count). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_file.h"
#include "support.h"

#include "data_fixture.h"

#define E DATA_FIXTURE_E
#define N DATA_FIXTURE_N

typedef data_fixture fixture;

static void assert_same(const myo_dataset *a, const myo_dataset *b)
{
    assert_string_equal(a->task, b->task);
    assert_string_equal(a->source, b->source);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->docs, b->docs);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->vocab, b->vocab);
    assert_int_equal(a->classes, b->classes);
    size_t tok = (size_t)(a->count * a->docs * a->n);
    assert_memory_equal(a->tokens, b->tokens, tok * sizeof(int32_t));
    assert_memory_equal(a->labels, b->labels, (size_t)a->count * sizeof(int32_t));
    assert_memory_equal(a->lengths, b->lengths, (size_t)(a->count * a->docs) * sizeof(int32_t));
    assert_true(!a->parents == !b->parents);
    if (a->parents)
        assert_memory_equal(a->parents, b->parents, (size_t)(a->count * a->n) * sizeof(int32_t));
    assert_int_equal(a->has_splits, b->has_splits);
    for (int k = 0; k < MYO_SPLITS; k++)
        assert_int_equal(a->split_count[k], b->split_count[k]);
    assert_int_equal(a->nattrs, b->nattrs);
    for (int k = 0; k < a->nattrs; k++) {
        const char *v = myo_dataset_get_attr(b, a->attr_key[k]);
        assert_non_null(v);
        assert_string_equal(v, a->attr_value[k]);
    }
}

/* The detail mentions every string of the NULL-terminated list. */
static void assert_detail(const char *first, ...)
{
    const char *detail = myo_data_error();
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        if (!strstr(detail, s)) fail_msg("detail '%s' lacks '%s'", detail, s);
    }
    va_end(ap);
}

/* -------------------------------------------------------------- memory */

static void test_attrs(void **state)
{
    fixture *f = *state;
    myo_dataset *d = &f->d;
    assert_string_equal(myo_dataset_get_attr(d, "seed"), "1");
    assert_int_equal(myo_dataset_set_attr(d, "seed", "2"), MYO_OK); /* replaced */
    assert_string_equal(myo_dataset_get_attr(d, "seed"), "2");
    assert_int_equal(d->nattrs, 2);
    assert_null(myo_dataset_get_attr(d, "nope"));
    char long_key[64], long_value[300];
    memset(long_key, 'k', sizeof long_key - 1), long_key[sizeof long_key - 1] = '\0';
    memset(long_value, 'v', sizeof long_value - 1), long_value[sizeof long_value - 1] = '\0';
    assert_int_equal(myo_dataset_set_attr(d, long_key, "1"), MYO_ERR_ARG);
    assert_int_equal(myo_dataset_set_attr(d, "x", long_value), MYO_ERR_ARG);
    assert_int_equal(myo_dataset_set_attr(d, "count", "3"), MYO_ERR_ARG); /* reserved */
    assert_int_equal(myo_dataset_set_attr(d, "n", "12"), MYO_OK);         /* restates d->n */
    assert_int_equal(myo_dataset_set_attr(d, "task", "listops"), MYO_OK);
    assert_int_equal(myo_dataset_set_attr(d, "task", "text"), MYO_ERR_ARG);
    assert_null(myo_dataset_get_attr(d, "n"));
    assert_int_equal(myo_dataset_set_attr(d, "", "3"), MYO_ERR_ARG);
    while (d->nattrs < MYO_DATA_MAX_ATTRS) {
        char key[16];
        snprintf(key, sizeof key, "a%d", d->nattrs);
        assert_int_equal(myo_dataset_set_attr(d, key, "v"), MYO_OK);
    }
    assert_int_equal(myo_dataset_set_attr(d, "one_more", "v"), MYO_ERR_ARG);
    assert_detail("one_more", NULL);
    /* A full attribute table still writes and reads back. */
    assert_int_equal(myo_dataset_write(f->path, d), MYO_OK);
    myo_dataset r;
    assert_int_equal(myo_dataset_read(f->path, &r), MYO_OK);
    assert_same(d, &r);
    myo_dataset_free(&r);
}

static void test_alloc_free(void **state)
{
    (void)state;
    myo_dataset d;
    memset(&d, 0, sizeof d);
    assert_int_equal(myo_dataset_alloc(&d, 3, 0), MYO_ERR_ARG); /* docs, n unset */
    d.docs = 1, d.n = 4;
    assert_int_equal(myo_dataset_alloc(&d, -1, 0), MYO_ERR_ARG);
    assert_int_equal(myo_dataset_alloc(&d, 3, 0), MYO_OK);
    assert_int_equal(d.count, 3);
    assert_null(d.parents);
    for (int i = 0; i < 12; i++)
        assert_int_equal(d.tokens[i], 0);
    myo_dataset_free(&d);
    assert_null(d.tokens);
    assert_int_equal(d.n, 0);
    myo_dataset_free(&d); /* twice */
    myo_dataset_free(NULL);
    d.docs = 1, d.n = (int64_t)1 << 40;
    /* sizes past SIZE_MAX: refused before any allocation (ASan aborts on a
     * merely huge one) */
    assert_int_equal(myo_dataset_alloc(&d, (int64_t)1 << 62, 1), MYO_ERR_NOMEM);
    assert_null(d.tokens);
}

/* Each rule of myo_dataset_validate, on a copy of the good dataset. */
static void test_validate_memory(void **state)
{
    fixture *f = *state;
    myo_dataset *d = &f->d;
    assert_int_equal(myo_dataset_validate(d, "mem"), MYO_OK);
    struct {
        int32_t *where;
        int32_t bad;
        const char *mention;
    } cases[] = {
        {&d->labels[2], 10, "label"},
        {&d->labels[2], -1, "label"},
        {&d->tokens[3 * N + 1], 18, "id 18"},
        {&d->tokens[3 * N + 1], -2, "id -2"},
        {&d->tokens[0 * N + N - 1], 5, "padding"}, /* after length 3 */
        {&d->lengths[1], N + 1, "length"},
        {&d->lengths[1], -1, "length"},
        {&d->parents[4 * N + 2], 2, "not an earlier"}, /* itself */
        {&d->parents[4 * N + 2], 3, "not an earlier"},
        {&d->parents[4 * N + 2], N, "outside"},
        {&d->parents[4 * N + 2], -2, "outside"},
        {&d->parents[0 * N + N - 1], 0, "padding"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int32_t keep = *cases[k].where;
        *cases[k].where = cases[k].bad;
        myo_data_clear_error();
        assert_int_equal(myo_dataset_validate(d, "mem"), MYO_ERR_DATA);
        assert_detail("mem", cases[k].mention, NULL);
        /* Nothing is written either. */
        assert_int_equal(myo_dataset_write(f->path, d), MYO_ERR_DATA);
        assert_int_not_equal(access(f->path, F_OK), 0);
        *cases[k].where = keep;
    }
    int64_t keep = d->vocab;
    d->vocab = 0;
    assert_int_equal(myo_dataset_validate(d, "mem"), MYO_ERR_DATA);
    d->vocab = keep;
    d->docs = 2; /* parents need docs 1 (the arrays are big enough to look at) */
    assert_int_equal(myo_dataset_validate(d, "mem"), MYO_ERR_DATA);
    assert_detail("docs", NULL);
    d->docs = 1;
    assert_int_equal(myo_dataset_validate(NULL, "mem"), MYO_ERR_ARG);
}

/* The split helpers, and the rules of myo_dataset_validate on splits. */
static void test_splits_memory(void **state)
{
    fixture *f = *state;
    myo_dataset *d = &f->d;
    assert_string_equal(myo_split_name(MYO_SPLIT_TRAIN), "train");
    assert_string_equal(myo_split_name(MYO_SPLIT_VALID), "validation");
    assert_string_equal(myo_split_name(MYO_SPLIT_TEST), "test");
    assert_null(myo_split_name(MYO_SPLITS));
    assert_null(myo_split_name(-1));
    /* round half up, no overflow */
    assert_int_equal(myo_split_share(100000, 1, 50), 2000);
    assert_int_equal(myo_split_share(50000, 1, 10), 5000);
    assert_int_equal(myo_split_share(45, 1, 10), 5); /* 4.5 */
    assert_int_equal(myo_split_share(44, 1, 10), 4);
    assert_int_equal(myo_split_share(24, 1, 50), 0);
    assert_int_equal(myo_split_share(25, 1, 50), 1);
    assert_int_equal(myo_split_share(INT64_MAX, 1, 2), INT64_MAX / 2 + 1);
    assert_int_equal(myo_split_share(10, 3, 2), 0); /* num > den */
    assert_int_equal(myo_split_share(-1, 1, 2), 0);
    /* no splits yet */
    assert_int_equal(d->has_splits, 0);
    assert_int_equal(myo_dataset_split_first(d, MYO_SPLIT_TRAIN), -1);
    /* E = 7: 5 / 1 / 1 */
    assert_int_equal(myo_dataset_set_splits(d, 5, 1, 2), MYO_ERR_ARG);
    assert_int_equal(myo_dataset_set_splits(d, -1, 4, 4), MYO_ERR_ARG);
    assert_int_equal(myo_dataset_set_splits(d, 8, 0, -1), MYO_ERR_ARG);
    assert_int_equal(d->has_splits, 0);
    assert_int_equal(myo_dataset_set_splits(d, 5, 1, 1), MYO_OK);
    assert_int_equal(d->has_splits, 1);
    assert_int_equal(myo_dataset_split_first(d, MYO_SPLIT_TRAIN), 0);
    assert_int_equal(myo_dataset_split_first(d, MYO_SPLIT_VALID), 5);
    assert_int_equal(myo_dataset_split_first(d, MYO_SPLIT_TEST), 6);
    assert_int_equal(myo_dataset_split_first(d, MYO_SPLITS), -1);
    assert_int_equal(myo_dataset_split_first(NULL, MYO_SPLIT_TEST), -1);
    assert_int_equal(myo_dataset_validate(d, "mem"), MYO_OK);
    /* split_tail: validation and test round(E num / den) each */
    assert_int_equal(myo_dataset_split_tail(d, 1, 10), MYO_OK); /* 0.7 -> 1 */
    assert_int_equal(d->split_count[MYO_SPLIT_TRAIN], 5);
    assert_int_equal(myo_dataset_split_tail(d, 1, 50), MYO_OK); /* 0.14 -> 0 */
    assert_int_equal(d->split_count[MYO_SPLIT_TRAIN], 7);
    assert_int_equal(d->split_count[MYO_SPLIT_TEST], 0);
    assert_int_equal(myo_dataset_split_tail(d, 1, 2), MYO_ERR_ARG);
    assert_int_equal(myo_dataset_set_splits(d, 5, 1, 1), MYO_OK);
    /* the layout's names: restating is accepted, anything else refused */
    assert_int_equal(myo_dataset_set_attr(d, "validation_count", "1"), MYO_OK);
    assert_int_equal(myo_dataset_set_attr(d, "test_count", "2"), MYO_ERR_ARG);
    assert_null(myo_dataset_get_attr(d, "validation_count"));
    /* invalid counts: in validate and in write, which writes nothing */
    struct {
        int64_t c[3];
        const char *mention;
    } cases[] = {
        {{5, 1, 2}, "= 8, not count 7"},
        {{5, 1, 0}, "= 6, not count 7"},
        {{-1, 4, 4}, "train_count -1 outside"},
        {{5, 8, -6}, "validation_count 8 outside"},
        {{INT64_MAX, INT64_MAX, 2}, "train_count 9223372036854775807 outside"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(d->split_count, cases[k].c, sizeof cases[k].c);
        myo_data_clear_error();
        assert_int_equal(myo_dataset_validate(d, "mem"), MYO_ERR_DATA);
        assert_detail("mem", cases[k].mention, NULL);
        assert_int_equal(myo_dataset_write(f->path, d), MYO_ERR_DATA);
        assert_int_not_equal(access(f->path, F_OK), 0);
    }
    d->has_splits = 0; /* the counts no longer matter */
    assert_int_equal(myo_dataset_validate(d, "mem"), MYO_OK);
    assert_int_equal(myo_dataset_set_attr(d, "train_count", "0"), MYO_ERR_ARG);
}

/* Parts joined in order, with part 0's header and attributes; parts of
 * another shape refused. */
static void test_concat(void **state)
{
    fixture *f = *state;
    myo_dataset parts[3], out;
    parts[0] = f->d;
    data_fixture_make(&parts[1], 1);
    parts[1].labels[0] = 9;
    parts[2] = f->d;
    parts[2].count = 0;
    assert_int_equal(myo_dataset_set_splits(&parts[1], E, 0, 0), MYO_OK);
    assert_int_equal(myo_dataset_concat(parts, 3, &out), MYO_OK);
    assert_int_equal(out.count, 2 * E);
    assert_int_equal(out.has_splits, 0);
    assert_string_equal(myo_dataset_get_attr(&out, "seed"), "1");
    assert_memory_equal(out.tokens, f->d.tokens, (size_t)(E * N) * sizeof(int32_t));
    assert_memory_equal(out.tokens + E * N, parts[1].tokens, (size_t)(E * N) * sizeof(int32_t));
    assert_memory_equal(out.parents + E * N, parts[1].parents, (size_t)(E * N) * sizeof(int32_t));
    assert_int_equal(out.labels[E], 9);
    assert_int_equal(out.lengths[E + 1], parts[1].lengths[1]);
    assert_int_equal(myo_dataset_validate(&out, "concat"), MYO_OK);
    myo_dataset_free(&out);
    myo_dataset_free(&parts[1]);
    data_fixture_make(&parts[1], 0); /* two documents, no parse trees */
    assert_int_equal(myo_dataset_concat(parts, 2, &out), MYO_ERR_ARG);
    assert_detail("part 1", NULL);
    assert_null(out.tokens);
    assert_int_equal(myo_dataset_concat(parts, 0, &out), MYO_ERR_ARG);
    myo_dataset_free(&parts[1]);
}

/* ---------------------------------------------------------------- files */

static void test_round_trip(void **state)
{
    fixture *f = *state;
    for (int trees = 1; trees >= 0; trees--) {
        myo_dataset d, r;
        data_fixture_make(&d, trees);
        assert_int_equal(myo_dataset_write(f->path, &d), MYO_OK);
        assert_int_equal(myo_dataset_read(f->path, &r), MYO_OK);
        assert_same(&d, &r);
        myo_dataset_free(&r);
        int has_parents = -1;
        assert_int_equal(myo_dataset_read_info(f->path, &r, &has_parents), MYO_OK);
        assert_int_equal(has_parents, trees);
        assert_int_equal(r.count, E);
        assert_null(r.tokens);
        assert_string_equal(myo_dataset_get_attr(&r, "seed"), "1");
        myo_dataset_free(&r);
        myo_dataset_free(&d);
    }
    /* No temporary file is left behind. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", f->dir);
    assert_int_not_equal(system(cmd), 0);
}

/* Splits written and read back by every reader: read_info, read, and a
 * slice (the file's counts); order kept by a rewrite; a file without
 * them has none. */
static void test_splits_round_trip(void **state)
{
    fixture *f = *state;
    myo_dataset r;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    assert_int_equal(myo_dataset_read(f->path, &r), MYO_OK);
    assert_int_equal(r.has_splits, 0);
    myo_dataset_free(&r);
    for (int trees = 1; trees >= 0; trees--) {
        myo_dataset d;
        data_fixture_make(&d, trees);
        assert_int_equal(myo_dataset_set_splits(&d, 4, 2, 1), MYO_OK);
        assert_int_equal(myo_dataset_write(f->path, &d), MYO_OK);
        assert_int_equal(myo_dataset_read(f->path, &r), MYO_OK);
        assert_same(&d, &r);
        assert_int_equal(myo_dataset_split_first(&r, MYO_SPLIT_TEST), 6);
        /* the split counts are not dataset attributes */
        assert_null(myo_dataset_get_attr(&r, "train_count"));
        assert_int_equal(r.nattrs, d.nattrs);
        myo_dataset_free(&r);
        assert_int_equal(myo_dataset_read_info(f->path, &r, NULL), MYO_OK);
        assert_int_equal(r.has_splits, 1);
        assert_int_equal(r.split_count[MYO_SPLIT_VALID], 2);
        myo_dataset_free(&r);
        /* a slice carries the file's counts, so it is not valid as is */
        assert_int_equal(myo_dataset_read_range(f->path, 3, 3, &r), MYO_OK);
        assert_int_equal(r.count, 3);
        assert_int_equal(r.has_splits, 1);
        assert_int_equal(r.split_count[MYO_SPLIT_TRAIN], 4);
        assert_int_equal(r.split_count[MYO_SPLIT_VALID], 2);
        assert_int_equal(r.split_count[MYO_SPLIT_TEST], 1);
        assert_int_equal(myo_dataset_validate(&r, "slice"), MYO_ERR_DATA);
        r.has_splits = 0;
        assert_int_equal(myo_dataset_validate(&r, "slice"), MYO_OK);
        myo_dataset_free(&r);
        /* read and rewrite: the splits stay */
        char again[600];
        snprintf(again, sizeof again, "%s/again.h5", f->dir);
        assert_int_equal(myo_dataset_read(f->path, &r), MYO_OK);
        assert_int_equal(myo_dataset_write(again, &r), MYO_OK);
        myo_dataset_free(&r);
        assert_int_equal(myo_dataset_read(again, &r), MYO_OK);
        assert_same(&d, &r);
        myo_dataset_free(&r);
        myo_dataset_free(&d);
    }
}

static void test_empty_dataset(void **state)
{
    fixture *f = *state;
    myo_dataset d = f->d, r; /* header only */
    d.count = 0;
    assert_int_equal(myo_dataset_write(f->path, &d), MYO_OK);
    assert_int_equal(myo_dataset_read(f->path, &r), MYO_OK);
    assert_int_equal(r.count, 0);
    myo_dataset_free(&r);
}

static void test_byte_identical(void **state)
{
    fixture *f = *state;
    char second[600];
    snprintf(second, sizeof second, "%s/again.h5", f->dir);
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    sleep(1); /* a time stamp would differ now */
    assert_int_equal(myo_dataset_write(second, &f->d), MYO_OK);
    size_t na, nb;
    unsigned char *a = test_read_file(f->path, &na), *b = test_read_file(second, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a), free(b);
    /* Read then rewrite: the same bytes again (attributes come back in
     * name order, so the rewrite is compared with a rewrite). */
    myo_dataset r;
    assert_int_equal(myo_dataset_read(f->path, &r), MYO_OK);
    assert_int_equal(myo_dataset_write(second, &r), MYO_OK);
    a = test_read_file(second, &na);
    myo_dataset_free(&r);
    assert_int_equal(myo_dataset_read(second, &r), MYO_OK);
    assert_int_equal(myo_dataset_write(f->path, &r), MYO_OK);
    b = test_read_file(f->path, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a), free(b);
    myo_dataset_free(&r);
}

static void test_range(void **state)
{
    fixture *f = *state;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    for (int64_t first = 0; first <= E; first++)
        for (int64_t count = 0; first + count <= E; count++) {
            myo_dataset r;
            assert_int_equal(myo_dataset_read_range(f->path, first, count, &r), MYO_OK);
            assert_int_equal(r.count, count);
            assert_memory_equal(r.tokens, f->d.tokens + first * N,
                                (size_t)(count * N) * sizeof(int32_t));
            assert_memory_equal(r.labels, f->d.labels + first, (size_t)count * sizeof(int32_t));
            assert_memory_equal(r.lengths, f->d.lengths + first, (size_t)count * sizeof(int32_t));
            assert_memory_equal(r.parents, f->d.parents + first * N,
                                (size_t)(count * N) * sizeof(int32_t));
            assert_string_equal(myo_dataset_get_attr(&r, "max_depth"), "10");
            myo_dataset_free(&r);
        }
    myo_dataset r;
    assert_int_equal(myo_dataset_read_range(f->path, 5, 3, &r), MYO_ERR_ARG);
    assert_null(r.tokens);
    assert_int_equal(myo_dataset_read_range(f->path, -1, 1, &r), MYO_ERR_ARG);
    assert_int_equal(myo_dataset_read_range(f->path, 0, -1, &r), MYO_ERR_ARG);
    /* A bad value outside the slice does not fail the slice; inside does. */
    myo_dataset_free(&f->d);
    data_fixture_make(&f->d, 0);
    f->d.labels[6] = 1;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    hid_t file = H5Fopen(f->path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t dset = H5Dopen2(file, "labels", H5P_DEFAULT);
    f->d.labels[6] = 2;
    H5Dwrite(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->d.labels);
    H5Dclose(dset), H5Fclose(file);
    assert_int_equal(myo_dataset_read_range(f->path, 0, 6, &r), MYO_OK);
    myo_dataset_free(&r);
    assert_int_equal(myo_dataset_read_range(f->path, 4, 3, &r), MYO_ERR_DATA);
    assert_detail(f->path, "example 6", "label 2", NULL);
}

/* --- files altered after writing: each must fail with MYO_ERR_DATA */

typedef void (*alter_fn)(hid_t file);

static void overwrite_i32(hid_t file, const char *name, int64_t index, int32_t value)
{
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t space = H5Dget_space(dset);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[3];
    H5Sget_simple_extent_dims(space, dims, NULL);
    hsize_t total = 1;
    for (int k = 0; k < rank; k++)
        total *= dims[k];
    int32_t *buf = malloc(total * sizeof *buf);
    assert_true(H5Dread(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    buf[index] = value;
    assert_true(H5Dwrite(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Sclose(space), H5Dclose(dset);
}

static void set_string_attr(hid_t file, const char *name, const char *value)
{
    if (H5Aexists(file, name) > 0) H5Adelete(file, name);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, value);
    H5Aclose(attr), H5Sclose(space), H5Tclose(type);
}

static void set_int_attr(hid_t file, const char *name, int64_t value)
{
    if (H5Aexists(file, name) > 0) H5Adelete(file, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, H5T_NATIVE_INT64, &value);
    H5Aclose(attr), H5Sclose(space);
}

static void alter_format(hid_t f)
{
    set_string_attr(f, "format", "myo-data/99");
}
static void alter_no_format(hid_t f)
{
    H5Adelete(f, "format");
}
static void alter_format_type(hid_t f)
{
    set_int_attr(f, "format", 1);
}
static void alter_no_task(hid_t f)
{
    H5Adelete(f, "task");
}
static void alter_count(hid_t f)
{
    set_int_attr(f, "count", E + 1);
}
static void alter_n(hid_t f)
{
    set_int_attr(f, "n", N - 1);
}
static void alter_vocab(hid_t f)
{
    set_int_attr(f, "vocab", 0);
}
static void alter_count_type(hid_t f)
{
    set_string_attr(f, "count", "7");
}
static void alter_no_labels(hid_t f)
{
    H5Ldelete(f, "labels", H5P_DEFAULT);
}
static void alter_label(hid_t f)
{
    overwrite_i32(f, "labels", 3, 10);
}
static void alter_token(hid_t f)
{
    overwrite_i32(f, "tokens", 2 * N + 1, 18);
}
static void alter_padding(hid_t f)
{
    overwrite_i32(f, "tokens", 0 * N + N - 1, 4);
}
static void alter_length(hid_t f)
{
    overwrite_i32(f, "lengths", 5, N + 1);
}
static void alter_parent_later(hid_t f)
{
    overwrite_i32(f, "parents", 4 * N + 2, 3);
}
static void alter_parent_range(hid_t f)
{
    overwrite_i32(f, "parents", 4 * N + 2, -5);
}
static void alter_parent_padding(hid_t f)
{
    overwrite_i32(f, "parents", 0 * N + N - 1, 0);
}
/* split attributes: one or two of the three, a wrong sum, a negative
 * count, a string */
static void alter_one_split(hid_t f)
{
    set_int_attr(f, "validation_count", E);
}
static void alter_two_splits(hid_t f)
{
    set_int_attr(f, "train_count", E - 1);
    set_int_attr(f, "test_count", 1);
}
static void alter_split_sum(hid_t f)
{
    set_int_attr(f, "train_count", E);
    set_int_attr(f, "validation_count", 1);
    set_int_attr(f, "test_count", 1);
}
static void alter_split_negative(hid_t f)
{
    set_int_attr(f, "train_count", E);
    set_int_attr(f, "validation_count", 1);
    set_int_attr(f, "test_count", -1); /* the sum is right */
}
static void alter_split_type(hid_t f)
{
    set_int_attr(f, "train_count", E - 2);
    set_string_attr(f, "validation_count", "1");
    set_int_attr(f, "test_count", 1);
}
static void alter_type(hid_t f)
{
    H5Ldelete(f, "labels", H5P_DEFAULT);
    hsize_t dims[1] = {E};
    double v[E] = {0};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dset =
        H5Dcreate2(f, "labels", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(dset), H5Sclose(space);
}
static void alter_shape(hid_t f)
{
    H5Ldelete(f, "lengths", H5P_DEFAULT);
    hsize_t dims[2] = {E, 2};
    int32_t v[E * 2] = {0};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dset =
        H5Dcreate2(f, "lengths", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(dset), H5Sclose(space);
}

static void test_validate_file(void **state)
{
    fixture *f = *state;
    struct {
        alter_fn alter;
        const char *mention;
    } cases[] = {
        {alter_format, "myo-data/99"},
        {alter_no_format, "not a myo-data file"},
        {alter_format_type, "not a myo-data file"},
        {alter_no_task, "'task' is missing"},
        {alter_count, "shape"},
        {alter_n, "shape"},
        {alter_vocab, "vocab 0"},
        {alter_count_type, "'count' is not an integer"},
        {alter_no_labels, "'/labels' is missing"},
        {alter_label, "label 10"},
        {alter_token, "id 18"},
        {alter_padding, "padding must be 0"},
        {alter_length, "length 13"},
        {alter_parent_later, "not an earlier token"},
        {alter_parent_range, "parent -5 outside"},
        {alter_parent_padding, "a padding token"},
        {alter_type, "'/labels' is not int32"},
        {alter_shape, "'/lengths' has shape (7, 2), expected (7, 1)"},
        {alter_one_split, "'validation_count' without 'train_count', 'test_count'"},
        {alter_two_splits, "'train_count', 'test_count' without 'validation_count'"},
        {alter_split_sum, "train_count 7 + validation_count 1 + test_count 1 = 9, not count 7"},
        {alter_split_negative, "test_count -1 outside"},
        {alter_split_type, "'validation_count' is not an integer"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
        H5E_auto2_t func;
        void *data;
        H5Eget_auto2(H5E_DEFAULT, &func, &data);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hid_t file = H5Fopen(f->path, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(file >= 0);
        cases[k].alter(file);
        H5Fclose(file);
        H5Eset_auto2(H5E_DEFAULT, func, data);
        myo_dataset r;
        myo_data_clear_error();
        myo_status s = myo_dataset_read(f->path, &r);
        if (s != MYO_ERR_DATA) fail_msg("case %zu: status %d, not MYO_ERR_DATA", k, (int)s);
        assert_null(r.tokens);
        assert_detail(f->path, cases[k].mention, NULL);
    }
}

static void test_not_hdf5(void **state)
{
    fixture *f = *state;
    FILE *fp = fopen(f->path, "w");
    fputs("this is not an HDF5 file\n", fp);
    fclose(fp);
    myo_dataset r;
    assert_int_equal(myo_dataset_read(f->path, &r), MYO_ERR_IO);
    assert_detail(f->path, "not an HDF5 file", NULL);
    assert_int_equal(myo_dataset_read_info(f->path, &r, NULL), MYO_ERR_IO);
    assert_int_equal(myo_dataset_read_range(f->path, 0, 1, &r), MYO_ERR_IO);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.h5", f->dir);
    assert_int_equal(myo_dataset_read(missing, &r), MYO_ERR_IO);
    assert_detail("missing.h5", "cannot read", NULL);
}

static void test_write_fails(void **state)
{
    fixture *f = *state;
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/out.h5", f->dir);
    assert_int_equal(myo_dataset_write(bad, &f->d), MYO_ERR_IO);
    assert_detail(bad, NULL);
    /* An existing file is kept when the new dataset is invalid. */
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    size_t na, nb;
    unsigned char *a = test_read_file(f->path, &na);
    f->d.labels[0] = 99;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_ERR_DATA);
    unsigned char *b = test_read_file(f->path, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a), free(b);
    assert_int_equal(myo_dataset_write(NULL, &f->d), MYO_ERR_ARG);
}

static void test_error_helper(void **state)
{
    (void)state;
    assert_int_equal(myo_data_fail(MYO_ERR_DATA, "%s:%d: %s", "f.tsv", 3, "bad"), MYO_ERR_DATA);
    assert_string_equal(myo_data_error(), "f.tsv:3: bad");
    myo_data_clear_error();
    assert_string_equal(myo_data_error(), myo_error_detail());
}

/* Replace a root string attribute by one written the ways h5py writes
 * them: fixed length without a NUL (np.bytes_) or variable-length UTF-8
 * (a Python str). */
static void rewrite_attr(hid_t file, const char *name, const char *value, int variable)
{
    H5Adelete(file, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    if (variable) {
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
    } else {
        H5Tset_size(t, strlen(value));
        H5Tset_strpad(t, H5T_STR_NULLPAD);
    }
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(variable ? H5Awrite(a, t, &value) >= 0 : H5Awrite(a, t, value) >= 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

static void test_h5py_strings(void **state)
{
    fixture *f = *state;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    hid_t file = H5Fopen(f->path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    rewrite_attr(file, "format", "myo-data/1", 0);
    rewrite_attr(file, "task", f->d.task, 1);
    H5Fclose(file);
    myo_dataset r;
    myo_status s = myo_dataset_read(f->path, &r);
    if (s != MYO_OK) fail_msg("h5py-style strings: %s", myo_data_error());
    assert_string_equal(r.task, f->d.task);
    myo_dataset_free(&r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, data_fixture_setup, data_fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_attrs),         T(test_alloc_free),        T(test_validate_memory),
        T(test_round_trip),    T(test_empty_dataset),     T(test_byte_identical),
        T(test_range),         T(test_validate_file),     T(test_not_hdf5),
        T(test_write_fails),   T(test_error_helper),      T(test_h5py_strings),
        T(test_splits_memory), T(test_splits_round_trip), T(test_concat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
