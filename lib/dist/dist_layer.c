/* dist_layer.c -- the Myosotis layer (docs/design.md section 2) over MPI ranks
 * (myosotis_dist.h, "distributed Myosotis layer"): sequence parallel on
 * one tree split by pre-order position ranges, and data parallel around
 * the serial layer (layer.c), whose per-edge kernels (layer_kernels.h)
 * the sequence-parallel passes run on a rank's rows.
 *
 * Letters as in myosotis_layer.h; per rank: nl = hi - lo local nodes
 * ("local rows", in position order), ntl local tokens, P ranks.
 *
 * The table T.  Every rank holds the whole tree and all ranks' ranges
 * (myo_dist_plan_offsets), so every rank computes the same sorted list T
 * of positions whose rows some other rank needs:
 *   - the virtual nodes whose subtree leaves their owner's range (their
 *     children's rows are spread over several ranks: the ancestors of
 *     range ends), and
 *   - the cut parents: nodes with a child on another rank (the child's
 *     edge scores need q_p, k_p; its backward needs g_p, y_p and sends
 *     contributions to dq_p, dk_p).
 * For a kary hierarchy split by myo_dist_leaf_ranges |T| = O(P height),
 * for a chain |T| <= P - 1.  A node of T has its subtree beyond its
 * owner's range, so does its parent; hence a virtual parent of a node of
 * T is in T, and a node outside T has a virtual parent outside T only on
 * its own rank: pooling and its adjoint close over T.  Finding T costs
 * O(N) per rank at create (one scan of the tree's positions).
 *
 * Forward, per rank:
 *   (1) X of the local rows: tokens from x, local virtual rows not in T
 *       pooled bottom-up (reverse position order) as pool_virtual_rows;
 *       each rank adds into the table X_T (|T|, D) the rows it knows
 *       finally that feed a virtual node of T: its token rows in T (to
 *       their own row) and its children of virtual T nodes that are not
 *       virtual T nodes themselves;
 *   (2) MPI_Allreduce(SUM) of X_T: |T| D floats;
 *   (3) bottom-up over T alone (descending positions): a virtual row is
 *       scaled by 1 / (its child count) and added to its virtual parent;
 *       every rank now holds the final rows of T, copies its own into its
 *       local rows and computes Q_T, K_T = X_T Wq, X_T Wk itself;
 *   (4) Q, K, V of the local rows (sgemm), the scores and Laplacian
 *       weights of every local node's edge to its parent (a remote parent
 *       is a cut parent: its q, k come from Q_T, K_T);
 *   (5) the distributed solve (myo_dist_refactor_laplacian_f32, op N,
 *       m = d) of V's local rows into Y;
 *   (6) y = Y[local token rows] Wo.
 * Backward, per rank:
 *   (1) dWo = Y_tok^T dy; G = 0 on virtual rows, dy Wo^T on token rows;
 *       G = M^{-T} G (myo_dist_solve_f32, op T); dV = G;
 *   (2) MPI_Allreduce(SUM) of [G | Y] of T (owners contribute, the others
 *       zeros): 2 |T| D floats;
 *   (3) the edge gradients of every local edge (layer.c's
 *       mixing_backward): contributions to dq, dk of local rows are added
 *       in place, those to remote (cut) parents into dQ_T, dK_T (|T|, D);
 *   (4) dX of the local rows = dQ Wq^T + dK Wk^T + G Wv^T; the table
 *       dX_T = dQ_T Wq^T + dK_T Wk^T plus, by each owner, its own rows of
 *       T (dX is linear, so summing the partial rows over the ranks gives
 *       the rows of the serial dX_all); the partial weight gradients
 *       dWq = X^T dQ + X_T^T dQ_T, dWk likewise, dWv = X^T G, dWo;
 *   (5) ONE MPI_Allreduce(SUM) of [dX_T | dWq dWk dWv dWo]: |T| D + 4 D^2
 *       floats;
 *   (6) unpooling top-down (the adjoint of pooling): over T alone
 *       (ascending positions), then over the local rows, a virtual row's
 *       gradient divided by its child count added to its children's.
 * Collectives per call: forward = one agreement (MPI_Allreduce of 2 long
 * longs) + 1 table MPI_Allreduce + the distributed solve; backward = one
 * agreement + 2 MPI_Allreduce + the transposed solve.  The results equal
 * the serial layer's to float rounding (sums are taken in another order).
 *
 * Data parallel (myo_layer_dp_*): the serial layer on the rank's batch,
 * one agreement, and (backward) one MPI_Allreduce of 4 D^2 floats. */
#include <config.h>

#include "core/core.h"
#include "mixers/layer_kernels.h"
#include "mpi_util.h"
#include "tree/tree_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct myo_layer_dist_work {
    const myo_tree *t; /* borrowed */
    myo_layer_config cfg;
    int64_t lo, hi, nl, ntl, N, n, D, H, d;
    myo_dist_plan *plan;
    /* the table T (see the file's comment) */
    int64_t nT;
    int64_t *tpos;    /* (nT,) positions, ascending */
    int64_t *tpar;    /* (nT,) T index of the parent when it is virtual, else -1 */
    int64_t *tloc;    /* (nl,) T index of each local row, -1 outside T */
    int64_t *ptab;    /* (nl,) T index of the parent when it is remote, else -1 */
    int64_t *tok;     /* (ntl,) the local row of each local token */
    float *inv_count; /* (N - n,) 1 / (children of each virtual node), by label - n */
    /* kept by forward */
    float *xl, *ql, *kl, *yl;    /* (nl, D) */
    float *ytok;                 /* (ntl, D) Y of the token rows */
    float *s_up, *s_down;        /* (nl, H) */
    float *w_up, *w_down;        /* (nl, H) */
    float *xT, *qT, *kT;         /* (nT, D) */
    float *gl, *dql, *dkl, *dxl; /* (nl, D) backward scratch */
    float *gyT;                  /* (nT, 2 D) [G | Y] of T */
    float *dqT, *dkT;            /* (nT, D) contributions to remote rows of T */
    float *red;                  /* (nT D + 4 D^2) the backward's reduction */
    int have_forward;
};

#define FWD "myo_layer_dist_forward_f32"
#define BWD "myo_layer_dist_backward_f32"
#define CRE "myo_layer_dist_work_create"

/* ------------------------------------------------------------- helpers */

/* The ranks agree on this rank's status mine (the first failing rank's
 * wins) and on the configuration values val[0 .. nval) named name
 * (myo_mpi_agree_config); this rank's own detail is prefixed with its
 * rank, as the others name it.  One MPI_Allreduce.  Collective on comm. */
static myo_status agree(MPI_Comm comm, const char *who, myo_status mine, int nval,
                        const long long *val, const char *const *name)
{
    int rank = 0, size = 1;
    MYO_CHECK(myo_mpi_status(MPI_Comm_rank(comm, &rank), who, "MPI_Comm_rank"));
    MYO_CHECK(myo_mpi_status(MPI_Comm_size(comm, &size), who, "MPI_Comm_size"));
    myo_mpi_name_rank(mine, rank, size);
    return myo_mpi_agree_config(comm, who, mine, rank, size, nval, val, name);
}

/* The four weight gradients g <-> red (4 D^2): [dWq | dWk | dWv | dWo]. */
static void grads_pack(float *red, const myo_qkvo_grads_f32 *g, int64_t DD)
{
    memcpy(red, g->wq, (size_t)DD * sizeof(float));
    memcpy(red + DD, g->wk, (size_t)DD * sizeof(float));
    memcpy(red + 2 * DD, g->wv, (size_t)DD * sizeof(float));
    memcpy(red + 3 * DD, g->wo, (size_t)DD * sizeof(float));
}

static void grads_unpack(const myo_qkvo_grads_f32 *g, const float *red, int64_t DD)
{
    memcpy(g->wq, red, (size_t)DD * sizeof(float));
    memcpy(g->wk, red + DD, (size_t)DD * sizeof(float));
    memcpy(g->wv, red + 2 * DD, (size_t)DD * sizeof(float));
    memcpy(g->wo, red + 3 * DD, (size_t)DD * sizeof(float));
}

/* The row (D,) of the virtual parent at position pp (>= 0) of local row j
 * where pooling and its adjoint meet it: in the table tab (nT, D) when the
 * parent is a row of T (a remote parent always is), else in the local
 * rows loc (nl, D). */
static float *pool_parent_row(const myo_layer_dist_work *w, int64_t j, int64_t pp, float *tab,
                              float *loc)
{
    const int64_t tp = pp >= w->lo ? w->tloc[pp - w->lo] : w->ptab[j];
    return tp >= 0 ? tab + tp * w->D : loc + (pp - w->lo) * w->D;
}

/* ----------------------------------------------------------- workspace */

static void release(myo_layer_dist_work *w)
{
    void *all[] = {w->tpos,   w->tpar, w->tloc, w->ptab, w->tok,  w->inv_count, w->xl,
                   w->ql,     w->kl,   w->yl,   w->ytok, w->s_up, w->s_down,    w->w_up,
                   w->w_down, w->xT,   w->qT,   w->kT,   w->gl,   w->dql,       w->dkl,
                   w->dxl,    w->gyT,  w->dqT,  w->dkT,  w->red};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    myo_dist_plan_destroy(&w->plan);
}

void myo_layer_dist_work_destroy(myo_layer_dist_work **w)
{
    if (!w || !*w) return;
    release(*w);
    free(*w);
    *w = NULL;
}

int64_t myo_layer_dist_local_tokens(const myo_layer_dist_work *w)
{
    return w ? w->ntl : 0;
}

myo_dist_plan *myo_layer_dist_plan(myo_layer_dist_work *w)
{
    return w ? w->plan : NULL;
}

static void *take(int64_t count, size_t size, int *failed)
{
    void *p = myo_alloc((size_t)(count > 0 ? count : 1), size, "the distributed layer");
    if (!p) *failed = 1;
    return p;
}

/* T, the index arrays and the buffers of w (plan, tree, ranges set).
 * Local; 0 on success, 1 when out of memory. */
static int build(myo_layer_dist_work *w)
{
    const myo_tree *t = w->t;
    const int64_t N = w->N, n = w->n, lo = w->lo, nl = w->nl, D = w->D, H = w->H;
    const int64_t *off = myo_dist_plan_offsets(w->plan);
    int fail = 0;

    /* T: one scan of all positions, the owner advancing with them */
    unsigned char *mark = take(N, 1, &fail);
    if (fail) return 1;
    memset(mark, 0, (size_t)N);
    int r = 0;
    for (int64_t pos = 0; pos < N; pos++) {
        while (pos >= off[r + 1])
            r++;
        if (t->order[pos] >= n && pos + t->subtree[pos] > off[r + 1]) mark[pos] = 1;
        int64_t pp = t->parent_pos[pos];
        if (pp >= 0 && pp < off[r]) mark[pp] = 1; /* the parent is on a lower rank */
    }
    w->nT = 0;
    for (int64_t pos = 0; pos < N; pos++)
        w->nT += mark[pos];
    const int64_t nT = w->nT;
    w->tpos = take(nT, sizeof(int64_t), &fail);
    w->tpar = take(nT, sizeof(int64_t), &fail);
    w->tloc = take(nl, sizeof(int64_t), &fail);
    w->ptab = take(nl, sizeof(int64_t), &fail);
    w->inv_count = take(N - n, sizeof(float), &fail);
    if (fail) {
        free(mark);
        return 1;
    }
    /* tab_of: position -> T index, only read at marked positions; kept in
     * an int64 scratch for the duration of build */
    int64_t *tab_of = take(N, sizeof(int64_t), &fail);
    if (fail) {
        free(mark);
        return 1;
    }
    for (int64_t pos = 0, k = 0; pos < N; pos++)
        if (mark[pos]) tab_of[pos] = k, w->tpos[k++] = pos;
    for (int64_t k = 0; k < nT; k++) {
        int64_t pp = t->parent_pos[w->tpos[k]];
        w->tpar[k] = pp >= 0 && t->order[pp] >= n ? tab_of[pp] : -1;
    }
    w->ntl = 0;
    for (int64_t j = 0; j < nl; j++) {
        int64_t pos = lo + j, pp = t->parent_pos[pos];
        w->tloc[j] = mark[pos] ? tab_of[pos] : -1;
        w->ptab[j] = pp >= 0 && pp < lo ? tab_of[pp] : -1;
        w->ntl += t->order[pos] < n;
    }
    free(mark);
    free(tab_of);
    w->tok = take(w->ntl, sizeof(int64_t), &fail);
    if (fail) return 1;
    for (int64_t j = 0, k = 0; j < nl; j++)
        if (t->order[lo + j] < n) w->tok[k++] = j;

    /* the child counts of the virtual nodes, as layer.c */
    layer_inv_counts(t, w->inv_count);

    const size_t fs = sizeof(float);
    w->xl = take(nl * D, fs, &fail), w->ql = take(nl * D, fs, &fail);
    w->kl = take(nl * D, fs, &fail), w->yl = take(nl * D, fs, &fail);
    w->ytok = take(w->ntl * D, fs, &fail);
    w->s_up = take(nl * H, fs, &fail), w->s_down = take(nl * H, fs, &fail);
    w->w_up = take(nl * H, fs, &fail), w->w_down = take(nl * H, fs, &fail);
    w->xT = take(nT * D, fs, &fail), w->qT = take(nT * D, fs, &fail);
    w->kT = take(nT * D, fs, &fail);
    w->gl = take(nl * D, fs, &fail), w->dql = take(nl * D, fs, &fail);
    w->dkl = take(nl * D, fs, &fail), w->dxl = take(nl * D, fs, &fail);
    w->gyT = take(2 * nT * D, fs, &fail);
    w->dqT = take(nT * D, fs, &fail), w->dkT = take(nT * D, fs, &fail);
    w->red = take(nT * D + 4 * D * D, fs, &fail);
    return fail;
}

static myo_status create_body(MPI_Comm comm, const myo_tree *t, const myo_layer_config *cfg,
                              int64_t lo, int64_t hi, myo_layer_dist_work **out)
{
    /* Everything that can fail locally happens before the ranks agree. */
    myo_status mine = MYO_OK;
    if (!out)
        mine = myo_fail(MYO_ERR_ARG, CRE ": out is NULL");
    else if (!t)
        mine = myo_fail(MYO_ERR_ARG, CRE ": tree is NULL");
    else if ((mine = myo_layer_config_check(cfg)) != MYO_OK)
        ;
    else if (lo < 0 || hi < lo || hi > t->n)
        mine = myo_fail(MYO_ERR_ARG, CRE ": range [%lld, %lld) is not inside [0, %lld)",
                        (long long)lo, (long long)hi, (long long)t->n);
    else if (cfg->d_model > 23170 || hi - lo > INT_MAX / cfg->d_model)
        mine = myo_fail(MYO_ERR_ARG,
                        CRE ": d_model = %lld or %lld local rows exceed the BLAS's and MPI's int "
                            "counts",
                        (long long)cfg->d_model, (long long)(hi - lo));
    static const char *const names[3] = {"d_model", "heads", "direction"};
    const int ok = mine == MYO_OK;
    const long long vals[3] = {ok ? cfg->d_model : 0, ok ? cfg->heads : 0,
                               ok ? (long long)cfg->direction : 0};
    MYO_CHECK(agree(comm, CRE, mine, 3, vals, names));

    myo_layer_dist_work *w = calloc(1, sizeof *w);
    int fail = w == NULL;
    if (w) {
        w->t = t, w->cfg = *cfg, w->lo = lo, w->hi = hi, w->nl = hi - lo;
        w->N = t->n, w->n = t->n_tokens;
        w->D = cfg->d_model, w->H = cfg->heads, w->d = cfg->d_model / cfg->heads;
    }
    /* The plan checks that the ranges tile [0, N) and agrees on its errors;
     * every rank calls it, also one whose calloc failed. */
    myo_dist_plan *plan = NULL;
    myo_status st = myo_dist_plan_create(comm, t, lo, hi, cfg->heads, MYO_F32, &plan);
    if (st != MYO_OK) {
        free(w);
        return st;
    }
    if (w) {
        w->plan = plan;
        fail = build(w);
    } else {
        myo_dist_plan_destroy(&plan);
    }
    /* the tables' MPI counts: the same T on every rank */
    int too_big = !fail && (w->nT > INT_MAX / 2 / w->D || w->nT * w->D > INT_MAX - 4 * w->D * w->D);
    int any = 0;
    st = myo_mpi_any(comm, CRE, fail ? 2 : too_big ? 1 : 0, &any);
    if (st == MYO_OK && any == 2)
        st = fail ? MYO_ERR_NOMEM : myo_fail(MYO_ERR_NOMEM, CRE ": another rank ran out of memory");
    else if (st == MYO_OK && any == 1)
        st = myo_fail(MYO_ERR_ARG,
                      CRE ": the table of %lld shared rows of %lld floats exceeds MPI's int count",
                      (long long)(w ? w->nT : 0), (long long)(w ? w->D : 0));
    if (st != MYO_OK) {
        myo_layer_dist_work_destroy(&w);
        return st;
    }
    *out = w;
    return MYO_OK;
}

myo_status myo_layer_dist_work_create(MPI_Comm comm, const myo_tree *t, const myo_layer_config *cfg,
                                      int64_t lo, int64_t hi, myo_layer_dist_work **out)
{
    if (out) *out = NULL;
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, CRE, &saved));
    myo_status st = create_body(comm, t, cfg, lo, hi, out);
    myo_mpi_leave(comm, &saved);
    return st;
}

/* -------------------------------------------------------------- forward */

/* Steps (1)-(3) of the forward: X of the local rows and of T. */
static myo_status pool(MPI_Comm comm, myo_layer_dist_work *w, const float *x)
{
    const myo_tree *t = w->t;
    const int64_t n = w->n, lo = w->lo, nl = w->nl, D = w->D, nT = w->nT;
    float *xl = w->xl, *xT = w->xT;
    memset(xl, 0, (size_t)(nl * D) * sizeof(float));
    memset(xT, 0, (size_t)(nT * D) * sizeof(float));
    for (int64_t k = 0; k < w->ntl; k++)
        memcpy(xl + w->tok[k] * D, x + k * D, (size_t)D * sizeof(float));
    /* local rows bottom-up; the rows of T that this rank knows feed the table */
    for (int64_t j = nl - 1; j >= 0; j--) {
        const int64_t pos = lo + j, u = t->order[pos], pp = t->parent_pos[pos];
        float *row = xl + j * D;
        const int virt = u >= n;
        if (virt && w->tloc[j] >= 0) continue; /* finished from the table */
        if (virt)
            scale_f32(row, w->inv_count[u - n], D);
        else if (w->tloc[j] >= 0)
            axpy_f32(xT + w->tloc[j] * D, 1.0f, row, D); /* a token of T: its own row */
        if (pp < 0 || t->order[pp] < n) continue;        /* only virtual parents pool */
        axpy_f32(pool_parent_row(w, j, pp, xT, xl), 1.0f, row, D);
    }
    myo_status st =
        myo_mpi_status(MPI_Allreduce(MPI_IN_PLACE, xT, (int)(nT * D), MPI_FLOAT, MPI_SUM, comm),
                       FWD, "MPI_Allreduce of the shared rows");
    if (st != MYO_OK) return st;
    /* T bottom-up: children (later positions) before parents */
    for (int64_t k = nT - 1; k >= 0; k--) {
        const int64_t u = t->order[w->tpos[k]];
        if (u < n) continue;
        float *row = xT + k * D;
        scale_f32(row, w->inv_count[u - n], D);
        if (w->tpar[k] >= 0) axpy_f32(xT + w->tpar[k] * D, 1.0f, row, D);
    }
    for (int64_t j = 0; j < nl; j++)
        if (w->tloc[j] >= 0 && t->order[lo + j] >= n)
            memcpy(xl + j * D, xT + w->tloc[j] * D, (size_t)D * sizeof(float));
    return MYO_OK;
}

/* The edge weights of every local node's edge to its parent, as layer.c's
 * build_weights, in local position order. */
static void build_weights(myo_layer_dist_work *w)
{
    const myo_tree *t = w->t;
    const int64_t lo = w->lo, nl = w->nl, D = w->D, H = w->H;
    const layer_edges e = layer_edges_of(&w->cfg);
    for (int64_t j = 0; j < nl; j++) {
        const int64_t pp = t->parent_pos[lo + j];
        const float *qp = NULL, *kp = NULL;
        if (pp >= lo)
            qp = w->ql + (pp - lo) * D, kp = w->kl + (pp - lo) * D;
        else if (pp >= 0)
            qp = w->qT + w->ptab[j] * D, kp = w->kT + w->ptab[j] * D;
        layer_edge_weights(&e, w->ql + j * D, w->kl + j * D, qp, kp, w->w_up + j * H,
                           w->w_down + j * H, w->s_up + j * H, w->s_down + j * H);
    }
}

static myo_status forward_body(MPI_Comm comm, myo_layer_dist_work *w,
                               const myo_qkvo_weights_f32 *wts, const float *x, float *y)
{
    myo_status mine = MYO_OK;
    if (!w)
        mine = myo_fail(MYO_ERR_ARG, FWD ": the workspace is NULL");
    else if (!layer_weights_ok(wts))
        mine = myo_fail(MYO_ERR_ARG, FWD ": the weights wq, wk, wv and wo are required");
    else if (w->ntl > 0 && (!x || !y))
        mine = myo_fail(MYO_ERR_ARG, FWD ": x and y are required (%lld local tokens)",
                        (long long)w->ntl);
    else if (w->ntl > 0 && x == y)
        mine = myo_fail(MYO_ERR_ARG, FWD ": x and y must not overlap");
    else
        for (int64_t i = 0; i < w->ntl * w->D; i++)
            if (!isfinite(x[i])) {
                mine = myo_fail(MYO_ERR_DATA, FWD ": x[%lld][%lld] (a local token row) is %g",
                                (long long)(i / w->D), (long long)(i % w->D), (double)x[i]);
                break;
            }
    if (w) w->have_forward = 0;
    MYO_CHECK(agree(comm, FWD, mine, 0, NULL, NULL));

    const int64_t nl = w->nl, nT = w->nT, D = w->D, d = w->d;
    MYO_CHECK(pool(comm, w, x));
    gemm_rows(nl, D, w->xl, wts->wq, 0, 0, w->ql);
    gemm_rows(nl, D, w->xl, wts->wk, 0, 0, w->kl);
    gemm_rows(nl, D, w->xl, wts->wv, 0, 0, w->yl);
    gemm_rows(nT, D, w->xT, wts->wq, 0, 0, w->qT);
    gemm_rows(nT, D, w->xT, wts->wk, 0, 0, w->kT);
    build_weights(w);
    MYO_CHECK(
        myo_dist_refactor_laplacian_f32(comm, w->plan, w->w_up, w->w_down, MYO_OP_N, w->yl, d));
    for (int64_t k = 0; k < w->ntl; k++)
        memcpy(w->ytok + k * D, w->yl + w->tok[k] * D, (size_t)D * sizeof(float));
    gemm_rows(w->ntl, D, w->ytok, wts->wo, 0, 0, y);
    w->have_forward = 1;
    return MYO_OK;
}

myo_status myo_layer_dist_forward_f32(MPI_Comm comm, myo_layer_dist_work *w,
                                      const myo_qkvo_weights_f32 *wts, const float *x, float *y)
{
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, FWD, &saved));
    myo_status st = forward_body(comm, w, wts, x, y);
    myo_mpi_leave(comm, &saved);
    return st;
}

/* ------------------------------------------------------------- backward */

/* Step (3) of the backward: the edge gradients of every local edge, as
 * layer.c's mixing_backward; contributions to remote parents go to dQ_T,
 * dK_T (zeroed here with dq, dk). */
static void mixing_backward(myo_layer_dist_work *w)
{
    const myo_tree *t = w->t;
    const int64_t lo = w->lo, nl = w->nl, D = w->D, H = w->H;
    const layer_edges e = layer_edges_of(&w->cfg);
    memset(w->dql, 0, (size_t)(nl * D) * sizeof(float));
    memset(w->dkl, 0, (size_t)(nl * D) * sizeof(float));
    memset(w->dqT, 0, (size_t)(w->nT * D) * sizeof(float));
    memset(w->dkT, 0, (size_t)(w->nT * D) * sizeof(float));
    for (int64_t j = 0; j < nl; j++) {
        const int64_t pp = t->parent_pos[lo + j];
        if (pp < 0) continue;
        const int64_t ri = j * D;
        const layer_edge_rows ei = {w->gl + ri, w->yl + ri,  w->ql + ri,
                                    w->kl + ri, w->dql + ri, w->dkl + ri};
        layer_edge_rows ep;
        if (pp >= lo) {
            const int64_t r = (pp - lo) * D;
            ep = (layer_edge_rows){w->gl + r, w->yl + r,  w->ql + r,
                                   w->kl + r, w->dql + r, w->dkl + r};
        } else {
            const int64_t r = w->ptab[j] * D;
            ep = (layer_edge_rows){w->gyT + 2 * r, w->gyT + 2 * r + D, w->qT + r,
                                   w->kT + r,      w->dqT + r,         w->dkT + r};
        }
        layer_edge_grads(&e, &ei, &ep, w->s_up + j * H, w->s_down + j * H);
    }
}

static myo_status backward_body(MPI_Comm comm, myo_layer_dist_work *w,
                                const myo_qkvo_weights_f32 *wts, const float *dy, float *dx,
                                const myo_qkvo_grads_f32 *g)
{
    myo_status mine = MYO_OK;
    if (!w)
        mine = myo_fail(MYO_ERR_ARG, BWD ": the workspace is NULL");
    else if (!layer_weights_ok(wts) || !layer_grads_ok(g))
        mine = myo_fail(MYO_ERR_ARG, BWD ": the four weights and the four weight gradients are "
                                         "required");
    else if (w->ntl > 0 && (!dy || !dx))
        mine = myo_fail(MYO_ERR_ARG, BWD ": dy and dx are required (%lld local tokens)",
                        (long long)w->ntl);
    else if (w->ntl > 0 && dy == dx)
        mine = myo_fail(MYO_ERR_ARG, BWD ": dy and dx must not overlap");
    else if (!w->have_forward)
        mine = myo_fail(MYO_ERR_ARG, BWD ": no successful forward on this workspace to "
                                         "differentiate");
    MYO_CHECK(agree(comm, BWD, mine, 0, NULL, NULL));

    const myo_tree *t = w->t;
    const int64_t n = w->n, lo = w->lo, nl = w->nl, nT = w->nT, D = w->D, d = w->d;
    const int64_t DD = D * D;
    float *red = w->red, *dxT = red, *gw = red + nT * D;

    /* (1) dWo (partial); G = M^{-T} (dy Wo^T on the token rows) */
    gemm_weight_grad(w->ntl, D, w->ytok, dy, 0, gw + 3 * DD);
    gemm_rows(w->ntl, D, dy, wts->wo, 1, 0, w->dxl); /* scratch */
    memset(w->gl, 0, (size_t)(nl * D) * sizeof(float));
    for (int64_t k = 0; k < w->ntl; k++)
        memcpy(w->gl + w->tok[k] * D, w->dxl + k * D, (size_t)D * sizeof(float));
    MYO_CHECK(myo_dist_solve_f32(comm, w->plan, MYO_OP_T, w->gl, d));

    /* (2) [G | Y] of T */
    memset(w->gyT, 0, (size_t)(2 * nT * D) * sizeof(float));
    for (int64_t j = 0; j < nl; j++)
        if (w->tloc[j] >= 0) {
            float *row = w->gyT + 2 * w->tloc[j] * D;
            memcpy(row, w->gl + j * D, (size_t)D * sizeof(float));
            memcpy(row + D, w->yl + j * D, (size_t)D * sizeof(float));
        }
    MYO_CHECK(myo_mpi_status(
        MPI_Allreduce(MPI_IN_PLACE, w->gyT, (int)(2 * nT * D), MPI_FLOAT, MPI_SUM, comm), BWD,
        "MPI_Allreduce of the shared rows' G and Y"));

    /* (3) the edge gradients */
    mixing_backward(w);

    /* (4) dX of the local rows and the partial rows of T; the partial
     * weight gradients */
    gemm_rows(nl, D, w->dql, wts->wq, 1, 0, w->dxl);
    gemm_rows(nl, D, w->dkl, wts->wk, 1, 1, w->dxl);
    gemm_rows(nl, D, w->gl, wts->wv, 1, 1, w->dxl);
    memset(dxT, 0, (size_t)(nT * D) * sizeof(float));
    gemm_rows(nT, D, w->dqT, wts->wq, 1, 1, dxT);
    gemm_rows(nT, D, w->dkT, wts->wk, 1, 1, dxT);
    for (int64_t j = 0; j < nl; j++)
        if (w->tloc[j] >= 0) axpy_f32(dxT + w->tloc[j] * D, 1.0f, w->dxl + j * D, D);
    gemm_weight_grad(nl, D, w->xl, w->dql, 0, gw);
    gemm_weight_grad(nT, D, w->xT, w->dqT, 1, gw);
    gemm_weight_grad(nl, D, w->xl, w->dkl, 0, gw + DD);
    gemm_weight_grad(nT, D, w->xT, w->dkT, 1, gw + DD);
    gemm_weight_grad(nl, D, w->xl, w->gl, 0, gw + 2 * DD);

    /* (5) one reduction of [dX_T | dWq dWk dWv dWo] */
    MYO_CHECK(myo_mpi_status(
        MPI_Allreduce(MPI_IN_PLACE, red, (int)(nT * D + 4 * DD), MPI_FLOAT, MPI_SUM, comm), BWD,
        "MPI_Allreduce of the shared rows' dX and the weight gradients"));
    grads_unpack(g, gw, DD);

    /* (6) unpooling top-down: over T, then over the local rows */
    for (int64_t k = 0; k < nT; k++)
        if (w->tpar[k] >= 0) {
            const int64_t p = t->order[w->tpos[w->tpar[k]]];
            axpy_f32(dxT + k * D, w->inv_count[p - n], dxT + w->tpar[k] * D, D);
        }
    for (int64_t j = 0; j < nl; j++) {
        float *row = w->dxl + j * D;
        if (w->tloc[j] >= 0) {
            memcpy(row, dxT + w->tloc[j] * D, (size_t)D * sizeof(float));
            continue;
        }
        const int64_t pp = t->parent_pos[lo + j];
        if (pp < 0 || t->order[pp] < n) continue;
        axpy_f32(row, w->inv_count[t->order[pp] - n], pool_parent_row(w, j, pp, dxT, w->dxl), D);
    }
    for (int64_t k = 0; k < w->ntl; k++)
        memcpy(dx + k * D, w->dxl + w->tok[k] * D, (size_t)D * sizeof(float));
    return MYO_OK;
}

myo_status myo_layer_dist_backward_f32(MPI_Comm comm, myo_layer_dist_work *w,
                                       const myo_qkvo_weights_f32 *wts, const float *dy, float *dx,
                                       const myo_qkvo_grads_f32 *g)
{
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, BWD, &saved));
    myo_status st = backward_body(comm, w, wts, dy, dx, g);
    myo_mpi_leave(comm, &saved);
    return st;
}

/* -------------------------------------------------------- data parallel */

#define DPF "myo_layer_dp_forward_f32"
#define DPB "myo_layer_dp_backward_f32"

/* The ranks agree on mine and on d_model (with both signs). */
static myo_status dp_agree(MPI_Comm comm, const char *who, myo_status mine, int64_t d_model)
{
    static const char *const names[1] = {"d_model"};
    const long long vals[1] = {d_model};
    return agree(comm, who, mine, 1, vals, names);
}

static myo_status dp_check(const char *who, myo_layer_work *ws, int64_t d_model,
                           const myo_qkvo_weights_f32 *wts, int64_t batch)
{
    if (d_model < 1 || d_model > 23170)
        return myo_fail(MYO_ERR_ARG,
                        "%s: d_model = %lld, need 1 <= d_model <= 23170 (4 d_model^2 "
                        "floats in one MPI message)",
                        who, (long long)d_model);
    if (batch < 0)
        return myo_fail(MYO_ERR_ARG, "%s: batch = %lld, need >= 0", who, (long long)batch);
    if (batch > 0 && !ws)
        return myo_fail(MYO_ERR_ARG, "%s: the workspace is NULL (batch = %lld)", who,
                        (long long)batch);
    if (!layer_weights_ok(wts))
        return myo_fail(MYO_ERR_ARG, "%s: the weights wq, wk, wv and wo are required", who);
    return MYO_OK;
}

myo_status myo_layer_dp_forward_f32(MPI_Comm comm, myo_layer_work *ws, int64_t d_model,
                                    const myo_qkvo_weights_f32 *wts, int64_t batch, const float *x,
                                    float *y)
{
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, DPF, &saved));
    myo_status mine = dp_check(DPF, ws, d_model, wts, batch);
    if (mine == MYO_OK && batch > 0) mine = myo_layer_forward_f32(ws, wts, batch, x, y);
    myo_status st = dp_agree(comm, DPF, mine, mine == MYO_OK ? d_model : 0);
    myo_mpi_leave(comm, &saved);
    return st;
}

myo_status myo_layer_dp_backward_f32(MPI_Comm comm, myo_layer_work *ws, int64_t d_model,
                                     const myo_qkvo_weights_f32 *wts, int64_t batch,
                                     const float *dy, float *dx, const myo_qkvo_grads_f32 *g)
{
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, DPB, &saved));
    myo_status mine = dp_check(DPB, ws, d_model, wts, batch);
    float *red = NULL;
    const int64_t DD = mine == MYO_OK ? d_model * d_model : 0;
    if (mine == MYO_OK && !layer_grads_ok(g))
        mine = myo_fail(MYO_ERR_ARG, DPB ": the four weight gradients are required");
    if (mine == MYO_OK && !(red = myo_alloc((size_t)(4 * DD), sizeof(float), DPB ": gradients")))
        mine = MYO_ERR_NOMEM;
    if (mine == MYO_OK && batch > 0) {
        mine = myo_layer_backward_f32(ws, wts, batch, dy, dx, g);
        if (mine == MYO_OK) grads_pack(red, g, DD);
    } else if (mine == MYO_OK) {
        memset(red, 0, (size_t)(4 * DD) * sizeof(float));
    }
    myo_status st = dp_agree(comm, DPB, mine, mine == MYO_OK ? d_model : 0);
    if (st == MYO_OK)
        st = myo_mpi_status(
            MPI_Allreduce(MPI_IN_PLACE, red, (int)(4 * DD), MPI_FLOAT, MPI_SUM, comm), DPB,
            "MPI_Allreduce of the weight gradients");
    if (st == MYO_OK) grads_unpack(g, red, DD);
    free(red);
    myo_mpi_leave(comm, &saved);
    return st;
}
