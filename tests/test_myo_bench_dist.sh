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
. "`dirname "$0"`/driver-test-lib.sh"
driver_setup myo-bench-dist
make_tmp

# 1. a tiny run: exit 0, every data row OK and VALID, overhead a number
run_tool 2 "$tmp/out" "$tmp/err" --tokens 4096 --reps 2 --d-model 16 --heads 2 \
    --kernel both --scaling weak --triad-mib 8
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
run_tool 2 "$tmp/out2" "$tmp/err2" --kernel bogus
check_refusal "--kernel bogus" 2 "$tmp/out2" "$tmp/err2"

finish
