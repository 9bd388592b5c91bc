#!/usr/bin/env bash
# One-node SLURM cluster on localhost, for tests/workflow/test_slurm.py and CI.
#
#   tests/slurm/cluster.sh up       install (if needed), configure, start, wait for an idle node
#   tests/slurm/cluster.sh down     cancel jobs, stop the daemons this script started (by PID),
#                                   move our slurm.conf aside (a stale one slows every scontrol)
#   tests/slurm/cluster.sh status   show recorded PIDs, sinfo and squeue
#
# Needs root (apt-get, /etc/slurm/slurm.conf, munge user).  Uses Debian's packages
# slurmctld slurmd slurm-client munge (Slurm 22.05 on bookworm); no systemd, no cgroups.
# With accounting (the default) also slurmdbd and mariadb-server: a private MariaDB
# (data and socket under the state folder, port 3399 on 127.0.0.1) behind slurmdbd, so
# `sacct` works as on a real cluster (the executor plugin's default status command).
# MinJobAge=600 keeps finished jobs in squeue as well, so `squeue` works too.
#
# Environment:
#   DMLSTUDY_SLURM_STATE   state folder (PIDs, logs, spool)   [/tmp/dmlstudy-slurm]
#   DMLSTUDY_SLURM_WAIT    seconds to wait for an idle node   [60]
#   DMLSTUDY_SLURM_FORCE=1 overwrite an /etc/slurm/slurm.conf this script did not write
#   DMLSTUDY_SLURM_ACCOUNTING=0  no slurmdbd/MariaDB (sacct then fails: use squeue)
#
# Every step is bounded by a timeout; daemons are started in their own session with
# stdin/stdout/stderr redirected to files, so a caller capturing our output never
# waits on them, and they are stopped only through the PIDs recorded here.
set -euo pipefail

STATE=${DMLSTUDY_SLURM_STATE:-/tmp/dmlstudy-slurm}
WAIT=${DMLSTUDY_SLURM_WAIT:-60}
CONF=/etc/slurm/slurm.conf   # fixed path: the jobstep plugin drops SLURM_CONF before srun
DBDCONF=/etc/slurm/slurmdbd.conf
MARK="# written by dmlstudy tests/slurm/cluster.sh"
ACCOUNTING=${DMLSTUDY_SLURM_ACCOUNTING:-1}
DBPORT=3399
PACKAGES=(slurmctld slurmd slurm-client munge)
if [[ $ACCOUNTING == 1 ]]; then PACKAGES+=(slurmdbd mariadb-server); fi

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
    local bins=(slurmctld slurmd sbatch sinfo munged)
    if [[ $ACCOUNTING == 1 ]]; then bins+=(slurmdbd mariadbd mariadb-install-db); fi
    for b in "${bins[@]}"; do
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

accounting_lines() {
    if [[ $ACCOUNTING == 1 ]]; then
        printf '%s\n' "AccountingStorageType=accounting_storage/slurmdbd" "AccountingStorageHost=localhost"
    else
        echo "AccountingStorageType=accounting_storage/none"
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
$(accounting_lines)
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

write_dbd_conf() {
    if [[ $ACCOUNTING != 1 ]]; then
        if [[ -e $DBDCONF ]] && grep -qF "$MARK" "$DBDCONF"; then rm -f "$DBDCONF"; fi
        return 0
    fi
    if [[ -e $DBDCONF ]] && ! grep -qF "$MARK" "$DBDCONF" && [[ ${DMLSTUDY_SLURM_FORCE:-0} != 1 ]]; then
        die "$DBDCONF exists and was not written by this script (set DMLSTUDY_SLURM_FORCE=1 to overwrite)"
    fi
    local tmp
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/slurmdbd.pidfile
LogFile=$STATE/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DBPORT
StorageUser=slurm
StoragePass=dmlstudy
StorageLoc=slurm_acct_db
EOF
    # slurmdbd refuses a config file that others can read
    install -m 0600 "$tmp" "$DBDCONF"
    rm -f "$tmp"
}

db_works() { timeout 10 mariadb --socket="$STATE/mysql.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; }

start_mariadb() {   # a private server: own data folder, socket and port, never the system's
    if pid_alive mariadbd && db_works; then
        log "mariadbd already running (pid $(<"$STATE/mariadbd.pid"))"
        return 0
    fi
    if [[ ! -d $STATE/mysql/mysql ]]; then
        timeout 120 mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" \
            --auth-root-authentication-method=socket >"$STATE/mariadb-install.log" 2>&1 \
            || { tail -20 "$STATE/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    fi
    setsid mariadbd --no-defaults --user=root --datadir="$STATE/mysql" \
        --socket="$STATE/mysql.sock" --pid-file="$STATE/mariadbd.pidfile" \
        --bind-address=127.0.0.1 --port=$DBPORT --log-error="$STATE/mariadbd.log" \
        --innodb-buffer-pool-size=32M --skip-log-bin \
        </dev/null >>"$STATE/mariadbd.out" 2>&1 &
    echo $! >"$STATE/mariadbd.pid"
    for _ in $(seq 1 60); do
        db_works && break
        sleep 0.5
    done
    db_works || { tail -20 "$STATE/mariadbd.log" >&2; die "mariadbd did not answer within 30 s"; }
    timeout 20 mariadb --socket="$STATE/mysql.sock" -uroot -e \
        "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'dmlstudy';
         CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'dmlstudy';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" \
        || die "could not create the slurm database user"
    log "mariadbd up (pid $(<"$STATE/mariadbd.pid"), 127.0.0.1:$DBPORT)"
}

register_cluster() {   # slurmctld registers with slurmdbd once the cluster is in the database
    local n
    for _ in $(seq 1 30); do
        n=$(timeout 10 sacctmgr -n -P list cluster format=cluster 2>/dev/null || true)
        [[ $n == *dmlstudy* ]] && { log "cluster dmlstudy registered in slurmdbd"; return 0; }
        timeout 10 sacctmgr -i add cluster dmlstudy >/dev/null 2>&1 || true
        sleep 1
    done
    tail -20 "$STATE/slurmdbd.log" >&2 || true
    die "slurmdbd does not answer (see $STATE/slurmdbd.log)"
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
    write_dbd_conf
    start_munge
    if [[ $ACCOUNTING == 1 ]]; then
        start_mariadb
        start_daemon slurmdbd
        register_cluster
    fi
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
    stop_pid slurmdbd
    stop_pid mariadbd
    stop_pid munged
    # With our slurm.conf left in place and no controller, every `scontrol` retries for ~9 s;
    # the Snakemake SLURM plugin runs `scontrol show config` at every Snakemake start, so
    # move the file aside ('up' writes it again). Without it scontrol fails in milliseconds.
    if [[ -e $CONF ]] && grep -qF "$MARK" "$CONF"; then
        mkdir -p "$STATE"
        mv -f "$CONF" "$STATE/slurm.conf.down"
        log "moved $CONF (ours) to $STATE/slurm.conf.down"
    fi
    if [[ -e $DBDCONF ]] && grep -qF "$MARK" "$DBDCONF"; then rm -f "$DBDCONF"; fi
}

status() {
    export PATH=$PATH:/usr/sbin:/sbin
    local rc=0
    for n in munged mariadbd slurmdbd slurmctld slurmd; do
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
