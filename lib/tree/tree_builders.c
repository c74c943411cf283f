/* tree_builders.c -- the trees the suite uses for sequences: chain, token
 * heap and balanced k-ary hierarchies with virtual internal nodes. */
#include <config.h>

#include "core/core.h"
#include "tree_internal.h"

#include <stdlib.h>

myo_status myo_tree_create_chain(int64_t n, myo_tree **out)
{
    if (n < 1) return myo_fail(MYO_ERR_ARG, "chain: n = %lld, need n >= 1", (long long)n);
    int64_t *parent = myo_alloc((size_t)n, sizeof(int64_t), "chain parents");
    if (!parent) return MYO_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        parent[i] = i - 1;
    myo_status s = myo_tree_create(parent, n, out);
    free(parent);
    return s;
}

myo_status myo_tree_create_heap(int64_t n, int arity, myo_tree **out)
{
    if (n < 1) return myo_fail(MYO_ERR_ARG, "heap: n = %lld, need n >= 1", (long long)n);
    if (arity < 2) return myo_fail(MYO_ERR_ARG, "heap: arity = %d, need arity >= 2", arity);
    int64_t *parent = myo_alloc((size_t)n, sizeof(int64_t), "heap parents");
    if (!parent) return MYO_ERR_NOMEM;
    parent[0] = -1;
    for (int64_t i = 1; i < n; i++)
        parent[i] = (i - 1) / arity;
    myo_status s = myo_tree_create(parent, n, out);
    free(parent);
    return s;
}

/* A range of sequence positions still to be split, and its parent's label. */
typedef struct {
    int64_t lo, hi, parent;
} pending_range;

myo_status myo_tree_create_kary(int64_t n_tokens, int arity, myo_tree **out)
{
    if (n_tokens < 1)
        return myo_fail(MYO_ERR_ARG, "kary: n = %lld, need n >= 1", (long long)n_tokens);
    if (arity < 2) return myo_fail(MYO_ERR_ARG, "kary: arity = %d, need arity >= 2", arity);
    /* Every internal node has >= 2 children, so there are < n_tokens of them. */
    size_t cap_nodes = 2 * (size_t)n_tokens - 1;
    int64_t *parent = myo_alloc(cap_nodes, sizeof(int64_t), "kary parents");
    int64_t *visit = myo_alloc(cap_nodes, sizeof(int64_t), "kary pre-order");
    size_t cap = 64 + 2 * (size_t)arity, top = 0;
    pending_range *stack = myo_alloc(cap, sizeof *stack, "kary stack");
    myo_status s = MYO_OK;
    if (!parent || !visit || !stack) s = MYO_ERR_NOMEM;

    int64_t n_internal = 0, n_visited = 0;
    if (s == MYO_OK) stack[top++] = (pending_range){0, n_tokens, -1};
    while (s == MYO_OK && top > 0) {
        pending_range r = stack[--top];
        int64_t len = r.hi - r.lo;
        if (len == 1) { /* a token */
            parent[r.lo] = r.parent;
            visit[n_visited++] = r.lo;
            continue;
        }
        int64_t label = n_tokens + n_internal++;
        parent[label] = r.parent;
        visit[n_visited++] = label;
        int64_t parts = len < arity ? len : arity;
        if (top + (size_t)parts > cap) {
            size_t new_cap = 2 * cap + (size_t)parts;
            pending_range *grown = realloc(stack, new_cap * sizeof *stack);
            if (!grown) {
                s = myo_fail(MYO_ERR_NOMEM, "kary: cannot grow the stack");
                break;
            }
            stack = grown, cap = new_cap;
        }
        /* Parts of sizes base+1 (the first len % parts) and base, pushed
         * last-first so they are visited in sequence order. */
        int64_t base = len / parts, extra = len % parts;
        int64_t hi = r.hi;
        for (int64_t k = parts - 1; k >= 0; k--) {
            int64_t size = base + (k < extra);
            stack[top++] = (pending_range){hi - size, hi, label};
            hi -= size;
        }
    }
    free(stack);
    if (s == MYO_OK) {
        s = myo_tree_create_ordered(parent, n_tokens + n_internal, visit, out);
        if (s == MYO_OK) (*out)->n_tokens = n_tokens;
    }
    free(parent);
    free(visit);
    return s;
}
