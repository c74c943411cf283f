#!/bin/sh
# test_myo_data.sh -- end-to-end test of myo-data (make check runs it
# through SH_LOG_COMPILER; tests/local.mk's AM_TESTS_ENVIRONMENT gives it
# MYO_BINDIR and MYO_PYTHON, a python3 with numpy and h5py).  myo-data is a
# serial tool: it runs without mpiexec.
#
# 1. listops --n 50 --seed 1 twice: exit 0, byte-identical files (cmp);
#    another seed gives another file; integers of the vocabulary (--n 2^3
#    --length 2^6) give the bytes of --n 8 --length 64; a subcommand takes
#    --version; h5py reads the layout (format, shapes, dtypes, attributes,
#    value ranges, parents earlier than their children, the splits
#    48 / 1 / 1); inspect prints the counts and the splits; listops-load
#    --train --validation --test makes one file with their splits;
# 2. pathfinder --size 32 on a few images: the layout, labels 0/1, the
#    splits 4 / 1 / 1; the same bytes with --threads 1, 3 and the
#    default; order --ordering hilbert and back to raster gives the
#    original tokens and keeps the splits; pathfinder --ordering hilbert
#    gives order's tokens;
# 3. bad input (no or an unknown subcommand, missing -o, --n 0 or -3,
#    an unreadable or non-HDF5 input, an unknown option): the documented
#    exit code, one line on stderr, nothing on stdout, no output file;
# 4. hostile files: a FIFO and a directory refused at once (exit 5); a
#    byte of an attribute message corrupted (exit 3, no crash); a valid
#    file with a vocabulary and a class count of 2^31 inspected at once in
#    little memory, with a bounded label line; an image file with 60 extra
#    attributes, a long one and a compound one keeps 'ordering' (inspect
#    and order) and lists what it did not keep;
# 5. a file-size limit (ulimit -f) while writing over an existing file:
#    exit 5, one line, the file untouched, no temporary file left;
# 6. fashion-mnist on small IDX files written here (gzip-compressed and
#    plain): the counts and splits 9 / 1 / 3, each 28x28 image centred in
#    32x32, --ordering morton as order gives it; bad input (a truncated
#    or corrupt IDX file, a truncated or corrupt gzip stream, labels that
#    do not match the images: exit 3; a missing directory: exit 5) with
#    one line and no output file; and Debian's dataset-fashion-mnist when
#    it is installed: 54000 / 6000 / 10000.
# Exit 0 when all hold, 1 otherwise (naming each failed check), 99 when
# the program or python is missing.
me=test_myo_data.sh
here=`dirname "$0"`
. "$here/../support/driver-test-lib.sh"
driver_setup myo-data
require_h5py
make_tmp

# run OUT ARGS...: say the command, then $prog ARGS, stdout to OUT, stderr
# to OUT.err; sets $rc.
run() {
    run_out=$1
    shift
    echo "$me: === $prog $*"
    "$prog" "$@" >"$run_out" 2>"$run_out.err"
    rc=$?
    cat "$run_out.err" >&2
}

# refused WHAT WANT OUTFILE ARGS...: the run is refused with WANT, one
# line on stderr, nothing on stdout, and OUTFILE does not exist.
refused() {
    what=$1 want=$2 outfile=$3
    shift 3
    run "$tmp/refused" "$@"
    check_refusal "$what" "$want" "$tmp/refused" "$tmp/refused.err"
    if test -e "$outfile"; then fail "$what: $outfile exists"; fi
    leftover=`ls "$tmp" | grep -c '\.tmp-'`
    test "$leftover" -eq 0 || fail "$what: a temporary file is left in $tmp"
}

# ------------------------------------------------------------------- 1
run "$tmp/a.out" listops --n 50 --seed 1 -o "$tmp/a.h5"
test $rc -eq 0 || fail "listops: exit status $rc (expected 0)"
run "$tmp/b.out" listops --n 50 --seed 1 -o "$tmp/b.h5"
test $rc -eq 0 || fail "listops again: exit status $rc (expected 0)"
cmp "$tmp/a.h5" "$tmp/b.h5" || fail "listops: the same seed gave different bytes"
run "$tmp/c.out" listops --n 50 --seed 2 --length 600 -o "$tmp/c.h5"
test $rc -eq 0 || fail "listops --seed 2: exit status $rc (expected 0)"
if cmp -s "$tmp/a.h5" "$tmp/c.h5"; then fail "listops: seeds 1 and 2 gave the same file"; fi
run "$tmp/p2.out" listops --n 2^3 --length 2^6 --output "$tmp/p2.h5"
test $rc -eq 0 || fail "listops --n 2^3 --length 2^6: exit status $rc (expected 0)"
run "$tmp/p10.out" listops --n 8 --length 64 -o "$tmp/p10.h5"
cmp "$tmp/p2.h5" "$tmp/p10.h5" || fail "listops: --n 2^3 --length 2^6 and --n 8 --length 64 differ"
run "$tmp/version.out" listops --version
test $rc -eq 0 || fail "listops --version: exit status $rc (expected 0)"
grep -q '^myo-data (' "$tmp/version.out" || fail "listops --version: no version line"

"$python" - "$tmp/a.h5" "$tmp/c.h5" <<'EOF' || fail "listops: h5py checks"
import sys
import h5py
import numpy as np

def check(path, n):
    with h5py.File(path, "r") as f:
        a = f.attrs
        def s(k):
            v = a[k]
            return v.decode() if isinstance(v, bytes) else str(v)
        assert s("format") == "myo-data/1", s("format")
        assert s("task") == "listops" and s("source") == "generated"
        E, G = int(a["count"]), int(a["docs"])
        assert (E, G, int(a["n"])) == (50, 1, n), (E, G, int(a["n"]))
        assert int(a["vocab"]) == 18 and int(a["classes"]) == 10
        assert "seed" in a
        splits = [int(a[k]) for k in ("train_count", "validation_count", "test_count")]
        assert splits == [48, 1, 1], splits
        t, y, l, p = (f[k][...] for k in ("tokens", "labels", "lengths", "parents"))
        for arr in (t, y, l, p):
            assert arr.dtype == np.int32, arr.dtype
        assert t.shape == (E, G, n) and y.shape == (E,) and l.shape == (E, G) and p.shape == (E, n)
        assert t.min() >= 0 and t.max() < 18 and y.min() >= 0 and y.max() < 10
        assert (l >= 1).all() and (l <= n).all()
        idx = np.arange(n)
        for e in range(E):
            pad = idx >= l[e, 0]
            assert (t[e, 0, pad] == 0).all() and (p[e, pad] == -1).all()
            assert p[e, 0] == -1
            real = ~pad & (idx > 0)
            assert ((p[e, real] >= 0) & (p[e, real] < idx[real])).all()

check(sys.argv[1], 2000)
check(sys.argv[2], 600)
EOF

run "$tmp/inspect.out" inspect "$tmp/a.h5"
test $rc -eq 0 || fail "inspect: exit status $rc (expected 0)"
cat "$tmp/inspect.out"
grep -q '^task  *listops$' "$tmp/inspect.out" || fail "inspect: no 'task listops' line"
grep -q '^examples  *50$' "$tmp/inspect.out" || fail "inspect: no 'examples 50' line"
grep -q '^labels .* 0: [0-9]* ' "$tmp/inspect.out" || fail "inspect: no label distribution"
grep -q '^lengths  *min [0-9]*  median [0-9.]*  mean [0-9.]*  max [0-9]*' "$tmp/inspect.out" ||
    fail "inspect: no length statistics"
grep -q '^vocab use ' "$tmp/inspect.out" || fail "inspect: no vocabulary use"
grep -q '^  seed = 1$' "$tmp/inspect.out" || fail "inspect: no seed attribute"
grep -q '^splits      train 48 (examples 0\.\.47), validation 1 (examples 48\.\.48), test 1 (examples 49\.\.49)$' \
    "$tmp/inspect.out" || fail "inspect: no splits line"
grep -q '^  validation 0: ' "$tmp/inspect.out" || fail "inspect: no label line of the validation split"
printf 'Source\tTarget\n( ( ( [MAX 2 ) 9 ) ] )\t9\n7\t7\n( ( [SM 4 ) 8 ] )\t2\n' >"$tmp/tr.tsv"
printf 'Source\tTarget\n3\t3\n' >"$tmp/va.tsv"
printf 'Source\tTarget\n( ( ( [MIN 5 ) 1 ) ] )\t1\n0\t0\n' >"$tmp/te.tsv"
run "$tmp/l3.out" listops-load --train "$tmp/tr.tsv" --validation "$tmp/va.tsv" --test "$tmp/te.tsv" \
    --length 16 -o "$tmp/l3.h5"
test $rc -eq 0 || fail "listops-load of three files: exit status $rc (expected 0)"
run "$tmp/l3i.out" inspect "$tmp/l3.h5"
grep -q '^splits      train 3 (examples 0\.\.2), validation 1 (examples 3\.\.3), test 2 (examples 4\.\.5)$' \
    "$tmp/l3i.out" || fail "listops-load of three files: not the splits 3 / 1 / 2"

# ------------------------------------------------------------------- 2
run "$tmp/pf.out" pathfinder --size 32 --difficulty hard --n 6 --seed 3 -o "$tmp/pf.h5"
test $rc -eq 0 || fail "pathfinder: exit status $rc (expected 0)"
run "$tmp/pf2.out" pathfinder --size 32 --difficulty 14 --n 6 --seed 3 -o "$tmp/pf2.h5"
cmp "$tmp/pf.h5" "$tmp/pf2.h5" || fail "pathfinder: hard and 14 with one seed differ"
for t in 1 3; do
    run "$tmp/pft.out" pathfinder --size 32 --difficulty hard --n 6 --seed 3 --threads $t -o "$tmp/pft.h5"
    test $rc -eq 0 || fail "pathfinder --threads $t: exit status $rc (expected 0)"
    cmp "$tmp/pf.h5" "$tmp/pft.h5" || fail "pathfinder: --threads $t and the default differ"
done
run "$tmp/pfo.out" pathfinder --size 32 --difficulty hard --n 6 --seed 3 --ordering hilbert \
    -o "$tmp/pfo.h5"
test $rc -eq 0 || fail "pathfinder --ordering hilbert: exit status $rc (expected 0)"
run "$tmp/hil.out" order "$tmp/pf.h5" --ordering hilbert -o "$tmp/hil.h5"
test $rc -eq 0 || fail "order hilbert: exit status $rc (expected 0)"
run "$tmp/ras.out" order "$tmp/hil.h5" --ordering raster -o "$tmp/ras.h5"
test $rc -eq 0 || fail "order raster: exit status $rc (expected 0)"
"$python" - "$tmp/pf.h5" "$tmp/hil.h5" "$tmp/ras.h5" "$tmp/pfo.h5" <<'EOF' || fail "pathfinder: h5py checks"
import sys
import h5py
import numpy as np
def splits(a):
    return [int(a[k]) for k in ("train_count", "validation_count", "test_count")]
with h5py.File(sys.argv[1], "r") as f:
    a = f.attrs
    task = a["task"].decode() if isinstance(a["task"], bytes) else a["task"]
    assert task == "pathfinder", task
    t, y = f["tokens"][...], f["labels"][...]
    assert t.shape == (6, 1, 1024) and int(a["vocab"]) == 256 and int(a["classes"]) == 2
    assert set(np.unique(y)) <= {0, 1}
    assert "parents" not in f
    assert splits(a) == [4, 1, 1], splits(a)
with h5py.File(sys.argv[2], "r") as f:
    o = f.attrs["ordering"]
    assert (o.decode() if isinstance(o, bytes) else o) == "hilbert"
    h = f["tokens"][...]
    assert not (h == t).all() and (np.sort(h, axis=2) == np.sort(t, axis=2)).all()
    assert splits(f.attrs) == [4, 1, 1], splits(f.attrs)
with h5py.File(sys.argv[3], "r") as f:
    assert (f["tokens"][...] == t).all()
    assert splits(f.attrs) == [4, 1, 1]
with h5py.File(sys.argv[4], "r") as f:
    o = f.attrs["ordering"]
    assert (o.decode() if isinstance(o, bytes) else o) == "hilbert"
    assert (f["tokens"][...] == h).all() and (f["labels"][...] == y).all()
EOF

# ------------------------------------------------------------------- 3
out=$tmp/bad.h5
refused "no subcommand" 2 "$out"
refused "unknown subcommand" 2 "$out" frobnicate -o "$out"
refused "missing -o" 2 "$out" listops --n 5
refused "--n 0" 2 "$out" listops --n 0 -o "$out"
refused "--n -3" 2 "$out" listops --n -3 -o "$out"
refused "unknown option" 2 "$out" listops --n 5 --bogus -o "$out"
refused "option of another subcommand" 2 "$out" listops --n 5 --size 32 -o "$out"
refused "pathfinder --size 64" 2 "$out" pathfinder --size 64 --difficulty hard --n 2 -o "$out"
refused "pathfinder bad difficulty" 2 "$out" pathfinder --size 32 --difficulty extreme --n 2 -o "$out"
refused "pathfinder --threads 0" 2 "$out" pathfinder --size 32 --difficulty hard --n 2 --threads 0 -o "$out"
refused "pathfinder bad ordering" 2 "$out" pathfinder --size 32 --difficulty hard --n 2 --ordering spiral -o "$out"
refused "cifar --split valid" 2 "$out" cifar "$tmp" --split valid -o "$out"
refused "unreadable listops-load input" 5 "$out" listops-load "$tmp/missing.tsv" -o "$out"
refused "listops-load --train alone" 2 "$out" listops-load --train "$tmp/tr.tsv" -o "$out"
refused "listops-load FILE and --train" 2 "$out" listops-load "$tmp/tr.tsv" --train "$tmp/tr.tsv" \
    --validation "$tmp/va.tsv" --test "$tmp/te.tsv" -o "$out"
refused "listops-load of a missing test file" 5 "$out" listops-load --train "$tmp/tr.tsv" \
    --validation "$tmp/va.tsv" --test "$tmp/missing.tsv" -o "$out"
refused "unreadable order input" 5 "$out" order "$tmp/missing.h5" --ordering morton -o "$out"
echo "not hdf5" >"$tmp/text.h5"
refused "inspect of a non-HDF5 file" 5 "$out" inspect "$tmp/text.h5"
refused "order of a non-image dataset" 3 "$out" order "$tmp/a.h5" --ordering morton -o "$out"
refused "output in a missing directory" 5 "$tmp/no/dir/x.h5" listops --n 2 -o "$tmp/no/dir/x.h5"

# ------------------------------------------------------------------- 4
# (through timeout where there is one: a read that blocks exits 124)
limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 60"; fi
mkfifo "$tmp/fifo.h5"
echo "$me: === $prog inspect $tmp/fifo.h5 (a FIFO)"
$limit "$prog" inspect "$tmp/fifo.h5" >"$tmp/fifo.out" 2>"$tmp/fifo.err"
rc=$?
cat "$tmp/fifo.err" >&2
check_refusal "inspect of a FIFO" 5 "$tmp/fifo.out" "$tmp/fifo.err"
grep -q "not a regular file" "$tmp/fifo.err" || fail "inspect of a FIFO: not said"
mkdir "$tmp/dir.h5"
refused "inspect of a directory" 5 "$out" inspect "$tmp/dir.h5"
grep -q "not a regular file" "$tmp/refused.err" || fail "inspect of a directory: not said"

# The byte 13 after the name of the attribute 'seed' lies in the datatype
# of its message (byte 1461 of this file before it had split counts:
# libhdf5 1.10.8 freed a wild pointer over it).
run "$tmp/pf20.out" pathfinder --size 32 --difficulty hard --n 20 -o "$tmp/pf20.h5"
"$python" -c '
import sys
with open(sys.argv[1], "r+b") as f:
    b = f.read()
    at = b.index(b"\x08\x00\x08\x00seed\x00") + 4 + 13
    assert b[at] == 0, b[at]
    f.seek(at)
    f.write(bytes([127]))
' "$tmp/pf20.h5" || fail "cannot alter pf20.h5"
refused "inspect of a corrupt attribute message" 3 "$out" inspect "$tmp/pf20.h5"
grep -q "corrupt attribute message" "$tmp/refused.err" || fail "corrupt attribute message: not said"
refused "order of a corrupt attribute message" 3 "$out" order "$tmp/pf20.h5" --ordering morton -o "$out"

"$python" - "$tmp/huge.h5" <<'EOF' || fail "huge vocabulary: h5py could not write the file"
import sys
import h5py
import numpy as np
E, n, big = 20, 8, 2 ** 31
with h5py.File(sys.argv[1], "w") as f:
    for k, v in (("format", "myo-data/1"), ("task", "text"), ("source", "loaded")):
        f.attrs[k] = np.bytes_(v)
    for k, v in (("count", E), ("docs", 1), ("n", n), ("vocab", big), ("classes", big)):
        f.attrs[k] = np.int64(v)
    ids = (np.arange(E * n, dtype=np.int64) * 104729 + 7) % big
    f["tokens"] = ids.astype(np.int32).reshape(E, 1, n)
    f["labels"] = ((np.arange(E, dtype=np.int64) * 99991) % big).astype(np.int32)
    f["lengths"] = np.full((E, 1), n, dtype=np.int32)
EOF
# In little memory where a limit can be set (AddressSanitizer reserves
# terabytes of address space: under it the timeout is the check), and
# with at most 64 KiB of output (ulimit -f 128: a tool listing 2^31
# classes is stopped there).
vlimit=4000000
if ldd "$prog" 2>/dev/null | grep -q libasan; then vlimit=unlimited; fi
echo "$me: === $prog inspect $tmp/huge.h5 (vocab and classes 2^31; ulimit -v $vlimit)"
(ulimit -v $vlimit && ulimit -f 128 && $limit "$prog" inspect "$tmp/huge.h5") \
    >"$tmp/huge.out" 2>"$tmp/huge.err"
rc=$?
head -c 2048 "$tmp/huge.out"
echo
head -c 2048 "$tmp/huge.err" >&2
test $rc -eq 0 || fail "inspect of a vocabulary of 2^31: exit status $rc (expected 0)"
grep -q '^vocab use   160 of 2147483648 ids in 160 tokens' "$tmp/huge.out" ||
    fail "inspect of a vocabulary of 2^31: no vocabulary use line"
grep -q '^labels .* \.\.\. and 4 more; 20 of 2147483648 classes occur$' "$tmp/huge.out" ||
    fail "inspect of 2^31 classes: no bounded label line"
test `wc -c <"$tmp/huge.out"` -lt 4096 || fail "inspect of 2^31 classes: over 4 KiB of output"

run "$tmp/pf4.out" pathfinder --size 32 --difficulty easy --n 4 -o "$tmp/pf4.h5"
run "$tmp/mor.out" order "$tmp/pf4.h5" --ordering morton -o "$tmp/mor.h5"
"$python" - "$tmp/mor.h5" <<'EOF' || fail "attribute-heavy file: h5py could not add the attributes"
import sys
import h5py
import numpy as np
with h5py.File(sys.argv[1], "a") as f:
    f.attrs["aaa"] = "x" * 300
    f.attrs["pair"] = np.array((1, 2.5), dtype=[("a", "i4"), ("b", "f8")])
    for k in range(60):
        f.attrs["a%02d" % k if k < 30 else "z%02d" % k] = "v"
EOF
run "$tmp/heavy.out" inspect "$tmp/mor.h5"
test $rc -eq 0 || fail "inspect of an attribute-heavy file: exit status $rc (expected 0)"
grep -q '^  ordering = morton$' "$tmp/heavy.out" || fail "attribute-heavy file: 'ordering' lost"
grep -q '^attributes  48$' "$tmp/heavy.out" || fail "attribute-heavy file: not 48 attributes kept"
grep -q '^not kept    .*: aaa, pair, ' "$tmp/heavy.out" ||
    fail "attribute-heavy file: the attributes not kept are not listed"
run "$tmp/back.out" order "$tmp/mor.h5" --ordering raster -o "$tmp/back.h5"
test $rc -eq 0 || fail "order of an attribute-heavy file: exit status $rc (expected 0)"
"$python" - "$tmp/pf4.h5" "$tmp/back.h5" <<'EOF' || fail "attribute-heavy file: not raster again"
import sys
import h5py
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "r") as b:
    assert (a["tokens"][...] == b["tokens"][...]).all()
    o = b.attrs["ordering"]
    assert (o.decode() if isinstance(o, bytes) else o) == "raster", o
EOF

# ------------------------------------------------------------------- 5
run "$tmp/small.out" listops --n 2 -o "$tmp/existing.h5"
keep_copy "$tmp/existing.h5"
echo "$me: === (ulimit -f 64; $prog listops --n 200 -o $tmp/existing.h5)"
(ulimit -f 64 && "$prog" listops --n 200 -o "$tmp/existing.h5") >"$tmp/fsize.out" 2>"$tmp/fsize.err"
rc=$?
cat "$tmp/fsize.err" >&2
check_refusal "a write past ulimit -f" 5 "$tmp/fsize.out" "$tmp/fsize.err"
check_unchanged "a write past ulimit -f" "$tmp/existing.h5"
leftover=`ls "$tmp" | grep -c '\.tmp-'`
test "$leftover" -eq 0 || fail "a write past ulimit -f: a temporary file is left in $tmp"

# ------------------------------------------------------------------- 6
# fm/ (gzip-compressed) and fmp/ (plain): 10 training and 3 test images;
# image e has pixel (r, c) = (37 e + 11 r + 3 c + 1) mod 256 and label
# (7 e + 3) mod 10
"$python" - "$tmp/fm" "$tmp/fmp" <<'EOF' || fail "fashion-mnist: python could not write the IDX files"
import gzip, os, struct, sys
def images(first, count):
    px = bytes((37 * e + 11 * r + 3 * c + 1) % 256
               for e in range(first, first + count) for r in range(28) for c in range(28))
    return struct.pack(">IIII", 0x803, count, 28, 28) + px
def labels(first, count):
    return struct.pack(">II", 0x801, count) + bytes((7 * e + 3) % 10 for e in range(first, first + count))
files = {"train-images-idx3-ubyte": images(0, 10), "train-labels-idx1-ubyte": labels(0, 10),
         "t10k-images-idx3-ubyte": images(10, 3), "t10k-labels-idx1-ubyte": labels(10, 3)}
for d, gz in ((sys.argv[1], True), (sys.argv[2], False)):
    os.mkdir(d)
    for name, data in files.items():
        with (gzip.open if gz else open)(os.path.join(d, name + (".gz" if gz else "")), "wb") as f:
            f.write(data)
EOF
run "$tmp/fm.out" fashion-mnist "$tmp/fm" -o "$tmp/fm.h5"
test $rc -eq 0 || fail "fashion-mnist: exit status $rc (expected 0)"
run "$tmp/fmp.out" fashion-mnist "$tmp/fmp" --ordering morton -o "$tmp/fmp.h5"
test $rc -eq 0 || fail "fashion-mnist --ordering morton: exit status $rc (expected 0)"
run "$tmp/fmo.out" order "$tmp/fm.h5" --ordering morton -o "$tmp/fmo.h5"
test $rc -eq 0 || fail "order of a fashion-mnist file: exit status $rc (expected 0)"
run "$tmp/fmi.out" inspect "$tmp/fm.h5"
cat "$tmp/fmi.out"
grep -q '^splits      train 9 (examples 0\.\.8), validation 1 (examples 9\.\.9), test 3 (examples 10\.\.12)$' \
    "$tmp/fmi.out" || fail "fashion-mnist: inspect: not the splits 9 / 1 / 3"
"$python" - "$tmp/fm.h5" "$tmp/fmp.h5" "$tmp/fmo.h5" <<'EOF' || fail "fashion-mnist: h5py checks"
import sys
import h5py
import numpy as np
def attr(a, k):
    v = a[k]
    return v.decode() if isinstance(v, bytes) else v
def splits(a):
    return [int(a[k]) for k in ("train_count", "validation_count", "test_count")]
with h5py.File(sys.argv[1], "r") as f:
    a = f.attrs
    assert attr(a, "task") == "fashion-mnist" and attr(a, "ordering") == "raster"
    assert [int(a[k]) for k in ("count", "n", "vocab", "classes")] == [13, 1024, 256, 10]
    assert splits(a) == [9, 1, 3], splits(a)
    t, y = f["tokens"][...].reshape(13, 32, 32), f["labels"][...]
    e, r, c = np.meshgrid(np.arange(13), np.arange(28), np.arange(28), indexing="ij")
    assert (t[:, 2:30, 2:30] == (37 * e + 11 * r + 3 * c + 1) % 256).all()
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert (t[:, border] == 0).all()
    assert (y == (7 * np.arange(13) + 3) % 10).all()
with h5py.File(sys.argv[2], "r") as p, h5py.File(sys.argv[3], "r") as o:
    assert attr(p.attrs, "ordering") == "morton" and attr(o.attrs, "ordering") == "morton"
    assert (p["tokens"][...] == o["tokens"][...]).all()
    assert not (p["tokens"][...].reshape(13, 32, 32) == t).all()
    assert splits(p.attrs) == splits(o.attrs) == [9, 1, 3]
EOF

# fm_case WHAT GZ FILE PYTHON: in a copy of fm/ (GZ = gz) or fmp/, FILE
# rewritten by the Python statement PYTHON (on its bytes b), then
# fashion-mnist is refused with exit 3, one line, no output file
fm_case() {
    rm -rf "$tmp/fmbad"
    if test "$2" = gz; then cp -r "$tmp/fm" "$tmp/fmbad"; else cp -r "$tmp/fmp" "$tmp/fmbad"; fi
    "$python" -c "
import sys
b = open(sys.argv[1], 'rb').read()
$4
open(sys.argv[1], 'wb').write(b)
" "$tmp/fmbad/$3" || fail "$1: python could not alter $3"
    refused "fashion-mnist: $1" 3 "$tmp/fmbad.h5" fashion-mnist "$tmp/fmbad" -o "$tmp/fmbad.h5"
}
fm_case "truncated images" plain train-images-idx3-ubyte "b = b[:-100]"
grep -q "train-images-idx3-ubyte: truncated" "$tmp/refused.err" || fail "truncated images: not said"
fm_case "trailing bytes" plain t10k-images-idx3-ubyte "b = b + bytes(5)"
fm_case "bad magic number" plain train-labels-idx1-ubyte "b = bytes([0, 0, 8, 3]) + b[4:]"
grep -q "train-labels-idx1-ubyte: magic number 0x00000803: 3 dimensions, expected 1" \
    "$tmp/refused.err" || fail "bad magic number: not said"
fm_case "fewer labels than images" plain t10k-labels-idx1-ubyte "b = b[:7] + bytes([2]) + b[8:10]"
fm_case "label 10" plain train-labels-idx1-ubyte "b = b[:8] + bytes([10]) + b[9:]"
fm_case "truncated gzip stream" gz train-images-idx3-ubyte.gz "b = b[:len(b) // 2]"
grep -q "truncated gzip stream" "$tmp/refused.err" || fail "truncated gzip stream: not said"
fm_case "corrupt gzip stream" gz t10k-labels-idx1-ubyte.gz "b = b[:-8] + bytes(8)"
refused "fashion-mnist: a missing directory" 5 "$tmp/fmbad.h5" fashion-mnist "$tmp/nowhere" \
    -o "$tmp/fmbad.h5"
grep -q "nowhere: neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte" \
    "$tmp/refused.err" || fail "a missing directory: not said"

# Debian's dataset-fashion-mnist (the default DIR), when it is installed
fmdir=/usr/share/datasets/fashion-mnist
if test -r "$fmdir/train-images-idx3-ubyte.gz" || test -r "$fmdir/train-images-idx3-ubyte"; then
    run "$tmp/fmr.out" fashion-mnist -o "$tmp/fmr.h5"
    test $rc -eq 0 || fail "fashion-mnist $fmdir: exit status $rc (expected 0)"
    run "$tmp/fmri.out" inspect "$tmp/fmr.h5"
    head -n 16 "$tmp/fmri.out"
    grep -q '^examples    70000$' "$tmp/fmri.out" || fail "fashion-mnist $fmdir: not 70000 examples"
    grep -q '^splits      train 54000 (examples 0\.\.53999), validation 6000 (examples 54000\.\.59999), test 10000 (examples 60000\.\.69999)$' \
        "$tmp/fmri.out" || fail "fashion-mnist $fmdir: not the splits 54000 / 6000 / 10000"
    rm -f "$tmp/fmr.h5"
else
    echo "$me: SKIP the Debian Fashion-MNIST case: $fmdir holds no train-images-idx3-ubyte(.gz) (package dataset-fashion-mnist)"
fi

finish
