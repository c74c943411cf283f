#!/usr/bin/env bash
# submit.sh -- submit a benchmark campaign: its job arrays and jobs, then the
# analysis job chained with --dependency=afterany on all of them; prints the
# job ids, where the results, logs and report will appear.
#
#   jobs/submit.sh [OPTION]... [CAMPAIGN]...
#
# CAMPAIGN: sweep-n, strong, weak, lra, compare (default: all five), and
# train (only when named: days of training): jobs/train-data.sbatch, then
# the jobs/train.sbatch array (one training per task, sized from
# train.sbatch --list) once it succeeded (--dependency=afterok).
# Options:
#   --results DIR   results folder (MYO_RESULTS; default ./results)
#   --tiny          tiny parameters: every job in seconds (the tests, a smoke
#                   test of a new site); sets the MYO_* variables not set yet
#                   (train: 4 steps, a few hundred examples, 2 methods and seeds)
#   --ranks "P..."  rank counts of strong and weak (MYO_STRONG_RANKS, MYO_WEAK_RANKS)
#   --np N          ranks of the array jobs (sweep-n, lra, compare; MYO_NP)
#   --resume        continue the sweeps the files hold (the default, MYO_RESUME=1)
#   --no-resume     measure every point again (MYO_RESUME=0)
#   --requeue       requeue a job at its time-limit warning (MYO_REQUEUE=1)
#   --no-analysis   no analysis job
#   --dry-run       print the sbatch commands, submit nothing, create nothing
#   -h, --help
# Environment (the site's part; empty: the scripts' #SBATCH lines apply):
#   MYO_PARTITION, MYO_ACCOUNT, MYO_QOS   sbatch -p, -A, --qos
#   MYO_TIME          --time of every benchmark job (e.g. 02:00:00)
#   MYO_SBATCH_FLAGS  more sbatch options for every job (words)
#   MYO_ARRAY_LIMIT   at most this many array tasks at once (--array=...%K)
# and every variable of jobs/*.sbatch and jobs/common.sh (README.md, "Slurm
# campaigns: jobs/"), passed to the jobs through sbatch's --export=ALL.
set -euo pipefail
me=submit.sh
here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

results=${MYO_RESULTS:-$PWD/results}
tiny=0 dry=0 analysis=1
campaigns=()
while test $# -gt 0; do
    case $1 in
        --results) results=$2; shift ;;
        --results=*) results=${1#*=} ;;
        --tiny) tiny=1 ;;
        --ranks) export MYO_STRONG_RANKS="$2" MYO_WEAK_RANKS="$2"; shift ;;
        --np) export MYO_NP=$2; shift ;;
        --resume) export MYO_RESUME=1 ;;
        --no-resume) export MYO_RESUME=0 ;;
        --requeue) export MYO_REQUEUE=1 ;;
        --no-analysis) analysis=0 ;;
        --dry-run) dry=1 ;;
        -h|--help) usage; exit 0 ;;
        sweep-n|strong|weak|lra|compare|train) campaigns+=("$1") ;;
        *) echo "$me: unknown argument '$1' (--help)" >&2; exit 2 ;;
    esac
    shift
done
test ${#campaigns[@]} -gt 0 || campaigns=(sweep-n strong weak lra compare)

command -v sbatch >/dev/null 2>&1 || test "$dry" = 1 || { echo "$me: no sbatch on PATH" >&2; exit 2; }
if test "$dry" = 1; then
    case $results in /*) ;; *) results=$PWD/$results ;; esac
else
    mkdir -p "$results/logs"
    results=$(cd "$results" && pwd)
fi
export MYO_RESULTS=$results MYO_JOBS_DIR=$here

if test "$tiny" = 1; then
    # every job in seconds on 2 cores: tiny widths, one repetition
    : "${MYO_BENCH_ARGS:=--d-model 16 --heads 2 --reps 1 --warmup 0 --no-flush --triad-mib 1 --progress none}"
    : "${MYO_SWEEP_METHODS:=myosotis,solve}" "${MYO_SWEEP_N:=64,128}"
    : "${MYO_STRONG_RANKS:=1 2}" "${MYO_STRONG_N:=256}" "${MYO_STRONG_METHODS:=myosotis,solve}"
    : "${MYO_WEAK_RANKS:=1 2}" "${MYO_WEAK_N_PER_RANK:=128}" "${MYO_WEAK_METHODS:=myosotis,solve}"
    : "${MYO_LRA_TASKS:=listops,image}" "${MYO_LRA_MIXERS:=myosotis,ssm}"
    : "${MYO_LRA_ARGS:=--n 64 --batch 2 --steps 1 --warmup 0 --infer-steps 1 --d-model 16 --heads 2 --layers 1 --mlp-dim 16 --progress none}"
    : "${MYO_COMPARE_METHODS:=myosotis,dense-tiled,ssm}" "${MYO_COMPARE_N:=128}"
    : "${MYO_TRAIN_METHODS:=myosotis,ssm}" "${MYO_TRAIN_SEEDS:=1,2}" "${MYO_TRAIN_ARGS:=--steps 4 --eval-every 2 --max-examples 16 --batch 4 --layers 1 --d-model 16 --heads 2 --mlp-dim 32}"
    : "${MYO_TRAIN_N_LISTOPS:=200}" "${MYO_TRAIN_N_PATHFINDER:=200}"
    : "${MYO_NP:=2}" "${MYO_TIME:=00:10:00}"
    export MYO_BENCH_ARGS MYO_SWEEP_METHODS MYO_SWEEP_N MYO_STRONG_RANKS MYO_STRONG_N MYO_STRONG_METHODS \
        MYO_WEAK_RANKS MYO_WEAK_N_PER_RANK MYO_WEAK_METHODS MYO_LRA_TASKS MYO_LRA_MIXERS MYO_LRA_ARGS \
        MYO_COMPARE_METHODS MYO_COMPARE_N MYO_TRAIN_METHODS MYO_TRAIN_SEEDS MYO_TRAIN_ARGS \
        MYO_TRAIN_N_LISTOPS MYO_TRAIN_N_PATHFINDER MYO_NP MYO_TIME
fi

# the sbatch options every job gets
common=(--parsable --export=ALL --chdir="$results")
test -z "${MYO_PARTITION:-}" || common+=(--partition="$MYO_PARTITION")
test -z "${MYO_ACCOUNT:-}" || common+=(--account="$MYO_ACCOUNT")
test -z "${MYO_QOS:-}" || common+=(--qos="$MYO_QOS")
# shellcheck disable=SC2206
common+=(${MYO_SBATCH_FLAGS:-})

count() { local -a a; IFS=', ' read -r -a a <<<"$1"; echo "${#a[@]}"; }
maxof() { local m=1 x; for x in $1; do test "$x" -gt "$m" && m=$x; done; echo "$m"; }

ids=()
# submit NAME WHERE SBATCH-ARGS...: sbatch, record the id, say what and where
submit() {
    local name=$1 where=$2 id
    shift 2
    local -a cmd=(sbatch "${common[@]}" "$@")
    if test "$dry" = 1; then
        echo "$me: would run: ${cmd[*]}"
        id=DRY-$name
    else
        id=$(cd "$results" && "${cmd[@]}") || { echo "$me: sbatch failed for $name: ${cmd[*]}" >&2; exit 1; }
        id=${id%%;*}
    fi
    printf '%s: %-9s job %-8s -> %s\n' "$me" "$name" "$id" "$where"
    ids+=("$id")
}

bench_opts() { # the options of a benchmark job: time, log
    local -a o=()
    test -z "${MYO_TIME:-}" || o+=(--time="$MYO_TIME")
    echo "${o[@]}"
}
limit=${MYO_ARRAY_LIMIT:+%$MYO_ARRAY_LIMIT}
arraylog=(--output="$results/logs/%x-%A_%a.out")
joblog=(--output="$results/logs/%x-%j.out")
np_opt=()
test -z "${MYO_NP:-}" || np_opt=(--ntasks="$MYO_NP")

for c in "${campaigns[@]}"; do
    # shellcheck disable=SC2207
    t=($(bench_opts))
    case $c in
        sweep-n)
            k=$(count "${MYO_SWEEP_METHODS:-myosotis,dense-tiled,ssm,solve,dense-materialized}")
            submit sweep-n "$results/sweep-n-<method>.h5 (array 0-$((k - 1)): ${MYO_SWEEP_METHODS:-myosotis,dense-tiled,ssm,solve,dense-materialized})" \
                "${t[@]}" "${np_opt[@]}" --array="0-$((k - 1))$limit" "${arraylog[@]}" "$here/sweep-n.sbatch" ;;
        strong)
            r=${MYO_STRONG_RANKS:-1 2 4 8 16}
            submit strong "$results/strong-P<P>.h5 (P in $r)" \
                "${t[@]}" --ntasks="$(maxof "$r")" "${joblog[@]}" "$here/strong.sbatch" ;;
        weak)
            r=${MYO_WEAK_RANKS:-1 2 4 8 16}
            submit weak "$results/weak-P<P>.h5 (P in $r)" \
                "${t[@]}" --ntasks="$(maxof "$r")" "${joblog[@]}" "$here/weak.sbatch" ;;
        lra)
            k=$(count "${MYO_LRA_TASKS:-listops,text,retrieval,image,pathfinder,pathx}")
            submit lra "$results/lra-<task>.h5 (array 0-$((k - 1)): ${MYO_LRA_TASKS:-listops,text,retrieval,image,pathfinder,pathx})" \
                "${t[@]}" "${np_opt[@]}" --array="0-$((k - 1))$limit" "${arraylog[@]}" "$here/lra.sbatch" ;;
        compare)
            k=$(count "${MYO_COMPARE_METHODS:-myosotis,dense-tiled,ssm,solve,dense-materialized}")
            submit compare "$results/compare-<method>.h5 (array 0-$((k - 1)): ${MYO_COMPARE_METHODS:-myosotis,dense-tiled,ssm,solve,dense-materialized})" \
                "${t[@]}" "${np_opt[@]}" --array="0-$((k - 1))$limit" "${arraylog[@]}" "$here/compare.sbatch" ;;
        train)
            list=$(bash "$here/train.sbatch" --list) || exit 2
            k=$(wc -l <<<"$list")
            tasks=$(awk '!seen[$2]++ { printf "%s%s", sep, $2; sep = "," }' <<<"$list")
            submit train-data "${MYO_TRAIN_DATA_DIR:-$results/data}/<task>.h5 (tasks $tasks, the missing ones)" \
                "${joblog[@]}" "$here/train-data.sbatch"
            data_id=${ids[${#ids[@]} - 1]}
            submit train "$results/train-<task>-<method>-<ordering>-s<seed>.h5 (array 0-$((k - 1)), after job $data_id succeeds)" \
                "${t[@]}" "${np_opt[@]}" --array="0-$((k - 1))$limit" --dependency="afterok:$data_id" \
                --kill-on-invalid-dep=yes "${arraylog[@]}" "$here/train.sbatch" ;;
    esac
done

bench_ids=("${ids[@]}")
if test "$analysis" = 1; then
    dep=$(IFS=:; echo "${bench_ids[*]}")
    report=${MYO_REPORT_DIR:-$results/report}
    submit analysis "$report/report.md (figures/, csv/), after all of job(s) ${bench_ids[*]} end (afterany)" \
        --dependency="afterany:$dep" "${joblog[@]}" "$here/analysis.sbatch"
fi
echo "$me: logs in $results/logs; follow with: squeue --me  (or squeue -j $(IFS=,; echo "${ids[*]}"))"
echo "job_ids=${ids[*]}"
