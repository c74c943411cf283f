/* ring_attention.c -- exact softmax attention of one sequence split over
 * MPI ranks: Ring Attention over the tiled form's block kernels
 * (myosotis_dist.h; attention.c holds the kernels, shared through
 * attention_kernels.h).
 *
 * Letters as in myosotis_attention.h; per rank n = n_local rows, P ranks,
 * n_max the largest n_local.  A travelling block is packed [K | V]
 * (2 n_blk D floats, rows at stride D) in the forward and [K | V | dK | dV]
 * split in two buffers in the backward, so that one message moves it.
 *
 * At step s rank r holds the block of rank (r - s) mod P.  After step
 * P - 1 it holds rank r + 1's block, so one more shift in the same
 * direction returns the accumulated dK, dV to their owner.
 *
 * Why the partial dK, dV lag one step behind K, V: a rank can only send a
 * block's partial after adding its own contribution, so sending it with K
 * and V would leave nothing to overlap.  Instead the receiver computes its
 * contribution into a zeroed buffer while the partial is in flight, and
 * adds it afterwards (2 n_blk D additions per step). */
#include <config.h>

#include "core/core.h"
#include "mixers/attention_kernels.h"
#include "mpi_util.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_KV = 0x6d79, TAG_DKV = 0x6d7a };

struct myo_attention_ring_work {
    myo_attention_config cfg;
    int64_t n, D, H, d, tq, tk;
    float *x;         /* (n, D) copy of the last forward's input */
    float *q, *k, *v; /* (n, D) projections */
    float *o;         /* (n, D) concatenated head outputs, before Wo */
    float *lse;       /* (H, n) running max in the forward, then logsumexp */
    float *run_l;     /* (H, n) running sum */
    float *s, *s2;    /* (tq, tk) score / dP tiles */
    int have_forward;
};

/* ------------------------------------------------------------ workspace */

static float *take(int64_t count, int *failed)
{
    float *p = myo_alloc((size_t)(count > 0 ? count : 1), sizeof(float), "ring attention");
    if (!p) *failed = 1;
    return p;
}

static void release_all(myo_attention_ring_work *w)
{
    float *all[] = {w->x, w->q, w->k, w->v, w->o, w->lse, w->run_l, w->s, w->s2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

myo_status myo_attention_ring_work_create(const myo_attention_config *cfg, int64_t n_local,
                                          myo_attention_ring_work **out)
{
    if (out) *out = NULL;
    MYO_CHECK(myo_attention_check(cfg, 1, 1));
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_attention_ring_work_create: NULL output pointer");
    int64_t D = cfg->d_model, H = cfg->heads;
    if (n_local < 0 || D > INT_MAX || (n_local > 0 && n_local > INT_MAX / D))
        return myo_fail(MYO_ERR_ARG,
                        "myo_attention_ring_work_create: n_local = %lld (want >= 0, with "
                        "n_local d_model <= %d)",
                        (long long)n_local, INT_MAX);
    myo_attention_ring_work *w = calloc(1, sizeof *w);
    if (!w) return myo_fail(MYO_ERR_NOMEM, "myo_attention_ring_work_create: out of memory");
    w->cfg = *cfg, w->n = n_local, w->D = D, w->H = H, w->d = D / H;
    w->tq = cfg->tile_q ? cfg->tile_q : MYO_ATTN_TILE_Q_DEFAULT;
    w->tk = cfg->tile_k ? cfg->tile_k : MYO_ATTN_TILE_K_DEFAULT;
    if (w->tq > n_local) w->tq = n_local > 0 ? n_local : 1;
    int fail = 0;
    w->x = take(n_local * D, &fail);
    w->q = take(n_local * D, &fail);
    w->k = take(n_local * D, &fail);
    w->v = take(n_local * D, &fail);
    w->o = take(n_local * D, &fail);
    w->lse = take(H * n_local, &fail);
    w->run_l = take(H * n_local, &fail);
    w->s = take(w->tq * w->tk, &fail);
    w->s2 = take(w->tq * w->tk, &fail);
    if (fail) {
        release_all(w);
        free(w);
        return MYO_ERR_NOMEM;
    }
    *out = w;
    return MYO_OK;
}

void myo_attention_ring_work_destroy(myo_attention_ring_work **w)
{
    if (!w || !*w) return;
    release_all(*w);
    free(*w);
    *w = NULL;
}

/* ------------------------------------------------------------ agreement */

#define MPI_TRY(call, what) MYO_MPI_TRY(who, call, what)

/* The ring's layout, the same on every rank after agree(). */
typedef struct {
    int rank, size;
    int64_t *cnt, *off; /* (size), (size + 1): rows and first row of each rank */
    int64_t n_max;
} ring;

/* The ranks agree on this rank's local status mine (the first failing
 * rank's wins) and on D, H and causal with one MPI_Allreduce, as
 * dist_scan.c does; only then do they gather each other's n_local (one
 * MPI_Allgather), from which every rank derives the same layout.
 * Collective on comm. */
static myo_status agree(MPI_Comm comm, const char *who, myo_status mine,
                        const myo_attention_ring_work *w, ring *rg)
{
    myo_status st = MYO_OK;
    MPI_TRY(MPI_Comm_rank(comm, &rg->rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(comm, &rg->size), "MPI_Comm_size");
    int p = rg->size;
    rg->cnt = malloc((size_t)p * sizeof *rg->cnt);
    rg->off = malloc((size_t)(p + 1) * sizeof *rg->off);
    if (mine == MYO_OK && (!rg->cnt || !rg->off))
        mine = myo_fail(MYO_ERR_NOMEM, "%s: out of memory for the ring's layout", who);
    /* name this rank in its own detail, as the others will; then the
     * status and the configuration (to see whether it differs) */
    myo_mpi_name_rank(mine, rg->rank, p);
    static const char *const names[3] = {"d_model", "heads", "causal"};
    const int ok = mine == MYO_OK;
    const long long vals[3] = {ok ? w->D : 0, ok ? w->H : 0, ok ? w->cfg.causal : 0};
    st = myo_mpi_agree_config(comm, who, mine, rg->rank, p, 3, vals, names);
    if (st != MYO_OK) goto done;
    int64_t mine_n = w->n;
    MPI_TRY(MPI_Allgather(&mine_n, 1, MPI_INT64_T, rg->cnt, 1, MPI_INT64_T, comm), "MPI_Allgather");
    rg->off[0] = 0, rg->n_max = 0;
    for (int r = 0; r < p; r++) {
        rg->off[r + 1] = rg->off[r] + rg->cnt[r];
        if (rg->cnt[r] > rg->n_max) rg->n_max = rg->cnt[r];
    }
    if (rg->off[p] < 1)
        st = myo_fail(MYO_ERR_ARG, "%s: no rank holds a row (the sequence must have a token)", who);
    else if (rg->n_max > INT_MAX / 4 / w->D || w->D > 23170)
        st = myo_fail(MYO_ERR_ARG,
                      "%s: n_local = %lld on some rank or d_model = %lld is too large for one "
                      "message of 4 n_local d_model or 4 d_model^2 floats (MPI's int count)",
                      who, (long long)rg->n_max, (long long)w->D);

done:
    return st;
}

/* Every rank's local failure (fail != 0, e.g. out of memory) becomes an
 * agreed MYO_ERR_NOMEM: one MPI_Allreduce.  Collective on comm. */
static myo_status agree_alloc(MPI_Comm comm, const char *who, int fail)
{
    int any = 0;
    MYO_CHECK(myo_mpi_any(comm, who, fail, &any));
    if (any && !fail)
        return myo_fail(MYO_ERR_NOMEM, "%s: another rank ran out of memory for its ring buffers",
                        who);
    return any ? MYO_ERR_NOMEM : MYO_OK;
}

static void ring_free(ring *rg)
{
    free(rg->cnt), free(rg->off);
    rg->cnt = rg->off = NULL;
}

/* Run body with MPI_ERRORS_RETURN on comm (myo_mpi_enter). */
typedef myo_status (*ring_body)(MPI_Comm comm, void *args);

static myo_status with_errors_return(MPI_Comm comm, const char *who, ring_body body, void *args)
{
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, who, &saved));
    myo_status st = body(comm, args);
    myo_mpi_leave(comm, &saved);
    return st;
}

static int weights_ok(const myo_qkvo_weights_f32 *wts)
{
    return wts && wts->wq && wts->wk && wts->wv && wts->wo;
}

/* One head h of this rank's query rows [i0, i0 + bq) against the key rows
 * [j0, j0 + bk) of the block of rank src held in kv ([K | V], nk rows). */
static myo_attn_block block_of(const myo_attention_ring_work *w, const ring *rg, int64_t h,
                               int64_t i0, int64_t bq, const float *kv, int64_t nk, int src,
                               int64_t j0, int64_t bk)
{
    int64_t D = w->D, d = w->d;
    myo_attn_block b = {.q = w->q + i0 * D + h * d,
                        .k = kv + j0 * D + h * d,
                        .v = kv + (nk + j0) * D + h * d,
                        .rows = bq,
                        .keys = bk,
                        .d = d,
                        .ld = D,
                        .qpos = rg->off[rg->rank] + i0,
                        .kpos = rg->off[src] + j0,
                        .scale = (float)(1.0 / sqrt((double)d)),
                        .causal = w->cfg.causal};
    return b;
}

/* Whether every key of the block lies in the future of every query row. */
static int all_future(const myo_attn_block *b)
{
    return b->causal && b->kpos > b->qpos + b->rows - 1;
}

/* -------------------------------------------------------------- forward */

typedef struct {
    myo_attention_ring_work *w;
    const myo_qkvo_weights_f32 *wts;
    const float *x;
    float *y;
} fwd_args;

/* Fold the block of rank src, kv ([K | V], nk rows), into the running
 * softmax of every local query row and head.  Local. */
static void fold_block(myo_attention_ring_work *w, const ring *rg, const float *kv, int64_t nk,
                       int src)
{
    int64_t n = w->n, D = w->D, d = w->d;
    if (nk == 0) return;
    for (int64_t h = 0; h < w->H; h++)
        for (int64_t i0 = 0; i0 < n; i0 += w->tq) {
            int64_t bq = n - i0 < w->tq ? n - i0 : w->tq;
            myo_attn_block b = block_of(w, rg, h, i0, bq, kv, nk, src, 0, nk);
            if (all_future(&b)) continue;
            myo_attn_block_forward(&b, w->tk, w->o + i0 * D + h * d, w->lse + h * n + i0,
                                   w->run_l + h * n + i0, w->s);
        }
}

static myo_status forward_body(MPI_Comm comm, void *args)
{
    const char *who = "myo_attention_ring_forward_f32";
    fwd_args *a = args;
    myo_attention_ring_work *w = a->w;
    myo_status st = MYO_OK;
    ring rg = {0};
    float *kv[2] = {NULL, NULL};
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};

    myo_status mine = MYO_OK;
    if (!w || !weights_ok(a->wts) || (w->n > 0 && (!a->x || !a->y)))
        mine = myo_fail(MYO_ERR_ARG, "%s: NULL workspace, weight, input or output", who);
    if (w) w->have_forward = 0;
    st = agree(comm, who, mine, w, &rg);
    if (st != MYO_OK) goto done;

    int64_t n = w->n, D = w->D, d = w->d, H = w->H;
    int p = rg.size, next = (rg.rank + 1) % p, prev = (rg.rank + p - 1) % p;
    int fail = 0;
    kv[0] = take(2 * rg.n_max * D, &fail);
    kv[1] = take(2 * rg.n_max * D, &fail);
    st = agree_alloc(comm, who, fail);
    if (st != MYO_OK) goto done;

    if (n > 0) {
        memcpy(w->x, a->x, (size_t)(n * D) * sizeof(float));
        myo_attn_gemm_rows(w->x, a->wts->wq, 0, 0.0f, w->q, n, D);
        myo_attn_gemm_rows(w->x, a->wts->wk, 0, 0.0f, w->k, n, D);
        myo_attn_gemm_rows(w->x, a->wts->wv, 0, 0.0f, w->v, n, D);
        memcpy(kv[0], w->k, (size_t)(n * D) * sizeof(float));
        memcpy(kv[0] + n * D, w->v, (size_t)(n * D) * sizeof(float));
    }
    memset(w->o, 0, (size_t)(n * D) * sizeof(float));
    for (int64_t i = 0; i < H * n; i++)
        w->lse[i] = -INFINITY, w->run_l[i] = 0.0f;

    for (int s = 0; s < p; s++) {
        int src = (rg.rank + p - s) % p;
        float *cur = kv[s % 2];
        int64_t nk = rg.cnt[src];
        if (s < p - 1) {
            MPI_TRY(MPI_Irecv(kv[(s + 1) % 2], (int)(2 * rg.n_max * D), MPI_FLOAT, prev, TAG_KV,
                              comm, &req[0]),
                    "MPI_Irecv");
            MPI_TRY(MPI_Isend(cur, (int)(2 * nk * D), MPI_FLOAT, next, TAG_KV, comm, &req[1]),
                    "MPI_Isend");
        }
        fold_block(w, &rg, cur, nk, src);
        if (s < p - 1) MPI_TRY(MPI_Waitall(2, req, MPI_STATUSES_IGNORE), "MPI_Waitall");
    }
    /* Every row saw its own key (causal) or all keys, so l > 0. */
    for (int64_t h = 0; h < H && n > 0; h++)
        myo_attn_block_finish(n, d, D, w->lse + h * n, w->run_l + h * n, w->o + h * d,
                              w->lse + h * n);
    if (n > 0) myo_attn_gemm_rows(w->o, a->wts->wo, 0, 0.0f, a->y, n, D);
    w->have_forward = 1;

done:
    free(kv[0]), free(kv[1]);
    ring_free(&rg);
    return st;
}

myo_status myo_attention_ring_forward_f32(MPI_Comm comm, myo_attention_ring_work *w,
                                          const myo_qkvo_weights_f32 *wts, const float *x, float *y)
{
    fwd_args a = {w, wts, x, y};
    return with_errors_return(comm, "myo_attention_ring_forward_f32", forward_body, &a);
}

/* ------------------------------------------------------------- backward */

typedef struct {
    myo_attention_ring_work *w;
    const myo_qkvo_weights_f32 *wts;
    const float *dy;
    float *dx;
    const myo_qkvo_grads_f32 *g;
} bwd_args;

/* This rank's contribution to the gradients of the block of rank src:
 * kv ([K | V], nk rows) in, dkv ([dK | dV], nk rows) accumulates, and so
 * does dq (n, D).  dout (n, D), delta (H, n).  Local. */
static void block_grads(myo_attention_ring_work *w, const ring *rg, const float *kv, int64_t nk,
                        int src, const float *dout, const float *delta, float *dq, float *dkv)
{
    int64_t n = w->n, D = w->D, d = w->d;
    for (int64_t h = 0; h < w->H; h++)
        for (int64_t j0 = 0; j0 < nk; j0 += w->tk) {
            int64_t bk = nk - j0 < w->tk ? nk - j0 : w->tk;
            for (int64_t i0 = 0; i0 < n; i0 += w->tq) {
                int64_t bq = n - i0 < w->tq ? n - i0 : w->tq;
                myo_attn_block b = block_of(w, rg, h, i0, bq, kv, nk, src, j0, bk);
                if (all_future(&b)) continue;
                int64_t qo = i0 * D + h * d, ko = j0 * D + h * d;
                myo_attn_block_backward(&b, dout + qo, w->lse + h * n + i0, delta + h * n + i0,
                                        dq + qo, dkv + ko, dkv + nk * D + ko, w->s, w->s2);
            }
        }
}

static myo_status backward_body(MPI_Comm comm, void *args)
{
    const char *who = "myo_attention_ring_backward_f32";
    bwd_args *a = args;
    myo_attention_ring_work *w = a->w;
    const myo_qkvo_grads_f32 *g = a->g;
    myo_status st = MYO_OK;
    ring rg = {0};
    float *kv[2] = {NULL, NULL}, *dacc[2] = {NULL, NULL}, *din = NULL, *dq = NULL, *delta = NULL,
          *red = NULL;
    MPI_Request kreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    MPI_Request dsend[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL}, drecv = MPI_REQUEST_NULL;

    myo_status mine = MYO_OK;
    if (!w || !weights_ok(a->wts) || !g || !g->wq || !g->wk || !g->wv || !g->wo ||
        (w->n > 0 && (!a->dy || !a->dx)))
        mine = myo_fail(MYO_ERR_ARG, "%s: NULL workspace, weight, gradient input or output", who);
    else if (!w->have_forward)
        mine = myo_fail(MYO_ERR_ARG, "%s: no forward pass with this workspace before", who);
    else if (w->n > 0) {
        uintptr_t p0 = (uintptr_t)a->dy, p1 = (uintptr_t)a->dx;
        uintptr_t len = (uintptr_t)(w->n * w->D) * sizeof(float);
        if (p0 < p1 + len && p1 < p0 + len)
            mine = myo_fail(MYO_ERR_ARG, "%s: dx overlaps dy (dx is used as scratch)", who);
    }
    st = agree(comm, who, mine, w, &rg);
    if (st != MYO_OK) goto done;

    int64_t n = w->n, D = w->D, d = w->d, H = w->H, blk = 2 * rg.n_max * D;
    int p = rg.size, next = (rg.rank + 1) % p, prev = (rg.rank + p - 1) % p;
    int fail = 0;
    kv[0] = take(blk, &fail), kv[1] = take(blk, &fail);
    dacc[0] = take(blk, &fail), dacc[1] = take(blk, &fail);
    din = take(blk, &fail);
    dq = take(n * D, &fail);
    delta = take(H * n, &fail);
    red = take(4 * D * D, &fail);
    st = agree_alloc(comm, who, fail);
    if (st != MYO_OK) goto done;

    /* Y = O Wo: dO = dY Wo^T (kept in dx until dX is formed), dWo = O^T dY;
     * delta = rowsum(dO .* O) per head. */
    float *dout = a->dx;
    memset(red, 0, (size_t)(4 * D * D) * sizeof(float));
    memset(dq, 0, (size_t)(n * D) * sizeof(float));
    if (n > 0) {
        myo_attn_gemm_rows(a->dy, a->wts->wo, 1, 0.0f, dout, n, D);
        myo_attn_gemm_weight_grad(w->o, a->dy, red + 3 * D * D, n, D);
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < n; i++)
                delta[h * n + i] = myo_attn_dot_row(dout + i * D + h * d, w->o + i * D + h * d, d);
        memcpy(kv[0], w->k, (size_t)(n * D) * sizeof(float));
        memcpy(kv[0] + n * D, w->v, (size_t)(n * D) * sizeof(float));
    }

    for (int s = 0; s < p; s++) {
        int src = (rg.rank + p - s) % p;
        float *cur = kv[s % 2], *acc = dacc[s % 2];
        int64_t nk = rg.cnt[src];
        if (s < p - 1) {
            MPI_TRY(MPI_Irecv(kv[(s + 1) % 2], (int)blk, MPI_FLOAT, prev, TAG_KV, comm, &kreq[0]),
                    "MPI_Irecv");
            MPI_TRY(MPI_Isend(cur, (int)(2 * nk * D), MPI_FLOAT, next, TAG_KV, comm, &kreq[1]),
                    "MPI_Isend");
        }
        /* the partial of this block from rank - 1, which held it at step s - 1 */
        if (s > 0)
            MPI_TRY(MPI_Irecv(din, (int)blk, MPI_FLOAT, prev, TAG_DKV, comm, &drecv), "MPI_Irecv");
        MPI_TRY(MPI_Wait(&dsend[s % 2], MPI_STATUS_IGNORE), "MPI_Wait"); /* acc's send of s - 2 */
        memset(acc, 0, (size_t)(2 * nk * D) * sizeof(float));
        block_grads(w, &rg, cur, nk, src, dout, delta, dq, acc);
        if (s > 0) {
            MPI_TRY(MPI_Wait(&drecv, MPI_STATUS_IGNORE), "MPI_Wait");
            for (int64_t i = 0; i < 2 * nk * D; i++)
                acc[i] += din[i];
        }
        if (p > 1)
            MPI_TRY(
                MPI_Isend(acc, (int)(2 * nk * D), MPI_FLOAT, next, TAG_DKV, comm, &dsend[s % 2]),
                "MPI_Isend");
        if (s < p - 1) MPI_TRY(MPI_Waitall(2, kreq, MPI_STATUSES_IGNORE), "MPI_Waitall");
    }
    /* One more shift returns this rank's own dK, dV from rank - 1. */
    const float *own = dacc[0];
    if (p > 1) {
        MPI_TRY(MPI_Recv(din, (int)blk, MPI_FLOAT, prev, TAG_DKV, comm, MPI_STATUS_IGNORE),
                "MPI_Recv");
        own = din;
    }
    MPI_TRY(MPI_Waitall(2, dsend, MPI_STATUSES_IGNORE), "MPI_Waitall");

    /* Q = X Wq, ...: dWq = X^T dQ, ...; dX = dQ Wq^T + dK Wk^T + dV Wv^T
     * (overwriting dO, no longer needed); the weights' gradients summed
     * over the ranks. */
    if (n > 0) {
        const float *dk = own, *dv = own + n * D;
        myo_attn_gemm_weight_grad(w->x, dq, red, n, D);
        myo_attn_gemm_weight_grad(w->x, dk, red + D * D, n, D);
        myo_attn_gemm_weight_grad(w->x, dv, red + 2 * D * D, n, D);
        myo_attn_gemm_rows(dq, a->wts->wq, 1, 0.0f, a->dx, n, D);
        myo_attn_gemm_rows(dk, a->wts->wk, 1, 1.0f, a->dx, n, D);
        myo_attn_gemm_rows(dv, a->wts->wv, 1, 1.0f, a->dx, n, D);
    }
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, red, (int)(4 * D * D), MPI_FLOAT, MPI_SUM, comm),
            "MPI_Allreduce");
    float *outs[4] = {g->wq, g->wk, g->wv, g->wo};
    for (int i = 0; i < 4; i++)
        memcpy(outs[i], red + i * D * D, (size_t)(D * D) * sizeof(float));

done:
    free(kv[0]), free(kv[1]), free(dacc[0]), free(dacc[1]);
    free(din), free(dq), free(delta), free(red);
    ring_free(&rg);
    return st;
}

myo_status myo_attention_ring_backward_f32(MPI_Comm comm, myo_attention_ring_work *w,
                                           const myo_qkvo_weights_f32 *wts, const float *dy,
                                           float *dx, const myo_qkvo_grads_f32 *g)
{
    bwd_args a = {w, wts, dy, dx, g};
    return with_errors_return(comm, "myo_attention_ring_backward_f32", backward_body, &a);
}
