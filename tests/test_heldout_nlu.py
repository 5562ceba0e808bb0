"""The held-out NLU sets (tests/nlu, never trained on) through the running server's /model/parse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.evaluate import OVERALL_MIN, PER_LANGUAGE_MIN, _remote_parser, evaluate, format_report

pytestmark = pytest.mark.slow
TEST_DIR = Path(__file__).resolve().parent / "nlu"


def test_heldout_accuracy_meets_targets(assistant) -> None:
    async def run() -> dict:
        parse = await _remote_parser(assistant.base_url, assistant.api_token)
        return await evaluate(parse, sorted(TEST_DIR.glob("*.yml")))

    report = asyncio.run(run())
    table = format_report(report)
    assert report["overall"]["accuracy"] >= OVERALL_MIN, table
    for name, result in report["languages"].items():
        assert result["accuracy"] >= PER_LANGUAGE_MIN, f"{name}\n{table}"
