"""Keep the core's resident memory to what answering needs, once the model has loaded.

Loading TensorFlow and the model touches far more memory than answering does:

- the heap that reading and building the model freed stays resident until glibc is asked to
  give it back (``malloc_trim``);
- the shared libraries' pages that only loading read (TensorFlow's ``libtensorflow_cc`` is a
  1 GB file; the dynamic linker reads all of its symbol and relocation tables, and its
  initialisers run code never run again) stay mapped. On kernels that cache files in large
  folios each fault maps a large block at once: measured here, 306 MiB of that one library
  resident after loading, on a kernel where earlier machines showed far less.

Both are dropped once after loading. Library pages are clean copies of the file: dropping them
only unmaps them, the page cache keeps them, and a page answering uses again comes back with a
minor fault. Only read-only file mappings the process never wrote (no anonymous pages) are
touched, so nothing can be lost.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

MADV_DONTNEED = 4  # <sys/mman.h>; the same value on every Linux architecture
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$")


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    """The C library, found once: ``find_library`` runs ``ldconfig -p`` in a subprocess, and the
    heap is trimmed every minute."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def release_freed_heap() -> None:
    """Give the heap that loading freed back to the system (glibc ``malloc_trim``).

    Reading and building the model leaves ~170 MB of freed but still resident heap (measured:
    768 → 602 MB); a no-op where the C library has no ``malloc_trim``."""
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:
        logger.debug("malloc_trim not available")


@dataclass(frozen=True)
class Mapping:
    """One line of ``/proc/<pid>/smaps`` with what deciding needs."""

    start: int
    end: int
    perms: str
    path: str
    rss_kb: int
    anonymous_kb: int

    @property
    def droppable(self) -> bool:
        """A file mapped read-only and never written here: its resident pages equal the file's
        (no copy-on-write page, which dropping would lose)."""
        return (self.path.startswith("/") and self.perms[0] == "r" and self.perms[1] == "-"
                and self.perms[3] == "p" and self.anonymous_kb == 0 and self.rss_kb > 0)


def mappings(smaps: str) -> list[Mapping]:
    """The mappings of an ``smaps`` text (kept separate from reading it, to test on samples)."""
    found: list[Mapping] = []
    current: dict | None = None
    for line in smaps.splitlines():
        header = _HEADER.match(line)
        if header:
            if current is not None:
                found.append(Mapping(**current))
            start, end, perms, _inode, path = header.groups()
            current = {"start": int(start, 16), "end": int(end, 16), "perms": perms,
                       "path": path.strip(), "rss_kb": 0, "anonymous_kb": 0}
        elif current is not None and line.startswith("Rss:"):
            current["rss_kb"] = int(line.split()[1])
        elif current is not None and line.startswith("Anonymous:"):
            current["anonymous_kb"] = int(line.split()[1])
    if current is not None:
        found.append(Mapping(**current))
    return found


def drop_library_pages(smaps_path: Path = Path("/proc/self/smaps")) -> int:
    """Unmap the resident pages of read-only file mappings (KiB released; 0 where not Linux).

    Pages in use come back at their next touch, from the page cache."""
    libc = _libc()
    try:
        text = smaps_path.read_text()
    except OSError:
        return 0
    if libc is None:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for mapping in mappings(text):
        if not mapping.droppable:
            continue
        if libc.madvise(mapping.start, mapping.end - mapping.start, MADV_DONTNEED) == 0:
            released += mapping.rss_kb
        else:
            logger.debug("madvise refused %s (errno %s)", mapping.path, ctypes.get_errno())
    return released


def settle_after_loading() -> None:
    """Both releases, once the model has loaded and been frozen out of the collector's view."""
    release_freed_heap()
    released = drop_library_pages()
    logger.info("released %d MiB of library pages only loading used", released // 1024)


async def trim_now_and_then(every: float = 60.0) -> None:
    """Conversations come and go; hand their freed heap back once a minute (a few ms)."""
    while True:
        await asyncio.sleep(every)
        release_freed_heap()
