"""``python -m bot.server [--core]``: run the public gateway (default) or the core.

The two processes: :mod:`bot.gateway` (public port 5005: webhooks, relayed REST, ops, staff API,
console; no model, no TensorFlow) and :mod:`bot.core_server` (loopback port 5006: the Rasa model).
Only the chosen one's module is imported, so the gateway stays small.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.logging_setup import configure_logging, mask_all_handlers
from bot.paths import ROOT
from bot.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    """Run one of the two servers in the foreground."""
    import logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", action="store_true", help="run the core (model) server")
    parser.add_argument("--credentials", type=Path, default=ROOT / "credentials.yml")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level, rasa=args.core)
    if args.core:
        # TensorFlow imports JAX when it is installed, only for TFLite conversion, which Rasa
        # never does; blocking it (TF handles the ImportError) saves ~90 MB in the core.
        sys.modules.setdefault("jax", None)
        from bot.core_server import build_core_app
        from bot.dialogue import RasaVersionError
        from bot.settings import SettingsError

        try:
            app = build_core_app(settings)
        except (SettingsError, RasaVersionError) as exc:
            print(f"configuration error: {exc}", file=sys.stderr)
            sys.exit(2)
        host, port = "127.0.0.1", settings.core_port
    else:
        from bot.gateway import build_gateway_app

        app = build_gateway_app(settings, args.credentials)
        host, port = settings.host, settings.port
    mask_all_handlers()  # Sanic configured its own handlers while the app was built
    logging.getLogger(__name__).info("%s on http://%s:%s", "core" if args.core else "gateway",
                                     host, port)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
