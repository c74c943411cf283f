/*
 * listops.c -- LRA ListOps: generator, tokeniser, parse trees, TSV loader
 * (listops.h; docs/lra.md sections 1 and 4).
 */
#include <config.h>

#include "listops.h"

#include "dataset_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- vocabulary */

static const char *const token_names[MYO_LISTOPS_VOCAB] = {
    "<pad>", "<unk>", "<eos>", "[MIN", "[MAX", "[MED", "[SM", "X", "0",
    "1",     "2",     "3",     "4",    "5",    "6",    "7",   "8", "9"};

void myo_listops_params_default(myo_listops_params *p)
{
    p->min_length = 500;
    p->max_length = 2000;
    p->max_depth = 10;
    p->max_args = 10;
    p->value_p = 0.25;
}

int32_t myo_listops_token_id(const char *sym, size_t len)
{
    if (len == 1) {
        if (sym[0] >= '0' && sym[0] <= '9') return MYO_LISTOPS_DIGIT0 + (sym[0] - '0');
        if (sym[0] == ']' || sym[0] == 'X') return MYO_LISTOPS_CLOSE;
        return MYO_LISTOPS_UNK;
    }
    for (int32_t id = MYO_LISTOPS_MIN; id <= MYO_LISTOPS_SM; id++)
        if (strlen(token_names[id]) == len && memcmp(sym, token_names[id], len) == 0) return id;
    return MYO_LISTOPS_UNK;
}

const char *myo_listops_token_str(int32_t id)
{
    return id >= 0 && id < MYO_LISTOPS_VOCAB ? token_names[id] : "?";
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

myo_status myo_listops_tokenize(const char *src, int32_t *ids, int64_t cap, int64_t *len)
{
    if (!src || !len || cap < 0 || (cap > 0 && !ids))
        return myo_data_fail(MYO_ERR_ARG, "myo_listops_tokenize: NULL argument or negative cap");
    int64_t count = 0;
    const char *p = src;
    while (*p) {
        if (is_space(*p) || *p == '(' || *p == ')') {
            p++;
            continue;
        }
        /* a token: up to the next whitespace; parentheses inside are deleted */
        char sym[8];
        size_t sl = 0, full = 0;
        const char *start = p;
        for (; *p && !is_space(*p); p++) {
            if (*p == '(' || *p == ')') continue;
            if (sl < sizeof sym) sym[sl++] = *p;
            full++;
        }
        int32_t id = full <= sizeof sym ? myo_listops_token_id(sym, sl) : MYO_LISTOPS_UNK;
        if (id == MYO_LISTOPS_UNK) {
            int shown = (int)(p - start) > 20 ? 20 : (int)(p - start);
            return myo_data_fail(MYO_ERR_DATA, "unknown token %lld '%.*s%s' at character %lld",
                                 (long long)count, shown, start, (p - start) > 20 ? "..." : "",
                                 (long long)(start - src));
        }
        if (count < cap) ids[count] = id;
        count++;
    }
    *len = count;
    return MYO_OK;
}

/* ---------------------------------------------------------------- evaluation */

typedef struct {
    int64_t idx;   /* the operator's token */
    int32_t op;    /* MYO_LISTOPS_MIN .. MYO_LISTOPS_SM */
    int32_t count; /* arguments so far */
    int32_t hist[10];
} frame;

/* The value of an operator over the multiset of digits hist (count >= 1),
 * as LRA: MIN, MAX, int(np.median(args)), sum(args) % 10. */
static int32_t apply_op(int32_t op, const int32_t *hist, int64_t count)
{
    switch (op) {
    case MYO_LISTOPS_MIN:
        for (int v = 0; v < 10; v++)
            if (hist[v]) return v;
        return 0;
    case MYO_LISTOPS_MAX:
        for (int v = 9; v >= 0; v--)
            if (hist[v]) return v;
        return 0;
    case MYO_LISTOPS_MED: {
        /* the values at sorted positions lo and hi (equal for an odd count) */
        int64_t lo = (count - 1) / 2, hi = count / 2, seen = 0;
        int a = -1, b = -1;
        for (int v = 0; v < 10 && b < 0; v++) {
            seen += hist[v];
            if (a < 0 && seen > lo) a = v;
            if (seen > hi) b = v;
        }
        return (a + b) / 2;
    }
    default: {
        int64_t s = 0;
        for (int v = 0; v < 10; v++)
            s += (int64_t)v * hist[v];
        return (int32_t)(s % 10);
    }
    }
}

myo_status myo_listops_parse(const int32_t *ids, int64_t len, int32_t *parents, int32_t *label)
{
    if (!ids && len > 0) return myo_data_fail(MYO_ERR_ARG, "myo_listops_parse: NULL ids");
    if (len <= 0) return myo_data_fail(MYO_ERR_DATA, "empty expression");
    if (len > INT32_MAX)
        return myo_data_fail(MYO_ERR_DATA, "expression of %lld tokens is too long", (long long)len);
    frame *stack = NULL;
    int64_t top = 0, cap = 0; /* frames in use, allocated */
    int32_t root_value = -1;
    myo_status st = MYO_OK;
    for (int64_t i = 0; i < len; i++) {
        int32_t id = ids[i];
        if (i > 0 && top == 0) {
            st = myo_data_fail(MYO_ERR_DATA, "token %lld '%s' after the end of the expression",
                               (long long)i, myo_listops_token_str(id));
            goto done;
        }
        int32_t parent = top > 0 ? (int32_t)stack[top - 1].idx : -1;
        if (id >= MYO_LISTOPS_MIN && id <= MYO_LISTOPS_SM) {
            if (top == cap) {
                int64_t ncap = cap ? 2 * cap : 16;
                frame *ns = realloc(stack, (size_t)ncap * sizeof *ns);
                if (!ns) {
                    st = myo_data_fail(MYO_ERR_NOMEM,
                                       "cannot allocate the parse stack (%lld frames)",
                                       (long long)ncap);
                    goto done;
                }
                stack = ns;
                cap = ncap;
            }
            frame *f = &stack[top++];
            memset(f, 0, sizeof *f);
            f->idx = i;
            f->op = id;
        } else if (id >= MYO_LISTOPS_DIGIT0 && id < MYO_LISTOPS_DIGIT0 + 10) {
            int32_t v = id - MYO_LISTOPS_DIGIT0;
            if (top > 0) {
                stack[top - 1].hist[v]++;
                stack[top - 1].count++;
            } else
                root_value = v;
        } else if (id == MYO_LISTOPS_CLOSE) {
            if (top == 0) {
                st = myo_data_fail(MYO_ERR_DATA, "token %lld: X (']') without an open operator",
                                   (long long)i);
                goto done;
            }
            frame *f = &stack[top - 1];
            if (f->count == 0) {
                st = myo_data_fail(MYO_ERR_DATA,
                                   "token %lld: operator %s at token %lld has no arguments",
                                   (long long)i, myo_listops_token_str(f->op), (long long)f->idx);
                goto done;
            }
            int32_t v = apply_op(f->op, f->hist, f->count);
            top--;
            if (top > 0) {
                stack[top - 1].hist[v]++;
                stack[top - 1].count++;
            } else
                root_value = v;
        } else {
            st = myo_data_fail(MYO_ERR_DATA, "token %lld: id %d is not a ListOps symbol",
                               (long long)i, (int)id);
            goto done;
        }
        if (parents) parents[i] = parent;
    }
    if (top > 0) {
        st = myo_data_fail(MYO_ERR_DATA,
                           "%lld operator(s) not closed, the innermost %s at token %lld",
                           (long long)top, myo_listops_token_str(stack[top - 1].op),
                           (long long)stack[top - 1].idx);
        goto done;
    }
    if (label) *label = root_value;
done:
    free(stack);
    return st;
}

myo_status myo_listops_format(const int32_t *ids, int64_t len, char *buf, size_t cap,
                              size_t *out_len)
{
    if (!buf || cap == 0) return myo_data_fail(MYO_ERR_ARG, "myo_listops_format: no buffer");
    int32_t *parents = malloc((size_t)(len > 0 ? len : 1) * sizeof *parents);
    int32_t *nargs = calloc((size_t)(len > 0 ? len : 1), sizeof *nargs);
    myo_status st = MYO_OK;
    if (!parents || !nargs) {
        st = myo_data_fail(MYO_ERR_NOMEM, "myo_listops_format: cannot allocate %lld tokens",
                           (long long)len);
        goto done;
    }
    if ((st = myo_listops_parse(ids, len, parents, NULL)) != MYO_OK) goto done;
    for (int64_t i = 1; i < len; i++)
        if (ids[i] != MYO_LISTOPS_CLOSE) nargs[parents[i]]++;
    size_t pos = 0;
#define PUT(str)                                                                                   \
    do {                                                                                           \
        size_t l_ = strlen(str);                                                                   \
        if (pos + l_ >= cap) {                                                                     \
            st = myo_data_fail(MYO_ERR_ARG,                                                        \
                               "myo_listops_format: buffer of %zu bytes is too small", cap);       \
            goto done;                                                                             \
        }                                                                                          \
        memcpy(buf + pos, str, l_);                                                                \
        pos += l_;                                                                                 \
    } while (0)
    for (int64_t i = 0; i < len; i++) {
        int32_t id = ids[i];
        if (id == MYO_LISTOPS_CLOSE) {
            PUT(" ] )");
            if (parents[parents[i]] >= 0) PUT(" )");
            continue;
        }
        if (i > 0) PUT(" ");
        if (id >= MYO_LISTOPS_MIN && id <= MYO_LISTOPS_SM) {
            for (int32_t k = 0; k <= nargs[i]; k++)
                PUT("( ");
            PUT(token_names[id]);
        } else {
            PUT(token_names[id]);
            if (parents[i] >= 0) PUT(" )");
        }
    }
#undef PUT
    buf[pos] = '\0';
    if (out_len) *out_len = pos;
done:
    free(parents);
    free(nargs);
    return st;
}

/* ------------------------------------------------------------- dataset fill */

static myo_status alloc_dataset(myo_dataset *d, const char *source, int64_t count, int64_t n)
{
    memset(d, 0, sizeof *d);
    snprintf(d->task, sizeof d->task, "listops");
    snprintf(d->source, sizeof d->source, "%s", source);
    d->docs = 1;
    d->n = n;
    d->vocab = MYO_LISTOPS_VOCAB;
    d->classes = MYO_LISTOPS_CLASSES;
    myo_status st = myo_dataset_alloc(d, count, 1);
    if (st != MYO_OK) return st; /* myo_dataset_alloc recorded the detail */
    d->count = count;
    for (int64_t i = 0; i < count * n; i++)
        d->parents[i] = -1;
    return MYO_OK;
}

/* Store example e: the first min(len, n) tokens and parents, the rest padding. */
static void store(myo_dataset *d, int64_t e, const int32_t *ids, const int32_t *parents,
                  int64_t len, int32_t label)
{
    int64_t n = d->n, keep = len < n ? len : n;
    memcpy(d->tokens + e * n, ids, (size_t)keep * sizeof *ids);
    memcpy(d->parents + e * n, parents, (size_t)keep * sizeof *parents);
    d->lengths[e] = (int32_t)keep;
    d->labels[e] = label;
}

/* --------------------------------------------------------------- generator */

typedef struct {
    const myo_listops_params *p;
    myo_rng *r;
    uint8_t *buf; /* tokens of the expression being drawn */
    int64_t len, cap;
    int overflow; /* the expression reached cap tokens: it will be rejected */
} gen_ctx;

/* LRA's generate_tree(depth): the same draws in the same order (u, then a
 * digit, or k, the k arguments and the operator).  Once the expression is
 * too long to be kept, the rest of it is not drawn: rejected trees are
 * discarded either way, so the accepted ones have the same distribution. */
static int32_t gen(gen_ctx *g, int depth)
{
    double u = depth < g->p->max_depth ? myo_rng_uniform(g->r, 0.0, 1.0) : 1.0;
    if (g->len >= g->cap) {
        g->overflow = 1;
        return 0;
    }
    if (u > g->p->value_p) {
        int32_t v = (int32_t)myo_rng_below(g->r, 10);
        g->buf[g->len++] = (uint8_t)(MYO_LISTOPS_DIGIT0 + v);
        return v;
    }
    int64_t op_at = g->len++;
    int32_t k = 2 + (int32_t)myo_rng_below(g->r, g->p->max_args - 1);
    int32_t hist[10] = {0};
    for (int32_t j = 0; j < k; j++) {
        int32_t v = gen(g, depth + 1);
        if (g->overflow) return 0;
        hist[v]++;
    }
    int32_t op = MYO_LISTOPS_MIN + (int32_t)myo_rng_below(g->r, 4);
    if (g->len >= g->cap) {
        g->overflow = 1;
        return 0;
    }
    g->buf[op_at] = (uint8_t)op;
    g->buf[g->len++] = MYO_LISTOPS_CLOSE;
    return apply_op(op, hist, k);
}

static uint64_t hash_tokens(const uint8_t *t, int64_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)len;
    for (int64_t i = 0; i < len; i++)
        h = (h ^ t[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

/* The longest expression the parameters allow (saturating), and the shortest
 * one with an operator at the root when value_p == 1. */
static int64_t longest(const myo_listops_params *p)
{
    int64_t L = 1;
    for (int d = p->max_depth - 1; d >= 1; d--) {
        L = 2 + (int64_t)p->max_args * L;
        if (L > ((int64_t)1 << 40)) return (int64_t)1 << 40;
    }
    return L;
}

static int64_t shortest(const myo_listops_params *p)
{
    if (p->value_p < 1.0) return 1;
    int64_t L = 1;
    for (int d = p->max_depth - 1; d >= 1; d--) {
        L = 2 + 2 * L;
        if (L > ((int64_t)1 << 40)) return (int64_t)1 << 40;
    }
    return L;
}

myo_status myo_listops_generate(const myo_listops_params *params, uint64_t seed, int64_t count,
                                int64_t n, myo_dataset *d)
{
    myo_listops_params p;
    if (params)
        p = *params;
    else
        myo_listops_params_default(&p);
    if (!d) return myo_data_fail(MYO_ERR_ARG, "myo_listops_generate: NULL dataset");
    if (n <= 0) n = MYO_LISTOPS_DEFAULT_N;
    if (count < 1 || n > INT32_MAX)
        return myo_data_fail(MYO_ERR_ARG,
                             "myo_listops_generate: count %lld must be >= 1, n %lld <= 2^31-1",
                             (long long)count, (long long)n);
    if (p.min_length < 0 || p.max_length < p.min_length + 2 || p.max_length > ((int64_t)1 << 30) ||
        p.max_depth < 1 || p.max_depth > 64 || p.max_args < 2 || p.max_args > 1000 ||
        !(p.value_p >= 0.0) || !(p.value_p <= 1.0))
        return myo_data_fail(
            MYO_ERR_ARG,
            "listops parameters: need 0 <= min_length, min_length + 2 <= max_length <= 2^30, "
            "1 <= max_depth <= 64, 2 <= max_args <= 1000, 0 <= value_p <= 1 (got %lld %lld %d %d "
            "%g)",
            (long long)p.min_length, (long long)p.max_length, p.max_depth, p.max_args, p.value_p);
    int64_t lmax = longest(&p), lmin = shortest(&p);
    if ((p.value_p > 0.0 ? lmax : 1) <= p.min_length || lmin >= p.max_length)
        return myo_data_fail(
            MYO_ERR_ARG,
            "listops parameters: expressions have %lld..%lld tokens, none in (%lld, %lld)",
            (long long)lmin, (long long)(p.value_p > 0.0 ? lmax : 1), (long long)p.min_length,
            (long long)p.max_length);

    myo_status st = alloc_dataset(d, "generated", count, n);
    if (st != MYO_OK) return st;

    int64_t cap = p.max_length - 1; /* kept expressions have < max_length tokens */
    int64_t hcap = 16;
    while (hcap < 2 * count)
        hcap *= 2;
    uint8_t *buf = malloc((size_t)cap);
    int32_t *ids = malloc((size_t)cap * sizeof *ids), *par = malloc((size_t)cap * sizeof *par);
    int64_t *table = malloc((size_t)hcap * sizeof *table); /* example index or -1 */
    uint64_t *hashes = malloc((size_t)count * sizeof *hashes);
    int64_t *offset = malloc((size_t)(count + 1) * sizeof *offset);
    uint8_t *arena = NULL; /* the full token sequences of the kept examples */
    int64_t arena_cap = 0;
    if (!buf || !ids || !par || !table || !hashes || !offset) {
        st = myo_data_fail(MYO_ERR_NOMEM,
                           "myo_listops_generate: cannot allocate the work space for %lld examples",
                           (long long)count);
        goto done;
    }
    for (int64_t i = 0; i < hcap; i++)
        table[i] = -1;
    offset[0] = 0;

    myo_rng r = myo_rng_seed(seed);
    int64_t kept = 0, attempts = 0, since_kept = 0, duplicates = 0;
    const int64_t give_up = 100000000; /* draws without a new example */
    while (kept < count) {
        if (since_kept++ >= give_up) {
            st = myo_data_fail(
                MYO_ERR_ARG,
                "myo_listops_generate: %lld draws without a new expression after %lld of %lld "
                "(window (%lld, %lld) too narrow or too few distinct expressions)",
                (long long)give_up, (long long)kept, (long long)count, (long long)p.min_length,
                (long long)p.max_length);
            goto done;
        }
        attempts++;
        gen_ctx g = {&p, &r, buf, 0, cap, 0};
        int32_t label = gen(&g, 1);
        if (g.overflow || g.len <= p.min_length) continue;
        uint64_t h = hash_tokens(buf, g.len);
        int64_t slot = (int64_t)(h & (uint64_t)(hcap - 1)), dup = 0;
        for (; table[slot] >= 0; slot = (slot + 1) & (hcap - 1)) {
            int64_t e = table[slot];
            if (hashes[e] == h && offset[e + 1] - offset[e] == g.len &&
                memcmp(arena + offset[e], buf, (size_t)g.len) == 0) {
                dup = 1;
                break;
            }
        }
        if (dup) {
            duplicates++;
            continue;
        }
        if (offset[kept] + g.len > arena_cap) {
            int64_t ncap = arena_cap ? 2 * arena_cap : 64 * cap;
            while (ncap < offset[kept] + g.len)
                ncap *= 2;
            uint8_t *na = realloc(arena, (size_t)ncap);
            if (!na) {
                st =
                    myo_data_fail(MYO_ERR_NOMEM, "myo_listops_generate: cannot allocate %lld bytes",
                                  (long long)ncap);
                goto done;
            }
            arena = na;
            arena_cap = ncap;
        }
        memcpy(arena + offset[kept], buf, (size_t)g.len);
        offset[kept + 1] = offset[kept] + g.len;
        hashes[kept] = h;
        table[slot] = kept;

        for (int64_t i = 0; i < g.len; i++)
            ids[i] = buf[i];
        int32_t check = -1;
        if ((st = myo_listops_parse(ids, g.len, par, &check)) != MYO_OK) goto done;
        if (check != label) {
            st = myo_data_fail(MYO_ERR_DATA,
                               "myo_listops_generate: internal error, label %d != parsed %d",
                               (int)label, (int)check);
            goto done;
        }
        store(d, kept, ids, par, g.len, label);
        kept++;
        since_kept = 0;
    }
    if ((st = myo_dataset_set_attrf(d, "seed", "%llu", (unsigned long long)seed)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "min_length", "%lld", (long long)p.min_length)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "max_length", "%lld", (long long)p.max_length)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "max_depth", "%d", p.max_depth)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "max_args", "%d", p.max_args)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "value_p", "%.17g", p.value_p)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "attempts", "%lld", (long long)attempts)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "duplicates", "%lld", (long long)duplicates)) != MYO_OK)
        goto done;
    /* LRA's 96,000 / 2,000 / 2,000 of 100,000, in generation order */
    st = myo_dataset_split_tail(d, 1, 50);
done:
    free(buf);
    free(ids);
    free(par);
    free(table);
    free(hashes);
    free(offset);
    free(arena);
    if (st != MYO_OK) myo_dataset_free(d);
    return st;
}

/* ------------------------------------------------------------------ loader */

static myo_status read_file(const char *path, char **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return myo_data_fail(MYO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return myo_data_fail(MYO_ERR_NOMEM, "%s: cannot allocate a read buffer", path);
    }
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return myo_data_fail(MYO_ERR_NOMEM, "%s: cannot allocate %zu bytes", path,
                                     2 * cap + 1);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return myo_data_fail(MYO_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return MYO_OK;
}

/* Next line of [*pos, end): NUL-terminated in place (a final CR removed);
 * returns NULL at the end; *has_nul set when the line holds a NUL byte. */
static char *next_line(char *buf, size_t len, size_t *pos, int *has_nul)
{
    if (*pos >= len) return NULL;
    char *start = buf + *pos;
    char *nl = memchr(start, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - start) : len - *pos;
    *pos += l + (nl ? 1 : 0);
    *has_nul = memchr(start, '\0', l) != NULL;
    start[l] = '\0';
    if (l > 0 && start[l - 1] == '\r') start[l - 1] = '\0';
    return start;
}

/* Prefix the current detail with "path:line: ". */
static myo_status fail_at(myo_status st, const char *path, long long lineno)
{
    char detail[512];
    snprintf(detail, sizeof detail, "%s", myo_data_error());
    return myo_data_fail(st, "%s:%lld: %s", path, lineno, detail);
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!is_space(*s)) return 0;
    return 1;
}

myo_status myo_listops_load(const char *path, int64_t n, myo_dataset *d)
{
    if (!path || !d) return myo_data_fail(MYO_ERR_ARG, "myo_listops_load: NULL argument");
    if (n <= 0) n = MYO_LISTOPS_DEFAULT_N;
    if (n > INT32_MAX)
        return myo_data_fail(MYO_ERR_ARG, "myo_listops_load: n %lld > 2^31-1", (long long)n);
    memset(d, 0, sizeof *d);
    char *buf = NULL;
    size_t len = 0, pos = 0;
    myo_status st = read_file(path, &buf, &len);
    if (st != MYO_OK) return st;

    int32_t *ids = NULL, *par = NULL;
    int64_t tcap = 0;
    int allocated = 0;

    /* header, then count the rows (non-blank lines) */
    int has_nul = 0;
    char *line = next_line(buf, len, &pos, &has_nul);
    if (!line || has_nul || strcmp(line, "Source\tTarget") != 0) {
        st = myo_data_fail(MYO_ERR_DATA, "%s:1: expected the header 'Source<TAB>Target'", path);
        goto done;
    }
    size_t body = pos;
    int64_t rows = 0;
    for (size_t q = body; q < len;) {
        char *nl = memchr(buf + q, '\n', len - q);
        size_t l = nl ? (size_t)(nl - (buf + q)) : len - q;
        for (size_t j = 0; j < l; j++)
            if (!is_space(buf[q + j])) {
                rows++;
                break;
            }
        q += l + 1;
    }
    if (rows == 0) {
        st = myo_data_fail(MYO_ERR_DATA, "%s: no examples after the header", path);
        goto done;
    }
    if ((st = alloc_dataset(d, "loaded", rows, n)) != MYO_OK) goto done;
    allocated = 1;

    int64_t e = 0, truncated = 0, mismatches = 0;
    for (long long lineno = 2; (line = next_line(buf, len, &pos, &has_nul)) != NULL; lineno++) {
        if (has_nul) {
            st = myo_data_fail(MYO_ERR_DATA, "%s:%lld: NUL byte in the row", path, lineno);
            goto done;
        }
        if (blank(line)) continue;
        char *tab = strchr(line, '\t');
        int cols = 1;
        for (char *t = line; (t = strchr(t, '\t')) != NULL; t++)
            cols++;
        if (cols != 2) {
            st = myo_data_fail(
                MYO_ERR_DATA,
                "%s:%lld: expected 2 tab-separated columns (Source, Target), found %d", path,
                lineno, cols);
            goto done;
        }
        *tab = '\0';
        const char *target = tab + 1;
        while (*target == ' ')
            target++;
        size_t tl = strlen(target);
        while (tl > 0 && is_space(target[tl - 1]))
            tl--;
        if (tl != 1 || target[0] < '0' || target[0] > '9') {
            st = myo_data_fail(MYO_ERR_DATA, "%s:%lld: bad label '%.*s' (expected 0..9)", path,
                               lineno, (int)(tl > 20 ? 20 : tl), target);
            goto done;
        }
        int32_t label = target[0] - '0';
        int64_t tn = 0;
        if ((st = myo_listops_tokenize(line, ids, tcap, &tn)) != MYO_OK) {
            st = fail_at(st, path, lineno);
            goto done;
        }
        if (tn > tcap) {
            int64_t ncap = tn > 2 * tcap ? tn : 2 * tcap;
            int32_t *ni = realloc(ids, (size_t)ncap * sizeof *ni);
            if (ni) ids = ni;
            int32_t *np = ni ? realloc(par, (size_t)ncap * sizeof *np) : NULL;
            if (np) par = np;
            if (!ni || !np) {
                st = myo_data_fail(MYO_ERR_NOMEM, "%s:%lld: cannot allocate %lld tokens", path,
                                   lineno, (long long)ncap);
                goto done;
            }
            tcap = ncap;
            if ((st = myo_listops_tokenize(line, ids, tcap, &tn)) != MYO_OK) goto done;
        }
        int32_t value = -1;
        if ((st = myo_listops_parse(ids, tn, par, &value)) != MYO_OK) {
            st = fail_at(st, path, lineno);
            goto done;
        }
        if (value != label) mismatches++;
        if (tn > n) truncated++;
        store(d, e++, ids, par, tn, label);
    }
    if ((st = myo_dataset_set_attrf(d, "file", "%s", path)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "truncated", "%lld", (long long)truncated)) != MYO_OK ||
        (st = myo_dataset_set_attrf(d, "label_mismatches", "%lld", (long long)mismatches)) !=
            MYO_OK)
        goto done;
done:
    free(buf);
    free(ids);
    free(par);
    if (st != MYO_OK && allocated) myo_dataset_free(d);
    return st;
}

myo_status myo_listops_load_splits(const char *const paths[MYO_SPLITS], int64_t n, myo_dataset *d)
{
    if (!d) return myo_data_fail(MYO_ERR_ARG, "myo_listops_load_splits: NULL dataset");
    memset(d, 0, sizeof *d);
    if (!paths || !paths[0] || !paths[1] || !paths[2])
        return myo_data_fail(MYO_ERR_ARG, "myo_listops_load_splits: three files are needed");
    myo_dataset part[MYO_SPLITS];
    memset(part, 0, sizeof part);
    int64_t truncated = 0, mismatches = 0;
    myo_status st = MYO_OK;
    for (int k = 0; k < MYO_SPLITS && st == MYO_OK; k++) {
        st = myo_listops_load(paths[k], n, &part[k]);
        const char *t = st == MYO_OK ? myo_dataset_get_attr(&part[k], "truncated") : NULL;
        const char *m = st == MYO_OK ? myo_dataset_get_attr(&part[k], "label_mismatches") : NULL;
        truncated += t ? strtoll(t, NULL, 10) : 0;
        mismatches += m ? strtoll(m, NULL, 10) : 0;
    }
    if (st == MYO_OK) st = myo_dataset_concat(part, MYO_SPLITS, d);
    if (st == MYO_OK) {
        d->nattrs = 0; /* the three files' own, not part 0's */
        st = myo_dataset_set_splits(d, part[0].count, part[1].count, part[2].count);
    }
    for (int k = 0; k < MYO_SPLITS && st == MYO_OK; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_file", myo_split_name(k));
        st = myo_dataset_set_attrf(d, key, "%s", paths[k]);
    }
    if (st == MYO_OK) st = myo_dataset_set_attrf(d, "truncated", "%lld", (long long)truncated);
    if (st == MYO_OK)
        st = myo_dataset_set_attrf(d, "label_mismatches", "%lld", (long long)mismatches);
    for (int k = 0; k < MYO_SPLITS; k++)
        myo_dataset_free(&part[k]);
    if (st != MYO_OK) myo_dataset_free(d);
    return st;
}
