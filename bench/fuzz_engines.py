"""Random small inputs through the DE engines, limma's protein fit and GSEA: every exception that is not an
:class:`~lsecflow.errors.LsecflowError` (a message for the user) is printed once, with the draw that raised it.

SYNTHETIC data, seeded per trial (a trial reproduces): negative-binomial counts of 30-1,000 genes on 4-10 samples
bent as a user's data can be (an empty library, half the genes or 80 % of the counts zero, counts x 10,000),
``~ group`` or a batch of 1-3 levels, each engine's options drawn; protein matrices with up to 60 % missing values
through the valid-value filter; GSEA rankings with ties, one sign, zeros, a set at the very top. The suite keeps a
derandomised sample of the first part as tests/unit/test_de_properties.py. On 2026-12-03 this found the crash
paths that commit series mended (TMM, DESeq2's trends, eBayes' infinite prior df, fitFDist's spline, blocks,
unfittable designs, gseapy's panics); on 2026-12-04 new seeds found two more (protein trial 214: scikit-misc's
loess crashed the process on one protein's variance; count trial 356: a pseudobulk cell type with too few genes
for its engine's trend stopped the run), both mended; the preprocessing part (added then: every normalisation and
imputation on matrices of 1-300 proteins, up to 70 % missing) found three more (mle on a singular covariance,
qrilc on a sample without spread, a sample left without values). Counts 300-699, proteins 0-399, preprocessing
0-999 and GSEA 400-699 then tally only ok and LsecflowError. Run it under ``python -X faulthandler`` so that a
crash in compiled code names its line.

    .venv/bin/python bench/fuzz_engines.py [--part counts|proteins|preprocessing|gsea] [--trials 100] [--start 0]
        [--traceback]
"""
from __future__ import annotations

import argparse
import collections
import logging
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from lsecflow import limma  # noqa: E402
from lsecflow.de import run_de  # noqa: E402
from lsecflow.de_edger import run_de_edger  # noqa: E402
from lsecflow.de_files import OUTPUT_KINDS  # noqa: E402
from lsecflow.de_options import de_defaults  # noqa: E402
from lsecflow.de_voom import run_de_voom  # noqa: E402
from lsecflow.enrichment import gsea  # noqa: E402
from lsecflow.errors import LsecflowError  # noqa: E402
from lsecflow.formula import design_metadata  # noqa: E402
from lsecflow.limma_block import estimate_block  # noqa: E402
from lsecflow.proteomics import preprocess  # noqa: E402

FACTORS = Path(__file__).resolve().parents[1] / "resources/paracrine/mouse.factors.tsv.gz"


def count_trial(rng, folder: Path):
    """One count unit through the three engines, pseudobulk and bulk; yields (label, call)."""
    import anndata as ad

    n, G = int(rng.integers(4, 11)), int(rng.choice([30, 200, 1000]))
    group = np.array(["a", "b"] * n)[:n]
    rng.shuffle(group)
    obs = pd.DataFrame({"sample": [f"s{i}" for i in range(n)], "cell_type": "T", "group": group,
                        "batch": rng.choice(["x", "y", "z"][: int(rng.integers(1, 4))], n)},
                       index=[f"s{i}|T" for i in range(n)])
    mu = rng.gamma(rng.uniform(0.2, 3), rng.uniform(1, 500), G)[None, :] * rng.uniform(0.2, 5, n)[:, None]
    disp = rng.choice([1e-8, 0.05, 0.5, 3])
    X = rng.negative_binomial(1 / disp, 1 / (1 + mu * disp)).astype(float)
    X[:, :8] *= np.where(group == "b", 8, 1)[:, None]  # eight induced genes, annotated as factors below
    bend = rng.integers(0, 5)
    if bend == 1:
        X[rng.integers(0, n)] = 0
    elif bend == 2:
        X[:, G // 2:] = 0
    elif bend == 3:
        X[X < np.percentile(X, 80)] = 0
    elif bend == 4:
        X *= 10000
    symbols = ["Tnf", "Mmp9", "Icam1", "Cxcl1", "Vegfa", "Timp1", "Il6", "Ccl2"] + [f"g{i}" for i in range(8, G)]
    h5ad = folder / "counts.h5ad"
    ad.AnnData(X, obs=obs, var=pd.DataFrame({"symbol": symbols[:G]}, index=[f"g{i}" for i in range(G)])).write_h5ad(h5ad)
    design = str(rng.choice(["~ group", "~ batch + group", "~ group + batch"]))
    for engine, run in (("deseq2", run_de), ("voom", run_de_voom), ("edger", run_de_edger)):
        de = {**de_defaults(), "engine": engine, "min_count": int(rng.choice([0, 1, 10])),
              "min_samples": int(rng.choice([1, 2, 3])), "lfc_threshold": float(rng.choice([0, 0, 0.5]))}
        if rng.random() < 0.5 and "batch" in design:
            de.update(test="lrt", reduced="~ batch")
        if engine == "deseq2":
            de.update(size_factors=str(rng.choice(["ratio", "poscounts"])),
                      fit_type=str(rng.choice(["parametric", "local", "mean"])), shrink=bool(rng.random() < 0.3))
        elif engine == "voom":
            de.update(sample_weights=bool(rng.random() < 0.3), trend=bool(rng.random() < 0.3),
                      robust=bool(rng.random() < 0.2))
            if "batch" not in design and rng.random() < 0.3:
                de["block"] = "batch"
        else:
            de["robust"] = bool(rng.random() < 0.3)
        spec = {"contrasts": {"b_vs_a": {"variable": "group", "target": "b", "reference": "a"}}, "design": design,
                "de": de, "qc": {"exclude": []},
                "paracrine": {"enabled": True, "robustness": True, "factors": str(FACTORS),
                              "robustness_refit": str(rng.choice(["held_prior", "full"]))}}
        params = {"spec": spec, "cell_types": {"T": "T"}, "name": "fuzz",
                  "design_columns": ["group", "batch"] if "batch" in design else ["group"]}
        outputs = {"b_vs_a": {k: str(folder / f"b_vs_a.{k}.tsv") for k in OUTPUT_KINDS}}
        lrt = {"table": str(folder / "lrt.tsv"), "summary": str(folder / "lrt.s.tsv")} if de["test"] == "lrt" else None
        own = {"dispersions": str(folder / "d.tsv")} if engine != "voom" else {
            "sample_weights": str(folder / "w.tsv") if de["sample_weights"] else None,
            "block": str(folder / "b.tsv") if de.get("block") else None}
        for cell_type in ("T", None):
            label = f"{engine} {design} bend {bend} n {n} G {G} {'pseudobulk' if cell_type else 'bulk'} {de}"
            yield label, lambda run=run, params=params, outputs=outputs, lrt=lrt, own=own, cell_type=cell_type: run(
                str(h5ad), params, outputs, lrt=lrt, cell_type=cell_type, **own)


def protein_trial(rng, folder: Path):
    """One protein matrix through limma's fit (the valid-value filter applied, as preprocessing does)."""
    n, P = int(rng.integers(4, 13)), int(rng.choice([2, 5, 12, 40, 300]))
    group = np.array(["a", "b", "c"][: int(rng.integers(2, 4))] * n)[:n]
    rng.shuffle(group)
    sheet = pd.DataFrame({"group": group, "batch": rng.choice(["x", "y"], n), "rep": [f"r{i % 3}" for i in range(n)]},
                         index=[f"s{i}" for i in range(n)])
    sd = np.sqrt(rng.uniform(0.01, 1) * 4 / rng.chisquare(4, P)) if rng.random() < 0.7 else np.full(P, 0.3)
    Y = 20 + rng.normal(0, 1, (P, n)) * sd[:, None]
    Y[rng.random((P, n)) < rng.uniform(0, 0.6)] = np.nan
    values = pd.DataFrame(Y, index=[f"p{i}" for i in range(P)], columns=sheet.index)
    per = pd.DataFrame({g: values.loc[:, group == g].notna().sum(axis=1) for g in set(group)})
    k = int(rng.choice([1, 2]))
    values = values[(per >= k).all(axis=1) if rng.random() < 0.5 else (per >= k).any(axis=1)]
    design = str(rng.choice(["~ group", "~ batch + group"]))
    cols = ["group", "batch"] if "batch" in design else ["group"]
    meta = design_metadata(sheet, cols, None)
    X = np.asarray(limma.design_matrix(meta, design))
    if len(values) == 0 or np.linalg.matrix_rank(X) < X.shape[1]:
        return  # the parse-time checks refuse these before any job
    contrasts = {f"{t}_vs_a": {"variable": "group", "target": t, "reference": "a"} for t in sorted(set(group) - {"a"})}
    meta = design_metadata(sheet, cols, contrasts)
    opts = {"lfc_threshold": float(rng.choice([0, 0.5])), "trend": bool(rng.random() < 0.4),
            "robust": bool(rng.random() < 0.3), "lm_method": str(rng.choice(["ls", "ls", "robust"]))}
    count = None
    if rng.random() < 0.3:
        opts["deqms"] = str(rng.choice(["loess", "nls", "spline"]))
        count = pd.Series(rng.integers(1, 30, len(values)), index=values.index)
    use_block = opts["lm_method"] == "ls" and rng.random() < 0.3

    def call():
        block = estimate_block(sheet["rep"], values, np.asarray(limma.design_matrix(meta, design))) if use_block else None
        limma.contrast_tables(values, meta, design, contrasts, opts, count, None, block)
    yield f"limma {design} n {n} proteins {len(values)} block {use_block} {opts}", call


def preprocessing_trial(rng, folder: Path):
    """One protein matrix (linear intensities, up to 70 % missing, a sample nearly empty at times) through the
    proteomics preprocessing: every normalisation and imputation, their parameters drawn."""
    n, P = int(rng.integers(3, 13)), int(rng.choice([1, 3, 8, 40, 300]))
    groups = pd.Series(np.array(["a", "b", "c"][: int(rng.integers(1, 4))] * n)[:n], index=[f"s{i}" for i in range(n)])
    Y = 2 ** rng.normal(24, 2, (P, n))
    Y[rng.random((P, n)) < rng.uniform(0, 0.7)] = 0
    if rng.random() < 0.2:
        Y[:, 0][rng.random(P) < 0.95] = 0
    if rng.random() < 0.1:
        Y[: max(1, P // 2)] = Y[0]  # identical proteins
    raw = pd.DataFrame(Y, index=[f"p{i}" for i in range(P)], columns=groups.index)
    opts = {"min_valid": int(rng.integers(1, 4)), "min_valid_in": str(rng.choice(["each", "any"])),
            "normalize": str(rng.choice(["median", "quantile", "cyclicloess", "none"])),
            "impute": str(rng.choice(["none", "downshift", "mindet", "minprob", "qrilc", "knn", "svd", "bpca", "mle",
                                      "mar_mnar"])),
            "impute_k": int(rng.integers(1, 12)), "impute_pcs": int(rng.integers(1, 4)),
            "impute_mar_method": str(rng.choice(["knn", "svd", "mle"])), "impute_shift": 1.8, "impute_width": 0.3,
            "impute_quantile": 0.01, "impute_tune_sigma": 1.0}
    yield f"preprocess n {n} proteins {P} {opts}", lambda: preprocess(raw, groups, opts, int(rng.integers(0, 100)))


def gsea_trial(rng, folder: Path):
    """One ranking and its sets through gseapy (multilevel or permutation)."""
    G = int(rng.choice([20, 100, 1000, 5000]))
    genes = [f"G{i}" for i in range(G)]
    kind = int(rng.integers(0, 6))
    score = rng.normal(0, 2, G)
    score = [score, np.round(score), np.zeros(G), np.abs(score), np.where(np.arange(G) < G // 10, 1e300, score),
             -np.abs(score)][kind]
    ranking = pd.Series(score, index=genes).sort_values(ascending=False)
    sets = {f"S{j}": list(rng.choice(genes + [f"X{i}" for i in range(50)], int(rng.integers(1, min(G, 300))),
                                     replace=False)) for j in range(int(rng.integers(1, 30)))}
    if rng.random() < 0.3:
        sets["TOP"] = list(ranking.index[:20])
    method = str(rng.choice(["multilevel", "permutation"]))
    yield f"gsea kind {kind} G {G} {method}", lambda: gsea(ranking, sets, min_size=int(rng.choice([1, 5, 15])),
                                                           permutations=int(rng.choice([10, 100])), method=method)


PARTS = {"counts": count_trial, "proteins": protein_trial, "preprocessing": preprocessing_trial, "gsea": gsea_trial}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=sorted(PARTS), action="append")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--traceback", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    tally = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for part in args.part or sorted(PARTS):
            for trial in range(args.start, args.start + args.trials):
                for label, call in PARTS[part](np.random.default_rng(trial), Path(tmp)):
                    try:
                        call()
                    except LsecflowError:
                        tally[(part, "LsecflowError")] += 1
                    except BaseException as exc:  # noqa: BLE001 -- gseapy's Rust panics are no Exception
                        if isinstance(exc, KeyboardInterrupt):
                            raise
                        where = traceback.extract_tb(exc.__traceback__)[-1]
                        key = (part, type(exc).__name__, f"{Path(where.filename).name}:{where.lineno}")
                        if key not in tally:
                            print(f"{part} trial {trial}: {type(exc).__name__}: {str(exc)[:200]}\n  {label}",
                                  flush=True)
                            if args.traceback:
                                traceback.print_exc()
                        tally[key] += 1
                    else:
                        tally[(part, "ok")] += 1
    print("tally:", dict(tally))


if __name__ == "__main__":
    main()
