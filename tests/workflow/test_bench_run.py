"""bench/run.py: start-up share and the costliest jobs, on planted numbers and on a real finished run."""
from __future__ import annotations

import importlib.util

from helpers import REPO

spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench/run.py")


bench_run = importlib.util.module_from_spec(spec)


spec.loader.exec_module(bench_run)


HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _job(run, rel, wall, first, last, rss):
    (run / "benchmarks" / rel).parent.mkdir(parents=True, exist_ok=True)
    (run / "benchmarks" / f"{rel}.tsv").write_text(HEADER + f"{wall}\t0:00:{int(wall):02d}\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")
    (run / "logs" / rel).parent.mkdir(parents=True, exist_ok=True)
    (run / "logs" / f"{rel}.log").write_text(f"2026-12-01 10:00:{first:06.3f} INFO lsecflow: rule x started\n"
                                             "a line without a stamp\n"
                                             f"2026-12-01 10:00:{last:06.3f} INFO lsecflow: rule x finished\n"
                                             .replace(".", ","))


def test_planted_jobs(tmp_path):
    _job(tmp_path, "de/dlpc", 10.0, 1.0, 7.5, 400)          # work 6.5 s, start-up 3.5 s
    _job(tmp_path, "enrichment/dlpc/a/hallmark", 4.0, 0.0, 1.0, 300)  # work 1 s, start-up 3 s
    (tmp_path / ".snakemake/log").mkdir(parents=True)
    (tmp_path / ".snakemake/log/2026-12-01T100000.snakemake.log").write_text("...\nElapsed time: 0:01:05.5\n")
    jobs = bench_run.job_table(tmp_path).set_index("job")
    assert jobs.loc["de/dlpc", "work_s"] == 6.5 and jobs.loc["de/dlpc", "startup_s"] == 3.5
    assert jobs.loc["enrichment/dlpc/a/hallmark", "startup_s"] == 3.0
    assert bench_run.snakemake_elapsed(tmp_path) == 65.5
    text = bench_run.summary(tmp_path, top=1)
    assert "start-up 6.5 s (46 % of the 2 jobs" in text and "Snakemake elapsed time: 65.5 s" in text
    assert text.strip().splitlines()[-1].split()[0] == "de/dlpc"  # the costliest job


def test_every_job_of_a_real_run_is_benchmarked(finished_run):
    work, _, proc = finished_run
    jobs = bench_run.job_table(work)
    n_jobs = proc.stdout.count("Finished jobid") + proc.stderr.count("Finished jobid") - 1  # less the target rule all
    assert len(jobs) == n_jobs > 25
    assert jobs["work_s"].notna().all() and (jobs["wall_s"] > 0).all()
    assert set(jobs["rule"]) >= {"ingest", "qc_bulk", "de", "enrichment", "figures", "paracrine", "report"}
