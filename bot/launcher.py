"""``make run``: start every process the product needs, say where to reach them, stop them together.

Processes (all on loopback by default):
  action server  ``rasa run actions``   127.0.0.1:5055  (our custom actions)
  public server  ``python -m bot.server`` 127.0.0.1:5005 (channels, REST, /health)

Ctrl-C (or SIGTERM) stops them all; if one dies, the others are stopped too, so a half-running
product never lingers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bot.paths import ROOT
from bot.settings import Settings, SettingsError, load_settings

BIN = Path(sys.executable).parent
SEED_FILE = ROOT / "data" / "seed" / "policies.csv"


@dataclass
class Service:
    """A child process and how to tell it is up."""

    name: str
    argv: list[str]
    health_url: str
    process: subprocess.Popen[bytes] | None = None


def services(settings: Settings, model: Path) -> list[Service]:
    """What ``make run`` starts, in start order."""
    return [
        Service(
            "action server",
            [
                str(BIN / "rasa"),
                "run",
                "actions",
                "--actions",
                "actions",
                "--port",
                str(settings.action_port),
            ],
            f"http://127.0.0.1:{settings.action_port}/health",
        ),
        Service(
            "public server",
            [sys.executable, "-m", "bot.server"],
            f"{settings.public_url}/health",
        ),
    ]


def _is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(running: list[Service]) -> None:
    for service in reversed(running):
        if service.process and service.process.poll() is None:
            service.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 15
    for service in reversed(running):
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.process.kill()


def _seed_policies(settings: Settings) -> None:
    """Load the fictional seed policies (idempotent), so a newcomer can try verification."""
    from bot.policies.importer import import_csv

    os.environ.setdefault("SMO_VAR_DIR", str(settings.var_dir))
    report = import_csv(SEED_FILE)
    if not report.ok:
        raise SystemExit("seed policies invalid:\n  " + "\n  ".join(report.errors))
    print(
        f"policy directory: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged ({SEED_FILE.relative_to(ROOT)})",
        flush=True,
    )


def _banner(settings: Settings) -> str:
    base = settings.public_url
    return f"""
  The assistant is up.
    Chat in this terminal:   make chat          (or: .venv/bin/python -m bot.chat)
    REST channel:            curl -s {base}/webhooks/rest/webhook \\
                               -H 'Content-Type: application/json' \\
                               -d '{{"sender": "me", "message": "你好"}}'
    Health:                  {base}/health
  Ctrl-C stops everything.
"""


def main() -> int:
    """Start, wait for health, supervise, stop on Ctrl-C."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    model = Path(os.environ.get("SMO_MODEL", "")) if os.environ.get("SMO_MODEL") else None
    if model is None:
        from bot.model import ensure_model

        model = ensure_model()
    if settings.seed_policies:
        _seed_policies(settings)
    env = {**os.environ, "SMO_MODEL": str(model), "RASA_TELEMETRY_ENABLED": "false"}
    running: list[Service] = []

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for service in services(settings, model):
            print(f"starting {service.name}: {' '.join(service.argv[-4:])}", flush=True)
            service.process = subprocess.Popen(service.argv, cwd=ROOT, env=env)
            running.append(service)
        pending = {s.name for s in running}
        started = time.monotonic()
        while True:
            for service in running:
                code = service.process.poll() if service.process else None
                if code is not None:
                    print(
                        f"{service.name} exited with code {code}; stopping the rest",
                        file=sys.stderr,
                    )
                    return 1
                if service.name in pending and _is_up(service.health_url):
                    pending.discard(service.name)
                    print(f"{service.name} ready ({time.monotonic() - started:.0f} s)", flush=True)
                    if not pending:
                        print(_banner(settings), flush=True)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        _stop(running)


if __name__ == "__main__":
    sys.exit(main())
