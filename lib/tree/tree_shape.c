/* tree_shape.c -- the counts of a tree that the cost models read
 * (myo_tree_shape, myosotis.h): from a tree, or from the builders'
 * arguments before the tree exists. */
#include <config.h>

#include "core/core.h"
#include "tree_internal.h"

myo_status myo_tree_shape_of(const myo_tree *t, myo_tree_shape *out)
{
    if (!t || !out) return myo_fail(MYO_ERR_ARG, "myo_tree_shape_of: tree and out are required");
    myo_tree_shape s;
    s.nodes = t->n, s.tokens = t->n_tokens, s.edges = t->n - t->n_roots;
    s.virtual_nodes = t->n - t->n_tokens, s.virtual_children = 0;
    for (int64_t i = 0; i < t->n; i++)
        s.virtual_children += t->parent[i] >= t->n_tokens;
    s.chain = t->is_chain != 0;
    *out = s;
    return MYO_OK;
}

myo_status myo_tree_shape_chain(int64_t n, myo_tree_shape *out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_tree_shape_chain: out is NULL");
    if (n < 1)
        return myo_fail(MYO_ERR_ARG, "myo_tree_shape_chain: n = %lld, need n >= 1", (long long)n);
    *out = (myo_tree_shape){.nodes = n, .tokens = n, .edges = n - 1, .chain = 1};
    return MYO_OK;
}

myo_status myo_tree_shape_heap(int64_t n, int arity, myo_tree_shape *out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_tree_shape_heap: out is NULL");
    if (n < 1)
        return myo_fail(MYO_ERR_ARG, "myo_tree_shape_heap: n = %lld, need n >= 1", (long long)n);
    if (arity < 2)
        return myo_fail(MYO_ERR_ARG, "myo_tree_shape_heap: arity = %d, need arity >= 2", arity);
    /* parent(i) = (i - 1) / arity: a path 0, 1 only up to two nodes. */
    *out = (myo_tree_shape){.nodes = n, .tokens = n, .edges = n - 1, .chain = n <= 2};
    return MYO_OK;
}

/* The internal nodes myo_tree_create_kary makes over len positions: none
 * for one position, else one plus those of its min(arity, len) parts, of
 * sizes base + 1 (len % parts of them) and base.  The sizes at one depth
 * are two consecutive values, so remembering the sizes seen makes it
 * O(depth) calls; memo holds up to cap of them. */
typedef struct {
    int64_t len, internal;
} kary_seen;

static int64_t kary_internal(int64_t len, int64_t arity, kary_seen *memo, int *used, int cap)
{
    if (len <= 1) return 0;
    for (int i = 0; i < *used; i++)
        if (memo[i].len == len) return memo[i].internal;
    const int64_t parts = len < arity ? len : arity, base = len / parts, extra = len % parts;
    int64_t c = 1 + (parts - extra) * kary_internal(base, arity, memo, used, cap);
    if (extra) c += extra * kary_internal(base + 1, arity, memo, used, cap);
    if (*used < cap) memo[(*used)++] = (kary_seen){len, c};
    return c;
}

myo_status myo_tree_shape_kary(int64_t n_tokens, int arity, myo_tree_shape *out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_tree_shape_kary: out is NULL");
    if (n_tokens < 1)
        return myo_fail(MYO_ERR_ARG, "myo_tree_shape_kary: n = %lld, need n >= 1",
                        (long long)n_tokens);
    if (arity < 2)
        return myo_fail(MYO_ERR_ARG, "myo_tree_shape_kary: arity = %d, need arity >= 2", arity);
    enum { CAP = 256 }; /* two sizes per level, at most 63 levels */
    kary_seen memo[CAP];
    int used = 0;
    const int64_t v = kary_internal(n_tokens, arity, memo, &used, CAP), N = n_tokens + v;
    /* One root; every node but the root hangs below a virtual node (one
     * token alone is a lone root, a path of one node). */
    *out = (myo_tree_shape){.nodes = N,
                            .tokens = n_tokens,
                            .edges = N - 1,
                            .virtual_nodes = v,
                            .virtual_children = v ? N - 1 : 0,
                            .chain = N == 1};
    return MYO_OK;
}

myo_status myo_tree_shape_check(const myo_tree_shape *s)
{
    if (!s) return myo_fail(MYO_ERR_ARG, "myo_tree_shape: NULL shape");
    const long long N = (long long)s->nodes, n = (long long)s->tokens, E = (long long)s->edges;
    const long long v = (long long)s->virtual_nodes, cv = (long long)s->virtual_children;
    if (N < 1 || n < 1 || n > N)
        return myo_fail(MYO_ERR_ARG,
                        "myo_tree_shape: nodes = %lld, tokens = %lld, need 1 <= "
                        "tokens <= nodes",
                        N, n);
    if (E < 0 || E >= N)
        return myo_fail(MYO_ERR_ARG, "myo_tree_shape: edges = %lld, need 0 <= edges < nodes = %lld",
                        E, N);
    if (v != N - n)
        return myo_fail(MYO_ERR_ARG,
                        "myo_tree_shape: virtual_nodes = %lld, need nodes - tokens = %lld", v,
                        N - n);
    if (cv < 0 || cv > E || (v == 0 && cv != 0))
        return myo_fail(MYO_ERR_ARG,
                        "myo_tree_shape: virtual_children = %lld, need 0 <= virtual_children <= "
                        "edges = %lld (0 without virtual nodes)",
                        cv, E);
    if (s->chain != 0 && s->chain != 1)
        return myo_fail(MYO_ERR_ARG, "myo_tree_shape: chain = %d, need 0 or 1", s->chain);
    if (s->chain && (E != N - 1 || v != 0))
        return myo_fail(MYO_ERR_ARG,
                        "myo_tree_shape: a chain of %lld nodes has %lld edges and no virtual "
                        "node (edges = %lld, virtual_nodes = %lld)",
                        N, N - 1, E, v);
    return MYO_OK;
}
