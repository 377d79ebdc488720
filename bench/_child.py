"""Run a benchmark step in a fresh child process, so its peak RSS is its own."""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import resource
import time


def _wrapper(target, args, queue) -> None:
    t0 = time.perf_counter()
    extra = target(*args)
    queue.put((time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, extra))


def measure(target, *args) -> tuple[float, float, object]:
    """(wall seconds of ``target(*args)``, peak RSS in MiB of the child, what target returned)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_wrapper, args=(target, args, queue))
    proc.start()
    while True:  # a child that dies (an exception, the OOM killer) never answers: stop instead of waiting forever
        try:
            result = queue.get(timeout=2)
            break
        except queue_mod.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"benchmark child died with exit code {proc.exitcode} (its traceback is above)")
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"benchmark child failed with exit code {proc.exitcode}")
    return result


def ensure_made(path, make, *args) -> None:
    """Make the benchmark's input ``path`` with ``make(*args, path)`` in a child process unless it exists;
    print its size and the time taken."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        t0 = time.perf_counter()
        measure(make, *args, path)
        print(f"made {path} ({path.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - t0:.0f} s", flush=True)
