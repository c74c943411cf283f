#!/bin/sh
# demo.sh -- the suite's first end-to-end run: for a few trees, generate a
# random system (myo-system generate), solve it (myo-solve) and check the
# residual independently (myo-system check).  One line per case, then a
# summary; the exit status is non-zero when any case fails.
#
# Usage: sh drivers/demo.sh BINDIR      (make demo passes the build's drivers/)
set -eu

bindir=${1:?usage: demo.sh BINDIR (the directory holding myo-solve and myo-system)}
for tool in myo-solve myo-system; do
    if [ ! -x "$bindir/$tool" ]; then
        echo "demo.sh: $bindir/$tool is missing or not executable (run make first)" >&2
        exit 2
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/myo-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' HUP INT TERM # so the EXIT trap cleans up

# Seconds since the epoch, with nanoseconds where date(1) has %N (GNU,
# busybox); POSIX date only gives whole seconds.
now() {
    t=$(date +%s.%N)
    case $t in
    *N*) date +%s ;;
    *) echo "$t" ;;
    esac
}

passed=0
failed=0

# run_case NAME TOLERANCE "GENERATE OPTIONS" "SOLVE OPTIONS"
run_case() {
    name=$1 tol=$2 gen=$3 solve=$4
    sys=$work/$name.h5 sol=$work/$name.solution.h5 log=$work/$name.log
    check_flags=
    case " $solve " in *" --transpose "*) check_flags=--transpose ;; esac
    verdict=FAIL residual=- nodes=- m=- secs=-
    # shellcheck disable=SC2086 # the option strings are meant to split
    if "$bindir/myo-system" generate $gen --output "$sys" 2>"$log"; then
        t0=$(now)
        if "$bindir/myo-solve" --input "$sys" --output "$sol" $solve 2>"$log"; then
            t1=$(now)
            secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
            if out=$("$bindir/myo-system" check --input "$sys" --solution "$sol" \
                --tolerance "$tol" $check_flags 2>"$log"); then
                verdict=OK
            fi
            # "... = 1.2e-16 (n = 100, m = 4)"
            parsed=$(echo "$out" | sed -n 's/.* = \([^ ]*\) (n = \([0-9]*\), m = \([0-9]*\))$/\1 \2 \3/p')
            if [ -n "$parsed" ]; then
                set -- $parsed
                residual=$1 nodes=$2 m=$3
            fi
        fi
    fi
    op=M prec=double
    case " $solve " in *" --transpose "*) op=M^T ;; esac
    case " $solve " in *" single "*) prec=single ;; esac
    printf "$row" "$name" "$nodes" "$m" "$op" "$prec" "$secs" "$residual" "$tol" "$verdict"
    if [ "$verdict" = OK ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        sed 's/^/    /' "$log" >&2
    fi
    rm -f "$sys" "$sol"
}

echo "# myo-solve demo: myo-system generate -> myo-solve -> myo-system check ($bindir)"
row='%-8s %9s %3s %4s %-6s %8s %10s %7s  %s\n'
printf "$row" "# tree" "nodes" "m" "op" "prec" "solve_s" "residual" "tol" "verdict"
# run_case NAME TOLERANCE "GENERATE OPTIONS" "SOLVE OPTIONS"; for kary, --n
# counts tokens and the file also holds the virtual internal nodes.
run_case chain 1e-10 "--tree chain --n 1M --seed 1" ""
run_case kary 1e-10 "--tree kary --arity 2 --n 1M --m 8 --seed 2" ""
run_case random 1e-10 "--tree random --n 100K --m 4 --seed 3" ""
run_case star 1e-10 "--tree star --n 100K --seed 4" ""
run_case forest 1e-10 "--tree forest --trees 16 --n 100K --m 2 --seed 5" "--transpose"
run_case heap 1e-4 "--tree heap --arity 4 --n 1M --m 2 --seed 6" "--precision single"

total=$((passed + failed))
if [ "$failed" -eq 0 ]; then
    echo "# demo: all $total cases passed"
else
    echo "# demo: $failed of $total cases FAILED" >&2
    exit 1
fi
