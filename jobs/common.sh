# common.sh -- what the job scripts of jobs/ share (bash, sourced by each
# *.sbatch after its #SBATCH lines).  README.md, "Slurm campaigns: jobs/",
# lists every variable; in short (defaults after '='):
#
#   MYO_RESULTS=$SLURM_SUBMIT_DIR/results   where the HDF5 files go
#   MYO_BINDIR       the drivers: the folder of myo-bench on PATH, else
#                    MYO_JOBS_DIR/../drivers (an in-source build)
#   MYO_LAUNCHER=mpirun   or srun (srun --mpi=$MYO_SRUN_MPI, default pmix)
#   MYO_MPIRUN_FLAGS, MYO_SRUN_FLAGS   more launcher flags (words)
#   MYO_NP=$SLURM_NTASKS  ranks of the array jobs' runs
#   MYO_THREADS=1    OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (MPI only)
#   MYO_RESUME=1     pass --resume (a rerun continues the sweep; 0: measure again)
#   MYO_REQUEUE=0    1: on the time-limit warning (SIGUSR1, --signal=B:USR1@N)
#                    stop the driver, then scontrol requeue this job
#   MYO_BENCH_ARGS   more options for every myo-bench run
#   MYO_MODULES      modules to load first (module load $MYO_MODULES)
#   MYO_ENV_SETUP    a file to source first (site environment)
#
# Signals: --signal=B:USR1@N sends SIGUSR1 to this shell N seconds before
# the time limit; scancel and the limit itself send SIGTERM.  Either is
# forwarded as SIGUSR1 to the launcher (mpirun and srun pass SIGUSR1 on to
# the ranks; mpirun would SIGKILL the ranks soon after a SIGTERM), the
# driver records the point in progress INTERRUPTED, closes its file and
# exits 138; no further run is started.  With MYO_REQUEUE=1 and SIGUSR1
# the job then requeues itself: it starts again from the top, --resume
# skipping the points done (--open-mode=append keeps the log).

set -u

myo_log() { echo "[$(date -u +%Y-%m-%dT%H:%M:%SZ)] ${SLURM_JOB_NAME:-job}: $*"; }
myo_die() { myo_log "ERROR: $*" >&2; exit "${2:-2}"; }

# -------------------------------------------------------------- environment
if test -n "${MYO_ENV_SETUP:-}"; then
    # shellcheck disable=SC1090
    . "$MYO_ENV_SETUP" || myo_die "cannot source MYO_ENV_SETUP=$MYO_ENV_SETUP"
fi
if test -n "${MYO_MODULES:-}"; then
    type module >/dev/null 2>&1 || myo_die "MYO_MODULES is set but there is no 'module' command"
    # shellcheck disable=SC2086
    module load $MYO_MODULES || myo_die "module load $MYO_MODULES failed"
fi

MYO_JOBS_DIR=${MYO_JOBS_DIR:-${SLURM_SUBMIT_DIR:-.}/jobs}
if test -z "${MYO_BINDIR:-}"; then
    if command -v myo-bench >/dev/null 2>&1; then
        MYO_BINDIR=$(dirname "$(command -v myo-bench)")
    else
        MYO_BINDIR=$MYO_JOBS_DIR/../drivers
    fi
fi
MYO_RESULTS=${MYO_RESULTS:-${SLURM_SUBMIT_DIR:-$PWD}/results}
MYO_LAUNCHER=${MYO_LAUNCHER:-mpirun}
MYO_RESUME=${MYO_RESUME:-1}
MYO_REQUEUE=${MYO_REQUEUE:-0}
MYO_NP=${MYO_NP:-${SLURM_NTASKS:-1}}
MYO_THREADS=${MYO_THREADS:-1}
export MYO_JOBS_DIR MYO_BINDIR MYO_RESULTS

# one thread per rank, said explicitly
export OMP_NUM_THREADS=$MYO_THREADS OPENBLAS_NUM_THREADS=$MYO_THREADS
# since Slurm 22.05 srun does not inherit sbatch's --cpus-per-task
if test -n "${SLURM_CPUS_PER_TASK:-}"; then export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK; fi

mkdir -p "$MYO_RESULTS" || myo_die "cannot create MYO_RESULTS=$MYO_RESULTS" 5
case $MYO_LAUNCHER in
    mpirun|srun) ;;
    *) myo_die "MYO_LAUNCHER=$MYO_LAUNCHER: use mpirun or srun" ;;
esac
if test "$MYO_RESUME" = 1; then myo_resume=(--resume); else myo_resume=(); fi

myo_log "job ${SLURM_JOB_ID:--} array ${SLURM_ARRAY_JOB_ID:--}_${SLURM_ARRAY_TASK_ID:--} restart ${SLURM_RESTART_COUNT:-0} on ${SLURM_JOB_NODELIST:-$(hostname -s)}: ntasks ${SLURM_NTASKS:--}, cpus/task ${SLURM_CPUS_PER_TASK:--}, launcher $MYO_LAUNCHER, threads $MYO_THREADS, bin $MYO_BINDIR, results $MYO_RESULTS"

# ------------------------------------------------------------------ signals
myo_child=
myo_signal=
myo_on_signal() {
    myo_signal=$1
    myo_log "got SIG$1: stopping the run in progress${myo_child:+ (pid $myo_child)}"
    if test -n "$myo_child"; then kill -USR1 "$myo_child" 2>/dev/null; fi
}
trap 'myo_on_signal USR1' USR1
trap 'myo_on_signal TERM' TERM

# myo_stopped: true once a signal came (run nothing more)
myo_stopped() { test -n "$myo_signal"; }

# myo_finish STATUS: after the last run; requeues the job when asked to
# and the time-limit warning came; exits with STATUS.
myo_finish() {
    if test "$myo_signal" = USR1 && test "$MYO_REQUEUE" = 1 && test -n "${SLURM_JOB_ID:-}"; then
        myo_log "requeueing job $SLURM_JOB_ID (it resumes where it stopped)"
        scontrol requeue "$SLURM_JOB_ID" || myo_log "scontrol requeue failed"
        # Slurm now ends this shell (SIGTERM): wait for that rather than exit
        # first, which could be seen as the job's end before the requeue
        sleep 60 &
        wait $!
    fi
    myo_log "done, exit status $1"
    exit "$1"
}

# ----------------------------------------------------------------- launcher
# myo_cores: CPUs of the allocation this shell can see (for oversubscription)
myo_cores() {
    local c
    c=$(nproc 2>/dev/null || echo 1)
    echo $((c * ${SLURM_JOB_NUM_NODES:-1}))
}

# myo_exec COMMAND ARGS...: COMMAND in the background, waited for (signals
# forwarded); returns its status, or 138 at once when a signal came before.
myo_exec() {
    local rc
    myo_stopped && return 138
    myo_log "run: $*"
    "$@" &
    myo_child=$!
    while :; do
        wait "$myo_child"
        rc=$?
        # a trapped signal interrupts wait: wait again for the run to end
        if test "$rc" -gt 128 && kill -0 "$myo_child" 2>/dev/null; then continue; fi
        break
    done
    myo_child=
    myo_log "exit status $rc"
    return "$rc"
}

# myo_run NP PROGRAM ARGS...: PROGRAM on NP ranks through $MYO_LAUNCHER
# (myo_exec); returns its status.
myo_run() {
    local np=$1 cores
    shift
    myo_stopped && return 138
    cores=$(myo_cores)
    local -a cmd
    if test "$MYO_LAUNCHER" = mpirun; then
        cmd=(mpirun -np "$np")
        if test "$(id -u)" -eq 0; then cmd+=(--allow-run-as-root); fi
        if test "$np" -gt "$cores"; then
            cmd+=(--oversubscribe --bind-to none)
        else
            cmd+=(--bind-to core --map-by core)
        fi
        cmd+=(-x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS)
        # shellcheck disable=SC2206
        cmd+=(${MYO_MPIRUN_FLAGS:-})
    else
        cmd=(srun --mpi="${MYO_SRUN_MPI:-pmix}" --ntasks="$np" --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}"
             --kill-on-bad-exit=1)
        if test "$np" -gt "${SLURM_NTASKS:-$np}" || test "$np" -gt "$cores"; then cmd+=(--overcommit); fi
        # shellcheck disable=SC2206
        cmd+=(${MYO_SRUN_FLAGS:-})
    fi
    myo_exec "${cmd[@]}" "$@"
}

# myo_bench NP ARGS...: myo-bench on NP ranks, with MYO_BENCH_ARGS and --resume
myo_bench() {
    local np=$1
    shift
    # shellcheck disable=SC2086
    myo_run "$np" "$MYO_BINDIR/myo-bench" "$@" ${MYO_BENCH_ARGS:-} "${myo_resume[@]}"
}

# myo_array_item LIST: the SLURM_ARRAY_TASK_ID-th item (from 0) of a comma
# or space separated LIST; exits 2 when there is none.
myo_array_item() {
    local -a items
    IFS=', ' read -r -a items <<<"$1"
    local i=${SLURM_ARRAY_TASK_ID:-0}
    test "$i" -lt "${#items[@]}" ||
        myo_die "array task $i but only ${#items[@]} items in '$1' (submit with --array=0-$((${#items[@]} - 1)))"
    echo "${items[$i]}"
}

test -x "$MYO_BINDIR/myo-bench" || myo_die "no $MYO_BINDIR/myo-bench (set MYO_BINDIR to the drivers' folder)"
