/* solve_internal.h -- pieces of the serial solver (solve.c) for the
 * distributed solve (dist/dist_solve.c) (not installed). */
#ifndef MYO_SOLVE_INTERNAL_H
#define MYO_SOLVE_INTERNAL_H

#include "myosotis.h"

#include <stdint.h>

/* The factor's arrays by position: inv, up, down (N, H) in its precision,
 * with up and down 0 at roots and in the general form (the Laplacian
 * weights negated); updates (N, H) doubles, each node's update to its
 * parent's pivot (NULL for a chain, whose factor keeps none). */
void myo_factor_internals(const myo_factor *f, const void **inv, const void **up,
                          const void **down, const double **updates);
/* Pass 1 (children first) and pass 2 (parents first) of a solve, apart,
 * on a valid factor of a forest that is not a chain; unchecked. */
void myo_solve_pass1_f32(const myo_factor *f, myo_op op, const float *rhs, float *out, int64_t m);
void myo_solve_pass2_f32(const myo_factor *f, myo_op op, float *out, int64_t m);
void myo_solve_pass1_f64(const myo_factor *f, myo_op op, const double *rhs, double *out,
                         int64_t m);
void myo_solve_pass2_f64(const myo_factor *f, myo_op op, double *out, int64_t m);

#endif
