"""Run a benchmark step in a fresh child process, so its peak RSS is its own."""
from __future__ import annotations

import multiprocessing as mp
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
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise RuntimeError(f"benchmark child failed with exit code {proc.exitcode}")
    return result
