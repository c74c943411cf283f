/* ssm.c -- the SSM baseline, optimised float32 passes (myosotis_ssm.h).
 *
 * Letters as in myosotis_ssm.h; T is the block (time steps per block), W
 * the lanes of the scan kernel, G = ceil(L / W) its channel groups.
 *
 * Both passes walk each sequence in blocks of T tokens.  The projections of
 * a block are GEMMs (cblas_sgemm); the weights' gradients accumulate over
 * the blocks (beta = 1).  The scan runs one group of W channels at a time
 * over the block: the N x W states of the group stay in registers and L1,
 * every lane loop is one vector operation, and no reduction crosses lanes
 * (y, ddelta and du are sums over the states of one lane).  The only
 * cross-channel sums, dBm and dCm, accumulate per lane over the groups and
 * are reduced once per block.  The states are stored lane-interleaved,
 * (G, N, W); lanes past L are zero and stay zero.
 *
 * Forward keeps [x | z], [dt_low | Bm | Cm] and the state at every block
 * start.  Backward walks the blocks in reverse; per block it recomputes the
 * convolution, u and delta, then per group the states of the block from
 * the saved block-start state (kept in (T, N, W) buffers with the factors
 * exp(delta A)), y and the gate, and runs the reverse scan, carrying dL/dh
 * and the convolution's look-ahead to the previous block. */
#include <config.h>

#include "core/core.h"
#include "core/mathfn.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSM_W 8                        /* lanes: two SSE or one AVX vector of floats */
#define SSM_MAX_DIM ((int64_t)1 << 24) /* D, N, E, K, R, block, L */

/* ------------------------------------------------------- shape and init */

myo_status myo_ssm_layout_of(const myo_ssm_config *cfg, myo_ssm_layout *out)
{
    if (!cfg || !out) return myo_fail(MYO_ERR_ARG, "myo_ssm_layout_of: NULL config or output");
    const int64_t fields[6] = {cfg->d_model, cfg->d_state, cfg->expand,
                               cfg->d_conv,  cfg->dt_rank, cfg->block};
    static const char *const names[6] = {"d_model", "d_state", "expand",
                                         "d_conv",  "dt_rank", "block"};
    for (int i = 0; i < 6; i++)
        if (fields[i] < 0 || fields[i] > SSM_MAX_DIM || (i == 0 && fields[i] < 1))
            return myo_fail(MYO_ERR_ARG,
                            "myo_ssm_config: %s = %lld (want %s 2^24; 0 picks the default)",
                            names[i], (long long)fields[i], i == 0 ? "1 <=" : "0 <=");
    myo_ssm_layout ly;
    ly.d_model = cfg->d_model;
    ly.d_state = cfg->d_state ? cfg->d_state : 16;
    ly.expand = cfg->expand ? cfg->expand : 2;
    ly.d_conv = cfg->d_conv ? cfg->d_conv : 4;
    ly.dt_rank = cfg->dt_rank ? cfg->dt_rank : (cfg->d_model + 15) / 16;
    ly.block = cfg->block ? cfg->block : MYO_SSM_BLOCK_DEFAULT;
    ly.d_inner = ly.expand * ly.d_model;
    if (ly.d_inner > SSM_MAX_DIM)
        return myo_fail(MYO_ERR_ARG, "myo_ssm_config: expand * d_model = %lld exceeds 2^24",
                        (long long)ly.d_inner);
    int64_t D = ly.d_model, L = ly.d_inner, N = ly.d_state, K = ly.d_conv, R = ly.dt_rank;
    int64_t sizes[9] = {D * 2 * L, L * K, L, L * (R + 2 * N), R * L, L, L * N, L, L * D};
    int64_t *offsets[9] = {&ly.w_in,    &ly.conv_w, &ly.conv_b, &ly.w_x,  &ly.w_dt,
                           &ly.dt_bias, &ly.a_log,  &ly.d_skip, &ly.w_out};
    int64_t at = 0;
    for (int i = 0; i < 9; i++) {
        if (sizes[i] > INT32_MAX)
            return myo_fail(MYO_ERR_ARG, "myo_ssm_config: a weight of %lld values exceeds 2^31",
                            (long long)sizes[i]);
        *offsets[i] = at;
        at += sizes[i];
    }
    ly.count = at;
    *out = ly;
    return MYO_OK;
}

myo_status myo_ssm_check(const myo_ssm_config *cfg, int64_t n, int64_t batch)
{
    myo_ssm_layout ly;
    MYO_CHECK(myo_ssm_layout_of(cfg, &ly));
    if (n < 1 || batch < 1)
        return myo_fail(MYO_ERR_ARG, "myo_ssm: n = %lld and batch = %lld must be >= 1",
                        (long long)n, (long long)batch);
    return MYO_OK;
}

/* Mamba's initialisation (mamba_simple.py) into dp or fp, whichever is not NULL. */
static myo_status init_params(const myo_ssm_config *cfg, myo_rng *rng, double *dp, float *fp)
{
    myo_ssm_layout ly;
    MYO_CHECK(myo_ssm_layout_of(cfg, &ly));
    if (!rng || (!dp && !fp)) return myo_fail(MYO_ERR_ARG, "myo_ssm_params_init: NULL argument");
    int64_t D = ly.d_model, L = ly.d_inner, N = ly.d_state, K = ly.d_conv, R = ly.dt_rank;
#define PUT(i, v) (dp ? (void)(dp[i] = (v)) : (void)(fp[i] = (float)(v)))
    struct {
        int64_t off, count;
        double bound;
    } uniform[6] = {{ly.w_in, D * 2 * L, 1.0 / sqrt((double)D)},
                    {ly.conv_w, L * K, 1.0 / sqrt((double)K)},
                    {ly.conv_b, L, 1.0 / sqrt((double)K)},
                    {ly.w_x, L * (R + 2 * N), 1.0 / sqrt((double)L)},
                    {ly.w_dt, R * L, 1.0 / sqrt((double)R)},
                    {ly.w_out, L * D, 1.0 / sqrt((double)L)}};
    for (int u = 0; u < 6; u++)
        for (int64_t i = 0; i < uniform[u].count; i++)
            PUT(uniform[u].off + i, myo_rng_uniform(rng, -uniform[u].bound, uniform[u].bound));
    for (int64_t c = 0; c < L; c++) {
        /* dt log-uniform in [1e-3, 1e-1], floored at 1e-4; dt_bias = softplus^-1(dt) */
        double dt = exp(myo_rng_uniform(rng, log(1e-3), log(1e-1)));
        dt = dt < 1e-4 ? 1e-4 : dt;
        PUT(ly.dt_bias + c, dt + log(-expm1(-dt)));
        for (int64_t s = 0; s < N; s++)
            PUT(ly.a_log + c * N + s, log((double)(s + 1)));
        PUT(ly.d_skip + c, 1.0);
    }
#undef PUT
    return MYO_OK;
}

myo_status myo_ssm_params_init_f64(const myo_ssm_config *cfg, myo_rng *rng, double *params)
{
    if (!params) return myo_fail(MYO_ERR_ARG, "myo_ssm_params_init_f64: NULL params");
    return init_params(cfg, rng, params, NULL);
}

myo_status myo_ssm_params_init_f32(const myo_ssm_config *cfg, myo_rng *rng, float *params)
{
    if (!params) return myo_fail(MYO_ERR_ARG, "myo_ssm_params_init_f32: NULL params");
    return init_params(cfg, rng, NULL, params);
}

/* ------------------------------------------------ vectorisable functions */

/* ------------------------------------------------------------ workspace */

struct myo_ssm_work {
    myo_ssm_layout ly;
    int64_t n, batch;
    int64_t nb;     /* blocks per sequence */
    int64_t groups; /* G */
    int have_forward;
    size_t bytes;
    myo_phase_times times; /* of the last forward and backward */
    /* kept by forward */
    float *xz;   /* (B, n, 2L): x, z */
    float *xdbl; /* (B, n, P): dt_low, Bm, Cm */
    float *ckpt; /* (B, nb, G, N, W): state at each block start */
    /* scratch, one allocation */
    float *scratch;
    float *at;             /* (G, N, W): A = -exp(A_log), lanes past L zero */
    float *dsk;            /* (G, W): Dskip */
    float *h;              /* (G, N, W): forward's running state, backward's dL/dh carry */
    float *da;             /* (G, N, W): backward's dL/dA */
    float *h0;             /* (N, W): one group's block-start state */
    float *convt, *dconvt; /* (K, L): conv_w transposed, and its gradient */
    float *dcarry;         /* (K - 1, L): dL/dxc of the K - 1 tokens after the block */
    float *xc, *u, *delta, *sig, *y, *dg, *du; /* (T, L) */
    float *dxz;                                /* (T, 2L) */
    float *dxdbl;                              /* (T, P) */
    float *hbuf, *abuf, *dbp, *dcp;            /* (T, N, W) */
};

/* a * b * ... as size_t, or 0 on overflow. */
static size_t mul3(int64_t a, int64_t b, int64_t c)
{
    size_t r = (size_t)a;
    if (b != 0 && r > SIZE_MAX / (size_t)b) return 0;
    r *= (size_t)b;
    if (c != 0 && r > SIZE_MAX / (size_t)c) return 0;
    return r * (size_t)c;
}

myo_status myo_ssm_work_create(const myo_ssm_config *cfg, int64_t n, int64_t batch,
                               myo_ssm_work **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_ssm_work_create: NULL output");
    *out = NULL;
    MYO_CHECK(myo_ssm_check(cfg, n, batch));
    myo_ssm_work *w = calloc(1, sizeof *w);
    if (!w) return myo_fail(MYO_ERR_NOMEM, "myo_ssm_work_create: out of memory");
    myo_ssm_layout_of(cfg, &w->ly); /* valid: checked above */
    const myo_ssm_layout *ly = &w->ly;
    int64_t L = ly->d_inner, N = ly->d_state, K = ly->d_conv, P = ly->dt_rank + 2 * N;
    int64_t T = ly->block < n ? ly->block : n;
    w->n = n, w->batch = batch;
    w->nb = (n + ly->block - 1) / ly->block;
    w->groups = (L + SSM_W - 1) / SSM_W;
    int64_t GNW = w->groups * N * SSM_W;

    size_t n_xz = mul3(batch, n, 2 * L), n_xdbl = mul3(batch, n, P);
    size_t n_ckpt = mul3(batch, w->nb, GNW);
    const size_t gnw = (size_t)GNW, tl = (size_t)(T * L), tnw = (size_t)(T * N * SSM_W);
    const struct {
        float **p;
        size_t count;
    } parts[] = {{&w->at, gnw},
                 {&w->dsk, (size_t)(w->groups * SSM_W)},
                 {&w->h, gnw},
                 {&w->da, gnw},
                 {&w->h0, (size_t)(N * SSM_W)},
                 {&w->convt, (size_t)(K * L)},
                 {&w->dconvt, (size_t)(K * L)},
                 {&w->dcarry, (size_t)((K - 1) * L)},
                 {&w->xc, tl},
                 {&w->u, tl},
                 {&w->delta, tl},
                 {&w->sig, tl},
                 {&w->y, tl},
                 {&w->dg, tl},
                 {&w->du, tl},
                 {&w->dxz, 2 * tl},
                 {&w->dxdbl, (size_t)(T * P)},
                 {&w->hbuf, tnw},
                 {&w->abuf, tnw},
                 {&w->dbp, tnw},
                 {&w->dcp, tnw}};
    enum { n_parts = sizeof parts / sizeof parts[0] };
    size_t n_scratch = 0;
    for (int i = 0; i < n_parts; i++)
        n_scratch += (parts[i].count + 15) & ~(size_t)15; /* 64 B */
    if (!n_xz || !n_xdbl || !n_ckpt || n_xz > SIZE_MAX / 8) {
        free(w);
        return myo_fail(MYO_ERR_NOMEM, "myo_ssm_work_create: n = %lld x batch = %lld overflows",
                        (long long)n, (long long)batch);
    }
    w->xz = myo_alloc(n_xz, sizeof(float), "myo_ssm_work_create: [x | z] cache");
    w->xdbl = w->xz ? myo_alloc(n_xdbl, sizeof(float), "myo_ssm_work_create: x_proj cache") : NULL;
    w->ckpt = w->xdbl ? myo_alloc(n_ckpt, sizeof(float), "myo_ssm_work_create: state cache") : NULL;
    w->scratch =
        w->ckpt ? myo_alloc(n_scratch, sizeof(float), "myo_ssm_work_create: scratch") : NULL;
    if (!w->scratch) {
        myo_ssm_work_destroy(&w);
        return MYO_ERR_NOMEM;
    }
    memset(w->scratch, 0, n_scratch * sizeof(float));
    float *p = w->scratch;
    for (int i = 0; i < n_parts; i++) {
        *parts[i].p = p;
        p += (parts[i].count + 15) & ~(size_t)15;
    }
    w->bytes = sizeof *w + (n_xz + n_xdbl + n_ckpt + n_scratch) * sizeof(float);
    *out = w;
    return MYO_OK;
}

void myo_ssm_work_destroy(myo_ssm_work **w)
{
    if (!w || !*w) return;
    free((*w)->xz), free((*w)->xdbl), free((*w)->ckpt), free((*w)->scratch);
    free(*w);
    *w = NULL;
}

void myo_ssm_work_times(const myo_ssm_work *w, myo_phase_times *out)
{
    if (w && out) *out = w->times;
}

size_t myo_ssm_work_bytes(const myo_ssm_work *w)
{
    return w ? w->bytes : 0;
}

/* ------------------------------------------------------------- kernels */

/* C (m, nn) = op(A) op(B) + beta C, row-major; every GEMM of the mixer is
 * a product with a weight matrix (or its gradient), so its seconds are
 * added to *projection (myo_phase_times). */
static void gemm(double *projection, int trans_a, int trans_b, int64_t m, int64_t nn, int64_t k,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc)
{
    MYO_TIMED(*projection, cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                                       trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)nn, (int)k,
                                       1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc));
}

/* The scan over T tokens of one group of w <= W channels.
 * u, delta, y (T, ld) from the group's first channel; bm, cm (T, ldbc);
 * at (N, W) A; ds (W) Dskip; h (N, W) the state, in and out.  Lanes j >= w
 * of at, ds and h are zero and stay zero.  With keep (a constant at each
 * call site, so the branch folds away), hbuf and abuf (T, N, W) receive the
 * states h_t and the factors exp(delta_t A) for the reverse scan. */
static MYO_ALWAYS_INLINE void scan_group(int64_t T, int64_t N, int w, const float *u,
                                         const float *delta, int64_t ld, const float *bm,
                                         const float *cm, int64_t ldbc, const float *at,
                                         const float *ds, float *restrict h, float *y, int keep,
                                         float *restrict hbuf, float *restrict abuf)
{
    for (int64_t t = 0; t < T; t++) {
        float dt[SSM_W], du[SSM_W], acc[SSM_W];
        for (int j = 0; j < SSM_W; j++) {
            float ut = j < w ? u[t * ld + j] : 0.0f;
            dt[j] = j < w ? delta[t * ld + j] : 0.0f;
            du[j] = dt[j] * ut;
            acc[j] = ds[j] * ut;
        }
        const float *bt = bm + t * ldbc, *ct = cm + t * ldbc;
        for (int64_t s = 0; s < N; s++) {
            float b = bt[s], c = ct[s];
            float *hs = h + s * SSM_W;
            const float *as = at + s * SSM_W;
            for (int j = 0; j < SSM_W; j++) {
                float ab = myo_exp_nonposf(dt[j] * as[j]);
                float hv = ab * hs[j] + du[j] * b;
                hs[j] = hv;
                acc[j] += c * hv;
                if (keep) abuf[(t * N + s) * SSM_W + j] = ab, hbuf[(t * N + s) * SSM_W + j] = hv;
            }
        }
        for (int j = 0; j < w; j++)
            y[t * ld + j] = acc[j];
    }
}

/* The forward scan, specialised for full groups. */
static void scan_fwd(int64_t T, int64_t N, int w, const float *u, const float *delta, int64_t ld,
                     const float *bm, const float *cm, int64_t ldbc, const float *at,
                     const float *ds, float *h, float *y)
{
    if (w == SSM_W)
        scan_group(T, N, SSM_W, u, delta, ld, bm, cm, ldbc, at, ds, h, y, 0, NULL, NULL);
    else
        scan_group(T, N, w, u, delta, ld, bm, cm, ldbc, at, ds, h, y, 0, NULL, NULL);
}

/* The reverse scan over T tokens of one group of w <= W channels, after a
 * scan_group with keep from h0 (N, W) filled hbuf, abuf (T, N, W).
 * In:  u, delta, dyin = dL/dy (T, ld); bm, cm (T, ldbc); at (N, W); ds (W);
 *      dh (N, W) dL/dh at the last token from the tokens after it.
 * Out: ddelta (T, ld) = dL/ddelta (may equal delta: step t reads delta[t]
 *      before writing ddelta[t]), du (T, ld) = dL/du from the scan and the
 *      skip; dh becomes dL/dh before the first token.  Accumulated: dbp,
 *      dcp (T, N, W) per-lane terms of dL/dBm, dL/dCm; da (N, W) dL/dA; dds
 *      (W) dL/dDskip.  Shared by the mixer's backward and the bare scan's. */
static MYO_ALWAYS_INLINE void
scan_group_rev(int64_t T, int64_t N, int w, const float *u, const float *delta, float *ddelta,
               const float *dyin, float *du, int64_t ld, const float *bm, const float *cm,
               int64_t ldbc, const float *at, const float *ds, const float *h0, float *restrict dh,
               const float *restrict hbuf, const float *restrict abuf, float *restrict dbp,
               float *restrict dcp, float *restrict da, float *restrict dds)
{
    for (int64_t t = T - 1; t >= 0; t--) {
        const float *hp = t > 0 ? hbuf + (t - 1) * N * SSM_W : h0;
        const float *hc = hbuf + t * N * SSM_W, *ac = abuf + t * N * SSM_W;
        float *dbt = dbp + t * N * SSM_W, *dct = dcp + t * N * SSM_W;
        float dt[SSM_W], uu[SSM_W], dy[SSM_W], dtu[SSM_W], ddl[SSM_W], duu[SSM_W];
        for (int j = 0; j < SSM_W; j++) {
            uu[j] = j < w ? u[t * ld + j] : 0.0f;
            dt[j] = j < w ? delta[t * ld + j] : 0.0f;
            dy[j] = j < w ? dyin[t * ld + j] : 0.0f;
            dtu[j] = dt[j] * uu[j];
            ddl[j] = 0.0f;
            duu[j] = dy[j] * ds[j];
            dds[j] += dy[j] * uu[j];
        }
        const float *bt = bm + t * ldbc, *ct = cm + t * ldbc;
        for (int64_t s = 0; s < N; s++) {
            float b = bt[s], c = ct[s];
            const float *as = at + s * SSM_W;
            for (int j = 0; j < SSM_W; j++) {
                int64_t i = s * SSM_W + j;
                float dhv = dh[i] + dy[j] * c; /* dL/dh_t: y_t and h_{t+1} read h_t */
                dct[i] += dy[j] * hc[i];
                /* h_t = a h_{t-1} + delta Bm u with a = exp(delta A) */
                float ga = dhv * hp[i] * ac[i];
                ddl[j] += ga * as[j] + dhv * b * uu[j];
                da[i] += ga * dt[j];
                dbt[i] += dhv * dtu[j];
                duu[j] += dhv * dt[j] * b;
                dh[i] = dhv * ac[i];
            }
        }
        for (int j = 0; j < w; j++)
            ddelta[t * ld + j] = ddl[j], du[t * ld + j] = duu[j];
    }
}

/* Backward of the scan and the gate over one block, for one group of
 * w <= W channels (shapes as scan_group; z, dz (T, ldz)).
 * In:  h0 (N, W) the state before the block; dh (N, W) dL/dh at the
 *      block's last token from the tokens after it; dg = dL/dg.
 * Out: y = g = y .* silu(z) (for dW_out), dz, dg overwritten by dL/dy,
 *      delta overwritten by dL/ddelta, du = dL/du from the scan and the
 *      skip; dh becomes dL/dh before the block.  Accumulated: dbp, dcp
 *      (T, N, W) per-lane terms of dL/dBm, dL/dCm; da (N, W) dL/dA; dds (W)
 *      dL/dDskip.  hwork (N, W), hbuf, abuf (T, N, W) are scratch. */
static MYO_ALWAYS_INLINE void
scan_group_bwd(int64_t T, int64_t N, int w, const float *u, float *delta, const float *z, float *dz,
               int64_t ldz, float *dg, float *y, float *du, int64_t ld, const float *bm,
               const float *cm, int64_t ldbc, const float *at, const float *ds, const float *h0,
               float *restrict hwork, float *restrict dh, float *restrict hbuf,
               float *restrict abuf, float *restrict dbp, float *restrict dcp, float *restrict da,
               float *restrict dds)
{
    memcpy(hwork, h0, (size_t)(N * SSM_W) * sizeof(float));
    scan_group(T, N, w, u, delta, ld, bm, cm, ldbc, at, ds, hwork, y, 1, hbuf, abuf);
    for (int64_t t = 0; t < T; t++)
        for (int j = 0; j < SSM_W; j++) {
            float zz = j < w ? z[t * ldz + j] : 0.0f, yy = j < w ? y[t * ld + j] : 0.0f;
            float dgv = j < w ? dg[t * ld + j] : 0.0f;
            float sg = myo_sigmoid_vf(zz), sz = zz * sg;
            float gy = yy * sz, dzv = dgv * yy * (sg * (1.0f + zz * (1.0f - sg))), dyv = dgv * sz;
            if (j < w) y[t * ld + j] = gy, dz[t * ldz + j] = dzv, dg[t * ld + j] = dyv;
        }
    scan_group_rev(T, N, w, u, delta, delta, dg, du, ld, bm, cm, ldbc, at, ds, h0, dh, hbuf, abuf,
                   dbp, dcp, da, dds);
}

/* The bare scan's backward of one block (scan_group_rev after recomputing
 * the block's states from h0 with scan_group), specialised for full
 * groups; y (T, ld) is scratch. */
static void scan_bare_bwd(int64_t T, int64_t N, int w, const float *u, const float *delta,
                          float *ddelta, const float *dy, float *du, float *y, int64_t ld,
                          const float *bm, const float *cm, int64_t ldbc, const float *at,
                          const float *ds, const float *h0, float *hwork, float *dh, float *hbuf,
                          float *abuf, float *dbp, float *dcp, float *da, float *dds)
{
    memcpy(hwork, h0, (size_t)(N * SSM_W) * sizeof(float));
    if (w == SSM_W) {
        scan_group(T, N, SSM_W, u, delta, ld, bm, cm, ldbc, at, ds, hwork, y, 1, hbuf, abuf);
        scan_group_rev(T, N, SSM_W, u, delta, ddelta, dy, du, ld, bm, cm, ldbc, at, ds, h0, dh,
                       hbuf, abuf, dbp, dcp, da, dds);
    } else {
        scan_group(T, N, w, u, delta, ld, bm, cm, ldbc, at, ds, hwork, y, 1, hbuf, abuf);
        scan_group_rev(T, N, w, u, delta, ddelta, dy, du, ld, bm, cm, ldbc, at, ds, h0, dh, hbuf,
                       abuf, dbp, dcp, da, dds);
    }
}

static void scan_bwd(int64_t T, int64_t N, int w, const float *u, float *delta, const float *z,
                     float *dz, int64_t ldz, float *dg, float *y, float *du, int64_t ld,
                     const float *bm, const float *cm, int64_t ldbc, const float *at,
                     const float *ds, const float *h0, float *hwork, float *dh, float *hbuf,
                     float *abuf, float *dbp, float *dcp, float *da, float *dds)
{
    if (w == SSM_W)
        scan_group_bwd(T, N, SSM_W, u, delta, z, dz, ldz, dg, y, du, ld, bm, cm, ldbc, at, ds, h0,
                       hwork, dh, hbuf, abuf, dbp, dcp, da, dds);
    else
        scan_group_bwd(T, N, w, u, delta, z, dz, ldz, dg, y, du, ld, bm, cm, ldbc, at, ds, h0,
                       hwork, dh, hbuf, abuf, dbp, dcp, da, dds);
}

/* Causal depthwise convolution of tokens t0 .. t0+T-1 of one sequence:
 * xs (n, 2L) the sequence's [x | z] (x in columns [0, L)); convt (K, L);
 * xc (T, L) = conv_b + sum_k convt[k] x[t - (K-1) + k]. */
static void conv_block(const myo_ssm_layout *ly, const float *xs, int64_t t0, int64_t T,
                       const float *convt, const float *conv_b, float *xc)
{
    int64_t L = ly->d_inner, K = ly->d_conv;
    for (int64_t t = 0; t < T; t++) {
        float *row = xc + t * L;
        memcpy(row, conv_b, (size_t)L * sizeof(float));
        for (int64_t k = 0; k < K; k++) {
            int64_t src = t0 + t - (K - 1) + k;
            if (src < 0) continue;
            const float *xr = xs + src * 2 * L, *wk = convt + k * L;
            for (int64_t c = 0; c < L; c++)
                row[c] += wk[c] * xr[c];
        }
    }
}

/* u (T, L) = silu(xc). */
static void silu_block(int64_t count, const float *xc, float *u)
{
    for (int64_t i = 0; i < count; i++)
        u[i] = xc[i] * myo_sigmoid_vf(xc[i]);
}

/* delta (T, L) holds dt_low W_dt: add dt_bias and take softplus in place;
 * sig (T, L) receives softplus' = sigmoid. */
static void softplus_block(int64_t T, int64_t L, const float *dt_bias, float *delta, float *sig)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < L; c++) {
            float sg, v = myo_softplus_vf(delta[t * L + c] + dt_bias[c], &sg);
            delta[t * L + c] = v, sig[t * L + c] = sg;
        }
}

/* The per-call parameter transforms: at = -exp(A_log) and dsk in lanes,
 * convt = conv_w transposed. */
static void prepare(myo_ssm_work *w, const float *params)
{
    const myo_ssm_layout *ly = &w->ly;
    int64_t L = ly->d_inner, N = ly->d_state, K = ly->d_conv;
    const float *a_log = params + ly->a_log, *conv_w = params + ly->conv_w;
    for (int64_t c = 0; c < L; c++) {
        int64_t g = c / SSM_W, j = c % SSM_W;
        for (int64_t s = 0; s < N; s++)
            w->at[(g * N + s) * SSM_W + j] = -expf(a_log[c * N + s]);
        w->dsk[g * SSM_W + j] = params[ly->d_skip + c];
        for (int64_t k = 0; k < K; k++)
            w->convt[k * L + c] = conv_w[c * K + k];
    }
}

static int overlaps(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + b_bytes && pb < pa + a_bytes;
}

/* ------------------------------------------------------------- forward */

myo_status myo_ssm_forward_f32(myo_ssm_work *w, const float *params, const float *x, float *y)
{
    if (!w || !params || !x || !y)
        return myo_fail(MYO_ERR_ARG, "myo_ssm_forward_f32: NULL argument");
    const myo_ssm_layout *ly = &w->ly;
    int64_t D = ly->d_model, L = ly->d_inner, N = ly->d_state, R = ly->dt_rank, P = R + 2 * N;
    int64_t n = w->n, G = w->groups, GNW = G * N * SSM_W;
    size_t xy_bytes = (size_t)(w->batch * n * D) * sizeof(float);
    if (overlaps(x, xy_bytes, y, xy_bytes))
        return myo_fail(MYO_ERR_ARG, "myo_ssm_forward_f32: y overlaps x (backward reads x)");
    double t_start = myo_now(), proj = 0.0;
    prepare(w, params);
    const float *w_in = params + ly->w_in, *w_x = params + ly->w_x, *w_dt = params + ly->w_dt;
    const float *w_out = params + ly->w_out;
    for (int64_t b = 0; b < w->batch; b++) {
        const float *xs = w->xz + b * n * 2 * L;
        memset(w->h, 0, (size_t)GNW * sizeof(float));
        for (int64_t blk = 0; blk < w->nb; blk++) {
            int64_t t0 = blk * ly->block, T = n - t0 < ly->block ? n - t0 : ly->block;
            int64_t row = b * n + t0;
            float *xzb = w->xz + row * 2 * L, *xdb = w->xdbl + row * P;
            /* [x | z] (T, 2L) = X (T, D) W_in (D, 2L) */
            gemm(&proj, 0, 0, T, 2 * L, D, x + row * D, D, w_in, 2 * L, 0.0f, xzb, 2 * L);
            /* u (T, L) = silu(conv(x)) */
            conv_block(ly, xs, t0, T, w->convt, params + ly->conv_b, w->u);
            silu_block(T * L, w->u, w->u);
            /* xdbl (T, P) = u (T, L) W_x (L, P) */
            gemm(&proj, 0, 0, T, P, L, w->u, L, w_x, P, 0.0f, xdb, P);
            /* delta (T, L) = softplus(dt_low (T, R) W_dt (R, L) + dt_bias) */
            gemm(&proj, 0, 0, T, L, R, xdb, P, w_dt, L, 0.0f, w->delta, L);
            softplus_block(T, L, params + ly->dt_bias, w->delta, w->sig);
            memcpy(w->ckpt + (b * w->nb + blk) * GNW, w->h, (size_t)GNW * sizeof(float));
            for (int64_t g = 0; g < G; g++) {
                int lanes = (int)(L - g * SSM_W < SSM_W ? L - g * SSM_W : SSM_W);
                scan_fwd(T, N, lanes, w->u + g * SSM_W, w->delta + g * SSM_W, L, xdb + R,
                         xdb + R + N, P, w->at + g * N * SSM_W, w->dsk + g * SSM_W,
                         w->h + g * N * SSM_W, w->y + g * SSM_W);
            }
            /* g = y .* silu(z); out (T, D) = g (T, L) W_out (L, D) */
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < L; c++) {
                    float z = xzb[t * 2 * L + L + c];
                    w->y[t * L + c] *= z * myo_sigmoid_vf(z);
                }
            gemm(&proj, 0, 0, T, D, L, w->y, L, w_out, D, 0.0f, y + row * D, D);
        }
    }
    w->times.forward_projection = proj;
    w->times.forward_mixing = myo_now() - t_start - proj;
    w->have_forward = 1;
    return MYO_OK;
}

/* ------------------------------------------------------------ backward */

/* The convolution's backward over one block: dxc (T, L) = dL/dxc of tokens
 * t0 .. t0+T-1; xs (n, 2L) the sequence's [x | z]; dcarry (K-1, L) dL/dxc of
 * the K - 1 tokens after the block (zero past the end), updated to the
 * block's first K - 1 tokens.  Accumulates dconvt (K, L) and dconv_b (L);
 * writes dL/dx of the block's tokens into dx (T, ldx). */
static void conv_block_bwd(const myo_ssm_layout *ly, const float *xs, int64_t t0, int64_t T,
                           const float *dxc, const float *convt, float *dconvt, float *dconv_b,
                           float *dcarry, float *dx, int64_t ldx)
{
    int64_t L = ly->d_inner, K = ly->d_conv;
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < L; c++)
            dconv_b[c] += dxc[t * L + c];
    for (int64_t k = 0; k < K; k++)
        for (int64_t t = 0; t < T; t++) {
            int64_t src = t0 + t - (K - 1) + k;
            if (src < 0) continue;
            const float *xr = xs + src * 2 * L, *dr = dxc + t * L;
            float *gk = dconvt + k * L;
            for (int64_t c = 0; c < L; c++)
                gk[c] += dr[c] * xr[c];
        }
    /* x[s] feeds xc[s + (K-1) - k] through tap k */
    for (int64_t t = 0; t < T; t++) {
        float *row = dx + t * ldx;
        memset(row, 0, (size_t)L * sizeof(float));
        for (int64_t k = 0; k < K; k++) {
            int64_t dst = t + (K - 1) - k;
            const float *dr = dst < T ? dxc + dst * L : dcarry + (dst - T) * L;
            const float *wk = convt + k * L;
            for (int64_t c = 0; c < L; c++)
                row[c] += wk[c] * dr[c];
        }
    }
    for (int64_t i = K - 2; i >= 0; i--) /* descending: row i - T is still the old one */
        memcpy(dcarry + i * L, i < T ? dxc + i * L : dcarry + (i - T) * L,
               (size_t)L * sizeof(float));
}

myo_status myo_ssm_backward_f32(myo_ssm_work *w, const float *params, const float *x,
                                const float *dy, float *dx, float *dparams)
{
    if (!w || !params || !x || !dy || !dx || !dparams)
        return myo_fail(MYO_ERR_ARG, "myo_ssm_backward_f32: NULL argument");
    if (!w->have_forward)
        return myo_fail(MYO_ERR_ARG, "myo_ssm_backward_f32: no forward with this workspace yet");
    const myo_ssm_layout *ly = &w->ly;
    int64_t D = ly->d_model, L = ly->d_inner, N = ly->d_state, K = ly->d_conv, R = ly->dt_rank;
    int64_t P = R + 2 * N, n = w->n, G = w->groups, GNW = G * N * SSM_W;
    size_t xy_bytes = (size_t)(w->batch * n * D) * sizeof(float);
    size_t p_bytes = (size_t)ly->count * sizeof(float);
    if (overlaps(dx, xy_bytes, dy, xy_bytes) || overlaps(dx, xy_bytes, x, xy_bytes) ||
        overlaps(dx, xy_bytes, params, p_bytes) || overlaps(dparams, p_bytes, params, p_bytes) ||
        overlaps(dparams, p_bytes, x, xy_bytes) || overlaps(dparams, p_bytes, dy, xy_bytes) ||
        overlaps(dparams, p_bytes, dx, xy_bytes))
        return myo_fail(MYO_ERR_ARG, "myo_ssm_backward_f32: an output overlaps another array");
    double t_start = myo_now(), proj = 0.0;
    prepare(w, params);
    const float *w_in = params + ly->w_in, *w_x = params + ly->w_x, *w_dt = params + ly->w_dt;
    const float *w_out = params + ly->w_out;
    float *gw_in = dparams + ly->w_in, *gw_x = dparams + ly->w_x, *gw_dt = dparams + ly->w_dt;
    float *gw_out = dparams + ly->w_out, *gdt_bias = dparams + ly->dt_bias;
    memset(dparams, 0, p_bytes);
    memset(w->da, 0, (size_t)GNW * sizeof(float));
    memset(w->dconvt, 0, (size_t)(K * L) * sizeof(float));
    float dds[SSM_W];

    for (int64_t b = 0; b < w->batch; b++) {
        const float *xs = w->xz + b * n * 2 * L;
        memset(w->h, 0, (size_t)GNW * sizeof(float)); /* dL/dh after the last token */
        memset(w->dcarry, 0, (size_t)((K - 1) * L) * sizeof(float));
        for (int64_t blk = w->nb - 1; blk >= 0; blk--) {
            int64_t t0 = blk * ly->block, T = n - t0 < ly->block ? n - t0 : ly->block;
            int64_t row = b * n + t0;
            const float *xzb = w->xz + row * 2 * L, *xdb = w->xdbl + row * P;
            const float *dyb = dy + row * D, *ckpt = w->ckpt + (b * w->nb + blk) * GNW;
            /* recompute u and delta (sig = softplus') */
            conv_block(ly, xs, t0, T, w->convt, params + ly->conv_b, w->xc);
            silu_block(T * L, w->xc, w->u);
            gemm(&proj, 0, 0, T, L, R, xdb, P, w_dt, L, 0.0f, w->delta, L);
            softplus_block(T, L, params + ly->dt_bias, w->delta, w->sig);
            /* dg (T, L) = dY (T, D) W_out^T */
            gemm(&proj, 0, 1, T, L, D, dyb, D, w_out, D, 0.0f, w->dg, L);
            memset(w->dbp, 0, (size_t)(T * N * SSM_W) * sizeof(float));
            memset(w->dcp, 0, (size_t)(T * N * SSM_W) * sizeof(float));
            for (int64_t g = 0; g < G; g++) {
                int lanes = (int)(L - g * SSM_W < SSM_W ? L - g * SSM_W : SSM_W);
                int64_t c0 = g * SSM_W;
                for (int j = 0; j < SSM_W; j++)
                    dds[j] = 0.0f;
                scan_bwd(T, N, lanes, w->u + c0, w->delta + c0, xzb + L + c0, w->dxz + L + c0,
                         2 * L, w->dg + c0, w->y + c0, w->du + c0, L, xdb + R, xdb + R + N, P,
                         w->at + g * N * SSM_W, w->dsk + c0, ckpt + g * N * SSM_W, w->h0,
                         w->h + g * N * SSM_W, w->hbuf, w->abuf, w->dbp, w->dcp,
                         w->da + g * N * SSM_W, dds);
                for (int j = 0; j < lanes; j++)
                    dparams[ly->d_skip + c0 + j] += dds[j];
            }
            /* dBm, dCm: the per-lane terms reduced */
            for (int64_t t = 0; t < T; t++)
                for (int64_t s = 0; s < N; s++) {
                    float sb = 0.0f, sc = 0.0f;
                    for (int j = 0; j < SSM_W; j++) {
                        sb += w->dbp[(t * N + s) * SSM_W + j];
                        sc += w->dcp[(t * N + s) * SSM_W + j];
                    }
                    w->dxdbl[t * P + R + s] = sb, w->dxdbl[t * P + R + N + s] = sc;
                }
            /* dW_out (L, D) += g^T (L, T) dY (T, D) */
            gemm(&proj, 1, 0, L, D, T, w->y, L, dyb, D, 1.0f, gw_out, D);
            /* delta = softplus(dt_low W_dt + dt_bias): delta now holds dL/d(pre-softplus) */
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < L; c++) {
                    w->delta[t * L + c] *= w->sig[t * L + c];
                    gdt_bias[c] += w->delta[t * L + c];
                }
            gemm(&proj, 1, 0, R, L, T, xdb, P, w->delta, L, 1.0f, gw_dt, L);
            gemm(&proj, 0, 1, T, R, L, w->delta, L, w_dt, L, 0.0f, w->dxdbl, P);
            /* xdbl = u W_x: du (T, L) += dxdbl (T, P) W_x^T; dW_x (L, P) += u^T dxdbl */
            gemm(&proj, 0, 1, T, L, P, w->dxdbl, P, w_x, P, 1.0f, w->du, L);
            gemm(&proj, 1, 0, L, P, T, w->u, L, w->dxdbl, P, 1.0f, gw_x, P);
            /* u = silu(xc): dxc into xc */
            for (int64_t i = 0; i < T * L; i++) {
                float v = w->xc[i], sg = myo_sigmoid_vf(v);
                w->xc[i] = w->du[i] * (sg * (1.0f + v * (1.0f - sg)));
            }
            conv_block_bwd(ly, xs, t0, T, w->xc, w->convt, w->dconvt, dparams + ly->conv_b,
                           w->dcarry, w->dxz, 2 * L);
            /* [x | z] = X W_in: dW_in (D, 2L) += X^T dxz; dX (T, D) = dxz (T, 2L) W_in^T */
            gemm(&proj, 1, 0, D, 2 * L, T, x + row * D, D, w->dxz, 2 * L, 1.0f, gw_in, 2 * L);
            gemm(&proj, 0, 1, T, D, 2 * L, w->dxz, 2 * L, w_in, 2 * L, 0.0f, dx + row * D, D);
        }
    }
    for (int64_t c = 0; c < L; c++) {
        int64_t g = c / SSM_W, j = c % SSM_W;
        for (int64_t s = 0; s < N; s++) { /* dA/dA_log = A */
            int64_t i = (g * N + s) * SSM_W + j;
            dparams[ly->a_log + c * N + s] = w->da[i] * w->at[i];
        }
        for (int64_t k = 0; k < K; k++)
            dparams[ly->conv_w + c * K + k] = w->dconvt[k * L + c];
    }
    w->times.backward_projection = proj;
    w->times.backward_mixing = myo_now() - t_start - proj;
    return MYO_OK;
}

/* ---------------------------------------------------------- scan alone */

myo_status myo_ssm_scan_f32(int64_t n, int64_t channels, int64_t d_state, const float *u,
                            const float *delta, const float *a, const float *b, const float *c,
                            const float *d_skip, float *h, float *y)
{
    if (!u || !delta || !a || !b || !c || !h || !y || n < 1 || channels < 1 || d_state < 1 ||
        channels > SSM_MAX_DIM || d_state > SSM_MAX_DIM)
        return myo_fail(MYO_ERR_ARG,
                        "myo_ssm_scan_f32: invalid arguments (n = %lld, channels = %lld, "
                        "d_state = %lld, or a NULL array)",
                        (long long)n, (long long)channels, (long long)d_state);
    for (int64_t i = 0; i < channels * d_state; i++)
        if (!(a[i] <= 0.0f))
            return myo_fail(MYO_ERR_DATA, "myo_ssm_scan_f32: a[%lld][%lld] = %g is not <= 0",
                            (long long)(i / d_state), (long long)(i % d_state), (double)a[i]);
    for (int64_t i = 0; i < n * channels; i++)
        if (!(delta[i] >= 0.0f))
            return myo_fail(MYO_ERR_DATA, "myo_ssm_scan_f32: delta[%lld][%lld] = %g is not >= 0",
                            (long long)(i / channels), (long long)(i % channels), (double)delta[i]);
    /* one group's A, Dskip and state in lanes */
    float *lanes =
        myo_alloc((size_t)(d_state * SSM_W * 2 + SSM_W), sizeof(float), "myo_ssm_scan_f32: lanes");
    if (!lanes) return MYO_ERR_NOMEM;
    float *at = lanes, *hl = lanes + d_state * SSM_W, *ds = hl + d_state * SSM_W;
    for (int64_t c0 = 0; c0 < channels; c0 += SSM_W) {
        int w = (int)(channels - c0 < SSM_W ? channels - c0 : SSM_W);
        for (int j = 0; j < SSM_W; j++) {
            ds[j] = j < w && d_skip ? d_skip[c0 + j] : 0.0f;
            for (int64_t s = 0; s < d_state; s++) {
                at[s * SSM_W + j] = j < w ? a[(c0 + j) * d_state + s] : 0.0f;
                hl[s * SSM_W + j] = j < w ? h[(c0 + j) * d_state + s] : 0.0f;
            }
        }
        scan_fwd(n, d_state, w, u + c0, delta + c0, channels, b, c, d_state, at, ds, hl, y + c0);
        for (int j = 0; j < w; j++)
            for (int64_t s = 0; s < d_state; s++)
                h[(c0 + j) * d_state + s] = hl[s * SSM_W + j];
    }
    free(lanes);
    return MYO_OK;
}

/* One group of lanes per pass, as the forward: the states at every block
 * start come from a forward pass (ckpt), then the blocks run in reverse,
 * each recomputing its states from its checkpoint (scan_bare_bwd). */
myo_status myo_ssm_scan_backward_f32(int64_t n, int64_t channels, int64_t d_state, const float *u,
                                     const float *delta, const float *a, const float *b,
                                     const float *c, const float *d_skip, const float *h0,
                                     const float *dy, const float *dh_final, float *du,
                                     float *ddelta, float *da, float *db, float *dc, float *dd_skip,
                                     float *dh0)
{
    if (!u || !delta || !a || !b || !c || !h0 || !dy || !dh_final || !du || !ddelta || !da || !db ||
        !dc || !dh0 || n < 1 || channels < 1 || d_state < 1 || channels > SSM_MAX_DIM ||
        d_state > SSM_MAX_DIM)
        return myo_fail(MYO_ERR_ARG,
                        "myo_ssm_scan_backward_f32: invalid arguments (n = %lld, channels = "
                        "%lld, d_state = %lld, or a NULL array)",
                        (long long)n, (long long)channels, (long long)d_state);
    for (int64_t i = 0; i < channels * d_state; i++)
        if (!(a[i] <= 0.0f))
            return myo_fail(MYO_ERR_DATA,
                            "myo_ssm_scan_backward_f32: a[%lld][%lld] = %g is not <= 0",
                            (long long)(i / d_state), (long long)(i % d_state), (double)a[i]);
    for (int64_t i = 0; i < n * channels; i++)
        if (!(delta[i] >= 0.0f))
            return myo_fail(MYO_ERR_DATA,
                            "myo_ssm_scan_backward_f32: delta[%lld][%lld] = %g is not >= 0",
                            (long long)(i / channels), (long long)(i % channels), (double)delta[i]);
    const int64_t N = d_state, NW = d_state * SSM_W, BS = MYO_SSM_BLOCK_DEFAULT;
    const int64_t T = n < BS ? n : BS, nb = (n + BS - 1) / BS;
    /* lanes: at, hl, hw, dh, dal (N, W), ds, dds (W); ckpt (nb, N, W);
     * hbuf, abuf, dbp, dcp (T, N, W); y (T, channels) */
    size_t count = (size_t)(5 * NW + 2 * SSM_W) + (size_t)(nb * NW) + (size_t)(4 * T * NW) +
                   (size_t)(T * channels);
    float *buf = myo_alloc(count, sizeof(float), "myo_ssm_scan_backward_f32: scratch");
    if (!buf) return MYO_ERR_NOMEM;
    float *at = buf, *hl = at + NW, *hw = hl + NW, *dh = hw + NW, *dal = dh + NW;
    float *ds = dal + NW, *dds = ds + SSM_W, *ckpt = dds + SSM_W, *hbuf = ckpt + nb * NW;
    float *abuf = hbuf + T * NW, *dbp = abuf + T * NW, *dcp = dbp + T * NW, *y = dcp + T * NW;
    memset(db, 0, (size_t)(n * N) * sizeof(float));
    memset(dc, 0, (size_t)(n * N) * sizeof(float));
    for (int64_t c0 = 0; c0 < channels; c0 += SSM_W) {
        int w = (int)(channels - c0 < SSM_W ? channels - c0 : SSM_W);
        for (int j = 0; j < SSM_W; j++) {
            ds[j] = j < w && d_skip ? d_skip[c0 + j] : 0.0f;
            dds[j] = 0.0f;
            for (int64_t s = 0; s < N; s++) {
                int64_t i = s * SSM_W + j, g = (c0 + j) * N + s;
                at[i] = j < w ? a[g] : 0.0f;
                hl[i] = j < w ? h0[g] : 0.0f;
                dh[i] = j < w ? dh_final[g] : 0.0f; /* read before dh0 (may alias) is written */
                dal[i] = 0.0f;
            }
        }
        for (int64_t blk = 0; blk < nb; blk++) {
            int64_t t0 = blk * BS, Tb = n - t0 < BS ? n - t0 : BS;
            memcpy(ckpt + blk * NW, hl, (size_t)NW * sizeof(float));
            scan_fwd(Tb, N, w, u + t0 * channels + c0, delta + t0 * channels + c0, channels,
                     b + t0 * N, c + t0 * N, N, at, ds, hl, y + c0);
        }
        for (int64_t blk = nb - 1; blk >= 0; blk--) {
            int64_t t0 = blk * BS, Tb = n - t0 < BS ? n - t0 : BS, o = t0 * channels + c0;
            memset(dbp, 0, (size_t)(Tb * NW) * sizeof(float));
            memset(dcp, 0, (size_t)(Tb * NW) * sizeof(float));
            scan_bare_bwd(Tb, N, w, u + o, delta + o, ddelta + o, dy + o, du + o, y + c0, channels,
                          b + t0 * N, c + t0 * N, N, at, ds, ckpt + blk * NW, hw, dh, hbuf, abuf,
                          dbp, dcp, dal, dds);
            for (int64_t t = 0; t < Tb; t++)
                for (int64_t s = 0; s < N; s++) {
                    float sb = 0.0f, sc = 0.0f;
                    for (int j = 0; j < SSM_W; j++) /* lanes past w are zero */
                        sb += dbp[(t * N + s) * SSM_W + j], sc += dcp[(t * N + s) * SSM_W + j];
                    db[(t0 + t) * N + s] += sb, dc[(t0 + t) * N + s] += sc;
                }
        }
        for (int j = 0; j < w; j++) {
            if (dd_skip) dd_skip[c0 + j] = dds[j];
            for (int64_t s = 0; s < N; s++) {
                int64_t i = s * SSM_W + j, g = (c0 + j) * N + s;
                da[g] = dal[i], dh0[g] = dh[i];
            }
        }
    }
    free(buf);
    return MYO_OK;
}

/* ------------------------------------------------------------ cost model */

/* count floats rounded up to a multiple of 16 (64 bytes), as the scratch
 * parts of myo_ssm_work_create. */
static double pad16(double count)
{
    return ceil(count / 16) * 16;
}

myo_status myo_ssm_cost(const myo_ssm_config *cfg, int64_t n, int64_t batch, myo_cost *out)
{
    MYO_CHECK(myo_ssm_check(cfg, n, batch));
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_ssm_cost: out is NULL");
    myo_ssm_layout ly;
    MYO_CHECK(myo_ssm_layout_of(cfg, &ly));
    const double D = (double)ly.d_model, L = (double)ly.d_inner, Ns = (double)ly.d_state;
    const double R = (double)ly.dt_rank, K = (double)ly.d_conv, P = R + 2 * Ns;
    const double nn = (double)n, B = (double)batch, f = 4.0;
    const double proj_f = 2 * nn * (2 * D * L + L * P + R * L + L * D);
    const double proj_b = 2 * nn * (6 * D * L + 2 * L * P + 3 * R * L);
    const double mix_f = 7 * nn * L * Ns + nn * L * (2 * K + 14);
    const double mix_b = 26 * nn * L * Ns + nn * L * (6 * K + 30);
    /* The workspace as myo_ssm_work_create takes it: the caches, and the
     * scratch parts, each rounded up to 16 floats (64 bytes). */
    const int64_t T = ly.block < n ? ly.block : n, nb = (n + ly.block - 1) / ly.block;
    const double L8 = (double)((ly.d_inner + SSM_W - 1) / SSM_W * SSM_W);
    const double cache = B * nn * (2 * L + P) + B * (double)nb * L8 * Ns;
    const double Td = (double)T, W = SSM_W;
    /* at, h, da (G N W = L8 N each), dsk (L8), h0 (N W), convt, dconvt
     * (K L), dcarry ((K - 1) L); xc, u, delta, sig, y, dg, du (T L each),
     * dxz (2 T L), dxdbl (T P); hbuf, abuf, dbp, dcp (T N W each) */
    const double scratch = 3 * pad16(L8 * Ns) + pad16(L8) + pad16(Ns * W) + 2 * pad16(K * L) +
                           pad16((K - 1) * L) + 7 * pad16(Td * L) + pad16(2 * Td * L) +
                           pad16(Td * P) + 4 * pad16(Td * Ns * W);
    *out = (myo_cost){
        .flops = {B * (proj_f + mix_f), B * (proj_b + mix_b)},
        .proj_flops = {B * proj_f, B * proj_b},
        .bytes = {B * f * nn * (2 * D + 2 * L + P), B * f * nn * (2 * D + 2 * (2 * L + P) + 2 * L)},
        .work_bytes = (double)sizeof(myo_ssm_work) + 4.0 * (cache + scratch)};
    return MYO_OK;
}
