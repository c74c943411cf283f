/*
 * test_listops.c -- LRA ListOps (datasets/listops.h): tokeniser, parse trees
 * and labels on hand-checked expressions, the generator's invariants
 * (lengths, trees, labels recomputed by an independent evaluator, no
 * duplicates, determinism), the TSV loader and a mutation fuzz of it.
 *
 * Environment:
 *   MYO_FUZZ_ITERATIONS  mutated TSV files the fuzz test loads (default 200)
 *   MYO_LISTOPS_STATS    examples of the statistics test (default 2000)
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_file.h"
#include "listops.h"
#include "myosotis.h"
#include "support.h"

#include "data_fixture.h"

/* ------------------------------------------------ independent evaluator */

/* Stack machine over the token sequence (not over the tree): operators push
 * a marker, digits push values, X pops the values down to the marker and
 * pushes the operator's result.  Returns -1 when malformed. */
static int eval_tokens(const int32_t *ids, int64_t len)
{
    int64_t *st = malloc((size_t)(len + 1) * sizeof *st), top = 0;
    int vals[2048];
    int result = -1;
    for (int64_t i = 0; i < len; i++) {
        int32_t id = ids[i];
        if (id >= MYO_LISTOPS_MIN && id <= MYO_LISTOPS_SM)
            st[top++] = -id; /* marker */
        else if (id >= MYO_LISTOPS_DIGIT0 && id <= MYO_LISTOPS_DIGIT0 + 9)
            st[top++] = id - MYO_LISTOPS_DIGIT0;
        else if (id == MYO_LISTOPS_CLOSE) {
            int k = 0;
            while (top > 0 && st[top - 1] >= 0 && k < 2048)
                vals[k++] = (int)st[--top];
            if (top == 0 || k == 0) goto out;
            int op = (int)-st[--top], v = 0;
            /* sort the k values (insertion sort) */
            for (int a = 1; a < k; a++)
                for (int b = a; b > 0 && vals[b - 1] > vals[b]; b--) {
                    int t = vals[b];
                    vals[b] = vals[b - 1];
                    vals[b - 1] = t;
                }
            if (op == MYO_LISTOPS_MIN)
                v = vals[0];
            else if (op == MYO_LISTOPS_MAX)
                v = vals[k - 1];
            else if (op == MYO_LISTOPS_MED)
                v = k % 2 ? vals[k / 2] : (vals[k / 2 - 1] + vals[k / 2]) / 2;
            else {
                for (int a = 0; a < k; a++)
                    v += vals[a];
                v %= 10;
            }
            st[top++] = v;
        } else
            goto out;
    }
    if (top == 1 && st[0] >= 0) result = (int)st[0];
out:
    free(st);
    return result;
}

/* --------------------------------------------------------- tree checks */

/* Parse tree of example e: token 0 the only root, every other parent an
 * earlier operator token, equal to the innermost open operator, X owned by
 * the operator it closes; padding -1 and id 0. */
static void check_example(const myo_dataset *d, int64_t e)
{
    int64_t n = d->n, len = d->lengths[e];
    const int32_t *t = d->tokens + e * n, *p = d->parents + e * n;
    assert_true(len >= 1 && len <= n);
    int64_t *open = malloc((size_t)n * sizeof *open), top = 0, roots = 0;
    for (int64_t i = 0; i < len; i++) {
        assert_true(t[i] >= MYO_LISTOPS_MIN && t[i] < MYO_LISTOPS_VOCAB);
        if (p[i] < 0) {
            roots++;
            assert_int_equal(i, 0);
        } else {
            assert_true(p[i] < i);
            assert_true(top > 0);
            assert_int_equal(p[i], open[top - 1]);
            assert_true(t[p[i]] >= MYO_LISTOPS_MIN && t[p[i]] <= MYO_LISTOPS_SM);
        }
        if (t[i] >= MYO_LISTOPS_MIN && t[i] <= MYO_LISTOPS_SM) open[top++] = i;
        if (t[i] == MYO_LISTOPS_CLOSE) {
            assert_true(top > 0);
            top--;
        }
    }
    assert_int_equal(roots, 1);
    for (int64_t i = len; i < n; i++) {
        assert_int_equal(t[i], MYO_LISTOPS_PAD);
        assert_int_equal(p[i], -1);
    }
    free(open);
}

/* ------------------------------------------------------- hand-checked */

typedef struct {
    const char *src;
    int32_t ids[16];
    int32_t parents[16];
    int64_t len;
    int32_t label;
} hand_case;

static void test_listops_hand_checked_expressions(void **state)
{
    (void)state;
    static const hand_case cases[] = {
        {"( ( ( [MAX 2 ) 9 ) ] )", {4, 10, 17, 7}, {-1, 0, 0, 0}, 4, 9},
        {"7", {15}, {-1}, 1, 7},
        /* [MIN [MAX 2 9 X 3 X = min(9, 3) */
        {"( ( ( [MIN ( ( ( [MAX 2 ) 9 ) ] ) ) 3 ) ] )",
         {3, 4, 10, 17, 7, 11, 7},
         {-1, 0, 1, 1, 1, 0, 0},
         7,
         3},
        /* median of an even count: floor((2 + 3) / 2) */
        {"( ( ( ( ( [MED 1 ) 2 ) 3 ) 4 ) ] )", {5, 9, 10, 11, 12, 7}, {-1, 0, 0, 0, 0, 0}, 6, 2},
        {"( ( ( ( [MED 9 ) 1 ) 5 ) ] )", {5, 17, 9, 13, 7}, {-1, 0, 0, 0, 0}, 5, 5},
        {"( ( ( ( [SM 5 ) 7 ) 9 ) ] )", {6, 13, 15, 17, 7}, {-1, 0, 0, 0, 0}, 5, 1},
        /* [SM [MED 1 2 3 4 X [MIN 7 8 X 9 X = (2 + 7 + 9) % 10 */
        {"( ( ( ( [SM ( ( ( ( ( [MED 1 ) 2 ) 3 ) 4 ) ] ) ) ( ( ( [MIN 7 ) 8 ) ] ) ) 9 ) ] )",
         {6, 5, 9, 10, 11, 12, 7, 3, 15, 16, 7, 17, 7},
         {-1, 0, 1, 1, 1, 1, 1, 0, 7, 7, 7, 0, 0},
         13,
         8},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const hand_case *hc = &cases[c];
        int32_t ids[32], parents[32], label = -1;
        int64_t len = -1;
        assert_int_equal(myo_listops_tokenize(hc->src, ids, 32, &len), MYO_OK);
        assert_int_equal(len, hc->len);
        assert_memory_equal(ids, hc->ids, (size_t)len * sizeof *ids);
        assert_int_equal(myo_listops_parse(ids, len, parents, &label), MYO_OK);
        assert_memory_equal(parents, hc->parents, (size_t)len * sizeof *parents);
        assert_int_equal(label, hc->label);
        assert_int_equal(eval_tokens(ids, len), hc->label);
        char buf[256];
        size_t sl = 0;
        assert_int_equal(myo_listops_format(ids, len, buf, sizeof buf, &sl), MYO_OK);
        assert_string_equal(buf, hc->src);
        assert_int_equal(sl, strlen(hc->src));
    }
    /* LRA deletes the parentheses, then splits on whitespace: "(([SM" is
     * [SM, ")5" is 5, but "4)5" is the unknown token "45"; "]" and "X" are
     * the same token */
    int32_t ids[8];
    int64_t len = 0;
    assert_int_equal(myo_listops_tokenize("(([SM 4 )5 )X )", ids, 8, &len), MYO_OK);
    assert_int_equal(len, 4);
    assert_int_equal(ids[0], MYO_LISTOPS_SM);
    assert_int_equal(ids[3], MYO_LISTOPS_CLOSE);
    assert_int_equal(myo_listops_tokenize("(([SM 4)5)X)", ids, 8, &len), MYO_ERR_DATA);
    /* counting without storing */
    assert_int_equal(myo_listops_tokenize("( ( [MIN 1 ) ] )", NULL, 0, &len), MYO_OK);
    assert_int_equal(len, 3);
    assert_int_equal(myo_listops_token_id("]", 1), MYO_LISTOPS_CLOSE);
    assert_int_equal(myo_listops_token_id("[MED", 4), MYO_LISTOPS_MED);
    assert_int_equal(myo_listops_token_id("[FIRST", 6), MYO_LISTOPS_UNK);
    assert_string_equal(myo_listops_token_str(MYO_LISTOPS_CLOSE), "X");
    assert_string_equal(myo_listops_token_str(MYO_LISTOPS_DIGIT0 + 9), "9");
    assert_string_equal(myo_listops_token_str(MYO_LISTOPS_PAD), "<pad>");
    assert_int_equal(MYO_LISTOPS_VOCAB, 18);
}

static void expect_parse_error(const char *src, const char *needle)
{
    int32_t ids[32];
    int64_t len = 0;
    assert_int_equal(myo_listops_tokenize(src, ids, 32, &len), MYO_OK);
    assert_int_equal(myo_listops_parse(ids, len, NULL, NULL), MYO_ERR_DATA);
    if (!strstr(myo_data_error(), needle))
        fail_msg("'%s': detail \"%s\" does not mention \"%s\"", src, myo_data_error(), needle);
}

static void test_listops_malformed_expressions(void **state)
{
    (void)state;
    expect_parse_error("( ( [MAX 2 ) 9 )", "not closed");
    expect_parse_error("( ( [MAX 2 ) ] ) ]", "after the end");
    expect_parse_error("] 3", "without an open operator");
    expect_parse_error("( [MAX ] )", "has no arguments");
    expect_parse_error("3 4", "after the end");
    expect_parse_error("", "empty");
    int32_t bad[3] = {MYO_LISTOPS_MAX, MYO_LISTOPS_PAD, MYO_LISTOPS_CLOSE};
    assert_int_equal(myo_listops_parse(bad, 3, NULL, NULL), MYO_ERR_DATA);
    int64_t len = 0;
    assert_int_equal(myo_listops_tokenize("( ( [FIRST 2 ) ] )", NULL, 0, &len), MYO_ERR_DATA);
    assert_non_null(strstr(myo_data_error(), "[FIRST"));
    assert_int_equal(myo_listops_tokenize("( ( [MAX 22 ) ] )", NULL, 0, &len), MYO_ERR_DATA);
    char small[8];
    int32_t ids[4] = {MYO_LISTOPS_MAX, MYO_LISTOPS_DIGIT0 + 2, MYO_LISTOPS_DIGIT0 + 9,
                      MYO_LISTOPS_CLOSE};
    assert_int_equal(myo_listops_format(ids, 4, small, sizeof small, NULL), MYO_ERR_ARG);
}

/* ---------------------------------------------------------- generator */

static const myo_dataset *sort_d;

static int cmp_examples(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    int32_t lx = sort_d->lengths[x], ly = sort_d->lengths[y];
    if (lx != ly) return lx < ly ? -1 : 1;
    return memcmp(sort_d->tokens + x * sort_d->n, sort_d->tokens + y * sort_d->n,
                  (size_t)lx * sizeof(int32_t));
}

static int64_t count_duplicates(const myo_dataset *d)
{
    int64_t *idx = malloc((size_t)d->count * sizeof *idx), dups = 0;
    for (int64_t e = 0; e < d->count; e++)
        idx[e] = e;
    sort_d = d;
    qsort(idx, (size_t)d->count, sizeof *idx, cmp_examples);
    for (int64_t e = 1; e < d->count; e++)
        dups += cmp_examples(&idx[e - 1], &idx[e]) == 0;
    free(idx);
    return dups;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void test_listops_generator_default_parameters(void **state)
{
    (void)state;
    int64_t count = test_env_count("MYO_LISTOPS_STATS", 2000);
    myo_dataset d;
    assert_int_equal(myo_listops_generate(NULL, 1, count, 0, &d), MYO_OK);
    assert_string_equal(d.task, "listops");
    assert_string_equal(d.source, "generated");
    assert_int_equal(d.count, count);
    assert_int_equal(d.docs, 1);
    assert_int_equal(d.n, 2000);
    assert_int_equal(d.vocab, 18);
    assert_int_equal(d.classes, 10);
    assert_non_null(d.parents);
    assert_string_equal(myo_dataset_get_attr(&d, "seed"), "1");
    assert_string_equal(myo_dataset_get_attr(&d, "min_length"), "500");
    assert_string_equal(myo_dataset_get_attr(&d, "max_length"), "2000");
    assert_string_equal(myo_dataset_get_attr(&d, "max_depth"), "10");
    assert_string_equal(myo_dataset_get_attr(&d, "max_args"), "10");
    assert_string_equal(myo_dataset_get_attr(&d, "value_p"), "0.25");
    assert_int_equal(myo_dataset_validate(&d, "listops"), MYO_OK);
    /* LRA's 96 / 2 / 2 per cent, validation and test after the training */
    int64_t part = (count + 25) / 50;
    assert_int_equal(d.has_splits, 1);
    assert_int_equal(d.split_count[MYO_SPLIT_TRAIN], count - 2 * part);
    assert_int_equal(d.split_count[MYO_SPLIT_VALID], part);
    assert_int_equal(d.split_count[MYO_SPLIT_TEST], part);

    int64_t per_label[10] = {0};
    int32_t *lens = malloc((size_t)count * sizeof *lens);
    double mean = 0;
    for (int64_t e = 0; e < count; e++) {
        int32_t len = d.lengths[e];
        assert_true(len > 500 && len < 2000);
        check_example(&d, e);
        assert_int_equal(eval_tokens(d.tokens + e * d.n, len), d.labels[e]);
        per_label[d.labels[e]]++;
        lens[e] = len;
        mean += len;
    }
    assert_int_equal(count_duplicates(&d), 0);
    mean /= (double)count;
    qsort(lens, (size_t)count, sizeof *lens, cmp_i32);
    double median = count % 2 ? lens[count / 2] : 0.5 * (lens[count / 2 - 1] + lens[count / 2]);
    long long attempts = atoll(myo_dataset_get_attr(&d, "attempts"));
    printf("# listops seed 1, %lld examples: %lld trees drawn (%.2f%% kept), %s duplicates; length "
           "mean %.1f "
           "median %.1f min %d max %d\n# labels:",
           (long long)count, attempts, 100.0 * (double)count / (double)attempts,
           myo_dataset_get_attr(&d, "duplicates"), mean, median, lens[0], lens[count - 1]);
    for (int v = 0; v < 10; v++)
        printf(" %d:%.1f%%", v, 100.0 * (double)per_label[v] / (double)count);
    printf("\n");
    /* loose invariants (docs/lra.md section 4.2: mean ~1039, median ~961; 0 and 9
     * ~17%, the others 7.5-9%) */
    assert_true(mean > 800 && mean < 1300);
    assert_true(median > 750 && median < 1200);
    for (int v = 0; v < 10; v++)
        assert_true(per_label[v] * 100 > 3 * count);
    assert_true(per_label[0] > per_label[5] && per_label[9] > per_label[5]);
    free(lens);
    myo_dataset_free(&d);
}

static void test_listops_generator_is_deterministic(void **state)
{
    (void)state;
    myo_dataset a, b, c;
    assert_int_equal(myo_listops_generate(NULL, 7, 100, 0, &a), MYO_OK);
    assert_int_equal(myo_listops_generate(NULL, 7, 100, 0, &b), MYO_OK);
    assert_int_equal(myo_listops_generate(NULL, 8, 100, 0, &c), MYO_OK);
    size_t bytes = (size_t)(a.count * a.n) * sizeof(int32_t);
    assert_memory_equal(a.tokens, b.tokens, bytes);
    assert_memory_equal(a.parents, b.parents, bytes);
    assert_memory_equal(a.labels, b.labels, (size_t)a.count * sizeof(int32_t));
    assert_memory_equal(a.lengths, b.lengths, (size_t)a.count * sizeof(int32_t));
    assert_memory_not_equal(a.tokens, c.tokens, bytes);
    /* a fixed fingerprint, the same on every machine (README.md, "myo-data":
     * the same command writes the same bytes anywhere); a change of the
     * generator changes it: then update it here, on purpose */
    uint64_t h = 1469598103934665603ULL;
    for (int64_t i = 0; i < a.count * a.n; i++)
        h = (h ^ (uint64_t)a.tokens[i]) * 1099511628211ULL;
    printf("# listops seed 7, 100 examples: first lengths %d %d %d, token hash %016llx\n",
           a.lengths[0], a.lengths[1], a.lengths[2], (unsigned long long)h);
    assert_int_equal(a.lengths[0], 933);
    assert_int_equal(a.lengths[1], 1064);
    assert_int_equal(a.lengths[2], 609);
    assert_true(h == 0x343d9a82a8f6f73eULL);
    myo_dataset_free(&a);
    myo_dataset_free(&b);
    myo_dataset_free(&c);
}

/* The expression shape of p (see myo_listops_params). */
static void set_shape(myo_listops_params *p, int64_t min_length, int64_t max_length, int max_depth,
                      int max_args, double value_p)
{
    p->min_length = min_length;
    p->max_length = max_length;
    p->max_depth = max_depth;
    p->max_args = max_args;
    p->value_p = value_p;
}

static void test_listops_generator_small_parameters_and_truncation(void **state)
{
    (void)state;
    myo_listops_params p;
    myo_listops_params_default(&p);
    set_shape(&p, 10, 40, 6, 4, 0.4);
    myo_dataset d;
    /* n = 32: expressions of 33..39 tokens are truncated, trees stay valid */
    assert_int_equal(myo_listops_generate(&p, 3, 500, 32, &d), MYO_OK);
    assert_string_equal(myo_dataset_get_attr(&d, "value_p"), "0.40000000000000002");
    assert_string_equal(myo_dataset_get_attr(&d, "max_args"), "4");
    int64_t truncated = 0;
    for (int64_t e = 0; e < d.count; e++) {
        int32_t len = d.lengths[e];
        assert_true(len > 10 && len <= 32);
        check_example(&d, e);
        if (len == 32)
            truncated++;
        else
            assert_int_equal(eval_tokens(d.tokens + e * d.n, len), d.labels[e]);
    }
    assert_true(truncated > 0);
    assert_int_equal(myo_dataset_validate(&d, "listops"), MYO_OK);
    myo_dataset_free(&d);

    /* a window holding only the 400 expressions [OP a b X: all of them */
    set_shape(&p, 2, 6, 3, 2, 0.5);
    assert_int_equal(myo_listops_generate(&p, 5, 400, 4, &d), MYO_OK);
    for (int64_t e = 0; e < d.count; e++)
        assert_int_equal(d.lengths[e], 4);
    assert_int_equal(count_duplicates(&d), 0);
    assert_true(atoll(myo_dataset_get_attr(&d, "duplicates")) > 0);
    myo_dataset_free(&d);

    /* impossible windows and bad parameters */
    myo_listops_params_default(&p);
    p.max_depth = 2; /* at most 1 + 2 + 10 tokens */
    assert_int_equal(myo_listops_generate(&p, 1, 1, 0, &d), MYO_ERR_ARG);
    assert_non_null(strstr(myo_data_error(), "none in"));
    myo_listops_params_default(&p);
    p.max_length = 501;
    assert_int_equal(myo_listops_generate(&p, 1, 1, 0, &d), MYO_ERR_ARG);
    myo_listops_params_default(&p);
    p.value_p = 0.0;
    assert_int_equal(myo_listops_generate(&p, 1, 1, 0, &d), MYO_ERR_ARG);
    myo_listops_params_default(&p);
    p.max_args = 1;
    assert_int_equal(myo_listops_generate(&p, 1, 1, 0, &d), MYO_ERR_ARG);
    assert_int_equal(myo_listops_generate(NULL, 1, 0, 0, &d), MYO_ERR_ARG);
}

/* ------------------------------------------------------------- loader */

/* A TSV of the examples of d (complete expressions), with the given line
 * end; the last row without a newline when no_final_newline. */
static char *make_tsv(const myo_dataset *d, const char *eol, int no_final_newline, size_t *out_len)
{
    size_t cap = 1 << 20, len = 0;
    char *s = malloc(cap);
    len += (size_t)sprintf(s, "Source\tTarget%s", eol);
    for (int64_t e = 0; e < d->count; e++) {
        size_t sl = 0;
        assert_true(len + 65536 < cap);
        assert_int_equal(
            myo_listops_format(d->tokens + e * d->n, d->lengths[e], s + len, cap - len - 16, &sl),
            MYO_OK);
        len += sl;
        len += (size_t)sprintf(s + len, "\t%d%s", (int)d->labels[e],
                               no_final_newline && e == d->count - 1 ? "" : eol);
    }
    *out_len = len;
    return s;
}

static void test_listops_loader_round_trip(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/basic_test.tsv", dir);
    myo_dataset g, l;
    assert_int_equal(myo_listops_generate(NULL, 11, 20, 0, &g), MYO_OK);
    static const char *const eols[] = {"\n", "\r\n"};
    for (int v = 0; v < 2; v++) {
        size_t len;
        char *tsv = make_tsv(&g, eols[v], v, &len);
        test_write_file(path, tsv, len);
        free(tsv);
        assert_int_equal(myo_listops_load(path, 0, &l), MYO_OK);
        assert_string_equal(l.source, "loaded");
        assert_string_equal(l.task, "listops");
        assert_int_equal(l.count, g.count);
        assert_int_equal(l.n, 2000);
        size_t bytes = (size_t)(g.count * g.n) * sizeof(int32_t);
        assert_memory_equal(l.tokens, g.tokens, bytes);
        assert_memory_equal(l.parents, g.parents, bytes);
        assert_memory_equal(l.labels, g.labels, (size_t)g.count * sizeof(int32_t));
        assert_memory_equal(l.lengths, g.lengths, (size_t)g.count * sizeof(int32_t));
        assert_string_equal(myo_dataset_get_attr(&l, "truncated"), "0");
        assert_string_equal(myo_dataset_get_attr(&l, "label_mismatches"), "0");
        assert_int_equal(l.has_splits, 0); /* one file: no splits */
        assert_int_equal(myo_dataset_validate(&l, path), MYO_OK);
        myo_dataset_free(&l);
    }
    /* truncation to n = 600 keeps the first 600 tokens and their tree */
    size_t len;
    char *tsv = make_tsv(&g, "\n", 0, &len);
    test_write_file(path, tsv, len);
    free(tsv);
    assert_int_equal(myo_listops_load(path, 600, &l), MYO_OK);
    int64_t longer = 0;
    for (int64_t e = 0; e < g.count; e++) {
        longer += g.lengths[e] > 600;
        int32_t keep = g.lengths[e] < 600 ? g.lengths[e] : 600;
        assert_int_equal(l.lengths[e], keep);
        assert_memory_equal(l.tokens + e * 600, g.tokens + e * g.n, (size_t)keep * sizeof(int32_t));
        assert_memory_equal(l.parents + e * 600, g.parents + e * g.n,
                            (size_t)keep * sizeof(int32_t));
        assert_int_equal(l.labels[e], g.labels[e]);
        check_example(&l, e);
    }
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)longer);
    assert_true(longer > 0);
    assert_string_equal(myo_dataset_get_attr(&l, "truncated"), want);
    myo_dataset_free(&l);
    /* a wrong Target is kept and counted; blank lines are skipped */
    static const char mism[] = "Source\tTarget\n( ( ( [MAX 2 ) 9 ) ] )\t4\n\n7\t7\n";
    test_write_file(path, mism, sizeof mism - 1);
    assert_int_equal(myo_listops_load(path, 8, &l), MYO_OK);
    assert_int_equal(l.count, 2);
    assert_int_equal(l.labels[0], 4);
    assert_string_equal(myo_dataset_get_attr(&l, "label_mismatches"), "1");
    myo_dataset_free(&l);
    myo_dataset_free(&g);
    test_remove_dir(dir);
    free(dir);
}

/* LRA's three files in one dataset: their examples in split order, the
 * splits their row counts; a bad file is named. */
static void test_listops_loader_three_files_make_splits(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    const char *names[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    char *paths[3];
    myo_dataset g, l;
    assert_int_equal(myo_listops_generate(NULL, 12, 9, 0, &g), MYO_OK);
    const int64_t rows[3] = {5, 3, 1};
    for (int k = 0, first = 0; k < 3; first += (int)rows[k], k++) {
        /* rows[k] examples of g from first on */
        myo_dataset part = g;
        part.count = rows[k];
        part.tokens = g.tokens + first * g.n;
        part.labels = g.labels + first;
        part.lengths = g.lengths + first;
        size_t len;
        char *tsv = make_tsv(&part, "\n", 0, &len);
        paths[k] = test_path_in(dir, names[k]);
        test_write_file(paths[k], tsv, len);
        free(tsv);
    }
    const char *const ro[3] = {paths[0], paths[1], paths[2]};
    assert_int_equal(myo_listops_load_splits(ro, 0, &l), MYO_OK);
    data_fixture_assert_header(&l, "listops", "loaded", 9, 1, 2000, MYO_LISTOPS_VOCAB,
                               MYO_LISTOPS_CLASSES, 1);
    size_t bytes = (size_t)(g.count * g.n) * sizeof(int32_t);
    assert_memory_equal(l.tokens, g.tokens, bytes);
    assert_memory_equal(l.parents, g.parents, bytes);
    assert_memory_equal(l.labels, g.labels, (size_t)g.count * sizeof(int32_t));
    assert_int_equal(l.has_splits, 1);
    for (int k = 0; k < 3; k++)
        assert_int_equal(l.split_count[k], rows[k]);
    assert_string_equal(myo_dataset_get_attr(&l, "validation_file"), paths[1]);
    assert_string_equal(myo_dataset_get_attr(&l, "label_mismatches"), "0");
    assert_null(myo_dataset_get_attr(&l, "file"));
    assert_int_equal(myo_dataset_validate(&l, "three files"), MYO_OK);
    myo_dataset_free(&l);
    /* a missing test file: nothing, and the file named */
    unlink(paths[2]);
    myo_data_clear_error();
    assert_int_equal(myo_listops_load_splits(ro, 0, &l), MYO_ERR_IO);
    assert_non_null(strstr(myo_data_error(), "basic_test.tsv"));
    assert_null(l.tokens);
    const char *const none[3] = {paths[0], NULL, paths[2]};
    assert_int_equal(myo_listops_load_splits(none, 0, &l), MYO_ERR_ARG);
    myo_dataset_free(&g);
    for (int k = 0; k < 3; k++)
        free(paths[k]);
    test_remove_dir(dir);
    free(dir);
}

static void test_listops_loader_rejects_malformed_rows(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char path[1024], where[1100];
    snprintf(path, sizeof path, "%s/basic_val.tsv", dir);
    static const struct {
        const char *text;
        int line;
        const char *what;
    } bad[] = {
        {"( ( [MAX 2 ) ] )\t2\n", 1, "header"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2 ) ] )\t2\t3\n", 3, "found 3"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2 ) ] ) 2\n", 3, "found 1"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2 ) ] )\t10\n", 3, "bad label"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2 ) ] )\tx\n", 3, "bad label"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2 ) ] )\t\n", 3, "bad label"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2 ) 9 )\t9\n", 3, "not closed"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2 ) ] ) ]\t2\n", 3, "after the end"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [FIRST 2 ) ] )\t2\n", 3, "unknown token"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( [MAX ] )\t2\n", 3, "no arguments"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n\t2\n", 3, "empty"},
        {"Source\tTarget\n( ( [MAX 2 ) ] )\t2\n( ( [MAX 2\0 ) ] )\t2\n", 3, "NUL"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        size_t len = strlen(bad[c].text);
        if (strcmp(bad[c].what, "NUL") == 0) len += 1 + strlen(bad[c].text + len + 1);
        test_write_file(path, bad[c].text, len);
        myo_dataset d;
        memset(&d, 0x5a, sizeof d);
        assert_int_equal(myo_listops_load(path, 0, &d), MYO_ERR_DATA);
        assert_null(d.tokens);
        const char *detail = myo_data_error();
        snprintf(where, sizeof where, "%s:%d: ", path, bad[c].line);
        if (!strstr(detail, where) || !strstr(detail, bad[c].what))
            fail_msg("case %zu: detail \"%s\" lacks \"%s\" or \"%s\"", c, detail, where,
                     bad[c].what);
        assert_string_equal(myo_data_error(), detail);
    }
    test_write_file(path, "Source\tTarget\n\n", 15);
    myo_dataset d;
    assert_int_equal(myo_listops_load(path, 0, &d), MYO_ERR_DATA);
    assert_non_null(strstr(myo_data_error(), "no examples"));
    snprintf(path, sizeof path, "%s/missing.tsv", dir);
    assert_int_equal(myo_listops_load(path, 0, &d), MYO_ERR_IO);
    assert_non_null(strstr(myo_data_error(), path));
    test_remove_dir(dir);
    free(dir);
}

/* A fixed-seed mutation fuzz of the loader: edits of a valid file; every
 * load must succeed with a valid dataset or fail with MYO_ERR_DATA, without
 * crashing or leaking (ASan CI). */
typedef struct {
    const char *path;
    int64_t ok, data;
} fuzz_ctx;

static void check_load(int64_t it, char *buf, size_t len, void *ctx)
{
    fuzz_ctx *f = ctx;
    test_write_file(f->path, buf, len);
    myo_dataset d;
    myo_status st = myo_listops_load(f->path, 48, &d);
    if (st == MYO_OK) {
        f->ok++;
        assert_int_equal(myo_dataset_validate(&d, f->path), MYO_OK);
        for (int64_t e = 0; e < d.count; e++)
            check_example(&d, e);
        myo_dataset_free(&d);
    } else {
        if (st != MYO_ERR_DATA)
            fail_msg("iteration %lld: %s: %s", (long long)it, myo_status_str(st), myo_data_error());
        assert_non_null(strstr(myo_data_error(), f->path));
        f->data++;
    }
}

static void test_listops_loader_fuzz(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char *path = test_path_in(dir, "fuzz.tsv");
    myo_listops_params p;
    myo_listops_params_default(&p);
    set_shape(&p, 3, 60, 5, 5, 0.4);
    myo_dataset g;
    assert_int_equal(myo_listops_generate(&p, 21, 12, 64, &g), MYO_OK);
    size_t base_len;
    char *base = make_tsv(&g, "\n", 0, &base_len);
    myo_dataset_free(&g);
    fuzz_ctx f = {path, 0, 0};
    int64_t iterations = test_fuzz_mutations(12345, 200, base, base_len,
                                             "()[]X MINAXEDS0123456789\t\n\r", check_load, &f);
    printf("# listops fuzz: %lld mutated files, %lld loaded, %lld rejected with MYO_ERR_DATA\n",
           (long long)iterations, (long long)f.ok, (long long)f.data);
    assert_true(f.ok > 0 && f.data > 0);
    free(base);
    free(path);
    test_remove_dir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listops_hand_checked_expressions),
        cmocka_unit_test(test_listops_malformed_expressions),
        cmocka_unit_test(test_listops_generator_default_parameters),
        cmocka_unit_test(test_listops_generator_is_deterministic),
        cmocka_unit_test(test_listops_generator_small_parameters_and_truncation),
        cmocka_unit_test(test_listops_loader_round_trip),
        cmocka_unit_test(test_listops_loader_three_files_make_splits),
        cmocka_unit_test(test_listops_loader_rejects_malformed_rows),
        cmocka_unit_test(test_listops_loader_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
