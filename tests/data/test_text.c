/* test_text.c -- byte-level text loaders: a directory of files (IMDb) and the AAN TSV. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "myosotis.h"
#include "myo_data.h"
#include "dataset_file.h"
#include "text.h"
#include "support.h"

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char *p = test_path_in(dir, name);
    test_write_file(p, text, len);
    free(p);
}

static void make_dir(const char *dir, const char *name)
{
    char *p = test_path_in(dir, name);
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
}

static void expect_tokens(const myo_dataset *d, int64_t e, int g, const char *bytes, int64_t len)
{
    const int32_t *t = d->tokens + (e * d->docs + g) * d->n;
    int64_t keep = len < d->n ? len : d->n;
    assert_int_equal(d->lengths[e * d->docs + g], keep);
    for (int64_t i = 0; i < keep; i++)
        assert_int_equal(t[i], (unsigned char)bytes[i] + 1);
    for (int64_t i = keep; i < d->n; i++)
        assert_int_equal(t[i], 0);
}

static void expect_detail(const char *needle)
{
    const char *d = myo_data_error();
    if (!strstr(d, needle)) fail_msg("detail \"%s\" lacks \"%s\"", d, needle);
    assert_string_equal(myo_data_error(), d);
}

static void test_imdb_layout(void **state)
{
    (void)state;
    char *root = test_make_temp_dir();
    make_dir(root, "train");
    make_dir(root, "train/pos");
    make_dir(root, "train/neg");
    make_dir(root, "train/unsup");
    make_dir(root, "train/pos/subdir");
    write_file(root, "train/pos/b.txt", "hello", 5);
    write_file(root, "train/pos/a.txt", "x\0\xff", 3); /* NUL and 0xff are bytes too */
    write_file(root, "train/pos/.hidden", "no", 2);
    write_file(root, "train/neg/c.txt", "0123456789abcdefghij", 20);
    write_file(root, "train/neg/empty.txt", "", 0);
    write_file(root, "train/unsup/z.txt", "ignored", 7);
    write_file(root, "train/urls_pos.txt", "ignored", 7);
    myo_dataset d;
    assert_int_equal(myo_imdb_load(root, "train", 8, &d), MYO_OK);
    assert_string_equal(d.task, "text");
    assert_int_equal(d.count, 4);
    assert_int_equal(d.docs, 1);
    assert_int_equal(d.n, 8);
    assert_int_equal(d.vocab, 257);
    assert_int_equal(d.classes, 2);
    /* neg (0) first, then pos (1); files in byte order */
    const int32_t labels[4] = {0, 0, 1, 1};
    assert_memory_equal(d.labels, labels, sizeof labels);
    expect_tokens(&d, 0, 0, "0123456789abcdefghij", 20); /* c.txt truncated to 8 */
    expect_tokens(&d, 1, 0, "", 0);                      /* empty.txt: all padding */
    expect_tokens(&d, 2, 0, "x\0\xff", 3);               /* a.txt */
    expect_tokens(&d, 3, 0, "hello", 5);                 /* b.txt padded */
    assert_int_equal(d.tokens[2 * 8 + 1], 1);
    assert_int_equal(d.tokens[2 * 8 + 2], 256);
    assert_string_equal(myo_dataset_get_attr(&d, "truncated"), "1");
    assert_string_equal(myo_dataset_get_attr(&d, "labels"), "neg=0,pos=1");
    assert_int_equal(myo_dataset_validate(&d, "imdb"), MYO_OK);
    myo_dataset_free(&d);

    /* a label map of three */
    char *train = test_path_in(root, "train");
    const char *names[3] = {"unsup", "pos", "neg"};
    assert_int_equal(myo_text_load_dir(train, names, 3, 4, &d), MYO_OK);
    assert_int_equal(d.count, 5);
    assert_int_equal(d.classes, 3);
    assert_int_equal(d.labels[0], 0);
    assert_int_equal(d.labels[4], 2);
    expect_tokens(&d, 0, 0, "ignored", 7);
    myo_dataset_free(&d);

    /* a missing label directory, a missing split, no files */
    const char *missing[2] = {"neg", "nope"};
    assert_int_equal(myo_text_load_dir(train, missing, 2, 4, &d), MYO_ERR_IO);
    expect_detail("nope");
    assert_null(d.tokens);
    assert_int_equal(myo_imdb_load(root, "test", 4, &d), MYO_ERR_IO);
    expect_detail("test/neg");
    assert_int_equal(myo_imdb_load(root, "dev", 4, &d), MYO_ERR_ARG);
    const char *sub[1] = {"pos/subdir"};
    assert_int_equal(myo_text_load_dir(train, sub, 1, 4, &d), MYO_ERR_ARG);
    make_dir(root, "train/empty");
    const char *empty[1] = {"empty"};
    assert_int_equal(myo_text_load_dir(train, empty, 1, 4, &d), MYO_ERR_DATA);
    expect_detail("no text file");
    assert_int_equal(myo_text_load_dir(train, NULL, 0, 0, &d), MYO_ERR_ARG);
    free(train);
    test_remove_dir(root);
    free(root);
}

static const char good_tsv[] = "1.0\tid1\tid2\tabc\tdefghijklmn\n"
                               "0\ta\tb\t\tq\r\n"
                               "\n"
                               "0.0\tx\ty\t\"quoted\t\"\n"; /* no quoting: 5 columns */

static void test_aan_tsv(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    write_file(dir, "pairs.tsv", good_tsv, strlen(good_tsv));
    char *p = test_path_in(dir, "pairs.tsv");
    myo_dataset d;
    assert_int_equal(myo_aan_load_tsv(p, 4, &d), MYO_OK);
    assert_string_equal(d.task, "retrieval");
    assert_int_equal(d.count, 3);
    assert_int_equal(d.docs, 2);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.vocab, 257);
    assert_int_equal(d.classes, 2);
    const int32_t labels[3] = {1, 0, 0};
    assert_memory_equal(d.labels, labels, sizeof labels);
    expect_tokens(&d, 0, 0, "abc", 3);
    expect_tokens(&d, 0, 1, "defghijklmn", 11);
    expect_tokens(&d, 1, 0, "", 0);
    expect_tokens(&d, 1, 1, "q", 1); /* the \r is dropped */
    expect_tokens(&d, 2, 0, "\"quoted", 7);
    expect_tokens(&d, 2, 1, "\"", 1);
    assert_int_equal(d.tokens[0], 'a' + 1);
    assert_string_equal(myo_dataset_get_attr(&d, "truncated"), "2");
    assert_string_equal(myo_dataset_get_attr(&d, "file"), "pairs.tsv");
    assert_int_equal(myo_dataset_validate(&d, "aan"), MYO_OK);
    myo_dataset_free(&d);
    /* the buffer parser agrees, also without a final newline */
    assert_int_equal(myo_aan_parse(good_tsv, strlen(good_tsv) - 1, "buf", 4, &d), MYO_OK);
    assert_int_equal(d.count, 3);
    expect_tokens(&d, 2, 1, "\"", 1);
    myo_dataset_free(&d);
    /* empty lines after the last row (a fuzz find) */
    const char *tail = "1\ta\tb\tx\ty\n\n\n";
    assert_int_equal(myo_aan_parse(tail, strlen(tail), "tail", 4, &d), MYO_OK);
    assert_int_equal(d.count, 1);
    myo_dataset_free(&d);

    struct {
        const char *text, *detail;
    } bad[] = {
        {"1\ta\tb\tx\ty\n0\ta\tb\tx\n", "bad.tsv:2: 4 tab-separated columns, want 5"},
        {"1\ta\tb\tx\ty\n\n1\ta\tb\tx\ty\tz\n", "bad.tsv:3: 6 tab-separated columns"},
        {"1\ta\tb\tx\ty\n2\ta\tb\tx\ty\n", "bad.tsv:2: label \"2\" is not 0 or 1"},
        {"0.5\ta\tb\tx\ty\n", "bad.tsv:1: label \"0.5\""},
        {"yes\ta\tb\tx\ty\n", "bad.tsv:1: label \"yes\""},
        {"\ta\tb\tx\ty\n", "bad.tsv:1: label \"\""},
        {" 1\ta\tb\tx\ty\n", "bad.tsv:1: label \" 1\""},
        {"1\t\tb\tx\ty\n", "bad.tsv:1: empty id1"},
        {"just text\n", "bad.tsv:1: 1 tab-separated columns"},
        {"\n\r\n", "bad.tsv: no row"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(dir, "bad.tsv", bad[i].text, strlen(bad[i].text));
        char *b = test_path_in(dir, "bad.tsv");
        assert_int_equal(myo_aan_load_tsv(b, 4, &d), MYO_ERR_DATA);
        expect_detail(bad[i].detail);
        assert_null(d.tokens);
        free(b);
    }
    char *none = test_path_in(dir, "none.tsv");
    assert_int_equal(myo_aan_load_tsv(none, 4, &d), MYO_ERR_IO);
    expect_detail("none.tsv");
    assert_int_equal(myo_aan_load_tsv(p, 0, &d), MYO_ERR_ARG);
    free(none);
    free(p);
    test_remove_dir(dir);
    free(dir);
}

/* Mutations of a valid TSV: the parser answers OK with a valid dataset or
 * MYO_ERR_DATA with "fuzz.tsv:LINE: ..." (LINE within the input), never
 * anything else, never crashes. */
static void check_aan(int64_t it, char *buf, size_t len, void *ctx)
{
    (void)ctx;
    int64_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    int64_t n = 1 + it % 12;
    myo_dataset d;
    myo_status s = myo_aan_parse(buf, len, "fuzz.tsv", n, &d);
    if (s == MYO_OK) {
        assert_true(d.count >= 1 && d.count <= lines);
        assert_int_equal(myo_dataset_validate(&d, "fuzz"), MYO_OK);
        myo_dataset_free(&d);
    } else {
        if (s != MYO_ERR_DATA)
            fail_msg("iteration %lld: %s: %s", (long long)it, myo_status_str(s), myo_data_error());
        const char *det = myo_data_error();
        assert_true(strncmp(det, "fuzz.tsv:", 9) == 0);
        if (strcmp(det, "fuzz.tsv: no row") != 0) {
            long line = strtol(det + 9, NULL, 10);
            assert_true(line >= 1 && line <= lines);
        }
        assert_null(d.tokens);
    }
}

static void test_aan_fuzz(void **state)
{
    (void)state;
    const char base[] = "1\tA1\tB1\tthe first text\tthe second text\n"
                        "0.0\tA2\tB2\tshort\tanother one that is longer than n\n"
                        "1.0\tA3\tB3\t\t\n"
                        "0\tA4\tB4\tx\ty\r\n";
    test_fuzz_mutations(20240611, 200, base, sizeof base - 1, "\t\n\r01. a\"\\", check_aan, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imdb_layout),
        cmocka_unit_test(test_aan_tsv),
        cmocka_unit_test(test_aan_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
