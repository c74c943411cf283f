/* tree_internal.h -- the tree object behind myosotis.h's opaque myo_tree,
 * for the modules that walk it (the solver, the layers, the distributed
 * code) (not installed). */
#ifndef MYO_TREE_INTERNAL_H
#define MYO_TREE_INTERNAL_H

#include "myosotis.h"

#include <stdint.h>

/* The tree object.  Labels are the caller's; "positions" index the internal
 * pre-order layout in which both solver passes stream through memory. */
struct myo_tree {
    int64_t n;        /* nodes */
    int64_t n_tokens; /* sequence tokens (n unless a kary hierarchy) */
    int64_t n_roots;
    int64_t height;
    int64_t *parent;     /* (n,) label -> parent label, -1 at roots */
    int64_t *order;      /* (n,) position -> label (pre-order) */
    int64_t *parent_pos; /* (n,) position -> parent's position, -1 at roots */
    int64_t *subtree;    /* (n,) position -> number of nodes in its subtree */
    int is_chain;        /* one path with order[i] == i and parent_pos[i] == i - 1 */
};

/* Build a tree from a parent array; children are visited in the order in
 * which the nodes appear in child_order (a permutation of 0..n-1, borrowed),
 * or in increasing label order when child_order is NULL. */
myo_status myo_tree_create_ordered(const int64_t *parent, int64_t n, const int64_t *child_order,
                                   myo_tree **out);

#endif
