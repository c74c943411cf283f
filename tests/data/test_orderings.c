/* test_orderings.c -- raster, Morton and Hilbert flattenings and their quad-trees. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "myosotis.h"
#include "myo_data.h"
#include "dataset_file.h"
#include "images.h"
#include "orderings.h"
#include "support.h"

static const myo_ordering curves[2] = {MYO_ORDER_MORTON, MYO_ORDER_HILBERT};

static int32_t *perm_of(myo_ordering o, int side)
{
    int32_t *perm = test_alloc((size_t)side * side, sizeof *perm);
    assert_int_equal(myo_ordering_perm(o, side, perm), MYO_OK);
    return perm;
}

/* The perm of o on a side x side image is want (side * side,). */
static void expect_perm(myo_ordering o, int side, const int32_t *want)
{
    int32_t *p = perm_of(o, side);
    assert_memory_equal(p, want, (size_t)side * side * sizeof *want);
    free(p);
}

static void test_known_small_cases(void **state)
{
    (void)state;
    /* hand-checked: (x, y) visited, raster index y * side + x */
    const int32_t morton2[4] = {0, 1, 2, 3};  /* (0,0) (1,0) (0,1) (1,1) */
    const int32_t hilbert2[4] = {0, 2, 3, 1}; /* (0,0) (0,1) (1,1) (1,0) */
    const int32_t morton4[16] = {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
    /* (0,0) (1,0) (1,1) (0,1) | (0,2) (0,3) (1,3) (1,2) | (2,2) (2,3) (3,3) (3,2) |
     * (3,1) (2,1) (2,0) (3,0) */
    const int32_t hilbert4[16] = {0, 1, 5, 4, 8, 12, 13, 9, 10, 14, 15, 11, 7, 6, 2, 3};
    const int32_t raster3[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    expect_perm(MYO_ORDER_MORTON, 2, morton2);
    expect_perm(MYO_ORDER_HILBERT, 2, hilbert2);
    expect_perm(MYO_ORDER_MORTON, 4, morton4);
    expect_perm(MYO_ORDER_HILBERT, 4, hilbert4);
    expect_perm(MYO_ORDER_RASTER, 3, raster3);
    /* 3x3 (embedded in 4x4, out-of-image cells skipped) */
    const int32_t morton3[9] = {0, 1, 3, 4, 2, 5, 6, 7, 8};
    const int32_t hilbert3[9] = {0, 1, 4, 3, 6, 7, 8, 5, 2};
    expect_perm(MYO_ORDER_MORTON, 3, morton3);
    expect_perm(MYO_ORDER_HILBERT, 3, hilbert3);
}

static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    for (int k = 0; k <= 6; k++) {
        uint64_t cells = (uint64_t)1 << (2 * k);
        for (uint64_t d = 0; d < cells; d++) {
            uint32_t x, y;
            myo_morton_decode(d, &x, &y);
            assert_true(x < (1u << k) && y < (1u << k));
            assert_int_equal(myo_morton_encode(x, y), d);
            myo_hilbert_decode(k, d, &x, &y);
            assert_true(x < (1u << k) && y < (1u << k));
            assert_int_equal(myo_hilbert_encode(k, x, y), d);
            if (d > 0) { /* Hilbert: consecutive cells are grid neighbours */
                uint32_t px, py;
                myo_hilbert_decode(k, d - 1, &px, &py);
                int dist = abs((int)x - (int)px) + abs((int)y - (int)py);
                assert_int_equal(dist, 1);
            }
        }
    }
    assert_int_equal(myo_morton_encode(0xffffffffu, 0), 0x5555555555555555ULL);
    uint32_t x, y;
    myo_morton_decode(0xAAAAAAAAAAAAAAAAULL, &x, &y);
    assert_int_equal(x, 0);
    assert_int_equal(y, 0xffffffffu);
}

static void test_perms_and_inverses(void **state)
{
    (void)state;
    const int sides[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 64, 100, 128};
    for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
        int side = sides[i];
        int64_t n = (int64_t)side * side;
        for (int o = 0; o < 3; o++) {
            int32_t *p = perm_of((myo_ordering)o, side);
            assert_true(myo_perm_is_valid(p, n));
            int32_t *inv = test_alloc((size_t)n, sizeof *inv);
            assert_int_equal(myo_perm_inverse(p, n, inv), MYO_OK);
            for (int64_t q = 0; q < n; q++) {
                assert_int_equal(inv[p[q]], q); /* inv o perm = id */
                assert_int_equal(p[inv[q]], q); /* perm o inv = id */
            }
            free(inv);
            free(p);
        }
    }
    int32_t bad[3] = {0, 2, 2}, inv[3];
    assert_false(myo_perm_is_valid(bad, 3));
    assert_int_equal(myo_perm_inverse(bad, 3, inv), MYO_ERR_DATA);
    assert_non_null(strstr(myo_data_error(), "perm[2] = 2 repeats perm[1]"));
    bad[2] = 3;
    assert_int_equal(myo_perm_inverse(bad, 3, inv), MYO_ERR_DATA);
    assert_non_null(strstr(myo_data_error(), "outside"));
    int32_t one[1];
    assert_int_equal(myo_ordering_perm(MYO_ORDER_MORTON, 0, one), MYO_ERR_ARG);
    assert_int_equal(myo_ordering_perm((myo_ordering)7, 2, one), MYO_ERR_ARG);
}

static void test_names(void **state)
{
    (void)state;
    myo_ordering o;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(myo_ordering_parse(myo_ordering_name((myo_ordering)i), &o), MYO_OK);
        assert_int_equal(o, i);
    }
    assert_int_equal(myo_ordering_parse("zorder", &o), MYO_OK);
    assert_int_equal(o, MYO_ORDER_MORTON);
    assert_int_equal(myo_ordering_parse("snake", &o), MYO_ERR_ARG);
    assert_non_null(strstr(myo_data_error(), "snake"));
}

/* Every node of the forest (parents of N nodes, tokens 0..n-1 = sequence
 * positions) covers a contiguous range of positions and a rectangle of the
 * image (a square aligned on its side when square is set); every internal
 * node has >= 2 children. */
static void check_blocks(const int64_t *parent, int64_t N, int64_t n, const int32_t *perm, int side,
                         int square)
{
    int64_t *lo = test_alloc((size_t)N, sizeof *lo), *hi = test_alloc((size_t)N, sizeof *hi);
    int64_t *cnt = test_alloc((size_t)N, sizeof *cnt), *kids = test_alloc((size_t)N, sizeof *kids);
    int64_t *x0 = test_alloc((size_t)N, sizeof *x0), *x1 = test_alloc((size_t)N, sizeof *x1);
    int64_t *y0 = test_alloc((size_t)N, sizeof *y0), *y1 = test_alloc((size_t)N, sizeof *y1);
    for (int64_t v = 0; v < N; v++) {
        lo[v] = x0[v] = y0[v] = INT64_MAX;
        hi[v] = x1[v] = y1[v] = -1;
        cnt[v] = kids[v] = 0;
    }
    int64_t roots = 0;
    for (int64_t v = 0; v < N; v++) {
        if (parent[v] >= 0)
            kids[parent[v]]++;
        else
            roots++;
        if (v < n) assert_int_equal(kids[v], 0);
    }
    assert_int_equal(roots, 1);
    for (int64_t p = 0; p < n; p++) {
        int64_t x = perm[p] % side, y = perm[p] / side;
        for (int64_t v = p; v >= 0; v = parent[v]) {
            if (p < lo[v]) lo[v] = p;
            if (p > hi[v]) hi[v] = p;
            if (x < x0[v]) x0[v] = x;
            if (x > x1[v]) x1[v] = x;
            if (y < y0[v]) y0[v] = y;
            if (y > y1[v]) y1[v] = y;
            cnt[v]++;
        }
    }
    for (int64_t v = n; v < N; v++) {
        assert_true(kids[v] >= 2);
        if (hi[v] - lo[v] + 1 != cnt[v])
            fail_msg("side %d: node %lld covers %lld positions in [%lld, %lld]", side, (long long)v,
                     (long long)cnt[v], (long long)lo[v], (long long)hi[v]);
        int64_t w = x1[v] - x0[v] + 1, h = y1[v] - y0[v] + 1;
        if (w * h != cnt[v])
            fail_msg("side %d: node %lld covers %lld pixels, not its %lldx%lld bounding box", side,
                     (long long)v, (long long)cnt[v], (long long)w, (long long)h);
        if (square) {
            assert_int_equal(w, h);
            assert_int_equal(x0[v] % w, 0);
            assert_int_equal(y0[v] % h, 0);
        }
    }
    free(lo), free(hi), free(cnt), free(kids), free(x0), free(x1), free(y0), free(y1);
}

static void test_quadtree_alignment_powers_of_two(void **state)
{
    (void)state;
    for (int k = 1; k <= 5; k++) {
        int side = 1 << k;
        int64_t n = (int64_t)side * side;
        myo_tree *kary = NULL;
        assert_int_equal(myo_tree_create_kary(n, 4, &kary), MYO_OK);
        int64_t N = myo_tree_num_nodes(kary);
        assert_int_equal(N, (4 * n - 1) / 3); /* a full 4-ary tree */
        for (int c = 0; c < 2; c++) {
            int32_t *perm = perm_of(curves[c], side);
            check_blocks(myo_tree_parents(kary), N, n, perm, side, 1);
            myo_tree *qt = NULL;
            assert_int_equal(myo_ordering_quadtree(curves[c], side, &qt), MYO_OK);
            assert_int_equal(myo_tree_num_nodes(qt), N);
            assert_memory_equal(myo_tree_parents(qt), myo_tree_parents(kary),
                                (size_t)N * sizeof(int64_t));
            myo_tree_destroy(&qt);
            free(perm);
        }
        myo_tree_destroy(&kary);
    }
}

static void test_quadtree_other_sizes(void **state)
{
    (void)state;
    const int sides[] = {1, 2, 3, 5, 6, 7, 9, 12, 13, 20, 31, 33};
    for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
        int side = sides[i];
        int64_t n = (int64_t)side * side;
        for (int c = 0; c < 2; c++) {
            int32_t *perm = perm_of(curves[c], side);
            myo_tree *qt = NULL;
            assert_int_equal(myo_ordering_quadtree(curves[c], side, &qt), MYO_OK);
            int64_t N = myo_tree_num_nodes(qt);
            assert_true(N >= n && N < 2 * n);
            check_blocks(myo_tree_parents(qt), N, n, perm, side, 0);
            myo_tree_destroy(&qt);
            free(perm);
        }
    }
    myo_tree *qt = NULL;
    assert_int_equal(myo_ordering_quadtree(MYO_ORDER_RASTER, 4, &qt), MYO_ERR_ARG);
    assert_null(qt);
}

static void test_dataset_reorder(void **state)
{
    (void)state;
    myo_dataset d, m;
    const int side = 8;
    assert_int_equal(myo_images_synthetic(5, side, 42, &d), MYO_OK);
    assert_int_equal(myo_dataset_reorder_copy(&d, MYO_ORDER_HILBERT, side, &m), MYO_OK);
    int32_t *perm = perm_of(MYO_ORDER_HILBERT, side);
    for (int64_t e = 0; e < d.count; e++)
        for (int64_t p = 0; p < d.n; p++)
            assert_int_equal(m.tokens[e * d.n + p], d.tokens[e * d.n + perm[p]]);
    assert_memory_equal(m.labels, d.labels, (size_t)d.count * sizeof(int32_t));
    assert_string_equal(myo_dataset_get_attr(&m, "ordering"), "hilbert");
    assert_string_equal(myo_dataset_get_attr(&d, "ordering"), "raster");
    assert_string_equal(m.task, "image");
    /* back to raster in place with the inverse */
    int32_t *inv = test_alloc((size_t)d.n, sizeof *inv);
    assert_int_equal(myo_perm_inverse(perm, d.n, inv), MYO_OK);
    assert_int_equal(myo_dataset_permute(&m, inv), MYO_OK);
    assert_memory_equal(m.tokens, d.tokens, (size_t)(d.count * d.n) * sizeof(int32_t));
    /* wrong side, padded documents, parse trees are refused */
    assert_int_equal(myo_dataset_reorder(&m, MYO_ORDER_MORTON, 7), MYO_ERR_ARG);
    m.lengths[3] = 10;
    assert_int_equal(myo_dataset_reorder(&m, MYO_ORDER_MORTON, side), MYO_ERR_ARG);
    assert_non_null(strstr(myo_data_error(), "example 3"));
    assert_memory_equal(m.tokens, d.tokens, (size_t)(d.count * d.n) * sizeof(int32_t));
    assert_int_equal(myo_dataset_reorder(&d, MYO_ORDER_MORTON, side), MYO_OK);
    assert_string_equal(myo_dataset_get_attr(&d, "ordering"), "morton");
    free(inv);
    free(perm);
    myo_dataset_free(&d);
    myo_dataset_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_small_cases),
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_perms_and_inverses),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_quadtree_alignment_powers_of_two),
        cmocka_unit_test(test_quadtree_other_sizes),
        cmocka_unit_test(test_dataset_reorder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
