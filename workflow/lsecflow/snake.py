"""Glue between Snakemake scripts and lsecflow functions (logging, errors)."""
from __future__ import annotations

import logging
import sys

from .errors import LsecflowError
from .rule_params import guard_params


def setup_logging(log_path: str | None = None, level: int = logging.INFO) -> None:
    """Send lsecflow's log lines to ``log_path`` (if given) and to stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers, force=True)
    for noisy in ("fontTools", "matplotlib"):  # PDF font subsetting logs every table at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(snakemake, func, *args, **kwargs):
    """Run ``func`` for a Snakemake ``script:``, logging to the rule's log.

    An :class:`~lsecflow.errors.LsecflowError` is written to the log as one
    clear message and the job exits non-zero (Snakemake then removes the
    job's outputs, so nothing partial is left). Parameters cut for one rule
    (``Dataset.params(rule=...)``) reach ``func`` wrapped in
    :class:`~lsecflow.rule_params.ScopedSpec`.
    """
    args = tuple(guard_params(a) for a in args)
    kwargs = {k: guard_params(v) for k, v in kwargs.items()}
    setup_logging(snakemake.log[0] if len(snakemake.log) else None)
    log = logging.getLogger("lsecflow")
    import os

    job = os.environ.get("SLURM_JOB_ID")
    log.info("rule %s started%s", snakemake.rule, f" (SLURM job {job})" if job else "")
    try:
        result = func(*args, **kwargs)
    except LsecflowError as exc:
        log.error("%s", exc)
        sys.exit(1)
    log.info("rule %s finished", snakemake.rule)
    return result
