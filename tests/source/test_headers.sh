#!/bin/sh
# test_headers.sh -- the serial public headers stand without MPI or HDF5:
# myosotis.h (and the layer, attention, SSM and model headers it brings)
# preprocesses with only lib/include on the include path and pulls in neither
# <mpi.h> nor <hdf5.h>, so a serial program compiles against them with a
# plain C compiler; myosotis_dist.h, the MPI one, does include <mpi.h> (the
# check that the test can see an inclusion at all).
# MYO_CPP is the preprocessor configure found (make check sets it: the MPI
# compiler wrapper's, which finds <mpi.h> when a header asks for it).
# Exit 0 when all hold, 1 naming each failed header, 99 without MYO_CPP or
# the sources.
me=test_headers.sh
src=${srcdir:-`dirname "$0"`/../..}
if [ -z "${MYO_CPP:-}" ] || [ ! -f "$src/lib/include/myosotis.h" ]; then
    echo "$me: set MYO_CPP (make check does) and run from the build (srcdir='${srcdir:-}')" >&2
    exit 99
fi
tmp=`mktemp -d` || exit 99
trap 'rm -rf "$tmp"' 0
status=0
# included HEADER: the files the preprocessor opened for a unit including it
included() {
    printf '#include "%s"\nint main(void) { return 0; }\n' "$1" >"$tmp/unit.c"
    $MYO_CPP -I"$src/lib/include" "$tmp/unit.c" >"$tmp/unit.i" 2>"$tmp/unit.err" || {
        echo "$me: FAIL: $1 does not preprocess with only lib/include on the path: `head -n 1 "$tmp/unit.err"`"
        return 1
    }
    sed -n 's/^# [0-9]* "\([^"]*\)".*/\1/p' "$tmp/unit.i" | sort -u
}
for h in myosotis.h myosotis_layer.h myosotis_attention.h myosotis_ssm.h myosotis_model.h; do
    files=`included "$h"` || { status=1; continue; }
    bad=`echo "$files" | grep -E '(^|/)(mpi|hdf5)\.h$'`
    if [ -n "$bad" ]; then
        echo "$me: FAIL: $h includes" $bad
        status=1
    else
        echo "$me: $h: no mpi.h, no hdf5.h (`echo "$files" | wc -l` files)"
    fi
done
files=`included myosotis_dist.h` || status=1
if echo "$files" | grep -Eq '(^|/)mpi\.h$'; then
    echo "$me: myosotis_dist.h includes mpi.h"
else
    echo "$me: FAIL: myosotis_dist.h does not include mpi.h (or the check cannot see inclusions)"
    status=1
fi
[ "$status" -eq 0 ] && echo "$me: PASS"
exit $status
