#!/usr/bin/env bash
# One-node SLURM cluster on localhost, for tests/test_slurm.py and CI.
#
#   tests/slurm/cluster.sh up       install (if needed), configure, start, wait for an idle node
#   tests/slurm/cluster.sh down     cancel jobs, stop the daemons this script started (by PID),
#                                   move our slurm.conf aside (a stale one slows every scontrol)
#   tests/slurm/cluster.sh status   show recorded PIDs, sinfo and squeue
#
# Needs root (apt-get, /etc/slurm/slurm.conf, munge user).  Uses Debian's packages
# slurmctld slurmd slurm-client munge (Slurm 22.05 on bookworm); no systemd, no cgroups,
# no accounting database (job status comes from squeue, hence MinJobAge=600).
#
# Environment:
#   DMLSTUDY_SLURM_STATE   state folder (PIDs, logs, spool)   [/tmp/dmlstudy-slurm]
#   DMLSTUDY_SLURM_WAIT    seconds to wait for an idle node   [60]
#   DMLSTUDY_SLURM_FORCE=1 overwrite an /etc/slurm/slurm.conf this script did not write
#
# Every step is bounded by a timeout; daemons are started in their own session with
# stdin/stdout/stderr redirected to files, so a caller capturing our output never
# waits on them, and they are stopped only through the PIDs recorded here.
set -euo pipefail

STATE=${DMLSTUDY_SLURM_STATE:-/tmp/dmlstudy-slurm}
WAIT=${DMLSTUDY_SLURM_WAIT:-60}
CONF=/etc/slurm/slurm.conf   # fixed path: the jobstep plugin drops SLURM_CONF before srun
MARK="# written by dmlstudy tests/slurm/cluster.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)

log() { printf '[cluster.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_alive NAME: true if STATE/NAME.pid holds the PID of a live process running NAME
pid_alive() {
    local f="$STATE/$1.pid" pid comm
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ -r /proc/$pid/comm ]] || return 1
    comm=$(<"/proc/$pid/comm")
    [[ $comm == "$1" ]]
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, /etc/slurm, munge user)"; }

install_packages() {
    local missing=()
    for b in slurmctld slurmd sbatch sinfo munged; do
        command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    if ! timeout 300 apt-get -y -qq install --no-install-recommends "${PACKAGES[@]}" >"$STATE/apt.log" 2>&1; then
        log "apt-get install failed; running apt-get update once and retrying"
        timeout 300 apt-get -qq update >>"$STATE/apt.log" 2>&1 || true
        timeout 300 apt-get -y -qq install --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1 \
            || { tail -20 "$STATE/apt.log" >&2; die "apt-get install ${PACKAGES[*]} failed"; }
    fi
}

write_conf() {
    local cpus mem_mb tmp
    cpus=$(nproc)
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    if [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF" && [[ ${DMLSTUDY_SLURM_FORCE:-0} != 1 ]]; then
        die "$CONF exists and was not written by this script (set DMLSTUDY_SLURM_FORCE=1 to overwrite)"
    fi
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/spool"
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
$MARK
# One-node test cluster on localhost.  Safe to delete after 'cluster.sh down'.
ClusterName=dmlstudy
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default memory per CPU one job is given the whole node.
DefMemPerCPU=1000
# No accounting database: the executor reads job states from squeue, which only shows
# finished jobs for MinJobAge seconds (the plugin wants >= 3 x its first status delay).
MinJobAge=600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pidfile
SlurmdPidFile=$STATE/slurmd.pidfile
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    if ! cmp -s "$tmp" "$CONF"; then
        install -m 0644 "$tmp" "$CONF"
        log "wrote $CONF (CPUs=$cpus RealMemory=$mem_mb)"
    fi
    rm -f "$tmp"
}

munge_works() { timeout 10 munge -n 2>/dev/null | timeout 10 unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_works; then
        log "munged already answering"
        return 0
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        timeout 30 mungekey --create --force >/dev/null 2>&1 \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    # setpriv execs (no fork), so $! is munged's own PID.
    setsid setpriv --reuid=munge --regid=munge --init-groups \
        munged --foreground --log-file="$STATE/munged.log" \
        </dev/null >>"$STATE/munged.out" 2>&1 &
    echo $! >"$STATE/munged.pid"
    for _ in $(seq 1 20); do
        munge_works && { log "munged up (pid $(<"$STATE/munged.pid"))"; return 0; }
        sleep 0.5
    done
    tail -20 "$STATE/munged.log" "$STATE/munged.out" >&2 || true
    die "munged did not answer within 10 s"
}

start_daemon() {   # start_daemon NAME ARGS...
    local name=$1
    shift
    if pid_alive "$name"; then
        log "$name already running (pid $(<"$STATE/$name.pid"))"
        return 0
    fi
    setsid "$name" -D "$@" </dev/null >>"$STATE/$name.out" 2>&1 &
    echo $! >"$STATE/$name.pid"
    sleep 1
    pid_alive "$name" || { tail -30 "$STATE/$name.log" "$STATE/$name.out" >&2 || true; die "$name exited at once"; }
    log "$name up (pid $(<"$STATE/$name.pid"))"
}

node_state() { timeout 10 sinfo -h -N -n localhost -o '%t' 2>/dev/null | head -1; }

wait_idle() {
    local state="" deadline=$((SECONDS + WAIT))
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case $state in
            idle | mix | alloc) log "node localhost is $state"; return 0 ;;
            drain* | down*)
                # e.g. left drained by an earlier run: bring it back
                timeout 10 scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 1
    done
    log "node state after ${WAIT}s: '${state}'"
    tail -20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
    die "SLURM node did not become idle within ${WAIT}s"
}

up() {
    need_root
    mkdir -p "$STATE"
    export PATH=$PATH:/usr/sbin:/sbin
    install_packages
    write_conf
    start_munge
    start_daemon slurmctld
    # the machine's hostname is not the node name: tell slurmd which node it is
    start_daemon slurmd -N localhost
    wait_idle
}

stop_pid() {   # stop_pid NAME: TERM, wait up to 10 s, then KILL; only if the PID is still NAME
    local name=$1 pid
    if pid_alive "$name"; then
        pid=$(<"$STATE/$name.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do
            [[ -d /proc/$pid ]] || break
            sleep 0.5
        done
        [[ -d /proc/$pid ]] && kill -KILL "$pid" 2>/dev/null || true
        log "stopped $name (pid $pid)"
    fi
    rm -f "$STATE/$name.pid"
}

down() {
    export PATH=$PATH:/usr/sbin:/sbin
    if pid_alive slurmctld; then
        timeout 15 scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        # give slurmstepd a moment to reap the job steps before slurmd goes
        sleep 1
    fi
    stop_pid slurmd
    stop_pid slurmctld
    stop_pid munged
    # With our slurm.conf left in place and no controller, every `scontrol` retries for ~9 s;
    # the Snakemake SLURM plugin runs `scontrol show config` at every Snakemake start, so
    # move the file aside ('up' writes it again). Without it scontrol fails in milliseconds.
    if [[ -e $CONF ]] && grep -qF "$MARK" "$CONF"; then
        mkdir -p "$STATE"
        mv -f "$CONF" "$STATE/slurm.conf.down"
        log "moved $CONF (ours) to $STATE/slurm.conf.down"
    fi
}

status() {
    export PATH=$PATH:/usr/sbin:/sbin
    local rc=0
    for n in munged slurmctld slurmd; do
        if pid_alive "$n"; then echo "$n: running (pid $(<"$STATE/$n.pid"))"; else echo "$n: not started here"; fi
    done
    timeout 10 sinfo -N -l 2>&1 || rc=1
    timeout 10 squeue 2>&1 || rc=1
    return $rc
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
