"""Robustness of whole runs (real Snakemake, real data, small config):
no network, determinism, and resuming after a SIGKILL mid-DE."""
from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, run_snakemake, small_config

TABLES = ("*.tsv", "*.tsv.gz", "*.json")


def result_tables(folder: Path) -> dict[str, bytes]:
    """Every result table under ``folder/results`` (gz decompressed), by relative path."""
    out = {}
    for pattern in TABLES:
        for path in (folder / "results").rglob(pattern):
            data = path.read_bytes()
            out[str(path.relative_to(folder / "results"))] = gzip.decompress(data) if path.suffix == ".gz" else data
    return out


def unshare_available() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=20).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def test_offline_run_killed_during_de_resumes_to_the_same_tables(finished_run, tmp_path, dlpc_small):
    """A second clean run in a network namespace with loopback only (`unshare -n`: no outbound sockets at
    all) is SIGKILLed while DE jobs run, resumed as the README says (`--unlock`, then the same command with
    --rerun-incomplete, still offline), and gives the result tables of the uninterrupted first run, byte
    for byte. (One run for what were two tests, the offline run and the kill/resume: each took a full run.)"""
    if not unshare_available():
        pytest.skip("needs `unshare -n` (root or user namespaces)")
    offline = ["unshare", "-n"]
    cfg = small_config(tmp_path, dlpc_small)
    cmd = [*offline, sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile",
           str(cfg), "--directory", str(tmp_path), "--cores", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline:
            logs = list((tmp_path / "logs/de").rglob("*.log")) if (tmp_path / "logs/de").exists() else []
            if any("model ~" not in p.read_text() and "started" in p.read_text() for p in logs):
                break  # a DE job has started and not fitted yet
            assert proc.poll() is None, "the run ended before reaching DE"
            time.sleep(0.2)
        else:
            pytest.fail("DE never started")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_de = [p for p in (tmp_path / "results/dlpc_liver/de").glob("*.tsv")] if (
        tmp_path / "results/dlpc_liver/de").exists() else []
    assert len(killed_de) < 6, "the kill came too late to interrupt DE"
    unlock = run_snakemake(tmp_path, cfg, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    resumed = run_snakemake(tmp_path, cfg, "--rerun-incomplete", wrapper=offline)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    first, second = result_tables(finished_run[0]), result_tables(tmp_path)
    assert len(first) > 40 and first.keys() == second.keys()
    differing = sorted(k for k in first if first[k] != second[k])
    assert differing == [], f"tables differ between the first run and the offline, killed and resumed one: {differing}"
