/* test_options.c -- the command-line vocabulary (drivers/options.h): each
 * kind of value in its one syntax, checked against values computed here
 * independently; bad values refused with the one-line message. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "options.h"

/* opt_parse over a command line given as words (argv[0] added). */
static int parse(const opt_spec *specs, int count, char *msg, size_t size, int argc,
                 const char *const *words)
{
    char *argv[32];
    argv[0] = "tool";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)words[i];
    argv[argc + 1] = NULL;
    return opt_parse(argc + 1, argv, specs, count, msg, size);
}

static void test_integers_take_suffixes_and_powers_of_two(void **state)
{
    (void)state;
    int64_t v;
    const struct {
        const char *text;
        int64_t want;
    } ok[] = {{"0", 0},          {"1000", 1000},         {"64K", 64 * 1024},
              {"16M", 16 << 20}, {"1G", INT64_C(1) << 30}, {"2^0", 1},
              {"2^20", 1 << 20}, {"2^62", INT64_C(1) << 62}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(myo_cli_parse_size(ok[i].text, &v), 0);
        assert_true(v == ok[i].want);
    }
    const char *bad[] = {"", "-1", "+3", "1.5", "2^63", "2^2^3", "2^", "3^2", "1T", "12x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(myo_cli_parse_size(bad[i], &v), -1);
    assert_int_equal(opt_parse_int("65", 2, 64, &v), -1);
    assert_int_equal(opt_parse_int("64", 2, 64, &v), 0);
}

static void test_lengths_expand_ranges_sorted_without_repeats(void **state)
{
    (void)state;
    int64_t n[64];
    int count = 0, given = 0;
    const opt_spec spec[] = {{.name = "n", .alias = "lengths", .kind = OPT_LENGTHS, .value = n,
                              .count = &count, .max = 64, .lo = 1, .hi = INT64_C(1) << 36,
                              .given = &given}};
    char msg[512];
    const char *argv[] = {"--n", "2^12:16K:x2,100,1K:4K:x4,4096"};
    assert_int_equal(parse(spec, 1, msg, sizeof msg, 2, argv), OPT_GO);
    /* independently: 4096, 8192, 16384; 100; 1024, 4096; 4096 -> sorted, distinct */
    const int64_t want[] = {100, 1024, 4096, 8192, 16384};
    assert_int_equal(count, 5);
    for (int i = 0; i < 5; i++)
        assert_true(n[i] == want[i]);
    assert_int_equal(given, 1);
    /* the older name, a range that is not one, a value beyond the bound */
    const char *alias[] = {"--lengths", "1K:64K:x4"};
    assert_int_equal(parse(spec, 1, msg, sizeof msg, 2, alias), OPT_GO);
    assert_int_equal(count, 4);
    assert_true(n[3] == 65536);
    const char *bad[][2] = {{"--n", "1K:x2"}, {"--n", "4K:1K"}, {"--n", "1:8:x1"}, {"--n", "2^37"},
                            {"--n", "1,,2"}, {"--n", ""}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(spec, 1, msg, sizeof msg, 2, bad[i]), OPT_BAD);
        assert_non_null(strstr(msg, "--n: '"));
        assert_null(strchr(msg, '\n'));
    }
}

static void test_words_and_lists_of_distinct_words(void **state)
{
    (void)state;
    static const char *const words[] = {"sequence", "data", "local", NULL};
    int one = -1, list[3], count = 0;
    const opt_spec spec[] = {
        {.name = "progress", .kind = OPT_WORD, .value = &one, .words = words},
        {.name = "mode", .kind = OPT_WORDS, .value = list, .count = &count, .max = 3,
         .words = words}};
    char msg[512];
    const char *argv[] = {"--progress", "local", "--mode", "data,sequence"};
    assert_int_equal(parse(spec, 2, msg, sizeof msg, 4, argv), OPT_GO);
    assert_int_equal(one, 2);
    assert_int_equal(count, 2);
    assert_int_equal(list[0], 1);
    assert_int_equal(list[1], 0);
    const char *twice[] = {"--mode", "data,data"};
    assert_int_equal(parse(spec, 2, msg, sizeof msg, 2, twice), OPT_BAD);
    assert_string_equal(msg, "--mode: 'data,data' is not a comma list of distinct sequence, data "
                             "or local");
}

static void test_trees_of_the_vocabulary(void **state)
{
    (void)state;
    static const char *const own[] = {"auto", "parse", NULL};
    opt_tree t;
    assert_int_equal(opt_parse_tree("chain", own, &t), 0);
    assert_int_equal(t.kind, OPT_TREE_CHAIN);
    assert_int_equal(opt_parse_tree("kary04", own, &t), 0);
    assert_int_equal(t.kind, OPT_TREE_KARY);
    assert_int_equal(t.arity, 4);
    assert_string_equal(t.name, "kary4");
    assert_int_equal(opt_parse_tree("heap64", own, &t), 0);
    assert_int_equal(t.kind, OPT_TREE_HEAP);
    assert_int_equal(t.arity, 64);
    assert_int_equal(opt_parse_tree("kary", own, &t), 0); /* the tool's arity */
    assert_int_equal(t.arity, 0);
    assert_int_equal(opt_parse_tree("parse", own, &t), 0);
    assert_int_equal(t.kind, OPT_TREE_WORD);
    assert_int_equal(t.word, 1);
    const char *bad[] = {"heap", "kary1", "kary65", "kary2K", "heap2^2", "star", "parse"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(opt_parse_tree(bad[i], i + 1 < sizeof bad / sizeof bad[0] ? own : NULL,
                                        &t),
                         -1);
}

static void test_bad_command_lines_say_what_in_one_line(void **state)
{
    (void)state;
    int flag = 0;
    double secs = 0;
    const char *file = NULL;
    const opt_spec spec[] = {{.name = "resume", .kind = OPT_FLAG, .value = &flag},
                             {.name = "time-budget", .kind = OPT_SECONDS, .value = &secs},
                             {.name = "output", .kind = OPT_TEXT, .value = &file}};
    char msg[512];
    const char *good[] = {"--resume", "--time-budget", "inf", "--output", "r.h5"};
    assert_int_equal(parse(spec, 3, msg, sizeof msg, 5, good), OPT_GO);
    assert_int_equal(flag, 1);
    assert_true(secs > 1e308);
    assert_string_equal(file, "r.h5");
    const struct {
        const char *argv[2];
        int argc;
        const char *msg;
    } bad[] = {{{"--bogus"}, 1, "unknown option '--bogus'"},
               {{"--time-budget"}, 1, "option '--time-budget' needs a value"},
               {{"--time-budget", "0"}, 2, "--time-budget: '0' is not a positive number of seconds"},
               {{"--time-budget", "nan"}, 2,
                "--time-budget: 'nan' is not a positive number of seconds"},
               {{"--output", ""}, 2, "--output: '' is not a file name"},
               {{"stray"}, 1, "unexpected argument 'stray'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(spec, 3, msg, sizeof msg, bad[i].argc, bad[i].argv), OPT_BAD);
        assert_string_equal(msg, bad[i].msg);
    }
    const char *help[] = {"--help"}, *version[] = {"--version"};
    assert_int_equal(parse(spec, 3, msg, sizeof msg, 1, help), OPT_HELP);
    assert_int_equal(parse(spec, 3, msg, sizeof msg, 1, version), OPT_VERSION);
}

static void test_letters_operands_and_one_tree(void **state)
{
    (void)state;
    int flag = 0, given = 0, n_tree = 0;
    const char *file = NULL, *input = NULL;
    static const char *const own[] = {"star", NULL};
    opt_tree tree[1];
    const opt_spec spec[] = {
        {.name = "transpose", .kind = OPT_FLAG, .value = &flag, .letter = 't'},
        {.name = "output", .kind = OPT_TEXT, .value = &file, .letter = 'o'},
        {.name = "FILE", .kind = OPT_OPERAND, .value = &input, .given = &given},
        {.name = "tree", .kind = OPT_TREES, .value = tree, .count = &n_tree, .max = 1,
         .words = own}};
    char msg[512];
    const char *good[] = {"in.h5", "-t", "-o", "out.h5", "--tree", "kary3"};
    assert_int_equal(parse(spec, 4, msg, sizeof msg, 6, good), OPT_GO);
    assert_int_equal(flag, 1);
    assert_string_equal(file, "out.h5");
    assert_string_equal(input, "in.h5");
    assert_int_equal(given, 1);
    assert_int_equal(n_tree, 1);
    assert_int_equal(tree[0].arity, 3);
    const struct {
        const char *argv[3];
        int argc;
        const char *msg;
    } bad[] = {{{"a", "b"}, 2, "unexpected argument 'b'"},
               {{"-z"}, 1, "unknown option '-z'"},
               {{"-o"}, 1, "option '-o' needs a value"},
               {{"--transpose=yes"}, 1, "option '--transpose=yes' takes no value"},
               {{"--tree", "chain,star"}, 2,
                "--tree: 'chain,star' is not one of chain, kary<k>, heap<k> (2 <= k <= 64), star"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(spec, 4, msg, sizeof msg, bad[i].argc, bad[i].argv), OPT_BAD);
        assert_string_equal(msg, bad[i].msg);
    }
    /* no operand in the table: none may remain */
    const char *one[] = {"in.h5"};
    assert_int_equal(parse(spec, 2, msg, sizeof msg, 1, one), OPT_BAD);
    assert_string_equal(msg, "unexpected argument 'in.h5'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_take_suffixes_and_powers_of_two),
        cmocka_unit_test(test_lengths_expand_ranges_sorted_without_repeats),
        cmocka_unit_test(test_words_and_lists_of_distinct_words),
        cmocka_unit_test(test_trees_of_the_vocabulary),
        cmocka_unit_test(test_bad_command_lines_say_what_in_one_line),
        cmocka_unit_test(test_letters_operands_and_one_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
