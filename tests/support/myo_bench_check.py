"""myo_bench_check.py -- reads a myo-bench results file back with h5py, as
the analysis does, for tests/tools/test_myo_bench.sh.

    python3 myo_bench_check.py run FILE --run R --ranks P [--rows K] [--no-ok]
    python3 myo_bench_check.py rows FILE          (rows of 'points', 0 when unreadable; no lock)
    python3 myo_bench_check.py complete FILE --min-rows K
    python3 myo_bench_check.py closed FILE --run R
    python3 myo_bench_check.py kernels FILE --ranks P

Prints what it checked; exits 1 naming the first failed check.
"""
import sys

import h5py
import numpy as np

POINT_COLS = ("run_id point point_key method mode phase precision tree arity direction mask "
              "ordering n nodes d_model heads batch ranks reps t_min t_med t_max flops bytes "
              "gflops gbytes_per_s triad_gbytes_per_s peak_rss_mib t_proj_med t_mix_med messages "
              "message_bytes collectives valid val_error status note").split()
REP_COLS = "run_id point rep seconds".split()
META = "git_revision git_dirty ranks hosts command_line utc_start utc_end mpi_library hdf5_version".split()


def fail(msg):
    print("myo_bench_check: FAIL: " + msg)
    sys.exit(1)


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def arg(name, default=None):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def check_tables(f):
    if s(f.attrs.get("schema", b"")) != "myo-bench/2":
        fail("root attribute schema is %r, not myo-bench/2" % f.attrs.get("schema"))
    p, r = f["points"], f["repetitions"]
    if tuple(p.dtype.names) != tuple(POINT_COLS):
        fail("points columns %s, expected %s" % (p.dtype.names, POINT_COLS))
    if tuple(r.dtype.names) != tuple(REP_COLS):
        fail("repetitions columns %s, expected %s" % (r.dtype.names, REP_COLS))
    return p[...], r[...]


def run_group(f, run):
    name = "runs/run-%06d" % run
    if name not in f:
        fail("no group /%s (groups: %s)" % (name, list(f.get("runs", {}))))
    return f[name]


def cmd_run(path):
    run, ranks = int(arg("--run")), int(arg("--ranks"))
    with h5py.File(path, "r") as f:
        pts, reps = check_tables(f)
        mine = pts[pts["run_id"] == run]
        want = arg("--rows")
        if want is not None and len(mine) != int(want):
            fail("run %d has %d rows in 'points', expected %s" % (run, len(mine), want))
        if len(mine) == 0:
            fail("run %d has no rows" % run)
        status = [s(x) for x in mine["status"]]
        ok = np.array([x == "OK" for x in status])
        if "--no-ok" in sys.argv:
            if ok.any():
                fail("run %d (--resume) measured %d points again: %s" %
                     (run, ok.sum(), [s(k) for k in mine["point_key"][ok]][:3]))
        elif not ok.any():
            fail("run %d has no OK row (statuses %s)" % (run, sorted(set(status))))
        for row in mine[ok]:
            if s(row["valid"]) != "VALID":
                fail("OK row %s: valid is %r" % (s(row["point_key"]), s(row["valid"])))
            if not (row["t_med"] > 0 and row["t_min"] <= row["t_med"] <= row["t_max"]):
                fail("OK row %s: times %g %g %g" % (s(row["point_key"]), row["t_min"],
                                                     row["t_med"], row["t_max"]))
            if row["flops"] < 0 or row["bytes"] <= 0 or row["reps"] < 1:
                fail("OK row %s: flops negative, or bytes or reps not positive"
                     % s(row["point_key"]))
        for row in mine[~ok]:
            if not s(row["status"]).startswith("SKIP:") or s(row["note"]) in ("", "-"):
                fail("row %s: status %r without a reason" % (s(row["point_key"]), s(row["status"])))
        if set(mine["ranks"]) != {ranks}:
            fail("ranks column %s, expected %d" % (set(mine["ranks"]), ranks))
        keys = [s(k) for k in mine["point_key"]]
        if len(set(keys)) != len(keys):
            fail("duplicate point_key in run %d" % run)
        rr = reps[reps["run_id"] == run]
        if len(rr) != int(mine["reps"].sum()):
            fail("run %d: %d repetitions rows, the points say %d" % (run, len(rr), mine["reps"].sum()))
        g = run_group(f, run)
        for k in META:
            if k not in g.attrs:
                fail("run %d metadata lacks %s (has %s)" % (run, k, sorted(g.attrs)))
        if s(g.attrs["ranks"]) != str(ranks):
            fail("run %d metadata ranks = %r" % (run, s(g.attrs["ranks"])))
        if "myo-bench" not in s(g.attrs["command_line"]):
            fail("command_line %r" % s(g.attrs["command_line"]))
        print("myo_bench_check: run %d: %d points (%d OK, all VALID), %d repetitions, metadata ok"
              % (run, len(mine), ok.sum(), len(rr)))


def cmd_rows(path):
    try:
        with h5py.File(path, "r", locking=False) as f:
            print(len(f["points"]))
    except Exception:
        print(0)


def cmd_complete(path):
    k = int(arg("--min-rows"))
    with h5py.File(path, "r") as f:
        pts, reps = check_tables(f)
        if len(pts) < k:
            fail("%d rows in 'points', the run printed %d" % (len(pts), k))
        for row in pts:
            st = s(row["status"])
            if st == "OK" and s(row["valid"]) != "VALID":
                fail("row %s not VALID" % s(row["point_key"]))
            if st not in ("OK", "INTERRUPTED") and not st.startswith("SKIP:"):
                fail("row %s: status %r" % (s(row["point_key"]), st))
            n = (reps["point"] == row["point"]).sum()
            if n != row["reps"]:
                fail("point %d: %d repetitions rows, reps = %d" % (row["point"], n, row["reps"]))
        print("myo_bench_check: %d complete points in the file (printed: %d)" % (len(pts), k))


def cmd_closed(path):
    run = int(arg("--run"))
    with h5py.File(path, "r") as f:
        pts, _ = check_tables(f)
        g = run_group(f, run)
        if "utc_end" not in g.attrs:
            fail("run %d has no utc_end after SIGTERM" % run)
        print("myo_bench_check: after SIGTERM: %d points, utc_end %s" % (len(pts), s(g.attrs["utc_end"])))


LAYERS = ("myosotis", "dense-tiled", "dense-materialized", "ssm")
SOLVERS = ("solve", "solve-only", "memcpy", "lapack-pt")
NO_SEQUENCE = ("ssm", "dense-materialized", "memcpy", "lapack-pt")


def cmd_kernels(path):
    """What each kernel and mode must show (a run of every method, modes
    sequence, data and local, trees kary and chain, on P ranks)."""
    ranks = int(arg("--ranks"))
    with h5py.File(path, "r") as f:
        pts, _ = check_tables(f)
    seen = set()
    for row in pts:
        key, method, mode = s(row["point_key"]), s(row["method"]), s(row["mode"])
        tree, st = s(row["tree"]), s(row["status"])
        unsupported = ((mode == "sequence" and method in NO_SEQUENCE) or
                       (method == "lapack-pt" and tree != "chain"))
        if unsupported:
            if st != "SKIP:unsupported":
                fail("%s: status %r, expected SKIP:unsupported" % (key, st))
            continue
        if st != "OK" or s(row["valid"]) != "VALID":
            fail("%s: status %r, valid %r (expected OK, VALID)" % (key, st, s(row["valid"])))
        seen.add((method, mode))
        n = int(row["n"])
        share = -(-n // ranks) if mode == "local" else n
        # a chain, or no tree: a node per token; a kary hierarchy adds virtual nodes
        kary = tree == "kary" and method in ("myosotis",) + SOLVERS
        if (int(row["nodes"]) <= share) if kary else (int(row["nodes"]) != share):
            fail("%s: nodes %d for %d tokens (%s)" % (key, row["nodes"], share, tree))
        msgs, colls = row["messages"], row["collectives"]
        if mode == "local" and (msgs != 0 or colls != 0):
            fail("%s: local mode made %g messages and %g collective calls (expected none)"
                 % (key, msgs, colls))
        if mode == "sequence" and ranks > 1 and not msgs + colls > 0:
            fail("%s: sequence mode on %d ranks counted no MPI call" % (key, ranks))
        if (mode == "data" and ranks > 1 and s(row["phase"]) == "fwd+bwd" and method in LAYERS
                and not colls >= 1):
            fail("%s: data-parallel fwd+bwd counted %g collective calls (the weight gradients "
                 "are summed)" % (key, colls))
        split = (row["t_proj_med"], row["t_mix_med"])
        if method in LAYERS and mode != "sequence":
            if not (split[0] > 0 and split[1] > 0):
                fail("%s: proj, mix seconds %s (expected the layer's phase times)" % (key, split))
        elif not all(np.isnan(split)):
            fail("%s: proj, mix seconds %s (expected none: not split)" % (key, split))
        if method == "memcpy" and not (row["flops"] == 0 and row["val_error"] == 0):
            fail("%s: memcpy with flops %g, val_error %g" % (key, row["flops"], row["val_error"]))
    # causal attention: fewer flops than full at the same point
    full = {}
    for row in pts:
        if s(row["mask"]) == "full":
            full[s(row["point_key"]).replace("mask=full", "mask=causal")] = row["flops"]
    causal = [row for row in pts if s(row["mask"]) == "causal" and s(row["status"]) == "OK"]
    if not causal:
        fail("no OK row of causal attention")
    for row in causal:
        key = s(row["point_key"])
        if key in full and not row["flops"] < full[key]:
            fail("%s: flops %g, not fewer than full attention's %g" % (key, row["flops"], full[key]))
        seen.add((s(row["method"]) + " causal", s(row["mode"])))
    want = {(m, d) for m in LAYERS + SOLVERS for d in ("data", "local")}
    want |= {(m + " causal", d) for m in ("dense-tiled", "dense-materialized")
             for d in ("data", "local")} | {("dense-tiled causal", "sequence")}
    want |= {(m, "sequence") for m in LAYERS + SOLVERS if m not in NO_SEQUENCE}
    if want - seen:
        fail("no OK row of %s" % sorted(want - seen))
    print("myo_bench_check: kernels: %d points, every method and mode OK and VALID where "
          "supported, SKIP:unsupported elsewhere; local mode sent nothing" % len(pts))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        fail("usage: myo_bench_check.py run|rows|complete|closed|kernels FILE ...")
    {"run": cmd_run, "rows": cmd_rows, "complete": cmd_complete, "closed": cmd_closed,
     "kernels": cmd_kernels}[sys.argv[1]](sys.argv[2])
