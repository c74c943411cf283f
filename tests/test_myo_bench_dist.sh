#!/bin/sh
# test_myo_bench_dist.sh -- smoke test of myo-bench-dist (make check runs it
# through SH_LOG_COMPILER; Makefile.am's AM_TESTS_ENVIRONMENT gives it
# MYO_BINDIR, MYO_MPIEXEC and MYO_MPIEXEC_FLAGS).
#
# A tiny weak-scaling run on 2 ranks must exit 0, print at least one data
# row per kernel, every data row OK and VALID, with a numeric overhead
# column; a bad option must exit 2 with one line from the tool.  Exit 0
# when all hold, 1 otherwise (naming what failed), 99 when the program is
# not built.  MYO_MPI_TIMEOUT (seconds, default 300; 0 for none) stops a
# run that hangs, through timeout(1) where it exists.
me=test_myo_bench_dist.sh
bindir=${MYO_BINDIR:-drivers}
mpiexec=${MYO_MPIEXEC:-mpiexec}
flags=${MYO_MPIEXEC_FLAGS-}
prog=$bindir/myo-bench-dist
if test ! -x "$prog"; then
    echo "$me: $prog is not built (make check builds it first)" >&2
    exit 99
fi

# As tests/mpi-run.sh: no leak report from Open MPI's components in a
# sanitizer build, and Open MPI runs as root in containers.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"; export ASAN_OPTIONS
OMPI_ALLOW_RUN_AS_ROOT=1; export OMPI_ALLOW_RUN_AS_ROOT
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS
limit=${MYO_MPI_TIMEOUT-300}
timeout=
if test "$limit" != 0 && command -v timeout >/dev/null 2>&1; then
    timeout="timeout -k 10 $limit"
fi

tmp=`mktemp -d "${TMPDIR:-/tmp}/test_myo_bench_dist.XXXXXX"` || exit 99
trap 'rm -rf "$tmp"' 0
failed=0
fail() {
    echo "$me: FAIL: $*"
    failed=1
}

# 1. a tiny run: exit 0, every data row OK and VALID, overhead a number
echo "$me: === $mpiexec -n 2 $flags $prog --tokens 4096 --reps 2 --d-model 16 --heads 2 --kernel both --scaling weak --triad-mib 8"
# $flags and $timeout split into words on purpose.
$timeout "$mpiexec" -n 2 $flags "$prog" --tokens 4096 --reps 2 --d-model 16 --heads 2 \
    --kernel both --scaling weak --triad-mib 8 >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out"
cat "$tmp/err" >&2
test $rc -eq 0 || fail "the run exited with status $rc (expected 0)"
grep -q '^# myo-bench-dist ' "$tmp/out" || fail "no '# myo-bench-dist' header line"
grep -q '^#kernel ' "$tmp/out" || fail "no column header line"
# data rows: the lines not starting with '#'.  Columns (see the '#kernel'
# line): 1 kernel, 9 pass, 13 overhead, 21 valid, 22 status.
awk '
    /^#/ || NF == 0 { next }
    {
        rows++
        kernels[$1] = 1
        if ($21 != "VALID") { printf "row %d (%s %s): valid column is \"%s\", not VALID\n", rows, $1, $9, $21; bad = 1 }
        if ($22 != "OK") { printf "row %d (%s %s): status \"%s\", not OK\n", rows, $1, $9, $22; bad = 1 }
        if ($13 !~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/) { printf "row %d (%s %s): overhead \"%s\" is not a number\n", rows, $1, $9, $13; bad = 1 }
    }
    END {
        if (rows < 3) { printf "%d data rows (expected at least 3: solve factor+solve, solve, layer fwd+bwd)\n", rows; bad = 1 }
        if (!("solve" in kernels) || !("layer" in kernels)) { print "rows of both kernels expected"; bad = 1 }
        exit bad
    }' "$tmp/out" >"$tmp/check" || fail "`cat "$tmp/check"`"

# 2. a bad option: exit 2 and one line from the tool on stderr
echo "$me: === $mpiexec -n 2 $flags $prog --kernel bogus"
$timeout "$mpiexec" -n 2 $flags "$prog" --kernel bogus >"$tmp/out2" 2>"$tmp/err2"
rc=$?
test $rc -eq 2 || fail "--kernel bogus exited with status $rc (expected 2)"
lines=`grep -c '^myo-bench-dist: ' "$tmp/err2"`
test "$lines" -eq 1 || fail "--kernel bogus printed $lines lines from the tool on stderr (expected 1)"
if test -s "$tmp/out2"; then fail "--kernel bogus printed on stdout"; fi

if test $failed -ne 0; then
    echo "$me: FAILED" >&2
    exit 1
fi
echo "$me: PASS"
exit 0
