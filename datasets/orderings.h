/*
 * orderings.h -- flattening a side x side image into a token sequence:
 * raster (row-major, LRA's own), Morton (Z-order) and Hilbert, their
 * inverses, applying them to a dataset, and the matching quad-tree.
 *
 * Conventions.  Pixel (x, y) is column x, row y; its raster index is
 * y * side + x.  A permutation perm of n = side * side is in gather form:
 * perm[p] = the raster index of the pixel at sequence position p, so a
 * reordered image is out[p] = img[perm[p]].  Its inverse inv[perm[p]] = p
 * gives each pixel's sequence position.
 *
 * Morton: position = bits of x and y interleaved, bit b of x at bit 2b,
 * bit b of y at bit 2b + 1 (each quad visited (0,0), (1,0), (0,1), (1,1)).
 * Hilbert: the classic d2xy/xy2d curve (Wikipedia "Hilbert curve"); on 2x2
 * it visits (0,0), (0,1), (1,1), (1,0) and consecutive positions are always
 * grid neighbours on 2^k x 2^k.
 *
 * Sizes that are not a power of two (odd sizes included): the image is
 * embedded at the top-left of the 2^k x 2^k grid, 2^k the smallest power of
 * two >= side; the curve walks the big grid and the in-image pixels are kept
 * in the curve's order (out-of-image cells are skipped).  Every aligned
 * 2^j x 2^j block of the big grid is still a contiguous run of positions
 * (its in-image part, a rectangle); Hilbert's neighbour property can break
 * where the curve leaves and re-enters the image.  Raster is row-major for
 * every size.
 *
 * The matching quad-tree: on 2^k x 2^k with Morton or Hilbert order,
 * myo_tree_create_kary(n, 4) groups consecutive runs of 4^j positions, and
 * each of its nodes covers an aligned square block of the image.
 * myo_ordering_quadtree() builds that tree for any side (it equals the kary
 * tree for powers of two).
 *
 * Failures return a myo_status; myo_data_error() (dataset_file.h) gives
 * the detail.  Nothing prints or exits.
 */
#ifndef MYO_ORDERINGS_H
#define MYO_ORDERINGS_H

#include "myo_data.h"

#include <stdint.h>

typedef enum { MYO_ORDER_RASTER = 0, MYO_ORDER_MORTON = 1, MYO_ORDER_HILBERT = 2 } myo_ordering;

/* "raster", "morton", "hilbert" (never NULL; "unknown" for a bad value). */
const char *myo_ordering_name(myo_ordering o);
/* Parse a name above (also "row-major" = raster, "zorder" / "z-order" =
 * morton); MYO_ERR_ARG for anything else. */
myo_status myo_ordering_parse(const char *name, myo_ordering *out);

/* Morton index of (x, y) (bits interleaved as above); x, y < 2^31. */
uint64_t myo_morton_encode(uint32_t x, uint32_t y);
void myo_morton_decode(uint64_t d, uint32_t *x, uint32_t *y);
/* Hilbert index of (x, y) on the 2^k x 2^k grid (x, y < 2^k, k <= 31), and
 * back. */
uint64_t myo_hilbert_encode(int k, uint32_t x, uint32_t y);
void myo_hilbert_decode(int k, uint64_t d, uint32_t *x, uint32_t *y);

/* Fill perm (side * side) with the ordering's gather permutation (rule
 * above for non-powers of two).  MYO_ERR_ARG when side < 1, side > 46340
 * or a bad ordering. */
myo_status myo_ordering_perm(myo_ordering o, int side, int32_t *perm);
/* inv (n) = the inverse of perm (n); MYO_ERR_DATA naming the entry when
 * perm is not a permutation of 0..n-1. */
myo_status myo_perm_inverse(const int32_t *perm, int64_t n, int32_t *inv);
/* 1 when perm (n) is a permutation of 0..n-1, 0 otherwise. */
int myo_perm_is_valid(const int32_t *perm, int64_t n);

/* out[p] = in[perm[p]] for p < n (in and out must not overlap). */
void myo_perm_gather(const int32_t *perm, int64_t n, const int32_t *in, int32_t *out);

/* Reorder every document of d in place: tokens[e][g][p] <- old
 * tokens[e][g][perm[p]], for perm of d->n.  Only unpadded documents
 * without parse trees can be reordered (images): MYO_ERR_ARG when d has
 * parents or a document's length is < n (its padding would be scattered),
 * or when perm is not a permutation of 0..d->n-1; MYO_ERR_NOMEM.  On
 * failure d is unchanged. */
myo_status myo_dataset_permute(myo_dataset *d, const int32_t *perm);
/* myo_dataset_permute with the ordering o of a side x side image
 * (side * side must equal d->n); records the attribute "ordering" = the
 * ordering's name.  Raster is the identity (only the attribute is set). */
myo_status myo_dataset_reorder(myo_dataset *d, myo_ordering o, int side);
/* A copy of src reordered (dst is allocated; free with myo_dataset_free). */
myo_status myo_dataset_reorder_copy(const myo_dataset *src, myo_ordering o, int side,
                                    myo_dataset *dst);

/* The quad-tree over the sequence positions of o's order on side x side
 * (o = MYO_ORDER_MORTON or MYO_ORDER_HILBERT), labelled like
 * myo_tree_create_kary: tokens 0..n-1 are the leaves in sequence order,
 * internal nodes n.. in pre-order.  Each node is an aligned 2^j x 2^j
 * block of the embedding grid restricted to the image; empty blocks are
 * dropped and a block with a single non-empty child is that child (every
 * internal node has >= 2 children).  For side = 2^k its parent array is
 * exactly that of myo_tree_create_kary(side * side, 4).  (Built with
 * myo_tree_create: myo_tree_num_tokens() is the node count and
 * myo_tree_preorder() lists children by label.)  MYO_ERR_ARG for raster or
 * a bad side. */
myo_status myo_ordering_quadtree(myo_ordering o, int side, myo_tree **out);

#endif
