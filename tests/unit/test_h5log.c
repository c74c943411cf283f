/* test_h5log.c -- the HDF5 measurement log (myosotis_h5log.h): schema
 * checks, appends over several runs read back with the plain HDF5 C API,
 * run metadata, incompatible schemas and unusable paths that leave an
 * existing file byte-identical, a writer killed with SIGKILL whose
 * completed rows are all readable by the C API, h5dump and h5py, one
 * writer at a time (a second process is refused, a dead one's lock and
 * temporary file are taken over), and a disk that fills up (a file-size
 * limit) stopping the log with every appended row kept and no file,
 * lock or temporary file left behind. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "myosotis.h"
#include "myosotis_h5log.h"
#include "support.h"
#include "h5_fixture.h"

/* The row of the test table "points". */
typedef struct {
    int64_t run_id;
    int64_t n;
    double t;
    char kernel[16];
} point_row;

/* A second table, to check that tables are kept apart. */
typedef struct {
    char note[8];
    int64_t run_id;
} note_row;

static const myo_h5col point_cols[] = {
    {"run_id", MYO_H5COL_INT64, offsetof(point_row, run_id), 0},
    {"n", MYO_H5COL_INT64, offsetof(point_row, n), 0},
    {"t", MYO_H5COL_DOUBLE, offsetof(point_row, t), 0},
    {"kernel", MYO_H5COL_STRING, offsetof(point_row, kernel), sizeof(((point_row *)0)->kernel)},
};
static const myo_h5col note_cols[] = {
    {"note", MYO_H5COL_STRING, offsetof(note_row, note), sizeof(((note_row *)0)->note)},
    {"run_id", MYO_H5COL_INT64, offsetof(note_row, run_id), 0},
};
static const myo_h5table tables[] = {
    {"points", point_cols, 4, sizeof(point_row)},
    {"notes", note_cols, 2, sizeof(note_row)},
};
#define SCHEMA "test-h5log/1"

typedef struct {
    char *dir;
    char *path; /* dir/log.h5 */
} log_state;

static int log_setup(void **state)
{
    log_state *s = test_alloc(1, sizeof *s);
    s->dir = test_make_temp_dir();
    s->path = fix_path(s->dir, "log.h5");
    *state = s;
    return 0;
}

static int log_teardown(void **state)
{
    log_state *s = *state;
    test_remove_dir(s->dir);
    free(s->path), free(s->dir), free(s);
    return 0;
}

static point_row point(int64_t run_id, int64_t n, double t, const char *kernel)
{
    point_row r;
    memset(&r, 0x5a, sizeof r); /* stale bytes after the string's NUL */
    r.run_id = run_id, r.n = n, r.t = t;
    strcpy(r.kernel, kernel);
    return r;
}

static void assert_detail_mentions(const char *const *mentions)
{
    const char *detail = myo_error_detail();
    for (int k = 0; mentions && mentions[k]; k++)
        if (!strstr(detail, mentions[k]))
            fail_msg("detail \"%s\" does not mention \"%s\"", detail, mentions[k]);
}

/* Open expecting failure with want, a detail naming each of mentions, and
 * no log. */
static void expect_open_failure(const char *path, const char *schema, const myo_h5table *t, int nt,
                                myo_status want, const char *const *mentions)
{
    myo_h5log *log = (myo_h5log *)(uintptr_t)1;
    myo_status st = myo_h5log_open(path, schema, t, nt, &log);
    if (st != want)
        fail_msg("%s: got %s (%s), expected %s", path, myo_status_str(st), myo_error_detail(),
                 myo_status_str(want));
    assert_null(log);
    assert_detail_mentions(mentions);
}

/* A log with one run of two points and one note, closed. */
static void write_first_run(const char *path)
{
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(path, SCHEMA, tables, 2, &log), MYO_OK);
    assert_int_equal(myo_h5log_run_id(log), 1);
    point_row rows[2] = {point(1, 10, 0.5, "chain"), point(1, 20, 1.0 / 3.0, "kary4")};
    assert_int_equal(myo_h5log_append(log, 0, rows, 2), MYO_OK);
    note_row note = {"hello", 1};
    assert_int_equal(myo_h5log_append(log, 1, &note, 1), MYO_OK);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
    assert_null(log);
}

/* The fixed-length string attribute key of the object at obj_path. */
static void read_attr(const char *path, const char *obj_path, const char *key, char *buf,
                      size_t size)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t a = H5Aopen_by_name(f, obj_path, key, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) fail_msg("%s: no attribute '%s' on '%s'", path, key, obj_path);
    hid_t ft = H5Aget_type(a);
    assert_int_equal(H5Tget_class(ft), H5T_STRING);
    assert_false(H5Tis_variable_str(ft));
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, size);
    H5Tset_strpad(mt, H5T_STR_NULLTERM);
    assert_true(H5Aread(a, mt, buf) >= 0);
    H5Tclose(mt), H5Tclose(ft), H5Aclose(a), H5Fclose(f);
}

/* Every row of "points", through the plain C API; *n rows (owned). */
static point_row *read_points(const char *path, int64_t *n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) fail_msg("%s: the C API cannot open it", path);
    hid_t d = H5Dopen2(f, "points", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims = 0;
    assert_int_equal(H5Sget_simple_extent_dims(sp, &dims, NULL), 1);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 16);
    H5Tset_strpad(str, H5T_STR_NULLPAD);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(point_row));
    H5Tinsert(mt, "run_id", offsetof(point_row, run_id), H5T_NATIVE_INT64);
    H5Tinsert(mt, "n", offsetof(point_row, n), H5T_NATIVE_INT64);
    H5Tinsert(mt, "t", offsetof(point_row, t), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "kernel", offsetof(point_row, kernel), str);
    point_row *rows = test_alloc(dims ? dims : 1, sizeof *rows);
    memset(rows, 0, (dims ? dims : 1) * sizeof *rows);
    if (dims) assert_true(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    H5Tclose(mt), H5Tclose(str), H5Sclose(sp), H5Dclose(d), H5Fclose(f);
    *n = (int64_t)dims;
    return rows;
}

/* ------------------------------------------------------------ tests */

static void test_h5log_schema_bad_is_arg(void **state)
{
    (void)state;
    assert_int_equal(myo_h5log_check_schema(tables, 2), MYO_OK);
    assert_int_equal(myo_h5log_check_schema(NULL, 1), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_check_schema(tables, 0), MYO_ERR_ARG);

    myo_h5col cols[4];
    myo_h5table t;
    const struct {
        const char *what;
        int col;          /* column to change, -1: the table */
        const char *name; /* new name */
        int type;         /* new type, -1: keep */
        size_t offset;    /* new offset, 0: keep */
        size_t size;      /* new size, 0: keep */
        const char *mention;
    } cases[] = {
        {"no table name", -1, NULL, -1, 0, 0, "no name"},
        {"table 'runs'", -1, "runs", -1, 0, 0, "reserved"},
        {"table 'a/b'", -1, "a/b", -1, 0, 0, "plain name"},
        {"no column name", 1, NULL, -1, 0, 0, "no name"},
        {"duplicate column", 1, "t", -1, 0, 0, "two columns 't'"},
        {"unknown type", 1, "n", 7, 0, 0, "type 7"},
        {"string of 1 byte", 3, "kernel", -1, 0, 1, "size 1"},
        {"column past the row", 2, "t", -1, sizeof(point_row) - 4, 0, "outside the row"},
        {"string past the row", 3, "kernel", -1, 0, 17, "outside the row"},
        {"no run_id", 0, "id", -1, 0, 0, "no int64 column 'run_id'"},
        {"run_id a double", 0, "run_id", MYO_H5COL_DOUBLE, 0, 0, "must be int64"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(cols, point_cols, sizeof cols);
        t = tables[0];
        t.cols = cols;
        if (cases[k].col < 0) {
            t.name = cases[k].name;
        } else {
            myo_h5col *c = &cols[cases[k].col];
            c->name = cases[k].name;
            if (cases[k].type >= 0) c->type = (myo_h5col_type)cases[k].type;
            if (cases[k].offset) c->offset = cases[k].offset;
            if (cases[k].size) c->size = cases[k].size;
        }
        myo_status st = myo_h5log_check_schema(&t, 1);
        if (st != MYO_ERR_ARG)
            fail_msg("%s: got %s, expected MYO_ERR_ARG", cases[k].what, myo_status_str(st));
        const char *m[] = {cases[k].mention, NULL};
        assert_detail_mentions(m);
    }
    t = tables[0];
    t.ncols = 0;
    assert_int_equal(myo_h5log_check_schema(&t, 1), MYO_ERR_ARG);
    t = tables[0];
    t.row_size = 0;
    assert_int_equal(myo_h5log_check_schema(&t, 1), MYO_ERR_ARG);
    myo_h5table two[2] = {tables[0], tables[0]};
    assert_int_equal(myo_h5log_check_schema(two, 2), MYO_ERR_ARG);
    const char *m[] = {"two tables are named 'points'", NULL};
    assert_detail_mentions(m);

    /* open checks the schema before touching the file system */
    log_state *s = *state;
    cols[0] = point_cols[1]; /* "n" alone: no run_id */
    t = (myo_h5table){"x", cols, 1, sizeof(point_row)};
    const char *m2[] = {"run_id", NULL};
    expect_open_failure(s->path, SCHEMA, &t, 1, MYO_ERR_ARG, m2);
    assert_int_equal(access(s->path, F_OK), -1);
    expect_open_failure(s->path, "", tables, 2, MYO_ERR_ARG, NULL);
    assert_int_equal(access(s->path, F_OK), -1);
}

static void test_h5log_runs_append_after_each_other(void **state)
{
    log_state *s = *state;
    write_first_run(s->path);

    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    assert_int_equal(myo_h5log_run_id(log), 2);
    assert_int_equal(myo_h5log_rows(log, 0), 2);
    assert_int_equal(myo_h5log_rows(log, 1), 1);
    point_row rows[3] = {point(2, 30, -2.5e-300, "heap2"), point(2, 40, 1e300, ""),
                         point(2, 50, 7.0, "fifteen-chars!!")};
    assert_int_equal(myo_h5log_append(log, 0, rows, 1), MYO_OK);
    assert_int_equal(myo_h5log_append(log, 0, rows + 1, 2), MYO_OK);
    assert_int_equal(myo_h5log_rows(log, 0), 5);
    assert_int_equal(myo_h5log_rows(log, 1), 1);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);

    int64_t n = 0;
    point_row *got = read_points(s->path, &n);
    assert_int_equal(n, 5);
    const point_row want[5] = {point(1, 10, 0.5, "chain"), point(1, 20, 1.0 / 3.0, "kary4"),
                               rows[0], rows[1], rows[2]};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(got[k].run_id, want[k].run_id);
        assert_int_equal(got[k].n, want[k].n);
        assert_memory_equal(&got[k].t, &want[k].t, sizeof(double)); /* bit-exact */
        assert_string_equal(got[k].kernel, want[k].kernel);
    }
    free(got);

    /* the stored strings are NUL-padded: nothing of the stale bytes */
    hid_t f = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "points", H5P_DEFAULT);
    hid_t ft = H5Dget_type(d);
    assert_int_equal(H5Tget_nmembers(ft), 4);
    hid_t kt = H5Tget_member_type(ft, 3);
    assert_int_equal(H5Tget_size(kt), 16);
    assert_int_equal(H5Tget_strpad(kt), H5T_STR_NULLPAD);
    hid_t mt = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(mt, "kernel", 0, kt);
    char raw[5][16];
    assert_true(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0);
    for (int k = 0; k < 5; k++)
        for (size_t b = strlen(raw[k]); b < 16; b++)
            assert_int_equal(raw[k][b], 0);
    hid_t dcpl = H5Dget_create_plist(d);
    hsize_t chunk = 0;
    assert_int_equal(H5Pget_chunk(dcpl, 1, &chunk), 1);
    assert_true(chunk > 1);
    H5Pclose(dcpl), H5Tclose(mt), H5Tclose(kt), H5Tclose(ft), H5Dclose(d);
    assert_true(H5Lexists(f, "runs/run-000001", H5P_DEFAULT) > 0);
    assert_true(H5Lexists(f, "runs/run-000002", H5P_DEFAULT) > 0);
    assert_true(H5Lexists(f, "runs/run-000003", H5P_DEFAULT) == 0);
    H5Fclose(f);

    char buf[64];
    read_attr(s->path, "/", "schema", buf, sizeof buf);
    assert_string_equal(buf, SCHEMA);
    char start[32], end[32];
    read_attr(s->path, "/runs/run-000002", "utc_start", start, sizeof start);
    read_attr(s->path, "/runs/run-000002", "utc_end", end, sizeof end);
    assert_int_equal(strlen(start), 20);
    assert_int_equal(start[19], 'Z');
    assert_true(strcmp(start, end) <= 0);
}

static void test_h5log_read_strings_all_runs(void **state)
{
    log_state *s = *state;
    write_first_run(s->path);
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    point_row r = point(2, 30, 1, "fifteen-chars!!");
    assert_int_equal(myo_h5log_append(log, 0, &r, 1), MYO_OK);

    char *values = NULL;
    size_t width = 0;
    int64_t count = -1;
    assert_int_equal(myo_h5log_read_strings(log, 0, "kernel", &values, &width, &count), MYO_OK);
    assert_int_equal(count, 3);
    assert_true(width >= 16);
    const char *want[3] = {"chain", "kary4", "fifteen-chars!!"};
    for (int k = 0; k < 3; k++) {
        assert_non_null(memchr(values + (size_t)k * width, '\0', width));
        assert_string_equal(values + (size_t)k * width, want[k]);
    }
    free(values);
    assert_int_equal(myo_h5log_read_strings(log, 1, "note", &values, &width, &count), MYO_OK);
    assert_int_equal(count, 1);
    assert_string_equal(values, "hello");
    free(values);

    assert_int_equal(myo_h5log_read_strings(log, 0, "t", &values, &width, &count), MYO_ERR_ARG);
    assert_null(values);
    assert_int_equal(myo_h5log_read_strings(log, 0, "nope", &values, &width, &count), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_read_strings(log, 2, "kernel", &values, &width, &count),
                     MYO_ERR_ARG);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
}

static void test_h5log_set_meta_replaces(void **state)
{
    log_state *s = *state;
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    assert_int_equal(myo_h5log_set_meta(log, "hosts", "a-rather-long-host-name node2"), MYO_OK);
    assert_int_equal(myo_h5log_set_meta(log, "hosts", "n1"), MYO_OK);
    assert_int_equal(myo_h5log_set_meta(log, "empty", ""), MYO_OK);
    assert_int_equal(myo_h5log_set_meta(log, "", "x"), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_set_meta(log, "k", NULL), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
    assert_int_equal(myo_h5log_close(&log), MYO_OK); /* NULL-safe */
    char buf[64];
    read_attr(s->path, "/runs/run-000001", "hosts", buf, sizeof buf);
    assert_string_equal(buf, "n1");
    read_attr(s->path, "/runs/run-000001", "empty", buf, sizeof buf);
    assert_string_equal(buf, "");
}

static void test_h5log_incompatible_schema_is_data_file_unchanged(void **state)
{
    log_state *s = *state;
    write_first_run(s->path);
    size_t size = 0;
    unsigned char *before = test_read_file(s->path, &size);
    assert_non_null(before);

    const char *m1[] = {s->path, "incompatible schema", "other/1", NULL};
    expect_open_failure(s->path, "other/1", tables, 2, MYO_ERR_DATA, m1);
    fix_assert_file_bytes(s->path, before, size);

    myo_h5col cols[4];
    memcpy(cols, point_cols, sizeof cols);
    myo_h5table t[2] = {tables[0], tables[1]};
    t[0].cols = cols;
    t[0].ncols = 3; /* no kernel */
    const char *m2[] = {"incompatible schema", "'points'", "'kernel'", NULL};
    expect_open_failure(s->path, SCHEMA, t, 2, MYO_ERR_DATA, m2);
    fix_assert_file_bytes(s->path, before, size);

    t[0].ncols = 4;
    cols[3].size = 12; /* kernel of another size */
    const char *m3[] = {
        "incompatible schema", "'points'", "'kernel'", "16 bytes", "12 bytes", NULL};
    expect_open_failure(s->path, SCHEMA, t, 2, MYO_ERR_DATA, m3);
    fix_assert_file_bytes(s->path, before, size);

    cols[3].size = 16;
    cols[2].type = MYO_H5COL_INT64; /* t of another class */
    const char *m4[] = {"'points'", "column 2", "'t'", "float", "integer", NULL};
    expect_open_failure(s->path, SCHEMA, t, 2, MYO_ERR_DATA, m4);
    fix_assert_file_bytes(s->path, before, size);

    cols[2].type = MYO_H5COL_DOUBLE;
    myo_h5table three[3] = {tables[0], tables[1], {"extra", note_cols, 2, sizeof(note_row)}};
    const char *m5[] = {"'extra'", "missing", NULL};
    expect_open_failure(s->path, SCHEMA, three, 3, MYO_ERR_DATA, m5);
    fix_assert_file_bytes(s->path, before, size);

    /* an HDF5 file that is not a log */
    char *plain = fix_path(s->dir, "plain.h5");
    hid_t f = H5Fcreate(plain, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    H5Fclose(f);
    size_t plain_size = 0;
    unsigned char *plain_before = test_read_file(plain, &plain_size);
    const char *m6[] = {plain, "incompatible schema", "'schema'", NULL};
    expect_open_failure(plain, SCHEMA, tables, 2, MYO_ERR_DATA, m6);
    fix_assert_file_bytes(plain, plain_before, plain_size);
    free(plain_before), free(plain);

    /* a subset of the tables is fine */
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, &tables[1], 1, &log), MYO_OK);
    assert_int_equal(myo_h5log_run_id(log), 2);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
    free(before);
}

static void test_h5log_unusable_path_is_io_file_unchanged(void **state)
{
    log_state *s = *state;
    /* a text file */
    FILE *f = fopen(s->path, "w");
    assert_non_null(f);
    fputs("not an HDF5 file\n", f);
    fclose(f);
    size_t size = 0;
    unsigned char *before = test_read_file(s->path, &size);
    const char *m1[] = {s->path, "not an HDF5 file", NULL};
    expect_open_failure(s->path, SCHEMA, tables, 2, MYO_ERR_IO, m1);
    fix_assert_file_bytes(s->path, before, size);
    free(before);

    /* a directory */
    const char *m2[] = {s->dir, "directory", NULL};
    expect_open_failure(s->dir, SCHEMA, tables, 2, MYO_ERR_IO, m2);

    /* a directory that does not exist: no file appears */
    char *missing = fix_path(s->dir, "no-such-dir/log.h5");
    const char *m3[] = {missing, "No such file or directory", NULL};
    expect_open_failure(missing, SCHEMA, tables, 2, MYO_ERR_IO, m3);
    free(missing);

    /* a read-only log (root may write anyway, so only when not root) */
    char *ro = fix_path(s->dir, "ro.h5");
    write_first_run(ro);
    before = test_read_file(ro, &size);
    assert_int_equal(chmod(ro, 0444), 0);
    if (geteuid() != 0) {
        const char *m4[] = {ro, "cannot write", NULL};
        expect_open_failure(ro, SCHEMA, tables, 2, MYO_ERR_IO, m4);
        fix_assert_file_bytes(ro, before, size);
    }
    /* a read-only directory for a new file */
    char *rodir = fix_path(s->dir, "ro");
    assert_int_equal(mkdir(rodir, 0555), 0);
    char *inro = fix_path(rodir, "log.h5");
    if (geteuid() != 0) {
        const char *m5[] = {inro, "Permission denied", NULL};
        expect_open_failure(inro, SCHEMA, tables, 2, MYO_ERR_IO, m5);
        assert_int_equal(access(inro, F_OK), -1);
    }
    free(inro), free(rodir), free(before), free(ro);
}

static void test_h5log_bad_rows_are_arg_nothing_written(void **state)
{
    log_state *s = *state;
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    point_row rows[2] = {point(1, 1, 1, "ok"), point(1, 2, 2, "x")};
    memset(rows[1].kernel, 'y', sizeof rows[1].kernel); /* 16 chars, no NUL */
    assert_int_equal(myo_h5log_append(log, 0, rows, 2), MYO_ERR_ARG);
    const char *m1[] = {"'kernel'", "row 1", "15 characters", NULL};
    assert_detail_mentions(m1);
    assert_int_equal(myo_h5log_rows(log, 0), 0);

    rows[1] = point(7, 2, 2, "x"); /* another run's id */
    assert_int_equal(myo_h5log_append(log, 0, rows, 2), MYO_ERR_ARG);
    const char *m2[] = {"run_id 7", NULL};
    assert_detail_mentions(m2);
    assert_int_equal(myo_h5log_append(log, 0, rows, 0), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_append(log, 2, rows, 1), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_append(log, -1, rows, 1), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_append(log, 0, NULL, 1), MYO_ERR_ARG);
    assert_int_equal(myo_h5log_rows(log, 0), 0);
    assert_int_equal(myo_h5log_append(log, 0, rows, 1), MYO_OK);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
    int64_t n = 0;
    free(read_points(s->path, &n));
    assert_int_equal(n, 1);
}

/* The child of the crash test: append rows n = 0, 1, ... for ever,
 * reporting each completed append's count on fd. */
static void crash_child(const char *path, int fd)
{
    myo_h5log *log = NULL;
    if (myo_h5log_open(path, SCHEMA, tables, 2, &log) != MYO_OK) _exit(3);
    for (int64_t i = 0;; i++) {
        point_row r = point(myo_h5log_run_id(log), i, (double)i / 8, "crash");
        if (myo_h5log_append(log, 0, &r, 1) != MYO_OK) _exit(4);
        int64_t done = i + 1;
        if (write(fd, &done, sizeof done) != sizeof done) _exit(5);
    }
}

static void test_h5log_sigkill_keeps_every_completed_row(void **state)
{
    log_state *s = *state;
    const int64_t k = 25;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(s->path, fds[1]);
    }
    close(fds[1]);
    int64_t done = 0;
    while (done < k) {
        int64_t v;
        ssize_t got = read(fds[0], &v, sizeof v);
        if (got != (ssize_t)sizeof v) break;
        done = v;
    }
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    if (done < k)
        fail_msg("the writer stopped after %lld appends (status %d)", (long long)done, status);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    int64_t n = 0;
    point_row *rows = read_points(s->path, &n);
    if (n < done)
        fail_msg("%lld rows in the file, %lld appends completed", (long long)n, (long long)done);
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].run_id, 1);
        assert_int_equal(rows[i].n, i);
        assert_true(rows[i].t == (double)i / 8);
        assert_string_equal(rows[i].kernel, "crash");
    }
    free(rows);

    size_t len = strlen(s->path) + 256;
    char *cmd = test_alloc(len, 1);
    if (system("command -v h5dump >/dev/null 2>&1") == 0) {
        snprintf(cmd, len, "h5dump -H '%s' >/dev/null 2>&1", s->path);
        if (system(cmd) != 0) fail_msg("h5dump -H cannot read the file after SIGKILL");
    }
    const char *py = getenv("MYO_PYTHON");
    if (py && *py) {
        size_t plen = strlen(py) + len + 256;
        char *pcmd = test_alloc(plen, 1);
        snprintf(pcmd, plen,
                 "'%s' -c 'import sys, h5py\n"
                 "p = h5py.File(sys.argv[1], \"r\")[\"points\"]\n"
                 "n = len(p)\n"
                 "assert n >= int(sys.argv[2]), n\n"
                 "assert list(p[\"n\"]) == list(range(n))\n"
                 "assert p[\"kernel\"][0] == b\"crash\"' '%s' %lld",
                 py, s->path, (long long)done);
        if (system(pcmd) != 0) fail_msg("h5py cannot read every completed row after SIGKILL");
        free(pcmd);
    } else {
        fprintf(stderr, "test_h5log: MYO_PYTHON unset: h5py check skipped\n");
    }
    free(cmd);

    /* and the next run carries on after them */
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    assert_int_equal(myo_h5log_run_id(log), 2);
    assert_int_equal(myo_h5log_rows(log, 0), n);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
}

/* A process holding the log open (one run, one row) until the parent
 * closes the pipe; it says "ready" on the other pipe first. */
static pid_t start_holder(const char *path, int *release_fd)
{
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]), close(release[1]);
        myo_h5log *log = NULL;
        if (myo_h5log_open(path, SCHEMA, tables, 2, &log) != MYO_OK) _exit(3);
        point_row r = point(myo_h5log_run_id(log), 7, 0.25, "held");
        if (myo_h5log_append(log, 0, &r, 1) != MYO_OK) _exit(4);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1) _exit(5);
        while (read(release[0], &c, 1) > 0) {
        }
        _exit(myo_h5log_close(&log) == MYO_OK ? 0 : 6);
    }
    close(ready[1]), close(release[0]);
    char c = 0;
    if (read(ready[0], &c, 1) != 1) fail_msg("the holder did not open the log");
    close(ready[0]);
    *release_fd = release[1];
    return pid;
}

static void test_h5log_second_writer_is_refused(void **state)
{
    log_state *s = *state;
    /* HDF5's own file locking, often off on cluster file systems, plays no
     * part: the writer's lock refuses the second writer first */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    int release = -1;
    pid_t holder = start_holder(s->path, &release);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)holder);
    const char *m[] = {s->path, "another run is writing it", pid, ".lock", NULL};
    expect_open_failure(s->path, SCHEMA, tables, 2, MYO_ERR_IO, m);
    close(release);
    int status = 0;
    assert_int_equal(waitpid(holder, &status, 0), holder);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsetenv("HDF5_USE_FILE_LOCKING");

    /* the holder's run is whole, and the next writer carries on after it */
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    assert_int_equal(myo_h5log_run_id(log), 2);
    assert_int_equal(myo_h5log_rows(log, 0), 1);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
    fix_assert_dir_holds(s->dir, "log.h5");
}

static void test_h5log_dead_writers_lock_is_taken_over(void **state)
{
    log_state *s = *state;
    /* a writer that died while creating the file: its lock names it, its
     * temporary file lies beside */
    fflush(NULL);
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0) _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    char host[256] = "?", line[512], name[64];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    int len = snprintf(line, sizeof line, "pid %ld host %s since 2026-01-01T00:00:00Z\n",
                       (long)dead, host);
    char *lock = fix_path(s->dir, "log.h5.lock");
    fix_write_bytes(lock, line, (size_t)len);
    snprintf(name, sizeof name, "log.h5.tmp-%ld", (long)dead);
    char *tmp = fix_path(s->dir, name);
    fix_write_bytes(tmp, "half a file", 11);

    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
    fix_assert_dir_holds(s->dir, "log.h5");
    free(tmp), free(lock);
}

/* RLIMIT_FSIZE at limit bytes (SIGXFSZ ignored: a write past it fails
 * with EFBIG instead of killing the test); returns the old limit. */
static struct rlimit limit_file_size(rlim_t limit)
{
    struct rlimit old, rl;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    rl = old;
    rl.rlim_cur = limit;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
    return old;
}

static void test_h5log_full_disk_stops_with_every_row_kept(void **state)
{
    log_state *s = *state;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    myo_h5log *log = NULL;
    assert_int_equal(myo_h5log_open(s->path, SCHEMA, tables, 2, &log), MYO_OK);
    point_row r = point(1, 0, 0.0, "full");
    assert_int_equal(myo_h5log_append(log, 0, &r, 1), MYO_OK);
    struct stat sb;
    assert_int_equal(stat(s->path, &sb), 0);
    /* the disk "fills" 64 KiB past the reserve the log keeps (1 MiB) */
    struct rlimit old = limit_file_size((rlim_t)sb.st_size + (1 << 20) + (64 << 10));
    int64_t appended = 1;
    myo_status st = MYO_OK;
    for (int64_t i = 1; i < 1000000 && st == MYO_OK; i++) {
        r = point(1, i, (double)i, "full");
        st = myo_h5log_append(log, 0, &r, 1);
        appended += st == MYO_OK;
    }
    assert_int_equal(st, MYO_ERR_IO);
    const char *m[] = {s->path, "the disk is full", "ulimit -f", NULL};
    assert_detail_mentions(m);
    assert_true(appended > 1);
    /* refused again, and closing still records the run's end */
    r = point(1, appended, 0.0, "full");
    assert_int_equal(myo_h5log_append(log, 0, &r, 1), MYO_ERR_IO);
    assert_int_equal(myo_h5log_close(&log), MYO_OK);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    int64_t n = 0;
    point_row *rows = read_points(s->path, &n);
    assert_int_equal(n, appended);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(rows[i].n, i);
    free(rows);
    hid_t file = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Aexists_by_name(file, "runs/run-000001", "utc_end", H5P_DEFAULT) > 0);
    H5Fclose(file);
    fix_assert_dir_holds(s->dir, "log.h5");
}

static void test_h5log_full_disk_leaves_no_new_file(void **state)
{
    log_state *s = *state;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit old = limit_file_size(64 << 10);
    const char *m[] = {s->path, "the disk is full", NULL};
    expect_open_failure(s->path, SCHEMA, tables, 2, MYO_ERR_IO, m);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    fix_assert_dir_holds(s->dir, NULL);
}

static void test_h5log_utc_now_format(void **state)
{
    (void)state;
    char buf[32];
    myo_h5log_utc_now(buf, sizeof buf);
    assert_int_equal(strlen(buf), 20);
    assert_true(buf[4] == '-' && buf[7] == '-' && buf[10] == 'T' && buf[13] == ':' &&
                buf[19] == 'Z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_h5log_schema_bad_is_arg, log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_runs_append_after_each_other, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_read_strings_all_runs, log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_set_meta_replaces, log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_incompatible_schema_is_data_file_unchanged,
                                        log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_unusable_path_is_io_file_unchanged, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_bad_rows_are_arg_nothing_written, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_sigkill_keeps_every_completed_row, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_second_writer_is_refused, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_dead_writers_lock_is_taken_over, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_full_disk_stops_with_every_row_kept, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_h5log_full_disk_leaves_no_new_file, log_setup,
                                        log_teardown),
        cmocka_unit_test(test_h5log_utc_now_format),
    };
    return cmocka_run_group_tests_name("h5log", tests, NULL, NULL);
}
