/* layer_ref.c -- the Myosotis layer's frozen reference twin: plain double
 * loops, no BLAS, no library solver, written to be read against
 * docs/design.md section 2.  It shares nothing with layer.c but the public configuration
 * check and the scalar softplus/sigmoid: the pooling order comes from node
 * depths found here, each head's matrix is assembled densely and solved by
 * Gaussian elimination with partial pivoting, and the backward pass goes
 * through the dense dM = -G Y^T instead of per-edge dot products.
 *
 * Dimension letters as in myosotis_layer.h (B, n, N, D, H, d). */
#include <config.h>

#include "core/core.h"
#include "core/mathfn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Dense N x N matrices: beyond this the oracle would take minutes. */
#define REF_MAX_NODES 4096

typedef struct {
    int64_t n, N, D, H, d, max_depth;
    const int64_t *parent; /* (N,) borrowed from the tree */
    int64_t *depth;        /* (N,) edges to the root */
    double *children;      /* (N,) number of children */
} ref_tree;

/* Buffers of one sequence. */
typedef struct {
    double *xa, *q, *k, *v, *y;     /* (N, D) */
    double *s_up, *s_down;          /* (N, H) */
    double *m, *a;                  /* (N, N) a head's matrix and its elimination copy */
    double *rhs;                    /* (N, d) */
    double *gy, *g, *dq, *dk, *dxa; /* (N, D) */
} ref_bufs;

/* ------------------------------------------------------------ helpers */

/* c (rows, D) = a (rows, D) w (D, D), or a w^T when trans. */
static void ref_matmul(const double *a, const double *w, int trans, int64_t rows, int64_t D,
                       double *c)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < D; j++) {
            double s = 0;
            for (int64_t l = 0; l < D; l++)
                s += a[r * D + l] * (trans ? w[j * D + l] : w[l * D + j]);
            c[r * D + j] = s;
        }
}

/* dw (D, D) += a^T (D, rows) b (rows, D). */
static void ref_weight_grad(const double *a, const double *b, int64_t rows, int64_t D, double *dw)
{
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) {
            double s = 0;
            for (int64_t r = 0; r < rows; r++)
                s += a[r * D + i] * b[r * D + j];
            dw[i * D + j] += s;
        }
}

/* a (N, N) x = r (N, m), x overwriting r; a is destroyed.  Gaussian
 * elimination with partial pivoting. */
static myo_status ref_dense_solve(double *a, double *r, int64_t N, int64_t m)
{
    for (int64_t col = 0; col < N; col++) {
        int64_t piv = col;
        for (int64_t i = col + 1; i < N; i++)
            if (fabs(a[i * N + col]) > fabs(a[piv * N + col])) piv = i;
        if (!(fabs(a[piv * N + col]) > 0) || !isfinite(a[piv * N + col]))
            return myo_fail(MYO_ERR_SINGULAR, "myo_layer_ref: dense matrix singular at column %lld",
                            (long long)col);
        if (piv != col) {
            for (int64_t j = 0; j < N; j++) {
                double t = a[col * N + j];
                a[col * N + j] = a[piv * N + j], a[piv * N + j] = t;
            }
            for (int64_t j = 0; j < m; j++) {
                double t = r[col * m + j];
                r[col * m + j] = r[piv * m + j], r[piv * m + j] = t;
            }
        }
        for (int64_t i = col + 1; i < N; i++) {
            double f = a[i * N + col] / a[col * N + col];
            if (f == 0) continue;
            for (int64_t j = col; j < N; j++)
                a[i * N + j] -= f * a[col * N + j];
            for (int64_t j = 0; j < m; j++)
                r[i * m + j] -= f * r[col * m + j];
        }
    }
    for (int64_t i = N - 1; i >= 0; i--)
        for (int64_t j = 0; j < m; j++) {
            double s = r[i * m + j];
            for (int64_t l = i + 1; l < N; l++)
                s -= a[i * N + l] * r[l * m + j];
            r[i * m + j] = s / a[i * N + i];
        }
    return MYO_OK;
}

/* The edge weights of head h from the scores, by direction. */
static double ref_w_up(const myo_layer_config *cfg, double s)
{
    return cfg->direction == MYO_DIR_DOWN ? 0.0 : myo_softplus(s);
}
static double ref_w_down(const myo_layer_config *cfg, double s)
{
    return cfg->direction == MYO_DIR_UP ? 0.0 : myo_softplus(s);
}

/* m (N, N) = I + L of head h, straight from docs/design.md section 2: every
 * edge (i, p) adds w_up to M[i][i], -w_up at M[i][p], w_down to M[p][p],
 * -w_down at M[p][i]. */
static void ref_assemble(const ref_tree *rt, const myo_layer_config *cfg, const ref_bufs *s,
                         int64_t h, double *m)
{
    const int64_t N = rt->N, H = rt->H;
    memset(m, 0, (size_t)(N * N) * sizeof(double));
    for (int64_t i = 0; i < N; i++)
        m[i * N + i] = 1.0;
    for (int64_t i = 0; i < N; i++) {
        int64_t p = rt->parent[i];
        if (p < 0) continue;
        double wu = ref_w_up(cfg, s->s_up[i * H + h]), wd = ref_w_down(cfg, s->s_down[i * H + h]);
        m[i * N + i] += wu, m[i * N + p] -= wu;
        m[p * N + p] += wd, m[p * N + i] -= wd;
    }
}

/* ------------------------------------------------------------ the pass */

/* One sequence: x (n, D) -> out (n, D).  With dy (n, D) also dx (n, D),
 * and the weight gradients accumulated into dw. */
static myo_status ref_sequence(const ref_tree *rt, const myo_layer_config *cfg,
                               const myo_qkvo_weights_f64 *w, const double *x, double *out,
                               const double *dy, double *dx, const myo_qkvo_grads_f64 *dw,
                               ref_bufs *s)
{
    const int64_t n = rt->n, N = rt->N, D = rt->D, H = rt->H, d = rt->d;
    const double scale = 1.0 / sqrt((double)d);

    /* Features: tokens, then each virtual node the mean of its children,
     * deepest first. */
    memcpy(s->xa, x, (size_t)(n * D) * sizeof(double));
    for (int64_t dep = rt->max_depth; dep >= 0; dep--)
        for (int64_t v = n; v < N; v++) {
            if (rt->depth[v] != dep) continue;
            for (int64_t c = 0; c < D; c++)
                s->xa[v * D + c] = 0;
            for (int64_t u = 0; u < N; u++)
                if (rt->parent[u] == v)
                    for (int64_t c = 0; c < D; c++)
                        s->xa[v * D + c] += s->xa[u * D + c];
            for (int64_t c = 0; c < D; c++)
                s->xa[v * D + c] = rt->children[v] > 0 ? s->xa[v * D + c] / rt->children[v] : 0;
        }
    ref_matmul(s->xa, w->wq, 0, N, D, s->q);
    ref_matmul(s->xa, w->wk, 0, N, D, s->k);
    ref_matmul(s->xa, w->wv, 0, N, D, s->v);

    /* Scores of every edge and head. */
    for (int64_t i = 0; i < N; i++)
        for (int64_t h = 0; h < H; h++) {
            int64_t p = rt->parent[i];
            double su = 0, sd = 0;
            for (int64_t c = h * d; p >= 0 && c < (h + 1) * d; c++) {
                su += s->q[i * D + c] * s->k[p * D + c];
                sd += s->q[p * D + c] * s->k[i * D + c];
            }
            s->s_up[i * H + h] = su * scale, s->s_down[i * H + h] = sd * scale;
        }

    /* Y_h = M_h^{-1} V_h, densely. */
    for (int64_t h = 0; h < H; h++) {
        ref_assemble(rt, cfg, s, h, s->m);
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < d; c++)
                s->rhs[i * d + c] = s->v[i * D + h * d + c];
        MYO_CHECK(ref_dense_solve(s->m, s->rhs, N, d));
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < d; c++)
                s->y[i * D + h * d + c] = s->rhs[i * d + c];
    }
    ref_matmul(s->y, w->wo, 0, n, D, out);
    if (!dy) return MYO_OK;

    /* Backward.  dWo += Y_tok^T dy; the gradient of Y is dy Wo^T on the
     * token rows and 0 on the virtual rows, which are not output. */
    ref_weight_grad(s->y, dy, n, D, dw->wo);
    memset(s->gy, 0, (size_t)(N * D) * sizeof(double));
    ref_matmul(dy, w->wo, 1, n, D, s->gy);
    memset(s->dq, 0, (size_t)(N * D) * sizeof(double));
    memset(s->dk, 0, (size_t)(N * D) * sizeof(double));
    for (int64_t h = 0; h < H; h++) {
        /* G = M^{-T} dY_h: transpose the assembled matrix and solve. */
        ref_assemble(rt, cfg, s, h, s->m);
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < N; j++)
                s->a[i * N + j] = s->m[j * N + i];
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < d; c++)
                s->rhs[i * d + c] = s->gy[i * D + h * d + c];
        MYO_CHECK(ref_dense_solve(s->a, s->rhs, N, d));
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < d; c++)
                s->g[i * D + h * d + c] = s->rhs[i * d + c];
        /* dM = -G Y^T (only its entries on the diagonal and the edges
         * matter); w_up[i] enters M[i][i] with +1 and M[i][p] with -1,
         * w_down[i] enters M[p][p] with +1 and M[p][i] with -1. */
        for (int64_t i = 0; i < N; i++) {
            int64_t p = rt->parent[i];
            if (p < 0) continue;
            double dm_ii = 0, dm_ip = 0, dm_pp = 0, dm_pi = 0;
            for (int64_t c = h * d; c < (h + 1) * d; c++) {
                dm_ii -= s->g[i * D + c] * s->y[i * D + c];
                dm_ip -= s->g[i * D + c] * s->y[p * D + c];
                dm_pp -= s->g[p * D + c] * s->y[p * D + c];
                dm_pi -= s->g[p * D + c] * s->y[i * D + c];
            }
            double su = s->s_up[i * H + h], sd = s->s_down[i * H + h];
            /* softplus' = sigmoid; a direction's absent weights are constant 0. */
            double ds_up = cfg->direction == MYO_DIR_DOWN ? 0 : (dm_ii - dm_ip) * myo_sigmoid(su);
            double ds_dn = cfg->direction == MYO_DIR_UP ? 0 : (dm_pp - dm_pi) * myo_sigmoid(sd);
            /* s_up = <q_i, k_p> scale, s_down = <q_p, k_i> scale. */
            for (int64_t c = h * d; c < (h + 1) * d; c++) {
                s->dq[i * D + c] += ds_up * scale * s->k[p * D + c];
                s->dk[p * D + c] += ds_up * scale * s->q[i * D + c];
                s->dq[p * D + c] += ds_dn * scale * s->k[i * D + c];
                s->dk[i * D + c] += ds_dn * scale * s->q[p * D + c];
            }
        }
    }
    /* dV = G.  Weight gradients, then dX_all = dQ Wq^T + dK Wk^T + dV Wv^T. */
    ref_weight_grad(s->xa, s->dq, N, D, dw->wq);
    ref_weight_grad(s->xa, s->dk, N, D, dw->wk);
    ref_weight_grad(s->xa, s->g, N, D, dw->wv);
    ref_matmul(s->dq, w->wq, 1, N, D, s->dxa);
    ref_matmul(s->dk, w->wk, 1, N, D, s->gy); /* gy is free now: a second term */
    for (int64_t j = 0; j < N * D; j++)
        s->dxa[j] += s->gy[j];
    ref_matmul(s->g, w->wv, 1, N, D, s->gy);
    for (int64_t j = 0; j < N * D; j++)
        s->dxa[j] += s->gy[j];
    /* The pooling's adjoint, shallowest first: a virtual node's gradient is
     * shared equally by its children. */
    for (int64_t dep = 0; dep <= rt->max_depth; dep++)
        for (int64_t v = n; v < N; v++) {
            if (rt->depth[v] != dep || rt->children[v] == 0) continue;
            for (int64_t u = 0; u < N; u++)
                if (rt->parent[u] == v)
                    for (int64_t c = 0; c < D; c++)
                        s->dxa[u * D + c] += s->dxa[v * D + c] / rt->children[v];
        }
    memcpy(dx, s->dxa, (size_t)(n * D) * sizeof(double));
    return MYO_OK;
}

/* Validate the arguments common to both entry points, build the tree's
 * depths and allocate one sequence's buffers. */
static myo_status ref_setup(const myo_tree *tree, const myo_layer_config *cfg,
                            const myo_qkvo_weights_f64 *w, int64_t batch, const char *fn,
                            ref_tree *rt, ref_bufs *s, void **block)
{
    *block = NULL;
    if (!tree || !w || !w->wq || !w->wk || !w->wv || !w->wo)
        return myo_fail(MYO_ERR_ARG, "%s: tree and weights wq, wk, wv, wo are required", fn);
    MYO_CHECK(myo_layer_config_check(cfg));
    if (batch < 1)
        return myo_fail(MYO_ERR_ARG, "%s: batch = %lld, need >= 1", fn, (long long)batch);
    const int64_t N = myo_tree_num_nodes(tree), D = cfg->d_model;
    if (N > REF_MAX_NODES)
        return myo_fail(MYO_ERR_ARG,
                        "%s: N = %lld nodes; the reference forms dense N x N "
                        "matrices and takes N <= %d",
                        fn, (long long)N, REF_MAX_NODES);
    *rt = (ref_tree){myo_tree_num_tokens(tree), N,    D,   cfg->heads, D / cfg->heads, 0,
                     myo_tree_parents(tree),    NULL, NULL};
    size_t nd = (size_t)(N * D), nh = (size_t)(N * cfg->heads), nn = (size_t)(N * N);
    size_t doubles = 10 * nd + 2 * nh + 2 * nn + (size_t)N * (size_t)rt->d + (size_t)N;
    char *p = myo_alloc(doubles * sizeof(double) + (size_t)N * sizeof(int64_t), 1,
                        "the reference layer's buffers");
    if (!p) return MYO_ERR_NOMEM;
    *block = p;
    double *f = (double *)(void *)p;
    double **slots[] = {&s->xa, &s->q, &s->k, &s->v, &s->y, &s->gy, &s->g, &s->dq, &s->dk, &s->dxa};
    for (size_t j = 0; j < sizeof slots / sizeof *slots; j++)
        *slots[j] = f, f += nd;
    s->s_up = f, f += nh;
    s->s_down = f, f += nh;
    s->m = f, f += nn;
    s->a = f, f += nn;
    s->rhs = f, f += (size_t)N * (size_t)rt->d;
    rt->children = f, f += N;
    rt->depth = (int64_t *)(void *)f;
    for (int64_t i = 0; i < N; i++) {
        rt->children[i] = 0;
        int64_t dep = 0;
        for (int64_t u = rt->parent[i]; u >= 0; u = rt->parent[u])
            dep++;
        rt->depth[i] = dep;
        if (dep > rt->max_depth) rt->max_depth = dep;
    }
    for (int64_t i = 0; i < N; i++)
        if (rt->parent[i] >= 0) rt->children[rt->parent[i]] += 1;
    return MYO_OK;
}

myo_status myo_layer_forward_ref(const myo_tree *tree, const myo_layer_config *cfg,
                                 const myo_qkvo_weights_f64 *w, int64_t batch, const double *x,
                                 double *y)
{
    ref_tree rt;
    ref_bufs s;
    void *block;
    if (!x || !y) return myo_fail(MYO_ERR_ARG, "myo_layer_forward_ref: x and y are required");
    MYO_CHECK(ref_setup(tree, cfg, w, batch, "myo_layer_forward_ref", &rt, &s, &block));
    myo_status st = MYO_OK;
    const int64_t stride = rt.n * rt.D;
    for (int64_t b = 0; b < batch && st == MYO_OK; b++)
        st = ref_sequence(&rt, cfg, w, x + b * stride, y + b * stride, NULL, NULL, NULL, &s);
    free(block);
    return st;
}

myo_status myo_layer_backward_ref(const myo_tree *tree, const myo_layer_config *cfg,
                                  const myo_qkvo_weights_f64 *w, int64_t batch, const double *x,
                                  const double *dy, double *dx, const myo_qkvo_grads_f64 *dw)
{
    ref_tree rt;
    ref_bufs s;
    void *block;
    if (!x || !dy || !dx || !dw || !dw->wq || !dw->wk || !dw->wv || !dw->wo)
        return myo_fail(MYO_ERR_ARG, "myo_layer_backward_ref: x, dy, dx and all four weight "
                                     "gradients are required");
    MYO_CHECK(ref_setup(tree, cfg, w, batch, "myo_layer_backward_ref", &rt, &s, &block));
    const int64_t D = rt.D, stride = rt.n * D;
    double *out = malloc((size_t)stride * sizeof(double));
    myo_status st = out ? MYO_OK : myo_fail(MYO_ERR_NOMEM, "myo_layer_backward_ref: out of memory");
    double *grads[] = {dw->wq, dw->wk, dw->wv, dw->wo};
    for (int j = 0; j < 4; j++)
        memset(grads[j], 0, (size_t)(D * D) * sizeof(double));
    for (int64_t b = 0; b < batch && st == MYO_OK; b++)
        st = ref_sequence(&rt, cfg, w, x + b * stride, out, dy + b * stride, dx + b * stride, dw,
                          &s);
    free(out);
    free(block);
    return st;
}
