/* test_idx.c -- the IDX files (datasets/idx.h): a small hand-built image
 * set parsed back exactly, and hostile buffers -- every truncation,
 * trailing bytes, wrong magic numbers, types and dimension counts, sizes
 * whose product overflows, random bytes flipped in the header, images and
 * labels that do not match -- each refused with MYO_ERR_DATA and a
 * one-line detail naming the buffer (the CI runs this under
 * AddressSanitizer: nothing may be read outside the buffer); and files
 * read plain and gzip-compressed, truncated or corrupt streams, and paths
 * that are not regular files.  MYO_FUZZ_ITERATIONS raises the iteration
 * counts. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_file.h"
#include "idx.h"
#include "support.h"

#include "idx_fixture.h"

/* The last detail mentions what and every string of the NULL-terminated
 * list, on one line. */
static void assert_detail(const char *what, ...)
{
    const char *detail = myo_data_error();
    if (strchr(detail, '\n')) fail_msg("detail '%s' is not one line", detail);
    va_list ap;
    va_start(ap, what);
    for (const char *s = what; s; s = va_arg(ap, const char *))
        if (!strstr(detail, s)) fail_msg("detail '%s' lacks '%s'", detail, s);
    va_end(ap);
}

/* Parse buf as images (ndims 3) and expect MYO_ERR_DATA mentioning m. */
static void expect_refused(const uint8_t *buf, size_t len, int ndims, const char *m)
{
    myo_idx x;
    myo_data_clear_error();
    myo_status s = myo_idx_parse(buf, len, "bad.idx", ndims, &x);
    if (s != MYO_ERR_DATA) fail_msg("status %d (expected MYO_ERR_DATA) for '%s'", (int)s, m);
    assert_null(x.data);
    assert_detail("bad.idx", m, NULL);
}

static void test_idx_small_set_round_trip(void **state)
{
    (void)state;
    size_t ilen, llen;
    uint8_t *im = idx_fixture_images(0, 3, 28, 28, &ilen), *lb = idx_fixture_labels(0, 3, &llen);
    assert_int_equal(ilen, 16 + 3 * 784);
    assert_int_equal(llen, 8 + 3);
    /* the magic numbers of IDX's images and labels */
    assert_memory_equal(im, "\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
    assert_memory_equal(lb, "\x00\x00\x08\x01\x00\x00\x00\x03", 8);
    myo_idx x;
    assert_int_equal(myo_idx_parse(im, ilen, "im", 3, &x), MYO_OK);
    assert_int_equal(x.type, MYO_IDX_UBYTE);
    assert_int_equal(x.ndims, 3);
    assert_int_equal(x.dims[0], 3);
    assert_int_equal(x.dims[1], 28);
    assert_int_equal(x.dims[2], 28);
    assert_int_equal(x.count, 3 * 784);
    assert_ptr_equal(x.data, im + 16);
    myo_idx_set set;
    assert_int_equal(myo_idx_parse_set(im, ilen, "im", lb, llen, "lb", 28, 28, 10, &set), MYO_OK);
    assert_int_equal(set.count, 3);
    assert_int_equal(set.rows, 28);
    assert_int_equal(set.cols, 28);
    for (int e = 0; e < 3; e++) {
        assert_int_equal(set.labels[e], idx_fixture_label(e));
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                assert_int_equal(set.pixels[(e * 28 + r) * 28 + c], idx_fixture_pixel(e, r, c));
    }
    free(im), free(lb);
    /* other shapes: 2 dimensions, an empty array */
    const uint32_t dims[2] = {2, 3};
    const uint8_t data[6] = {1, 2, 3, 4, 5, 6};
    uint8_t *m = idx_fixture_make(2, dims, data, &ilen);
    assert_int_equal(myo_idx_parse(m, ilen, "m", 2, &x), MYO_OK);
    assert_int_equal(x.count, 6);
    assert_int_equal(x.data[5], 6);
    assert_int_equal(myo_idx_parse(m, ilen, "m", 0, &x), MYO_ERR_ARG);
    assert_int_equal(myo_idx_parse(m, ilen, "m", MYO_IDX_MAX_DIMS + 1, &x), MYO_ERR_ARG);
    free(m);
    const uint32_t none[1] = {0};
    m = idx_fixture_make(1, none, NULL, &ilen);
    assert_int_equal(myo_idx_parse(m, ilen, "m", 1, &x), MYO_OK);
    assert_int_equal(x.count, 0);
    free(m);
}

static void test_idx_every_truncation_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *im = idx_fixture_images(0, 2, 28, 28, &len);
    for (size_t cut = 0; cut < len; cut++) {
        /* a copy of exactly cut bytes, so ASan sees a read past it */
        uint8_t *b = test_alloc(cut ? cut : 1, 1);
        memcpy(b, im, cut);
        expect_refused(b, cut, 3,
                       cut < 4    ? "too short"
                       : cut < 16 ? "truncated header"
                                  : "truncated:");
        free(b);
    }
    free(im);
}

static void test_idx_trailing_bytes_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *lb = idx_fixture_labels(0, 5, &len);
    const size_t extra[] = {1, 7, 1000};
    for (int k = 0; k < 3; k++) {
        uint8_t *b = test_alloc(len + extra[k], 1);
        memcpy(b, lb, len);
        memset(b + len, 0, extra[k]);
        char m[64];
        snprintf(m, sizeof m, "%zu trailing bytes after the 5 elements", extra[k]);
        expect_refused(b, len + extra[k], 1, m);
        free(b);
    }
    free(lb);
}

static void test_idx_wrong_magic_type_dims_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *im = idx_fixture_images(0, 1, 28, 28, &len);
    struct {
        int at;
        uint8_t value;
        const char *mention;
    } cases[] = {
        {0, 0x1f, "magic number 0x1F000803 is not IDX's (expected 0x00000803"},
        {1, 0x8b, "is not IDX's"},
        {2, 0x09, "element type 0x09 (signed byte), expected 0x08"},
        {2, 0x0D, "element type 0x0D (float32)"},
        {2, 0x00, "element type 0x00 (no IDX type)"},
        {3, 0x01, "1 dimension, expected 3"},
        {3, 0x02, "2 dimensions, expected 3"},
        {3, 0x04, "4 dimensions, expected 3"},
        {3, 0x00, "0 dimensions, expected 3"},
        {3, 0xff, "255 dimensions, expected 3"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t keep = im[cases[k].at];
        im[cases[k].at] = cases[k].value;
        expect_refused(im, len, 3, cases[k].mention);
        im[cases[k].at] = keep;
    }
    /* images where labels are expected, and the other way round */
    expect_refused(im, len, 1, "3 dimensions, expected 1 (0x00000801)");
    size_t llen;
    uint8_t *lb = idx_fixture_labels(0, 1, &llen);
    expect_refused(lb, llen, 3, "1 dimension, expected 3 (0x00000803)");
    /* a gzip file that was not decompressed */
    const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3};
    expect_refused(gz, sizeof gz, 3, "is not IDX's");
    free(im), free(lb);
}

static void test_idx_huge_sizes_refused(void **state)
{
    (void)state;
    const uint32_t cases[][3] = {
        {0xffffffffu, 0xffffffffu, 0xffffffffu}, /* 2^96: overflows 64 bits */
        {0xffffffffu, 28, 28},
        {65536, 65536, 65536}, /* 2^48 */
        {1, 1, 0xffffffffu},
        {2, 28, 28}, /* one image short */
    };
    for (int k = 0; k < 5; k++) {
        size_t len;
        const uint32_t one[3] = {1, 28, 28};
        uint8_t *b = idx_fixture_make(3, one, NULL, &len);
        for (int d = 0; d < 3; d++)
            for (int i = 0; i < 4; i++)
                b[4 + 4 * d + i] = (uint8_t)(cases[k][d] >> (24 - 8 * i));
        expect_refused(b, len, 3, k == 0 ? "need over" : "truncated: 784 bytes of elements");
        free(b);
    }
}

/* Random bytes of the header (and the first elements) flipped, and random
 * truncations: every parse is MYO_OK with sizes that fit the buffer
 * exactly, or MYO_ERR_DATA with a one-line detail. */
static void test_idx_flipped_header_bytes(void **state)
{
    (void)state;
    size_t ilen, llen;
    uint8_t *im = idx_fixture_images(0, 4, 28, 28, &ilen), *lb = idx_fixture_labels(0, 4, &llen);
    const int64_t iterations = test_fuzz_iterations(3000);
    myo_rng r = myo_rng_seed(20251208);
    int ok = 0;
    for (int64_t it = 0; it < iterations; it++) {
        int labels = it % 3 == 0;
        const uint8_t *base = labels ? lb : im;
        size_t len = labels ? llen : ilen;
        if (it % 5 == 4) len = (size_t)myo_rng_below(&r, (int64_t)len); /* cut short too */
        uint8_t *b = test_alloc(len ? len : 1, 1);
        memcpy(b, base, len);
        int flips = 1 + (int)myo_rng_below(&r, 3);
        for (int f = 0; f < flips && len > 0; f++) {
            size_t at = (size_t)myo_rng_below(&r, (int64_t)(len < 24 ? len : 24));
            b[at] ^= (uint8_t)(1 + myo_rng_below(&r, 255));
        }
        myo_idx x;
        myo_data_clear_error();
        myo_status s = myo_idx_parse(b, len, "flipped.idx", labels ? 1 : 3, &x);
        if (s == MYO_OK) {
            int64_t count = 1;
            for (int d = 0; d < x.ndims; d++)
                count *= x.dims[d];
            assert_int_equal(count, x.count);
            assert_int_equal((size_t)x.count + 4 + 4 * (size_t)x.ndims, len);
            ok++;
        } else {
            if (s != MYO_ERR_DATA) fail_msg("iteration %lld: status %d", (long long)it, (int)s);
            assert_detail("flipped.idx", NULL);
        }
        /* the set of the mutated buffer with the other, intact one */
        myo_idx_set set;
        s = labels ? myo_idx_parse_set(im, ilen, "im", b, len, "flipped.idx", 28, 28, 10, &set)
                   : myo_idx_parse_set(b, len, "flipped.idx", lb, llen, "lb", 28, 28, 10, &set);
        if (s != MYO_OK && s != MYO_ERR_DATA)
            fail_msg("iteration %lld: set status %d", (long long)it, (int)s);
        if (s == MYO_OK) assert_int_equal(set.count, 4);
        free(b);
    }
    /* most flips of the magic number or the sizes are refused; flips of
     * the elements are not: both outcomes occur */
    if (ok == 0 || ok == iterations) fail_msg("%d of %lld parsed", ok, (long long)iterations);
    free(im), free(lb);
}

static void test_idx_set_mismatch_refused(void **state)
{
    (void)state;
    size_t ilen, llen;
    myo_idx_set set;
    uint8_t *im = idx_fixture_images(0, 4, 28, 28, &ilen), *lb = idx_fixture_labels(0, 3, &llen);
    myo_data_clear_error();
    assert_int_equal(myo_idx_parse_set(im, ilen, "im", lb, llen, "lb", 28, 28, 10, &set),
                     MYO_ERR_DATA);
    assert_detail("im holds 4 images, but lb 3 labels", NULL);
    assert_null(set.pixels);
    free(lb);
    lb = idx_fixture_labels(0, 4, &llen);
    assert_int_equal(myo_idx_parse_set(im, ilen, "im", lb, llen, "lb", 32, 32, 10, &set),
                     MYO_ERR_DATA);
    assert_detail("im: images of 28 x 28 pixels, expected 32 x 32", NULL);
    lb[8 + 2] = 10;
    assert_int_equal(myo_idx_parse_set(im, ilen, "im", lb, llen, "lb", 28, 28, 10, &set),
                     MYO_ERR_DATA);
    assert_detail("lb: label 10 of image 2 is not in 0..9", NULL);
    assert_int_equal(myo_idx_parse_set(im, ilen, "im", lb, llen, "lb", 28, 28, 11, &set), MYO_OK);
    /* labels where images are expected */
    assert_int_equal(myo_idx_parse_set(lb, llen, "lb", im, ilen, "im", 28, 28, 10, &set),
                     MYO_ERR_DATA);
    assert_detail("lb", "1 dimension, expected 3", NULL);
    free(im), free(lb);
    const uint32_t zero[3] = {0, 28, 28}, zl[1] = {0};
    im = idx_fixture_make(3, zero, NULL, &ilen);
    lb = idx_fixture_make(1, zl, NULL, &llen);
    assert_int_equal(myo_idx_parse_set(im, ilen, "im", lb, llen, "lb", 28, 28, 10, &set),
                     MYO_ERR_DATA);
    assert_detail("im: no image", NULL);
    assert_int_equal(myo_idx_parse_set(im, ilen, "im", lb, llen, "lb", 0, 28, 10, &set),
                     MYO_ERR_ARG);
    free(im), free(lb);
}

static void test_idx_files_plain_and_gzip(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char *plain = test_path_in(dir, "a-idx3-ubyte"), *gz = test_path_in(dir, "a-idx3-ubyte.gz");
    size_t len, got;
    uint8_t *im = idx_fixture_images(0, 50, 28, 28, &len), *buf = NULL;
    idx_fixture_write(plain, im, len, 0);
    idx_fixture_write(gz, im, len, 1);
    const char *paths[2] = {plain, gz};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(myo_idx_read_file(paths[k], &buf, &got), MYO_OK);
        assert_int_equal(got, len);
        assert_memory_equal(buf, im, len);
        free(buf);
    }
    size_t zlen;
    unsigned char *z = test_read_file(gz, &zlen);
    assert_true(zlen > 20 && zlen < len);
    char *bad = test_path_in(dir, "bad.gz");
    /* a gzip stream cut short, anywhere after its header */
    for (size_t cut = 10; cut < zlen; cut += cut < 40 ? 1 : 97) {
        test_write_file(bad, z, cut);
        myo_data_clear_error();
        myo_status s = myo_idx_read_file(bad, &buf, &got);
        if (s != MYO_ERR_DATA) fail_msg("cut at %zu of %zu: status %d", cut, zlen, (int)s);
        assert_null(buf);
        assert_detail(bad, "gzip stream", NULL);
    }
    /* a flipped byte in the compressed data or the CRC */
    for (size_t at = 12; at < zlen; at += 53) {
        z[at] ^= 0x55;
        test_write_file(bad, z, zlen);
        z[at] ^= 0x55;
        myo_data_clear_error();
        myo_status s = myo_idx_read_file(bad, &buf, &got);
        if (s != MYO_ERR_DATA) fail_msg("byte %zu flipped: status %d", at, (int)s);
        assert_detail(bad, "gzip stream", NULL);
    }
    /* not there, a directory, a FIFO (refused without blocking) */
    char *missing = test_path_in(dir, "missing.gz"), *fifo = test_path_in(dir, "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(myo_idx_read_file(missing, &buf, &got), MYO_ERR_IO);
    assert_detail(missing, "cannot read", NULL);
    alarm(60);
    assert_int_equal(myo_idx_read_file(dir, &buf, &got), MYO_ERR_IO);
    assert_detail(dir, "not a regular file", NULL);
    assert_int_equal(myo_idx_read_file(fifo, &buf, &got), MYO_ERR_IO);
    assert_detail(fifo, "not a regular file", NULL);
    alarm(0);
    /* an empty file reads as 0 bytes (the parser refuses it) */
    test_write_file(bad, "", 0);
    assert_int_equal(myo_idx_read_file(bad, &buf, &got), MYO_OK);
    assert_int_equal(got, 0);
    free(buf);
    test_remove_dir(dir);
    free(z), free(im), free(plain), free(gz), free(bad), free(missing), free(fifo), free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_small_set_round_trip),
        cmocka_unit_test(test_idx_every_truncation_refused),
        cmocka_unit_test(test_idx_trailing_bytes_refused),
        cmocka_unit_test(test_idx_wrong_magic_type_dims_refused),
        cmocka_unit_test(test_idx_huge_sizes_refused),
        cmocka_unit_test(test_idx_flipped_header_bytes),
        cmocka_unit_test(test_idx_set_mismatch_refused),
        cmocka_unit_test(test_idx_files_plain_and_gzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
