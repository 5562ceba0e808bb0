"""Start the whole product for the evaluation, as the end-to-end tests do (tests/conftest.py).

The launcher ``make run`` uses (``python -m bot.launcher``), on private ports, with its var
folder in a temporary directory, the nurses on duty round the clock (``SMO_OFFICE_HOURS``), the
rate limits lifted (the evaluation is one caller sending fast), forwarded headers not trusted,
and the sandbox's fake Twilio and WeChat on (no provider credentials in the environment).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bot.conveval.drivers import Product
from bot.paths import ROOT

STARTUP_TIMEOUT_S = 420  # the launcher starts three servers and loads the model
# Provider settings that would turn the sandbox off or point it elsewhere.
_DROPPED = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM", "TWILIO_API_URL",
            "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_TOKEN", "WECHAT_ENCODING_AES_KEY",
            "SMO_SANDBOX", "SMO_DATABASE_URL", "SMO_REDIS_URL", "SMO_ENABLE_RASA_API")


class StartError(RuntimeError):
    """The product did not become ready."""


def free_port() -> int:
    """A port nothing listens on now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def started(model: Path) -> Iterator[Product]:
    """The product running on ``model`` while the block runs; stopped (SIGTERM to the launcher,
    which stops what it started) afterwards, also on errors."""
    with tempfile.TemporaryDirectory(prefix="smo-conversation-eval-") as home:
        port, twilio, wechat = free_port(), free_port(), free_port()
        staff_token = secrets.token_hex(16)
        env = {key: value for key, value in os.environ.items() if key not in _DROPPED}
        env.update({
            "SMO_PORT": str(port), "SMO_ACTION_PORT": str(free_port()),
            "SMO_CORE_PORT": str(free_port()), "SMO_VAR_DIR": str(Path(home) / "var"),
            "SMO_MODEL": str(model), "SMO_STAFF_API_TOKEN": staff_token,
            "SMO_ACTION_TOKEN": secrets.token_urlsafe(32),
            "SMO_FAKE_TWILIO_PORT": str(twilio), "SMO_FAKE_WECHAT_PORT": str(wechat),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "SMO_OFFICE_HOURS": "Mon-Sun 00:00-23:59",
            "SMO_RATE_LIMIT_PER_MINUTE": "100000", "SMO_RATE_LIMIT_BURST": "100000",
            "TRUST_FORWARDED_HEADERS": "false", "SMO_DEMO_USERS": "false",
            "RASA_TELEMETRY_ENABLED": "false",
        })
        log = Path(home) / "product.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "bot.launcher"], cwd=ROOT, env=env,
                                       stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not _ready(f"{base}/ready"):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
                    raise StartError(f"the product did not start:\n{tail}")
                time.sleep(1)
            yield Product(base, f"http://127.0.0.1:{twilio}", f"http://127.0.0.1:{wechat}",
                          staff_token)
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    # SIGTERM, which the launcher turns into its orderly stop: SIGINT may be ignored when the
    # evaluation itself was started in the background.
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
        process.wait(timeout=10)
