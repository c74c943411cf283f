/* mathfn.h -- numerically safe scalar functions shared by the layers (not
 * installed).  None overflows to Inf or NaN for finite input: extreme
 * scores saturate instead. */
#ifndef MYO_MATHFN_H
#define MYO_MATHFN_H

#include <math.h>

/* softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|). */
static inline double myo_softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
static inline float myo_softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* sigmoid(x) = 1 / (1 + e^-x) = softplus'(x), without overflow for x << 0. */
static inline double myo_sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline float myo_sigmoidf(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* silu(x) = x sigmoid(x), and its derivative sigmoid(x) (1 + x (1 - sigmoid(x))). */
static inline double myo_silu(double x) { return x * myo_sigmoid(x); }
static inline float myo_siluf(float x) { return x * myo_sigmoidf(x); }
static inline double myo_silu_grad(double x)
{
    double s = myo_sigmoid(x);
    return s * (1.0 + x * (1.0 - s));
}
static inline float myo_silu_gradf(float x)
{
    float s = myo_sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}

#endif
