/* test_tree.c -- forests from parent arrays, validation and the builders. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "myosotis.h"
#include "support.h"

static void expect_data_error(const int64_t *parent, int64_t n, const char *needle)
{
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(parent, n, &t), MYO_ERR_DATA);
    assert_null(t);
    if (!strstr(myo_error_detail(), needle))
        fail_msg("detail \"%s\" does not mention \"%s\"", myo_error_detail(), needle);
}

static void test_tree_rejects_out_of_range_parent(void **state)
{
    (void)state;
    int64_t above[4] = {-1, 0, 4, 1};
    expect_data_error(above, 4, "node 2 has parent 4");
    int64_t below[4] = {-1, 0, -2, 1};
    expect_data_error(below, 4, "node 2 has parent -2");
}

static void test_tree_rejects_self_loop(void **state)
{
    (void)state;
    int64_t parent[5] = {-1, 0, 1, 3, 0};
    expect_data_error(parent, 5, "node 3 is its own parent");
}

static void test_tree_rejects_cycle_naming_a_node_on_it(void **state)
{
    (void)state;
    /* 0 is a root; 2 -> 4 -> 3 -> 2 is a cycle with 5 hanging below it. */
    int64_t parent[6] = {-1, 0, 4, 2, 3, 2};
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(parent, 6, &t), MYO_ERR_DATA);
    const char *d = myo_error_detail();
    assert_non_null(strstr(d, "cycle"));
    assert_true(strstr(d, "node 2 ") || strstr(d, "node 3 ") || strstr(d, "node 4 "));
    /* A forest made only of a cycle has no root at all. */
    int64_t ring[3] = {1, 2, 0};
    expect_data_error(ring, 3, "cycle");
}

static void test_tree_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t parent[1] = {-1};
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(parent, 0, &t), MYO_ERR_ARG);
    assert_int_equal(myo_tree_create(NULL, 1, &t), MYO_ERR_ARG);
    assert_int_equal(myo_tree_create(parent, 1, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_tree_create_kary(10, 1, &t), MYO_ERR_ARG);
    assert_int_equal(myo_tree_create_heap(10, 0, &t), MYO_ERR_ARG);
    assert_int_equal(myo_tree_create_chain(0, &t), MYO_ERR_ARG);
    myo_tree_destroy(NULL);
    myo_tree_destroy(&t);
    assert_null(t);
}

/* Check that order is a pre-order of the forest given by parent: a
 * permutation, parents before children, every subtree contiguous. */
static void assert_valid_preorder(const myo_tree *t)
{
    int64_t n = myo_tree_num_nodes(t);
    const int64_t *parent = myo_tree_parents(t), *order = myo_tree_preorder(t);
    int64_t *pos = test_alloc((size_t)n, sizeof(int64_t)),
            *size = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        pos[i] = -1;
    for (int64_t k = 0; k < n; k++) {
        assert_true(order[k] >= 0 && order[k] < n);
        assert_int_equal(pos[order[k]], -1);
        pos[order[k]] = k;
    }
    for (int64_t k = n - 1; k >= 0; k--) { /* subtree sizes, children after parents */
        int64_t u = order[k];
        size[u] += 1;
        if (parent[u] >= 0) {
            assert_true(pos[parent[u]] < k);
            size[parent[u]] += size[u];
        }
    }
    /* Contiguous subtrees: a child lies inside its parent's range. */
    for (int64_t u = 0; u < n; u++)
        if (parent[u] >= 0) assert_true(pos[u] + size[u] <= pos[parent[u]] + size[parent[u]]);
    free(pos), free(size);
}

static void test_tree_accepts_parents_with_larger_labels(void **state)
{
    (void)state;
    int64_t parent[5] = {4, 4, 0, 0, -1};
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(parent, 5, &t), MYO_OK);
    assert_int_equal(myo_tree_num_roots(t), 1);
    assert_int_equal(myo_tree_height(t), 2);
    assert_int_equal(myo_tree_preorder(t)[0], 4);
    assert_valid_preorder(t);
    myo_tree_destroy(&t);
}

static void test_tree_random_shuffled_forests_have_valid_preorder(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        int64_t n = 1 + (int64_t)(seed * 37 % 500), trees = 1 + (int64_t)(seed % 4);
        if (trees > n) trees = n;
        int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
        test_random_forest_parents(n, trees, seed, parent);
        test_shuffle_labels(parent, n, seed + 100, NULL);
        myo_tree *t = NULL;
        assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
        assert_int_equal(myo_tree_num_roots(t), trees);
        assert_memory_equal(myo_tree_parents(t), parent, (size_t)n * sizeof(int64_t));
        assert_valid_preorder(t);
        myo_tree_destroy(&t);
        free(parent);
    }
}

static void test_tree_chain_of_ten_million_nodes_needs_no_recursion(void **state)
{
    (void)state;
    const int64_t n = 10000000;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_chain(n, &t), MYO_OK);
    assert_int_equal(myo_tree_height(t), n - 1);
    assert_int_equal(myo_tree_num_roots(t), 1);
    assert_int_equal(myo_tree_preorder(t)[n - 1], n - 1);
    myo_tree_destroy(&t);
    /* The same chain labelled backwards: root n-1, parent(i) = i + 1. */
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i + 1 < n ? i + 1 : -1;
    assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
    assert_int_equal(myo_tree_height(t), n - 1);
    assert_int_equal(myo_tree_preorder(t)[0], n - 1);
    myo_tree_destroy(&t);
    free(parent);
}

static void test_tree_star_of_100k_children_has_height_one(void **state)
{
    (void)state;
    const int64_t n = 100001;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i ? 0 : -1;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
    assert_int_equal(myo_tree_height(t), 1);
    for (int64_t k = 0; k < n; k++)
        assert_int_equal(myo_tree_preorder(t)[k], k);
    myo_tree_destroy(&t);
    free(parent);
}

static void test_tree_heap_parent_is_index_minus_one_over_arity(void **state)
{
    (void)state;
    for (int arity = 2; arity <= 5; arity++) {
        myo_tree *t = NULL;
        assert_int_equal(myo_tree_create_heap(1000, arity, &t), MYO_OK);
        const int64_t *parent = myo_tree_parents(t);
        assert_int_equal(parent[0], -1);
        for (int64_t i = 1; i < 1000; i++)
            assert_int_equal(parent[i], (i - 1) / arity);
        assert_valid_preorder(t);
        myo_tree_destroy(&t);
    }
}

static int64_t ceil_log(int64_t n, int k)
{
    int64_t h = 0, reach = 1;
    while (reach < n)
        reach *= k, h++;
    return h;
}

static void test_tree_kary_is_balanced_over_contiguous_token_ranges(void **state)
{
    (void)state;
    for (int arity = 2; arity <= 7; arity++)
        for (int64_t n = 1; n <= 300; n += (n < 40 ? 1 : 17)) {
            myo_tree *t = NULL;
            assert_int_equal(myo_tree_create_kary(n, arity, &t), MYO_OK);
            int64_t total = myo_tree_num_nodes(t);
            const int64_t *parent = myo_tree_parents(t), *order = myo_tree_preorder(t);
            assert_int_equal(myo_tree_num_tokens(t), n);
            assert_int_equal(myo_tree_num_roots(t), 1);
            assert_int_equal(myo_tree_height(t), ceil_log(n, arity));
            assert_valid_preorder(t);
            /* Tokens are leaves, met in sequence order; internal nodes are
             * labelled n, n+1, ... in pre-order and have 2..arity children. */
            int64_t *children = test_alloc((size_t)total, sizeof(int64_t));
            for (int64_t i = 0; i < total; i++)
                if (parent[i] >= 0) children[parent[i]]++;
            int64_t next_token = 0, next_internal = n;
            for (int64_t k = 0; k < total; k++) {
                int64_t u = order[k];
                if (u < n) {
                    assert_int_equal(u, next_token++);
                    assert_int_equal(children[u], 0);
                } else {
                    assert_int_equal(u, next_internal++);
                    assert_true(children[u] >= 2 && children[u] <= arity);
                }
            }
            assert_int_equal(next_token, n);
            free(children);
            myo_tree_destroy(&t);
        }
}

static void test_tree_kary_parts_differ_by_at_most_one(void **state)
{
    (void)state;
    /* 10 tokens in 3 parts: 4, 3, 3 -> root has 3 children covering them. */
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_kary(10, 3, &t), MYO_OK);
    const int64_t *parent = myo_tree_parents(t);
    int64_t n = 10, root = n;
    assert_int_equal(parent[root], -1);
    /* Tokens 7, 8, 9 (the last part) share one parent, a child of the root. */
    assert_int_equal(parent[7], parent[8]);
    assert_int_equal(parent[8], parent[9]);
    assert_int_equal(parent[parent[9]], root);
    assert_true(parent[6] != parent[7]);
    /* The first part (0..3) splits again into 2, 1, 1. */
    assert_int_equal(parent[0], parent[1]);
    assert_int_equal(parent[2], parent[3]);
    assert_int_equal(parent[parent[0]], parent[2]);
    myo_tree_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_rejects_out_of_range_parent),
        cmocka_unit_test(test_tree_rejects_self_loop),
        cmocka_unit_test(test_tree_rejects_cycle_naming_a_node_on_it),
        cmocka_unit_test(test_tree_rejects_bad_arguments),
        cmocka_unit_test(test_tree_accepts_parents_with_larger_labels),
        cmocka_unit_test(test_tree_random_shuffled_forests_have_valid_preorder),
        cmocka_unit_test(test_tree_chain_of_ten_million_nodes_needs_no_recursion),
        cmocka_unit_test(test_tree_star_of_100k_children_has_height_one),
        cmocka_unit_test(test_tree_heap_parent_is_index_minus_one_over_arity),
        cmocka_unit_test(test_tree_kary_is_balanced_over_contiguous_token_ranges),
        cmocka_unit_test(test_tree_kary_parts_differ_by_at_most_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
