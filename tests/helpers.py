"""Shared test helpers (paths to the real data, dataset specs, configs, the Snakemake CLI); the fixtures
that use them are in conftest.py. Real data come from resources/ (shipped) and, for large reference files
the project does not ship, from ../shared (tests only)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

SHARED = REPO.parent / "shared" / "data"
DLPC_COUNTS = REPO / "resources/data/dlpc_liver/counts.tsv.gz"
DLPC_SHEET = REPO / "config/samples/dlpc_liver.tsv"
TMS_H5AD = REPO / "resources/data/tms_liver/tms_liver_sample_counts.h5ad"
TMS_SHEET = REPO / "config/samples/tms_liver.tsv"
DESEQ2_REF = SHARED / "dlpc_liver_bulk/deseq2_reference"
UPS1_TABLE = REPO / "resources/data/ups1_spikein/proteinGroups_trimmed.tsv.gz"
UPS1_TRUTH = REPO / "resources/data/ups1_spikein/truth.tsv.gz"
#: the endothelial secretome (no licence: read from ../shared by tests only, never shipped)
SECRETOME = SHARED / "ec_secretome_cpp"



def dlpc_dataset(counts: Path, sheet: Path = DLPC_SHEET, **overrides) -> dict:
    """A dlpc_liver dataset spec pointing at ``counts`` (absolute paths)."""
    spec = yaml.safe_load((REPO / "config/datasets/dlpc_liver.yaml").read_text())
    spec["counts"]["path"] = str(counts)
    spec["samples"]["sheet"] = str(sheet)
    for key, value in overrides.items():
        spec[key] = value
    return spec



def ups1_dataset(table: Path = UPS1_TABLE, **overrides) -> dict:
    """The shipped UPS1 spike-in dataset spec (absolute paths); ``overrides`` replace top-level keys."""
    spec = yaml.safe_load((REPO / "config/datasets/ups1_spikein.yaml").read_text())
    spec["counts"]["path"] = str(table)
    spec["samples"]["sheet"] = str(REPO / spec["samples"]["sheet"])
    spec.update(overrides)
    return spec


def secretome_dataset(**overrides) -> dict:
    """config/datasets/ec_secretome.yaml pointed at the staged copy in ../shared (tests only)."""
    spec = yaml.safe_load((REPO / "config/datasets/ec_secretome.yaml").read_text())
    spec["counts"]["path"] = str(SECRETOME / "proteins_maxlfq.tsv.gz")
    spec["samples"]["sheet"] = str(SECRETOME / "samples.tsv")
    spec.update(overrides)
    return spec



def tms_dataset(h5ad: Path = TMS_H5AD, sheet: Path = TMS_SHEET, **overrides) -> dict:
    spec = yaml.safe_load((REPO / "config/datasets/tms_liver.yaml").read_text())
    spec["counts"]["path"] = str(h5ad)
    spec["samples"]["sheet"] = str(sheet)
    spec.update(overrides)
    return spec



def write_config(folder: Path, datasets: dict, **top) -> Path:
    """Write a config (datasets given inline) into ``folder``."""
    cfg = {"results": str(folder / "results"), "datasets": datasets}
    cfg.update(top)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path



def run_snakemake(workdir: Path, configfile: Path, *args: str, timeout: int = 900,
                  wrapper: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run the real Snakemake CLI on the repository's Snakefile (``wrapper``: e.g. ``["unshare", "-n"]``)."""
    cmd = [*(wrapper or []), sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--configfile", str(configfile), "--directory", str(workdir), "--cores", "2", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)



def receiver_table(folder: Path, cell_type: str = "myeloid leukocyte") -> Path:
    """A bulk receiver table from real cells: the TMS cells of one type summed per plate (genes x plates)."""
    import anndata as ad

    a = ad.read_h5ad(TMS_H5AD)
    a = a[a.obs["cell_type"].astype(str) == cell_type]
    plates = a.obs_names.str.split("_").str[1]
    X = a.X.toarray() if hasattr(a.X, "toarray") else a.X
    table = pd.DataFrame(X, index=plates, columns=a.var_names).groupby(level=0).sum().T
    table.index.name = "gene"
    path = folder / "receiver_tms_myeloid.tsv"
    table.astype(int).to_csv(path, sep="\t")
    return path



def small_config(folder: Path, dlpc_counts_path: Path) -> Path:
    """The small real-data config of the integration tests (2 fast collections, one bulk receiver table), and
    for DLPC a user GMT of olfactory receptors, none expressed in liver: no set can be tested (a warning in
    the log and the report)."""
    fast = {"collections": ["hallmark", "lsec_tnf_axis"], "permutations": 200}
    olfactory = folder / "olfactory.gmt"
    olfactory.write_text("OLFACTORY_RECEPTORS\tuser\tOlfr1\tOlfr2\tOlfr8\tOlfr10\tOlfr11\tOlfr12\n")
    par = {"receivers": {"tms_myeloid": str(receiver_table(folder))}}
    # relative to the run folder (as a user writes it): the provenance then names it the same in every run
    dlpc_enrichment = dict(fast, gmt={"olfactory": olfactory.name})
    return write_config(folder, {"dlpc_liver": dlpc_dataset(dlpc_counts_path, enrichment=dlpc_enrichment, paracrine=par),
                                 "tms_liver": tms_dataset(enrichment=fast)})



def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
