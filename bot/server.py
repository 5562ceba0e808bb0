"""The public server: Rasa's agent plus our channels and operational routes on one port (5005).

Why not plain ``rasa run``: we need routes at the root (``/health``, later ``/console``) and the
model loaded *after* the port opens, so ``/health`` can say "loading" instead of refusing
connections for the minute TensorFlow takes. Everything else is Rasa's own ``configure_app`` and
``load_agent``, so channels registered in ``credentials.yml`` behave exactly as under ``rasa run``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from rasa.core import agent as rasa_agent
from rasa.core.run import configure_app, create_http_input_channels
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic

from bot.agent_host import AgentHost, AgentProxy
from bot.events import EventBus
from bot.handoff import guard
from bot.handoff.service import HandoffService
from bot.logging_setup import configure_logging
from bot.outbound import Outbound
from bot.paths import ROOT
from bot.settings import Settings, load_settings
from bot.web.ops import ops_blueprint
from bot.web.rest_outbox import rest_outbox_blueprint
from bot.web.staff_api import staff_api_blueprint
from channels.core.runtime import ChannelRuntime

logger = logging.getLogger(__name__)


def build_endpoints(settings: Settings) -> AvailableEndpoints:
    """Action server and tracker store from settings (SQLite by default)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.tracker_db_url)
    tracker = {
        "type": "SQL",
        "dialect": url.drivername.split("+")[0],
        "db": url.database,
    }
    if url.host:
        tracker.update(host=url.host, port=url.port, username=url.username, password=url.password)
    if tracker["dialect"] == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return AvailableEndpoints(
        action=EndpointConfig(url=settings.action_server_url),
        tracker_store=EndpointConfig(**tracker),
    )


def build_app(settings: Settings, credentials: Path) -> Sanic:
    """The Sanic app: Rasa channels, Rasa API (only with a token), and our blueprints."""
    endpoints = build_endpoints(settings)
    channels = create_http_input_channels(None, str(credentials))
    app = configure_app(
        channels,
        cors=None,
        auth_token=settings.rasa_api_token or None,
        enable_api=settings.enable_rasa_api,
        port=settings.port,
        endpoints=endpoints,
    )
    app.ctx.agent = None
    app.ctx.settings = settings
    app.ctx.bus = EventBus()
    app.ctx.outbound = Outbound()
    app.ctx.handoff = None
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes  # larger bodies get 413
    host = AgentHost()
    app.ctx.host = host
    runtime = ChannelRuntime(lambda: host.agent, app.ctx.bus, runner=host.run)
    app.ctx.channels = runtime
    for channel in channels:
        attach = getattr(channel, "attach", None)
        adapter = attach(runtime) if attach else None
        if adapter is not None:
            app.ctx.outbound.register(adapter.name, adapter)
    app.blueprint(ops_blueprint())
    app.blueprint(rest_outbox_blueprint())
    if settings.staff_api_token:
        app.blueprint(staff_api_blueprint(settings.staff_api_token))

    async def load_model(running_app: Sanic) -> None:
        """Load after the port is open; /health answers 503 until this finishes."""
        model = str(settings.model_path) if settings.model_path else str(ROOT / "models")
        logger.info("loading model %s", model)
        running_app.ctx.bus.bind(asyncio.get_running_loop())
        agent = await host.load(
            lambda loop: rasa_agent.load_agent(model_path=model, endpoints=endpoints, loop=loop)
        )
        guard.install(agent, running_app.ctx.bus)
        running_app.ctx.channels.start()
        running_app.ctx.handoff = HandoffService(
            agent, running_app.ctx.outbound, running_app.ctx.bus, runner=host.run
        )
        running_app.ctx.agent = AgentProxy(host)
        logger.info("model loaded; the assistant is answering")

    app.register_listener(
        lambda running_app, _loop: running_app.add_task(load_model(running_app)),
        "after_server_start",
    )
    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.server``: run the public server in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", type=Path, default=ROOT / "credentials.yml")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level)
    app = build_app(settings, args.credentials)
    logger.info("public server on %s", settings.public_url)
    app.run(host=settings.host, port=settings.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
