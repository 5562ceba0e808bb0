"""Rasa's own conversation tests: `rasa test core` on tests/stories in three languages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_story_tests_pass(assistant, tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(  # the action server answers only callers with the core's secret
        f'action_endpoint:\n  url: "http://127.0.0.1:{assistant.action_port}/webhook"\n'
        f'  headers:\n    X-SMO-Action-Token: "{assistant.action_token}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "results"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("rasa")),
            "test",
            "core",
            "--model",
            str(assistant.model),
            "--stories",
            "tests/stories",
            "--endpoints",
            str(endpoints),
            "--out",
            str(out),
            "--fail-on-prediction-errors",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = out / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n{details}"
