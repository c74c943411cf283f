/* core.h -- what every module of the library shares (not installed): the
 * failure helpers of status.c, the allocation with overflow check, the
 * monotonic clock for the phase times, and the compiler attributes. */
#ifndef MYO_CORE_H
#define MYO_CORE_H

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

#endif
