"""lsecflow as a Snakemake module of another workflow, from another folder, with that folder's own config,
sheet and table (the shipped UPS1 proteomics table copied there): a dry run plans every job, and a real job
runs. lsecflow's handlers run there too, after the importer's own: the results-folder lock (a run holding it
refuses a second one) and the printed summary. Through the real Snakemake CLI."""
from __future__ import annotations

import json
import os
import shutil
import socket
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
        'onsuccess:\n    print("the importer\'s own onsuccess")\n\n\n'
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
    # a live run of another folder holds the results folder: lsecflow's onstart refuses this one
    lock = tmp_path / "out/.lsecflow.lock"
    lock.parent.mkdir()
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "workdir": "/elsewhere",
                                "started": "2026-12-02T00:00:00"}))
    held = snakemake("out/spikein/counts.h5ad")
    assert held.returncode != 0 and "is locked" in held.stdout + held.stderr, (held.stdout + held.stderr)[-3000:]
    lock.unlink()
    real = snakemake("out/spikein/counts.h5ad")
    out = real.stdout + real.stderr
    assert real.returncode == 0, out[-3000:]
    assert (tmp_path / "out/spikein/counts.h5ad").stat().st_size > 10_000
    assert "the importer's own onsuccess" in out and "lsecflow finished. Results:" in out  # both handlers ran
    assert out.index("the importer's own onsuccess") < out.index("lsecflow finished. Results:")
    assert not lock.exists()  # taken by lsecflow's onstart, released by its onsuccess
