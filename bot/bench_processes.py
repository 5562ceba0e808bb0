"""``make bench``: the two things measured, started and stopped on free loopback ports: the whole
product (the launcher with the sandbox fakes) and stock Rasa (``rasa run`` on the same model)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.paths import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Product:
    """The product started by the launcher for the bench."""

    base: str
    fake_twilio: str
    process: subprocess.Popen
    log: Path
    action_port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    fake_pid: int = 0


def start_product(var_dir: Path) -> Product:
    port, action, core = free_port(), free_port(), free_port()
    twilio, wechat = free_port(), free_port()
    env = {
        **os.environ, "SMO_PORT": str(port), "SMO_ACTION_PORT": str(action),
        "SMO_VAR_DIR": str(var_dir), "SMO_FAKE_TWILIO_PORT": str(twilio),
        "SMO_CORE_PORT": str(core),
        "SMO_FAKE_WECHAT_PORT": str(wechat), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SMO_RATE_LIMIT_PER_MINUTE": "100000", "SMO_RATE_LIMIT_BURST": "100000",
    }
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "WECHAT_APP_ID", "SMO_SANDBOX"):
        env.pop(name, None)
    log = var_dir / "bench-product.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot.launcher"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers_200(f"{base}/ready"), process, log, "product")
    product = Product(base, f"http://127.0.0.1:{twilio}", process, log, action)
    pids = json.loads((var_dir / "processes.json").read_text(encoding="utf-8"))
    product.pids = {name: pids[name] for name in ("public server", "core", "action server")}
    product.fake_pid = pids.get("fake Twilio", 0)
    return product


@dataclass
class StockRasa:
    """``rasa run`` exactly as Rasa ships it (REST channel, SQL tracker store) with its own
    ``rasa run actions`` serving our actions, so its memory is measured apart from ours."""

    base: str
    process: subprocess.Popen
    actions: subprocess.Popen

    def stop(self) -> None:
        for process in (self.process, self.actions):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def start_stock_rasa(var_dir: Path, model: Path) -> StockRasa:
    port, action_port = free_port(), free_port()
    rasa = str(Path(sys.executable).with_name("rasa"))
    actions = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
        cwd=ROOT,
        stdout=(var_dir / "stock-actions.log").open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, "SMO_VAR_DIR": str(var_dir)})
    endpoints = var_dir / "stock-endpoints.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {var_dir / 'stock-tracker.db'}\n",
        encoding="utf-8")
    credentials = var_dir / "stock-credentials.yml"
    credentials.write_text("rest:\n", encoding="utf-8")
    log = var_dir / "stock-rasa.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [rasa, "run", "--model", str(model),
             "--endpoints", str(endpoints), "--credentials", str(credentials),
             "--port", str(port), "--interface", "127.0.0.1"],
            cwd=var_dir, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    base = f"http://127.0.0.1:{port}"
    # The root answers once the server is up; the model is loaded once REST answers a message.
    wait_until(lambda: _answers_200(f"{base}/") and _rest_answers(base), process, log,
               "stock rasa")
    return StockRasa(base, process, actions)


def _answers_200(url: str) -> bool:
    """Whether ``url`` answers 200 now (anything else, or no answer, is "not yet")."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until(ready: Any, process: subprocess.Popen, log: Path, what: str,
               timeout: float = 300) -> None:
    """Poll ``ready()`` each second until it holds; stop with the log's tail if the process
    exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited early:\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(1)
    raise SystemExit(f"{what} not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _rest_answers(base: str) -> bool:
    """The model is loaded once the REST channel answers a message."""

    request = urllib.request.Request(f"{base}/webhooks/rest/webhook",
                                     json.dumps({"sender": "probe", "message": "hi"}).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return bool(json.loads(response.read()))
    except (OSError, ValueError):
        return False


def stop_product(product: Product) -> None:
    product.process.send_signal(signal.SIGINT)
    try:
        product.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        product.process.kill()
