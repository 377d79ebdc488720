"""Users' sample sheets and count tables bent as they come in, through the parse-time checks (``load_config``) and
the ingest job (``run_ingest``): every exception that is not an :class:`~lsecflow.errors.LsecflowError` (a message
for the user) is a crash, and every bend the workflow accepts is listed, so that a silent acceptance of bad data
shows too.

Real data bent: the shipped DLPC sheet and the first ``--genes`` genes of its counts; each trial applies one to
three bends (seeded per trial; a trial reproduces) -- a byte-order mark, Windows line ends, blank or comment
lines, stray spaces, duplicated, missing or extra samples, empty and NA cells, other delimiters, numeric or
re-cased sample names, Latin-1 bytes, a count that is negative, fractional, missing, infinite or text, duplicated
or empty gene ids, an annotation column as nf-core's tables have, a transposed or uncompressed table.

    .venv/bin/python bench/fuzz_inputs.py [--trials 200] [--start 0] [--genes 300] [--traceback]
"""
from __future__ import annotations

import collections
import gzip
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))
from _fuzz import print_crashes, run_trials, trial_arguments  # noqa: E402
from lsecflow.config import load_config  # noqa: E402
from lsecflow.ingest import run_ingest  # noqa: E402
from lsecflow.rule_params import guard_params  # noqa: E402


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def _row(rng, lines: list[str]) -> int:
    """A data row (not the header); the only line where an earlier bend left one (CR line ends)."""
    return int(rng.integers(1, len(lines))) if len(lines) > 1 else 0


# -- bends of the sheet (text) and of the counts (text or frame) -------------------------------------------------

def s_bom(rng, t):
    return "\ufeff" + t


def s_crlf(rng, t):
    return t.replace("\n", "\r\n")


def s_space(rng, t):
    lines = _lines(t)
    i = _row(rng, lines)
    cells = lines[i].split("\t")
    j = int(rng.integers(0, len(cells)))
    cells[j] = cells[j] + " " if rng.random() < 0.5 else " " + cells[j]
    lines[i] = "\t".join(cells)
    return "\n".join(lines) + "\n"


def s_blank(rng, t):
    lines = _lines(t)
    lines.insert(_row(rng, lines), "")
    return "\n".join(lines) + "\n"


def s_comment(rng, t):
    lines = _lines(t)
    lines.insert(int(rng.integers(0, len(lines))), "# a note")
    return "\n".join(lines) + "\n"


def s_duplicate(rng, t):
    lines = _lines(t)
    lines.append(lines[_row(rng, lines)])
    return "\n".join(lines) + "\n"


def s_drop(rng, t):
    lines = _lines(t)
    del lines[_row(rng, lines)]
    return "\n".join(lines) + "\n"


def s_extra(rng, t):
    return t + "SampleX\tChow\n"


def s_empty_cell(rng, t):
    lines = _lines(t)
    i = _row(rng, lines)
    lines[i] = lines[i].split("\t")[0] + "\t" + rng.choice(["", "NA", "nan", " "])
    return "\n".join(lines) + "\n"


def s_delimiter(rng, t):
    return t.replace("\t", rng.choice([",", ";", " "]))


def s_recase(rng, t):
    lines = _lines(t)
    i = _row(rng, lines)
    lines[i] = lines[i].replace("Sample", "sample", 1)
    return "\n".join(lines) + "\n"


def s_header(rng, t):
    lines = _lines(t)
    lines[0] = rng.choice(["Sample\tGroup", "sample\tgroup", "sample\tGroup\tGroup", "\tGroup", "sample"])
    return "\n".join(lines) + "\n"


def s_latin1(rng, t):
    return t.replace("Disease\n", "Diseasé\n", 1)


def s_quotes(rng, t):
    lines = _lines(t)
    return "\n".join('\t'.join(f'"{c}"' for c in line.split("\t")) for line in lines) + "\n"


def s_extra_column(rng, t):
    lines = _lines(t)
    vals = ["age"] + [rng.choice(["3", "x", "", "4.5", "NA"]) for _ in lines[1:]]
    return "\n".join(f"{line}\t{v}" for line, v in zip(lines, vals)) + "\n"


def s_header_only(rng, t):
    return _lines(t)[0] + "\n"


SHEET_BENDS = [s_bom, s_crlf, s_space, s_blank, s_comment, s_duplicate, s_drop, s_extra, s_empty_cell, s_delimiter,
               s_recase, s_header, s_latin1, s_quotes, s_extra_column, s_header_only]


def c_negative(rng, df):
    df.iat[int(rng.integers(0, len(df))), int(rng.integers(0, df.shape[1]))] = -3
    return df


def c_fraction(rng, df):
    df = df.astype(float)
    df.iat[int(rng.integers(0, len(df))), int(rng.integers(0, df.shape[1]))] = 2.5
    return df


def c_missing(rng, df):
    df = df.astype(object)
    df.iat[int(rng.integers(0, len(df))), int(rng.integers(0, df.shape[1]))] = rng.choice(["", "NA", "nan", "inf",
                                                                                          "-", "1e3", "12 "])
    return df


def c_duplicate_gene(rng, df):
    ids = df.index.to_list()
    ids[int(rng.integers(1, len(ids)))] = ids[0]
    df.index = ids
    return df


def c_empty_gene(rng, df):
    ids = df.index.to_list()
    ids[int(rng.integers(0, len(ids)))] = rng.choice(["", "NA", " "])
    df.index = ids
    return df


def c_annotation(rng, df):
    df.insert(0, rng.choice(["gene_name", "symbol", "Description"]), [f"G{i}" for i in range(len(df))])
    return df


def c_zero_sample(rng, df):
    df.iloc[:, int(rng.integers(0, df.shape[1]))] = 0
    return df


def c_transpose(rng, df):
    return df.T


def c_huge(rng, df):
    df = df.astype(float)
    df.iat[0, 0] = 1e15
    return df


def c_duplicate_sample(rng, df):
    df = df.copy()
    cols = df.columns.to_list()
    cols[1] = cols[0]
    df.columns = cols
    return df


def c_shuffle(rng, df):
    return df[rng.permutation(df.columns)]


def c_unversioned(rng, df):
    df.index = [i.split(".")[0] for i in df.index]
    return df


def c_float_text(rng, df):
    return df.astype(float)  # "12.0" in every cell


COUNT_BENDS = [c_negative, c_fraction, c_missing, c_duplicate_gene, c_empty_gene, c_annotation, c_zero_sample,
               c_transpose, c_huge, c_duplicate_sample, c_shuffle, c_unversioned, c_float_text]
FILE_BENDS = ["plain_named_gz", "gz_named_plain", "crlf", "bom", "csv"]


def trial(rng, folder: Path, sheet_text: str, counts: pd.DataFrame, spec: dict, bends: list[str]) -> None:
    """One bent dataset through load_config and run_ingest (``bends``: filled with what was bent)."""
    k = int(rng.integers(1, 4))
    text, df, file_bends = sheet_text, counts.copy(), set()
    for _ in range(k):
        kind = rng.integers(0, 3)
        if kind == 0:
            f = SHEET_BENDS[int(rng.integers(0, len(SHEET_BENDS)))]
            text = f(rng, text)
        elif kind == 1:
            f = COUNT_BENDS[int(rng.integers(0, len(COUNT_BENDS)))]
            df = f(rng, df)
        else:
            f, fb = None, FILE_BENDS[int(rng.integers(0, len(FILE_BENDS)))]
            file_bends.add(fb)
        bends.append(f.__name__ if f else fb)
    sheet = folder / "sheet.tsv"
    sheet.write_bytes(text.encode("latin-1" if "s_latin1" in bends else "utf-8", errors="replace"))
    body = df.to_csv(sep="," if "csv" in file_bends else "\t")
    if "crlf" in file_bends:
        body = body.replace("\n", "\r\n")
    if "bom" in file_bends:
        body = "\ufeff" + body
    plain_gz, gz_plain = "plain_named_gz" in file_bends, "gz_named_plain" in file_bends
    path = folder / ("counts.tsv" if gz_plain and not plain_gz else "counts.tsv.gz")
    if plain_gz and not gz_plain:
        path.write_text(body)
    else:
        with gzip.open(path, "wt") as fh:
            fh.write(body)
    spec = dict(spec, counts=dict(spec["counts"], path=str(path)), samples=dict(spec["samples"], sheet=str(sheet)))
    cfg = {"results": str(folder / "results"), "datasets": {"d": spec}}
    config = load_config(cfg, roots=[folder, REPO], source=str(folder / "config.yaml"))
    out = folder / "results" / "d" / "counts.h5ad"
    out.parent.mkdir(parents=True, exist_ok=True)
    run_ingest(guard_params(config.datasets["d"].params(rule="ingest")), str(out))


def in_folder(t: int, bends: list[str], *args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trial(np.random.default_rng(t), Path(tmp), *args, bends)


def main() -> None:
    parser = trial_arguments(__doc__, 200)
    parser.add_argument("--genes", type=int, default=300)
    args = parser.parse_args()
    counts = pd.read_csv(REPO / "resources/data/dlpc_liver/counts.tsv.gz", sep="\t", index_col=0).head(args.genes)
    spec = yaml.safe_load((REPO / "config/datasets/dlpc_liver.yaml").read_text())
    sheet_text = (REPO / "config/samples/dlpc_liver.tsv").read_text()
    accepted, refused, crashes = run_trials(lambda t, bends: in_folder(t, bends, sheet_text, counts, spec),
                                            args.start, args.trials, args.traceback)
    by_bends = collections.defaultdict(list)
    for t, bends in accepted:
        by_bends[" + ".join(sorted(bends))].append(t)
    print("accepted bends:")
    for k, v in sorted(by_bends.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(v):4d}  {k}  (trials {v[:8]})")
    print("\nrefusals:")
    for k, v in collections.Counter(" + ".join(sorted(b)) + " -> " + m[:400] for _, b, m in refused).most_common():
        print(f"  {v:4d}  {k}")
    print_crashes(args.trials, accepted, refused, crashes)

if __name__ == "__main__":
    main()
