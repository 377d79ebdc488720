"""compute.gpu as the scheduler sees it: the GPU-optional rules' resources and env in a real Snakemake dry run."""
from __future__ import annotations

import subprocess
import sys

import yaml
from helpers import REPO


def test_true_requests_a_gpu_from_the_scheduler(tmp_path):
    """compute.gpu: true gives the GPU-optional rules gpu=1 (SLURM: --gpus=1) and the GPU env; auto gives neither."""
    for setting, request in ((True, "gpu=1"), ("auto", "gpu=0")):
        cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
        cfg["compute"]["gpu"] = setting
        cfg["datasets"] = {"tms_liver": str(REPO / "config/datasets/tms_liver.yaml")}
        path = tmp_path / f"config_{setting}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                               "--configfile", str(path), "--directory", str(tmp_path / str(setting)), "--dry-run",
                               "--printshellcmds"], capture_output=True, text=True, timeout=300, cwd=REPO)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        for rule in ("qc_single_cell", "pseudobulk"):
            block = out[out.index(f"rule {rule}:"):]
            block = block[:block.index("\n\n")]
            assert request in block, block
