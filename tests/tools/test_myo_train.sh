#!/bin/sh
# test_myo_train.sh -- end-to-end test of myo-train (make check runs it
# through SH_LOG_COMPILER with MYO_BINDIR, MYO_MPIEXEC, MYO_MPIEXEC_FLAGS
# and MYO_PYTHON from AM_TESTS_ENVIRONMENT, tests/local.mk).
#
# 1. A tiny task learns, for every mixer: Fashion-MNIST (myo-data
#    fashion-mnist, from the Debian package dataset-fashion-mnist) made
#    short -- each 32 x 32 image averaged over 4 x 4 blocks into 8 x 8 = 64
#    tokens, the first 800 training, 200 validation and 200 test images, a
#    myo-data/1 file written with h5py -- and two layers of width 16, 400
#    updates of 16; the test accuracy on the 200 test images must reach
#    LEARN_MIN (30 %; 43 to 65 % measured over three seeds).  It cannot
#    pass by chance: a model that ignores its input scores at most the most
#    frequent label's share of those images, which the test computes and
#    requires LEARN_MIN to exceed by 10 points or more; a guesser at 10 %
#    reaches 30 % of 200 with probability below 1e-12 (binomial).  Skipped
#    (with the reason) when the package is not installed; the other cases
#    then run on a generated ListOps file.
# 2. Checkpoints: 6 + 6 updates (--stop-at 6, then --resume) give the
#    parameters, AdamW moments and best parameters of 12 straight, bit for
#    bit, on 1 and 2 ranks, with dropout and label smoothing on; so do a
#    run stopped by SIGTERM (exit 143, a checkpoint written) and one killed
#    with SIGKILL after a checkpoint, each resumed.
# 3. Evaluation counts every example of a split exactly once over 1, 2
#    and 3 ranks (101 examples: uneven shares): the evals rows say 101.
# 4. The log: tables steps, evals, results with their columns; a
#    training's rows share its train_id; the run metadata.
# 5. Bad input, each one line from the tool, the documented exit code,
#    nothing overwritten: a data file without splits (3), a checkpoint of
#    another model shape (3, naming d_model), a file that is no checkpoint
#    (3), a truncated checkpoint (5 or 3), an existing checkpoint without
#    --resume (2), --ordering on a task without images (2), a log of
#    another schema (3).
# Exit 0 when all hold, 1 otherwise (naming each failed check), 77 when
# nothing can run (no Fashion-MNIST and no myo-data), 99 when a program or
# h5py is missing.
me=test_myo_train.sh
. "`dirname "$0"`/../support/driver-test-lib.sh"
driver_setup myo-train
require_built "$bindir/myo-data"
require_h5py
make_tmp
LEARN_MIN=0.30

fmnist=${MYO_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
tiny="--preset small --layers 2 --d-model 16 --heads 2 --mlp-dim 32 --progress none"

# h5 FILE EXPR: print EXPR, a python expression over f (the open file) and
# np; exit status 1 on an exception.
h5() {
    "$python" - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    print(eval(sys.argv[2]))
EOF
}

# same_state A B: the four arrays of two checkpoints equal bit for bit.
same_state() {
    "$python" - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
bad = [k for k in ("params", "moment1", "moment2", "best_params")
       if a[k][()].tobytes() != b[k][()].tobytes()]
for k in bad:
    d = np.abs(a[k][()].astype(np.float64) - b[k][()]).max()
    print("%s differs (max |difference| %.3g)" % (k, d))
for k in ("step", "adam_steps", "best_step"):
    if a.attrs[k] != b.attrs[k]:
        bad.append(k); print("%s: %d against %d" % (k, a.attrs[k], b.attrs[k]))
sys.exit(1 if bad else 0)
EOF
}

if test -d "$fmnist"; then
    echo "$me: === $bindir/myo-data fashion-mnist $fmnist -o $tmp/fm.h5, made short (8 x 8)"
    "$bindir/myo-data" fashion-mnist "$fmnist" -o "$tmp/fm.h5" >"$tmp/data.out" 2>&1 ||
        { cat "$tmp/data.out"; fail "myo-data fashion-mnist"; finish; }
    "$python" - "$tmp/fm.h5" "$tmp/fm8.h5" <<'EOF' || { fail "making the short file"; finish; }
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    T, V = int(f.attrs["train_count"]), int(f.attrs["validation_count"])
    parts = [(0, 800), (T, 200), (T + V, 200)]
    tok = np.concatenate([f["tokens"][a:a + k, 0, :] for a, k in parts])
    lab = np.concatenate([f["labels"][a:a + k] for a, k in parts]).astype(np.int32)
tok = np.rint(tok.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))).astype(np.int32).reshape(-1, 1, 64)
E = len(lab)
def sattr(f, k, v):  # fixed-length ASCII with its NUL, as dataset_file.c writes
    f.attrs.create(k, np.array(v.encode(), dtype="S%d" % (len(v) + 1)))
with h5py.File(sys.argv[2], "w") as f:
    f.create_dataset("tokens", data=tok)
    f.create_dataset("labels", data=lab)
    f.create_dataset("lengths", data=np.full((E, 1), 64, np.int32))
    for k, v in (("format", "myo-data/1"), ("task", "fashion-mnist"), ("source", "loaded"),
                 ("ordering", "raster")):
        sattr(f, k, v)
    for k, v in (("count", E), ("docs", 1), ("n", 64), ("vocab", 256), ("classes", 10),
                 ("train_count", 800), ("validation_count", 200), ("test_count", 200)):
        f.attrs[k] = np.int64(v)
EOF
    rm -f "$tmp/fm.h5"
    data=$tmp/fm8.h5
else
    echo "$me: $fmnist is missing (apt-get install dataset-fashion-mnist, or .ci/install-deps):"
    echo "$me: the learning case is skipped; the others run on a generated ListOps file"
    "$bindir/myo-data" listops --n 400 --length 64 -o "$tmp/lo.h5" >/dev/null 2>&1 ||
        { fail "myo-data listops"; finish; }
    data=$tmp/lo.h5
fi

# ------------------------------------------------------ 1. a tiny task learns
if test "$data" = "$tmp/fm8.h5"; then
    majority=`h5 "$data" "'%.4f' % (np.bincount(f['labels'][1000:1200], minlength=10).max() / 200)"`
    echo "$me: the most frequent label holds $majority of the 200 test images"
    "$python" -c "import sys; sys.exit(0 if $LEARN_MIN >= $majority + 0.10 else 1)" ||
        fail "LEARN_MIN $LEARN_MIN is not 10 points above the majority share $majority"
    for m in myosotis dense-tiled dense-materialized ssm; do
        run_tool 1 "$tmp/l-$m.out" "$tmp/l-$m.err" --data "$data" --method $m $tiny \
            --batch 16 --steps 400 --lr 1e-2 --warmup 20 --eval-every 100 \
            --output "$tmp/learn.h5" --checkpoint "$tmp/l-$m.ckpt.h5"
        test "$rc" -eq 0 || { cat "$tmp/l-$m.err"; fail "learn $m: exit $rc"; continue; }
        acc=`h5 "$tmp/learn.h5" "[r['test_accuracy'] for r in f['results'][()] if r['method'] == b'$m'][-1]"`
        echo "$me: $m: test accuracy $acc on 200 images after 400 updates (need $LEARN_MIN)"
        "$python" -c "import sys; sys.exit(0 if $acc >= $LEARN_MIN else 1)" ||
            fail "learn $m: test accuracy $acc < $LEARN_MIN"
    done
fi

# ------------------------------------------------- 2. checkpoints and resume
small="$tiny --max-examples 96 --batch 8 --steps 12 --lr 3e-3 --warmup 2 --eval-every 4 --dropout 0.1 --label-smoothing 0.1"
for np in 1 2; do
    run_tool $np "$tmp/s$np.out" "$tmp/s$np.err" --data "$data" $small \
        --output "$tmp/s$np.h5" --checkpoint "$tmp/s$np.ckpt.h5"
    test "$rc" -eq 0 || { cat "$tmp/s$np.err"; fail "straight on $np: exit $rc"; }
    run_tool $np "$tmp/r$np.out" "$tmp/r$np.err" --data "$data" $small --stop-at 6 \
        --output "$tmp/r$np.h5" --checkpoint "$tmp/r$np.ckpt.h5"
    test "$rc" -eq 0 || { cat "$tmp/r$np.err"; fail "--stop-at 6 on $np: exit $rc"; }
    test "`h5 "$tmp/r$np.ckpt.h5" "f.attrs['step']"`" = 6 || fail "--stop-at 6: checkpoint not at 6"
    run_tool $np "$tmp/r$np.out" "$tmp/r$np.err" --data "$data" $small --resume \
        --output "$tmp/r$np.h5" --checkpoint "$tmp/r$np.ckpt.h5"
    test "$rc" -eq 0 || { cat "$tmp/r$np.err"; fail "--resume on $np: exit $rc"; }
    grep -q "resuming .* at update 6 of 12" "$tmp/r$np.err" || fail "--resume on $np: not from 6"
    same_state "$tmp/s$np.ckpt.h5" "$tmp/r$np.ckpt.h5" ||
        fail "6 + 6 updates on $np ranks differ from 12 straight"
    # the log: both runs, one training
    ids=`h5 "$tmp/r$np.h5" "sorted(set(f['steps']['train_id']))"`
    case $ids in *"', b'"*) fail "resumed log on $np: several train_ids: $ids" ;; esac
    runs=`h5 "$tmp/r$np.h5" "len(f['runs'])"`
    test "$runs" = 2 || fail "resumed log on $np: $runs runs (expected 2)"
done
cols=`h5 "$tmp/s1.h5" "','.join(f['steps'].dtype.names) + ';' + ','.join(f['evals'].dtype.names) + ';' + ','.join(f['results'].dtype.names)"`
want="run_id,train_id,step,epoch,loss,lr,grad_norm,examples_per_s,wall_s;run_id,train_id,step,split,loss,accuracy,examples,wall_s;run_id,train_id,task,method,tree,ordering,seed,preset,params,steps,best_step,val_accuracy,test_accuracy,test_loss,train_s,examples_per_s,peak_bytes,ranks,batch"
test "$cols" = "$want" || fail "log columns: $cols"
test "`h5 "$tmp/s1.h5" "f.attrs['schema'].decode() if isinstance(f.attrs['schema'], bytes) else f.attrs['schema']"`" = myo-train/1 ||
    fail "log schema"
test "`h5 "$tmp/s1.h5" "f['runs']['run-000001'].attrs['tool'].decode()"`" = myo-train || fail "run metadata: tool"

# SIGTERM and SIGKILL, each resumed, against the straight run
long="$tiny --max-examples 96 --batch 8 --steps 400 --lr 3e-3 --warmup 2 --eval-every 100 --checkpoint-every 2"
run_tool 1 "$tmp/L.out" "$tmp/L.err" --data "$data" $long --output "$tmp/L.h5" --checkpoint "$tmp/L.ckpt.h5"
test "$rc" -eq 0 || { cat "$tmp/L.err"; fail "straight 400: exit $rc"; }
for sig in TERM KILL; do
    echo "$me: === SIG$sig to the rank once a checkpoint exists, then --resume"
    mpi_launch 1 "$prog" --data "$data" $long --output "$tmp/$sig.h5" \
        --checkpoint "$tmp/$sig.ckpt.h5" >"$tmp/$sig.out" 2>"$tmp/$sig.err" &
    pid=$!
    i=0
    while test ! -f "$tmp/$sig.ckpt.h5" && test $i -lt 600; do sleep 0.1; i=$((i + 1)); done
    pids=`rank_pids $pid myo-train`
    test -n "$pids" || fail "SIG$sig: no myo-train process found"
    for p in $pids; do kill -$sig "$p" 2>/dev/null; done
    wait $pid
    rc=$?
    step=`h5 "$tmp/$sig.ckpt.h5" "f.attrs['step']"`
    echo "$me: SIG$sig: exit $rc, checkpoint at update $step"
    case $sig in
        TERM) test $rc -eq 143 || fail "SIGTERM: exit $rc (expected 143)" ;;
        KILL) test $rc -ne 0 || fail "SIGKILL: exit 0 (did the run end first?)" ;;
    esac
    test "$step" -lt 400 || fail "SIG$sig: the run had ended (checkpoint at $step)"
    h5 "$tmp/$sig.h5" "len(f['steps'])" >/dev/null || fail "SIG$sig: the log cannot be read"
    run_tool 1 "$tmp/$sig.out" "$tmp/$sig.err" --data "$data" $long --resume \
        --output "$tmp/$sig.h5" --checkpoint "$tmp/$sig.ckpt.h5"
    test "$rc" -eq 0 || { cat "$tmp/$sig.err"; fail "SIG$sig then --resume: exit $rc"; }
    same_state "$tmp/L.ckpt.h5" "$tmp/$sig.ckpt.h5" || fail "SIG$sig then --resume differs from straight"
done

# ------------------------------------------- 3. every example once per split
for np in 1 2 3; do
    run_tool $np "$tmp/e$np.out" "$tmp/e$np.err" --data "$data" $tiny --max-examples 101 \
        --batch 6 --steps 1 --output "$tmp/e$np.h5" --checkpoint "$tmp/e$np.ckpt.h5"
    test "$rc" -eq 0 || { cat "$tmp/e$np.err"; fail "eval on $np: exit $rc"; continue; }
    counts=`h5 "$tmp/e$np.h5" "sorted((r['split'].decode(), int(r['examples'])) for r in f['evals'][()])"`
    test "$counts" = "[('test', 101), ('validation', 101)]" ||
        fail "eval on $np ranks: $counts (expected 101 examples of each split)"
done

# ------------------------------------------------------------ 5. bad input
# a data file without splits: the attributes removed
"$bindir/myo-data" listops --n 50 --length 64 -o "$tmp/lo50.h5" >/dev/null 2>&1 || fail "myo-data listops"
cp "$tmp/lo50.h5" "$tmp/nosplit.h5"
"$python" -c "
import h5py
with h5py.File('$tmp/nosplit.h5', 'a') as f:
    for k in ('train_count', 'validation_count', 'test_count'): del f.attrs[k]
" || fail "making a file without splits"
run_tool 1 "$tmp/b.out" "$tmp/b.err" --data "$tmp/nosplit.h5" $tiny --steps 1 \
    --output "$tmp/b.h5" --checkpoint "$tmp/b.ckpt.h5"
check_refusal "no splits" 3 "$tmp/b.out" "$tmp/b.err"
grep -q "no train/validation/test splits" "$tmp/b.err" || fail "no splits: message: `cat "$tmp/b.err"`"
test ! -e "$tmp/b.h5" && test ! -e "$tmp/b.ckpt.h5" || fail "no splits: a file was created"

# a checkpoint of another model shape
keep_copy "$tmp/s1.ckpt.h5"
cp "$tmp/s1.h5" "$tmp/s1-log-copy.h5"
run_tool 1 "$tmp/b.out" "$tmp/b.err" --data "$data" $small --d-model 32 --resume \
    --output "$tmp/s1.h5" --checkpoint "$tmp/s1.ckpt.h5"
check_refusal "another shape" 3 "$tmp/b.out" "$tmp/b.err"
grep -q "d_model=16 there, d_model=32 here" "$tmp/b.err" || fail "another shape: message: `cat "$tmp/b.err"`"
check_unchanged "another shape" "$tmp/s1.ckpt.h5"
cmp -s "$tmp/s1.h5" "$tmp/s1-log-copy.h5" || fail "another shape: the log changed"

# an existing checkpoint without --resume
run_tool 1 "$tmp/b.out" "$tmp/b.err" --data "$data" $small --output "$tmp/s1.h5" \
    --checkpoint "$tmp/s1.ckpt.h5"
check_refusal "existing checkpoint" 2 "$tmp/b.out" "$tmp/b.err"
check_unchanged "existing checkpoint" "$tmp/s1.ckpt.h5"

# a file that is no checkpoint (the log), and a truncated checkpoint
keep_copy "$tmp/s1.h5"
run_tool 1 "$tmp/b.out" "$tmp/b.err" --data "$data" $small --resume --output "$tmp/x.h5" \
    --checkpoint "$tmp/s1.h5"
check_refusal "no checkpoint" 3 "$tmp/b.out" "$tmp/b.err"
check_unchanged "no checkpoint" "$tmp/s1.h5"
size=`wc -c <"$tmp/s1.ckpt.h5"`
head -c $((size / 2)) "$tmp/s1.ckpt.h5" >"$tmp/half.ckpt.h5"
keep_copy "$tmp/half.ckpt.h5"
run_tool 1 "$tmp/b.out" "$tmp/b.err" --data "$data" $small --resume --output "$tmp/x.h5" \
    --checkpoint "$tmp/half.ckpt.h5"
case $rc in 3|5) rc_ok=$rc ;; *) rc_ok=5 ;; esac
check_refusal "truncated checkpoint" $rc_ok "$tmp/b.out" "$tmp/b.err"
check_unchanged "truncated checkpoint" "$tmp/half.ckpt.h5"
test ! -e "$tmp/x.h5" || fail "refused checkpoints: the log was created"

# --ordering on a task without images (a generated ListOps file)
run_tool 1 "$tmp/b.out" "$tmp/b.err" --data "$tmp/lo50.h5" $tiny --ordering morton --steps 1 \
    --output "$tmp/y.h5"
check_refusal "--ordering on listops" 2 "$tmp/b.out" "$tmp/b.err"

# a log of another schema
"$python" -c "
import h5py
with h5py.File('$tmp/other.h5', 'w') as f:
    f.attrs['schema'] = 'myo-bench/2'; f.attrs['schema_version'] = 1
" || fail "making another log"
keep_copy "$tmp/other.h5"
run_tool 1 "$tmp/b.out" "$tmp/b.err" --data "$data" $tiny --steps 1 --output "$tmp/other.h5" \
    --checkpoint "$tmp/o.ckpt.h5"
check_refusal "another schema" 3 "$tmp/b.out" "$tmp/b.err"
check_unchanged "another schema" "$tmp/other.h5"

# parse trees: a ListOps file with splits trains Myosotis on them
run_tool 2 "$tmp/p.out" "$tmp/p.err" --data "$tmp/lo50.h5" $tiny --batch 4 --steps 3 \
    --output "$tmp/p.h5" --checkpoint "$tmp/p.ckpt.h5"
test "$rc" -eq 0 || { cat "$tmp/p.err"; fail "listops on parse trees: exit $rc"; }
test "`h5 "$tmp/p.h5" "f['results']['tree'][-1].decode()"`" = parse || fail "listops: tree is not 'parse'"
# ... and another mixer on the same file leaves the trees aside
run_tool 2 "$tmp/p.out" "$tmp/p.err" --data "$tmp/lo50.h5" $tiny --method ssm --batch 4 --steps 3 \
    --output "$tmp/p.h5" --checkpoint "$tmp/p2.ckpt.h5"
test "$rc" -eq 0 || { cat "$tmp/p.err"; fail "listops, ssm: exit $rc"; }

finish
