/* internal.h -- declarations shared by the library's modules (not installed). */
#ifndef MYO_INTERNAL_H
#define MYO_INTERNAL_H

#include "myosotis.h"

#include <stddef.h>
#include <time.h>

#if defined(__GNUC__)
#define MYO_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MYO_PRINTF(fmt, args)
#endif

/* For kernel bodies that are specialised by constant arguments at their
 * call sites: without inlining, the specialisation is lost. */
#if defined(__GNUC__)
#define MYO_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MYO_ALWAYS_INLINE inline
#endif

/* Record the detail message of a failure and return its status, e.g.
 *     return myo_fail(MYO_ERR_DATA, "node %lld has parent %lld", ...); */
myo_status myo_fail(myo_status s, const char *fmt, ...) MYO_PRINTF(2, 3);

/* Pass a failure up unchanged (its detail is already recorded). */
#define MYO_CHECK(call)                                                                            \
    do {                                                                                           \
        myo_status myo_check_s_ = (call);                                                          \
        if (myo_check_s_ != MYO_OK) return myo_check_s_;                                           \
    } while (0)

/* malloc of count elements of size bytes with overflow check; NULL on failure
 * (the detail is recorded as MYO_ERR_NOMEM naming what). */
void *myo_alloc(size_t count, size_t size, const char *what);

/* Seconds on the monotonic clock, for myo_phase_times. */
static inline double myo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run the statement(s) and add the seconds they took to acc (variadic, so
 * that commas in a braced block need no extra parentheses). */
#define MYO_TIMED(acc, ...)                                                                        \
    do {                                                                                           \
        double myo_timed_t0_ = myo_now();                                                          \
        __VA_ARGS__;                                                                               \
        (acc) += myo_now() - myo_timed_t0_;                                                        \
    } while (0)

/* ---- attention.c's kernels, shared with ring_attention.c ---- */

/* c (rows, D) = a (rows, D) op(w) + beta c, op(w) = w or w^T (D, D) */
void myo_attn_gemm_rows(const float *a, const float *w, int trans_w, float beta, float *c,
                        int64_t rows, int64_t D);
/* g (D, D) = a^T b, a and b (rows, D) */
void myo_attn_gemm_weight_grad(const float *a, const float *b, float *g, int64_t rows, int64_t D);
/* a, b (len,): a . b */
float myo_attn_dot_row(const float *a, const float *b, int64_t len);

/* One head's block of query rows against a block of keys: q (rows, d),
 * k, v (keys, d), every matrix (o, dout, dq, dk, dv too) at row stride ld.
 * qpos, kpos: the sequence positions of query row 0 and key 0, for the
 * causal mask (query i sees keys j <= i). */
typedef struct {
    const float *q, *k, *v;
    int64_t rows, keys, d, ld;
    int64_t qpos, kpos;
    float scale; /* 1 / sqrt(d) */
    int causal;
} myo_attn_block;

/* FlashAttention-2's online softmax over the block's keys in tiles of tk:
 * o (rows, d) the unnormalised accumulator, run_m, run_l (rows,) the
 * running max and sum, all updated; s (rows, tk) scratch. */
void myo_attn_block_forward(const myo_attn_block *b, int64_t tk, float *o, float *run_m,
                            float *run_l, float *s);
/* o (rows, d) /= run_l; lse (rows,) = run_m + log run_l. */
void myo_attn_block_finish(int64_t rows, int64_t d, int64_t ld, const float *run_m,
                           const float *run_l, float *o, float *lse);
/* The backward of one block (one tile): P recomputed from lse (rows,);
 * delta (rows,) = rowsum(dO .* O); dq (rows, d), dk, dv (keys, d)
 * accumulate; p, dp (rows, keys) scratch. */
void myo_attn_block_backward(const myo_attn_block *b, const float *dout, const float *lse,
                             const float *delta, float *dq, float *dk, float *dv, float *p,
                             float *dp);

/* The tree object.  Labels are the caller's; "positions" index the internal
 * pre-order layout in which both solver passes stream through memory. */
struct myo_tree {
    int64_t n;        /* nodes */
    int64_t n_tokens; /* sequence tokens (n unless a kary hierarchy) */
    int64_t n_roots;
    int64_t height;
    int64_t *parent;     /* (n,) label -> parent label, -1 at roots */
    int64_t *order;      /* (n,) position -> label (pre-order) */
    int64_t *parent_pos; /* (n,) position -> parent's position, -1 at roots */
    int64_t *subtree;    /* (n,) position -> number of nodes in its subtree */
    int is_chain;        /* one path with order[i] == i and parent_pos[i] == i - 1 */
};

/* Build a tree from a parent array; children are visited in the order in
 * which the nodes appear in child_order (a permutation of 0..n-1, borrowed),
 * or in increasing label order when child_order is NULL. */
myo_status myo_tree_create_ordered(const int64_t *parent, int64_t n, const int64_t *child_order,
                                   myo_tree **out);

/* Pieces of the serial solver for the distributed solve (dist_solve.c).
 * The factor's arrays by position: inv, up, down (N, H) in its precision,
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
