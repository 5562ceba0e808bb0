"""`make bench` and `make eval` write their figures under `docs/results/`: JSON and a summary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bot import bench, conversation_eval, screening_eval
from bot.paths import ROOT
from bot.results import RESULTS_DIR, write_report


def test_every_report_goes_under_docs_results() -> None:
    assert RESULTS_DIR == ROOT / "docs" / "results"
    assert bench.REPORT_DIR == RESULTS_DIR
    assert screening_eval.RESULTS.parent == RESULTS_DIR
    assert conversation_eval.RESULTS.parent == RESULTS_DIR


def test_docs_results_is_not_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "docs/results/bench.md"], cwd=ROOT,
                             capture_output=True)
    assert ignored.returncode == 1, "docs/results/ must be committed, not ignored"


def test_a_report_is_written_as_json_with_a_markdown_summary_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "x-eval.json"
    markdown = write_report(out, {"accuracy": 0.5, "text": "你好"}, title="X evaluation",
                            command="make eval", summary="set  accuracy\nall  0.500\n")
    assert json.loads(out.read_text(encoding="utf-8")) == {"accuracy": 0.5, "text": "你好"}
    assert markdown == tmp_path / "deep" / "x-eval.md"
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("# X evaluation\n")
    assert "`make eval`" in text and "[x-eval.json](x-eval.json)" in text
    assert "```text\nset  accuracy\nall  0.500\n```" in text
