"""End to end over Rasa's REST channel: the product as `make run` starts it, in three languages."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from domain_texts import text_of

pytestmark = pytest.mark.slow


def say(base_url: str, sender: str, text: str) -> list[str]:
    """Send one message; return the texts of the bot's bubbles."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"{base_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return [m["text"] for m in json.loads(response.read()) if m.get("text")]


def test_health_and_ready_once_loaded(assistant) -> None:
    with urllib.request.urlopen(f"{assistant.base_url}/health") as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "alive", "model": "loaded"}
    with urllib.request.urlopen(f"{assistant.base_url}/ready") as response:
        assert response.status == 200
        body = json.loads(response.read())
    assert body["status"] == "ready"
    assert body["database"] == body["tracker store"] == "reachable"


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("how long does it take to get the report", "en", ["utter_report_time", "utter_terms"]),
        ("報告要幾耐先有呀", "yue", ["utter_report_time", "utter_terms"]),
        ("报告要多久才能出来", "zh-Hans", ["utter_report_time", "utter_terms"]),
        (
            "which plans can use the second opinion service",
            "en",
            ["utter_eligible_plans", "utter_eligible_plans_2"],
        ),
        ("我嘅癌症全護計劃有冇得用", "yue", ["utter_eligible_plans", "utter_eligible_plans_2"]),
        ("哪些计划可以使用这个服务", "zh-Hans", ["utter_eligible_plans", "utter_eligible_plans_2"]),
    ],
)
def test_answers_in_the_customers_language(assistant, message, language, expected) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    assert say(assistant.base_url, sender, message) == [text_of(r, language) for r in expected]


def test_language_is_sticky_and_follows_requests(assistant) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    base = assistant.base_url
    assert say(base, sender, "第二醫療意見係咩嚟") == [
        text_of("utter_service_overview", "yue"),
        text_of("utter_service_overview_2", "yue"),
    ]
    # A bare "ok" keeps the conversation in Chinese.
    assert say(base, sender, "ok") == [text_of("utter_anything_else", "yue")]
    # An explicit request switches, and the confirmation is already in the new language.
    assert say(base, sender, "please reply in English") == [
        text_of("utter_language_switched", "en")
    ]
    assert say(base, sender, "報告幾耐有") == [
        text_of("utter_report_time", "yue"),
        text_of("utter_terms", "yue"),
    ]
    assert say(base, sender, "用简体字") == [text_of("utter_language_switched", "zh-Hans")]


def test_fallback_twice_offers_a_nurse(assistant) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    first = say(assistant.base_url, sender, "qwxz zzkv plorf")
    second = say(assistant.base_url, sender, "blorp snerk vvv")
    assert first == [text_of("utter_ask_rephrase", "en")]
    assert second == [text_of("utter_offer_nurse", "en")]
