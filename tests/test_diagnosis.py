"""The condition a description names, as the case summary shows it (bot/diagnosis.py)."""

from __future__ import annotations

import pytest

from bot.diagnosis import named_condition


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi, my mother was just diagnosed with breast cancer, how do we apply?", "breast cancer"),
        ("I want a second opinion for my son, he has a bone tumour in his leg", "bone tumour"),
        ("我父親最近被診斷出腦膜瘤，請問可否申請？", "腦膜瘤"),  # a family's head, widened
        ("你好，我老婆有子宮內膜癌，想申請第二意見", "子宮內膜癌"),
        # a heart attack in 2019 is history, not the diagnosis asked about now
        ("Dad had a heart attack back in 2019. Now he has prostate cancer", "prostate cancer"),
        ("I keep getting a rash on my arms", None),  # an everyday illness names no diagnosis
        ("他没有癌症", None),  # negated
    ],
)
def test_named_condition(text: str, name: str | None) -> None:
    assert named_condition(text) == name


def test_a_disease_is_preferred_to_a_procedure_named_before_it() -> None:
    text = "got my biopsy results back today, it's colon cancer, surgeon wants to operate"
    assert named_condition(text) == "colon cancer"
