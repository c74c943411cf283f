/* schedule.c -- learning-rate schedules (myosotis_model.h): linear
 * warm-up, then cosine, linear or no decay. */
#include <config.h>

#include "core/core.h"
#include "myosotis_model.h"

#include <math.h>
#include <string.h>

static const char *const DECAY_NAMES[] = {"cosine", "linear", "constant"};
enum { N_DECAYS = sizeof DECAY_NAMES / sizeof DECAY_NAMES[0] };

myo_status myo_lr_schedule_check(const myo_lr_schedule *s)
{
    if (!s) return myo_fail(MYO_ERR_ARG, "learning-rate schedule: NULL");
    if (!(s->peak > 0 && isfinite(s->peak)))
        return myo_fail(MYO_ERR_ARG, "learning-rate schedule: peak rate %g, need > 0", s->peak);
    if (s->total < 1 || s->warmup < 0 || s->warmup > s->total)
        return myo_fail(MYO_ERR_ARG,
                        "learning-rate schedule: warm-up %lld of %lld updates, need 0 <= warm-up "
                        "<= updates and updates >= 1",
                        (long long)s->warmup, (long long)s->total);
    if ((int)s->decay < 0 || (int)s->decay >= N_DECAYS)
        return myo_fail(MYO_ERR_ARG, "learning-rate schedule: unknown decay %d", (int)s->decay);
    if (!(s->final_fraction >= 0 && s->final_fraction <= 1))
        return myo_fail(MYO_ERR_ARG, "learning-rate schedule: final fraction %g, need [0, 1]",
                        s->final_fraction);
    return MYO_OK;
}

double myo_lr_at(const myo_lr_schedule *s, int64_t t)
{
    if (t < 0 || !s || myo_lr_schedule_check(s) != MYO_OK) return NAN;
    if (t < s->warmup) return s->peak * (double)(t + 1) / (double)s->warmup;
    const double span = (double)(s->total - s->warmup);
    double q = span > 0 ? (double)(t - s->warmup) / span : 1.0;
    if (q > 1) q = 1;
    const double f = s->final_fraction;
    switch (s->decay) {
    case MYO_LR_COSINE: return s->peak * (f + (1 - f) * 0.5 * (1 + cos(M_PI * q)));
    case MYO_LR_LINEAR: return s->peak * (1 - (1 - f) * q);
    default: return s->peak;
    }
}

const char *myo_lr_decay_name(myo_lr_decay d)
{
    return (int)d >= 0 && (int)d < N_DECAYS ? DECAY_NAMES[d] : "?";
}

myo_status myo_lr_decay_parse(const char *text, myo_lr_decay *out)
{
    if (!text || !out) return myo_fail(MYO_ERR_ARG, "myo_lr_decay_parse: text and out required");
    for (int k = 0; k < N_DECAYS; k++)
        if (strcmp(text, DECAY_NAMES[k]) == 0) {
            *out = (myo_lr_decay)k;
            return MYO_OK;
        }
    return myo_fail(MYO_ERR_ARG, "unknown decay \"%.64s\"; valid: cosine, linear, constant", text);
}
