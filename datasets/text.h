/*
 * text.h -- LRA's byte-level text tasks: Text (IMDb reviews, one document
 * per example) and Retrieval (AAN pairs, two documents per example).
 *
 * Token ids (LRA's ByteTextEncoder without extra tokens): id = byte + 1,
 * so ids are 1..256, 0 is the padding, vocab 257.  A document's first n
 * bytes are kept (truncation); shorter ones are padded with 0 to n;
 * lengths = min(bytes, n).  Bytes are taken raw (no decoding; NUL bytes
 * are tokens like any other, id 1).  classes 2.
 *
 * Failures return a myo_status; myo_data_error() (dataset_file.h) then
 * gives a one-line detail, "file:line: what" for a malformed TSV row.  Nothing
 * prints or exits.
 */
#ifndef MYO_TEXT_H
#define MYO_TEXT_H

#include "myo_data.h"

#include <stddef.h>
#include <stdint.h>

#define MYO_TEXT_VOCAB 257   /* ids = byte + 1; 0 = padding */
#define MYO_TEXT_N 4096      /* Text task length of later work (LRA's config: 1000) */
#define MYO_RETRIEVAL_N 4000 /* bytes per AAN document */

/* A directory of text files, one example per file: every subdirectory
 * dir/<label_names[i]> gives label i (i < nlabels); other subdirectories
 * and files directly in dir are ignored.  label_names NULL means IMDb's
 * {"neg", "pos"} (neg = 0, pos = 1; aclImdb/train/unsup is ignored).
 * Examples are in label order, then by file name in strcmp (byte) order;
 * only regular files (and symlinks to them) are read, names starting with
 * '.' are skipped.  Task "text", docs 1, n tokens per document.
 * MYO_ERR_IO when dir or a listed subdirectory or file cannot be read
 * (naming it), MYO_ERR_DATA when no example is found, MYO_ERR_ARG on bad
 * arguments (n < 1; label_names given with nlabels < 1).  classes =
 * max(2, nlabels) (2 for IMDb).  Attributes "dir", "labels",
 * "truncated" (how many documents were longer than n), "ids". */
myo_status myo_text_load_dir(const char *dir, const char *const *label_names, int nlabels,
                             int64_t n, myo_dataset *d);

/* IMDb: myo_text_load_dir(root/split, NULL, 0, n, d) for split "train" or
 * "test" of aclImdb (root is the aclImdb directory). */
myo_status myo_imdb_load(const char *root, const char *split, int64_t n, myo_dataset *d);

/* LRA's AAN TSV (new_aan_pairs.{train,eval,test}.tsv): no header, no
 * quoting, one row per line of exactly five tab-separated columns: label
 * (a float equal to 0 or 1: "0", "1", "0.0", "1.0", ...), id1, id2, text1,
 * text2.  A trailing "\r" is dropped; empty lines are skipped.  Task
 * "retrieval", docs 2 (text1, text2), n tokens per document.  Malformed
 * rows (column count != 5, bad label) give MYO_ERR_DATA "file:line: what"
 * (lines counted from 1).  MYO_ERR_IO when the file cannot be read,
 * MYO_ERR_DATA when it has no row.  id1 and id2 are checked for presence
 * only (not stored).  Attributes "file", "truncated", "ids". */
myo_status myo_aan_load_tsv(const char *path, int64_t n, myo_dataset *d);

/* The same parser on a buffer (len bytes, need not be NUL-terminated);
 * name is used in the details and the "file" attribute. */
myo_status myo_aan_parse(const char *buf, size_t len, const char *name, int64_t n, myo_dataset *d);

#endif
