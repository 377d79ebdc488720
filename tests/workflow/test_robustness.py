"""Robustness of whole runs (real Snakemake, real data, small config):
no network, determinism, and resuming after a SIGKILL mid-DE."""
from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import OFFLINE, REPO, run_snakemake, unshare_available

TABLES = ("*.tsv", "*.tsv.gz", "*.json")
#: what the DLPC DE job writes: removed from the copy, so the resumed run must redo it
DLPC_DE = ("results/dlpc_liver/de", "logs/de")


def result_tables(folder: Path, under: str) -> dict[str, bytes]:
    """Every result table under ``folder/results/under`` (gz decompressed), by path relative to the results."""
    out = {}
    for pattern in TABLES:
        for path in (folder / "results" / under).rglob(pattern):
            data = path.read_bytes()
            out[str(path.relative_to(folder / "results"))] = gzip.decompress(data) if path.suffix == ".gz" else data
    return out


def test_the_shared_run_ran_offline(finished_run):
    """The shared small run (every rule of both assays) ran whole inside `unshare -n`, where no address outside
    the machine can be reached: nothing in the workflow needs the network."""
    if not unshare_available():
        pytest.skip("needs `unshare -n` (root or user namespaces)")
    _, _, proc = finished_run
    assert proc.args[:len(OFFLINE)] == OFFLINE and proc.returncode == 0
    probe = subprocess.run([*OFFLINE, sys.executable, "-c",
                            "import socket; socket.create_connection(('192.0.2.1', 80), timeout=5)"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "Network is unreachable" in probe.stderr, probe.stderr[-500:]


def copy_of_run(src: Path, dst: Path) -> Path:
    """A copy of a finished run folder (times kept) whose config points at the copy; returns the config."""
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    cfg = dst / "config.yaml"
    cfg.write_text(cfg.read_text().replace(f"{src}/", f"{dst}/"))
    return cfg


def test_run_killed_during_de_resumes_to_the_same_tables(finished_run, tmp_path):
    """A copy of the shared run without the DLPC DE results is run again offline up to DE (`--until
    de_dlpc_liver`) and SIGKILLed while the DE job runs, resumed as the README says (`--unlock`, then the same command with
    --rerun-incomplete, still offline), and gives the DE tables of the uninterrupted run, byte for byte. (Until
    2026-12 this made a whole second run from scratch, then redid every job after DE too: 56 s of the suite for
    jobs that were not interrupted; that a run's tables do not depend on where it runs: the tests of
    test_input_hygiene.py on copies of the shared run.)"""
    if not unshare_available():
        pytest.skip("needs `unshare -n` (root or user namespaces)")
    work = tmp_path / "run"
    cfg = copy_of_run(finished_run[0], work)
    for rel in DLPC_DE:
        target = work / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    cmd = [*OFFLINE, sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile",
           str(cfg), "--directory", str(work), "--cores", "2", "--until", "de_dlpc_liver"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    de_log = work / "logs/de/dlpc_liver.log"
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            text = de_log.read_text() if de_log.exists() else ""
            if "started" in text and "model ~" not in text:
                break  # the DE job has started and not fitted yet
            assert proc.poll() is None, "the run ended before reaching DE"
            time.sleep(0.1)
        else:
            pytest.fail("DE never started")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_de = list((work / "results/dlpc_liver/de").glob("*.tsv"))
    assert len(killed_de) < 6, "the kill came too late to interrupt DE"
    unlock = run_snakemake(work, cfg, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    resumed = run_snakemake(work, cfg, "--until", "de_dlpc_liver", "--rerun-incomplete", wrapper=OFFLINE)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "de_dlpc_liver" in resumed.stdout + resumed.stderr
    first, second = (result_tables(folder, "dlpc_liver/de") for folder in (finished_run[0], work))
    assert len(first) > 10 and first.keys() == second.keys()
    differing = sorted(k for k in first if first[k] != second[k])
    assert differing == [], f"tables differ between the first run and the killed and resumed one: {differing}"
