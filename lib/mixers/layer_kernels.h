/* layer_kernels.h -- what the float32 Myosotis layers share (not
 * installed): the serial layer (layer.c) and the distributed one
 * (dist_layer.c) run the same per-edge logic on rows they find in
 * different places.  Float kernels over one row, the projections through
 * OpenBLAS sgemm, the child counts of the virtual nodes, and the two
 * per-edge steps: the scores and Laplacian weights of an edge (forward)
 * and its contributions to dq, dk (backward).
 *
 * Letters as in myosotis_layer.h: N nodes, n tokens, D model width, H heads
 * of width d = D / H; a row (D,) holds head h on channels [h d, (h + 1) d).
 * An edge joins a node i to its parent p. */
#ifndef MYO_LAYER_KERNELS_H
#define MYO_LAYER_KERNELS_H

#include "core/mathfn.h"
#include "myosotis.h"
#include "tree/tree_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------- row kernels */

/* a (len,), b (len,) -> <a, b>; eight partial sums so that the loop
 * vectorises without reassociation flags. */
static inline float dot_f32(const float *restrict a, const float *restrict b, int64_t len)
{
    float acc[8] = {0};
    int64_t k = 0;
    for (; k + 8 <= len; k += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[k + l] * b[k + l];
    float tail = 0;
    for (; k < len; k++)
        tail += a[k] * b[k];
    return tail +
           (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])));
}

/* g (len,), a (len,), b (len,) -> <g, a - b>, summed as dot_f32. */
static inline float dot_diff_f32(const float *restrict g, const float *restrict a,
                                 const float *restrict b, int64_t len)
{
    float acc[8] = {0};
    int64_t k = 0;
    for (; k + 8 <= len; k += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += g[k + l] * (a[k + l] - b[k + l]);
    float tail = 0;
    for (; k < len; k++)
        tail += g[k] * (a[k] - b[k]);
    return tail +
           (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])));
}

/* y (len,) += s x (len,) */
static inline void axpy_f32(float *restrict y, float s, const float *restrict x, int64_t len)
{
    for (int64_t k = 0; k < len; k++)
        y[k] += s * x[k];
}

/* y (len,) *= s */
static inline void scale_f32(float *y, float s, int64_t len)
{
    for (int64_t k = 0; k < len; k++)
        y[k] *= s;
}

/* ------------------------------------------------------- projections */

/* C (rows, D) = A (rows, D) W (D, D), or with W^T when trans; C += when
 * accumulate.  Nothing for rows < 1. */
static inline void gemm_rows(int64_t rows, int64_t D, const float *a, const float *w, int trans,
                             int accumulate, float *c)
{
    if (rows < 1) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans ? CblasTrans : CblasNoTrans, (int)rows, (int)D,
                (int)D, 1.0f, a, (int)D, w, (int)D, accumulate ? 1.0f : 0.0f, c, (int)D);
}

/* dW (D, D) (+)= A^T (D, rows) B (rows, D): a weight gradient over rows;
 * for rows < 1, dW = 0 (or unchanged when accumulate). */
static inline void gemm_weight_grad(int64_t rows, int64_t D, const float *a, const float *b,
                                    int accumulate, float *dw)
{
    if (rows < 1) {
        if (!accumulate) memset(dw, 0, (size_t)(D * D) * sizeof(float));
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)rows, 1.0f, a, (int)D,
                b, (int)D, accumulate ? 1.0f : 0.0f, dw, (int)D);
}

/* The four weights (or weight gradients) present. */
static inline int layer_weights_ok(const myo_qkvo_weights_f32 *w)
{
    return w && w->wq && w->wk && w->wv && w->wo;
}

static inline int layer_grads_ok(const myo_qkvo_grads_f32 *g)
{
    return g && g->wq && g->wk && g->wv && g->wo;
}

/* ------------------------------------------------------------- tree */

/* tree (N nodes, n tokens) -> inv_count (N - n,): 1 / (children of each
 * virtual node), by label - n; 0 for a virtual node without children. */
static inline void layer_inv_counts(const myo_tree *t, float *inv_count)
{
    const int64_t N = t->n, n = t->n_tokens;
    if (N == n) return;
    memset(inv_count, 0, (size_t)(N - n) * sizeof(float));
    for (int64_t i = 0; i < N; i++)
        if (t->parent[i] >= n) inv_count[t->parent[i] - n] += 1.0f;
    for (int64_t v = 0; v < N - n; v++)
        inv_count[v] = inv_count[v] > 0 ? 1.0f / inv_count[v] : 0.0f;
}

/* ------------------------------------------------------------ edges */

/* What the per-edge steps read of the configuration. */
typedef struct {
    int64_t H, d; /* heads, head width */
    float scale;  /* 1 / sqrt(d) */
    int up, down; /* the directions kept (cfg->direction) */
} layer_edges;

static inline layer_edges layer_edges_of(const myo_layer_config *cfg)
{
    const int64_t H = cfg->heads, d = cfg->d_model / cfg->heads;
    return (layer_edges){H, d, (float)(1.0 / sqrt((double)d)), cfg->direction != MYO_DIR_DOWN,
                         cfg->direction != MYO_DIR_UP};
}

/* One edge's scores and weights, all heads: q_i, k_i, q_p, k_p (H d) ->
 *     s_up[h]   = <q_i, k_p>_h / sqrt(d),  w_up[h]   = softplus(s_up[h])
 *     s_down[h] = <q_p, k_i>_h / sqrt(d),  w_down[h] = softplus(s_down[h])
 * into w_up, w_down (H,) and, unless NULL, s_up, s_down (H,); 0 for the
 * direction left out and at a root (q_p = k_p = NULL). */
static inline void layer_edge_weights(const layer_edges *e, const float *qi, const float *ki,
                                      const float *qp, const float *kp, float *w_up, float *w_down,
                                      float *s_up, float *s_down)
{
    const int64_t d = e->d;
    for (int64_t h = 0; h < e->H; h++) {
        float su = 0, sd = 0, wu = 0, wd = 0;
        if (qp && e->up) {
            su = e->scale * dot_f32(qi + h * d, kp + h * d, d);
            wu = myo_softplus_vf(su, NULL);
        }
        if (qp && e->down) {
            sd = e->scale * dot_f32(qp + h * d, ki + h * d, d);
            wd = myo_softplus_vf(sd, NULL);
        }
        w_up[h] = wu, w_down[h] = wd;
        if (s_up) s_up[h] = su;
        if (s_down) s_down[h] = sd;
    }
}

/* The rows (H d each) of one end of an edge that its backward reads and
 * accumulates into. */
typedef struct {
    const float *g, *y, *q, *k; /* G = M^{-T} dY, Y, Q, K */
    float *dq, *dk;
} layer_edge_rows;

/* One edge's backward, all heads, on the d channels of each head h, from
 * the ends i, p and the edge's scores s_up, s_down (H,):
 *     dw_up   = <g_i, y_p - y_i>,  ds_up   = dw_up sigmoid(s_up) / sqrt(d)
 *         dq_i += ds_up k_p,    dk_p += ds_up q_i
 *     dw_down = <g_p, y_i - y_p>,  ds_down = dw_down sigmoid(s_down) / sqrt(d)
 *         dq_p += ds_down k_i,  dk_i += ds_down q_p */
static inline void layer_edge_grads(const layer_edges *e, const layer_edge_rows *i,
                                    const layer_edge_rows *p, const float *s_up,
                                    const float *s_down)
{
    const int64_t d = e->d;
    for (int64_t h = 0; h < e->H; h++) {
        const int64_t c = h * d;
        if (e->up) {
            float dw = dot_diff_f32(i->g + c, p->y + c, i->y + c, d);
            float ds = dw * myo_sigmoid_vf(s_up[h]) * e->scale;
            axpy_f32(i->dq + c, ds, p->k + c, d);
            axpy_f32(p->dk + c, ds, i->q + c, d);
        }
        if (e->down) {
            float dw = dot_diff_f32(p->g + c, i->y + c, p->y + c, d);
            float ds = dw * myo_sigmoid_vf(s_down[h]) * e->scale;
            axpy_f32(p->dq + c, ds, i->k + c, d);
            axpy_f32(i->dk + c, ds, p->q + c, d);
        }
    }
}

#endif
