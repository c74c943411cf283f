/*
 * idx.h -- IDX files, the format of MNIST and Fashion-MNIST: parsing a
 * buffer with full validation, reading a file plain or gzip-compressed,
 * and an image set (an images file with its labels file).
 *
 * Format (every number big-endian):
 *     bytes 0, 1    0
 *     byte 2        the element type: 0x08 unsigned byte, the only one read
 *                   here (IDX's others: 0x09 signed byte, 0x0B int16, 0x0C
 *                   int32, 0x0D float32, 0x0E float64)
 *     byte 3        D, the number of dimensions
 *     4 .. 4 + 4D   the D sizes, uint32 each
 *     then          the elements, the product of the sizes of them,
 *                   row-major; nothing after them
 * So the magic number (bytes 0..3 read as one uint32) is 0x00000803 for
 * images of unsigned bytes (N, rows, cols) and 0x00000801 for their labels
 * (N,).
 *
 * Every failure returns a myo_status; myo_data_error() (dataset_file.h)
 * then gives a one-line detail naming the file and what is wrong.  Invalid
 * contents -- a wrong magic number, type or dimension count, sizes whose
 * product overflows, too few or too many bytes, a corrupt or truncated
 * gzip stream, images and labels that do not match -- are MYO_ERR_DATA; a
 * file that cannot be opened or read is MYO_ERR_IO.  Nothing prints or
 * exits.
 */
#ifndef MYO_IDX_H
#define MYO_IDX_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#define MYO_IDX_UBYTE 0x08
#define MYO_IDX_MAX_DIMS 4
/* The largest file read, after decompression (a corrupt or hostile gzip
 * stream can expand without end). */
#define MYO_IDX_MAX_BYTES ((size_t)1 << 31)

/* A parsed IDX buffer. */
typedef struct {
    int type;                       /* the element type (MYO_IDX_UBYTE) */
    int ndims;                      /* D */
    int64_t dims[MYO_IDX_MAX_DIMS]; /* the sizes (D of them) */
    int64_t count;                  /* elements: the product of the sizes */
    const uint8_t *data;            /* (dims...) row-major, borrowed: in the buffer */
} myo_idx;

/* Parse buf (len bytes; name names it in the details) as an IDX file of
 * unsigned bytes with ndims dimensions (1 to MYO_IDX_MAX_DIMS: else
 * MYO_ERR_ARG) into *out, which borrows buf.  MYO_ERR_DATA when it is
 * anything else (format above). */
myo_status myo_idx_parse(const uint8_t *buf, size_t len, const char *name, int ndims, myo_idx *out);

/* An image set: count images of rows x cols bytes and their labels. */
typedef struct {
    int64_t count;
    int rows, cols;
    const uint8_t *pixels; /* (count, rows, cols) row-major, borrowed */
    const uint8_t *labels; /* (count,), each in [0, classes), borrowed */
} myo_idx_set;

/* Parse an images buffer (N, rows, cols) and a labels buffer (N,) (their
 * names for the details) into *out, which borrows both: MYO_ERR_DATA
 * unless both parse (myo_idx_parse), the images are rows x cols, there is
 * at least one, the two counts are equal and every label is below classes
 * (1 to 256; rows, cols >= 1: else MYO_ERR_ARG). */
myo_status myo_idx_parse_set(const uint8_t *images, size_t images_len, const char *images_name,
                             const uint8_t *labels, size_t labels_len, const char *labels_name,
                             int rows, int cols, int classes, myo_idx_set *out);

/* Read the whole file path, plain or gzip-compressed (zlib tells them
 * apart), into *buf (malloc'ed; free() it) and *len.  MYO_ERR_IO when it
 * is not a regular file (refused before reading: a FIFO does not block)
 * or cannot be opened or read; MYO_ERR_DATA for a corrupt or truncated
 * gzip stream or more than MYO_IDX_MAX_BYTES; MYO_ERR_NOMEM. */
myo_status myo_idx_read_file(const char *path, uint8_t **buf, size_t *len);

#endif
