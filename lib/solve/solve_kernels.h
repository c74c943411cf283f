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

/* Up to this many channels of one head, the chain kernels carry the
 * previous row in registers (fully unrolled for m = 1, 4, 8, 16). */
#define CHAIN_CARRY 16

static inline void FN(line_scale)(REAL *restrict y, const REAL *restrict x, REAL s, int64_t len)
{
    for (int64_t k = 0; k < len; k++)
        y[k] = s * x[k];
}

static inline void FN(line_scale_in_place)(REAL *restrict y, REAL s, int64_t len)
{
    for (int64_t k = 0; k < len; k++)
        y[k] *= s;
}

static inline void FN(line_scale_sub)(REAL *restrict y, const REAL *restrict x, REAL s,
                                      const REAL *restrict z, REAL w, int64_t len)
{
    for (int64_t k = 0; k < len; k++)
        y[k] = s * x[k] - w * z[k];
}

static inline void FN(line_scale_sub_in_place)(REAL *restrict y, REAL s, const REAL *restrict z,
                                               REAL w, int64_t len)
{
    for (int64_t k = 0; k < len; k++)
        y[k] = s * y[k] - w * z[k];
}

static inline void FN(line_sub)(REAL *restrict y, const REAL *restrict x, REAL a, int64_t len)
{
    for (int64_t k = 0; k < len; k++)
        y[k] -= a * x[k];
}

/* Pass 1 walks the rows backwards, so it also walks each row from its last
 * cache line to its first: the pass is then one descending stream, which
 * hardware prefetchers follow (a stream descending by rows but ascending
 * within 512-byte rows ran 4x slower on AMD EPYC).  Inside a line the
 * loop ascends, so it vectorises without lane reversal.  The full lines
 * run with len == LINE, a constant the compiler unrolls. */
#define FOR_EACH_LINE_DESCENDING(m, kb, len, stmt)                                                 \
    do {                                                                                           \
        int64_t kb = ((m)-1) / LINE * LINE, len = (m)-kb;                                          \
        stmt;                                                                                      \
        for (kb -= LINE, len = LINE; kb >= 0; kb -= LINE)                                          \
            stmt;                                                                                  \
    } while (0)

/* y (m,) = s x; y may equal x. */
static inline void FN(row_scale_desc)(REAL *y, const REAL *x, REAL s, int64_t m)
{
    if (y == x)
        FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_scale_in_place)(y + kb, s, len));
    else
        FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_scale)(y + kb, x + kb, s, len));
}

/* y (m,) = s x - w z; y may equal x, z is another row. */
static inline void FN(row_scale_sub_desc)(REAL *y, const REAL *x, REAL s, const REAL *z, REAL w,
                                          int64_t m)
{
    if (y == x)
        FOR_EACH_LINE_DESCENDING(m, kb, len,
                                 FN(line_scale_sub_in_place)(y + kb, s, z + kb, w, len));
    else
        FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_scale_sub)(y + kb, x + kb, s, z + kb, w, len));
}

/* y (m,) -= a x; distinct rows. */
static inline void FN(row_sub_desc)(REAL *y, const REAL *x, REAL a, int64_t m)
{
    FOR_EACH_LINE_DESCENDING(m, kb, len, FN(line_sub)(y + kb, x + kb, a, len));
}

/* The coefficients of the matrices being factored, (N, H) by label; NULL
 * when the factor already holds the pivots. */
typedef struct {
    const REAL *diag, *up, *down;
} FN(coeffs);
/* diag == NULL is the Laplacian form M = I + L: up and down then hold the
 * edge weights w_up, w_down >= 0 (up = -w_up, down = -w_down, diag = 1 +
 * w_up + the children's w_down), and the pivots grow from the row excess
 *     e_i = 1 + sum_c w_down_c e_c / a'_c,   a'_i = e_i + w_up_i,
 * a sum of positive terms: no cancellation, however large the weights. */

/* Name the first failing check of node `label`, head h (the slow path of
 * finish_pivot): a non-finite coefficient, a zero or non-finite pivot, or
 * a multiplier that overflows REAL. */
static myo_status FN(pivot_failure)(int64_t label, int64_t h, int64_t heads, int laplacian,
                                    double diag, double b, double c, double a)
{
    char node[64], index[64];
    if (heads > 1) {
        snprintf(node, sizeof node, "node %lld (head %lld)", (long long)label, (long long)h);
        snprintf(index, sizeof index, "[%lld][%lld]", (long long)label, (long long)h);
    } else {
        snprintf(node, sizeof node, "node %lld", (long long)label);
        snprintf(index, sizeof index, "[%lld]", (long long)label);
    }
    const char *b_name = laplacian ? "w_up" : "up", *c_name = laplacian ? "w_down" : "down";
    double b_value = laplacian ? -b : b, c_value = laplacian ? -c : c;
    if (!isfinite(diag) || !isfinite(b) || !isfinite(c)) {
        const char *name = !isfinite(diag) ? "diag" : !isfinite(b) ? b_name : c_name;
        return myo_fail(MYO_ERR_DATA, "%s%s = %g is not finite", name, index,
                        !isfinite(diag) ? diag
                        : !isfinite(b)  ? b_value
                                        : c_value);
    }
    if (laplacian && (b_value < 0 || c_value < 0))
        return myo_fail(MYO_ERR_DATA, "%s%s = %g is negative: Laplacian weights must be >= 0",
                        b_value < 0 ? b_name : c_name, index, b_value < 0 ? b_value : c_value);
    if (a == 0.0 || !isfinite(a))
        return myo_fail(MYO_ERR_SINGULAR,
                        "pivot of %s is %g after eliminating its subtree: the matrix is "
                        "singular (make it diagonally dominant)",
                        node, a);
    return myo_fail(MYO_ERR_SINGULAR,
                    "elimination multipliers of %s overflow the working precision (pivot %g): "
                    "the matrix is numerically singular",
                    node, a);
}

/* Finish node `label`, head h, at position pos once its children are
 * eliminated: a is its pivot, max_child the largest |up| or |down| of its
 * children in this head.  Stores inv, b = up, c = down (0 at roots) at
 * [pos H + h]; returns in *update the update down up / a' it passes to its
 * parent.  Every multiplier a solve forms from this pivot (b inv, c inv,
 * and the children's up inv, down inv) must be finite in REAL; the checks
 * are folded into one branch. */
static MYO_ALWAYS_INLINE myo_status FN(finish_pivot)(myo_factor *f, const FN(coeffs) * k,
                                                     int64_t pos, int64_t label, int64_t h,
                                                     int is_root, double x, REAL max_child,
                                                     double *update)
{
    const int64_t H = f->heads, at = pos * H + h, from = label * H + h;
    REAL *inv = f->inv, *b = f->up, *c = f->down;
    const int laplacian = k->diag == NULL;
    REAL bb = is_root ? 0 : k->up[from], cc = is_root ? 0 : k->down[from];
    /* Laplacian form: x is the excess e, the weights must be >= 0. */
    int weights_ok = !laplacian || ((bb >= 0) & (cc >= 0));
    if (laplacian) bb = -bb, cc = -cc;
    double diag = laplacian ? 1.0 : k->diag[from];
    double a = laplacian ? x - (double)bb : x;
    double ia = 1.0 / a;
    REAL ir = (REAL)ia;
    REAL big = fabs(bb) > fabs(cc) ? fabs(bb) : fabs(cc);
    big = big > max_child ? big : max_child;
    if (!(isfinite(diag) & isfinite(bb) & isfinite(cc) & weights_ok & (a != 0.0) & isfinite(a) &
          (ir != 0) & isfinite(ir) & isfinite(big * ir)))
        return FN(pivot_failure)(label, h, H, laplacian, diag, bb, cc, a);
    inv[at] = ir, b[at] = bb, c[at] = cc;
    *update = (double)cc * (laplacian ? x : (double)bb) * ia;
    return MYO_OK;
}

/* Factor a general forest: positions backwards, children before parents,
 * each node pulling its children's updates (upd (N, H), by position):
 *     a'_i = diag_i - sum_c upd_c,   inv_i = 1 / a'_i,   upd_i = down_i up_i inv_i
 * for every head; a node's own upd slots hold its pivots while they form. */
static MYO_ALWAYS_INLINE myo_status FN(factor_tree_heads)(const myo_tree *t, myo_factor *f,
                                                          const FN(coeffs) * k, int64_t H)
{
    const int64_t *order = t->order, *subtree = t->subtree, *parent_pos = t->parent_pos;
    const REAL *up_pos = f->up, *down_pos = f->down;
    double *upd = f->acc;
    REAL *max_child = f->max_child;
    for (int64_t pos = t->n - 1; pos >= 0; pos--) {
        int64_t label = order[pos], end = pos + subtree[pos];
        double *a = upd + pos * H; /* a'_i, or the excess e_i in the Laplacian form */
        for (int64_t h = 0; h < H; h++)
            a[h] = k->diag ? k->diag[label * H + h] : 1.0, max_child[h] = 0;
        for (int64_t ch = pos + 1; ch < end; ch += subtree[ch])
            for (int64_t h = 0; h < H; h++) {
                a[h] -= upd[ch * H + h];
                REAL bu = fabs(up_pos[ch * H + h]), bd = fabs(down_pos[ch * H + h]);
                REAL big = bu > bd ? bu : bd;
                max_child[h] = big > max_child[h] ? big : max_child[h];
            }
        for (int64_t h = 0; h < H; h++)
            MYO_CHECK(FN(finish_pivot)(f, k, pos, label, h, parent_pos[pos] < 0, a[h], max_child[h],
                                       &a[h]));
    }
    return MYO_OK;
}

/* A constant H = 1 lets the compiler drop the head loops of the common case. */
static myo_status FN(factor_tree)(const myo_tree *t, myo_factor *f, const FN(coeffs) * k)
{
    return f->heads == 1 ? FN(factor_tree_heads)(t, f, k, 1)
                         : FN(factor_tree_heads)(t, f, k, f->heads);
}

/* Pass 1 on any forest: positions backwards, children before parents.
 * rhs, out (N, H m) by label; inv, c (N, H) by position, c = M[parent(i)][i]
 * (down for M, up for M^T); the multipliers are formed on the fly, off the
 * dependent chain; heads from the last to the first, so that the row is
 * walked backwards too:
 *     z_i = inv_i r_i - sum_c (c_c inv_i) z_c                     (per head) */
static MYO_ALWAYS_INLINE void FN(pass1_tree_heads)(const myo_tree *t, const myo_factor *f,
                                                   myo_op op, const REAL *rhs, REAL *out, int64_t m,
                                                   int64_t H)
{
    const int64_t *order = t->order, *subtree = t->subtree;
    const int64_t row = H * m;
    const REAL *inv = f->inv, *c = op == MYO_OP_N ? f->down : f->up;
    for (int64_t pos = t->n - 1; pos >= 0; pos--) {
        int64_t label = order[pos], end = pos + subtree[pos];
        for (int64_t h = H - 1; h >= 0; h--) {
            REAL *z = out + label * row + h * m, s = inv[pos * H + h];
            const REAL *r = rhs + label * row + h * m;
            int64_t ch = pos + 1;
            if (ch < end) {
                FN(row_scale_sub_desc)
                (z, r, s, out + order[ch] * row + h * m, c[ch * H + h] * s, m);
                ch += subtree[ch];
            } else {
                FN(row_scale_desc)(z, r, s, m);
            }
            for (; ch < end; ch += subtree[ch])
                FN(row_sub_desc)(z, out + order[ch] * row + h * m, c[ch * H + h] * s, m);
        }
    }
}

static void FN(pass1_tree)(const myo_tree *t, const myo_factor *f, myo_op op, const REAL *rhs,
                           REAL *out, int64_t m)
{
    if (f->heads == 1)
        FN(pass1_tree_heads)(t, f, op, rhs, out, m, 1);
    else
        FN(pass1_tree_heads)(t, f, op, rhs, out, m, f->heads);
}

/* Pass 2 on any forest: positions forwards, parents before children.
 *     y_i = z_i - (b_i inv_i) y_parent(i)                           (per head) */
static MYO_ALWAYS_INLINE void FN(pass2_tree_heads)(const myo_tree *t, const myo_factor *f,
                                                   myo_op op, REAL *out, int64_t m, int64_t H)
{
    const int64_t *order = t->order, *parent_pos = t->parent_pos;
    const int64_t row = H * m;
    const REAL *inv = f->inv, *b = op == MYO_OP_N ? f->up : f->down;
    for (int64_t pos = 0; pos < t->n; pos++) {
        int64_t pp = parent_pos[pos];
        if (pp < 0) continue;
        for (int64_t h = 0; h < H; h++)
            FN(line_sub)
            (out + order[pos] * row + h * m, out + order[pp] * row + h * m,
             b[pos * H + h] * inv[pos * H + h], m);
    }
}

static void FN(pass2_tree)(const myo_tree *t, const myo_factor *f, myo_op op, REAL *out, int64_t m)
{
    if (f->heads == 1)
        FN(pass2_tree_heads)(t, f, op, out, m, 1);
    else
        FN(pass2_tree_heads)(t, f, op, out, m, f->heads);
}

/* One node i of pass 1 on a single path labelled 0..N-1 from the root:
 * child(i) = i + 1, no index arrays.  The pending pivot updates (one per
 * head) are carried in update (H,): their dependent chain is one
 * subtraction and one division per node, the inverse being an independent
 * division.  With H = 1 and m <= CHAIN_CARRY, z_{i+1} (m,) is carried in z. */
static MYO_ALWAYS_INLINE myo_status FN(pass1_chain_node)(int64_t n, myo_factor *f,
                                                         const FN(coeffs) * k, const REAL *c,
                                                         const REAL *rhs, REAL *out, int64_t H,
                                                         int64_t m, int64_t i, double *update,
                                                         REAL *z)
{
    const REAL *inv = f->inv;
    if (k) {
        const REAL *up_pos = f->up, *down_pos = f->down;
        for (int64_t h = 0; h < H; h++) {
            REAL max_child = 0;
            if (i + 1 < n) {
                REAL bu = fabs(up_pos[(i + 1) * H + h]), bd = fabs(down_pos[(i + 1) * H + h]);
                max_child = bu > bd ? bu : bd;
            }
            double x = (k->diag ? k->diag[i * H + h] : 1.0) - update[h];
            MYO_CHECK(FN(finish_pivot)(f, k, i, i, h, i == 0, x, max_child, &update[h]));
            /* The same update, but dividing by a' rather than multiplying by
             * its inverse: one operation less on the dependent chain. */
            double b = up_pos[i * H + h], a = k->diag ? x : x - b;
            update[h] = (double)down_pos[i * H + h] * (k->diag ? b : x) / a;
        }
    }
    if (H == 1 && m <= CHAIN_CARRY) {
        /* z_{i+1} is carried in z (registers, once inlined with a constant
         * m), not reloaded from the row just stored: small m are bound by
         * that latency.  With m = 1, the scalar recurrence of LAPACK's pttrs. */
        REAL s = inv[i], w = i + 1 < n ? c[i + 1] * s : 0;
        const REAL *r = rhs + i * m;
        REAL *o = out + i * m;
        for (int64_t q = 0; q < m; q++) {
            z[q] = s * r[q] - w * z[q];
            o[q] = z[q];
        }
        return MYO_OK;
    }
    const int64_t row = H * m;
    for (int64_t h = H - 1; h >= 0 && m > 0; h--) {
        REAL s = inv[i * H + h];
        if (i + 1 < n)
            FN(row_scale_sub_desc)
            (out + i * row + h * m, rhs + i * row + h * m, s, out + (i + 1) * row + h * m,
             c[(i + 1) * H + h] * s, m);
        else
            FN(row_scale_desc)(out + i * row + h * m, rhs + i * row + h * m, s, m);
    }
    return MYO_OK;
}

static MYO_ALWAYS_INLINE myo_status FN(pass1_chain_loop)(int64_t n, myo_factor *f,
                                                         const FN(coeffs) * k, const REAL *c,
                                                         const REAL *rhs, REAL *out, int64_t H,
                                                         int64_t m, double *update, REAL *z)
{
    for (int64_t i = n - 1; i >= 0; i--)
        MYO_CHECK(FN(pass1_chain_node)(n, f, k, c, rhs, out, H, m, i, update, z));
    return MYO_OK;
}

static myo_status FN(pass1_chain)(int64_t n, myo_factor *f, const FN(coeffs) * k, myo_op op,
                                  const REAL *rhs, REAL *out, int64_t m)
{
    const REAL *c = op == MYO_OP_N ? f->down : f->up;
    const int64_t H = f->heads;
    double *update = f->acc; /* (H,) */
    REAL z[CHAIN_CARRY] = {0};
    for (int64_t h = 0; h < H; h++)
        update[h] = 0.0;
    /* Constant arguments let the compiler specialise the node body: no
     * head loop, and for the common small m a fully unrolled row kept in
     * registers. */
#define PASS1_CHAIN(HH, MM)                                                                        \
    (k ? FN(pass1_chain_loop)(n, f, k, c, rhs, out, HH, MM, update, z)                             \
       : FN(pass1_chain_loop)(n, f, NULL, c, rhs, out, HH, MM, update, z))
    if (H == 1 && m == 1) return PASS1_CHAIN(1, 1);
    if (H == 1 && m == 4) return PASS1_CHAIN(1, 4);
    if (H == 1 && m == 8) return PASS1_CHAIN(1, 8);
    if (H == 1 && m == 16) return PASS1_CHAIN(1, 16);
    if (H == 1) return PASS1_CHAIN(1, m);
    return PASS1_CHAIN(H, m);
#undef PASS1_CHAIN
}

/* Pass 2 on the path for one head and m <= CHAIN_CARRY: y_{i-1} carried in
 * registers once inlined with a constant m. */
static MYO_ALWAYS_INLINE void FN(pass2_chain_carry)(int64_t n, const REAL *inv, const REAL *b,
                                                     REAL *out, int64_t m)
{
    REAL y[CHAIN_CARRY];
    for (int64_t q = 0; q < m; q++)
        y[q] = out[q];
    for (int64_t i = 1; i < n; i++) {
        REAL u = b[i] * inv[i];
        REAL *o = out + i * m;
        for (int64_t q = 0; q < m; q++) {
            y[q] = o[q] - u * y[q];
            o[q] = y[q];
        }
    }
}

/* Pass 2 on the path: y_i = z_i - (b_i inv_i) y_{i-1} (per head). */
static void FN(pass2_chain)(int64_t n, const myo_factor *f, myo_op op, REAL *out, int64_t m)
{
    const REAL *inv = f->inv, *b = op == MYO_OP_N ? f->up : f->down;
    const int64_t H = f->heads, row = H * m;
    if (H == 1 && m <= CHAIN_CARRY) {
        if (m == 1) FN(pass2_chain_carry)(n, inv, b, out, 1);
        else if (m == 4) FN(pass2_chain_carry)(n, inv, b, out, 4);
        else if (m == 8) FN(pass2_chain_carry)(n, inv, b, out, 8);
        else if (m == 16) FN(pass2_chain_carry)(n, inv, b, out, 16);
        else FN(pass2_chain_carry)(n, inv, b, out, m);
        return;
    }
    if (H == 1) {
        for (int64_t i = 1; i < n; i++)
            FN(line_sub)(out + i * m, out + (i - 1) * m, b[i] * inv[i], m);
        return;
    }
    for (int64_t i = 1; i < n; i++)
        for (int64_t h = 0; h < H; h++)
            FN(line_sub)
            (out + i * row + h * m, out + (i - 1) * row + h * m, b[i * H + h] * inv[i * H + h], m);
}

/* Factor when k is not NULL, then solve when m > 0.  On a chain the pivots
 * are computed inside pass 1: their dependent chain of divisions hides
 * under the streaming of the rows.  On other forests a separate factor
 * sweep measured faster than the fused one (the divisions of a spine, one
 * after another in pre-order, stalled the streaming). */
static myo_status FN(run)(myo_factor *f, const FN(coeffs) * k, myo_op op, const REAL *rhs,
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

/* Refactor with coefficients k (either form), then solve when m > 0. */
static myo_status FN(refactor_with)(myo_factor *f, const FN(coeffs) * k, myo_op op, const REAL *rhs,
                                    REAL *out, int64_t m, const char *who)
{
    if (f->precision != PREC)
        return myo_fail(MYO_ERR_ARG, "%s: the factor was made in %s, the call is for %s", who,
                        f->precision == MYO_F64 ? "double" : "float",
                        PREC == MYO_F64 ? "double" : "float");
    if (m < 0) return myo_fail(MYO_ERR_ARG, "%s: m = %lld, need m >= 0", who, (long long)m);
    if (m > 0) MYO_CHECK(check_solve_args(f, PREC, op, rhs, out, m, sizeof(REAL)));
    myo_status s = FN(run)(f, k, op, rhs, out, m);
    f->valid = s == MYO_OK;
    return s;
}

myo_status FN(myo_refactor)(myo_factor *f, const REAL *diag, const REAL *up, const REAL *down,
                            myo_op op, const REAL *rhs, REAL *out, int64_t m)
{
    if (!f || !diag || !up || !down)
        return myo_fail(MYO_ERR_ARG, "myo_refactor: factor, diag, up and down are required");
    FN(coeffs) k = {diag, up, down};
    return FN(refactor_with)(f, &k, op, rhs, out, m, "myo_refactor");
}

myo_status FN(myo_refactor_laplacian)(myo_factor *f, const REAL *w_up, const REAL *w_down,
                                      myo_op op, const REAL *rhs, REAL *out, int64_t m)
{
    if (!f || !w_up || !w_down)
        return myo_fail(MYO_ERR_ARG,
                        "myo_refactor_laplacian: factor, w_up and w_down are required");
    FN(coeffs) k = {NULL, w_up, w_down};
    return FN(refactor_with)(f, &k, op, rhs, out, m, "myo_refactor_laplacian");
}

myo_status FN(myo_factor_create_heads)(const myo_tree *t, int64_t heads, const REAL *diag,
                                       const REAL *up, const REAL *down, myo_factor **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_factor_create: out is NULL");
    *out = NULL;
    if (!t) return myo_fail(MYO_ERR_ARG, "myo_factor_create: tree is NULL");
    if (heads < 1)
        return myo_fail(MYO_ERR_ARG, "myo_factor_create: heads = %lld, need heads >= 1",
                        (long long)heads);
    myo_factor *f = NULL;
    MYO_CHECK(factor_alloc(t, heads, PREC, sizeof(REAL), &f));
    myo_status s = FN(myo_refactor)(f, diag, up, down, MYO_OP_N, NULL, NULL, 0);
    if (s != MYO_OK) myo_factor_destroy(&f);
    *out = f;
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
    MYO_CHECK(factor_alloc(t, 1, PREC, sizeof(REAL), &f));
    myo_status s = FN(myo_refactor)(f, diag, up, down, op, rhs, out, m);
    if (s != MYO_OK) myo_factor_destroy(&f);
    *out_factor = f;
    return s;
}

myo_status FN(myo_factor_create)(const myo_tree *t, const REAL *diag, const REAL *up,
                                 const REAL *down, myo_factor **out)
{
    return FN(myo_factor_create_heads)(t, 1, diag, up, down, out);
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

/* The two passes alone on a factor of a forest that is not a chain (the
 * distributed solve, dist_solve.c, runs its interface between them).  The
 * factor must be valid; arguments are not checked. */
void FN(myo_solve_pass1)(const myo_factor *f, myo_op op, const REAL *rhs, REAL *out, int64_t m)
{
    FN(pass1_tree)(f->tree, f, op, rhs, out, m);
}

void FN(myo_solve_pass2)(const myo_factor *f, myo_op op, REAL *out, int64_t m)
{
    FN(pass2_tree)(f->tree, f, op, out, m);
}

#undef FN
#undef LINE
#undef CHAIN_CARRY
#undef FOR_EACH_LINE_DESCENDING
#undef MYO_CAT
#undef MYO_CAT_
