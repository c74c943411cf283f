/* attention.c -- dense softmax attention, float32: the materialized form
 * (vanilla Transformer) and the tiled form (FlashAttention-2 on a CPU).
 *
 * Dimension letters as in myosotis_attention.h: B batch, n tokens, D model
 * width, H heads of width d = D / H; N = B n rows.  Both forms share the
 * projections (one GEMM per weight over all N rows of the batch) and the
 * row kernels of the softmax; only the way scores are blocked differs. */
#include <config.h>

#include "attention_kernels.h"
#include "core/core.h"
#include "core/mathfn.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct myo_attention_work {
    myo_attention_config cfg;
    myo_attention_form form;
    int64_t n, batch, D, H, d;
    int64_t tq, tk;   /* tiles in use (the materialized form: n, n) */
    float *x;         /* (N, D) copy of the last forward's input */
    float *q, *k, *v; /* (N, D) projections */
    float *o;         /* (N, D) concatenated head outputs, before Wo */
    float *p;         /* materialized: (B, H, n, n) probabilities */
    float *lse;       /* tiled: (B, H, n) logsumexp of each query row's scores */
    float *s;         /* tiled: (tq, tk) score / probability tile */
    float *s2;        /* tiled: (tq, tk) dP tile of backward */
    float *run_m;     /* tiled: (tq,) running max of the block's query rows */
    float *run_l;     /* tiled: (tq,) running sum */
    /* Backward scratch, allocated by the first backward. */
    float *dq, *dk, *dv; /* (N, D) */
    float *dp;           /* materialized: (n, n) dP of one head */
    float *delta;        /* (n,) rowsum(dO .* O) of one head */
    size_t bytes;
    int have_forward;
    myo_phase_times times; /* of the last forward and backward */
};

/* ------------------------------------------------------------ arguments */

myo_status myo_attention_check(const myo_attention_config *cfg, int64_t n, int64_t batch)
{
    if (!cfg) return myo_fail(MYO_ERR_ARG, "attention: NULL config");
    if (cfg->d_model < 1 || cfg->heads < 1)
        return myo_fail(MYO_ERR_ARG, "attention: d_model = %lld and heads = %lld must be >= 1",
                        (long long)cfg->d_model, (long long)cfg->heads);
    if (cfg->d_model % cfg->heads != 0)
        return myo_fail(MYO_ERR_ARG,
                        "attention: d_model = %lld is not divisible by heads = %lld (each head "
                        "takes d_model / heads columns; choose heads dividing d_model)",
                        (long long)cfg->d_model, (long long)cfg->heads);
    if (cfg->causal != 0 && cfg->causal != 1)
        return myo_fail(MYO_ERR_ARG, "attention: causal = %d must be 0 or 1", cfg->causal);
    if (cfg->tile_q < 0 || cfg->tile_k < 0)
        return myo_fail(MYO_ERR_ARG, "attention: tiles %lld x %lld must be >= 0 (0: default)",
                        (long long)cfg->tile_q, (long long)cfg->tile_k);
    if (n < 1 || batch < 1)
        return myo_fail(MYO_ERR_ARG, "attention: n = %lld tokens and batch = %lld must be >= 1",
                        (long long)n, (long long)batch);
    return MYO_OK;
}

const char *myo_attention_form_name(myo_attention_form form)
{
    switch (form) {
    case MYO_ATTN_MATERIALIZED:
        return "materialized";
    case MYO_ATTN_TILED:
        return "tiled";
    }
    return "?";
}

/* ---------------------------------------------------------- row kernels */

/* Eight independent lanes: without -ffast-math the compiler may not
 * reorder a float reduction, so the lanes are spelled out. */
#define LANES 8

/* a (len,): the largest entry (-Inf for len = 0) */
static float row_max(const float *a, int64_t len)
{
    float m[LANES];
    for (int u = 0; u < LANES; u++)
        m[u] = -INFINITY;
    int64_t j = 0;
    for (; j + LANES <= len; j += LANES)
        for (int u = 0; u < LANES; u++)
            m[u] = a[j + u] > m[u] ? a[j + u] : m[u];
    for (; j < len; j++)
        m[0] = a[j] > m[0] ? a[j] : m[0];
    for (int u = 1; u < LANES; u++)
        m[0] = m[u] > m[0] ? m[u] : m[0];
    return m[0];
}

/* s (len,): s[j] = e^(s[j] - shift) for j < valid, 0 beyond (keys in the
 * future of a causal query); returns the sum */
static float exp_row(float *s, int64_t valid, int64_t len, float shift)
{
    for (int64_t j = 0; j < valid; j++)
        s[j] = myo_exp_nonposf(s[j] - shift);
    for (int64_t j = valid; j < len; j++)
        s[j] = 0.0f;
    float acc[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= valid; j += LANES)
        for (int u = 0; u < LANES; u++)
            acc[u] += s[j + u];
    for (; j < valid; j++)
        acc[0] += s[j];
    for (int u = 1; u < LANES; u++)
        acc[0] += acc[u];
    return acc[0];
}

/* a (len,) *= c */
static void scale_row(float *a, int64_t len, float c)
{
    for (int64_t j = 0; j < len; j++)
        a[j] *= c;
}

/* a, b (len,): a . b */
float myo_attn_dot_row(const float *a, const float *b, int64_t len)
{
    float s = 0;
    for (int64_t j = 0; j < len; j++)
        s += a[j] * b[j];
    return s;
}

/* p, dp (len,): dp = dS = P .* (dP - delta), the softmax's backward with
 * delta = rowsum(dO .* O) = rowsum(P .* dP) */
static void dsoftmax_row(const float *p, float *dp, int64_t len, float delta)
{
    for (int64_t j = 0; j < len; j++)
        dp[j] = p[j] * (dp[j] - delta);
}

/* Keys query i sees among the len keys from j0 on. */
static inline int64_t keys_seen(int causal, int64_t i, int64_t j0, int64_t len)
{
    if (!causal) return len;
    int64_t v = i - j0 + 1;
    return v < 0 ? 0 : v > len ? len : v;
}

/* ---------------------------------------------------------- GEMM helpers */

/* c (rows, D) = a (rows, D) op(w), op(w) = w or w^T (D, D); c = beta c + ... */
void myo_attn_gemm_rows(const float *a, const float *w, int trans_w, float beta, float *c,
                        int64_t rows, int64_t D)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_w ? CblasTrans : CblasNoTrans, (int)rows, (int)D,
                (int)D, 1.0f, a, (int)D, w, (int)D, beta, c, (int)D);
}

/* g (D, D) = a^T b, a and b (rows, D): a weight's gradient summed over rows */
void myo_attn_gemm_weight_grad(const float *a, const float *b, float *g, int64_t rows, int64_t D)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)rows, 1.0f, a, (int)D,
                b, (int)D, 0.0f, g, (int)D);
}

/* One head's tile product: c (m, k) = alpha op(a) op(b) + beta c with a row
 * strides lda, ldb, ldc (head columns of Q, K, V, O are ld = D apart). */
static void gemm_tile(int ta, int tb, int64_t m, int64_t k, int64_t inner, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                      float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)k, (int)inner, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* ------------------------------------------------------- per-head kernels */

/* One head of one sequence: row i of a matrix at ptr + i ld, d columns. */
typedef struct {
    const float *q, *k, *v; /* (n, d) */
    float *o;               /* (n, d) */
    const float *dout;      /* (n, d) backward: dL/dO */
    float *dq, *dk, *dv;    /* (n, d) backward outputs */
    int64_t n, d, ld;
    float scale; /* 1 / sqrt(d) */
    int causal;
} head;

static head head_of(const myo_attention_work *w, int64_t b, int64_t h, const float *dout)
{
    int64_t off = b * w->n * w->D + h * w->d;
    head hd = {.q = w->q + off,
               .k = w->k + off,
               .v = w->v + off,
               .o = w->o + off,
               .n = w->n,
               .d = w->d,
               .ld = w->D,
               .scale = (float)(1.0 / sqrt((double)w->d)),
               .causal = w->cfg.causal};
    if (dout) {
        hd.dout = dout + off;
        hd.dq = w->dq + off, hd.dk = w->dk + off, hd.dv = w->dv + off;
    }
    return hd;
}

/* delta (n,) = rowsum(dO .* O) of one head, the softmax backward's
 * rowsum(P .* dP) without forming P */
static void row_deltas(const head *hd, float *delta)
{
    for (int64_t i = 0; i < hd->n; i++)
        delta[i] = myo_attn_dot_row(hd->dout + i * hd->ld, hd->o + i * hd->ld, hd->d);
}

/* Materialized forward.  q, k, v (n, d) -> p (n, n) softmax rows, o (n, d) */
static void materialized_forward(const head *hd, float *p)
{
    int64_t n = hd->n, d = hd->d, ld = hd->ld;
    gemm_tile(0, 1, n, n, d, hd->scale, hd->q, ld, hd->k, ld, 0.0f, p, n);
    for (int64_t i = 0; i < n; i++) {
        float *row = p + i * n;
        int64_t valid = keys_seen(hd->causal, i, 0, n);
        float sum = exp_row(row, valid, n, row_max(row, valid));
        scale_row(row, valid, 1.0f / sum);
    }
    gemm_tile(0, 0, n, d, n, 1.0f, p, n, hd->v, ld, 0.0f, hd->o, ld);
}

/* Materialized backward.  p (n, n), dout (n, d) -> dq, dk, dv (n, d);
 * dp (n, n) and delta (n,) scratch */
static void materialized_backward(const head *hd, const float *p, float *dp, float *delta)
{
    int64_t n = hd->n, d = hd->d, ld = hd->ld;
    row_deltas(hd, delta);
    /* dV = P^T dO; dP = dO V^T; dS = P .* (dP - delta) */
    gemm_tile(1, 0, n, d, n, 1.0f, p, n, hd->dout, ld, 0.0f, hd->dv, ld);
    gemm_tile(0, 1, n, n, d, 1.0f, hd->dout, ld, hd->v, ld, 0.0f, dp, n);
    for (int64_t i = 0; i < n; i++)
        dsoftmax_row(p + i * n, dp + i * n, n, delta[i]);
    /* dQ = scale dS K; dK = scale dS^T Q */
    gemm_tile(0, 0, n, d, n, hd->scale, dp, n, hd->k, ld, 0.0f, hd->dq, ld);
    gemm_tile(1, 0, n, d, n, hd->scale, dp, n, hd->q, ld, 0.0f, hd->dk, ld);
}

/* The inner loop of FlashAttention-2's forward: b->rows query rows
 * against b->keys keys in tiles of tk, into the unnormalised accumulator o
 * (rows, d) at stride b->ld with the running max and sum run_m, run_l
 * (rows,); s (rows, tk) scratch.  Shared with ring attention, whose key
 * blocks arrive one by one. */
void myo_attn_block_forward(const myo_attn_block *b, int64_t tk, float *o, float *run_m,
                            float *run_l, float *s)
{
    int64_t bq = b->rows, d = b->d, ld = b->ld;
    for (int64_t j0 = 0; j0 < b->keys; j0 += tk) {
        int64_t bk = b->keys - j0 < tk ? b->keys - j0 : tk;
        gemm_tile(0, 1, bq, bk, d, b->scale, b->q, ld, b->k + j0 * ld, ld, 0.0f, s, bk);
        for (int64_t r = 0; r < bq; r++) {
            float *row = s + r * bk;
            int64_t valid = keys_seen(b->causal, b->qpos + r, b->kpos + j0, bk);
            if (valid == 0) { /* the row's keys all lie in the future: P = 0 */
                memset(row, 0, (size_t)bk * sizeof(float));
                continue;
            }
            float mx = row_max(row, valid);
            float m_new = mx > run_m[r] ? mx : run_m[r];
            float corr = myo_exp_nonposf(run_m[r] - m_new); /* 0 on the first block (m = -Inf) */
            run_l[r] = run_l[r] * corr + exp_row(row, valid, bk, m_new);
            run_m[r] = m_new;
            if (corr != 1.0f) scale_row(o + r * ld, d, corr);
        }
        gemm_tile(0, 0, bq, d, bk, 1.0f, s, bk, b->v + j0 * ld, ld, 1.0f, o, ld);
    }
}

/* After the last key block: o (rows, d) at stride ld /= run_l, and
 * lse (rows,) = run_m + log run_l.  Every row must have seen a key. */
void myo_attn_block_finish(int64_t rows, int64_t d, int64_t ld, const float *run_m,
                           const float *run_l, float *o, float *lse)
{
    for (int64_t r = 0; r < rows; r++) {
        scale_row(o + r * ld, d, 1.0f / run_l[r]);
        lse[r] = run_m[r] + logf(run_l[r]);
    }
}

/* One tile of FlashAttention-2's backward: b->rows query rows against
 * b->keys keys; dout, dq (rows, d), dk, dv (keys, d), all at stride b->ld;
 * lse, delta (rows,).  dq, dk, dv accumulate.  p, dp (rows, keys)
 * scratch.  Shared with ring attention. */
void myo_attn_block_backward(const myo_attn_block *b, const float *dout, const float *lse,
                             const float *delta, float *dq, float *dk, float *dv, float *p,
                             float *dp)
{
    int64_t bq = b->rows, bk = b->keys, d = b->d, ld = b->ld;
    /* P = exp(S - L), recomputed from the saved logsumexp */
    gemm_tile(0, 1, bq, bk, d, b->scale, b->q, ld, b->k, ld, 0.0f, p, bk);
    for (int64_t r = 0; r < bq; r++)
        exp_row(p + r * bk, keys_seen(b->causal, b->qpos + r, b->kpos, bk), bk, lse[r]);
    /* dV += P^T dO; dP = dO V^T; dS = P .* (dP - delta) */
    gemm_tile(1, 0, bk, d, bq, 1.0f, p, bk, dout, ld, 1.0f, dv, ld);
    gemm_tile(0, 1, bq, bk, d, 1.0f, dout, ld, b->v, ld, 0.0f, dp, bk);
    for (int64_t r = 0; r < bq; r++)
        dsoftmax_row(p + r * bk, dp + r * bk, bk, delta[r]);
    /* dQ += scale dS K; dK += scale dS^T Q */
    gemm_tile(0, 0, bq, d, bk, b->scale, dp, bk, b->k, ld, 1.0f, dq, ld);
    gemm_tile(1, 0, bk, d, bq, b->scale, dp, bk, b->q, ld, 1.0f, dk, ld);
}

/* Tiled forward (FlashAttention-2).  q, k, v (n, d) -> o (n, d), lse (n,);
 * s (tq, tk), run_m, run_l (tq,) scratch.  A causal query block stops at
 * its last row's key: later key blocks are wholly masked and skipped. */
static void tiled_forward(const head *hd, int64_t tq, int64_t tk, float *lse, float *s,
                          float *run_m, float *run_l)
{
    int64_t n = hd->n, d = hd->d, ld = hd->ld;
    for (int64_t i0 = 0; i0 < n; i0 += tq) {
        int64_t bq = n - i0 < tq ? n - i0 : tq;
        float *o = hd->o + i0 * ld;
        for (int64_t r = 0; r < bq; r++) {
            run_m[r] = -INFINITY, run_l[r] = 0.0f;
            memset(o + r * ld, 0, (size_t)d * sizeof(float));
        }
        myo_attn_block blk = {.q = hd->q + i0 * ld,
                              .k = hd->k,
                              .v = hd->v,
                              .rows = bq,
                              .keys = hd->causal ? i0 + bq : n,
                              .d = d,
                              .ld = ld,
                              .qpos = i0,
                              .kpos = 0,
                              .scale = hd->scale,
                              .causal = hd->causal};
        myo_attn_block_forward(&blk, tk, o, run_m, run_l, s);
        /* Every row saw key 0, so l >= 1 and m is finite. */
        myo_attn_block_finish(bq, d, ld, run_m, run_l, o, lse + i0);
    }
}

/* Tiled backward (FlashAttention-2): key blocks outside, query blocks
 * inside; dK, dV of a key block accumulate in place, dQ across key blocks.
 * q, k, v, o, dout (n, d), lse (n,) -> dq, dk, dv (n, d); p, dp (tq, tk)
 * and delta (n,) scratch.  A causal key block starts at the query block
 * holding its first key. */
static void tiled_backward(const head *hd, int64_t tq, int64_t tk, const float *lse, float *p,
                           float *dp, float *delta)
{
    int64_t n = hd->n, d = hd->d, ld = hd->ld;
    row_deltas(hd, delta);
    for (int64_t i = 0; i < n; i++)
        memset(hd->dq + i * ld, 0, (size_t)d * sizeof(float));
    for (int64_t j0 = 0; j0 < n; j0 += tk) {
        int64_t bk = n - j0 < tk ? n - j0 : tk;
        float *dk = hd->dk + j0 * ld, *dv = hd->dv + j0 * ld;
        const float *k = hd->k + j0 * ld, *v = hd->v + j0 * ld;
        for (int64_t r = 0; r < bk; r++) {
            memset(dk + r * ld, 0, (size_t)d * sizeof(float));
            memset(dv + r * ld, 0, (size_t)d * sizeof(float));
        }
        for (int64_t i0 = hd->causal ? j0 / tq * tq : 0; i0 < n; i0 += tq) {
            int64_t bq = n - i0 < tq ? n - i0 : tq;
            myo_attn_block blk = {.q = hd->q + i0 * ld,
                                  .k = k,
                                  .v = v,
                                  .rows = bq,
                                  .keys = bk,
                                  .d = d,
                                  .ld = ld,
                                  .qpos = i0,
                                  .kpos = j0,
                                  .scale = hd->scale,
                                  .causal = hd->causal};
            myo_attn_block_backward(&blk, hd->dout + i0 * ld, lse + i0, delta + i0,
                                    hd->dq + i0 * ld, dk, dv, p, dp);
        }
    }
}

/* ----------------------------------------------------------- workspace */

static float *take(myo_attention_work *w, int64_t count, int *failed)
{
    float *p = myo_alloc((size_t)count, sizeof(float), "attention workspace");
    if (!p)
        *failed = 1;
    else
        w->bytes += (size_t)count * sizeof(float);
    return p;
}

static void release_all(myo_attention_work *w)
{
    float *all[] = {w->x,  w->q,     w->k,     w->v,  w->o,  w->p,  w->lse, w->s,
                    w->s2, w->run_m, w->run_l, w->dq, w->dk, w->dv, w->dp,  w->delta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

myo_status myo_attention_work_create(const myo_attention_config *cfg, myo_attention_form form,
                                     int64_t n, int64_t batch, myo_attention_work **out)
{
    if (out) *out = NULL;
    MYO_CHECK(myo_attention_check(cfg, n, batch));
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_attention_work_create: NULL output pointer");
    if (form != MYO_ATTN_MATERIALIZED && form != MYO_ATTN_TILED)
        return myo_fail(MYO_ERR_ARG, "myo_attention_work_create: unknown form %d", (int)form);
    /* BLAS takes int sizes: rows of the batch, and n^2 for the materialized form. */
    int64_t D = cfg->d_model, H = cfg->heads;
    if (batch > INT_MAX / n || D > INT_MAX ||
        (form == MYO_ATTN_MATERIALIZED && (n > INT_MAX / n || batch * H > INT64_MAX / (n * n))))
        return myo_fail(MYO_ERR_ARG,
                        "myo_attention_work_create: n = %lld, batch = %lld is too large for "
                        "the %s form",
                        (long long)n, (long long)batch, myo_attention_form_name(form));
    myo_attention_work *w = calloc(1, sizeof *w);
    if (!w) return myo_fail(MYO_ERR_NOMEM, "myo_attention_work_create: out of memory");
    w->cfg = *cfg, w->form = form, w->n = n, w->batch = batch;
    w->D = D, w->H = H, w->d = D / H;
    w->bytes = sizeof *w;
    int64_t rows = batch * n;
    int fail = 0;
    w->x = take(w, rows * D, &fail);
    w->q = take(w, rows * D, &fail);
    w->k = take(w, rows * D, &fail);
    w->v = take(w, rows * D, &fail);
    w->o = take(w, rows * D, &fail);
    if (form == MYO_ATTN_MATERIALIZED) {
        w->tq = w->tk = n;
        if (!fail) w->p = take(w, batch * H * n * n, &fail);
    } else {
        w->tq = cfg->tile_q ? cfg->tile_q : MYO_ATTN_TILE_Q_DEFAULT;
        w->tk = cfg->tile_k ? cfg->tile_k : MYO_ATTN_TILE_K_DEFAULT;
        if (w->tq > n) w->tq = n;
        if (w->tk > n) w->tk = n;
        w->lse = take(w, batch * H * n, &fail);
        w->s = take(w, w->tq * w->tk, &fail);
        w->s2 = take(w, w->tq * w->tk, &fail);
        w->run_m = take(w, w->tq, &fail);
        w->run_l = take(w, w->tq, &fail);
    }
    if (fail) {
        release_all(w);
        free(w);
        return MYO_ERR_NOMEM;
    }
    *out = w;
    return MYO_OK;
}

void myo_attention_work_destroy(myo_attention_work **w)
{
    if (!w || !*w) return;
    release_all(*w);
    free(*w);
    *w = NULL;
}

void myo_attention_work_times(const myo_attention_work *w, myo_phase_times *out)
{
    if (w && out) *out = w->times;
}

size_t myo_attention_work_bytes(const myo_attention_work *w)
{
    return w ? w->bytes : 0;
}

myo_attention_form myo_attention_work_form(const myo_attention_work *w)
{
    return w->form;
}

void myo_attention_work_tiles(const myo_attention_work *w, int64_t *tile_q, int64_t *tile_k)
{
    if (tile_q) *tile_q = w->tq;
    if (tile_k) *tile_k = w->tk;
}

/* The backward scratch, once. */
static myo_status backward_scratch(myo_attention_work *w)
{
    if (w->dq) return MYO_OK;
    size_t bytes_before = w->bytes;
    int64_t rows = w->batch * w->n;
    int fail = 0;
    w->dq = take(w, rows * w->D, &fail);
    w->dk = take(w, rows * w->D, &fail);
    w->dv = take(w, rows * w->D, &fail);
    w->delta = take(w, w->n, &fail);
    if (w->form == MYO_ATTN_MATERIALIZED) w->dp = take(w, w->n * w->n, &fail);
    if (!fail) return MYO_OK;
    float **bufs[] = {&w->dq, &w->dk, &w->dv, &w->delta, &w->dp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    w->bytes = bytes_before;
    return MYO_ERR_NOMEM;
}

/* ------------------------------------------------------------ the layer */

static int weights_ok(const myo_qkvo_weights_f32 *wts)
{
    return wts && wts->wq && wts->wk && wts->wv && wts->wo;
}

myo_status myo_attention_forward_f32(myo_attention_work *w, const myo_qkvo_weights_f32 *wts,
                                     const float *x, float *y)
{
    if (!w || !weights_ok(wts) || !x || !y)
        return myo_fail(MYO_ERR_ARG, "myo_attention_forward_f32: NULL workspace, weight, "
                                     "input or output");
    int64_t rows = w->batch * w->n, D = w->D;
    w->have_forward = 0;
    double *proj = &w->times.forward_projection, *mix = &w->times.forward_mixing;
    *proj = *mix = 0.0;
    MYO_TIMED(*mix, memcpy(w->x, x, (size_t)(rows * D) * sizeof(float)));
    MYO_TIMED(*proj, {
        myo_attn_gemm_rows(w->x, wts->wq, 0, 0.0f, w->q, rows, D);
        myo_attn_gemm_rows(w->x, wts->wk, 0, 0.0f, w->k, rows, D);
        myo_attn_gemm_rows(w->x, wts->wv, 0, 0.0f, w->v, rows, D);
    });
    MYO_TIMED(
        *mix, for (int64_t b = 0; b < w->batch; b++) {
            for (int64_t h = 0; h < w->H; h++) {
                head hd = head_of(w, b, h, NULL);
                int64_t bh = b * w->H + h;
                if (w->form == MYO_ATTN_MATERIALIZED)
                    materialized_forward(&hd, w->p + bh * w->n * w->n);
                else
                    tiled_forward(&hd, w->tq, w->tk, w->lse + bh * w->n, w->s, w->run_m, w->run_l);
            }
        });
    MYO_TIMED(*proj, myo_attn_gemm_rows(w->o, wts->wo, 0, 0.0f, y, rows, D));
    w->have_forward = 1;
    return MYO_OK;
}

myo_status myo_attention_backward_f32(myo_attention_work *w, const myo_qkvo_weights_f32 *wts,
                                      const float *dy, float *dx, const myo_qkvo_grads_f32 *g)
{
    const char *who = "myo_attention_backward_f32";
    if (!w || !weights_ok(wts) || !dy || !dx || !g || !g->wq || !g->wk || !g->wv || !g->wo)
        return myo_fail(MYO_ERR_ARG, "%s: NULL workspace, weight, gradient input or output", who);
    if (!w->have_forward)
        return myo_fail(MYO_ERR_ARG, "%s: no forward pass with this workspace before", who);
    int64_t rows = w->batch * w->n, D = w->D;
    uintptr_t a = (uintptr_t)dy, b = (uintptr_t)dx, len = (uintptr_t)(rows * D) * sizeof(float);
    if (a < b + len && b < a + len)
        return myo_fail(MYO_ERR_ARG, "%s: dx overlaps dy (dx is used as scratch)", who);
    MYO_CHECK(backward_scratch(w));

    double *proj = &w->times.backward_projection, *mix = &w->times.backward_mixing;
    *proj = *mix = 0.0;
    /* Y = O Wo: dO = dY Wo^T (kept in dx until dX is formed), dWo = O^T dY. */
    float *dout = dx;
    MYO_TIMED(*proj, {
        myo_attn_gemm_rows(dy, wts->wo, 1, 0.0f, dout, rows, D);
        myo_attn_gemm_weight_grad(w->o, dy, g->wo, rows, D);
    });
    MYO_TIMED(
        *mix, for (int64_t bb = 0; bb < w->batch; bb++) {
            for (int64_t h = 0; h < w->H; h++) {
                head hd = head_of(w, bb, h, dout);
                int64_t bh = bb * w->H + h;
                if (w->form == MYO_ATTN_MATERIALIZED)
                    materialized_backward(&hd, w->p + bh * w->n * w->n, w->dp, w->delta);
                else
                    tiled_backward(&hd, w->tq, w->tk, w->lse + bh * w->n, w->s, w->s2, w->delta);
            }
        });
    /* Q = X Wq, ...: dWq = X^T dQ, ...; dX = dQ Wq^T + dK Wk^T + dV Wv^T
     * (overwriting dO, no longer needed). */
    MYO_TIMED(*proj, {
        myo_attn_gemm_weight_grad(w->x, w->dq, g->wq, rows, D);
        myo_attn_gemm_weight_grad(w->x, w->dk, g->wk, rows, D);
        myo_attn_gemm_weight_grad(w->x, w->dv, g->wv, rows, D);
        myo_attn_gemm_rows(w->dq, wts->wq, 1, 0.0f, dx, rows, D);
        myo_attn_gemm_rows(w->dk, wts->wk, 1, 1.0f, dx, rows, D);
        myo_attn_gemm_rows(w->dv, wts->wv, 1, 1.0f, dx, rows, D);
    });
    return MYO_OK;
}

/* ------------------------------------------------------------ cost model */

myo_status myo_attention_cost(const myo_attention_config *cfg, myo_attention_form form, int64_t n,
                              int64_t batch, myo_cost *out)
{
    MYO_CHECK(myo_attention_check(cfg, n, batch));
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_attention_cost: out is NULL");
    if (form != MYO_ATTN_MATERIALIZED && form != MYO_ATTN_TILED)
        return myo_fail(MYO_ERR_ARG, "myo_attention_cost: unknown form %d", (int)form);
    const int mat = form == MYO_ATTN_MATERIALIZED;
    /* The tiles as myo_attention_work_create picks them. */
    int64_t tq = n, tk = n;
    if (!mat) {
        tq = cfg->tile_q ? cfg->tile_q : MYO_ATTN_TILE_Q_DEFAULT;
        tk = cfg->tile_k ? cfg->tile_k : MYO_ATTN_TILE_K_DEFAULT;
        if (tq > n) tq = n;
        if (tk > n) tk = n;
    }
    const double nn = (double)n, D = (double)cfg->d_model, H = (double)cfg->heads;
    const double B = (double)batch, f = 4.0, n2 = nn * nn;
    const double c = cfg->causal ? (nn + 1) / (2 * nn) : 1.0;
    const double proj_f = 8 * nn * D * D, proj_b = 16 * nn * D * D;
    const double mix_f = c * (4 * n2 * D + 5 * H * n2);
    double mix_b = 2 * nn * D + c * (8 * n2 * D + 2 * H * n2);
    if (!mat) mix_b += c * (2 * n2 * D + 2 * H * n2);
    /* K and V rows read: n per query block, or (causal) the rows up to the
     * block's last query: tq T (T - 1) / 2 + n over T blocks. */
    const double T = (double)((n + tq - 1) / tq), tqd = (double)tq;
    const double r = cfg->causal ? tqd * T * (T - 1) / 2 + nn : T * nn;
    double fwd_bytes = f * (6 * nn * D + 2 * D * r + 4 * D * D);
    if (mat) fwd_bytes += f * 2 * H * n2;
    /* The workspace as myo_attention_work_create and the first backward
     * (backward_scratch) take it. */
    double floats = 5 * B * nn * D + 3 * B * nn * D + nn;
    if (mat)
        floats += B * H * n2 + n2;
    else
        floats += B * H * nn + 2 * tqd * (double)tk + 2 * tqd;
    *out = (myo_cost){.flops = {B * (proj_f + mix_f), B * (proj_b + mix_b)},
                      .proj_flops = {B * proj_f, B * proj_b},
                      .bytes = {B * fwd_bytes, B * 2 * fwd_bytes},
                      .work_bytes = (double)sizeof(myo_attention_work) + 4.0 * floats};
    return MYO_OK;
}
