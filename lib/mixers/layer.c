/* layer.c -- the Myosotis layer in float32 (docs/design.md section 2): forward
 * and backward over a batch, projections through OpenBLAS sgemm, the H
 * heads' matrices factored and solved together by the multi-head tree
 * solver (one walk over the tree for all heads).
 *
 * Dimension letters as in myosotis_layer.h: B sequences, n tokens, N nodes
 * (tokens then virtual nodes), D model width, H heads of width d = D / H.
 * Rows (N, D) hold head h on channels [h d, (h + 1) d): exactly the layout
 * of V = X Wv and of the solver's multi-head right-hand sides, so heads
 * are never gathered or scattered. */
#include <config.h>

#include "core/core.h"
#include "layer_kernels.h"
#include "tree/tree_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct myo_layer_work {
    const myo_tree *tree; /* borrowed */
    myo_layer_config cfg;
    int64_t max_batch, n, N, D, H, d;
    int64_t batch; /* of the last successful forward; 0 when none */
    void *block;   /* one allocation holding the arrays below */
    /* kept by forward for backward, (max_batch, N, D) */
    float *x_all, *q, *k, *y;
    float *s_up, *s_down; /* (max_batch, N, H) */
    float *w_up, *w_down; /* (N, H) scratch of forward: the edge weights */
    float *inv_count;     /* (N - n,) 1 / (children of each virtual node) */
    myo_factor **factor;  /* (max_batch,) the H matrices of each sequence */
    size_t block_bytes;
    /* backward scratch, one sequence, allocated by the first backward */
    void *back_block;
    float *g, *dq, *dk; /* (N, D) */
    float *dx_virt;     /* (N - n, D) */
    size_t back_bytes;
    myo_phase_times times; /* of the last forward and backward */
};

myo_status myo_layer_config_check(const myo_layer_config *cfg)
{
    if (!cfg) return myo_fail(MYO_ERR_ARG, "myo_layer: the configuration is NULL");
    if (cfg->d_model < 1)
        return myo_fail(MYO_ERR_ARG, "myo_layer: d_model = %lld, need d_model >= 1",
                        (long long)cfg->d_model);
    if (cfg->heads < 1)
        return myo_fail(MYO_ERR_ARG, "myo_layer: heads = %lld, need heads >= 1",
                        (long long)cfg->heads);
    if (cfg->d_model % cfg->heads != 0)
        return myo_fail(MYO_ERR_ARG,
                        "myo_layer: d_model = %lld is not divisible by heads = %lld (every head "
                        "needs the same width d = d_model / heads)",
                        (long long)cfg->d_model, (long long)cfg->heads);
    if (cfg->direction != MYO_DIR_BOTH && cfg->direction != MYO_DIR_UP &&
        cfg->direction != MYO_DIR_DOWN)
        return myo_fail(MYO_ERR_ARG,
                        "myo_layer: direction = %d is none of MYO_DIR_BOTH, MYO_DIR_UP, "
                        "MYO_DIR_DOWN",
                        (int)cfg->direction);
    return MYO_OK;
}

/* ------------------------------------------------------------- kernels */

/* x_all (N, D), token rows 0 .. n-1 filled: each virtual row n .. N-1
 * becomes the mean of its children's rows.  Reverse pre-order visits every
 * child before its parent, so a virtual child is complete when it is added
 * to its parent: bottom-up without recursion. */
static void pool_virtual_rows(const myo_tree *t, const float *inv_count, float *x_all, int64_t D)
{
    const int64_t n = t->n_tokens, N = t->n;
    if (N == n) return;
    memset(x_all + n * D, 0, (size_t)((N - n) * D) * sizeof(float));
    for (int64_t pos = N - 1; pos >= 0; pos--) {
        int64_t u = t->order[pos], p = t->parent[u];
        float *xu = x_all + u * D;
        if (u >= n) scale_f32(xu, inv_count[u - n], D);
        if (p >= n) axpy_f32(x_all + p * D, 1.0f, xu, D);
    }
}

/* The adjoint of pool_virtual_rows: dx_tok (n, D), dx_virt (N - n, D) hold
 * the gradients of all rows; each virtual row's gradient, divided by its
 * child count, is added to its children's.  Pre-order visits a parent
 * before its children, so a virtual row is complete (it received its own
 * parent's share) before it is passed on: top-down without recursion. */
static void pool_virtual_rows_adjoint(const myo_tree *t, const float *inv_count, float *dx_tok,
                                      float *dx_virt, int64_t D)
{
    const int64_t n = t->n_tokens, N = t->n;
    if (N == n) return;
    for (int64_t pos = 0; pos < N; pos++) {
        int64_t u = t->order[pos], p = t->parent[u];
        if (p < n) continue; /* a root, or a token parent (only virtual rows are pooled) */
        float *du = u < n ? dx_tok + u * D : dx_virt + (u - n) * D;
        axpy_f32(du, inv_count[p - n], dx_virt + (p - n) * D, D);
    }
}

/* q, k (N, D) -> w_up, w_down, s_up, s_down (N, H): the edge weights of the
 * H matrices I + L of one sequence (see myosotis_layer.h), 0 at roots and
 * for the direction left out.  s_up and s_down may be NULL.  Rows are
 * visited by label, q_i and k_i streaming, the parent's rows read at
 * random.  The solver takes the weights themselves
 * (myo_refactor_laplacian_f32): a float diag = 1 + sum of weights would
 * lose the identity once the weights reach ~1e7. */
static void build_weights(const myo_tree *t, const myo_layer_config *cfg, const float *q,
                          const float *k, float *w_up, float *w_down, float *s_up, float *s_down)
{
    const int64_t N = t->n, D = cfg->d_model, H = cfg->heads;
    const layer_edges e = layer_edges_of(cfg);
    for (int64_t i = 0; i < N; i++) {
        const int64_t p = t->parent[i];
        layer_edge_weights(&e, q + i * D, k + i * D, p >= 0 ? q + p * D : NULL,
                           p >= 0 ? k + p * D : NULL, w_up + i * H, w_down + i * H,
                           s_up ? s_up + i * H : NULL, s_down ? s_down + i * H : NULL);
    }
}

myo_status myo_layer_coefficients_f32(const myo_tree *tree, const myo_layer_config *cfg,
                                      const float *q, const float *k, float *diag, float *up,
                                      float *down, float *s_up, float *s_down)
{
    if (!tree || !q || !k || !diag || !up || !down)
        return myo_fail(MYO_ERR_ARG,
                        "myo_layer_coefficients_f32: tree, q, k, diag, up and down are required");
    MYO_CHECK(myo_layer_config_check(cfg));
    const int64_t N = tree->n, H = cfg->heads;
    build_weights(tree, cfg, q, k, up, down, s_up, s_down);
    /* The explicit form: diag = 1 + w_up + the children's w_down (summed in
     * double), up = -w_up, down = -w_down. */
    double *acc = myo_alloc((size_t)(N * H), sizeof(double), "coefficient sums");
    if (!acc) return MYO_ERR_NOMEM;
    for (int64_t j = 0; j < N * H; j++)
        acc[j] = 1.0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t h = 0; h < H && tree->parent[i] >= 0; h++) {
            acc[i * H + h] += up[i * H + h];
            acc[tree->parent[i] * H + h] += down[i * H + h];
        }
    for (int64_t j = 0; j < N * H; j++)
        diag[j] = (float)acc[j], up[j] = -up[j], down[j] = -down[j];
    free(acc);
    return MYO_OK;
}

/* ----------------------------------------------------------- workspace */

/* Arrays carved out of one block, each on a 64-byte boundary. */
typedef struct {
    char *base;
    size_t used;
} carver;

static void *carve_bytes(carver *c, size_t bytes)
{
    size_t at = c->used;
    c->used += (bytes + 63) / 64 * 64;
    return c->base ? c->base + at : NULL;
}

static float *carve(carver *c, int64_t count)
{
    return carve_bytes(c, (size_t)count * sizeof(float));
}

static void *alloc_block(size_t bytes, const char *what)
{
    void *p = bytes ? aligned_alloc(64, bytes) : NULL;
    if (!p) myo_fail(MYO_ERR_NOMEM, "myo_layer: cannot allocate %zu bytes for %s", bytes, what);
    return p;
}

static void carve_forward(myo_layer_work *ws, carver *c)
{
    const int64_t B = ws->max_batch, N = ws->N, D = ws->D, H = ws->H;
    ws->x_all = carve(c, B * N * D);
    ws->q = carve(c, B * N * D);
    ws->k = carve(c, B * N * D);
    ws->y = carve(c, B * N * D);
    ws->s_up = carve(c, B * N * H);
    ws->s_down = carve(c, B * N * H);
    ws->w_up = carve(c, N * H);
    ws->w_down = carve(c, N * H);
    ws->inv_count = carve(c, N - ws->n);
}

void myo_layer_work_destroy(myo_layer_work **ws)
{
    if (!ws || !*ws) return;
    if ((*ws)->factor)
        for (int64_t b = 0; b < (*ws)->max_batch; b++)
            myo_factor_destroy(&(*ws)->factor[b]);
    free((*ws)->factor);
    free((*ws)->block);
    free((*ws)->back_block);
    free(*ws);
    *ws = NULL;
}

myo_status myo_layer_work_create(const myo_tree *tree, const myo_layer_config *cfg,
                                 int64_t max_batch, myo_layer_work **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_layer_work_create: out is NULL");
    *out = NULL;
    if (!tree) return myo_fail(MYO_ERR_ARG, "myo_layer_work_create: tree is NULL");
    MYO_CHECK(myo_layer_config_check(cfg));
    if (max_batch < 1)
        return myo_fail(MYO_ERR_ARG, "myo_layer_work_create: max_batch = %lld, need >= 1",
                        (long long)max_batch);
    const int64_t N = tree->n, D = cfg->d_model;
    /* sgemm takes int dimensions: the tallest product has max_batch N rows. */
    if (D > INT_MAX || max_batch > INT_MAX / N)
        return myo_fail(MYO_ERR_ARG,
                        "myo_layer_work_create: max_batch N = %lld x %lld rows or D = %lld "
                        "exceed the BLAS's int dimensions; use smaller batches",
                        (long long)max_batch, (long long)N, (long long)D);

    myo_layer_work *ws = calloc(1, sizeof *ws);
    if (!ws) return myo_fail(MYO_ERR_NOMEM, "myo_layer_work_create: cannot allocate");
    ws->tree = tree;
    ws->cfg = *cfg;
    ws->max_batch = max_batch;
    ws->n = tree->n_tokens, ws->N = N, ws->D = D, ws->H = cfg->heads, ws->d = D / cfg->heads;

    carver c = {NULL, 0};
    carve_forward(ws, &c); /* sizes only */
    ws->block_bytes = c.used;
    c = (carver){alloc_block(ws->block_bytes, "the forward cache"), 0};
    ws->block = c.base;
    ws->factor = calloc((size_t)max_batch, sizeof *ws->factor);
    myo_status s = MYO_OK;
    if (!ws->block)
        s = MYO_ERR_NOMEM;
    else if (!ws->factor)
        s = myo_fail(MYO_ERR_NOMEM, "myo_layer_work_create: cannot allocate the factors");
    if (s == MYO_OK) {
        carve_forward(ws, &c);
        const int64_t H = ws->H;
        layer_inv_counts(tree, ws->inv_count);
        /* Factor storage only; forward refactors it in place. */
        for (int64_t b = 0; b < max_batch && s == MYO_OK; b++)
            s = myo_factor_create_empty(tree, H, MYO_F32, &ws->factor[b]);
    }
    if (s != MYO_OK) {
        myo_layer_work_destroy(&ws);
        return s;
    }
    *out = ws;
    return MYO_OK;
}

void myo_layer_work_times(const myo_layer_work *ws, myo_phase_times *out)
{
    if (ws && out) *out = ws->times;
}

size_t myo_layer_work_bytes(const myo_layer_work *ws)
{
    if (!ws) return 0;
    size_t factors = 0;
    for (int64_t b = 0; b < ws->max_batch; b++)
        factors += sizeof(myo_factor *) + myo_factor_bytes(ws->factor[b]);
    return sizeof *ws + ws->block_bytes + ws->back_bytes + factors;
}

static myo_status ensure_backward_scratch(myo_layer_work *ws)
{
    if (ws->back_block) return MYO_OK;
    const int64_t N = ws->N, D = ws->D;
    carver c = {NULL, 0};
    for (int pass = 0; pass < 2; pass++) {
        c.used = 0;
        ws->g = carve(&c, N * D);
        ws->dq = carve(&c, N * D);
        ws->dk = carve(&c, N * D);
        ws->dx_virt = carve(&c, (N - ws->n) * D);
        if (pass == 0) {
            c.base = alloc_block(c.used, "the backward scratch");
            if (!c.base) return MYO_ERR_NOMEM;
        }
    }
    ws->back_block = c.base;
    ws->back_bytes = c.used;
    return MYO_OK;
}

/* --------------------------------------------------------------- passes */

static myo_status check_pass(const myo_layer_work *ws, const void *w, int64_t batch, const char *fn)
{
    if (!ws || !w) return myo_fail(MYO_ERR_ARG, "%s: workspace and weights are required", fn);
    if (batch < 1 || batch > ws->max_batch)
        return myo_fail(MYO_ERR_ARG,
                        "%s: batch = %lld, need 1 <= batch <= %lld (the workspace's "
                        "max_batch)",
                        fn, (long long)batch, (long long)ws->max_batch);
    return MYO_OK;
}

myo_status myo_layer_forward_f32(myo_layer_work *ws, const myo_qkvo_weights_f32 *w, int64_t batch,
                                 const float *x, float *y)
{
    MYO_CHECK(check_pass(ws, w, batch, "myo_layer_forward_f32"));
    if (!x || !y || !layer_weights_ok(w))
        return myo_fail(MYO_ERR_ARG, "myo_layer_forward_f32: x, y, wq, wk, wv and wo are required");
    const myo_tree *t = ws->tree;
    const int64_t n = ws->n, N = ws->N, D = ws->D, H = ws->H, d = ws->d;
    ws->batch = 0; /* the cache is invalid until this forward succeeds */
    double *proj = &ws->times.forward_projection, *mix = &ws->times.forward_mixing;
    *proj = *mix = 0.0;

    /* x (batch, n, D) -> x_all (batch, N, D): tokens, then pooled virtual rows. */
    MYO_TIMED(
        *mix, for (int64_t b = 0; b < batch; b++) {
            memcpy(ws->x_all + b * N * D, x + b * n * D, (size_t)(n * D) * sizeof(float));
            pool_virtual_rows(t, ws->inv_count, ws->x_all + b * N * D, D);
        });
    /* q, k, v (batch N, D) = x_all Wq, Wk, Wv in three tall GEMMs; v goes
     * straight into y, where the solve overwrites it. */
    MYO_TIMED(*proj, {
        gemm_rows(batch * N, D, ws->x_all, w->wq, 0, 0, ws->q);
        gemm_rows(batch * N, D, ws->x_all, w->wk, 0, 0, ws->k);
        gemm_rows(batch * N, D, ws->x_all, w->wv, 0, 0, ws->y);
    });

    /* Per sequence: coefficients (N, H), then all heads' pivots and
     * Y = M^{-1} V (N, H d) in one refactor + solve, in place. */
    for (int64_t b = 0; b < batch; b++) {
        float *yb = ws->y + b * N * D;
        myo_status s = MYO_OK;
        MYO_TIMED(*mix, {
            build_weights(t, &ws->cfg, ws->q + b * N * D, ws->k + b * N * D, ws->w_up, ws->w_down,
                          ws->s_up + b * N * H, ws->s_down + b * N * H);
            s = myo_refactor_laplacian_f32(ws->factor[b], ws->w_up, ws->w_down, MYO_OP_N, yb, yb,
                                           d);
        });
        MYO_CHECK(s);
    }

    /* out (n, D) = Y[token rows] Wo; one GEMM when there are no virtual rows. */
    MYO_TIMED(*proj, {
        if (N == n)
            gemm_rows(batch * n, D, ws->y, w->wo, 0, 0, y);
        else
            for (int64_t b = 0; b < batch; b++)
                gemm_rows(n, D, ws->y + b * N * D, w->wo, 0, 0, y + b * n * D);
    });
    ws->batch = batch;
    return MYO_OK;
}

/* One sequence's mixing backward: from g = M^{-T} dY (N, D), and the
 * kept y, q, k (N, D) and scores (N, H), accumulate dq, dk (N, D), zeroed
 * by the caller:
 *     dw_up[i]   = <g_i, y_p - y_i>,  ds_up = dw_up sigmoid(s_up) / sqrt(d)
 *         dq_i += ds_up k_p,  dk_p += ds_up q_i
 *     dw_down[i] = <g_p, y_i - y_p>,  ds_down = dw_down sigmoid(s_down) / sqrt(d)
 *         dq_p += ds_down k_i,  dk_i += ds_down q_p
 * per head on its d channels. */
static void mixing_backward(const myo_tree *t, const myo_layer_config *cfg, const float *g,
                            const float *y, const float *q, const float *k, const float *s_up,
                            const float *s_down, float *dq, float *dk)
{
    const int64_t N = t->n, D = cfg->d_model, H = cfg->heads;
    const layer_edges e = layer_edges_of(cfg);
    for (int64_t i = 0; i < N; i++) {
        const int64_t p = t->parent[i];
        if (p < 0) continue;
        const int64_t ri = i * D, rp = p * D;
        const layer_edge_rows ei = {g + ri, y + ri, q + ri, k + ri, dq + ri, dk + ri};
        const layer_edge_rows ep = {g + rp, y + rp, q + rp, k + rp, dq + rp, dk + rp};
        layer_edge_grads(&e, &ei, &ep, s_up + i * H, s_down + i * H);
    }
}

myo_status myo_layer_backward_f32(myo_layer_work *ws, const myo_qkvo_weights_f32 *w, int64_t batch,
                                  const float *dy, float *dx, const myo_qkvo_grads_f32 *dw)
{
    MYO_CHECK(check_pass(ws, w, batch, "myo_layer_backward_f32"));
    if (!dy || !dx || !layer_weights_ok(w) || !layer_grads_ok(dw))
        return myo_fail(MYO_ERR_ARG, "myo_layer_backward_f32: dy, dx, the weights and all four "
                                     "weight gradients are required");
    if (ws->batch == 0)
        return myo_fail(MYO_ERR_ARG, "myo_layer_backward_f32: no successful forward on this "
                                     "workspace to differentiate");
    if (batch != ws->batch)
        return myo_fail(MYO_ERR_ARG,
                        "myo_layer_backward_f32: batch = %lld, but the last forward "
                        "ran on %lld sequences",
                        (long long)batch, (long long)ws->batch);
    MYO_CHECK(ensure_backward_scratch(ws));
    const myo_tree *t = ws->tree;
    const int64_t n = ws->n, N = ws->N, D = ws->D, H = ws->H, d = ws->d;
    double *proj = &ws->times.backward_projection, *mix = &ws->times.backward_mixing;
    *proj = *mix = 0.0;

    for (int64_t b = 0; b < batch; b++) {
        const float *xa = ws->x_all + b * N * D, *yb = ws->y + b * N * D;
        const float *qb = ws->q + b * N * D, *kb = ws->k + b * N * D;
        const float *dyb = dy + b * n * D;
        float *dxb = dx + b * n * D;
        const int acc = b > 0; /* the weight gradients sum over the batch */

        /* dWo (+)= Y_tok^T dy; dY_heads (N, D) = dy Wo^T on token rows, 0 on virtual rows. */
        MYO_TIMED(*proj, {
            gemm_weight_grad(n, D, yb, dyb, acc, dw->wo);
            gemm_rows(n, D, dyb, w->wo, 1, 0, ws->g);
        });
        /* G = M^{-T} dY_heads, all heads in one transposed solve with the kept pivots. */
        myo_status s = MYO_OK;
        MYO_TIMED(*mix, {
            memset(ws->g + n * D, 0, (size_t)((N - n) * D) * sizeof(float));
            s = myo_solve_f32(ws->factor[b], MYO_OP_T, ws->g, ws->g, d);
            memset(ws->dq, 0, (size_t)(N * D) * sizeof(float));
            memset(ws->dk, 0, (size_t)(N * D) * sizeof(float));
            if (s == MYO_OK)
                mixing_backward(t, &ws->cfg, ws->g, yb, qb, kb, ws->s_up + b * N * H,
                                ws->s_down + b * N * H, ws->dq, ws->dk);
        });
        MYO_CHECK(s);

        MYO_TIMED(*proj, {
            /* dW* (+)= X_all^T d*, with dV = G. */
            gemm_weight_grad(N, D, xa, ws->dq, acc, dw->wq);
            gemm_weight_grad(N, D, xa, ws->dk, acc, dw->wk);
            gemm_weight_grad(N, D, xa, ws->g, acc, dw->wv);
            /* dX_all = dQ Wq^T + dK Wk^T + G Wv^T: token rows into dx, virtual rows into scratch.
             */
            gemm_rows(n, D, ws->dq, w->wq, 1, 0, dxb);
            gemm_rows(n, D, ws->dk, w->wk, 1, 1, dxb);
            gemm_rows(n, D, ws->g, w->wv, 1, 1, dxb);
            gemm_rows(N - n, D, ws->dq + n * D, w->wq, 1, 0, ws->dx_virt);
            gemm_rows(N - n, D, ws->dk + n * D, w->wk, 1, 1, ws->dx_virt);
            gemm_rows(N - n, D, ws->g + n * D, w->wv, 1, 1, ws->dx_virt);
        });
        MYO_TIMED(*mix, pool_virtual_rows_adjoint(t, ws->inv_count, dxb, ws->dx_virt, D));
    }
    return MYO_OK;
}

/* ------------------------------------------------------------ cost model */

/* Bytes of count floats carved out of a block (carve: 64-byte steps). */
static double carved(double count)
{
    return ceil(4.0 * count / 64.0) * 64.0;
}

myo_status myo_layer_cost(const myo_tree_shape *shape, const myo_layer_config *cfg, int64_t batch,
                          myo_cost *out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_layer_cost: out is NULL");
    MYO_CHECK(myo_tree_shape_check(shape));
    MYO_CHECK(myo_layer_config_check(cfg));
    if (batch < 1)
        return myo_fail(MYO_ERR_ARG, "myo_layer_cost: batch = %lld, need >= 1", (long long)batch);
    const double n = (double)shape->tokens, N = (double)shape->nodes, E = (double)shape->edges;
    const double v = (double)shape->virtual_nodes, cv = (double)shape->virtual_children;
    const double D = (double)cfg->d_model, H = (double)cfg->heads, B = (double)batch, f = 4.0;
    const double s = cfg->direction == MYO_DIR_BOTH ? 2.0 : 1.0; /* score directions */
    const double proj_f = 2 * D * D * (3 * N + n), proj_b = 2 * D * D * (6 * N + 2 * n);
    const double mix_f = 2 * s * E * D + 4 * N * D + D * (v + cv);
    const double mix_b = 4 * N * D + 7 * s * E * D + 2 * D * cv;
    /* The workspace as myo_layer_work_create (carve_forward), the first
     * backward (ensure_backward_scratch) and myo_layer_work_bytes count it. */
    const double fwd_block =
        4 * carved(B * N * D) + 2 * carved(B * N * H) + 2 * carved(N * H) + carved(N - n);
    const double back_block = 3 * carved(N * D) + carved((N - n) * D);
    myo_cost factors;
    MYO_CHECK(myo_solve_cost(shape, cfg->heads, 1, MYO_F32, batch, &factors));
    *out = (myo_cost){.flops = {B * (proj_f + mix_f), B * (proj_b + mix_b)},
                      .proj_flops = {B * proj_f, B * proj_b},
                      .bytes = {B * f * (2 * n * D + 4 * N * D + 4 * N * H + 4 * D * D),
                                B * f * (2 * n * D + 6 * N * D + 4 * N * H + 8 * D * D)},
                      .work_bytes = (double)sizeof(myo_layer_work) + fwd_block + back_block +
                                    B * (double)sizeof(myo_factor *) + factors.work_bytes};
    return MYO_OK;
}
