/* solve_kernels.h -- the factor and the two solver passes, written once for
 * one floating type.  solve.c includes this file twice, with
 *     REAL    the floating type (float or double),
 *     SUFFIX  the public name suffix (f32 or f64),
 *     PREC    the myo_precision tag.
 * Notation: N nodes, m channels; "pos" is a pre-order position, "label" the
 * caller's node number; rows of rhs and out are indexed by label. */

#define MYO_CAT_(a, b) a##_##b
#define MYO_CAT(a, b) MYO_CAT_(a, b)
#define FN(name) MYO_CAT(name, SUFFIX)

/* Kernels on one cache line's worth of channels, len <= LINE.  Separate
 * in-place forms: exact aliasing would fail the compiler's run-time alias
 * check and send it to a scalar fallback loop. */
#define LINE ((int64_t)(64 / sizeof(REAL)))

static inline void FN(line_scale)(REAL *restrict y, const REAL *restrict x, REAL s, int64_t len)
{
    for (int64_t k = 0; k < len; k++) y[k] = s * x[k];
}

static inline void FN(line_scale_in_place)(REAL *restrict y, REAL s, int64_t len)
{
    for (int64_t k = 0; k < len; k++) y[k] *= s;
}

static inline void FN(line_scale_sub)(REAL *restrict y, const REAL *restrict x, REAL s,
                                      const REAL *restrict z, REAL w, int64_t len)
{
    for (int64_t k = 0; k < len; k++) y[k] = s * x[k] - w * z[k];
}

static inline void FN(line_scale_sub_in_place)(REAL *restrict y, REAL s, const REAL *restrict z,
                                               REAL w, int64_t len)
{
    for (int64_t k = 0; k < len; k++) y[k] = s * y[k] - w * z[k];
}

static inline void FN(line_sub)(REAL *restrict y, const REAL *restrict x, REAL a, int64_t len)
{
    for (int64_t k = 0; k < len; k++) y[k] -= a * x[k];
}

/* Pass 1 walks the rows backwards, so it also walks each row from its last
 * cache line to its first: the pass is then one descending stream, which
 * hardware prefetchers follow (a stream descending by rows but ascending
 * within 512-byte rows ran 4x slower on AMD EPYC).  Inside a line the
 * loop ascends, so it vectorises without lane reversal.  The full lines
 * run with len == LINE, a constant the compiler unrolls. */
#define FOR_EACH_LINE_DESCENDING(m, kb, len, stmt)                                                \
    do {                                                                                           \
        int64_t kb = ((m)-1) / LINE * LINE, len = (m)-kb;                                         \
        stmt;                                                                                      \
        for (kb -= LINE, len = LINE; kb >= 0; kb -= LINE) stmt;                                   \
    } while (0)

/* y (m,) = s x; y may equal x. */
static inline void FN(row_scale_desc)(REAL *y, const REAL *x, REAL s, int64_t m)
{
    if (y == x) FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_scale_in_place)(y + kb, s, len));
    else FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_scale)(y + kb, x + kb, s, len));
}

/* y (m,) = s x - w z; y may equal x, z is another row. */
static inline void FN(row_scale_sub_desc)(REAL *y, const REAL *x, REAL s, const REAL *z, REAL w,
                                          int64_t m)
{
    if (y == x)
        FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_scale_sub_in_place)(y + kb, s, z + kb, w, len));
    else FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_scale_sub)(y + kb, x + kb, s, z + kb, w, len));
}

/* y (m,) -= a x; distinct rows. */
static inline void FN(row_sub_desc)(REAL *y, const REAL *x, REAL a, int64_t m)
{
    FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_sub)(y + kb, x + kb, a, len));
}

/* Any forest.  rhs, out (N, m) by label; inv, b, c (N,) by position, where
 * b = M[i][parent(i)] and c = M[parent(i)][i] (up and down for M, swapped
 * for M^T).  The multipliers are formed on the fly, off the dependent chain:
 * Pass 1, children before parents:  z_i = inv_i r_i - sum_c (c_c inv_i) z_c
 * Pass 2, parents before children:  y_i = z_i - (b_i inv_i) y_parent(i)    */
static void FN(solve_tree)(const myo_tree *t, const REAL *inv, const REAL *b, const REAL *c,
                           const REAL *rhs, REAL *out, int64_t m)
{
    const int64_t *order = t->order, *subtree = t->subtree, *parent_pos = t->parent_pos;
    for (int64_t pos = t->n - 1; pos >= 0; pos--) {
        REAL *z = out + order[pos] * m;
        const REAL *r = rhs + order[pos] * m;
        REAL s = inv[pos];
        int64_t ch = pos + 1, end = pos + subtree[pos];
        if (ch < end) {
            FN(row_scale_sub_desc)(z, r, s, out + order[ch] * m, c[ch] * s, m);
            ch += subtree[ch];
        } else {
            FN(row_scale_desc)(z, r, s, m);
        }
        for (; ch < end; ch += subtree[ch]) FN(row_sub_desc)(z, out + order[ch] * m, c[ch] * s, m);
    }
    for (int64_t pos = 0; pos < t->n; pos++) {
        int64_t pp = parent_pos[pos];
        if (pp >= 0) FN(line_sub)(out + order[pos] * m, out + order[pp] * m, b[pos] * inv[pos], m);
    }
}

/* A single path labelled 0..N-1 from the root: no index arrays at all.
 * Same recurrences as solve_tree with child(i) = i + 1, parent(i) = i - 1. */
static void FN(solve_chain)(int64_t n, const REAL *inv, const REAL *b, const REAL *c,
                            const REAL *rhs, REAL *out, int64_t m)
{
    if (m == 1) { /* the scalar recurrences, as LAPACK's pttrs runs them */
        out[n - 1] = inv[n - 1] * rhs[n - 1];
        for (int64_t i = n - 2; i >= 0; i--)
            out[i] = inv[i] * rhs[i] - (c[i + 1] * inv[i]) * out[i + 1];
        for (int64_t i = 1; i < n; i++) out[i] -= (b[i] * inv[i]) * out[i - 1];
        return;
    }
    FN(row_scale_desc)(out + (n - 1) * m, rhs + (n - 1) * m, inv[n - 1], m);
    for (int64_t i = n - 2; i >= 0; i--)
        FN(row_scale_sub_desc)(out + i * m, rhs + i * m, inv[i], out + (i + 1) * m,
                               c[i + 1] * inv[i], m);
    for (int64_t i = 1; i < n; i++) FN(line_sub)(out + i * m, out + (i - 1) * m, b[i] * inv[i], m);
}

/* Is every multiplier the solves form finite in REAL?  b_i inv_i and
 * c_i inv_i (pass 2 of M^T and M), c_i inv_parent and b_i inv_parent
 * (pass 1 of M and M^T). */
static int FN(multipliers_finite)(REAL inv, REAL inv_parent, REAL b, REAL c)
{
    return inv != 0 && isfinite(inv) && isfinite(b * inv) && isfinite(c * inv) &&
           isfinite(c * inv_parent) && isfinite(b * inv_parent);
}

/* Pivots in double, children before parents:
 *     a'_i = diag_i - sum_c down_c up_c / a'_c,   inv_i = 1 / a'_i,
 * the only dependent chain (one division, one multiply-subtract per node).
 * The coefficients are gathered into pre-order position first, and the
 * multipliers checked for overflow in the working precision last. */
static myo_status FN(factor_fill)(const myo_tree *t, const REAL *diag, const REAL *up,
                                  const REAL *down, myo_factor *f)
{
    const int64_t n = t->n, *order = t->order, *parent_pos = t->parent_pos;
    REAL *inv = f->inv, *b = f->up, *c = f->down;
    /* Double precision accumulators: the inv array itself when REAL is double. */
    double *piv = sizeof(REAL) == sizeof(double) ? (double *)(void *)inv
                                                 : myo_alloc((size_t)n, sizeof(double), "pivots");
    if (!piv) return MYO_ERR_NOMEM;
    myo_status s = MYO_OK;
    for (int64_t pos = 0; pos < n && s == MYO_OK; pos++) {
        int64_t lab = order[pos];
        int is_root = parent_pos[pos] < 0;
        piv[pos] = diag[lab];
        b[pos] = is_root ? 0 : up[lab];
        c[pos] = is_root ? 0 : down[lab];
        if (!isfinite(piv[pos]) || !isfinite(b[pos]) || !isfinite(c[pos])) {
            const char *name = !isfinite(piv[pos]) ? "diag" : !isfinite(b[pos]) ? "up" : "down";
            double value = !isfinite(piv[pos]) ? piv[pos] : !isfinite(b[pos]) ? b[pos] : c[pos];
            s = myo_fail(MYO_ERR_DATA, "%s[%lld] = %g is not finite", name, (long long)lab, value);
        }
    }
    for (int64_t pos = n - 1; pos >= 0 && s == MYO_OK; pos--) {
        double a = piv[pos];
        if (a == 0.0 || !isfinite(a)) {
            s = myo_fail(MYO_ERR_SINGULAR,
                         "pivot of node %lld is %g after eliminating its subtree: the matrix "
                         "is singular (make it diagonally dominant)",
                         (long long)order[pos], a);
            break;
        }
        double ia = 1.0 / a;
        int64_t pp = parent_pos[pos];
        if (pp >= 0) piv[pp] -= (double)c[pos] * (double)b[pos] * ia;
        piv[pos] = ia;
    }
    if (piv != (double *)(void *)inv) {
        for (int64_t pos = 0; pos < n && s == MYO_OK; pos++) inv[pos] = (REAL)piv[pos];
        free(piv);
    }
    for (int64_t pos = 0; pos < n && s == MYO_OK; pos++) {
        int64_t pp = parent_pos[pos];
        if (!FN(multipliers_finite)(inv[pos], pp >= 0 ? inv[pp] : 0, b[pos], c[pos]))
            s = myo_fail(MYO_ERR_SINGULAR,
                         "elimination multipliers of node %lld overflow the working precision "
                         "(pivot %g): the matrix is numerically singular",
                         (long long)order[pos], 1.0 / (double)inv[pos]);
    }
    return s;
}

myo_status FN(myo_factor_create)(const myo_tree *t, const REAL *diag, const REAL *up,
                                 const REAL *down, myo_factor **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_factor_create: out is NULL");
    *out = NULL;
    if (!t || !diag || !up || !down)
        return myo_fail(MYO_ERR_ARG, "myo_factor_create: tree, diag, up and down are required");
    myo_factor *f = NULL;
    MYO_CHECK(factor_alloc(t, PREC, sizeof(REAL), &f));
    myo_status s = FN(factor_fill)(t, diag, up, down, f);
    if (s != MYO_OK) myo_factor_destroy(&f);
    *out = f;
    return s;
}

myo_status FN(myo_solve)(const myo_factor *f, myo_op op, const REAL *rhs, REAL *out, int64_t m)
{
    MYO_CHECK(check_solve_args(f, PREC, op, rhs, out, m, sizeof(REAL)));
    /* M^T is the same tree with up and down swapped. */
    const REAL *b = op == MYO_OP_N ? f->up : f->down;
    const REAL *c = op == MYO_OP_N ? f->down : f->up;
    if (f->tree->is_chain) FN(solve_chain)(f->tree->n, f->inv, b, c, rhs, out, m);
    else FN(solve_tree)(f->tree, f->inv, b, c, rhs, out, m);
    return MYO_OK;
}

#undef FN
#undef LINE
#undef FOR_EACH_LINE_DESCENDING
#undef MYO_CAT
#undef MYO_CAT_
