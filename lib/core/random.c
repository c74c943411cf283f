/* random.c -- reproducible random forests and diagonally dominant systems
 * for tests, demonstrations and benchmarks. */
#include <config.h>

#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

myo_rng myo_rng_seed(uint64_t seed)
{
    return (myo_rng){seed};
}

uint64_t myo_rng_next(myo_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double myo_rng_uniform(myo_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(myo_rng_next(r) >> 11) * 0x1.0p-53);
}

/* The modulo bias is below 2^-40 for any bound a tree can have. */
int64_t myo_rng_below(myo_rng *r, int64_t bound)
{
    return (int64_t)(myo_rng_next(r) % (uint64_t)bound);
}

void myo_random_forest_parents(int64_t n, int64_t trees, myo_rng *r, int64_t *parent)
{
    for (int64_t i = 0; i < n; i++)
        parent[i] = i < trees ? -1 : myo_rng_below(r, i);
}

myo_status myo_random_shuffle_labels(int64_t *parent, int64_t n, myo_rng *r, int64_t *new_label)
{
    int64_t *perm = myo_alloc((size_t)n, sizeof(int64_t), "label permutation");
    int64_t *old = myo_alloc((size_t)n, sizeof(int64_t), "parent copy");
    if (!perm || !old) {
        free(perm), free(old);
        return MYO_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = myo_rng_below(r, i + 1), tmp = perm[i];
        perm[i] = perm[j], perm[j] = tmp;
    }
    memcpy(old, parent, (size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++)
        parent[perm[i]] = old[i] < 0 ? -1 : perm[old[i]];
    if (new_label) memcpy(new_label, perm, (size_t)n * sizeof(int64_t));
    free(perm), free(old);
    return MYO_OK;
}

myo_status myo_random_dominant_coeffs(const int64_t *parent, int64_t n, myo_rng *r, int signed_diag,
                                      double *diag, double *up, double *down)
{
    double *col = myo_alloc((size_t)n, sizeof(double), "column sums");
    if (!col) return MYO_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        up[i] = parent[i] < 0 ? 0.0 : myo_rng_uniform(r, -1.0, 1.0);
        down[i] = parent[i] < 0 ? 0.0 : myo_rng_uniform(r, -1.0, 1.0);
        diag[i] = col[i] = 0.0;
    }
    /* Row i holds up[i] and the down[c] of its children; column i holds
     * down[i] and the up[c] of its children.  diag accumulates row sums. */
    for (int64_t i = 0; i < n; i++) {
        diag[i] += fabs(up[i]), col[i] += fabs(down[i]);
        if (parent[i] >= 0) diag[parent[i]] += fabs(down[i]), col[parent[i]] += fabs(up[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        double magnitude = fmax(diag[i], col[i]) + myo_rng_uniform(r, 0.5, 1.5);
        diag[i] = signed_diag && (myo_rng_next(r) & 1) ? -magnitude : magnitude;
    }
    free(col);
    return MYO_OK;
}

void myo_random_values(double *v, int64_t count, myo_rng *r)
{
    for (int64_t i = 0; i < count; i++)
        v[i] = myo_rng_uniform(r, -1.0, 1.0);
}
