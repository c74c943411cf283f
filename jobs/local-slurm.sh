#!/usr/bin/env bash
# local-slurm.sh -- a single-node Slurm cluster on this machine, for testing
# the job scripts of jobs/ (and for trying a campaign without a cluster).
#
#   jobs/local-slurm.sh start    # prints: export SLURM_CONF=DIR/slurm.conf
#   eval "$(jobs/local-slurm.sh start)"   # the same, exported into the shell
#   jobs/local-slurm.sh status   # the daemons, sinfo and squeue
#   jobs/local-slurm.sh stop     # stops what start started
#
# Runs as root (slurmctld and slurmd run as root; SlurmUser=root).  Needs
# Debian's slurm-wlm and munge (.ci/install-deps installs them).  Everything
# lives in one folder, MYO_SLURM_DIR (default: a new mktemp -d folder; stop
# and status find it from MYO_SLURM_DIR or from SLURM_CONF's folder):
#
#   DIR/slurm.conf            the configuration (slurmctld, slurmd, sbatch,
#                             squeue, sinfo, scontrol read SLURM_CONF)
#   DIR/state, DIR/spool      StateSaveLocation, SlurmdSpoolDir
#   DIR/log/*.log             slurmctld.log, slurmd.log
#   DIR/*.pid                 the daemons started, stopped by "stop"
#
# The node is `hostname -s`, ProctrackType=proctrack/linuxproc and
# TaskPlugin=task/none (no cgroups: this works in containers), CPUs =
# MYO_SLURM_CPUS (default: nproc, at least 4; SlurmdParameters=
# config_overrides lets a 2-core machine run a 4-rank job), RealMemory 90%
# of MemTotal, one partition "debug", no accounting (so no sacct: use
# squeue and scontrol).  Ports MYO_SLURM_PORT (slurmctld, default 6817) and
# MYO_SLURM_PORT + 1 (slurmd); "start" refuses ports something listens on
# (another cluster: choose other ports).  munged: a private one started
# here with the system's key (/etc/munge/munge.key), socket
# DIR/munge/munge.socket named in AuthInfo, stopped by "stop": clusters
# started side by side never share a daemon that one of them stops, and a
# system munged is left alone.  "start" waits up to MYO_SLURM_TIMEOUT
# seconds (default 60) for the node to be idle, resuming it when it comes
# up down or drained.
#
# Exit status: 0 done; 1 a daemon did not start or the node never became
# idle (the logs' last lines on stderr); 2 usage; 77 not root or the Slurm
# or munge programs missing (the message says which).
set -u
me=local-slurm.sh

die() { echo "$me: $*" >&2; exit 1; }

need_tools() {
    local missing=
    for t in slurmctld slurmd sbatch squeue sinfo scontrol munged munge unmunge; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    if test -n "$missing"; then
        echo "$me: missing:$missing (apt-get install slurm-wlm munge)" >&2
        exit 77
    fi
    if test "$(id -u)" -ne 0; then
        echo "$me: must run as root (slurmctld and slurmd run as root here)" >&2
        exit 77
    fi
}

# the folder of an existing cluster (stop, status)
find_dir() {
    if test -n "${MYO_SLURM_DIR:-}"; then dir=$MYO_SLURM_DIR
    elif test -n "${SLURM_CONF:-}"; then dir=$(dirname "$SLURM_CONF")
    else echo "$me: set MYO_SLURM_DIR (or SLURM_CONF) to the folder 'start' printed" >&2; exit 2
    fi
    test -f "$dir/slurm.conf" || { echo "$me: no $dir/slurm.conf" >&2; exit 2; }
    export SLURM_CONF=$dir/slurm.conf
}

alive() { test -f "$1" && kill -0 "$(cat "$1")" 2>/dev/null; }

# munge_ok SOCKET: a credential encodes and decodes through that munged
munge_ok() { munge -n --socket="$1" 2>/dev/null | unmunge --socket="$1" >/dev/null 2>&1; }

# port_in_use PORT: something accepts connections on it here
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_state() { sinfo -h -N -n "$node" -o %T 2>/dev/null | head -n 1; }

tails() {
    for f in "$dir"/log/*.log; do
        test -f "$f" && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
}

start() {
    need_tools
    if test -n "${MYO_SLURM_DIR:-}"; then
        dir=$MYO_SLURM_DIR
        mkdir -p "$dir" || die "cannot create $dir"
    else
        dir=$(mktemp -d "${TMPDIR:-/tmp}/myo-slurm.XXXXXX") || die "mktemp failed"
    fi
    dir=$(cd "$dir" && pwd)
    if alive "$dir/slurmctld.pid" || alive "$dir/slurmd.pid"; then
        die "a cluster of $dir is running (stop it first)"
    fi
    node=$(hostname -s)
    local cpus mem port
    cpus=${MYO_SLURM_CPUS:-$(nproc)}
    test "$cpus" -ge 4 || cpus=${MYO_SLURM_CPUS:-4}
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
    port=${MYO_SLURM_PORT:-6817}
    if port_in_use "$port" || port_in_use $((port + 1)); then
        die "port $port or $((port + 1)) is in use (another cluster?): set MYO_SLURM_PORT to a free pair"
    fi
    # stale jobs must not come back: fresh state every start
    rm -rf "$dir/state" "$dir/spool"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    getent hosts "$node" >/dev/null 2>&1 ||
        echo "$me: warning: $node does not resolve (add it to /etc/hosts)" >&2

    # our own munged on a private socket (the system's key), never a shared
    # one that another cluster could stop under us
    local auth_socket=$dir/munge/munge.socket i
    mkdir -p "$dir/munge"
    # as root (--force: the key belongs to the munge user)
    munged --force --socket="$auth_socket" --pid-file="$dir/munged.pid" \
        --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" 2>"$dir/log/munged.err" ||
        die "munged did not start: $(cat "$dir/log/munged.err")"
    for i in $(seq 1 50); do munge_ok "$auth_socket" && break; sleep 0.1; done
    munge_ok "$auth_socket" || die "munged started but munge -n | unmunge fails on $auth_socket"
    cat >"$dir/slurm.conf" <<CONF
# written by jobs/local-slurm.sh: a one-node test cluster
ClusterName=myo-local
SlurmctldHost=$node
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
# a requeued job may start again after cred_expire seconds (default 120)
AuthInfo=cred_expire=10,socket=$auth_socket
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
# the main scheduling loop every 2 s (default 60): a requeued job starts soon after cred_expire
SchedulerParameters=sched_interval=2
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MailProg=/bin/true
# a time limit's SIGTERM is followed by SIGKILL after KillWait seconds
KillWait=10
MinJobAge=600
InactiveLimit=0
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf

    slurmctld -i -f "$dir/slurm.conf" || { tails; die "slurmctld did not start"; }
    for i in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q 'UP' && break; sleep 0.2; done
    slurmd -f "$dir/slurm.conf" -N "$node" || { tails; die "slurmd did not start"; }

    local timeout=${MYO_SLURM_TIMEOUT:-60} t0=$SECONDS st=
    while test $((SECONDS - t0)) -lt "$timeout"; do
        st=$(node_state)
        case $st in
            idle) break ;;
            down*|drain*|fail*) scontrol update nodename="$node" state=resume >/dev/null 2>&1 ;;
        esac
        sleep 0.5
    done
    if test "$st" != idle; then
        tails
        die "node $node is '${st:-unknown}' after ${timeout}s (not idle)"
    fi
    echo "$me: node $node idle ($cpus CPUs, ${mem} MB), folder $dir, in $((SECONDS - t0))s" >&2
    echo "export SLURM_CONF=$dir/slurm.conf MYO_SLURM_DIR=$dir"
}

stop() {
    find_dir
    local f pid i
    for f in slurmd slurmctld munged; do
        alive "$dir/$f.pid" || continue
        pid=$(cat "$dir/$f.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        rm -f "$dir/$f.pid"
    done
    # job steps left behind by slurmd (slurmstepd: the cluster's own processes)
    for pid in $(pgrep -x slurmstepd 2>/dev/null); do
        grep -qF "$dir/" "/proc/$pid/environ" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    done
    echo "$me: stopped the cluster of $dir (logs in $dir/log)" >&2
}

status() {
    find_dir
    local f
    for f in munged slurmctld slurmd; do
        if alive "$dir/$f.pid"; then echo "$f: running, pid $(cat "$dir/$f.pid")"
        else echo "$f: not running (or not started here)"; fi
    done
    sinfo 2>&1
    squeue 2>&1
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $me start|stop|status" >&2; exit 2 ;;
esac
