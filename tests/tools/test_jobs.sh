#!/bin/sh
# test_jobs.sh -- the Slurm job scripts of jobs/ on a real single-node Slurm
# cluster started on this machine (jobs/local-slurm.sh): make check runs it
# through SH_LOG_COMPILER with MYO_BINDIR and MYO_PYTHON from
# AM_TESTS_ENVIRONMENT (tests/local.mk).
#
# 1. jobs/submit.sh --tiny: every campaign (sweep-n, strong, weak, lra,
#    compare: 9 array tasks and 2 jobs, seconds each) and the analysis job
#    chained with --dependency=afterany; every job COMPLETED, every task's
#    HDF5 file holds OK rows recorded under Slurm (the job and array ids in
#    the run metadata), and the analysis job wrote report.md (when
#    myo-report is built: otherwise the test says so and checks that the
#    chained job ran and named what was missing);
# 2. the same sweep job with MYO_LAUNCHER=srun (srun --mpi=pmix);
# 3. the time-limit warning: a slower sweep gets SIGUSR1 in the batch shell
#    (scancel --batch --signal=USR1, what --signal=B:USR1@N delivers) after
#    its first point; the driver records INTERRUPTED and the job ends
#    (exit 138); resubmitted (submit.sh --resume), it completes the sweep:
#    every point OK exactly once over the runs of the file;
# 4. the same with --requeue: the job requeues itself and completes, its
#    log appended (--open-mode=append), no point measured twice;
# 5. the training campaign (submit.sh --tiny train: Fashion-MNIST and
#    ListOps, myosotis and ssm, raster and morton for the images, seed 1):
#    the data job, the array of trainings after it and the analysis job
#    COMPLETED, every training's log holds one results row recorded under a
#    Slurm array, the report has its accuracy table.
# The cluster is stopped at exit, whatever happens.
# Exit 0 when all hold; 1 naming each failed check; 77 (SKIP, with the
# reason) when Slurm or munge is not installed or we are not root; 99 when
# the drivers or h5py are missing or the cluster does not start.
# The cluster listens on MYO_TEST_SLURM_PORT and the next port; unset, on
# the first free pair from 16817 up, chosen and bound under a lock
# (/tmp/myo-test-slurm.lock) so that test runs side by side (two make check
# at once) each get their own cluster.
# Waiting for jobs is a guard against hangs, not a time budget: each wait
# gives up after MYO_TEST_JOB_WAIT seconds (default 900; the jobs take 5 to
# 40 s on 2 idle cores, and several times that beside the other tests of a
# parallel make check).
me=test_jobs.sh
here=`dirname "$0"`
. "$here/../support/driver-test-lib.sh"
jobs=`cd "$here/../../jobs" && pwd`

missing=
for t in bash flock sbatch squeue scontrol scancel sinfo slurmctld slurmd munged munge unmunge; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if test -n "$missing"; then
    echo "$me: SKIP: Slurm or munge not installed (missing:$missing; apt-get install slurm-wlm munge, or .ci/install-deps)"
    exit 77
fi
if test "`id -u`" -ne 0; then
    echo "$me: SKIP: the local Slurm cluster needs root (slurmctld and slurmd run as root)"
    exit 77
fi

driver_setup myo-bench
require_built "$bindir/myo-lra"
require_h5py
MYO_BINDIR=`cd "$bindir" && pwd`; export MYO_BINDIR
MYO_PYTHON=$python; export MYO_PYTHON
make_tmp
t_start=`date +%s`
elapsed() { echo $((`date +%s` - t_start)); }
job_wait=${MYO_TEST_JOB_WAIT:-900}

MYO_SLURM_DIR=$tmp/slurm; export MYO_SLURM_DIR
cleanup() {
    bash "$jobs/local-slurm.sh" stop >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup 0
trap 'exit 1' 1 2 15

# start_cluster: the first free port pair (or MYO_TEST_SLURM_PORT), under
# the lock until the daemons listen; 1 when local-slurm.sh start fails
start_cluster() {
    (
        flock -w 300 9 || { echo "$me: no lock on /tmp/myo-test-slurm.lock after 300 s" >&2; exit 1; }
        port=${MYO_TEST_SLURM_PORT:-}
        if test -z "$port"; then
            port=16817
            while bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null ||
                  bash -c "exec 3<>/dev/tcp/127.0.0.1/$((port + 1))" 2>/dev/null; do
                port=$((port + 2))
                test "$port" -lt 17017 || { echo "$me: no free port pair in 16817-17016" >&2; exit 1; }
            done
        fi
        echo "$port" >"$tmp/port"
        # 9>&-: the daemons must not inherit the lock and hold it for their life
        MYO_SLURM_PORT=$port bash "$jobs/local-slurm.sh" start 9>&-
    ) 9>>/tmp/myo-test-slurm.lock
}
if ! start_cluster >"$tmp/start.out" 2>"$tmp/start.err"; then
    cat "$tmp/start.err" >&2
    echo "$me: the local Slurm cluster did not start (above)" >&2
    exit 99
fi
MYO_SLURM_PORT=`cat "$tmp/port"`; export MYO_SLURM_PORT
cat "$tmp/start.err"
SLURM_CONF=$MYO_SLURM_DIR/slurm.conf; export SLURM_CONF
echo "$me: cluster up at `elapsed` s"

# states JOBID: the JobState of the job or of each task of an array
states() {
    scontrol show job -o "$1" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p'
}
# wait_jobs JOBID...: until none is pending or running; 1 after $job_wait s
wait_jobs() {
    wait_limit=$job_wait
    wait_t0=`date +%s`
    while :; do
        busy=0
        for j in "$@"; do
            if states "$j" | grep -Eq 'PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUE|SUSPENDED|RESIZING'; then busy=1; fi
        done
        test "$busy" -eq 0 && return 0
        if test $((`date +%s` - wait_t0)) -ge "$wait_limit"; then
            fail "jobs $* still pending or running after $wait_limit s"
            squeue
            return 1
        fi
        sleep 1
    done
}
# all_completed JOBID...: every job (every array task) COMPLETED
all_completed() {
    for j in "$@"; do
        s=`states "$j" | sort -u | tr '\n' ' '`
        test "$s" = "COMPLETED " || fail "job $j: state(s) ${s:-unknown} (expected COMPLETED)"
    done
}
# job_ids FILE: the ids submit.sh printed (its last line, job_ids=...)
job_ids() {
    sed -n 's/^job_ids=//p' "$1"
}
show_logs() {
    for f in "$1"/logs/*.out; do
        test -f "$f" && { echo "--- $f"; grep -v '^#' "$f" | tail -n 8; }
    done
}

cat >"$tmp/check.py" <<'PY'
import sys, h5py
def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)
def load(path):
    with h5py.File(path, "r", locking=False) as f:
        rows = f["points"][:]
        runs = {name: {k: text(v) for k, v in g.attrs.items()} for name, g in f["runs"].items()}
    return rows, runs
bad = []
cmd = sys.argv[1]
if cmd == "files":          # files FILE...: OK rows, recorded under Slurm
    for path in sys.argv[2:]:
        try:
            rows, runs = load(path)
        except Exception as e:
            bad.append("%s: cannot read (%s)" % (path, e)); continue
        st = [text(s) for s in rows["status"]]
        if st.count("OK") == 0:
            bad.append("%s: no OK row (%s)" % (path, sorted(set(st))))
        if any(s in ("FAILED", "INTERRUPTED") for s in st):
            bad.append("%s: statuses %s" % (path, sorted(set(st))))
        for name, a in runs.items():
            if a.get("slurm_job_id", "-") in ("-", ""):
                bad.append("%s %s: no slurm_job_id" % (path, name))
        print("%s: %d rows, %d OK, runs %d, job %s array %s_%s" % (
            path, len(rows), st.count("OK"), len(runs), a.get("slurm_job_id"),
            a.get("slurm_array_job_id"), a.get("slurm_array_task_id")))
elif cmd == "interrupted":  # interrupted FILE: run 1 stopped mid-sweep
    rows, runs = load(sys.argv[2])
    st = [text(s) for s in rows["status"]]
    total = int(runs["run-000001"]["points"])
    print("%s after the signal: %d rows %s of %d points" % (sys.argv[2], len(rows), st, total))
    if st.count("OK") < 1: bad.append("no OK point before the signal")
    if st.count("INTERRUPTED") != 1: bad.append("%d INTERRUPTED rows (expected 1)" % st.count("INTERRUPTED"))
    if st.count("OK") >= total: bad.append("the sweep was complete before the signal (too fast)")
elif cmd == "complete":     # complete FILE RUNS: every point OK exactly once
    rows, runs = load(sys.argv[2])
    want_runs = int(sys.argv[3])
    total = int(runs["run-000001"]["points"])
    ok = [text(k) for k, s in zip(rows["point_key"], rows["status"]) if text(s) == "OK"]
    print("%s: %d runs, %d rows, %d OK, %d distinct OK point_keys, sweep of %d points" % (
        sys.argv[2], len(runs), len(rows), len(ok), len(set(ok)), total))
    if len(runs) != want_runs: bad.append("%d runs (expected %d)" % (len(runs), want_runs))
    if len(ok) != len(set(ok)): bad.append("%d duplicate OK rows" % (len(ok) - len(set(ok))))
    if len(set(ok)) != total: bad.append("%d points OK, the sweep has %d" % (len(set(ok)), total))
    last = max(rows["run_id"])
    if not any(rows["run_id"] == last): bad.append("the last run wrote nothing")
for b in bad:
    print("check.py: " + b)
sys.exit(1 if bad else 0)
PY
check() {
    "$python" "$tmp/check.py" "$@"
}

# ---------------------------------------------------------------- 1, 2
res=$tmp/campaign
bash "$jobs/submit.sh" --tiny --results "$res" >"$tmp/submit1.out" 2>&1 || fail "submit.sh --tiny: exit status $?"
cat "$tmp/submit1.out"
ids=`job_ids "$tmp/submit1.out"`
set -- $ids
test $# -eq 6 || fail "submit.sh printed $# job ids (expected 5 campaigns and the analysis job)"
analysis_id=`eval echo "\\${$#}"`
grep -q "report/report.md" "$tmp/submit1.out" || fail "submit.sh did not say where the report goes"
res_srun=$tmp/srun
MYO_LAUNCHER=srun MYO_SWEEP_METHODS=solve bash "$jobs/submit.sh" --tiny --no-analysis --results "$res_srun" sweep-n \
    >"$tmp/submit2.out" 2>&1 || fail "submit.sh with MYO_LAUNCHER=srun: exit status $?"
cat "$tmp/submit2.out"
srun_id=`job_ids "$tmp/submit2.out"`
wait_jobs $ids $srun_id
echo "$me: campaign done at `elapsed` s"
for j in $ids $srun_id; do test "$j" = "$analysis_id" || all_completed "$j"; done
files=
for f in sweep-n-myosotis sweep-n-solve strong-P1 strong-P2 weak-P1 weak-P2 lra-listops lra-image \
         compare-myosotis compare-dense-tiled compare-ssm; do
    test -f "$res/$f.h5" || fail "no $res/$f.h5"
    files="$files $res/$f.h5"
done
check files $files "$res_srun/sweep-n-solve.h5" || fail "the campaign's HDF5 files (above)"
grep -q 'run: srun --mpi=' "$res_srun"/logs/sweep-n-*_0.out || fail "MYO_LAUNCHER=srun: no srun in the log"
# the analysis tool: MYO_REPORT (make check sets it: then it must be there),
# else where analysis.sbatch looks
report_tool=${MYO_REPORT:-}
if test -z "$report_tool"; then
    for t in "$MYO_BINDIR/myo-report" "$MYO_BINDIR/../analysis/myo-report"; do
        if test -f "$t"; then report_tool=$t; break; fi
    done
fi
if test -n "$report_tool"; then
    test -f "$report_tool" || fail "MYO_REPORT=$report_tool does not exist"
    all_completed "$analysis_id"
    test -s "$res/report/report.md" || fail "the analysis job wrote no $res/report/report.md"
else
    echo "$me: NOTE: myo-report is not built (analysis/): the report is not checked, only that the chained analysis job ran"
    grep -q 'no myo-report' "$res"/logs/analysis-"$analysis_id".out 2>/dev/null ||
        fail "the analysis job did not run (no log $res/logs/analysis-$analysis_id.out saying so)"
fi
test "$failed" -eq 0 || show_logs "$res"

# ---------------------------------------------------------------- 3, 4
# a sweep of 12 points of about 0.5 s each on idle cores; no time budget
# (a loaded machine made the driver skip points for time) and a time limit
# far beyond the sweep: the points are all measured, however slowly
MYO_SWEEP_METHODS=myosotis MYO_SWEEP_N=2000,2100,2200,2300,2400,2500,2600,2700,2800,2900,3000,3100
MYO_SWEEP_MODE=data MYO_SWEEP_PHASE=fwd MYO_NP=2 MYO_TIME=00:30:00
MYO_BENCH_ARGS="--d-model 32 --heads 2 --reps 600 --warmup 0 --no-flush --triad-mib 1 --progress none --time-budget 86400"
export MYO_SWEEP_METHODS MYO_SWEEP_N MYO_SWEEP_MODE MYO_SWEEP_PHASE MYO_NP MYO_TIME MYO_BENCH_ARGS

# interrupt RESULTS [SUBMIT-OPTIONS]: submit the sweep, send the time-limit
# warning to the batch shell once a point is done; sets $tl_id, $tl_log
interrupt() {
    tl_res=$1
    shift
    bash "$jobs/submit.sh" --no-analysis --results "$tl_res" "$@" sweep-n >"$tmp/submit3.out" 2>&1 ||
        fail "submit.sh $*: exit status $?"
    cat "$tmp/submit3.out"
    tl_id=`job_ids "$tmp/submit3.out"`
    tl_log=$tl_res/logs/sweep-n-${tl_id}_0.out
    t0=`date +%s`
    until test -f "$tl_log" && grep -Eq '^ +[0-9]+ .* OK ' "$tl_log"; do
        if test $((`date +%s` - t0)) -ge "$job_wait"; then fail "no point done after $job_wait s"; return 1; fi
        sleep 0.2
    done
    echo "$me: scancel --batch --signal=USR1 ${tl_id}_0 at `elapsed` s"
    scancel --batch --signal=USR1 "${tl_id}_0" || fail "scancel --signal=USR1: exit status $?"
}

# 3. stopped, then resubmitted with --resume
tl=$tmp/timelimit
if interrupt "$tl"; then
    wait_jobs "$tl_id"
    grep -q 'got SIGUSR1' "$tl_log" || fail "the batch shell did not log the signal"
    grep -q 'exit status 138' "$tl_log" || fail "the driver did not exit 138 after SIGUSR1"
    check interrupted "$tl/sweep-n-myosotis.h5" || fail "the interrupted sweep (above)"
    bash "$jobs/submit.sh" --no-analysis --resume --results "$tl" sweep-n >"$tmp/submit4.out" 2>&1 ||
        fail "resubmission: exit status $?"
    id2=`job_ids "$tmp/submit4.out"`
    wait_jobs "$id2"
    all_completed "$id2"
    check complete "$tl/sweep-n-myosotis.h5" 2 || fail "stopped and resubmitted with --resume (above)"
fi
echo "$me: resubmission case done at `elapsed` s"

# 4. requeued by itself
rq=$tmp/requeue
if interrupt "$rq" --requeue; then
    wait_jobs "$tl_id"
    all_completed "$tl_id"
    restarts=`scontrol show job -o "${tl_id}_0" | sed -n 's/.* Restarts=\([0-9]*\) .*/\1/p'`
    test "${restarts:-0}" -ge 1 || fail "--requeue: the job was not requeued (Restarts=$restarts)"
    grep -q 'requeueing job' "$tl_log" || fail "--requeue: no 'requeueing job' in the log"
    grep -q 'restart 0 ' "$tl_log" && grep -q 'restart 1 ' "$tl_log" ||
        fail "--requeue: the log does not hold both runs (--open-mode=append)"
    check complete "$rq/sweep-n-myosotis.h5" 2 || fail "requeued (above)"
fi
echo "$me: requeue case done at `elapsed` s"
test "$failed" -eq 0 || { show_logs "$tl"; show_logs "$rq"; tail -n 20 "$MYO_SLURM_DIR"/log/slurmctld.log; }

# ---------------------------------------------------------------- 5
# the training campaign (submit.sh --tiny train): the data job, the array
# of trainings after it, the analysis job after them; every training ends
# with a results row recorded under Slurm, and the report has its
# accuracy table.  Fashion-MNIST comes from the Debian package: without it
# the data job cannot make that file, and the case runs ListOps alone.
tr=$tmp/train
if test -d "${MYO_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"; then
    MYO_TRAIN_TASKS=fashion-mnist,listops
else
    echo "$me: NOTE: no Fashion-MNIST (dataset-fashion-mnist): the training campaign runs ListOps alone"
    MYO_TRAIN_TASKS=listops
fi
MYO_TRAIN_SEEDS=1 MYO_NP=1 MYO_TIME=00:30:00
export MYO_TRAIN_TASKS MYO_TRAIN_SEEDS MYO_NP MYO_TIME
bash "$jobs/submit.sh" --tiny --results "$tr" train >"$tmp/submit5.out" 2>&1 ||
    fail "submit.sh --tiny train: exit status $?"
cat "$tmp/submit5.out"
ids=`job_ids "$tmp/submit5.out"`
set -- $ids
test $# -eq 3 || fail "submit.sh train printed $# job ids (expected the data job, the array, the analysis)"
wait_jobs $ids
for j in $ids; do test "$j" = "$3" && test -z "$report_tool" || all_completed "$j"; done
"$python" - "$tr" <<'PY' || fail "the training campaign's logs (above)"
import glob, sys, h5py
files = sorted(glob.glob(sys.argv[1] + "/train-*.h5"))
files = [f for f in files if not f.endswith(".ckpt.h5")]
bad = [] if files else ["no train-*.h5 log"]
for path in files:
    with h5py.File(path, "r", locking=False) as f:
        res = f["results"][:]
        runs = [dict(g.attrs) for g in f["runs"].values()]
    job = runs[-1].get("slurm_array_job_id", b"-")
    print("%s: %d results rows, test accuracy %s, array job %s" % (
        path, len(res), [round(float(a), 3) for a in res["test_accuracy"]], job))
    if len(res) != 1: bad.append("%s: %d results rows (expected 1)" % (path, len(res)))
    if job in (b"-", "-", b""): bad.append("%s: not recorded under a Slurm array" % path)
for b in bad: print("check: " + b)
sys.exit(1 if bad else 0)
PY
if test -n "$report_tool"; then
    grep -q "^Test accuracy in percent" "$tr/report/report.md" 2>/dev/null ||
        fail "the analysis job's report has no accuracy table ($tr/report/report.md)"
fi
test "$failed" -eq 0 || show_logs "$tr"
echo "$me: training campaign done at `elapsed` s"
finish
