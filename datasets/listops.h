/*
 * listops.h -- LRA ListOps: a seedable generator following LRA's
 * lra_benchmarks/data/listops.py, the tokeniser of LRA's input pipeline, the
 * parse tree of every expression, and a loader for LRA's basic_*.tsv files
 * (docs/lra.md sections 1 and 4).  All of them fill a
 * myo_dataset (myo_data.h) with task "listops", docs 1, vocab
 * MYO_LISTOPS_VOCAB, classes 10 and parents non-NULL.
 *
 * Vocabulary (token ids).  LRA's pipeline builds a TokenTextEncoder from a
 * Python set (id order depends on the interpreter's hash seed); S4 uses
 * torchtext with the specials <pad>, <unk>, <eos> first ("actual size 18").
 * We follow S4's layout, with the 15 symbols in a fixed documented order so
 * that ids are identical everywhere:
 *     0 pad   1 unk   2 eos (reserved, never emitted)
 *     3 [MIN  4 [MAX  5 [MED  6 [SM  7 X (LRA's "]")
 *     8 .. 17 the digits 0 .. 9   (id = 8 + digit)
 * vocab = 18.
 *
 * Parse trees.  parents[i] is the index of the token owning token i: an
 * operator token owns the root tokens of its arguments and its closing X; the
 * root is token 0 (the outermost operator, or the single digit of a bare
 * value) with parent -1; padding tokens have parent -1.  Every parent index
 * is smaller than its child's, so truncating a sequence to its first n
 * tokens (what LRA's pipeline does: encode(...)[:max_length]) keeps a valid
 * tree rooted at 0: the tokens beyond n are dropped together with their
 * subtrees' tails, the label is that of the full expression.
 *
 * Errors: every fallible call returns a myo_status; the one-line detail of
 * the last failure in the calling thread ("file:line: what" for the loader)
 * is myo_data_error() (dataset_file.h).  Nothing here prints or exits.
 */
#ifndef MYO_LISTOPS_H
#define MYO_LISTOPS_H

#include "myo_data.h"

#include <stddef.h>
#include <stdint.h>

enum {
    MYO_LISTOPS_PAD = 0,
    MYO_LISTOPS_UNK = 1,
    MYO_LISTOPS_EOS = 2, /* reserved (S4's <eos>), never emitted */
    MYO_LISTOPS_MIN = 3,
    MYO_LISTOPS_MAX = 4,
    MYO_LISTOPS_MED = 5,
    MYO_LISTOPS_SM = 6,
    MYO_LISTOPS_CLOSE = 7,  /* "X", LRA's "]" */
    MYO_LISTOPS_DIGIT0 = 8, /* digit d has id 8 + d */
    MYO_LISTOPS_VOCAB = 18
};

#define MYO_LISTOPS_CLASSES 10
#define MYO_LISTOPS_DEFAULT_N 2000 /* LRA's max_length: tokens per example */

/* Generator parameters; myo_listops_params_default() gives LRA's. */
typedef struct {
    int64_t min_length; /* keep an expression only if min_length < len (500) */
    int64_t max_length; /* ... and len < max_length (2000), both strict */
    int max_depth;      /* depth max_depth is always a leaf (10); 1..64 */
    int max_args;       /* operator argument count uniform in {2..max_args} (10) */
    double value_p;     /* a node is an operator when u <= value_p, u ~ U[0,1) (0.25) */
} myo_listops_params;

void myo_listops_params_default(myo_listops_params *p);

/* Token id of one symbol ("[MIN", "X" or "]", "7", ...), MYO_LISTOPS_UNK for
 * anything else; and the symbol of an id ("X" for the close, "<pad>",
 * "<unk>", "<eos>", "?" out of range). */
int32_t myo_listops_token_id(const char *sym, size_t len);
const char *myo_listops_token_str(int32_t id);

/* Tokenise an LRA Source string: delete '(' and ')', rename ']' to X, split
 * on whitespace.  Writes the first min(len, cap) ids to ids (may be NULL when
 * cap is 0) and the full token count to *len.  MYO_ERR_DATA on an unknown
 * token (detail names its position). */
myo_status myo_listops_tokenize(const char *src, int32_t *ids, int64_t cap, int64_t *len);

/* Parse a complete token sequence of len tokens: parents (len,) as above
 * (may be NULL) and the label (may be NULL), evaluated as LRA does (MIN, MAX,
 * MED = floor of the mean of the two middle values for an even count, SM =
 * sum mod 10).  MYO_ERR_DATA when the sequence is not exactly one expression
 * (unbalanced X, an operator without arguments, trailing tokens, a pad/unk/eos
 * or out-of-range id), MYO_ERR_NOMEM. */
myo_status myo_listops_parse(const int32_t *ids, int64_t len, int32_t *parents, int32_t *label);

/* Write the LRA Source form of a complete token sequence into buf (cap
 * bytes, NUL-terminated), e.g. [MAX 2 9 X -> "( ( ( [MAX 2 ) 9 ) ] )", and
 * the string length (without the NUL) to *out_len (may be NULL).
 * MYO_ERR_ARG when buf is too small, MYO_ERR_DATA when ids are not one
 * expression. */
myo_status myo_listops_format(const int32_t *ids, int64_t len, char *buf, size_t cap,
                              size_t *out_len);

/* Generate count unique expressions (exact duplicates of token sequences are
 * drawn again) with parameters p (NULL: LRA's) from seed, in generation order,
 * into d: d is allocated here (myo_dataset_alloc) with n tokens per example
 * (n <= 0: MYO_LISTOPS_DEFAULT_N; longer expressions are truncated as
 * described above), source "generated", and the attributes seed,
 * min_length, max_length, max_depth, max_args, value_p, attempts (trees
 * drawn), duplicates (accepted-length trees dropped as duplicates); count
 * and n are the dataset's own fields (reserved attribute names).  Splits
 * as LRA's 96,000 / 2,000 / 2,000 of 100,000: validation and test
 * round(count / 50) examples each, after the training ones
 * (myo_dataset_split_tail).  The same
 * seed and parameters give the same dataset on every machine.  MYO_ERR_ARG on
 * bad parameters (including a length window no expression can fit),
 * MYO_ERR_NOMEM. */
myo_status myo_listops_generate(const myo_listops_params *p, uint64_t seed, int64_t count,
                                int64_t n, myo_dataset *d);

/* Load an LRA basic_{train,val,test}.tsv file: a header line
 * "Source\tTarget", then one row per example (Source, a label 0..9); CRLF
 * line ends and a missing final newline are accepted, empty lines are
 * skipped.  Every row is tokenised, parsed and truncated/padded to n tokens
 * (n <= 0: MYO_LISTOPS_DEFAULT_N); the file's Target is the label (not
 * recomputed; a row whose Target differs from its evaluated value is kept:
 * the attribute label_mismatches counts them).  d is allocated here; source
 * "loaded", attributes file, truncated (rows longer than n),
 * label_mismatches; no splits (one file is one of LRA's splits:
 * myo_listops_load_splits reads the three).
 * MYO_ERR_IO when the file cannot be read; MYO_ERR_DATA
 * with "file:line: what" for a missing header, a wrong column count, a bad
 * label, unknown tokens or a malformed expression; MYO_ERR_NOMEM. */
myo_status myo_listops_load(const char *path, int64_t n, myo_dataset *d);

/* LRA's three files in one dataset: paths[MYO_SPLIT_TRAIN],
 * [MYO_SPLIT_VALID], [MYO_SPLIT_TEST] (basic_train.tsv, basic_val.tsv,
 * basic_test.tsv), each read as myo_listops_load does, their examples in
 * that order with the splits set to the three files' row counts.
 * Attributes train_file, validation_file, test_file, and truncated and
 * label_mismatches summed over the files.  Errors as myo_listops_load
 * (naming the file). */
myo_status myo_listops_load_splits(const char *const paths[MYO_SPLITS], int64_t n, myo_dataset *d);

#endif
