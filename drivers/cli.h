/* cli.h -- what the suite's command-line tools share. */
#ifndef MYO_CLI_H
#define MYO_CLI_H

#include "myosotis.h"

#include <stdarg.h>
#include <stdint.h>

/* Exit codes of every tool (README.md, "Exit codes"). */
enum {
    MYO_EXIT_OK = 0,
    MYO_EXIT_USAGE = 2,    /* bad command line */
    MYO_EXIT_DATA = 3,     /* invalid input data: shapes, types, values, trees */
    MYO_EXIT_SINGULAR = 4, /* the matrix is singular */
    MYO_EXIT_IO = 5,       /* a file cannot be read or written, or is not HDF5 */
    MYO_EXIT_INTERNAL = 6, /* out of memory or another internal failure */
    MYO_EXIT_CHECK = 7     /* a verification (residual, validation) failed */
};

/* Ignore SIGXFSZ, first thing in every tool's main: a write beyond the
 * file-size limit (ulimit -f) then fails with EFBIG, which the tool
 * reports in one line after removing its temporary file, instead of the
 * signal killing it and leaving that file behind. */
void myo_cli_ignore_sigxfsz(void);

/* The exit code for a library status. */
int myo_cli_exit_code(myo_status s);

/* "TOOL (myosotis) VERSION, revision REV" on stdout. */
void myo_cli_print_version(const char *tool);

/* Parse a non-negative integer with an optional K, M or G suffix (powers of
 * 1024), or a power of two written 2^k (0 <= k <= 62, k in digits).
 * Returns 0 on success, -1 when text is not such a number. */
int myo_cli_parse_size(const char *text, int64_t *out);

/* Parse "min:max[:factor]" or a single value (min = max, factor 2) into a
 * geometric range.  Returns 0 on success, -1 otherwise. */
int myo_cli_parse_range(const char *text, int64_t *min, int64_t *max, int64_t *factor);

/* One diagnostic line on stderr, "TOOL: message", ending with
 * " (see 'TOOL --help')" when usage_hint.  Returns code, so that callers can
 * `return` it. */
int myo_cli_vfail(const char *tool, int code, int usage_hint, const char *fmt, va_list ap);

#endif
