"""The public gateway (port 5005): provider webhooks, Rasa's REST channel (relayed), ``/health``,
the staff API and the console. It never loads the model, and never imports Rasa's engine or
TensorFlow: a webhook is stored and acknowledged in milliseconds whatever the model is doing, and
the process stays small. Input channels come from ``credentials.yml`` as under ``rasa run``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import sys
from pathlib import Path
from typing import Any

from sanic import Sanic

from bot.core_client import CoreClient
from bot.events import EventBus
from bot.handoff.service import HandoffService
from bot.outbound import Outbound
from bot.settings import Settings
from bot.web.core_proxy import core_proxy_blueprint
from bot.web.ops import ops_blueprint
from bot.web.rasa_api import rasa_api_blueprint
from bot.web.rest_outbox import rest_outbox_blueprint
from bot.web.staff_api import staff_api_blueprint
from channels.console.web import console_blueprint
from channels.core.runtime import ChannelRuntime

logger = logging.getLogger(__name__)
# Served by the core, not the gateway (the REST channel's rules: channels/rest/).
CORE_CHANNELS = {"rest", "internal", "channels.rest.input.RestInput"}


def input_channels(credentials: Path) -> list[Any]:
    """The provider channels named in ``credentials.yml`` (Rasa's format: a module path per
    custom channel), built with their ``from_credentials`` as Rasa would."""
    from bot.yamlfile import load_yaml

    config = load_yaml(credentials) or {}
    channels = []
    for name, values in config.items():
        if name in CORE_CHANNELS:
            continue
        module, _, class_name = name.rpartition(".")
        if not module:
            raise ValueError(f"{credentials}: unknown channel {name!r} (use a module path)")
        channel_class = getattr(importlib.import_module(module), class_name)
        channels.append(channel_class.from_credentials(values))
    return channels


def build_gateway_app(settings: Settings, credentials: Path) -> Sanic:
    """The public gateway: provider channels, relayed REST, ops, staff API; no model."""
    app = Sanic("smo_gateway", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes  # larger bodies get 413
    app.ctx.settings = settings
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
    channels = input_channels(credentials)
    for channel in channels:
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
    app.blueprint(core_proxy_blueprint(settings))
    if settings.enable_rasa_api:
        app.blueprint(rasa_api_blueprint(settings))
    app.blueprint(rest_outbox_blueprint())
    app.blueprint(console_blueprint())
    # Staff members' own tokens work with or without the (read-only) operator token.
    app.blueprint(staff_api_blueprint(settings.staff_api_token))

    # Provider message webhooks first: while one is handled, the runtime's thread holds its
    # next step. (Status callbacks, four per reply, only record delivery, and the REST channel
    # is relayed to the core, which answers it itself: they do not count.)
    message_webhooks = {f"/webhooks/{name}/webhook" for name in runtime.adapters}

    @app.on_request
    async def webhook_opened(request: Any) -> None:
        if request.path in message_webhooks:
            runtime.web_first.opened(id(request))

    @app.on_response
    async def webhook_closed(request: Any, response: Any) -> None:
        runtime.web_first.closed(id(request))

    @app.listener("after_server_start")
    async def start(running_app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        running_app.ctx.bus.bind(loop)
        runtime.start()
        # Everything imported so far lives for the whole run: keep it out of the collector's
        # full passes, which otherwise pause an acknowledgement now and then.
        gc.collect()
        gc.freeze()
        # The channel runtime's thread shares the interpreter lock with this web loop; a 1 ms
        # switch interval (default 5 ms) lets a waiting acknowledgement in sooner.
        sys.setswitchinterval(0.001)

    @app.listener("before_server_stop")
    async def stop(running_app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
        await running_app.ctx.core.close()

    return app


