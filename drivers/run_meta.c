/* run_meta.c -- the metadata every driver records about a run
 * (run_meta.h). */
#include <config.h>

#include "run_meta.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's own queries, declared as drivers/bench.c does, so that libcli
 * needs no BLAS_CFLAGS (where cblas.h lives); configure requires OpenBLAS. */
char *openblas_get_config(void);
int openblas_get_num_threads(void);

/* Host lists longer than this are cut: an attribute in the default file
 * format must stay under 64 KiB. */
#define HOSTS_MAX 16384

void run_meta_free(run_meta *m)
{
    if (!m) return;
    for (int k = 0; k < m->count; k++)
        free(m->entries[k].value);
    memset(m, 0, sizeof *m);
}

myo_status run_meta_set(run_meta *m, const char *key, const char *value)
{
    if (!m || !key || !key[0] || strlen(key) >= RUN_META_KEY_MAX || !value) return MYO_ERR_ARG;
    size_t len = strlen(value);
    char *copy = malloc(len + 1);
    if (!copy) return MYO_ERR_NOMEM;
    for (size_t i = 0; i <= len; i++)
        copy[i] = value[i] == '\n' || value[i] == '\r' ? ' ' : value[i];
    for (int k = 0; k < m->count; k++)
        if (strcmp(m->entries[k].key, key) == 0) {
            free(m->entries[k].value);
            m->entries[k].value = copy;
            return MYO_OK;
        }
    if (m->count == RUN_META_MAX) {
        free(copy);
        return MYO_ERR_ARG;
    }
    run_meta_entry *e = &m->entries[m->count++];
    snprintf(e->key, sizeof e->key, "%s", key);
    e->value = copy;
    return MYO_OK;
}

void run_meta_print(FILE *f, const run_meta *m)
{
    for (int k = 0; m && k < m->count; k++)
        fprintf(f, "# %s: %s\n", m->entries[k].key, m->entries[k].value);
    fflush(f);
}

myo_status run_meta_write(myo_h5log *log, const run_meta *m)
{
    if (!log || !m) return MYO_ERR_ARG;
    for (int k = 0; k < m->count; k++) {
        myo_status st = myo_h5log_set_meta(log, m->entries[k].key, m->entries[k].value);
        if (st != MYO_OK) return st;
    }
    return MYO_OK;
}

/* ------------------------------------------------------------ collect */

/* A shell word needs quotes unless it is made of these alone. */
static int shell_safe(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                    "_-+./:=,@%^",
                    *s))
            return 0;
    return 1;
}

/* argv joined with spaces, each word that needs it in single quotes (a
 * quote inside becomes '\''): pasting it into a shell reruns the command.
 * Owned; NULL when out of memory. */
static char *join_command_line(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += 4 * strlen(argv[i]) + 3;
    char *out = malloc(len), *p = out;
    if (!out) return NULL;
    for (int i = 0; i < argc; i++) {
        if (i) *p++ = ' ';
        if (shell_safe(argv[i])) {
            p += sprintf(p, "%s", argv[i]);
            continue;
        }
        *p++ = '\'';
        for (const char *s = argv[i]; *s; s++) {
            if (*s == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *s;
            }
        }
        *p++ = '\'';
    }
    *p = '\0';
    return out;
}

myo_status run_meta_hosts(MPI_Comm comm, char **names, int *count)
{
    *names = NULL, *count = 0;
    int size = 0;
    if (MPI_Comm_size(comm, &size) != MPI_SUCCESS) return MYO_ERR_MPI;
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    memset(name, 0, sizeof name);
    if (MPI_Get_processor_name(name, &len) != MPI_SUCCESS) return MYO_ERR_MPI;
    char *all = calloc((size_t)size, MPI_MAX_PROCESSOR_NAME);
    if (!all) return MYO_ERR_NOMEM;
    if (MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                      comm) != MPI_SUCCESS) {
        free(all);
        return MYO_ERR_MPI;
    }
    int n = 0;
    for (int r = 0; r < size; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        int seen = 0;
        for (int q = 0; q < n && !seen; q++)
            seen = strcmp(h, all + (size_t)q * MPI_MAX_PROCESSOR_NAME) == 0;
        if (seen) continue;
        if (n != r) memcpy(all + (size_t)n * MPI_MAX_PROCESSOR_NAME, h, MPI_MAX_PROCESSOR_NAME);
        n++;
    }
    *names = all;
    *count = n;
    return MYO_OK;
}

/* The distinct host names of comm's ranks, in rank order, separated by
 * spaces (cut with " ..." past HOSTS_MAX bytes), and how many there are. */
static myo_status gather_hosts(MPI_Comm comm, char **hosts, int *distinct)
{
    char *names = NULL;
    myo_status st = run_meta_hosts(comm, &names, distinct);
    if (st != MYO_OK) return st;
    char *out = malloc(HOSTS_MAX + 8);
    if (!out) {
        free(names);
        return MYO_ERR_NOMEM;
    }
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < *distinct; i++) {
        const char *h = names + (size_t)i * MPI_MAX_PROCESSOR_NAME;
        if (used + strlen(h) + 1 > HOSTS_MAX) {
            strcpy(out + used, used ? " ..." : "...");
            break;
        }
        used += (size_t)sprintf(out + used, "%s%s", used ? " " : "", h);
    }
    free(names);
    *hosts = out;
    return MYO_OK;
}

static const char *env_or_dash(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : "-";
}

myo_status run_meta_collect(MPI_Comm comm, int argc, char **argv, run_meta *out)
{
    if (!out) return MYO_ERR_ARG;
    memset(out, 0, sizeof *out);
    int size = 0;
    if (MPI_Comm_size(comm, &size) != MPI_SUCCESS) return MYO_ERR_MPI;
    char *hosts = NULL;
    int distinct = 0;
    myo_status st = gather_hosts(comm, &hosts, &distinct);
    if (st != MYO_OK) return st;

    char buf[512];
    const char *tool = "unknown";
    if (argc > 0 && argv && argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        tool = slash ? slash + 1 : argv[0];
    }
#define SET(key, value)                                                                            \
    do {                                                                                           \
        if (st == MYO_OK) st = run_meta_set(out, (key), (value));                                  \
    } while (0)
    SET("tool", tool);
    SET("version", PACKAGE_VERSION);
    SET("git_revision", MYO_GIT_REVISION);
    snprintf(buf, sizeof buf, "%d", MYO_GIT_DIRTY);
    SET("git_dirty", buf);
    SET("configure_flags", MYO_CONFIGURE_ARGS);
#if defined(__clang__)
    SET("compiler", __VERSION__);
#elif defined(__GNUC__)
    SET("compiler", "gcc " __VERSION__);
#else
    SET("compiler", "unknown");
#endif
    snprintf(buf, sizeof buf, "%s%s", MYO_BUILD_CFLAGS, MYO_KERNEL_CFLAGS);
    SET("cflags", buf);

    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "unknown";
    int len = 0;
    if (MPI_Get_library_version(mpi, &len) != MPI_SUCCESS) snprintf(mpi, sizeof mpi, "unknown");
    mpi[strcspn(mpi, "\r\n")] = '\0';
    SET("mpi_library", mpi);
    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) >= 0)
        snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
    else
        snprintf(buf, sizeof buf, "unknown");
    SET("hdf5_version", buf);
    const char *blas = openblas_get_config();
    snprintf(buf, sizeof buf, "%s", blas ? blas : "unknown");
    buf[strcspn(buf, "\r\n")] = '\0';
    SET("openblas_version", buf);
    snprintf(buf, sizeof buf, "%d", openblas_get_num_threads());
    SET("openblas_threads", buf);

    snprintf(buf, sizeof buf, "%d", size);
    SET("ranks", buf);
    SET("hosts", hosts);
    snprintf(buf, sizeof buf, "%d", distinct);
    SET("host_count", buf);
    SET("slurm_job_id", env_or_dash("SLURM_JOB_ID"));
    SET("slurm_array_job_id", env_or_dash("SLURM_ARRAY_JOB_ID"));
    SET("slurm_array_task_id", env_or_dash("SLURM_ARRAY_TASK_ID"));
    SET("slurm_nodelist", getenv("SLURM_JOB_NODELIST") ? env_or_dash("SLURM_JOB_NODELIST")
                                                       : env_or_dash("SLURM_NODELIST"));
    SET("slurm_cluster", env_or_dash("SLURM_CLUSTER_NAME"));
    myo_h5log_utc_now(buf, sizeof buf);
    SET("utc_start", buf);
    char *cmd = join_command_line(argc > 0 && argv ? argc : 0, argv);
    if (!cmd && st == MYO_OK) st = MYO_ERR_NOMEM;
    if (cmd) SET("command_line", cmd);
#undef SET
    free(cmd);
    free(hosts);
    return st;
}
