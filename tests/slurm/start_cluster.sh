#!/usr/bin/env bash
# Starts a real single-node Slurm cluster (Debian's slurm-wlm 22.05, munge auth) on this machine, for
# tests/test_slurm.py:
#   sudo tests/slurm/start_cluster.sh
# Idempotent: when slurmctld already answers and the node is up, it does nothing (unless the configuration it
# wrote earlier differs from the one below: then it rewrites it and reconfigures the running daemons). It exits non-zero with a line
# "start_cluster: <reason>" on stderr when it cannot (not root, no apt-get, a daemon that does not come up), and
# never overwrites a slurm.conf it did not write.
#
# The node is a test double of a GPU node, not a description of this machine:
# - it declares 4 GPUs whose device files are links to /dev/null (slurmd drops a GPU without a character device),
#   so `sbatch --gpus=1` is accepted and the job runs on the CPU;
# - it declares 32 CPUs and 500 GB (SlurmdParameters=config_overrides: slurmd does not hold them against the
#   hardware), so the production-size requests of the slurm/ profile (mem_mb, cpus_per_gpu) are schedulable as
#   they are. Nothing enforces them (no cgroups, TaskPlugin=task/none): the tiny test jobs just run;
# - two partitions on the one node, debug (the default) and gpu, to check that jobs land where they are sent;
# - accounting is off (no slurmdbd), so `sacct` does not work: the workflow polls job states with squeue
#   (--slurm-status-command squeue; MinJobAge=600 keeps finished jobs visible to squeue long enough).
set -euo pipefail

fail() {
    echo "start_cluster: $*" >&2
    exit 1
}

HOST=$(hostname -s)
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARKER="# written by spct tests/slurm/start_cluster.sh"
LOG_DIR=/var/log/slurm
FAKE_GPUS=/var/spool/slurmd/fake-gpu

node_state() {
    sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -n1
}

controller_up() {
    command -v scontrol >/dev/null 2>&1 && timeout 10 scontrol ping 2>/dev/null | grep -q "UP"
}

node_up() {
    case "$(node_state)" in
        idle* | mixed* | allocated* | completing*) return 0 ;;
        *) return 1 ;;
    esac
}

log_tail() {
    tail -n 3 "$LOG_DIR/$1.log" 2>/dev/null | tr '\n' ' '
}

# What this script writes; compared with what is there to decide whether a running cluster is current.
NEW_CONF="$MARKER
ClusterName=spct-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=32 RealMemory=512000 Gres=gpu:4 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$HOST MaxTime=INFINITE State=UP"
NEW_GRES="$MARKER
AutoDetect=off
NodeName=$HOST Name=gpu File=$FAKE_GPUS/gpu[0-3]"
config_current() {
    [ "$NEW_CONF" = "$(cat "$CONF" 2>/dev/null)" ] && [ "$NEW_GRES" = "$(cat "$CONF_DIR/gres.conf" 2>/dev/null)" ]
}
ours() {
    grep -qF "$MARKER" "$CONF" 2>/dev/null
}

if controller_up && node_up && { config_current || ! ours; }; then
    echo "start_cluster: slurmctld already answers on $HOST and the node is $(node_state); nothing to do"
    exit 0
fi

[ "$(id -u)" = 0 ] || fail "must run as root to install and start Slurm (running as $(id -un))"

# ------------------------------------------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
    ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || fail "slurm-wlm/munge are not installed and apt-get is not available"
    echo "start_cluster: installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q slurm-wlm munge >/tmp/spct-slurm-apt.log 2>&1; then
        apt-get update -q >>/tmp/spct-slurm-apt.log 2>&1 || true
        apt-get install -y -q slurm-wlm munge >>/tmp/spct-slurm-apt.log 2>&1 ||
            fail "apt-get install slurm-wlm munge failed: $(tail -n 3 /tmp/spct-slurm-apt.log | tr '\n' ' ')"
    fi
fi

# ------------------------------------------------------------------------------------------------- munge
id munge >/dev/null 2>&1 || fail "the munge user does not exist (is the munge package installed?)"
if [ ! -s /etc/munge/munge.key ]; then # the Debian package usually creates one
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --force 2>/dev/null || /usr/sbin/munged --force ||
        fail "munged did not start"
    for _ in $(seq 20); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.5
    done
    munge -n | unmunge >/dev/null 2>&1 || fail "munged runs but 'munge -n | unmunge' fails"
fi

# ------------------------------------------------------------------------------------------------- slurm.conf
if [ -f "$CONF" ] && ! ours; then
    fail "$CONF exists and was not written by this script; refusing to overwrite a real cluster's configuration"
fi
mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd "$FAKE_GPUS"
for i in 0 1 2 3; do
    ln -sfn /dev/null "$FAKE_GPUS/gpu$i"
done
changed=0
if ! config_current; then
    printf '%s\n' "$NEW_CONF" >"$CONF"
    printf '%s\n' "$NEW_GRES" >"$CONF_DIR/gres.conf"
    changed=1
fi

# ------------------------------------------------------------------------------------------------- daemons
if [ "$changed" = 1 ] && [ -s /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; then
    kill "$(cat /run/slurmd.pid)" # our own slurmd, from an older configuration: restarted below
    sleep 2
fi
if controller_up; then
    if [ "$changed" = 1 ]; then scontrol reconfigure; fi
else
    pgrep -x slurmctld >/dev/null && fail "a slurmctld process runs but does not answer (see $LOG_DIR/slurmctld.log)"
    /usr/sbin/slurmctld || fail "slurmctld did not start: $(log_tail slurmctld)"
    for _ in $(seq 30); do
        controller_up && break
        sleep 1
    done
    controller_up || fail "slurmctld does not answer: $(log_tail slurmctld)"
fi
if ! pgrep -x slurmd >/dev/null; then
    /usr/sbin/slurmd || fail "slurmd did not start: $(log_tail slurmd)"
fi
for _ in $(seq 30); do
    node_up && break
    case "$(node_state)" in
        down* | drain* | fail* | inval*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
done
node_up || fail "node $HOST is '$(node_state)', not idle: $(log_tail slurmd)"
echo "start_cluster: Slurm is up on $HOST: $(sinfo -h -o 'partition %P, %D node %T, %c CPUs, %m MB, %G' | head -n1)"
