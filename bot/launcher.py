"""``make run``: start every process the product needs, say where to reach them, stop them together.

Processes (all on loopback by default):
  action server  ``python -m bot.action_server`` 127.0.0.1:5055  (our custom actions)
  core           ``python -m bot.server --core`` 127.0.0.1:5006  (the Rasa model)
  public server  ``python -m bot.server``        127.0.0.1:5005  (channels, REST, /health)
  fake Twilio and fake WeChat (sandbox only)   127.0.0.1:5101 / 5102

Ctrl-C (or SIGTERM) stops them all; if one dies, the others are stopped too, so a half-running
product never lingers. Secrets between the processes are made here per run unless the operator
set them; everything the processes write is private to this user (umask 077, ``var/`` 0700).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.paths import ROOT
from bot.settings import Settings, SettingsError, load_settings

SEED_FILE = ROOT / "data" / "seed" / "policies.csv"


@dataclass
class Service:
    """A child process and how to tell it is up."""

    name: str
    argv: list[str]
    health_url: str
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # this service's own, over the shared


PROVIDER_VARIABLES = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM",
                      "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_TOKEN")


@dataclass(frozen=True)
class Sandbox:
    """Fake Twilio and WeChat APIs on loopback, used when no real provider credentials are set."""

    twilio_port: int
    wechat_port: int

    def environment(self, settings: Settings) -> dict[str, str]:
        """Obviously fake credentials pointing both channels at the fakes."""
        from channels.sandbox import defaults

        return {
            "TWILIO_ACCOUNT_SID": defaults.TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": defaults.TWILIO_AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": defaults.TWILIO_WHATSAPP_FROM,
            "TWILIO_API_URL": f"http://127.0.0.1:{self.twilio_port}",
            "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", settings.public_url),
            "WECHAT_APP_ID": defaults.WECHAT_APP_ID,
            "WECHAT_APP_SECRET": defaults.WECHAT_APP_SECRET,
            "WECHAT_TOKEN": defaults.WECHAT_TOKEN,
            "WECHAT_ENCODING_AES_KEY": defaults.WECHAT_ENCODING_AES_KEY,
            "WECHAT_API_URL": f"http://127.0.0.1:{self.wechat_port}",
        }

    def services(self) -> list[Service]:
        """The two fake provider servers."""
        from channels.sandbox import defaults

        return [
            Service("fake Twilio", [sys.executable, "-m", "channels.sandbox.fake_twilio",
                                    "--port", str(self.twilio_port),
                                    "--account-sid", defaults.TWILIO_ACCOUNT_SID,
                                    "--auth-token", defaults.TWILIO_AUTH_TOKEN],
                    f"http://127.0.0.1:{self.twilio_port}/_sandbox/health"),
            Service("fake WeChat", [sys.executable, "-m", "channels.sandbox.fake_wechat",
                                    "--port", str(self.wechat_port),
                                    "--app-id", defaults.WECHAT_APP_ID,
                                    "--app-secret", defaults.WECHAT_APP_SECRET],
                    f"http://127.0.0.1:{self.wechat_port}/_sandbox/health"),
        ]


def sandbox_wanted() -> Sandbox | None:
    """The sandbox runs unless real provider credentials are set (or ``SMO_SANDBOX=false``)."""
    if os.environ.get("SMO_SANDBOX", "").lower() in {"0", "false", "no", "off"}:
        return None
    if any(os.environ.get(name) for name in PROVIDER_VARIABLES):
        return None
    from channels.sandbox import defaults

    return Sandbox(int(os.environ.get("SMO_FAKE_TWILIO_PORT", defaults.FAKE_TWILIO_PORT)),
                   int(os.environ.get("SMO_FAKE_WECHAT_PORT", defaults.FAKE_WECHAT_PORT)))


def services(settings: Settings, model: Path) -> list[Service]:
    """What ``make run`` starts, in start order."""
    return [
        Service(
            "action server",
            # The Rasa SDK's server (as `rasa run actions`, without loading Rasa's command line,
            # which imports TensorFlow: ~600 MB for nothing), answering only callers that send
            # SMO_ACTION_TOKEN (the core), on loopback unless SMO_ACTION_HOST says otherwise.
            [sys.executable, "-m", "bot.action_server", "--actions", "actions",
             "--port", str(settings.action_port)],
            f"http://127.0.0.1:{settings.action_port}/health",
        ),
        Service(
            "core",
            [sys.executable, "-m", "bot.server", "--core"],
            f"http://127.0.0.1:{settings.core_port}/ready",
        ),
        Service(
            "public server",
            [sys.executable, "-m", "bot.server"],
            f"{settings.public_url}/ready",
        ),
    ]


def run_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """Secrets between the processes for this run (loopback traffic), made fresh unless set."""
    return {
        # The gateway and the core.
        "SMO_INTERNAL_TOKEN": secrets.token_urlsafe(24),
        "SMO_CORE_API_TOKEN": environ.get("SMO_RASA_API_TOKEN") or secrets.token_urlsafe(24),
        # What the core sends the action server, which answers no one else (an operator's own
        # value wins: an action server started apart, or tests calling it as the core does).
        "SMO_ACTION_TOKEN": environ.get("SMO_ACTION_TOKEN") or secrets.token_urlsafe(32),
    }


def _is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(running: list[Service]) -> None:
    # SIGTERM, not SIGINT: a launcher started in the background by a shell without job control
    # (a CI step, ``make run &``) and its servers inherit SIGINT ignored, so SIGINT stopped
    # nothing and each server was killed outright 15 s later. Every server stops cleanly on
    # SIGTERM (Sanic, aiohttp).
    for service in reversed(running):
        if service.process and service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for service in reversed(running):
        if service.process is None:
            continue
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.process.kill()


def _write_pids(settings: Settings, running: list[Service]) -> None:
    """``<var>/processes.json``: which process is which, for operators and ``make bench``."""
    import json

    from bot.stores.files import private_folder

    private_folder(settings.var_dir)
    (settings.var_dir / "processes.json").write_text(json.dumps(
        {s.name: s.process.pid for s in running if s.process}), encoding="utf-8")


def _check_provider_settings(env: dict[str, str]) -> None:
    """Fail fast, naming the variable, before any process starts."""
    from channels.settings import load_twilio, load_wechat

    saved = dict(os.environ)
    try:
        os.environ.update(env)
        load_twilio()
        load_wechat()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _prepare_stores(settings: Settings) -> None:
    """Bring the product database to this release's schema (idempotent, safe with several
    instances starting at once); in shared mode also check Redis answers. Rasa's tracker store
    makes its own table in the core (``python -m bot.stores migrate`` does both ahead of time)."""
    from bot import stores
    from bot.stores.migrate import check_redis, upgrade_product_database

    os.environ.setdefault("SMO_VAR_DIR", str(settings.var_dir))
    revision = upgrade_product_database(stores.database_url())
    redis_url = stores.redis_url()
    if redis_url:
        check_redis(redis_url)
    where = stores.describe()
    print(f"stores ({where['mode']}): database {where['database']} at schema {revision}; "
          f"tracker {where['tracker']}; locks {where['locks']}", flush=True)


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


DEMO_ACCOUNTS = {"nurse.demo": "nurse", "doctor.demo": "case_doctor", "admin.demo": "admin"}
ADD_USER = ".venv/bin/python -m bot.console users add NAME --role nurse|case_doctor|admin"


def demo_users_wanted(settings: Settings, sandbox: Sandbox | None, terminal: bool) -> bool:
    """Demo accounts only where they are harmless and usable: in the sandbox (fake providers,
    so no real customer's case is behind them), when asked for (``SMO_DEMO_USERS``), and when
    their passwords go to a person at a terminal rather than into a log file or a collector."""
    return sandbox is not None and settings.demo_users and terminal


def _demo_users(settings: Settings) -> dict[str, tuple[str, str]]:
    """One console account per role with a fresh password each run (printed, never stored)."""
    from bot.console.users import ensure_demo_user

    os.environ.setdefault("SMO_VAR_DIR", str(settings.var_dir))
    return {name: (role, ensure_demo_user(name, role)) for name, role in DEMO_ACCOUNTS.items()}


def _disable_demo_users(settings: Settings) -> list[str]:
    """Disable demo accounts an earlier run made (a run with real providers, or whose output is
    not a terminal, must not keep accounts whose passwords were printed once); returns them."""
    from bot.console.users import list_users, set_disabled

    os.environ.setdefault("SMO_VAR_DIR", str(settings.var_dir))
    leftovers = [name for name, _role, disabled in list_users()
                 if name in DEMO_ACCOUNTS and not disabled]
    for name in leftovers:
        set_disabled(name, True)
    return leftovers


def _banner(settings: Settings, sandbox: Sandbox | None,
            demo_users: dict[str, tuple[str, str]] | None = None, demo_note: str = "") -> str:
    """What to try, for this run's ports. Demo passwords appear only when ``demo_users`` holds
    them (the caller decides: a terminal only); otherwise how to make an account."""
    base = settings.public_url
    if demo_users:
        lines = "\n".join(f"      {name:<12} {role:<12} {password}"
                          for name, (role, password) in demo_users.items())
        console = f"""
    Nurse console:           {base}/console   (demo accounts, new passwords each run)
{lines}"""
    else:
        console = f"""
    Nurse console:           {base}/console
      add an account:        {ADD_USER}
                             (password from stdin; users list|disable|enable;
                              token create NAME: that user's own staff API token)"""
        if demo_note:
            console += f"\n      {demo_note}"
    # The tools' defaults are the default ports: name this run's when it uses others.
    from channels.sandbox import defaults

    default_base = f"http://127.0.0.1:{defaults.RASA_PORT}"
    chat, whatsapp, wechat = "make chat          (or: .venv/bin/python -m bot.chat)", "", ""
    if base != default_base:
        chat = f".venv/bin/python -m bot.chat --url {base}/webhooks/rest/webhook"
    if sandbox is not None and (base, sandbox.twilio_port, sandbox.wechat_port) != (
            default_base, defaults.FAKE_TWILIO_PORT, defaults.FAKE_WECHAT_PORT):
        whatsapp = f" --server {base} --fake http://127.0.0.1:{sandbox.twilio_port}"
        wechat = f" --server {base} --fake http://127.0.0.1:{sandbox.wechat_port}"
    play = ""
    if sandbox is not None:
        play = f"""
    Sandbox (fake providers, fake credentials; nothing leaves this machine):
      WhatsApp user:         .venv/bin/python -m channels.sandbox.play whatsapp{whatsapp}
      WeChat user:           .venv/bin/python -m channels.sandbox.play wechat{wechat}
      fake Twilio records:   http://127.0.0.1:{sandbox.twilio_port}/_sandbox/messages
      fake WeChat records:   http://127.0.0.1:{sandbox.wechat_port}/_sandbox/messages"""
    return f"""
  The assistant is up.
    Chat in this terminal:   {chat}
    REST channel:            curl -s {base}/webhooks/rest/webhook \\
                               -H 'Content-Type: application/json' \\
                               -d '{{"sender": "me", "message": "你好"}}'
    Health / readiness:      {base}/health  {base}/ready{console}{play}
  Ctrl-C stops everything.
"""


def main() -> int:
    """Start, wait for health, supervise, stop on Ctrl-C."""
    from bot.dialogue import RasaVersionError, check_rasa_version

    try:
        settings = load_settings()
        if not settings.stock_rasa:  # refused here, before anything starts, as in the core
            check_rasa_version()
    except (SettingsError, RasaVersionError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    model = Path(os.environ.get("SMO_MODEL", "")) if os.environ.get("SMO_MODEL") else None
    if model is None:
        from bot.model import ensure_model

        model = ensure_model()
    # From here on every file this process and its children make is private to this user
    # (databases, their -wal/-shm files, processes.json); the runtime folder is 0700.
    from bot.stores.files import private_folder, restrict_umask

    restrict_umask()
    private_folder(settings.var_dir)
    try:
        _prepare_stores(settings)
    except Exception as exc:  # PostgreSQL or Redis down or refusing: say which, stop here
        print(f"store error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if settings.seed_policies:
        _seed_policies(settings)
    sandbox = sandbox_wanted()
    demo_users: dict[str, tuple[str, str]] = {}
    demo_note = ""
    if demo_users_wanted(settings, sandbox, sys.stdout.isatty()):
        demo_users = _demo_users(settings)
    else:
        _disable_demo_users(settings)
        if sandbox is not None and settings.demo_users:
            demo_note = ("(demo accounts are made only when this runs in a terminal: "
                         "their passwords are never written to a log)")
    env = {**os.environ, "SMO_MODEL": str(model), "RASA_TELEMETRY_ENABLED": "false",
           **run_secrets(os.environ)}
    # Each message is one small inference: one TensorFlow thread each for ops and between ops
    # keeps the core from fighting the other processes for the CPU; two malloc arenas instead of
    # one per thread keep its memory down. An operator's own values win.
    from bot.logging_setup import log_format

    # Children write to our stdout: decide the log format here, for them and for Rasa's structlog.
    env["SMO_LOG_FORMAT"] = log_format()
    if env["SMO_LOG_FORMAT"] == "json":
        env.setdefault("FORCE_JSON_LOGGING", "1")
    # oneDNN's kernels bring their own caches (~35 MB here) and gain nothing measurable on
    # one-message inferences.
    for name, value in (("TF_INTER_OP_PARALLELISM_THREADS", "1"),
                        ("TF_INTRA_OP_PARALLELISM_THREADS", "1"), ("MALLOC_ARENA_MAX", "2"),
                        ("TF_ENABLE_ONEDNN_OPTS", "0")):
        env.setdefault(name, value)
    planned = services(settings, model)
    if sandbox is not None:
        env.update(sandbox.environment(settings))
        planned = sandbox.services() + planned
    try:
        _check_provider_settings(env)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    running: list[Service] = []

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for service in planned:
            print(f"starting {service.name}: {' '.join(service.argv[-4:])}", flush=True)
            service.process = subprocess.Popen(service.argv, cwd=ROOT, env={**env, **service.env})
            running.append(service)
        _write_pids(settings, running)
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
                        print(_banner(settings, sandbox, demo_users, demo_note), flush=True)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        _stop(running)


if __name__ == "__main__":
    sys.exit(main())
