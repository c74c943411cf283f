/*
 * h5_header_check.h -- the HDF5 structures the dataset reader relies on,
 * checked from the file's own bytes before libhdf5 decodes them
 * (README.md, "myo-data").
 *
 * libhdf5 1.10 decodes object header messages without bounds checks, and
 * H5Aiterate2 releases a half-built attribute table wrongly when one
 * attribute message fails to decode: one corrupt byte in an attribute can
 * crash it (a read past a buffer, a wild free), and a corrupt chunk size
 * makes it allocate terabytes.  Metadata of the newer formats carries
 * checksums that libhdf5 verifies before decoding; the earliest format,
 * the one myo-data and h5py write, has none.  Hence these checks:
 *
 *   myo_h5_check_root: the superblock (versions 0 to 3), then the root
 *   group's object header.  Version 1 (no checksums): every chunk inside
 *   the file and inside the size limit below, chunks not overlapping,
 *   every message inside its chunk, the group's local heap inside the
 *   file, and every attribute message decoded in full -- the name
 *   NUL-terminated where its length says, the datatype (every class,
 *   nested ones too) and the dataspace inside their sizes and sane, the
 *   data inside the message, the global heap object of a variable-length
 *   string that is one value, no name twice; attribute messages shared
 *   through another object are refused.  The attribute names are then
 *   taken from there.  Version 2 (checksummed): only its first chunk's
 *   size is checked; the caller lists the attributes with libhdf5.
 *
 *   myo_h5_check_object: the object header at an address (a dataset's,
 *   from H5Lget_info): the same framing, its datatype and dataspace
 *   messages decoded in full (a shared, i.e. committed, datatype is
 *   refused), and its layout's data inside the file.
 *
 * Both read nothing past the end-of-file address the superblock gives (as
 * libhdf5, which leaks its own objects on some failures past it).
 *
 * Offsets and lengths of 2, 4 or 8 bytes, little-endian, as the superblock
 * says; addresses from the superblock's position (a user block before it
 * is allowed).  An object header of more than MYO_H5_HEADER_MAX bytes or
 * MYO_H5_MAX_CHUNKS chunks is refused.
 *
 * Failures: MYO_ERR_IO for a file that is not HDF5 or whose framing
 * (superblock, chunks, messages, heap) is corrupt, MYO_ERR_DATA for a
 * corrupt or unsupported attribute, datatype, dataspace or layout message,
 * MYO_ERR_NOMEM; the detail (myo_data_error()) names the file, the object
 * and what is wrong.  Nothing here prints or exits.
 */
#ifndef MYO_H5_HEADER_CHECK_H
#define MYO_H5_HEADER_CHECK_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#define MYO_H5_HEADER_MAX ((uint64_t)64 << 20)
#define MYO_H5_MAX_CHUNKS 4096

/* Attribute names, sorted by strcmp (the order of H5_INDEX_NAME). */
typedef struct {
    int count;
    char **names; /* count names, NUL-terminated, owned */
} myo_h5_names;

/* Add a copy of name (MYO_ERR_NOMEM); myo_h5_names_sort sorts them and
 * refuses a name that appears twice (MYO_ERR_DATA, what names the file). */
myo_status myo_h5_names_add(myo_h5_names *n, const char *name);
myo_status myo_h5_names_sort(myo_h5_names *n, const char *what);
/* 1 when the sorted list holds name, else 0. */
int myo_h5_names_find(const myo_h5_names *n, const char *name);
/* Free the names; NULL-safe; zeroes the list. */
void myo_h5_names_free(myo_h5_names *n);

/* A file opened for these checks (superblock read): stat, then open;
 * not a regular file (a FIFO, a directory, a device) -> MYO_ERR_IO
 * "PATH: not a regular file", nothing opened. */
typedef struct myo_h5_raw myo_h5_raw;
myo_status myo_h5_raw_open(const char *path, myo_h5_raw **out);
/* NULL-safe. */
void myo_h5_raw_close(myo_h5_raw *f);

/* The root group checked as above.  checked is 1 when its object header
 * is version 1 and attrs holds the names from the file's bytes; 0 when it
 * is version 2 (attrs empty: list them with libhdf5).  Free with
 * myo_h5_names_free(&root->attrs); empty on failure. */
typedef struct {
    int checked;
    myo_h5_names attrs;
} myo_h5_root;
myo_status myo_h5_check_root(myo_h5_raw *f, myo_h5_root *root);

/* Check the object header at addr (relative to the superblock, as
 * H5Lget_info reports it); what names the object in the detail. */
myo_status myo_h5_check_object(myo_h5_raw *f, uint64_t addr, const char *what);

/* name with every byte outside printable ASCII replaced by '?' and cut to
 * fit size (with "..."): for one-line messages. */
const char *myo_h5_printable(const char *name, char *buf, size_t size);

#endif
