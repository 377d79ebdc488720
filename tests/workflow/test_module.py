"""lsecflow as a Snakemake module of another workflow, from another folder, with that folder's own config,
sheet and table (the shipped UPS1 proteomics table copied there): a dry run plans every job, and a real job
runs. Through the real Snakemake CLI."""
from __future__ import annotations

import shutil
import subprocess
import sys

import yaml
from helpers import REPO, UPS1_TABLE


def test_used_as_a_module_from_another_folder(tmp_path):
    shutil.copy(UPS1_TABLE, tmp_path / "proteinGroups.txt.gz")
    shutil.copy(REPO / "config/samples/ups1_spikein.tsv", tmp_path / "runs.tsv")
    spec = yaml.safe_load((REPO / "config/datasets/ups1_spikein.yaml").read_text())
    spec["counts"]["path"], spec["samples"]["sheet"] = "proteinGroups.txt.gz", "runs.tsv"
    (tmp_path / "spikein.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"results": "out", "report": False,
                                                          "datasets": {"spikein": "spikein.yaml"}}))
    (tmp_path / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n\n'
        f'module lsecflow:\n    snakefile:\n        "{REPO / "Snakefile"}"\n    config:\n        config\n\n\n'
        "use rule * from lsecflow as lsecflow_*\n")

    def snakemake(*args):
        return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)

    dry = snakemake("--dry-run")
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-3000:]
    for rule in ("lsecflow_ingest", "lsecflow_qc_proteomics", "lsecflow_de_spikein", "lsecflow_paracrine"):
        assert f"rule {rule}:" in out, rule
    assert "dlpc_liver" not in out and "tms_liver" not in out  # only what the user's config lists
    real = snakemake("out/spikein/counts.h5ad")
    assert real.returncode == 0, (real.stdout + real.stderr)[-3000:]
    assert (tmp_path / "out/spikein/counts.h5ad").stat().st_size > 10_000
