#!/bin/sh
# test_myo_bench_kernels.sh -- every kernel of myo-bench in every mode, and
# the retired benchmarks' stubs (make check runs it through
# SH_LOG_COMPILER; tests/local.mk's AM_TESTS_ENVIRONMENT gives it MYO_BINDIR,
# MYO_MPIEXEC, MYO_MPIEXEC_FLAGS and MYO_PYTHON).
#
# 1. every method (the layers, solve, solve-only, memcpy, lapack-pt) in
#    sequence, data and local mode, kary, chain and heap trees, single and double,
#    dense attention full and causal, on 2 ranks with an odd n (the local
#    share rounds up): exit 0, and in the
#    HDF5 file (tests/support/myo_bench_check.py kernels) every supported
#    point OK and VALID, SKIP:unsupported elsewhere (no sequence-parallel SSM,
#    materialized attention or yardstick; lapack-pt on chains only); local
#    mode's nodes those of the rank's share and no MPI call counted;
#    sequence mode's calls counted; the data-parallel backward's gradient
#    sum counted; projection and mixing seconds for the layers only; causal
#    attention counted fewer flops than full at the same point;
# 2. myo-bench-solve, myo-bench-layer and myo-bench-dist: exit 2, nothing
#    on stdout, one line on stderr naming myo-bench.
# Exit 0 when all hold, 1 otherwise (naming each failed check), 99 when
# the program or python is missing.
me=test_myo_bench_kernels.sh
here=`dirname "$0"`
. "$here/../support/driver-test-lib.sh"
driver_setup myo-bench
require_h5py
make_tmp

# ------------------------------------------------------------------- 1
f=$tmp/k.h5
run_tool 2 "$tmp/out" "$tmp/err" --method myosotis,dense-tiled,dense-materialized,ssm,solve,solve-only,memcpy,lapack-pt \
    --mode sequence,data,local --tree kary,chain,heap3 --mask full,causal --n 64,101 --d-model 16 --heads 2 \
    --precision single,double --reps 2 --warmup 1 --no-flush --triad-mib 1 --progress none --output "$f"
cat "$tmp/err" >&2
test $rc -eq 0 || fail "every kernel: exit status $rc (expected 0)"
grep -q '^#  *pt .* proj_ms .* msgs ' "$tmp/out" || fail "no column line with proj_ms and msgs"
"$python" "$here/../support/myo_bench_check.py" kernels "$f" --ranks 2 || fail "every kernel: the HDF5 rows (above)"

# ------------------------------------------------------------------- 2
for old in myo-bench-solve myo-bench-layer myo-bench-dist; do
    "$bindir/$old" --help >"$tmp/o_$old" 2>"$tmp/e_$old"
    rc=$?
    test $rc -eq 2 || fail "$old: exit status $rc (expected 2)"
    test -s "$tmp/o_$old" && fail "$old: wrote to stdout"
    test "`wc -l <"$tmp/e_$old"`" -eq 1 || fail "$old: not one line on stderr"
    grep -q "^$old: retired: .*myo-bench --method" "$tmp/e_$old" || fail "$old: does not say where it went: `cat "$tmp/e_$old"`"
done

finish
