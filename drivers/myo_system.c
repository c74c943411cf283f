/* myo_system.c -- myo-system: make and check tree-structured systems.
 *
 *   myo-system generate  writes a random strictly diagonally dominant system
 *                        in the format myo-solve reads;
 *   myo-system check     measures the residual of a solution against the
 *                        system, straight from the tree definition (an
 *                        independent check: no factor, no solver).
 *
 * Files are HDF5 (README.md, "File format"); generate writes to a
 * temporary name in the target directory and renames it when complete. */
#include <config.h>

#include "cli.h"
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL "myo-system"

static const char *const myo_system_generate_usage =
    "usage: " TOOL " generate --tree chain|kary<k>|heap<k>|kary|heap|star|random|forest\n"
    "           [--n N] [--m M] [--arity K] [--trees T] [--seed S] --output FILE\n";
static const char *const myo_system_check_usage =
    "usage: " TOOL " check --input SYSTEM --solution SOLUTION [--transpose] [--tolerance T]\n";

static void myo_system_help(void)
{
    printf("Usage: " TOOL " generate|check [OPTION]...\n"
           "       " TOOL " SUBCOMMAND --help\n"
           "\n"
           "Make and check tree-structured systems M Y = R (the files myo-solve reads).\n"
           "\n"
           "%s"
           "  Write a random system whose M is strictly diagonally dominant by rows\n"
           "  and by columns (so every pivot is nonzero and the solve is stable).\n"
           "    --tree T       chain (parent(i) = i-1), kary<k> (balanced hierarchy of\n"
           "                   arity k over the N tokens, plus virtual internal nodes\n"
           "                   numbered from N), heap<k> (parent(i) = (i-1)/k), with\n"
           "                   2 <= k <= 64; kary and heap take K from --arity; star\n"
           "                   (node 0 is the parent of all others), random (random\n"
           "                   recursive tree, labels shuffled), forest (T random\n"
           "                   recursive trees, labels shuffled)\n"
           "    --n N          nodes (for kary: tokens); K, M, G suffixes (powers of 1024)\n"
           "                   or 2^k; default 1K\n"
           "    --m M          channels: rhs has shape (N, M); without --m it is (N,)\n"
           "    --arity K      for kary and heap written without k, default 2\n"
           "    --trees T      for forest, default 4\n"
           "    --seed S       random seed, default 1\n"
           "    --output FILE  the system file to write\n"
           "  Datasets: parent int64 (N,), diag, up, down float64 (N,), rhs float64;\n"
           "  root-group attributes record the generator and its parameters.\n"
           "\n"
           "%s"
           "  Print the relative residual\n"
           "    max_i |op(M)y - r|_i / (|op(M)| |y| + |r|)_i\n"
           "  of the dataset 'solution' in SOLUTION, computed directly from the tree.\n"
           "    --transpose    op(M) = M^T (default op(M) = M)\n"
           "    --tolerance T  largest residual accepted, default 1e-10\n"
           "\n"
           "Exit status: 0 success, 2 usage error, 3 invalid data or mismatched shapes,\n"
           "5 a file cannot be read or written, 6 out of memory or internal failure,\n"
           "7 the residual exceeds the tolerance.\n",
           myo_system_generate_usage, myo_system_check_usage);
}

/* One diagnostic line on stderr; usage errors (usage not NULL) point to
 * the help. */
static int myo_system_fail(int code, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int myo_system_fail(int code, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    myo_cli_vfail(TOOL, code, usage != NULL, fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------- generate */

typedef struct {
    const char *tree;
    int64_t n; /* --n: nodes, or tokens for kary */
    int64_t m; /* channels; 0 when --m was not given (rhs is (N,)) */
    int64_t arity;
    int64_t trees;
    uint64_t seed;
    const char *output;
} myo_system_gen_options;

/* The parent array of the requested tree: *parent (*nodes,), owned by the
 * caller.  Returns an exit code. */
static int myo_system_make_parents(const myo_system_gen_options *o, myo_rng *rng, int64_t **parent,
                                   int64_t *nodes)
{
    const int64_t n = o->n;
    myo_tree *t = NULL;
    myo_status s = MYO_OK;
    *parent = NULL;
    if (strcmp(o->tree, "chain") == 0)
        s = myo_tree_create_chain(n, &t);
    else if (strcmp(o->tree, "heap") == 0)
        s = myo_tree_create_heap(n, (int)o->arity, &t);
    else if (strcmp(o->tree, "kary") == 0)
        s = myo_tree_create_kary(n, (int)o->arity, &t);
    if (s != MYO_OK)
        return myo_system_fail(myo_cli_exit_code(s), NULL, "generate: %s", myo_error_detail());
    *nodes = t ? myo_tree_num_nodes(t) : n;
    int64_t *p = malloc((size_t)*nodes * sizeof(int64_t));
    if (!p) {
        myo_tree_destroy(&t);
        return myo_system_fail(MYO_EXIT_INTERNAL, NULL, "generate: out of memory for %lld nodes",
                               (long long)*nodes);
    }
    if (t) { /* the library's builders: chain, heap, kary */
        memcpy(p, myo_tree_parents(t), (size_t)*nodes * sizeof(int64_t));
        myo_tree_destroy(&t);
    } else if (strcmp(o->tree, "star") == 0) {
        p[0] = -1;
        for (int64_t i = 1; i < n; i++)
            p[i] = 0;
    } else { /* random recursive trees: node i hangs below a uniform earlier node */
        int64_t roots = strcmp(o->tree, "forest") == 0 ? o->trees : 1;
        myo_random_forest_parents(n, roots, rng, p);
        if (myo_random_shuffle_labels(p, n, rng, NULL) != MYO_OK) {
            free(p);
            return myo_system_fail(MYO_EXIT_INTERNAL, NULL,
                                   "generate: out of memory shuffling labels");
        }
    }
    *parent = p;
    return MYO_EXIT_OK;
}

/* A subcommand's options (argv[0] is the subcommand): -1 when the
 * command line is complete, else the exit code (help, version, or a usage
 * error said in one line). */
static int myo_system_parse(int argc, char **argv, const opt_spec *specs, int count,
                            const char *usage)
{
    char msg[1024];
    switch (opt_parse(argc, argv, specs, count, msg, sizeof msg)) {
    case OPT_HELP:
        myo_system_help();
        return MYO_EXIT_OK;
    case OPT_VERSION:
        myo_cli_print_version(TOOL);
        return MYO_EXIT_OK;
    case OPT_BAD:
        return myo_system_fail(MYO_EXIT_USAGE, usage, "%s: %s", argv[0], msg);
    }
    return -1;
}

static int myo_system_generate(int argc, char **argv)
{
    /* the vocabulary's trees (chain, kary<k>, heap<k>), kary and heap of
     * --arity, and this tool's own */
    static const char *const tree_words[] = {"kary", "heap", "star", "random", "forest", NULL};
    const char *usage = myo_system_generate_usage;
    myo_system_gen_options o = {NULL, 1024, 0, 2, 4, 1, NULL};
    opt_tree tree = {0};
    int n_tree = 0;
    int64_t seed = 1;
    const opt_spec specs[] = {
        {.name = "tree", .kind = OPT_TREES, .value = &tree, .count = &n_tree, .max = 1,
         .words = tree_words},
        {.name = "n", .kind = OPT_INT, .value = &o.n, .lo = 1, .hi = INT64_MAX},
        {.name = "m", .kind = OPT_INT, .value = &o.m, .lo = 1, .hi = INT64_MAX},
        {.name = "arity", .kind = OPT_INT, .value = &o.arity, .lo = 2, .hi = 1 << 20},
        {.name = "trees", .kind = OPT_INT, .value = &o.trees, .lo = 1, .hi = INT64_MAX},
        {.name = "seed", .kind = OPT_INT, .value = &seed, .lo = 0, .hi = INT64_MAX},
        {.name = "output", .kind = OPT_TEXT, .value = &o.output, .letter = 'o'},
    };
    int code = myo_system_parse(argc, argv, specs, (int)(sizeof specs / sizeof specs[0]), usage);
    if (code >= 0) return code;
    if (!n_tree) return myo_system_fail(MYO_EXIT_USAGE, usage, "generate: missing --tree");
    if (!o.output) return myo_system_fail(MYO_EXIT_USAGE, usage, "generate: missing --output FILE");
    /* kary<k>, heap<k>: the arity k (over --arity); the file says kary or heap */
    if (tree.kind == OPT_TREE_WORD)
        o.tree = tree_words[tree.word];
    else if (tree.kind == OPT_TREE_CHAIN)
        o.tree = "chain";
    else
        o.tree = tree.kind == OPT_TREE_KARY ? "kary" : "heap", o.arity = tree.arity;
    if (strcmp(o.tree, "forest") == 0 && o.trees > o.n)
        return myo_system_fail(MYO_EXIT_USAGE, usage,
                               "generate: --trees %lld is more than --n %lld", (long long)o.trees,
                               (long long)o.n);
    o.seed = (uint64_t)seed;

    myo_rng rng = myo_rng_seed(o.seed);
    myo_system sys = {0};
    code = myo_system_make_parents(&o, &rng, &sys.parent, &sys.n);
    if (code != MYO_EXIT_OK) return code;
    sys.m = o.m ? o.m : 1;
    sys.rhs_rank = o.m ? 2 : 1;
    if ((uint64_t)sys.m <= SIZE_MAX / sizeof(double) / (uint64_t)sys.n) {
        sys.diag = malloc((size_t)sys.n * sizeof(double));
        sys.up = malloc((size_t)sys.n * sizeof(double));
        sys.down = malloc((size_t)sys.n * sizeof(double));
        sys.rhs = malloc((size_t)sys.n * (size_t)sys.m * sizeof(double));
    }
    myo_status st = MYO_ERR_NOMEM;
    if (sys.diag && sys.up && sys.down && sys.rhs)
        st = myo_random_dominant_coeffs(sys.parent, sys.n, &rng, 1, sys.diag, sys.up, sys.down);
    if (st != MYO_OK) {
        code = myo_system_fail(MYO_EXIT_INTERNAL, NULL,
                               "generate: out of memory for %lld nodes and %lld channels",
                               (long long)sys.n, (long long)sys.m);
    } else {
        myo_random_values(sys.rhs, sys.n * sys.m, &rng);
        char generator[64];
        snprintf(generator, sizeof generator, TOOL " %s", PACKAGE_VERSION);
        const myo_attr attrs[] = {
            {"generator", generator, 0},
            {"tree", o.tree, 0},
            {"n", NULL, sys.n},
            {"n_tokens", NULL, strcmp(o.tree, "kary") ? sys.n : o.n},
            {"m", NULL, sys.m},
            {"arity", NULL, o.arity},
            {"trees", NULL, strcmp(o.tree, "forest") ? 1 : o.trees},
            {"seed", NULL, (int64_t)o.seed},
        };
        st = myo_system_write_h5(o.output, &sys, attrs, (int)(sizeof attrs / sizeof *attrs));
        if (st != MYO_OK)
            code = myo_system_fail(myo_cli_exit_code(st), NULL, "generate: %s", myo_error_detail());
    }
    myo_system_free(&sys);
    return code;
}

/* ---------------------------------------------------------------- check */

/* max over (i, k) of |op(M) y - r|_ik / (|op(M)| |y| + |r|)_ik, straight
 * from the definition in docs/design.md section 1; M^T swaps up and down.
 * y, r (n, m); scratch res, den (n, m).  NaN when y is not finite. */
static double myo_system_residual(const myo_system *s, myo_op op, const double *y, double *res,
                                  double *den)
{
    const int64_t n = s->n, m = s->m;
    const double *b = op == MYO_OP_N ? s->up : s->down; /* row i reads its parent */
    const double *c = op == MYO_OP_N ? s->down : s->up; /* parent reads child i */
    for (int64_t i = 0; i < n * m; i++)
        res[i] = -s->rhs[i], den[i] = fabs(s->rhs[i]);
    for (int64_t i = 0; i < n; i++) {
        const double *yi = y + i * m;
        double *ri = res + i * m, *di = den + i * m;
        for (int64_t k = 0; k < m; k++)
            ri[k] += s->diag[i] * yi[k], di[k] += fabs(s->diag[i] * yi[k]);
        int64_t p = s->parent[i];
        if (p < 0) continue;
        const double *yp = y + p * m;
        double *rp = res + p * m, *dp = den + p * m;
        for (int64_t k = 0; k < m; k++) {
            ri[k] += b[i] * yp[k], di[k] += fabs(b[i] * yp[k]);
            rp[k] += c[i] * yi[k], dp[k] += fabs(c[i] * yi[k]);
        }
    }
    double worst = 0.0;
    for (int64_t i = 0; i < n * m; i++) {
        double q = den[i] > 0 ? fabs(res[i]) / den[i] : fabs(res[i]);
        if (!(q <= worst) && !isnan(worst)) worst = q; /* a NaN sticks */
    }
    return worst;
}

/* --tolerance: a finite number >= 0. */
static int myo_system_parse_tolerance(const char *text, void *value)
{
    char *end = NULL;
    errno = 0;
    double tol = strtod(text, &end);
    if (errno || end == text || *end || !(tol >= 0) || !isfinite(tol)) return -1;
    *(double *)value = tol;
    return 0;
}

static int myo_system_check(int argc, char **argv)
{
    const char *usage = myo_system_check_usage;
    const char *input = NULL, *solution = NULL;
    int transpose = 0;
    double tol = 1e-10;
    const opt_spec specs[] = {
        {.name = "input", .kind = OPT_TEXT, .value = &input, .letter = 'i'},
        {.name = "solution", .kind = OPT_TEXT, .value = &solution, .letter = 's'},
        {.name = "transpose", .kind = OPT_FLAG, .value = &transpose, .letter = 't'},
        {.name = "tolerance", .kind = OPT_CUSTOM, .value = &tol,
         .parse = myo_system_parse_tolerance, .expect = "a number >= 0"},
    };
    int code = myo_system_parse(argc, argv, specs, (int)(sizeof specs / sizeof specs[0]), usage);
    if (code >= 0) return code;
    const myo_op op = transpose ? MYO_OP_T : MYO_OP_N;
    if (!input) return myo_system_fail(MYO_EXIT_USAGE, usage, "check: missing --input SYSTEM");
    if (!solution)
        return myo_system_fail(MYO_EXIT_USAGE, usage, "check: missing --solution SOLUTION");

    myo_system sys;
    myo_status s = myo_system_read_h5(input, &sys);
    if (s != MYO_OK)
        return myo_system_fail(myo_cli_exit_code(s), NULL, "check: %s", myo_error_detail());
    /* Only a forest defines a matrix; the tree itself is not used below. */
    myo_tree *tree = NULL;
    s = myo_tree_create(sys.parent, sys.n, &tree);
    myo_tree_destroy(&tree);
    code = MYO_EXIT_OK;
    if (s != MYO_OK)
        code = myo_system_fail(myo_cli_exit_code(s), NULL,
                               "check: %s: dataset 'parent' is not a "
                               "forest: %s",
                               input, myo_error_detail());
    double *y = NULL, *scratch = NULL;
    if (code == MYO_EXIT_OK) {
        myo_status st = myo_solution_read_h5(solution, sys.n, sys.m, &y);
        if (st != MYO_OK)
            code = myo_system_fail(myo_cli_exit_code(st), NULL, "check: %s", myo_error_detail());
    }
    if (code == MYO_EXIT_OK &&
        !(scratch = malloc(2 * (size_t)sys.n * (size_t)sys.m * sizeof(double))))
        code = myo_system_fail(MYO_EXIT_INTERNAL, NULL, "check: out of memory for the residual");
    if (code == MYO_EXIT_OK) {
        double r = myo_system_residual(&sys, op, y, scratch, scratch + sys.n * sys.m);
        printf("relative residual max_i |op(M)y - r|_i / (|op(M)| |y| + |r|)_i = %.3e "
               "(n = %lld, m = %lld)\n",
               r, (long long)sys.n, (long long)sys.m);
        fflush(stdout);
        if (!(r <= tol))
            code = myo_system_fail(MYO_EXIT_CHECK, NULL,
                                   "check: %s: residual %.3e exceeds the "
                                   "tolerance %.3e",
                                   solution, r, tol);
    }
    free(y), free(scratch);
    myo_system_free(&sys);
    return code;
}

int main(int argc, char **argv)
{
    myo_cli_ignore_sigxfsz();
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub)
        return myo_system_fail(MYO_EXIT_USAGE, NULL,
                               "missing subcommand: generate or check (try '" TOOL " --help')");
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        myo_system_help();
        return MYO_EXIT_OK;
    }
    if (strcmp(sub, "--version") == 0 || strcmp(sub, "-V") == 0) {
        myo_cli_print_version(TOOL);
        return MYO_EXIT_OK;
    }
    /* Parse the subcommand's options as if it were the program. */
    if (strcmp(sub, "generate") == 0) return myo_system_generate(argc - 1, argv + 1);
    if (strcmp(sub, "check") == 0) return myo_system_check(argc - 1, argv + 1);
    return myo_system_fail(MYO_EXIT_USAGE, NULL,
                           "unknown subcommand '%s': expected generate or "
                           "check (try '" TOOL " --help')",
                           sub);
}
