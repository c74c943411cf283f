/* test_myo_system.c -- end-to-end tests of the myo-system binary
 * ($MYO_BINDIR/myo-system, set by make check), with $MYO_BINDIR/myo-solve
 * for the generate -> solve -> check round trip.
 *
 * The binaries run through test_run (support.c: fork/execv, stdout and
 * stderr captured to files).  generate's output is read back with the plain
 * HDF5 C API and checked against --help: datasets, types, shapes, root
 * attributes, the structure of each --tree, and strict diagonal dominance
 * of M by rows and by columns.  check is fed solutions from myo-solve and
 * solutions the tests write (perturbed, mis-shaped), and must give the
 * documented exit codes with one diagnostic line on stderr.
 *
 * Reproducibility is asserted on the contents (every dataset and attribute
 * bit for bit) and on the bytes of the file: the library writes no
 * modification times into the object headers. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "myosotis.h"
#include "support.h"
#include "h5_fixture.h"

/* Exit codes documented by myo-system --help (drivers/cli.h). */
enum { EXIT_USAGE = 2, EXIT_DATA = 3, EXIT_IO = 5, EXIT_CHECK = 7 };

#define DEFAULT_TOLERANCE 1e-10 /* check --tolerance, by default */

static char *myo_system_binary; /* $MYO_BINDIR/myo-system */
static char *myo_solve_binary;  /* $MYO_BINDIR/myo-solve */

/* Per test: dir/work holds only what the tests and the tools write there
 * (so anything left behind shows); the captured streams live in dir. */
typedef struct {
    char *dir, *work;
    char *sys;      /* work/system.h5 */
    char *sol;      /* work/solution.h5 */
    char *out_path; /* stdout of the last run */
    char *err_path; /* stderr of the last run */
} sys_state;

static int sys_setup(void **state)
{
    sys_state *s = test_alloc(1, sizeof *s);
    s->dir = test_make_temp_dir();
    s->work = fix_path(s->dir, "work");
    if (mkdir(s->work, 0700) != 0) return -1;
    s->sys = fix_path(s->work, "system.h5");
    s->sol = fix_path(s->work, "solution.h5");
    s->out_path = fix_path(s->dir, "stdout.txt");
    s->err_path = fix_path(s->dir, "stderr.txt");
    *state = s;
    return 0;
}

static int sys_teardown(void **state)
{
    sys_state *s = *state;
    chmod(s->work, 0700);
    test_remove_dir(s->dir);
    free(s->dir), free(s->work), free(s->sys), free(s->sol), free(s->out_path), free(s->err_path);
    free(s);
    return 0;
}

/* ------------------------------------------------------------ running */

/* Run binary with args (NULL-terminated); fsize_limit as for test_run. */
static test_run_result run_tool(const sys_state *s, const char *binary, const char *const *args,
                                long long fsize_limit)
{
    const char *argv[40];
    int argc = 0;
    argv[argc++] = binary;
    while (*args && argc < 39)
        argv[argc++] = *args++;
    argv[argc] = NULL;
    return test_run(argv, s->out_path, s->err_path, fsize_limit);
}

static test_run_result run_system(const sys_state *s, const char *const *args)
{
    return run_tool(s, myo_system_binary, args, 0);
}

/* Run and fail the test unless the tool exits 0 and says nothing on stderr. */
static void run_ok(const sys_state *s, const char *binary, const char *const *args)
{
    test_run_result r = run_tool(s, binary, args, 0);
    if (r.code != 0) fail_msg("%s %s exited %d: %s", binary, args[0], r.code, r.err);
    assert_string_equal(r.err, "");
    test_run_free(&r);
}

/* myo-solve --input sys --output sol [--transpose]. */
static void solve(const sys_state *s, const char *sys, const char *sol, int transpose)
{
    const char *args[] = {"--input", sys, "--output", sol, transpose ? "--transpose" : NULL, NULL};
    run_ok(s, myo_solve_binary, args);
}

/* The residual from check's one line on stdout:
 * "relative residual max_i |op(M)y - r|_i / (|op(M)| |y| + |r|)_i = R (n = N, m = M)". */
static double parse_residual(const char *out, int64_t n, int64_t m)
{
    static const char head[] = "relative residual max_i |op(M)y - r|_i / (|op(M)| |y| + |r|)_i = ";
    if (strncmp(out, head, sizeof head - 1) != 0) fail_msg("check printed: %s", out);
    double r = 0;
    long long got_n = -1, got_m = -1;
    int used = 0;
    if (sscanf(out + sizeof head - 1, "%lf (n = %lld, m = %lld)\n%n", &r, &got_n, &got_m, &used) !=
            3 ||
        out[sizeof head - 1 + (size_t)used] != '\0' || !strchr(out, '\n'))
        fail_msg("check did not print exactly one residual line: %s", out);
    if (got_n != n || got_m != m)
        fail_msg("check reported n = %lld, m = %lld; expected %lld, %lld: %s", got_n, got_m,
                 (long long)n, (long long)m, out);
    return r;
}

/* check --input sys --solution sol [--transpose]: the exit status, with
 * the residual (parsed from stdout; printed whether or not it passes). */
static int run_check(const sys_state *s, const char *sys, const char *sol, int transpose, int64_t n,
                     int64_t m, double *residual)
{
    const char *args[] = {
        "check", "--input", sys, "--solution", sol, transpose ? "--transpose" : NULL, NULL};
    test_run_result r = run_system(s, args);
    int code = r.code;
    if (code == 0)
        assert_string_equal(r.err, "");
    else if (code == EXIT_CHECK)
        test_assert_one_line(r.err, "myo-system", (const char *[]){sol, "exceeds", NULL});
    else
        fail_msg("check exited %d: %s", code, r.err);
    *residual = parse_residual(r.out, n, m);
    test_run_free(&r);
    return code;
}

/* A failing run: the exit status want, nothing on stdout, and exactly one
 * line on stderr mentioning each of mentions (NULL-terminated). */
static void expect_failure(const sys_state *s, const char *const *args, int want,
                           const char *const *mentions)
{
    test_run_result r = run_system(s, args);
    if (r.code != want) fail_msg("exit status %d, expected %d; stderr: %s", r.code, want, r.err);
    assert_string_equal(r.out, "");
    test_assert_one_line(r.err, "myo-system", mentions);
    test_run_free(&r);
}

/* ---------------------------------------------------- generated files */

/* One way to call generate, and what the file must then say. */
typedef struct {
    const char *tree;
    const char *opts[8]; /* after --tree, NULL-terminated */
    int64_t n;           /* --n (tokens for kary) */
    int64_t m;           /* --m; 0 when not given: rhs (N,) */
    int64_t arity;       /* the "arity" attribute */
    int64_t trees;       /* the "trees" attribute (1 unless forest) */
} gen_case;

/* Every tree; the first with every default (n 1K, no --m, seed 1). */
static const gen_case gen_cases[] = {
    {"chain", {NULL}, 1024, 0, 2, 1},
    {"kary", {"--n", "1000", "--arity", "3", "--m", "2", NULL}, 1000, 2, 3, 1},
    {"heap", {"--n", "2K", "--arity", "4", "--m", "3", NULL}, 2048, 3, 4, 1},
    {"star", {"--n", "500", "--m", "1", NULL}, 500, 1, 2, 1}, /* rhs (N, 1), not (N,) */
    {"random", {"--n", "3000", "--m", "2", NULL}, 3000, 2, 2, 1},
    {"forest", {"--n", "3000", "--trees", "7", NULL}, 3000, 0, 2, 7},
};
#define N_GEN_CASES ((int)(sizeof gen_cases / sizeof gen_cases[0]))

/* generate c into path; seed < 0 leaves --seed out (the default, 1). */
static void generate(const sys_state *s, const gen_case *c, int64_t seed, const char *path)
{
    const char *args[24] = {"generate", "--tree", c->tree};
    int k = 3;
    for (const char *const *o = c->opts; *o; o++)
        args[k++] = *o;
    char seed_text[32];
    if (seed >= 0) {
        snprintf(seed_text, sizeof seed_text, "%lld", (long long)seed);
        args[k++] = "--seed", args[k++] = seed_text;
    }
    args[k++] = "--output", args[k++] = path, args[k] = NULL;
    test_run_result r = run_system(s, args);
    if (r.code != 0) fail_msg("generate --tree %s exited %d: %s", c->tree, r.code, r.err);
    assert_string_equal(r.err, "");
    assert_string_equal(r.out, "");
    test_run_free(&r);
}

/* A generated file as read back: the system and the root attributes. */
typedef struct {
    fix_system sys; /* n nodes, m channels, rhs_rank */
    char generator[64], tree[16];
    int64_t n, n_tokens, m, arity, trees, seed;
} gen_file;

static void gen_file_free(gen_file *g)
{
    fix_system_free(&g->sys);
}

static int64_t read_int_attr(hid_t file, const char *path, const char *name)
{
    hid_t a = H5Aexists(file, name) > 0 ? H5Aopen(file, name, H5P_DEFAULT) : -1;
    if (a < 0) fail_msg("%s has no root attribute '%s'", path, name);
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    if (H5Tget_class(type) != H5T_INTEGER || H5Sget_simple_extent_type(space) != H5S_SCALAR)
        fail_msg("%s: attribute '%s' is not a scalar integer", path, name);
    int64_t v = 0;
    if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail_msg("%s: cannot read '%s'", path, name);
    H5Sclose(space), H5Tclose(type), H5Aclose(a);
    return v;
}

static void read_string_attr(hid_t file, const char *path, const char *name, char *buf, size_t size)
{
    hid_t a = H5Aexists(file, name) > 0 ? H5Aopen(file, name, H5P_DEFAULT) : -1;
    if (a < 0) fail_msg("%s has no root attribute '%s'", path, name);
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) ||
        H5Sget_simple_extent_type(space) != H5S_SCALAR || H5Tget_size(type) > size - 1)
        fail_msg("%s: attribute '%s' is not a short fixed-length string", path, name);
    memset(buf, 0, size);
    if (H5Aread(a, type, buf) < 0) fail_msg("%s: cannot read '%s'", path, name);
    H5Sclose(space), H5Tclose(type), H5Aclose(a);
}

/* parent: int64 (N,), owned by the caller. */
static int64_t *read_parent(const char *path, int64_t *n)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dset = file >= 0 ? H5Dopen2(file, "parent", H5P_DEFAULT) : -1;
    if (dset < 0) fail_msg("%s has no dataset 'parent'", path);
    hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
    hsize_t dims[1] = {0};
    if (H5Sget_simple_extent_ndims(space) != 1 || H5Tget_class(type) != H5T_INTEGER ||
        H5Tget_size(type) != 8 || H5Tget_sign(type) != H5T_SGN_2)
        fail_msg("%s: 'parent' is not int64 of rank 1", path);
    H5Sget_simple_extent_dims(space, dims, NULL);
    *n = (int64_t)dims[0];
    int64_t *parent = test_alloc((size_t)*n, sizeof(int64_t));
    if (H5Dread(dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, parent) < 0)
        fail_msg("%s: cannot read 'parent'", path);
    H5Tclose(type), H5Sclose(space), H5Dclose(dset), H5Fclose(file);
    return parent;
}

/* A float64 dataset of shape (n,), or (n, m) when rank is 2; owned. */
static double *read_f64(const char *path, const char *name, int want_rank, int64_t n, int64_t m)
{
    int rank;
    hsize_t dims[2];
    size_t elem;
    double *v = fix_read_doubles(path, name, &rank, dims, &elem);
    if (rank != want_rank || elem != 8 || dims[0] != (hsize_t)n ||
        (rank == 2 && dims[1] != (hsize_t)m))
        fail_msg("%s: '%s' is rank %d, %zu-byte, (%llu, %llu); expected float64 of rank %d, "
                 "(%lld, %lld)",
                 path, name, rank, elem, (unsigned long long)dims[0],
                 (unsigned long long)(rank == 2 ? dims[1] : 0), want_rank, (long long)n,
                 (long long)m);
    return v;
}

/* Read a generated file, checking the documented layout: exactly the
 * datasets parent int64 (N,), diag, up, down float64 (N,), rhs float64
 * (N,) or (N, M), and the eight root attributes. */
static gen_file read_generated(const char *path)
{
    gen_file g;
    memset(&g, 0, sizeof g);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) fail_msg("cannot open %s", path);
    H5G_info_t info;
    if (H5Gget_info(file, &info) < 0 || info.nlinks != 5)
        fail_msg("%s: the root group holds %llu objects, expected the 5 datasets", path,
                 (unsigned long long)info.nlinks);
    read_string_attr(file, path, "generator", g.generator, sizeof g.generator);
    read_string_attr(file, path, "tree", g.tree, sizeof g.tree);
    g.n = read_int_attr(file, path, "n");
    g.n_tokens = read_int_attr(file, path, "n_tokens");
    g.m = read_int_attr(file, path, "m");
    g.arity = read_int_attr(file, path, "arity");
    g.trees = read_int_attr(file, path, "trees");
    g.seed = read_int_attr(file, path, "seed");
    hid_t rhs = H5Dopen2(file, "rhs", H5P_DEFAULT);
    if (rhs < 0) fail_msg("%s has no dataset 'rhs'", path);
    hid_t space = H5Dget_space(rhs);
    g.sys.rhs_rank = H5Sget_simple_extent_ndims(space);
    H5Sclose(space), H5Dclose(rhs), H5Fclose(file);

    fix_system *y = &g.sys;
    y->parent = read_parent(path, &y->n);
    y->m = g.m;
    if (y->n != g.n)
        fail_msg("%s: 'parent' has %lld nodes, attribute n = %lld", path, (long long)y->n,
                 (long long)g.n);
    y->diag = read_f64(path, "diag", 1, y->n, 1);
    y->up = read_f64(path, "up", 1, y->n, 1);
    y->down = read_f64(path, "down", 1, y->n, 1);
    y->rhs = read_f64(path, "rhs", y->rhs_rank, y->n, y->m);
    return g;
}

/* The attributes and shapes c promises, and a parent array that is a forest
 * of the requested kind. */
static void check_layout(const gen_case *c, const gen_file *g, int64_t seed)
{
    const fix_system *y = &g->sys;
    const char *version = "myo-system " PACKAGE_VERSION;
    assert_string_equal(g->generator, version);
    assert_string_equal(g->tree, c->tree);
    assert_int_equal(g->n_tokens, c->n);
    assert_int_equal(g->m, c->m ? c->m : 1);
    assert_int_equal(y->rhs_rank, c->m ? 2 : 1);
    assert_int_equal(g->arity, c->arity);
    assert_int_equal(g->trees, c->trees);
    assert_int_equal(g->seed, seed);
    if (strcmp(c->tree, "kary") != 0) assert_int_equal(g->n, c->n);
    for (int64_t i = 0; i < y->n * y->m; i++)
        if (!isfinite(y->rhs[i])) fail_msg("rhs[%lld] is not finite", (long long)i);
}

/* The number of roots of parent (n,); fails unless it is a forest (every
 * parent in [-1, n), no cycle).  Marks: 0 unseen, 1 on the current path,
 * 2 known to reach a root. */
static int64_t count_roots(const int64_t *parent, int64_t n)
{
    unsigned char *mark = test_alloc((size_t)n, 1);
    int64_t roots = 0;
    for (int64_t i = 0; i < n; i++) {
        if (parent[i] < -1 || parent[i] >= n)
            fail_msg("parent[%lld] = %lld is out of range", (long long)i, (long long)parent[i]);
        roots += parent[i] == -1;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t j = i;
        while (j >= 0 && mark[j] == 0)
            mark[j] = 1, j = parent[j];
        if (j >= 0 && mark[j] == 1) fail_msg("node %lld is on a cycle", (long long)j);
        for (j = i; j >= 0 && mark[j] == 1; j = parent[j])
            mark[j] = 2;
    }
    free(mark);
    return roots;
}

/* Some node has a parent with a larger label: not in generation order. */
static int has_shuffled_labels(const int64_t *parent, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (parent[i] > i) return 1;
    return 0;
}

/* The structure --help documents for each tree. */
static void check_tree(const gen_case *c, const gen_file *g)
{
    const int64_t *p = g->sys.parent, n = g->sys.n;
    int64_t roots = count_roots(p, n);
    if (strcmp(c->tree, "chain") == 0) {
        for (int64_t i = 0; i < n; i++)
            assert_int_equal(p[i], i - 1);
    } else if (strcmp(c->tree, "heap") == 0) {
        for (int64_t i = 0; i < n; i++)
            assert_int_equal(p[i], i == 0 ? -1 : (i - 1) / c->arity);
    } else if (strcmp(c->tree, "star") == 0) {
        for (int64_t i = 0; i < n; i++)
            assert_int_equal(p[i], i == 0 ? -1 : 0);
    } else if (strcmp(c->tree, "kary") == 0) {
        /* Tokens 0 .. n_tokens-1 are the leaves, virtual nodes from n_tokens
         * (the root) each have 2 .. arity children; the numbering is the
         * library's builder's. */
        assert_true(n > c->n);
        assert_int_equal(roots, 1);
        assert_int_equal(p[c->n], -1);
        int64_t *children = test_alloc((size_t)n, sizeof(int64_t));
        for (int64_t i = 0; i < n; i++)
            if (p[i] >= 0) children[p[i]]++;
        for (int64_t i = 0; i < n; i++) {
            int leaf_ok = i < c->n ? children[i] == 0 : children[i] >= 2 && children[i] <= c->arity;
            if (!leaf_ok)
                fail_msg("kary node %lld has %lld children", (long long)i, (long long)children[i]);
        }
        free(children);
        myo_tree *t = NULL;
        assert_int_equal(myo_tree_create_kary(c->n, (int)c->arity, &t), MYO_OK);
        assert_int_equal(myo_tree_num_nodes(t), n);
        assert_memory_equal(myo_tree_parents(t), p, (size_t)n * sizeof(int64_t));
        myo_tree_destroy(&t);
    } else { /* random, forest: random recursive trees, labels shuffled */
        assert_int_equal(roots, c->trees);
        assert_true(has_shuffled_labels(p, n));
    }
    if (strcmp(c->tree, "kary") != 0 && strcmp(c->tree, "forest") != 0) assert_int_equal(roots, 1);
}

static void test_myo_system_generate_writes_documented_layout_for_every_tree(void **state)
{
    sys_state *s = *state;
    for (int k = 0; k < N_GEN_CASES; k++) {
        const gen_case *c = &gen_cases[k];
        generate(s, c, k == 0 ? -1 : 100 + k, s->sys);
        fix_assert_dir_holds(s->work, "system.h5"); /* no temporary file left */
        gen_file g = read_generated(s->sys);
        check_layout(c, &g, k == 0 ? 1 : 100 + k);
        check_tree(c, &g);
        gen_file_free(&g);
        unlink(s->sys);
    }
}

/* |diag_i| > the off-diagonal sums of row i and of column i.  M[i][p] = up[i]
 * (row i, column p), M[p][i] = down[i] (row p, column i); roots have
 * up = down = 0.  Returns the smallest |diag_i| - max(row_i, col_i). */
static double dominance_margin(const fix_system *y)
{
    const int64_t n = y->n;
    double *row = test_alloc((size_t)n, sizeof(double)),
           *col = test_alloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        int64_t p = y->parent[i];
        if (p < 0) {
            if (y->up[i] != 0 || y->down[i] != 0)
                fail_msg("root %lld has up = %g, down = %g; expected 0", (long long)i, y->up[i],
                         y->down[i]);
            continue;
        }
        row[i] += fabs(y->up[i]), col[p] += fabs(y->up[i]);
        row[p] += fabs(y->down[i]), col[i] += fabs(y->down[i]);
    }
    double worst = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double margin = fabs(y->diag[i]) - fmax(row[i], col[i]);
        if (!(margin >= worst)) worst = margin;
    }
    free(row), free(col);
    return worst;
}

static void test_myo_system_generate_is_strictly_diagonally_dominant(void **state)
{
    sys_state *s = *state;
    for (int k = 0; k < N_GEN_CASES; k++) {
        const gen_case *c = &gen_cases[k];
        for (int64_t seed = 1; seed <= 2; seed++) {
            generate(s, c, 200 + seed, s->sys);
            gen_file g = read_generated(s->sys);
            double margin = dominance_margin(&g.sys);
            if (!(margin > 0))
                fail_msg("--tree %s --seed %lld: |diag| exceeds the off-diagonal sums by only "
                         "%.3e",
                         c->tree, (long long)(200 + seed), margin);
            gen_file_free(&g);
        }
    }
}

/* Every dataset and attribute of a and b equal, bit for bit. */
static void assert_same_contents(const gen_file *a, const gen_file *b, const char *tree)
{
    const fix_system *x = &a->sys, *y = &b->sys;
    if (x->n != y->n || x->m != y->m || x->rhs_rank != y->rhs_rank)
        fail_msg("--tree %s: shapes differ", tree);
    size_t n = (size_t)x->n;
    if (memcmp(x->parent, y->parent, n * sizeof(int64_t)) || memcmp(x->diag, y->diag, n * 8) ||
        memcmp(x->up, y->up, n * 8) || memcmp(x->down, y->down, n * 8) ||
        memcmp(x->rhs, y->rhs, n * (size_t)x->m * 8))
        fail_msg("--tree %s: the same seed gave different datasets", tree);
    if (strcmp(a->generator, b->generator) || strcmp(a->tree, b->tree) || a->n != b->n ||
        a->n_tokens != b->n_tokens || a->m != b->m || a->arity != b->arity ||
        a->trees != b->trees || a->seed != b->seed)
        fail_msg("--tree %s: the same seed gave different attributes", tree);
}

static void test_myo_system_generate_same_seed_gives_same_bytes(void **state)
{
    sys_state *s = *state;
    char *again = fix_path(s->work, "again.h5");
    for (int k = 0; k < N_GEN_CASES; k++) {
        const gen_case *c = &gen_cases[k];
        generate(s, c, 300 + k, s->sys);
        fix_write_bytes(again, "an older file, replaced", 23);
        generate(s, c, 300 + k, again);
        gen_file a = read_generated(s->sys), b = read_generated(again);
        assert_same_contents(&a, &b, c->tree);
        size_t size_a = 0, size_b = 0;
        unsigned char *bytes_a = test_read_file(s->sys, &size_a);
        unsigned char *bytes_b = test_read_file(again, &size_b);
        assert_int_equal(size_a, size_b);
        assert_memory_equal(bytes_a, bytes_b, size_a);
        free(bytes_a), free(bytes_b);
        gen_file_free(&a), gen_file_free(&b);
    }
    free(again);
}

static int differs(const double *a, const double *b, int64_t count)
{
    return memcmp(a, b, (size_t)count * sizeof(double)) != 0;
}

static void test_myo_system_generate_different_seeds_differ(void **state)
{
    sys_state *s = *state;
    char *other = fix_path(s->work, "other.h5");
    for (int k = 0; k < N_GEN_CASES; k++) {
        const gen_case *c = &gen_cases[k];
        generate(s, c, 1, s->sys);
        generate(s, c, 2, other);
        gen_file a = read_generated(s->sys), b = read_generated(other);
        const fix_system *x = &a.sys, *y = &b.sys;
        assert_int_equal(x->n, y->n);
        if (!differs(x->diag, y->diag, x->n) || !differs(x->up, y->up, x->n) ||
            !differs(x->down, y->down, x->n) || !differs(x->rhs, y->rhs, x->n * x->m))
            fail_msg("--tree %s: seeds 1 and 2 gave equal coefficients or rhs", c->tree);
        int random_shape = !strcmp(c->tree, "random") || !strcmp(c->tree, "forest");
        int parents_differ = memcmp(x->parent, y->parent, (size_t)x->n * sizeof(int64_t)) != 0;
        if (parents_differ != random_shape)
            fail_msg("--tree %s: the parent arrays of seeds 1 and 2 %s", c->tree,
                     parents_differ ? "differ" : "are equal");
        assert_int_equal(a.seed, 1);
        assert_int_equal(b.seed, 2);
        gen_file_free(&a), gen_file_free(&b);
    }
    free(other);
}

/* ---------------------------------------------------------------- check */

static void test_myo_system_generate_solve_check_passes_for_every_tree(void **state)
{
    sys_state *s = *state;
    for (int k = 0; k < N_GEN_CASES; k++) {
        const gen_case *c = &gen_cases[k];
        generate(s, c, 400 + k, s->sys);
        solve(s, s->sys, s->sol, 0);
        gen_file g = read_generated(s->sys);
        double r = -1;
        int code = run_check(s, s->sys, s->sol, 0, g.sys.n, g.sys.m, &r);
        if (code != 0 || !(r <= DEFAULT_TOLERANCE))
            fail_msg("--tree %s: check exited %d with residual %.3e", c->tree, code, r);
        gen_file_free(&g);
    }
}

static void test_myo_system_single_node_systems_pass_check(void **state)
{
    sys_state *s = *state;
    const gen_case cases[] = {
        {"chain", {"--n", "1", NULL}, 1, 0, 2, 1},
        {"kary", {"--n", "1", NULL}, 1, 0, 2, 1},
        {"heap", {"--n", "1", "--m", "2", NULL}, 1, 2, 2, 1},
        {"star", {"--n", "1", NULL}, 1, 0, 2, 1},
        {"random", {"--n", "1", NULL}, 1, 0, 2, 1},
        {"forest", {"--n", "1", "--trees", "1", NULL}, 1, 0, 2, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        generate(s, &cases[k], -1, s->sys);
        gen_file g = read_generated(s->sys);
        check_layout(&cases[k], &g, 1);
        assert_int_equal(g.sys.parent[0], -1);
        gen_file_free(&g);
        solve(s, s->sys, s->sol, 0);
        double r;
        assert_int_equal(run_check(s, s->sys, s->sol, 0, 1, cases[k].m ? cases[k].m : 1, &r), 0);
    }
}

/* A random tree of 2000 nodes, rhs (2000, 2): up and down differ, so M and
 * M^T have different solutions. */
static const gen_case transpose_case = {"random", {"--n", "2000", "--m", "2", NULL}, 2000, 2, 2, 1};

static void test_myo_system_check_transpose_needs_the_transposed_solve(void **state)
{
    sys_state *s = *state;
    char *sol_t = fix_path(s->work, "solution-t.h5");
    generate(s, &transpose_case, 500, s->sys);
    solve(s, s->sys, s->sol, 0);
    solve(s, s->sys, sol_t, 1);
    double r;
    /* Each solution passes the check of its own operator ... */
    assert_int_equal(run_check(s, s->sys, sol_t, 1, 2000, 2, &r), 0);
    assert_true(r <= DEFAULT_TOLERANCE);
    assert_int_equal(run_check(s, s->sys, s->sol, 0, 2000, 2, &r), 0);
    /* ... and fails the other's, with the residual still printed. */
    assert_int_equal(run_check(s, s->sys, s->sol, 1, 2000, 2, &r), EXIT_CHECK);
    assert_true(r > 1e-6);
    assert_int_equal(run_check(s, s->sys, sol_t, 0, 2000, 2, &r), EXIT_CHECK);
    assert_true(r > 1e-6);
    free(sol_t);
}

/* Write dataset "solution" (n,) or (n, m) of y into path, as myo-solve would. */
static void write_solution(const char *path, const double *y, int rank, hsize_t n, hsize_t m)
{
    fix_spec spec = {"solution", FIX_DATASET, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank, {n, m, 0},
                     y};
    fix_write_specs(path, &spec, 1);
}

static void test_myo_system_check_perturbed_solution_exits_7(void **state)
{
    sys_state *s = *state;
    char *bad = fix_path(s->work, "perturbed.h5");
    generate(s, &transpose_case, 600, s->sys);
    solve(s, s->sys, s->sol, 0);
    int rank;
    hsize_t dims[2];
    size_t elem;
    double *y = fix_read_doubles(s->sol, "solution", &rank, dims, &elem);
    assert_int_equal(rank, 2);
    double r;
    /* One value off by a relative 1e-6: far above the default tolerance,
     * well below a loose one. */
    const int64_t at = 2 * 1234 + 1;
    y[at] *= 1 + 1e-6;
    write_solution(bad, y, 2, dims[0], dims[1]);
    assert_int_equal(run_check(s, s->sys, bad, 0, 2000, 2, &r), EXIT_CHECK);
    assert_true(r > DEFAULT_TOLERANCE && r < 1e-5);
    const char *loose[] = {"check", "--input",     s->sys, "--solution",
                           bad,     "--tolerance", "1e-4", NULL};
    run_ok(s, myo_system_binary, loose);
    /* A NaN or an infinity is never within tolerance, however loose, at the
     * first node, in the middle or at the last. */
    const double wild[] = {NAN, INFINITY, -INFINITY};
    const int64_t where[] = {0, at, 2 * 2000 - 1};
    for (int w = 0; w < 3; w++) {
        double keep = y[where[w]];
        y[where[w]] = wild[w];
        write_solution(bad, y, 2, dims[0], dims[1]);
        test_run_result res = run_system(s, loose);
        if (res.code != EXIT_CHECK)
            fail_msg("solution[%lld] = %g: check exited %d, expected %d; stdout: %s",
                     (long long)where[w], wild[w], res.code, EXIT_CHECK, res.out);
        test_assert_one_line(res.err, "myo-system", (const char *[]){bad, "exceeds", NULL});
        test_run_free(&res);
        y[where[w]] = keep;
    }
    free(y), free(bad);
}

static void test_myo_system_check_solution_shape_mismatch_exits_3(void **state)
{
    sys_state *s = *state;
    char *bad = fix_path(s->work, "misshaped.h5");
    const gen_case c = {"random", {"--n", "40", "--m", "3", NULL}, 40, 3, 2, 1};
    generate(s, &c, 700, s->sys);
    double *zeros = test_alloc(4 * 41 * 3, sizeof(double));
    const struct {
        int rank;
        hsize_t dims[3];
    } shapes[] = {{1, {40, 0, 0}}, {2, {39, 3, 0}}, {2, {41, 3, 0}}, {2, {40, 2, 0}},
                  {2, {40, 4, 0}}, {2, {3, 40, 0}}, {3, {40, 3, 1}}};
    const char *args[] = {"check", "--input", s->sys, "--solution", bad, NULL};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        fix_spec spec = {"solution",     FIX_DATASET,
                         H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                         shapes[k].rank, {shapes[k].dims[0], shapes[k].dims[1], shapes[k].dims[2]},
                         zeros};
        fix_write_specs(bad, &spec, 1);
        expect_failure(s, args, EXIT_DATA, (const char *[]){bad, "'solution'", NULL});
    }
    /* Integers, and no dataset 'solution' at all. */
    fix_spec ints = {"solution", FIX_DATASET, H5T_STD_I64LE, H5T_NATIVE_INT64,
                     2,          {40, 3, 0},  zeros};
    fix_write_specs(bad, &ints, 1);
    expect_failure(s, args, EXIT_DATA, (const char *[]){bad, "'solution'", NULL});
    fix_spec other = {"x", FIX_DATASET, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, {40, 3, 0}, zeros};
    fix_write_specs(bad, &other, 1);
    expect_failure(s, args, EXIT_DATA, (const char *[]){bad, "'solution'", "missing", NULL});
    free(zeros), free(bad);
}

static void test_myo_system_check_accepts_n_by_1_solution_of_vector_rhs(void **state)
{
    sys_state *s = *state;
    char *column = fix_path(s->work, "column.h5");
    const gen_case c = {"heap", {"--n", "300", NULL}, 300, 0, 2, 1}; /* rhs (300,) */
    generate(s, &c, 800, s->sys);
    solve(s, s->sys, s->sol, 0);
    int rank;
    hsize_t dims[2];
    size_t elem;
    double *y = fix_read_doubles(s->sol, "solution", &rank, dims, &elem);
    assert_int_equal(rank, 1);
    write_solution(column, y, 2, 300, 1); /* the same numbers as (300, 1) */
    double r;
    assert_int_equal(run_check(s, s->sys, column, 0, 300, 1, &r), 0);
    free(y), free(column);
}

static void test_myo_system_check_invalid_system_exits_3(void **state)
{
    sys_state *s = *state;
    int64_t parent[6] = {-1, 0, 3, 4, 2, 0}; /* 2 -> 3 -> 4 -> 2 */
    fix_system sys = fix_system_make(parent, 6, 1, 1, 900);
    fix_write_system(s->sys, &sys);
    double y[6] = {0};
    write_solution(s->sol, y, 1, 6, 1);
    const char *args[] = {"check", "--input", s->sys, "--solution", s->sol, NULL};
    expect_failure(s, args, EXIT_DATA, (const char *[]){s->sys, "not a forest", NULL});
    /* A dataset missing from the system. */
    fix_spec spec[FIX_COUNT];
    sys.parent[2] = 1;
    fix_system_specs(&sys, spec);
    spec[FIX_DOWN].kind = FIX_ABSENT;
    fix_write_specs(s->sys, spec, FIX_COUNT);
    expect_failure(s, args, EXIT_DATA, (const char *[]){s->sys, "'down'", NULL});
    fix_system_free(&sys);
}

static void test_myo_system_check_missing_files_exit_5(void **state)
{
    sys_state *s = *state;
    char *absent = fix_path(s->work, "absent.h5");
    char *text = fix_path(s->work, "text.h5");
    const gen_case c = {"chain", {"--n", "50", NULL}, 50, 0, 2, 1};
    generate(s, &c, 1000, s->sys);
    solve(s, s->sys, s->sol, 0);
    fix_write_bytes(text, "not HDF5\n", 9);
    const char *const cases[][2] = {
        {absent, s->sol}, {s->sys, absent}, {text, s->sol}, {s->sys, text}, {s->work, s->sol}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *args[] = {"check", "--input", cases[k][0], "--solution", cases[k][1], NULL};
        const char *culprit = k == 1 || k == 3 ? cases[k][1] : cases[k][0];
        expect_failure(s, args, EXIT_IO, (const char *[]){culprit, NULL});
    }
    free(absent), free(text);
}

/* ------------------------------------------------------------- generate */

static void test_myo_system_failed_generate_leaves_no_file(void **state)
{
    sys_state *s = *state;
    const char *previous = "an earlier system that a failed run must not touch\n";
    /* A missing directory, a file used as a directory, a directory as the
     * output: all fail even for root. */
    char *missing = fix_path(s->work, "no-such-dir/system.h5");
    char *plain = fix_path(s->work, "plain");
    char *under_plain = fix_path(plain, "system.h5");
    char *subdir = fix_path(s->work, "a-directory");
    fix_write_bytes(plain, previous, strlen(previous));
    assert_int_equal(mkdir(subdir, 0700), 0);
    const char *outputs[] = {missing, under_plain, subdir};
    for (int k = 0; k < 3; k++) {
        const char *args[] = {"generate", "--tree",   "random",   "--n",
                              "100",      "--output", outputs[k], NULL};
        expect_failure(s, args, EXIT_IO, (const char *[]){outputs[k], NULL});
        fix_assert_file_bytes(plain, previous, strlen(previous));
        fix_assert_dir_holds(subdir, NULL);
    }
    unlink(plain);
    rmdir(subdir);
    fix_assert_dir_holds(s->work, NULL);
    const char *args[] = {"generate", "--tree", "chain", "--n", "100K", "--output", s->sys, NULL};
    if (geteuid() != 0) { /* permissions do not stop root */
        assert_int_equal(chmod(s->work, 0500), 0);
        expect_failure(s, args, EXIT_IO, (const char *[]){s->sys, NULL});
        assert_int_equal(chmod(s->work, 0700), 0);
        fix_assert_dir_holds(s->work, NULL);
    }
    /* A disk that fills up: 100K nodes (4 MB) under a 64 kB file-size limit,
     * with and without an earlier file in the way; no temporary file stays. */
    for (int existing = 0; existing < 2; existing++) {
        if (existing) fix_write_bytes(s->sys, previous, strlen(previous));
        test_run_result r = run_tool(s, myo_system_binary, args, 65536);
        if (r.code != EXIT_IO) fail_msg("exit status %d, expected %d: %s", r.code, EXIT_IO, r.err);
        test_assert_one_line(r.err, "myo-system", (const char *[]){s->sys, NULL});
        test_run_free(&r);
        if (existing) fix_assert_file_bytes(s->sys, previous, strlen(previous));
        fix_assert_dir_holds(s->work, existing ? "system.h5" : NULL);
    }
    free(missing), free(plain), free(under_plain), free(subdir);
}

/* ---------------------------------------------------------- command line */

/* A usage error: exit 2, nothing on stdout, one diagnostic line
 * "myo-system: ..." mentioning `mention`, followed by the subcommand's
 * synopsis for errors inside a subcommand (synopsis "generate" or "check")
 * and by nothing otherwise (synopsis NULL). */
static void expect_usage_error(const sys_state *s, const char *const *args, const char *mention,
                               const char *synopsis)
{
    test_run_result r = run_system(s, args);
    if (r.code != EXIT_USAGE)
        fail_msg("%s ...: exit status %d, expected %d; stderr: %s", args[0] ? args[0] : "(none)",
                 r.code, EXIT_USAGE, r.err);
    assert_string_equal(r.out, "");
    test_assert_one_line(r.err, "myo-system", (const char *[]){mention, NULL});
    if (synopsis && !strstr(r.err, "--help"))
        fail_msg("the %s usage error does not point to --help: %s", synopsis, r.err);
    test_run_free(&r);
}

/* The vocabulary's trees: kary<k> and heap<k> write the same file as kary
 * and heap with --arity k (the file says kary or heap, arity k), and --n
 * takes 2^k. */
static void test_myo_system_generate_takes_the_vocabulary_trees(void **state)
{
    sys_state *s = *state;
    char *again = fix_path(s->work, "again.h5");
    const struct {
        gen_case spelled, reference;
    } cases[] = {
        {{"kary4", {"--n", "2^10", NULL}, 1024, 0, 4, 1},
         {"kary", {"--n", "1024", "--arity", "4", NULL}, 1024, 0, 4, 1}},
        {{"heap3", {"--n", "2^9", "--arity", "7", NULL}, 512, 0, 3, 1},
         {"heap", {"--n", "512", "--arity", "3", NULL}, 512, 0, 3, 1}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        generate(s, &cases[k].spelled, 600, s->sys);
        generate(s, &cases[k].reference, 600, again);
        gen_file a = read_generated(s->sys), b = read_generated(again);
        check_layout(&cases[k].reference, &a, 600);
        check_tree(&cases[k].reference, &a);
        assert_same_contents(&a, &b, cases[k].spelled.tree);
        gen_file_free(&a), gen_file_free(&b);
    }
    unlink(again);
    free(again);
    const char *o = s->sys;
    unlink(o);
    expect_usage_error(s, (const char *[]){"generate", "--tree", "kary65", "--output", o, NULL},
                       "kary65", "generate");
    expect_usage_error(s,
                       (const char *[]){"generate", "--tree", "chain,heap2", "--output", o, NULL},
                       "chain,heap2", "generate");
    fix_assert_dir_holds(s->work, NULL);
}

static void test_myo_system_usage_errors_exit_2(void **state)
{
    sys_state *s = *state;
    const char *o = s->sys;
    const struct {
        const char *args[12];
        const char *mention;
    } gen[] = {
        {{"generate", "--tree", "oak", "--output", o, NULL}, "oak"},
        {{"generate", "--tree", "chain", "--n", "0", "--output", o, NULL}, "--n"},
        {{"generate", "--tree", "chain", "--n", "-5", "--output", o, NULL}, "--n"},
        {{"generate", "--tree", "chain", "--n", "12x", "--output", o, NULL}, "12x"},
        {{"generate", "--tree", "chain", "--m", "0", "--output", o, NULL}, "--m"},
        {{"generate", "--tree", "kary", "--arity", "1", "--output", o, NULL}, "--arity"},
        {{"generate", "--tree", "heap", "--arity", "2G", "--output", o, NULL}, "--arity"},
        {{"generate", "--tree", "forest", "--n", "3", "--trees", "4", "--output", o, NULL},
         "--trees"},
        {{"generate", "--tree", "forest", "--trees", "0", "--output", o, NULL}, "--trees"},
        {{"generate", "--tree", "chain", "--seed", "-1", "--output", o, NULL}, "--seed"},
        {{"generate", "--tree", "chain", NULL}, "--output"},
        {{"generate", "--tree", "chain", "--output", NULL}, "--output"},
        {{"generate", "--output", o, NULL}, "--tree"},
        {{"generate", "--tree", "chain", "--output", o, "extra", NULL}, "extra"},
        {{"generate", "--tree", "chain", "--output", o, "--frobnicate", NULL}, "--frobnicate"},
        {{"generate", "--tree", "chain", "--output", o, "-z", NULL}, "-z"},
        {{"generate", "--tree", "chain", "--output", o, "--help=yes", NULL}, "--help"},
    };
    for (size_t k = 0; k < sizeof gen / sizeof gen[0]; k++) {
        expect_usage_error(s, gen[k].args, gen[k].mention, "generate");
        fix_assert_dir_holds(s->work, NULL); /* nothing written */
    }

    const gen_case c = {"chain", {"--n", "20", NULL}, 20, 0, 2, 1};
    generate(s, &c, 1100, s->sys);
    solve(s, s->sys, s->sol, 0);
    const char *i = s->sys, *y = s->sol;
    const struct {
        const char *args[10];
        const char *mention;
    } chk[] = {
        {{"check", "--solution", y, NULL}, "--input"},
        {{"check", "--input", i, NULL}, "--solution"},
        {{"check", "--input", i, "--solution", y, "--tolerance", "abc", NULL}, "abc"},
        {{"check", "--input", i, "--solution", y, "--tolerance", "-1", NULL}, "-1"},
        {{"check", "--input", i, "--solution", y, "--tolerance", "nan", NULL}, "nan"},
        {{"check", "--input", i, "--solution", y, "--tolerance", NULL}, "--tolerance"},
        {{"check", "--input", i, "--solution", y, "--transpose=yes", NULL}, "--transpose"},
        {{"check", "--input", i, "--solution", y, "--tree", "chain", NULL}, "--tree"},
        {{"check", "--input", i, "--solution", y, "-z", NULL}, "-z"},
        {{"check", "--input", i, "--solution", y, "extra", NULL}, "extra"},
    };
    for (size_t k = 0; k < sizeof chk / sizeof chk[0]; k++)
        expect_usage_error(s, chk[k].args, chk[k].mention, "check");

    /* No subcommand, or an unknown one: the line alone. */
    expect_usage_error(s, (const char *[]){NULL}, "subcommand", NULL);
    expect_usage_error(s, (const char *[]){"solve", "--input", i, NULL}, "'solve'", NULL);
    expect_usage_error(s, (const char *[]){"--tree", "chain", NULL}, "'--tree'", NULL);
    expect_usage_error(s, (const char *[]){"Generate", NULL}, "'Generate'", NULL);
}

static void test_myo_system_help_and_version_exit_0(void **state)
{
    sys_state *s = *state;
    const char *const helps[][3] = {
        {"--help", NULL}, {"-h", NULL}, {"generate", "--help", NULL}, {"check", "-h", NULL}};
    /* The subcommands, options, trees, file format and exit codes. */
    const char *documented[] = {
        "generate",      "check",       "--tree",    "chain",   "kary",       "heap",
        "star",          "random",      "forest",    "--n",     "--m",        "--arity",
        "--trees",       "--seed",      "--output",  "--input", "--solution", "--transpose",
        "--tolerance",   "parent",      "diag",      "up",      "down",       "rhs",
        "solution",      "Exit status", "0 success", "2 usage", "3 invalid",  "5 a file",
        "7 the residual"};
    for (size_t h = 0; h < sizeof helps / sizeof helps[0]; h++) {
        test_run_result r = run_system(s, helps[h]);
        assert_int_equal(r.code, 0);
        assert_string_equal(r.err, "");
        for (size_t k = 0; k < sizeof documented / sizeof documented[0]; k++)
            if (!strstr(r.out, documented[k]))
                fail_msg("%s %s does not mention \"%s\"", helps[h][0],
                         helps[h][1] ? helps[h][1] : "", documented[k]);
        test_run_free(&r);
    }
    const char *banner = "myo-system (" PACKAGE_NAME ") " PACKAGE_VERSION;
    const char *versions[] = {"--version", "-V"};
    for (int v = 0; v < 2; v++) {
        test_run_result r = run_system(s, (const char *[]){versions[v], NULL});
        assert_int_equal(r.code, 0);
        assert_string_equal(r.err, "");
        if (strncmp(r.out, banner, strlen(banner)) != 0)
            fail_msg("%s printed \"%s\", expected it to start with \"%s\"", versions[v], r.out,
                     banner);
        test_run_free(&r);
    }
    fix_assert_dir_holds(s->work, NULL);
}

int main(void)
{
    myo_system_binary = test_tool_path("myo-system");
    myo_solve_binary = test_tool_path("myo-solve");
    if (!myo_system_binary || !myo_solve_binary) return 1;
#define T(name) cmocka_unit_test_setup_teardown(name, sys_setup, sys_teardown)
    const struct CMUnitTest tests[] = {
        T(test_myo_system_generate_writes_documented_layout_for_every_tree),
        T(test_myo_system_generate_is_strictly_diagonally_dominant),
        T(test_myo_system_generate_same_seed_gives_same_bytes),
        T(test_myo_system_generate_takes_the_vocabulary_trees),
        T(test_myo_system_generate_different_seeds_differ),
        T(test_myo_system_generate_solve_check_passes_for_every_tree),
        T(test_myo_system_single_node_systems_pass_check),
        T(test_myo_system_check_transpose_needs_the_transposed_solve),
        T(test_myo_system_check_perturbed_solution_exits_7),
        T(test_myo_system_check_solution_shape_mismatch_exits_3),
        T(test_myo_system_check_accepts_n_by_1_solution_of_vector_rhs),
        T(test_myo_system_check_invalid_system_exits_3),
        T(test_myo_system_check_missing_files_exit_5),
        T(test_myo_system_failed_generate_leaves_no_file),
        T(test_myo_system_usage_errors_exit_2),
        T(test_myo_system_help_and_version_exit_0),
    };
#undef T
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(myo_system_binary), free(myo_solve_binary);
    return failed;
}
