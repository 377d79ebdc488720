"""Glue between Snakemake scripts and lsecflow functions (logging, errors)."""
from __future__ import annotations

import logging
import sys
import traceback

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
    clear message (an ``OSError`` -- a folder not writable, a full disk -- too,
    with its traceback in the log file only) and the job exits non-zero (Snakemake then removes the
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
    except OSError as exc:  # a folder not writable, a full disk: one message; the traceback in the job's log only
        log.error("cannot read or write %s: %s (%s); check that the folder exists and is writable and that the disk "
                  "is not full", exc.filename or "a file", exc.strerror or exc, type(exc).__name__)
        if len(snakemake.log):
            for handler in logging.getLogger().handlers:
                handler.flush()
            with open(snakemake.log[0], "a") as fh:  # after the last line the log handler writes
                traceback.print_exc(file=fh)
        sys.exit(1)
    log.info("rule %s finished", snakemake.rule)
    return result


def chain_handlers(workflow, **handlers) -> None:
    """Run lsecflow's ``onstart`` / ``onsuccess`` / ``onerror`` when it is imported as a Snakemake module.

    Snakemake 9 keeps only the main Snakefile's handlers (``Workflow.onsuccess`` stores a module's in the
    module's namespace, where nothing calls it). This chains each of lsecflow's after the importer's
    handler registered so far (Snakemake's private ``Workflow._onstart`` etc.; the pinned 9.27 is tested
    by tests/workflow/test_module.py). An importer that defines its own handler after the ``use rule``
    line replaces the chain, as it would replace any earlier handler.

    Parameters
    ----------
    workflow
        Snakemake's ``workflow`` object.
    **handlers
        ``onstart=``, ``onsuccess=``, ``onerror=``: functions of Snakemake's ``log`` argument.
    """
    for name, ours in handlers.items():
        attribute = f"_{name}"
        theirs = getattr(workflow, attribute)

        def both(log, theirs=theirs, ours=ours):
            theirs(log)
            ours(log)

        setattr(workflow, attribute, both)
