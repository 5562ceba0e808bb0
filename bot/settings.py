"""Every setting, read from the environment (and an optional ``.env`` file) in one place.

Modules receive a :class:`Settings` instead of reading ``os.environ`` themselves, so what the
product can be configured with is this file, and docs/settings.md's table mirrors it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bot import stores
from bot.paths import ROOT


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _load_dotenv() -> None:
    env_file = Path(os.environ.get("SMO_ENV_FILE", ROOT / ".env"))
    if env_file.is_file():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)  # the real environment wins over the file


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """The running product's configuration. Secrets are never part of ``repr``."""

    host: str = "127.0.0.1"
    port: int = 5005
    action_port: int = 5055
    action_host: str = "127.0.0.1"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    var_dir: Path = ROOT / "var"
    tracker_db_url: str = ""
    model_path: Path | None = None
    enable_rasa_api: bool = False
    rasa_api_token: str = field(default="", repr=False)
    staff_api_token: str = field(default="", repr=False)
    seed_policies: bool = True
    demo_users: bool = True
    max_body_bytes: int = 1_000_000
    core_port: int = 5006
    core_url: str = "http://127.0.0.1:5006"
    core_api_token: str = field(default="", repr=False)
    internal_token: str = field(default="", repr=False)
    # The secret the core sends the action server (bot/action_server.py); per run from make run.
    action_token: str = field(default="", repr=False)
    # /metrics: a bearer token when set, else loopback callers only (bot/web/ops.py).
    metrics_token: str = field(default="", repr=False)
    log_level: str = "INFO"
    # X-Forwarded-* believed only behind the operator's own proxy (bot/web/client.py).
    trust_forwarded_headers: bool = False
    # REST from anywhere but loopback: off unless enabled, then per-visitor tokens and limits
    # (channels/rest/, bot/web/core_proxy.py).
    rest_public: bool = False
    rest_token_secret: str = field(default="", repr=False)
    rest_sender_per_minute: int = 20
    rest_sender_burst: int = 8
    rest_client_per_minute: int = 30
    rest_client_burst: int = 10
    # Rasa as shipped in the core: none of bot/dialogue's replacements, Rasa's own tracker store
    # and action endpoint (same replies, slower on long conversations; bot/dialogue/__init__.py).
    stock_rasa: bool = False

    @property
    def public_url(self) -> str:
        """Where the public server listens (not the externally visible base URL)."""
        return f"http://{self.host}:{self.port}"


def load_settings() -> Settings:
    """Read and check every setting; raise :class:`SettingsError` on the first bad one."""
    _load_dotenv()
    var_dir = Path(os.environ.get("SMO_VAR_DIR", ROOT / "var"))
    action_port = _int("SMO_ACTION_PORT", 5055, minimum=1)
    model = os.environ.get("SMO_MODEL")
    api_token = os.environ.get("SMO_RASA_API_TOKEN", "")
    settings = Settings(
        host=os.environ.get("SMO_HOST", "127.0.0.1"),
        port=_int("SMO_PORT", 5005, minimum=1),
        action_port=action_port,
        action_host=os.environ.get("SMO_ACTION_HOST") or "127.0.0.1",
        action_server_url=os.environ.get(
            "SMO_ACTION_SERVER_URL", f"http://127.0.0.1:{action_port}/webhook"
        ),
        var_dir=var_dir,
        tracker_db_url=stores.tracker_url(),
        model_path=Path(model) if model else None,
        enable_rasa_api=_bool("SMO_ENABLE_RASA_API", False),
        rasa_api_token=api_token,
        staff_api_token=os.environ.get("SMO_STAFF_API_TOKEN", ""),
        seed_policies=_bool("SMO_SEED_POLICIES", True),
        demo_users=_bool("SMO_DEMO_USERS", True),
        max_body_bytes=_int("SMO_MAX_BODY_BYTES", 1_000_000, minimum=1024),
        core_port=_int("SMO_CORE_PORT", 5006, minimum=1),
        core_url=os.environ.get(
            "SMO_CORE_URL", f"http://127.0.0.1:{_int('SMO_CORE_PORT', 5006, minimum=1)}"),
        # The core's Rasa API token: the operator's, or a per-run secret shared with the gateway.
        core_api_token=api_token or os.environ.get("SMO_CORE_API_TOKEN", ""),
        internal_token=os.environ.get("SMO_INTERNAL_TOKEN", ""),
        action_token=os.environ.get("SMO_ACTION_TOKEN", ""),
        metrics_token=os.environ.get("SMO_METRICS_TOKEN", ""),
        log_level=os.environ.get("SMO_LOG_LEVEL", "INFO").upper(),
        trust_forwarded_headers=_bool("TRUST_FORWARDED_HEADERS", False),
        rest_public=_bool("SMO_REST_PUBLIC", False),
        rest_token_secret=os.environ.get("SMO_REST_TOKEN_SECRET", ""),
        rest_sender_per_minute=_int("SMO_REST_SENDER_PER_MINUTE", 20, minimum=1),
        rest_sender_burst=_int("SMO_REST_SENDER_BURST", 8, minimum=1),
        rest_client_per_minute=_int("SMO_REST_CLIENT_PER_MINUTE", 30, minimum=1),
        rest_client_burst=_int("SMO_REST_CLIENT_BURST", 10, minimum=1),
        stock_rasa=_bool("SMO_STOCK_RASA", False),
    )
    try:
        stores.mode()
        from bot.logging_setup import log_format

        log_format()
    except (stores.StoresError, ValueError) as exc:
        raise SettingsError(str(exc)) from exc
    if settings.enable_rasa_api and not settings.rasa_api_token:
        raise SettingsError(
            "SMO_ENABLE_RASA_API=true exposes Rasa's HTTP API on the public port: "
            "set SMO_RASA_API_TOKEN to protect it"
        )
    if settings.rest_public and len(settings.rest_token_secret) < 32:
        raise SettingsError(
            "SMO_REST_PUBLIC=true opens the REST channel beyond this machine: set "
            "SMO_REST_TOKEN_SECRET (at least 32 characters, e.g. `openssl rand -hex 32`) to sign "
            "visitor tokens"
        )
    if settings.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(
            f"SMO_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}"
        )
    return settings
