"""One results folder, one run: a lock file in the results folder, taken when a run starts its jobs.

Snakemake locks its working directory (``.snakemake/``), not the outputs: two runs from different
folders with the same absolute ``results:`` would rerun, and delete, each other's outputs. The
workflow takes ``<results>/.lsecflow.lock`` when it starts executing (``onstart``), and releases it
when it ends (``onsuccess`` / ``onerror``). A second run on the same results folder stops at once,
naming the holder (host, process, working folder, start time). A lock left by a run that was killed
(SIGKILL, a lost node) is explained -- on the same host, whether its process still runs -- and is
cleared by ``make unlock`` (``snakemake --unlock``), as Snakemake's own lock is.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import socket
from pathlib import Path

from .errors import LsecflowError

LOCK_NAME = ".lsecflow.lock"


class LockedError(LsecflowError):
    """The results folder is used by another run (or by a killed one)."""


def lock_path(results: str | os.PathLike) -> Path:
    return Path(results) / LOCK_NAME


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(holder: dict) -> str:
    return (f"the run started {holder.get('started', '?')} by process {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')} in {holder.get('workdir', '?')}")


def acquire(results: str | os.PathLike, workdir: str | os.PathLike) -> Path:
    """Take the lock of ``results`` for this process, or raise :class:`LockedError` naming the holder."""
    path = lock_path(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "workdir": str(Path(workdir).resolve()),
          "started": _dt.datetime.now().isoformat(timespec="seconds")}
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            holder = json.loads(path.read_text())
        except (OSError, ValueError):
            holder = {}
        if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            return path  # this very process (onstart called twice)
        same_host = holder.get("host") == me["host"]
        if same_host and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
            why = (f"it was left by {describe(holder)}, which is no longer running (killed, or its node lost). "
                   "If no other run uses this folder, clear it with `make unlock` (or `snakemake --unlock` with "
                   "the same config) and run again; the finished outputs are kept")
        else:
            where = "" if same_host else " (another host: cannot check whether it still runs)"
            why = (f"{describe(holder)} is using it{where}. "
                   "Wait for it to finish, or give this run another 'results:' folder. If that run is gone, "
                   "clear the lock with `make unlock`")
        raise LockedError(f"results folder {Path(results).resolve()} is locked ({path}): {why}") from None
    with os.fdopen(fd, "w") as fh:
        json.dump(me, fh)
    return path


def release(results: str | os.PathLike) -> None:
    """Release the lock if this process holds it (a lock of another run is left alone)."""
    path = lock_path(results)
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


def clear(results: str | os.PathLike) -> str | None:
    """``make unlock``: remove the lock, whoever holds it; returns who held it (None if unlocked)."""
    path = lock_path(results)
    if not path.exists():
        return None
    try:
        holder = describe(json.loads(path.read_text()))
    except (OSError, ValueError):
        holder = "an unreadable lock"
    path.unlink(missing_ok=True)
    return holder
