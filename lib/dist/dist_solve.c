/* dist_solve.c -- the tree solve op(M_h) Y_h = R_h (H heads) with the
 * nodes split over MPI ranks by contiguous pre-order position ranges
 * (myosotis_dist.h: myo_dist_plan).
 *
 * Every rank holds the whole tree; rank r owns the positions [lo, hi).
 * A local node p has its whole subtree [p, p + subtree[p]) local unless it
 * is an ancestor of position hi.  The interface of a rank:
 *   - the path: the ancestors of position hi inside [lo, hi), top first;
 *   - the hanging nodes: those whose parent lies before lo (the path's top
 *     may be one of them).
 * Cutting the edges from interface nodes to their parents leaves the local
 * forest, whose subtrees the serial kernel factors and sweeps (pass 1)
 * into their roots.  Then, in double, per head:
 *   A_i = the partial pivot of interface node i (its diagonal less the
 *         updates of its local children: the kernel's update array),
 *   R_i = its right-hand side less c_c z_c of its local children c,
 * with, in the Laplacian form, A_i = e_i + w_up_i + the w_down of its cut
 * children (the general form's diagonal, which the cut children add).
 * Hanging nodes off the path have no other neighbour than their parent q
 * (on a lower rank): they are eliminated into a proxy row of q, summed per
 * q (delta A = -cd bu / A (+ w_down), delta R = -(cd / A) R).  The path
 * is compressed top down: a path node below the top with no child beyond
 * hi has two neighbours left, its current parent p and its path child c,
 * and is eliminated with a fill edge (c, p):
 *     A[p] -= cd_i bu_i / A_i          R[p] -= (cd_i / A_i) R_i
 *     A[c] -= bu_c cd_c / A_i          R[c] -= (bu_c / A_i) R_i
 *     bu_c <- -bu_c bu_i / A_i         cd_c <- -cd_i cd_c / A_i
 * (bu = the node's row entry at its parent, cd = the parent's row entry at
 * the node; for M^T they swap).  The kept path nodes of all ranks form a
 * forest of original and fill edges (a kept node's parent is kept here or
 * on a lower rank), which a binomial-tree gather brings to rank 0 together
 * with the proxies and every rank's status.  Rank 0 adds the proxies to
 * their rows, solves the reduced forest with the serial solver and a
 * binomial-tree scatter returns its verdict, the solutions of each rank's
 * kept nodes and those of its proxies' nodes.  Each rank then solves its
 * hanging nodes, y = (R - bu y_q) / A, and its compressed path nodes
 * bottom up, y_i = (R_i - bu_i y_parent - cd_c y_c) / A_i, writes the
 * interface rows and finishes with pass 2 of the serial kernel.
 *
 * Message blocks are doubles (positions < 2^53).  Gather block of a rank:
 *     [rank, status, entries, m, H] then entries of 3 + 4 H + H m values:
 *     kept  [1, position, reduced parent (-1: none), (A, bu, cd, wpar) x H, R]
 *     proxy [2, position of q, -1, (dA, 0, 0, 0) x H, dR]
 * (wpar: the w_down the path's top adds to its remote parent's diagonal).
 * Scatter block: [rank, status, failing rank, rows] then rows of H m. */
#include <config.h>

#include "core/core.h"
#include "mpi_util.h"
#include "solve/solve_internal.h"
#include "tree/tree_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_GATHER 0x6d7b
#define TAG_SCATTER 0x6d7c
#define GATHER_HEADER 5
#define SCATTER_HEADER 4

enum { IF_KEPT = 1, IF_COMPRESSED = 2, IF_HANGING = 3 };
enum { ENTRY_KEPT = 1, ENTRY_PROXY = 2 };

struct myo_dist_plan {
    const myo_tree *t; /* borrowed, the whole tree */
    int rank, size;
    int64_t lo, hi, nl, H;
    myo_precision prec;
    int64_t *off;      /* (size + 1) all ranks' ranges */
    myo_tree *local;   /* the local forest, labels = local positions */
    myo_factor *f;     /* its factor */
    void *diag_copy;   /* (nl, H) general form: diag with 1 at interface roots */
    int laplacian;     /* form of the last refactor */
    int valid;         /* the last refactor succeeded here */
    /* interface, ascending local positions */
    int64_t nif, kept, nproxy, np;
    int64_t *if_pos;        /* (nif) local position */
    unsigned char *if_kind; /* (nif) IF_* */
    int64_t *if_par;        /* (nif) global parent position, -1 at roots */
    int64_t *if_proxy;      /* (nif) proxy of a hanging node's parent, else -1 */
    int64_t *proxy_pos;     /* (nproxy) global positions of the proxies' nodes */
    int64_t *path;          /* (np) interface indices of the path, top first */
    int64_t *path_par;      /* (np) the nearest kept path node above (the
                             * current parent once the path is compressed) */
    /* the last refactor's interface coefficients, (nif, H): partial
     * pivots, general-form up and down, w_down (Laplacian, else 0) */
    double *A0, *U, *Dn, *wd;
    myo_dist_stats stats;
};

/* ------------------------------------------------------------- structure */

void myo_dist_plan_destroy(myo_dist_plan **p)
{
    if (!p || !*p) return;
    myo_dist_plan *q = *p;
    myo_factor_destroy(&q->f);
    myo_tree_destroy(&q->local);
    free(q->off);
    free(q->diag_copy);
    free(q->if_pos);
    free(q->if_kind);
    free(q->if_par);
    free(q->if_proxy);
    free(q->proxy_pos);
    free(q->path);
    free(q->A0);
    free(q);
    *p = NULL;
}

/* The local forest and the interface of [lo, hi).  Local. */
static myo_status build_structure(myo_dist_plan *p, int with_forest)
{
    const myo_tree *t = p->t;
    const int64_t *pp = t->parent_pos, *sub = t->subtree, lo = p->lo, hi = p->hi, nl = p->nl;
    const int64_t H = p->H;
    myo_status st = MYO_OK;
    size_t n1 = (size_t)(nl > 0 ? nl : 1);
    unsigned char *on_path = myo_alloc(n1, 1, "myo_dist_plan: path marks");
    int64_t *lparent = myo_alloc(n1, sizeof(int64_t), "myo_dist_plan: local parents");
    int64_t *path_pos = myo_alloc(n1, sizeof(int64_t), "myo_dist_plan: path");
    if (!on_path || !lparent || !path_pos) {
        st = MYO_ERR_NOMEM;
        goto out;
    }
    memset(on_path, 0, n1);
    int64_t np = 0;
    if (hi < t->n)
        for (int64_t q = pp[hi]; q >= lo; q = pp[q])
            path_pos[np++] = q;
    for (int64_t i = 0; i < np / 2; i++) { /* bottom-up -> top-down */
        int64_t s = path_pos[i];
        path_pos[i] = path_pos[np - 1 - i], path_pos[np - 1 - i] = s;
    }
    for (int64_t j = 0; j < np; j++)
        on_path[path_pos[j] - lo] = 1;
    int64_t nif = 0;
    for (int64_t i = 0; i < nl; i++) {
        int64_t q = pp[lo + i];
        int hanging = q >= 0 && q < lo;
        lparent[i] = (on_path[i] || q < lo) ? -1 : q - lo;
        nif += on_path[i] || hanging;
    }
    size_t nif1 = (size_t)(nif > 0 ? nif : 1);
    p->if_pos = myo_alloc(nif1, sizeof(int64_t), "myo_dist_plan: interface");
    p->if_kind = myo_alloc(nif1, 1, "myo_dist_plan: interface");
    p->if_par = myo_alloc(nif1, sizeof(int64_t), "myo_dist_plan: interface");
    p->if_proxy = myo_alloc(nif1, sizeof(int64_t), "myo_dist_plan: interface");
    p->proxy_pos = myo_alloc(nif1, sizeof(int64_t), "myo_dist_plan: proxies");
    p->path = myo_alloc((size_t)(np > 0 ? np : 1), 2 * sizeof(int64_t), "myo_dist_plan: path");
    p->A0 = myo_alloc(nif1 * (size_t)H, 4 * sizeof(double), "myo_dist_plan: interface pivots");
    if (!p->if_pos || !p->if_kind || !p->if_par || !p->if_proxy || !p->proxy_pos || !p->path ||
        !p->A0) {
        st = MYO_ERR_NOMEM;
        goto out;
    }
    p->path_par = p->path + (np > 0 ? np : 1);
    p->U = p->A0 + nif1 * (size_t)H;
    p->Dn = p->U + nif1 * (size_t)H;
    p->wd = p->Dn + nif1 * (size_t)H;
    p->nif = nif, p->np = np, p->kept = 0, p->nproxy = 0;
    for (int64_t i = 0, k = 0, j = 0; i < nl; i++) {
        int64_t g = lo + i, q = pp[g];
        if (!on_path[i] && !(q >= 0 && q < lo)) continue;
        p->if_pos[k] = i;
        p->if_par[k] = q;
        p->if_proxy[k] = -1;
        if (on_path[i]) {
            /* a path node below the top whose path child's subtree ends
             * with its own has no child beyond hi: compressible */
            int compressed = j > 0 && j + 1 < np &&
                             path_pos[j + 1] + sub[path_pos[j + 1]] == g + sub[g];
            p->if_kind[k] = compressed ? IF_COMPRESSED : IF_KEPT;
            p->kept += !compressed;
            p->path_par[j] = j == 0 ? -1
                             : p->if_kind[p->path[j - 1]] == IF_COMPRESSED ? p->path_par[j - 1]
                                                                           : p->path[j - 1];
            p->path[j++] = k;
        } else {
            p->if_kind[k] = IF_HANGING;
            /* hanging nodes with one parent are consecutive */
            if (p->nproxy == 0 || p->proxy_pos[p->nproxy - 1] != q) p->proxy_pos[p->nproxy++] = q;
            p->if_proxy[k] = p->nproxy - 1;
        }
        k++;
    }
    if (nl > 0 && with_forest) {
        st = myo_tree_create(lparent, nl, &p->local);
        if (st == MYO_OK)
            for (int64_t i = 0; i < nl && st == MYO_OK; i++)
                if (p->local->order[i] != i)
                    st = myo_fail(MYO_ERR_DATA,
                                  "myo_dist_plan: the local forest's pre-order differs from the "
                                  "tree's at local position %lld",
                                  (long long)i);
        /* the distributed solve runs the forest kernel's passes apart */
        if (st == MYO_OK) p->local->is_chain = 0;
        if (st == MYO_OK) st = myo_factor_create_empty(p->local, H, p->prec, &p->f);
        if (st == MYO_OK && p->prec == MYO_F64)
            p->diag_copy = myo_alloc((size_t)nl * (size_t)H, sizeof(double), "myo_dist_plan");
        if (st == MYO_OK && p->prec == MYO_F32)
            p->diag_copy = myo_alloc((size_t)nl * (size_t)H, sizeof(float), "myo_dist_plan");
        if (st == MYO_OK && !p->diag_copy) st = MYO_ERR_NOMEM;
    }
out:
    free(on_path);
    free(lparent);
    free(path_pos);
    return st;
}

#define CREATE "myo_dist_plan_create"

static myo_status plan_create_body(MPI_Comm comm, const myo_tree *t, int64_t lo, int64_t hi,
                                   int64_t heads, myo_precision precision, myo_dist_plan **out)
{
    myo_status st = MYO_OK, mine = MYO_OK;
    int rank = 0, size = 1;
    long long *info = NULL;
    myo_dist_plan *p = NULL;
    MYO_MPI_TRY(CREATE, MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
    MYO_MPI_TRY(CREATE, MPI_Comm_size(comm, &size), "MPI_Comm_size");
    if (!out || !t || lo < 0 || hi < lo || hi > t->n || heads < 1 ||
        (precision != MYO_F32 && precision != MYO_F64) || heads > INT64_MAX / (t->n + 1))
        mine = myo_fail(MYO_ERR_ARG,
                        "%s: rank %d: tree %s, range [%lld, %lld) of %lld nodes, heads = %lld, "
                        "precision %d, out %s",
                        CREATE, rank, t ? "given" : "NULL", (long long)lo, (long long)hi,
                        (long long)(t ? t->n : -1), (long long)heads, (int)precision,
                        out ? "given" : "NULL");
    if (mine == MYO_OK) {
        p = calloc(1, sizeof *p);
        if (p) p->off = calloc((size_t)size + 1, sizeof(int64_t));
        if (!p || !p->off)
            mine = myo_fail(MYO_ERR_NOMEM, "%s: rank %d: out of memory", CREATE, rank);
    }
    if (mine == MYO_OK) {
        p->t = t, p->rank = rank, p->size = size, p->lo = lo, p->hi = hi, p->nl = hi - lo;
        p->H = heads, p->prec = precision;
        mine = build_structure(p, 1);
    }
    /* agreement on statuses, ranges, N, H and precision */
    info = myo_alloc((size_t)size, 6 * sizeof(long long), CREATE ": rank table");
    int nomem = 0;
    st = myo_mpi_any(comm, CREATE, !info, &nomem);
    if (st != MYO_OK) goto done;
    if (nomem) {
        st = myo_fail(MYO_ERR_NOMEM, "%s: out of memory for %d ranks' ranges", CREATE, size);
        goto done;
    }
    long long me[6] = {mine, t ? t->n : -1, lo, hi, heads, precision};
    MYO_MPI_TRY(CREATE, MPI_Allgather(me, 6, MPI_LONG_LONG, info, 6, MPI_LONG_LONG, comm),
                "MPI_Allgather");
    for (int r = 0; r < size; r++)
        if (info[6 * r] != MYO_OK) {
            st = (myo_status)info[6 * r];
            if (r != rank) myo_mpi_failed_elsewhere(st, CREATE, r, size);
            goto done;
        }
    for (int r = 0; r < size; r++) {
        const long long *v = info + 6 * r;
        if (v[1] != info[1] || v[4] != info[4] || v[5] != info[5] ||
            v[2] != (r ? info[6 * r - 3] : 0) || (r == size - 1 && v[3] != v[1])) {
            st = myo_fail(MYO_ERR_ARG,
                          "%s: rank %d: N = %lld, range [%lld, %lld), heads = %lld, precision %lld "
                          "does not continue the lower ranks' ranges or differs from rank 0 (N = "
                          "%lld, heads = %lld, precision %lld); the ranges must tile [0, N)",
                          CREATE, r, v[1], v[2], v[3], v[4], v[5], info[1], info[4], info[5]);
            goto done;
        }
        p->off[r] = v[2];
    }
    p->off[size] = info[1];
done:
    free(info);
    if (st != MYO_OK)
        myo_dist_plan_destroy(&p);
    else
        *out = p;
    return st;
}

myo_status myo_dist_plan_create(MPI_Comm comm, const myo_tree *t, int64_t lo, int64_t hi,
                                int64_t heads, myo_precision precision, myo_dist_plan **out)
{
    if (out) *out = NULL;
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, CREATE, &saved));
    myo_status st = plan_create_body(comm, t, lo, hi, heads, precision, out);
    myo_mpi_leave(comm, &saved);
    return st;
}

const int64_t *myo_dist_plan_offsets(const myo_dist_plan *p)
{
    return p->off;
}

const myo_tree *myo_dist_plan_local_tree(const myo_dist_plan *p)
{
    return p->local;
}

void myo_dist_plan_stats(const myo_dist_plan *p, myo_dist_stats *out)
{
    *out = p->stats;
}

int64_t myo_dist_solve_kept_nodes(const myo_tree *t, int64_t lo, int64_t hi)
{
    if (!t || lo < 0 || hi < lo || hi > t->n) return -1;
    myo_dist_plan *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->t = t, p->lo = lo, p->hi = hi, p->nl = hi - lo, p->H = 1, p->prec = MYO_F64;
    int64_t k = build_structure(p, 0) == MYO_OK ? p->kept + p->nproxy : -1;
    myo_dist_plan_destroy(&p);
    return k;
}

/* -------------------------------------------------------------- refactor */

static double load(const void *a, int64_t i, myo_precision prec)
{
    return prec == MYO_F32 ? (double)((const float *)a)[i] : ((const double *)a)[i];
}

static void store(void *a, int64_t i, double v, myo_precision prec)
{
    if (prec == MYO_F32)
        ((float *)a)[i] = (float)v;
    else
        ((double *)a)[i] = v;
}

/* Copy the diagonal with 1 at the interface roots (their pivots are
 * formed in double below; the kernel's would miss the remote children). */
static void copy_diag(myo_dist_plan *p, const void *diag)
{
    size_t bytes = (size_t)p->nl * (size_t)p->H * (p->prec == MYO_F32 ? 4 : 8);
    memcpy(p->diag_copy, diag, bytes);
    for (int64_t k = 0; k < p->nif; k++)
        for (int64_t h = 0; h < p->H; h++)
            store(p->diag_copy, p->if_pos[k] * p->H + h, 1.0, p->prec);
}

/* The interface coefficients after the local factor: A0, U, Dn, wd.
 * diag is NULL in the Laplacian form (up, down are then w_up, w_down). */
static myo_status interface_coefficients(myo_dist_plan *p, const void *diag, const void *up,
                                         const void *down)
{
    const int64_t H = p->H, *lsub = p->local->subtree;
    const void *inv, *fu, *fd;
    const double *upd;
    myo_factor_internals(p->f, &inv, &fu, &fd, &upd);
    for (int64_t k = 0; k < p->nif; k++) {
        int64_t i = p->if_pos[k], end = i + lsub[i], label = p->t->order[p->lo + i];
        int has_parent = p->if_par[k] >= 0;
        for (int64_t h = 0; h < H; h++) {
            double u = load(up, i * H + h, p->prec), d = load(down, i * H + h, p->prec);
            double a = diag ? load(diag, i * H + h, p->prec) : 1.0;
            if (!isfinite(a) || (has_parent && (!isfinite(u) || !isfinite(d))))
                return myo_fail(MYO_ERR_DATA,
                                "myo_dist_refactor: a non-finite coefficient at node %lld "
                                "(head %lld)",
                                (long long)label, (long long)h);
            if (!diag && has_parent && (u < 0 || d < 0))
                return myo_fail(MYO_ERR_DATA,
                                "myo_dist_refactor: negative Laplacian weight at node %lld (head "
                                "%lld): w_up = %g, w_down = %g",
                                (long long)label, (long long)h, u, d);
            for (int64_t c = i + 1; c < end; c += lsub[c])
                a -= upd[c * H + h];
            if (!has_parent) u = d = 0;
            if (!diag) a += u, u = -u, d = -d; /* to the general form */
            p->A0[k * H + h] = a;
            p->U[k * H + h] = u;
            p->Dn[k * H + h] = d;
            p->wd[k * H + h] = diag ? 0.0 : -d;
        }
    }
    /* a path node's path parent gets its w_down (the general diagonal) */
    for (int64_t j = 1; j < p->np; j++)
        for (int64_t h = 0; h < H; h++)
            p->A0[p->path[j - 1] * H + h] += p->wd[p->path[j] * H + h];
    return MYO_OK;
}

/* The local part of a refactor.  Local. */
static myo_status local_refactor(myo_dist_plan *p, const void *diag, const void *up,
                                 const void *down)
{
    p->valid = 0;
    p->laplacian = diag == NULL;
    if (p->nl == 0) {
        p->valid = 1;
        return MYO_OK;
    }
    myo_status st;
    if (diag) copy_diag(p, diag);
    if (p->prec == MYO_F32)
        st = diag ? myo_refactor_f32(p->f, p->diag_copy, up, down, MYO_OP_N, NULL, NULL, 0)
                  : myo_refactor_laplacian_f32(p->f, up, down, MYO_OP_N, NULL, NULL, 0);
    else
        st = diag ? myo_refactor_f64(p->f, p->diag_copy, up, down, MYO_OP_N, NULL, NULL, 0)
                  : myo_refactor_laplacian_f64(p->f, up, down, MYO_OP_N, NULL, NULL, 0);
    if (st != MYO_OK) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", myo_error_detail());
        return myo_fail(st, "myo_dist_refactor: rank %d, local forest (node numbers are positions "
                            "- %lld): %s",
                        p->rank, (long long)p->lo, detail);
    }
    st = interface_coefficients(p, diag, up, down);
    p->valid = st == MYO_OK;
    return st;
}

/* ----------------------------------------------------------------- solve */

/* A growable buffer of doubles. */
typedef struct {
    double *v;
    size_t len, cap;
} dbuf;

static int dbuf_reserve(dbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    double *v = realloc(b->v, cap * sizeof(double));
    if (!v) return 0;
    b->v = v, b->cap = cap;
    return 1;
}

/* ceil(log2 size) */
static int64_t tree_depth(int size)
{
    int64_t d = 0;
    while ((1LL << d) < size)
        d++;
    return d;
}

static myo_status send_block(MPI_Comm comm, myo_dist_plan *p, const double *v, size_t len, int to,
                             int tag)
{
    if (len > INT_MAX)
        return myo_fail(MYO_ERR_ARG, "myo_dist_solve: a message of %zu doubles exceeds an int "
                                     "count",
                        len);
    p->stats.messages++;
    p->stats.bytes += (int64_t)(len * sizeof(double));
    return myo_mpi_status(MPI_Send(v, (int)len, MPI_DOUBLE, to, tag, comm), "myo_dist_solve",
                          "MPI_Send");
}

static myo_status recv_append(MPI_Comm comm, dbuf *b, int from, int tag)
{
    MPI_Status status;
    int count = 0;
    MYO_CHECK(myo_mpi_status(MPI_Probe(from, tag, comm, &status), "myo_dist_solve", "MPI_Probe"));
    MYO_CHECK(myo_mpi_status(MPI_Get_count(&status, MPI_DOUBLE, &count), "myo_dist_solve",
                             "MPI_Get_count"));
    if (!dbuf_reserve(b, (size_t)count))
        return myo_fail(MYO_ERR_NOMEM, "myo_dist_solve: out of memory for a message of %d "
                                       "doubles",
                        count);
    MYO_CHECK(myo_mpi_status(MPI_Recv(b->v + b->len, count, MPI_DOUBLE, from, tag, comm,
                                      MPI_STATUS_IGNORE),
                             "myo_dist_solve", "MPI_Recv"));
    b->len += (size_t)count;
    return MYO_OK;
}

/* Binomial-tree gather: on return rank 0's b holds every rank's block in
 * rank order (a rank's block in b on entry). */
static myo_status tree_gather(MPI_Comm comm, myo_dist_plan *p, dbuf *b)
{
    for (int step = 1; step < p->size; step <<= 1) {
        if (p->rank & step) return send_block(comm, p, b->v, b->len, p->rank - step, TAG_GATHER);
        if (p->rank + step < p->size) MYO_CHECK(recv_append(comm, b, p->rank + step, TAG_GATHER));
    }
    return MYO_OK;
}

/* The offset of rank `who`'s block in a scatter buffer starting with the
 * block of rank `first`. */
static size_t scatter_offset(const dbuf *b, int64_t hm, int first, int who)
{
    size_t at = 0;
    for (int r = first; r < who; r++)
        at += SCATTER_HEADER + (size_t)b->v[at + 3] * (size_t)hm;
    return at;
}

/* Binomial-tree scatter: rank 0's b holds every rank's block in rank
 * order; on return each rank's b starts with its own block. */
static myo_status tree_scatter(MPI_Comm comm, myo_dist_plan *p, dbuf *b, int64_t hm)
{
    int span = 1;
    while (span < p->size)
        span <<= 1;
    if (p->rank > 0) {
        span = p->rank & -p->rank;
        b->len = 0;
        MYO_CHECK(recv_append(comm, b, p->rank - span, TAG_SCATTER));
    }
    for (int step = span >> 1; step >= 1; step >>= 1) {
        int child = p->rank + step;
        if (child >= p->size) continue;
        size_t at = scatter_offset(b, hm, p->rank, child);
        MYO_CHECK(send_block(comm, p, b->v + at, b->len - at, child, TAG_SCATTER));
        b->len = at;
    }
    return MYO_OK;
}

/* One kept or proxy entry of the gather block. */
static double *entry_at(double *block, int64_t e, int64_t width)
{
    return block + GATHER_HEADER + e * width;
}

/* Per-call interface state, (nif, H) and R (nif, H m), in double. */
typedef struct {
    int64_t m, hm;
    double *A, *bu, *cd, *save_cdc, *R;
    int64_t *cpar;
    double *pA, *pR; /* proxies (nproxy, H) and (nproxy, H m) */
} iface;

static int bad_pivot(double a)
{
    return a == 0.0 || !isfinite(a);
}

static myo_status pivot_fail(const myo_dist_plan *p, int64_t k, int64_t h, double a)
{
    return myo_fail(MYO_ERR_SINGULAR,
                    "myo_dist_solve: rank %d: pivot %g at node %lld (head %lld) of the "
                    "interface: the matrix is singular",
                    p->rank, a, (long long)p->t->order[p->lo + p->if_pos[k]], (long long)h);
}

/* Interface rows after pass 1, then the hanging nodes into their proxies
 * and the path compressed.  rhs holds the pass-1 rows, r0 the original
 * interface rows. */
static myo_status interface_reduce(const myo_dist_plan *p, myo_op op, const void *rhs,
                                   const double *r0, iface *s)
{
    const int64_t H = p->H, m = s->m, hm = s->hm, *lsub = p->local->subtree;
    const void *inv, *fu, *fd;
    const double *upd;
    myo_factor_internals(p->f, &inv, &fu, &fd, &upd);
    const void *fc = op == MYO_OP_N ? fd : fu;
    for (int64_t k = 0; k < p->nif; k++) {
        int64_t i = p->if_pos[k], end = i + lsub[i];
        double *R = s->R + k * hm;
        memcpy(R, r0 + k * hm, (size_t)hm * sizeof(double));
        for (int64_t c = i + 1; c < end; c += lsub[c])
            for (int64_t h = 0; h < H; h++) {
                double cc = load(fc, c * H + h, p->prec);
                for (int64_t q = 0; q < m; q++)
                    R[h * m + q] -= cc * load(rhs, c * hm + h * m + q, p->prec);
            }
        for (int64_t h = 0; h < H; h++) {
            s->A[k * H + h] = p->A0[k * H + h];
            s->bu[k * H + h] = op == MYO_OP_N ? p->U[k * H + h] : p->Dn[k * H + h];
            s->cd[k * H + h] = op == MYO_OP_N ? p->Dn[k * H + h] : p->U[k * H + h];
        }
        s->cpar[k] = p->if_par[k];
    }
    memset(s->pA, 0, (size_t)(p->nproxy * H) * sizeof(double));
    memset(s->pR, 0, (size_t)(p->nproxy * hm) * sizeof(double));
    for (int64_t k = 0; k < p->nif; k++) {
        if (p->if_kind[k] != IF_HANGING) continue;
        int64_t x = p->if_proxy[k];
        for (int64_t h = 0; h < H; h++) {
            double a = s->A[k * H + h], cd = s->cd[k * H + h], bu = s->bu[k * H + h];
            if (bad_pivot(a)) return pivot_fail(p, k, h, a);
            s->pA[x * H + h] += p->wd[k * H + h] - cd * bu / a;
            double f = cd / a;
            for (int64_t q = 0; q < m; q++)
                s->pR[x * hm + h * m + q] -= f * s->R[k * hm + h * m + q];
        }
    }
    for (int64_t j = 1; j + 1 < p->np; j++) { /* the path, top down */
        int64_t i = p->path[j];
        if (p->if_kind[i] != IF_COMPRESSED) continue;
        int64_t par = p->path_par[j], c = p->path[j + 1];
        for (int64_t h = 0; h < H; h++) {
            double a = s->A[i * H + h];
            if (bad_pivot(a)) return pivot_fail(p, i, h, a);
            double bui = s->bu[i * H + h], cdi = s->cd[i * H + h];
            double buc = s->bu[c * H + h], cdc = s->cd[c * H + h];
            s->A[par * H + h] -= cdi * bui / a;
            s->A[c * H + h] -= buc * cdc / a;
            double fp = cdi / a, fc2 = buc / a;
            const double *ri = s->R + i * hm + h * m;
            double *rp = s->R + par * hm + h * m, *rc = s->R + c * hm + h * m;
            for (int64_t q = 0; q < m; q++) {
                rp[q] -= fp * ri[q];
                rc[q] -= fc2 * ri[q];
            }
            s->save_cdc[i * H + h] = cdc;
            s->bu[c * H + h] = -buc * bui / a;
            s->cd[c * H + h] = -cdi * cdc / a;
        }
        s->cpar[c] = s->cpar[i];
    }
    return MYO_OK;
}

/* This rank's gather block: header, kept entries, proxies. */
static myo_status pack_block(const myo_dist_plan *p, myo_status mine, const iface *s, dbuf *b)
{
    const int64_t H = p->H, hm = s->hm, width = 3 + 4 * H + hm;
    int64_t entries = mine == MYO_OK ? p->kept + p->nproxy : 0;
    if (!dbuf_reserve(b, GATHER_HEADER + (size_t)(entries * width)))
        return myo_fail(MYO_ERR_NOMEM, "myo_dist_solve: out of memory for the interface");
    double *v = b->v;
    v[0] = p->rank, v[1] = mine, v[2] = (double)entries, v[3] = (double)s->m, v[4] = (double)H;
    b->len = GATHER_HEADER + (size_t)(entries * width);
    if (entries == 0) return MYO_OK;
    int64_t e = 0;
    for (int64_t k = 0; k < p->nif; k++) {
        if (p->if_kind[k] != IF_KEPT) continue;
        double *x = entry_at(v, e++, width);
        x[0] = ENTRY_KEPT, x[1] = (double)(p->lo + p->if_pos[k]), x[2] = (double)s->cpar[k];
        int top = p->np > 0 && k == p->path[0];
        for (int64_t h = 0; h < H; h++) {
            x[3 + 4 * h] = s->A[k * H + h];
            x[4 + 4 * h] = s->bu[k * H + h];
            x[5 + 4 * h] = s->cd[k * H + h];
            x[6 + 4 * h] = top ? p->wd[k * H + h] : 0.0;
        }
        memcpy(x + 3 + 4 * H, s->R + k * hm, (size_t)hm * sizeof(double));
    }
    for (int64_t q = 0; q < p->nproxy; q++) {
        double *x = entry_at(v, e++, width);
        x[0] = ENTRY_PROXY, x[1] = (double)p->proxy_pos[q], x[2] = -1;
        for (int64_t h = 0; h < H; h++) {
            x[3 + 4 * h] = s->pA[q * H + h];
            x[4 + 4 * h] = x[5 + 4 * h] = x[6 + 4 * h] = 0;
        }
        memcpy(x + 3 + 4 * H, s->pR + q * hm, (size_t)hm * sizeof(double));
    }
    return MYO_OK;
}

/* Index of position pos among the sorted kept positions, or -1. */
static int64_t find_kept(const int64_t *kpos, int64_t K, int64_t pos)
{
    int64_t l = 0, r = K;
    while (l < r) {
        int64_t mid = l + (r - l) / 2;
        if (kpos[mid] < pos)
            l = mid + 1;
        else
            r = mid;
    }
    return l < K && kpos[l] == pos ? l : -1;
}

/* Rank 0: check the blocks, solve the reduced forest, and replace the
 * gathered blocks in b by the reply blocks.  *verdict, *who: the status
 * every rank returns and the rank it comes from. */
static myo_status root_solve(const myo_dist_plan *p, int64_t m, dbuf *b, int *verdict, int *who)
{
    const int64_t H = p->H, hm = H * m, width = 3 + 4 * H + hm;
    myo_status st = MYO_OK;
    int size = p->size;
    size_t *at = calloc((size_t)size, sizeof(size_t));
    int64_t *kpos = NULL, *parent = NULL;
    double *coef = NULL, *y = NULL;
    myo_tree *t = NULL;
    myo_factor *f = NULL;
    dbuf reply = {0};
    *verdict = MYO_OK, *who = 0;
    if (!at) return myo_fail(MYO_ERR_NOMEM, "myo_dist_solve: out of memory on rank 0");
    int64_t K = 0;
    size_t pos = 0;
    for (int r = 0; r < size; r++) {
        at[r] = pos;
        const double *v = b->v + pos;
        if (*verdict == MYO_OK && v[1] != MYO_OK) *verdict = (int)v[1], *who = r;
        if (*verdict == MYO_OK && (v[3] != (double)m || v[4] != (double)H)) {
            *verdict = myo_fail(MYO_ERR_ARG,
                                "myo_dist_solve: rank %d solves with m = %g, H = %g, rank 0 with "
                                "m = %lld, H = %lld",
                                r, v[3], v[4], (long long)m, (long long)H);
            *who = 0;
        }
        int64_t entries = (int64_t)v[2];
        for (int64_t e = 0; e < entries; e++)
            K += entry_at((double *)v, e, width)[0] == ENTRY_KEPT;
        pos += GATHER_HEADER + (size_t)(entries * width);
    }
    if (*verdict == MYO_OK && K > 0) {
        kpos = myo_alloc((size_t)K, sizeof(int64_t), "myo_dist_solve: reduced positions");
        parent = myo_alloc((size_t)K, sizeof(int64_t), "myo_dist_solve: reduced parents");
        coef = myo_alloc((size_t)K * (size_t)H, 3 * sizeof(double), "myo_dist_solve: reduced");
        y = myo_alloc((size_t)K, (size_t)hm * 2 * sizeof(double), "myo_dist_solve: reduced rows");
        if (!kpos || !parent || !coef || !y) {
            st = MYO_ERR_NOMEM;
            goto out;
        }
        double *diag = coef, *up = coef + K * H, *down = coef + 2 * K * H, *r = y + K * hm;
        int64_t k = 0;
        for (int q = 0; q < size; q++) {
            double *v = b->v + at[q];
            for (int64_t e = 0; e < (int64_t)v[2]; e++) {
                const double *x = entry_at(v, e, width);
                if (x[0] != ENTRY_KEPT) continue;
                kpos[k] = (int64_t)x[1];
                for (int64_t h = 0; h < H; h++)
                    diag[k * H + h] = x[3 + 4 * h], up[k * H + h] = x[4 + 4 * h],
                                 down[k * H + h] = x[5 + 4 * h];
                memcpy(r + k * hm, x + 3 + 4 * H, (size_t)hm * sizeof(double));
                k++;
            }
        }
        for (int q = 0; q < size && *verdict == MYO_OK; q++) {
            double *v = b->v + at[q];
            for (int64_t e = 0; e < (int64_t)v[2] && *verdict == MYO_OK; e++) {
                const double *x = entry_at(v, e, width);
                int64_t target = (int64_t)(x[0] == ENTRY_KEPT ? x[2] : x[1]);
                int64_t j = target >= 0 ? find_kept(kpos, K, target) : -1;
                if (target >= 0 && j < 0) {
                    *verdict = myo_fail(MYO_ERR_DATA,
                                        "myo_dist_solve: rank %d refers to position %lld, which "
                                        "no rank keeps (do the ranks hold the same tree?)",
                                        q, (long long)target);
                    break;
                }
                if (x[0] == ENTRY_KEPT) {
                    parent[find_kept(kpos, K, (int64_t)x[1])] = j;
                    for (int64_t h = 0; j >= 0 && h < H; h++)
                        diag[j * H + h] += x[6 + 4 * h];
                } else {
                    for (int64_t h = 0; h < H; h++)
                        diag[j * H + h] += x[3 + 4 * h];
                    for (int64_t c = 0; c < hm; c++)
                        r[j * hm + c] += x[3 + 4 * H + c];
                }
            }
        }
        if (*verdict == MYO_OK) {
            myo_status s = myo_tree_create(parent, K, &t);
            if (s == MYO_OK) s = myo_factor_create_heads_f64(t, H, diag, up, down, &f);
            if (s == MYO_OK) s = myo_solve_f64(f, MYO_OP_N, r, y, m);
            if (s != MYO_OK) {
                char detail[256];
                snprintf(detail, sizeof detail, "%s", myo_error_detail());
                *verdict = myo_fail(s, "myo_dist_solve: the reduced system of %lld interface "
                                       "nodes on rank 0: %s",
                                    (long long)K, detail);
                *who = 0;
            }
        }
    }
    /* the reply blocks */
    for (int q = 0; q < size; q++) {
        double *v = b->v + at[q];
        int64_t entries = *verdict == MYO_OK ? (int64_t)v[2] : 0;
        if (!dbuf_reserve(&reply, SCATTER_HEADER + (size_t)(entries * hm))) {
            st = myo_fail(MYO_ERR_NOMEM, "myo_dist_solve: out of memory on rank 0");
            goto out;
        }
        double *o = reply.v + reply.len;
        o[0] = q, o[1] = *verdict, o[2] = *who, o[3] = (double)entries;
        for (int64_t e = 0; e < entries; e++) {
            const double *x = entry_at(v, e, width);
            int64_t j = find_kept(kpos, K, (int64_t)x[1]);
            memcpy(o + SCATTER_HEADER + e * hm, y + j * hm, (size_t)hm * sizeof(double));
        }
        reply.len += SCATTER_HEADER + (size_t)(entries * hm);
    }
    free(b->v);
    *b = reply;
    reply.v = NULL;
out:
    free(reply.v);
    free(at);
    free(kpos);
    free(parent);
    free(coef);
    free(y);
    myo_factor_destroy(&f);
    myo_tree_destroy(&t);
    return st;
}

/* The interface solutions into rhs: hanging nodes from their proxies'
 * rows, kept nodes from theirs, compressed path nodes bottom up. */
static void interface_back(const myo_dist_plan *p, const double *rows, iface *s, void *rhs)
{
    const int64_t H = p->H, m = s->m, hm = s->hm;
    double *Y = s->R; /* the solutions replace the right-hand sides */
    int64_t e = 0;
    for (int64_t k = 0; k < p->nif; k++)
        if (p->if_kind[k] == IF_KEPT) memcpy(Y + k * hm, rows + (e++) * hm, (size_t)hm * 8);
    for (int64_t k = 0; k < p->nif; k++) {
        if (p->if_kind[k] != IF_HANGING) continue;
        const double *yq = rows + (p->kept + p->if_proxy[k]) * hm;
        for (int64_t h = 0; h < H; h++) {
            double a = s->A[k * H + h], bu = s->bu[k * H + h];
            for (int64_t q = 0; q < m; q++)
                Y[k * hm + h * m + q] = (Y[k * hm + h * m + q] - bu * yq[h * m + q]) / a;
        }
    }
    for (int64_t j = p->np - 2; j >= 1; j--) { /* compressed path nodes, bottom up */
        int64_t i = p->path[j];
        if (p->if_kind[i] != IF_COMPRESSED) continue;
        int64_t par = p->path_par[j], c = p->path[j + 1];
        for (int64_t h = 0; h < H; h++) {
            double a = s->A[i * H + h], bu = s->bu[i * H + h], cdc = s->save_cdc[i * H + h];
            for (int64_t q = 0; q < m; q++)
                Y[i * hm + h * m + q] = (Y[i * hm + h * m + q] - bu * Y[par * hm + h * m + q] -
                                         cdc * Y[c * hm + h * m + q]) /
                                        a;
        }
    }
    for (int64_t k = 0; k < p->nif; k++)
        for (int64_t c = 0; c < hm; c++)
            store(rhs, p->if_pos[k] * hm + c, Y[k * hm + c], p->prec);
}

#define SOLVE "myo_dist_solve"

static myo_status solve_body(MPI_Comm comm, myo_dist_plan *p, myo_op op, void *rhs, int64_t m,
                             myo_status mine)
{
    myo_status st = MYO_OK;
    const int64_t H = p->H, hm = H * m;
    size_t nif1 = (size_t)(p->nif > 0 ? p->nif : 1), npx1 = (size_t)(p->nproxy > 0 ? p->nproxy : 1);
    iface s = {.m = m, .hm = hm};
    double *r0 = NULL;
    dbuf b = {0};
    if (mine == MYO_OK && !p->valid)
        mine = myo_fail(MYO_ERR_ARG, "%s: rank %d holds no valid factor (refactor first)", SOLVE,
                        p->rank);
    if (mine == MYO_OK) {
        s.A = myo_alloc(nif1 * (size_t)H, 4 * sizeof(double), SOLVE ": interface");
        s.R = myo_alloc(nif1, (size_t)hm * sizeof(double), SOLVE ": interface rows");
        r0 = myo_alloc(nif1, (size_t)hm * sizeof(double), SOLVE ": interface rows");
        s.cpar = myo_alloc(nif1, sizeof(int64_t), SOLVE ": interface");
        s.pA = myo_alloc(npx1 * (size_t)H, sizeof(double), SOLVE ": proxies");
        s.pR = myo_alloc(npx1, (size_t)hm * sizeof(double), SOLVE ": proxies");
        if (!s.A || !s.R || !r0 || !s.cpar || !s.pA || !s.pR) mine = MYO_ERR_NOMEM;
    }
    if (mine == MYO_OK && p->nl > 0) {
        s.bu = s.A + nif1 * (size_t)H, s.cd = s.bu + nif1 * (size_t)H;
        s.save_cdc = s.cd + nif1 * (size_t)H;
        for (int64_t k = 0; k < p->nif; k++)
            for (int64_t c = 0; c < hm; c++)
                r0[k * hm + c] = load(rhs, p->if_pos[k] * hm + c, p->prec);
        if (p->prec == MYO_F32)
            myo_solve_pass1_f32(p->f, op, rhs, rhs, m);
        else
            myo_solve_pass1_f64(p->f, op, rhs, rhs, m);
        mine = interface_reduce(p, op, rhs, r0, &s);
    }
    st = pack_block(p, mine, &s, &b);
    if (st != MYO_OK) {
        /* no block: send a bare header so that nobody waits */
        static double bare[GATHER_HEADER];
        b.v = bare, b.cap = 0;
        bare[0] = p->rank, bare[1] = st, bare[2] = 0, bare[3] = (double)m, bare[4] = (double)H;
        b.len = GATHER_HEADER;
        mine = st;
    }
    p->stats.calls++;
    p->stats.rounds += 2 * tree_depth(p->size);
    p->stats.kept = p->kept + p->nproxy;
    st = tree_gather(comm, p, &b);
    int verdict = MYO_OK, who = 0;
    if (st == MYO_OK && p->rank == 0) st = root_solve(p, m, &b, &verdict, &who);
    if (st != MYO_OK) {
        /* rank 0 without memory for the reply still answers every rank */
        if (p->rank == 0) {
            free(b.cap ? b.v : NULL);
            b = (dbuf){0};
            for (int q = 0; q < p->size && dbuf_reserve(&b, SCATTER_HEADER); q++) {
                double *o = b.v + b.len;
                o[0] = q, o[1] = st, o[2] = 0, o[3] = 0;
                b.len += SCATTER_HEADER;
            }
        } else
            goto done; /* an MPI failure: the ranks may disagree */
    }
    myo_status sc = tree_scatter(comm, p, &b, hm);
    if (sc != MYO_OK) {
        st = sc;
        goto done;
    }
    verdict = (int)b.v[1], who = (int)b.v[2];
    if (verdict != MYO_OK) {
        st = (myo_status)verdict;
        if (who != p->rank) myo_mpi_failed_elsewhere(st, SOLVE, who, p->size);
        goto done;
    }
    st = MYO_OK;
    if (p->nl > 0) {
        interface_back(p, b.v + SCATTER_HEADER, &s, rhs);
        if (p->prec == MYO_F32)
            myo_solve_pass2_f32(p->f, op, rhs, m);
        else
            myo_solve_pass2_f64(p->f, op, rhs, m);
    }
done:
    if (b.cap) free(b.v);
    free(s.A);
    free(s.R);
    free(r0);
    free(s.cpar);
    free(s.pA);
    free(s.pR);
    return st;
}

enum { SOLVE_ONLY = 0, GENERAL = 1, LAPLACIAN = 2 };

/* Checks, refactor in the given form (diag NULL for the Laplacian), then
 * solve when m > 0. */
static myo_status dist_run(MPI_Comm comm, myo_dist_plan *p, myo_precision prec, int form,
                           const void *diag, const void *up, const void *down, myo_op op,
                           void *rhs, int64_t m)
{
    myo_status mine = MYO_OK;
    if (!p)
        return myo_fail(MYO_ERR_ARG, "%s: the plan is NULL (on this rank; the others may wait)",
                        SOLVE);
    if (p->prec != prec)
        mine = myo_fail(MYO_ERR_ARG, "%s: rank %d: the plan is for %s, the call for %s", SOLVE,
                        p->rank, p->prec == MYO_F32 ? "float" : "double",
                        prec == MYO_F32 ? "float" : "double");
    else if (m < 0 || (m == 0 && form == SOLVE_ONLY) || (op != MYO_OP_N && op != MYO_OP_T))
        mine = myo_fail(MYO_ERR_ARG, "%s: rank %d: m = %lld, op = %d", SOLVE, p->rank,
                        (long long)m, (int)op);
    else if (p->nl > 0 && ((form != SOLVE_ONLY && (!up || !down || (form == GENERAL && !diag))) ||
                           (m > 0 && !rhs)))
        mine = myo_fail(MYO_ERR_ARG, "%s: rank %d: a NULL coefficient or right-hand side array",
                        SOLVE, p->rank);
    else if (m > 0 && p->H > INT64_MAX / m / (p->nl + 1))
        mine = myo_fail(MYO_ERR_ARG, "%s: rank %d: m = %lld is too large", SOLVE, p->rank,
                        (long long)m);
    if (mine == MYO_OK && form != SOLVE_ONLY)
        mine = local_refactor(p, form == GENERAL ? diag : NULL, up, down);
    else if (mine != MYO_OK && form != SOLVE_ONLY)
        p->valid = 0;
    if (m == 0) return mine;
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, SOLVE, &saved));
    myo_status st = solve_body(comm, p, op, rhs, m, mine);
    myo_mpi_leave(comm, &saved);
    return st;
}

myo_status myo_dist_refactor_f32(MPI_Comm comm, myo_dist_plan *p, const float *diag,
                                 const float *up, const float *down, myo_op op, float *rhs,
                                 int64_t m)
{
    return dist_run(comm, p, MYO_F32, GENERAL, diag, up, down, op, rhs, m);
}

myo_status myo_dist_refactor_f64(MPI_Comm comm, myo_dist_plan *p, const double *diag,
                                 const double *up, const double *down, myo_op op, double *rhs,
                                 int64_t m)
{
    return dist_run(comm, p, MYO_F64, GENERAL, diag, up, down, op, rhs, m);
}

myo_status myo_dist_refactor_laplacian_f32(MPI_Comm comm, myo_dist_plan *p, const float *w_up,
                                           const float *w_down, myo_op op, float *rhs, int64_t m)
{
    return dist_run(comm, p, MYO_F32, LAPLACIAN, NULL, w_up, w_down, op, rhs, m);
}

myo_status myo_dist_refactor_laplacian_f64(MPI_Comm comm, myo_dist_plan *p, const double *w_up,
                                           const double *w_down, myo_op op, double *rhs,
                                           int64_t m)
{
    return dist_run(comm, p, MYO_F64, LAPLACIAN, NULL, w_up, w_down, op, rhs, m);
}

myo_status myo_dist_solve_f32(MPI_Comm comm, myo_dist_plan *p, myo_op op, float *rhs, int64_t m)
{
    return dist_run(comm, p, MYO_F32, SOLVE_ONLY, NULL, NULL, NULL, op, rhs, m);
}

myo_status myo_dist_solve_f64(MPI_Comm comm, myo_dist_plan *p, myo_op op, double *rhs, int64_t m)
{
    return dist_run(comm, p, MYO_F64, SOLVE_ONLY, NULL, NULL, NULL, op, rhs, m);
}

/* ------------------------------------------------------ one-shot solve */

myo_status myo_factor_solve_ranges_f64(MPI_Comm comm, const myo_tree *t, const double *diag,
                                       const double *up, const double *down, int64_t lo, int64_t hi,
                                       myo_op op, double *rhs, int64_t m)
{
    myo_dist_plan *p = NULL;
    MYO_CHECK(myo_dist_plan_create(comm, t, lo, hi, 1, MYO_F64, &p));
    int64_t nl = hi - lo;
    double *c = NULL;
    if (diag && up && down) {
        c = myo_alloc((size_t)(nl > 0 ? nl : 1), 3 * sizeof(double),
                      "myo_factor_solve_ranges_f64");
        for (int64_t i = 0; c && i < nl; i++) {
            int64_t label = t->order[lo + i];
            c[i] = diag[label], c[nl + i] = up[label], c[2 * nl + i] = down[label];
        }
    }
    /* a missing array fails the refactor's checks on this rank, which the
     * solve then reports on every rank */
    myo_status st = myo_dist_refactor_f64(comm, p, c, c ? c + nl : NULL, c ? c + 2 * nl : NULL,
                                          op, rhs, m);
    free(c);
    myo_dist_plan_destroy(&p);
    return st;
}
