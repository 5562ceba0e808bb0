"""``python -m bot.policies import FILE``: load policies from a CSV (see importer.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.policies.importer import COLUMNS, import_csv


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit 1 with row-numbered errors when the file is invalid."""
    parser = argparse.ArgumentParser(prog="python -m bot.policies", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    importing = commands.add_parser(
        "import", help=f"import a CSV with columns: {', '.join(COLUMNS)}"
    )
    importing.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    report = import_csv(args.file)
    if not report.ok:
        print(f"{args.file}: not imported, {len(report.errors)} problem(s):", file=sys.stderr)
        for error in report.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
