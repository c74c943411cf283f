/* bench_yardsticks.c -- myo-bench's yardsticks of the tree solver
 * (bench_kernel.h), in data and local mode, float32 or float64:
 *   memcpy     a copy of the solve's right-hand sides (B, N, D): the
 *              solver's two streaming passes cost at least two such copies;
 *   lapack-pt  LAPACK's ?pttrf + ?pttrs on the same-sized tridiagonal
 *              (chain) systems, H heads of D / H channels, column-major
 *              (LAPACK's own layout), the same work as solve's fwd.
 * Neither has a backward pass (their fwd+bwd points are left out) nor a
 * sequence-parallel form (SKIP:unsupported in sequence mode). */
#include <config.h>

#include "bench.h"
#include "bench_kernel.h"
#include "myosotis.h"

#include <lapacke.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


enum { Y_MEMCPY, Y_LAPACK };

struct bench_run {
    int kind, f64;
    int64_t N, B, H, d;     /* nodes, sequences, heads, channels per head */
    void *src, *dst;        /* memcpy: (B, N, D) */
    void *d0, *e0, *dw, *ew; /* lapack-pt: (H, N) pristine d and e, and the work copies */
    void *rhs;              /* lapack-pt: (B, H, d, N): each head's N x d block column-major */
};

static size_t elem(int f64)
{
    return f64 ? sizeof(double) : sizeof(float);
}

static void put(void *a, size_t i, double v, int f64)
{
    if (f64)
        ((double *)a)[i] = v;
    else
        ((float *)a)[i] = (float)v;
}

static double get(const void *a, size_t i, int f64)
{
    return f64 ? ((const double *)a)[i] : (double)((const float *)a)[i];
}

static int kind_of(const bench_point *p)
{
    return bench_kernels[p->method]->id;
}

static const char *unsupported(const bench_point *p)
{
    if (p->mode == BENCH_MODE_SEQ)
        return "a yardstick of the serial solve: data or local mode only";
    if (kind_of(p) == Y_LAPACK && p->tree != BENCH_TREE_CHAIN)
        return "LAPACK's ?pttrf + ?pttrs solve tridiagonal systems: chain trees only";
    if (kind_of(p) == Y_LAPACK && (p->n > INT32_MAX || p->D / p->H > INT32_MAX / p->n))
        return "beyond LAPACK's 32-bit indices";
    return NULL;
}

static double predict_bytes(const bench_point *p, int ranks)
{
    const bench_point q = bench_as_run(p, ranks);
    const double N = (double)bench_nodes_bound(&q, q.n), e = q.prec == BENCH_PREC_DOUBLE ? 8 : 4;
    if (kind_of(p) == Y_MEMCPY) return 2 * e * (double)q.B * N * (double)q.D;
    return e * ((double)q.B * N * (double)q.D + 4 * N * (double)q.H);
}

/* memcpy: no flops, the rhs read and written.  lapack-pt: solve's counts
 * (myo_solve_cost on the same chain: the same work), so that the GFLOP/s
 * columns compare. */
static void cost(const bench_point *p, double N, int ranks, double *flops, double *bytes)
{
    const bench_point q = bench_as_run(p, ranks);
    const double e = q.prec == BENCH_PREC_DOUBLE ? 8 : 4;
    const double all = (double)ranks; /* data and local mode: every rank's */
    myo_tree_shape shape;
    myo_cost c;
    if (kind_of(p) == Y_MEMCPY) {
        *flops = 0.0, *bytes = all * (double)q.B * 2 * e * N * (double)q.D;
    } else if (myo_tree_shape_chain((int64_t)N, &shape) == MYO_OK &&
               myo_solve_cost(&shape, q.H, q.D / q.H, q.prec == BENCH_PREC_DOUBLE ? MYO_F64 : MYO_F32,
                              q.B, &c) == MYO_OK) {
        *flops = all * c.flops[0], *bytes = all * c.bytes[0];
    } else {
        *flops = *bytes = NAN;
    }
}

static void teardown(bench_run **k)
{
    if (!*k) return;
    bench_run *r = *k;
    free(r->src), free(r->dst), free(r->d0), free(r->e0), free(r->dw), free(r->ew), free(r->rhs);
    free(r);
    *k = NULL;
}

/* The run's objects for N nodes (a chain for lapack-pt), B sequences,
 * filled from seed: memcpy's source uniform in [-1, 1); lapack-pt's
 * matrices M = I + L, L the Laplacian of chain edge weights w in (0, 1]
 * (the same up and down: M is symmetric positive definite), per head, and
 * right-hand sides uniform in [-1, 1).  Local. */
static myo_status create(int kind, int f64, int64_t N, int64_t B, int64_t D, int64_t H,
                         uint64_t seed, bench_run **out)
{
    bench_run *r = calloc(1, sizeof *r);
    *out = r;
    if (!r) return MYO_ERR_NOMEM;
    r->kind = kind, r->f64 = f64, r->N = N, r->B = B, r->H = H, r->d = D / H;
    const size_t io = (size_t)B * (size_t)N * (size_t)D, e = elem(f64);
    const uint64_t mine = seed ^ bench_mix64((uint64_t)myo_bench_rank() + 1);
    if (kind == Y_MEMCPY) {
        r->src = myo_bench_alloc(io, e), r->dst = myo_bench_alloc(io, e);
        if (!r->src || !r->dst) return MYO_ERR_NOMEM;
        bench_fill(f64 ? NULL : r->src, f64 ? r->src : NULL, io, mine ^ 1, -1.0f, 2.0f);
        memset(r->dst, 0, io * e);
        return MYO_OK;
    }
    const size_t hn = (size_t)H * (size_t)N;
    r->d0 = myo_bench_alloc(hn, e), r->e0 = myo_bench_alloc(hn, e);
    r->dw = myo_bench_alloc((size_t)N, e), r->ew = myo_bench_alloc((size_t)N, e);
    r->rhs = myo_bench_alloc(io, e);
    if (!r->d0 || !r->e0 || !r->dw || !r->ew || !r->rhs) return MYO_ERR_NOMEM;
    myo_rng rng = myo_rng_seed(mine ^ 2);
    for (int64_t h = 0; h < H; h++) {
        const size_t o = (size_t)h * (size_t)N;
        double prev = 0.0; /* the weight of the edge above node i */
        for (int64_t i = 0; i < N; i++) {
            /* e[i] = M[i+1][i] = -w of the edge (i, i+1); rounded first, so
             * that the diagonal is dominant for the matrix actually solved */
            double w = i + 1 < N ? 1.0 - myo_rng_uniform(&rng, 0.0, 1.0) : 0.0;
            put(r->e0, o + (size_t)i, -w, f64);
            w = -get(r->e0, o + (size_t)i, f64);
            put(r->d0, o + (size_t)i, 1.0 + prev + w, f64);
            prev = w;
        }
    }
    bench_fill(f64 ? NULL : r->rhs, f64 ? r->rhs : NULL, io, mine ^ 3, -1.0f, 2.0f);
    return MYO_OK;
}

static myo_status run(bench_run *r)
{
    const size_t e = elem(r->f64);
    if (r->kind == Y_MEMCPY) {
        memcpy(r->dst, r->src, (size_t)r->B * (size_t)r->N * (size_t)r->H * (size_t)r->d * e);
        return MYO_OK;
    }
    const lapack_int n = (lapack_int)r->N, nrhs = (lapack_int)r->d;
    for (int64_t b = 0; b < r->B; b++)
        for (int64_t h = 0; h < r->H; h++) {
            const size_t o = (size_t)h * (size_t)r->N;
            char *rhs = (char *)r->rhs + ((size_t)(b * r->H + h) * (size_t)r->d * (size_t)r->N) * e;
            memcpy(r->dw, (char *)r->d0 + o * e, (size_t)r->N * e); /* ?pttrf overwrites them */
            memcpy(r->ew, (char *)r->e0 + o * e, (size_t)r->N * e);
            lapack_int info;
            if (r->f64) {
                info = LAPACKE_dpttrf(n, r->dw, r->ew);
                if (info == 0)
                    info = LAPACKE_dpttrs(LAPACK_COL_MAJOR, n, nrhs, r->dw, r->ew, (double *)rhs, n);
            } else {
                info = LAPACKE_spttrf(n, r->dw, r->ew);
                if (info == 0)
                    info = LAPACKE_spttrs(LAPACK_COL_MAJOR, n, nrhs, r->dw, r->ew, (float *)rhs, n);
            }
            if (info != 0) return MYO_ERR_SINGULAR;
        }
    return MYO_OK;
}

static myo_status setup(const bench_point *p, uint64_t seed, bench_run **out, const char **why)
{
    const bench_point q = bench_as_run(p, myo_bench_size());
    const int64_t N = bench_nodes_bound(&q, q.n);
    myo_status s = create(kind_of(p), q.prec == BENCH_PREC_DOUBLE, N, q.B, q.D,
                          kind_of(p) == Y_LAPACK ? q.H : 1, seed, out);
    *why = s == MYO_OK ? NULL : "out of memory for the arrays";
    return (myo_status)myo_bench_agree((int)s);
}

static int64_t nodes(const bench_run *r)
{
    return r->N;
}

/* memcpy: the copy equals its source, compared value by value.
 * lapack-pt: a BENCH_VAL_N-node chain's solution against myo_solve_ref (the
 * tree solver's double reference twin) on the same matrix, per head. */
static myo_status validate(const bench_point *p, uint64_t seed, double *err, double *tol, char *why,
                           size_t why_size)
{
    const int f64 = p->prec == BENCH_PREC_DOUBLE, kind = kind_of(p);
    const int64_t H = kind == Y_LAPACK ? p->H : 1, N = BENCH_VAL_N, D = p->D, d = D / H;
    *err = NAN, *tol = kind == Y_MEMCPY ? 0.0 : f64 ? BENCH_VAL_TOL_F64 : BENCH_VAL_TOL;
    why[0] = '\0';
    bench_run *r = NULL;
    const size_t io = (size_t)N * (size_t)D;
    double *x = malloc(io * sizeof *x), *ref = malloc((size_t)N * (size_t)d * sizeof *ref);
    double *diag = malloc((size_t)N * sizeof *diag), *off = malloc((size_t)N * sizeof *off);
    int64_t *parent = malloc((size_t)N * sizeof *parent);
    myo_status s = x && ref && diag && off && parent ? create(kind, f64, N, 1, D, H, seed, &r)
                                                     : MYO_ERR_NOMEM;
    if (s == MYO_OK) {
        for (size_t i = 0; i < io; i++)
            x[i] = get(kind == Y_MEMCPY ? r->src : r->rhs, i, f64);
        s = run(r);
    }
    double num = 0.0, den = 0.0;
    for (int64_t h = 0; s == MYO_OK && h < H; h++) {
        if (kind == Y_MEMCPY) {
            for (size_t i = 0; i < io; i++)
                num += get(r->dst, i, f64) != x[i];
            den = 1.0;
            break;
        }
        /* M of head h as a tree: node i's parent is i - 1; up, down = the edge's -w */
        const size_t o = (size_t)h * (size_t)N;
        for (int64_t i = 0; i < N; i++) {
            parent[i] = i - 1, diag[i] = get(r->d0, o + (size_t)i, f64);
            off[i] = i > 0 ? get(r->e0, o + (size_t)(i - 1), f64) : 0.0;
        }
        const double *xb = x + (size_t)h * (size_t)d * (size_t)N; /* column-major N x d */
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < d; c++)
                ref[i * d + c] = xb[c * N + i];
        s = myo_solve_ref(parent, N, diag, off, off, MYO_OP_N, ref, ref, d);
        for (int64_t i = 0; s == MYO_OK && i < N; i++)
            for (int64_t c = 0; c < d; c++) {
                double got = get(r->rhs, (size_t)h * (size_t)d * (size_t)N + (size_t)(c * N + i),
                                 f64);
                double diff = got - ref[i * d + c];
                num += diff * diff, den += ref[i * d + c] * ref[i * d + c];
            }
    }
    if (s == MYO_OK) *err = kind == Y_MEMCPY ? num : myo_bench_rel_err(num, den);
    else
        snprintf(why, why_size, "validation: %s", myo_status_str(s));
    free(x), free(ref), free(diag), free(off), free(parent);
    teardown(&r);
    s = (myo_status)myo_bench_agree((int)s);
    if (s == MYO_OK) myo_bench_max_over_ranks(err, 1);
    return s;
}

#define YARDSTICK(var, name_, id_, uses_)                                                          \
    const bench_kernel var = {.name = name_,                                                       \
                              .id = id_,                                                           \
                              .power = 1,                                                          \
                              .uses = uses_,                                                       \
                              .unsupported = unsupported,                                          \
                              .predict_bytes = predict_bytes,                                      \
                              .cost = cost,                                                        \
                              .setup = setup,                                                      \
                              .run = run,                                                          \
                              .nodes = nodes,                                                      \
                              .split = NULL,                                                       \
                              .validate = validate,                                                \
                              .teardown = teardown}

YARDSTICK(bench_kernel_memcpy, "memcpy", Y_MEMCPY,
          BENCH_USES_TREE | BENCH_HAS_DOUBLE | BENCH_EXPLICIT);
YARDSTICK(bench_kernel_lapack_pt, "lapack-pt", Y_LAPACK,
          BENCH_USES_TREE | BENCH_USES_HEADS | BENCH_HAS_DOUBLE | BENCH_EXPLICIT);
