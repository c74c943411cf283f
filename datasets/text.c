/* text.c -- byte-level loaders for LRA's Text (IMDb) and Retrieval (AAN). */
#define _POSIX_C_SOURCE 200809L
#include <config.h>

#include "text.h"
#include "dataset_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define IDS_RULE "byte+1 (0 = padding, vocab 257)"

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Encode len bytes into tok (n ids, padded); returns the length kept. */
static int32_t encode_bytes(const char *s, size_t len, int64_t n, int32_t *tok)
{
    int64_t keep = (int64_t)len < n ? (int64_t)len : n;
    for (int64_t i = 0; i < keep; i++)
        tok[i] = (int32_t)(unsigned char)s[i] + 1;
    for (int64_t i = keep; i < n; i++)
        tok[i] = 0;
    return (int32_t)keep;
}

/* Record an attribute; a value too long for the struct keeps its tail. */
static myo_status set_attr(myo_dataset *d, const char *k, const char *v)
{
    char shortened[sizeof d->attr_value[0]];
    size_t len = strlen(v);
    if (len >= sizeof shortened) {
        size_t keep = sizeof shortened - 4;
        snprintf(shortened, sizeof shortened, "...%s", v + len - keep);
        v = shortened;
    }
    myo_status s = myo_dataset_set_attr(d, k, v);
    if (s != MYO_OK) return myo_data_fail(s, "attribute %s: %s", k, myo_data_error());
    return MYO_OK;
}

static myo_status set_attr_i64(myo_dataset *d, const char *k, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return set_attr(d, k, buf);
}

/* The attributes every loader records last, once its own are in (s is
 * MYO_OK); on any failure d is freed (myo_dataset_free zeroes it). */
static myo_status finish_load(myo_dataset *d, myo_status s, int64_t truncated)
{
    if (s == MYO_OK) s = set_attr_i64(d, "truncated", truncated);
    if (s == MYO_OK) s = set_attr(d, "ids", IDS_RULE);
    if (s != MYO_OK) myo_dataset_free(d);
    return s;
}

/* ------------------------------------------------------- directories */

typedef struct {
    char *path;
    int label;
} text_file;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

/* Append the regular files of dir (sorted) with the label to *files. */
static myo_status list_dir(const char *dir, int label, text_file **files, int64_t *nfiles,
                           int64_t *cap)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return myo_data_fail(MYO_ERR_IO, "%s: cannot open the directory: %s", dir, strerror(errno));
    char **names = NULL;
    size_t nn = 0, nc = 0;
    myo_status s = MYO_OK;
    struct dirent *de;
    while (s == MYO_OK && (de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.') continue;
        if (nn == nc) {
            nc = nc ? 2 * nc : 64;
            char **g = realloc(names, nc * sizeof *g);
            if (!g) {
                s = myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory listing", dir);
                break;
            }
            names = g;
        }
        names[nn] = strdup(de->d_name);
        if (!names[nn])
            s = myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory listing", dir);
        else
            nn++;
    }
    closedir(dp);
    if (s == MYO_OK && nn > 0) qsort(names, nn, sizeof *names, cmp_names);
    for (size_t i = 0; i < nn; i++) {
        char *path = s == MYO_OK ? join(dir, names[i]) : NULL;
        free(names[i]);
        if (s != MYO_OK) continue;
        struct stat st;
        if (!path) {
            s = myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory", dir);
            continue;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (*nfiles == *cap) {
            int64_t c = *cap ? 2 * *cap : 256;
            text_file *g = realloc(*files, (size_t)c * sizeof *g);
            if (!g) {
                free(path);
                s = myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory", dir);
                continue;
            }
            *files = g, *cap = c;
        }
        (*files)[(*nfiles)++] = (text_file){path, label};
    }
    free(names);
    return s;
}

/* Read the first n bytes of path into tok; *len = bytes kept, *more = 1
 * when the file is longer. */
static myo_status read_text_file(const char *path, int64_t n, int32_t *tok, int32_t *len, int *more,
                                 char *buf)
{
    FILE *f = fopen(path, "rb");
    if (!f) return myo_data_fail(MYO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(buf, 1, (size_t)n, f);
    int err = ferror(f);
    *more = (got == (size_t)n && fgetc(f) != EOF);
    err |= ferror(f);
    fclose(f);
    if (err) return myo_data_fail(MYO_ERR_IO, "%s: read error", path);
    *len = encode_bytes(buf, got, n, tok);
    return MYO_OK;
}

myo_status myo_text_load_dir(const char *dir, const char *const *label_names, int nlabels,
                             int64_t n, myo_dataset *d)
{
    static const char *const imdb[] = {"neg", "pos"};
    if (!d) return myo_data_fail(MYO_ERR_ARG, "text: NULL dataset");
    memset(d, 0, sizeof *d);
    if (!dir) return myo_data_fail(MYO_ERR_ARG, "text: NULL directory");
    if (n < 1 || n > INT32_MAX)
        return myo_data_fail(MYO_ERR_ARG, "text: n = %lld, need 1 <= n < 2^31", (long long)n);
    if (!label_names)
        label_names = imdb, nlabels = 2;
    else if (nlabels < 1)
        return myo_data_fail(MYO_ERR_ARG, "text: nlabels = %d, need >= 1", nlabels);
    for (int i = 0; i < nlabels; i++)
        if (!label_names[i] || !label_names[i][0] || strchr(label_names[i], '/'))
            return myo_data_fail(MYO_ERR_ARG, "text: label name %d is empty or has a '/'", i);

    text_file *files = NULL;
    int64_t nfiles = 0, cap = 0;
    myo_status s = MYO_OK;
    for (int i = 0; i < nlabels && s == MYO_OK; i++) {
        char *sub = join(dir, label_names[i]);
        if (!sub)
            s = myo_data_fail(MYO_ERR_NOMEM, "text: out of memory");
        else
            s = list_dir(sub, i, &files, &nfiles, &cap);
        free(sub);
    }
    if (s == MYO_OK && nfiles == 0)
        s = myo_data_fail(MYO_ERR_DATA, "%s: no text file in its label subdirectories", dir);
    if (s == MYO_OK) {
        snprintf(d->task, sizeof d->task, "text");
        snprintf(d->source, sizeof d->source, "loaded");
        d->docs = 1;
        d->n = n;
        d->vocab = MYO_TEXT_VOCAB;
        d->classes = nlabels < 2 ? 2 : nlabels;
        s = myo_dataset_alloc(d, nfiles, 0);
        if (s != MYO_OK)
            s = myo_data_fail(s, "text: cannot allocate %lld examples of %lld tokens: %s",
                              (long long)nfiles, (long long)n, myo_data_error());
    }
    char *buf = s == MYO_OK ? malloc((size_t)n) : NULL;
    if (s == MYO_OK && !buf) s = myo_data_fail(MYO_ERR_NOMEM, "text: out of memory");
    int64_t truncated = 0;
    for (int64_t e = 0; e < nfiles && s == MYO_OK; e++) {
        int more = 0;
        s = read_text_file(files[e].path, n, d->tokens + e * n, &d->lengths[e], &more, buf);
        d->labels[e] = files[e].label;
        truncated += more;
    }
    free(buf);
    for (int64_t e = 0; e < nfiles; e++)
        free(files[e].path);
    free(files);
    if (s == MYO_OK) s = set_attr(d, "dir", dir);
    if (s == MYO_OK) {
        char labels[208] = "";
        size_t used = 0;
        for (int i = 0; i < nlabels && used < sizeof labels; i++) {
            int w = snprintf(labels + used, sizeof labels - used, "%s%s=%d", i ? "," : "",
                             label_names[i], i);
            if (w < 0) break;
            used += (size_t)w;
        }
        s = set_attr(d, "labels", labels);
    }
    return finish_load(d, s, truncated);
}

myo_status myo_imdb_load(const char *root, const char *split, int64_t n, myo_dataset *d)
{
    if (d) memset(d, 0, sizeof *d);
    if (!root || !split || !d) return myo_data_fail(MYO_ERR_ARG, "imdb: NULL argument");
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        return myo_data_fail(MYO_ERR_ARG, "imdb: split \"%s\" is neither \"train\" nor \"test\"",
                             split);
    char *dir = join(root, split);
    if (!dir) return myo_data_fail(MYO_ERR_NOMEM, "imdb: out of memory");
    myo_status s = myo_text_load_dir(dir, NULL, 0, n, d);
    if (s == MYO_OK) s = set_attr(d, "split", split);
    if (s != MYO_OK) myo_dataset_free(d);
    free(dir);
    return s;
}

/* ----------------------------------------------------------- AAN TSV */

/* Check one line (no '\n'; a trailing '\r' is dropped here) and, when d is
 * not NULL, store it as example e.  *row = 0 for an empty line, 1 for a row. */
static myo_status aan_line(const char *s, size_t len, const char *name, int64_t lineno, int64_t n,
                           myo_dataset *d, int64_t e, int64_t *truncated, int *row)
{
    if (len > 0 && s[len - 1] == '\r') len--;
    *row = 0;
    if (len == 0) return MYO_OK;
    const char *col[5];
    size_t clen[5];
    int ncol = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '\t') {
            if (ncol < 5) col[ncol] = s + start, clen[ncol] = i - start;
            ncol++;
            start = i + 1;
        }
    }
    if (ncol != 5)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s:%lld: %d tab-separated columns, want 5 (label, id1, "
                             "id2, text1, text2)",
                             name, (long long)lineno, ncol);
    char lab[64];
    int label = -1;
    if (clen[0] > 0 && clen[0] < sizeof lab && !isspace((unsigned char)col[0][0])) {
        memcpy(lab, col[0], clen[0]);
        lab[clen[0]] = '\0';
        if (strlen(lab) == clen[0]) { /* no NUL byte inside */
            char *end = NULL;
            double v = strtod(lab, &end);
            if (end == lab + clen[0]) label = v == 0.0 ? 0 : v == 1.0 ? 1 : -1;
        }
    }
    if (label < 0) {
        char shown[40];
        size_t k = clen[0] < 32 ? clen[0] : 32;
        for (size_t i = 0; i < k; i++) {
            unsigned char c = (unsigned char)col[0][i];
            shown[i] = (c >= 32 && c < 127) ? (char)c : '?';
        }
        shown[k] = '\0';
        return myo_data_fail(MYO_ERR_DATA, "%s:%lld: label \"%s%s\" is not 0 or 1", name,
                             (long long)lineno, shown, clen[0] > 32 ? "..." : "");
    }
    if (clen[1] == 0 || clen[2] == 0)
        return myo_data_fail(MYO_ERR_DATA, "%s:%lld: empty %s", name, (long long)lineno,
                             clen[1] == 0 ? "id1" : "id2");
    *row = 1;
    if (d) {
        d->labels[e] = label;
        for (int g = 0; g < 2; g++) {
            d->lengths[2 * e + g] =
                encode_bytes(col[3 + g], clen[3 + g], n, d->tokens + (2 * e + g) * n);
            *truncated += (int64_t)clen[3 + g] > n;
        }
    }
    return MYO_OK;
}

/* A source of lines: a buffer or a stream. */
typedef struct {
    const char *buf;
    size_t len, pos;
    FILE *f;
    char *line;
    size_t cap;
} line_src;

/* Next line (without '\n'); 0 at the end, -1 on a read error. */
static int next_line(line_src *ls, const char **s, size_t *len)
{
    if (ls->f) {
        ssize_t got = getline(&ls->line, &ls->cap, ls->f);
        if (got < 0) return ferror(ls->f) ? -1 : 0;
        size_t l = (size_t)got;
        if (l > 0 && ls->line[l - 1] == '\n') l--;
        *s = ls->line, *len = l;
        return 1;
    }
    if (ls->pos >= ls->len) return 0;
    const char *p = ls->buf + ls->pos;
    const char *nl = memchr(p, '\n', ls->len - ls->pos);
    size_t l = nl ? (size_t)(nl - p) : ls->len - ls->pos;
    *s = p, *len = l;
    ls->pos += l + (nl ? 1 : 0);
    return 1;
}

/* One pass over the lines: count rows (d NULL) or fill d. */
static myo_status aan_pass(line_src *ls, const char *name, int64_t n, myo_dataset *d, int64_t *rows,
                           int64_t *truncated)
{
    int64_t lineno = 0, e = 0;
    const char *s;
    size_t len;
    int r;
    while ((r = next_line(ls, &s, &len)) > 0) {
        lineno++;
        int row = 0;
        int room = d && e < d->count;
        myo_status st = aan_line(s, len, name, lineno, n, room ? d : NULL, e, truncated, &row);
        if (st != MYO_OK) return st;
        if (d && row && !room)
            return myo_data_fail(MYO_ERR_IO, "%s:%lld: the file changed while being read", name,
                                 (long long)lineno);
        e += row;
    }
    if (r < 0) return myo_data_fail(MYO_ERR_IO, "%s:%lld: read error", name, (long long)lineno + 1);
    *rows = e;
    return MYO_OK;
}

static myo_status aan_load(line_src *ls, const char *name, int64_t n, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "aan: NULL dataset");
    memset(d, 0, sizeof *d);
    if (n < 1 || n > INT32_MAX)
        return myo_data_fail(MYO_ERR_ARG, "aan: n = %lld, need 1 <= n < 2^31", (long long)n);
    int64_t rows = 0, truncated = 0;
    myo_status s = aan_pass(ls, name, n, NULL, &rows, &truncated);
    if (s == MYO_OK && rows == 0) s = myo_data_fail(MYO_ERR_DATA, "%s: no row", name);
    if (s != MYO_OK) return s;
    snprintf(d->task, sizeof d->task, "retrieval");
    snprintf(d->source, sizeof d->source, "loaded");
    d->docs = 2;
    d->n = n;
    d->vocab = MYO_TEXT_VOCAB;
    d->classes = 2;
    s = myo_dataset_alloc(d, rows, 0);
    if (s != MYO_OK) {
        s = myo_data_fail(s, "aan: cannot allocate %lld pairs of %lld tokens: %s", (long long)rows,
                          (long long)n, myo_data_error());
        memset(d, 0, sizeof *d);
        return s;
    }
    if (ls->f) rewind(ls->f);
    ls->pos = 0;
    int64_t rows2 = 0;
    s = aan_pass(ls, name, n, d, &rows2, &truncated);
    if (s == MYO_OK && rows2 != rows)
        s = myo_data_fail(MYO_ERR_IO, "%s: the file changed while being read", name);
    if (s == MYO_OK) s = set_attr(d, "file", base_name(name));
    return finish_load(d, s, truncated);
}

myo_status myo_aan_parse(const char *buf, size_t len, const char *name, int64_t n, myo_dataset *d)
{
    if (!buf && len > 0) return myo_data_fail(MYO_ERR_ARG, "aan: NULL buffer");
    line_src ls = {buf, len, 0, NULL, NULL, 0};
    return aan_load(&ls, name ? name : "(buffer)", n, d);
}

myo_status myo_aan_load_tsv(const char *path, int64_t n, myo_dataset *d)
{
    if (!path) return myo_data_fail(MYO_ERR_ARG, "aan: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (d) memset(d, 0, sizeof *d);
        return myo_data_fail(MYO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    line_src ls = {NULL, 0, 0, f, NULL, 0};
    myo_status s = aan_load(&ls, path, n, d);
    free(ls.line);
    fclose(f);
    return s;
}
