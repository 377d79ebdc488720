"""The workflow's small config through a real single-node SLURM on localhost.

tests/slurm/start.sh installs (Debian packages, when missing) and starts
munged, slurmctld and slurmd; stop.sh stops exactly those processes. The run
uses the SLURM executor plugin with tests/slurm/profile. Proof that every job
went through sbatch: the submission lines in Snakemake's log, the SLURM job
id each job wrote into its own log (all distinct), and those ids listed by
``squeue --states=all``."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from helpers import REPO, run_snakemake, small_config

SLURM = REPO / "tests/slurm"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if os.geteuid() != 0 or shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("starting SLURM needs root and Debian packages (apt-get); CI has both")
    # the slurm user must reach the state folder: pytest's own tmp folders are private to root (0700)
    state = Path(tempfile.mkdtemp(prefix="lsecflow-slurm-"))
    state.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = subprocess.run(["bash", str(SLURM / "start.sh"), str(state)], capture_output=True, text=True, env=env,
                          timeout=300)
    if proc.returncode == 3:  # the packages could not be installed: nothing to test against here
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(f"SLURM packages could not be installed: {proc.stderr.strip()[-500:]}")
    if proc.returncode != 0:
        subprocess.run(["bash", str(SLURM / "stop.sh"), str(state)], env=env, timeout=60)
        pytest.fail(f"SLURM did not start:\n{proc.stdout}\n{proc.stderr}")
    env["SLURM_CONF"] = str(state / "slurm.conf")
    yield env
    subprocess.run(["bash", str(SLURM / "stop.sh"), str(state)], env=env, timeout=60)
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.slow
def test_small_config_runs_through_sbatch(slurm, tmp_path, dlpc_small, monkeypatch):
    for key in list(os.environ):
        if key.startswith("SLURM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SLURM_CONF", slurm["SLURM_CONF"])
    cfg = small_config(tmp_path, dlpc_small)
    # every rule of both assays, with fewer DE units than the shared small run (SLURM adds ~10 s a job):
    # one DLPC contrast, two TMS cell types (the sender and one receiver-side type)
    spec = yaml.safe_load(cfg.read_text())
    dlpc, tms = spec["datasets"]["dlpc_liver"], spec["datasets"]["tms_liver"]
    dlpc["contrasts"] = {"disease_vs_chow": dlpc["contrasts"]["disease_vs_chow"]}
    tms["pseudobulk"] = {**tms["pseudobulk"], "cell_types": ["endothelial cell of hepatic sinusoid", "hepatocyte"]}
    cfg.write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = run_snakemake(tmp_path, cfg, "--profile", str(SLURM / "profile"), "--jobs", "4",
                         wrapper=["timeout", "-k", "15", "1500"], timeout=1600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    submitted = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", out)
    planned = re.search(r"^total\s+(\d+)$", out, re.M)
    assert planned, out[-3000:]
    n_jobs = int(planned.group(1)) - 1  # rule all runs locally as the target
    assert len(submitted) == n_jobs, (len(submitted), n_jobs)

    recorded = {}
    for log in (tmp_path / "logs").rglob("*.log"):
        m = re.search(r"rule (\w+) started \(SLURM job (\d+)\)", log.read_text())
        assert m, f"{log} has no SLURM job id: the job did not run under SLURM"
        recorded[str(log.relative_to(tmp_path))] = m.group(2)
    assert len(recorded) == n_jobs
    assert len(set(recorded.values())) == n_jobs, "job ids are not distinct"
    assert set(recorded.values()) == {sid for _, sid in submitted}

    q = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i %T"], capture_output=True, text=True,
                       env=slurm, timeout=60)
    listed = dict(line.split() for line in q.stdout.splitlines())
    missing = set(recorded.values()) - set(listed)
    assert not missing, f"not listed by squeue: {missing}"
    assert all(listed[j] == "COMPLETED" for j in recorded.values()), listed
    assert (tmp_path / "results/dlpc_liver/paracrine/disease_vs_chow.candidates.tsv").exists()
    rules = {p.relative_to(tmp_path / "logs").parts[0] for p in (tmp_path / "logs").rglob("*.log")}
    # every rule went through sbatch
    assert rules == {"ingest", "qc_bulk", "qc_single_cell", "pseudobulk", "pseudobulk_figure", "composition", "de",
                     "dispersion_plot", "enrichment", "figures", "paracrine_receivers", "paracrine", "provenance",
                     "report"}, rules
