#!/usr/bin/env bash
# Stop exactly the daemons started by start.sh STATE_DIR (by their recorded PIDs).
set -uo pipefail
STATE=$(realpath -m "${1:?usage: stop.sh STATE_DIR}")
for name in slurmd slurmctld munged; do
  f="$STATE/$name.pid"
  if [ -s "$f" ]; then
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  fi
done
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$STATE/slurm.conf" ]; then
  rm -f /etc/slurm/slurm.conf
fi
