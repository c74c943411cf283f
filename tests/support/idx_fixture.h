/* idx_fixture.h -- what the tests of the IDX files (test_idx.c) and of the
 * Fashion-MNIST loader (test_images.c) share: IDX buffers built by hand,
 * written plain or gzip-compressed, and a small Fashion-MNIST directory.
 *
 * Header-only (static inline) because only these programs use it; include
 * after <cmocka.h> and "support.h". */
#ifndef MYO_TEST_IDX_FIXTURE_H
#define MYO_TEST_IDX_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The pixel (r, c) of image e of idx_fixture_images, and the label of
 * image e. */
static inline uint8_t idx_fixture_pixel(int64_t e, int r, int c)
{
    return (uint8_t)(e * 37 + r * 11 + c * 3 + 1);
}
static inline uint8_t idx_fixture_label(int64_t e)
{
    return (uint8_t)((e * 7 + 3) % 10);
}

/* An IDX buffer of unsigned bytes (idx.h): the ndims sizes dims, then
 * data (the product of the sizes of bytes; NULL: zeros).  *len gets its
 * size; free() it. */
static inline uint8_t *idx_fixture_make(int ndims, const uint32_t *dims, const uint8_t *data,
                                        size_t *len)
{
    size_t count = 1, header = 4 + 4 * (size_t)ndims;
    for (int k = 0; k < ndims; k++)
        count *= dims[k];
    uint8_t *buf = test_alloc(header + count, 1);
    memset(buf, 0, header + count);
    buf[2] = 0x08;
    buf[3] = (uint8_t)ndims;
    for (int k = 0; k < ndims; k++)
        for (int b = 0; b < 4; b++)
            buf[4 + 4 * k + b] = (uint8_t)(dims[k] >> (24 - 8 * b));
    if (data) memcpy(buf + header, data, count);
    *len = header + count;
    return buf;
}

/* count images of rows x cols (pixels idx_fixture_pixel) or their labels
 * (idx_fixture_label), as IDX buffers; the first image is number first. */
static inline uint8_t *idx_fixture_images(int64_t first, uint32_t count, uint32_t rows,
                                          uint32_t cols, size_t *len)
{
    uint8_t *px = test_alloc((size_t)count * rows * cols + 1, 1);
    for (uint32_t e = 0; e < count; e++)
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < cols; c++)
                px[((size_t)e * rows + r) * cols + c] = idx_fixture_pixel(first + e, r, c);
    const uint32_t dims[3] = {count, rows, cols};
    uint8_t *buf = idx_fixture_make(3, dims, px, len);
    free(px);
    return buf;
}
static inline uint8_t *idx_fixture_labels(int64_t first, uint32_t count, size_t *len)
{
    uint8_t *lb = test_alloc((size_t)count + 1, 1);
    for (uint32_t e = 0; e < count; e++)
        lb[e] = idx_fixture_label(first + e);
    const uint32_t dims[1] = {count};
    uint8_t *buf = idx_fixture_make(1, dims, lb, len);
    free(lb);
    return buf;
}

/* Write buf (len bytes) to path, gzip-compressed when gz. */
static inline void idx_fixture_write(const char *path, const uint8_t *buf, size_t len, int gz)
{
    if (!gz) {
        test_write_file(path, buf, len);
        return;
    }
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, buf, (unsigned)len), (int)len);
    assert_int_equal(gzclose(g), Z_OK);
}

/* A Fashion-MNIST directory in dir: ntrain training and ntest test images
 * of 28 x 28 (the test images numbered after the training ones), the four
 * files named as the loader wants them, with ".gz" and compressed when
 * gz. */
static inline void idx_fixture_fashion_dir(const char *dir, uint32_t ntrain, uint32_t ntest,
                                           int gz)
{
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int k = 0; k < 4; k++) {
        int64_t first = k < 2 ? 0 : ntrain;
        uint32_t count = k < 2 ? ntrain : ntest;
        size_t len;
        uint8_t *buf = k % 2 ? idx_fixture_labels(first, count, &len)
                             : idx_fixture_images(first, count, 28, 28, &len);
        char name[64];
        snprintf(name, sizeof name, "%s%s", names[k], gz ? ".gz" : "");
        char *path = test_path_in(dir, name);
        idx_fixture_write(path, buf, len, gz);
        free(path);
        free(buf);
    }
}

#endif
