"""The two server processes: the public gateway (port 5005) and the core (loopback, port 5006).

``python -m bot.server`` (gateway) owns the public port: provider webhooks, Rasa's REST channel
(relayed), ``/health``, the staff API and the console. It never loads the model, so a webhook is
stored and acknowledged in milliseconds whatever the model is doing, and the gateway stays small.

``python -m bot.server --core`` runs Rasa: the agent, Rasa's REST channel, the internal channel the
gateway hands WhatsApp/WeChat messages to, and Rasa's HTTP API (token-protected, loopback only). It
opens its port first and loads the model in the background, so ``/health`` says "loading".
Both use Rasa's own ``configure_app``, so channels behave exactly as under ``rasa run``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from pathlib import Path

from rasa.core import agent as rasa_agent
from rasa.core.channels.rest import RestInput
from rasa.core.run import configure_app, create_http_input_channels
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic

from bot.core_client import CoreClient
from bot.events import EventBus
from bot.handoff import guard
from bot.handoff.service import HandoffService
from bot.logging_setup import configure_logging, mask_all_handlers
from bot.outbound import Outbound
from bot.paths import ROOT
from bot.settings import Settings, load_settings
from bot.web.core_proxy import core_proxy_blueprint
from bot.web.ops import ops_blueprint
from bot.web.rest_outbox import rest_outbox_blueprint
from bot.web.staff_api import staff_api_blueprint
from channels.console.web import console_blueprint
from channels.core.runtime import ChannelRuntime
from channels.internal import InternalInput

logger = logging.getLogger(__name__)


def tracker_endpoint(url: str, *, only_writer: bool = False) -> EndpointConfig:
    """Rasa's SQL tracker store at a SQLAlchemy URL (SQLite file or PostgreSQL).

    ``only_writer``: this process is the only one writing conversations (embedded mode), so
    the store may trust its memory without asking the database on every read."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    # Rasa's SQL tracker store, keeping current conversations in memory (bot.dialogue).
    tracker = {"type": "bot.dialogue.tracker_store.CachedSQLTrackerStore",
               "dialect": parsed.drivername.split("+")[0], "db": parsed.database,
               "verify_reads": not only_writer}
    if parsed.host:
        # Rasa takes the host as the endpoint's ``url``.
        tracker.update(url=parsed.host, port=parsed.port, username=parsed.username,
                       password=parsed.password)
    if tracker["dialect"] == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
    """Action server, tracker store and lock store from settings (embedded by default)."""
    from bot import stores

    return AvailableEndpoints(
        action=EndpointConfig(url=settings.action_server_url),
        # Embedded: one core process writes the tracker store; shared: several instances do.
        tracker_store=tracker_endpoint(settings.tracker_db_url,
                                       only_writer=stores.redis_url() is None),
        lock_store=lock_endpoint(stores.redis_url()),
    )


def build_core_app(settings: Settings) -> Sanic:
    """The core: Rasa's agent with the REST and internal channels and Rasa's HTTP API."""
    import bot.dialogue

    bot.dialogue.install()  # same dialogue results as stock Rasa, without the O(history) costs
    endpoints = build_endpoints(settings)
    app = configure_app(
        [RestInput(), InternalInput(settings.internal_token)],
        cors=None,
        auth_token=settings.core_api_token,
        enable_api=True,
        port=settings.core_port,
        endpoints=endpoints,
    )
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.ctx.agent = None
    app.ctx.bus = EventBus()
    app.blueprint(ops_blueprint())

    async def load_model(running_app: Sanic) -> None:
        model = str(settings.model_path) if settings.model_path else str(ROOT / "models")
        logger.info("loading model %s", model)
        agent = await rasa_agent.load_agent(
            model_path=model, endpoints=endpoints, loop=asyncio.get_running_loop())
        guard.install(agent, running_app.ctx.bus)
        running_app.ctx.agent = agent
        logger.info("model loaded; the assistant is answering")

    app.register_listener(
        lambda running_app, _loop: running_app.add_task(load_model(running_app)),
        "after_server_start",
    )
    return app


def build_gateway_app(settings: Settings, credentials: Path) -> Sanic:
    """The public gateway: provider channels, relayed REST, ops, staff API; no model."""
    app = Sanic("smo_gateway", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes  # larger bodies get 413
    app.ctx.bus = EventBus()
    app.ctx.outbound = Outbound()
    app.ctx.core = CoreClient(settings.core_url, settings.core_api_token, settings.internal_token)
    # The runtime works on its own loop (thread): it gets its own client (aiohttp sessions belong
    # to one event loop).
    runtime = ChannelRuntime(
        CoreClient(settings.core_url, settings.core_api_token, settings.internal_token),
        app.ctx.bus,
    )
    app.ctx.channels = runtime
    for channel in create_http_input_channels(None, str(credentials)):
        attach = getattr(channel, "attach", None)
        if attach is None:
            continue  # Rasa's own channels (REST) live in the core
        adapter = attach(runtime)
        if adapter is not None:
            app.ctx.outbound.register(adapter.name, adapter)
        app.blueprint(channel.blueprint(lambda _message: None),
                      url_prefix=f"/webhooks/{channel.name()}")
    app.ctx.handoff = HandoffService(app.ctx.core, app.ctx.outbound, app.ctx.bus)
    app.blueprint(ops_blueprint())
    app.blueprint(core_proxy_blueprint(settings.enable_rasa_api))
    app.blueprint(rest_outbox_blueprint())
    app.blueprint(console_blueprint())
    if settings.staff_api_token:
        app.blueprint(staff_api_blueprint(settings.staff_api_token))

    @app.listener("after_server_start")
    async def start(running_app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        running_app.ctx.bus.bind(loop)
        runtime.start()
        # Everything imported so far lives for the whole run: keep it out of the collector's
        # full passes, which otherwise pause an acknowledgement now and then.
        gc.collect()
        gc.freeze()

    @app.listener("before_server_stop")
    async def stop(running_app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
        await running_app.ctx.core.close()

    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.server [--core]``: run one of the two servers in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", action="store_true", help="run the core (model) server")
    parser.add_argument("--credentials", type=Path, default=ROOT / "credentials.yml")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level)
    if args.core:
        app = build_core_app(settings)
        host, port = "127.0.0.1", settings.core_port
    else:
        app = build_gateway_app(settings, args.credentials)
        host, port = settings.host, settings.port
    mask_all_handlers()  # Sanic configured its own handlers while the app was built
    logger.info("%s on http://%s:%s", "core" if args.core else "gateway", host, port)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()


