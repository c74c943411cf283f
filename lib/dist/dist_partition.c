/* dist_partition.c -- the partitioners of the distributed solvers: how the
 * nodes of a tree are split over ranks by contiguous pre-order position
 * ranges, and the copies between the tree's labels and a rank's position
 * order (myosotis_dist.h, "partitioning").
 *
 * Every function here is Local and deterministic, O(N + size), and makes
 * no MPI call: every rank computes the same off (size + 1).
 *
 * Leaf ranges.  With L leaves in pre-order and f_r = floor(L r / size) the
 * first leaf of rank r, off[r] is the smallest position p whose first leaf
 * at or after p has index >= f_r.  The number of leaves before p is
 * non-decreasing in p, so this is p = 0 for f_r = 0 and otherwise the
 * position right after leaf f_r - 1: the topmost node whose leftmost leaf
 * is leaf f_r (its parent holds leaf f_r - 1).  A node whose leftmost leaf
 * is leaf a then lands on the rank r with f_r <= a < f_{r+1}, whether or
 * not its other leaves are that rank's too; ranks with f_r = f_{r+1} get
 * empty ranges, and off is non-decreasing because f_r is.
 *
 * Work ranges.  With S(p) the work of the positions [0, p) summed in
 * pre-order in double and T_r = total r / size, off[r] (0 < r < size) is
 * the smallest p in [0, N] with S(p) >= T_r: rank r starts at the first
 * position whose preceding work reaches T_r, so the node that crosses T_r
 * stays on the lower rank r - 1.  Each rank's work is then below
 * total / size + the largest single work (up to rounding).  total = 0
 * (every work zero, or N = 0) falls back to even node counts. */
#include <config.h>

#include "core/core.h"
#include "myosotis_dist.h"
#include "tree/tree_internal.h"

#include <math.h>
#include <string.h>

myo_status myo_dist_even_ranges(int64_t n, int size, int64_t *off)
{
    if (n < 0 || size < 1 || !off)
        return myo_fail(MYO_ERR_ARG, "myo_dist_even_ranges: n = %lld, size = %d, off %s",
                        (long long)n, size, off ? "given" : "NULL");
    for (int r = 0; r <= size; r++)
        off[r] = (int64_t)((__int128)n * r / size);
    return MYO_OK;
}

/* The number of empty ranges of off (size + 1). */
static int count_idle(const int64_t *off, int size)
{
    int idle = 0;
    for (int r = 0; r < size; r++)
        idle += off[r] == off[r + 1];
    return idle;
}

static myo_status check_partition_args(const char *name, const myo_tree *t, int size,
                                       const int64_t *off)
{
    if (!t || !off || size < 1)
        return myo_fail(MYO_ERR_ARG, "%s: tree %s, off %s, size = %d", name, t ? "given" : "NULL",
                        off ? "given" : "NULL", size);
    return MYO_OK;
}

myo_status myo_dist_leaf_ranges(const myo_tree *t, int size, int64_t *off, int *idle)
{
    MYO_CHECK(check_partition_args("myo_dist_leaf_ranges", t, size, off));
    const int64_t n = t->n, *sub = t->subtree;
    int64_t leaves = 0;
    for (int64_t p = 0; p < n; p++)
        leaves += sub[p] == 1;

    /* One sweep over the leaves: rank r with first leaf f_r > 0 starts
     * right after leaf f_r - 1.  f_r is non-decreasing and below L for r <
     * size, so each such rank is met once, at the leaf whose count equals
     * f_r; equal f_r (the empty ranks) start at the same place. */
    off[0] = 0;
    int r = 1;
    while (r < size && (int64_t)((__int128)leaves * r / size) == 0)
        off[r++] = 0;
    int64_t seen = 0; /* leaves at positions <= p */
    for (int64_t p = 0; p < n && r < size; p++) {
        if (sub[p] != 1) continue;
        seen++;
        while (r < size && (int64_t)((__int128)leaves * r / size) == seen)
            off[r++] = p + 1;
    }
    for (; r <= size; r++)
        off[r] = n;
    if (idle) *idle = count_idle(off, size);
    return MYO_OK;
}

myo_status myo_dist_work_ranges(const myo_tree *t, int size, const double *work, int64_t *off,
                                int *idle)
{
    MYO_CHECK(check_partition_args("myo_dist_work_ranges", t, size, off));
    const int64_t n = t->n, *order = t->order;
    if (work)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(work[i]) || work[i] < 0)
                return myo_fail(MYO_ERR_ARG,
                                "myo_dist_work_ranges: work of node %lld is %g (must be finite "
                                "and >= 0)",
                                (long long)i, work[i]);

    /* The same summation order as the sweep below, so that S(N) == total. */
    double total = 0;
    for (int64_t p = 0; p < n; p++)
        total += work ? work[order[p]] : 1.0;
    if (!isfinite(total))
        return myo_fail(MYO_ERR_ARG, "myo_dist_work_ranges: the total work overflows (%g)", total);
    if (total == 0) {
        MYO_CHECK(myo_dist_even_ranges(n, size, off));
        if (idle) *idle = count_idle(off, size);
        return MYO_OK;
    }

    off[0] = 0;
    int r = 1;
    double s = 0; /* S(p): the work of the positions [0, p) */
    for (int64_t p = 0; p < n && r < size; p++) {
        while (r < size && s >= total * r / size)
            off[r++] = p;
        s += work ? work[order[p]] : 1.0;
    }
    /* Targets not reached before N (S(N) = total >= T_r, or rounding). */
    for (; r <= size; r++)
        off[r] = n;
    if (idle) *idle = count_idle(off, size);
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

/* global (N, m) in labels -> local (hi - lo, m) in position order */
myo_status myo_dist_rows_from_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                     const double *global, double *local)
{
    MYO_CHECK(check_range("myo_dist_rows_from_labels", t, lo, hi, m, global, local));
    for (int64_t p = lo; p < hi; p++)
        memcpy(local + (p - lo) * m, global + t->order[p] * m, (size_t)m * sizeof(double));
    return MYO_OK;
}

/* local (hi - lo, m) in position order -> those rows of global (N, m) */
myo_status myo_dist_rows_to_labels(const myo_tree *t, int64_t lo, int64_t hi, int64_t m,
                                   const double *local, double *global)
{
    MYO_CHECK(check_range("myo_dist_rows_to_labels", t, lo, hi, m, local, global));
    for (int64_t p = lo; p < hi; p++)
        memcpy(global + t->order[p] * m, local + (p - lo) * m, (size_t)m * sizeof(double));
    return MYO_OK;
}
