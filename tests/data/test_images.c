/* test_images.c -- the CIFAR-10 loader (grayscale as LRA, LRA's splits),
 * the Fashion-MNIST loader (on small IDX files written here, plain and
 * gzip-compressed) and synthetic images. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "myosotis.h"
#include "myo_data.h"
#include "dataset_file.h"
#include "images.h"
#include "support.h"

#include "data_fixture.h"
#include "idx_fixture.h"

/* A record with label and pixels i set to rgb (others black). */
static void set_pixel(unsigned char *rec, int i, int r, int g, int b)
{
    rec[1 + i] = (unsigned char)r;
    rec[1 + 1024 + i] = (unsigned char)g;
    rec[1 + 2048 + i] = (unsigned char)b;
}

static void expect_detail(const char *needle1, const char *needle2)
{
    const char *d = myo_data_error();
    if (!strstr(d, needle1) || (needle2 && !strstr(d, needle2)))
        fail_msg("detail \"%s\" lacks \"%s\" / \"%s\"", d, needle1, needle2 ? needle2 : "");
    assert_string_equal(myo_data_error(), d);
}

static void test_gray_hand_checked(void **state)
{
    (void)state;
    /* floor(255.5 * (0.2989 R + 0.5870 G + 0.1140 B) / 255) */
    assert_int_equal(myo_gray_from_rgb(0, 0, 0), 0);
    assert_int_equal(myo_gray_from_rgb(255, 255, 255), 255); /* 254.97 * 1.00196 = 255.47 */
    assert_int_equal(myo_gray_from_rgb(255, 0, 0), 76);      /* 76.22 -> 76.37 */
    assert_int_equal(myo_gray_from_rgb(0, 255, 0), 149);     /* 149.69 -> 149.98: not 150 */
    assert_int_equal(myo_gray_from_rgb(0, 0, 255), 29);      /* 29.07 -> 29.13 */
    assert_int_equal(myo_gray_from_rgb(100, 150, 200), 141); /* 140.74 -> 141.02 */
    assert_int_equal(myo_gray_from_rgb(128, 128, 128), 128); /* 127.99 -> 128.24 */
    assert_int_equal(myo_gray_from_rgb(1, 1, 1), 1);
    /* gray inputs stay (nearly) themselves: never off by more than one */
    for (int v = 0; v < 256; v++) {
        int g = myo_gray_from_rgb((uint8_t)v, (uint8_t)v, (uint8_t)v);
        assert_true(g == v || g == v - 1 || g == v + 1);
    }
}

static void test_cifar_loader_small_files(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    unsigned char recs[3 * MYO_CIFAR_RECORD];
    memset(recs, 0, sizeof recs);
    recs[0] = 0;
    recs[MYO_CIFAR_RECORD] = 9;
    recs[2 * MYO_CIFAR_RECORD] = 3;
    unsigned char *r2 = recs + 2 * MYO_CIFAR_RECORD;
    set_pixel(r2, 0, 255, 0, 0);
    set_pixel(r2, 1023, 0, 255, 0);
    set_pixel(r2, 500, 100, 150, 200);
    set_pixel(recs + MYO_CIFAR_RECORD, 33, 255, 255, 255);
    char *a = test_path_in(dir, "a.bin"), *b = test_path_in(dir, "b.bin");
    test_write_file(a, recs, 2 * MYO_CIFAR_RECORD);
    test_write_file(b, recs + 2 * MYO_CIFAR_RECORD, MYO_CIFAR_RECORD);
    const char *paths[2] = {a, b};
    myo_dataset d;
    assert_int_equal(myo_cifar10_load_files(paths, 2, &d), MYO_OK);
    data_fixture_assert_header(&d, "image", "loaded", 3, 1, 1024, 256, 10, 0);
    assert_int_equal(d.labels[0], 0);
    assert_int_equal(d.labels[1], 9);
    assert_int_equal(d.labels[2], 3);
    for (int e = 0; e < 3; e++)
        assert_int_equal(d.lengths[e], 1024);
    assert_int_equal(d.tokens[2 * 1024 + 0], 76);
    assert_int_equal(d.tokens[2 * 1024 + 1023], 149);
    assert_int_equal(d.tokens[2 * 1024 + 500], 141);
    assert_int_equal(d.tokens[2 * 1024 + 1], 0);
    assert_int_equal(d.tokens[1024 + 33], 255);
    assert_string_equal(myo_dataset_get_attr(&d, "files"), "a.bin,b.bin");
    assert_int_equal(myo_dataset_validate(&d, "cifar"), MYO_OK);
    myo_dataset_free(&d);
    test_remove_dir(dir);
    free(a), free(b), free(dir);
}

static void test_cifar_split_layout(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    for (int i = 1; i <= 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i);
        char *p = test_path_in(dir, name);
        assert_int_equal(myo_cifar10_write_synthetic(p, 2, (uint64_t)i), MYO_OK);
        free(p);
    }
    char *t = test_path_in(dir, "test_batch.bin");
    assert_int_equal(myo_cifar10_write_synthetic(t, 3, 99), MYO_OK);
    myo_dataset d;
    assert_int_equal(myo_cifar10_load(dir, "train", &d), MYO_OK);
    assert_int_equal(d.count, 10);
    assert_string_equal(myo_dataset_get_attr(&d, "split"), "train");
    /* example 2 is record 0 of data_batch_2.bin */
    char *p2 = test_path_in(dir, "data_batch_2.bin");
    size_t size = 0;
    unsigned char *raw = test_read_file(p2, &size);
    assert_int_equal(size, 2 * MYO_CIFAR_RECORD);
    assert_int_equal(d.labels[2], raw[0]);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(d.tokens[2 * 1024 + i],
                         myo_gray_from_rgb(raw[1 + i], raw[1 + 1024 + i], raw[1 + 2048 + i]));
    free(raw);
    free(p2);
    myo_dataset_free(&d);
    assert_int_equal(d.has_splits, 0);
    assert_int_equal(myo_cifar10_load(dir, "test", &d), MYO_OK);
    assert_int_equal(d.count, 3);
    assert_int_equal(d.has_splits, 0);
    myo_dataset free_later = d;
    /* all: LRA's train[:90%], train[90%:], test; the test images last */
    assert_int_equal(myo_cifar10_load(dir, "all", &d), MYO_OK);
    assert_int_equal(d.count, 13);
    assert_string_equal(myo_dataset_get_attr(&d, "split"), "all");
    assert_int_equal(d.has_splits, 1);
    assert_int_equal(d.split_count[MYO_SPLIT_TRAIN], 9);
    assert_int_equal(d.split_count[MYO_SPLIT_VALID], 1);
    assert_int_equal(d.split_count[MYO_SPLIT_TEST], 3);
    assert_memory_equal(d.tokens + 10 * 1024, free_later.tokens, 3 * 1024 * sizeof(int32_t));
    assert_memory_equal(d.labels + 10, free_later.labels, 3 * sizeof(int32_t));
    assert_int_equal(myo_dataset_validate(&d, "all"), MYO_OK);
    myo_dataset_free(&d);
    myo_dataset_free(&free_later);
    assert_int_equal(myo_cifar10_load(dir, "valid", &d), MYO_ERR_ARG);
    expect_detail("valid", NULL);
    /* a missing batch */
    unlink(t);
    assert_int_equal(myo_cifar10_load(dir, "test", &d), MYO_ERR_IO);
    expect_detail("test_batch.bin", "cannot open");
    assert_null(d.tokens);
    test_remove_dir(dir);
    free(t), free(dir);
}

static void test_cifar_malformed(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    unsigned char *buf = test_alloc(3 * MYO_CIFAR_RECORD, 1);
    memset(buf, 7, 3 * MYO_CIFAR_RECORD);
    buf[0] = buf[MYO_CIFAR_RECORD] = buf[2 * MYO_CIFAR_RECORD] = 1;
    myo_dataset d;
    /* truncated third record */
    char *p = test_path_in(dir, "trunc.bin");
    test_write_file(p, buf, 2 * MYO_CIFAR_RECORD + 100);
    const char *one[1] = {p};
    assert_int_equal(myo_cifar10_load_files(one, 1, &d), MYO_ERR_DATA);
    expect_detail("trunc.bin", "record 2 is truncated");
    assert_null(d.tokens);
    free(p);
    /* label 12 in record 1 */
    p = test_path_in(dir, "label.bin");
    buf[MYO_CIFAR_RECORD] = 12;
    test_write_file(p, buf, 3 * MYO_CIFAR_RECORD);
    one[0] = p;
    assert_int_equal(myo_cifar10_load_files(one, 1, &d), MYO_ERR_DATA);
    expect_detail("label.bin: record 1: label 12", NULL);
    assert_null(d.tokens);
    free(p);
    /* empty file */
    p = test_path_in(dir, "empty.bin");
    test_write_file(p, buf, 0);
    one[0] = p;
    assert_int_equal(myo_cifar10_load_files(one, 1, &d), MYO_ERR_DATA);
    expect_detail("empty.bin", "empty");
    free(p);
    assert_int_equal(myo_cifar10_load_files(NULL, 0, &d), MYO_ERR_ARG);
    free(buf);
    test_remove_dir(dir);
    free(dir);
}

/* Image e of a Fashion-MNIST dataset is idx_fixture's image e, in the
 * centre of the 32 x 32 grid. */
static void expect_fashion_image(const myo_dataset *d, int64_t e)
{
    const int32_t *tok = d->tokens + e * 1024;
    assert_int_equal(d->labels[e], idx_fixture_label(e));
    assert_int_equal(d->lengths[e], 1024);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            int inside = y >= 2 && y < 30 && x >= 2 && x < 30;
            int want = inside ? idx_fixture_pixel(e, y - 2, x - 2) : 0;
            if (tok[y * 32 + x] != want)
                fail_msg("image %lld pixel (%d, %d): %d, expected %d", (long long)e, y, x,
                         (int)tok[y * 32 + x], want);
        }
}

static void test_fashion_mnist_loader(void **state)
{
    (void)state;
    char *gz = test_make_temp_dir(), *plain = test_make_temp_dir();
    idx_fixture_fashion_dir(gz, 20, 5, 1);
    idx_fixture_fashion_dir(plain, 20, 5, 0);
    myo_dataset d, p;
    assert_int_equal(myo_fashion_mnist_load(gz, &d), MYO_OK);
    data_fixture_assert_header(&d, "fashion-mnist", "loaded", 25, 1, 1024, 256, 10, 0);
    /* the last tenth of the training images validates */
    assert_int_equal(d.has_splits, 1);
    assert_int_equal(d.split_count[MYO_SPLIT_TRAIN], 18);
    assert_int_equal(d.split_count[MYO_SPLIT_VALID], 2);
    assert_int_equal(d.split_count[MYO_SPLIT_TEST], 5);
    for (int64_t e = 0; e < d.count; e++)
        expect_fashion_image(&d, e);
    assert_string_equal(myo_dataset_get_attr(&d, "dir"), gz);
    assert_string_equal(myo_dataset_get_attr(&d, "files"),
                        "train-images-idx3-ubyte.gz,train-labels-idx1-ubyte.gz,"
                        "t10k-images-idx3-ubyte.gz,t10k-labels-idx1-ubyte.gz");
    assert_string_equal(myo_dataset_get_attr(&d, "ordering"), "raster");
    assert_int_equal(myo_dataset_validate(&d, "fashion"), MYO_OK);
    /* the same from plain files */
    assert_int_equal(myo_fashion_mnist_load(plain, &p), MYO_OK);
    assert_memory_equal(d.tokens, p.tokens, 25 * 1024 * sizeof(int32_t));
    assert_memory_equal(d.labels, p.labels, 25 * sizeof(int32_t));
    assert_string_equal(myo_dataset_get_attr(&p, "files"),
                        "train-images-idx3-ubyte,train-labels-idx1-ubyte,"
                        "t10k-images-idx3-ubyte,t10k-labels-idx1-ubyte");
    myo_dataset_free(&d), myo_dataset_free(&p);
    /* a missing file, then labels that do not match the images: nothing */
    char *labels = test_path_in(plain, "t10k-labels-idx1-ubyte");
    unlink(labels);
    myo_data_clear_error();
    assert_int_equal(myo_fashion_mnist_load(plain, &d), MYO_ERR_IO);
    expect_detail(plain, "neither t10k-labels-idx1-ubyte.gz nor t10k-labels-idx1-ubyte");
    assert_null(d.tokens);
    size_t len;
    uint8_t *lb = idx_fixture_labels(20, 4, &len);
    idx_fixture_write(labels, lb, len, 0);
    assert_int_equal(myo_fashion_mnist_load(plain, &d), MYO_ERR_DATA);
    expect_detail("holds 5 images, but", "4 labels");
    assert_null(d.tokens);
    free(lb);
    test_remove_dir(gz), test_remove_dir(plain);
    free(labels), free(gz), free(plain);
}

static void test_synthetic_images(void **state)
{
    (void)state;
    myo_dataset a, b, c;
    assert_int_equal(myo_images_synthetic(20, 32, 7, &a), MYO_OK);
    assert_int_equal(myo_images_synthetic(20, 32, 7, &b), MYO_OK);
    assert_int_equal(myo_images_synthetic(20, 32, 8, &c), MYO_OK);
    assert_string_equal(a.source, "synthetic");
    assert_int_equal(a.n, 1024);
    assert_memory_equal(a.tokens, b.tokens, 20 * 1024 * sizeof(int32_t));
    assert_memory_equal(a.labels, b.labels, 20 * sizeof(int32_t));
    assert_memory_not_equal(a.tokens, c.tokens, 20 * 1024 * sizeof(int32_t));
    for (int64_t i = 0; i < 20 * 1024; i++)
        assert_true(a.tokens[i] >= 0 && a.tokens[i] < 256);
    assert_int_equal(myo_dataset_validate(&a, "synthetic"), MYO_OK);
    assert_string_equal(myo_dataset_get_attr(&a, "seed"), "7");
    myo_dataset_free(&a);
    myo_dataset_free(&b);
    myo_dataset_free(&c);
    assert_int_equal(myo_images_synthetic(3, 5, 1, &a), MYO_OK); /* odd side */
    assert_int_equal(a.n, 25);
    myo_dataset_free(&a);
    assert_int_equal(myo_images_synthetic(0, 32, 1, &a), MYO_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gray_hand_checked),  cmocka_unit_test(test_cifar_loader_small_files),
        cmocka_unit_test(test_cifar_split_layout), cmocka_unit_test(test_cifar_malformed),
        cmocka_unit_test(test_synthetic_images),   cmocka_unit_test(test_fashion_mnist_loader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
