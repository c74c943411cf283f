/* pathfinder.c -- Pathfinder / Path-X: the snake generator after
 * drewlinsley/pathfinder (snakes2.py, snakes.py) and the loader of LRA's
 * files (pathfinder.h).
 *
 * The generator follows the original step by step (docs/lra.md
 * section 5): integer pixel coordinates rounded as the original rounds them
 * (ceil in translate_coord, truncation of the candidate endpoints, round
 * for the second seed), the same draws in the same order (label, margin,
 * seed orientation, tail, ...), the occupancy mask of footprints dilated by
 * the margin, the candidate endpoints on a circle of radius L+m around the
 * pivot spaced one pixel of arc apart, the continuity weights
 * max(cos(min(c * dtheta, pi/2)), 0)^2, the "mask + footprint < 1.8" test
 * against every paddle but the snake's own last one, distractors with the
 * snake contrast only, markers of intensity 1 combined by max, and the
 * byte scaling of scipy.misc.imsave.  Simplifications (docs/lra.md section
 * 5.3 and below): box-filter antialiasing at antialias_scale x
 * antialias_scale subsamples instead of PIL's line at antialias_scale x
 * resolution followed by a Lanczos resize (lines are capsules with round
 * ends); the footprint is the set of subsamples within half-width + m of
 * the axis instead of a disk dilation at the fine resolution; the last
 * paddles of both target snakes (not only the second's) enter the mask;
 * a paddle may not draw on a pixel another snake drew (so the snake map is
 * a partition); our own sin/cos/atan2 so that results do not depend on the
 * C library; the pair of target snakes is regenerated at most
 * PF_MAX_PAIR_ATTEMPTS times.
 */
#define _POSIX_C_SOURCE 200809L
#include <config.h>

#include "pathfinder.h"
#include "dataset_file.h"
#include "png_io.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bit-identical results on every machine: no fused multiply-adds. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define PF_MAX_PAIR_ATTEMPTS 100000

/* ---------------------------------------------------------- parameters */

static const char *const difficulty_dirs[3] = {"curv_baseline", "curv_contour_length_9",
                                               "curv_contour_length_14"};
static const int difficulty_lengths[3] = {6, 9, 14};

const char *myo_pf_difficulty_dir(myo_pf_difficulty difficulty)
{
    if ((int)difficulty < 0 || (int)difficulty > 2) return NULL;
    return difficulty_dirs[difficulty];
}

myo_status myo_pf_difficulty_parse(const char *name, myo_pf_difficulty *difficulty)
{
    static const char *const alias[3][4] = {{"curv_baseline", "baseline", "6", "easy"},
                                            {"curv_contour_length_9", "9", "medium", "cl9"},
                                            {"curv_contour_length_14", "14", "hard", "cl14"}};
    if (!name || !difficulty) return myo_data_fail(MYO_ERR_ARG, "pathfinder difficulty: NULL");
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 4; k++)
            if (strcmp(name, alias[d][k]) == 0) {
                *difficulty = (myo_pf_difficulty)d;
                return MYO_OK;
            }
    return myo_data_fail(MYO_ERR_ARG,
                         "pathfinder difficulty '%s': expected curv_baseline (6), "
                         "curv_contour_length_9 (9) or curv_contour_length_14 (14)",
                         name);
}

myo_status myo_pf_params_lra(int size, myo_pf_difficulty difficulty, myo_pf_params *p)
{
    if (!p) return myo_data_fail(MYO_ERR_ARG, "myo_pf_params_lra: NULL params");
    if ((int)difficulty < 0 || (int)difficulty > 2)
        return myo_data_fail(MYO_ERR_ARG, "myo_pf_params_lra: difficulty %d not 0, 1 or 2",
                             (int)difficulty);
    if (size != 32 && size != 128)
        return myo_data_fail(MYO_ERR_ARG, "myo_pf_params_lra: size %d (LRA has 32 and 128)", size);
    memset(p, 0, sizeof *p);
    int cl = difficulty_lengths[difficulty];
    p->size = size;
    p->contour_length = cl;
    /* distractor_length = cl / 3 and the distractor counts 20 / dl, 35 / dl:
     * integer divisions, as Python 2 evaluated them */
    p->distractor_length = cl / 3;
    p->use_single_paddles = 0; /* snakes2_wrapper.py sets False */
    p->padding = 1;
    p->antialias_scale = 2;
    p->max_paddle_retrial = 2;
    p->max_segment_trial = 2;
    p->max_distractor_contour_retrial = 4;
    if (size == 32) {
        p->num_distractor_snakes = 20 / p->distractor_length;
        p->paddle_length = 2;
        p->paddle_thickness = 0.5;
        p->num_margins = 1;
        p->margins[0] = 1;
        p->continuity = 1.0;
        p->seed_distance = 7;
        p->marker_radius = 1.5;
        p->snake_contrast = 2.0;
        p->paddle_contrast = 0.75;
    } else {
        p->num_distractor_snakes = 35 / p->distractor_length;
        p->paddle_length = 5;
        p->paddle_thickness = 1.5;
        p->num_margins = 2;
        p->margins[0] = 2;
        p->margins[1] = 3;
        p->continuity = 1.8;
        p->seed_distance = 20;
        p->marker_radius = 3;
        p->snake_contrast = 0.9;
        p->paddle_contrast = 1.0;
    }
    return MYO_OK;
}

static myo_status check_params(const myo_pf_params *p)
{
    if (!p) return myo_data_fail(MYO_ERR_ARG, "pathfinder: NULL params");
#define PF_REQUIRE(cond, what)                                                                     \
    do {                                                                                           \
        if (!(cond)) return myo_data_fail(MYO_ERR_ARG, "pathfinder parameters: %s", what);         \
    } while (0)
    PF_REQUIRE(p->size >= 8 && p->size <= 1024, "size not in [8, 1024]");
    PF_REQUIRE(p->contour_length >= 2 && p->contour_length <= 1000,
               "contour_length not in [2, 1000]");
    PF_REQUIRE(p->distractor_length >= 1 && p->distractor_length <= 1000,
               "distractor_length not in [1, 1000]");
    PF_REQUIRE(p->num_distractor_snakes >= 0 && p->num_distractor_snakes <= 250,
               "num_distractor_snakes not in [0, 250]");
    PF_REQUIRE(p->padding >= 0 && 2 * p->padding < p->size, "padding not in [0, size/2)");
    PF_REQUIRE(p->paddle_length >= 1 && p->paddle_length <= 64, "paddle_length not in [1, 64]");
    PF_REQUIRE(p->paddle_thickness > 0 && p->paddle_thickness <= 64,
               "paddle_thickness not in (0, 64]");
    PF_REQUIRE(p->num_margins >= 1 && p->num_margins <= MYO_PF_MAX_MARGINS,
               "num_margins not in [1, 4]");
    for (int k = 0; k < p->num_margins; k++)
        PF_REQUIRE(p->margins[k] >= 0 && p->margins[k] <= 64, "a margin not in [0, 64]");
    PF_REQUIRE(p->continuity >= 0 && p->continuity <= 100, "continuity not in [0, 100]");
    PF_REQUIRE(p->seed_distance >= 0 && p->seed_distance <= p->size,
               "seed_distance not in [0, size]");
    PF_REQUIRE(p->marker_radius > 0 && p->marker_radius <= 64, "marker_radius not in (0, 64]");
    PF_REQUIRE(p->snake_contrast > 0 && p->snake_contrast <= 1000,
               "snake_contrast not in (0, 1000]");
    PF_REQUIRE(p->paddle_contrast > 0 && p->paddle_contrast <= 1000,
               "paddle_contrast not in (0, 1000]");
    PF_REQUIRE(p->antialias_scale >= 1 && p->antialias_scale <= 16,
               "antialias_scale not in [1, 16]");
    PF_REQUIRE(p->max_paddle_retrial >= 0 && p->max_paddle_retrial <= 100,
               "max_paddle_retrial not in [0, 100]");
    PF_REQUIRE(p->max_segment_trial >= 0 && p->max_segment_trial <= 100,
               "max_segment_trial not in [0, 100]");
    PF_REQUIRE(p->max_distractor_contour_retrial >= 0 && p->max_distractor_contour_retrial <= 100,
               "max_distractor_contour_retrial not in [0, 100]");
#undef PF_REQUIRE
    return MYO_OK;
}

/* --------------------------------------------- portable trigonometry */

#define PF_PI 3.14159265358979323846
#define PF_PIO2_HI 1.57079632679489655800e+00
#define PF_PIO2_LO 6.12323399573676603587e-17

/* sin and cos by Cody-Waite reduction to [-pi/4, pi/4] and Taylor series:
 * only +, -, *, / and rint, so every IEEE machine gives the same bits. */
static void pf_sincos(double x, double *s, double *c)
{
    double k = rint(x / (PF_PI / 2));
    double r = (x - k * PF_PIO2_HI) - k * PF_PIO2_LO;
    double r2 = r * r;
    double sr =
        r *
        (1 + r2 * (-1.0 / 6 +
                   r2 * (1.0 / 120 +
                         r2 * (-1.0 / 5040 + r2 * (1.0 / 362880 +
                                                   r2 * (-1.0 / 39916800 +
                                                         r2 * (1.0 / 6227020800.0 +
                                                               r2 * (-1.0 / 1307674368000.0))))))));
    double cr =
        1 + r2 * (-0.5 + r2 * (1.0 / 24 + r2 * (-1.0 / 720 +
                                                r2 * (1.0 / 40320 +
                                                      r2 * (-1.0 / 3628800 +
                                                            r2 * (1.0 / 479001600.0 +
                                                                  r2 * (-1.0 / 87178291200.0)))))));
    long q = (long)k & 3;
    switch (q) {
    case 0:
        *s = sr, *c = cr;
        break;
    case 1:
        *s = cr, *c = -sr;
        break;
    case 2:
        *s = -sr, *c = -cr;
        break;
    default:
        *s = -cr, *c = sr;
        break;
    }
}

static double pf_cos(double x)
{
    double s, c;
    pf_sincos(x, &s, &c);
    return c;
}

/* atan for z >= 0: two half-angle reductions to z <= tan(pi/16), then the
 * series. */
static double pf_atan_pos(double z)
{
    int invert = z > 1;
    if (invert) z = 1 / z;
    z = z / (1 + sqrt(1 + z * z));
    z = z / (1 + sqrt(1 + z * z));
    double z2 = z * z, term = z, sum = z;
    for (int k = 1; k <= 12; k++) {
        term *= -z2;
        sum += term / (2 * k + 1);
    }
    sum *= 4;
    return invert ? PF_PI / 2 - sum : sum;
}

static double pf_atan2(double y, double x)
{
    if (x == 0 && y == 0) return 0;
    double ay = fabs(y), ax = fabs(x), a;
    if (ax >= ay)
        a = pf_atan_pos(ay / ax);
    else
        a = PF_PI / 2 - pf_atan_pos(ax / ay);
    if (x < 0) a = PF_PI - a;
    return y < 0 ? -a : a;
}

/* ----------------------------------------------------------- geometry */

typedef struct {
    double y0, x0, y1, x1; /* the axis, in pixel units (pixel r spans [r, r+1)) */
    float intensity;
    int snake;
} pf_paddle;

/* Squared distance from (py, px) to the segment. */
static double seg_dist2(const pf_paddle *g, double py, double px)
{
    double dy = g->y1 - g->y0, dx = g->x1 - g->x0;
    double len2 = dy * dy + dx * dx;
    double t = 0;
    if (len2 > 0) {
        t = ((py - g->y0) * dy + (px - g->x0) * dx) / len2;
        if (t < 0) t = 0;
        if (t > 1) t = 1;
    }
    double ey = g->y0 + t * dy - py, ex = g->x0 + t * dx - px;
    return ey * ey + ex * ex;
}

/* Whether the axis crosses pixel (r, c) (Liang-Barsky clipping). */
static int seg_crosses_pixel(const pf_paddle *g, int r, int c)
{
    double t0 = 0, t1 = 1;
    double d[2] = {g->y1 - g->y0, g->x1 - g->x0}, o[2] = {g->y0, g->x0};
    double lo[2] = {r, c}, hi[2] = {r + 1.0, c + 1.0};
    for (int a = 0; a < 2; a++) {
        if (d[a] == 0) {
            if (o[a] < lo[a] || o[a] > hi[a]) return 0;
            continue;
        }
        double ta = (lo[a] - o[a]) / d[a], tb = (hi[a] - o[a]) / d[a];
        if (ta > tb) {
            double tmp = ta;
            ta = tb, tb = tmp;
        }
        if (ta > t0) t0 = ta;
        if (tb < t1) t1 = tb;
        if (t0 > t1) return 0;
    }
    return 1;
}

typedef struct {
    const myo_pf_params *p;
    int size, s; /* window, subsamples per pixel side */
    int m;       /* this image's margin */
    double hw;   /* line half-width in pixels */
    double L;
    float *mask;      /* committed footprints, in [0, 1] */
    uint8_t *ids;     /* snake map */
    float *save_mask; /* snapshots for rolling back a failed distractor */
    uint8_t *save_ids;
    int32_t *avail;      /* candidate tails */
    int32_t *prefix;     /* (size+1)^2 prefix sums of blocked pixels */
    int32_t *struct_off; /* seed struct offsets (dy, dx pairs) */
    int struct_cap;
    pf_paddle *paddles;
    int npaddles, cap;
    /* pending: the last paddle of each growing snake (not in mask yet) */
    pf_paddle pending[2];
    int has_pending[2];
} pf_ctx;

/* Fraction of the subsamples of pixel (r, c) within rad of the axis. */
static double coverage(const pf_ctx *x, const pf_paddle *g, int r, int c, double rad)
{
    int s = x->s, n = 0;
    double rad2 = rad * rad;
    for (int i = 0; i < s; i++)
        for (int j = 0; j < s; j++)
            if (seg_dist2(g, r + (i + 0.5) / s, c + (j + 0.5) / s) <= rad2) n++;
    return (double)n / (s * s);
}

static double footprint_at(const pf_ctx *x, const pf_paddle *g, int r, int c)
{
    return coverage(x, g, r, c, x->hw + x->m);
}

/* The pixel box around the axis within rad, clipped to the window. */
static void paddle_box(const pf_ctx *x, const pf_paddle *g, double rad, int *r0, int *r1, int *c0,
                       int *c1)
{
    double ylo = fmin(g->y0, g->y1) - rad, yhi = fmax(g->y0, g->y1) + rad;
    double xlo = fmin(g->x0, g->x1) - rad, xhi = fmax(g->x0, g->x1) + rad;
    *r0 = (int)floor(ylo), *r1 = (int)floor(yhi), *c0 = (int)floor(xlo), *c1 = (int)floor(xhi);
    if (*r0 < 0) *r0 = 0;
    if (*c0 < 0) *c0 = 0;
    if (*r1 > x->size - 1) *r1 = x->size - 1;
    if (*c1 > x->size - 1) *c1 = x->size - 1;
}

/* Mask value at (r, c) as the snake in slot `self` sees it: the committed
 * footprints only.  As in the original, the newest paddle of each growing
 * snake is not in the mask yet (two_snakes even checks a paddle of one
 * target against neither target's newest paddle); the snake map check of
 * paddle_fits keeps the two targets from drawing on each other. */
static double view_at(const pf_ctx *x, int r, int c, int self)
{
    (void)self;
    return x->mask[(size_t)r * x->size + c];
}

static int pixel_of_paddle(const pf_ctx *x, const pf_paddle *g, int r, int c)
{
    return seg_crosses_pixel(g, r, c) || coverage(x, g, r, c, x->hw) > 0;
}

/* The overlap test of the original (view + footprint < 1.8 everywhere)
 * plus: no pixel of the paddle already belongs to another snake. */
static int paddle_fits(const pf_ctx *x, const pf_paddle *g, int self, int check_mask)
{
    int r0, r1, c0, c1;
    paddle_box(x, g, x->hw + x->m + 1, &r0, &r1, &c0, &c1);
    for (int r = r0; r <= r1; r++)
        for (int c = c0; c <= c1; c++) {
            double f = footprint_at(x, g, r, c);
            if (check_mask && f > 0 && view_at(x, r, c, self) + f >= 1.8) return 0;
            uint8_t id = x->ids[(size_t)r * x->size + c];
            if (id != 0 && (id != g->snake || id == MYO_PF_SINGLE_ID) &&
                pixel_of_paddle(x, g, r, c))
                return 0;
        }
    return 1;
}

static void commit_mask(pf_ctx *x, const pf_paddle *g)
{
    int r0, r1, c0, c1;
    paddle_box(x, g, x->hw + x->m + 1, &r0, &r1, &c0, &c1);
    for (int r = r0; r <= r1; r++)
        for (int c = c0; c <= c1; c++) {
            float f = (float)footprint_at(x, g, r, c);
            float *v = &x->mask[(size_t)r * x->size + c];
            if (f > *v) *v = f;
        }
}

static myo_status add_paddle(pf_ctx *x, const pf_paddle *g)
{
    if (x->npaddles == x->cap) {
        int cap = x->cap ? 2 * x->cap : 256;
        pf_paddle *np = realloc(x->paddles, (size_t)cap * sizeof *np);
        if (!np) return myo_data_fail(MYO_ERR_NOMEM, "pathfinder: cannot grow the paddle list");
        x->paddles = np, x->cap = cap;
    }
    x->paddles[x->npaddles++] = *g;
    int r0, r1, c0, c1;
    paddle_box(x, g, x->hw + 1, &r0, &r1, &c0, &c1);
    for (int r = r0; r <= r1; r++)
        for (int c = c0; c <= c1; c++) {
            uint8_t *id = &x->ids[(size_t)r * x->size + c];
            if (*id == 0 && pixel_of_paddle(x, g, r, c)) *id = (uint8_t)g->snake;
        }
    return MYO_OK;
}

static int in_window(const pf_ctx *x, int r, int c)
{
    return r >= 0 && r < x->size && c >= 0 && c < x->size;
}

/* translate_coord of the original: ceil(coord + dist * (sin, cos)). */
static void translate(int r, int c, double sn, double cs, double dist, int *nr, int *nc)
{
    *nr = (int)ceil(r + dist * sn);
    *nc = (int)ceil(c + dist * cs);
}

/* A paddle of length L from the centre of pixel (r, c) along (sn, cs). */
static pf_paddle make_paddle(const pf_ctx *x, int r, int c, double sn, double cs, float intensity,
                             int snake)
{
    pf_paddle g;
    g.y0 = r + 0.5, g.x0 = c + 0.5;
    g.y1 = g.y0 + x->L * sn, g.x1 = g.x0 + x->L * cs;
    g.intensity = intensity, g.snake = snake;
    return g;
}

typedef struct {
    int pivot_r, pivot_c;  /* the pivot of the last paddle */
    double orient, sn, cs; /* its orientation (radians) and direction */
    int tail_r, tail_c;    /* the origin tip */
    int head_r, head_c;    /* the current terminal tip */
} pf_snake;

/* Blocked value of pixel q for a seed: outside the window or in the band
 * -> 1, else the mask (and the view of the other slots). */
static double seed_blocked(const pf_ctx *x, int r, int c, int band, int self)
{
    if (r < band || c < band || r >= x->size - band || c >= x->size - band) return 1;
    return view_at(x, r, c, self);
}

/* The struct of a seed: pixels fully inside the footprint of a paddle from
 * the centre of pixel (0, 0) along (sn, cs).  Returns the count; *ext the
 * largest |offset|. */
static int seed_struct(pf_ctx *x, double sn, double cs, int *ext)
{
    pf_paddle g = make_paddle(x, 0, 0, sn, cs, 1, 0);
    int R = (int)ceil(x->L + x->hw + x->m) + 1, n = 0;
    *ext = 0;
    for (int dy = -R; dy <= R; dy++)
        for (int dx = -R; dx <= R; dx++) {
            double f = coverage(x, &g, dy, dx, x->hw + x->m);
            if (f >= 1) {
                x->struct_off[2 * n] = dy, x->struct_off[2 * n + 1] = dx, n++;
                int a = abs(dy) > abs(dx) ? abs(dy) : abs(dx);
                if (a > *ext) *ext = a;
            }
        }
    return n;
}

/* seed_snake / the seeds of initialize_two_seeds: draw an orientation,
 * choose a uniform tail among the pixels whose paddle struct meets no
 * blocked pixel (band: the blocked border width), check the head and the
 * pivot.  stop_availability > 0: fail when fewer than that fraction of the
 * pixels are free (mask <= 0.3).  fixed_tail: the tail is given (the
 * second target seed, *tail_r/_c on entry; only bounds are checked). */
static int seed_snake(pf_ctx *x, myo_rng *rng, int band, double stop_availability, int self,
                      int fixed_tail_from_r, int fixed_tail_from_c, pf_snake *sn, float intensity,
                      int snake)
{
    const myo_pf_params *p = x->p;
    int size = x->size;
    if (stop_availability > 0) {
        int64_t free_px = 0;
        for (size_t i = 0; i < (size_t)size * size; i++)
            free_px += x->mask[i] <= 0.3f;
        if ((double)free_px / ((double)size * size) < stop_availability) return 0;
    }
    int W = size + 1;
    if (fixed_tail_from_r < 0) {
        /* prefix sums of the blocked pixels, for a quick all-free box test */
        for (int i = 0; i < W; i++)
            x->prefix[i] = 0;
        for (int r = 0; r < size; r++) {
            x->prefix[(size_t)(r + 1) * W] = 0;
            for (int cc = 0; cc < size; cc++)
                x->prefix[(size_t)(r + 1) * W + cc + 1] =
                    x->prefix[(size_t)r * W + cc + 1] + x->prefix[(size_t)(r + 1) * W + cc] -
                    x->prefix[(size_t)r * W + cc] + (seed_blocked(x, r, cc, band, self) > 0.3);
        }
    }
    for (int trial = 0; trial <= p->max_paddle_retrial; trial++) {
        double theta = (double)(myo_rng_below(rng, 360) - 180) * PF_PI / 180;
        double s, c;
        pf_sincos(theta, &s, &c);
        int tr, tc;
        if (fixed_tail_from_r >= 0) {
            double phi = (double)myo_rng_below(rng, 360) * PF_PI / 180, ps, pc;
            pf_sincos(phi, &ps, &pc);
            tr = (int)rint(fixed_tail_from_r + p->seed_distance * ps);
            tc = (int)rint(fixed_tail_from_c + p->seed_distance * pc);
        } else {
            int ext, ns = seed_struct(x, s, c, &ext);
            int64_t navail = 0;
            for (int r = band; r < size - band; r++)
                for (int cc = band; cc < size - band; cc++) {
                    if (seed_blocked(x, r, cc, band, self) > 0.3) continue;
                    int ok = 1;
                    int br0 = r - ext, br1 = r + ext, bc0 = cc - ext, bc1 = cc + ext;
                    if (br0 >= 0 && bc0 >= 0 && br1 < size && bc1 < size) {
                        int32_t sum = x->prefix[(size_t)(br1 + 1) * W + bc1 + 1] -
                                      x->prefix[(size_t)br0 * W + bc1 + 1] -
                                      x->prefix[(size_t)(br1 + 1) * W + bc0] +
                                      x->prefix[(size_t)br0 * W + bc0];
                        if (sum == 0) {
                            x->avail[navail++] = r * size + cc;
                            continue;
                        }
                    }
                    for (int k = 0; k < ns && ok; k++) {
                        int qr = r + x->struct_off[2 * k], qc = cc + x->struct_off[2 * k + 1];
                        if (seed_blocked(x, qr, qc, band, self) > 0.3) ok = 0;
                    }
                    if (ok) x->avail[navail++] = r * size + cc;
                }
            if (navail == 0) return 0; /* the original gives up at once */
            int32_t pick = x->avail[myo_rng_below(rng, navail)];
            tr = pick / size, tc = pick % size;
        }
        int hr, hc, pr, pc;
        translate(tr, tc, s, c, x->L, &hr, &hc);
        translate(hr, hc, -s, -c, x->L + x->m, &pr, &pc);
        if (!in_window(x, hr, hc) || !in_window(x, pr, pc) || !in_window(x, tr, tc)) continue;
        pf_paddle g = make_paddle(x, tr, tc, s, c, intensity, snake);
        /* the original checks no overlap for the second target seed, and
         * a seed's struct only against fully covered pixels: we also keep
         * the snake map a partition */
        if (!paddle_fits(x, &g, self, 0)) continue;
        if (add_paddle(x, &g) != MYO_OK) return -1;
        x->pending[self] = g, x->has_pending[self] = 1;
        sn->pivot_r = pr, sn->pivot_c = pc;
        sn->orient = theta, sn->sn = s, sn->cs = c;
        sn->tail_r = tr, sn->tail_c = tc;
        sn->head_r = hr, sn->head_c = hc;
        return 1;
    }
    return 0;
}

typedef struct {
    int r, c;
} pf_pt;

static int pt_cmp(const void *a, const void *b)
{
    const pf_pt *u = a, *v = b;
    if (u->r != v->r) return u->r < v->r ? -1 : 1;
    return (u->c > v->c) - (u->c < v->c);
}

/* extend_snake: one more paddle for the snake of slot self.  1 added, 0
 * failed, -1 out of memory. */
static int extend_snake(pf_ctx *x, myo_rng *rng, int self, pf_snake *sn, float intensity, int snake)
{
    const myo_pf_params *p = x->p;
    int npr, npc;
    translate(sn->pivot_r, sn->pivot_c, sn->sn, sn->cs, x->L + 2 * x->m, &npr, &npc);
    double R = x->L + x->m;
    double deg_per_pixel = 360.0 / (2 * R * PF_PI);
    pf_pt cand[1024];
    double w[1024];
    int nc = 0;
    for (int k = 0; k * deg_per_pixel < 360 && nc < 1024; k++) {
        double a = k * deg_per_pixel * PF_PI / 180, s, c;
        pf_sincos(a, &s, &c);
        double y = npr + R * s, xx = npc + R * c;
        if (y >= x->size || y < 0 || xx >= x->size || xx < 0) continue;
        cand[nc].r = (int)y, cand[nc].c = (int)xx, nc++;
    }
    if (nc == 0) return 0;
    qsort(cand, (size_t)nc, sizeof *cand, pt_cmp);
    int nu = 0;
    for (int k = 0; k < nc; k++)
        if (nu == 0 || pt_cmp(&cand[nu - 1], &cand[k]) != 0) cand[nu++] = cand[k];
    double total = 0;
    int m = x->m;
    for (int k = 0; k < nu; k++) {
        double dy = cand[k].r - npr, dx = cand[k].c - npc;
        double o = pf_atan2(dy, dx);
        double delta = fabs(o - sn->orient);
        if (2 * PF_PI - delta < delta) delta = 2 * PF_PI - delta;
        delta *= p->continuity;
        if (delta > 0.5 * PF_PI) delta = 0.5 * PF_PI;
        double cw = pf_cos(delta);
        if (cw < 0) cw = 0;
        /* 1 - the mask dilated by the disk of radius m, at the candidate */
        double dil = 0;
        for (int oy = -m; oy <= m && dil < 1; oy++)
            for (int ox = -m; ox <= m; ox++) {
                if (oy * oy + ox * ox > m * m) continue;
                int r = cand[k].r + oy, c = cand[k].c + ox;
                if (!in_window(x, r, c)) continue;
                double v = view_at(x, r, c, self);
                if (v > dil) dil = v;
            }
        w[k] = (1 - dil) * cw * cw;
        total += w[k];
    }
    if (total < 1e-4) return 0;
    for (int trial = 0; trial <= p->max_segment_trial; trial++) {
        double u = myo_rng_uniform(rng, 0, 1) * total, acc = 0;
        int idx = -1;
        for (int k = 0; k < nu; k++) {
            if (w[k] <= 0) continue;
            acc += w[k];
            idx = k;
            if (acc > u) break;
        }
        int dy = cand[idx].r - npr, dx = cand[idx].c - npc;
        double len = sqrt((double)dy * dy + (double)dx * dx);
        double s = dy / len, c = dx / len;
        pf_paddle g = make_paddle(x, cand[idx].r, cand[idx].c, -s, -c, intensity, snake);
        if (!paddle_fits(x, &g, self, 1)) continue;
        if (add_paddle(x, &g) != MYO_OK) return -1;
        if (x->has_pending[self]) commit_mask(x, &x->pending[self]);
        x->pending[self] = g, x->has_pending[self] = 1;
        sn->pivot_r = npr, sn->pivot_c = npc;
        sn->orient = pf_atan2(dy, dx), sn->sn = s, sn->cs = c;
        sn->head_r = cand[idx].r, sn->head_c = cand[idx].c;
        return 1;
    }
    return 0;
}

static void commit_pending(pf_ctx *x)
{
    for (int k = 0; k < 2; k++)
        if (x->has_pending[k]) {
            commit_mask(x, &x->pending[k]);
            x->has_pending[k] = 0;
        }
}

static void reset_window(pf_ctx *x)
{
    int size = x->size, pad = x->p->padding;
    for (int r = 0; r < size; r++)
        for (int c = 0; c < size; c++)
            x->mask[(size_t)r * size + c] =
                (r < pad || c < pad || r >= size - pad || c >= size - pad) ? 1.0f : 0.0f;
    memset(x->ids, 0, (size_t)size * size);
    x->npaddles = 0;
    x->has_pending[0] = x->has_pending[1] = 0;
}

/* two_snakes: 1 success, 0 failure (regenerate), -1 out of memory. */
static int two_snakes(pf_ctx *x, myo_rng *rng, pf_snake sn[2])
{
    const myo_pf_params *p = x->p;
    float contrast = (float)(p->paddle_contrast * p->snake_contrast);
    int band = (int)(2 * p->seed_distance);
    int rc = seed_snake(x, rng, band, 0, 0, -1, -1, &sn[0], contrast, 1);
    if (rc <= 0) return rc;
    rc = seed_snake(x, rng, 0, 0, 1, sn[0].tail_r, sn[0].tail_c, &sn[1], contrast, 2);
    if (rc <= 0) return rc;
    for (int seg = 1; seg < p->contour_length; seg++)
        for (int k = 0; k < 2; k++) {
            rc = extend_snake(x, rng, k, &sn[k], contrast, k + 1);
            if (rc <= 0) return rc;
        }
    commit_pending(x);
    return 1;
}

/* make_snake with rollback: 1 drawn, 0 failed (nothing drawn), -1 NOMEM. */
static int make_snake(pf_ctx *x, myo_rng *rng, int nseg, int snake)
{
    size_t N = (size_t)x->size * x->size;
    memcpy(x->save_mask, x->mask, N * sizeof *x->mask);
    memcpy(x->save_ids, x->ids, N);
    int saved = x->npaddles;
    float contrast = (float)x->p->snake_contrast; /* distractors: the snake contrast only */
    pf_snake sn;
    int rc = seed_snake(x, rng, 1, 0.01, 0, -1, -1, &sn, contrast, snake);
    for (int seg = 1; rc == 1 && seg < nseg; seg++)
        rc = extend_snake(x, rng, 0, &sn, contrast, snake);
    if (rc == 1) {
        commit_pending(x);
        return 1;
    }
    memcpy(x->mask, x->save_mask, N * sizeof *x->mask);
    memcpy(x->ids, x->save_ids, N);
    x->npaddles = saved;
    x->has_pending[0] = x->has_pending[1] = 0;
    return rc;
}

static int make_many_snakes(pf_ctx *x, myo_rng *rng, int count, int retrial, int nseg, int first_id,
                            int *made)
{
    for (int k = 0; k < count; k++) {
        int id = first_id == MYO_PF_SINGLE_ID ? MYO_PF_SINGLE_ID : first_id + k;
        if (id > 254 && first_id != MYO_PF_SINGLE_ID) id = 254;
        for (int t = 0; t <= retrial; t++) {
            int rc = make_snake(x, rng, nseg, id);
            if (rc < 0) return -1;
            if (rc == 1) {
                (*made)++;
                break;
            }
        }
    }
    return 0;
}

static void ctx_free(pf_ctx *x)
{
    free(x->mask), free(x->ids), free(x->save_mask), free(x->save_ids);
    free(x->avail), free(x->prefix), free(x->struct_off), free(x->paddles);
    memset(x, 0, sizeof *x);
}

static myo_status ctx_init(pf_ctx *x, const myo_pf_params *p)
{
    memset(x, 0, sizeof *x);
    x->p = p;
    x->size = p->size;
    x->s = p->antialias_scale;
    x->L = p->paddle_length;
    double w = rint(p->paddle_thickness * p->antialias_scale);
    if (w < 1) w = 1;
    x->hw = w / (2.0 * p->antialias_scale);
    size_t N = (size_t)p->size * p->size;
    int maxm = 0;
    for (int k = 0; k < p->num_margins; k++)
        if (p->margins[k] > maxm) maxm = p->margins[k];
    int R = (int)ceil(x->L + x->hw + maxm) + 1;
    x->struct_cap = (2 * R + 1) * (2 * R + 1);
    x->mask = malloc(N * sizeof *x->mask);
    x->save_mask = malloc(N * sizeof *x->save_mask);
    x->ids = malloc(N);
    x->save_ids = malloc(N);
    x->avail = malloc(N * sizeof *x->avail);
    x->prefix = malloc((size_t)(p->size + 1) * (p->size + 1) * sizeof *x->prefix);
    x->struct_off = malloc((size_t)x->struct_cap * 2 * sizeof *x->struct_off);
    if (!x->mask || !x->save_mask || !x->ids || !x->save_ids || !x->avail || !x->prefix ||
        !x->struct_off) {
        ctx_free(x);
        return myo_data_fail(MYO_ERR_NOMEM, "pathfinder: cannot allocate the work arrays");
    }
    return MYO_OK;
}

/* Render the paddles and markers, then scale as scipy.misc.bytescale. */
static myo_status render(pf_ctx *x, const double mk[2][2], uint8_t *img)
{
    int size = x->size;
    size_t N = (size_t)size * size;
    float *v = calloc(N, sizeof *v);
    if (!v) return myo_data_fail(MYO_ERR_NOMEM, "pathfinder: cannot allocate the image");
    for (int k = 0; k < x->npaddles; k++) {
        const pf_paddle *g = &x->paddles[k];
        int r0, r1, c0, c1;
        paddle_box(x, g, x->hw + 1, &r0, &r1, &c0, &c1);
        for (int r = r0; r <= r1; r++)
            for (int c = c0; c <= c1; c++) {
                float f = (float)(coverage(x, g, r, c, x->hw) * g->intensity);
                if (f > v[(size_t)r * size + c]) v[(size_t)r * size + c] = f;
            }
    }
    double rad = x->p->marker_radius;
    for (int k = 0; k < 2; k++) {
        pf_paddle dot = {mk[k][0], mk[k][1], mk[k][0], mk[k][1], 1.0f, 0};
        int r0, r1, c0, c1;
        paddle_box(x, &dot, rad + 1, &r0, &r1, &c0, &c1);
        for (int r = r0; r <= r1; r++)
            for (int c = c0; c <= c1; c++) {
                float f = (float)coverage(x, &dot, r, c, rad);
                if (f > v[(size_t)r * size + c]) v[(size_t)r * size + c] = f;
            }
    }
    float lo = v[0], hi = v[0];
    for (size_t i = 1; i < N; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    double scale = hi - lo > 0 ? 255.0 / ((double)hi - lo) : 255.0;
    for (size_t i = 0; i < N; i++) {
        double b = ((double)v[i] - lo) * scale;
        if (b < 0) b = 0;
        if (b > 255) b = 255;
        img[i] = (uint8_t)(b + 0.5);
    }
    free(v);
    return MYO_OK;
}

static myo_status generate_with(pf_ctx *x, myo_rng *rng, uint8_t *img, uint8_t *snake_id,
                                int *label_out, myo_pf_info *info)
{
    const myo_pf_params *p = x->p;
    int label = (int)myo_rng_below(rng, 2);
    int m = p->margins[myo_rng_below(rng, p->num_margins)];
    x->m = m;
    pf_snake sn[2];
    int attempts = 0, rc = 0;
    while (rc != 1) {
        if (++attempts > PF_MAX_PAIR_ATTEMPTS)
            return myo_data_fail(MYO_ERR_DATA,
                                 "pathfinder: no pair of target snakes of %d paddles fits a %dx%d "
                                 "window after %d attempts (parameters too large?)",
                                 p->contour_length, p->size, p->size, PF_MAX_PAIR_ATTEMPTS);
        reset_window(x);
        rc = two_snakes(x, rng, sn);
        if (rc < 0) return MYO_ERR_NOMEM;
    }
    int made = 0;
    if (make_many_snakes(x, rng, p->num_distractor_snakes, p->max_distractor_contour_retrial,
                         p->distractor_length, 3, &made) < 0)
        return MYO_ERR_NOMEM;
    if (p->use_single_paddles) {
        int total = (int)(150.0 / ((7.5 + 13.0 * m + 4.0 * m * m) / 123.5));
        int count = total - 2 * p->contour_length - p->num_distractor_snakes * p->distractor_length;
        int singles = 0;
        if (count > 0 && make_many_snakes(x, rng, count, p->max_paddle_retrial, 1, MYO_PF_SINGLE_ID,
                                          &singles) < 0)
            return MYO_ERR_NOMEM;
    }
    int origin = (int)myo_rng_below(rng, 2);
    int terminal = label ? origin : 1 - origin;
    double mk[2][2] = {{sn[origin].tail_r + 0.5, sn[origin].tail_c + 0.5},
                       {sn[terminal].head_r + 0.5, sn[terminal].head_c + 0.5}};
    myo_status st = render(x, mk, img);
    if (st != MYO_OK) return st;
    if (snake_id) memcpy(snake_id, x->ids, (size_t)x->size * x->size);
    *label_out = label;
    if (info) {
        info->origin_y = mk[0][0], info->origin_x = mk[0][1];
        info->terminal_y = mk[1][0], info->terminal_x = mk[1][1];
        info->origin_snake = origin + 1, info->terminal_snake = terminal + 1;
        info->margin = m;
        info->nsnakes = 2 + made;
        info->attempts = attempts;
    }
    return MYO_OK;
}

myo_status myo_pf_generate_image(const myo_pf_params *p, myo_rng *rng, uint8_t *img,
                                 uint8_t *snake_id, int *label, myo_pf_info *info)
{
    myo_status st = check_params(p);
    if (st != MYO_OK) return st;
    if (!rng || !img || !label)
        return myo_data_fail(MYO_ERR_ARG, "myo_pf_generate_image: NULL argument");
    pf_ctx x;
    st = ctx_init(&x, p);
    if (st != MYO_OK) return st;
    st = generate_with(&x, rng, img, snake_id, label, info);
    ctx_free(&x);
    return st;
}

/* ----------------------------------------------------------- datasets */

static const char *task_for_size(int size)
{
    return size == 128 ? "pathx" : "pathfinder";
}

static myo_status alloc_dataset(myo_dataset *d, int size, int64_t count, const char *source)
{
    memset(d, 0, sizeof *d);
    snprintf(d->task, sizeof d->task, "%s", task_for_size(size));
    snprintf(d->source, sizeof d->source, "%s", source);
    d->docs = 1;
    d->n = (int64_t)size * size;
    d->vocab = 256;
    d->classes = 2;
    myo_status st = myo_dataset_alloc(d, count, 0);
    if (st != MYO_OK) return myo_data_fail(st, "pathfinder: %s", myo_data_error());
    return MYO_OK;
}

static const char *difficulty_name_for(int contour_length)
{
    for (int k = 0; k < 3; k++)
        if (difficulty_lengths[k] == contour_length) return difficulty_dirs[k];
    return "custom";
}

static myo_status record_params(myo_dataset *d, const myo_pf_params *p, uint64_t seed)
{
    char margins[64] = "";
    for (int k = 0; k < p->num_margins; k++) {
        size_t len = strlen(margins);
        snprintf(margins + len, sizeof margins - len, "%s%d", k ? "," : "", p->margins[k]);
    }
    myo_status st = MYO_OK;
#define PF_ATTR(key, ...)                                                                          \
    do {                                                                                           \
        if (st == MYO_OK) st = myo_dataset_set_attrf(d, key, __VA_ARGS__);                         \
    } while (0)
    PF_ATTR("generator", "%s", "drewlinsley/pathfinder snakes2 (C re-implementation)");
    PF_ATTR("ordering", "%s", "raster");
    PF_ATTR("seed", "%llu", (unsigned long long)seed);
    PF_ATTR("difficulty", "%s", difficulty_name_for(p->contour_length));
    PF_ATTR("size", "%d", p->size);
    PF_ATTR("contour_length", "%d", p->contour_length);
    PF_ATTR("distractor_length", "%d", p->distractor_length);
    PF_ATTR("num_distractor_snakes", "%d", p->num_distractor_snakes);
    PF_ATTR("use_single_paddles", "%d", p->use_single_paddles);
    PF_ATTR("padding", "%d", p->padding);
    PF_ATTR("paddle_length", "%.17g", p->paddle_length);
    PF_ATTR("paddle_thickness", "%.17g", p->paddle_thickness);
    PF_ATTR("paddle_margin_list", "%s", margins);
    PF_ATTR("continuity", "%.17g", p->continuity);
    PF_ATTR("seed_distance", "%.17g", p->seed_distance);
    PF_ATTR("marker_radius", "%.17g", p->marker_radius);
    PF_ATTR("snake_contrast", "%.17g", p->snake_contrast);
    PF_ATTR("paddle_contrast", "%.17g", p->paddle_contrast);
    PF_ATTR("antialias_scale", "%d", p->antialias_scale);
    PF_ATTR("max_paddle_retrial", "%d", p->max_paddle_retrial);
    PF_ATTR("max_segment_trial", "%d", p->max_segment_trial);
    PF_ATTR("max_distractor_contour_retrial", "%d", p->max_distractor_contour_retrial);
#undef PF_ATTR
    return st;
}

/* The stream of image e of a dataset. */
static myo_rng image_rng(uint64_t seed, int64_t e)
{
    myo_rng r = myo_rng_seed(seed);
    uint64_t base = myo_rng_next(&r);
    myo_rng q = myo_rng_seed(base ^ ((uint64_t)e * 0xD1B54A32D192ED03ULL));
    (void)myo_rng_next(&q);
    return q;
}

/* The work of myo_pf_generate_threads: the examples are handed out one
 * at a time (next), each written where its index says, so the bytes do
 * not depend on which thread drew it. */
typedef struct {
    const myo_pf_params *p;
    uint64_t seed;
    int64_t count;
    myo_dataset *d;
    atomic_llong next; /* the next example to draw */
    atomic_int stop;   /* set by the first failure: no new example starts */
} pf_job;

/* One thread's share: its status, the example that failed (-1: none) and
 * the failure's detail (thread-local where it was recorded). */
typedef struct {
    pf_job *job;
    myo_status st;
    int64_t failed_at;
    char detail[512];
} pf_worker;

static void *pf_work(void *arg)
{
    pf_worker *w = arg;
    pf_job *j = w->job;
    const size_t N = (size_t)j->p->size * j->p->size;
    pf_ctx x;
    uint8_t *img = NULL;
    w->st = ctx_init(&x, j->p);
    if (w->st == MYO_OK) {
        img = malloc(N);
        if (!img) w->st = myo_data_fail(MYO_ERR_NOMEM, "pathfinder: cannot allocate an image");
    }
    while (w->st == MYO_OK && !atomic_load(&j->stop)) {
        int64_t e = (int64_t)atomic_fetch_add(&j->next, 1);
        if (e >= j->count) break;
        myo_rng rng = image_rng(j->seed, e);
        int label = 0;
        w->st = generate_with(&x, &rng, img, NULL, &label, NULL);
        if (w->st != MYO_OK) {
            w->failed_at = e;
            break;
        }
        int32_t *tok = j->d->tokens + (size_t)e * N;
        for (size_t i = 0; i < N; i++)
            tok[i] = img[i];
        j->d->labels[e] = label;
        j->d->lengths[e] = (int32_t)N;
    }
    if (w->st != MYO_OK) {
        snprintf(w->detail, sizeof w->detail, "%s", myo_data_error());
        atomic_store(&j->stop, 1);
    }
    free(img);
    ctx_free(&x); /* also after a failed ctx_init (zeroed) */
    return NULL;
}

myo_status myo_pf_generate_threads(const myo_pf_params *p, int64_t count, uint64_t seed,
                                   int threads, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "myo_pf_generate: NULL dataset");
    memset(d, 0, sizeof *d);
    myo_status st = check_params(p);
    if (st != MYO_OK) return st;
    if (count < 0)
        return myo_data_fail(MYO_ERR_ARG, "myo_pf_generate: count %lld < 0", (long long)count);
    if (threads < 1 || threads > MYO_PF_MAX_THREADS)
        return myo_data_fail(MYO_ERR_ARG, "myo_pf_generate: %d threads (1 to %d)", threads,
                             MYO_PF_MAX_THREADS);
    st = alloc_dataset(d, p->size, count, "generated");
    if (st == MYO_OK) st = record_params(d, p, seed);
    /* LRA's 80 / 10 / 10 of the images of a difficulty */
    if (st == MYO_OK) st = myo_dataset_split_tail(d, 1, 10);
    if (st != MYO_OK) {
        myo_dataset_free(d);
        return st;
    }
    if ((int64_t)threads > count) threads = count > 1 ? (int)count : 1;
    pf_job job = {.p = p, .seed = seed, .count = count, .d = d};
    atomic_init(&job.next, 0);
    atomic_init(&job.stop, 0);
    pf_worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (!w || !tid) {
        free(w), free(tid);
        myo_dataset_free(d);
        return myo_data_fail(MYO_ERR_NOMEM, "pathfinder: cannot allocate %d threads", threads);
    }
    /* Worker 0 is this thread; a thread that cannot be started leaves its
     * share to the others (the same bytes, later). */
    int started = 1;
    for (int t = 0; t < threads; t++)
        w[t].job = &job, w[t].failed_at = -1;
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[started], NULL, pf_work, &w[started]) == 0) started++;
    pf_work(&w[0]);
    for (int t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    /* The failure of the earliest example, whichever thread drew it. */
    int bad = -1;
    for (int t = 0; t < started; t++)
        if (w[t].st != MYO_OK &&
            (bad < 0 ||
             (w[t].failed_at >= 0 && (w[bad].failed_at < 0 || w[t].failed_at < w[bad].failed_at))))
            bad = t;
    if (bad >= 0) {
        st = myo_data_fail(w[bad].st, "%s", w[bad].detail);
        myo_dataset_free(d);
    }
    free(w), free(tid);
    return st;
}

myo_status myo_pf_generate(const myo_pf_params *p, int64_t count, uint64_t seed, myo_dataset *d)
{
    return myo_pf_generate_threads(p, count, seed, 1, d);
}

/* -------------------------------------------------------------- loader */

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

myo_status myo_pf_parse_metadata_row(const char *line, const char *where, long lineno, char *dir,
                                     size_t dir_size, char *file, size_t file_size, int *label)
{
    if (!line || !dir || !file || !label || dir_size == 0 || file_size == 0)
        return myo_data_fail(MYO_ERR_ARG, "myo_pf_parse_metadata_row: NULL argument");
    if (!where) where = "metadata";
    const char *f[4];
    size_t len[4];
    int nf = 0;
    const char *s = line;
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        if (!*s) break;
        const char *b = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (nf < 4) f[nf] = b, len[nf] = (size_t)(s - b);
        nf++;
    }
    if (nf < 4)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s:%ld: %d field%s, expected at least 4 (imgs/<batch> sample_<i>.png "
                             "index label ...)",
                             where, lineno, nf, nf == 1 ? "" : "s");
    /* field 0: a relative directory (imgs/<batch>), no "..", no absolute path */
    if (len[0] >= dir_size || f[0][0] == '/')
        return myo_data_fail(MYO_ERR_DATA, "%s:%ld: bad image directory field (%.*s)", where,
                             lineno, (int)(len[0] > 64 ? 64 : len[0]), f[0]);
    memcpy(dir, f[0], len[0]);
    dir[len[0]] = '\0';
    for (const char *q = dir; (q = strstr(q, "..")) != NULL; q += 2)
        if ((q == dir || q[-1] == '/') && (q[2] == '/' || q[2] == '\0'))
            return myo_data_fail(MYO_ERR_DATA, "%s:%ld: image directory '%s' leaves the data set",
                                 where, lineno, dir);
    /* field 1: a file name ending in .png, without '/' */
    if (len[1] >= file_size || len[1] < 5 || memchr(f[1], '/', len[1]) ||
        memcmp(f[1] + len[1] - 4, ".png", 4) != 0)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s:%ld: bad image file name '%.*s' (expected sample_<i>.png)", where,
                             lineno, (int)(len[1] > 64 ? 64 : len[1]), f[1]);
    memcpy(file, f[1], len[1]);
    file[len[1]] = '\0';
    /* field 2: the index, a non-negative integer */
    for (size_t k = 0; k < len[2]; k++)
        if (!isdigit((unsigned char)f[2][k]) || len[2] > 18)
            return myo_data_fail(MYO_ERR_DATA, "%s:%ld: bad index '%.*s' (a non-negative integer)",
                                 where, lineno, (int)(len[2] > 64 ? 64 : len[2]), f[2]);
    /* field 3: the label, 0 or 1 */
    if (len[3] != 1 || (f[3][0] != '0' && f[3][0] != '1'))
        return myo_data_fail(MYO_ERR_DATA, "%s:%ld: bad label '%.*s' (0 or 1)", where, lineno,
                             (int)(len[3] > 64 ? 64 : len[3]), f[3]);
    *label = f[3][0] - '0';
    return MYO_OK;
}

typedef struct {
    char *path; /* the PNG */
    int meta;   /* index of the metadata file */
    long line;
    int label;
} pf_row;

typedef struct {
    char *name;
    unsigned long long num;
    int numeric;
} pf_meta;

static int meta_cmp(const void *a, const void *b)
{
    const pf_meta *u = a, *v = b;
    if (u->numeric != v->numeric) return v->numeric - u->numeric; /* numeric first */
    if (u->numeric && u->num != v->num) return u->num < v->num ? -1 : 1;
    return strcmp(u->name, v->name);
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *s = malloc(n);
    if (!s) return NULL;
    if (c)
        snprintf(s, n, "%s/%s/%s", a, b, c);
    else
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

myo_status myo_pf_load(const char *root, const char *difficulty, int64_t max_count, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "myo_pf_load: NULL dataset");
    memset(d, 0, sizeof *d);
    if (!root || !difficulty) return myo_data_fail(MYO_ERR_ARG, "myo_pf_load: NULL argument");
    if (max_count < 0) return myo_data_fail(MYO_ERR_ARG, "myo_pf_load: max_count < 0");
    myo_pf_difficulty diff;
    myo_status st = myo_pf_difficulty_parse(difficulty, &diff);
    if (st != MYO_OK) return st;
    const char *ddir = difficulty_dirs[diff];
    char *base = join3(root, ddir, NULL), *metadir = base ? join3(base, "metadata", NULL) : NULL;
    pf_meta *metas = NULL;
    int nmeta = 0, capmeta = 0;
    pf_row *rows = NULL;
    int64_t nrows = 0, caprows = 0;
    char *line = NULL;
    size_t linecap = 0;
    uint8_t *px = NULL;
    char dirf[256], filef[256];
    if (!metadir) {
        st = myo_data_fail(MYO_ERR_NOMEM, "pathfinder loader: out of memory");
        goto done;
    }
    DIR *dh = opendir(metadir);
    if (!dh) {
        st = myo_data_fail(MYO_ERR_IO, "%s: cannot open the metadata directory: %s", metadir,
                           strerror(errno));
        goto done;
    }
    struct dirent *ent;
    while ((ent = readdir(dh)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 4, ".npy") != 0) continue;
        if (nmeta == capmeta) {
            int cap = capmeta ? 2 * capmeta : 16;
            pf_meta *nm = realloc(metas, (size_t)cap * sizeof *nm);
            if (!nm) {
                closedir(dh);
                st = myo_data_fail(MYO_ERR_NOMEM, "pathfinder loader: out of memory");
                goto done;
            }
            metas = nm, capmeta = cap;
        }
        pf_meta *mt = &metas[nmeta];
        mt->name = strdup(ent->d_name);
        if (!mt->name) {
            closedir(dh);
            st = myo_data_fail(MYO_ERR_NOMEM, "pathfinder loader: out of memory");
            goto done;
        }
        nmeta++;
        mt->numeric = n - 4 <= 18;
        mt->num = 0;
        for (size_t k = 0; k < n - 4; k++) {
            if (!isdigit((unsigned char)ent->d_name[k])) mt->numeric = 0;
            if (mt->numeric) mt->num = mt->num * 10 + (unsigned)(ent->d_name[k] - '0');
        }
    }
    closedir(dh);
    if (nmeta == 0) {
        st = myo_data_fail(MYO_ERR_DATA, "%s: no metadata file (<batch>.npy)", metadir);
        goto done;
    }
    qsort(metas, (size_t)nmeta, sizeof *metas, meta_cmp);
    for (int i = 0; i < nmeta && (max_count == 0 || nrows < max_count); i++) {
        char *mpath = join3(metadir, metas[i].name, NULL);
        if (!mpath) {
            st = myo_data_fail(MYO_ERR_NOMEM, "pathfinder loader: out of memory");
            goto done;
        }
        FILE *f = fopen(mpath, "r");
        if (!f) {
            st = myo_data_fail(MYO_ERR_IO, "%s: cannot open: %s", mpath, strerror(errno));
            free(mpath);
            goto done;
        }
        long lineno = 0;
        ssize_t got;
        while ((max_count == 0 || nrows < max_count) && (got = getline(&line, &linecap, f)) >= 0) {
            lineno++;
            if ((size_t)got != strlen(line)) {
                st = myo_data_fail(MYO_ERR_DATA, "%s:%ld: NUL byte in a metadata row", mpath,
                                   lineno);
                break;
            }
            if (is_blank(line)) continue;
            int label;
            st = myo_pf_parse_metadata_row(line, mpath, lineno, dirf, sizeof dirf, filef,
                                           sizeof filef, &label);
            if (st != MYO_OK) break;
            if (nrows == caprows) {
                int64_t cap = caprows ? 2 * caprows : 256;
                pf_row *nr = realloc(rows, (size_t)cap * sizeof *nr);
                if (!nr) {
                    st = myo_data_fail(MYO_ERR_NOMEM, "pathfinder loader: out of memory");
                    break;
                }
                rows = nr, caprows = cap;
            }
            rows[nrows].path = join3(base, dirf, filef);
            if (!rows[nrows].path) {
                st = myo_data_fail(MYO_ERR_NOMEM, "pathfinder loader: out of memory");
                break;
            }
            rows[nrows].meta = i, rows[nrows].line = lineno, rows[nrows].label = label;
            nrows++;
        }
        if (st == MYO_OK && ferror(f))
            st = myo_data_fail(MYO_ERR_IO, "%s: read error: %s", mpath, strerror(errno));
        fclose(f);
        free(mpath);
        if (st != MYO_OK) goto done;
    }
    if (nrows == 0) {
        st = myo_data_fail(MYO_ERR_DATA, "%s: the metadata files list no image", metadir);
        goto done;
    }
    int size = 0;
    for (int64_t e = 0; e < nrows; e++) {
        int w, h;
        st = myo_png_read_gray8(rows[e].path, &px, &w, &h);
        if (st != MYO_OK) {
            st = myo_data_fail(MYO_ERR_DATA, "%s/%s:%ld: %s", metadir, metas[rows[e].meta].name,
                               rows[e].line, myo_data_error());
            goto done;
        }
        if (w != h || (size != 0 && w != size)) {
            st = myo_data_fail(MYO_ERR_DATA, "%s/%s:%ld: %s: %dx%d image, expected %dx%d", metadir,
                               metas[rows[e].meta].name, rows[e].line, rows[e].path, w, h,
                               size ? size : w, size ? size : w);
            goto done;
        }
        if (size == 0) {
            size = w;
            st = alloc_dataset(d, size, nrows, "loaded");
            if (st == MYO_OK) st = myo_dataset_set_attrf(d, "root", "%s", root);
            if (st == MYO_OK) st = myo_dataset_set_attrf(d, "difficulty", "%s", ddir);
            if (st == MYO_OK) st = myo_dataset_set_attrf(d, "size", "%d", size);
            if (st == MYO_OK) st = myo_dataset_set_attrf(d, "ordering", "%s", "raster");
            if (st == MYO_OK) st = myo_dataset_set_attrf(d, "metadata_files", "%d", nmeta);
            if (st != MYO_OK) goto done;
        }
        size_t N = (size_t)size * size;
        int32_t *tok = d->tokens + (size_t)e * N;
        for (size_t i = 0; i < N; i++)
            tok[i] = px[i];
        d->labels[e] = rows[e].label;
        d->lengths[e] = (int32_t)N;
        free(px);
        px = NULL;
    }
    /* LRA's 80 / 10 / 10, in file order */
    st = myo_dataset_split_tail(d, 1, 10);
done:
    free(px);
    free(line);
    for (int64_t e = 0; e < nrows; e++)
        free(rows[e].path);
    free(rows);
    for (int i = 0; i < nmeta; i++)
        free(metas[i].name);
    free(metas);
    free(metadir);
    free(base);
    if (st != MYO_OK) myo_dataset_free(d);
    return st;
}
