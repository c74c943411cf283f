/* attention_kernels.h -- attention.c's kernels, shared with the
 * distributed ring attention (dist/ring_attention.c) (not installed). */
#ifndef MYO_ATTENTION_KERNELS_H
#define MYO_ATTENTION_KERNELS_H

#include <stdint.h>

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

#endif
