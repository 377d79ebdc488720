"""Provenance written next to the results: versions, the resolved config, checksums of every input.

``results/provenance/`` gets

* ``versions.tsv`` -- Python, platform, the analysis packages and the gene-set
  collections used (version, licence and source from the shipped manifest);
* ``config.resolved.yaml`` -- the config as the run used it: every default
  filled, every path absolute, one block per dataset;
* ``inputs.sha256.tsv`` -- sha256 and size of every input file (count
  matrices, sample sheets, annotation, gene sets, paracrine tables, receiver
  tables, marker panels), per dataset and role.
"""
from __future__ import annotations

import hashlib
import logging
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from .files import write_text_atomic, write_tsv_atomic

log = logging.getLogger(__name__)

PACKAGES = ["lsecflow", "snakemake", "snakemake-executor-plugin-slurm", "inmoose", "gseapy", "scanpy", "anndata",
            "liana", "decoupler", "numpy", "scipy", "pandas", "statsmodels", "scikit-learn", "matplotlib", "h5py",
            "jsonschema", "rapids-singlecell", "cupy-cuda12x"]


def package_versions(packages=PACKAGES) -> pd.DataFrame:
    """Installed version of each package (``not installed`` when absent), plus Python and the platform."""
    rows = [("python", "python", platform.python_version(), sys.executable),
            ("platform", "platform", platform.platform(), platform.machine())]
    for name in packages:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append(("package", name, version, ""))
    return pd.DataFrame(rows, columns=["kind", "name", "version", "detail"])


def gene_set_versions(files: dict[str, str], manifest: Path) -> pd.DataFrame:
    """Version, licence and source of the collections used, from ``resources/genesets/manifest.tsv``.

    A user's own GMT (not in the manifest) is listed as ``user file``.
    """
    shipped = pd.read_csv(manifest, sep="\t").set_index("file") if manifest.exists() else pd.DataFrame()
    rows = []
    for name, path in files.items():
        fname = Path(path).name
        if fname in shipped.index:
            row = shipped.loc[fname]
            rows.append(("gene_set", name, str(row["version"]), f"{row['source']}; licence {row['licence']}"))
        else:
            rows.append(("gene_set", name, "user file", str(path)))
    return pd.DataFrame(rows, columns=["kind", "name", "version", "detail"])


def env_pins(env_dir: Path) -> pd.DataFrame:
    """The pinned packages of every conda environment file (``envs/*.yaml``), one row per pin."""
    rows = []
    for path in sorted(Path(env_dir).glob("*.yaml")):
        deps = (yaml.safe_load(path.read_text()) or {}).get("dependencies", [])
        pins = [d for d in deps if isinstance(d, str)]
        pins += [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
        for pin in pins:
            name, _, version = pin.replace("==", "=").partition("=")
            rows.append(("conda_pin", name, version or "unpinned", f"envs/{path.name}"))
    return pd.DataFrame(rows, columns=["kind", "name", "version", "detail"])


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def dataset_inputs(name: str, spec: dict, annotation: str | None = None) -> list[tuple[str, str, str]]:
    """(dataset, role, path) of every file a dataset reads; folders (10x) are walked."""
    out: list[tuple[str, str, str]] = []

    def add(role: str, path) -> None:
        p = Path(path)
        if p.is_dir():
            out.extend((name, role, str(f)) for f in sorted(p.rglob("*")) if f.is_file())
        else:
            out.append((name, role, str(p)))

    counts = spec["counts"]["path"]
    for key, path in (counts.items() if isinstance(counts, dict) else [("counts", counts)]):
        add("counts" if key == "counts" else f"counts:{key}", path)
    if spec["counts"].get("tx2gene"):
        add("tx2gene", spec["counts"]["tx2gene"])
    add("sample_sheet", spec["samples"]["sheet"])
    if annotation:
        add("annotation", annotation)
    add("qc_markers", spec["qc"]["markers"])
    for coll, path in spec["enrichment"]["files"].items():
        add(f"gene_set:{coll}", path)
    par = spec.get("paracrine", {})
    if par.get("enabled"):
        add("paracrine_factors", par["factors"])
        add("paracrine_pairs", par["pairs"])
        for rname, path in par.get("receivers", {}).items():
            add(f"receiver:{rname}", path)
    return out


def run_provenance(resolved: dict, versions_out: str, config_out: str, inputs_out: str,
                   genesets_manifest: str, env_dir: str | None = None) -> None:
    """Rule entry point: write the three provenance files (atomically).

    Parameters
    ----------
    resolved
        ``{"config": <validated top-level config>, "datasets": {name: {"spec": ..., "annotation": ...}}}``
        as built at parse time.
    """
    datasets = resolved["datasets"]
    versions = [package_versions()]
    for name, ds in datasets.items():
        versions.append(gene_set_versions(ds["spec"]["enrichment"]["files"], Path(genesets_manifest))
                        .assign(detail=lambda d, n=name: n + ": " + d["detail"]))
    if env_dir:
        versions.append(env_pins(Path(env_dir)))
    write_tsv_atomic(pd.concat(versions, ignore_index=True), versions_out)

    def shown(path: str) -> str:  # relative to the run folder when inside it, so reruns elsewhere compare equal
        rel = os.path.relpath(path, Path.cwd())
        return str(path) if rel.startswith("..") else rel

    rows = []
    files = [f for name, ds in datasets.items() for f in dataset_inputs(name, ds["spec"], ds.get("annotation"))]
    for i, (name, role, path) in enumerate(files, 1):
        rows.append((name, role, shown(path), Path(path).stat().st_size, sha256(path)))
        if i % 20 == 0 or i == len(files):
            log.info("checksummed %d of %d input files", i, len(files))
    write_tsv_atomic(pd.DataFrame(rows, columns=["dataset", "role", "path", "bytes", "sha256"]), inputs_out)

    text = ("# The configuration this run used: defaults filled, paths resolved (written by lsecflow).\n"
            + yaml.safe_dump(resolved, sort_keys=False, default_flow_style=False))
    write_text_atomic(text, config_out)
