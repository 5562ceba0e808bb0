"""Shared fixtures. Slow tests (a real server, a trained model) are marked ``slow``."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 300


import processes  # noqa: E402 - every server a test starts, stopped however the run ends
from instances import free_port  # noqa: E402 - tests/ is on the path (rootdir conftest)

processes.mark_session()


def _interrupted(signum: int, _frame: object) -> None:
    """SIGTERM or SIGHUP (a CI timeout, a closed terminal) ends the run as Ctrl-C does, so every
    fixture still stops what it started (by default pytest would die with no clean-up)."""
    raise KeyboardInterrupt


for _signum in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_signum) is signal.SIG_DFL:
        signal.signal(_signum, _interrupted)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running() -> Iterator[None]:
    """The run fails if a process it started is still alive at its end (checked after every
    other fixture has cleaned up): each test and fixture stops what it starts, even failing.
    What is found is ended too, so the failure leaves nothing running either."""
    yield
    left = processes.still_running()
    if left:
        processes.end(list(left))
        pytest.fail("still running at the end of the test session (started by a test or "
                    "fixture that did not stop it): "
                    + "; ".join(f"pid {pid}: {command[:160]}" for pid, command in left.items()),
                    pytrace=False)


@dataclass(frozen=True)
class RunningAssistant:
    """The product as ``make run`` starts it, on private ports and a private var folder."""

    base_url: str
    action_port: int
    api_token: str
    staff_token: str
    var_dir: Path
    model: Path
    log: Path
    fake_twilio: str = ""
    fake_wechat: str = ""
    core_port: int = 0
    # The core's secret for the action server (tests that call actions the way the core does).
    action_token: str = ""
    # Signs REST visitor tokens (SMO_REST_PUBLIC is on: tests/security play a website visitor).
    rest_token_secret: str = ""


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"assistant exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise RuntimeError(
        f"assistant not healthy after {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-4000:]}"
    )


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The up-to-date model (trained once if its inputs changed)."""
    from bot.model import ensure_model

    return ensure_model()


@pytest.fixture(scope="session")
def assistant(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAssistant]:
    """Start the whole product once per test session via the same launcher ``make run`` uses."""
    home = tmp_path_factory.mktemp("assistant")
    # Not made here: the launcher must make it, as ``make run`` does on a fresh clone.
    var_dir = home / "var"
    port, action_port = free_port(), free_port()
    twilio_port, wechat_port, core_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(16)
    staff_token = secrets.token_hex(16)
    action_token = secrets.token_urlsafe(32)
    rest_token_secret = secrets.token_hex(32)
    log = home / "assistant.log"
    env = {
        **os.environ,
        "SMO_PORT": str(port),
        "SMO_ACTION_PORT": str(action_port),
        "SMO_VAR_DIR": str(var_dir),
        "SMO_MODEL": str(trained_model),
        "SMO_ENABLE_RASA_API": "true",
        "SMO_RASA_API_TOKEN": token,
        "SMO_STAFF_API_TOKEN": staff_token,
        "SMO_OFFICE_HOURS": "Mon-Sun 00:00-23:59",
        "SMO_CORE_PORT": str(core_port),
        "SMO_ACTION_TOKEN": action_token,
        "SMO_FAKE_TWILIO_PORT": str(twilio_port),
        "SMO_FAKE_WECHAT_PORT": str(wechat_port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SMO_RATE_LIMIT_PER_MINUTE": "600",
        "SMO_RATE_LIMIT_BURST": "100",
        # Lets tests play a caller from elsewhere (X-Forwarded-For) against a loopback server,
        # as the product sees one behind its TLS proxy (tests/security).
        "TRUST_FORWARDED_HEADERS": "true",
        # REST from elsewhere as for the website widget (visitor tokens); loopback callers, as
        # every other test is, need none.
        "SMO_REST_PUBLIC": "true",
        "SMO_REST_TOKEN_SECRET": rest_token_secret,
    }
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM",
                 "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_TOKEN", "SMO_SANDBOX"):
        env.pop(name, None)
    with log.open("wb") as out:
        process = processes.start([sys.executable, "-m", "bot.launcher"], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(f"{base}/ready", process, log)
        yield RunningAssistant(
            base, action_port, token, staff_token, var_dir, trained_model, log,
            f"http://127.0.0.1:{twilio_port}", f"http://127.0.0.1:{wechat_port}", core_port,
            action_token, rest_token_secret=rest_token_secret,
        )
    finally:
        processes.stop(process)  # the launcher and its five servers, whatever state they are in


@pytest.fixture()
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty product database for one test."""
    url = f"sqlite:///{tmp_path / 'smo.db'}"
    monkeypatch.setenv("SMO_DATABASE_URL", url)
    return url


@pytest.fixture()
def seeded(database: str) -> str:
    """The fresh database with the seed policies loaded."""
    from bot.policies.importer import import_csv

    report = import_csv(ROOT / "data" / "seed" / "policies.csv")
    assert report.ok, report.errors
    return database
