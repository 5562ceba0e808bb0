"""Servers the test suite starts, and the guarantee that none outlives it.

``make test`` once left the end-to-end product running (five servers whose launcher was gone,
found an hour later). The fixture stopped the launcher with SIGINT, which a process started in
the background by a shell without job control inherits *ignored*: nothing happened for 30 s, then
the launcher alone was killed and its servers were orphaned. Other ways to the same end: a Ctrl-C
reaching the launcher twice (from the terminal, then from the fixture) cut its clean-up short;
pytest killed outright ran no clean-up at all. Hence:

- :func:`start` runs a server in a process group of its own, so stopping it reaches whatever it
  started in turn (the launcher's servers), and only the fixture signals it. On Linux the kernel
  also sends it SIGTERM should the test process die first (``PR_SET_PDEATHSIG``; the launcher
  stops its children on SIGTERM), so even pytest killed with SIGKILL leaves nothing behind. Start
  servers from the test's own thread: the signal follows the thread that started the process.
- :func:`stop` asks once with SIGTERM (never ignored; the launcher stops its servers on it),
  waits, then kills every process of the group still there, the launcher's orphans included.
- Whatever is still registered when the interpreter exits is stopped (``atexit``).
- Every process the suite starts, however it was started, carries this session's mark in its
  environment (``SMO_TEST_SESSION``, set when tests/conftest.py is imported): at the end of the
  session :func:`leftovers` finds any still alive, and tests/conftest.py fails the run (after
  ending them). Only processes with the mark are ever signalled here, so another session's
  servers, or a process that took over a recycled id, are never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MARK = "SMO_TEST_SESSION"
PROC = Path("/proc")
_started: list[subprocess.Popen] = []
_PR_SET_PDEATHSIG = 1


def mark_session() -> str:
    """Give this test session a fresh mark, inherited by every process it starts. Fresh, not
    inherited: a pytest started by a test must not take its parent's processes for its own."""
    os.environ[MARK] = secrets.token_hex(8)
    return os.environ[MARK]


def _die_with_parent() -> Any:
    """A ``preexec_fn`` asking the kernel for SIGTERM when the starting thread ends (Linux),
    or None. The libc function is looked up here, before the fork: the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


def start(argv: list[str], **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen(argv, **popen)`` in its own process group, stopped however the test
    run ends."""
    process = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent(),
                               **popen)
    _started.append(process)
    return process


def stop(process: subprocess.Popen, timeout: float = 30.0,
         signum: int = signal.SIGTERM) -> None:
    """Ask ``process`` to stop (``signum``), give it ``timeout`` seconds, then kill every process
    of its group still alive. Safe to call twice."""
    try:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _end(_group(process.pid))
                process.wait(timeout=10)
        _end(_group(process.pid))  # what it started and left behind
    finally:
        with contextlib.suppress(ValueError):
            _started.remove(process)


def _marked() -> bytes | None:
    value = os.environ.get(MARK)
    return f"{MARK}={value}".encode() if value else None


def _alive_with_mark(pid: int, mark: bytes) -> tuple[int, str] | None:
    """(process group, command line) of a live (not zombie) process carrying ``mark``."""
    try:
        stat = (PROC / str(pid) / "stat").read_bytes()
        environ = (PROC / str(pid) / "environ").read_bytes()
        cmdline = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:  # gone, or not ours to read
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] == b"Z" or mark not in environ.split(b"\0"):
        return None
    return int(fields[2]), cmdline.replace(b"\0", b" ").decode(errors="replace").strip()


def leftovers() -> dict[int, str]:
    """This session's processes still alive: pid -> command line (empty without /proc)."""
    mark = _marked()
    if mark is None or not PROC.is_dir():
        return {}
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            alive = _alive_with_mark(int(entry.name), mark)
            if alive is not None:
                found[int(entry.name)] = alive[1]
    return found


def still_running(settle: float = 3.0) -> dict[int, str]:
    """:func:`leftovers`, once what was just stopped has had ``settle`` seconds to go."""
    deadline = time.monotonic() + settle
    while (left := leftovers()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _group(pgid: int) -> list[int]:
    """This session's live processes in process group ``pgid``."""
    mark = _marked()
    if mark is None or not PROC.is_dir():  # no /proc: the group as a whole, while it exists
        return [-pgid]
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            alive = _alive_with_mark(int(entry.name), mark)
            if alive is not None and alive[0] == pgid:
                members.append(int(entry.name))
    return members


def _end(pids: list[int], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL what is still there after ``grace`` seconds (negative: a group)."""
    def send(pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if pid < 0:
                os.killpg(-pid, signum)
            else:
                os.kill(pid, signum)

    for pid in pids:
        send(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    mark = _marked()
    while time.monotonic() < deadline and mark and any(
            pid > 0 and _alive_with_mark(pid, mark) for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        if pid < 0 or (mark and _alive_with_mark(pid, mark)):
            send(pid, signal.SIGKILL)


def end(pids: list[int]) -> None:
    """End these processes of this session (the session-end check's clean-up)."""
    mark = _marked()
    _end([pid for pid in pids if mark and _alive_with_mark(pid, mark)])


@atexit.register
def _stop_all() -> None:
    """Interpreter exit (pytest interrupted, a crash in a fixture): stop what is still running."""
    for process in list(_started):
        with contextlib.suppress(Exception):
            stop(process, timeout=10)
