"""Fast checks of what issue 16 items 1-4 rely on: values inside sentences, who a request is for,
full sentences versus short answers, and which questions a form answers on the way."""

from __future__ import annotations

import pytest

from actions.digression import faq_answers
from actions.verification import find_policy_number
from bot.language import decide, detect
from bot.nlu.person_extractor import find_people


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("CI10000001", "CI10000001"),
        ("his policy number is CI10000001", "CI10000001"),
        ("sorry, I mean policy CI 1000 0002", "CI10000002"),
        ("CI10000001 born 15/3/1980", "CI10000001"),
        ("他的保单号码是CA20000001", "CA20000001"),
        ("保單號碼係 ci-1000-0001", "CI10000001"),
        ("my number is 98765432", "98765432"),  # a word before digits is not a prefix
        ("15/03/1980", None),  # dates are never policy numbers
        ("1980-03-15", None),
        ("19800315", None),
        ("how much does it cost?", None),
    ],
)
def test_policy_number_alone_or_inside_a_sentence(text: str, number: str | None) -> None:
    assert find_policy_number(text) == number


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Hi, my mother was just diagnosed with breast cancer", "mother"),
        ("你好，我阿媽啱啱確診乳癌", "mother"),
        ("我爸爸肺癌三期，医生建议化疗", "father"),
        ("please start it for my husband", "husband"),
        ("I want a second opinion", None),
    ],
)
def test_who_the_request_is_for(text: str, person: str | None) -> None:
    found = find_people(text)
    assert (found[0].value if found else None) == person


@pytest.mark.parametrize(
    ("previous", "text", "expected"),
    [
        # a full sentence in another language switches, even while a form waits
        ("zh-Hant", "Sorry, could you tell me how much this service costs?", "en"),
        ("en", "我想問下幾時先會有報告呀？", "yue"),
        ("zh-Hant", "我爸爸肺癌三期，医生建议化疗", "zh-Hans"),
        # short answers never do
        ("zh-Hant", "colon cancer stage 2", "zh-Hant"),
        ("zh-Hans", "is surgery the best option", "zh-Hans"),
        ("yue", "ok", "yue"),
        ("en", "1980年3月15日", "en"),
        ("en", "乳癌第二期", "en"),
        ("zh-Hant", "CI10000001", "zh-Hant"),
        ("zh-Hant", "Critical Illness Multi-Protection Plan", "zh-Hant"),
        ("yue", "啱晒", "yue"),  # 晒 is Hong Kong Cantonese, not a Simplified character here
    ],
)
def test_language_inside_a_form(previous: str, text: str, expected: str) -> None:
    assert decide(previous, detect(text), None, answering=True) == expected


def test_a_form_answers_every_faq_question_as_its_rule_does() -> None:
    answers = faq_answers()
    assert answers["ask_cost"] == ("utter_cost",)
    assert answers["ask_report_time"] == ("utter_report_time", "utter_terms")
    assert all(intent.startswith("ask_") for intent in answers)


def test_every_short_form_question_is_served_by_an_ask_action() -> None:
    """Each ``action_ask_<slot>`` the domain lists is an action the SDK registers, and each one
    it registers has both its full and its short question in the domain."""
    from rasa_sdk.executor import ActionExecutor

    from actions.asking import SHORT_FORM_SLOTS
    from bot.paths import ROOT
    from bot.yamlfile import load_yaml

    domain = load_yaml(ROOT / "domain.yml")
    executor = ActionExecutor()
    executor.register_package("actions")
    listed = {a for a in domain["actions"] if a.startswith("action_ask_")}
    for slot in SHORT_FORM_SLOTS:
        assert f"action_ask_{slot}" in listed
        assert f"action_ask_{slot}" in executor.actions
        assert {f"utter_ask_{slot}", f"utter_ask_{slot}_short"} <= set(domain["responses"])
