/* test_status.c -- status names, the detail message and the version. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "myosotis.h"

static void test_status_names_are_distinct_and_never_null(void **state)
{
    (void)state;
    const myo_status all[] = {MYO_OK,       MYO_ERR_ARG, MYO_ERR_NOMEM,    MYO_ERR_IO,
                              MYO_ERR_HDF5, MYO_ERR_MPI, MYO_ERR_SINGULAR, MYO_ERR_DATA};
    size_t count = sizeof all / sizeof all[0];
    for (size_t i = 0; i < count; i++) {
        assert_non_null(myo_status_str(all[i]));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(myo_status_str(all[i]), myo_status_str(all[j]));
    }
    assert_string_equal(myo_status_str(MYO_ERR_SINGULAR), "MYO_ERR_SINGULAR");
    assert_string_equal(myo_status_str((myo_status)999), "MYO_ERR_UNKNOWN");
}

static void test_status_detail_names_the_failure(void **state)
{
    (void)state;
    int64_t parent[3] = {-1, 7, 0};
    myo_tree *t = (myo_tree *)&state; /* must be reset to NULL on failure */
    assert_int_equal(myo_tree_create(parent, 3, &t), MYO_ERR_DATA);
    assert_null(t);
    assert_non_null(strstr(myo_error_detail(), "node 1"));
    assert_non_null(strstr(myo_error_detail(), "7"));
}

/* Reads the numbers of "MAJOR.MINOR.PATCH", decimal, optionally followed
 * by a pre-release or build suffix ("-rc1", "+g1234"); returns 1 when text
 * has that form. */
static int parse_version(const char *text, long v[3])
{
    const char *p = text;
    for (int k = 0; k < 3; k++) {
        if (k > 0 && *p++ != '.') return 0;
        if (*p < '0' || *p > '9') return 0;
        char *end = NULL;
        v[k] = strtol(p, &end, 10);
        p = end;
    }
    return *p == '\0' || ((*p == '-' || *p == '+') && p[1] != '\0');
}

/* myo_version() returns PACKAGE_VERSION compiled into the library, so the
 * string comparison only guards against a library built by another
 * configure than the test's; what can fail on its own is the documented
 * form ("0.1.0": MAJOR.MINOR.PATCH). */
static void test_status_version_is_major_minor_patch_of_the_package(void **state)
{
    (void)state;
    long lib[3];
    const char *v = myo_version();
    assert_non_null(v);
    if (!parse_version(v, lib)) fail_msg("myo_version() \"%s\" is not MAJOR.MINOR.PATCH", v);
    assert_string_equal(v, PACKAGE_VERSION);
    /* the parser itself */
    assert_true(parse_version("10.0.2", lib) && lib[0] == 10 && lib[1] == 0 && lib[2] == 2);
    assert_true(parse_version("0.2.0-rc1", lib));
    assert_false(parse_version("0.1", lib) || parse_version("v0.1.0", lib) ||
                 parse_version("0.1.0 ", lib) || parse_version("0..1", lib) ||
                 parse_version("0.1.0-", lib) || parse_version("", lib));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names_are_distinct_and_never_null),
        cmocka_unit_test(test_status_detail_names_the_failure),
        cmocka_unit_test(test_status_version_is_major_minor_patch_of_the_package),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
