/* solve_ref.c -- the frozen reference twin of the tree solver.
 *
 * Plain double loops over the caller's labels, exactly the formulas of
 * docs/design.md section 1, with its own elimination order (Kahn's algorithm:
 * a node is eliminated once all its children are) and true divisions by
 * the pivots.  Do not optimise this file: it is the oracle. */
#include <config.h>

#include "core/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

myo_status myo_solve_ref(const int64_t *parent, int64_t n, const double *diag, const double *up,
                         const double *down, myo_op op, const double *rhs, double *out, int64_t m)
{
    if (!parent || !diag || !up || !down || !rhs || !out || n < 1 || m < 1 ||
        (op != MYO_OP_N && op != MYO_OP_T))
        return myo_fail(MYO_ERR_ARG, "myo_solve_ref: invalid arguments (n = %lld, m = %lld)",
                        (long long)n, (long long)m);
    /* M^T is the same tree with up and down swapped. */
    const double *b = op == MYO_OP_N ? up : down; /* M[i][parent(i)] */
    const double *c = op == MYO_OP_N ? down : up; /* M[parent(i)][i] */

    int64_t *pending = calloc((size_t)n, sizeof(int64_t));
    int64_t *elim = malloc((size_t)n * sizeof(int64_t));
    double *a = malloc((size_t)n * sizeof(double));
    if (!pending || !elim || !a) {
        free(pending), free(elim), free(a);
        return myo_fail(MYO_ERR_NOMEM, "myo_solve_ref: out of memory for n = %lld", (long long)n);
    }
    myo_status s = MYO_OK;
    for (int64_t i = 0; i < n && s == MYO_OK; i++) {
        if (parent[i] < -1 || parent[i] >= n || parent[i] == i)
            s = myo_fail(MYO_ERR_DATA, "myo_solve_ref: node %lld has invalid parent %lld",
                         (long long)i, (long long)parent[i]);
        else if (parent[i] >= 0)
            pending[parent[i]]++;
    }
    if (out != rhs) memcpy(out, rhs, (size_t)n * (size_t)m * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        a[i] = diag[i];

    /* Elimination: elim[] is used as a FIFO queue of nodes whose children are done. */
    int64_t head = 0, tail = 0;
    for (int64_t i = 0; i < n && s == MYO_OK; i++)
        if (pending[i] == 0) elim[tail++] = i;
    while (head < tail && s == MYO_OK) {
        int64_t i = elim[head++], p = parent[i];
        if (a[i] == 0.0 || !isfinite(a[i])) {
            s = myo_fail(MYO_ERR_SINGULAR, "myo_solve_ref: pivot of node %lld is %g", (long long)i,
                         a[i]);
            break;
        }
        if (p < 0) continue;
        a[p] -= c[i] * b[i] / a[i];
        for (int64_t k = 0; k < m; k++)
            out[p * m + k] -= (c[i] / a[i]) * out[i * m + k];
        if (--pending[p] == 0) elim[tail++] = p;
    }
    if (s == MYO_OK && tail < n)
        s = myo_fail(MYO_ERR_DATA, "myo_solve_ref: the parent array has a cycle");

    /* Back substitution, parents before children: the reverse elimination order. */
    for (int64_t e = n - 1; e >= 0 && s == MYO_OK; e--) {
        int64_t i = elim[e], p = parent[i];
        for (int64_t k = 0; k < m; k++) {
            double r = out[i * m + k];
            if (p >= 0) r -= b[i] * out[p * m + k];
            out[i * m + k] = r / a[i];
        }
    }
    free(pending), free(elim), free(a);
    return s;
}
