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

/* The coefficients of one matrix while it is being factored, by label; NULL
 * when the factor already holds the pivots. */
typedef struct {
    const REAL *diag, *up, *down;
} FN(coeffs);

/* Name the first failing check of node `label` (the slow path of
 * finish_pivot): a non-finite coefficient, a zero or non-finite pivot, or
 * a multiplier that overflows REAL. */
static myo_status FN(pivot_failure)(int64_t label, double diag, double b, double c, double a)
{
    if (!isfinite(diag) || !isfinite(b) || !isfinite(c)) {
        const char *name = !isfinite(diag) ? "diag" : !isfinite(b) ? "up" : "down";
        return myo_fail(MYO_ERR_DATA, "%s[%lld] = %g is not finite", name, (long long)label,
                        !isfinite(diag) ? diag : !isfinite(b) ? b : c);
    }
    if (a == 0.0 || !isfinite(a))
        return myo_fail(MYO_ERR_SINGULAR,
                        "pivot of node %lld is %g after eliminating its subtree: the matrix is "
                        "singular (make it diagonally dominant)",
                        (long long)label, a);
    return myo_fail(MYO_ERR_SINGULAR,
                    "elimination multipliers of node %lld overflow the working precision (pivot "
                    "%g): the matrix is numerically singular",
                    (long long)label, a);
}

/* Finish node `label` at position pos once its children are eliminated:
 * a is its pivot, max_child the largest |up| or |down| of its children.
 * Stores inv, b = up, c = down (0 at roots) by position; returns the
 * update down up / a' it passes to its parent.  Every multiplier a solve
 * forms from this pivot (b inv, c inv, and the children's up inv, down inv)
 * must be finite in REAL; the checks are folded into one branch. */
static MYO_ALWAYS_INLINE myo_status FN(finish_pivot)(myo_factor *f, const FN(coeffs) *k, int64_t pos,
                                          int64_t label, int is_root, double a, REAL max_child,
                                          double *update)
{
    REAL *inv = f->inv, *b = f->up, *c = f->down;
    REAL bb = is_root ? 0 : k->up[label], cc = is_root ? 0 : k->down[label];
    double ia = 1.0 / a;
    REAL ir = (REAL)ia;
    REAL big = fabs(bb) > fabs(cc) ? fabs(bb) : fabs(cc);
    big = big > max_child ? big : max_child;
    if (!(isfinite(k->diag[label]) & isfinite(bb) & isfinite(cc) & (a != 0.0) & isfinite(a) &
          (ir != 0) & isfinite(ir) & isfinite(big * ir)))
        return FN(pivot_failure)(label, k->diag[label], bb, cc, a);
    inv[pos] = ir, b[pos] = bb, c[pos] = cc;
    *update = (double)cc * (double)bb * ia;
    return MYO_OK;
}

/* Factor a general forest: positions backwards, children before parents,
 * each node pulling its children's updates (upd (N,), by position):
 *     a'_i = diag_i - sum_c upd_c,   inv_i = 1 / a'_i,   upd_i = down_i up_i inv_i */
static myo_status FN(factor_tree)(const myo_tree *t, myo_factor *f, const FN(coeffs) *k)
{
    const int64_t *order = t->order, *subtree = t->subtree, *parent_pos = t->parent_pos;
    const REAL *up_pos = f->up, *down_pos = f->down;
    double *upd = f->acc;
    for (int64_t pos = t->n - 1; pos >= 0; pos--) {
        int64_t label = order[pos], end = pos + subtree[pos];
        double a = k->diag[label];
        REAL max_child = 0;
        for (int64_t ch = pos + 1; ch < end; ch += subtree[ch]) {
            a -= upd[ch];
            REAL big = fabs(up_pos[ch]) > fabs(down_pos[ch]) ? fabs(up_pos[ch]) : fabs(down_pos[ch]);
            max_child = big > max_child ? big : max_child;
        }
        MYO_CHECK(FN(finish_pivot)(f, k, pos, label, parent_pos[pos] < 0, a, max_child, &upd[pos]));
    }
    return MYO_OK;
}

/* Pass 1 on any forest: positions backwards, children before parents.
 * rhs, out (N, m) by label; inv, c (N,) by position, c = M[parent(i)][i]
 * (down for M, up for M^T); the multipliers are formed on the fly, off the
 * dependent chain:
 *     z_i = inv_i r_i - sum_c (c_c inv_i) z_c                               */
static void FN(pass1_tree)(const myo_tree *t, const myo_factor *f, myo_op op, const REAL *rhs,
                           REAL *out, int64_t m)
{
    const int64_t *order = t->order, *subtree = t->subtree;
    const REAL *inv = f->inv, *c = op == MYO_OP_N ? f->down : f->up;
    for (int64_t pos = t->n - 1; pos >= 0; pos--) {
        int64_t label = order[pos], end = pos + subtree[pos], ch = pos + 1;
        REAL *z = out + label * m, s = inv[pos];
        const REAL *r = rhs + label * m;
        if (ch < end) {
            FN(row_scale_sub_desc)(z, r, s, out + order[ch] * m, c[ch] * s, m);
            ch += subtree[ch];
        } else {
            FN(row_scale_desc)(z, r, s, m);
        }
        for (; ch < end; ch += subtree[ch]) FN(row_sub_desc)(z, out + order[ch] * m, c[ch] * s, m);
    }
}

/* Pass 2 on any forest: positions forwards, parents before children.
 *     y_i = z_i - (b_i inv_i) y_parent(i)                                   */
static void FN(pass2_tree)(const myo_tree *t, const myo_factor *f, myo_op op, REAL *out, int64_t m)
{
    const int64_t *order = t->order, *parent_pos = t->parent_pos;
    const REAL *inv = f->inv, *b = op == MYO_OP_N ? f->up : f->down;
    for (int64_t pos = 0; pos < t->n; pos++) {
        int64_t pp = parent_pos[pos];
        if (pp >= 0) FN(line_sub)(out + order[pos] * m, out + order[pp] * m, b[pos] * inv[pos], m);
    }
}

/* One node i of pass 1 on a single path labelled 0..N-1 from the root:
 * child(i) = i + 1, no index arrays.  The pending pivot update is carried
 * in *update: its dependent chain is one subtraction and one division per
 * node, the inverse being an independent division.  With m = 1, z_{i+1} is
 * carried in *z (a register once inlined), not reloaded from memory. */
static MYO_ALWAYS_INLINE myo_status FN(pass1_chain_node)(int64_t n, myo_factor *f,
                                                         const FN(coeffs) *k, const REAL *c,
                                                         const REAL *rhs, REAL *out, int64_t m,
                                                         int64_t i, double *update, REAL *z)
{
    const REAL *inv = f->inv;
    if (k) {
        const REAL *up_pos = f->up, *down_pos = f->down;
        REAL max_child = 0;
        if (i + 1 < n)
            max_child = fabs(up_pos[i + 1]) > fabs(down_pos[i + 1]) ? fabs(up_pos[i + 1])
                                                                   : fabs(down_pos[i + 1]);
        double a = k->diag[i] - *update;
        MYO_CHECK(FN(finish_pivot)(f, k, i, i, i == 0, a, max_child, update));
        /* The same update, but dividing by a' rather than multiplying by its
         * inverse: one operation less on the dependent chain. */
        *update = (double)down_pos[i] * (double)up_pos[i] / a;
    }
    if (m == 1) { /* the scalar recurrence, as LAPACK's pttrs runs it */
        REAL w = i + 1 < n ? c[i + 1] * inv[i] : 0;
        *z = inv[i] * rhs[i] - w * *z;
        out[i] = *z;
    } else if (m > 1) {
        if (i + 1 < n)
            FN(row_scale_sub_desc)(out + i * m, rhs + i * m, inv[i], out + (i + 1) * m,
                                   c[i + 1] * inv[i], m);
        else
            FN(row_scale_desc)(out + i * m, rhs + i * m, inv[i], m);
    }
    return MYO_OK;
}

static myo_status FN(pass1_chain)(int64_t n, myo_factor *f, const FN(coeffs) *k, myo_op op,
                                  const REAL *rhs, REAL *out, int64_t m)
{
    const REAL *c = op == MYO_OP_N ? f->down : f->up;
    double update = 0.0;
    REAL z = 0;
    /* Constant arguments let the compiler specialise the node body. */
    if (k && m == 1)
        for (int64_t i = n - 1; i >= 0; i--)
            MYO_CHECK(FN(pass1_chain_node)(n, f, k, c, rhs, out, 1, i, &update, &z));
    else if (k)
        for (int64_t i = n - 1; i >= 0; i--)
            MYO_CHECK(FN(pass1_chain_node)(n, f, k, c, rhs, out, m, i, &update, &z));
    else if (m == 1)
        for (int64_t i = n - 1; i >= 0; i--)
            MYO_CHECK(FN(pass1_chain_node)(n, f, NULL, c, rhs, out, 1, i, &update, &z));
    else
        for (int64_t i = n - 1; i >= 0; i--)
            MYO_CHECK(FN(pass1_chain_node)(n, f, NULL, c, rhs, out, m, i, &update, &z));
    return MYO_OK;
}

/* Pass 2 on the path: y_i = z_i - (b_i inv_i) y_{i-1}. */
static void FN(pass2_chain)(int64_t n, const myo_factor *f, myo_op op, REAL *out, int64_t m)
{
    const REAL *inv = f->inv, *b = op == MYO_OP_N ? f->up : f->down;
    if (m == 1) { /* y_{i-1} carried in a register */
        REAL y = out[0];
        for (int64_t i = 1; i < n; i++) out[i] = y = out[i] - (b[i] * inv[i]) * y;
        return;
    }
    for (int64_t i = 1; i < n; i++) FN(line_sub)(out + i * m, out + (i - 1) * m, b[i] * inv[i], m);
}

/* Factor when k is not NULL, then solve when m > 0.  On a chain the pivots
 * are computed inside pass 1: their dependent chain of divisions hides
 * under the streaming of the rows.  On other forests a separate factor
 * sweep measured faster than the fused one (the divisions of a spine, one
 * after another in pre-order, stalled the streaming). */
static myo_status FN(run)(myo_factor *f, const FN(coeffs) *k, myo_op op, const REAL *rhs,
                          REAL *out, int64_t m)
{
    const myo_tree *t = f->tree;
    if (t->is_chain) {
        MYO_CHECK(FN(pass1_chain)(t->n, f, k, op, rhs, out, m));
        if (m > 0) FN(pass2_chain)(t->n, f, op, out, m);
        return MYO_OK;
    }
    if (k) MYO_CHECK(FN(factor_tree)(t, f, k));
    if (m > 0) {
        FN(pass1_tree)(t, f, op, rhs, out, m);
        FN(pass2_tree)(t, f, op, out, m);
    }
    return MYO_OK;
}

myo_status FN(myo_refactor)(myo_factor *f, const REAL *diag, const REAL *up, const REAL *down,
                            myo_op op, const REAL *rhs, REAL *out, int64_t m)
{
    if (!f || !diag || !up || !down)
        return myo_fail(MYO_ERR_ARG, "myo_refactor: factor, diag, up and down are required");
    if (f->precision != PREC)
        return myo_fail(MYO_ERR_ARG, "myo_refactor: the factor was made in %s, the call is for %s",
                        f->precision == MYO_F64 ? "double" : "float", PREC == MYO_F64 ? "double" : "float");
    if (m < 0) return myo_fail(MYO_ERR_ARG, "myo_refactor: m = %lld, need m >= 0", (long long)m);
    if (m > 0) MYO_CHECK(check_solve_args(f, PREC, op, rhs, out, m, sizeof(REAL)));
    FN(coeffs) k = {diag, up, down};
    myo_status s = FN(run)(f, &k, op, rhs, out, m);
    f->valid = s == MYO_OK;
    return s;
}

myo_status FN(myo_factor_solve)(const myo_tree *t, const REAL *diag, const REAL *up,
                                const REAL *down, myo_op op, const REAL *rhs, REAL *out, int64_t m,
                                myo_factor **out_factor)
{
    if (!out_factor) return myo_fail(MYO_ERR_ARG, "myo_factor_create: out is NULL");
    *out_factor = NULL;
    if (!t) return myo_fail(MYO_ERR_ARG, "myo_factor_create: tree is NULL");
    myo_factor *f = NULL;
    MYO_CHECK(factor_alloc(t, PREC, sizeof(REAL), &f));
    myo_status s = FN(myo_refactor)(f, diag, up, down, op, rhs, out, m);
    if (s != MYO_OK) myo_factor_destroy(&f);
    *out_factor = f;
    return s;
}

myo_status FN(myo_factor_create)(const myo_tree *t, const REAL *diag, const REAL *up,
                                 const REAL *down, myo_factor **out)
{
    return FN(myo_factor_solve)(t, diag, up, down, MYO_OP_N, NULL, NULL, 0, out);
}

myo_status FN(myo_solve)(const myo_factor *f, myo_op op, const REAL *rhs, REAL *out, int64_t m)
{
    MYO_CHECK(check_solve_args(f, PREC, op, rhs, out, m, sizeof(REAL)));
    if (!f->valid)
        return myo_fail(MYO_ERR_ARG, "myo_solve: the factor's last refactor failed; its pivots "
                                     "are not usable");
    /* Without coefficients the passes only read the factor. */
    return FN(run)((myo_factor *)f, NULL, op, rhs, out, m);
}

#undef FN
#undef LINE
#undef FOR_EACH_LINE_DESCENDING
#undef MYO_CAT
#undef MYO_CAT_
