#!/bin/sh
# test_analysis.sh -- myo-report (analysis/myo-report) on the results of a
# real small run (make check runs it through SH_LOG_COMPILER; tests/local.mk's
# AM_TESTS_ENVIRONMENT gives it MYO_BINDIR, MYO_MPIEXEC, MYO_MPIEXEC_FLAGS,
# MYO_PYTHON and MYO_REPORT, the built script).
#
# 1. myo-bench on 1 and on 2 ranks (solve and myosotis, n = 1K..16K, both
#    modes) and a tiny myo-lra --efficiency-table, each into its own file
#    in a folder, as a job array writes them; myo-report on the folder:
#    exit 0; report.md embeds figures that exist; every PNG is non-empty
#    with the PNG signature, every PDF starts with %PDF; the CSV files;
# 2. the report's numbers against the HDF5 files, read here with h5py:
#    every median, q1 and q3 of the points table equals the one recomputed
#    from the repetitions; the slopes equal numpy.polyfit of those medians
#    (their values are not checked: load on a shared machine moves them);
#    the LRA table's train-step medians likewise;
# 3. bad input: a missing path (exit 3), an empty folder (3), a text file
#    named x.h5 (3), an HDF5 file of another schema (3), a results file with
#    an empty points table (3), a FIFO named z.h5 given or lying in a
#    folder (3, at once: opening it would wait forever), no argument (2),
#    no -o (2): one line on stderr naming the tool each time, never a
#    traceback.
# Exit 0 when all hold, 1 otherwise, 99 when a program or python is missing.
me=test_analysis.sh
here=`dirname "$0"`
. "$here/../support/driver-test-lib.sh"
driver_setup myo-bench
require_h5py
report=${MYO_REPORT:-analysis/myo-report}
require_built "$report"
lra=$bindir/myo-lra
require_built "$lra"
if ! "$python" -c 'import matplotlib' 2>/dev/null; then
    echo "$me: $python cannot import matplotlib (install python3-matplotlib, set MYO_PYTHON)" >&2
    exit 99
fi
make_tmp

res=$tmp/results
mkdir -p "$res/array" "$tmp/empty"
tiny="--method solve,myosotis --n 1K:16K:x2 --mode both --phase fwd --d-model 32 --heads 2 --reps 5 --warmup 1 --no-flush --triad-mib 1 --progress none"
for np in 1 2; do
    run_tool $np "$tmp/bench$np.out" "$tmp/bench$np.err" $tiny --output "$res/array/bench-$np.h5"
    test $rc -eq 0 || { cat "$tmp/bench$np.err" >&2; fail "myo-bench on $np rank(s): exit $rc"; }
done
prog=$lra
run_tool 1 "$tmp/lra.out" "$tmp/lra.err" --task text --efficiency-table --lengths 256,512,1K \
    --batch 2 --d-model 16 --heads 2 --layers 1 --mlp-dim 16 --steps 3 --infer-steps 3 \
    --warmup 1 --progress none --output "$res/lra.h5"
test $rc -eq 0 || { cat "$tmp/lra.err" >&2; fail "myo-lra: exit $rc"; }

# ------------------------------------------------------------------- 1
out=$tmp/report
echo "$me: === $report $res -o $out"
"$report" "$res" -o "$out" --title "test_analysis" >"$tmp/rep.out" 2>"$tmp/rep.err"
rc=$?
cat "$tmp/rep.out" "$tmp/rep.err"
test $rc -eq 0 || fail "myo-report on the results folder: exit $rc (expected 0)"
test -s "$out/report.md" || fail "no report.md"
for name in time_vs_n strong_scaling weak_scaling methods_at_n lra_time_vs_n lra_efficiency; do
    grep -q "](figures/$name.png)" "$out/report.md" || fail "report.md does not embed $name.png"
    test -f "$out/figures/$name.pdf" || fail "no figures/$name.pdf"
done
for f in "$out"/figures/*.png; do
    test -s "$f" || { fail "$f: empty"; continue; }
    sig=`od -An -tx1 -N8 "$f" | tr -d ' \n'`
    test "$sig" = 89504e470d0a1a0a || fail "$f: no PNG signature ($sig)"
done
for f in "$out"/figures/*.pdf; do
    head -c 4 "$f" | grep -q '%PDF' || fail "$f: not a PDF"
done
for c in points slopes strong_scaling weak_scaling methods_at_n lra_points lra_efficiency runs; do
    test -s "$out/csv/$c.csv" || fail "no csv/$c.csv"
done
for w in 'Revision' 'Machine' 'How times were measured'; do
    grep -q "$w" "$out/report.md" || fail "report.md does not state: $w"
done

# ------------------------------------------------------------------- 2
cat >"$tmp/check.py" <<'EOF'
import glob, os, sys
import h5py, numpy as np

res, md = sys.argv[1], open(sys.argv[2]).read()
bad = []

def s(v):
    return v.decode() if isinstance(v, bytes) else v

def table(marker):
    """The Markdown table after <!-- table:MARKER -->: header, rows of cells."""
    lines = md.split("<!-- table:%s -->\n" % marker, 1)[1].split("\n")
    rows = []
    for l in lines:
        if not l.startswith("|"):
            break
        rows.append([c.strip() for c in l.strip().strip("|").split("|")])
    return rows[0], rows[2:]

# medians and quartiles of every timed repetition of a configuration
secs, lsecs = {}, {}
for path in sorted(glob.glob(os.path.join(res, "**", "*.h5"), recursive=True)):
    with h5py.File(path, "r") as f:
        schema = s(f.attrs["schema"])
        p, r = f["points"][...], f["repetitions"][...]
        if schema.startswith("myo-bench/"):
            for row in p:
                if s(row["status"]) != "OK":
                    continue
                key = (s(row["method"]), s(row["mode"]), s(row["phase"]), int(row["n"]),
                       int(row["ranks"]))
                sel = (r["run_id"] == row["run_id"]) & (r["point"] == row["point"])
                secs.setdefault(key, []).extend(r["seconds"][sel].tolist())
        else:
            for row in p:
                if s(row["status"]) != "OK":
                    continue
                key = (s(row["mixer"]), int(row["n"]))
                sel = ((r["run_id"] == row["run_id"]) & (r["point"] == row["point"]) &
                       (r["kind"] == b"train"))
                lsecs.setdefault(key, []).extend(r["seconds"][sel].tolist())

def g4(x):
    return "%.4g" % (x * 1e3)

head, rows = table("points")
col = {h: i for i, h in enumerate(head)}
seen = 0
for row in rows:
    key = (row[col["method"]], row[col["mode"]], row[col["phase"]], int(row[col["n"]]),
           int(row[col["P"]]))
    v = secs.get(key)
    if not v:
        bad.append("points table row %s: no such OK point in the files" % (key,))
        continue
    seen += 1
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    if g4(np.median(v)) != row[col["median ms"]]:
        bad.append("%s: median %s ms in the report, %s in the files" % (
            key, row[col["median ms"]], g4(np.median(v))))
    if g4(q1) != row[col["q1 ms"]] or g4(q3) != row[col["q3 ms"]]:
        bad.append("%s: quartiles %s, %s ms in the report, %s, %s in the files" % (
            key, row[col["q1 ms"]], row[col["q3 ms"]], g4(q1), g4(q3)))
    if int(row[col["reps"]]) != len(v):
        bad.append("%s: %s repetitions in the report, %d in the files" % (
            key, row[col["reps"]], len(v)))
if seen != len(secs):
    bad.append("points table: %d rows, the files have %d OK configurations" % (seen, len(secs)))

head, rows = table("slopes")
col = {h: i for i, h in enumerate(head)}
solve1 = []
for row in rows:
    m, mode, ph, P = row[col["method"]], row[col["mode"]], row[col["phase"]], int(row[col["P"]])
    ns = sorted(n for (a, b, c, n, p) in secs if (a, b, c, p) == (m, mode, ph, P))
    t = [np.median(secs[(m, mode, ph, n, P)]) for n in ns]
    want = np.polyfit(np.log(ns), np.log(t), 1)[0]
    got = float(row[col["slope"]])
    if abs(got - want) > 6e-4:
        bad.append("slope of %s %s %s P=%d: %s in the report, %.4f from the files" % (
            m, mode, ph, P, row[col["slope"]], want))
    if row[col["fit range n"]] != "%d–%d" % (ns[0], ns[-1]):
        bad.append("fit range of %s %s P=%d: %s" % (m, mode, P, row[col["fit range n"]]))
    if m == "solve" and P == 1:
        solve1.append(got)  # not bounded: a slope measured on a loaded machine is no test
if len(solve1) != 2:
    bad.append("the slopes table has %d one-rank solve rows (expected 2)" % len(solve1))

head, rows = table("lra-points")
col = {h: i for i, h in enumerate(head)}
for row in rows:
    key = (row[col["mixer"]], int(row[col["n"]]))
    v = lsecs.get(key)
    if not v or g4(np.median(v)) != row[col["train ms"]]:
        bad.append("LRA %s: train step %s ms in the report, %s in the files" % (
            key, row[col["train ms"]], g4(np.median(v)) if v else "none"))
if len(rows) != len(lsecs):
    bad.append("LRA table: %d rows, the file has %d OK points" % (len(rows), len(lsecs)))

for b in bad:
    print("check: FAIL: " + b)
print("check: %d bench configurations, %d LRA points, solve slopes (P=1) %s"
      % (len(secs), len(lsecs), ", ".join("%.3f" % x for x in solve1)))
sys.exit(1 if bad else 0)
EOF
"$python" "$tmp/check.py" "$res" "$out/report.md" || fail "report.md against the HDF5 files (above)"

# ------------------------------------------------------------------- 3
printf 'not HDF5\n' >"$tmp/x.h5"
"$python" - "$tmp" <<'EOF' || fail "could not make the bad HDF5 files"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(d + "/other.h5", "w") as f:
    f.attrs["schema"] = np.bytes_("myo-solve/1")
    f["points"] = np.zeros(3, dtype=[("run_id", "<i8"), ("x", "<f8")])
with h5py.File(d + "/results/array/bench-1.h5", "r") as src, \
        h5py.File(d + "/emptypoints.h5", "w") as f:
    for k, v in src.attrs.items():
        f.attrs[k] = v
    for t in ("points", "repetitions"):
        f.create_dataset(t, shape=(0,), maxshape=(None,), dtype=src[t].dtype, chunks=(64,))
    src.copy("runs", f)
EOF
# refused WHAT WANT ARGS...: myo-report ARGS exits WANT with one line on
# stderr, no traceback
refused() {
    what=$1 want=$2
    shift 2
    $timeout "$report" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
    rc=$?
    echo "$me: $what: exit $rc: `cat "$tmp/bad.err"`"
    test $rc -eq "$want" || fail "$what: exit $rc (expected $want)"
    n=`wc -l <"$tmp/bad.err"`
    test "$n" -eq 1 || fail "$what: $n lines on stderr (expected 1)"
    grep -q '^myo-report: ' "$tmp/bad.err" || fail "$what: stderr does not start with myo-report:"
    if grep -q Traceback "$tmp/bad.out" "$tmp/bad.err"; then fail "$what: a traceback"; fi
}
refused "a missing path" 3 "$tmp/nowhere" -o "$tmp/o1"
refused "an empty folder" 3 "$tmp/empty" -o "$tmp/o2"
refused "a text file named x.h5" 3 "$tmp/x.h5" -o "$tmp/o3"
refused "an HDF5 file of another schema" 3 "$tmp/other.h5" -o "$tmp/o4"
refused "an empty points table" 3 "$tmp/emptypoints.h5" -o "$tmp/o5"
refused "a good file with a bad one" 3 "$res/lra.h5" "$tmp/x.h5" -o "$tmp/o6"
mkdir "$tmp/fifo" && cp "$res/lra.h5" "$tmp/fifo/" && mkfifo "$tmp/fifo/z.h5" ||
    fail "could not make a FIFO"
refused "a FIFO named z.h5" 3 "$tmp/fifo/z.h5" -o "$tmp/o8"
refused "a folder holding a FIFO named z.h5" 3 "$tmp/fifo" -o "$tmp/o9"
refused "no argument" 2
refused "no -o" 2 "$res"
refused "an unknown option" 2 "$res" -o "$tmp/o7" --bogus
finish
