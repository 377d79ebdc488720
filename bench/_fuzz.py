"""The trial loop the fuzz benches share: each trial either passes, is refused with a message for the user (an
:class:`~lsecflow.errors.LsecflowError`), or crashes (anything else: a traceback a user would see)."""
from __future__ import annotations

import argparse
import collections
import logging
import re
import traceback
import warnings

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
