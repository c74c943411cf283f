/* test_solve.c -- the tree solver against its reference twin, dense LAPACK
 * and the sparse KLU solver, on every tree shape; singular and bad input.
 *
 * Tolerances (|a - b| <= atol + rtol |ref|, max error printed on failure or
 * with MYO_TEST_VERBOSE=1): double 1e-12 relative (the systems are strictly
 * diagonally dominant, so backward stable, condition numbers O(10));
 * float 1e-4 relative plus 1e-5 absolute against the double reference. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myosotis.h"
#include "support.h"

#define RTOL_F64 1e-12
#define ATOL_F64 1e-13
#define RTOL_F32 1e-4
#define ATOL_F32 1e-5
#define DENSE_MAX_N 400

/* A system on a parent array: coefficients and right-hand side. */
typedef struct {
    int64_t n, m;
    int64_t *parent;
    double *diag, *up, *down, *rhs;
} system_case;

static system_case make_case(const int64_t *parent, int64_t n, int64_t m, uint64_t seed)
{
    system_case c = {n,
                     m,
                     test_alloc((size_t)n, sizeof(int64_t)),
                     test_alloc((size_t)n, sizeof(double)),
                     test_alloc((size_t)n, sizeof(double)),
                     test_alloc((size_t)n, sizeof(double)),
                     test_alloc((size_t)(n * m), sizeof(double))};
    memcpy(c.parent, parent, (size_t)n * sizeof(int64_t));
    test_dominant_coeffs(parent, n, seed, 1, c.diag, c.up, c.down);
    test_random_values(c.rhs, n * m, seed + 1);
    return c;
}

static void free_case(system_case *c)
{
    free(c->parent), free(c->diag), free(c->up), free(c->down), free(c->rhs);
}

/* Solve c with the optimised solver in both precisions, in place and out of
 * place, for op, and compare with the reference twin and the oracles. */
static void check_case(const myo_tree *t, const system_case *c, myo_op op, const char *name)
{
    int64_t count = c->n * c->m;
    char what[160];
    double *ref = test_alloc((size_t)count, sizeof(double));
    double *oracle = test_alloc((size_t)count, sizeof(double));
    double *got = test_alloc((size_t)count, sizeof(double));

    assert_int_equal(myo_solve_ref(c->parent, c->n, c->diag, c->up, c->down, op, c->rhs, ref, c->m),
                     MYO_OK);
    /* The reference itself against independent solvers. */
    assert_int_equal(
        test_klu_solve(c->parent, c->n, c->diag, c->up, c->down, op, c->rhs, oracle, c->m), 0);
    snprintf(what, sizeof what, "%s op=%c m=%lld: reference vs KLU", name, op ? 'T' : 'N',
             (long long)c->m);
    test_assert_close_f64(ref, oracle, count, ATOL_F64, RTOL_F64, what);
    if (c->n <= DENSE_MAX_N) {
        assert_int_equal(
            test_dense_solve(c->parent, c->n, c->diag, c->up, c->down, op, c->rhs, oracle, c->m),
            0);
        snprintf(what, sizeof what, "%s op=%c m=%lld: reference vs dense LAPACK", name,
                 op ? 'T' : 'N', (long long)c->m);
        test_assert_close_f64(ref, oracle, count, ATOL_F64, RTOL_F64, what);
    }

    /* Double, out of place and in place (the factor is reused). */
    myo_factor *f = NULL;
    assert_int_equal(myo_factor_create_f64(t, c->diag, c->up, c->down, &f), MYO_OK);
    assert_int_equal(myo_solve_f64(f, op, c->rhs, got, c->m), MYO_OK);
    snprintf(what, sizeof what, "%s op=%c m=%lld: f64 out of place vs KLU", name, op ? 'T' : 'N',
             (long long)c->m);
    test_assert_close_f64(got, oracle, count, ATOL_F64, RTOL_F64, what);
    memcpy(got, c->rhs, (size_t)count * sizeof(double));
    assert_int_equal(myo_solve_f64(f, op, got, got, c->m), MYO_OK);
    snprintf(what, sizeof what, "%s op=%c m=%lld: f64 in place vs reference", name, op ? 'T' : 'N',
             (long long)c->m);
    test_assert_close_f64(got, ref, count, ATOL_F64, RTOL_F64, what);
    myo_factor_destroy(&f);
    assert_null(f);
    /* Factor and solve in one sweep; the factor it returns serves later solves. */
    assert_int_equal(myo_factor_solve_f64(t, c->diag, c->up, c->down, op, c->rhs, got, c->m, &f),
                     MYO_OK);
    snprintf(what, sizeof what, "%s op=%c m=%lld: f64 factor+solve sweep vs reference", name,
             op ? 'T' : 'N', (long long)c->m);
    test_assert_close_f64(got, ref, count, ATOL_F64, RTOL_F64, what);
    assert_int_equal(myo_solve_f64(f, op, c->rhs, got, c->m), MYO_OK);
    test_assert_close_f64(got, ref, count, ATOL_F64, RTOL_F64, what);
    myo_factor_destroy(&f);

    /* Float. */
    float *diag = test_alloc((size_t)c->n, sizeof(float)),
          *up = test_alloc((size_t)c->n, sizeof(float));
    float *down = test_alloc((size_t)c->n, sizeof(float)),
          *r32 = test_alloc((size_t)count, sizeof(float));
    float *y32 = test_alloc((size_t)count, sizeof(float));
    for (int64_t i = 0; i < c->n; i++)
        diag[i] = (float)c->diag[i], up[i] = (float)c->up[i], down[i] = (float)c->down[i];
    for (int64_t i = 0; i < count; i++)
        r32[i] = (float)c->rhs[i];
    assert_int_equal(myo_factor_create_f32(t, diag, up, down, &f), MYO_OK);
    assert_int_equal(myo_solve_f32(f, op, r32, y32, c->m), MYO_OK);
    snprintf(what, sizeof what, "%s op=%c m=%lld: f32 vs reference", name, op ? 'T' : 'N',
             (long long)c->m);
    test_assert_close_f32(y32, ref, count, ATOL_F32, RTOL_F32, what);
    assert_int_equal(myo_solve_f32(f, op, r32, r32, c->m), MYO_OK);
    assert_memory_equal(r32, y32, (size_t)count * sizeof(float));
    myo_factor_destroy(&f);
    /* The one-sweep factor+solve computes the same pivots, bit for bit. */
    for (int64_t i = 0; i < count; i++)
        r32[i] = (float)c->rhs[i];
    assert_int_equal(myo_factor_solve_f32(t, diag, up, down, op, r32, r32, c->m, &f), MYO_OK);
    assert_memory_equal(r32, y32, (size_t)count * sizeof(float));
    myo_factor_destroy(&f);
    free(diag), free(up), free(down), free(r32), free(y32);
    free(ref), free(oracle), free(got);
}

/* Every op and a few channel counts on one tree. */
static void check_tree(const myo_tree *t, const char *name, uint64_t seed)
{
    static const int64_t channels[] = {1, 3, 8, 17};
    int64_t n = myo_tree_num_nodes(t);
    for (size_t k = 0; k < sizeof channels / sizeof channels[0]; k++) {
        int64_t m = channels[k];
        if (n * m > 4000000) m = 1 + (k > 0); /* keep huge trees cheap */
        system_case c = make_case(myo_tree_parents(t), n, m, seed + k);
        check_case(t, &c, MYO_OP_N, name);
        check_case(t, &c, MYO_OP_T, name);
        free_case(&c);
    }
}

static void check_parents(const int64_t *parent, int64_t n, const char *name, uint64_t seed)
{
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create(parent, n, &t), MYO_OK);
    check_tree(t, name, seed);
    myo_tree_destroy(&t);
}

static void test_solve_chain_matches_dense_and_klu(void **state)
{
    (void)state;
    for (int64_t n = 1; n <= 300; n = n * 3 + 1) {
        myo_tree *t = NULL;
        assert_int_equal(myo_tree_create_chain(n, &t), MYO_OK);
        system_case c = make_case(myo_tree_parents(t), n, 1, 1);
        myo_factor *f = NULL;
        assert_int_equal(myo_factor_create_f64(t, c.diag, c.up, c.down, &f), MYO_OK);
        assert_string_equal(myo_solve_kernel_name(f), "chain");
        myo_factor_destroy(&f);
        free_case(&c);
        check_tree(t, "chain", (uint64_t)n);
        myo_tree_destroy(&t);
    }
}

static void test_solve_kary_hierarchies_match_dense_and_klu(void **state)
{
    (void)state;
    const int64_t sizes[] = {2, 7, 64, 129, 250};
    for (int arity = 2; arity <= 4; arity++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            myo_tree *t = NULL;
            assert_int_equal(myo_tree_create_kary(sizes[k], arity, &t), MYO_OK);
            check_tree(t, "kary", 10 * (uint64_t)arity + k);
            myo_tree_destroy(&t);
        }
}

static void test_solve_heap_matches_dense_and_klu(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_heap(333, 3, &t), MYO_OK);
    check_tree(t, "heap", 7);
    myo_tree_destroy(&t);
}

static void test_solve_random_trees_with_shuffled_labels_match_dense_and_klu(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        int64_t n = 50 + 60 * (int64_t)seed;
        int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
        test_random_recursive_parents(n, seed, parent);
        test_shuffle_labels(parent, n, seed * 11, NULL);
        check_parents(parent, n, "random shuffled", seed);
        free(parent);
    }
}

static void test_solve_forests_match_dense_and_klu(void **state)
{
    (void)state;
    int64_t n = 240;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    test_random_forest_parents(n, 9, 5, parent);
    test_shuffle_labels(parent, n, 6, NULL);
    check_parents(parent, n, "forest", 5);
    /* Isolated nodes only: M is diagonal. */
    for (int64_t i = 0; i < n; i++)
        parent[i] = -1;
    check_parents(parent, n, "isolated nodes", 6);
    free(parent);
}

static void test_solve_star_with_100k_children_matches_klu(void **state)
{
    (void)state;
    int64_t n = 100001;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i == 500 ? -1 : 500; /* the hub is not node 0 */
    check_parents(parent, n, "star", 3);
    free(parent);
}

static void test_solve_large_random_tree_matches_klu(void **state)
{
    (void)state;
    int64_t n = 200000;
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    test_random_recursive_parents(n, 99, parent);
    test_shuffle_labels(parent, n, 98, NULL);
    check_parents(parent, n, "random 2e5", 9);
    free(parent);
}

static void test_solve_deep_chain_of_a_million_matches_klu(void **state)
{
    (void)state;
    int64_t n = 1000000;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_chain(n, &t), MYO_OK);
    check_tree(t, "chain 1e6", 4);
    myo_tree_destroy(&t);
    /* Reversed labels take the general kernel down a path of 10^6. */
    int64_t *parent = test_alloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[i] = i + 1 < n ? i + 1 : -1;
    check_parents(parent, n, "reversed chain 1e6", 5);
    free(parent);
}

static void test_solve_myosotis_matrix_rows_sum_to_one(void **state)
{
    (void)state;
    /* M = I + L with L a weighted row-Laplacian: M 1 = 1, so M^{-1} 1 = 1. */
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_kary(1000, 2, &t), MYO_OK);
    int64_t n = myo_tree_num_nodes(t);
    const int64_t *parent = myo_tree_parents(t);
    double *diag = test_alloc((size_t)n, sizeof(double)),
           *up = test_alloc((size_t)n, sizeof(double));
    double *down = test_alloc((size_t)n, sizeof(double)),
           *y = test_alloc((size_t)n, sizeof(double));
    double *ones = test_alloc((size_t)n, sizeof(double));
    myo_rng s = myo_rng_seed(42);
    for (int64_t i = 0; i < n; i++)
        diag[i] = 1.0, ones[i] = 1.0;
    for (int64_t i = 0; i < n; i++) {
        if (parent[i] < 0) continue;
        double w_up = myo_rng_uniform(&s, 0.0, 5.0), w_down = myo_rng_uniform(&s, 0.0, 5.0);
        up[i] = -w_up, down[i] = -w_down;
        diag[i] += w_up, diag[parent[i]] += w_down;
    }
    myo_factor *f = NULL;
    assert_int_equal(myo_factor_create_f64(t, diag, up, down, &f), MYO_OK);
    assert_int_equal(myo_solve_f64(f, MYO_OP_N, ones, y, 1), MYO_OK);
    test_assert_close_f64(y, ones, n, 1e-13, 1e-12, "M^{-1} 1 = 1");
    myo_factor_destroy(&f);
    myo_tree_destroy(&t);
    free(diag), free(up), free(down), free(y), free(ones);
}

static void test_solve_zero_pivot_is_singular_and_names_the_node(void **state)
{
    (void)state;
    /* A leaf with diag 0: its own pivot is zero. */
    int64_t parent[4] = {-1, 0, 0, 1};
    double diag[4] = {4, 4, 4, 0}, up[4] = {0, 1, 1, 1}, down[4] = {0, 1, 1, 1};
    myo_tree *t = NULL;
    myo_factor *f = (myo_factor *)&t;
    assert_int_equal(myo_tree_create(parent, 4, &t), MYO_OK);
    assert_int_equal(myo_factor_create_f64(t, diag, up, down, &f), MYO_ERR_SINGULAR);
    assert_null(f);
    assert_non_null(strstr(myo_error_detail(), "node 3"));
    double y[4] = {0, 0, 0, 0}, r4[4] = {1, 1, 1, 1};
    f = (myo_factor *)&t;
    assert_int_equal(myo_factor_solve_f64(t, diag, up, down, MYO_OP_N, r4, y, 1, &f),
                     MYO_ERR_SINGULAR);
    assert_null(f);
    assert_non_null(strstr(myo_error_detail(), "node 3"));
    for (int i = 0; i < 4; i++)
        assert_true(isfinite(y[i]));
    double rhs[4] = {1, 1, 1, 1}, out[4];
    assert_int_equal(myo_solve_ref(parent, 4, diag, up, down, MYO_OP_N, rhs, out, 1),
                     MYO_ERR_SINGULAR);
    /* A root whose pivot cancels after elimination: 1 - 1*1/1 = 0. */
    int64_t pair[2] = {1, -1};
    double d2[2] = {1, 1}, u2[2] = {1, 0}, w2[2] = {1, 0};
    myo_tree *t2 = NULL;
    assert_int_equal(myo_tree_create(pair, 2, &t2), MYO_OK);
    assert_int_equal(myo_factor_create_f64(t2, d2, u2, w2, &f), MYO_ERR_SINGULAR);
    assert_non_null(strstr(myo_error_detail(), "node 1"));
    float d2f[2] = {1, 1}, u2f[2] = {1, 0}, w2f[2] = {1, 0};
    assert_int_equal(myo_factor_create_f32(t2, d2f, u2f, w2f, &f), MYO_ERR_SINGULAR);
    myo_tree_destroy(&t2);
    myo_tree_destroy(&t);
}

static void test_solve_float_overflowing_multiplier_is_singular(void **state)
{
    (void)state;
    /* Pivot 1e-30 is fine, but up / pivot = 1e40 overflows float (not double). */
    int64_t parent[2] = {-1, 0};
    float diag[2] = {1, 1e-30f}, up[2] = {0, 1e10f}, down[2] = {0, 0};
    myo_tree *t = NULL;
    myo_factor *f = NULL;
    assert_int_equal(myo_tree_create(parent, 2, &t), MYO_OK);
    assert_int_equal(myo_factor_create_f32(t, diag, up, down, &f), MYO_ERR_SINGULAR);
    assert_non_null(strstr(myo_error_detail(), "node 1"));
    myo_tree_destroy(&t);
}

static void test_solve_non_finite_coefficient_is_invalid_data(void **state)
{
    (void)state;
    int64_t parent[3] = {-1, 0, 0};
    double diag[3] = {4, 4, 4}, up[3] = {NAN, 1, 1}, down[3] = {0, 1, INFINITY};
    myo_tree *t = NULL;
    myo_factor *f = NULL;
    assert_int_equal(myo_tree_create(parent, 3, &t), MYO_OK);
    /* up[0] is ignored at the root; down[2] is not. */
    assert_int_equal(myo_factor_create_f64(t, diag, up, down, &f), MYO_ERR_DATA);
    assert_non_null(strstr(myo_error_detail(), "down[2]"));
    down[2] = 1, diag[1] = NAN;
    assert_int_equal(myo_factor_create_f64(t, diag, up, down, &f), MYO_ERR_DATA);
    assert_non_null(strstr(myo_error_detail(), "diag[1]"));
    myo_tree_destroy(&t);
}

static void test_solve_refactor_reuses_the_factor_for_new_coefficients(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) { /* the chain kernel and the tree kernel */
        myo_tree *t = NULL;
        assert_int_equal(kind ? myo_tree_create_kary(500, 3, &t) : myo_tree_create_chain(500, &t),
                         MYO_OK);
        int64_t n = myo_tree_num_nodes(t), m = 4;
        system_case a = make_case(myo_tree_parents(t), n, m, 71),
                    b = make_case(myo_tree_parents(t), n, m, 72);
        double *ref = test_alloc((size_t)(n * m), sizeof(double)),
               *y = test_alloc((size_t)(n * m), sizeof(double));
        myo_factor *f = NULL;
        assert_int_equal(myo_factor_create_f64(t, a.diag, a.up, a.down, &f), MYO_OK);
        /* New coefficients into the same factor, solving in the same call. */
        assert_int_equal(myo_refactor_f64(f, b.diag, b.up, b.down, MYO_OP_T, b.rhs, y, m), MYO_OK);
        assert_int_equal(myo_solve_ref(b.parent, n, b.diag, b.up, b.down, MYO_OP_T, b.rhs, ref, m),
                         MYO_OK);
        test_assert_close_f64(y, ref, n * m, ATOL_F64, RTOL_F64, "refactor + solve with M^T");
        assert_int_equal(myo_solve_f64(f, MYO_OP_N, b.rhs, y, m), MYO_OK);
        assert_int_equal(myo_solve_ref(b.parent, n, b.diag, b.up, b.down, MYO_OP_N, b.rhs, ref, m),
                         MYO_OK);
        test_assert_close_f64(y, ref, n * m, ATOL_F64, RTOL_F64, "solve after refactor");
        /* A failed refactor leaves the factor unusable until the next success. */
        double saved = b.diag[n / 2];
        b.diag[n / 2] = NAN;
        assert_int_equal(myo_refactor_f64(f, b.diag, b.up, b.down, MYO_OP_N, NULL, NULL, 0),
                         MYO_ERR_DATA);
        assert_int_equal(myo_solve_f64(f, MYO_OP_N, b.rhs, y, m), MYO_ERR_ARG);
        b.diag[n / 2] = saved;
        assert_int_equal(myo_refactor_f64(f, b.diag, b.up, b.down, MYO_OP_N, NULL, NULL, 0),
                         MYO_OK);
        assert_int_equal(myo_solve_f64(f, MYO_OP_N, b.rhs, y, m), MYO_OK);
        test_assert_close_f64(y, ref, n * m, ATOL_F64, RTOL_F64,
                              "solve after a failed and a good refactor");
        float d32[1] = {1};
        assert_int_equal(myo_refactor_f32(f, d32, d32, d32, MYO_OP_N, NULL, NULL, 0), MYO_ERR_ARG);
        myo_factor_destroy(&f);
        free_case(&a), free_case(&b), free(ref), free(y);
        myo_tree_destroy(&t);
    }
}

/* H systems on one tree solved together: head h's channels [h m, (h+1) m)
 * of every row must equal the reference solve of system h alone. */
static void check_heads(const myo_tree *t, int64_t heads, int64_t m, uint64_t seed)
{
    int64_t n = myo_tree_num_nodes(t), row = heads * m;
    const int64_t *parent = myo_tree_parents(t);
    double *diag = test_alloc((size_t)(n * heads), sizeof(double));
    double *up = test_alloc((size_t)(n * heads), sizeof(double));
    double *down = test_alloc((size_t)(n * heads), sizeof(double));
    double *rhs = test_alloc((size_t)(n * row), sizeof(double)),
           *y = test_alloc((size_t)(n * row), sizeof(double));
    double *ref = test_alloc((size_t)(n * row), sizeof(double)),
           *one = test_alloc((size_t)(n * m), sizeof(double));
    system_case *cases = test_alloc((size_t)heads, sizeof(system_case));
    for (int64_t h = 0; h < heads; h++) {
        cases[h] = make_case(parent, n, m, seed + (uint64_t)h);
        for (int64_t i = 0; i < n; i++) {
            diag[i * heads + h] = cases[h].diag[i], up[i * heads + h] = cases[h].up[i];
            down[i * heads + h] = cases[h].down[i];
            for (int64_t k = 0; k < m; k++)
                rhs[i * row + h * m + k] = cases[h].rhs[i * m + k];
        }
    }
    float *d32 = test_alloc((size_t)(n * heads), sizeof(float)),
          *u32 = test_alloc((size_t)(n * heads), sizeof(float));
    float *w32 = test_alloc((size_t)(n * heads), sizeof(float)),
          *y32 = test_alloc((size_t)(n * row), sizeof(float));
    for (int64_t i = 0; i < n * heads; i++)
        d32[i] = (float)diag[i], u32[i] = (float)up[i], w32[i] = (float)down[i];
    for (myo_op op = MYO_OP_N; op <= MYO_OP_T; op++) {
        for (int64_t h = 0; h < heads; h++) {
            assert_int_equal(myo_solve_ref(parent, n, cases[h].diag, cases[h].up, cases[h].down, op,
                                           cases[h].rhs, one, m),
                             MYO_OK);
            for (int64_t i = 0; i < n; i++)
                for (int64_t k = 0; k < m; k++)
                    ref[i * row + h * m + k] = one[i * m + k];
        }
        myo_factor *f = NULL;
        assert_int_equal(myo_factor_create_heads_f64(t, heads, diag, up, down, &f), MYO_OK);
        assert_int_equal(myo_factor_heads(f), heads);
        assert_int_equal(myo_solve_f64(f, op, rhs, y, m), MYO_OK);
        test_assert_close_f64(y, ref, n * row, ATOL_F64, RTOL_F64,
                              "heads f64 vs reference per head");
        assert_int_equal(myo_refactor_f64(f, diag, up, down, op, rhs, y, m), MYO_OK);
        test_assert_close_f64(y, ref, n * row, ATOL_F64, RTOL_F64,
                              "heads refactor+solve vs reference");
        myo_factor_destroy(&f);
        for (int64_t i = 0; i < n * row; i++)
            y32[i] = (float)rhs[i];
        assert_int_equal(myo_factor_create_heads_f32(t, heads, d32, u32, w32, &f), MYO_OK);
        assert_int_equal(myo_solve_f32(f, op, y32, y32, m), MYO_OK);
        test_assert_close_f32(y32, ref, n * row, ATOL_F32, RTOL_F32,
                              "heads f32 vs reference per head");
        myo_factor_destroy(&f);
    }
    for (int64_t h = 0; h < heads; h++)
        free_case(&cases[h]);
    free(cases), free(diag), free(up), free(down), free(rhs), free(y), free(ref), free(one);
    free(d32), free(u32), free(w32), free(y32);
}

static void test_solve_heads_share_one_walk_and_match_each_system(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    assert_int_equal(myo_tree_create_chain(300, &t), MYO_OK);
    check_heads(t, 3, 5, 1);
    check_heads(t, 2, 1, 2);
    myo_tree_destroy(&t);
    assert_int_equal(myo_tree_create_kary(200, 2, &t), MYO_OK);
    check_heads(t, 4, 8, 3);
    check_heads(t, 3, 1, 4);
    myo_tree_destroy(&t);
    int64_t parent[250];
    test_random_forest_parents(250, 3, 5, parent);
    test_shuffle_labels(parent, 250, 6, NULL);
    assert_int_equal(myo_tree_create(parent, 250, &t), MYO_OK);
    check_heads(t, 5, 3, 7);
    myo_tree_destroy(&t);
}

static void test_solve_heads_singular_pivot_names_node_and_head(void **state)
{
    (void)state;
    int64_t parent[3] = {-1, 0, 0};
    /* Two heads; head 1's leaf 2 has a zero pivot. */
    double diag[6] = {4, 4, 4, 4, 4, 0}, up[6] = {0, 0, 1, 1, 1, 1}, down[6] = {0, 0, 1, 1, 1, 1};
    myo_tree *t = NULL;
    myo_factor *f = NULL;
    assert_int_equal(myo_tree_create(parent, 3, &t), MYO_OK);
    assert_int_equal(myo_factor_create_heads_f64(t, 2, diag, up, down, &f), MYO_ERR_SINGULAR);
    assert_non_null(strstr(myo_error_detail(), "node 2 (head 1)"));
    diag[5] = NAN;
    assert_int_equal(myo_factor_create_heads_f64(t, 2, diag, up, down, &f), MYO_ERR_DATA);
    assert_non_null(strstr(myo_error_detail(), "diag[2][1]"));
    assert_int_equal(myo_factor_create_heads_f64(t, 0, diag, up, down, &f), MYO_ERR_ARG);
    myo_tree_destroy(&t);
}

/* M = I + L from weights w (N, H) scaled by `scale`: the explicit coefficients (double). */
static void laplacian_coeffs(const int64_t *parent, int64_t n, int64_t heads, const double *w_up,
                             const double *w_down, double *diag, double *up, double *down)
{
    for (int64_t i = 0; i < n * heads; i++)
        diag[i] = 1.0, up[i] = down[i] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t h = 0; h < heads && parent[i] >= 0; h++) {
            up[i * heads + h] = -w_up[i * heads + h], down[i * heads + h] = -w_down[i * heads + h];
            diag[i * heads + h] += w_up[i * heads + h];
            diag[parent[i] * heads + h] += w_down[i * heads + h];
        }
}

static void test_solve_laplacian_form_stays_accurate_for_huge_weights(void **state)
{
    (void)state;
    const int64_t heads = 2, m = 3;
    for (int kind = 0; kind < 2; kind++) { /* the chain kernel and the tree kernel */
        myo_tree *t = NULL;
        assert_int_equal(kind ? myo_tree_create_kary(300, 2, &t) : myo_tree_create_chain(300, &t),
                         MYO_OK);
        int64_t n = myo_tree_num_nodes(t), nh = n * heads;
        const int64_t *parent = myo_tree_parents(t);
        double *wu = test_alloc((size_t)nh, sizeof(double)),
               *wd = test_alloc((size_t)nh, sizeof(double));
        double *diag = test_alloc((size_t)nh, sizeof(double)),
               *up = test_alloc((size_t)nh, sizeof(double));
        double *down = test_alloc((size_t)nh, sizeof(double));
        double *v = test_alloc((size_t)(n * heads * m), sizeof(double)),
               *ref = test_alloc((size_t)(n * heads * m), sizeof(double));
        float *wu32 = test_alloc((size_t)nh, sizeof(float)),
              *wd32 = test_alloc((size_t)nh, sizeof(float));
        float *y32 = test_alloc((size_t)(n * heads * m), sizeof(float));
        for (int pass = 0; pass < 2; pass++) {
            /* pass 0: weights in (0, 3); pass 1: up to 1e7, as softplus of extreme scores. */
            myo_rng r = myo_rng_seed(90 + (uint64_t)pass);
            for (int64_t i = 0; i < nh; i++) {
                double e = pass ? myo_rng_uniform(&r, -2.0, 7.0) : 0.0;
                wu[i] = myo_rng_uniform(&r, 0.0, 3.0) * pow(10.0, e);
                wd[i] = myo_rng_uniform(&r, 0.0, 3.0) *
                        pow(10.0, pass ? myo_rng_uniform(&r, -2.0, 7.0) : 0.0);
                wu32[i] = (float)wu[i], wd32[i] = (float)wd[i];
                wu[i] = wu32[i], wd[i] = wd32[i]; /* the same matrix in both precisions */
            }
            test_random_values(v, n * heads * m, 91);
            laplacian_coeffs(parent, n, heads, wu, wd, diag, up, down);
            myo_factor *f = NULL;
            assert_int_equal(myo_factor_create_heads_f64(t, heads, diag, up, down, &f), MYO_OK);
            assert_int_equal(myo_solve_f64(f, MYO_OP_N, v, ref, m), MYO_OK);
            /* The double Laplacian form agrees with the explicit one. */
            double *y64 = test_alloc((size_t)(n * heads * m), sizeof(double));
            assert_int_equal(myo_refactor_laplacian_f64(f, wu, wd, MYO_OP_T, v, y64, m), MYO_OK);
            double *yt = test_alloc((size_t)(n * heads * m), sizeof(double));
            assert_int_equal(myo_refactor_f64(f, diag, up, down, MYO_OP_T, v, yt, m), MYO_OK);
            /* With weights of 1e7 the explicit form itself loses eps 1e7 ~ 2e-9. */
            test_assert_close_f64(y64, yt, n * heads * m, pass ? 1e-8 : 1e-12, 1e-10,
                                  "laplacian f64 vs explicit, M^T");
            myo_factor_destroy(&f);
            free(y64), free(yt);
            /* Float: outputs are convex combinations of v (|v| <= 1), so an
             * absolute tolerance against the double solution is the right scale. */
            float *diag32 = test_alloc((size_t)nh, sizeof(float)),
                  *zero32 = test_alloc((size_t)nh, sizeof(float));
            for (int64_t i = 0; i < nh; i++)
                diag32[i] = 1.0f; /* M = I until the refactor */
            assert_int_equal(myo_factor_create_heads_f32(t, heads, diag32, zero32, zero32, &f),
                             MYO_OK);
            for (int64_t i = 0; i < n * heads * m; i++)
                y32[i] = (float)v[i];
            assert_int_equal(myo_refactor_laplacian_f32(f, wu32, wd32, MYO_OP_N, y32, y32, m),
                             MYO_OK);
            test_assert_close_f32(y32, ref, n * heads * m, 2e-5, 0.0,
                                  pass ? "laplacian f32, weights up to 1e7"
                                       : "laplacian f32, moderate weights");
            /* Negative weights are invalid data. */
            float keep = wd32[heads];
            wd32[heads] = -1.0f;
            assert_int_equal(myo_refactor_laplacian_f32(f, wu32, wd32, MYO_OP_N, NULL, NULL, 0),
                             MYO_ERR_DATA);
            assert_non_null(strstr(myo_error_detail(), "w_down"));
            wd32[heads] = keep;
            myo_factor_destroy(&f);
            free(diag32), free(zero32);
        }
        free(wu), free(wd), free(diag), free(up), free(down), free(v), free(ref), free(wu32),
            free(wd32), free(y32);
        myo_tree_destroy(&t);
    }
}

static void test_solve_rejects_bad_arguments(void **state)
{
    (void)state;
    myo_tree *t = NULL;
    myo_factor *f = NULL;
    assert_int_equal(myo_tree_create_chain(8, &t), MYO_OK);
    double diag[8], up[8], down[8], r[16] = {0};
    for (int i = 0; i < 8; i++)
        diag[i] = 3, up[i] = down[i] = 1;
    assert_int_equal(myo_factor_create_f64(NULL, diag, up, down, &f), MYO_ERR_ARG);
    assert_int_equal(myo_factor_create_f64(t, diag, up, down, NULL), MYO_ERR_ARG);
    assert_int_equal(myo_factor_create_f64(t, diag, up, down, &f), MYO_OK);
    float rf[8] = {0};
    assert_int_equal(myo_solve_f32(f, MYO_OP_N, rf, rf, 1), MYO_ERR_ARG); /* precision */
    assert_int_equal(myo_solve_f64(f, MYO_OP_N, r, r, 0), MYO_ERR_ARG);
    assert_int_equal(myo_solve_f64(f, (myo_op)2, r, r, 1), MYO_ERR_ARG);
    assert_int_equal(myo_solve_f64(f, MYO_OP_N, r, r + 1, 1), MYO_ERR_ARG); /* partial overlap */
    assert_int_equal(myo_solve_f64(f, MYO_OP_N, r, r + 8, 1), MYO_OK);      /* disjoint halves */
    assert_int_equal(myo_factor_precision(f), MYO_F64);
    myo_factor_destroy(&f);
    myo_factor_destroy(&f);
    myo_factor_destroy(NULL);
    assert_int_equal(myo_solve_ref(NULL, 8, diag, up, down, MYO_OP_N, r, r, 1), MYO_ERR_ARG);
    int64_t cyc[3] = {1, 2, 0};
    assert_int_equal(myo_solve_ref(cyc, 3, diag, up, down, MYO_OP_N, r, r, 1), MYO_ERR_DATA);
    myo_tree_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solve_chain_matches_dense_and_klu),
        cmocka_unit_test(test_solve_kary_hierarchies_match_dense_and_klu),
        cmocka_unit_test(test_solve_heap_matches_dense_and_klu),
        cmocka_unit_test(test_solve_random_trees_with_shuffled_labels_match_dense_and_klu),
        cmocka_unit_test(test_solve_forests_match_dense_and_klu),
        cmocka_unit_test(test_solve_star_with_100k_children_matches_klu),
        cmocka_unit_test(test_solve_large_random_tree_matches_klu),
        cmocka_unit_test(test_solve_deep_chain_of_a_million_matches_klu),
        cmocka_unit_test(test_solve_myosotis_matrix_rows_sum_to_one),
        cmocka_unit_test(test_solve_zero_pivot_is_singular_and_names_the_node),
        cmocka_unit_test(test_solve_float_overflowing_multiplier_is_singular),
        cmocka_unit_test(test_solve_non_finite_coefficient_is_invalid_data),
        cmocka_unit_test(test_solve_refactor_reuses_the_factor_for_new_coefficients),
        cmocka_unit_test(test_solve_heads_share_one_walk_and_match_each_system),
        cmocka_unit_test(test_solve_heads_singular_pivot_names_node_and_head),
        cmocka_unit_test(test_solve_laplacian_form_stays_accurate_for_huge_weights),
        cmocka_unit_test(test_solve_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
