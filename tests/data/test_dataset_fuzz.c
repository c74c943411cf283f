/* test_dataset_fuzz.c -- hostile dataset files (datasets/dataset_file.h,
 * datasets/h5_header_check.h): byte mutations of a written dataset
 * (single bytes in its metadata and anywhere, and the shared mutation
 * fuzz), the byte mutations that crashed libhdf5 1.10.8 before the header
 * checks (regression fixtures), attributes added with the HDF5 C API (long
 * values and names, compound, variable-length, array and other classes, 60
 * extra ones around 'ordering' in name and creation order, an unkeepable or
 * corrupt 'ordering', split counts of other classes and corrupt split
 * attribute messages), a file in the newer object header format, and paths
 * that are not regular files.  Every read must return MYO_OK with a valid
 * dataset or a failure with a one-line detail, never crash (the CI runs
 * this under AddressSanitizer) and leave no HDF5 object open.
 * MYO_FUZZ_ITERATIONS raises the iteration counts. */
#define _GNU_SOURCE /* memmem */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_file.h"
#include "pathfinder.h"
#include "support.h"

#include "data_fixture.h"

/* A corrupt size the header checks do not cover can still make libhdf5
 * ask for terabytes; without AddressSanitizer malloc returns NULL and
 * libhdf5 fails cleanly, under it the allocator must be allowed to do the
 * same (README.md, "myo-data").  ASAN_OPTIONS overrides this. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

typedef data_fixture fixture;

/* The fixture's dataset with 'ordering' (the attribute the tools
 * interpret) among its attributes: seed, max_depth, ordering, note; and
 * splits (5 / 1 / 1: the attributes train_count, validation_count,
 * test_count). */
static int setup(void **state)
{
    int rc = data_fixture_setup(state);
    fixture *f = *state;
    if (rc == 0) {
        assert_int_equal(myo_dataset_set_attr(&f->d, "ordering", "morton"), MYO_OK);
        assert_int_equal(myo_dataset_set_attr(&f->d, "note", "fuzz base"), MYO_OK);
        assert_int_equal(myo_dataset_set_splits(&f->d, DATA_FIXTURE_E - 2, 1, 1), MYO_OK);
    }
    return rc;
}

/* libhdf5 closes down without complaint: nothing of it was left open,
 * not even what H5Fget_obj_count does not see (after some failures of
 * libhdf5 1.10 its file stays open, and at exit it prints "infinite loop
 * closing library").  It starts again at the next call. */
static void assert_hdf5_closes(const char *what)
{
    char log[] = "/tmp/test_dataset_fuzz.XXXXXX";
    int fd = mkstemp(log), saved = dup(2);
    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    H5close();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t said = lseek(fd, 0, SEEK_END);
    close(fd);
    char *text = test_read_text(log);
    unlink(log);
    if (said > 0) fail_msg("%s: libhdf5 does not close down: %s", what, text);
    free(text);
}

/* Read path the three ways (header, whole, the first example): each
 * returns MYO_OK with a valid dataset or a failure with a one-line detail
 * and no arrays, and leaves no HDF5 object open.  what names the input in
 * failure messages.  Returns how many reads succeeded. */
static int read_every_way(const char *path, const char *what)
{
    int ok = 0;
    for (int way = 0; way < 3; way++) {
        myo_dataset r;
        int has_parents = 0;
        myo_data_clear_error();
        myo_status s = way == 0   ? myo_dataset_read_info(path, &r, &has_parents)
                       : way == 1 ? myo_dataset_read(path, &r)
                                  : myo_dataset_read_range(path, 0, 1, &r);
        if (s == MYO_OK) {
            if (way == 2) r.has_splits = 0; /* a slice has the file's split counts */
            if (way > 0 && myo_dataset_validate(&r, what) != MYO_OK)
                fail_msg("%s: read %d returned an invalid dataset: %s", what, way,
                         myo_data_error());
            ok++;
        } else {
            const char *detail = myo_data_error();
            if (!detail[0] || strchr(detail, '\n'))
                fail_msg("%s: read %d failed (%d) with the detail '%s'", what, way, (int)s, detail);
            assert_null(r.tokens);
        }
        myo_dataset_free(&r);
        ssize_t open = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
        if (open != 0) fail_msg("%s: read %d left %zd HDF5 objects open", what, way, open);
    }
    assert_hdf5_closes(what);
    return ok;
}

/* The lowest file offset of the datasets' raw data: the bytes before it
 * are the file's metadata. */
static size_t metadata_end(const char *path)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    haddr_t low = HADDR_UNDEF;
    const char *names[] = {"tokens", "labels", "lengths", "parents"};
    for (int k = 0; k < 4; k++) {
        hid_t dset = H5Dopen2(file, names[k], H5P_DEFAULT);
        assert_true(dset >= 0);
        haddr_t at = H5Dget_offset(dset);
        if (at < low) low = at;
        H5Dclose(dset);
    }
    H5Fclose(file);
    assert_true(low != HADDR_UNDEF);
    return (size_t)low;
}

/* ------------------------------------------------------ byte mutations */

static void test_dataset_fuzz_single_bytes(void **state)
{
    fixture *f = *state;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    size_t size;
    unsigned char *base = test_read_file(f->path, &size), *buf = test_alloc(size, 1);
    size_t meta = metadata_end(f->path);
    assert_true(meta > 0 && meta < size);
    const int64_t iterations = test_fuzz_iterations(300);
    myo_rng r = myo_rng_seed(20251207);
    int ok = 0;
    for (int64_t it = 0; it < iterations; it++) {
        /* three in four in the metadata, the others anywhere */
        size_t at = (size_t)myo_rng_below(&r, (int64_t)(it % 4 ? meta : size));
        memcpy(buf, base, size);
        buf[at] ^= (unsigned char)(1 + myo_rng_below(&r, 255));
        test_write_file(f->path, buf, size);
        char what[96];
        snprintf(what, sizeof what, "byte %zu set to %u", at, buf[at]);
        ok += read_every_way(f->path, what) > 0;
    }
    /* not every mutation is detected (there are no checksums), but most
     * in the metadata are: both outcomes occur */
    if (ok == 0 || ok == iterations)
        fail_msg("%d of %lld mutated files read", ok, (long long)iterations);
    free(base), free(buf);
}

static void check_edited(int64_t iteration, char *buf, size_t len, void *ctx)
{
    fixture *f = ctx;
    test_write_file(f->path, buf, len);
    char what[64];
    snprintf(what, sizeof what, "edit %lld (%zu bytes)", (long long)iteration, len);
    read_every_way(f->path, what);
}

static void test_dataset_fuzz_edits(void **state)
{
    fixture *f = *state;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    size_t size;
    char *base = (char *)test_read_file(f->path, &size);
    /* bytes that mean something in HDF5 metadata: small sizes and counts,
     * versions, "undefined address" bytes */
    static const char alphabet[] = "\x01\x02\x03\x08\x10\x20\x40\x7f\x80\xfe\xff";
    test_fuzz_mutations(31, 200, base, size, alphabet, check_edited, f);
    free(base);
}

/* Single-byte mutations of the file `myo-data pathfinder --size 32
 * --difficulty hard --n 20` writes (seed 1) that crashed libhdf5 1.10.8
 * under AddressSanitizer, or hung, before the header checks: offset, the
 * byte the writer puts there, the byte set.  Wild frees in H5A__close
 * from H5Aiterate2 after an attribute message failed to decode (most),
 * reads past a buffer while decoding an attribute's name or datatype
 * (839, 1231, 1447, 1615, 1799, 1911, 1967), terabyte allocations from
 * the root header's continuation length (132, 133), an integer attribute
 * of 169 bits whose conversion never ends (1248), and a vocabulary of
 * 570425600 ids (1211, a valid file: `myo-data inspect` used to allocate
 * per id). */
static const struct {
    unsigned off;
    unsigned char old, val;
} crashes[] = {
    {132, 0x00, 137},  {133, 0x00, 248},  {839, 0x00, 42},   {1211, 0x00, 34},  {1231, 0x00, 250},
    {1248, 0x00, 169}, {1408, 0x13, 105}, {1414, 0x00, 185}, {1415, 0x00, 174}, {1415, 0x00, 214},
    {1416, 0x01, 177}, {1447, 0x00, 246}, {1456, 0x13, 117}, {1461, 0x00, 127}, {1516, 0x17, 198},
    {1517, 0x00, 62},  {1517, 0x00, 174}, {1520, 0x01, 5},   {1520, 0x01, 204}, {1563, 0x00, 18},
    {1563, 0x00, 59},  {1565, 0x00, 69},  {1581, 0x00, 173}, {1582, 0x00, 54},  {1582, 0x00, 148},
    {1608, 0x01, 143}, {1613, 0x00, 225}, {1615, 0x00, 98},  {1638, 0x00, 82},  {1639, 0x00, 117},
    {1668, 0x08, 56},  {1669, 0x00, 157}, {1696, 0x13, 45},  {1700, 0x02, 122}, {1700, 0x02, 206},
    {1701, 0x00, 188}, {1703, 0x00, 181}, {1703, 0x00, 205}, {1730, 0x16, 203}, {1757, 0x00, 171},
    {1764, 0x02, 61},  {1764, 0x02, 223}, {1765, 0x00, 80},  {1769, 0x00, 2},   {1799, 0x00, 100},
    {1856, 0x01, 101}, {1869, 0x6e, 0},   {1904, 0x01, 136}, {1911, 0x00, 50},  {1925, 0x00, 9},
    {1928, 0x13, 219}, {1933, 0x00, 187}, {1960, 0x01, 132}, {1967, 0x00, 237}, {2001, 0x00, 221},
    {2020, 0x00, 18},  {2027, 0x00, 216}, {2029, 0x00, 84},  {2063, 0x00, 77},  {2064, 0x01, 58},
    {2112, 0x13, 196}, {2118, 0x00, 156}, {2146, 0x0e, 96},  {2146, 0x0e, 163}, {2149, 0x00, 217},
    {2172, 0x02, 134}, {2174, 0x00, 249}, {2200, 0x01, 38},  {2203, 0x00, 236}, {2229, 0x00, 79},
    {2231, 0x00, 75},  {2232, 0x01, 85},  {2259, 0x00, 150}, {2288, 0x01, 185}, {2289, 0x00, 65},
    {2308, 0x00, 10},  {2312, 0x01, 82},  {2314, 0x10, 175}, {2315, 0x00, 238}, {2336, 0x13, 214},
    {2345, 0x00, 195}, {2345, 0x00, 236}, {2368, 0x01, 201}, {2396, 0x02, 123}, {2399, 0x00, 243},
    {2462, 0x00, 170}, {2464, 0x01, 135}, {2464, 0x01, 217}, {2490, 0x12, 33},  {2492, 0x08, 9},
    {2492, 0x08, 119}, {2526, 0x00, 112}, {2528, 0x01, 8},   {2528, 0x01, 85},  {2557, 0x00, 59},
    {2596, 0x02, 114}, {2598, 0x00, 98},  {2599, 0x00, 110}, {2601, 0x00, 30},  {2601, 0x00, 85},
};

static void test_dataset_fuzz_libhdf5_crashes(void **state)
{
    fixture *f = *state;
    myo_pf_difficulty hard;
    myo_pf_params p;
    myo_dataset d;
    memset(&d, 0, sizeof d);
    assert_int_equal(myo_pf_difficulty_parse("hard", &hard), MYO_OK);
    assert_int_equal(myo_pf_params_lra(32, hard, &p), MYO_OK);
    assert_int_equal(myo_pf_generate(&p, 20, 1, &d), MYO_OK);
    /* the file as it was written before datasets had splits (the split
     * attributes move every offset below) */
    d.has_splits = 0;
    assert_int_equal(myo_dataset_write(f->path, &d), MYO_OK);
    myo_dataset_free(&d);
    size_t size;
    unsigned char *base = test_read_file(f->path, &size), *buf = test_alloc(size, 1);
    /* the writer is byte-reproducible: a change of its bytes moves the
     * fields these offsets hit, and the fixtures must be found again */
    assert_int_equal(size, 87344);
    for (size_t k = 0; k < sizeof crashes / sizeof crashes[0]; k++) {
        if (base[crashes[k].off] != crashes[k].old)
            fail_msg("byte %u is %u, not %u: the writer's layout changed", crashes[k].off,
                     base[crashes[k].off], crashes[k].old);
        memcpy(buf, base, size);
        buf[crashes[k].off] = crashes[k].val;
        test_write_file(f->path, buf, size);
        char what[64];
        snprintf(what, sizeof what, "byte %u set to %u", crashes[k].off, crashes[k].val);
        read_every_way(f->path, what);
    }
    free(base), free(buf);
}

/* Set the 8-byte little-endian field at off of buf. */
static void set_le64(unsigned char *buf, size_t off, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        buf[off + (size_t)k] = (unsigned char)(v >> (8 * k));
}

/* The superblock's end-of-file address moved before the file's last
 * objects, directly or by a base address after the superblock (libhdf5
 * 1.10 failed there and left the file open). */
static void test_dataset_fuzz_end_of_file_moved(void **state)
{
    fixture *f = *state;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    size_t size;
    unsigned char *base = test_read_file(f->path, &size), *buf = test_alloc(size, 1);
    /* version 0: base address at 24, end of file at 40 (8 bytes each) */
    assert_int_equal(base[8], 0);
    assert_int_equal(base[13], 8);
    const uint64_t cuts[] = {size - 1000, size - 57, size - 1};
    for (int k = 0; k < 6; k++) {
        memcpy(buf, base, size);
        if (k < 3)
            set_le64(buf, 40, cuts[k]);
        else
            set_le64(buf, 24, size - cuts[k - 3]);
        test_write_file(f->path, buf, size);
        char what[64];
        snprintf(what, sizeof what, "%s %llu bytes short", k < 3 ? "end of file" : "base address",
                 (unsigned long long)(size - cuts[k % 3]));
        myo_dataset r;
        myo_status st = myo_dataset_read_info(f->path, &r, NULL);
        if (st != MYO_ERR_IO && st != MYO_ERR_DATA)
            fail_msg("%s: status %d (%s)", what, (int)st, myo_data_error());
        read_every_way(f->path, what);
    }
    free(base), free(buf);
}

/* ---------------------------------------------------------- attributes */

typedef void (*alter_fn)(hid_t file);

/* Write the base dataset, then alter it with the plain HDF5 API. */
static void write_altered(fixture *f, alter_fn alter)
{
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    hid_t file = H5Fopen(f->path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    alter(file);
    assert_true(H5Fclose(file) >= 0);
}

/* A root attribute of type (in the file; mem in data) and shape (rank 0:
 * scalar) holding data. */
static void add_attr_as(hid_t file, const char *name, hid_t type, hid_t mem, int rank, hsize_t dim,
                        const void *data)
{
    hid_t space = rank ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(attr >= 0);
    assert_true(H5Awrite(attr, mem, data) >= 0);
    H5Aclose(attr), H5Sclose(space);
}

static void add_attr(hid_t file, const char *name, hid_t type, int rank, hsize_t dim,
                     const void *data)
{
    add_attr_as(file, name, type, type, rank, dim, data);
}

static void add_string(hid_t file, const char *name, const char *value, int variable)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, variable ? H5T_VARIABLE : strlen(value) + 1);
    if (variable) H5Tset_cset(type, H5T_CSET_UTF8);
    add_attr(file, name, type, 0, 1, variable ? (const void *)&value : value);
    H5Tclose(type);
}

static char long_text[301];

typedef struct {
    int32_t a;
    double b;
} pair;

static void alter_odd_attrs(hid_t file)
{
    memset(long_text, 'x', 300);
    add_string(file, "aaa_long_value", long_text, 0);
    add_string(file, "zzz_long_value", long_text, 1);
    char long_name[61];
    memset(long_name, 'b', 60), long_name[60] = '\0';
    add_string(file, long_name, "1", 0);
    add_string(file, "vlen_short", "hello", 1);
    const double half = 0.5;
    const int32_t seven = 7;
    const int64_t three[3] = {1, 2, 3};
    add_attr(file, "float_value", H5T_IEEE_F64LE, 0, 1, &half);
    add_attr_as(file, "int_value", H5T_STD_I32BE, H5T_NATIVE_INT32, 0, 1, &seven);
    add_attr(file, "int_array", H5T_NATIVE_INT64, 1, 3, three);
    pair rec = {1, 2.5};
    hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof rec);
    H5Tinsert(ct, "a", HOFFSET(pair, a), H5T_NATIVE_INT32);
    H5Tinsert(ct, "b", HOFFSET(pair, b), H5T_NATIVE_DOUBLE);
    add_attr(file, "compound", ct, 0, 1, &rec);
    H5Tclose(ct);
    /* the other classes: enumeration, opaque, bitfield, array, a sequence
     * of variable length, an object reference */
    hid_t et = H5Tenum_create(H5T_NATIVE_INT);
    int red = 0, green = 1;
    H5Tenum_insert(et, "red", &red), H5Tenum_insert(et, "green", &green);
    add_attr(file, "enum", et, 0, 1, &green);
    H5Tclose(et);
    hid_t ot = H5Tcreate(H5T_OPAQUE, 4);
    H5Tset_tag(ot, "four bytes");
    add_attr(file, "opaque", ot, 0, 1, "abcd");
    H5Tclose(ot);
    const uint8_t bits = 0x5a;
    add_attr(file, "bitfield", H5T_NATIVE_B8, 0, 1, &bits);
    hsize_t adims[2] = {2, 2};
    hid_t at = H5Tarray_create2(H5T_NATIVE_SHORT, 2, adims);
    const short arr[4] = {1, 2, 3, 4};
    add_attr(file, "array", at, 0, 1, arr);
    H5Tclose(at);
    hid_t vt = H5Tvlen_create(H5T_NATIVE_INT);
    int seq[3] = {4, 5, 6};
    hvl_t vl = {3, seq};
    add_attr(file, "sequence", vt, 0, 1, &vl);
    H5Tclose(vt);
    hobj_ref_t ref;
    assert_true(H5Rcreate(&ref, file, "tokens", H5R_OBJECT, -1) >= 0);
    add_attr(file, "reference", H5T_STD_REF_OBJ, 0, 1, &ref);
}

static void test_dataset_fuzz_odd_attributes_skipped(void **state)
{
    fixture *f = *state;
    write_altered(f, alter_odd_attrs);
    myo_dataset r;
    myo_status s = myo_dataset_read(f->path, &r);
    if (s != MYO_OK) fail_msg("%s", myo_data_error());
    assert_string_equal(myo_dataset_get_attr(&r, "ordering"), "morton");
    assert_string_equal(myo_dataset_get_attr(&r, "seed"), "1");
    assert_string_equal(myo_dataset_get_attr(&r, "vlen_short"), "hello");
    assert_string_equal(myo_dataset_get_attr(&r, "float_value"), "0.5");
    assert_string_equal(myo_dataset_get_attr(&r, "int_value"), "7");
    const char *skipped[] = {"aaa_long_value", "zzz_long_value", "bbbbbbbbbb", "int_array",
                             "compound",       "enum",           "opaque",     "bitfield",
                             "array",          "sequence",       "reference"};
    const int nskipped = (int)(sizeof skipped / sizeof skipped[0]);
    assert_int_equal(r.skipped_attrs, nskipped);
    assert_int_equal(r.nattrs, 4 + 3);
    for (int k = 0; k < nskipped; k++) {
        if (!strstr(r.skipped_names, skipped[k]))
            fail_msg("'%s' not among the attributes not kept: %s", skipped[k], r.skipped_names);
        assert_null(myo_dataset_get_attr(&r, skipped[k]));
    }
    myo_dataset_free(&r);
    read_every_way(f->path, "odd attributes");
}

/* 60 extra string attributes, 30 before 'ordering' in name order ("a00"
 * ...) and 30 after ("z00" ...); 'ordering' itself written again first,
 * between them or last (creation order). */
static int ordering_when;

static void alter_many_attrs(hid_t file)
{
    for (int k = 0; k < 60; k++) {
        if (k == 30 * ordering_when) {
            H5Adelete(file, "ordering");
            add_string(file, "ordering", "hilbert", 0);
        }
        char name[8];
        snprintf(name, sizeof name, "%c%02d", k < 30 ? 'a' : 'z', k % 30);
        add_string(file, name, "v", 0);
    }
    if (ordering_when == 2) {
        H5Adelete(file, "ordering");
        add_string(file, "ordering", "hilbert", 0);
    }
}

static void test_dataset_fuzz_many_attributes_keep_ordering(void **state)
{
    fixture *f = *state;
    for (ordering_when = 0; ordering_when < 3; ordering_when++) {
        write_altered(f, alter_many_attrs);
        myo_dataset r;
        myo_status s = myo_dataset_read_info(f->path, &r, NULL);
        if (s != MYO_OK) fail_msg("%s", myo_data_error());
        assert_string_equal(myo_dataset_get_attr(&r, "ordering"), "hilbert");
        /* 64 attributes, 48 kept in name order with a place kept for
         * 'ordering': a00..a29, max_depth, note, ordering, seed, z00..z13 */
        assert_int_equal(r.nattrs, MYO_DATA_MAX_ATTRS);
        assert_int_equal(r.skipped_attrs, 64 - MYO_DATA_MAX_ATTRS);
        assert_non_null(myo_dataset_get_attr(&r, "a29"));
        assert_non_null(myo_dataset_get_attr(&r, "seed"));
        assert_non_null(myo_dataset_get_attr(&r, "z13"));
        assert_null(myo_dataset_get_attr(&r, "z14"));
        if (!strstr(r.skipped_names, "z14, z15")) fail_msg("not kept: '%s'", r.skipped_names);
        myo_dataset_free(&r);
    }
}

/* 'ordering' that cannot be kept, five ways. */
static int ordering_kind;

static void alter_ordering(hid_t file)
{
    H5Adelete(file, "ordering");
    const int64_t two[2] = {1, 2};
    struct {
        int32_t a;
    } rec = {1};
    hid_t ct;
    switch (ordering_kind) {
    case 0:
        add_string(file, "ordering", long_text, 0);
        break;
    case 1:
        add_string(file, "ordering", long_text, 1);
        break;
    case 2:
        add_attr(file, "ordering", H5T_NATIVE_INT64, 1, 2, two);
        break;
    case 3:
        ct = H5Tcreate(H5T_COMPOUND, sizeof rec);
        H5Tinsert(ct, "a", 0, H5T_NATIVE_INT32);
        add_attr(file, "ordering", ct, 0, 1, &rec);
        H5Tclose(ct);
        break;
    default: /* a long name sorted before it, then it: still refused */
        add_string(file, "o_a_name_of_well_over_forty_seven_characters_0123456789", "x", 0);
        add_string(file, "ordering", long_text, 0);
        break;
    }
}

static void test_dataset_fuzz_unkeepable_ordering_refused(void **state)
{
    fixture *f = *state;
    memset(long_text, 'x', 300);
    for (ordering_kind = 0; ordering_kind < 5; ordering_kind++) {
        write_altered(f, alter_ordering);
        myo_dataset r;
        myo_data_clear_error();
        myo_status s = myo_dataset_read_info(f->path, &r, NULL);
        if (s != MYO_ERR_DATA)
            fail_msg("case %d: status %d, not MYO_ERR_DATA (%s)", ordering_kind, (int)s,
                     myo_data_error());
        if (!strstr(myo_data_error(), "'ordering'"))
            fail_msg("case %d: detail '%s'", ordering_kind, myo_data_error());
        read_every_way(f->path, "unkeepable ordering");
    }
}

static void test_dataset_fuzz_corrupt_ordering_message_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    size_t size;
    unsigned char *buf = test_read_file(f->path, &size);
    /* the name of a version-1 attribute message, 8 bytes after its start:
     * version, reserved, then the sizes of the name, the datatype and the
     * dataspace (2 bytes each) */
    unsigned char *name = memmem(buf, size, "ordering", sizeof "ordering");
    assert_non_null(name);
    assert_int_equal(name[-8], 1);
    for (int field = 0; field < 3; field++) {
        unsigned char *b = test_alloc(size, 1);
        memcpy(b, buf, size);
        b[name - buf - 8 + 2 + 2 * field + 1] = 0x7f; /* a size of ~32 KiB */
        test_write_file(f->path, b, size);
        free(b);
        myo_dataset r;
        myo_data_clear_error();
        assert_int_equal(myo_dataset_read_info(f->path, &r, NULL), MYO_ERR_DATA);
        const char *detail = myo_data_error();
        if (!strstr(detail, "corrupt attribute message"))
            fail_msg("field %d: detail '%s'", field, detail);
        if (field > 0 && !strstr(detail, "'ordering'"))
            fail_msg("field %d: detail '%s'", field, detail);
    }
    free(buf);
}

/* validation_count replaced by a value of another class or shape */
static int split_kind;
static void alter_split_count(hid_t file)
{
    H5Adelete(file, "validation_count");
    const int64_t three[3] = {1, 1, 1};
    const uint64_t huge = (uint64_t)1 << 63;
    const double one = 1.0;
    const pair rec = {1, 1.0};
    hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(pair));
    H5Tinsert(ct, "a", HOFFSET(pair, a), H5T_NATIVE_INT32);
    H5Tinsert(ct, "b", HOFFSET(pair, b), H5T_NATIVE_DOUBLE);
    switch (split_kind) {
    case 0:
        add_attr(file, "validation_count", H5T_IEEE_F64LE, 0, 1, &one);
        break;
    case 1:
        add_attr(file, "validation_count", H5T_NATIVE_INT64, 1, 3, three);
        break;
    case 2:
        add_attr(file, "validation_count", H5T_STD_U64LE, 0, 1, &huge);
        break;
    case 3:
        add_string(file, "validation_count", "1", 1);
        break;
    case 4:
        add_attr(file, "validation_count", ct, 0, 1, &rec);
        break;
    }
    H5Tclose(ct);
}

/* A split count that is not one integer refuses the file (MYO_ERR_DATA
 * naming it); corrupt sizes in a split attribute's message too. */
static void test_dataset_fuzz_split_attributes_refused(void **state)
{
    fixture *f = *state;
    for (split_kind = 0; split_kind < 5; split_kind++) {
        write_altered(f, alter_split_count);
        myo_dataset r;
        myo_data_clear_error();
        assert_int_equal(myo_dataset_read_info(f->path, &r, NULL), MYO_ERR_DATA);
        if (!strstr(myo_data_error(), "validation_count") || strchr(myo_data_error(), '\n'))
            fail_msg("case %d: detail '%s'", split_kind, myo_data_error());
        read_every_way(f->path, "split count of another class");
    }
    assert_int_equal(myo_dataset_write(f->path, &f->d), MYO_OK);
    size_t size;
    unsigned char *buf = test_read_file(f->path, &size);
    const char *names[3] = {"train_count", "validation_count", "test_count"};
    for (int k = 0; k < 3; k++) {
        unsigned char *name = memmem(buf, size, names[k], strlen(names[k]) + 1);
        assert_non_null(name);
        assert_int_equal(name[-8], 1); /* a version-1 attribute message */
        for (int field = 0; field < 3; field++) {
            unsigned char *b = test_alloc(size, 1);
            memcpy(b, buf, size);
            b[name - buf - 8 + 2 + 2 * field + 1] = 0x7f;
            test_write_file(f->path, b, size);
            free(b);
            myo_dataset r;
            myo_data_clear_error();
            assert_int_equal(myo_dataset_read_info(f->path, &r, NULL), MYO_ERR_DATA);
            if (!strstr(myo_data_error(), "corrupt attribute message"))
                fail_msg("%s field %d: detail '%s'", names[k], field, myo_data_error());
            read_every_way(f->path, names[k]);
        }
    }
    free(buf);
}

static void alter_vlen_strings(hid_t file)
{
    memset(long_text, 'x', 300);
    add_string(file, "aaa", long_text, 1);
    add_string(file, "vlen_short", "hello", 1);
}

/* Every byte of a variable-length string attribute's message and of the
 * start of the global heap collection holding the strings, set to four
 * values: in particular the size of the string's base type (libhdf5
 * 1.10.8 then converted 300 "characters" of 12 MB each, without end). */
static void test_dataset_fuzz_vlen_string_bytes(void **state)
{
    fixture *f = *state;
    write_altered(f, alter_vlen_strings);
    size_t size;
    unsigned char *base = test_read_file(f->path, &size), *buf = test_alloc(size, 1);
    unsigned char *name = memmem(base, size, "aaa", sizeof "aaa");
    unsigned char *heap = memmem(base, size, "GCOL", 4);
    assert_non_null(name);
    assert_non_null(heap);
    size_t msg = (size_t)(name - base) - 8, msg_len = base[msg - 6] | (size_t)base[msg - 5] << 8;
    assert_int_equal(base[msg - 8], 0x0c); /* an attribute message */
    static const unsigned char values[] = {0x00, 0x01, 0xb9, 0xff};
    alarm(300); /* a conversion without end fails the test */
    for (int region = 0; region < 2; region++) {
        size_t from = region ? (size_t)(heap - base) : msg, len = region ? 96 : msg_len;
        for (size_t at = from; at < from + len && at < size; at++)
            for (int v = 0; v < 4; v++) {
                if (base[at] == values[v]) continue;
                memcpy(buf, base, size);
                buf[at] = values[v];
                test_write_file(f->path, buf, size);
                char what[64];
                snprintf(what, sizeof what, "byte %zu set to %u", at, values[v]);
                read_every_way(f->path, what);
            }
    }
    alarm(0);
    free(base), free(buf);
}

/* ------------------------------------------- the newer header format */

static herr_t copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *dst)
{
    (void)info;
    hid_t a = H5Aopen(src, name, H5P_DEFAULT);
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    char buf[512];
    assert_true(H5Tget_size(type) * (size_t)H5Sget_simple_extent_npoints(space) <= sizeof buf);
    assert_true(H5Aread(a, type, buf) >= 0);
    hid_t b = H5Acreate2(*(hid_t *)dst, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(b >= 0 && H5Awrite(b, type, buf) >= 0);
    H5Aclose(b), H5Sclose(space), H5Tclose(type), H5Aclose(a);
    return 0;
}

static void test_dataset_fuzz_checksummed_header(void **state)
{
    fixture *f = *state;
    char v1[600];
    snprintf(v1, sizeof v1, "%s/v1.h5", f->dir);
    assert_int_equal(myo_dataset_write(v1, &f->d), MYO_OK);
    /* the same file with the latest format: version-2 object headers and,
     * past 8 attributes, the root's attributes in dense storage */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t dst = H5Fcreate(f->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hid_t src = H5Fopen(v1, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(dst >= 0 && src >= 0);
    const char *names[] = {"tokens", "labels", "lengths", "parents"};
    for (int k = 0; k < 4; k++)
        assert_true(H5Ocopy(src, names[k], dst, names[k], H5P_DEFAULT, H5P_DEFAULT) >= 0);
    hsize_t idx = 0;
    assert_true(H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_attr, &dst) >= 0);
    memset(long_text, 'x', 300);
    add_string(dst, "aaa_long_value", long_text, 0);
    H5Fclose(src), H5Fclose(dst), H5Pclose(fapl);
    size_t size;
    unsigned char *bytes = test_read_file(f->path, &size);
    assert_non_null(memmem(bytes, size, "OHDR", 4));
    free(bytes);
    myo_dataset r;
    myo_status s = myo_dataset_read(f->path, &r);
    if (s != MYO_OK) fail_msg("%s", myo_data_error());
    assert_string_equal(myo_dataset_get_attr(&r, "ordering"), "morton");
    assert_int_equal(r.nattrs, 4);
    assert_int_equal(r.skipped_attrs, 1);
    assert_string_equal(r.skipped_names, "aaa_long_value");
    myo_dataset_free(&r);
    read_every_way(f->path, "latest format");
}

/* ------------------------------------------------- not regular files */

static void test_dataset_fuzz_not_regular_files_refused(void **state)
{
    fixture *f = *state;
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/fifo.h5", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *paths[] = {fifo, f->dir, "/dev/null"};
    alarm(60); /* a read that blocks on the FIFO ends the test */
    for (int k = 0; k < 3; k++) {
        myo_dataset r;
        myo_data_clear_error();
        assert_int_equal(myo_dataset_read_info(paths[k], &r, NULL), MYO_ERR_IO);
        if (!strstr(myo_data_error(), "not a regular file") || !strstr(myo_data_error(), paths[k]))
            fail_msg("%s: detail '%s'", paths[k], myo_data_error());
        assert_int_equal(myo_dataset_read(paths[k], &r), MYO_ERR_IO);
    }
    alarm(0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, data_fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_dataset_fuzz_single_bytes),
        T(test_dataset_fuzz_edits),
        T(test_dataset_fuzz_libhdf5_crashes),
        T(test_dataset_fuzz_end_of_file_moved),
        T(test_dataset_fuzz_odd_attributes_skipped),
        T(test_dataset_fuzz_many_attributes_keep_ordering),
        T(test_dataset_fuzz_unkeepable_ordering_refused),
        T(test_dataset_fuzz_corrupt_ordering_message_refused),
        T(test_dataset_fuzz_split_attributes_refused),
        T(test_dataset_fuzz_vlen_string_bytes),
        T(test_dataset_fuzz_checksummed_header),
        T(test_dataset_fuzz_not_regular_files_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
