"""Shared test helpers (paths to the real data, dataset specs, configs, the Snakemake CLI); the fixtures
that use them are in conftest.py. Real data come from resources/ (shipped) and, for large reference files
the project does not ship, from ../shared (tests only)."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from lsecflow.config import load_config  # noqa: E402
from lsecflow.errors import LsecflowError  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DLPC_COUNTS = REPO / "resources/data/dlpc_liver/counts.tsv.gz"
DLPC_SHEET = REPO / "config/samples/dlpc_liver.tsv"
TMS_H5AD = REPO / "resources/data/tms_liver/tms_liver_sample_counts.h5ad"
TMS_SHEET = REPO / "config/samples/tms_liver.tsv"
DESEQ2_REF = SHARED / "dlpc_liver_bulk/deseq2_reference"
UPS1_TABLE = REPO / "resources/data/ups1_spikein/proteinGroups_trimmed.tsv.gz"
UPS1_TRUTH = REPO / "resources/data/ups1_spikein/truth.tsv.gz"
UPS1_SHEET = REPO / "config/samples/ups1_spikein.tsv"
LIMMA_REF = REPO / "tests/data/limma"
PARACRINE = REPO / "resources/paracrine"
PACKAGE = REPO / "workflow/lsecflow"
#: the TNF axis of Hoang et al. and each factor's class in the shipped factor table
TNF_AXIS_CLASSES = {"Mmp9": "protease/ECM regulator", "Tnf": "cytokine", "Cxcl1": "chemokine", "Icam1": "adhesion/contact"}
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


def run_protein_de(folder: Path, spec: dict, prefix: str = "de", **files) -> tuple[pd.DataFrame, dict]:
    """A proteomics dataset ``spec`` (named ``ups1``) through load_config, ingest and the DE entry point in
    ``folder``; ``files``: the entry point's optional outputs (``lrt``, ``block``, ``sample_weights``). Returns
    the first contrast's table indexed by protein id, and its output paths."""
    from lsecflow.de_files import OUTPUT_KINDS
    from lsecflow.de_proteomics import run_de_proteomics
    from lsecflow.ingest import run_ingest

    cfg = write_config(folder, {"ups1": spec})
    ds = load_config(yaml.safe_load(cfg.read_text()), roots=[folder, REPO], source=str(cfg)).datasets["ups1"]
    h5ad = folder / f"{prefix}.counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {c: {k: str(folder / f"{prefix}.{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    first = next(iter(ds.contrasts))
    table = run_de_proteomics(str(h5ad), ds.params(rule="de"), outputs, **files)[first]
    return table.set_index("gene_id"), outputs[first]


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



#: the wrapper of an offline run: a new network namespace with loopback only (no outbound socket at all)
OFFLINE = ["unshare", "-n"]


def unshare_available() -> bool:
    """Whether :data:`OFFLINE` works here (root or user namespaces)."""
    try:
        return subprocess.run([*OFFLINE, "true"], capture_output=True, timeout=20).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


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


def ups1_sheet() -> pd.DataFrame:
    return pd.read_csv(UPS1_SHEET, sep="\t", dtype=str).set_index("sample", drop=False)


def ups1_preprocessed(proteomics_opts: dict | None = None, seed: int = 0):
    """The real UPS1 table read with its 'Razor + unique peptides' (``var["count"]``) and preprocessed as the
    limma reference (median centring) unless ``proteomics_opts`` say otherwise: ``(pre, sheet, var)``."""
    from lsecflow import protein_tables, proteomics

    sheet = ups1_sheet()
    values, var, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index,
                                                       {"count_column": "Razor + unique peptides"}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {"normalize": "median", **(proteomics_opts or {})}, seed)
    return pre, sheet, var


def r_table(name: str, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """A table written by make_reference.R (R's format() pads values, NA included); with ``like``, its rows and
    columns in ``like``'s order."""
    t = pd.read_csv(LIMMA_REF / name, sep="\t", index_col=0, dtype=str)
    t = t.apply(lambda col: pd.to_numeric(col.str.strip(), errors="coerce"))
    return t if like is None else t.loc[like.index, like.columns]


def ups1_median(**opts):
    """The UPS1 matrix preprocessed as the limma reference (median centring), ``opts`` the proteomics keys
    changed (e.g. ``impute``): the :class:`lsecflow.proteomics.Preprocessed`, seed 5 for the random imputations."""
    return ups1_preprocessed(opts, seed=5)[0]


def agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> dict:
    """Pearson r of logFC and t, max |difference|, Jaccard of the adj.P < 0.05 sets (ours indexed like ref)."""
    ours = ours.loc[ref.index]
    a, b = set(ref.index[ours["padj"] < 0.05]), set(ref.index[ref["adj.P.Val"] < 0.05])
    return {"r_lfc": np.corrcoef(ours["log2FoldChange"], ref["logFC"])[0, 1],
            "r_t": np.corrcoef(ours["stat"], ref["t"])[0, 1],
            "max_lfc": float(np.abs(ours["log2FoldChange"] - ref["logFC"]).max()),
            "max_t": float(np.abs(ours["stat"] - ref["t"]).max()),
            "jaccard": len(a & b) / len(a | b) if a | b else 1.0, "n_ref": len(b)}


def assert_matches(stats: dict, tol: float = 1e-8) -> None:
    """The acceptance thresholds (r >= 0.9999, Jaccard >= 0.99), and the port's actual closeness."""
    assert stats["r_lfc"] >= 0.9999 and stats["r_t"] >= 0.9999 and stats["jaccard"] >= 0.99, stats
    assert stats["max_lfc"] < tol and stats["max_t"] < tol, stats


def pca_separation(pca: pd.DataFrame, obs: pd.DataFrame, cols: list[str], by: str) -> float:
    """How far the QC PCA (``pca.tsv``'s scores, ``cols`` e.g. PC1 and PC2) sets apart the groups of sheet column
    ``by``: the largest distance between group centroids over the mean within-group spread."""
    pts = pca[cols].to_numpy()
    labels = obs.loc[pca.index, by].astype(str).to_numpy()
    cents = {g: pts[labels == g].mean(axis=0) for g in np.unique(labels)}
    spread = np.mean([np.linalg.norm(pts[labels == g] - c, axis=1).mean() for g, c in cents.items()])
    return max(np.linalg.norm(a - b) for a in cents.values() for b in cents.values()) / spread


def bad_table(tmp_path, edit) -> str:
    """The real UPS1 table with one edit (``edit(df)`` changes the DataFrame in place)."""
    df = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, keep_default_na=False)
    edit(df)
    path = tmp_path / "proteinGroups.txt.gz"
    with gzip.open(path, "wt") as fh:
        df.to_csv(fh, sep="\t", index=False)
    return str(path)


def named(folder, tables: dict[str, str], figures) -> tuple[dict[str, str], dict[str, str]]:
    """The named outputs a QC rule passes: table name -> file in ``folder``, figure kind -> PNG."""
    return ({k: str(folder / f) for k, f in tables.items()}, {k: str(folder / f"{k}.png") for k in figures})


def load_datasets(datasets: dict, **top):
    """``load_config`` of ``datasets`` (and top-level keys), paths relative to the repository."""
    return load_config({"datasets": datasets, **top}, roots=[REPO])


def loaded_or_refused(datasets: dict, error: str | None, refusal=LsecflowError):
    """``load_datasets(datasets)`` when ``error`` is None; else the check that it refuses them with ``refusal``
    matching ``error`` (then None)."""
    import pytest

    if error is None:
        return load_datasets(datasets)
    with pytest.raises(refusal, match=error):
        load_datasets(datasets)
    return None


def load_one(tmp_path, spec: dict):
    """``load_config`` of one dataset ``spec`` written to a config in ``tmp_path``, as the Snakefile reads it."""
    cfg = write_config(tmp_path, {"p": spec})
    return load_config(yaml.safe_load(cfg.read_text()), roots=[tmp_path, REPO], source=str(cfg))


def shipped_dataset(name: str, **qc_overrides):
    """A shipped dataset as config/config.yaml runs it (its other top-level keys too), ``qc:`` keys overridden."""
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    spec = yaml.safe_load((REPO / cfg["datasets"][name]).read_text())
    spec.setdefault("qc", {}).update(qc_overrides)
    cfg["datasets"] = {name: spec}
    return load_config(cfg, roots=[REPO]).datasets[name]


def assert_like_r(ours: pd.DataFrame, ref: pd.DataFrame, label: str, r: float = 0.9999999, close: float = 0.998
                  ) -> None:
    """A DESeq2 table (``gene_id`` a column) like R's (``ref``, indexed by gene): the same calls and NA patterns,
    log2FC r over tested genes > ``r`` and a share ``close`` of them within 1e-6."""
    ours = ours.set_index("gene_id").loc[ref.index]
    both = ours["pvalue"].notna() & ref["pvalue"].notna()
    assert np.corrcoef(ours.loc[both, "log2FoldChange"], ref.loc[both, "log2FoldChange"])[0, 1] > r, label
    assert (np.abs(ours.loc[both, "log2FoldChange"] - ref.loc[both, "log2FoldChange"]) < 1e-6).mean() > close, label
    assert set(ours.index[ours["padj"] < 0.05]) == set(ref.index[ref["padj"] < 0.05]), label
    assert (ours["pvalue"].isna() == ref["pvalue"].isna()).all() and (ours["padj"].isna() == ref["padj"].isna()).all()


def write_10x_mtx(adata, folder: Path) -> None:
    """``adata``'s counts as a Cell Ranger v3 folder (matrix.mtx.gz genes x cells, features.tsv.gz with gene ids,
    names and types, barcodes.tsv.gz)."""
    import scipy.io
    import scipy.sparse as sp

    folder.mkdir()
    with gzip.open(folder / "matrix.mtx.gz", "wb") as fh:
        scipy.io.mmwrite(fh, sp.csr_matrix(adata.X).T.astype(np.int64).tocoo(), field="integer")
    pd.DataFrame({"id": adata.var_names, "name": adata.var_names, "type": "Gene Expression"}).to_csv(
        folder / "features.tsv.gz", sep="\t", header=False, index=False)
    pd.Series(adata.obs_names).to_csv(folder / "barcodes.tsv.gz", header=False, index=False)


def tms_pcs(n_comps: int = 20):
    """The real TMS cells log-normalised as scanpy does (lsecflow.cell_arrays, CSR float32) and their first
    ``n_comps`` PCs (covariance PCA): (log-normalised matrix, scores)."""
    import anndata as ad
    from lsecflow import cell_arrays

    raw = ad.read_h5ad(TMS_H5AD).X.tocsr().astype(np.float32)
    data, _, rows = cell_arrays.csr_arrays(raw, np)
    log = raw.copy()
    log.data = cell_arrays.log_normalise_data(data, rows, np.bincount(rows, weights=data, minlength=raw.shape[0]), np)
    return log, cell_arrays.covariance_pca(log, n_comps, np)["scores"]
