"""Language detection, normalisation and the sticky reply-language decision."""

from __future__ import annotations

import pytest

from bot.language import Detection, Strength, decide, detect, normalise, reply_script


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我想問下second opinion點申請", "yue"),
        ("你哋嘅專案醫生講唔講廣東話", "yue"),
        ("個report幾耐有", "yue"),
        ("第二醫療意見是什麼", "zh-Hant"),
        ("請問報告需要多久", "zh-Hant"),
        ("我想申请第二医疗意见", "zh-Hans"),
        ("报告多久能出来", "zh-Hans"),
        ("what is the second medical opinion service", "en"),
        ("How long does the report take?", "en"),
        ("Ｗｈａｔ ｉｓ ｔｈｅ ＳＥＲＶＩＣＥ", "en"),
    ],
)
def test_detects_language(text: str, language: str) -> None:
    detection = detect(text)
    assert detection.language == language
    assert detection.strength is Strength.STRONG


@pytest.mark.parametrize("text", ["👍", "123", "???", "", "   "])
def test_no_language_in_emoji_digits_punctuation(text: str) -> None:
    assert detect(text).language is None


@pytest.mark.parametrize("text", ["ok", "thx", "ok thanks", "hi"])
def test_loanwords_are_weak_english(text: str) -> None:
    assert detect(text) == Detection("en", Strength.WEAK)


def test_script_neutral_chinese_is_weak() -> None:
    detection = detect("你好")
    assert detection.language == "zh-Hant"
    assert detection.strength is Strength.WEAK


@pytest.mark.parametrize(
    ("text", "requested"),
    [
        ("please reply in English", "en"),
        ("English pls", "en"),
        ("講英文得唔得", "en"),
        ("用简体字", "zh-Hans"),
        ("可以用繁體字嗎", "zh-Hant"),
        ("講中文得唔得", "chinese"),
        ("reply in cantonese", "yue"),
    ],
)
def test_finds_explicit_requests(text: str, requested: str) -> None:
    assert detect(text).requested == requested


def test_normalise_keeps_length_and_folds_script_width_case() -> None:
    text = "我想問下Ｓｅｃｏｎｄ　Opinion點申請"
    folded = normalise(text)
    assert len(folded) == len(text)
    assert folded == "我想问下second opinion点申请"
    assert normalise("第二醫療意見") == normalise("第二医疗意见")


class TestDecide:
    """The reply language is sticky and follows clear switches and explicit requests."""

    def test_first_message_sets_language(self) -> None:
        assert decide(None, detect("hi")) == "en"
        assert decide(None, detect("你好")) == "zh-Hant"
        assert decide(None, detect("👍")) == "zh-Hant"

    def test_weak_english_keeps_chinese(self) -> None:
        assert decide("yue", detect("ok thx")) == "yue"
        assert decide("zh-Hans", detect("ok")) == "zh-Hans"

    def test_emoji_keeps_language(self) -> None:
        assert decide("en", detect("👍")) == "en"

    def test_clear_english_switches(self) -> None:
        assert decide("yue", detect("how long does the report take")) == "en"

    def test_chinese_switches_from_english_even_script_neutral(self) -> None:
        assert decide("en", detect("你好")) == "zh-Hant"
        assert decide("en", detect("报告多久出来")) == "zh-Hans"

    def test_script_neutral_keeps_chinese_script(self) -> None:
        assert decide("zh-Hans", detect("好的")) == "zh-Hans"

    def test_explicit_request_wins_with_intent(self) -> None:
        assert decide("yue", detect("講英文得唔得"), "switch_language") == "en"
        assert decide("en", detect("please reply in Chinese"), "switch_language") == "zh-Hant"
        assert decide("yue", detect("用简体字"), "switch_language") == "zh-Hans"
        assert decide("en", detect("講中文得唔得"), "switch_language") == "yue"

    def test_bare_request_wins_without_intent(self) -> None:
        assert decide("yue", detect("English please"), None) == "en"

    def test_language_question_is_not_a_switch(self) -> None:
        # "Do the doctors speak English?" asks about the service; the reply stays English anyway,
        # but a Cantonese question about English-speaking doctors must stay Cantonese.
        assert decide("yue", detect("啲醫生識唔識講英文呀我想問下"), "ask_languages") == "yue"


@pytest.mark.parametrize(
    ("language", "script"),
    [
        ("en", "en"),
        ("yue", "zh-Hant"),
        ("zh-Hant", "zh-Hant"),
        ("zh-Hans", "zh-Hans"),
        (None, "zh-Hant"),
    ],
)
def test_reply_script(language: str | None, script: str) -> None:
    assert reply_script(language) == script


def test_form_answers_do_not_switch_language() -> None:
    assert decide(
        "zh-Hans", detect("colon cancer stage 2"), "describe_condition", answering=True
    ) == ("zh-Hans")
    assert decide("en", detect("Cantonese"), "out_of_scope", answering=True) == "en"
    assert decide("en", detect("Cantonese"), "switch_language", answering=True) == "en"
    assert decide("en", detect("請用返中文覆我"), "switch_language", answering=True) == "yue"
