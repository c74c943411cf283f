#!/bin/sh
# test_standalone.sh -- the distributed sources stand alone: the
# mathematics and LRA notes they cite ship in docs/, and no file of the
# source tree points at documents outside it.
#
# Scans the source tree (automake's $srcdir, else the directory above this
# script) -- lib drivers datasets jobs analysis tests docs README.md
# configure.ac Makefile.am -- for references to a sibling folder of notes
# or to a design file in the top directory; the patterns are split so that
# this file does not match them.  Binary files (objects, programs, HDF5
# files) and test logs are skipped, so in-tree and VPATH builds and
# make distcheck give the same verdict.
# Exit 0 when nothing refers outside and docs/design.md and docs/lra.md
# exist, 1 otherwise (one line per hit: file:line: text), 99 when the
# source tree cannot be found.
me=test_standalone.sh

src=${srcdir:-}
if [ -z "$src" ] || [ ! -f "$src/lib/include/myosotis.h" ]; then
    src=`dirname "$0"`/../..
fi
if [ ! -f "$src/lib/include/myosotis.h" ]; then
    echo "$me: cannot find the source tree (srcdir='${srcdir:-}', script $0)" >&2
    exit 99
fi
cd "$src" || exit 99

status=0
for doc in docs/design.md docs/lra.md; do
    if [ ! -s "$doc" ]; then
        echo "$me: $doc is missing or empty" >&2
        status=1
    fi
done

outside='\.\./sha''red'
notes='sha''red/research'
design='DESI''GN\.md'
items=
for f in lib drivers datasets jobs analysis tests docs README.md configure.ac Makefile.am; do
    [ -e "$f" ] && items="$items $f"
done
hits=`grep -rnI -E -e "$outside" -e "$notes" -e "$design" \
    --exclude='*.log' --exclude='*.trs' --exclude-dir=.deps --exclude-dir=.libs \
    $items 2>/dev/null`
if [ -n "$hits" ]; then
    printf '%s\n' "$hits" | while IFS= read -r line; do
        echo "$me: $line: refers to a document outside the source tree (cite docs/design.md or docs/lra.md)" >&2
    done
    status=1
fi
[ $status -eq 0 ] && echo "$me: the sources cite only documents they ship"
exit $status
