/* mathfn.h -- numerically safe scalar functions shared by the layers (not
 * installed): libm-based double versions for the reference twins, and
 * float versions that vectorise for the kernels.  None overflows to Inf or
 * NaN for finite input: extreme scores saturate instead. */
#ifndef MYO_MATHFN_H
#define MYO_MATHFN_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|). */
static inline double myo_softplus(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

/* sigmoid(x) = 1 / (1 + e^-x) = softplus'(x), without overflow for x << 0. */
static inline double myo_sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* silu(x) = x sigmoid(x), and its derivative sigmoid(x) (1 + x (1 - sigmoid(x))). */
static inline double myo_silu(double x)
{
    return x * myo_sigmoid(x);
}
static inline double myo_silu_grad(double x)
{
    double s = myo_sigmoid(x);
    return s * (1.0 + x * (1.0 - s));
}

/* Float versions that vectorise.  The functions above call libm, which the
 * compiler cannot vectorise; loops over many values use these instead.
 * Float comparisons would stop GCC's if-conversion (they may trap), so
 * selections work on the bits. */

static inline uint32_t myo_f2u(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float myo_u2f(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* e^x for x <= 0 (Cephes expf: round x / ln 2 to k, a degree-6 polynomial on
 * the remainder, scale by 2^k), within 1 ulp; 0 for x < -87 (and -Inf),
 * where e^x < 1.7e-38 would need a denormal. */
static inline float myo_exp_nonposf(float x)
{
    uint32_t xb = myo_f2u(x), keep = xb > 0xC2AE0000u ? 0u : ~0u; /* 0xC2AE0000 = -87.0f */
    x = myo_u2f((xb & keep) | (0xC2AE0000u & ~keep));  /* clamped: the steps below stay in range */
    float fk = x * 1.44269504088896341f + 12582912.0f; /* 1.5 2^23: rounds to an integer */
    fk -= 12582912.0f;
    float r = x - fk * 0.693359375f;
    r -= fk * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    return myo_u2f(myo_f2u(p * myo_u2f((uint32_t)((int32_t)fk + 127) << 23)) & keep);
}

/* log(1 + e) for 0 <= e <= 1: 2 atanh(r), r = e / (2 + e) <= 1/3, by its
 * series to r^13 (truncation below 2e-8 relative). */
static inline float myo_log1p_unitf(float e)
{
    float r = e / (2.0f + e), q = r * r;
    float s =
        ((((((1.0f / 13) * q + 1.0f / 11) * q + 1.0f / 9) * q + 1.0f / 7) * q + 1.0f / 5) * q +
         1.0f / 3) *
        q;
    return 2.0f * r + 2.0f * r * s;
}

/* a where x has its sign bit set, b elsewhere. */
static inline float myo_select_negf(float x, float a, float b)
{
    uint32_t m = (uint32_t)((int32_t)myo_f2u(x) >> 31);
    return myo_u2f((myo_f2u(a) & m) | (myo_f2u(b) & ~m));
}

/* sigmoid(x) = 1 / (1 + e^-x), from e = e^-|x| <= 1 (no overflow). */
static inline float myo_sigmoid_vf(float x)
{
    float e = myo_exp_nonposf(-fabsf(x)), inv = 1.0f / (1.0f + e);
    return myo_select_negf(x, e * inv, inv);
}

/* softplus(x) = max(x, 0) + log(1 + e^-|x|); *sig = sigmoid(x) = softplus'(x)
 * unless sig is NULL. */
static inline float myo_softplus_vf(float x, float *sig)
{
    float e = myo_exp_nonposf(-fabsf(x)), inv = 1.0f / (1.0f + e);
    if (sig) *sig = myo_select_negf(x, e * inv, inv);
    return myo_select_negf(x, 0.0f, x) + myo_log1p_unitf(e);
}

#endif
