"""``python -m channels.rest token <visitor-id> [--minutes 60]``: issue a visitor token.

For an operator trying the public REST channel, or as a model for the website's backend (which
calls :func:`channels.rest.tokens.issue` itself). Reads ``SMO_REST_TOKEN_SECRET`` from the
environment (or ``.env``) like the servers do, and prints only the token.
"""

from __future__ import annotations

import argparse
import sys

from channels.rest import tokens
from channels.rest.message import RestRequestError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m channels.rest",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a signed, expiring token for one visitor")
    token.add_argument("visitor", help="the visitor id; it is the REST sender the token allows")
    token.add_argument("--minutes", type=int, default=60,
                       help=f"how long it is valid (1 to {tokens.MAX_MINUTES}; default 60)")
    args = parser.parse_args(argv)
    from bot.settings import SettingsError, load_settings

    try:
        secret = load_settings().rest_token_secret
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if not secret:
        print("set SMO_REST_TOKEN_SECRET (the secret the gateway verifies tokens with)",
              file=sys.stderr)
        return 2
    try:
        print(tokens.issue(secret, args.visitor, args.minutes))
    except (RestRequestError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
