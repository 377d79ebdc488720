"""The shipped UPS1 MaxQuant tables bent as users' tables come, each bend once, through the parse-time checks, the
ingest job and the proteomics DE job (preprocessing, limma, the leave-one-out refits). Prints per bend: accepted,
refused (with the message) or CRASH (any exception that is not an LsecflowError).

Bends: text in an intensity ("Filtered", "1,234", "n. def."), a negative, infinite or huge intensity, a run
with no value, every run of a row 0, duplicated or empty ids, an empty gene name, "+" flags written otherwise
("TRUE", "x"), every row flagged, one row left, no protein through the valid-value filter, Windows line ends, a
UTF-8 byte-order mark; on the protein table (``--table proteins``, default) the count column (de.deqms) with
text, a zero or a missing value; on the peptide table (``--table peptides``: ups1_peptides, DEqMS on its peptide
counts) an empty leading razor protein and each summary with one protein's peptides left. ``--table report``: the
real DIA-NN report of tests/data/diann_report (three runs; a SYNTHETIC dose 1, 2, 3 only makes the config valid)
with its own bends: q-values, quantities, ids, runs and groups bent; ``--table report_parquet`` the same bends
written as DIA-NN 1.9+'s report.parquet (number columns typed, so text in them is a null; no line-end bends);
``--table peptide_table`` the UPS1 peptides as a generic peptide table (no flag columns; an empty protein);
``--table spectronaut`` the real Spectronaut pivot report of tests/data/spectronaut (no flag columns; its runs'
other columns left as they are).

    .venv/bin/python bench/fuzz_proteins.py [--table proteins|peptides|report|report_parquet|peptide_table|spectronaut]
                                            [--start 0] [--trials 20]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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

ACCEPTED = "accepted (ingest and DE)"
#: Per table: the file, its dataset, the file name written, its columns by role (run: one intensity column).
TABLES = {
    "proteins": {"path": REPO / "resources/data/ups1_spikein/proteinGroups_trimmed.tsv.gz",
                 "dataset": "ups1_spikein", "name": "proteinGroups.txt", "intensity": "LFQ intensity ",
                 "run": "LFQ intensity C_R1", "reference": ["LFQ intensity D_R1", "LFQ intensity D_R2",
                                                            "LFQ intensity D_R3"],
                 "id": "Protein IDs", "flags": ("Reverse", "Potential contaminant", "Only identified by site"),
                 "count": "Razor + unique peptides"},
    "peptides": {"path": REPO / "resources/data/ups1_peptides/peptides_trimmed.tsv.gz",
                 "dataset": "ups1_peptides", "name": "peptides.txt", "intensity": "Intensity ",
                 "run": "Intensity 100_R1", "reference": ["Intensity 10_R1", "Intensity 10_R2", "Intensity 10_R3"],
                 "id": "Sequence", "flags": ("Reverse", "Potential contaminant"), "count": None},
    "report": {"path": REPO / "tests/data/diann_report/report_trimmed.tsv.gz", "dataset": None,
               "name": "report.tsv", "intensity": "Precursor.Normalised", "run": "Precursor.Normalised",
               "id": "Precursor.Id", "flags": (), "count": None},
}
TABLES["report_parquet"] = dict(TABLES["report"], name="report.parquet")
#: The UPS1 peptides as a generic peptide_table (flagged rows left out, as a user filters them; the sheet names
#: each sample's column).
TABLES["peptide_table"] = dict(TABLES["peptides"], name="peptides.tsv", id="Peptide Sequence", protein="Protein",
                               flags=())
#: Spectronaut's pivot report of two mixes (real; its sheet and a minimal config).
TABLES["spectronaut"] = {"path": REPO / "tests/data/spectronaut/pg_pivot.tsv", "dataset": None, "name": "Report.tsv",
                         "intensity": "[", "suffix": ".PG.Quantity",
                         "run": "[4] LFQ_24min_500ng_2Th_3ms_B_01.raw.PG.Quantity",
                         "reference": [f"[{i}] LFQ_24min_500ng_2Th_3ms_A_0{i}.raw.PG.Quantity" for i in (1, 2, 3)],
                         "id": "PG.ProteinGroups", "Gene names": "PG.Genes", "flags": (), "count": None}
GENERIC_KEYS = {"id_column": "Peptide Sequence", "protein_column": "Protein", "gene_column": "Gene names",
                "column_key": "column"}
#: A parquet report's number columns (typed there: a bend's text in them is a null).
REPORT_NUMBERS = ("Q.Value", "PG.Q.Value", "Protein.Q.Value", "GG.Q.Value", "PG.Quantity", "PG.Normalised",
                  "Genes.MaxLFQ", "Precursor.Quantity", "Precursor.Normalised", "Proteotypic")
#: The report's runs as samples, and the SYNTHETIC dose that makes its config valid.
REPORT_SHEET = "sample\tdose\nKL_Try_001_a\t1\nKL_Try_001_b\t2\nKL_Try_001_c\t3\n"
#: The table being bent (``--table``).
TABLE = dict(TABLES["proteins"], kind="proteins")


def _kept(t) -> int:
    """The first row the search engine did not flag and that has a value (a bend there reaches the analysis)."""
    clean = (t[list(TABLE["flags"])] == "").all(axis=1) & (t[_intensities(t)].fillna(0) > 0).any(axis=1)
    return int(clean.to_numpy().argmax())


def _cell(role, value):
    def bend(t):
        column = TABLE.get(role, role)
        t[column] = t[column].astype(object)
        t.iloc[_kept(t), t.columns.get_loc(column)] = value
        return t
    return bend


def _column(role, value):
    def bend(t):
        t[TABLE.get(role, role)] = value
        return t
    return bend


def _intensities(t) -> list[str]:
    return [c for c in t.columns if c.startswith(TABLE["intensity"]) and c.endswith(TABLE.get("suffix", ""))]


def _protein_zero(t):
    t.loc[t.index[_kept(t)], _intensities(t)] = 0
    return t


def _duplicate_id(t):
    i, column = _kept(t), t.columns.get_loc(TABLE["id"])
    t.iloc[i + 1, column] = t.iloc[i, column]
    return t


def _no_valid(t):
    """Each reference run keeps its value in a different single row: no protein has 2 values in that group."""
    for i, run in enumerate(TABLE["reference"]):
        keep = t[run].iloc[_kept(t) + i]
        t[run] = 0
        t.iloc[_kept(t) + i, t.columns.get_loc(run)] = keep
    return t


def _one_protein(summary):
    """The peptides of the first kept peptide's protein alone, summarised by ``summary``."""
    def bend(t):
        column = TABLE.get("protein", "Leading razor protein")
        protein = t[column].iloc[_kept(t)]
        t = t[t[column] == protein].copy()
        t.attrs["summarise"] = summary
        return t
    return bend


COMMON = {
    "text in an intensity (Filtered)": _cell("run", "Filtered"),
    "a thousands separator (1,234)": _cell("run", "1,234"),
    "n. def. in an intensity": _cell("run", "n. def."),
    "a negative intensity": _cell("run", -5.0),
    "an infinite intensity": _cell("run", float("inf")),
    "a huge intensity (1e300)": _cell("run", 1e300),
    "a run with no value": _column("run", 0),
    "every run of a row 0": _protein_zero,
    "a duplicated id": _duplicate_id,
    "an empty id": _cell("id", ""),
    "an empty gene name": _cell("Gene names", ""),
    "flags written TRUE": _column("Reverse", "TRUE"),
    "every row flagged": _column("Potential contaminant", "+"),
    "one row left": lambda t: t.iloc[_kept(t):_kept(t) + 1].copy(),
    "no protein through the valid-value filter": _no_valid,
    "Windows line ends": lambda t: t.attrs.update(crlf=True) or t,
    "a byte-order mark": lambda t: t.attrs.update(bom=True) or t,
}
BENDS = {
    "proteins": {**COMMON,
                 "count column (deqms) with text": _cell("count", "many"),
                 "count column (deqms) with a 0": _cell("count", 0),
                 "count column (deqms) missing a value": _cell("count", None)},
    "report": {
        **{name: COMMON[name] for name in (  # its quantity column stands as the "intensity"
            "text in an intensity (Filtered)", "a negative intensity", "an infinite intensity",
            "a huge intensity (1e300)", "a run with no value", "every run of a row 0", "an empty id", "one row left",
            "Windows line ends", "a byte-order mark")},
        "an empty protein group": _cell("Protein.Group", ""),
        "an empty gene name": _cell("Genes", ""),
        "an empty q-value": _cell("Q.Value", ""),
        "a q-value as text": _cell("PG.Q.Value", "low"),
        "every q-value above the threshold": _column("Q.Value", "0.5"),
        "a row twice": lambda t: pd.concat([t, t.iloc[[_kept(t)]]]),
        "a precursor in two groups": lambda t: t.assign(**{"Protein.Group": t["Protein.Group"].where(
            t.index != 1, "P99999")}),
        "one run left": lambda t: t[t["File.Name"].str.endswith("_a.mzML.dia")].copy(),
        "runs renamed (another analysis)": _column("File.Name", "other.raw"),
        **{f"summarised by {s}": (lambda t, s=s: t.attrs.update(summarise=s) or t)
           for s in ("median_polish", "median_sweep", "maxlfq", "diann_maxlfq", "sum")},
    },
    "report_parquet": {},  # the report's, less the line-end bends (below)
    "peptides": {**COMMON,
                 "an empty leading razor protein": _cell("Leading razor protein", ""),
                 **{f"one protein's peptides alone, {s}": _one_protein(s)
                    for s in ("median_polish", "median_sweep", "diann_maxlfq", "sum")}},
}

BENDS["report_parquet"] = {k: v for k, v in BENDS["report"].items() if k not in ("Windows line ends",
                                                                                   "a byte-order mark")}
BENDS["spectronaut"] = {k: v for k, v in COMMON.items() if k not in ("flags written TRUE", "every row flagged")}
BENDS["peptide_table"] = {**{k: v for k, v in BENDS["peptides"].items() if k not in (
    "flags written TRUE", "every row flagged", "an empty leading razor protein")},
    "an empty protein": _cell("protein", "")}


def _table() -> pd.DataFrame:
    """The table bent: the file as it is, or (peptide_table) the UPS1 peptides in a generic layout."""
    table = pd.read_csv(TABLE["path"], sep="\t", dtype=str, keep_default_na=False)
    if TABLE["kind"] != "peptide_table":
        return table
    clean = table[(table["Reverse"] == "") & (table["Potential contaminant"] == "")]
    return clean.drop(columns=["Reverse", "Potential contaminant", "Proteins", "id"]).rename(
        columns={"Sequence": "Peptide Sequence", "Leading razor protein": "Protein"}).reset_index(drop=True)


def _write(table: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        typed = table.assign(**{c: pd.to_numeric(table[c], errors="coerce") for c in REPORT_NUMBERS})
        pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), path)
        return
    text = table.to_csv(sep="\t", index=False, lineterminator="\r\n" if table.attrs.get("crlf") else "\n")
    path.write_text(text, encoding="utf-8-sig" if table.attrs.get("bom") else "utf-8")


def run(name: str, folder: Path) -> str:
    table = _table()
    for c in _intensities(table) + ([TABLE["count"]] if TABLE["count"] else []):
        lenient = TABLE["kind"].startswith(("report", "spectronaut"))  # their files have text in number columns
        table[c] = pd.to_numeric(table[c], errors="coerce" if lenient else "raise")
    table = BENDS[TABLE["kind"]][name](table)
    path = folder / TABLE["name"]
    _write(table, path)
    if TABLE["dataset"]:
        spec = yaml.safe_load((REPO / f"config/datasets/{TABLE['dataset']}.yaml").read_text())
        spec["samples"]["sheet"] = str(REPO / spec["samples"]["sheet"])
    elif TABLE["kind"] == "spectronaut":
        spec = {"assay": "proteomics", "species": "human", "gene_ids": "protein", "counts": {},
                "samples": {"sheet": str(REPO / "tests/data/spectronaut/sheet.tsv")}, "proteomics": {},
                "design": "~ condition",
                "contrasts": {"b_vs_a": {"variable": "condition", "target": "Mix_B", "reference": "Mix_A"}}}
    else:  # the report: its own sheet and a minimal config
        (folder / "sheet.tsv").write_text(REPORT_SHEET)
        spec = {"assay": "proteomics", "species": "human", "gene_ids": "protein", "counts": {},
                "samples": {"sheet": str(folder / "sheet.tsv")}, "proteomics": {"min_valid": 1}, "numeric": ["dose"],
                "design": "~ dose", "contrasts": {"per_dose": {"variable": "dose"}}}
    spec["counts"]["path"] = str(path)
    if TABLE["kind"] == "peptide_table":
        sheet = pd.read_csv(spec["samples"]["sheet"], sep="\t")
        sheet.assign(column="Intensity " + sheet["sample"].astype(str)).to_csv(folder / "sheet.tsv", sep="\t",
                                                                              index=False)
        spec["samples"]["sheet"] = str(folder / "sheet.tsv")
        spec["counts"]["format"] = "peptide_table"
        spec["proteomics"].pop("intensity", None)
        spec["proteomics"].update(GENERIC_KEYS)
    if "summarise" in table.attrs:
        spec["proteomics"]["summarise"] = table.attrs["summarise"]
    if "deqms" in name:
        spec["proteomics"]["count_column"] = TABLE["count"]
        spec.setdefault("de", {})["deqms"] = True
    ds = load_config({"results": str(folder / "results"), "datasets": {"ups1": spec}}, roots=[REPO]).datasets["ups1"]
    out = folder / "counts.h5ad"
    run_ingest(guard_params(ds.params(rule="ingest")), str(out))
    outputs = {c: {k: str(folder / f"{c}.{k}.tsv") for k in OUTPUT_KINDS} for c in ds.contrasts}
    run_de_proteomics(str(out), ds.params(rule="de"), outputs)
    return ACCEPTED


def main() -> None:
    parser = trial_arguments(__doc__, max(len(b) for b in BENDS.values()))
    parser.add_argument("--table", choices=list(TABLES), default="proteins")
    args = parser.parse_args()
    TABLE.clear()
    TABLE.update(TABLES[args.table], kind=args.table)
    run_each_bend(list(BENDS[args.table]), run, args, ACCEPTED)


if __name__ == "__main__":
    main()
