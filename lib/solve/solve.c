/* solve.c -- the tree solver: pivots once per matrix, then solves with M or
 * M^T for any number of right-hand sides (docs/design.md section 1).
 *
 * Nodes are walked in the tree's pre-order layout: pass 1 runs positions
 * backwards (children before parents), pass 2 forwards.  Rows of the
 * right-hand side are addressed by label, so builder trees whose labels
 * follow pre-order (chains; tokens and internal nodes of kary hierarchies,
 * two interleaved ascending streams) stream through memory. */
#include <config.h>

#include "core/core.h"
#include "solve_internal.h"
#include "tree/tree_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct myo_factor {
    const myo_tree *tree; /* borrowed */
    int64_t heads;        /* H matrices on the tree */
    myo_precision precision;
    int valid;       /* the pivots match the last coefficients given */
    void *block;     /* one allocation holding the arrays below */
    double *acc;     /* (N, H) each node's pivot updates (scratch of the factor
                      * sweep); (H,) on a chain */
    void *inv;       /* (N, H) 1 / pivot, by position */
    void *up, *down; /* (N, H) up and down by position, 0 at roots */
    void *max_child; /* (H,) scratch of the factor sweep */
};

void myo_factor_destroy(myo_factor **f)
{
    if (!f || !*f) return;
    free((*f)->block);
    free(*f);
    *f = NULL;
}

myo_precision myo_factor_precision(const myo_factor *f)
{
    return f->precision;
}

int64_t myo_factor_heads(const myo_factor *f)
{
    return f ? f->heads : 0;
}

/* The bytes of a factor's block; *update_bytes receives those of its
 * leading pivot-update array (doubles: (H,) on a chain, (N, H) otherwise). */
static size_t block_bytes(const myo_tree *t, int64_t heads, size_t real_size, size_t *update_bytes)
{
    size_t nh = (size_t)t->n * (size_t)heads;
    *update_bytes = (t->is_chain ? (size_t)heads : nh) * sizeof(double);
    return *update_bytes + (3 * nh + (size_t)heads) * real_size;
}

size_t myo_factor_bytes(const myo_factor *f)
{
    if (!f) return 0;
    size_t updates;
    return sizeof *f + block_bytes(f->tree, f->heads, f->precision == MYO_F32 ? 4 : 8, &updates);
}

const char *myo_solve_kernel_name(const myo_factor *f)
{
    return f && f->tree->is_chain ? "chain" : "tree";
}

void myo_factor_internals(const myo_factor *f, const void **inv, const void **up,
                          const void **down, const double **updates)
{
    *inv = f->inv, *up = f->up, *down = f->down;
    *updates = f->tree->is_chain ? NULL : f->acc;
}

static myo_status factor_alloc(const myo_tree *t, int64_t heads, myo_precision precision,
                               size_t real_size, myo_factor **out)
{
    if (heads > INT64_MAX / t->n)
        return myo_fail(MYO_ERR_ARG, "myo_factor_create: %lld heads x %lld nodes is too large",
                        (long long)heads, (long long)t->n);
    myo_factor *f = calloc(1, sizeof *f);
    if (!f) return myo_fail(MYO_ERR_NOMEM, "myo_factor_create: cannot allocate the factor");
    size_t nh = (size_t)t->n * (size_t)heads, update_bytes;
    /* The pivot updates (doubles) first, for alignment. */
    char *block = myo_alloc(block_bytes(t, heads, real_size, &update_bytes), 1, "factor arrays");
    if (!block) {
        free(f);
        return MYO_ERR_NOMEM;
    }
    f->tree = t;
    f->heads = heads;
    f->precision = precision;
    f->block = block;
    f->acc = (double *)(void *)block;
    f->inv = block + update_bytes;
    f->up = block + update_bytes + nh * real_size;
    f->down = block + update_bytes + 2 * nh * real_size;
    f->max_child = block + update_bytes + 3 * nh * real_size;
    *out = f;
    return MYO_OK;
}

myo_status myo_factor_create_empty(const myo_tree *t, int64_t heads, myo_precision precision,
                                   myo_factor **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_factor_create_empty: out is NULL");
    *out = NULL;
    if (!t || heads < 1 || (precision != MYO_F64 && precision != MYO_F32))
        return myo_fail(MYO_ERR_ARG, "myo_factor_create_empty: need a tree, heads >= 1 and a "
                                     "precision");
    return factor_alloc(t, heads, precision, precision == MYO_F32 ? sizeof(float) : sizeof(double),
                        out);
}

static myo_status check_solve_args(const myo_factor *f, myo_precision precision, myo_op op,
                                   const void *rhs, const void *out, int64_t m, size_t real_size)
{
    if (!f || !rhs || !out)
        return myo_fail(MYO_ERR_ARG, "myo_solve: factor, rhs and out are required");
    if (f->precision != precision)
        return myo_fail(MYO_ERR_ARG, "myo_solve: the factor was made in %s, the call is for %s",
                        f->precision == MYO_F64 ? "double" : "float",
                        precision == MYO_F64 ? "double" : "float");
    if (op != MYO_OP_N && op != MYO_OP_T)
        return myo_fail(MYO_ERR_ARG, "myo_solve: op = %d is neither MYO_OP_N nor MYO_OP_T",
                        (int)op);
    if (m < 1) return myo_fail(MYO_ERR_ARG, "myo_solve: m = %lld, need m >= 1", (long long)m);
    if (m > INT64_MAX / f->heads / f->tree->n)
        return myo_fail(MYO_ERR_ARG, "myo_solve: m = %lld is too large", (long long)m);
    uintptr_t bytes = (uintptr_t)f->tree->n * (uintptr_t)f->heads * (uintptr_t)m * real_size;
    uintptr_t a = (uintptr_t)rhs, b = (uintptr_t)out;
    if (a != b && a < b + bytes && b < a + bytes)
        return myo_fail(MYO_ERR_ARG, "myo_solve: rhs and out overlap without being equal");
    return MYO_OK;
}

#define REAL double
#define SUFFIX f64
#define PREC MYO_F64
#include "solve_kernels.h"
#undef REAL
#undef SUFFIX
#undef PREC

#define REAL float
#define SUFFIX f32
#define PREC MYO_F32
#include "solve_kernels.h"
#undef REAL
#undef SUFFIX
#undef PREC

/* ------------------------------------------------------------ cost model */

myo_status myo_solve_cost(const myo_tree_shape *shape, int64_t heads, int64_t m,
                          myo_precision precision, int64_t batch, myo_cost *out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_solve_cost: out is NULL");
    MYO_CHECK(myo_tree_shape_check(shape));
    if (heads < 1 || m < 1 || batch < 1)
        return myo_fail(MYO_ERR_ARG,
                        "myo_solve_cost: heads = %lld, m = %lld, batch = %lld, need each >= 1",
                        (long long)heads, (long long)m, (long long)batch);
    if (precision != MYO_F64 && precision != MYO_F32)
        return myo_fail(MYO_ERR_ARG,
                        "myo_solve_cost: precision = %d is neither MYO_F64 nor MYO_F32",
                        (int)precision);
    const double N = (double)shape->nodes, H = (double)heads, D = H * (double)m, B = (double)batch;
    const double e = precision == MYO_F64 ? 8.0 : 4.0;
    /* The factor's block as block_bytes lays it out: the pivot updates in
     * double ((H,) on a chain, (N, H) otherwise), then inv, up, down (N, H)
     * and the (H,) scratch in the working precision. */
    const double updates = 8.0 * (shape->chain ? H : N * H);
    const double factor = (double)sizeof(myo_factor) + updates + e * (3 * N * H + H);
    *out = (myo_cost){.flops = {B * (6 * N * H + 5 * N * D), B * 5 * N * D},
                      .proj_flops = {0, 0},
                      .bytes = {B * e * (5 * N * H + 2 * N * D), B * e * (3 * N * H + 2 * N * D)},
                      .work_bytes = B * factor};
    return MYO_OK;
}
