"""``python -m bot.action_server``: the Rasa SDK's action server, answering only the core.

The actions see health data and the policy directory: given a crafted tracker, the stock server
verifies a policy for any sender id and returns its full number to whoever asks. Any process on
the host (or anyone on the network, with ``SMO_ACTION_HOST``) can reach its port, so every route
but ``/health`` needs the per-run secret the core sends (:data:`TOKEN_HEADER`, compared in
constant time); without it the answer is 403. The server is the SDK's own (``create_app``, as
``rasa run actions`` builds it), with no CORS (no browser calls it) and, like the stock one,
without loading Rasa's command line (which imports TensorFlow).
"""

from __future__ import annotations

import argparse
import hmac
import sys
from typing import Any

TOKEN_HEADER = "X-SMO-Action-Token"
TOKEN_VARIABLE = "SMO_ACTION_TOKEN"
# What a probe may ask without the secret: it says "ok" and nothing else.
OPEN_ROUTES = frozenset({("GET", "/health")})


class ActionServerError(RuntimeError):
    """The action server cannot start as configured; the message says how to fix it."""


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison (bytes: a non-ASCII header must not raise)."""
    return bool(token) and hmac.compare_digest((given or "").encode(), token.encode())


def refusal(method: str, path: str, given: str | None, token: str) -> dict[str, Any] | None:
    """The 403 body for a request that may not run actions, or ``None`` when it may."""
    if (method.upper(), path) in OPEN_ROUTES or token_matches(given, token):
        return None
    return {"error": "forbidden", "detail": f"only the core may call this server ({TOKEN_HEADER})"}


def require_token(app: Any, token: str) -> None:
    """Refuse (403) every request but ``GET /health`` that lacks the secret."""
    if not token:
        raise ActionServerError(f"{TOKEN_VARIABLE} is empty")
    from sanic.response import json

    @app.middleware("request")
    async def only_the_core(request: Any) -> Any:
        body = refusal(request.method, request.path, request.headers.get(TOKEN_HEADER), token)
        return None if body is None else json(body, status=403)


def build_app(token: str, actions: str = "actions") -> Any:
    """The SDK's action server for ``actions``, behind the secret."""
    if not token:
        raise ActionServerError(
            f"{TOKEN_VARIABLE} is not set: the action server answers only callers that send it "
            "(the core, in its X-SMO-Action-Token header). `make run` generates one per run; "
            "when starting the processes yourself, give the core and this server the same value "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    from rasa_sdk.endpoint import create_app

    app = create_app(actions, cors_origins="")
    require_token(app, token)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the action server in the foreground (loopback unless ``SMO_ACTION_HOST`` says)."""
    from bot.logging_setup import configure_logging, mask_all_handlers
    from bot.settings import SettingsError, load_settings
    from bot.stores.files import restrict_umask

    restrict_umask()  # the actions write the product database: its files stay private
    parser = argparse.ArgumentParser(prog="python -m bot.action_server", description=__doc__)
    parser.add_argument("--actions", default="actions", help="package holding the actions")
    parser.add_argument("--port", type=int, default=None, help="default: SMO_ACTION_PORT")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        app = build_app(settings.action_token, args.actions)
    except (SettingsError, ActionServerError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, rasa=False)
    from rasa_sdk import utils
    from rasa_sdk.plugin import plugin_manager

    plugin_manager().hook.attach_sanic_app_extensions(app=app)  # as the SDK's own entry point
    mask_all_handlers()
    # Only the core calls it: loopback (SMO_ACTION_HOST), not the SDK's default of every
    # interface.
    app.run(settings.action_host, args.port or settings.action_port,
            workers=utils.number_of_sanic_workers(),
            access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
