/* tree.c -- forests from parent arrays: validation and the pre-order layout.
 *
 * Nothing here recurses: the depth-first walk keeps its own stack, so a
 * chain of 10^7 nodes is as easy as a star. */
#include <config.h>

#include "core/core.h"
#include "tree_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void myo_tree_destroy(myo_tree **t)
{
    if (!t || !*t) return;
    free((*t)->parent);
    free((*t)->order);
    free((*t)->parent_pos);
    free((*t)->subtree);
    free(*t);
    *t = NULL;
}

/* Describe the cycle reached by walking up from node start, which no root
 * reaches.  mark (n,) is scratch, all zero on entry. */
static myo_status report_cycle(const int64_t *parent, int64_t start, char *mark)
{
    int64_t u = start;
    while (!mark[u]) { /* walk until a node repeats: it lies on the cycle */
        mark[u] = 1;
        u = parent[u];
    }
    char path[256];
    int used = snprintf(path, sizeof path, "%lld", (long long)u);
    int64_t v = parent[u];
    for (int steps = 0; used < (int)sizeof path - 32; steps++) {
        used += snprintf(path + used, sizeof path - used, " -> %lld", (long long)v);
        if (v == u) break;
        if (steps == 8) {
            snprintf(path + used, sizeof path - used, " -> ...");
            break;
        }
        v = parent[v];
    }
    return myo_fail(MYO_ERR_DATA, "node %lld lies on a cycle of parent links (%s)", (long long)u,
                    path);
}

static myo_status check_parents(const int64_t *parent, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t p = parent[i];
        if (p < -1 || p >= n)
            return myo_fail(MYO_ERR_DATA, "node %lld has parent %lld, outside [-1, %lld)",
                            (long long)i, (long long)p, (long long)n);
        if (p == i)
            return myo_fail(MYO_ERR_DATA, "node %lld is its own parent (self-loop)", (long long)i);
    }
    return MYO_OK;
}

/* Children lists (CSR) in the visiting order, and the roots in that order. */
typedef struct {
    int64_t *first; /* (n + 1,) offsets into child */
    int64_t *child; /* (n,) child labels; the roots fill the tail */
    int64_t n_roots;
} children_csr;

static myo_status build_children(const int64_t *parent, int64_t n, const int64_t *visit,
                                 children_csr *c)
{
    c->first = myo_alloc((size_t)n + 1, sizeof(int64_t), "tree children offsets");
    c->child = myo_alloc((size_t)n, sizeof(int64_t), "tree children");
    if (!c->first || !c->child) return MYO_ERR_NOMEM;
    memset(c->first, 0, ((size_t)n + 1) * sizeof(int64_t));
    c->n_roots = 0;
    for (int64_t i = 0; i < n; i++) {
        if (parent[i] >= 0)
            c->first[parent[i] + 1]++;
        else
            c->n_roots++;
    }
    for (int64_t i = 0; i < n; i++)
        c->first[i + 1] += c->first[i];
    /* Roots go after the last child slot: c->first[n] .. n - 1. */
    int64_t next_root = c->first[n];
    int64_t *fill = myo_alloc((size_t)n, sizeof(int64_t), "tree fill cursor");
    if (!fill) return MYO_ERR_NOMEM;
    memcpy(fill, c->first, (size_t)n * sizeof(int64_t));
    for (int64_t k = 0; k < n; k++) {
        int64_t i = visit ? visit[k] : k;
        if (parent[i] >= 0)
            c->child[fill[parent[i]]++] = i;
        else
            c->child[next_root++] = i;
    }
    free(fill);
    return MYO_OK;
}

/* Pre-order walk from every root with an explicit stack: fills order and
 * parent_pos, returns the number of nodes reached and the height. */
static myo_status walk_preorder(const children_csr *c, const int64_t *parent, int64_t n,
                                myo_tree *t, int64_t *reached)
{
    int64_t *stack = myo_alloc((size_t)n, sizeof(int64_t), "tree walk stack");
    int64_t *pos_of = myo_alloc((size_t)n, sizeof(int64_t), "tree positions");
    int64_t *depth = myo_alloc((size_t)n, sizeof(int64_t), "tree depths");
    if (!stack || !pos_of || !depth) {
        free(stack), free(pos_of), free(depth);
        return MYO_ERR_NOMEM;
    }
    int64_t pos = 0, top = 0;
    t->height = 0;
    const int64_t *roots = c->child + c->first[n];
    for (int64_t r = 0; r < c->n_roots; r++) {
        stack[top++] = roots[r];
        while (top > 0) {
            int64_t u = stack[--top];
            int64_t p = parent[u];
            pos_of[u] = pos;
            t->order[pos] = u;
            t->parent_pos[pos] = p >= 0 ? pos_of[p] : -1;
            depth[pos] = p >= 0 ? depth[pos_of[p]] + 1 : 0;
            if (depth[pos] > t->height) t->height = depth[pos];
            pos++;
            /* Push in reverse so the first child is visited first.  The
             * stack never exceeds n: every node is pushed once. */
            for (int64_t k = c->first[u + 1]; k > c->first[u]; k--)
                stack[top++] = c->child[k - 1];
        }
    }
    *reached = pos;
    free(stack), free(pos_of), free(depth);
    return MYO_OK;
}

myo_status myo_tree_create_ordered(const int64_t *parent, int64_t n, const int64_t *child_order,
                                   myo_tree **out)
{
    if (!out) return myo_fail(MYO_ERR_ARG, "myo_tree_create: out is NULL");
    *out = NULL;
    if (!parent) return myo_fail(MYO_ERR_ARG, "myo_tree_create: parent is NULL");
    if (n < 1) return myo_fail(MYO_ERR_ARG, "myo_tree_create: n = %lld, need n >= 1", (long long)n);
    MYO_CHECK(check_parents(parent, n));

    myo_tree *t = calloc(1, sizeof *t);
    if (!t) return myo_fail(MYO_ERR_NOMEM, "myo_tree_create: cannot allocate the tree");
    t->n = t->n_tokens = n;
    t->parent = myo_alloc((size_t)n, sizeof(int64_t), "tree parents");
    t->order = myo_alloc((size_t)n, sizeof(int64_t), "tree order");
    t->parent_pos = myo_alloc((size_t)n, sizeof(int64_t), "tree parent positions");
    t->subtree = myo_alloc((size_t)n, sizeof(int64_t), "tree subtree sizes");
    children_csr c = {0};
    myo_status s = MYO_OK;
    if (!t->parent || !t->order || !t->parent_pos || !t->subtree) s = MYO_ERR_NOMEM;
    if (s == MYO_OK) s = build_children(parent, n, child_order, &c);
    int64_t reached = 0;
    if (s == MYO_OK) s = walk_preorder(&c, parent, n, t, &reached);
    free(c.first), free(c.child);
    if (s == MYO_OK && reached < n) {
        /* Some nodes hang off no root: every one of them leads up into a
         * cycle.  Reuse the subtree buffer as marks. */
        char *mark = (char *)t->subtree;
        memset(mark, 0, (size_t)n);
        char *seen = calloc((size_t)n, 1);
        if (!seen)
            s = myo_fail(MYO_ERR_NOMEM, "myo_tree_create: cannot allocate cycle marks");
        else {
            for (int64_t pos = 0; pos < reached; pos++)
                seen[t->order[pos]] = 1;
            int64_t start = 0;
            while (seen[start])
                start++;
            s = report_cycle(parent, start, mark);
            free(seen);
        }
    }
    if (s != MYO_OK) {
        myo_tree_destroy(&t);
        return s;
    }
    memcpy(t->parent, parent, (size_t)n * sizeof(int64_t));
    t->n_roots = 0;
    for (int64_t pos = 0; pos < n; pos++) {
        t->subtree[pos] = 1;
        if (t->parent_pos[pos] < 0) t->n_roots++;
    }
    for (int64_t pos = n - 1; pos > 0; pos--)
        if (t->parent_pos[pos] >= 0) t->subtree[t->parent_pos[pos]] += t->subtree[pos];
    t->is_chain = t->n_roots == 1;
    for (int64_t pos = 0; pos < n && t->is_chain; pos++)
        t->is_chain = t->order[pos] == pos && t->parent_pos[pos] == pos - 1;
    *out = t;
    return MYO_OK;
}

myo_status myo_tree_create(const int64_t *parent, int64_t n, myo_tree **out)
{
    return myo_tree_create_ordered(parent, n, NULL, out);
}

int64_t myo_tree_num_nodes(const myo_tree *t)
{
    return t ? t->n : 0;
}
int64_t myo_tree_num_tokens(const myo_tree *t)
{
    return t ? t->n_tokens : 0;
}
int64_t myo_tree_num_roots(const myo_tree *t)
{
    return t ? t->n_roots : 0;
}
int64_t myo_tree_height(const myo_tree *t)
{
    return t ? t->height : 0;
}
const int64_t *myo_tree_parents(const myo_tree *t)
{
    return t ? t->parent : NULL;
}
const int64_t *myo_tree_preorder(const myo_tree *t)
{
    return t ? t->order : NULL;
}
