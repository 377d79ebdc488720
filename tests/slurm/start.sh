#!/usr/bin/env bash
# Start a real single-node SLURM (22.05, Debian 12) on localhost for tests/workflow/test_slurm.py.
# Usage: tests/slurm/start.sh STATE_DIR   (writes slurm.conf, logs and pids there; stop with stop.sh STATE_DIR)
# Installs munge + slurm from Debian packages when missing (root, apt; exit 3 if that fails). No systemd needed.
set -euo pipefail
STATE=$(realpath -m "${1:?usage: start.sh STATE_DIR}")
mkdir -p "$STATE"
for v in $(env | grep -o '^SLURM_[A-Z_]*' || true); do unset "$v"; done

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  echo "installing munge and slurm (Debian packages)..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q munge slurmctld slurmd slurm-client >"$STATE/apt.log" 2>&1 \
    || { echo "apt-get install failed (no package source?), see $STATE/apt.log" >&2; tail -3 "$STATE/apt.log" >&2; exit 3; }
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
install -d -o munge -g munge -m 0755 /run/munge
install -d -o slurm -g slurm -m 0755 /run/slurm
install -d -o slurm -g slurm -m 0755 "$STATE/spool" "$STATE/ctld"
chown slurm:slurm "$STATE"
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
fi

cat >"$STATE/slurm.conf" <<CONF
ClusterName=lsecflow-test
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MailProg=/bin/true
MinJobAge=3600
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
CONF
chown slurm:slurm "$STATE/slurm.conf"
export SLURM_CONF="$STATE/slurm.conf"
# srun inside a job step reads the default path, not SLURM_CONF: link it there, unless a real
# configuration is in place (then refuse: this script is for test machines)
mkdir -p /etc/slurm
if [ -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
  echo "/etc/slurm/slurm.conf exists and is not ours; not touching a real SLURM configuration" >&2; exit 1
fi
ln -sfn "$STATE/slurm.conf" /etc/slurm/slurm.conf

# munged insists on a pid file in a directory it owns: /run/munge; the pid is copied to STATE (ours to stop)
if [ -s /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
  echo "munged already running (pid $(cat /run/munge/munged.pid)); not ours to stop"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- munged 2>"$STATE/munged.err" || true
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  [ -s /run/munge/munged.pid ] || { echo "munged did not start" >&2; cat "$STATE/munged.err" >&2; exit 1; }
  cp /run/munge/munged.pid "$STATE/munged.pid"
fi
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  if timeout 5 sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed)'; then
    echo "SLURM up: SLURM_CONF=$SLURM_CONF"; exit 0
  fi
  for d in slurmctld slurmd; do
    if [ -s "$STATE/$d.pid" ] && ! kill -0 "$(cat "$STATE/$d.pid")" 2>/dev/null; then
      echo "$d exited; last lines of its log:" >&2; tail -5 "$STATE/$d.log" >&2; exit 1
    fi
  done
  sleep 0.5
done
echo "SLURM did not come up; logs in $STATE" >&2
sinfo >&2 || true
exit 1
