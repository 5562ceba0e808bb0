"""The core: Rasa's agent on loopback (port 5006), which only the gateway and staff tools call.

``python -m bot.server --core`` runs it: the agent, our REST channel, the internal channel the
gateway hands WhatsApp/WeChat messages to, and Rasa's HTTP API (token-protected). It opens its
port first and loads the model in the background, so ``/health`` says "loading" meanwhile. It uses
Rasa's own ``configure_app``, so channels behave exactly as under ``rasa run``; our dialogue-engine
shortcuts (:mod:`bot.dialogue`) are installed before the model loads, after checking that the
installed Rasa is the one they were written for. They give stock Rasa's results with one stated
difference: an action call carries the events of the last 12 user turns only (our actions and
rasa_sdk read no further back, so they answer as under stock). ``SMO_STOCK_RASA=true`` runs Rasa as
shipped instead: no shortcut, Rasa's own tracker store and action endpoint.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from rasa.core import agent as rasa_agent
from rasa.core.run import configure_app
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic

from bot import resident_memory
from bot.events import EventBus
from bot.handoff import guard
from bot.paths import ROOT
from bot.settings import Settings
from bot.web.ops import ops_blueprint
from channels.internal import InternalInput
from channels.rest.input import RestInput

logger = logging.getLogger(__name__)


def tracker_endpoint(url: str, *, only_writer: bool = False, stock: bool = False
                     ) -> EndpointConfig:
    """Rasa's SQL tracker store at a SQLAlchemy URL (SQLite file or PostgreSQL).

    ``only_writer``: this process is the only one writing conversations (embedded mode), so
    the store may trust its memory without asking the database on every read. ``stock``: Rasa's
    own store (``SMO_STOCK_RASA``), on the same tables."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    tracker: dict = {"type": "sql", "dialect": parsed.drivername.split("+")[0],
                     "db": parsed.database}
    if not stock:
        # Rasa's SQL tracker store, keeping current conversations in memory (bot.dialogue).
        tracker.update(type="bot.dialogue.tracker_store.CachedSQLTrackerStore",
                       verify_reads=not only_writer)
    if parsed.host:
        # Rasa takes the host as the endpoint's ``url``.
        tracker.update(url=parsed.host, port=parsed.port, username=parsed.username,
                       password=parsed.password)
    if tracker["dialect"] == "sqlite":
        from bot.stores.files import private_sqlite

        private_sqlite(url)  # transcripts: 0600 before Rasa's store first opens it
    return EndpointConfig(**tracker)


def lock_endpoint(url: str | None) -> EndpointConfig | None:
    """Rasa's lock store: Redis when shared (instances must not interleave one conversation)."""
    if not url:
        return None  # in memory: one core process
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return EndpointConfig(url=parts.hostname or "127.0.0.1", type="redis",
                          port=parts.port or 6379, db=int(parts.path.strip("/") or 0),
                          password=parts.password, key_prefix="smo")


def build_endpoints(settings: Settings) -> AvailableEndpoints:
    """Action server, tracker store and lock store from settings (embedded by default); Rasa's
    own action endpoint and tracker store with ``SMO_STOCK_RASA``."""
    from bot import stores
    from bot.dialogue.action_endpoint import PooledEndpointConfig

    # Called after every message: one kept connection instead of one per call.
    action = PooledEndpointConfig.for_action_server(settings.action_server_url,
                                                    settings.action_token)
    if settings.stock_rasa:  # the same URL and secret, a new connection per call
        action = EndpointConfig(url=action.url, headers=action.headers)
    return AvailableEndpoints(
        action=action,
        # Embedded: one core process writes the tracker store; shared: several instances do.
        tracker_store=tracker_endpoint(settings.tracker_db_url,
                                       only_writer=stores.redis_url() is None,
                                       stock=settings.stock_rasa),
        lock_store=lock_endpoint(stores.redis_url()),
    )


def prepare_engine(settings: Settings) -> None:
    """Install the dialogue-engine shortcuts (the same results as stock Rasa but for the
    12-turn window of action calls, without the O(history) costs), unless ``SMO_STOCK_RASA``.
    Raises :class:`bot.dialogue.RasaVersionError` on a Rasa they were not written for."""
    if not settings.stock_rasa:
        import bot.dialogue

        bot.dialogue.install()


def build_core_app(settings: Settings) -> Sanic:
    """The core: Rasa's agent with the REST and internal channels and Rasa's HTTP API."""
    prepare_engine(settings)
    if settings.stock_rasa:
        logger.warning("SMO_STOCK_RASA: Rasa's dialogue engine as shipped (no bot.dialogue)")
    endpoints = build_endpoints(settings)
    app = configure_app(
        # Our REST channel (channels/rest/input.py), not Rasa's: it answers the gateway only.
        [RestInput(settings.internal_token), InternalInput(settings.internal_token)],
        cors=None,
        auth_token=settings.core_api_token,
        enable_api=True,
        port=settings.core_port,
        endpoints=endpoints,
    )
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.ctx.agent = None
    app.ctx.settings = settings  # /metrics reads its token here, as on the gateway
    app.ctx.bus = EventBus()
    app.blueprint(ops_blueprint(public=False))

    async def load_model(running_app: Sanic) -> None:
        model = str(settings.model_path) if settings.model_path else str(ROOT / "models")
        logger.info("loading model %s", model)
        agent = await rasa_agent.load_agent(
            model_path=model, endpoints=endpoints, loop=asyncio.get_running_loop())
        guard.install(agent, running_app.ctx.bus)
        # TensorFlow, Rasa and the model are millions of long-lived objects: move them out of
        # the collector's view, or every full collection pauses a reply for a few hundred ms.
        gc.collect()
        gc.freeze()
        resident_memory.settle_after_loading()
        running_app.ctx.agent = agent
        logger.info("model loaded; the assistant is answering")
        running_app.ctx.trimming = asyncio.ensure_future(resident_memory.trim_now_and_then())

    async def stop_trimming(running_app: Sanic, _loop: object) -> None:
        """Cancel the trimming loop before the loop closes (else asyncio logs an error that it
        was destroyed while pending, at every stop)."""
        task = getattr(running_app.ctx, "trimming", None)
        if task is not None:
            task.cancel()

    app.register_listener(
        lambda running_app, _loop: running_app.add_task(load_model(running_app)),
        "after_server_start",
    )
    app.register_listener(stop_trimming, "before_server_stop")
    return app


