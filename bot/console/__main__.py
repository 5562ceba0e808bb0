"""``python -m bot.console users add NAME --role nurse``: manage console accounts.

The password is read from standard input (never a command-line argument, which other users of the
machine could see in the process list) or asked for twice on a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.console.users import ROLES, ConsoleError, add_user, list_users, set_disabled


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConsoleError("the passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.console", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)
    users = groups.add_parser("users").add_subparsers(dest="command", required=True)
    add = users.add_parser("add", help="create an account (password from stdin)")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    users.add_parser("list")
    for name in ("disable", "enable"):
        users.add_parser(name).add_argument("username")
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            add_user(args.username, args.role, _password())
            print(f"created {args.username} ({args.role})")
        elif args.command == "list":
            for username, role, disabled in list_users():
                print("\t".join([username, role] + (["disabled"] if disabled else [])))
        else:
            set_disabled(args.username, args.command == "disable")
            print(f"{args.command}d {args.username}")
    except ConsoleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
