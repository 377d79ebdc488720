"""The shipped UPS1 MaxQuant table bent as users' protein tables come, each bend once, through the parse-time
checks, the ingest job and the proteomics DE job (preprocessing, limma, the leave-one-out refits). Prints per bend:
accepted, refused (with the message) or CRASH (any exception that is not an LsecflowError).

Bends: text in an intensity ("Filtered", "1,234", "n. def."), a negative, infinite or huge intensity, a run
with no value, every run of a protein 0, duplicated or empty protein ids, an empty gene name, "+" flags written
otherwise ("TRUE", "x"), every protein flagged, one protein left, no protein through the valid-value filter,
the count column (de.deqms) with text, a zero or a missing value, Windows line ends, a UTF-8 byte-order mark.

    .venv/bin/python bench/fuzz_proteins.py [--start 0] [--trials 20] [--traceback]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))
from _fuzz import run_each_bend, trial_arguments  # noqa: E402
from lsecflow.config import load_config  # noqa: E402
from lsecflow.de_files import OUTPUT_KINDS  # noqa: E402
from lsecflow.de_proteomics import run_de_proteomics  # noqa: E402
from lsecflow.ingest import run_ingest  # noqa: E402
from lsecflow.rule_params import guard_params  # noqa: E402

TABLE = REPO / "resources/data/ups1_spikein/proteinGroups_trimmed.tsv.gz"
ACCEPTED = "accepted (ingest and DE)"
RUN = "LFQ intensity C_R1"
FLAGS = ("Reverse", "Potential contaminant", "Only identified by site")
COUNT = "Razor + unique peptides"


def _kept(t) -> int:
    """The first row the search engine did not flag (a bend there reaches the analysis)."""
    return int((t[list(FLAGS)] == "").all(axis=1).to_numpy().argmax())


def _cell(column, value):
    def bend(t):
        t[column] = t[column].astype(object)
        t.iloc[_kept(t), t.columns.get_loc(column)] = value
        return t
    return bend


def _column(column, value):
    def bend(t):
        t[column] = value
        return t
    return bend


def _intensities(t) -> list[str]:
    return [c for c in t.columns if c.startswith("LFQ intensity ")]


def _protein_zero(t):
    t.loc[t.index[_kept(t)], _intensities(t)] = 0
    return t


def _duplicate_id(t):
    i = _kept(t)
    t.iloc[i + 1, t.columns.get_loc("Protein IDs")] = t.iloc[i, t.columns.get_loc("Protein IDs")]
    return t


def _no_valid(t):
    """Each fmol10 run keeps its value in a different single row: no protein has 2 values in that group."""
    runs = ["LFQ intensity D_R1", "LFQ intensity D_R2", "LFQ intensity D_R3"]
    for i, run in enumerate(runs):
        keep = t[run].iloc[_kept(t) + i]
        t[run] = 0
        t.iloc[_kept(t) + i, t.columns.get_loc(run)] = keep
    return t


BENDS = {
    "text in an intensity (Filtered)": _cell(RUN, "Filtered"),
    "a thousands separator (1,234)": _cell(RUN, "1,234"),
    "n. def. in an intensity": _cell(RUN, "n. def."),
    "a negative intensity": _cell(RUN, -5.0),
    "an infinite intensity": _cell(RUN, float("inf")),
    "a huge intensity (1e300)": _cell(RUN, 1e300),
    "a run with no value": _column(RUN, 0),
    "every run of a protein 0": _protein_zero,
    "a duplicated protein id": _duplicate_id,
    "an empty protein id": _cell("Protein IDs", ""),
    "an empty gene name": _cell("Gene names", ""),
    "flags written TRUE": _column("Reverse", "TRUE"),
    "every protein flagged": _column("Potential contaminant", "+"),
    "one protein left": lambda t: t.iloc[_kept(t):_kept(t) + 1].copy(),
    "no protein through the valid-value filter": _no_valid,
    "count column (deqms) with text": _cell(COUNT, "many"),
    "count column (deqms) with a 0": _cell(COUNT, 0),
    "count column (deqms) missing a value": _cell(COUNT, None),
    "Windows line ends": lambda t: t.attrs.update(crlf=True) or t,
    "a byte-order mark": lambda t: t.attrs.update(bom=True) or t,
}


def run(name: str, folder: Path) -> str:
    table = pd.read_csv(TABLE, sep="\t", dtype=str, keep_default_na=False)
    for c in _intensities(table) + [COUNT]:
        table[c] = pd.to_numeric(table[c])
    table = BENDS[name](table)
    text = table.to_csv(sep="\t", index=False, lineterminator="\r\n" if table.attrs.get("crlf") else "\n")
    path = folder / "proteinGroups.txt"
    path.write_text(text, encoding="utf-8-sig" if table.attrs.get("bom") else "utf-8")
    spec = yaml.safe_load((REPO / "config/datasets/ups1_spikein.yaml").read_text())
    spec["counts"]["path"] = str(path)
    spec["samples"]["sheet"] = str(REPO / spec["samples"]["sheet"])
    if "deqms" in name:
        spec["proteomics"]["count_column"] = COUNT
        spec.setdefault("de", {})["deqms"] = True
    ds = load_config({"results": str(folder / "results"), "datasets": {"ups1": spec}}, roots=[REPO]).datasets["ups1"]
    out = folder / "counts.h5ad"
    run_ingest(guard_params(ds.params(rule="ingest")), str(out))
    outputs = {c: {k: str(folder / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    run_de_proteomics(str(out), ds.params(rule="de"), outputs)
    return ACCEPTED


def main() -> None:
    args = trial_arguments(__doc__, len(BENDS)).parse_args()
    run_each_bend(list(BENDS), run, args, ACCEPTED)


if __name__ == "__main__":
    main()
