/* options.c -- the suite's command-line vocabulary (options.h). */
#include <config.h>

#include "options.h"
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SPECS 48
#define MAX_ITEMS 64 /* items of one list value */

int opt_parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    if (myo_cli_parse_size(text, &v) != 0 || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* The index of text in words (NULL-terminated, may be NULL), or -1. */
static int word_index(const char *text, const char *const *words)
{
    for (int i = 0; words && words[i]; i++)
        if (strcmp(text, words[i]) == 0) return i;
    return -1;
}

int opt_parse_tree(const char *text, const char *const *words, opt_tree *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(text) >= sizeof out->name) return -1;
    snprintf(out->name, sizeof out->name, "%s", text);
    if ((out->word = word_index(text, words)) >= 0) {
        out->kind = OPT_TREE_WORD;
        return 0;
    }
    out->word = 0;
    if (strcmp(text, "chain") == 0) {
        out->kind = OPT_TREE_CHAIN;
        return 0;
    }
    const char *digits = NULL;
    if (strncmp(text, "kary", 4) == 0)
        out->kind = OPT_TREE_KARY, digits = text + 4;
    else if (strncmp(text, "heap", 4) == 0)
        out->kind = OPT_TREE_HEAP, digits = text + 4;
    else
        return -1;
    if (!*digits && out->kind == OPT_TREE_KARY) return 0; /* "kary": the tool's arity */
    int64_t k;
    if (digits[strspn(digits, "0123456789")] != '\0' || opt_parse_int(digits, 2, 64, &k) != 0)
        return -1;
    out->arity = (int)k;
    snprintf(out->name, sizeof out->name, "%.4s%d", text, out->arity); /* kary04: kary4 */
    return 0;
}

/* A comma list split into items (in buf), each non-empty: the count, or
 * -1 (too long, an empty item, more than max). */
static int split(const char *text, char *buf, size_t size, char **items, int max)
{
    if (strlen(text) >= size) return -1;
    strcpy(buf, text);
    int count = 0;
    for (char *p = buf;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (!*p || count == max) return -1;
        items[count++] = p;
        if (!comma) return count;
        p = comma + 1;
    }
}

/* Lengths: values and lo:hi[:xF] ranges, sorted, repeats dropped. */
static int parse_lengths(const char *text, const opt_spec *s)
{
    char buf[1024], *items[MAX_ITEMS];
    int k = split(text, buf, sizeof buf, items, MAX_ITEMS), count = 0;
    int64_t *v = s->value;
    if (k < 1) return -1;
    for (int i = 0; i < k; i++) {
        int64_t lo, hi, f;
        if (myo_cli_parse_range(items[i], &lo, &hi, &f) != 0 || lo < s->lo || hi > s->hi)
            return -1;
        for (int64_t n = lo; n <= hi; n = n > hi / f ? hi + 1 : n * f) {
            if (count == s->max) return -1;
            v[count++] = n;
        }
    }
    for (int i = 1; i < count; i++) /* insertion sort: short lists */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    int u = 0;
    for (int i = 0; i < count; i++)
        if (u == 0 || v[u - 1] != v[i]) v[u++] = v[i];
    *s->count = u;
    return 0;
}

/* A list value: split, then each item by kind. */
static int parse_list(const char *text, const opt_spec *s)
{
    char buf[1024], *items[MAX_ITEMS];
    const int max = s->max < MAX_ITEMS ? s->max : MAX_ITEMS;
    int k = split(text, buf, sizeof buf, items, max);
    if (k < 1) return -1;
    for (int i = 0; i < k; i++) {
        if (s->kind == OPT_INTS) {
            if (opt_parse_int(items[i], s->lo, s->hi, (int64_t *)s->value + i) != 0) return -1;
        } else if (s->kind == OPT_WORDS) {
            int *idx = s->value;
            if ((idx[i] = word_index(items[i], s->words)) < 0) return -1;
            for (int j = 0; j < i; j++)
                if (idx[j] == idx[i]) return -1;
        } else { /* OPT_TREES */
            opt_tree *t = s->value;
            if (opt_parse_tree(items[i], s->words, &t[i]) != 0) return -1;
            for (int j = 0; j < i; j++)
                if (strcmp(t[j].name, t[i].name) == 0) return -1;
        }
    }
    *s->count = k;
    return 0;
}

/* "a, b or c" of words into out. */
static void list_words(const char *const *words, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; words && words[i] && used < size; i++) {
        const char *sep = i == 0 ? "" : words[i + 1] ? ", " : " or ";
        used += (size_t)snprintf(out + used, size - used, "%s%s", sep, words[i]);
    }
}

/* What a value of s must be, for the message. */
static void expected(const opt_spec *s, char *out, size_t size)
{
    char w[512];
    list_words(s->words, w, sizeof w);
    const long long lo = (long long)s->lo, hi = (long long)s->hi;
    switch (s->kind) {
    case OPT_INT:
        snprintf(out, size, "an integer in [%lld, %lld] (K, M, G suffixes, 2^k)", lo, hi);
        break;
    case OPT_INTS:
        snprintf(out, size, "a comma list of at most %d integers in [%lld, %lld]", s->max, lo, hi);
        break;
    case OPT_LENGTHS:
        snprintf(out, size,
                 "a comma list of n and lo:hi[:xF] ranges with %lld <= n <= %lld, F >= 2 "
                 "(K, M, G suffixes, 2^k), at most %d values",
                 lo, hi, s->max);
        break;
    case OPT_SECONDS:
        snprintf(out, size, "a positive number of seconds");
        break;
    case OPT_WORD:
        snprintf(out, size, "%s", w);
        break;
    case OPT_WORDS:
        snprintf(out, size, "a comma list of distinct %s", w);
        break;
    case OPT_TREES: /* one tree when max is 1 */
        snprintf(out, size, "%s chain, kary<k>, heap<k> (2 <= k <= 64)%s%s",
                 s->max == 1 ? "one of" : "a comma list of distinct", *w ? ", " : "", w);
        break;
    case OPT_TEXT:
        snprintf(out, size, "a file name");
        break;
    default:
        snprintf(out, size, "%s", s->expect ? s->expect : "valid");
    }
}

/* The value of spec s: 0, or -1. */
static int take(const opt_spec *s, const char *text)
{
    char *end = NULL;
    switch (s->kind) {
    case OPT_FLAG:
        *(int *)s->value = 1;
        return 0;
    case OPT_INT:
        return opt_parse_int(text, s->lo, s->hi, s->value);
    case OPT_LENGTHS:
        return parse_lengths(text, s);
    case OPT_INTS:
    case OPT_WORDS:
    case OPT_TREES:
        return parse_list(text, s);
    case OPT_SECONDS: {
        double v = strtod(text, &end);
        if (end == text || *end != '\0' || !(v > 0)) return -1; /* !(v > 0): NaN too */
        *(double *)s->value = v;
        return 0;
    }
    case OPT_WORD: {
        int i = word_index(text, s->words);
        if (i < 0) return -1;
        *(int *)s->value = i;
        return 0;
    }
    case OPT_TEXT:
        if (!*text) return -1;
        *(const char **)s->value = text;
        return 0;
    default:
        return s->parse(text, s->value);
    }
}

static int bad(char *msg, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return OPT_BAD;
}

int opt_parse(int argc, char **argv, const opt_spec *specs, int count, char *msg, size_t size)
{
    struct option all[2 * MAX_SPECS + 3];
    char shorts[3 * MAX_SPECS + 4] = ":hV"; /* ':' first: a missing value returns ':' */
    size_t used = strlen(shorts);
    int n = 0;
    msg[0] = '\0';
    if (count > MAX_SPECS) return bad(msg, size, "internal: more than %d options", MAX_SPECS);
    for (int i = 0; i < count; i++) {
        if (specs[i].kind == OPT_OPERAND) continue;
        const int has_arg = specs[i].kind == OPT_FLAG ? no_argument : required_argument;
        all[n++] = (struct option){specs[i].name, has_arg, NULL, 256 + i};
        if (specs[i].alias) all[n++] = (struct option){specs[i].alias, has_arg, NULL, 256 + i};
        if (specs[i].letter) {
            shorts[used++] = specs[i].letter;
            if (has_arg == required_argument) shorts[used++] = ':';
        }
    }
    shorts[used] = '\0';
    all[n++] = (struct option){"help", no_argument, NULL, 'h'};
    all[n++] = (struct option){"version", no_argument, NULL, 'V'};
    memset(&all[n], 0, sizeof all[n]);
    opterr = 0; /* the messages are ours */
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        if (c == 'h') return OPT_HELP;
        if (c == 'V') return OPT_VERSION;
        if (c == ':') return bad(msg, size, "option '%s' needs a value", argv[optind - 1]);
        int i = c >= 256 && c < 256 + count ? c - 256 : -1;
        for (int k = 0; k < count && i < 0 && c != '?'; k++)
            if (specs[k].letter == c && specs[k].kind != OPT_OPERAND) i = k;
        if (i < 0) {
            /* glibc sets optopt for a short option, and for a known long
             * option given a value */
            const char *arg = argv[optind - 1];
            if (strncmp(arg, "--", 2) != 0) return bad(msg, size, "unknown option '-%c'", optopt);
            return bad(msg, size, optopt ? "option '%s' takes no value" : "unknown option '%s'",
                       arg);
        }
        const opt_spec *s = &specs[i];
        if (s->given) *s->given = 1;
        if (take(s, optarg ? optarg : "") != 0) {
            char want[600];
            expected(s, want, sizeof want);
            return bad(msg, size, "--%s: '%s' is not %s", s->name, optarg ? optarg : "", want);
        }
    }
    for (int i = 0; i < count && optind < argc; i++)
        if (specs[i].kind == OPT_OPERAND) {
            *(const char **)specs[i].value = argv[optind++];
            if (specs[i].given) *specs[i].given = 1;
        }
    if (optind < argc) return bad(msg, size, "unexpected argument '%s'", argv[optind]);
    return OPT_GO;
}
