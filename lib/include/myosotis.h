/*
 * myosotis.h -- public interface of libmyosotis.
 *
 * Tree-structured matrices (docs/design.md section 1): a forest of n nodes given
 * by parent[i] (-1 marks a root) and the n x n matrix M with
 *     M[i][i]         = diag[i]
 *     M[i][parent(i)] = up[i]       (row i reads its parent)
 *     M[parent(i)][i] = down[i]     (the parent reads child i)
 * up[] and down[] are ignored at roots.  Gaussian elimination on a tree has
 * no fill-in, so M Y = R is solved exactly in O(n m) for m right-hand sides.
 *
 * Conventions
 *  - Every fallible call returns a myo_status; on failure a one-line detail
 *    (what went wrong and where) is available from myo_error_detail() in the
 *    calling thread until the next failing call.  The library never exits
 *    and never prints.
 *  - Inputs are const and first, outputs last.  Objects are created with
 *    myo_*_create*(..., &obj) and released with myo_*_destroy(&obj), which
 *    accepts NULL and sets the pointer to NULL.
 *  - Matrices are row-major; an (n, m) right-hand side keeps the m channels
 *    of one node contiguous.
 *  - All calls here are Local (no MPI communication); this header and the
 *    ones it includes compile without MPI or HDF5 headers.
 */
#ifndef MYOSOTIS_H
#define MYOSOTIS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum {
    MYO_OK = 0,
    MYO_ERR_ARG,      /* invalid argument from the caller (a usage error) */
    MYO_ERR_NOMEM,    /* an allocation failed */
    MYO_ERR_IO,       /* a file could not be opened, read, written or renamed */
    MYO_ERR_HDF5,     /* the HDF5 library failed on a file that could be opened */
    MYO_ERR_MPI,      /* an MPI call failed */
    MYO_ERR_SINGULAR, /* a zero or non-finite pivot: the matrix is (numerically) singular */
    MYO_ERR_DATA      /* the data are invalid: bad tree, shape, type or non-finite value */
} myo_status;

/* A short name for a status code ("MYO_ERR_SINGULAR", ...). Never NULL. */
const char *myo_status_str(myo_status s);

/* The detail message of the last failing call in this thread ("" if none).
 * Borrowed: valid until the next failing call in the same thread. */
const char *myo_error_detail(void);

/* The library's version string, e.g. "0.1.0". */
const char *myo_version(void);

/* ------------------------------------------------------------------ trees */

typedef struct myo_tree myo_tree;

/* A forest from a parent array of any labelling (a parent may have a larger
 * label than its child).  parent (n,) is borrowed: the tree keeps a copy.
 * Fails with MYO_ERR_DATA naming the offending node on an out-of-range
 * parent, a self-loop or a cycle; MYO_ERR_ARG when n < 1. */
myo_status myo_tree_create(const int64_t *parent, int64_t n, myo_tree **out);

/* Chain of n nodes: parent(i) = i - 1, node 0 is the root. */
myo_status myo_tree_create_chain(int64_t n, myo_tree **out);

/* Token-heap of n nodes: parent(i) = (i - 1) / arity, node 0 is the root. */
myo_status myo_tree_create_heap(int64_t n, int arity, myo_tree **out);

/* Balanced arity-k hierarchy over the n_tokens sequence positions.
 * Nodes 0 .. n_tokens-1 are the tokens (the leaves, in sequence order);
 * nodes n_tokens .. N-1 are virtual internal nodes, numbered in pre-order
 * (n_tokens is the root).  An internal node covering the range [lo, hi)
 * splits it into min(arity, hi - lo) contiguous parts whose sizes differ by
 * at most one (larger parts first); a part of one position is that token.
 * n_tokens = 1 gives a single token and no internal node. */
myo_status myo_tree_create_kary(int64_t n_tokens, int arity, myo_tree **out);

void myo_tree_destroy(myo_tree **t);

/* Number of nodes N (tokens plus virtual nodes). */
int64_t myo_tree_num_nodes(const myo_tree *t);
/* Number of sequence tokens: n_tokens for kary hierarchies, N otherwise. */
int64_t myo_tree_num_tokens(const myo_tree *t);
int64_t myo_tree_num_roots(const myo_tree *t);
/* Number of edges on the longest root-to-leaf path (0 for a lone root). */
int64_t myo_tree_height(const myo_tree *t);
/* parent (N,), caller's labels, -1 at roots.  Borrowed from the tree. */
const int64_t *myo_tree_parents(const myo_tree *t);
/* order (N,): the label of the node at each pre-order position (roots in
 * increasing label order, children in increasing label order, except kary
 * hierarchies whose children are in sequence order).  Borrowed. */
const int64_t *myo_tree_preorder(const myo_tree *t);

/* The counts of a tree that the cost models need (myo_solve_cost and the
 * layers' myo_*_cost), without its arrays.  myo_tree_shape_of reads them
 * from a tree; myo_tree_shape_chain, _heap and _kary compute them from
 * the builders' arguments, before the tree exists (a cost or a memory
 * budget of a 16M-node hierarchy without building it), and give exactly
 * what myo_tree_shape_of gives on the tree myo_tree_create_chain, _heap
 * or _kary makes of the same arguments. */
typedef struct {
    int64_t nodes;            /* N, myo_tree_num_nodes */
    int64_t tokens;           /* n, myo_tree_num_tokens */
    int64_t edges;            /* E = N - roots */
    int64_t virtual_nodes;    /* v = N - n */
    int64_t virtual_children; /* cv: nodes whose parent is virtual (a label >= n) */
    int chain;                /* 1 when the solver runs its "chain" kernel on the tree (a
                                 path labelled 0..N-1 from its root: myo_solve_kernel_name) */
} myo_tree_shape;

/* Local.  O(N).  MYO_ERR_ARG for a NULL argument. */
myo_status myo_tree_shape_of(const myo_tree *t, myo_tree_shape *out);
/* Local.  The shape of myo_tree_create_chain(n), of myo_tree_create_heap(n,
 * arity) and of myo_tree_create_kary(n_tokens, arity), in O(1), O(1) and
 * O(log n_tokens) time.  MYO_ERR_ARG where the builder refuses the
 * arguments (n < 1, arity < 2) and for a NULL out. */
myo_status myo_tree_shape_chain(int64_t n, myo_tree_shape *out);
myo_status myo_tree_shape_heap(int64_t n, int arity, myo_tree_shape *out);
myo_status myo_tree_shape_kary(int64_t n_tokens, int arity, myo_tree_shape *out);
/* Local.  MYO_OK when s can be a forest's shape: 1 <= tokens <= nodes,
 * 0 <= edges < nodes, virtual_nodes = nodes - tokens, 0 <=
 * virtual_children <= edges (0 without virtual nodes), chain 0 or 1 and a
 * chain one path of tokens (edges = nodes - 1, no virtual node);
 * MYO_ERR_ARG naming the first field that is not, or a NULL s. */
myo_status myo_tree_shape_check(const myo_tree_shape *s);

/* ----------------------------------------------------------------- solver */

typedef enum { MYO_OP_N = 0, MYO_OP_T = 1 } myo_op; /* solve with M or with M^T */

typedef enum { MYO_F64 = 0, MYO_F32 = 1 } myo_precision;

/* The pivots of one matrix M on one tree, ready for any number of solves
 * with M and with M^T.  The factor borrows the tree: destroy the factor
 * first. */
typedef struct myo_factor myo_factor;

/* Factor M.  diag, up, down (N,) in the tree's labels are borrowed (copied
 * into an internal pre-order layout).  Pivots are computed in double and
 * stored, inverted, in the working precision.
 * Fails with MYO_ERR_DATA naming the node on a non-finite coefficient and
 * with MYO_ERR_SINGULAR naming the node whose pivot is zero or non-finite
 * (or whose elimination multipliers overflow). */
myo_status myo_factor_create_f64(const myo_tree *t, const double *diag, const double *up,
                                 const double *down, myo_factor **out);
myo_status myo_factor_create_f32(const myo_tree *t, const float *diag, const float *up,
                                 const float *down, myo_factor **out);
void myo_factor_destroy(myo_factor **f);

/* H matrices on one tree (the heads of a layer), factored together.
 * diag, up, down are (N, H) row-major: the H heads' coefficients of node i
 * are contiguous.  Solves with such a factor act on rows of H * m
 * channels, head h owning channels [h m, (h + 1) m) of every row, in one
 * walk over the tree shared by all heads.  heads = 1 is
 * myo_factor_create_*; myo_refactor_* then takes (N, H) coefficients and
 * myo_solve_* m channels per head. */
myo_status myo_factor_create_heads_f64(const myo_tree *t, int64_t heads, const double *diag,
                                       const double *up, const double *down, myo_factor **out);
myo_status myo_factor_create_heads_f32(const myo_tree *t, int64_t heads, const float *diag,
                                       const float *up, const float *down, myo_factor **out);
int64_t myo_factor_heads(const myo_factor *f);
/* The storage of a factor of H matrices on t without pivots yet: solves
 * refuse it until a myo_refactor_* succeeds. */
myo_status myo_factor_create_empty(const myo_tree *t, int64_t heads, myo_precision precision,
                                   myo_factor **out);
/* Bytes the factor holds (its arrays and itself). */
size_t myo_factor_bytes(const myo_factor *f);

/* Factor M and solve op(M) Y = R: on a chain in one sweep (the pivots are
 * computed during the solver's first pass, where their dependent chain of
 * divisions hides under the streaming of R), on other forests in a factor
 * sweep followed by the solve.  Returns the factor for further solves.
 * Arguments and errors as myo_factor_create_* and myo_solve_*; on failure
 * *out_factor is NULL and out's contents are unspecified (the sweep stops at
 * the failing node, before dividing by its pivot). */
myo_status myo_factor_solve_f64(const myo_tree *t, const double *diag, const double *up,
                                const double *down, myo_op op, const double *rhs, double *out,
                                int64_t m, myo_factor **out_factor);
myo_status myo_factor_solve_f32(const myo_tree *t, const float *diag, const float *up,
                                const float *down, myo_op op, const float *rhs, float *out,
                                int64_t m, myo_factor **out_factor);

/* Recompute the pivots of f for new coefficients on the same tree, reusing
 * its storage (no allocation: what a layer does for every head and step),
 * and with m > 0 solve op(M) Y = R as myo_factor_solve_* does.  m = 0
 * refactors only (rhs, out unused).  On failure f's pivots are invalid
 * until a successful refactor. */
myo_status myo_refactor_f64(myo_factor *f, const double *diag, const double *up, const double *down,
                            myo_op op, const double *rhs, double *out, int64_t m);
myo_status myo_refactor_f32(myo_factor *f, const float *diag, const float *up, const float *down,
                            myo_op op, const float *rhs, float *out, int64_t m);

/* The same for M = I + L, L the row-Laplacian of edge weights w_up, w_down
 * >= 0 ((N, H) like the coefficients): diag = 1 + w_up (not at roots) + the
 * children's w_down, up = -w_up, down = -w_down -- the Myosotis layer's
 * matrices.  diag is never formed: the pivots grow from the row excess
 * e_i = 1 + sum_c w_down_c e_c / a'_c, a'_i = e_i + w_up_i, a sum of positive
 * terms, so they stay accurate however large the weights (a float diag of
 * 1e7 would have lost the 1).  A negative or non-finite weight is
 * MYO_ERR_DATA naming it. */
myo_status myo_refactor_laplacian_f64(myo_factor *f, const double *w_up, const double *w_down,
                                      myo_op op, const double *rhs, double *out, int64_t m);
myo_status myo_refactor_laplacian_f32(myo_factor *f, const float *w_up, const float *w_down,
                                      myo_op op, const float *rhs, float *out, int64_t m);

myo_precision myo_factor_precision(const myo_factor *f);

/* Solve op(M) Y = R.  rhs (N, m) and out (N, m) are row-major in the tree's
 * labels -- (N, H m) for a factor of H heads, m channels per head; out may
 * equal rhs (in place) but must not partially overlap it.
 * The precision must match the factor's (MYO_ERR_ARG otherwise). */
myo_status myo_solve_f64(const myo_factor *f, myo_op op, const double *rhs, double *out, int64_t m);
myo_status myo_solve_f32(const myo_factor *f, myo_op op, const float *rhs, float *out, int64_t m);

/* The name of the kernel myo_solve_* runs for this factor: "chain" (a
 * single path labelled 0..N-1 from the root) or "tree". */
const char *myo_solve_kernel_name(const myo_factor *f);

/* Frozen reference twin: plain loops in double over the caller's labels,
 * elimination order found independently (children counted down, Kahn's
 * algorithm), division by each pivot as written in docs/design.md
 * section 1.  Validates the tree itself.  rhs (n, m), out (n, m); out may
 * equal rhs. */
myo_status myo_solve_ref(const int64_t *parent, int64_t n, const double *diag, const double *up,
                         const double *down, myo_op op, const double *rhs, double *out, int64_t m);

/* ------------------------------------------------------- system files (HDF5) */

/* A tree-structured system as stored in an HDF5 file (README.md, "File
 * format").  Arrays are owned by the struct; free with myo_system_free. */
typedef struct {
    int64_t n;       /* nodes */
    int64_t m;       /* channels of the right-hand side */
    int rhs_rank;    /* 1 when rhs was stored with shape (n,), 2 for (n, m) */
    int64_t *parent; /* (n,) */
    double *diag;    /* (n,) */
    double *up;      /* (n,) */
    double *down;    /* (n,) */
    double *rhs;     /* (n, m) */
} myo_system;

/* Read and validate a system file: datasets parent (integer, (n,)), diag,
 * up, down (floating, (n,)), rhs (floating, (n,) or (n, m)).  MYO_ERR_IO
 * when the file cannot be opened or is not HDF5, MYO_ERR_DATA for a missing,
 * mis-shaped or wrongly typed dataset or a non-finite value (the message
 * names the dataset and the index).  The parent array is not checked for
 * being a forest here: myo_tree_create does that. */
myo_status myo_system_read_h5(const char *path, myo_system *out);
void myo_system_free(myo_system *s);

/* Write dataset "solution" (n, m) -- or (n,) when ndims is 1 -- as float64,
 * or float32 when precision is MYO_F32 (sol is then a float array).  The file
 * is written to a temporary name in the same directory and renamed over
 * path only when complete, so a failure never leaves a partial file and
 * never clobbers an existing one. */
myo_status myo_solution_write_h5(const char *path, const void *sol, myo_precision precision,
                                 int64_t n, int64_t m, int ndims);

/* Read dataset "solution" of shape (n, m) -- or (n,) when m is 1 -- as
 * double into *out (n, m), owned by the caller (free()).  Errors as for
 * myo_system_read_h5; the values are not checked for being finite. */
myo_status myo_solution_read_h5(const char *path, int64_t n, int64_t m, double **out);

/* A scalar attribute of a file's root group: the string text, or the
 * integer value when text is NULL.  Borrowed. */
typedef struct {
    const char *name;
    const char *text;
    int64_t value;
} myo_attr;

/* Write a system file in the format myo_system_read_h5 reads (int64 parent,
 * float64 coefficients, rhs with s->rhs_rank dimensions), plus n_attrs
 * attributes on the root group; atomically, as myo_solution_write_h5. */
myo_status myo_system_write_h5(const char *path, const myo_system *s, const myo_attr *attrs,
                               int n_attrs);

/* Fills an open HDF5 file (file is its hid_t) for myo_h5_write_atomic;
 * path names the output in messages.  Returns a status. */
typedef myo_status (*myo_h5_contents_fn)(int64_t file, const char *path, const void *contents);

/* Write an HDF5 file as the writers above do: contents_fn fills a
 * temporary file in path's directory (path.tmp-PID-K, HDF5's error printing
 * off, no time stamp on the root group), renamed over path only when
 * complete, so a failure leaves no partial file and keeps an existing one.
 * data_bytes (the size of the datasets, 0 if unknown) is reserved on disk
 * first.  Returns contents_fn's failure as it is (with whatever detail it
 * recorded), else MYO_ERR_IO or MYO_ERR_NOMEM with myo_error_detail(). */
myo_status myo_h5_write_atomic(const char *path, uint64_t data_bytes,
                               myo_h5_contents_fn contents_fn, const void *contents);

/* ------------------------------------------- attention-like layer parameters */

/* The four projections of the Myosotis layer and of dense attention, each
 * (D, D) row-major, borrowed: Q = X Wq, K = X Wk, V = X Wv, out = Y Wo. */
typedef struct {
    const float *wq, *wk, *wv, *wo;
} myo_qkvo_weights_f32;
typedef struct {
    const double *wq, *wk, *wv, *wo;
} myo_qkvo_weights_f64;

/* Where a backward pass writes their gradients, each (D, D): overwritten,
 * not accumulated, and summed over the batch. */
typedef struct {
    float *wq, *wk, *wv, *wo;
} myo_qkvo_grads_f32;
typedef struct {
    double *wq, *wk, *wv, *wo;
} myo_qkvo_grads_f64;

/* ------------------------------------------------------- phase timings */

/* Wall-clock seconds (CLOCK_MONOTONIC) of the phases of a layer's last
 * forward and last backward call, summed over the batch: "projection" is
 * every product with a weight matrix (input and output projections and
 * their gradients), "mixing" everything else -- the token mixing that
 * tells the layers apart (pooling, scores, tree solves, softmax, scans,
 * convolutions, gates). */
typedef struct {
    double forward_projection, forward_mixing;
    double backward_projection, backward_mixing;
} myo_phase_times;

/* ------------------------------------------------------------ cost models */

/* What one forward and one backward pass of a kernel cost, for a whole
 * batch, from its shape alone (docs/design.md section 6, "Cost models"):
 * the counts the benchmarks divide their times by (GFLOP/s, GB/s) and the
 * memory they check against a budget before allocating anything.  The
 * kernels' myo_*_cost functions fill it: myo_solve_cost below,
 * myo_layer_cost, myo_attention_cost and myo_ssm_cost in the layers'
 * headers.  Index the pairs with myo_pass. */
typedef enum { MYO_PASS_FORWARD = 0, MYO_PASS_BACKWARD = 1 } myo_pass;

typedef struct {
    /* Floating-point operations of one forward pass, and of one backward
     * pass (after a forward; the forward not included).  An exp, log or
     * division counts 1. */
    double flops[2];
    /* The part of flops[] in products with weight matrices (the
     * "projection" of myo_phase_times; the rest is the mixing); 0 for the
     * bare solver. */
    double proj_flops[2];
    /* Bytes each pass must move at least: every array it reads or writes,
     * once (the kernels' documented exceptions aside). */
    double bytes[2];
    /* Bytes the kernel's workspace holds after a backward: what its
     * myo_*_work_bytes reports then (the bare solver: myo_factor_bytes of
     * its factors).  The models follow the workspaces' allocations, so
     * this is that number itself, and a safe upper bound for a budget
     * (the allocator's own overhead aside). */
    double work_bytes;
} myo_cost;

/* Local.  The bare tree solver on batch independent systems, each of H =
 * heads matrices M = I + L (Laplacian form) on one tree of this shape with
 * m channels per head (an (N, D) right-hand side, D = H m):
 *     forward   the pivots and the solve with M: myo_refactor_laplacian_*
 *               with MYO_OP_N on a factor of H heads
 *     backward  the solve with M^T on the same factor: myo_solve_* with
 *               MYO_OP_T
 * Per system, with e = 8 bytes (MYO_F64) or 4 (MYO_F32):
 *     flops     forward 6 N H + 5 N D, backward 5 N D
 *     bytes     forward e (5 N H + 2 N D)  (weights, pivots, rhs, out)
 *               backward e (3 N H + 2 N D)
 *     work      myo_factor_bytes of the factor (times batch)
 * proj_flops are 0.  MYO_ERR_ARG for a NULL pointer, a shape that
 * myo_tree_shape_check refuses, heads, m or batch < 1, or an unknown
 * precision. */
myo_status myo_solve_cost(const myo_tree_shape *shape, int64_t heads, int64_t m,
                          myo_precision precision, int64_t batch, myo_cost *out);

/* ---------------------------------------------- random systems (tests, benchmarks) */

/* splitmix64: a small seedable generator; the same seed gives the same
 * numbers on every machine. */
typedef struct {
    uint64_t state;
} myo_rng;

myo_rng myo_rng_seed(uint64_t seed);
uint64_t myo_rng_next(myo_rng *r);
double myo_rng_uniform(myo_rng *r, double lo, double hi); /* in [lo, hi) */
int64_t myo_rng_below(myo_rng *r, int64_t bound);         /* in [0, bound), bound >= 1 */

/* parent (n,) of a forest of `trees` random recursive trees: nodes
 * 0 .. trees-1 are the roots, node i >= trees hangs below a uniform node in
 * [0, i).  1 <= trees <= n. */
void myo_random_forest_parents(int64_t n, int64_t trees, myo_rng *r, int64_t *parent);

/* Relabel the forest parent (n,) by a uniform random permutation, in place;
 * new_label (n,), when not NULL, receives the new label of each old one. */
myo_status myo_random_shuffle_labels(int64_t *parent, int64_t n, myo_rng *r, int64_t *new_label);

/* diag, up, down (n,) making M strictly diagonally dominant by rows and by
 * columns: up, down uniform in [-1, 1) (0 at roots), |diag| = the larger of
 * the row and column sums of |off-diagonals| plus [0.5, 1.5), with a random
 * sign when signed_diag is nonzero. */
myo_status myo_random_dominant_coeffs(const int64_t *parent, int64_t n, myo_rng *r, int signed_diag,
                                      double *diag, double *up, double *down);

/* count values uniform in [-1, 1). */
void myo_random_values(double *v, int64_t count, myo_rng *r);

#ifdef __cplusplus
}
#endif

/* The layers: Myosotis, and the dense-attention and SSM baselines.  The
 * distributed (MPI) calls are in myosotis_dist.h, the only public header
 * that includes <mpi.h>; the results log is in myosotis_h5log.h. */
#include "myosotis_layer.h"
#include "myosotis_attention.h"
#include "myosotis_ssm.h"

#endif /* MYOSOTIS_H */
