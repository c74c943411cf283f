/* dist_solve.c -- the tree solve op(M) Y = R with the nodes split over MPI
 * ranks by contiguous pre-order position ranges (myosotis_dist.h).
 *
 * Every rank holds the whole tree and all coefficients; rank r owns the
 * positions [lo, hi) and the right-hand-side rows of those positions, in
 * position order.  Subtrees are contiguous in pre-order, so a local node p
 * has its whole subtree [p, p + subtree[p]) local unless it is an ancestor
 * of position hi.  The "interface" K of a rank is
 *   - the path: the ancestors of position hi inside [lo, hi), and
 *   - the nodes whose parent lies before lo (on a lower rank).
 * Every other local node ("interior") has its whole subtree local and a
 * local parent (or is a root): phase 1 eliminates the interior leaf-up into
 * its parents as in DESIGN.md section 1.  Then the path is compressed top
 * down: an interior path node (not its top, whose parent is remote or
 * absent) with no child beyond hi is a degree-2 node between its current
 * parent and its path child; eliminating it replaces the edges (c, i),
 * (i, p) by a fill edge (c, p):
 *     a'[p] -= cd_i bu_i / a'_i          r'[p] -= (cd_i / a'_i) r'_i
 *     a'[c] -= bu_c cd_c / a'_i          r'[c] -= (bu_c / a'_i) r'_i
 *     bu_c <- -bu_c bu_i / a'_i          cd_c <- -cd_i cd_c / a'_i
 * (bu = the node's row entry at its parent, cd = the parent's row entry at
 * the node).  The kept nodes of all ranks form a forest whose edges are
 * original or fill edges (a kept node's parent is a kept node of this rank
 * or an interface node with a child on another rank, hence kept there).
 * Phase 2 gathers it on rank 0, which solves it with the serial solver
 * (relabelled 0 .. K-1 in position order) and scatters the solutions back.
 * Phase 3 back-substitutes locally: the compressed path nodes bottom up,
 * y_i = (r'_i - bu_i y_parent - cd_c y_c) / a'_i, then the interior nodes
 * in position order, y_i = (r'_i - bu_i y_parent) / a'_i.
 *
 * A chain keeps 2 nodes per rank (1 on the first and last rank), a
 * balanced hierarchy O(height) per rank.  Messages: one MPI_Allgather of 6
 * numbers per rank (agreement on errors and the kept counts), two
 * MPI_Gatherv, one MPI_Bcast of the root's status and one MPI_Scatterv. */
#include <config.h>

#include "internal.h"
#include "mpi_util.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FNAME "myo_solve_dist_f64"

myo_status myo_dist_even_ranges(int64_t n, int size, int64_t *off)
{
    if (n < 0 || size < 1 || !off)
        return myo_fail(MYO_ERR_ARG, "myo_dist_even_ranges: n = %lld, size = %d, off %s",
                        (long long)n, size, off ? "given" : "NULL");
    for (int r = 0; r <= size; r++)
        off[r] = (int64_t)((__int128)n * r / size);
    return MYO_OK;
}

static myo_status check_range(const char *name, const myo_tree *t, int64_t lo, int64_t hi,
                              int64_t m, const void *a, const void *b)
{
    if (!t) return myo_fail(MYO_ERR_ARG, "%s: tree is NULL", name);
    if (lo < 0 || hi < lo || hi > t->n || m < 1)
        return myo_fail(MYO_ERR_ARG, "%s: range [%lld, %lld) of %lld nodes, m = %lld", name,
                        (long long)lo, (long long)hi, (long long)t->n, (long long)m);
    if (hi > lo && (!a || !b)) return myo_fail(MYO_ERR_ARG, "%s: a NULL array", name);
    return MYO_OK;
}

myo_status myo_dist_rows_from_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                     const double *global, double *local)
{
    MYO_CHECK(check_range("myo_dist_rows_from_labels", t, lo, hi, m, global, local));
    for (int64_t p = lo; p < hi; p++)
        memcpy(local + (p - lo) * m, global + t->order[p] * m, (size_t)m * sizeof(double));
    return MYO_OK;
}

myo_status myo_dist_rows_to_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                   const double *local, double *global)
{
    MYO_CHECK(check_range("myo_dist_rows_to_labels", t, lo, hi, m, local, global));
    for (int64_t p = lo; p < hi; p++)
        memcpy(global + t->order[p] * m, local + (p - lo) * m, (size_t)m * sizeof(double));
    return MYO_OK;
}

enum { ST_INTERIOR = 0, ST_KEPT = 1, ST_COMPRESSED = 2 };

/* The classification of the positions [lo, hi): state (hi - lo) and the
 * path (ancestors of hi inside the range) top first in path[0 .. *np).
 * Returns the number of kept nodes.  Local, structural. */
static int64_t classify(const myo_tree *t, int64_t lo, int64_t hi, unsigned char *state,
                        int64_t *path, int64_t *np)
{
    const int64_t *pp = t->parent_pos, *sub = t->subtree;
    int64_t kept = 0, k = 0;
    for (int64_t p = lo; p < hi; p++) {
        int64_t q = pp[p];
        state[p - lo] = (q >= 0 && q < lo) ? ST_KEPT : ST_INTERIOR;
    }
    if (hi < t->n)
        for (int64_t q = pp[hi]; q >= lo; q = pp[q])
            path[k++] = q;
    for (int64_t i = 0; i < k / 2; i++) { /* bottom-up -> top-down */
        int64_t s = path[i];
        path[i] = path[k - 1 - i], path[k - 1 - i] = s;
    }
    for (int64_t i = 0; i < k; i++) {
        int64_t p = path[i];
        int interior = i > 0 && i + 1 < k && path[i + 1] + sub[path[i + 1]] == p + sub[p];
        state[p - lo] = interior ? ST_COMPRESSED : ST_KEPT;
    }
    for (int64_t p = lo; p < hi; p++)
        kept += state[p - lo] == ST_KEPT;
    *np = k;
    return kept;
}

int64_t myo_dist_solve_kept_nodes(const myo_tree *t, int64_t lo, int64_t hi)
{
    if (!t || lo < 0 || hi < lo || hi > t->n) return -1;
    int64_t nl = hi - lo, np = 0;
    unsigned char *state = malloc((size_t)(nl > 0 ? nl : 1));
    int64_t *path = malloc((size_t)(nl > 0 ? nl : 1) * sizeof(int64_t));
    int64_t kept = -1;
    if (state && path) kept = classify(t, lo, hi, state, path, &np);
    free(state);
    free(path);
    return kept;
}

static int bad_pivot(double a)
{
    return a == 0.0 || !isfinite(a);
}

#define MPI_TRY(call, what) MYO_MPI_TRY(FNAME, call, what)

/* The local work state of one rank. */
typedef struct {
    int64_t lo, hi, nl, m, np, kept;
    unsigned char *state;
    int64_t *path, *cpar; /* cpar: current parent position (fill edges) */
    double *a, *bu, *cd, *save_cdc;
    double *r; /* the caller's rows */
} local_sys;

/* Phase 1: classify, eliminate the interior, compress the path. */
static myo_status local_reduce(const myo_tree *t, const double *diag, const double *up,
                               const double *down, myo_op op, local_sys *s)
{
    const int64_t *pp = t->parent_pos, *ord = t->order;
    int64_t lo = s->lo, nl = s->nl, m = s->m;
    const double *U = op == MYO_OP_T ? down : up, *D = op == MYO_OP_T ? up : down;
    s->kept = classify(t, lo, s->hi, s->state, s->path, &s->np);
    for (int64_t i = 0; i < nl; i++) {
        int64_t lab = ord[lo + i];
        s->a[i] = diag[lab];
        s->bu[i] = pp[lo + i] >= 0 ? U[lab] : 0.0;
        s->cd[i] = pp[lo + i] >= 0 ? D[lab] : 0.0;
        s->cpar[i] = pp[lo + i];
        if (!isfinite(s->a[i]) || !isfinite(s->bu[i]) || !isfinite(s->cd[i]))
            return myo_fail(MYO_ERR_DATA, "%s: a non-finite coefficient at node %lld", FNAME,
                            (long long)lab);
    }
    for (int64_t i = nl - 1; i >= 0; i--) { /* children before parents */
        if (s->state[i] != ST_INTERIOR) continue;
        double ai = s->a[i];
        if (bad_pivot(ai))
            return myo_fail(MYO_ERR_SINGULAR, "%s: pivot %g at node %lld", FNAME, ai,
                            (long long)ord[lo + i]);
        int64_t q = pp[lo + i];
        if (q < 0) continue;
        q -= lo;
        s->a[q] -= s->cd[i] * s->bu[i] / ai;
        double f = s->cd[i] / ai;
        const double *ri = s->r + i * m;
        double *rq = s->r + q * m;
        for (int64_t k = 0; k < m; k++)
            rq[k] -= f * ri[k];
    }
    for (int64_t j = 1; j + 1 < s->np; j++) { /* the path, top down */
        int64_t i = s->path[j] - lo;
        if (s->state[i] != ST_COMPRESSED) continue;
        int64_t p = s->cpar[i] - lo, c = s->path[j + 1] - lo;
        double ai = s->a[i];
        if (bad_pivot(ai))
            return myo_fail(MYO_ERR_SINGULAR, "%s: pivot %g at node %lld", FNAME, ai,
                            (long long)ord[lo + i]);
        double bui = s->bu[i], cdi = s->cd[i], buc = s->bu[c], cdc = s->cd[c];
        s->a[p] -= cdi * bui / ai;
        s->a[c] -= buc * cdc / ai;
        double fp = cdi / ai, fc = buc / ai;
        const double *ri = s->r + i * m;
        double *rp = s->r + p * m, *rc = s->r + c * m;
        for (int64_t k = 0; k < m; k++) {
            rp[k] -= fp * ri[k];
            rc[k] -= fc * ri[k];
        }
        s->save_cdc[i] = cdc;
        s->bu[c] = -buc * bui / ai;
        s->cd[c] = -cdi * cdc / ai;
        s->cpar[c] = s->cpar[i];
    }
    return MYO_OK;
}

/* Phase 3: the kept rows already hold their solutions. */
static void local_back(const myo_tree *t, local_sys *s)
{
    const int64_t *pp = t->parent_pos;
    int64_t lo = s->lo, m = s->m;
    for (int64_t j = s->np - 2; j >= 1; j--) { /* compressed path nodes, bottom up */
        int64_t i = s->path[j] - lo;
        if (s->state[i] != ST_COMPRESSED) continue;
        int64_t p = s->cpar[i] - lo, c = s->path[j + 1] - lo;
        double *yi = s->r + i * m;
        const double *yp = s->r + p * m, *yc = s->r + c * m;
        for (int64_t k = 0; k < m; k++)
            yi[k] = (yi[k] - s->bu[i] * yp[k] - s->save_cdc[i] * yc[k]) / s->a[i];
    }
    for (int64_t i = 0; i < s->nl; i++) { /* interior, parents before children */
        if (s->state[i] != ST_INTERIOR) continue;
        double *yi = s->r + i * m;
        int64_t q = pp[lo + i];
        if (q < 0) {
            for (int64_t k = 0; k < m; k++)
                yi[k] /= s->a[i];
        } else {
            const double *yq = s->r + (q - lo) * m;
            for (int64_t k = 0; k < m; k++)
                yi[k] = (yi[k] - s->bu[i] * yq[k]) / s->a[i];
        }
    }
}

/* Rank 0: solve the gathered forest.  pos/par (K pairs), co (K rows of
 * 3 + m: a, bu, cd, r), y (K, m). */
static myo_status root_solve(int64_t K, int64_t m, const int64_t *pp2, const double *co, double *y)
{
    myo_status st = MYO_OK;
    int64_t *parent = myo_alloc((size_t)K, sizeof(int64_t), FNAME ": reduced parents");
    double *buf = myo_alloc((size_t)K, (size_t)(3 + m) * sizeof(double), FNAME ": reduced system");
    myo_tree *t = NULL;
    myo_factor *f = NULL;
    if (!parent || !buf) {
        st = MYO_ERR_NOMEM;
        goto out;
    }
    double *a = buf, *bu = buf + K, *cd = buf + 2 * K, *r = buf + 3 * K;
    for (int64_t i = 0; i < K; i++) {
        int64_t want = pp2[2 * i + 1], j = -1;
        if (want >= 0) { /* binary search in the sorted positions */
            int64_t l = 0, h = K;
            while (l < h) {
                int64_t mid = l + (h - l) / 2;
                if (pp2[2 * mid] < want)
                    l = mid + 1;
                else
                    h = mid;
            }
            if (l >= K || pp2[2 * l] != want) {
                st = myo_fail(MYO_ERR_DATA,
                              "%s: the reduced parent %lld of position %lld is not kept (do "
                              "the ranks hold the same tree?)",
                              FNAME, (long long)want, (long long)pp2[2 * i]);
                goto out;
            }
            j = l;
        }
        parent[i] = j;
        const double *c = co + i * (3 + m);
        a[i] = c[0], bu[i] = c[1], cd[i] = c[2];
        memcpy(r + i * m, c + 3, (size_t)m * sizeof(double));
    }
    st = myo_tree_create(parent, K, &t);
    if (st == MYO_OK) st = myo_factor_create_f64(t, a, bu, cd, &f);
    if (st == MYO_OK) st = myo_solve_f64(f, MYO_OP_N, r, y, m);
out:
    myo_factor_destroy(&f);
    myo_tree_destroy(&t);
    free(parent);
    free(buf);
    return st;
}

static myo_status solve_body(MPI_Comm comm, const myo_tree *t, const double *diag, const double *up,
                             const double *down, int64_t lo, int64_t hi, myo_op op, double *rhs,
                             int64_t m)
{
    myo_status st = MYO_OK, mine = MYO_OK;
    int rank = 0, size = 1;
    local_sys s = {0};
    long long *info = NULL;
    int *cnt = NULL, *dsp = NULL;
    int64_t *pairs = NULL, *all_pairs = NULL;
    double *co = NULL, *all_co = NULL, *ys = NULL, *all_y = NULL;
    MPI_TRY(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(comm, &size), "MPI_Comm_size");

    if (!t || !diag || !up || !down || m < 1 || lo < 0 || hi < lo || hi > t->n ||
        (op != MYO_OP_N && op != MYO_OP_T) || (hi > lo && !rhs))
        mine = myo_fail(MYO_ERR_ARG,
                        "%s: rank %d: bad arguments (tree %s, range [%lld, %lld), m = %lld, "
                        "op %d, a NULL array?)",
                        FNAME, rank, t ? "given" : "NULL", (long long)lo, (long long)hi,
                        (long long)m, (int)op);
    if (mine == MYO_OK) {
        s.lo = lo, s.hi = hi, s.nl = hi - lo, s.m = m, s.r = rhs;
        size_t n1 = (size_t)(s.nl > 0 ? s.nl : 1);
        s.state = myo_alloc(n1, 1, FNAME ": state");
        s.path = myo_alloc(n1, sizeof(int64_t), FNAME ": path");
        s.cpar = myo_alloc(n1, sizeof(int64_t), FNAME ": parents");
        s.a = myo_alloc(n1, 4 * sizeof(double), FNAME ": pivots");
        if (!s.state || !s.path || !s.cpar || !s.a)
            mine = MYO_ERR_NOMEM;
        else {
            s.bu = s.a + n1, s.cd = s.a + 2 * n1, s.save_cdc = s.a + 3 * n1;
            mine = local_reduce(t, diag, up, down, op, &s);
        }
    }
    if (mine == MYO_OK) { /* pack the kept nodes */
        pairs = myo_alloc((size_t)(s.kept > 0 ? s.kept : 1), 2 * sizeof(int64_t), FNAME);
        co = myo_alloc((size_t)(s.kept > 0 ? s.kept : 1), (size_t)(3 + m) * sizeof(double), FNAME);
        if (!pairs || !co)
            mine = MYO_ERR_NOMEM;
        else
            for (int64_t i = 0, k = 0; i < s.nl; i++) {
                if (s.state[i] != ST_KEPT) continue;
                pairs[2 * k] = lo + i;
                pairs[2 * k + 1] = s.cpar[i];
                double *c = co + k * (3 + m);
                c[0] = s.a[i], c[1] = s.bu[i], c[2] = s.cd[i];
                memcpy(c + 3, rhs + i * m, (size_t)m * sizeof(double));
                k++;
            }
    }

    /* agreement: every rank sees every rank's status, sizes and range */
    info = myo_alloc((size_t)size, 6 * sizeof(long long), FNAME ": info");
    cnt = myo_alloc((size_t)size, 2 * sizeof(int), FNAME ": counts");
    int nomem = 0;
    st = myo_mpi_any(comm, FNAME, !info || !cnt, &nomem);
    if (st != MYO_OK) goto done;
    if (nomem) {
        st = myo_fail(MYO_ERR_NOMEM, "%s: out of memory for %d ranks' counts", FNAME, size);
        goto done;
    }
    dsp = cnt + size;
    long long me[6] = {mine, m, t ? t->n : -1, lo, hi, mine == MYO_OK ? s.kept : 0};
    MPI_TRY(MPI_Allgather(me, 6, MPI_LONG_LONG, info, 6, MPI_LONG_LONG, comm), "MPI_Allgather");
    for (int r = 0; r < size; r++)
        if (info[6 * r] != MYO_OK) {
            st = (myo_status)info[6 * r];
            if (r != rank) myo_mpi_failed_elsewhere(st, FNAME, r, size);
            goto done;
        }
    long long total = 0;
    for (int r = 0; r < size; r++) {
        const long long *v = info + 6 * r;
        if (v[1] != info[1] || v[2] != info[2] || v[3] != (r ? info[6 * r - 2] : 0) ||
            (r == size - 1 && v[4] != v[2])) {
            st = myo_fail(MYO_ERR_ARG,
                          "%s: rank %d: m = %lld, n = %lld, range [%lld, %lld) does not continue "
                          "the ranges of the lower ranks (rank 0: m = %lld, n = %lld)",
                          FNAME, r, v[1], v[2], v[3], v[4], info[1], info[2]);
            goto done;
        }
        total += v[5];
    }
    if (total * (3 + m) > INT_MAX || total * 2 > INT_MAX) {
        st = myo_fail(MYO_ERR_ARG, "%s: %lld reduced nodes of %lld channels exceed an int count",
                      FNAME, total, (long long)m);
        goto done;
    }

    /* the reduced system to rank 0, solved there, solutions back */
    if (total > 0) {
        int rootnomem = 0;
        if (rank == 0) {
            all_pairs = myo_alloc((size_t)total, 2 * sizeof(int64_t), FNAME);
            all_co = myo_alloc((size_t)total, (size_t)(3 + m) * sizeof(double), FNAME);
            all_y = myo_alloc((size_t)total, (size_t)m * sizeof(double), FNAME);
            rootnomem = !all_pairs || !all_co || !all_y;
        }
        ys = myo_alloc((size_t)(s.kept > 0 ? s.kept : 1), (size_t)m * sizeof(double), FNAME);
        int nm = rootnomem || !ys;
        MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, &nm, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
        if (nm) {
            st = myo_fail(MYO_ERR_NOMEM, "%s: out of memory for the reduced system", FNAME);
            goto done;
        }
        for (int r = 0, d = 0; r < size; r++)
            cnt[r] = (int)(2 * info[6 * r + 5]), dsp[r] = d, d += cnt[r];
        MPI_TRY(MPI_Gatherv(pairs, (int)(2 * s.kept), MPI_INT64_T, all_pairs, cnt, dsp, MPI_INT64_T,
                            0, comm),
                "MPI_Gatherv");
        for (int r = 0, d = 0; r < size; r++)
            cnt[r] = (int)((3 + m) * info[6 * r + 5]), dsp[r] = d, d += cnt[r];
        MPI_TRY(MPI_Gatherv(co, (int)((3 + m) * s.kept), MPI_DOUBLE, all_co, cnt, dsp, MPI_DOUBLE,
                            0, comm),
                "MPI_Gatherv");
        int rst = MYO_OK;
        if (rank == 0) rst = root_solve(total, m, all_pairs, all_co, all_y);
        MPI_TRY(MPI_Bcast(&rst, 1, MPI_INT, 0, comm), "MPI_Bcast");
        if (rst != MYO_OK) {
            st = (myo_status)rst;
            if (rank != 0)
                myo_fail(st, "%s: the reduced system on rank 0 failed with %s", FNAME,
                         myo_status_str(st));
            goto done;
        }
        for (int r = 0, d = 0; r < size; r++)
            cnt[r] = (int)(m * info[6 * r + 5]), dsp[r] = d, d += cnt[r];
        MPI_TRY(
            MPI_Scatterv(all_y, cnt, dsp, MPI_DOUBLE, ys, (int)(m * s.kept), MPI_DOUBLE, 0, comm),
            "MPI_Scatterv");
        for (int64_t i = 0, k = 0; i < s.nl; i++)
            if (s.state[i] == ST_KEPT)
                memcpy(rhs + i * m, ys + m * k++, (size_t)m * sizeof(double));
    }
    local_back(t, &s);
done:
    free(s.state);
    free(s.path);
    free(s.cpar);
    free(s.a);
    free(info);
    free(cnt);
    free(pairs);
    free(co);
    free(all_pairs);
    free(all_co);
    free(all_y);
    free(ys);
    return st;
}

myo_status myo_solve_dist_f64(MPI_Comm comm, const myo_tree *t, const double *diag,
                              const double *up, const double *down, int64_t lo, int64_t hi,
                              myo_op op, double *rhs, int64_t m)
{
    MPI_Errhandler saved;
    MYO_CHECK(myo_mpi_enter(comm, FNAME, &saved));
    myo_status st = solve_body(comm, t, diag, up, down, lo, hi, op, rhs, m);
    myo_mpi_leave(comm, &saved);
    return st;
}
