"""Property-based tests of the DE engines' entry points (hypothesis) on real DLPC counts cut and bent the ways a
user's data can be: a few samples, a batch column drawn at random (confounded, single-level or one batch per
sample included), libraries left empty, most counts zeroed, counts scaled up, every engine option that changes
the fit. Whatever the draw, an entry point either writes its files (a skipped pseudobulk cell type says why in
its summary) or stops with an :class:`~lsecflow.errors.LsecflowError`, a message for the user, never a bare
numpy, scipy, statsmodels or inmoose exception. The same exploration at scale: ``bench/fuzz_engines.py``
(it found the crash paths these examples now pin: TMM of samples sharing no gene, a parametric dispersion fit
with no gene in its window, a local trend over one mean, eBayes with an infinite prior df, single-level blocks,
designs a cell type cannot carry)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, DLPC_SHEET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsecflow.de import run_de
from lsecflow.de_edger import run_de_edger
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.de_options import de_defaults
from lsecflow.de_voom import run_de_voom
from lsecflow.errors import LsecflowError

ENGINES = {"deseq2": run_de, "voom": run_de_voom, "edger": run_de_edger}


@pytest.fixture(scope="module")
def dlpc():
    """200 real DLPC genes (every 50th by total count, from the most expressed down) x 20 samples, and the sheet."""
    counts = pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0)
    counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False).index[::50][:200]]
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str).set_index("sample")
    counts = counts.rename(columns={"Sample724": "Sample725"}) if "Sample724" in counts else counts
    return counts.loc[:, [c for c in counts.columns if c in sheet.index]], sheet


@st.composite
def units(draw):
    engine = draw(st.sampled_from(sorted(ENGINES)))
    de = {**de_defaults(), "engine": engine, "min_count": draw(st.sampled_from([0, 1, 10])),
          "min_samples": draw(st.sampled_from([1, 2, 3])), "lfc_threshold": draw(st.sampled_from([0, 0.5]))}
    design = draw(st.sampled_from(["~ Group", "~ batch + Group"]))
    if design != "~ Group" and draw(st.booleans()):
        de.update(test="lrt", reduced="~ batch")
    if engine == "deseq2":
        de.update(size_factors=draw(st.sampled_from(["ratio", "poscounts"])),
                  fit_type=draw(st.sampled_from(["parametric", "local", "mean"])))
    elif engine == "voom":
        de.update(sample_weights=draw(st.booleans()), trend=draw(st.booleans()), robust=draw(st.booleans()))
        if design == "~ Group" and draw(st.booleans()):
            de["block"] = "batch"
    else:
        de["robust"] = draw(st.booleans())
    return {"engine": engine, "de": de, "design": design, "n": draw(st.integers(4, 10)),
            "batches": draw(st.integers(1, 5)), "bend": draw(st.sampled_from(["none", "empty", "sparse", "scaled"])),
            "seed": draw(st.integers(0, 2**16)), "pseudobulk": draw(st.booleans())}


@given(unit=units())
@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_an_engine_writes_its_files_or_says_what_is_wrong(dlpc, tmp_path, unit):
    import anndata as ad

    counts, sheet = dlpc
    rng = np.random.default_rng(unit["seed"])
    chosen = [s for g in ("Chow", "Disease") for s in rng.permutation(sheet.index[sheet["Group"] == g])[:2]]
    rest = [s for s in rng.permutation(counts.columns) if s not in chosen and sheet.loc[s, "Group"] != "Disease/Agonist"]
    samples = chosen + rest[: unit["n"] - 4]
    X = counts[samples].to_numpy(dtype=float).T
    if unit["bend"] == "empty":
        X[rng.integers(len(samples))] = 0
    elif unit["bend"] == "sparse":
        X[X < np.quantile(X, 0.8)] = 0
    elif unit["bend"] == "scaled":
        X = X * 1000
    obs = pd.DataFrame({"sample": samples, "cell_type": "LSEC", "Group": sheet.loc[samples, "Group"].to_numpy(),
                        "batch": rng.choice([f"b{i}" for i in range(unit["batches"])], len(samples))},
                       index=[f"{s}|LSEC" for s in samples])
    adata = ad.AnnData(X, obs=obs, var=pd.DataFrame({"symbol": counts.index.astype(str)}, index=counts.index.astype(str)))
    h5ad = tmp_path / f"unit{unit['seed']}.h5ad"
    adata.write_h5ad(h5ad)
    contrast = {"variable": "Group", "target": "Disease", "reference": "Chow"}
    spec = {"contrasts": {"d_vs_c": contrast}, "design": unit["design"], "de": unit["de"], "qc": {"exclude": []},
            "paracrine": {"enabled": False, "robustness": False}}
    params = {"spec": spec, "cell_types": {"LSEC": "LSEC"}, "name": "property",
              "design_columns": ["batch", "Group"] if "batch" in unit["design"] else ["Group"]}
    prefix = tmp_path / f"u{unit['seed']}"
    outputs = {"d_vs_c": {k: f"{prefix}.{k}.tsv" for k in OUTPUT_KINDS}}
    lrt = {"table": f"{prefix}.lrt.tsv", "summary": f"{prefix}.lrt.summary.tsv"} if unit["de"]["test"] == "lrt" else None
    own = {"dispersions": f"{prefix}.disp.tsv"} if unit["engine"] != "voom" else {
        "sample_weights": f"{prefix}.w.tsv" if unit["de"]["sample_weights"] else None,
        "block": f"{prefix}.block.tsv" if unit["de"].get("block") else None}
    try:
        ENGINES[unit["engine"]](str(h5ad), params, outputs, lrt=lrt, cell_type="LSEC" if unit["pseudobulk"] else None,
                                **own)
    except LsecflowError:
        return
    status = pd.read_csv(outputs["d_vs_c"]["summary"], sep="\t").loc[0, "status"]
    assert status == "tested" or status.startswith("skipped: "), status
