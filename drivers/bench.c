/* bench.c -- what the benchmark drivers share (bench.h). */
#define _GNU_SOURCE /* dladdr, dlsym, sched_getaffinity */
#include <config.h>

#include "bench.h"
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#include <dlfcn.h> /* part of libc since glibc 2.34: no -ldl needed */
#define MYO_HAVE_DLADDR 1
#endif

/* OpenBLAS's own queries, declared here so that libcli needs no BLAS_CFLAGS
 * (where cblas.h lives); configure requires OpenBLAS. */
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

/* Who this process is: set once by myo_bench_init, read by the messages. */
static const char *g_tool = "myo-bench";
static int g_rank = 0, g_size = 1;
static int g_threads_set = 0;    /* OPENBLAS_NUM_THREADS set by myo_bench_blas_single_thread */
static double g_peak_before = 0; /* MiB: the peak resident set before the last reset */

/* ------------------------------------------------------ ranks, messages */

void myo_bench_init(const char *tool)
{
    g_tool = tool;
    myo_bench_mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                        "MPI_Comm_set_errhandler");
    myo_bench_mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank");
    myo_bench_mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "MPI_Comm_size");
}

int myo_bench_rank(void)
{
    return g_rank;
}
int myo_bench_size(void)
{
    return g_size;
}
const char *myo_bench_tool(void)
{
    return g_tool;
}

void myo_bench_say(int any_rank, const char *fmt, ...)
{
    if (!any_rank && g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", g_tool);
    if (any_rank && g_size > 1) fprintf(stderr, "rank %d: ", g_rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void myo_bench_mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
    myo_bench_say(1, "%s failed: %s", what, msg);
    MPI_Abort(MPI_COMM_WORLD, MYO_EXIT_INTERNAL);
    exit(MYO_EXIT_INTERNAL);
}

int myo_bench_agree(int code)
{
    int worst = code;
    myo_bench_mpi_check(MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                        "MPI_Allreduce");
    return worst;
}

void myo_bench_max_over_ranks(double *v, int count)
{
    myo_bench_mpi_check(MPI_Allreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
                        "MPI_Allreduce");
}

void myo_bench_row(const char *fmt, ...)
{
    if (g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ------------------------------------------------------------- helpers */

void *myo_bench_alloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = NULL;
    size_t bytes = count * size;
    return posix_memalign(&p, 64, bytes ? bytes : 1) == 0 ? p : NULL;
}

uint64_t myo_bench_hash(const void *data, size_t count)
{
    const unsigned char *c = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < count; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t myo_bench_hash_str(const char *s)
{
    return myo_bench_hash(s, strlen(s));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void myo_bench_summarize(double *t, int64_t r, double stat[3])
{
    qsort(t, (size_t)r, sizeof *t, cmp_double);
    stat[0] = t[0];
    stat[1] = r % 2 ? t[r / 2] : 0.5 * (t[r / 2 - 1] + t[r / 2]);
    stat[2] = t[r - 1];
}

/* ------------------------------------------------------ option helpers */

int myo_bench_parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    if (myo_cli_parse_size(text, &v) != 0 || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int myo_bench_split_list(char *text, char **items, int max)
{
    int count = 0;
    char *p = text;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (*p == '\0' || count == max) return -1;
        items[count++] = p;
        if (!comma) return count;
        p = comma + 1;
    }
}

int myo_bench_parse_tree(const char *text, myo_bench_tree_spec *out)
{
    memset(out, 0, sizeof *out);
    const char *digits = NULL;
    if (strcmp(text, "chain") == 0)
        out->kind = MYO_BENCH_TREE_CHAIN;
    else if (strncmp(text, "kary", 4) == 0)
        out->kind = MYO_BENCH_TREE_KARY, digits = text + 4;
    else if (strncmp(text, "heap", 4) == 0)
        out->kind = MYO_BENCH_TREE_HEAP, digits = text + 4;
    else
        return -1;
    if (digits) {
        int64_t k;
        if (myo_bench_parse_int(digits, 2, 64, &k) != 0 ||
            digits[strspn(digits, "0123456789")] != '\0')
            return -1;
        out->arity = (int)k;
        snprintf(out->name, sizeof out->name, "%.4s%d", text, out->arity);
    } else {
        snprintf(out->name, sizeof out->name, "chain");
    }
    return 0;
}

myo_status myo_bench_tree_create(const myo_bench_tree_spec *spec, int64_t n, myo_tree **out)
{
    if (spec->kind == MYO_BENCH_TREE_CHAIN) return myo_tree_create_chain(n, out);
    if (spec->kind == MYO_BENCH_TREE_KARY) return myo_tree_create_kary(n, spec->arity, out);
    return myo_tree_create_heap(n, spec->arity, out);
}

int64_t myo_bench_tree_nodes_bound(const myo_bench_tree_spec *spec, int64_t n)
{
    return spec->kind == MYO_BENCH_TREE_KARY ? n + (n - 1 + spec->arity - 2) / (spec->arity - 1)
                                             : n;
}

/* ---------------------------------------------------- cache eviction */

size_t myo_bench_flush_bytes(void)
{
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    size_t want = llc > 0 ? 2 * (size_t)llc : 0, lo = (size_t)64 << 20, hi = (size_t)256 << 20;
    return want < lo ? lo : want > hi ? hi : want;
}

int myo_bench_flush_create(int enable, myo_bench_flush *fl)
{
    memset(fl, 0, sizeof *fl);
    if (!enable) return myo_bench_agree(MYO_EXIT_OK);
    fl->bytes = myo_bench_flush_bytes();
    fl->buf = myo_bench_alloc(fl->bytes, 1);
    if (!fl->buf)
        myo_bench_say(1, "out of memory for the %zu-byte cache-eviction buffer", fl->bytes);
    else
        memset(fl->buf, 1, fl->bytes);
    return myo_bench_agree(fl->buf ? MYO_EXIT_OK : MYO_EXIT_INTERNAL);
}

static volatile unsigned char flush_sink;

void myo_bench_flush_caches(const myo_bench_flush *fl)
{
    if (!fl->buf) return;
    unsigned char acc = 0;
    for (size_t i = 0; i < fl->bytes; i += 64)
        acc ^= fl->buf[i];
    flush_sink = acc;
}

void myo_bench_flush_free(myo_bench_flush *fl)
{
    free(fl->buf);
    memset(fl, 0, sizeof *fl);
}

/* ------------------------------------------------------------- memory */

int myo_bench_node_ranks(void)
{
    MPI_Comm node;
    int node_ranks = 1;
    myo_bench_mpi_check(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
    myo_bench_mpi_check(MPI_Comm_size(node, &node_ranks), "MPI_Comm_size");
    myo_bench_mpi_check(MPI_Comm_free(&node), "MPI_Comm_free");
    return node_ranks;
}

double myo_bench_host_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : INFINITY;
}

/* The value of "key:" in a /proc file of "key: value kB" lines, in kB;
 * -1 when absent. */
static double proc_kib(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1.0;
    char line[256];
    size_t len = strlen(key);
    double v = -1.0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            v = strtod(line + len + 1, NULL);
            break;
        }
    fclose(f);
    return v;
}

double myo_bench_host_available(void)
{
    double kib = proc_kib("/proc/meminfo", "MemAvailable");
    if (kib >= 0) return kib * 1024.0;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : myo_bench_host_memory();
}

int myo_bench_check_host_memory(double need_per_rank, const char *hint)
{
    int node_ranks = myo_bench_node_ranks(), code = MYO_EXIT_OK;
    double need = need_per_rank * node_ranks, have = myo_bench_host_memory();
    if (need > have) {
        myo_bench_say(1, "needs about %.1f GiB on this host (%d rank%s), which has %.1f GiB: %s",
                      need / 1073741824.0, node_ranks, node_ranks > 1 ? "s" : "",
                      have / 1073741824.0, hint);
        code = MYO_EXIT_INTERNAL;
    }
    return myo_bench_agree(code);
}

double myo_bench_rss_mib(void)
{
    double kib = proc_kib("/proc/self/status", "VmRSS");
    return kib >= 0 ? kib / 1024.0 : -1.0;
}

double myo_bench_peak_rss_mib(void)
{
    double kib = proc_kib("/proc/self/status", "VmHWM");
    if (kib >= 0) return kib / 1024.0;
    struct rusage ru; /* not reset by myo_bench_peak_rss_reset: the whole run */
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1.0;
}

int myo_bench_peak_rss_reset(void)
{
    double peak = myo_bench_peak_rss_mib();
    if (peak > g_peak_before) g_peak_before = peak;
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0; /* 5: reset the peak resident set to the current one */
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

void myo_bench_print_totals(double t_start)
{
    struct rusage ru;
    double rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1.0;
    double peak = myo_bench_peak_rss_mib();
    /* ru_maxrss survives the resets on some kernels and not on others: take
     * the largest of what is known */
    if (peak > rss) rss = peak;
    if (g_peak_before > rss) rss = g_peak_before;
    myo_bench_max_over_ranks(&rss, 1);
    if (g_rank == 0) {
        printf("# peak resident memory (max over ranks) %.0f MiB, total time %.1f s\n", rss,
               MPI_Wtime() - t_start);
        fflush(stdout);
    }
}

/* ------------------------------------------------------------- header */

int myo_bench_blas_single_thread(void)
{
    if (getenv("OPENBLAS_NUM_THREADS")) return 0;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    openblas_set_num_threads(1);
    g_threads_set = 1;
    return 1;
}

void myo_bench_hosts(char *out, size_t out_size)
{
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    out[0] = '\0';
    myo_bench_mpi_check(MPI_Get_processor_name(name, &len), "MPI_Get_processor_name");
    char *all = NULL;
    if (g_rank == 0 && !(all = calloc((size_t)g_size, MPI_MAX_PROCESSOR_NAME))) {
        myo_bench_say(1, "out of memory for the host names");
        MPI_Abort(MPI_COMM_WORLD, MYO_EXIT_INTERNAL);
        exit(MYO_EXIT_INTERNAL);
    }
    myo_bench_mpi_check(MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all,
                                   MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD),
                        "MPI_Gather");
    if (g_rank != 0) return;
    int distinct = 0;
    size_t used = 0;
    for (int r = 0; r < g_size; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        int seen = 0;
        for (int q = 0; q < r && !seen; q++)
            seen = strcmp(h, all + (size_t)q * MPI_MAX_PROCESSOR_NAME) == 0;
        if (seen) continue;
        if (++distinct <= 8 && used + strlen(h) + 2 < out_size)
            used += (size_t)snprintf(out + used, out_size - used, "%s%s", used ? " " : "", h);
    }
    if (distinct > 1 && used + 32 < out_size)
        snprintf(out + used, out_size - used, "%s (%d distinct)", distinct > 8 ? " ..." : "",
                 distinct);
    free(all);
}

/* The first line of s, for library banners that span several. */
static void one_line(char *s)
{
    s[strcspn(s, "\r\n")] = '\0';
}

static void read_first_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, (int)size, f)) snprintf(buf, size, "unknown");
    if (f) fclose(f);
    one_line(buf);
}

void myo_bench_print_machine(const char *hosts, const char *label, const char *symbol)
{
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "unknown";
    int len = 0;
    if (MPI_Get_library_version(mpi, &len) != MPI_SUCCESS) strcpy(mpi, "unknown");
    one_line(mpi);
    char blas[256];
    snprintf(blas, sizeof blas, "%s", openblas_get_config());
    one_line(blas);
    char where[512] = "";
    if (symbol) {
        const char *lib = "unknown";
#ifdef MYO_HAVE_DLADDR
        /* the object that defines the symbol */
        Dl_info info;
        void *sym = dlsym(RTLD_DEFAULT, symbol);
        if (sym && dladdr(sym, &info) && info.dli_fname) lib = info.dli_fname;
#endif
        snprintf(where, sizeof where, "; %s from %s", label, lib);
    }
    const char *env_threads = getenv("OPENBLAS_NUM_THREADS");
    const char *slurm = getenv("SLURM_JOB_ID");
    const char *tunables = getenv("GLIBC_TUNABLES"); /* can change memcpy's store kind */
    char thp[128];
    read_first_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof thp);
    int cpus = -1;
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
#endif

    printf("# ");
    myo_cli_print_version(g_tool);
    printf("# date %s, hosts %s, MPI ranks %d, Slurm job %s\n", date, hosts, g_size,
           slurm ? slurm : "-");
    printf("# compiler %s, CFLAGS %s, kernel flags%s, MPI %s\n",
#if defined(__clang__)
           __VERSION__,
#elif defined(__GNUC__)
           "gcc " __VERSION__,
#else
           "unknown",
#endif
           MYO_BUILD_CFLAGS, MYO_KERNEL_CFLAGS, mpi);
    printf("# BLAS %s%s\n", blas, where);
    printf("# OPENBLAS_NUM_THREADS=%s%s (OpenBLAS uses %d), CPUs allowed on rank 0: %d, "
           "transparent hugepages: %s, GLIBC_TUNABLES=%s\n",
           env_threads ? env_threads : "(unset)",
           g_threads_set ? " [was unset: set by the tool]" : "", openblas_get_num_threads(), cpus,
           thp, tunables ? tunables : "(unset)");
}

int myo_bench_common_option(int c, char **argv, const char *tool, void (*usage)(FILE *))
{
    switch (c) {
    case 'h':
        if (myo_bench_rank() == 0) usage(stdout);
        return MYO_EXIT_OK;
    case 'V':
        if (myo_bench_rank() == 0) myo_cli_print_version(tool);
        return MYO_EXIT_OK;
    case ':':
        myo_bench_say(0, "option '%s' needs a value (see --help)", argv[optind - 1]);
        return MYO_EXIT_USAGE;
    default:
        myo_bench_say(0, "unknown option '%s' (see --help)", argv[optind - 1]);
        return MYO_EXIT_USAGE;
    }
}

int myo_bench_no_operands(int argc, char **argv)
{
    if (optind >= argc) return MYO_EXIT_OK;
    myo_bench_say(0, "unexpected argument '%s' (see --help)", argv[optind]);
    return MYO_EXIT_USAGE;
}

int myo_bench_int_option(const char *name, const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    if (myo_bench_parse_int(text, lo, hi, out) == 0) return MYO_EXIT_OK;
    myo_bench_say(0, "%s: '%s' is not an integer in [%lld, %lld]", name, text, (long long)lo,
                  (long long)hi);
    return MYO_EXIT_USAGE;
}
