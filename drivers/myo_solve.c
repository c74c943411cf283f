/* myo_solve.c -- myo-solve: solve one tree-structured system M Y = R (or
 * M^T Y = R) read from an HDF5 file and write Y to another HDF5 file.
 *
 * The tool is a thin shell around the library: read (myo_system_read_h5),
 * validate the tree (myo_tree_create), factor, solve in place, write
 * (myo_solution_write_h5, which goes through a temporary file and a rename,
 * so a failure never leaves or clobbers an output).  Every failure is one
 * line on stderr and an exit code from cli.h. */
#include <config.h>

#include "cli.h"

#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOOL "myo-solve"

typedef struct {
    const char *input;
    const char *output;
    myo_op op;
    myo_precision precision;
} myo_solve_options;

static void myo_solve_help(void)
{
    printf("Usage: " TOOL " --input FILE --output FILE [--transpose] [--precision double|single]\n"
           "\n"
           "Solve the tree-structured system M Y = R stored in an HDF5 file and write Y.\n"
           "\n"
           "Options:\n"
           "  -i, --input FILE        the system to solve (HDF5, format below)\n"
           "  -o, --output FILE       where to write the solution (HDF5); written to a\n"
           "                          temporary file in the same directory and renamed\n"
           "                          when complete, so a failure leaves no file and never\n"
           "                          replaces an existing one\n"
           "  -t, --transpose         solve M^T Y = R instead\n"
           "  -p, --precision P       double (default) or single: single converts the\n"
           "                          coefficients and R to float, factors (pivots in\n"
           "                          double, multipliers in float), solves in float and\n"
           "                          writes float32\n"
           "  -h, --help              show this help and exit\n"
           "  -V, --version           show the version and exit\n"
           "\n"
           "Input file: datasets in the root group, n nodes, m channels\n"
           "  parent  integer (n,)   parent of each node, -1 at roots; any labelling\n"
           "  diag    float (n,)     M[i][i]\n"
           "  up      float (n,)     M[i][parent(i)]  (ignored at roots)\n"
           "  down    float (n,)     M[parent(i)][i]  (ignored at roots)\n"
           "  rhs     float (n,) or (n, m)   the right-hand side R, row-major\n"
           "Output file: dataset 'solution', float64 (float32 with --precision single),\n"
           "  with the same shape as rhs.\n"
           "\n"
           "Exit status:\n"
           "  0  success\n"
           "  2  usage error (bad option or value, missing --input/--output, extra\n"
           "     argument, --input and --output naming the same file)\n"
           "  3  invalid data: missing, mis-shaped or wrongly typed dataset, non-finite\n"
           "     value, parent array that is not a forest\n"
           "  4  the matrix is singular (zero pivot, or the solution overflowed)\n"
           "  5  a file cannot be opened, read or written, is not HDF5 or is truncated\n"
           "  6  out of memory or another internal failure\n");
}

/* One diagnostic line on stderr; returns code so callers can `return fail(...)`. */
static int myo_solve_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(TOOL ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

#define USAGE_HINT " (try '" TOOL " --help')"

/* Returns -1 when the options are complete, else the exit code to return. */
static int myo_solve_parse(int argc, char **argv, myo_solve_options *o)
{
    static const struct option longopts[] = {{"input", required_argument, NULL, 'i'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"transpose", no_argument, NULL, 't'},
                                             {"precision", required_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    *o = (myo_solve_options){NULL, NULL, MYO_OP_N, MYO_F64};
    opterr = 0; /* our own one-line messages instead of getopt's */
    int c;
    while ((c = getopt_long(argc, argv, ":i:o:tp:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->input = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 't':
            o->op = MYO_OP_T;
            break;
        case 'p':
            if (strcmp(optarg, "double") == 0)
                o->precision = MYO_F64;
            else if (strcmp(optarg, "single") == 0)
                o->precision = MYO_F32;
            else
                return myo_solve_fail(MYO_EXIT_USAGE,
                                      "--precision '%s': expected 'double' or 'single'" USAGE_HINT,
                                      optarg);
            break;
        case 'h':
            myo_solve_help();
            return MYO_EXIT_OK;
        case 'V':
            myo_cli_print_version(TOOL);
            return MYO_EXIT_OK;
        case ':':
            return myo_solve_fail(MYO_EXIT_USAGE, "option '%s' needs a value" USAGE_HINT,
                                  argv[optind - 1]);
        default: {
            /* glibc sets optopt for a known long option given a value. */
            const char *arg = argv[optind - 1];
            if (strncmp(arg, "--", 2) != 0)
                return myo_solve_fail(MYO_EXIT_USAGE, "unknown option '-%c'" USAGE_HINT, optopt);
            return myo_solve_fail(MYO_EXIT_USAGE,
                                  optopt ? "option '%s' takes no value" USAGE_HINT
                                         : "unknown option '%s'" USAGE_HINT,
                                  arg);
        }
        }
    }
    if (optind < argc)
        return myo_solve_fail(MYO_EXIT_USAGE, "unexpected argument '%s'" USAGE_HINT, argv[optind]);
    if (!o->input) return myo_solve_fail(MYO_EXIT_USAGE, "missing --input FILE" USAGE_HINT);
    if (!o->output) return myo_solve_fail(MYO_EXIT_USAGE, "missing --output FILE" USAGE_HINT);
    /* Writing over the input would destroy it on success, so refuse early
     * (hard links and different spellings of one path included). */
    struct stat in, out;
    if (stat(o->input, &in) == 0 && stat(o->output, &out) == 0 && in.st_dev == out.st_dev &&
        in.st_ino == out.st_ino)
        return myo_solve_fail(MYO_EXIT_USAGE,
                              "--input '%s' and --output '%s' are the same file; write the "
                              "solution elsewhere",
                              o->input, o->output);
    return -1;
}

/* A float copy of the double array *src (count = n m,), freeing *src.  NULL
 * when a value does not fit in single precision or memory runs out; *code
 * is then the exit code (the diagnostic is printed). */
static float *myo_solve_to_float(double **src, int64_t count, int64_t m, const char *path,
                                 const char *name, int *code)
{
    float *dst = malloc((size_t)count * sizeof(float));
    if (!dst) {
        *code = myo_solve_fail(MYO_EXIT_INTERNAL,
                               "out of memory converting dataset '%s' to single precision", name);
        return NULL;
    }
    const double *s = *src;
    for (int64_t i = 0; i < count; i++) {
        dst[i] = (float)s[i];
        if (isinf(dst[i])) { /* s is finite: myo_system_read_h5 checked */
            *code = myo_solve_fail(MYO_EXIT_DATA,
                                   "%s: dataset '%s' value %g at node %lld does not fit in "
                                   "single precision (use --precision double)",
                                   path, name, s[i], (long long)(i / m));
            free(dst);
            return NULL;
        }
    }
    free(*src);
    *src = NULL;
    return dst;
}

/* Index of the first non-finite entry of v (count,), or -1. */
static int64_t myo_solve_first_nonfinite(const void *v, myo_precision precision, int64_t count)
{
    if (precision == MYO_F64) {
        const double *d = v;
        for (int64_t i = 0; i < count; i++)
            if (!isfinite(d[i])) return i;
    } else {
        const float *f = v;
        for (int64_t i = 0; i < count; i++)
            if (!isfinite(f[i])) return i;
    }
    return -1;
}

/* Factor and solve sys on tree in the requested precision; on success *sol
 * (n, m) holds the solution, owned by the caller.  To stay within a few
 * copies of the input for n ~ 1e7, every double array is freed as soon as
 * it is no longer needed (the solve runs in place in the rhs buffer). */
static int myo_solve_run(const myo_solve_options *o, myo_system *sys, const myo_tree *tree,
                         void **sol)
{
    const int64_t n = sys->n, m = sys->m;
    myo_factor *f = NULL;
    myo_status s;
    int code = MYO_EXIT_OK;
    *sol = NULL;
    if (o->precision == MYO_F64) {
        s = myo_factor_create_f64(tree, sys->diag, sys->up, sys->down, &f);
        free(sys->diag), free(sys->up), free(sys->down);
        sys->diag = sys->up = sys->down = NULL;
        if (s == MYO_OK) s = myo_solve_f64(f, o->op, sys->rhs, sys->rhs, m);
        if (s == MYO_OK) *sol = sys->rhs, sys->rhs = NULL;
    } else {
        double **coef64[3] = {&sys->diag, &sys->up, &sys->down};
        static const char *const names[3] = {"diag", "up", "down"};
        float *coef[3] = {NULL, NULL, NULL}, *r = NULL;
        for (int k = 0; k < 3 && code == MYO_EXIT_OK; k++)
            coef[k] = myo_solve_to_float(coef64[k], n, 1, o->input, names[k], &code);
        s = MYO_OK;
        if (code == MYO_EXIT_OK) s = myo_factor_create_f32(tree, coef[0], coef[1], coef[2], &f);
        free(coef[0]), free(coef[1]), free(coef[2]);
        if (code == MYO_EXIT_OK && s == MYO_OK)
            r = myo_solve_to_float(&sys->rhs, n * m, m, o->input, "rhs", &code);
        if (r) s = myo_solve_f32(f, o->op, r, r, m);
        if (r && s == MYO_OK)
            *sol = r;
        else
            free(r);
    }
    myo_factor_destroy(&f);
    if (code != MYO_EXIT_OK) return code;
    if (s != MYO_OK)
        return myo_solve_fail(myo_cli_exit_code(s), "%s: %s", o->input, myo_error_detail());
    int64_t bad = myo_solve_first_nonfinite(*sol, o->precision, n * m);
    if (bad >= 0) {
        free(*sol);
        *sol = NULL;
        return myo_solve_fail(MYO_EXIT_SINGULAR,
                              "%s: solution overflowed at node %lld, channel %lld: the matrix is "
                              "numerically singular, or the solution exceeds %s precision",
                              o->input, (long long)(bad / m), (long long)(bad % m),
                              o->precision == MYO_F64 ? "double" : "single");
    }
    return MYO_EXIT_OK;
}

int main(int argc, char **argv)
{
    myo_solve_options o;
    int code = myo_solve_parse(argc, argv, &o);
    if (code >= 0) return code;

    myo_system sys;
    myo_status s = myo_system_read_h5(o.input, &sys);
    if (s != MYO_OK) return myo_solve_fail(myo_cli_exit_code(s), "%s", myo_error_detail());

    myo_tree *tree = NULL;
    void *sol = NULL;
    s = myo_tree_create(sys.parent, sys.n, &tree);
    if (s != MYO_OK) {
        code = myo_solve_fail(myo_cli_exit_code(s), "%s: dataset 'parent' is not a forest: %s",
                              o.input, myo_error_detail());
    } else {
        free(sys.parent); /* the tree keeps its own copy */
        sys.parent = NULL;
        code = myo_solve_run(&o, &sys, tree, &sol);
    }
    if (code == MYO_EXIT_OK) {
        s = myo_solution_write_h5(o.output, sol, o.precision, sys.n, sys.m, sys.rhs_rank);
        if (s != MYO_OK) code = myo_solve_fail(myo_cli_exit_code(s), "%s", myo_error_detail());
    }
    free(sol);
    myo_tree_destroy(&tree);
    myo_system_free(&sys);
    return code;
}
