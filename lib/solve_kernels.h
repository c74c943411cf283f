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

/* y (m,) = s x; y may equal x. */
static inline void FN(row_scale)(REAL *y, const REAL *x, REAL s, int64_t m)
{
    for (int64_t k = 0; k < m; k++) y[k] = s * x[k];
}

/* y (m,) = s x - w z; y may equal x, z is another row. */
static inline void FN(row_scale_sub)(REAL *y, const REAL *x, REAL s, const REAL *restrict z,
                                     REAL w, int64_t m)
{
    for (int64_t k = 0; k < m; k++) y[k] = s * x[k] - w * z[k];
}

/* y (m,) -= a x; distinct rows. */
static inline void FN(row_sub)(REAL *restrict y, const REAL *restrict x, REAL a, int64_t m)
{
    for (int64_t k = 0; k < m; k++) y[k] -= a * x[k];
}

/* Any forest.  rhs, out (N, m) by label; inv, w, u (N,) by position.
 * Pass 1, children before parents:  z_i = inv_i r_i - sum_c w_c z_c
 * Pass 2, parents before children:  y_i = z_i - u_i y_parent(i)            */
static void FN(solve_tree)(const myo_tree *t, const REAL *inv, const REAL *w, const REAL *u,
                           const REAL *rhs, REAL *out, int64_t m)
{
    const int64_t *order = t->order, *subtree = t->subtree, *parent_pos = t->parent_pos;
    for (int64_t pos = t->n - 1; pos >= 0; pos--) {
        REAL *z = out + order[pos] * m;
        const REAL *r = rhs + order[pos] * m;
        int64_t c = pos + 1, end = pos + subtree[pos];
        if (c < end) {
            FN(row_scale_sub)(z, r, inv[pos], out + order[c] * m, w[c], m);
            c += subtree[c];
        } else {
            FN(row_scale)(z, r, inv[pos], m);
        }
        for (; c < end; c += subtree[c]) FN(row_sub)(z, out + order[c] * m, w[c], m);
    }
    for (int64_t pos = 0; pos < t->n; pos++) {
        int64_t pp = parent_pos[pos];
        if (pp >= 0) FN(row_sub)(out + order[pos] * m, out + order[pp] * m, u[pos], m);
    }
}

/* A single path labelled 0..N-1 from the root: no index arrays at all.
 * Same recurrences as solve_tree with child(i) = i + 1, parent(i) = i - 1. */
static void FN(solve_chain)(int64_t n, const REAL *inv, const REAL *w, const REAL *u,
                            const REAL *rhs, REAL *out, int64_t m)
{
    if (m == 1) { /* the scalar recurrence, as LAPACK's pttrs runs it */
        out[n - 1] = inv[n - 1] * rhs[n - 1];
        for (int64_t i = n - 2; i >= 0; i--) out[i] = inv[i] * rhs[i] - w[i + 1] * out[i + 1];
        for (int64_t i = 1; i < n; i++) out[i] -= u[i] * out[i - 1];
        return;
    }
    FN(row_scale)(out + (n - 1) * m, rhs + (n - 1) * m, inv[n - 1], m);
    for (int64_t i = n - 2; i >= 0; i--)
        FN(row_scale_sub)(out + i * m, rhs + i * m, inv[i], out + (i + 1) * m, w[i + 1], m);
    for (int64_t i = 1; i < n; i++) FN(row_sub)(out + i * m, out + (i - 1) * m, u[i], m);
}

/* Pivots in double, then the per-position multipliers in REAL:
 *   inv_i = 1 / a'_i,  w_i = down_i inv_parent,  u_i = up_i inv_i   (M)
 *   wt_i  = up_i inv_parent,  ut_i = down_i inv_i                 (M^T)   */
static myo_status FN(factor_fill)(const myo_tree *t, const REAL *diag, const REAL *up,
                                  const REAL *down, myo_factor *f)
{
    const int64_t n = t->n, *order = t->order, *parent_pos = t->parent_pos;
    double *piv = myo_alloc((size_t)n, sizeof(double), "factor pivots");
    if (!piv) return MYO_ERR_NOMEM;
    myo_status s = MYO_OK;
    for (int64_t pos = 0; pos < n && s == MYO_OK; pos++) {
        int64_t lab = order[pos];
        piv[pos] = diag[lab];
        if (!isfinite(diag[lab]))
            s = myo_fail(MYO_ERR_DATA, "diag[%lld] = %g is not finite", (long long)lab,
                         (double)diag[lab]);
        else if (parent_pos[pos] >= 0 && !isfinite(up[lab]))
            s = myo_fail(MYO_ERR_DATA, "up[%lld] = %g is not finite", (long long)lab,
                         (double)up[lab]);
        else if (parent_pos[pos] >= 0 && !isfinite(down[lab]))
            s = myo_fail(MYO_ERR_DATA, "down[%lld] = %g is not finite", (long long)lab,
                         (double)down[lab]);
    }
    for (int64_t pos = n - 1; pos >= 0 && s == MYO_OK; pos--) {
        int64_t lab = order[pos], pp = parent_pos[pos];
        if (piv[pos] == 0.0 || !isfinite(piv[pos]))
            s = myo_fail(MYO_ERR_SINGULAR,
                         "pivot of node %lld is %g after eliminating its subtree: the matrix "
                         "is singular (make it diagonally dominant)",
                         (long long)lab, piv[pos]);
        else if (pp >= 0)
            piv[pp] -= (double)down[lab] * (double)up[lab] / piv[pos];
    }
    for (int64_t pos = 0; pos < n && s == MYO_OK; pos++) piv[pos] = 1.0 / piv[pos];
    REAL *inv = f->inv, *w = f->w_n, *u = f->u_n, *wt = f->w_t, *ut = f->u_t;
    for (int64_t pos = 0; pos < n && s == MYO_OK; pos++) {
        int64_t lab = order[pos], pp = parent_pos[pos];
        double inv_parent = pp >= 0 ? piv[pp] : 0.0;
        double b = pp >= 0 ? up[lab] : 0.0, c = pp >= 0 ? down[lab] : 0.0;
        inv[pos] = (REAL)piv[pos];
        w[pos] = (REAL)(c * inv_parent);
        u[pos] = (REAL)(b * piv[pos]);
        wt[pos] = (REAL)(b * inv_parent);
        ut[pos] = (REAL)(c * piv[pos]);
        if (inv[pos] == 0 || !isfinite(inv[pos]) || !isfinite(w[pos]) || !isfinite(u[pos]) ||
            !isfinite(wt[pos]) || !isfinite(ut[pos]))
            s = myo_fail(MYO_ERR_SINGULAR,
                         "elimination multipliers of node %lld overflow the working "
                         "precision (pivot %g): the matrix is numerically singular",
                         (long long)lab, 1.0 / piv[pos]);
    }
    free(piv);
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
    const REAL *w = op == MYO_OP_N ? f->w_n : f->w_t;
    const REAL *u = op == MYO_OP_N ? f->u_n : f->u_t;
    if (f->tree->is_chain) FN(solve_chain)(f->tree->n, f->inv, w, u, rhs, out, m);
    else FN(solve_tree)(f->tree, f->inv, w, u, rhs, out, m);
    return MYO_OK;
}

#undef FN
#undef MYO_CAT
#undef MYO_CAT_
