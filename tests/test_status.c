/* test_status.c -- status names, the detail message and the version. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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

static void test_status_version_matches_package(void **state)
{
    (void)state;
    assert_string_equal(myo_version(), PACKAGE_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names_are_distinct_and_never_null),
        cmocka_unit_test(test_status_detail_names_the_failure),
        cmocka_unit_test(test_status_version_matches_package),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
