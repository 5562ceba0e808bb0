"""The suite stops what it starts (tests/processes.py, tests/conftest.py), shown with small
stand-in servers, not the product: one that leaves its own child behind when told to stop, one
that ignores the request, one whose test process is killed outright; and the session-end check
failing a run that leaks a process, and ending that process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import processes

TESTS = Path(__file__).resolve().parent
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def alive(pid: int) -> bool:
    """Running, not a zombie (a zombie is gone; only its exit status waits to be read)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def server(script: str, **popen: object) -> tuple[subprocess.Popen, list[int]]:
    """A stand-in server started as tests start servers; the pids it prints, once it is up."""
    process = processes.start([sys.executable, "-c", textwrap.dedent(script)],
                              stdout=subprocess.PIPE, text=True, **popen)
    pids = [int(word) for word in process.stdout.readline().split()]
    return process, pids


# A launcher in miniature: starts a server of its own, and on SIGTERM leaves at once without
# stopping it (as a launcher killed mid-stop did).
CARELESS = """
    import signal, subprocess, sys, os, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(os.getpid(), child.pid, flush=True)
    time.sleep(120)
"""


def test_stop_also_ends_what_the_server_left_behind() -> None:
    process, (leader, child) = server(CARELESS)
    assert alive(leader) and alive(child) and child in processes.leftovers()
    processes.stop(process, timeout=10)
    assert gone(leader) and gone(child)
    assert not {leader, child} & set(processes.leftovers())


def test_a_server_that_ignores_the_request_is_killed() -> None:
    process, (leader,) = server("""
        import signal, os, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(os.getpid(), flush=True)
        time.sleep(120)
    """)
    started = time.monotonic()
    processes.stop(process, timeout=1)
    assert gone(leader) and time.monotonic() - started < 10


# A server started in the background by a shell without job control: SIGINT is ignored (and
# stays ignored in what it starts). It stops cleanly on SIGTERM, as Sanic and aiohttp do.
BACKGROUNDED = """
    import signal, sys, os, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    def clean_stop(*_):
        print("stopped cleanly", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, clean_stop)
    print(os.getpid(), flush=True)
    time.sleep(120)
"""


def test_a_server_with_sigint_ignored_stops_cleanly_at_once() -> None:
    """What left the product running: the fixture's SIGINT did nothing for 30 s, then the
    launcher alone was killed."""
    process, (leader,) = server(BACKGROUNDED)
    started = time.monotonic()
    processes.stop(process, timeout=20)
    assert time.monotonic() - started < 5
    assert process.returncode == 0 and process.stdout.read().strip() == "stopped cleanly"


def test_the_launcher_stops_servers_that_ignore_sigint_cleanly_at_once() -> None:
    """The launcher's own stop reaches servers that inherited SIGINT ignored."""
    from bot.launcher import Service, _stop

    running = []
    for name in ("gateway", "core"):
        service = Service(name, [], "")
        service.process, _ = server(BACKGROUNDED)
        running.append(service)
    started = time.monotonic()
    _stop(running)
    assert time.monotonic() - started < 5
    for service in running:
        assert service.process.wait(timeout=1) == 0
        assert service.process.stdout.read().strip() == "stopped cleanly"
        processes.stop(service.process)


def test_a_test_run_killed_outright_leaves_nothing() -> None:
    """pytest killed with SIGKILL runs no clean-up: the kernel tells the server (Linux)."""
    run, (server_pid,) = server(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import processes, time
        started = processes.start({SLEEPER!r})
        print(started.pid, flush=True)
        time.sleep(120)
    """)
    assert alive(server_pid)
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=10)
    assert gone(server_pid)
    processes.stop(run)


def test_leftovers_are_this_sessions_processes_however_started() -> None:
    plain = subprocess.Popen(SLEEPER)  # not through processes.start: found all the same
    stranger = subprocess.Popen(SLEEPER, env={k: v for k, v in os.environ.items()
                                              if k != processes.MARK})
    try:
        found = processes.leftovers()
        assert plain.pid in found and "time.sleep(120)" in found[plain.pid]
        assert stranger.pid not in found  # another session's (or nobody's): never touched
    finally:
        for process in (plain, stranger):
            process.kill()
            process.wait(timeout=10)
    assert plain.pid not in processes.leftovers()


def test_a_run_that_leaks_a_process_fails_and_ends_it(tmp_path: Path) -> None:
    """The session-end check of tests/conftest.py, in a run of its own."""
    pid_file = tmp_path / "leaked.pid"
    (tmp_path / "test_leak.py").write_text(textwrap.dedent(f"""
        import subprocess, sys
        from pathlib import Path

        def test_forgets_its_server():
            process = subprocess.Popen({SLEEPER!r})
            Path({str(pid_file)!r}).write_text(str(process.pid))
    """))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
         "--rootdir", str(tmp_path), str(tmp_path / "test_leak.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])})
    leaked = int(pid_file.read_text())
    try:
        assert result.returncode != 0, result.stdout[-2000:]
        assert "still running at the end of the test session" in result.stdout
        assert f"pid {leaked}" in result.stdout
        assert gone(leaked)  # ended by the check, not left for an hour
    finally:
        if alive(leaked):  # the check failed to: this test started it, so it ends it
            os.kill(leaked, signal.SIGKILL)
