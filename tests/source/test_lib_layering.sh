#!/bin/sh
# test_lib_layering.sh -- the library's folders keep their layers
# (lib/README.md):
#
#   core -> tree -> solve -> mixers -> model    each may use the ones before
#   io -> core                                  (and HDF5)
#   dist -> all of them                         (and MPI)
#
# 1. includes: a file of lib/<folder> includes a private header of its own
#    folder by its bare name, one of a folder it may use as "folder/name",
#    and public headers (lib/include) by their bare names; <mpi.h>,
#    myosotis_dist.h and mpi_util.h only in dist, <hdf5.h> only in io and
#    dist;
# 2. no MPI: every source of the serial library (libmyosotis.a: all but
#    dist) preprocesses with the library's flags without opening mpi.h, and
#    compiles (-fsyntax-only) with the plain compiler behind the MPI wrapper,
#    no MPI directory on its path and an mpi.h that stops the compilation
#    first on it; so do the serial public headers, with only lib/include;
# 3. symbols (with nm): lib/libmyosotis.a references no MPI symbol, and a
#    function one folder's objects call from another folder's objects is
#    one that the rule allows (a call through the public API included).
#
# make check sets MYO_CPP (the preprocessor), MYO_CC (the compiler),
# MYO_SERIAL_CPPFLAGS (libmyosotis.a's preprocessor flags) and MYO_LIBDIR
# (the built lib/).  Where no plain compiler can be found behind MYO_CC, or
# no nm, that part is skipped and says so.
# Exit 0 when all hold, 1 naming each failure, 99 without the environment or
# the sources.
me=test_lib_layering.sh
src=${srcdir:-`dirname "$0"`/../..}
if [ -z "${MYO_CPP:-}" ] || [ -z "${MYO_CC:-}" ] || [ -z "${MYO_LIBDIR:-}" ] ||
    [ ! -f "$src/lib/include/myosotis.h" ]; then
    echo "$me: set MYO_CPP, MYO_CC, MYO_SERIAL_CPPFLAGS and MYO_LIBDIR (make check does) and run from the build (srcdir='${srcdir:-}')" >&2
    exit 99
fi
tmp=`mktemp -d` || exit 99
trap 'rm -rf "$tmp"' 0
failures=0
fail() {
    echo "$me: FAIL: $*"
    failures=`expr $failures + 1`
}

# The layers: the folders each folder may use (itself included).
folders="core tree solve mixers model io dist"
serial="core tree solve mixers model io"
uses() {
    case $1 in
    core) echo "core" ;;
    tree) echo "core tree" ;;
    solve) echo "core tree solve" ;;
    mixers) echo "core tree solve mixers" ;;
    model) echo "core tree solve mixers model" ;;
    io) echo "core io" ;;
    dist) echo "core tree solve mixers model io dist" ;;
    esac
}
member() { # member WORD LIST
    case " $2 " in *" $1 "*) return 0 ;; esac
    return 1
}

# ---------------------------------------------------------------- 1. includes
before=$failures
for f in "$src"/lib/*; do
    name=`basename "$f"`
    if [ -d "$f" ]; then
        member "$name" "$folders include" || fail "lib/$name: not a layer folder (lib/README.md)"
    else
        case $name in
        *.[ch]) fail "lib/$name: a source outside the layer folders (lib/README.md)" ;;
        esac
    fi
done
for folder in $folders include; do
    for f in "$src/lib/$folder"/*.[ch]; do
        [ -f "$f" ] || continue
        file=lib/$folder/`basename "$f"`
        sed -n 's/^[ 	]*#[ 	]*include[ 	]*\([<"][^>"]*[>"]\).*/\1/p' "$f" >"$tmp/inc"
        while read -r inc; do
            name=`echo "$inc" | sed 's/^.\(.*\).$/\1/'`
            case $inc in
            '<mpi.h>')
                [ "$folder" = dist ] || [ "$file" = lib/include/myosotis_dist.h ] ||
                    fail "$file includes <mpi.h> (only lib/dist may)" ;;
            '<hdf5.h>')
                member "$folder" "io dist" || fail "$file includes <hdf5.h> (only lib/io may)" ;;
            '<'*) ;;
            *../* | '"/'*) fail "$file includes $inc (a header of another folder: \"folder/name\")" ;;
            */*)
                dir=${name%%/*}
                if [ "$folder" = include ]; then
                    fail "$file includes $inc (a public header includes public headers only)"
                elif ! member "$dir" "$folders"; then
                    fail "$file includes $inc: $dir is not a layer folder"
                elif ! member "$dir" "`uses $folder`"; then
                    fail "$file includes $inc: lib/$folder may use `uses $folder` only"
                elif [ ! -f "$src/lib/$name" ]; then
                    fail "$file includes $inc, which does not exist"
                fi ;;
            *)
                if [ -f "$src/lib/include/$name" ]; then
                    if [ "$name" = myosotis_dist.h ] && [ "$folder" != dist ]; then
                        fail "$file includes $inc (only lib/dist may)"
                    fi
                elif [ "$folder" = include ] || [ ! -f "$src/lib/$folder/$name" ]; then
                    fail "$file includes $inc, neither a public header nor one of lib/$folder"
                fi ;;
            esac
        done <"$tmp/inc"
    done
done
[ $failures -eq $before ] && echo "$me: includes: every folder uses only the layers before it"

# ------------------------------------------------------------------ 2. no MPI
before=$failures
sources=
for folder in $serial; do
    for f in "$src/lib/$folder"/*.c; do
        [ -f "$f" ] && sources="$sources $f"
    done
done
count=0
for f in $sources; do
    count=`expr $count + 1`
    # shellcheck disable=SC2086 # the flags are words
    if ! $MYO_CPP $MYO_SERIAL_CPPFLAGS "$f" >"$tmp/unit.i" 2>"$tmp/unit.err"; then
        fail "$f does not preprocess with libmyosotis.a's flags: `head -n 1 "$tmp/unit.err"`"
        continue
    fi
    bad=`sed -n 's/^# [0-9]* "\([^"]*\)".*/\1/p' "$tmp/unit.i" | sort -u |
        grep -E '(^|/)(mpi\.h|myosotis_dist\.h|mpi_util\.h)$'`
    [ -z "$bad" ] || fail "$f opens" $bad
done
[ $failures -eq $before ] &&
    echo "$me: no MPI: the $count serial sources preprocess without opening mpi.h"
before=$failures

# The plain compiler behind the wrapper: Open MPI's --showme:command,
# MPICH's (and Intel MPI's) -show; MYO_CC's own flags (-std=...) kept.
set -- $MYO_CC
wrapper=$1
shift
plain=`$wrapper --showme:command 2>/dev/null`
[ -n "$plain" ] || plain=`$wrapper -show 2>/dev/null | awk 'NR == 1 { print $1 }'`
mkdir "$tmp/nompi"
printf '#error "a serial source or header includes mpi.h"\n' >"$tmp/nompi/mpi.h"
printf 'int main(void) { return 0; }\n' >"$tmp/empty.c"
if [ -z "$plain" ] || ! $plain "$@" -fsyntax-only "$tmp/empty.c" >/dev/null 2>&1; then
    echo "$me: no MPI: SKIP the plain compile (no compiler found behind MYO_CC='$MYO_CC' that takes -fsyntax-only)"
else
    plain="$plain${*:+ $*}"
    for f in $sources; do
        # shellcheck disable=SC2086
        $plain -I"$tmp/nompi" $MYO_SERIAL_CPPFLAGS -fsyntax-only "$f" >"$tmp/unit.err" 2>&1 ||
            fail "$f does not compile with $plain and no MPI: `grep -m 1 error "$tmp/unit.err"`"
    done
    headers=
    for h in myosotis.h myosotis_layer.h myosotis_attention.h myosotis_ssm.h myosotis_model.h \
        myosotis_h5log.h; do
        printf '#include "%s"\nint main(void) { return 0; }\n' "$h" >"$tmp/unit.c"
        $plain -I"$tmp/nompi" -I"$src/lib/include" -fsyntax-only "$tmp/unit.c" >"$tmp/unit.err" 2>&1 ||
            fail "$h does not compile with $plain and only lib/include: `grep -m 1 error "$tmp/unit.err"`"
        headers="$headers $h"
    done
    [ $failures -eq $before ] &&
        echo "$me: no MPI: the $count sources and$headers compile with $plain, no MPI on the path"
fi

# ---------------------------------------------------------------- 3. symbols
serial_lib=$MYO_LIBDIR/libmyosotis.a
mpi_lib=$MYO_LIBDIR/libmyosotis_mpi.a
nm=${NM:-nm}
if [ ! -f "$serial_lib" ] || [ ! -f "$mpi_lib" ]; then
    fail "$serial_lib or $mpi_lib is missing (make builds them)"
elif ! $nm -P "$serial_lib" >/dev/null 2>&1; then
    echo "$me: symbols: SKIP (no '$nm' that reads $serial_lib)"
else
    before=$failures
    mpi=`$nm -P "$serial_lib" | awk '$2 == "U" { print $1 }' |
        grep -E '^(P?MPI_|MPIX_|ompi_|OMPI_|mpi_)' | sort -u`
    if [ -n "$mpi" ]; then
        fail "lib/libmyosotis.a references MPI:" $mpi
    else
        echo "$me: symbols: lib/libmyosotis.a references no MPI symbol"
    fi
    # each member's folder, from its source's name (libmyosotis_a-<name>.o)
    for folder in $folders; do
        for f in "$src/lib/$folder"/*.c; do
            [ -f "$f" ] && echo "`basename "$f" .c` $folder"
        done
    done >"$tmp/folders"
    for folder in $folders; do
        echo "$folder `uses $folder`"
    done >"$tmp/rule"
    $nm -A -P "$serial_lib" "$mpi_lib" >"$tmp/nm" || fail "$nm cannot read the libraries"
    awk '
        FILENAME == ARGV[1] { folder_of[$1] = $2; next }
        FILENAME == ARGV[2] { for (i = 2; i <= NF; i++) may[$1, $i] = 1; next }
        {
            obj = $1; sub(/^.*\[/, "", obj); sub(/\]:$/, "", obj)
            sub(/^lib[a-z_]*_a-/, "", obj); sub(/\.o$/, "", obj)
            if (!(obj in folder_of)) {
                if (!(obj in told)) print $1 ": no source in a layer folder"
                told[obj] = 1; next
            }
            f = folder_of[obj]
            if ($3 == "U") { n++; user[n] = f; usym[n] = $2; uobj[n] = obj }
            else if ($3 ~ /^[TDBRCGSVW]$/) def[$2] = f
        }
        END {
            for (i = 1; i <= n; i++) {
                s = usym[i]
                if (!(s in def) || may[user[i], def[s]]) continue
                print "lib/" user[i] "/" uobj[i] ".c uses " s " of lib/" def[s]
            }
        }' "$tmp/folders" "$tmp/rule" "$tmp/nm" >"$tmp/calls"
    while read -r line; do fail "$line"; done <"$tmp/calls"
    [ $failures -eq $before ] && echo "$me: symbols: every call between folders follows the layers"
fi
[ $failures -eq 0 ] && echo "$me: PASS" && exit 0
echo "$me: $failures failure(s)"
exit 1
