#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for development and tests.
#
#   scripts/slurm-cluster.sh install   Debian packages (root; once)
#   scripts/slurm-cluster.sh start     munge + slurmctld (fresh: no jobs of an earlier start) +
#                                      slurmd; waits until the node is idle
#   scripts/slurm-cluster.sh stop      scontrol shutdown, then munged by its PID
#   scripts/slurm-cluster.sh status    sinfo
#
# Needs root (SLURM's daemons run as root here, without systemd, cgroups or accounting).
# State, spool, logs and PID files live in $SLURM_STATE_DIR (default /var/tmp/pesbench-slurm).
set -euo pipefail

STATE=${SLURM_STATE_DIR:-/var/tmp/pesbench-slurm}
CONF=/etc/slurm/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client munge)
. "$(dirname "$0")/debian.sh"

need_root() {
    [ "$(id -u)" = 0 ] || { echo "slurm-cluster: must run as root" >&2; exit 1; }
}

install_packages() {
    need_root
    local missing
    mapfile -t missing < <(missing_debian_packages "${PACKAGES[@]}")
    [ "${#missing[@]}" -eq 0 ] || install_debian_packages "${missing[@]}"
    [ -f /etc/munge/munge.key ] || mungekey --create >/dev/null
}

write_conf() {
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)
    mkdir -p "$STATE"/{state,spool,log} /etc/slurm
    cat > "$CONF" <<CONF
# written by pesbench scripts/slurm-cluster.sh
ClusterName=local
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=${STATE}/state
SlurmdSpoolDir=${STATE}/spool
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd.log
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} Sockets=1 CoresPerSocket=${cpus} ThreadsPerCore=1 RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    need_root
    command -v slurmctld >/dev/null || install_packages
    write_conf
    install -d -o munge -g munge -m 0755 /run/munge
    if ! alive /run/munge/munged.pid; then
        runuser -u munge -- /usr/sbin/munged
    fi
    # -c: a fresh controller, without the jobs of an earlier start (a job whose processes
    # outlived its cancellation kept the node "completing" for 90 s after a restart)
    alive "$STATE/slurmctld.pid" || slurmctld -c
    alive "$STATE/slurmd.pid" || slurmd
    for _ in $(seq 1 300); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "slurm-cluster: up ($(sinfo -h -o '%N %c CPUs %T'))"
            return 0
        fi
        sleep 0.2
    done
    echo "slurm-cluster: node not idle after 60 s ($(sinfo -h -o '%T' 2>&1)); logs in $STATE/log" >&2
    exit 1
}

stop() {
    need_root
    scontrol shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do
        alive "$STATE/slurmctld.pid" || alive "$STATE/slurmd.pid" || break
        sleep 0.1
    done
    if alive /run/munge/munged.pid; then
        kill "$(cat /run/munge/munged.pid)"
    fi
    echo "slurm-cluster: stopped"
}

case "${1:-}" in
    install) install_packages ;;
    start) start ;;
    stop) stop ;;
    status) sinfo ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
