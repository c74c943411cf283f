/* sweep.c -- what the sweep drivers that log to HDF5 share (sweep.h). */
#include <config.h>

#include "sweep.h"
#include "bench.h"

#include <mpi.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig)
{
    g_signal = sig; /* all a handler may safely do; the sweep loop polls it */
}

void myo_sweep_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a read or write in flight completes */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int myo_sweep_signal(void)
{
    return (int)g_signal;
}

int myo_sweep_stop_agreed(void)
{
    int sig = (int)g_signal;
    myo_bench_mpi_check(MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                        "MPI_Allreduce");
    return sig;
}

/* ----------------------------------------------------------- progress */

int myo_sweep_progress_enabled(int mode)
{
    if (mode == MYO_SWEEP_PROGRESS_LINES) return 1;
    if (mode == MYO_SWEEP_PROGRESS_NONE) return 0;
    /* under a launcher every rank's stderr is a pipe anyway; under Slurm the
     * log is a file that a progress line per point only bloats */
    static const char *const launched[] = {"OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMIX_RANK",
                                           "SLURM_JOB_ID"};
    for (size_t i = 0; i < sizeof launched / sizeof *launched; i++)
        if (getenv(launched[i])) return 0;
    return isatty(STDERR_FILENO);
}

void myo_sweep_progress_start(myo_sweep_progress *p, int on, int64_t points, double cost_all)
{
    memset(p, 0, sizeof *p);
    p->on = on;
    p->t_start = MPI_Wtime();
    p->points = points;
    p->cost_all = cost_all;
}

void myo_sweep_progress_point(myo_sweep_progress *p, double cost, int ran, const char *what)
{
    p->done++;
    if (ran)
        p->cost_done += cost;
    else
        p->cost_gone += cost;
    if (!p->on || myo_bench_rank() != 0) return;
    double elapsed = MPI_Wtime() - p->t_start;
    double left = p->cost_all - p->cost_done - p->cost_gone;
    char eta[32] = "-";
    if (p->done >= p->points)
        snprintf(eta, sizeof eta, "0 s");
    else if (p->cost_done > 0 && left >= 0)
        snprintf(eta, sizeof eta, "%.1f s", elapsed * left / p->cost_done);
    myo_bench_say(0, "[%lld/%lld] %s; elapsed %.1f s, ETA %s", (long long)p->done,
                  (long long)p->points, what, elapsed, eta);
}

/* ------------------------------------------------------------ resume */

myo_status myo_sweep_keys_load(const myo_h5log *log, int table, const char *key_col,
                               const char *status_col, const char *const *done, myo_sweep_keys *out)
{
    memset(out, 0, sizeof *out);
    char *keys = NULL, *status = NULL;
    size_t kw = 0, sw = 0;
    int64_t kc = 0, sc = 0;
    myo_status s = myo_h5log_read_strings(log, table, key_col, &keys, &kw, &kc);
    if (s == MYO_OK) s = myo_h5log_read_strings(log, table, status_col, &status, &sw, &sc);
    if (s != MYO_OK) {
        free(keys), free(status);
        return s;
    }
    int64_t count = kc < sc ? kc : sc, kept = 0;
    for (int64_t i = 0; i < count; i++) {
        const char *st = status + (size_t)i * sw;
        int is_done = 0;
        for (const char *const *d = done; *d && !is_done; d++)
            is_done = strncmp(st, *d, strlen(*d)) == 0;
        if (!is_done) continue;
        /* compact in place: row kept <= row i */
        if (kept != i) memmove(keys + (size_t)kept * kw, keys + (size_t)i * kw, kw);
        kept++;
    }
    free(status);
    out->keys = keys, out->width = kw, out->count = kept;
    return MYO_OK;
}

int myo_sweep_keys_has(const myo_sweep_keys *k, const char *key)
{
    if (!k || !k->keys || strlen(key) >= k->width) return 0; /* too long to be stored */
    for (int64_t i = 0; i < k->count; i++)
        if (strncmp(k->keys + (size_t)i * k->width, key, k->width) == 0) return 1;
    return 0;
}

int myo_sweep_keys_has_agreed(const myo_sweep_keys *k, const char *key)
{
    int has = myo_bench_rank() == 0 ? myo_sweep_keys_has(k, key) : 0;
    myo_bench_mpi_check(MPI_Bcast(&has, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
    return has;
}

void myo_sweep_keys_free(myo_sweep_keys *k)
{
    if (!k) return;
    free(k->keys);
    memset(k, 0, sizeof *k);
}
