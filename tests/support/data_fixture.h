/* data_fixture.h -- what the tests of datasets/ share: a small valid
 * dataset and a fixture holding one in a fresh temporary directory (the
 * tests of the dataset file, test_dataset_file.c and test_dataset_fuzz.c),
 * and a check of a dataset's header (the loaders' and generators' tests).
 *
 * Header-only (static inline) because only these programs use it; include
 * after <cmocka.h>, "dataset_file.h" and "support.h". */
#ifndef MYO_TEST_DATA_FIXTURE_H
#define MYO_TEST_DATA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* examples and tokens per document of data_fixture_make's datasets */
#define DATA_FIXTURE_E 7
#define DATA_FIXTURE_N 12

typedef struct {
    char *dir;      /* a fresh temporary directory */
    char path[512]; /* dir/data.h5 (not written) */
    myo_dataset d;  /* data_fixture_make(d, 1) */
} data_fixture;

/* A small valid dataset: with_trees gives a listops-like one (docs 1,
 * parents), otherwise a retrieval-like one (docs 2); attributes seed = 1
 * and max_depth = 10. */
static inline void data_fixture_make(myo_dataset *d, int with_trees)
{
    const int64_t E = DATA_FIXTURE_E, N = DATA_FIXTURE_N;
    memset(d, 0, sizeof *d);
    snprintf(d->task, sizeof d->task, "%s", with_trees ? "listops" : "retrieval");
    snprintf(d->source, sizeof d->source, "generated");
    d->docs = with_trees ? 1 : 2;
    d->n = N;
    d->vocab = 18;
    d->classes = with_trees ? 10 : 2;
    assert_int_equal(myo_dataset_alloc(d, E, with_trees), MYO_OK);
    for (int64_t e = 0; e < E; e++) {
        d->labels[e] = (int32_t)(e % d->classes);
        for (int64_t g = 0; g < d->docs; g++) {
            int32_t len = (int32_t)(3 + (e + g) % (N - 2));
            d->lengths[e * d->docs + g] = len;
            for (int32_t i = 0; i < len; i++)
                d->tokens[(e * d->docs + g) * N + i] = 1 + (int32_t)((e * 7 + i * 3 + g) % 17);
        }
        if (with_trees) {
            int32_t len = d->lengths[e];
            for (int32_t i = 0; i < N; i++)
                d->parents[e * N + i] = i == 0 || i >= len ? -1 : (i - 1) / 2;
        }
    }
    assert_int_equal(myo_dataset_set_attr(d, "seed", "1"), MYO_OK);
    assert_int_equal(myo_dataset_set_attr(d, "max_depth", "10"), MYO_OK);
}

/* d has the header given (parents: whether it has parse trees). */
static inline void data_fixture_assert_header(const myo_dataset *d, const char *task,
                                              const char *source, int64_t count, int64_t docs,
                                              int64_t n, int64_t vocab, int64_t classes,
                                              int parents)
{
    assert_string_equal(d->task, task);
    assert_string_equal(d->source, source);
    assert_int_equal(d->count, count);
    assert_int_equal(d->docs, docs);
    assert_int_equal(d->n, n);
    assert_int_equal(d->vocab, vocab);
    assert_int_equal(d->classes, classes);
    assert_int_equal(d->parents != NULL, parents);
}

/* CMocka setup and teardown of a data_fixture. */
static inline int data_fixture_setup(void **state)
{
    data_fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->dir = test_make_temp_dir();
    snprintf(f->path, sizeof f->path, "%s/data.h5", f->dir);
    data_fixture_make(&f->d, 1);
    *state = f;
    return 0;
}

static inline int data_fixture_teardown(void **state)
{
    data_fixture *f = *state;
    myo_dataset_free(&f->d);
    test_remove_dir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

#endif
