/* test_dist_partition.c -- the partitioners of the distributed solvers
 * (myosotis_dist.h, "partitioning"), serially: every rank's off is the
 * same local computation, so one process checks them all.
 *
 * The expectations are computed here from the public parent array and
 * pre-order only (not the library's subtree sizes): leaves are the nodes
 * without children, each node's leaf set is marked by walking up from
 * every leaf, and each node's owner is the rank of its leftmost leaf. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myosotis.h"
#include "myosotis_dist.h"
#include "support.h"

/* The rank whose leaf share floor(L r / size) .. floor(L (r + 1) / size) - 1
 * holds leaf index a: brute force over the ranks. */
static int share_rank(int64_t leaves, int size, int64_t a)
{
    for (int r = 0; r < size; r++)
        if (leaves * r / size <= a && a < leaves * (r + 1) / size) return r;
    fail_msg("leaf %lld is in no share", (long long)a);
    return -1;
}

/* The rank whose range [off[r], off[r + 1]) holds position p. */
static int owner_of(const int64_t *off, int size, int64_t p)
{
    for (int r = 0; r < size; r++)
        if (off[r] <= p && p < off[r + 1]) return r;
    fail_msg("position %lld is in no range", (long long)p);
    return -1;
}

static void expect_tiling(const int64_t *off, int size, int64_t n, const char *what)
{
    if (off[0] != 0 || off[size] != n)
        fail_msg("%s, size %d: off[0] = %lld, off[size] = %lld, N = %lld", what, size,
                 (long long)off[0], (long long)off[size], (long long)n);
    for (int r = 0; r < size; r++)
        if (off[r] > off[r + 1])
            fail_msg("%s, size %d: off[%d] = %lld > off[%d] = %lld", what, size, r,
                     (long long)off[r], r + 1, (long long)off[r + 1]);
}

/* The leaf-range checks on t for one size.  kary: the tokens 0 .. L - 1
 * are the leaves in sequence order. */
static void check_leaf_ranges_one(const myo_tree *t, int size, int kary, const char *what)
{
    const int64_t n = myo_tree_num_nodes(t);
    const int64_t *parent = myo_tree_parents(t), *order = myo_tree_preorder(t);
    int64_t *pos = test_alloc((size_t)n, sizeof(int64_t));
    int64_t *nchild = test_alloc((size_t)n, sizeof(int64_t));
    int64_t *leaf_index = test_alloc((size_t)n, sizeof(int64_t)); /* by label, -1 if inner */
    int64_t *leftmost = test_alloc((size_t)n, sizeof(int64_t));   /* by label */
    int64_t *off = test_alloc((size_t)size + 1, sizeof(int64_t));
    for (int64_t p = 0; p < n; p++)
        pos[order[p]] = p;
    memset(nchild, 0, (size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        if (parent[i] >= 0) nchild[parent[i]]++;
    int64_t leaves = 0;
    for (int64_t p = 0; p < n; p++)
        leaf_index[order[p]] = nchild[order[p]] == 0 ? leaves++ : -1;
    for (int64_t i = 0; i < n; i++)
        leftmost[i] = INT64_MAX;
    for (int64_t i = 0; i < n; i++)
        if (leaf_index[i] >= 0)
            for (int64_t v = i; v >= 0; v = parent[v])
                if (leaf_index[i] < leftmost[v]) leftmost[v] = leaf_index[i];

    int idle = -1;
    assert_int_equal(myo_dist_leaf_ranges(t, size, off, &idle), MYO_OK);
    expect_tiling(off, size, n, what);

    /* Every node is on the rank owning its leftmost leaf: a node whose
     * leaves all lie in one share goes with them, a spanning node with its
     * first leaf. */
    for (int64_t i = 0; i < n; i++) {
        int want = share_rank(leaves, size, leftmost[i]);
        int got = owner_of(off, size, pos[i]);
        if (got != want)
            fail_msg("%s, size %d: node %lld (position %lld, leftmost leaf %lld) on rank %d, "
                     "want %d",
                     what, size, (long long)i, (long long)pos[i], (long long)leftmost[i], got,
                     want);
    }
    /* Every range holds exactly its share of leaves; idle ranks are those
     * with no share. */
    int want_idle = 0;
    for (int r = 0; r < size; r++) {
        int64_t f0 = leaves * r / size, f1 = leaves * (r + 1) / size, next = f0;
        for (int64_t p = off[r]; p < off[r + 1]; p++) {
            int64_t a = leaf_index[order[p]];
            if (a < 0) continue;
            if (a != next)
                fail_msg("%s, size %d: rank %d holds leaf %lld, want %lld", what, size, r,
                         (long long)a, (long long)next);
            next++;
            /* kary: tokens are the leaves, so the rank's tokens are the
             * contiguous labels f0 .. f1 - 1. */
            if (kary && order[p] != a)
                fail_msg("%s, size %d: leaf %lld is label %lld, not token %lld", what, size,
                         (long long)a, (long long)order[p], (long long)a);
        }
        if (next != f1)
            fail_msg("%s, size %d: rank %d holds leaves %lld .. %lld, want .. %lld", what, size, r,
                     (long long)f0, (long long)next - 1, (long long)f1 - 1);
        if (f0 == f1) {
            want_idle++;
            assert_int_equal(off[r], off[r + 1]);
        }
    }
    assert_int_equal(idle, want_idle);
    int64_t *off2 = test_alloc((size_t)size + 1, sizeof(int64_t));
    assert_int_equal(myo_dist_leaf_ranges(t, size, off2, NULL), MYO_OK);
    assert_memory_equal(off, off2, ((size_t)size + 1) * sizeof(int64_t));
    free(off2);
    if (kary) {
        /* Token ranges: the tokens of rank r are labels [f_r, f_{r+1}). */
        for (int r = 0; r < size; r++) {
            int64_t lo = INT64_MAX, hi = -1, count = 0;
            for (int64_t p = off[r]; p < off[r + 1]; p++)
                if (order[p] < myo_tree_num_tokens(t)) {
                    count++;
                    if (order[p] < lo) lo = order[p];
                    if (order[p] > hi) hi = order[p];
                }
            if (count) assert_int_equal(hi - lo + 1, count);
        }
    }
    free(pos);
    free(nchild);
    free(leaf_index);
    free(leftmost);
    free(off);
}

static int64_t count_childless(const myo_tree *t)
{
    const int64_t n = myo_tree_num_nodes(t), *parent = myo_tree_parents(t);
    unsigned char *inner = calloc((size_t)n, 1);
    assert_non_null(inner);
    for (int64_t i = 0; i < n; i++)
        if (parent[i] >= 0) inner[parent[i]] = 1;
    int64_t leaves = 0;
    for (int64_t i = 0; i < n; i++)
        leaves += !inner[i];
    free(inner);
    return leaves;
}

/* sizes 1 .. 9 and around and beyond the number of leaves */
static void check_leaf_ranges(const myo_tree *t, int kary, const char *what)
{
    for (int size = 1; size <= 9; size++)
        check_leaf_ranges_one(t, size, kary, what);
    int64_t leaves = count_childless(t);
    int extra[] = {(int)leaves - 1, (int)leaves, (int)leaves + 1, (int)leaves + 5,
                   2 * (int)leaves + 3};
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++)
        if (extra[k] >= 1) check_leaf_ranges_one(t, extra[k], kary, what);
}

static void test_dist_partition_leaf_ranges_kary(void **state)
{
    (void)state;
    const int64_t tokens[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 16, 17, 26, 27, 31, 64, 100};
    for (int k = 2; k <= 4; k++)
        for (size_t j = 0; j < sizeof tokens / sizeof tokens[0]; j++) {
            myo_tree *t = NULL;
            assert_int_equal(myo_tree_create_kary(tokens[j], k, &t), MYO_OK);
            assert_int_equal(count_childless(t), tokens[j]);
            char what[64];
            snprintf(what, sizeof what, "kary k = %d, %lld tokens", k, (long long)tokens[j]);
            check_leaf_ranges(t, 1, what);
            myo_tree_destroy(&t);
        }
}

/* A hand-checked case: kary(8, 2) is ((0 1)(2 3))((4 5)(6 7)) with the
 * internal nodes 8 .. 14 in pre-order; positions: 8 9 10 0 1 11 2 3 12 13
 * 4 5 14 6 7. */
static void test_dist_partition_leaf_ranges_kary_by_hand(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_kary(8, 2, &t), MYO_OK);
    const int64_t want_order[15] = {8, 9, 10, 0, 1, 11, 2, 3, 12, 13, 4, 5, 14, 6, 7};
    assert_memory_equal(myo_tree_preorder(t), want_order, sizeof want_order);
    int64_t off[9];
    int idle = -1;
    /* 4 ranks, 2 tokens each: rank 1 starts at node 11 (leaves 2, 3), rank
     * 2 at node 12, the top of the second half, rank 3 at node 14. */
    assert_int_equal(myo_dist_leaf_ranges(t, 4, off, &idle), MYO_OK);
    const int64_t want4[5] = {0, 5, 8, 12, 15};
    assert_memory_equal(off, want4, sizeof want4);
    assert_int_equal(idle, 0);
    /* 3 ranks: leaves 0 1 | 2 3 4 | 5 6 7: rank 1 from node 11, rank 2 from
     * leaf 5 itself (its parent 13 starts with leaf 4). */
    assert_int_equal(myo_dist_leaf_ranges(t, 3, off, &idle), MYO_OK);
    const int64_t want3[4] = {0, 5, 11, 15};
    assert_memory_equal(off, want3, sizeof want3);
    /* 8 ranks over 8 leaves: a leaf each; 16 ranks: every other rank idle
     * (shares floor(8 r / 16): ranks 0, 2, 4 .. are empty). */
    assert_int_equal(myo_dist_leaf_ranges(t, 8, off, &idle), MYO_OK);
    const int64_t want8[9] = {0, 4, 5, 7, 8, 11, 12, 14, 15};
    assert_memory_equal(off, want8, sizeof want8);
    assert_int_equal(idle, 0);
    int64_t off16[17];
    assert_int_equal(myo_dist_leaf_ranges(t, 16, off16, &idle), MYO_OK);
    assert_int_equal(idle, 8);
    for (int r = 0; r < 16; r += 2)
        assert_int_equal(off16[r], off16[r + 1]);
    myo_tree_destroy(&t);
}

static void test_dist_partition_leaf_ranges_chains_and_heaps(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 2, 5, 20};
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
        myo_tree *t = NULL;
        assert_int_equal(myo_tree_create_chain(ns[j], &t), MYO_OK);
        check_leaf_ranges(t, 0, "chain");
        /* One leaf: the whole chain on the last rank (the one with leaf 0). */
        int64_t off[6];
        int idle = -1;
        assert_int_equal(myo_dist_leaf_ranges(t, 5, off, &idle), MYO_OK);
        assert_int_equal(idle, 4);
        assert_int_equal(off[4], 0);
        myo_tree_destroy(&t);
    }
    for (int k = 2; k <= 3; k++) {
        myo_tree *t = NULL;
        assert_int_equal(myo_tree_create_heap(40, k, &t), MYO_OK);
        check_leaf_ranges(t, 0, "heap");
        myo_tree_destroy(&t);
    }
}

static void test_dist_partition_leaf_ranges_random_forests_shuffled(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 2, 3, 10, 50, 137};
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            for (int kind = 0; kind < 4; kind++) {
                int64_t n = ns[j];
                int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
                if (kind & 1)
                    test_random_forest_parents(n, n < 4 ? 1 : n / 4, seed, parent);
                else
                    test_random_recursive_parents(n, seed, parent);
                if (kind & 2) test_shuffle_labels(parent, n, seed + 100, NULL);
                myo_tree *t = NULL;
                assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
                char what[80];
                snprintf(what, sizeof what, "%s%s n = %lld seed %llu",
                         kind & 1 ? "forest" : "recursive", kind & 2 ? " shuffled" : "",
                         (long long)n, (unsigned long long)seed);
                check_leaf_ranges(t, 0, what);
                myo_tree_destroy(&t);
                free(parent);
            }
}

/* O(N): a large hierarchy over many ranks, checked through its tokens. */
static void test_dist_partition_leaf_ranges_large_kary(void **state)
{
    (void)state;
    const int64_t tokens = (1 << 20) + 12345;
    const int size = 4099;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_kary(tokens, 4, &t), MYO_OK);
    const int64_t n = myo_tree_num_nodes(t), *order = myo_tree_preorder(t);
    int64_t *off = test_alloc((size_t)size + 1, sizeof(int64_t));
    int idle = -1;
    assert_int_equal(myo_dist_leaf_ranges(t, size, off, &idle), MYO_OK);
    expect_tiling(off, size, n, "large kary");
    assert_int_equal(idle, 0);
    for (int r = 0; r < size; r++) {
        int64_t next = tokens * r / size;
        for (int64_t p = off[r]; p < off[r + 1]; p++)
            if (order[p] < tokens) assert_int_equal(order[p], next++);
        assert_int_equal(next, tokens * (r + 1) / size);
    }
    free(off);
    myo_tree_destroy(&t);
}

/* The work-range checks for one size: the documented cut (off[r] is the
 * smallest p with S(p) >= total r / size, recomputed by brute force) and
 * the balance it implies. */
static void check_work_ranges_one(const myo_tree *t, int size, const double *work, const char *what)
{
    const int64_t n = myo_tree_num_nodes(t), *order = myo_tree_preorder(t);
    int64_t *off = test_alloc((size_t)size + 1, sizeof(int64_t));
    int idle = -1;
    assert_int_equal(myo_dist_work_ranges(t, size, work, off, &idle), MYO_OK);
    expect_tiling(off, size, n, what);
    double total = 0, wmax = 0;
    for (int64_t p = 0; p < n; p++) {
        double w = work ? work[order[p]] : 1.0;
        total += w;
        if (w > wmax) wmax = w;
    }
    int want_idle = 0;
    for (int r = 0; r < size; r++) {
        want_idle += off[r] == off[r + 1];
        if (r > 0 && total > 0) {
            int64_t want = n;
            double s = 0;
            for (int64_t p = 0; p <= n; p++) {
                if (s >= total * r / size) {
                    want = p;
                    break;
                }
                if (p < n) s += work ? work[order[p]] : 1.0;
            }
            if (off[r] != want)
                fail_msg("%s, size %d: off[%d] = %lld, want %lld", what, size, r, (long long)off[r],
                         (long long)want);
        }
        double w = 0;
        for (int64_t p = off[r]; p < off[r + 1]; p++)
            w += work ? work[order[p]] : 1.0;
        if (w > total / size + wmax + 1e-12 * total)
            fail_msg("%s, size %d: rank %d has work %g > %g / %d + %g", what, size, r, w, total,
                     size, wmax);
        /* Unit work: off[r] = ceil(N r / size) exactly. */
        if (!work) assert_int_equal(off[r], (n * r + size - 1) / size);
    }
    assert_int_equal(idle, want_idle);
    free(off);
}

static void check_work_ranges(const myo_tree *t, const double *work, const char *what)
{
    const int64_t n = myo_tree_num_nodes(t);
    for (int size = 1; size <= 9; size++)
        check_work_ranges_one(t, size, work, what);
    check_work_ranges_one(t, (int)n, work, what);
    check_work_ranges_one(t, (int)n + 3, work, what);
    check_work_ranges_one(t, 2 * (int)n + 1, work, what);
}

static void test_dist_partition_work_ranges_balance(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 2, 7, 40, 137};
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
        for (int kind = 0; kind < 4; kind++) {
            int64_t n = ns[j];
            myo_tree *t = NULL;
            if (kind == 0) {
                assert_int_equal(myo_tree_create_kary(n, 3, &t), MYO_OK);
            } else if (kind == 1) {
                assert_int_equal(myo_tree_create_chain(n, &t), MYO_OK);
            } else {
                int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
                test_random_forest_parents(n, kind == 2 ? 1 : (n + 2) / 3, (uint64_t)j + 7, parent);
                test_shuffle_labels(parent, n, (uint64_t)j + 11, NULL);
                assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
                free(parent);
            }
            const int64_t nn = myo_tree_num_nodes(t);
            char what[80];
            snprintf(what, sizeof what, "work kind %d n = %lld", kind, (long long)nn);
            check_work_ranges(t, NULL, what);
            double *w = test_alloc((size_t)nn, sizeof(double));
            /* Random real work with some zeros. */
            test_random_values(w, nn, (uint64_t)(100 + j * 4 + kind));
            for (int64_t i = 0; i < nn; i++)
                w[i] = i % 5 == 2 ? 0.0 : fabs(w[i]);
            check_work_ranges(t, w, what);
            /* Integer work with one heavy node. */
            for (int64_t i = 0; i < nn; i++)
                w[i] = (double)((i * 7919) % 10);
            w[nn / 2] = 10.0 * (double)nn;
            check_work_ranges(t, w, what);
            free(w);
            myo_tree_destroy(&t);
        }
}

/* Documented choices: total work zero falls back to even node counts; the
 * node that crosses a target stays on the lower rank. */
static void test_dist_partition_work_ranges_zero_total_and_crossing_side(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_chain(6, &t), MYO_OK);
    double zero[6] = {0};
    int64_t off[4], even[4];
    int idle = -1;
    assert_int_equal(myo_dist_work_ranges(t, 3, zero, off, &idle), MYO_OK);
    assert_int_equal(myo_dist_even_ranges(6, 3, even), MYO_OK);
    assert_memory_equal(off, even, sizeof off);
    assert_int_equal(idle, 0);
    /* total 12, targets 4 and 8: S = 0 3 4 7 9 9 12 at p = 0 .. 6; rank 1
     * starts at p = 2 (S = 4 reached), rank 2 at p = 4 (S = 9 >= 8: node 3,
     * which crosses 8, stays on rank 1). */
    double w[6] = {3, 1, 3, 2, 0, 3};
    assert_int_equal(myo_dist_work_ranges(t, 3, w, off, &idle), MYO_OK);
    const int64_t want[4] = {0, 2, 4, 6};
    assert_memory_equal(off, want, sizeof want);
    myo_tree_destroy(&t);
}

static void expect_arg_error(myo_status s, const char *needle)
{
    assert_int_equal(s, MYO_ERR_ARG);
    if (needle && !strstr(myo_error_detail(), needle))
        fail_msg("detail \"%s\" does not mention \"%s\"", myo_error_detail(), needle);
}

static void test_dist_partition_rejects_bad_arguments(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_kary(5, 2, &t), MYO_OK);
    const int64_t n = myo_tree_num_nodes(t);
    int64_t off[4];
    int idle;
    expect_arg_error(myo_dist_leaf_ranges(NULL, 3, off, &idle), NULL);
    expect_arg_error(myo_dist_leaf_ranges(t, 3, NULL, &idle), NULL);
    expect_arg_error(myo_dist_leaf_ranges(t, 0, off, &idle), NULL);
    expect_arg_error(myo_dist_leaf_ranges(t, -2, off, &idle), NULL);
    expect_arg_error(myo_dist_work_ranges(NULL, 3, NULL, off, &idle), NULL);
    expect_arg_error(myo_dist_work_ranges(t, 3, NULL, NULL, &idle), NULL);
    expect_arg_error(myo_dist_work_ranges(t, 0, NULL, off, &idle), NULL);
    double *w = test_alloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i++)
        w[i] = 1.0;
    w[3] = -0.5;
    expect_arg_error(myo_dist_work_ranges(t, 3, w, off, &idle), "node 3 ");
    w[3] = 1.0;
    w[n - 1] = NAN;
    char needle[32];
    snprintf(needle, sizeof needle, "node %lld ", (long long)(n - 1));
    expect_arg_error(myo_dist_work_ranges(t, 3, w, off, &idle), needle);
    w[n - 1] = INFINITY;
    expect_arg_error(myo_dist_work_ranges(t, 3, w, off, &idle), needle);
    w[n - 1] = 1e308;
    w[0] = 1e308;
    expect_arg_error(myo_dist_work_ranges(t, 3, w, off, &idle), "overflow");
    expect_arg_error(myo_dist_even_ranges(-1, 3, off), NULL);
    expect_arg_error(myo_dist_even_ranges(5, 0, off), NULL);
    expect_arg_error(myo_dist_even_ranges(5, 3, NULL), NULL);
    free(w);
    myo_tree_destroy(&t);
}

static void test_dist_partition_even_ranges(void **state)
{
    (void)state;
    int64_t off[8];
    assert_int_equal(myo_dist_even_ranges(10, 4, off), MYO_OK);
    const int64_t want[5] = {0, 2, 5, 7, 10};
    assert_memory_equal(off, want, sizeof want);
    assert_int_equal(myo_dist_even_ranges(2, 7, off), MYO_OK);
    const int64_t want2[8] = {0, 0, 0, 0, 1, 1, 1, 2};
    assert_memory_equal(off, want2, sizeof want2);
    /* No overflow in n r. */
    int64_t big[3];
    assert_int_equal(myo_dist_even_ranges(INT64_MAX, 2, big), MYO_OK);
    assert_int_equal(big[1], INT64_MAX / 2);
    assert_int_equal(big[2], INT64_MAX);
}

static void test_dist_partition_rows_round_trip_through_labels(void **state)
{
    (void)state;
    const int64_t n = 30, m = 3;
    int64_t parent[30];
    test_random_recursive_parents(n, 5, parent);
    test_shuffle_labels(parent, n, 6, NULL);
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
    const int64_t *order = myo_tree_preorder(t);
    double global[90], local[90], back[90];
    for (int64_t i = 0; i < n * m; i++)
        global[i] = (double)i;
    const int64_t lo = 7, hi = 19;
    assert_int_equal(myo_dist_rows_from_labels(t, lo, hi, m, global, local), MYO_OK);
    for (int64_t p = lo; p < hi; p++)
        for (int64_t c = 0; c < m; c++)
            assert_true(local[(p - lo) * m + c] == (double)(order[p] * m + c));
    for (int64_t i = 0; i < n * m; i++)
        back[i] = -1.0;
    assert_int_equal(myo_dist_rows_to_labels(t, lo, hi, m, local, back), MYO_OK);
    for (int64_t p = 0; p < n; p++)
        for (int64_t c = 0; c < m; c++) {
            double want = p >= lo && p < hi ? (double)(order[p] * m + c) : -1.0;
            assert_true(back[order[p] * m + c] == want);
        }
    expect_arg_error(myo_dist_rows_from_labels(NULL, 0, 1, m, global, local), NULL);
    expect_arg_error(myo_dist_rows_from_labels(t, 5, 4, m, global, local), NULL);
    expect_arg_error(myo_dist_rows_from_labels(t, 0, n + 1, m, global, local), NULL);
    expect_arg_error(myo_dist_rows_from_labels(t, 0, 1, 0, global, local), NULL);
    expect_arg_error(myo_dist_rows_to_labels(t, 0, 1, m, NULL, back), NULL);
    assert_int_equal(myo_dist_rows_to_labels(t, 4, 4, m, NULL, NULL), MYO_OK);
    myo_tree_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_partition_leaf_ranges_kary),
        cmocka_unit_test(test_dist_partition_leaf_ranges_kary_by_hand),
        cmocka_unit_test(test_dist_partition_leaf_ranges_chains_and_heaps),
        cmocka_unit_test(test_dist_partition_leaf_ranges_random_forests_shuffled),
        cmocka_unit_test(test_dist_partition_leaf_ranges_large_kary),
        cmocka_unit_test(test_dist_partition_work_ranges_balance),
        cmocka_unit_test(test_dist_partition_work_ranges_zero_total_and_crossing_side),
        cmocka_unit_test(test_dist_partition_rejects_bad_arguments),
        cmocka_unit_test(test_dist_partition_even_ranges),
        cmocka_unit_test(test_dist_partition_rows_round_trip_through_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
