"""``python -m bot.stores migrate|status``: create or migrate the schema; show where stores are."""

from __future__ import annotations

import argparse
import sys

from bot import stores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.stores", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or migrate every store's schema (idempotent)")
    sub.add_parser("status", help="where each store is and the schema revision")
    args = parser.parse_args(argv)
    from bot.stores import migrate

    try:
        if args.command == "migrate":
            for name, state in migrate.migrate_all().items():
                print(f"{name:9} {state}")
        else:
            from sqlalchemy import create_engine

            for name, where in stores.describe().items():
                print(f"{name:9} {where}")
            engine = create_engine(stores.database_url(), future=True)
            with engine.connect() as connection:
                print(f"{'schema':9} {migrate.current(connection) or 'none'} "
                      f"(this release: {migrate.head()})")
    except stores.StoresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a server down or refusing us: say which, without a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
