#!/bin/sh
# test_myo_bench.sh -- end-to-end test of myo-bench and its HDF5 results
# (make check runs it through SH_LOG_COMPILER; tests/local.mk's
# AM_TESTS_ENVIRONMENT gives it MYO_BINDIR, MYO_MPIEXEC, MYO_MPIEXEC_FLAGS
# and MYO_PYTHON, a python3 with numpy and h5py).
#
# 1. a tiny sweep on 1 rank and on 2 ranks: exit 0, one row per point on
#    stdout, the file read back by h5py (tests/support/myo_bench_check.py): the
#    columns, one row per point, every OK row VALID, the repetitions, the
#    run metadata (git_revision, ranks, command_line, utc_start, utc_end);
# 2. a second run appends (run_id 2); --resume measures nothing again;
# 3. SIGKILL in the middle of a sweep: the file opens and holds every
#    point the run printed, each complete, and the next run takes over the
#    dead run's writer's lock; SIGKILL a few milliseconds after the file
#    appears: --resume carries on (5 tries);
# 4. SIGTERM to the ranks: the run stops, exit 143, utc_end written; while
#    it runs, a second run on the same file (HDF5's file locking off, as
#    on NFS) is refused: exit 5, one line naming the writer;
# 5. bad input (unknown method, malformed range, D not divisible by H, a
#    text file as --output, an HDF5 file of another layout): the documented
#    exit code, one line on stderr, nothing on stdout, the file untouched;
# 6. a disk that fills up in the middle of a sweep (a small tmpfs; root
#    only): exit 5, one line, every printed row in the file, the run
#    closed (utc_end), no lock or temporary file left; a disk too full
#    to start: exit 5, one line, nothing left on it.
# Exit 0 when all hold, 1 otherwise (naming each failed check), 99 when
# the program or python is missing.
me=test_myo_bench.sh
here=`dirname "$0"`
. "$here/../support/driver-test-lib.sh"
driver_setup myo-bench
require_h5py
check="$here/../support/myo_bench_check.py"
make_tmp
bg=
cleanup() {
    if test -n "$bg"; then kill -9 -- "-$bg" "$bg" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup 0

# A tiny sweep: every method, both modes and phases, both precisions (double:
# solve only), n = 64 and 128.
tiny="--n 64,128 --d-model 16 --heads 2 --precision single,double --reps 2 --warmup 1 --no-flush --triad-mib 1 --progress none"

# run NP OUT ARGS...: the tool under mpiexec, stdout to OUT, stderr to OUT.err
run() {
    np=$1 out=$2
    shift 2
    run_tool "$np" "$out" "$out.err" "$@"
    cat "$out.err" >&2
    return $rc
}

# data rows on stdout: lines not starting with '#'
rows_of() {
    grep -c -v '^#' "$1"
}

# ---------------------------------------------------------------- 1, 2
for np in 1 2; do
    f=$tmp/r$np.h5
    run $np "$tmp/out$np" $tiny --output "$f"
    rc=$?
    test $rc -eq 0 || fail "$np rank(s): exit status $rc (expected 0)"
    grep -q '^# myo-bench ' "$tmp/out$np" || fail "$np rank(s): no '# myo-bench' header line"
    grep -q '^# git_revision: ' "$tmp/out$np" || fail "$np rank(s): no git_revision header line"
    n=`rows_of "$tmp/out$np"`
    test "$n" -ge 20 || fail "$np rank(s): $n rows on stdout (expected one per point, >= 20)"
    "$python" "$check" run "$f" --run 1 --ranks $np --rows "$n" ||
        fail "$np rank(s): the HDF5 file (above)"
done
cat "$tmp/out2"

# a second run appends run 2; --resume then measures nothing again
f=$tmp/r2.h5
run 2 "$tmp/out2b" $tiny --output "$f"
rc=$?
test $rc -eq 0 || fail "second run: exit status $rc"
"$python" "$check" run "$f" --run 2 --ranks 2 --rows `rows_of "$tmp/out2b"` ||
    fail "second run: the appended run 2 (above)"
run 2 "$tmp/out2c" $tiny --output "$f" --resume
rc=$?
test $rc -eq 0 || fail "--resume: exit status $rc"
grep -q '^# sweep: .*recorded OK before: skipped by --resume' "$tmp/out2c" ||
    fail "--resume: no '# sweep: ... skipped by --resume' line"
if grep -v '^#' "$tmp/out2c" | grep -q ' OK '; then fail "--resume: OK rows measured again"; fi
"$python" "$check" run "$f" --run 3 --ranks 2 --no-ok || fail "--resume: run 3 (above)"

# ------------------------------------------------------------------- 3
# A sweep long enough to be killed half-way, in its own process group.
long="--n 256:1M:x2 --method myosotis,solve --mode data --d-model 16 --heads 2 --reps 3 --no-flush --triad-mib 1 --progress none"
start_bg() {
    out=$1
    shift
    echo "$me: === (background) $mpiexec -n 2 $flags $prog $*"
    setsid "$mpiexec" -n 2 $flags "$prog" "$@" >"$out" 2>"$out.err" &
    bg=$!
}
# wait_rows FILE K: until the file holds >= K points (30 s at most)
wait_rows() {
    i=0
    while test $i -lt 300; do
        r=`HDF5_USE_FILE_LOCKING=FALSE "$python" "$check" rows "$1" 2>/dev/null`
        test "${r:-0}" -ge "$2" && return 0
        sleep 0.1
        i=`expr $i + 1`
    done
    return 1
}
# kill_bg: SIGKILL to the background run: the ranks (children of mpiexec;
# Open MPI gives them their own process group), mpiexec and its group, all
# at once; returns when they are gone
kill_bg() {
    ranks=`pgrep -P "$bg" -d ' '`
    kill -9 $ranks "$bg" 2>/dev/null
    kill -9 -- "-$bg" 2>/dev/null
    wait "$bg" 2>/dev/null
    bg=
    for pid in $ranks; do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    done
}
if command -v setsid >/dev/null 2>&1 && command -v pgrep >/dev/null 2>&1; then
    k=$tmp/kill.h5
    start_bg "$tmp/outk" $long --output "$k"
    wait_rows "$k" 3 || fail "SIGKILL: the file never held 3 points"
    kill_bg
    printed=`rows_of "$tmp/outk"`
    echo "$me: killed with SIGKILL after $printed printed rows"
    "$python" "$check" complete "$k" --min-rows "$printed" || fail "SIGKILL: the file (above)"
    if command -v h5dump >/dev/null 2>&1; then
        h5dump -H "$k" >/dev/null 2>&1 || fail "SIGKILL: h5dump cannot read the file"
    fi
    # the dead run's lock is taken over by the next run
    test -f "$k.lock" || fail "SIGKILL: no writer's lock left to take over"
    run 1 "$tmp/outk2" $tiny --method solve --output "$k" --resume
    test $? -eq 0 || fail "SIGKILL: the next run on the file exited $rc (expected 0)"
    test ! -f "$k.lock" || fail "SIGKILL: the next run left the lock file"

    # killed within milliseconds of the file's appearance: --resume goes on.
    # One rank started directly (a singleton MPI run), so that the kill
    # comes the moment the file appears (a busy wait), or a few
    # milliseconds later; under mpiexec it would come too late to matter.
    for try in 1 2 3 4 5; do
        e=$tmp/early$try.h5
        "$prog" $tiny --method solve --output "$e" >"$tmp/oute" 2>&1 &
        early=$!
        while test ! -f "$e" && kill -0 "$early" 2>/dev/null; do :; done
        test $try -le 3 || sleep 0.0$try
        kill -9 "$early" 2>/dev/null
        wait "$early" 2>/dev/null
        run 1 "$tmp/oute2" $tiny --method solve --output "$e" --resume
        rc=$?
        test $rc -eq 0 || fail "killed early (try $try): --resume exited $rc (expected 0)"
    done

    # ------------------------------------------------------------- 4
    t=$tmp/term.h5
    start_bg "$tmp/outt" $long --output "$t"
    wait_rows "$t" 3 || fail "SIGTERM: the file never held 3 points"
    # a second writer on the file, HDF5's own locking off: refused
    HDF5_USE_FILE_LOCKING=FALSE; export HDF5_USE_FILE_LOCKING
    run_tool 1 "$tmp/second" "$tmp/second.err" $tiny --output "$t"
    unset HDF5_USE_FILE_LOCKING
    check_refusal "a second writer" 5 "$tmp/second" "$tmp/second.err"
    grep -q 'another run is writing it' "$tmp/second.err" ||
        fail "a second writer: the message does not say another run is writing the file"
    ranks=`pgrep -P "$bg" -d ' ' -f myo-bench`
    test -n "$ranks" || ranks=$bg
    kill -TERM $ranks
    wait "$bg"
    rc=$?
    bg=
    test $rc -eq 143 || fail "SIGTERM: exit status $rc (expected 143 = 128 + SIGTERM)"
    grep -q '^# stopped by signal 15' "$tmp/outt" || fail "SIGTERM: no '# stopped by signal 15' line"
    "$python" "$check" closed "$t" --run 1 || fail "SIGTERM: the file (above)"
    "$python" "$check" complete "$t" --min-rows `rows_of "$tmp/outt"` || fail "SIGTERM: the rows (above)"
else
    echo "$me: no setsid or pgrep: the SIGKILL and SIGTERM checks are skipped"
fi

# ------------------------------------------------------------------- 5
# bad NAME CODE ARGS...: exit CODE, one line from the tool, no stdout, and
# $target unchanged (byte for byte)
bad() {
    name=$1 code=$2
    shift 2
    keep_copy "$target"
    run 2 "$tmp/bad" "$@"
    rc=$?
    check_refusal "$name" "$code" "$tmp/bad" "$tmp/bad.err"
    check_unchanged "$name" "$target"
}
target=$tmp/r2.h5
bad "unknown method" 2 --method bogus --output "$target"
bad "malformed range" 2 --n 1K:x2:foo --output "$target"
bad "D not divisible by H" 2 --d-model 30 --heads 4 --output "$target"
target=$tmp/notes.txt
echo "not an HDF5 file" >"$target"
bad "a text file as --output" 5 $tiny --output "$target"
target=$tmp/other.h5
"$python" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["schema"] = np.bytes_("myo-bench/1")
    f.attrs["schema_version"] = np.int64(1)
    f.create_dataset("points", data=np.zeros(3, dtype=[("run_id", "<i8"), ("x", "<f8")]), maxshape=(None,))
' "$target" || fail "could not make the incompatible HDF5 file"
bad "an incompatible HDF5 file" 3 $tiny --output "$target"

# ------------------------------------------------------------------- 6
# 1060 KiB: the new file and the 1 MiB the log keeps free behind it fit,
# the next points' chunks do not
if run_on_full_disk 1060 full --method solve --n 64:16K:x2 --reps 1 --no-flush --triad-mib 1 --progress none; then
    test $rc -eq 5 || fail "full disk: exit status $rc (expected 5)"
    lines=`grep -c "^$tool: " "$tmp/full.err"`
    test "$lines" -eq 1 || fail "full disk: $lines lines from the tool on stderr (expected 1)"
    grep -q 'the disk is full' "$tmp/full.err" || fail "full disk: the message does not say so"
    printed=`rows_of "$tmp/full.out"`
    test "$printed" -ge 1 || fail "full disk: no row printed before the disk filled up"
    test "`cat "$tmp/full.ls"`" = r.h5 || fail "full disk: left behind: `cat "$tmp/full.ls"`"
    "$python" "$check" closed "$tmp/full.h5" --run 1 || fail "full disk: the run (above)"
    "$python" "$check" complete "$tmp/full.h5" --min-rows "$printed" ||
        fail "full disk: the rows (above)"
    inside=`"$python" "$check" rows "$tmp/full.h5"`
    test "$inside" -eq "$printed" || fail "full disk: $printed rows printed, $inside in the file"
fi
# 48 KiB: too small for the log and its reserve from the start (and for
# the sweep: without the reserve, its appends fail half-way)
if run_on_full_disk 48 tiny --method solve --n 64:16K:x2 --reps 1 --no-flush --triad-mib 1 --progress none; then
    check_refusal "a disk too full to start" 5 "$tmp/tiny.out" "$tmp/tiny.err"
    grep -q 'the disk is full' "$tmp/tiny.err" || fail "a disk too full to start: the message does not say so"
    test -z "`cat "$tmp/tiny.ls"`" || fail "a disk too full to start: left behind: `cat "$tmp/tiny.ls"`"
fi

finish
