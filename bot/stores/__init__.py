"""Where every store lives. One setting, ``SMO_STORES``, picks the deployment shape:

``embedded`` (default)
    SQLite files in ``SMO_VAR_DIR`` (product database and Rasa tracker store), locks in memory.
    Right for one instance on a laptop or a small server: nothing to install or run.
``shared``
    PostgreSQL for the product database *and* the tracker store, Redis for Rasa's lock store, the
    WeChat token cache and the per-conversation leases that keep several instances answering one
    customer in order. Defaults point at the local servers (``SMO_POSTGRES_URL``,
    ``SMO_REDIS_URL``); the schema is made by ``python -m bot.stores migrate``.

The specific URLs (``SMO_DATABASE_URL``, ``SMO_TRACKER_DB_URL``, ``SMO_REDIS_URL``) still win over
what the mode implies, so an operator can, say, put the tracker store in a separate database.
Every process reads the same environment, so gateway, core and action server always agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.paths import ROOT

MODES = ("embedded", "shared")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/smo"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class StoresError(ValueError):
    """The store configuration is wrong; the message says how to fix it."""


def mode() -> str:
    """``embedded`` or ``shared`` (``SMO_STORES``)."""
    value = (os.environ.get("SMO_STORES") or "embedded").strip().lower()
    if value not in MODES:
        raise StoresError(f"SMO_STORES must be one of {', '.join(MODES)}, got {value!r}")
    return value


def var_dir() -> Path:
    """Folder for the embedded databases and run files."""
    return Path(os.environ.get("SMO_VAR_DIR", ROOT / "var"))


def database_url() -> str:
    """The product database (policies, consents, cases, audit, channel inbox/outbox)."""
    explicit = os.environ.get("SMO_DATABASE_URL")
    if explicit:
        return explicit
    if mode() == "shared":
        return os.environ.get("SMO_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    return f"sqlite:///{var_dir() / 'smo.db'}"


def tracker_url() -> str:
    """Rasa's tracker store (the transcript); the product database's server when shared."""
    explicit = os.environ.get("SMO_TRACKER_DB_URL")
    if explicit:
        return explicit
    if mode() == "shared":
        return os.environ.get("SMO_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    return f"sqlite:///{var_dir() / 'tracker.db'}"


def redis_url() -> str | None:
    """Redis for locks, leases and the token cache; ``None`` when embedded (in-memory locks)."""
    explicit = os.environ.get("SMO_REDIS_URL")
    if explicit:
        return explicit
    return DEFAULT_REDIS_URL if mode() == "shared" else None


def describe() -> dict[str, str]:
    """Where each store is, passwords masked (for start-up banners and ``/ready``)."""
    from sqlalchemy.engine import make_url

    def safe(url: str | None) -> str:
        if not url:
            return "in memory"
        if url.startswith("redis"):
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"
        return make_url(url).render_as_string(hide_password=True)

    return {"mode": mode(), "database": safe(database_url()), "tracker": safe(tracker_url()),
            "locks": safe(redis_url())}
