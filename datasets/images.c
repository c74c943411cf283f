/* images.c -- CIFAR-10 binary loader (grayscale as LRA), the Fashion-MNIST
 * loader, and synthetic images. */
#include <config.h>

#include "images.h"
#include "dataset_file.h"
#include "idx.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint8_t myo_gray_from_rgb(uint8_t r, uint8_t g, uint8_t b)
{
    /* tf.image.rgb_to_grayscale on uint8: convert_image_dtype to float32
     * (c * (1/255)), tensordot with the luma weights, convert_image_dtype
     * back (* 255.5, saturate_cast: clamp then truncate). */
    const float scale = (float)(1.0 / 255.0);
    float y = (float)r * scale * 0.2989f + (float)g * scale * 0.5870f + (float)b * scale * 0.1140f;
    float v = y * 255.5f;
    if (!(v > 0.0f)) return 0;
    if (v >= 255.0f) return 255;
    return (uint8_t)v;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Size of a file in records; checks the size. */
static myo_status cifar_count(const char *path, int64_t *records)
{
    FILE *f = fopen(path, "rb");
    if (!f) return myo_data_fail(MYO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    fclose(f);
    if (size < 0) return myo_data_fail(MYO_ERR_IO, "%s: cannot determine the size", path);
    if (size == 0) return myo_data_fail(MYO_ERR_DATA, "%s: empty file (no CIFAR-10 record)", path);
    if (size % MYO_CIFAR_RECORD != 0)
        return myo_data_fail(
            MYO_ERR_DATA,
            "%s: size %ld is not a multiple of %d: record %ld is truncated (%ld of "
            "%d bytes)",
            path, size, MYO_CIFAR_RECORD, size / MYO_CIFAR_RECORD, size % MYO_CIFAR_RECORD,
            MYO_CIFAR_RECORD);
    *records = size / MYO_CIFAR_RECORD;
    return MYO_OK;
}

static myo_status cifar_read(const char *path, int64_t records, myo_dataset *d, int64_t first)
{
    FILE *f = fopen(path, "rb");
    if (!f) return myo_data_fail(MYO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char rec[MYO_CIFAR_RECORD];
    myo_status s = MYO_OK;
    for (int64_t r = 0; r < records; r++) {
        if (fread(rec, 1, sizeof rec, f) != sizeof rec) {
            s = myo_data_fail(MYO_ERR_IO, "%s: record %lld: short read", path, (long long)r);
            break;
        }
        if (rec[0] > 9) {
            s = myo_data_fail(MYO_ERR_DATA, "%s: record %lld: label %d is not in 0..9", path,
                              (long long)r, rec[0]);
            break;
        }
        int64_t e = first + r;
        d->labels[e] = rec[0];
        d->lengths[e] = MYO_CIFAR_PIXELS;
        int32_t *tok = d->tokens + e * MYO_CIFAR_PIXELS;
        const unsigned char *R = rec + 1, *G = R + MYO_CIFAR_PIXELS, *B = G + MYO_CIFAR_PIXELS;
        for (int i = 0; i < MYO_CIFAR_PIXELS; i++)
            tok[i] = myo_gray_from_rgb(R[i], G[i], B[i]);
    }
    fclose(f);
    return s;
}

static void set_image_shape(myo_dataset *d, const char *task, int side, const char *source)
{
    memset(d, 0, sizeof *d);
    snprintf(d->task, sizeof d->task, "%s", task);
    snprintf(d->source, sizeof d->source, "%s", source);
    d->docs = 1;
    d->n = (int64_t)side * side;
    d->vocab = 256;
    d->classes = MYO_CIFAR_CLASSES;
}

static myo_status alloc_or_fail(myo_dataset *d, int64_t count)
{
    myo_status s = myo_dataset_alloc(d, count, 0);
    if (s != MYO_OK)
        return myo_data_fail(s, "cannot allocate %lld images: %s", (long long)count,
                             myo_data_error());
    return MYO_OK;
}

static myo_status set_attr(myo_dataset *d, const char *k, const char *v)
{
    myo_status s = myo_dataset_set_attr(d, k, v);
    if (s != MYO_OK) return myo_data_fail(s, "attribute %s: %s", k, myo_data_error());
    return MYO_OK;
}

#define GRAY_RULE                                                                                  \
    "tf.image.rgb_to_grayscale: floor(255.5*(0.2989 R+0.5870 G+0.1140 B)/255), float32"

myo_status myo_cifar10_load_files(const char *const *paths, int npaths, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "cifar10: NULL dataset");
    memset(d, 0, sizeof *d);
    if (!paths || npaths < 1) return myo_data_fail(MYO_ERR_ARG, "cifar10: no file given");
    int64_t *counts = calloc((size_t)npaths, sizeof *counts);
    if (!counts) return myo_data_fail(MYO_ERR_NOMEM, "cifar10: out of memory");
    int64_t total = 0;
    myo_status s = MYO_OK;
    for (int i = 0; i < npaths && s == MYO_OK; i++) {
        if (!paths[i])
            s = myo_data_fail(MYO_ERR_ARG, "cifar10: path %d is NULL", i);
        else
            s = cifar_count(paths[i], &counts[i]);
        total += counts[i];
    }
    if (s == MYO_OK) {
        set_image_shape(d, "image", MYO_CIFAR_SIDE, "loaded");
        s = alloc_or_fail(d, total);
    }
    int64_t first = 0;
    for (int i = 0; i < npaths && s == MYO_OK; i++) {
        s = cifar_read(paths[i], counts[i], d, first);
        first += counts[i];
    }
    free(counts);
    if (s == MYO_OK) {
        char files[208] = "";
        size_t used = 0;
        for (int i = 0; i < npaths; i++) {
            int w = snprintf(files + used, sizeof files - used, "%s%s", i ? "," : "",
                             base_name(paths[i]));
            if (w < 0 || (size_t)w >= sizeof files - used) {
                snprintf(files + sizeof files - 4, 4, "...");
                break;
            }
            used += (size_t)w;
        }
        s = set_attr(d, "files", files);
        if (s == MYO_OK) s = set_attr(d, "grayscale", GRAY_RULE);
        if (s == MYO_OK) s = set_attr(d, "ordering", "raster");
    }
    if (s != MYO_OK) {
        myo_dataset_free(d);
        memset(d, 0, sizeof *d);
    }
    return s;
}

myo_status myo_cifar10_load(const char *dir, const char *split, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "cifar10: NULL dataset");
    memset(d, 0, sizeof *d);
    if (!dir || !split) return myo_data_fail(MYO_ERR_ARG, "cifar10: NULL directory or split");
    size_t len = strlen(dir) + 32;
    char *buf = malloc(6 * len);
    if (!buf) return myo_data_fail(MYO_ERR_NOMEM, "cifar10: out of memory");
    const char *paths[6];
    int np = 0, all = strcmp(split, "all") == 0;
    if (all || strcmp(split, "train") == 0) {
        for (int i = 0; i < 5; i++) {
            snprintf(buf + i * len, len, "%s/data_batch_%d.bin", dir, i + 1);
            paths[np] = buf + (size_t)np * len;
            np++;
        }
    }
    if (all || strcmp(split, "test") == 0) {
        snprintf(buf + (size_t)np * len, len, "%s/test_batch.bin", dir);
        paths[np] = buf + (size_t)np * len;
        np++;
    }
    if (np == 0) {
        free(buf);
        return myo_data_fail(
            MYO_ERR_ARG, "cifar10: split \"%s\" is none of \"all\", \"train\", \"test\"", split);
    }
    myo_status s = myo_cifar10_load_files(paths, np, d);
    if (s == MYO_OK) s = set_attr(d, "split", split);
    if (s == MYO_OK && all) {
        /* LRA's train[:90%], train[90%:] and test: 45,000 / 5,000 / 10,000 */
        int64_t test = 0;
        s = cifar_count(paths[5], &test);
        int64_t train = d->count - test, valid = myo_split_share(train, 1, 10);
        if (s == MYO_OK) s = myo_dataset_set_splits(d, train - valid, valid, test);
    }
    if (s != MYO_OK) myo_dataset_free(d);
    free(buf);
    return s;
}

/* ------------------------------------------------------- Fashion-MNIST */

/* The four files, in the order read: images then labels, training then
 * test. */
static const char *const fmnist_files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

/* dir/name.gz when it exists, else dir/name, into path (size bytes);
 * MYO_ERR_IO when neither does. */
static myo_status fmnist_path(const char *dir, const char *name, char *path, size_t size)
{
    struct stat sb;
    int w = snprintf(path, size, "%s/%s.gz", dir, name);
    if (w < 0 || (size_t)w >= size)
        return myo_data_fail(MYO_ERR_ARG, "fashion-mnist: directory name too long: %s", dir);
    if (stat(path, &sb) == 0) return MYO_OK;
    snprintf(path, size, "%s/%s", dir, name);
    if (stat(path, &sb) == 0) return MYO_OK;
    return myo_data_fail(MYO_ERR_IO,
                         "%s: neither %s.gz nor %s can be read: %s (Fashion-MNIST's IDX files; "
                         "Debian: dataset-fashion-mnist)",
                         dir, name, name, strerror(errno));
}

/* Read and parse the images and labels of one split (files k, k + 1) into
 * *set, which borrows bufs[k], bufs[k + 1]. */
static myo_status fmnist_read_set(const char *dir, int k, char paths[4][4096], uint8_t *bufs[4],
                                  myo_idx_set *set)
{
    size_t len[2] = {0, 0};
    myo_status s = MYO_OK;
    for (int i = k; i < k + 2 && s == MYO_OK; i++) {
        s = fmnist_path(dir, fmnist_files[i], paths[i], sizeof paths[i]);
        if (s == MYO_OK) s = myo_idx_read_file(paths[i], &bufs[i], &len[i - k]);
    }
    if (s == MYO_OK)
        s = myo_idx_parse_set(bufs[k], len[0], paths[k], bufs[k + 1], len[1], paths[k + 1],
                              MYO_FMNIST_SIDE, MYO_FMNIST_SIDE, MYO_FMNIST_CLASSES, set);
    return s;
}

myo_status myo_fashion_mnist_load(const char *dir, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "fashion-mnist: NULL dataset");
    memset(d, 0, sizeof *d);
    if (!dir) dir = MYO_FMNIST_DIR;
    char(*paths)[4096] = calloc(4, sizeof *paths);
    uint8_t *bufs[4] = {NULL, NULL, NULL, NULL};
    myo_idx_set train, test;
    myo_status s = paths ? MYO_OK : myo_data_fail(MYO_ERR_NOMEM, "fashion-mnist: out of memory");
    if (s == MYO_OK) s = fmnist_read_set(dir, 0, paths, bufs, &train);
    if (s == MYO_OK) s = fmnist_read_set(dir, 2, paths, bufs, &test);
    if (s == MYO_OK) {
        set_image_shape(d, "fashion-mnist", MYO_FMNIST_GRID, "loaded");
        s = alloc_or_fail(d, train.count + test.count);
    }
    /* each image in the centre of the grid: pixel (r, c) at (r + o, c + o) */
    const int o = (MYO_FMNIST_GRID - MYO_FMNIST_SIDE) / 2, side = MYO_FMNIST_SIDE;
    for (int part = 0; part < 2 && s == MYO_OK; part++) {
        const myo_idx_set *set = part ? &test : &train;
        const int64_t first = part ? train.count : 0;
        for (int64_t e = 0; e < set->count; e++) {
            const uint8_t *px = set->pixels + e * side * side;
            int32_t *tok = d->tokens + (first + e) * d->n;
            for (int r = 0; r < side; r++)
                for (int c = 0; c < side; c++)
                    tok[(r + o) * MYO_FMNIST_GRID + c + o] = px[r * side + c];
            d->labels[first + e] = set->labels[e];
            d->lengths[first + e] = (int32_t)d->n;
        }
    }
    if (s == MYO_OK) {
        /* the last tenth of the training images validates: 54,000 / 6,000 / 10,000 */
        int64_t valid = myo_split_share(train.count, 1, 10);
        s = myo_dataset_set_splits(d, train.count - valid, valid, test.count);
    }
    if (s == MYO_OK) s = myo_dataset_set_attrf(d, "dir", "%s", dir); /* cut when long */
    if (s == MYO_OK) {
        const char *base[4];
        for (int i = 0; i < 4; i++)
            base[i] = base_name(paths[i]);
        s = myo_dataset_set_attrf(d, "files", "%s,%s,%s,%s", base[0], base[1], base[2], base[3]);
    }
    if (s == MYO_OK) s = set_attr(d, "placement", "28x28 centred in 32x32, border pixels 0");
    if (s == MYO_OK) s = set_attr(d, "ordering", "raster");
    for (int i = 0; i < 4; i++)
        free(bufs[i]);
    free(paths);
    if (s != MYO_OK) myo_dataset_free(d);
    return s;
}

/* ----------------------------------------------------------- synthetic */

myo_status myo_images_synthetic(int64_t count, int side, uint64_t seed, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "synthetic images: NULL dataset");
    memset(d, 0, sizeof *d);
    if (count < 1 || side < 1 || side > 4096)
        return myo_data_fail(MYO_ERR_ARG,
                             "synthetic images: count = %lld, side = %d (need >= 1, side <= 4096)",
                             (long long)count, side);
    set_image_shape(d, "image", side, "synthetic");
    myo_status s = alloc_or_fail(d, count);
    if (s != MYO_OK) return s;
    myo_rng r = myo_rng_seed(seed);
    int64_t n = d->n;
    for (int64_t e = 0; e < count; e++) {
        int label = (int)myo_rng_below(&r, MYO_CIFAR_CLASSES);
        d->labels[e] = label;
        d->lengths[e] = (int32_t)n;
        /* a bright blob centred on a label-dependent point of a 4x3 grid */
        double cx = (0.125 + 0.25 * (label % 4)) * side + myo_rng_uniform(&r, -0.05, 0.05) * side;
        double cy = (1.0 / 6 + (label / 4) / 3.0) * side + myo_rng_uniform(&r, -0.05, 0.05) * side;
        double rad = 0.15 * side + 0.5;
        int32_t *tok = d->tokens + e * n;
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) {
                double dx = (x - cx) / rad, dy = (y - cy) / rad;
                double v = 40.0 + 180.0 * exp(-(dx * dx + dy * dy)) + myo_rng_uniform(&r, -20, 20);
                tok[(int64_t)y * side + x] = v < 0 ? 0 : v > 255 ? 255 : (int32_t)v;
            }
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    s = set_attr(d, "seed", buf);
    if (s == MYO_OK) {
        snprintf(buf, sizeof buf, "%d", side);
        s = set_attr(d, "side", buf);
    }
    if (s == MYO_OK) s = set_attr(d, "ordering", "raster");
    if (s != MYO_OK) myo_dataset_free(d);
    return s;
}

myo_status myo_cifar10_write_synthetic(const char *path, int64_t count, uint64_t seed)
{
    if (!path || count < 0) return myo_data_fail(MYO_ERR_ARG, "cifar10 write: bad arguments");
    FILE *f = fopen(path, "wb");
    if (!f) return myo_data_fail(MYO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    myo_rng r = myo_rng_seed(seed);
    unsigned char rec[MYO_CIFAR_RECORD];
    for (int64_t e = 0; e < count; e++) {
        rec[0] = (unsigned char)myo_rng_below(&r, MYO_CIFAR_CLASSES);
        for (int i = 1; i < MYO_CIFAR_RECORD; i++)
            rec[i] = (unsigned char)myo_rng_below(&r, 256);
        if (fwrite(rec, 1, sizeof rec, f) != sizeof rec) {
            fclose(f);
            return myo_data_fail(MYO_ERR_IO, "%s: write failed at record %lld", path, (long long)e);
        }
    }
    if (fclose(f) != 0) return myo_data_fail(MYO_ERR_IO, "%s: close failed", path);
    return MYO_OK;
}
