"""The plan catalogue and plan mentions in free text, in every script."""

from __future__ import annotations

import pytest

from bot.plans import catalogue, eligible_codes, find_plans


def test_four_eligible_plans() -> None:
    assert sorted(eligible_codes()) == ["CCP", "CIMP", "MPCI", "SCIT"]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("我買咗癌症全護計劃", ["CCP"]),
        ("我买了癌症全护计划", ["CCP"]),
        ("我份係「多重保」危疾保障計劃", ["MPCI"]),
        ("多重保可唔可以用", ["MPCI"]),
        ("危疾多重保障計劃同特選危疾治療保", ["CIMP", "SCIT"]),
        ("is the Cancer Comprehensive Care Plan eligible", ["CCP"]),
        ("CANCER COMPREHENSIVE CARE PLAN", ["CCP"]),
        ("i have multi-pro", ["MPCI"]),
        ("ＳＥＬＥＣＴ ＣＲＩＴＩＣＡＬ ＩＬＬＮＥＳＳ treatment cover", ["SCIT"]),
        ("my term life plan", ["TLP"]),
        ("no plan named here", []),
        ("multiprofessional", []),
    ],
)
def test_find_plans(text: str, codes: list[str]) -> None:
    assert [m.code for m in find_plans(text)] == codes


def test_mentions_index_the_original_text() -> None:
    text = "我想問下「多重保」危疾保障計劃得唔得"
    (mention,) = find_plans(text)
    assert text[mention.start : mention.end] == mention.text
    assert "危疾保障計劃" in mention.text


def test_every_plan_has_names_in_three_scripts() -> None:
    for plan in catalogue().values():
        assert plan.name("en") and plan.name("yue") and plan.name("zh-Hans")
