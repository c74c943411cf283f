/* myo_solve.c -- myo-solve: solve one tree-structured system M Y = R (or
 * M^T Y = R) read from an HDF5 file and write Y to another HDF5 file.
 *
 * The tool is a thin shell around the library: read (myo_system_read_h5),
 * validate the tree (myo_tree_create), factor, solve in place, write
 * (myo_solution_write_h5, which goes through a temporary file and a rename,
 * so a failure never leaves or clobbers an output).  Every failure is one
 * line on stderr and an exit code from cli.h.
 *
 * Under an MPI launcher with P > 1 ranks (myo_solve_mpi below) rank 0 reads
 * and validates the input exactly as the serial tool, broadcasts the tree
 * and coefficients, scatters the right-hand side by even pre-order ranges,
 * all ranks solve with myo_factor_solve_ranges_f64, and rank 0 gathers
 * and writes the solution.  Only rank 0 prints; every rank exits with rank 0's code. */
#include <config.h>

#include "cli.h"
#include "myosotis_dist.h"
#include "options.h"

#include <float.h>
#include <limits.h>
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

/* Only rank 0 writes to stdout and stderr (0 when MPI is not in use). */
static int myo_solve_rank = 0;

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
           "                          (with more than one MPI rank: refused, exit 2)\n"
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
           "Under MPI (mpirun -np P " TOOL " ...), rank 0 reads the input, the ranks\n"
           "solve by contiguous pre-order ranges in double\n"
           "(myo_factor_solve_ranges_f64), and rank 0 writes the same solution file as the\n"
           "serial run (equal to rounding); only rank 0 prints, and every rank exits with\n"
           "the same status.  Run directly (no launcher), " TOOL " does not initialise MPI.\n"
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
    if (myo_solve_rank != 0) return code;
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
    static const char *const precisions[] = {"double", "single", NULL};
    int transpose = 0, precision = 0;
    *o = (myo_solve_options){NULL, NULL, MYO_OP_N, MYO_F64};
    const opt_spec specs[] = {
        {.name = "input", .kind = OPT_TEXT, .value = &o->input, .letter = 'i'},
        {.name = "output", .kind = OPT_TEXT, .value = &o->output, .letter = 'o'},
        {.name = "transpose", .kind = OPT_FLAG, .value = &transpose, .letter = 't'},
        {.name = "precision", .kind = OPT_WORD, .value = &precision, .words = precisions,
         .letter = 'p'},
    };
    char msg[1024];
    switch (opt_parse(argc, argv, specs, (int)(sizeof specs / sizeof specs[0]), msg, sizeof msg)) {
    case OPT_HELP:
        if (myo_solve_rank == 0) myo_solve_help();
        return MYO_EXIT_OK;
    case OPT_VERSION:
        if (myo_solve_rank == 0) myo_cli_print_version(TOOL);
        return MYO_EXIT_OK;
    case OPT_BAD:
        return myo_solve_fail(MYO_EXIT_USAGE, "%s" USAGE_HINT, msg);
    }
    if (transpose) o->op = MYO_OP_T;
    if (precision == 1) o->precision = MYO_F32;
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

/* The serial tool (no MPI, or one rank), after the options are parsed. */
static int myo_solve_serial(const myo_solve_options *opts)
{
    const myo_solve_options o = *opts;
    int code;
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

/* ------------------------------------------------------------------ MPI */

/* Whether an MPI launcher started this process (Open MPI, PMIx, PMI-1/2:
 * mpirun, mpiexec, srun).  Run directly, myo-solve stays the serial tool
 * and does not initialise MPI: Open MPI's singleton MPI_Init starts an
 * orted and shared-memory files of its own (0.3 s, and it fails under a
 * file-size limit, which the failed-write tests of myo-solve impose). */
static int myo_solve_launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
        if (getenv(vars[k])) return 1;
    return 0;
}

/* An MPI call of the driver itself failed: the ranks may no longer agree
 * on anything, so this is the one place that aborts the job. */
static void myo_solve_mpi_check(int err, const char *what)
{
    if (err == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", err);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, TOOL ": MPI failure in %s on rank %d: %s\n", what, rank, msg);
    MPI_Abort(MPI_COMM_WORLD, MYO_EXIT_INTERNAL);
}
#define MYO_MPI(call) myo_solve_mpi_check((call), #call)

/* The exit code every rank agrees on: rank 0's when it failed (it printed
 * the line), else the largest of the others' (rank 0 then prints a line
 * naming what failed).  Collective. */
static int myo_solve_agree(int code, const char *what)
{
    int mine[2] = {myo_solve_rank == 0 ? code : 0, code}, all[2];
    MYO_MPI(MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    int agreed = all[0] != MYO_EXIT_OK ? all[0] : all[1];
    if (agreed != MYO_EXIT_OK && code == MYO_EXIT_OK)
        myo_solve_fail(agreed, "%s failed on another rank", what);
    return agreed;
}

/* MPI_Bcast from rank 0 of count elements of type (size bytes each), in
 * pieces that fit an int count. */
static void myo_solve_bcast(void *buf, int64_t count, MPI_Datatype type, size_t size)
{
    const int64_t piece = (int64_t)1 << 26;
    for (int64_t done = 0; done < count; done += piece) {
        int c = (int)(count - done < piece ? count - done : piece);
        MYO_MPI(MPI_Bcast((char *)buf + (size_t)done * size, c, type, 0, MPI_COMM_WORLD));
    }
}

static void *myo_solve_alloc(int64_t count, size_t size)
{
    return malloc((size_t)(count > 0 ? count : 1) * size);
}

/* The tool with size > 1 ranks (README.md, "myo-solve"): the same checks,
 * messages and exit codes as myo_solve_serial, printed by rank 0 only;
 * the solve in double by myo_factor_solve_ranges_f64.  Collective. */
static int myo_solve_mpi(const myo_solve_options *o, int rank, int size)
{
    MPI_Comm comm = MPI_COMM_WORLD;
    myo_system sys;
    memset(&sys, 0, sizeof sys);
    myo_tree *tree = NULL;
    myo_status s;
    int code = MYO_EXIT_OK;
    int64_t *off = NULL;
    double *local = NULL, *pos = NULL; /* this rank's rows; all rows by position (rank 0) */
    int *counts = NULL, *displs = NULL;
    MPI_Datatype row = MPI_DATATYPE_NULL;

    if (rank == 0) { /* read and validate exactly as the serial tool */
        s = myo_system_read_h5(o->input, &sys);
        if (s != MYO_OK) {
            code = myo_solve_fail(myo_cli_exit_code(s), "%s", myo_error_detail());
        } else if ((s = myo_tree_create(sys.parent, sys.n, &tree)) != MYO_OK) {
            code = myo_solve_fail(myo_cli_exit_code(s), "%s: dataset 'parent' is not a forest: %s",
                                  o->input, myo_error_detail());
        } else if (sys.n > INT_MAX || sys.m > INT_MAX) {
            code = myo_solve_fail(MYO_EXIT_INTERNAL,
                                  "%s: %lld nodes of %lld channels: beyond what the MPI path "
                                  "distributes (at most %d of each); run with one rank",
                                  o->input, (long long)sys.n, (long long)sys.m, INT_MAX);
        }
    }
    int64_t head[4] = {code, sys.n, sys.m, sys.rhs_rank};
    MYO_MPI(MPI_Bcast(head, 4, MPI_INT64_T, 0, comm));
    code = (int)head[0];
    if (code != MYO_EXIT_OK) goto done;
    const int64_t n = head[1], m = head[2];

    if (rank != 0) {
        sys.n = n, sys.m = m, sys.rhs_rank = (int)head[3];
        sys.parent = myo_solve_alloc(n, sizeof(int64_t));
        sys.diag = myo_solve_alloc(n, sizeof(double));
        sys.up = myo_solve_alloc(n, sizeof(double));
        sys.down = myo_solve_alloc(n, sizeof(double));
        if (!sys.parent || !sys.diag || !sys.up || !sys.down) code = MYO_EXIT_INTERNAL;
    }
    code = myo_solve_agree(code, "allocating the tree and coefficients");
    if (code != MYO_EXIT_OK) goto done;
    myo_solve_bcast(sys.parent, n, MPI_INT64_T, sizeof(int64_t));
    myo_solve_bcast(sys.diag, n, MPI_DOUBLE, sizeof(double));
    myo_solve_bcast(sys.up, n, MPI_DOUBLE, sizeof(double));
    myo_solve_bcast(sys.down, n, MPI_DOUBLE, sizeof(double));
    if (rank != 0 && (s = myo_tree_create(sys.parent, n, &tree)) != MYO_OK)
        code = myo_cli_exit_code(s);
    free(sys.parent); /* the tree keeps its own copy */
    sys.parent = NULL;

    /* Even pre-order ranges; rank 0 keeps sys.rhs for the solution in labels. */
    off = myo_solve_alloc(size + 1, sizeof(int64_t));
    counts = myo_solve_alloc(size, sizeof(int));
    displs = myo_solve_alloc(size, sizeof(int));
    if (!off || !counts || !displs || myo_dist_even_ranges(n, size, off) != MYO_OK) {
        code = MYO_EXIT_INTERNAL;
    } else {
        for (int r = 0; r < size; r++)
            counts[r] = (int)(off[r + 1] - off[r]), displs[r] = (int)off[r];
        local = myo_solve_alloc((off[rank + 1] - off[rank]) * m, sizeof(double));
        if (rank == 0) pos = myo_solve_alloc(n * m, sizeof(double));
        if (!local || (rank == 0 && !pos)) code = MYO_EXIT_INTERNAL;
    }
    code = myo_solve_agree(code, "building the tree and the ranges");
    if (code != MYO_EXIT_OK) goto done;
    const int64_t lo = off[rank], hi = off[rank + 1];
    if (rank == 0 && myo_dist_rows_from_labels(tree, 0, n, m, sys.rhs, pos) != MYO_OK)
        code = myo_solve_fail(MYO_EXIT_INTERNAL, "%s: %s", o->input, myo_error_detail());
    code = myo_solve_agree(code, "ordering the right-hand side");
    if (code != MYO_EXIT_OK) goto done;

    MYO_MPI(MPI_Type_contiguous((int)m, MPI_DOUBLE, &row));
    MYO_MPI(MPI_Type_commit(&row));
    MYO_MPI(MPI_Scatterv(pos, counts, displs, row, local, (int)(hi - lo), row, 0, comm));
    s = myo_factor_solve_ranges_f64(comm, tree, sys.diag, sys.up, sys.down, lo, hi, o->op, local,
                                    m);
    free(sys.diag), free(sys.up), free(sys.down);
    sys.diag = sys.up = sys.down = NULL;
    if (s == MYO_ERR_MPI) /* the ranks may disagree: nothing safe is left */
        myo_solve_mpi_check(MPI_ERR_OTHER, myo_error_detail());
    if (s != MYO_OK) { /* the same status on every rank */
        code = myo_solve_fail(myo_cli_exit_code(s), "%s: %s", o->input, myo_error_detail());
        goto done;
    }
    MYO_MPI(MPI_Gatherv(local, (int)(hi - lo), row, pos, counts, displs, row, 0, comm));

    if (rank == 0) { /* back to labels, checked and written as the serial tool */
        if (myo_dist_rows_to_labels(tree, 0, n, m, pos, sys.rhs) != MYO_OK) {
            code = myo_solve_fail(MYO_EXIT_INTERNAL, "%s: %s", o->input, myo_error_detail());
        } else {
            int64_t bad = myo_solve_first_nonfinite(sys.rhs, MYO_F64, n * m);
            if (bad >= 0) {
                code = myo_solve_fail(MYO_EXIT_SINGULAR,
                                      "%s: solution overflowed at node %lld, channel %lld: the "
                                      "matrix is numerically singular, or the solution exceeds "
                                      "double precision",
                                      o->input, (long long)(bad / m), (long long)(bad % m));
            } else {
                s = myo_solution_write_h5(o->output, sys.rhs, MYO_F64, n, m, sys.rhs_rank);
                if (s != MYO_OK)
                    code = myo_solve_fail(myo_cli_exit_code(s), "%s", myo_error_detail());
            }
        }
    }
    MYO_MPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));

done:
    if (row != MPI_DATATYPE_NULL) MPI_Type_free(&row);
    free(off), free(counts), free(displs), free(local), free(pos);
    myo_tree_destroy(&tree);
    myo_system_free(&sys);
    return code;
}

int main(int argc, char **argv)
{
    myo_cli_ignore_sigxfsz();
    int use_mpi = myo_solve_launched_by_mpi(), size = 1;
    if (use_mpi) {
        if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
            fputs(TOOL ": MPI_Init failed\n", stderr);
            return MYO_EXIT_INTERNAL;
        }
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &myo_solve_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    }
    myo_solve_options o;
    int code = myo_solve_parse(argc, argv, &o);
    if (size > 1) { /* rank 0 decides (the same-file check looks at its files) */
        MYO_MPI(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
        if (code < 0 && o.precision == MYO_F32)
            code = myo_solve_fail(MYO_EXIT_USAGE,
                                  "--precision single needs one rank (the MPI solve runs in "
                                  "double); run with one rank or --precision double" USAGE_HINT);
    }
    if (code < 0) code = size > 1 ? myo_solve_mpi(&o, myo_solve_rank, size) : myo_solve_serial(&o);
    if (use_mpi) MPI_Finalize();
    return code;
}
