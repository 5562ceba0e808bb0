"""``python -m bot.console users add NAME --role nurse``: manage console accounts and staff API
tokens.

The password is read from standard input (never a command-line argument, which other users of the
machine could see in the process list) or asked for twice on a terminal. ``token create USER``
prints the new token once, on standard output only: it is stored as a hash and cannot be shown
again (revoke it and make another if it is lost).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.console import tokens
from bot.console.users import ROLES, ConsoleError, add_user, list_users, set_disabled


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConsoleError("the passwords differ")
    return first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.console", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = parser.add_subparsers(dest="group", required=True)
    users = groups.add_parser("users").add_subparsers(dest="command", required=True)
    add = users.add_parser("add", help="create an account (password from stdin)")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    users.add_parser("list")
    for name in ("disable", "enable"):
        users.add_parser(name).add_argument("username")
    token = groups.add_parser("token").add_subparsers(dest="command", required=True)
    create = token.add_parser("create", help="a staff API token acting as USER (shown once)")
    create.add_argument("username")
    create.add_argument("--label", default="", help="what it is for (e.g. 'outcomes export')")
    create.add_argument("--days", type=int, default=tokens.DEFAULT_DAYS,
                        help=f"valid for this many days (default {tokens.DEFAULT_DAYS})")
    listed = token.add_parser("list", help="tokens (never their values), newest first")
    listed.add_argument("username", nargs="?")
    token.add_parser("revoke", help="revoke a token at once").add_argument("id", type=int)
    return parser


def _users(args: argparse.Namespace) -> None:
    if args.command == "add":
        add_user(args.username, args.role, _password())
        print(f"created {args.username} ({args.role})")
    elif args.command == "list":
        for username, role, disabled in list_users():
            print("\t".join([username, role] + (["disabled"] if disabled else [])))
    else:
        set_disabled(args.username, args.command == "disable")
        print(f"{args.command}d {args.username}")


def _tokens(args: argparse.Namespace) -> None:
    if args.command == "create":
        token_id, token = tokens.create(args.username, args.label, created_by="cli",
                                        days=args.days)
        print(f"token {token_id} for {args.username} (shown once; store it now):",
              file=sys.stderr)
        print(token)
    elif args.command == "list":
        for t in tokens.list_tokens(args.username):
            used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
            expires = t.expires_at.isoformat(timespec="minutes") if t.expires_at else "never"
            print("\t".join([str(t.id), t.username, t.state(), t.label or "-",
                             f"expires {expires}", f"used {used}"]))
    else:
        print(f"revoked token {args.id} of {tokens.revoke(args.id)}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        (_users if args.group == "users" else _tokens)(args)
    except ConsoleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
