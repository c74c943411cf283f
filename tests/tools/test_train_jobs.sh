#!/bin/sh
# test_train_jobs.sh -- the training campaign of jobs/ without Slurm and
# without myo-train: the combinations jobs/train.sbatch runs, the sbatch
# commands jobs/submit.sh --dry-run prints for it, and both job scripts
# run by bash outside Slurm with stand-ins for the drivers (make check runs
# it through SH_LOG_COMPILER; the end-to-end campaign on a Slurm cluster
# belongs in test_jobs.sh).
#
# 1. train.sbatch --list: the default campaign is the 45 combinations of
#    task x method x ordering x seed written out here (the orderings for
#    the image tasks only, "-" for listops), in that order, numbered from
#    0, with their file names; other lists; a bad list (an empty one, a
#    seed that is no integer, an unknown ordering, a name with a '/'):
#    exit 2, one line on stderr, nothing on stdout;
# 2. submit.sh --dry-run train: the data job, the array sized from the
#    list (--array=0-44; --tiny: 0-19; a list set by the user wins over
#    --tiny's) chained afterok on the data job, the analysis job afterany
#    on both; the default campaigns do not include train; a bad list: exit
#    2, nothing submitted; --dry-run creates no folder;
# 3. train.sbatch as array task i (SLURM_ARRAY_TASK_ID) with a stand-in
#    myo-train that records its arguments: the command line of
#    combinations 18 (listops: no --ordering) and 3 (an image task), the
#    stand-in's exit status passed on (138: stopped); task 45 of 45 and a
#    missing dataset: exit 2 naming them;
# 4. train-data.sbatch with a stand-in myo-data: it makes the missing
#    files only, with the sizes asked for, and nothing on a second run; a
#    task it cannot make (text) without its file: exit 2.
# Exit 0 when all hold, 1 naming each failed check, 99 when bash or mpirun
# is missing (the job scripts run their driver under mpirun).
me=test_train_jobs.sh
here=`dirname "$0"`
. "$here/../support/driver-test-lib.sh"
jobs=`cd "$here/../../jobs" && pwd`
for t in bash mpirun; do
    command -v $t >/dev/null 2>&1 || { echo "$me: no $t on PATH" >&2; exit 99; }
done
mpi_env
failed=0
make_tmp
# the campaign's variables come from the test alone
unset MYO_TRAIN_TASKS MYO_TRAIN_METHODS MYO_TRAIN_ORDERINGS MYO_TRAIN_SEEDS MYO_TRAIN_PRESET \
    MYO_TRAIN_DATA_DIR MYO_TRAIN_ARGS MYO_TRAIN_N_LISTOPS MYO_TRAIN_N_PATHFINDER MYO_RESULTS \
    MYO_NP MYO_TIME MYO_RESUME MYO_JOBS_DIR SLURM_JOB_ID SLURM_ARRAY_TASK_ID

# refused WHAT CMD...: CMD exits 2 with one line on stderr, nothing on stdout
refused() {
    what=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "$me: $what: exit $rc: `cat "$tmp/err"`"
    test $rc -eq 2 || fail "$what: exit $rc (expected 2)"
    test "`wc -l <"$tmp/err"`" -eq 1 || fail "$what: `wc -l <"$tmp/err"` lines on stderr (expected 1)"
    if test -s "$tmp/out"; then fail "$what: printed on stdout"; fi
}

# ------------------------------------------------------------------- 1
i=0
for task in fashion-mnist listops pathfinder; do
    case $task in listops) ords=- ;; *) ords="raster morton" ;; esac
    for method in myosotis dense-tiled ssm; do
        for o in $ords; do
            for seed in 1 2 3; do
                echo "$i $task $method $o $seed train-$task-$method-$o-s$seed.h5"
                i=`expr $i + 1`
            done
        done
    done
done >"$tmp/want"
bash "$jobs/train.sbatch" --list >"$tmp/list" 2>"$tmp/err" || fail "train.sbatch --list: exit $?"
test -s "$tmp/err" && fail "train.sbatch --list wrote on stderr: `cat "$tmp/err"`"
cmp -s "$tmp/want" "$tmp/list" || { fail "train.sbatch --list: not the 45 combinations expected"; diff "$tmp/want" "$tmp/list"; }
MYO_TRAIN_TASKS="listops pathfinder" MYO_TRAIN_METHODS=ssm MYO_TRAIN_ORDERINGS=hilbert MYO_TRAIN_SEEDS=7 \
    bash "$jobs/train.sbatch" --list >"$tmp/list2"
printf '%s\n' "0 listops ssm - 7 train-listops-ssm---s7.h5" \
    "1 pathfinder ssm hilbert 7 train-pathfinder-ssm-hilbert-s7.h5" >"$tmp/want2"
cmp -s "$tmp/want2" "$tmp/list2" || fail "train.sbatch --list with lists set: `cat "$tmp/list2"`"
refused "a blank MYO_TRAIN_METHODS" env MYO_TRAIN_METHODS=" " bash "$jobs/train.sbatch" --list
refused "a seed x" env MYO_TRAIN_SEEDS=1,x bash "$jobs/train.sbatch" --list
refused "an ordering zigzag" env MYO_TRAIN_ORDERINGS=zigzag bash "$jobs/train.sbatch" --list
refused "a task a/b" env MYO_TRAIN_TASKS=a/b bash "$jobs/train.sbatch" --list

# ------------------------------------------------------------------- 2
# dry RESULTS ARGS...: submit.sh --dry-run --results RESULTS ARGS into $tmp/dry, $rc
dry() {
    dry_res=$1
    shift
    (cd "$tmp" && bash "$jobs/submit.sh" --dry-run --results "$dry_res" "$@") >"$tmp/dry" 2>&1
    rc=$?
    cat "$tmp/dry"
    test -e "$tmp/$dry_res" && fail "submit.sh --dry-run $*: created $tmp/$dry_res"
}
# sbatch_of SCRIPT: the sbatch command dry printed for jobs/SCRIPT
sbatch_of() {
    sed -n "s|^submit.sh: would run: \(sbatch .* $jobs/$1\)\$|\1|p" "$tmp/dry"
}
dry r1 train
test $rc -eq 0 || fail "submit.sh --dry-run train: exit $rc"
test "`sed -n 's/^job_ids=//p' "$tmp/dry"`" = "DRY-train-data DRY-train DRY-analysis" ||
    fail "submit.sh --dry-run train: not the data job, the array and the analysis job"
data=`sbatch_of train-data.sbatch` train=`sbatch_of train.sbatch` analysis=`sbatch_of analysis.sbatch`
case $data in *--dependency*|"") fail "the data job: '$data'" ;; esac
case $train in
    *" --array=0-44 "*) ;;
    *) fail "the training array is not --array=0-44: '$train'" ;;
esac
case $train in
    *" --dependency=afterok:DRY-train-data "*) ;;
    *) fail "the training array does not wait for the data job (afterok): '$train'" ;;
esac
case $analysis in
    *" --dependency=afterany:DRY-train-data:DRY-train "*) ;;
    *) fail "the analysis job does not follow the data job and the array (afterany): '$analysis'" ;;
esac
dry r2 --tiny train
case `sbatch_of train.sbatch` in *" --array=0-19 "*) ;; *) fail "--tiny: the array is not 0-19" ;; esac
MYO_TRAIN_SEEDS=5; export MYO_TRAIN_SEEDS
dry r3 --tiny train
case `sbatch_of train.sbatch` in *" --array=0-9 "*) ;; *) fail "--tiny, MYO_TRAIN_SEEDS=5: the array is not 0-9" ;; esac
dry r4
test $rc -eq 0 || fail "submit.sh --dry-run: exit $rc"
grep -q 'train.sbatch\|train-data.sbatch' "$tmp/dry" && fail "submit.sh --dry-run without a campaign submits the training"
test "`grep -c '^submit.sh: would run: sbatch' "$tmp/dry"`" -eq 6 || fail "submit.sh --dry-run: not 5 campaigns and the analysis"
MYO_TRAIN_SEEDS=x
dry r5 train
unset MYO_TRAIN_SEEDS
test $rc -eq 2 || fail "submit.sh --dry-run train with MYO_TRAIN_SEEDS=x: exit $rc (expected 2)"
grep -q 'would run' "$tmp/dry" && fail "submit.sh --dry-run train with MYO_TRAIN_SEEDS=x: submitted"

# ------------------------------------------------------------------- 3
# stand-ins: each records its arguments in $STUB_LOG, exits $STUB_RC; myo-data
# also writes the file it is asked for (-o FILE)
bin=$tmp/bin
mkdir -p "$bin" "$tmp/res/data"
for p in myo-bench myo-train myo-data; do
    cat >"$bin/$p" <<EOF
#!/bin/sh
echo "$p \$*" >>"\$STUB_LOG"
if test "$p" = myo-data; then while test \$# -gt 1; do test "\$1" = -o && : >"\$2"; shift; done; fi
exit \${STUB_RC:-0}
EOF
    chmod +x "$bin/$p"
done
STUB_LOG=$tmp/stub.log MYO_BINDIR=$bin MYO_RESULTS=$tmp/res MYO_JOBS_DIR=$jobs
export STUB_LOG MYO_BINDIR MYO_RESULTS MYO_JOBS_DIR
: >"$tmp/res/data/listops.h5"
: >"$tmp/res/data/fashion-mnist.h5"
# task I [VAR=VALUE...]: train.sbatch as array task I; $rc, $tmp/stub.log
task() {
    task_i=$1
    shift
    : >"$STUB_LOG"
    env SLURM_ARRAY_TASK_ID="$task_i" "$@" bash "$jobs/train.sbatch" >"$tmp/job.out" 2>&1
    rc=$?
    cat "$tmp/job.out"
}
task 18 MYO_TRAIN_ARGS="--steps 4 --eval-every 2"
test $rc -eq 0 || fail "array task 18: exit $rc"
test "`cat "$STUB_LOG"`" = "myo-train --data $tmp/res/data/listops.h5 --method myosotis --seed 1 --preset small --output $tmp/res/train-listops-myosotis---s1.h5 --resume --steps 4 --eval-every 2" ||
    fail "array task 18 ran: `cat "$STUB_LOG"`"
task 3 MYO_TRAIN_PRESET=lra STUB_RC=138
test $rc -eq 138 || fail "array task 3, myo-train stopped: exit $rc (expected 138)"
test "`cat "$STUB_LOG"`" = "myo-train --data $tmp/res/data/fashion-mnist.h5 --method myosotis --ordering morton --seed 1 --preset lra --output $tmp/res/train-fashion-mnist-myosotis-morton-s1.h5 --resume" ||
    fail "array task 3 ran: `cat "$STUB_LOG"`"
task 45
test $rc -eq 2 || fail "array task 45: exit $rc (expected 2)"
grep -q 'array task 45 but only 45 combinations' "$tmp/job.out" || fail "array task 45: not said"
task 40
test $rc -eq 2 || fail "array task 40 without its dataset: exit $rc (expected 2)"
grep -q "no dataset $tmp/res/data/pathfinder.h5" "$tmp/job.out" || fail "the missing dataset: not named"
test -s "$STUB_LOG" && fail "myo-train ran without its dataset"

# ------------------------------------------------------------------- 4
: >"$STUB_LOG"
rm -f "$tmp/res/data/listops.h5"
MYO_TRAIN_N_LISTOPS=300 bash "$jobs/train-data.sbatch" >"$tmp/job.out" 2>&1
rc=$?
cat "$tmp/job.out"
test $rc -eq 0 || fail "train-data.sbatch: exit $rc"
printf '%s\n' "myo-data listops --n 300 -o $tmp/res/data/listops.h5" \
    "myo-data pathfinder --size 32 --difficulty hard --n 200000 -o $tmp/res/data/pathfinder.h5" >"$tmp/want4"
cmp -s "$tmp/want4" "$STUB_LOG" || fail "train-data.sbatch ran: `cat "$STUB_LOG"`"
: >"$STUB_LOG"
bash "$jobs/train-data.sbatch" >"$tmp/job.out" 2>&1 || fail "train-data.sbatch again: exit $?"
test -s "$STUB_LOG" && fail "train-data.sbatch made again files that exist: `cat "$STUB_LOG"`"
MYO_TRAIN_TASKS=listops,text bash "$jobs/train-data.sbatch" >"$tmp/job.out" 2>&1
rc=$?
cat "$tmp/job.out"
test $rc -eq 2 || fail "train-data.sbatch with the task text: exit $rc (expected 2)"
grep -q "text: no $tmp/res/data/text.h5" "$tmp/job.out" || fail "the task text: not named"
finish
