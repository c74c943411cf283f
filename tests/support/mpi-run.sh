#!/bin/sh
# mpi-run.sh -- the log compiler of the .mpi tests (tests/local.mk).
#
#   mpi-run.sh --builddir DIR --mpiexec MPIEXEC [--flags 'FLAGS'] TEST.mpi
#
# TEST.mpi holds lines "program PATH" (relative to the build directory) and
# "ranks N ...".  The program runs under "MPIEXEC -n N FLAGS PATH" for each
# N in turn; all counts run even after a failure.  Exit 0 when every count
# passes, 77 when every count skips, 1 otherwise, naming the counts that
# failed.  MYO_MPI_TIMEOUT (seconds, default 300; 0 for none) stops a run
# that hangs, through timeout(1) where it exists.
me=mpi-run.sh
. "`dirname "$0"`/driver-test-lib.sh"
builddir=.
mpiexec=mpiexec
flags=
while test $# -gt 1; do
    case $1 in
    --builddir) builddir=$2; shift 2 ;;
    --mpiexec) mpiexec=$2; shift 2 ;;
    --flags) flags=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
    esac
done
if test $# -ne 1 || test ! -r "$1"; then
    echo "$me: usage: $me --builddir DIR --mpiexec MPIEXEC [--flags FLAGS] TEST.mpi" >&2
    exit 99
fi
spec=$1
program=`sed -n 's/^program[ 	]\{1,\}//p' "$spec"`
ranks=`sed -n 's/^ranks[ 	]\{1,\}//p' "$spec"`
if test -z "$program" || test -z "$ranks"; then
    echo "$me: $spec: needs a 'program PATH' line and a 'ranks N ...' line" >&2
    exit 99
fi
program=$builddir/$program
require_built "$program"
mpi_env

failed=
passed=0
skipped=0
for n in $ranks; do
    echo "$me: === $mpiexec -n $n $flags $program"
    start=`date +%s`
    mpi_launch "$n" "$program"
    rc=$?
    secs=$((`date +%s` - start))
    case $rc in
    0) echo "$me: PASS with $n ranks (${secs}s)"; passed=$((passed + 1)) ;;
    77) echo "$me: SKIP with $n ranks"; skipped=$((skipped + 1)) ;;
    124 | 137) echo "$me: FAIL with $n ranks: timed out after ${limit}s"; failed="$failed $n" ;;
    *) echo "$me: FAIL with $n ranks (exit status $rc)"; failed="$failed $n" ;;
    esac
done
if test -n "$failed"; then
    echo "$me: $program FAILED with$failed ranks" >&2
    exit 1
fi
if test $passed -eq 0 && test $skipped -gt 0; then exit 77; fi
exit 0
