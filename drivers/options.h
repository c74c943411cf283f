/* options.h -- the suite's command-line vocabulary: one table-driven
 * option parser, so that every tool spells the same thing the same way.
 *
 * A tool describes its options in a table of opt_spec (name, kind of
 * value, where it goes); opt_parse runs getopt_long over the table and
 * checks every value by its kind, with one syntax per kind for every tool:
 *   integers   1000, 64K, 16M, 1G (powers of 1024) or 2^20
 *   lengths    a comma list of integers and lo:hi[:xF] geometric ranges,
 *              e.g. 1K:16M:x2 or 2^10:2^24:x4 (sorted, repeats dropped)
 *   trees      a comma list of chain, kary<k>, heap<k> (2 <= k <= 64) and
 *              the tool's own words (parse, auto, ...)
 *   words      one of a list, or a comma list of distinct ones
 *   seconds    a positive number (inf allowed)
 * and the same one-line message for a bad value: "--NAME: 'TEXT' is not
 * WHAT".  --help and --version (-h, -V) come with every table.  An option
 * may keep an older name as an alias (accepted, not advertised) and have a
 * one-letter spelling (-o FILE); a tool that takes operands (FILE, DIR)
 * lists them in the table as OPT_OPERAND.
 *
 * The parser prints nothing: it returns what to do and, for a bad command
 * line, the message, which the tool prints (from rank 0 under MPI). */
#ifndef MYO_OPTIONS_H
#define MYO_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    OPT_FLAG,    /* no value: *(int *)value = 1 */
    OPT_INT,     /* int64_t in [lo, hi] */
    OPT_INTS,    /* int64_t[max] in [lo, hi], *count of them */
    OPT_LENGTHS, /* int64_t[max] in [lo, hi], sorted and distinct, *count */
    OPT_SECONDS, /* double > 0 */
    OPT_WORD,    /* int: the index of the value in words */
    OPT_WORDS,   /* int[max]: distinct indices in words, *count */
    OPT_TREES,   /* opt_tree[max], *count; words: the tool's extra names */
    OPT_TEXT,    /* const char *: a non-empty string (borrowed from argv) */
    OPT_CUSTOM,  /* the tool's parse(text, value): 0, or -1 with expect */
    OPT_OPERAND  /* const char *: the next operand left after the options, in
                    the table's order (any text; not an option: name is what
                    the help calls it); a missing one leaves value as it was */
} opt_kind;

/* A tree of the vocabulary: chain, kary<k> (a balanced hierarchy with
 * virtual internal nodes over the tokens), heap<k> (k-ary heap order on
 * the tokens themselves), or one of the tool's own words. */
enum { OPT_TREE_CHAIN, OPT_TREE_KARY, OPT_TREE_HEAP, OPT_TREE_WORD };
typedef struct {
    int kind;  /* OPT_TREE_* */
    int arity; /* kary, heap: 2..64; 0 for "kary" written without k */
    int word;  /* OPT_TREE_WORD: the index in the spec's words */
    char name[16];
} opt_tree;

typedef struct {
    const char *name;  /* the long name, without "--" */
    const char *alias; /* an older name also accepted, or NULL */
    opt_kind kind;
    void *value;
    int *count;               /* lists: how many values */
    int max;                  /* lists: the capacity of value */
    int64_t lo, hi;           /* integers, lengths */
    const char *const *words; /* NULL-terminated: words, or trees' own names */
    int *given;               /* set to 1 when the option appears (NULL: not kept) */
    int (*parse)(const char *text, void *value); /* OPT_CUSTOM */
    const char *expect;       /* OPT_CUSTOM: what the value must be, for the message */
    char letter;              /* a one-letter spelling (-o), or 0 */
} opt_spec;

/* What opt_parse found. */
enum { OPT_GO = -1, OPT_HELP = 0, OPT_VERSION = 1, OPT_BAD = 2 };

/* Local.  Parse argv against specs (count of them, at most 48): the
 * values go where the specs say; no operand may remain beyond the table's
 * OPT_OPERAND entries.  Returns OPT_GO, OPT_HELP or OPT_VERSION (--help,
 * --version: the tool prints), or OPT_BAD with a one-line message in msg
 * (size bytes), e.g. "--n: '1K:x2' is not a comma list of n or lo:hi[:xF]
 * ...", "unknown option '--x'", "option '--flag=1' takes no value".
 * argv[0] is the program's (or the subcommand's) name: a subcommand's
 * options are parsed from argc - 1, argv + 1. */
int opt_parse(int argc, char **argv, const opt_spec *specs, int count, char *msg, size_t size);

/* Local.  text as an integer of the vocabulary in [lo, hi] (K, M, G
 * suffixes, 2^k): 0, or -1. */
int opt_parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out);

/* Local.  text as one tree of the vocabulary (words: the tool's own
 * names, NULL-terminated, may be NULL): 0, or -1. */
int opt_parse_tree(const char *text, const char *const *words, opt_tree *out);

#endif
