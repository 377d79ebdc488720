"""``python -m lsecflow.summary --configfile config/config.yaml``: where the results are."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml

from .calls import composition_calls, flagged_candidates, passing_candidates, sizes_note
from .job_warnings import collect, summary_lines, units_in


def summarize_results(config: dict, root: Path = Path(".")) -> str:
    """A short text: per dataset, the result folder and DE up/down counts."""
    results = Path(config.get("results", "results"))
    lines = ["", "lsecflow finished. Results:"]
    for name in config["datasets"]:
        folder = root / results / name
        lines.append(f"  {name}: {folder.resolve()}")
        for summ in sorted(folder.glob("de/**/*.summary.tsv")):
            row = pd.read_csv(summ, sep="\t").iloc[0]
            rel = summ.relative_to(folder / "de").as_posix().removesuffix(".summary.tsv")
            status = row.get("status", "tested")
            if status != "tested":
                lines.append(f"    DE {rel}: {status}")
            elif "significant" in row:  # design.lrt.summary.tsv
                lines.append(f"    DE {rel}: {row['test']}, {row['significant']} genes at padj < {row['alpha']}")
            else:
                lines.append(f"    DE {rel}: {row['up']} up, {row['down']} down (padj < {row['alpha']}{sizes_note(row)})")
        for cand in sorted(folder.glob("paracrine/**/*.candidates.tsv")):
            table = pd.read_csv(cand, sep="\t")
            flagged = flagged_candidates(table)
            passing = passing_candidates(flagged)
            rel = cand.relative_to(folder / "paracrine").as_posix().removesuffix(".candidates.tsv")
            top = passing.head(5)
            names = ", ".join(f"{s} ({c})" for s, c in zip(top["symbol"], top["class"])) or "none"
            lines.append(f"    paracrine {rel}: {len(flagged)} flagged, {len(passing)} pass the checks; top: {names}")
        lines.extend(_composition_lines(folder / "composition" / "propeller.tsv"))
    report = root / results / "report.html"
    lines.append(f"  report: {report.resolve() if report.exists() else 'not built yet (README, Status)'}")
    lines.append("  logs: logs/<rule>/...")
    lines.extend(summary_lines(collect(root / "logs", units_in(root / results, config["datasets"]))))
    return "\n".join(lines)


def _composition_lines(table: Path) -> list[str]:
    """Single-cell: per contrast of ``composition/propeller.tsv``, how many cell types change in share."""
    if not table.exists():
        return []
    return [f"    composition {contrast}: {len(said)} of {n} cell types change in share (padj < de.alpha)"
            f"{': ' + ', '.join(said) if said else ''}"
            for contrast, n, said in composition_calls(pd.read_csv(table, sep="\t"))]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configfile", default="config/config.yaml")
    args = parser.parse_args(argv)
    with open(args.configfile) as fh:
        print(summarize_results(yaml.safe_load(fh)))


if __name__ == "__main__":
    main()
