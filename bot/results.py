"""Where ``make bench`` and ``make eval`` leave their figures: ``docs/results/``.

The files are committed with the code, so a reader sees the latest measured figures beside the docs
without running anything, and nobody pastes numbers into the README by hand. Each JSON report gets a
short Markdown summary beside it (same name, ``.md``) holding the table the command printed.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from bot.paths import ROOT

RESULTS_DIR = ROOT / "docs" / "results"


def commit() -> str:
    """The checkout's short commit, marked when it has uncommitted changes ("unknown" off git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted changes" if dirty else "")


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (for the line a command prints)."""
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def write_report(out: Path, report: dict, *, title: str, command: str, summary: str) -> Path:
    """Write ``report`` as JSON to ``out`` and ``summary`` (the printed table) as Markdown beside
    it; returns the Markdown file's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    markdown = out.with_suffix(".md")
    markdown.write_text(
        f"# {title}\n\nWritten by `{command}` on {when}, commit {commit()}. "
        f"Full figures: [{out.name}]({out.name}).\n\n```text\n{summary.rstrip()}\n```\n",
        encoding="utf-8",
    )
    return markdown
