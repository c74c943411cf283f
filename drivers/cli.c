/* cli.c -- exit codes, version banner and number parsing for the tools. */
#include <config.h>

#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void myo_cli_ignore_sigxfsz(void)
{
    signal(SIGXFSZ, SIG_IGN);
}

int myo_cli_exit_code(myo_status s)
{
    switch (s) {
    case MYO_OK:
        return MYO_EXIT_OK;
    case MYO_ERR_ARG:
        return MYO_EXIT_USAGE;
    case MYO_ERR_DATA:
        return MYO_EXIT_DATA;
    case MYO_ERR_SINGULAR:
        return MYO_EXIT_SINGULAR;
    case MYO_ERR_IO:
    case MYO_ERR_HDF5:
        return MYO_EXIT_IO;
    case MYO_ERR_NOMEM:
    case MYO_ERR_MPI:
        return MYO_EXIT_INTERNAL;
    }
    return MYO_EXIT_INTERNAL;
}

void myo_cli_print_version(const char *tool)
{
    printf("%s (%s) %s, revision %s\n", tool, PACKAGE_NAME, PACKAGE_VERSION, MYO_GIT_REVISION);
}

int myo_cli_parse_size(const char *text, int64_t *out)
{
    if (!text || !*text || *text == '-' || *text == '+') return -1;
    if (text[0] == '2' && text[1] == '^') { /* 2^k, 0 <= k <= 62 */
        int64_t k;
        if (strchr(text + 2, '^') || myo_cli_parse_size(text + 2, &k) != 0 || k > 62) return -1;
        *out = INT64_C(1) << k;
        return 0;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text) return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (*end != '\0') return -1;
    if (v > (unsigned long long)(INT64_MAX >> shift)) return -1;
    *out = (int64_t)(v << shift);
    return 0;
}

int myo_cli_parse_range(const char *text, int64_t *min, int64_t *max, int64_t *factor)
{
    char buf[128];
    if (!text || strlen(text) >= sizeof buf) return -1;
    strcpy(buf, text);
    char *parts[3] = {buf, NULL, NULL};
    int count = 1;
    for (char *p = buf; *p; p++)
        if (*p == ':') {
            if (count == 3) return -1;
            *p = '\0';
            parts[count++] = p + 1;
        }
    int64_t lo, hi, f = 2;
    if (myo_cli_parse_size(parts[0], &lo) != 0) return -1;
    hi = lo;
    if (count >= 2 && myo_cli_parse_size(parts[1], &hi) != 0) return -1;
    if (count == 3) {
        const char *fs = parts[2];
        if (*fs == 'x') fs++;
        if (myo_cli_parse_size(fs, &f) != 0 || f < 2) return -1;
    }
    if (lo < 1 || hi < lo) return -1;
    *min = lo, *max = hi, *factor = f;
    return 0;
}

int myo_cli_vfail(const char *tool, int code, int usage_hint, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", tool);
    vfprintf(stderr, fmt, ap);
    /* One line, as every diagnostic of the suite: a usage error points to
     * the help instead of printing the synopsis. */
    if (usage_hint) fprintf(stderr, " (see '%s --help')", tool);
    fputc('\n', stderr);
    return code;
}
