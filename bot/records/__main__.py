"""``python -m bot.records purge|export``: the data-rights commands (see docs/data-rights.md).

``purge [--older-than-days N] [--dry-run]`` deletes what is past the retention period
(``SMO_RETENTION_DAYS``, default 365) and prints how many rows each table lost, nothing else.
``export (--policy NO | --channel-id ID) [--out FILE]`` writes everything held on one customer as
one JSON document; exit code 2 when nothing is held under what was given.

Both read the same settings as the servers (environment and ``.env``), so they act on the same
product database (``SMO_DATABASE_URL``) and tracker store (``SMO_TRACKER_DB_URL``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.records.export import UnknownCustomer, export, to_json
from bot.records.retention import PurgeReport, RetentionError, purge, retention_days
from bot.settings import SettingsError, load_settings

EXIT_UNKNOWN = 2


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.records", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    purging = commands.add_parser("purge", help="delete records past the retention period")
    purging.add_argument("--older-than-days", type=_positive, metavar="N",
                         help="age in days (default: SMO_RETENTION_DAYS, or 365)")
    purging.add_argument("--dry-run", action="store_true",
                         help="count what would be deleted; delete nothing")
    exporting = commands.add_parser("export", help="everything held on one customer, as JSON")
    subject = exporting.add_mutually_exclusive_group(required=True)
    subject.add_argument("--policy", metavar="POLICY_NO", help="a policy number of the customer")
    subject.add_argument("--channel-id", metavar="ID",
                         help="whatsapp:+852…, a WeChat openid (or wechat:<openid>), a REST sender")
    exporting.add_argument("--out", type=Path, metavar="FILE",
                           help="write here (readable by the owner only) instead of stdout")
    return parser


def _print_report(report: PurgeReport, days: int) -> None:
    """Counts per table only: the operator sees how much went, never what."""
    print(f"purge: records older than {days} days (before {report.cutoff:%Y-%m-%d %H:%M} UTC)"
          + (" - dry run, nothing deleted" if report.dry_run else ""))
    width = max(len(name) for name in report.counts)
    for name, count in report.counts.items():
        print(f"  {name:<{width}}  {count:>8}")
    verb = "would be deleted" if report.dry_run else "deleted"
    print(f"  {'total rows':<{width}}  {report.total:>8}  {verb}")
    print(f"  media references on those cases: {report.media_references}; audit entries kept, "
          f"{report.audit_scrubbed} scrubbed of non-code detail")


def _write_private(path: Path, text: str) -> None:
    """Create or replace ``path`` readable by its owner only: it holds health information."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: 0 done, 1 bad settings, 2 unknown customer."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()  # reads .env too, so SMO_RETENTION_DAYS may be set there
        days = args.older_than_days if args.command == "purge" else 0
        days = days or retention_days()
    except (SettingsError, RetentionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.command == "purge":
        report = purge(older_than_days=days, tracker_url=settings.tracker_db_url,
                       dry_run=args.dry_run)
        _print_report(report, days)
        return 0
    try:
        document = export(policy=args.policy, channel_id=args.channel_id,
                          tracker_url=settings.tracker_db_url)
    except UnknownCustomer as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    text = to_json(document)
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write_private(args.out, text)
        print(f"wrote {args.out} ({len(text.encode())} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
