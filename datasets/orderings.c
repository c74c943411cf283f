/* orderings.c -- raster, Morton and Hilbert flattenings of square images. */
#include <config.h>

#include "orderings.h"
#include "dataset_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *myo_ordering_name(myo_ordering o)
{
    switch (o) {
    case MYO_ORDER_RASTER:
        return "raster";
    case MYO_ORDER_MORTON:
        return "morton";
    case MYO_ORDER_HILBERT:
        return "hilbert";
    }
    return "unknown";
}

myo_status myo_ordering_parse(const char *name, myo_ordering *out)
{
    if (!name || !out) return myo_data_fail(MYO_ERR_ARG, "ordering: NULL argument");
    if (!strcmp(name, "raster") || !strcmp(name, "row-major"))
        *out = MYO_ORDER_RASTER;
    else if (!strcmp(name, "morton") || !strcmp(name, "zorder") || !strcmp(name, "z-order"))
        *out = MYO_ORDER_MORTON;
    else if (!strcmp(name, "hilbert"))
        *out = MYO_ORDER_HILBERT;
    else
        return myo_data_fail(MYO_ERR_ARG, "ordering \"%s\" is not one of raster, morton, hilbert",
                             name);
    return MYO_OK;
}

/* Spread the low 32 bits of v to the even bit positions. */
static uint64_t spread_bits(uint64_t v)
{
    v &= 0xffffffffULL;
    v = (v | (v << 16)) & 0x0000ffff0000ffffULL;
    v = (v | (v << 8)) & 0x00ff00ff00ff00ffULL;
    v = (v | (v << 4)) & 0x0f0f0f0f0f0f0f0fULL;
    v = (v | (v << 2)) & 0x3333333333333333ULL;
    v = (v | (v << 1)) & 0x5555555555555555ULL;
    return v;
}

static uint32_t compact_bits(uint64_t v)
{
    v &= 0x5555555555555555ULL;
    v = (v | (v >> 1)) & 0x3333333333333333ULL;
    v = (v | (v >> 2)) & 0x0f0f0f0f0f0f0f0fULL;
    v = (v | (v >> 4)) & 0x00ff00ff00ff00ffULL;
    v = (v | (v >> 8)) & 0x0000ffff0000ffffULL;
    v = (v | (v >> 16)) & 0x00000000ffffffffULL;
    return (uint32_t)v;
}

uint64_t myo_morton_encode(uint32_t x, uint32_t y)
{
    return spread_bits(x) | (spread_bits(y) << 1);
}

void myo_morton_decode(uint64_t d, uint32_t *x, uint32_t *y)
{
    *x = compact_bits(d);
    *y = compact_bits(d >> 1);
}

/* Rotate/flip a quadrant of side s (Wikipedia "Hilbert curve"). */
static void hilbert_rot(uint64_t s, uint64_t *x, uint64_t *y, uint64_t rx, uint64_t ry)
{
    if (ry == 0) {
        if (rx == 1) {
            *x = s - 1 - *x;
            *y = s - 1 - *y;
        }
        uint64_t t = *x;
        *x = *y;
        *y = t;
    }
}

uint64_t myo_hilbert_encode(int k, uint32_t x, uint32_t y)
{
    uint64_t n = (uint64_t)1 << k, X = x, Y = y, d = 0;
    for (uint64_t s = n / 2; s > 0; s /= 2) {
        uint64_t rx = (X & s) > 0, ry = (Y & s) > 0;
        d += s * s * ((3 * rx) ^ ry);
        hilbert_rot(n, &X, &Y, rx, ry);
    }
    return d;
}

void myo_hilbert_decode(int k, uint64_t d, uint32_t *x, uint32_t *y)
{
    uint64_t n = (uint64_t)1 << k, X = 0, Y = 0, t = d;
    for (uint64_t s = 1; s < n; s *= 2) {
        uint64_t rx = 1 & (t / 2), ry = 1 & (t ^ rx);
        hilbert_rot(s, &X, &Y, rx, ry);
        X += s * rx;
        Y += s * ry;
        t /= 4;
    }
    *x = (uint32_t)X;
    *y = (uint32_t)Y;
}

/* Smallest k with 2^k >= side. */
static int ceil_log2(int side)
{
    int k = 0;
    while (((int64_t)1 << k) < side)
        k++;
    return k;
}

static void curve_decode(myo_ordering o, int k, uint64_t d, uint32_t *x, uint32_t *y)
{
    if (o == MYO_ORDER_MORTON)
        myo_morton_decode(d, x, y);
    else
        myo_hilbert_decode(k, d, x, y);
}

static myo_status check_side(myo_ordering o, int side)
{
    if (o != MYO_ORDER_RASTER && o != MYO_ORDER_MORTON && o != MYO_ORDER_HILBERT)
        return myo_data_fail(MYO_ERR_ARG, "ordering %d is not raster, morton or hilbert", (int)o);
    if (side < 1 || side > 46340)
        return myo_data_fail(MYO_ERR_ARG, "ordering: side = %d, need 1 <= side <= 46340", side);
    return MYO_OK;
}

myo_status myo_ordering_perm(myo_ordering o, int side, int32_t *perm)
{
    myo_status s = check_side(o, side);
    if (s != MYO_OK) return s;
    if (!perm) return myo_data_fail(MYO_ERR_ARG, "ordering: NULL perm");
    int64_t n = (int64_t)side * side;
    if (o == MYO_ORDER_RASTER) {
        for (int64_t p = 0; p < n; p++)
            perm[p] = (int32_t)p;
        return MYO_OK;
    }
    int k = ceil_log2(side);
    uint64_t cells = (uint64_t)1 << (2 * k);
    int64_t p = 0;
    for (uint64_t d = 0; d < cells && p < n; d++) {
        uint32_t x, y;
        curve_decode(o, k, d, &x, &y);
        if (x < (uint32_t)side && y < (uint32_t)side) perm[p++] = (int32_t)((int64_t)y * side + x);
    }
    return MYO_OK;
}

int myo_perm_is_valid(const int32_t *perm, int64_t n)
{
    if (!perm || n < 0) return 0;
    unsigned char *seen = calloc(n > 0 ? (size_t)n : 1, 1);
    if (!seen) return 0;
    int ok = 1;
    for (int64_t p = 0; p < n && ok; p++) {
        if (perm[p] < 0 || perm[p] >= n || seen[perm[p]])
            ok = 0;
        else
            seen[perm[p]] = 1;
    }
    free(seen);
    return ok;
}

myo_status myo_perm_inverse(const int32_t *perm, int64_t n, int32_t *inv)
{
    if (!perm || !inv || n < 0 || n > INT32_MAX)
        return myo_data_fail(MYO_ERR_ARG, "perm inverse: bad arguments (n = %lld)", (long long)n);
    for (int64_t i = 0; i < n; i++)
        inv[i] = -1;
    for (int64_t p = 0; p < n; p++) {
        int32_t v = perm[p];
        if (v < 0 || v >= n)
            return myo_data_fail(MYO_ERR_DATA, "perm[%lld] = %d is outside 0..%lld", (long long)p,
                                 v, (long long)n - 1);
        if (inv[v] >= 0)
            return myo_data_fail(MYO_ERR_DATA, "perm[%lld] = %d repeats perm[%d]", (long long)p, v,
                                 inv[v]);
        inv[v] = (int32_t)p;
    }
    return MYO_OK;
}

void myo_perm_gather(const int32_t *perm, int64_t n, const int32_t *in, int32_t *out)
{
    for (int64_t p = 0; p < n; p++)
        out[p] = in[perm[p]];
}

myo_status myo_dataset_permute(myo_dataset *d, const int32_t *perm)
{
    if (!d || !perm) return myo_data_fail(MYO_ERR_ARG, "permute: NULL argument");
    if (d->parents)
        return myo_data_fail(MYO_ERR_ARG,
                             "permute: the %s dataset has parse trees; reordering its "
                             "tokens would break them",
                             d->task);
    if (d->n < 1 || !myo_perm_is_valid(perm, d->n))
        return myo_data_fail(MYO_ERR_ARG, "permute: not a permutation of 0..%lld",
                             (long long)d->n - 1);
    int64_t docs = d->count * d->docs;
    if (docs > 0 && (!d->tokens || !d->lengths))
        return myo_data_fail(MYO_ERR_ARG, "permute: dataset has no tokens or lengths");
    for (int64_t i = 0; i < docs; i++)
        if (d->lengths[i] != d->n)
            return myo_data_fail(MYO_ERR_ARG,
                                 "permute: example %lld document %lld has length %d < n = %lld "
                                 "(padded documents cannot be reordered)",
                                 (long long)(i / d->docs), (long long)(i % d->docs), d->lengths[i],
                                 (long long)d->n);
    int32_t *tmp = malloc((size_t)d->n * sizeof *tmp);
    if (!tmp) return myo_data_fail(MYO_ERR_NOMEM, "permute: out of memory");
    for (int64_t i = 0; i < docs; i++) {
        int32_t *t = d->tokens + i * d->n;
        myo_perm_gather(perm, d->n, t, tmp);
        memcpy(t, tmp, (size_t)d->n * sizeof *tmp);
    }
    free(tmp);
    return MYO_OK;
}

myo_status myo_dataset_reorder(myo_dataset *d, myo_ordering o, int side)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "reorder: NULL dataset");
    myo_status s = check_side(o, side);
    if (s != MYO_OK) return s;
    if ((int64_t)side * side != d->n)
        return myo_data_fail(MYO_ERR_ARG, "reorder: side %d x %d != n = %lld", side, side,
                             (long long)d->n);
    if (o != MYO_ORDER_RASTER) {
        int32_t *perm = malloc((size_t)d->n * sizeof *perm);
        if (!perm) return myo_data_fail(MYO_ERR_NOMEM, "reorder: out of memory");
        s = myo_ordering_perm(o, side, perm);
        if (s == MYO_OK) s = myo_dataset_permute(d, perm);
        free(perm);
        if (s != MYO_OK) return s;
    }
    s = myo_dataset_set_attr(d, "ordering", myo_ordering_name(o));
    if (s != MYO_OK) return myo_data_fail(s, "reorder: attribute ordering: %s", myo_data_error());
    return MYO_OK;
}

myo_status myo_dataset_reorder_copy(const myo_dataset *src, myo_ordering o, int side,
                                    myo_dataset *dst)
{
    if (!src || !dst || src == dst)
        return myo_data_fail(MYO_ERR_ARG, "reorder copy: bad arguments");
    memset(dst, 0, sizeof *dst);
    if (src->parents)
        return myo_data_fail(MYO_ERR_ARG, "reorder copy: the %s dataset has parse trees",
                             src->task);
    *dst = *src;
    dst->tokens = dst->labels = dst->lengths = dst->parents = NULL;
    myo_status s = myo_dataset_alloc(dst, src->count, 0);
    if (s != MYO_OK) {
        memset(dst, 0, sizeof *dst);
        return myo_data_fail(s, "reorder copy: %s", myo_data_error());
    }
    /* keep src's header and attributes whatever alloc did with them */
    myo_dataset arrays = *dst;
    *dst = *src;
    dst->tokens = arrays.tokens;
    dst->labels = arrays.labels;
    dst->lengths = arrays.lengths;
    dst->parents = arrays.parents;
    size_t docs = (size_t)(src->count * src->docs);
    if (src->count > 0) {
        memcpy(dst->tokens, src->tokens, docs * (size_t)src->n * sizeof(int32_t));
        memcpy(dst->labels, src->labels, (size_t)src->count * sizeof(int32_t));
        memcpy(dst->lengths, src->lengths, docs * sizeof(int32_t));
    }
    s = myo_dataset_reorder(dst, o, side);
    if (s != MYO_OK) myo_dataset_free(dst);
    return s;
}

/* ----------------------------------------------------------- quad-tree */

typedef struct {
    myo_ordering o;
    int k, side;
    int64_t n, next_token, n_internal;
    int64_t *parent;
} qt_state;

/* In-image pixels of the aligned block of 4^j cells starting at curve
 * position d0 (an aligned square for both curves). */
static int64_t block_count(const qt_state *q, int j, uint64_t d0)
{
    uint32_t x, y;
    curve_decode(q->o, q->k, d0, &x, &y);
    uint64_t s = (uint64_t)1 << j, bx = x & ~(s - 1), by = y & ~(s - 1);
    uint64_t side = (uint64_t)q->side;
    uint64_t w = bx >= side ? 0 : (bx + s < side ? s : side - bx);
    uint64_t h = by >= side ? 0 : (by + s < side ? s : side - by);
    return (int64_t)(w * h);
}

static void qt_build(qt_state *q, int j, uint64_t d0, int64_t parent_label)
{
    int64_t count = block_count(q, j, d0);
    if (count == 0) return;
    if (count == 1) {
        q->parent[q->next_token++] = parent_label;
        return;
    }
    uint64_t quarter = (uint64_t)1 << (2 * (j - 1));
    int nonempty = 0, only = -1;
    for (int c = 0; c < 4; c++)
        if (block_count(q, j - 1, d0 + (uint64_t)c * quarter) > 0) nonempty++, only = c;
    if (nonempty == 1) {
        qt_build(q, j - 1, d0 + (uint64_t)only * quarter, parent_label);
        return;
    }
    int64_t label = q->n + q->n_internal++;
    q->parent[label] = parent_label;
    for (int c = 0; c < 4; c++)
        qt_build(q, j - 1, d0 + (uint64_t)c * quarter, label);
}

myo_status myo_ordering_quadtree(myo_ordering o, int side, myo_tree **out)
{
    if (!out) return myo_data_fail(MYO_ERR_ARG, "quadtree: NULL out");
    *out = NULL;
    myo_status s = check_side(o, side);
    if (s != MYO_OK) return s;
    if (o == MYO_ORDER_RASTER)
        return myo_data_fail(MYO_ERR_ARG, "quadtree: raster order has no quad-tree (use morton or "
                                          "hilbert)");
    qt_state q = {o, ceil_log2(side), side, (int64_t)side * side, 0, 0, NULL};
    q.parent = malloc((size_t)(2 * q.n) * sizeof *q.parent);
    if (!q.parent) return myo_data_fail(MYO_ERR_NOMEM, "quadtree: out of memory");
    qt_build(&q, q.k, 0, -1);
    s = myo_tree_create(q.parent, q.n + q.n_internal, out);
    free(q.parent);
    if (s != MYO_OK) return myo_data_fail(s, "quadtree: %s", myo_error_detail());
    return MYO_OK;
}
