"""Make pg_pivot.tsv from einprot's Spectronaut example (MIT; github fmicompbio/einprot @2235ab6,
inst/extdata/spectronaut_example/SN_unit_test_subset.tsv): a real Spectronaut 20.4 protein-group pivot report
(directDIA, 200 protein groups x 6 runs), whose header einprot saved after R's read.delim had made syntactic
names of it ('[1] run.raw.PG.Quantity' -> 'X.1..run.raw.PG.Quantity', '(Run-Wise)' -> '..Run.Wise.'). This
script writes Spectronaut's own names back; no value is touched (the body is copied byte for byte).

    python tests/data/spectronaut/restore_header.py \
        <einprot checkout>/inst/extdata/spectronaut_example/SN_unit_test_subset.tsv
"""
import re
import sys
from pathlib import Path

SUFFIXES = {"..Run.Wise.": " (Run-Wise)", "..Experiment.wide.": " (Experiment-wide)"}


def restore(name: str) -> str:
    """Spectronaut's column name from R's syntactic one."""
    for mangled, original in SUFFIXES.items():
        if name.endswith(mangled):
            name = name[: -len(mangled)] + original
    return re.sub(r"^X\.(\d+)\.\.", r"[\1] ", name)


if __name__ == "__main__":
    source = Path(sys.argv[1]).read_text()
    header, body = source.split("\n", 1)
    out = Path(__file__).with_name("pg_pivot.tsv")
    out.write_text("\t".join(restore(c) for c in header.split("\t")) + "\n" + body)
    print(out, len(body.splitlines()), "rows")
