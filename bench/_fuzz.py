"""The trial loop the fuzz benches share: each trial either passes, is refused with a message for the user (an
:class:`~lsecflow.errors.LsecflowError`), or crashes (anything else: a traceback a user would see)."""
from __future__ import annotations

import argparse
import collections
import logging
import re
import tempfile
import traceback
import warnings
from pathlib import Path

from lsecflow.errors import LsecflowError


def run_trials(trial, start: int, n: int, show_traceback: bool = False):
    """``trial(t, bends)`` for each trial number ``t`` in ``start .. start + n`` (``bends``: a list the trial fills
    with what it bent, so a refusal or crash can be told apart). Returns (accepted ``[(t, bends)]``, refused
    ``[(t, bends, message)]`` with temporary folders written ``<tmp>``, crashes ``{"Type: message": [t, ...]}``);
    with ``show_traceback`` the first traceback of each kind of crash is printed."""
    accepted, refused, crashes = [], [], collections.defaultdict(list)
    for t in range(start, start + n):
        bends: list[str] = []
        try:
            trial(t, bends)
            accepted.append((t, bends))
        except LsecflowError as exc:
            refused.append((t, bends, re.sub(r"/tmp/tmp\w+", "<tmp>", str(exc))))
        except Exception as exc:  # noqa: BLE001 -- the point: anything else is a crash
            key = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}"
            crashes[key].append(t)
            if show_traceback and len(crashes[key]) == 1:
                traceback.print_exc()
    return accepted, refused, crashes


def print_crashes(n: int, accepted, refused, crashes) -> None:
    """The tally line and each kind of crash with the trials that raised it (a trial reproduces)."""
    print(f"\n{n} trials: {len(accepted)} accepted, {len(refused)} refused, "
          f"{sum(len(v) for v in crashes.values())} crashed")
    for k, v in crashes.items():
        print(f"  {len(v):4d}  {k}  (trials {v[:8]})")


def trial_arguments(doc: str, trials: int) -> argparse.ArgumentParser:
    """The options every fuzz bench takes (--trials, --start, --traceback); a bench adds its own. Parsing them
    also quiets the logs and warnings of the trials (their refusals are the output)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--trials", type=int, default=trials)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--traceback", action="store_true")
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    return parser


def run_each_bend(names: list[str], run_one, args, accepted_text: str) -> None:
    """One trial per bend of ``names`` from ``args.start`` (``run_one(name, folder)`` in a fresh temporary
    folder), then each bend's outcome -- ``accepted_text``, refused with the message's first line, or CRASH --
    and the tally."""
    def trial(t: int, bends: list[str]) -> None:
        bends.append(names[t])
        with tempfile.TemporaryDirectory() as tmp:
            run_one(names[t], Path(tmp))

    accepted, refused, crashes = run_trials(trial, args.start, min(args.trials, len(names) - args.start),
                                            args.traceback)
    outcome = {t: accepted_text for t, _ in accepted}
    outcome.update({t: "refused: " + m.splitlines()[0][:220] for t, _, m in refused})
    outcome.update({t: f"CRASH {k}" for k, ts in crashes.items() for t in ts})
    width = max(len(n) for n in names) + 1
    for t in sorted(outcome):
        print(f"{names[t]:{width}s} {outcome[t]}")
    print_crashes(len(outcome), accepted, refused, crashes)
