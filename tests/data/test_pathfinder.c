/* test_pathfinder.c -- PNG I/O, the Pathfinder / Path-X generator and the
 * loader of LRA's layout (datasets/pathfinder.h, datasets/png_io.h). */
#define _POSIX_C_SOURCE 200809L
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
#include "pathfinder.h"
#include "png_io.h"
#include "support.h"

#include "data_fixture.h"

/* ------------------------------------------------------------ helpers */

static char *tmpdir;

static int setup_tmp(void **state)
{
    (void)state;
    tmpdir = test_make_temp_dir();
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    test_remove_dir(tmpdir);
    free(tmpdir);
    return 0;
}

static void mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static void expect_detail(const char *needle)
{
    const char *d = myo_data_error();
    if (!strstr(d, needle)) fail_msg("detail '%s' lacks '%s'", d, needle);
}

static uint32_t crc32_of(const unsigned char *b, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= b[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* ---------------------------------------------------------------- PNG */

static void test_png_round_trip(void **state)
{
    (void)state;
    int w = 37, h = 23;
    uint8_t *img = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++)
        img[i] = (uint8_t)(i * 7 + i / w);
    char path[300];
    snprintf(path, sizeof path, "%s/rt.png", tmpdir);
    assert_int_equal(myo_png_write_gray8(path, img, w, h), MYO_OK);
    uint8_t *back = NULL;
    int bw = 0, bh = 0;
    assert_int_equal(myo_png_read_gray8(path, &back, &bw, &bh), MYO_OK);
    assert_int_equal(bw, w);
    assert_int_equal(bh, h);
    assert_memory_equal(back, img, (size_t)w * h);
    free(back);
    /* missing file: MYO_ERR_IO; bad arguments */
    snprintf(path, sizeof path, "%s/none.png", tmpdir);
    assert_int_equal(myo_png_read_gray8(path, &back, &bw, &bh), MYO_ERR_IO);
    assert_null(back);
    assert_int_equal(myo_png_write_gray8(path, img, 0, 3), MYO_ERR_ARG);
    free(img);
}

static void test_png_corrupt(void **state)
{
    (void)state;
    int w = 32, h = 32;
    uint8_t img[32 * 32];
    for (int i = 0; i < w * h; i++)
        img[i] = (uint8_t)((i * 37) ^ (i >> 3));
    char path[300], bad[300];
    snprintf(path, sizeof path, "%s/good.png", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.png", tmpdir);
    assert_int_equal(myo_png_write_gray8(path, img, w, h), MYO_OK);
    size_t n;
    unsigned char *b = test_read_file(path, &n);
    assert_non_null(b);
    uint8_t *px = NULL;
    int rw, rh;
    /* every truncation is a clear MYO_ERR_DATA naming the file */
    for (size_t len = 0; len < n; len++) {
        test_write_file(bad, b, len);
        myo_status st = myo_png_read_gray8(bad, &px, &rw, &rh);
        if (st != MYO_ERR_DATA) fail_msg("truncated at %zu of %zu: %s", len, n, myo_status_str(st));
        assert_null(px);
        expect_detail("bad.png");
    }
    test_write_file(bad, b, (size_t)n / 2);
    assert_int_equal(myo_png_read_gray8(bad, &px, &rw, &rh), MYO_ERR_DATA);
    expect_detail("truncated");
    /* not a PNG */
    test_write_file(bad, "hello world, not a png", 22);
    assert_int_equal(myo_png_read_gray8(bad, &px, &rw, &rh), MYO_ERR_DATA);
    expect_detail("not a PNG");
    /* RGB with a valid CRC: rejected, with what it is */
    unsigned char *c = malloc((size_t)n);
    memcpy(c, b, (size_t)n);
    assert_memory_equal(c + 12, "IHDR", 4);
    c[16 + 9] = 2; /* colour type RGB */
    uint32_t crc = crc32_of(c + 12, 17);
    c[29] = (unsigned char)(crc >> 24), c[30] = (unsigned char)(crc >> 16);
    c[31] = (unsigned char)(crc >> 8), c[32] = (unsigned char)crc;
    test_write_file(bad, c, (size_t)n);
    assert_int_equal(myo_png_read_gray8(bad, &px, &rw, &rh), MYO_ERR_DATA);
    expect_detail("only 8-bit grayscale");
    /* random byte corruption: MYO_OK or MYO_ERR_DATA, never a crash */
    myo_rng rng = myo_rng_seed(99);
    int errors = 0;
    for (int it = 0; it < 300; it++) {
        memcpy(c, b, (size_t)n);
        int flips = 1 + (int)myo_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++)
            c[8 + myo_rng_below(&rng, n - 8)] ^= (unsigned char)(1 + myo_rng_below(&rng, 255));
        test_write_file(bad, c, (size_t)n);
        myo_status st = myo_png_read_gray8(bad, &px, &rw, &rh);
        assert_true(st == MYO_OK || st == MYO_ERR_DATA);
        if (st == MYO_OK) {
            assert_true(rw >= 1 && rh >= 1);
            free(px);
            px = NULL;
        } else {
            errors++;
        }
    }
    assert_true(errors > 250); /* CRCs catch nearly every corruption */
    free(c);
    free(b);
}

/* ---------------------------------------------------------- generator */

/* Flood fill over the pixels of snake id from (r0, c0); two pixels are
 * neighbours when their centres are at most rad apart (the snake's pixels
 * dilated: the gaps between paddles are about 2 m). */
static void flood(const uint8_t *ids, int size, int id, int r0, int c0, int rad, uint8_t *seen)
{
    int *stack = malloc((size_t)size * size * sizeof *stack), top = 0;
    memset(seen, 0, (size_t)size * size);
    if (ids[r0 * size + c0] != id) {
        free(stack);
        return;
    }
    seen[r0 * size + c0] = 1;
    stack[top++] = r0 * size + c0;
    while (top) {
        int p = stack[--top], r = p / size, c = p % size;
        for (int dy = -rad; dy <= rad; dy++)
            for (int dx = -rad; dx <= rad; dx++) {
                if (dy * dy + dx * dx > rad * rad) continue;
                int nr = r + dy, nc = c + dx;
                if (nr < 0 || nc < 0 || nr >= size || nc >= size) continue;
                int q = nr * size + nc;
                if (seen[q] || ids[q] != id) continue;
                seen[q] = 1;
                stack[top++] = q;
            }
    }
    free(stack);
}

/* Checks one image; returns its label. */
static int check_image(const myo_pf_params *p, const uint8_t *img, const uint8_t *ids, int label,
                       const myo_pf_info *info)
{
    int size = p->size;
    size_t N = (size_t)size * size;
    assert_true(label == 0 || label == 1);
    int maxv = 0, zeros = 0;
    for (size_t i = 0; i < N; i++) {
        if (img[i] > maxv) maxv = img[i];
        zeros += img[i] == 0;
        if (ids[i]) assert_true(img[i] > 0 || ids[i] != 0); /* ids only where drawn */
    }
    assert_int_equal(maxv, 255);       /* byte-scaled to the full range */
    assert_true(zeros > (int)(N / 4)); /* black background */
    int orr = (int)info->origin_y, oc = (int)info->origin_x;
    int tr = (int)info->terminal_y, tc = (int)info->terminal_x;
    assert_true(orr >= 0 && orr < size && oc >= 0 && oc < size);
    assert_true(tr >= 0 && tr < size && tc >= 0 && tc < size);
    /* markers are bright */
    assert_true(img[orr * size + oc] > 0 && img[tr * size + tc] > 0);
    /* the markers touch the snakes the info names: targets 1 and 2 */
    int ido = ids[orr * size + oc], idt = ids[tr * size + tc];
    assert_true(ido == 1 || ido == 2);
    assert_true(idt == 1 || idt == 2);
    assert_int_equal(ido, info->origin_snake);
    assert_int_equal(idt, info->terminal_snake);
    assert_int_equal(ido == idt, label == 1);
    /* a flood fill over the origin snake's dilated pixels reaches the
     * terminal marker iff label 1, and covers the whole snake (one chain) */
    uint8_t *seen = malloc(N);
    int rad = 2 * info->margin + 4;
    flood(ids, size, ido, orr, oc, rad, seen);
    assert_int_equal(seen[tr * size + tc] != 0, label == 1);
    for (size_t i = 0; i < N; i++)
        if (ids[i] == ido && !seen[i]) fail_msg("snake %d is not one chain (pixel %zu)", ido, i);
    /* and for label 0 the terminal's snake does not reach the origin */
    if (label == 0) {
        flood(ids, size, idt, tr, tc, rad, seen);
        assert_int_equal(seen[orr * size + oc], 0);
    }
    free(seen);
    /* distractors exist */
    assert_true(info->nsnakes >= 2);
    return label;
}

static void run_generator(int size, myo_pf_difficulty diff, int count, uint64_t seed, int *ones)
{
    myo_pf_params p;
    assert_int_equal(myo_pf_params_lra(size, diff, &p), MYO_OK);
    size_t N = (size_t)size * size;
    uint8_t *img = malloc(N), *ids = malloc(N), *img2 = malloc(N), *ids2 = malloc(N);
    myo_rng rng = myo_rng_seed(seed);
    *ones = 0;
    for (int i = 0; i < count; i++) {
        myo_rng keep = rng;
        int label = -1, label2 = -1;
        myo_pf_info info, info2;
        myo_status st = myo_pf_generate_image(&p, &rng, img, ids, &label, &info);
        if (st != MYO_OK) fail_msg("image %d: %s", i, myo_data_error());
        *ones += check_image(&p, img, ids, label, &info);
        if (i < 5) { /* determinism: the same stream gives the same bytes */
            assert_int_equal(myo_pf_generate_image(&p, &keep, img2, ids2, &label2, &info2), MYO_OK);
            assert_memory_equal(img, img2, N);
            assert_memory_equal(ids, ids2, N);
            assert_int_equal(label, label2);
            assert_memory_equal(&rng, &keep, sizeof rng);
        }
    }
    free(img), free(ids), free(img2), free(ids2);
}

static void test_generator_32(void **state)
{
    (void)state;
    int ones;
    run_generator(32, MYO_PF_CL14, 200, 1234, &ones);
    if (ones < 70 || ones > 130) fail_msg("label balance: %d of 200 are 1", ones);
    run_generator(32, MYO_PF_BASELINE, 40, 5, &ones);
    run_generator(32, MYO_PF_CL9, 40, 6, &ones);
}

static void test_generator_128(void **state)
{
    (void)state;
    int ones;
    run_generator(128, MYO_PF_CL14, 12, 77, &ones);
    run_generator(128, MYO_PF_BASELINE, 4, 78, &ones);
    run_generator(128, MYO_PF_CL9, 4, 79, &ones);
}

static void test_generator_single_paddles(void **state)
{
    (void)state;
    myo_pf_params p;
    assert_int_equal(myo_pf_params_lra(32, MYO_PF_BASELINE, &p), MYO_OK);
    p.use_single_paddles = 1;
    uint8_t img[32 * 32], ids[32 * 32];
    myo_rng rng = myo_rng_seed(3);
    for (int i = 0; i < 10; i++) {
        int label;
        myo_pf_info info;
        assert_int_equal(myo_pf_generate_image(&p, &rng, img, ids, &label, &info), MYO_OK);
        check_image(&p, img, ids, label, &info);
    }
}

static void test_params(void **state)
{
    (void)state;
    myo_pf_params p;
    assert_int_equal(myo_pf_params_lra(64, MYO_PF_CL14, &p), MYO_ERR_ARG);
    assert_int_equal(myo_pf_params_lra(32, (myo_pf_difficulty)3, &p), MYO_ERR_ARG);
    assert_int_equal(myo_pf_params_lra(32, MYO_PF_CL14, &p), MYO_OK);
    assert_int_equal(p.contour_length, 14);
    assert_int_equal(p.distractor_length, 4);
    assert_int_equal(p.num_distractor_snakes, 5);
    assert_int_equal(myo_pf_params_lra(128, MYO_PF_BASELINE, &p), MYO_OK);
    assert_int_equal(p.contour_length, 6);
    assert_int_equal(p.num_margins, 2);
    myo_pf_difficulty d;
    assert_int_equal(myo_pf_difficulty_parse("curv_contour_length_9", &d), MYO_OK);
    assert_int_equal(d, MYO_PF_CL9);
    assert_int_equal(myo_pf_difficulty_parse("hard", &d), MYO_OK);
    assert_int_equal(d, MYO_PF_CL14);
    assert_int_equal(myo_pf_difficulty_parse("curv_foo", &d), MYO_ERR_ARG);
    assert_string_equal(myo_pf_difficulty_dir(MYO_PF_BASELINE), "curv_baseline");
    /* invalid parameters */
    assert_int_equal(myo_pf_params_lra(32, MYO_PF_CL14, &p), MYO_OK);
    p.size = 4;
    uint8_t img[64];
    int label;
    myo_rng rng = myo_rng_seed(1);
    assert_int_equal(myo_pf_generate_image(&p, &rng, img, NULL, &label, NULL), MYO_ERR_ARG);
    /* a snake that cannot fit: a clear MYO_ERR_DATA, not a hang */
    assert_int_equal(myo_pf_params_lra(32, MYO_PF_CL14, &p), MYO_OK);
    p.contour_length = 400;
    uint8_t big[32 * 32];
    assert_int_equal(myo_pf_generate_image(&p, &rng, big, NULL, &label, NULL), MYO_ERR_DATA);
    expect_detail("no pair of target snakes");
}

/* The same dataset from any thread count (each image from its own
 * stream, written at its own index), and the thread count checked. */
static void test_generate_threads_same_dataset(void **state)
{
    (void)state;
    myo_pf_params p;
    assert_int_equal(myo_pf_params_lra(32, MYO_PF_CL14, &p), MYO_OK);
    myo_dataset one, many;
    assert_int_equal(myo_pf_generate(&p, 23, 5, &one), MYO_OK);
    const int threads[] = {2, 3, 8, 64};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(myo_pf_generate_threads(&p, 23, 5, threads[k], &many), MYO_OK);
        assert_int_equal(many.count, 23);
        assert_memory_equal(one.tokens, many.tokens, 23 * 1024 * sizeof(int32_t));
        assert_memory_equal(one.labels, many.labels, 23 * sizeof(int32_t));
        assert_memory_equal(one.lengths, many.lengths, 23 * sizeof(int32_t));
        assert_memory_equal(one.split_count, many.split_count, sizeof one.split_count);
        assert_int_equal(one.nattrs, many.nattrs);
        for (int a = 0; a < one.nattrs; a++)
            assert_string_equal(myo_dataset_get_attr(&many, one.attr_key[a]), one.attr_value[a]);
        myo_dataset_free(&many);
    }
    /* 19 / 2 / 2 of 23 (2.3 rounds to 2) */
    assert_int_equal(one.split_count[MYO_SPLIT_TRAIN], 19);
    assert_int_equal(one.split_count[MYO_SPLIT_TEST], 2);
    myo_dataset_free(&one);
    assert_int_equal(myo_pf_generate_threads(&p, 0, 5, 4, &many), MYO_OK);
    assert_int_equal(many.count, 0);
    myo_dataset_free(&many);
    assert_int_equal(myo_pf_generate_threads(&p, 3, 5, 0, &many), MYO_ERR_ARG);
    assert_null(many.tokens);
    assert_int_equal(myo_pf_generate_threads(&p, 3, 5, MYO_PF_MAX_THREADS + 1, &many), MYO_ERR_ARG);
    /* a failure in a worker thread reaches the caller with its detail
     * (seeds 32 pixels apart in a 32 x 32 window: every pair fails at
     * once) */
    p.seed_distance = 32;
    myo_data_clear_error();
    assert_int_equal(myo_pf_generate_threads(&p, 2, 5, 2, &many), MYO_ERR_DATA);
    assert_null(many.tokens);
    expect_detail("no pair of target snakes");
}

static void test_generate_dataset(void **state)
{
    (void)state;
    myo_pf_params p;
    assert_int_equal(myo_pf_params_lra(32, MYO_PF_CL14, &p), MYO_OK);
    myo_dataset a, b, c;
    assert_int_equal(myo_pf_generate(&p, 12, 42, &a), MYO_OK);
    data_fixture_assert_header(&a, "pathfinder", "generated", 12, 1, 1024, 256, 2, 0);
    for (int64_t i = 0; i < a.count * a.n; i++)
        assert_true(a.tokens[i] >= 0 && a.tokens[i] <= 255);
    for (int64_t e = 0; e < a.count; e++) {
        assert_true(a.labels[e] == 0 || a.labels[e] == 1);
        assert_int_equal(a.lengths[e], 1024);
    }
    assert_string_equal(myo_dataset_get_attr(&a, "contour_length"), "14");
    assert_string_equal(myo_dataset_get_attr(&a, "difficulty"), "curv_contour_length_14");
    assert_string_equal(myo_dataset_get_attr(&a, "seed"), "42");
    assert_string_equal(myo_dataset_get_attr(&a, "paddle_margin_list"), "1");
    assert_non_null(myo_dataset_get_attr(&a, "continuity"));
    assert_non_null(myo_dataset_get_attr(&a, "snake_contrast"));
    assert_int_equal(myo_dataset_validate(&a, "generated"), MYO_OK);
    /* LRA's 80 / 10 / 10: 12 -> 10 / 1 / 1 */
    assert_int_equal(a.has_splits, 1);
    assert_int_equal(a.split_count[MYO_SPLIT_TRAIN], 10);
    assert_int_equal(a.split_count[MYO_SPLIT_VALID], 1);
    assert_int_equal(a.split_count[MYO_SPLIT_TEST], 1);
    /* determinism, and the first images do not depend on count */
    assert_int_equal(myo_pf_generate(&p, 5, 42, &b), MYO_OK);
    assert_memory_equal(a.tokens, b.tokens, 5 * 1024 * sizeof(int32_t));
    assert_memory_equal(a.labels, b.labels, 5 * sizeof(int32_t));
    assert_int_equal(myo_pf_generate(&p, 5, 43, &c), MYO_OK);
    assert_memory_not_equal(b.tokens, c.tokens, 5 * 1024 * sizeof(int32_t));
    myo_dataset_free(&a), myo_dataset_free(&b), myo_dataset_free(&c);
    /* Path-X */
    assert_int_equal(myo_pf_params_lra(128, MYO_PF_CL14, &p), MYO_OK);
    assert_int_equal(myo_pf_generate(&p, 2, 7, &a), MYO_OK);
    assert_string_equal(a.task, "pathx");
    assert_int_equal(a.n, 16384);
    assert_string_equal(myo_dataset_get_attr(&a, "paddle_margin_list"), "2,3");
    myo_dataset_free(&a);
}

/* ------------------------------------------------------------- loader */

/* root/curv_contour_length_14/{imgs/<b>/sample_<i>.png, metadata/<b>.npy}:
 * batches 0 and 1 (listed out of order on purpose: 10 after 2), 3 images
 * each, 32x32 generated images.  Returns the expected tokens/labels in
 * load order. */
#define TREE_IMAGES 9
static void make_tree(const char *root, uint8_t imgs[TREE_IMAGES][1024], int labels[TREE_IMAGES])
{
    static const int batches[3] = {0, 2, 10};
    myo_pf_params p;
    assert_int_equal(myo_pf_params_lra(32, MYO_PF_CL14, &p), MYO_OK);
    myo_rng rng = myo_rng_seed(2024);
    char path[512];
    int k = 0;
    for (int b = 0; b < 3; b++) {
        snprintf(path, sizeof path, "%s/curv_contour_length_14/imgs/%d", root, batches[b]);
        mkdirs(path);
        snprintf(path, sizeof path, "%s/curv_contour_length_14/metadata", root);
        mkdirs(path);
        snprintf(path, sizeof path, "%s/curv_contour_length_14/metadata/%d.npy", root, batches[b]);
        FILE *meta = fopen(path, "w");
        assert_non_null(meta);
        for (int i = 0; i < 3; i++, k++) {
            assert_int_equal(myo_pf_generate_image(&p, &rng, imgs[k], NULL, &labels[k], NULL),
                             MYO_OK);
            snprintf(path, sizeof path, "%s/curv_contour_length_14/imgs/%d/sample_%d.png", root,
                     batches[b], i);
            assert_int_equal(myo_png_write_gray8(path, imgs[k], 32, 32), MYO_OK);
            /* the generator's row: subpath file index label and 7 more fields */
            fprintf(meta, "imgs/%d sample_%d.png %d %d 1.0 14 4 2 0.5 1 1\n", batches[b], i, i,
                    labels[k]);
        }
        fclose(meta);
    }
}

static void test_loader(void **state)
{
    (void)state;
    char root[300];
    snprintf(root, sizeof root, "%s/lra/pathfinder32", tmpdir);
    uint8_t imgs[TREE_IMAGES][1024];
    int labels[TREE_IMAGES];
    make_tree(root, imgs, labels);
    myo_dataset d;
    assert_int_equal(myo_pf_load(root, "curv_contour_length_14", 0, &d), MYO_OK);
    assert_int_equal(d.count, TREE_IMAGES);
    assert_string_equal(d.task, "pathfinder");
    assert_string_equal(d.source, "loaded");
    assert_int_equal(d.n, 1024);
    for (int e = 0; e < TREE_IMAGES; e++) {
        assert_int_equal(d.labels[e], labels[e]);
        for (int i = 0; i < 1024; i++)
            assert_int_equal(d.tokens[(size_t)e * 1024 + i], imgs[e][i]);
    }
    assert_int_equal(myo_dataset_validate(&d, "loaded"), MYO_OK);
    /* 80 / 10 / 10 in file order: 9 -> 7 / 1 / 1 */
    assert_int_equal(d.has_splits, 1);
    assert_int_equal(d.split_count[MYO_SPLIT_TRAIN], 7);
    assert_int_equal(d.split_count[MYO_SPLIT_VALID], 1);
    myo_dataset_free(&d);
    /* max_count, difficulty aliases */
    assert_int_equal(myo_pf_load(root, "14", 4, &d), MYO_OK);
    assert_int_equal(d.count, 4);
    assert_int_equal(d.labels[3], labels[3]);
    myo_dataset_free(&d);
    /* a missing difficulty directory: MYO_ERR_IO */
    assert_int_equal(myo_pf_load(root, "curv_baseline", 0, &d), MYO_ERR_IO);
    expect_detail("curv_baseline");
    assert_int_equal(myo_pf_load(root, "nonsense", 0, &d), MYO_ERR_ARG);

    /* malformed rows: MYO_ERR_DATA naming file and line */
    char meta[400];
    snprintf(meta, sizeof meta, "%s/curv_contour_length_14/metadata/2.npy", root);
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"imgs/2 sample_0.png 0 1\nimgs/2 sample_1.png 1\n", "2.npy:2: 3 fields"},
        {"imgs/2 sample_0.png 0 2 1.0\n", "2.npy:1: bad label '2'"},
        {"imgs/2 sample_0.png 0 x\n", "2.npy:1: bad label"},
        {"imgs/2 sample_0.png 0 1.0\n", "2.npy:1: bad label"},
        {"\nimgs/2 sample_9.png 9 1\n", "2.npy:2:"}, /* missing file */
        {"imgs/2 sample_0.txt 0 1\n", "2.npy:1: bad image file name"},
        {"imgs/2 ../x.png 0 1\n", "2.npy:1: bad image file name"},
        {"../../etc sample_0.png 0 1\n", "2.npy:1: image directory"},
        {"/abs sample_0.png 0 1\n", "2.npy:1: bad image directory"},
        {"imgs/2 sample_0.png -1 1\n", "2.npy:1: bad index"},
        {"imgs/2 sample_0.png 0 1\nimgs/0 sample_0.png\n", "2.npy:2: 2 fields"},
    };
    size_t n;
    unsigned char *orig = test_read_file(meta, &n);
    assert_non_null(orig);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        test_write_file(meta, bad[i].text, strlen(bad[i].text));
        myo_status st = myo_pf_load(root, "curv_contour_length_14", 0, &d);
        if (st != MYO_ERR_DATA)
            fail_msg("case %zu: %s (%s)", i, myo_status_str(st), myo_data_error());
        expect_detail(bad[i].needle);
        assert_null(d.tokens);
    }
    /* a corrupt PNG named by a row */
    test_write_file(meta, orig, (size_t)n);
    char png[400], keep[420];
    snprintf(png, sizeof png, "%s/curv_contour_length_14/imgs/2/sample_1.png", root);
    size_t pn;
    unsigned char *pb = test_read_file(png, &pn);
    assert_non_null(pb);
    test_write_file(png, pb, (size_t)pn / 2);
    assert_int_equal(myo_pf_load(root, "curv_contour_length_14", 0, &d), MYO_ERR_DATA);
    expect_detail("2.npy:2:");
    expect_detail("sample_1.png");
    test_write_file(png, pb, (size_t)pn);
    free(pb);
    /* an image of another size */
    uint8_t small[16 * 16] = {0};
    snprintf(png, sizeof png, "%s/curv_contour_length_14/imgs/10/sample_2.png", root);
    snprintf(keep, sizeof keep, "%s.keep", png);
    rename(png, keep);
    assert_int_equal(myo_png_write_gray8(png, small, 16, 16), MYO_OK);
    assert_int_equal(myo_pf_load(root, "curv_contour_length_14", 0, &d), MYO_ERR_DATA);
    expect_detail("10.npy:3:");
    rename(keep, png);
    assert_int_equal(myo_pf_load(root, "curv_contour_length_14", 0, &d), MYO_OK);
    myo_dataset_free(&d);
    free(orig);
}

/* -------------------------------------------------------------- fuzz */

/* Mutations of a metadata file: the row parser and the loader answer OK or
 * MYO_ERR_DATA naming the file and line, never anything else. */
typedef struct {
    const char *root, *meta;
    int64_t ok, data;
} fuzz_ctx;

static void check_metadata(int64_t it, char *buf, size_t len, void *ctx)
{
    fuzz_ctx *f = ctx;
    /* the row parser alone, on the first line */
    char dir[64], file[64];
    int label = -1;
    myo_status st =
        myo_pf_parse_metadata_row(buf, "fuzz", 1, dir, sizeof dir, file, sizeof file, &label);
    assert_true(st == MYO_OK || st == MYO_ERR_DATA);
    if (st == MYO_OK) assert_true(label == 0 || label == 1);
    /* the whole loader */
    test_write_file(f->meta, buf, len);
    myo_dataset d;
    st = myo_pf_load(f->root, "curv_contour_length_14", 0, &d);
    if (st == MYO_OK) {
        f->ok++;
        assert_true(d.count >= 1);
        for (int64_t e = 0; e < d.count; e++)
            assert_true(d.labels[e] == 0 || d.labels[e] == 1);
        myo_dataset_free(&d);
    } else {
        if (st != MYO_ERR_DATA)
            fail_msg("iteration %lld: %s (%s)", (long long)it, myo_status_str(st),
                     myo_data_error());
        f->data++;
        if (!strstr(myo_data_error(), ".npy:"))
            fail_msg("iteration %lld: detail without file:line: %s", (long long)it,
                     myo_data_error());
        assert_null(d.tokens);
    }
}

static void test_fuzz_metadata(void **state)
{
    (void)state;
    char root[300];
    snprintf(root, sizeof root, "%s/fuzz/pathfinder32", tmpdir);
    uint8_t imgs[TREE_IMAGES][1024];
    int labels[TREE_IMAGES];
    make_tree(root, imgs, labels);
    char meta[400];
    snprintf(meta, sizeof meta, "%s/curv_contour_length_14/metadata/0.npy", root);
    size_t n;
    unsigned char *orig = test_read_file(meta, &n);
    assert_non_null(orig);
    fuzz_ctx f = {root, meta, 0, 0};
    int64_t iters = test_fuzz_mutations(20240601, 200, (const char *)orig, n,
                                        " \t\n0123456789./_-abcimgspnx\r\v", check_metadata, &f);
    assert_int_equal(f.ok + f.data, iters);
    assert_true(f.data > 0);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_png_corrupt),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_generator_32),
        cmocka_unit_test(test_generator_128),
        cmocka_unit_test(test_generator_single_paddles),
        cmocka_unit_test(test_generate_dataset),
        cmocka_unit_test(test_loader),
        cmocka_unit_test(test_generate_threads_same_dataset),
        cmocka_unit_test(test_fuzz_metadata),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
