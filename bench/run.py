"""Where a finished run spent its time: the ten costliest jobs and the share of start-up.

Every rule writes Snakemake's own benchmark (``benchmarks/<rule>/...tsv``:
wall seconds, peak RSS, I/O) next to its log (``logs/<rule>/...log``). A
job's *work* is the span between the first and the last time-stamped line of
its log (lsecflow logs when a rule starts and finishes); the rest of its wall
time is *start-up*: a new Python, imports (pandas, anndata, matplotlib,
scanpy, inmoose), Snakemake's script wrapper.

    .venv/bin/python bench/run.py [RUN_FOLDER] [--top 10]

RUN_FOLDER is where Snakemake ran (default: the current folder). Snakemake's
own elapsed time for the run is read from the newest ``.snakemake/log/``.
"""
from __future__ import annotations

import argparse
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
ELAPSED = re.compile(r"Elapsed time: (?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)")


def log_work_seconds(log: Path) -> float | None:
    """Seconds between the first and the last time-stamped line of a job's log (None without two stamps)."""
    if not log.exists():
        return None
    stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
              for line in log.read_text(errors="replace").splitlines() if (m := STAMP.match(line))]
    return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) >= 2 else None


def job_table(run: Path) -> pd.DataFrame:
    """One row per benchmarked job: rule, job, wall_s, work_s, startup_s, max_rss_mib."""
    rows = []
    for tsv in sorted((run / "benchmarks").rglob("*.tsv")):
        rel = tsv.relative_to(run / "benchmarks")
        bench = pd.read_csv(tsv, sep="\t")
        wall = float(bench["s"].iloc[-1])
        work = log_work_seconds(run / "logs" / rel.with_suffix(".log"))
        rows.append({"rule": rel.parts[0], "job": rel.with_suffix("").as_posix(), "wall_s": wall,
                     "work_s": work, "startup_s": None if work is None else max(wall - work, 0.0),
                     "max_rss_mib": pd.to_numeric(bench["max_rss"], errors="coerce").iloc[-1]})
    return pd.DataFrame(rows, columns=["rule", "job", "wall_s", "work_s", "startup_s", "max_rss_mib"])


def snakemake_elapsed(run: Path) -> float | None:
    """Snakemake's 'Elapsed time' of the newest run log, in seconds."""
    logs = sorted((run / ".snakemake" / "log").glob("*.snakemake.log"))
    for log in reversed(logs):
        m = ELAPSED.search(log.read_text(errors="replace"))
        if m:
            days, h, mnt, sec = m.groups()
            return int(days or 0) * 86400 + int(h) * 3600 + int(mnt) * 60 + float(sec)
    return None


def summary(run: Path, top: int = 10) -> str:
    jobs = job_table(run)
    if jobs.empty:
        return f"no benchmarks under {run / 'benchmarks'} (run the workflow first)"
    lines = []
    elapsed = snakemake_elapsed(run)
    if elapsed is not None:
        lines.append(f"Snakemake elapsed time: {elapsed:.1f} s")
    known = jobs.dropna(subset=["work_s"])
    total, startup = jobs["wall_s"].sum(), known["startup_s"].sum()
    lines.append(f"{len(jobs)} jobs, {total:.1f} s of job wall time; start-up {startup:.1f} s "
                 f"({100 * startup / known['wall_s'].sum():.0f} % of the {len(known)} jobs with a time-stamped log)")
    per_rule = jobs.groupby("rule").agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), startup_s=("startup_s", "sum"))
    lines.append("per rule (wall s, start-up s, jobs):")
    for rule, row in per_rule.sort_values("wall_s", ascending=False).iterrows():
        lines.append(f"  {rule:22s} {row['wall_s']:7.1f} {row['startup_s']:7.1f} {int(row['jobs']):4d}")
    lines.append(f"the {top} costliest jobs (wall s, work s, peak RSS MiB):")
    for row in jobs.sort_values("wall_s", ascending=False).head(top).itertuples():
        work = "   n/a" if pd.isna(row.work_s) else f"{row.work_s:6.1f}"
        lines.append(f"  {row.job:60s} {row.wall_s:6.1f} {work} {row.max_rss_mib:7.0f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", default=".", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    print(summary(args.run, args.top))


if __name__ == "__main__":
    main()
