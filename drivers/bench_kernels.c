/* bench_kernels.c -- myo-bench's kernels of the layers and the tree solver
 * (bench_kernel.h): myosotis, dense-tiled, dense-materialized, ssm, solve
 * (factor + solve) and solve-only (the solve with the pivots computed), in
 * sequence, data and local mode, each validated against the library's
 * double reference twin (myo_*_ref).
 *
 * One runner serves them all: a point's objects on this rank (the tree,
 * the work objects, the inputs and outputs), a pass of the point's phase,
 * and a validation case of BENCH_VAL_N tokens run through the same calls. */
#include <config.h>

#include "bench.h"
#include "bench_kernel.h"
#include "myosotis.h"

#include <mpi.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* The kernels of this file, by the id in their record. */
enum { M_MYOSOTIS, M_DENSE_TILED, M_DENSE_MAT, M_SSM, M_SOLVE, M_SOLVE_ONLY };
#define KIND(p) (bench_kernels[(p)->method]->id)
/* the tree solver, with or without the factorisation timed */
#define IS_SOLVE(k) ((k) == M_SOLVE || (k) == M_SOLVE_ONLY)

const char *const BENCH_MODE_NAME[BENCH_MODE_COUNT] = {"sequence", "data", "local"};
const char *const BENCH_PHASE_NAME[BENCH_PH_COUNT] = {"fwd", "fwd+bwd"};
const char *const BENCH_TREE_NAME[BENCH_TREE_COUNT] = {"kary", "chain", "heap"};
const char *const BENCH_PREC_NAME[BENCH_PREC_COUNT] = {"single", "double"};

int64_t bench_local_n(int64_t n, int ranks)
{
    return (n + ranks - 1) / ranks;
}

int64_t bench_nodes_bound(const bench_point *p, int64_t n)
{
    if (!(bench_kernels[p->method]->uses & BENCH_USES_TREE) || p->tree != BENCH_TREE_KARY) return n;
    myo_tree_shape s; /* the builder's own count */
    return myo_tree_shape_kary(n, p->arity, &s) == MYO_OK ? s.nodes : n;
}

bench_point bench_as_run(const bench_point *p, int ranks)
{
    bench_point q = *p;
    if (p->mode == BENCH_MODE_LOCAL) q.n = bench_local_n(p->n, ranks), q.mode = BENCH_MODE_DATA;
    return q;
}

/* ------------------------------------------------------ inputs */

uint64_t bench_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bench_fill(float *f, double *d, size_t count, uint64_t seed, float lo, float width)
{
    uint64_t s = bench_mix64(seed) | 1;
    for (size_t i = 0; i < count; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        const float v = lo + width * (float)((double)(s >> 40) * 0x1p-24);
        if (f)
            f[i] = v;
        else
            d[i] = v;
    }
}

/* --------------------------------------------------------------- runner */

/* One point's objects on this rank.  Rows: data mode, B sequences of n
 * tokens (of N nodes for solve); sequence mode, this rank's nl rows of
 * one sequence (token rows; for solve, the nodes of its position range),
 * B sequences run one after the other. */
typedef struct {
    bench_point pt;     /* as run: local mode becomes data mode on the rank's share */
    int reduce;         /* data mode: fwd+bwd sums the weight gradients over the ranks */
    int64_t n, B, N;    /* tokens, sequences, nodes of the tree (n when none) */
    int64_t rows;       /* rows of one sequence on this rank */
    int64_t lo, hi;     /* sequence mode: position range (solve, myosotis) or token range */
    int64_t *row_label; /* sequence mode: the global row (label) of each local row */
    myo_tree *tree;
    myo_layer_config lcfg;
    myo_attention_config acfg;
    myo_ssm_config scfg;
    myo_ssm_layout ly;
    myo_layer_work *lw;
    myo_attention_work *aw;
    myo_ssm_work *sw;
    myo_factor **fac; /* solve, data: one per sequence */
    myo_layer_dist_work *ldw;
    myo_attention_ring_work *rw;
    myo_dist_plan *plan;
    float *x, *y, *dy, *dx; /* (B, rows, D) */
    float *params, *grads;
    int64_t n_params;
    float *wup, *wdown; /* solve: (B, rows, H) */
    int f64;            /* solve in double: y64, wu64, wd64 instead of y, wup, wdown */
    double *y64, *wu64, *wd64;
    const char *why;
} runner;

static void runner_free(runner *r)
{
    myo_layer_work_destroy(&r->lw);
    myo_attention_work_destroy(&r->aw);
    myo_ssm_work_destroy(&r->sw);
    if (r->fac)
        for (int64_t b = 0; b < r->B; b++)
            myo_factor_destroy(&r->fac[b]);
    free(r->fac);
    myo_layer_dist_work_destroy(&r->ldw);
    myo_attention_ring_work_destroy(&r->rw);
    myo_dist_plan_destroy(&r->plan);
    myo_tree_destroy(&r->tree);
    free(r->row_label);
    free(r->x), free(r->y), free(r->dy), free(r->dx), free(r->params), free(r->grads);
    free(r->wup), free(r->wdown), free(r->y64), free(r->wu64), free(r->wd64);
    memset(r, 0, sizeof *r);
}

static int is_qkvo(int method)
{
    return method == M_MYOSOTIS || method == M_DENSE_TILED || method == M_DENSE_MAT;
}

static myo_status make_tree(const bench_point *p, int64_t n, myo_tree **out)
{
    if (p->tree == BENCH_TREE_CHAIN) return myo_tree_create_chain(n, out);
    if (p->tree == BENCH_TREE_HEAP) return myo_tree_create_heap(n, p->arity, out);
    return myo_tree_create_kary(n, p->arity, out);
}

/* Collective (sequence mode makes plans).  The objects of point p at n
 * tokens (local mode: n is the rank's share) and B sequences; every rank
 * returns the same status (agreed).  MYO_ERR_ARG: a size the library
 * refuses. */
static myo_status runner_create(const bench_point *point, int64_t n, int64_t B, runner *r)
{
    const int rank = myo_bench_rank(), size = myo_bench_size();
    memset(r, 0, sizeof *r);
    r->pt = *point, r->reduce = point->mode == BENCH_MODE_DATA;
    if (point->mode == BENCH_MODE_LOCAL) r->pt.mode = BENCH_MODE_DATA;
    const bench_point *p = &r->pt;
    r->n = n, r->B = B, r->N = n, r->f64 = p->prec == BENCH_PREC_DOUBLE;
    const myo_precision prec = r->f64 ? MYO_F64 : MYO_F32;
    const int64_t D = p->D, H = p->H;
    r->lcfg = (myo_layer_config){.d_model = D, .heads = H, .direction = p->dir};
    r->acfg = (myo_attention_config){.d_model = D, .heads = H ? H : 1, .causal = p->causal};
    r->scfg = (myo_ssm_config){.d_model = D};
    myo_status s = MYO_OK;
    if (KIND(p) == M_SSM) s = myo_ssm_layout_of(&r->scfg, &r->ly);
    r->n_params = KIND(p) == M_SSM ? r->ly.count : IS_SOLVE(KIND(p)) ? 0 : 4 * D * D;
    if (s == MYO_OK && (KIND(p) == M_MYOSOTIS || IS_SOLVE(KIND(p)))) {
        s = make_tree(p, n, &r->tree);
        if (s == MYO_OK) r->N = myo_tree_num_nodes(r->tree);
    }
    /* sequence mode: this rank's rows */
    if (s == MYO_OK && p->mode == BENCH_MODE_SEQ) {
        int64_t *off = malloc((size_t)(size + 1) * sizeof *off);
        if (!off) s = MYO_ERR_NOMEM;
        if (s == MYO_OK) {
            if (r->tree && p->tree == BENCH_TREE_KARY)
                s = myo_dist_leaf_ranges(r->tree, size, off, NULL);
            else
                s = myo_dist_even_ranges(r->tree ? r->N : n, size, off);
        }
        if (s == MYO_OK) {
            r->lo = off[rank], r->hi = off[rank + 1];
            r->row_label = malloc((size_t)(r->hi - r->lo + 1) * sizeof *r->row_label);
            if (!r->row_label) s = MYO_ERR_NOMEM;
        }
        if (s == MYO_OK) {
            int64_t k = 0;
            if (r->tree) {
                const int64_t *order = myo_tree_preorder(r->tree);
                for (int64_t q = r->lo; q < r->hi; q++)
                    if (IS_SOLVE(KIND(p)) || order[q] < n) r->row_label[k++] = order[q];
            } else {
                for (int64_t q = r->lo; q < r->hi; q++)
                    r->row_label[k++] = q;
            }
            r->rows = k;
        }
        free(off);
    } else {
        r->rows = IS_SOLVE(KIND(p)) ? r->N : n;
    }
    s = (myo_status)myo_bench_agree((int)s);
    if (s != MYO_OK) {
        r->why = "setup";
        return s;
    }

    /* the work objects (sequence mode: collective creations) */
    if (p->mode == BENCH_MODE_DATA) {
        if (KIND(p) == M_MYOSOTIS)
            s = myo_layer_work_create(r->tree, &r->lcfg, B, &r->lw);
        else if (KIND(p) == M_DENSE_TILED || KIND(p) == M_DENSE_MAT)
            s = myo_attention_work_create(
                &r->acfg, KIND(p) == M_DENSE_TILED ? MYO_ATTN_TILED : MYO_ATTN_MATERIALIZED, n, B,
                &r->aw);
        else if (KIND(p) == M_SSM)
            s = myo_ssm_work_create(&r->scfg, n, B, &r->sw);
        else {
            r->fac = calloc((size_t)B, sizeof *r->fac);
            if (!r->fac) s = MYO_ERR_NOMEM;
            for (int64_t b = 0; b < B && s == MYO_OK; b++)
                s = myo_factor_create_empty(r->tree, H, prec, &r->fac[b]);
        }
        if (s != MYO_OK) r->why = myo_error_detail();
        s = (myo_status)myo_bench_agree((int)s);
    } else {
        if (KIND(p) == M_MYOSOTIS)
            s = myo_layer_dist_work_create(MPI_COMM_WORLD, r->tree, &r->lcfg, r->lo, r->hi,
                                           &r->ldw);
        else if (IS_SOLVE(KIND(p)))
            s = myo_dist_plan_create(MPI_COMM_WORLD, r->tree, r->lo, r->hi, H, prec, &r->plan);
        else if (KIND(p) == M_DENSE_TILED) {
            s = myo_attention_ring_work_create(&r->acfg, r->rows, &r->rw);
            if (s != MYO_OK) r->why = myo_error_detail();
            s = (myo_status)myo_bench_agree((int)s);
        } else
            s = MYO_ERR_ARG; /* not reached: unsupported points are skipped */
        if (s != MYO_OK && !r->why) r->why = myo_error_detail();
    }
    if (s != MYO_OK) return s;

    const size_t io = (size_t)B * (size_t)r->rows * (size_t)D;
    int ok;
    if (!IS_SOLVE(KIND(p))) {
        r->x = myo_bench_alloc(io, sizeof(float)), r->y = myo_bench_alloc(io, sizeof(float));
        r->dy = myo_bench_alloc(io, sizeof(float)), r->dx = myo_bench_alloc(io, sizeof(float));
        r->params = myo_bench_alloc((size_t)r->n_params, sizeof(float));
        r->grads = myo_bench_alloc((size_t)r->n_params, sizeof(float));
        ok = r->x && r->y && r->dy && r->dx && r->params && r->grads;
    } else if (r->f64) {
        const size_t w = (size_t)B * (size_t)r->rows * (size_t)H;
        r->y64 = myo_bench_alloc(io, sizeof(double));
        r->wu64 = myo_bench_alloc(w, sizeof(double)), r->wd64 = myo_bench_alloc(w, sizeof(double));
        ok = r->y64 && r->wu64 && r->wd64;
    } else {
        const size_t w = (size_t)B * (size_t)r->rows * (size_t)H;
        r->y = myo_bench_alloc(io, sizeof(float));
        r->wup = myo_bench_alloc(w, sizeof(float)), r->wdown = myo_bench_alloc(w, sizeof(float));
        ok = r->y && r->wup && r->wdown;
    }
    if (!ok) r->why = "out of memory for the inputs and outputs";
    s = myo_bench_agree(ok ? 0 : 1) ? MYO_ERR_NOMEM : MYO_OK;
    if (s == MYO_OK) {
        if (r->y) memset(r->y, 0, io * sizeof(float));
        if (r->dx) memset(r->dx, 0, io * sizeof(float));
        if (r->grads) memset(r->grads, 0, (size_t)r->n_params * sizeof(float));
    }
    return s;
}

/* The timed problem's values: x, dy uniform in [-1, 1) per rank; weights
 * uniform in +-1/sqrt(D) (the SSM: Mamba's initialisation) and solve's
 * edge weights in [0, 2), the same on every rank. */
static myo_status runner_fill(runner *r, uint64_t seed)
{
    const bench_point *p = &r->pt;
    const size_t io = (size_t)r->B * (size_t)r->rows * (size_t)p->D;
    const uint64_t mine = seed ^ bench_mix64((uint64_t)myo_bench_rank() + 1);
    if (IS_SOLVE(KIND(p))) { /* the right-hand sides in y, solved in place */
        const size_t w = (size_t)r->B * (size_t)r->rows * (size_t)p->H;
        bench_fill(r->y, r->y64, io, mine ^ 1, -1.0f, 2.0f);
        bench_fill(r->wup, r->wu64, w, mine ^ 2, 0.0f, 2.0f);
        bench_fill(r->wdown, r->wd64, w, mine ^ 3, 0.0f, 2.0f);
        if (p->dir != MYO_DIR_BOTH) { /* up: no w_down; down: no w_up */
            float *f = p->dir == MYO_DIR_UP ? r->wdown : r->wup;
            double *d = p->dir == MYO_DIR_UP ? r->wd64 : r->wu64;
            if (f) memset(f, 0, w * sizeof *f);
            if (d) memset(d, 0, w * sizeof *d);
        }
        return MYO_OK;
    }
    bench_fill(r->x, NULL, io, mine ^ 1, -1.0f, 2.0f);
    bench_fill(r->dy, NULL, io, mine ^ 4, -1.0f, 2.0f);
    if (KIND(p) == M_SSM) {
        myo_rng rng = myo_rng_seed(seed);
        return myo_ssm_params_init_f32(&r->scfg, &rng, r->params);
    }
    const float bound = (float)(1.0 / sqrt((double)p->D));
    bench_fill(r->params, NULL, (size_t)r->n_params, seed ^ 5, -bound, 2.0f * bound);
    return MYO_OK;
}

static myo_status sum_grads(runner *r)
{
    if (myo_bench_size() == 1) return MYO_OK;
    int rc =
        MPI_Allreduce(MPI_IN_PLACE, r->grads, (int)r->n_params, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MYO_OK : MYO_ERR_MPI;
}

/* Sequence b of a solve point: factor + solve with M (solve-only: the
 * solve, the pivots computed by solve_factor; fwd+bwd: then the solve with
 * M^T), in place on its right-hand sides y, in the point's precision;
 * collective in sequence mode.  factor_only: compute the pivots, no solve. */
static myo_status solve_run(runner *r, int64_t b, int factor_only)
{
    const bench_point *p = &r->pt;
    const int fb = p->phase == BENCH_PH_FB, seq = p->mode == BENCH_MODE_SEQ;
    const int refactor = KIND(p) == M_SOLVE || factor_only, m = factor_only ? 0 : 1;
    const int64_t d = p->D / p->H;
    const size_t o = (size_t)b * (size_t)r->rows * (size_t)p->D;
    const size_t wo = (size_t)b * (size_t)r->rows * (size_t)p->H;
    myo_status s;
/* The body in one precision: T the element type, P the API's suffix (f32,
 * f64), Y, WU, WD the runner's buffers of that precision. */
#define SOLVE_RUN(T, P, Y, WU, WD)                                                                 \
    do {                                                                                           \
        T *y = r->rows ? (Y) + o : NULL;                                                           \
        const T *wu = (WU) + wo, *wd = (WD) + wo;                                                  \
        if (seq && refactor)                                                                       \
            s = myo_dist_refactor_laplacian_##P(MPI_COMM_WORLD, r->plan, wu, wd, MYO_OP_N, y,      \
                                                m * d);                                            \
        else if (seq)                                                                              \
            s = myo_dist_solve_##P(MPI_COMM_WORLD, r->plan, MYO_OP_N, y, d);                       \
        else if (refactor)                                                                         \
            s = myo_refactor_laplacian_##P(r->fac[b], wu, wd, MYO_OP_N, y, y, m * d);              \
        else                                                                                       \
            s = myo_solve_##P(r->fac[b], MYO_OP_N, y, y, d);                                       \
        if (s == MYO_OK && fb && !factor_only)                                                     \
            s = seq ? myo_dist_solve_##P(MPI_COMM_WORLD, r->plan, MYO_OP_T, y, d)                  \
                    : myo_solve_##P(r->fac[b], MYO_OP_T, y, y, d);                                 \
    } while (0)
    if (r->f64)
        SOLVE_RUN(double, f64, r->y64, r->wu64, r->wd64);
    else
        SOLVE_RUN(float, f32, r->y, r->wup, r->wdown);
#undef SOLVE_RUN
    return s;
}

/* Solve-only: the pivots of every sequence, before the timed solves
 * (collective in sequence mode).  Nothing for the other kernels. */
static myo_status runner_prepare(runner *r)
{
    myo_status s = MYO_OK;
    if (KIND(&r->pt) != M_SOLVE_ONLY) return s;
    const int64_t count = r->pt.mode == BENCH_MODE_SEQ ? 1 : r->B;
    for (int64_t b = 0; b < count && s == MYO_OK; b++)
        s = solve_run(r, b, 1);
    return s;
}

/* One pass of the point's phase: collective in sequence mode and when
 * gradients are summed.  Solve: rhs y in place (fwd: factor + solve with
 * M; fwd+bwd: then the transposed solve).  Local mode: the serial calls,
 * myosotis on MPI_COMM_SELF, nothing summed. */
static myo_status runner_run(runner *r)
{
    const bench_point *p = &r->pt;
    const int fb = p->phase == BENCH_PH_FB;
    const int64_t D = p->D, B = r->B;
    const size_t seq = (size_t)r->rows * (size_t)D;
    myo_qkvo_weights_f32 w;
    myo_qkvo_grads_f32 g;
    if (is_qkvo(KIND(p))) {
        w = myo_bench_qkvo_f32(r->params, D);
        g = myo_bench_qkvo_grads_f32(r->grads, D);
    }
    myo_status s = MYO_OK;
    if (p->mode == BENCH_MODE_DATA) {
        const MPI_Comm comm = r->reduce ? MPI_COMM_WORLD : MPI_COMM_SELF;
        switch (KIND(p)) {
        case M_MYOSOTIS:
            s = myo_layer_dp_forward_f32(comm, r->lw, D, &w, B, r->x, r->y);
            if (s == MYO_OK && fb)
                s = myo_layer_dp_backward_f32(comm, r->lw, D, &w, B, r->dy, r->dx, &g);
            return s;
        case M_DENSE_TILED:
        case M_DENSE_MAT:
            s = myo_attention_forward_f32(r->aw, &w, r->x, r->y);
            if (s == MYO_OK && fb) s = myo_attention_backward_f32(r->aw, &w, r->dy, r->dx, &g);
            break;
        case M_SSM:
            s = myo_ssm_forward_f32(r->sw, r->params, r->x, r->y);
            if (s == MYO_OK && fb)
                s = myo_ssm_backward_f32(r->sw, r->params, r->x, r->dy, r->dx, r->grads);
            break;
        default:
            for (int64_t b = 0; b < B && s == MYO_OK; b++)
                s = solve_run(r, b, 0);
            return s;
        }
        /* the weight gradients summed over the ranks, as data-parallel training does; a
         * failure on one rank must not leave the others in the collective */
        if (fb && r->reduce) {
            if (myo_bench_size() > 1 && myo_bench_agree(s != MYO_OK)) return s ? s : MYO_ERR_MPI;
            if (s == MYO_OK) s = sum_grads(r);
        }
        return s;
    }
    for (int64_t b = 0; b < B && s == MYO_OK; b++) {
        const size_t o = (size_t)b * seq;
        float *x = r->rows ? r->x + o : NULL, *y = r->rows ? r->y + o : NULL;
        float *dy = r->dy && r->rows ? r->dy + o : NULL, *dx = r->dx && r->rows ? r->dx + o : NULL;
        switch (KIND(p)) {
        case M_MYOSOTIS:
            s = myo_layer_dist_forward_f32(MPI_COMM_WORLD, r->ldw, &w, x, y);
            if (s == MYO_OK && fb)
                s = myo_layer_dist_backward_f32(MPI_COMM_WORLD, r->ldw, &w, dy, dx, &g);
            break;
        case M_DENSE_TILED:
            s = myo_attention_ring_forward_f32(MPI_COMM_WORLD, r->rw, &w, x, y);
            if (s == MYO_OK && fb)
                s = myo_attention_ring_backward_f32(MPI_COMM_WORLD, r->rw, &w, dy, dx, &g);
            break;
        default:
            s = solve_run(r, b, 0);
        }
    }
    return s;
}

/* --------------------------------------------------------- validation */

/* Sums of squares of got - ref and of ref over count entries; got is the
 * float array f or else the double array d. */
static void sq_sums(const float *f, const double *d, const double *ref, size_t count, double *num,
                    double *den)
{
    for (size_t i = 0; i < count; i++) {
        double e = (f ? (double)f[i] : d[i]) - ref[i];
        *num += e * e, *den += ref[i] * ref[i];
    }
}

/* The error of the weight gradients (each block on its own) against
 * scale times the reference's. */
static double grads_err(const runner *r, const double *g_d, double scale)
{
    double e = 0.0;
    int64_t off[10];
    int blocks;
    if (KIND(&r->pt) == M_SSM) {
        const myo_ssm_layout *ly = &r->ly;
        const int64_t o[10] = {ly->w_in,    ly->conv_w, ly->conv_b, ly->w_x,   ly->w_dt,
                               ly->dt_bias, ly->a_log,  ly->d_skip, ly->w_out, ly->count};
        memcpy(off, o, sizeof o), blocks = 9;
    } else {
        const int64_t DD = r->pt.D * r->pt.D;
        for (int k = 0; k <= 4; k++)
            off[k] = k * DD;
        blocks = 4;
    }
    for (int k = 0; k < blocks; k++) {
        double num = 0, den = 0;
        for (int64_t i = off[k]; i < off[k + 1]; i++) {
            double ref = scale * g_d[i], diff = (double)r->grads[i] - ref;
            num += diff * diff, den += ref * ref;
        }
        e = fmax(e, myo_bench_rel_err(num, den));
    }
    return e;
}

/* The reference of a solve point: y = M^-1 x (then M^-T y for fwd+bwd),
 * per head, in double on the whole tree (labels). */
static myo_status solve_reference(const runner *r, const float *wu, const float *wd,
                                  const double *x, double *y)
{
    const bench_point *p = &r->pt;
    const int64_t N = r->N, H = p->H, D = p->D, d = D / H;
    const int64_t *parent = myo_tree_parents(r->tree);
    double *diag = malloc((size_t)N * sizeof *diag), *up = malloc((size_t)N * sizeof *up);
    double *down = malloc((size_t)N * sizeof *down), *rh = malloc((size_t)(N * d) * sizeof *rh);
    myo_status s = diag && up && down && rh ? MYO_OK : MYO_ERR_NOMEM;
    for (int64_t h = 0; h < H && s == MYO_OK; h++) {
        for (int64_t i = 0; i < N; i++)
            diag[i] = 1.0, up[i] = down[i] = 0.0;
        for (int64_t i = 0; i < N; i++) {
            if (parent[i] < 0) continue;
            double a = wu[i * H + h], b = wd[i * H + h];
            diag[i] += a, diag[parent[i]] += b, up[i] = -a, down[i] = -b;
        }
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < d; c++)
                rh[i * d + c] = x[i * D + h * d + c];
        s = myo_solve_ref(parent, N, diag, up, down, MYO_OP_N, rh, rh, d);
        if (s == MYO_OK && p->phase == BENCH_PH_FB)
            s = myo_solve_ref(parent, N, diag, up, down, MYO_OP_T, rh, rh, d);
        for (int64_t i = 0; i < N && s == MYO_OK; i++)
            for (int64_t c = 0; c < d; c++)
                y[i * D + h * d + c] = rh[i * d + c];
    }
    free(diag), free(up), free(down), free(rh);
    return s;
}

/* Collective.  Runs point p's method, mode and phase on a small case
 * (BENCH_VAL_N tokens, one sequence) through the same calls as the timed
 * points, and compares with the double reference twin computed on every
 * rank on the whole sequence: y (and for fwd+bwd dx and each weight
 * gradient, data mode: P times the reference's, the ranks holding the
 * same sequence).  *err = the largest normwise relative error; returns
 * MYO_OK or the agreed status of a failure to run (detail in why). */
static myo_status validate(const bench_point *p, uint64_t seed, double *err, double *tol, char *why,
                           size_t why_size)
{
    *err = NAN;
    *tol = p->prec == BENCH_PREC_DOUBLE ? BENCH_VAL_TOL_F64 : BENCH_VAL_TOL;
    why[0] = '\0';
    runner r;
    myo_status s = runner_create(p, BENCH_VAL_N, 1, &r);
    if (s != MYO_OK) {
        snprintf(why, why_size, "validation setup: %s", myo_status_str(s));
        runner_free(&r);
        return s;
    }
    const int64_t D = p->D, N = r.N, rowsg = IS_SOLVE(KIND(p)) ? N : BENCH_VAL_N;
    const size_t io = (size_t)rowsg * (size_t)D, np = (size_t)r.n_params;
    /* global inputs, the same on every rank; floats, and their exact doubles */
    float *xg = malloc(io * sizeof *xg), *dyg = malloc(io * sizeof *dyg);
    float *wu = NULL, *wd = NULL;
    double *x_d = malloc(io * sizeof *x_d), *dy_d = malloc(io * sizeof *dy_d);
    double *y_d = malloc(io * sizeof *y_d), *dx_d = malloc(io * sizeof *dx_d);
    double *p_d = malloc((np ? np : 1) * sizeof *p_d), *g_d = malloc((np ? np : 1) * sizeof *g_d);
    int ok = xg && dyg && x_d && dy_d && y_d && dx_d && p_d && g_d;
    if (ok && IS_SOLVE(KIND(p))) {
        wu = malloc((size_t)(N * p->H) * sizeof *wu), wd = malloc((size_t)(N * p->H) * sizeof *wd);
        ok = wu && wd;
    }
    s = ok ? MYO_OK : MYO_ERR_NOMEM;
    const char *what = "setup";
    if (s == MYO_OK) {
        myo_rng rng = myo_rng_seed(seed ^ 0x76616cULL);
        for (size_t i = 0; i < io; i++)
            xg[i] = (float)myo_rng_uniform(&rng, -1, 1), x_d[i] = xg[i];
        for (size_t i = 0; i < io; i++)
            dyg[i] = (float)myo_rng_uniform(&rng, -1, 1), dy_d[i] = dyg[i];
        if (IS_SOLVE(KIND(p))) {
            for (int64_t i = 0; i < N * p->H; i++) {
                wu[i] = p->dir == MYO_DIR_DOWN ? 0.0f : (float)myo_rng_uniform(&rng, 0, 2);
                wd[i] = p->dir == MYO_DIR_UP ? 0.0f : (float)myo_rng_uniform(&rng, 0, 2);
            }
        } else if (KIND(p) == M_SSM) {
            s = myo_ssm_params_init_f64(&r.scfg, &rng, p_d);
            for (size_t i = 0; i < np; i++)
                r.params[i] = (float)p_d[i], p_d[i] = r.params[i];
        } else {
            double bound = 1.0 / sqrt((double)D);
            for (size_t i = 0; i < np; i++)
                r.params[i] = (float)myo_rng_uniform(&rng, -bound, bound), p_d[i] = r.params[i];
        }
        /* this rank's rows */
        const size_t rd = (size_t)D * sizeof(float);
        const int64_t H = p->H;
        for (int64_t k = 0; k < r.rows; k++) {
            int64_t gl = p->mode == BENCH_MODE_SEQ ? r.row_label[k] : k;
            if (r.x) memcpy(r.x + k * D, xg + gl * D, rd);
            if (r.y) memcpy(r.y + k * D, xg + gl * D, rd); /* solve: the right-hand sides */
            if (r.dy) memcpy(r.dy + k * D, dyg + gl * D, rd);
            for (int64_t c = 0; r.y64 && c < D; c++)
                r.y64[k * D + c] = xg[gl * D + c];
            for (int64_t h = 0; IS_SOLVE(KIND(p)) && h < H; h++)
                if (r.f64)
                    r.wu64[k * H + h] = wu[gl * H + h], r.wd64[k * H + h] = wd[gl * H + h];
                else
                    r.wup[k * H + h] = wu[gl * H + h], r.wdown[k * H + h] = wd[gl * H + h];
        }
    }
    if (myo_bench_agree(s != MYO_OK)) {
        s = s ? s : MYO_ERR_NOMEM;
        goto done;
    }
    what = "run";
    s = runner_prepare(&r);
    if (s == MYO_OK) s = runner_run(&r);
    s = (myo_status)myo_bench_agree((int)s);
    if (s != MYO_OK) goto done;

    /* the reference */
    what = "reference";
    const int fb = p->phase == BENCH_PH_FB;
    const size_t DD = (size_t)(D * D);
    myo_qkvo_weights_f64 w64 = {p_d, p_d + DD, p_d + 2 * DD, p_d + 3 * DD};
    myo_qkvo_grads_f64 g64 = {g_d, g_d + DD, g_d + 2 * DD, g_d + 3 * DD};
    myo_attention_config acfg = r.acfg;
    switch (KIND(p)) {
    case M_MYOSOTIS:
        s = myo_layer_forward_ref(r.tree, &r.lcfg, &w64, 1, x_d, y_d);
        if (s == MYO_OK && fb)
            s = myo_layer_backward_ref(r.tree, &r.lcfg, &w64, 1, x_d, dy_d, dx_d, &g64);
        break;
    case M_DENSE_TILED:
    case M_DENSE_MAT:
        s = myo_attention_forward_ref(&acfg, BENCH_VAL_N, 1, &w64, x_d, y_d);
        if (s == MYO_OK && fb)
            s = myo_attention_backward_ref(&acfg, BENCH_VAL_N, 1, &w64, x_d, dy_d, dx_d, &g64);
        break;
    case M_SSM:
        s = myo_ssm_forward_ref(&r.scfg, BENCH_VAL_N, 1, p_d, x_d, y_d);
        if (s == MYO_OK && fb)
            s = myo_ssm_backward_ref(&r.scfg, BENCH_VAL_N, 1, p_d, x_d, dy_d, dx_d, g_d);
        break;
    default:
        s = solve_reference(&r, wu, wd, x_d, y_d);
    }
    s = (myo_status)myo_bench_agree((int)s);
    if (s != MYO_OK) goto done;
    {
        double sums[4] = {0, 0, 0, 0};
        for (int64_t k = 0; k < r.rows; k++) {
            int64_t gl = p->mode == BENCH_MODE_SEQ ? r.row_label[k] : k;
            sq_sums(r.y ? r.y + k * D : NULL, r.y64 ? r.y64 + k * D : NULL, y_d + gl * D, (size_t)D,
                    &sums[0], &sums[1]);
            if (fb && !IS_SOLVE(KIND(p)))
                sq_sums(r.dx + k * D, NULL, dx_d + gl * D, (size_t)D, &sums[2], &sums[3]);
        }
        myo_bench_mpi_check(
            MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce");
        double e = myo_bench_rel_err(sums[0], sums[1]);
        if (fb && !IS_SOLVE(KIND(p))) {
            e = fmax(e, myo_bench_rel_err(sums[2], sums[3]));
            e = fmax(e, grads_err(&r, g_d, p->mode == BENCH_MODE_DATA ? myo_bench_size() : 1.0));
        }
        myo_bench_max_over_ranks(&e, 1);
        *err = e;
    }
done:
    if (s != MYO_OK)
        snprintf(why, why_size, "validation %s: %s: %.100s", what, myo_status_str(s),
                 myo_error_detail());
    free(xg), free(dyg), free(wu), free(wd), free(x_d), free(dy_d), free(y_d), free(dx_d);
    free(p_d), free(g_d);
    runner_free(&r);
    return s;
}

/* ------------------------------------------------------------ models */

/* The parameters of p's layer (0 for the solvers). */
static int64_t n_params_of(const bench_point *p)
{
    if (IS_SOLVE(KIND(p))) return 0;
    if (KIND(p) != M_SSM) return 4 * p->D * p->D;
    const myo_ssm_config cfg = {.d_model = p->D};
    myo_ssm_layout ly;
    return myo_ssm_layout_of(&cfg, &ly) == MYO_OK ? ly.count : 0;
}

/* The library's cost model of p's kernel (myo_layer_cost, ..., one pass
 * over the point's B sequences of n tokens on one rank's problem); the
 * shape of its tree from the builders' arguments, without building it. */
static myo_status lib_cost(const bench_point *p, myo_cost *c)
{
    myo_tree_shape shape;
    myo_status s = p->tree == BENCH_TREE_CHAIN  ? myo_tree_shape_chain(p->n, &shape)
                   : p->tree == BENCH_TREE_HEAP ? myo_tree_shape_heap(p->n, p->arity, &shape)
                                                : myo_tree_shape_kary(p->n, p->arity, &shape);
    const myo_layer_config lcfg = {.d_model = p->D, .heads = p->H, .direction = p->dir};
    const myo_attention_config acfg = {
        .d_model = p->D, .heads = p->H ? p->H : 1, .causal = p->causal};
    const myo_ssm_config scfg = {.d_model = p->D};
    switch (KIND(p)) {
    case M_MYOSOTIS:
        return s == MYO_OK ? myo_layer_cost(&shape, &lcfg, p->B, c) : s;
    case M_DENSE_TILED:
    case M_DENSE_MAT:
        return myo_attention_cost(&acfg, KIND(p) == M_DENSE_TILED ? MYO_ATTN_TILED
                                                                  : MYO_ATTN_MATERIALIZED,
                                  p->n, p->B, c);
    case M_SSM:
        return myo_ssm_cost(&scfg, p->n, p->B, c);
    default: /* solve-only: the forward solve with M costs what the backward's M^T one does */
        if (s == MYO_OK)
            s = myo_solve_cost(&shape, p->H, p->D / p->H,
                               p->prec == BENCH_PREC_DOUBLE ? MYO_F64 : MYO_F32, p->B, c);
        if (s == MYO_OK && KIND(p) == M_SOLVE_ONLY)
            c->flops[0] = c->flops[1], c->bytes[0] = c->bytes[1];
        return s;
    }
}

/* Bytes one rank allocates for point p: data mode, the kernel's work
 * (its cost model) and the benchmark's inputs, outputs, parameters and
 * tree; sequence mode, the distributed work objects (which have no
 * library cost model yet: the counts of their headers). */
static double predict_bytes(const bench_point *p, int P)
{
    const double D = (double)p->D, H = p->H ? (double)p->H : 1, B = (double)p->B;
    const double n = (double)p->n, N = (double)bench_nodes_bound(p, p->n), f = 4.0;
    if (p->mode != BENCH_MODE_SEQ) {
        myo_cost c;
        if (lib_cost(p, &c) != MYO_OK) return INFINITY; /* a size the library refuses */
        const double e = p->prec == BENCH_PREC_DOUBLE ? 8.0 : 4.0;
        if (IS_SOLVE(KIND(p))) return c.work_bytes + 40 * N + B * N * (e * (D + 2 * H));
        return c.work_bytes + 40 * N + 4 * f * B * n * D + 2 * f * (double)n_params_of(p);
    }
    const double nl = ceil(N / P) + 64, tl = ceil(n / P) + 64;
    switch (KIND(p)) {
    case M_MYOSOTIS:
        return 40 * N + f * (9 * nl * D + 4 * nl * H + 8 * P * (log2(N) + 2) * D + 4 * D * D) +
               20 * nl * H + 4 * f * B * tl * D + 8 * f * D * D;
    case M_DENSE_TILED: /* the ring's blocks, tiles of MYO_ATTN_TILE_Q/K_DEFAULT rows */
        return f * (16 * tl * D + 3 * H * tl +
                    2 * MYO_ATTN_TILE_Q_DEFAULT * MYO_ATTN_TILE_K_DEFAULT) +
               4 * f * B * tl * D + 8 * f * D * D;
    default: { /* solve: the weights, the factor (pivots in the working precision), the rhs */
        const double e = p->prec == BENCH_PREC_DOUBLE ? 8.0 : 4.0;
        return 40 * N + B * (2 * e + 3 * e + 8) * nl * H + e * B * nl * D + 64 * nl;
    }
    }
}

/* Floating-point operations and bytes of one pass (the point's phase)
 * over all ranks, from the library's cost model: per sequence, times B,
 * times the ranks in data mode. */
static void point_cost(const bench_point *p, int P, double *flops, double *bytes)
{
    myo_cost c;
    if (lib_cost(p, &c) != MYO_OK) {
        *flops = *bytes = NAN;
        return;
    }
    const int fb = p->phase == BENCH_PH_FB;
    const double ranks = p->mode == BENCH_MODE_DATA ? P : 1;
    *flops = ranks * (c.flops[0] + (fb ? c.flops[1] : 0.0));
    *bytes = ranks * (c.bytes[0] + (fb ? c.bytes[1] : 0.0));
}

/* ------------------------------------------------------------- hooks */

struct bench_run {
    runner r;
};

static const char *unsupported(const bench_point *p)
{
    if (p->mode != BENCH_MODE_SEQ) return NULL;
    if (KIND(p) == M_SSM)
        return "no sequence-parallel SSM mixer (only the bare scan myo_ssm_scan_dist_f32 is "
               "distributed)";
    if (KIND(p) == M_DENSE_MAT)
        return "no sequence-parallel materialized attention (ring attention is the tiled form)";
    return NULL;
}

static double hook_predict_bytes(const bench_point *p, int ranks)
{
    const bench_point q = bench_as_run(p, ranks);
    return predict_bytes(&q, ranks);
}

/* Local mode: every rank's share, N its nodes, P of them. */
static void hook_cost(const bench_point *p, double N, int ranks, double *flops, double *bytes)
{
    const bench_point q = bench_as_run(p, ranks);
    (void)N; /* the shape comes from the tree's builder arguments */
    point_cost(&q, ranks, flops, bytes);
}

static myo_status hook_setup(const bench_point *p, uint64_t seed, bench_run **out,
                             const char **why)
{
    *out = NULL;
    *why = NULL;
    bench_run *k = calloc(1, sizeof *k);
    myo_status s = (myo_status)myo_bench_agree(k ? MYO_OK : MYO_ERR_NOMEM);
    if (s != MYO_OK) {
        free(k);
        *why = "out of memory";
        return s;
    }
    const int64_t n = p->mode == BENCH_MODE_LOCAL ? bench_local_n(p->n, myo_bench_size()) : p->n;
    s = runner_create(p, n, p->B, &k->r);
    if (s == MYO_OK) s = (myo_status)myo_bench_agree((int)runner_fill(&k->r, seed));
    if (s == MYO_OK) {
        s = runner_prepare(&k->r);
        if (s != MYO_OK) k->r.why = myo_error_detail();
        s = (myo_status)myo_bench_agree((int)s);
    }
    *why = k->r.why ? k->r.why : myo_error_detail();
    *out = k;
    return s;
}

static myo_status hook_run(bench_run *k)
{
    return runner_run(&k->r);
}

static int64_t hook_nodes(const bench_run *k)
{
    return k->r.N;
}

/* The serial work objects keep their last passes' phase times. */
static void hook_split(const bench_run *k, bench_split *out)
{
    myo_phase_times t;
    memset(&t, 0, sizeof t);
    out->proj = out->mix = NAN;
    if (k->r.lw)
        myo_layer_work_times(k->r.lw, &t);
    else if (k->r.aw)
        myo_attention_work_times(k->r.aw, &t);
    else if (k->r.sw)
        myo_ssm_work_times(k->r.sw, &t);
    else
        return;
    const int fb = k->r.pt.phase == BENCH_PH_FB;
    out->proj = t.forward_projection + (fb ? t.backward_projection : 0.0);
    out->mix = t.forward_mixing + (fb ? t.backward_mixing : 0.0);
}

static void hook_teardown(bench_run **k)
{
    if (!*k) return;
    runner_free(&(*k)->r);
    free(*k);
    *k = NULL;
}

#define RUNNER_KERNEL(var, name_, id_, power_, uses_)                                              \
    const bench_kernel var = {.name = name_,                                                       \
                              .id = id_,                                                           \
                              .power = power_,                                                     \
                              .uses = uses_,                                                       \
                              .unsupported = unsupported,                                          \
                              .predict_bytes = hook_predict_bytes,                                 \
                              .cost = hook_cost,                                                   \
                              .setup = hook_setup,                                                 \
                              .run = hook_run,                                                     \
                              .nodes = hook_nodes,                                                 \
                              .split = hook_split,                                                 \
                              .validate = validate,                                                \
                              .teardown = hook_teardown}

RUNNER_KERNEL(bench_kernel_myosotis, "myosotis", M_MYOSOTIS, 1,
              BENCH_USES_TREE | BENCH_USES_HEADS | BENCH_HAS_BWD);
RUNNER_KERNEL(bench_kernel_dense_tiled, "dense-tiled", M_DENSE_TILED, 2,
              BENCH_USES_HEADS | BENCH_HAS_BWD | BENCH_USES_MASK);
RUNNER_KERNEL(bench_kernel_dense_materialized, "dense-materialized", M_DENSE_MAT, 2,
              BENCH_USES_HEADS | BENCH_HAS_BWD | BENCH_USES_MASK);
RUNNER_KERNEL(bench_kernel_ssm, "ssm", M_SSM, 1, BENCH_HAS_BWD);
RUNNER_KERNEL(bench_kernel_solve, "solve", M_SOLVE, 1,
              BENCH_USES_TREE | BENCH_USES_HEADS | BENCH_HAS_DOUBLE | BENCH_HAS_BWD);
RUNNER_KERNEL(bench_kernel_solve_only, "solve-only", M_SOLVE_ONLY, 1,
              BENCH_USES_TREE | BENCH_USES_HEADS | BENCH_HAS_DOUBLE | BENCH_HAS_BWD |
                  BENCH_EXPLICIT);
