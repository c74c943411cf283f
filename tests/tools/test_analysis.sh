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
#    traceback;
# 4. myo-train logs (schema myo-train/1), written here with h5py as
#    jobs/train.sbatch lays them out (a file per training): two tasks, three
#    methods, two orderings of the image task, three seeds; a training
#    resumed from an older checkpoint (steps logged twice), one with a
#    stale results row before its latest, one unfinished; a checkpoint
#    (*.ckpt.h5) and a dataset file in the folder.  myo-report on them and
#    the results of 1: exit 0, the figures of both; the accuracy table
#    (mean ± std (k)) and its CSV against means and standard deviations
#    computed here from the files; quality_cost.csv a point per finished
#    training; train_steps.csv and train_evals.csv a row per distinct step
#    (the latest run's values); the unfinished training's last step and
#    best validation accuracy.  Bad logs (a missing column, a missing
#    table, an unknown split, a run without its metadata) and a checkpoint
#    or dataset file named as an argument: exit 3, one line naming the
#    file and what is wrong, no output folder.
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
# make_report OUT RESULTS...: myo-report RESULTS -o OUT: exit 0, a report.md
make_report() {
    rep_out=$1
    shift
    echo "$me: === $report $* -o $rep_out"
    "$report" "$@" -o "$rep_out" --title "test_analysis" >"$tmp/rep.out" 2>"$tmp/rep.err"
    rc=$?
    cat "$tmp/rep.out" "$tmp/rep.err"
    test $rc -eq 0 || fail "myo-report on $*: exit $rc (expected 0)"
    test -s "$rep_out/report.md" || fail "no $rep_out/report.md"
}
# figures OUT NAME...: OUT/report.md embeds each figure NAME, which has a
# PDF; every PNG of OUT has the PNG signature, every PDF starts with %PDF
figures() {
    fig_out=$1
    shift
    for name in "$@"; do
        grep -q "](figures/$name.png)" "$fig_out/report.md" || fail "report.md does not embed $name.png"
        test -f "$fig_out/figures/$name.pdf" || fail "no figures/$name.pdf"
    done
    for f in "$fig_out"/figures/*.png; do
        test -s "$f" || { fail "$f: empty"; continue; }
        sig=`od -An -tx1 -N8 "$f" | tr -d ' \n'`
        test "$sig" = 89504e470d0a1a0a || fail "$f: no PNG signature ($sig)"
    done
    for f in "$fig_out"/figures/*.pdf; do
        head -c 4 "$f" | grep -q '%PDF' || fail "$f: not a PDF"
    done
}
out=$tmp/report
make_report "$out" "$res"
figures "$out" time_vs_n strong_scaling weak_scaling methods_at_n lra_time_vs_n lra_efficiency
for c in points slopes strong_scaling weak_scaling methods_at_n lra_points lra_efficiency runs; do
    test -s "$out/csv/$c.csv" || fail "no csv/$c.csv"
done
for w in 'Revision' 'Machine' 'How times were measured'; do
    grep -q "$w" "$out/report.md" || fail "report.md does not state: $w"
done

# ------------------------------------------------------------------- 2
# what the checks of 2 and 4 share (beside them in $tmp: "import mdtable")
cat >"$tmp/mdtable.py" <<'EOF'
def s(v):
    """An HDF5 string (bytes) as str."""
    return v.decode() if isinstance(v, bytes) else v

def table(md, marker):
    """The Markdown table of MD after <!-- table:MARKER -->: header, rows of
    cells; none when MD has no such table."""
    if "<!-- table:%s -->\n" % marker not in md:
        return [], []
    lines = md.split("<!-- table:%s -->\n" % marker, 1)[1].split("\n")
    rows = []
    for l in lines:
        if not l.startswith("|"):
            break
        rows.append([c.strip() for c in l.strip().strip("|").split("|")])
    return rows[0], rows[2:]
EOF
cat >"$tmp/check.py" <<'EOF'
import glob, os, sys
import h5py, numpy as np
import mdtable
from mdtable import s

res, md = sys.argv[1], open(sys.argv[2]).read()
bad = []

def table(marker):
    return mdtable.table(md, marker)

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

# ------------------------------------------------------------------- 4
cat >"$tmp/make_train.py" <<'EOF'
# make_train.py DIR: myo-train/1 logs in DIR/train (a file per training, as
# jobs/train.sbatch names them) and hostile versions of one of them in DIR
import os, sys
import h5py, numpy as np

d = sys.argv[1]
camp = os.path.join(d, "train")
os.makedirs(os.path.join(camp, "data"))
COLS = {
    "steps": [("run_id", "<i8"), ("train_id", "S96"), ("step", "<i8"), ("epoch", "<f8"),
              ("loss", "<f8"), ("lr", "<f8"), ("grad_norm", "<f8"), ("examples_per_s", "<f8"),
              ("wall_s", "<f8")],
    "evals": [("run_id", "<i8"), ("train_id", "S96"), ("step", "<i8"), ("split", "S16"),
              ("loss", "<f8"), ("accuracy", "<f8"), ("examples", "<i8"), ("wall_s", "<f8")],
    "results": [("run_id", "<i8"), ("train_id", "S96"), ("task", "S32"), ("method", "S32"),
                ("tree", "S32"), ("ordering", "S16"), ("seed", "<i8"), ("preset", "S16"),
                ("params", "<i8"), ("steps", "<i8"), ("best_step", "<i8"),
                ("val_accuracy", "<f8"), ("test_accuracy", "<f8"), ("test_loss", "<f8"),
                ("train_s", "<f8"), ("examples_per_s", "<f8"), ("peak_bytes", "<i8"),
                ("ranks", "<i8"), ("batch", "<i8")],
}
rng = np.random.default_rng(7)


def write(path, runs, rows, drop_col=(None, None), drop_table=None):
    """runs: {run_id: metadata}; rows: {table: [tuples]}; drop_col: (table, column)."""
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = np.bytes_("myo-train/1")
        f.attrs["schema_version"] = np.int32(1)
        for t, cols in COLS.items():
            if t == drop_table:
                continue
            keep = [i for i, c in enumerate(cols) if (t, c[0]) != drop_col]
            data = np.array([tuple(r[i] for i in keep) for r in rows[t]],
                            dtype=[cols[i] for i in keep])
            f.create_dataset(t, data=data, maxshape=(None,), chunks=(64,))
        for rid, meta in runs.items():
            g = f.create_group("runs/run-%06d" % rid)
            for k, v in meta.items():
                g.attrs[k] = np.bytes_(str(v))


def training(task, method, tree, ordering, seed, runs, finish, stale):
    """A training logged by RUNS, [(run_id, first step, last step)], a row
    every 10 steps, a validation every 20; a later run resumes from an
    earlier checkpoint, so it logs some steps again."""
    tid = "%s-%s-%s-%s-s%d" % (task, method, tree, ordering, seed)
    rows = {"steps": [], "evals": [], "results": []}
    meta = {}
    for rid, lo, hi in runs:
        meta[rid] = dict(tool="myo-train", task=task, method=method, tree=tree,
                         ordering=ordering, seed=seed, preset="small", data="%s.h5" % task,
                         hosts="node1", ranks="2", git_revision="abc123",
                         utc_start="2024-01-0%dT00:00:00Z" % rid, command_line="myo-train")
        for step in range(lo, hi + 1, 10):
            rows["steps"].append((rid, tid, step, step / 50.0, 2.0 / (1 + step / 10.0) +
                                  rng.uniform(0, 0.1), 1e-3, 1.0, 500.0, 0.5 * step))
            if step % 20 == 0:
                acc = float(rng.uniform(0.3, 0.9))
                rows["evals"].append((rid, tid, step, "validation", 1 - acc / 2, acc, 200,
                                      0.5 * step + 0.1))
    if finish:
        rid, hi = runs[-1][0], runs[-1][2]
        test = float(rng.uniform(0.4, 0.95))
        rows["evals"].append((rid, tid, hi, "test", 0.5, test, 400, 0.5 * hi))
        if stale:  # an earlier run's results row, superseded by the latest's
            rows["results"].append((runs[0][0], tid, task, method, tree, ordering, seed,
                                    "small", 1000, hi, hi, 0.5, 0.11, 2.0, 30.0, 400.0, 2 ** 20,
                                    2, 8))
        rows["results"].append((rid, tid, task, method, tree, ordering, seed, "small", 1000, hi,
                                hi, 0.6, test, 0.5, float(rng.uniform(10, 1000)), 500.0,
                                int(rng.uniform(1e6, 1e9)), 2, 8))
    return meta, rows


first = None
for task, orderings in (("listops", ["-"]), ("pathfinder", ["raster", "morton"])):
    for method in ("myosotis", "dense-tiled", "ssm"):
        tree = ("parse" if task == "listops" else "kary4") if method == "myosotis" else "-"
        for ordering in orderings:
            for seed in (1, 2, 3):
                runs, finish, stale = [(1, 10, 100)], True, False
                if (task, method, ordering, seed) == ("pathfinder", "myosotis", "raster", 2):
                    runs = [(1, 10, 60), (2, 50, 100)]  # killed at 60, resumed from 40
                if (task, method, seed) == ("listops", "dense-tiled", 3):
                    runs, finish = [(1, 10, 60)], False  # unfinished
                if (task, method, seed) == ("listops", "ssm", 3):
                    runs, stale = [(1, 10, 100), (2, 10, 100)], True
                meta, rows = training(task, method, tree, ordering, seed, runs, finish, stale)
                write(os.path.join(camp, "train-%s-%s-%s-s%d.h5" % (task, method, ordering,
                                                                    seed)), meta, rows)
                first = first or (meta, rows)
# beside the logs: a checkpoint and a dataset file, which a folder's search passes over
with h5py.File(os.path.join(camp, "train-listops-ssm---s3.ckpt.h5"), "w") as f:
    f["weights"] = np.zeros(4)
with h5py.File(os.path.join(camp, "data", "listops.h5"), "w") as f:
    f.attrs["format"] = np.bytes_("myo-data/1")
    f["tokens"] = np.zeros((2, 1, 4), dtype="<i4")
meta, rows = first
write(os.path.join(d, "nocol.h5"), meta, rows, drop_col=("evals", "accuracy"))
write(os.path.join(d, "notable.h5"), meta, rows, drop_table="results")
write(os.path.join(d, "badsplit.h5"), meta,
      dict(rows, evals=[r[:3] + ("train",) + r[4:] for r in rows["evals"]]))
write(os.path.join(d, "nometa.h5"),
      {k: {a: b for a, b in m.items() if a != "task"} for k, m in meta.items()}, rows)
EOF
cat >"$tmp/check_train.py" <<'EOF'
# check_train.py LOGS OUT: the report OUT against the myo-train logs LOGS
import csv, glob, os, sys
import h5py, numpy as np
import mdtable
from mdtable import s

logs, out = sys.argv[1], sys.argv[2]
md = open(os.path.join(out, "report.md")).read()
bad = []
CONF = ("method", "tree", "ordering", "preset")

def read_csv(name):
    with open(os.path.join(out, "csv", name)) as fh:
        return list(csv.DictReader(fh))

# the files: per training its steps and evals by run, its latest results row
steps, evals, results = {}, {}, {}
for path in sorted(glob.glob(os.path.join(logs, "train-*.h5"))):
    if path.endswith(".ckpt.h5"):
        continue
    with h5py.File(path, "r") as f:
        for r in f["steps"][...]:
            steps.setdefault(s(r["train_id"]), []).append((int(r["run_id"]), int(r["step"]),
                                                           float(r["loss"])))
        for r in f["evals"][...]:
            evals.setdefault(s(r["train_id"]), []).append(
                (int(r["run_id"]), int(r["step"]), s(r["split"]), float(r["accuracy"])))
        for r in f["results"][...]:
            tid = s(r["train_id"])
            if tid not in results or r["run_id"] >= results[tid]["run_id"]:
                results[tid] = {k: s(r[k]) for k in r.dtype.names}
twice = [t for t, v in steps.items() if len({x[1] for x in v}) < len(v)]
if len(steps) != 27 or len(results) != 26 or len(twice) != 2:
    bad.append("the logs: %d trainings, %d finished, %d with steps logged twice (expected "
               "27, 26, 2)" % (len(steps), len(results), len(twice)))

# the accuracy table and accuracy.csv: mean and sample std in percent over the seeds
acc = {}
for r in results.values():
    acc.setdefault((r["task"],) + tuple(r[k] for k in CONF), []).append(100 * r["test_accuracy"])
head, rows = mdtable.table(md, "train-accuracy")
tasks = head[len(CONF):]
if sorted(tasks) != ["listops", "pathfinder"]:
    bad.append("accuracy table: task columns %s" % tasks)
cells = 0
for row in rows:
    for task, cell in zip(tasks, row[len(CONF):]):
        v = acc.get((task,) + tuple(row[:len(CONF)]))
        want = "-" if v is None else (
            "%.2f ± %.2f (%d)" % (np.mean(v), np.std(v, ddof=1), len(v)) if len(v) > 1
            else "%.2f (1)" % v[0])
        cells += v is not None
        if cell != want:
            bad.append("accuracy of %s on %s: '%s' in the report, '%s' from the logs"
                       % (row[:len(CONF)], task, cell, want))
if cells != len(acc) or cells != 9:
    bad.append("accuracy table: %d cells with data, the logs have %d (expected 9)"
               % (cells, len(acc)))
got = read_csv("accuracy.csv")
for r in got:
    v = acc.get((r["task"],) + tuple(r[k] for k in CONF), [])
    if (int(r["k"]) != len(v) or abs(float(r["mean_pct"]) - np.mean(v)) > 1e-9 or
            abs(float(r["std_pct"]) - np.std(v, ddof=1)) > 1e-9):
        bad.append("accuracy.csv %s: k %s, %s ± %s" % (r["task"], r["k"], r["mean_pct"],
                                                       r["std_pct"]))
if len(got) != len(acc):
    bad.append("accuracy.csv: %d rows, expected %d" % (len(got), len(acc)))
if any(len(v) != 3 for k, v in acc.items() if k[:3] != ("listops", "dense-tiled", "-")):
    bad.append("the logs: a configuration without its three seeds")

# quality_cost.csv: a point per finished training, its latest results row
got = {r["train_id"]: r for r in read_csv("quality_cost.csv")}
if set(got) != set(results):
    bad.append("quality_cost.csv: trainings %s, expected %s" % (sorted(got), sorted(results)))
for tid, r in got.items():
    want = results.get(tid, {})
    if (abs(float(r["test_accuracy_pct"]) - 100 * want.get("test_accuracy", -1)) > 1e-9 or
            abs(float(r["train_s"]) - want.get("train_s", -1)) > 1e-9 or
            int(r["peak_bytes"]) != want.get("peak_bytes")):
        bad.append("quality_cost.csv %s: not the latest results row" % tid)

# train_steps.csv, train_evals.csv: a row per distinct step, the latest run's
def latest(rows, key):
    best = {}
    for row in rows:
        if key(row) not in best or row[0] >= best[key(row)][0]:
            best[key(row)] = row
    return best
for name, logged, key, col in (("train_steps.csv", steps, lambda x: x[1], "loss"),
                               ("train_evals.csv", evals, lambda x: x[1:3], "accuracy_pct")):
    got = {}
    for r in read_csv(name):
        k = (int(r["step"]), r["split"]) if "split" in r else int(r["step"])
        if k in got.setdefault(r["train_id"], {}):
            bad.append("%s: %s step %s twice" % (name, r["train_id"], r["step"]))
        got[r["train_id"]][k] = (int(r["run_id"]), float(r[col]))
    for tid, rows in logged.items():
        want = {k: (v[0], v[-1] * (100 if col == "accuracy_pct" else 1))
                for k, v in latest(rows, key).items()}
        have = got.get(tid, {})
        if set(have) != set(want):
            bad.append("%s %s: steps %s, expected %s" % (name, tid, sorted(have), sorted(want)))
        for k in set(have) & set(want):
            if have[k][0] != want[k][0] or abs(have[k][1] - want[k][1]) > 1e-9:
                bad.append("%s %s step %s: run %d %s %g, expected run %d %g" % (
                    name, tid, k, have[k][0], col, have[k][1], want[k][0], want[k][1]))

# the unfinished training: its last step, its best validation accuracy so far
head, rows = mdtable.table(md, "train-unfinished")
col = {h: i for i, h in enumerate(head)}
want = []
for tid in sorted(set(steps) - set(results)):
    v = [a for run, step, split, a in evals[tid] if split == "validation"]
    want.append([tid, str(max(x[1] for x in steps[tid])), "%.2f" % (100 * max(v))])
have = [[r[col["train_id"]], r[col["last step"]], r[col["best val acc %"]]] for r in rows] \
    if head else []
if have != want:
    bad.append("unfinished trainings: %s in the report, %s from the logs" % (have, want))

for b in bad:
    print("check_train: FAIL: " + b)
print("check_train: %d trainings, %d finished, %d accuracy cells, unfinished %s"
      % (len(steps), len(results), cells, want))
sys.exit(1 if bad else 0)
EOF
"$python" "$tmp/make_train.py" "$tmp" || fail "could not write the myo-train logs"
tout=$tmp/train-report
make_report "$tout" "$res" "$tmp/train"
figures "$tout" time_vs_n lra_efficiency train_curves_listops train_curves_pathfinder quality_cost
"$python" "$tmp/check_train.py" "$tmp/train" "$tout" || fail "the trainings' report against the logs (above)"
refused "a log without the column accuracy" 3 "$tmp/nocol.h5" -o "$tmp/t1"
grep -q "nocol.h5: table 'evals' lacks the column accuracy" "$tmp/bad.err" ||
    fail "the missing column: the message names neither the file nor the column"
refused "a log without the table results" 3 "$tmp/notable.h5" -o "$tmp/t2"
grep -q "notable.h5: no table 'results'" "$tmp/bad.err" || fail "the missing table is not named"
refused "a log with the split 'train'" 3 "$tmp/badsplit.h5" -o "$tmp/t3"
refused "a log whose run lacks the attribute task" 3 "$tmp/nometa.h5" -o "$tmp/t4"
grep -q "nometa.h5: /runs/run-000001 lacks the attribute task" "$tmp/bad.err" ||
    fail "the run without its metadata is not named"
refused "a checkpoint named" 3 "$tmp/train/train-listops-ssm---s3.ckpt.h5" -o "$tmp/t5"
refused "a dataset file named" 3 "$tmp/train/data/listops.h5" -o "$tmp/t6"
for o in t1 t2 t3 t4 t5 t6; do
    test ! -e "$tmp/$o" || fail "a refused input left the output folder $tmp/$o"
done
finish
