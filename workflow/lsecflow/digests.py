"""Content, not mtime: the sha256 of a job's input files outside the results folder, as a parameter.

Snakemake reruns a job when an input is *newer* than its outputs. A sample sheet, count matrix or
GMT replaced by an edited copy that keeps an old mtime (``cp -p``, ``rsync -a``, unzip, a git
checkout of an older commit) is not newer, and the stale results would stand ("Nothing to be
done"). Each rule that reads user or resource files gets their digests as a parameter
(``content``), and Snakemake reruns a job whose parameters changed.

Digests are cached by (path, size, mtime, ctime in ns) in ``.snakemake/lsecflow_digests.json``: a
file is read again only when one of them differs from the cached ones. The ctime (inode change time)
cannot be set back by ``cp -p`` or ``touch``: every write or copy changes it, even when the mtime is old.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE = Path(".snakemake") / "lsecflow_digests.json"


class DigestCache:
    """sha256 of files, cached by size, mtime and ctime (see the module docstring)."""

    def __init__(self, path: str | os.PathLike = CACHE):
        self.path = Path(path)
        try:
            self.entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}
        self.dirty = False

    def digest(self, path: str | os.PathLike) -> str:
        """sha256 of a file (of a folder: of its files' names and digests, sorted)."""
        path = Path(path)
        if path.is_dir():
            h = hashlib.sha256()
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                h.update(f"{f.relative_to(path)}\0{self.digest(f)}\n".encode())
            return h.hexdigest()
        st = path.stat()
        key = str(path.resolve())
        cached = self.entries.get(key)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        if cached and cached[:3] == stamp:
            return cached[3]
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        self.entries[key] = [*stamp, h.hexdigest()]
        self.dirty = True
        self.save()
        return h.hexdigest()

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries, sort_keys=True))
            os.replace(tmp, self.path)  # concurrent parses (cluster jobs): the last complete write wins
            self.dirty = False
        except OSError:
            pass  # a read-only working folder: digests are recomputed next time


def content_digests(paths, results: str | os.PathLike, cache: DigestCache) -> dict[str, str]:
    """``{path: sha256}`` of the existing files in ``paths`` that are not under ``results`` (those are
    the workflow's own outputs, rerun by Snakemake's own rules)."""
    root = Path(results).resolve()
    out = {}
    for p in paths:
        path = Path(str(p))
        resolved = path.resolve()
        if resolved == root or root in resolved.parents or not path.exists():
            continue
        out[str(p)] = cache.digest(path)
    return dict(sorted(out.items()))
