# driver-test-lib.sh -- what the shell tests share (POSIX sh, sourced):
# the driver tests tests/tools/test_*.sh use all of it;
# tests/support/mpi-run.sh (the log compiler of the .mpi tests) uses
# require_built, mpi_env and mpi_launch.
#
#   me=test_x.sh
#   . "`dirname "$0"`/../support/driver-test-lib.sh"    (from tests/tools/)
#
# Sourcing it only defines functions; they name the caller by $me in their
# messages.  The variables they set are listed with each.

# require_built PATH: exit 99 (a hard error for make check) unless PATH is
# an executable.
require_built() {
    if test ! -x "$1"; then
        echo "$me: $1 is not built (make check builds it first)" >&2
        exit 99
    fi
}

# mpi_env: the environment of the runs under mpiexec; sets $limit and
# $timeout.
#  - In a sanitizer build: no leak report.  Open MPI's dlopen'ed components
#    leave allocations at MPI_Finalize and are unloaded before LeakSanitizer
#    runs, so they show as "<unknown module>" and cannot be suppressed by
#    name; leaks in the project's own code are caught by the serial tests.
#  - Open MPI refuses to run as root without OMPI_ALLOW_RUN_AS_ROOT and
#    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM (harmless otherwise).
#  - MYO_MPI_TIMEOUT (seconds, default 300; 0 for none) stops a run that
#    hangs: $timeout is "timeout -k 10 $limit" where timeout(1) exists,
#    else empty.
mpi_env() {
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"; export ASAN_OPTIONS
    OMPI_ALLOW_RUN_AS_ROOT=1; export OMPI_ALLOW_RUN_AS_ROOT
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
    limit=${MYO_MPI_TIMEOUT-300}
    timeout=
    if test "$limit" != 0 && command -v timeout >/dev/null 2>&1; then
        timeout="timeout -k 10 $limit"
    fi
}

# mpi_launch NP PROGRAM ARGS...: PROGRAM ARGS under "$mpiexec -n NP $flags"
# through $timeout (see mpi_env); its exit status (124 or 137 when it
# timed out).
mpi_launch() {
    mpi_launch_np=$1
    shift
    # $flags and $timeout split into words on purpose.
    $timeout "$mpiexec" -n "$mpi_launch_np" $flags "$@"
}

# ------------------------------------------------------- the driver tests

# driver_setup TOOL: from make check's AM_TESTS_ENVIRONMENT (tests/local.mk)
# $bindir (MYO_BINDIR), $mpiexec (MYO_MPIEXEC), $flags (MYO_MPIEXEC_FLAGS)
# and $python (MYO_PYTHON); $tool = TOOL and $prog = $bindir/TOOL, exit 99
# unless it is built; the environment of mpi_env plus one OpenBLAS thread
# per rank; $failed = 0 (see fail).
driver_setup() {
    tool=$1
    bindir=${MYO_BINDIR:-drivers}
    mpiexec=${MYO_MPIEXEC:-mpiexec}
    flags=${MYO_MPIEXEC_FLAGS-}
    python=${MYO_PYTHON:-python3}
    prog=$bindir/$tool
    require_built "$prog"
    mpi_env
    OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS
    failed=0
}

# run_tool NP OUT ERR ARGS...: say the command, then $prog ARGS on NP ranks
# (mpi_launch), its stdout into OUT and its stderr into ERR; sets $rc.
run_tool() {
    run_tool_np=$1 run_tool_out=$2 run_tool_err=$3
    shift 3
    echo "$me: === $mpiexec -n $run_tool_np $flags $prog $*"
    mpi_launch "$run_tool_np" "$prog" "$@" >"$run_tool_out" 2>"$run_tool_err"
    rc=$?
}

# require_h5py: exit 99 unless $python imports numpy and h5py.
require_h5py() {
    if ! "$python" -c 'import numpy, h5py' 2>/dev/null; then
        echo "$me: $python cannot import numpy and h5py (set MYO_PYTHON)" >&2
        exit 99
    fi
}

# make_tmp: $tmp, a fresh directory (exit 99 when none can be made),
# removed at exit (a caller with more to clean up sets its own trap 0).
make_tmp() {
    tmp=`mktemp -d "${TMPDIR:-/tmp}/${me%.sh}.XXXXXX"` || exit 99
    trap 'rm -rf "$tmp"' 0
}

# fail MESSAGE...: report a failed check (the test goes on; see finish).
fail() {
    echo "$me: FAIL: $*"
    failed=1
}

# check_refusal WHAT WANT OUT ERR: after a run that must be refused, with
# $rc its exit status: the status WANT, exactly one line "$tool: ..." on
# ERR (its stderr) and nothing on OUT (its stdout).
check_refusal() {
    test "$rc" -eq "$2" || fail "$1: exit status $rc (expected $2)"
    refusal_lines=`grep -c "^$tool: " "$4"`
    test "$refusal_lines" -eq 1 ||
        fail "$1: $refusal_lines lines from the tool on stderr (expected 1)"
    if test -s "$3"; then fail "$1: printed on stdout"; fi
}

# keep_copy FILE, then check_unchanged WHAT FILE: FILE byte for byte as it
# was at keep_copy (one copy at a time, in $tmp).
keep_copy() {
    cp "$1" "$tmp/kept-copy"
}
check_unchanged() {
    cmp -s "$2" "$tmp/kept-copy" || fail "$1: $2 changed"
}

# run_on_full_disk KIB NAME ARGS...: $prog ARGS --output DIR/r.h5 on one
# rank, DIR a KIB KiB tmpfs mounted in a private mount namespace (unshare
# -m, so root only; nothing stays mounted): a disk that fills up while the
# tool writes.  Afterwards $tmp/NAME.out and .err hold its output,
# $tmp/NAME.h5 a copy of the results file (when there is one),
# $tmp/NAME.ls the names left in DIR, and $rc its exit status.  Returns 1
# after saying so when no private tmpfs can be mounted here.
run_on_full_disk() {
    full_kib=$1 full_base=$tmp/$2
    shift 2
    if ! unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$tmp'" 2>/dev/null; then
        echo "$me: cannot mount a private tmpfs (unshare -m needs root): full-disk case skipped"
        return 1
    fi
    mkdir -p "$full_base.d"
    echo "$me: === (a ${full_kib} KiB tmpfs) $mpiexec -n 1 $flags $prog $* --output $full_base.d/r.h5"
    # $4 (flags) and $5 (timeout) split into words on purpose
    unshare -m sh -c 'kib=$1 base=$2 mpiexec=$3 flags=$4 timeout=$5 prog=$6
        shift 6
        mount -t tmpfs -o size="$kib"k tmpfs "$base.d" || exit 99
        $timeout "$mpiexec" -n 1 $flags "$prog" "$@" --output "$base.d/r.h5" >"$base.out" 2>"$base.err"
        code=$?
        ls -A "$base.d" >"$base.ls"
        if test -f "$base.d/r.h5"; then cp "$base.d/r.h5" "$base.h5"; fi
        exit $code' sh "$full_kib" "$full_base" "$mpiexec" "$flags" "$timeout" "$prog" "$@"
    rc=$?
    return 0
}

# rank_pids LAUNCHER COMM: the pids of the processes named COMM among
# LAUNCHER's descendants (timeout, mpiexec, then the ranks): what to
# signal to stop a rank as Slurm or the kernel would.
rank_pids() {
    ps -eo pid=,ppid=,comm= | awk -v l="$1" -v c="$2" '
        { parent[$1] = $2; comm[$1] = $3 }
        END {
            for (p in parent) {
                if (comm[p] != c) continue
                for (q = p; q in parent && q != l && q > 1; q = parent[q]) {}
                if (q == l) print p
            }
        }'
}

# finish: exit 1 (FAILED on stderr) when any check failed, else 0 (PASS).
finish() {
    if test "$failed" -ne 0; then
        echo "$me: FAILED" >&2
        exit 1
    fi
    echo "$me: PASS"
    exit 0
}
