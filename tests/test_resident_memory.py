"""The core's memory settling after loading: only clean read-only file pages are dropped, and
what is dropped reads back the same."""

from __future__ import annotations

import mmap
import sys
from pathlib import Path

import pytest

from bot.resident_memory import drop_library_pages, mappings

SAMPLE = """\
7f0000000000-7f0000400000 r-xp 00000000 fd:01 123 /opt/lib/libbig.so
Size:               4096 kB
Rss:                2048 kB
Anonymous:             0 kB
7f0000400000-7f0000401000 r--p 00400000 fd:01 123 /opt/lib/libbig.so
Size:                  4 kB
Rss:                   4 kB
Anonymous:             4 kB
7f0000401000-7f0000402000 rw-p 00401000 fd:01 123 /opt/lib/libbig.so
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
55d000000000-55d000100000 rw-p 00000000 00:00 0                          [heap]
Size:               1024 kB
Rss:                1024 kB
Anonymous:          1024 kB
7f0000500000-7f0000600000 r--s 00000000 fd:01 456 /dev/shm/shared
Size:               1024 kB
Rss:                 512 kB
Anonymous:             0 kB
7f0000600000-7f0000700000 r--p 00000000 00:00 0
Size:               1024 kB
Rss:                   0 kB
Anonymous:             0 kB
"""


def test_only_clean_private_read_only_file_mappings_are_droppable() -> None:
    found = mappings(SAMPLE)
    assert [(m.perms, m.path, m.droppable) for m in found] == [
        ("r-xp", "/opt/lib/libbig.so", True),  # code, never written
        ("r--p", "/opt/lib/libbig.so", False),  # relocated then write-protected: a private copy
        ("rw-p", "/opt/lib/libbig.so", False),  # writable data
        ("rw-p", "[heap]", False),
        ("r--s", "/dev/shm/shared", False),  # shared mappings are left alone
        ("r--p", "", False),  # anonymous
    ]
    assert found[0].start == 0x7F0000000000 and found[0].rss_kb == 2048


def _resident_kb(address: int) -> int:
    for mapping in mappings(Path("/proc/self/smaps").read_text()):
        if mapping.start <= address < mapping.end:
            return mapping.rss_kb
    raise AssertionError("mapping not found")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_dropped_pages_leave_the_resident_set_and_read_back_the_same(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096 * 4  # 4 MiB
    path = tmp_path / "library.bin"
    path.write_bytes(data)
    with path.open("rb") as file:
        view = mmap.mmap(file.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    try:
        assert view[:] == data  # every page touched, so resident
        start = _mapping_start(path)
        assert _resident_kb(start) >= 1024
        released = drop_library_pages()
        assert released >= 1024
        assert _resident_kb(start) < 1024
        assert view[:] == data  # read back from the page cache, unchanged
    finally:
        view.close()


def _mapping_start(path: Path) -> int:
    for mapping in mappings(Path("/proc/self/smaps").read_text()):
        if mapping.path == str(path):
            return mapping.start
    raise AssertionError(f"{path} not mapped")
