"""Run a benchmark step in a fresh child process, so its peak RSS is its own."""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import resource
import subprocess
import time
from pathlib import Path


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


def alternate_with_r(kind: str, r_run, ours, args: tuple, repeats: int, agreement) -> None:
    """Time ``kind`` ``repeats`` times, R and lsecflow alternating: ``r_run(*args)`` -> (R's seconds, R's answer);
    ``ours(*args)`` in a fresh child (:func:`measure`) -> (our seconds, our answer). Prints each run (with
    ``agreement(ours, R's)``, a short text) and the ratio R / lsecflow of the medians."""
    import statistics

    r_times, our_times = [], []
    for _ in range(repeats):
        r_sec, r_answer = r_run(*args)
        _, rss, (sec, answer) = measure(ours, *args)
        r_times.append(r_sec)
        our_times.append(sec)
        print(f"{kind:8s}: R {r_sec:6.2f} s; lsecflow {sec:6.2f} s ({agreement(answer, r_answer)}, child peak RSS "
              f"{rss:.0f} MiB)", flush=True)
    r_med, our_med = statistics.median(r_times), statistics.median(our_times)
    print(f"{kind:8s}: median R {r_med:.2f} s, lsecflow {our_med:.2f} s: R / lsecflow = {r_med / our_med:.2f}x",
          flush=True)


def run_r_timed(folder, library: str, body: str, *args) -> float:
    """Run R code ``body`` with ``Rscript`` in ``folder`` after ``library(<library>)``, whose loading is timed and
    printed apart (as lsecflow's imports are); ``body`` reads ``commandArgs(TRUE)`` (``args``) and prints
    ``SECONDS <s>``, the seconds of the steps it times, which are returned."""
    script = Path(folder) / f"{library}.R"
    script.write_text(f"t_load <- Sys.time()\nsuppressMessages(library({library}))\n"
                      'cat("LOAD", as.numeric(Sys.time() - t_load, units = "secs"), "\\n")\n' + body)
    out = subprocess.run(["Rscript", str(script), *map(str, args)], capture_output=True, text=True,
                         check=True).stdout.split()
    print(f"  R library({library}) {float(out[out.index('LOAD') + 1]):.2f} s", flush=True)
    return float(out[out.index("SECONDS") + 1])

