"""The whole-conversation evaluation's judging, on canned replies (no product needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot import responses
from bot.conversation_eval import load_set, play
from bot.conveval import replies, report
from bot.conveval.judge import Played, Turn, condition_matches, count_detours, judge


def said(name: str, language: str = "en", **values: str) -> str:
    return responses.text(name, language, **values)


def turn(number: int, text: str, *bubbles: str) -> Turn:
    return Turn(number, text, True, list(bubbles), replies.names(list(bubbles)))


def spec(kind: str, turns: int = 1, script: str = "en", **outcome: object) -> dict:
    return {"id": "x-en-01", "split": "dev", "language": "en", "channel": "rest",
            "reply_script": script, "turns": ["t"] * turns, "shortest_turns": turns,
            "outcome": {"kind": kind, **outcome}}


def test_responses_are_recognised_under_options_and_with_slots_filled() -> None:
    bubble = said("utter_case_created", case_ref="SMO-123", call_language="English")
    assert replies.names([bubble + "\n\n1. Yes\n2. No"]) == ["utter_case_created"]
    joined = said("utter_report_time", "yue") + "\n\n" + said("utter_terms", "yue")
    assert replies.names([joined]) == ["utter_report_time", "utter_terms"]
    assert replies.script_of(said("utter_eligible_plans")) == {"en"}  # Chinese plan names in it
    assert replies.script_of(said("utter_cost", "zh-Hans")) == {"zh-Hans"}


def case(queue: str = "case_doctor", **packet: object) -> dict:
    return {"queue": queue, "priority": "normal", "eligibility": {"plan_code": "CIMP"},
            "packet": {"diagnosis": "乳癌第二期", "call_language": "Cantonese",
                       "callback_number": "+852 9123 4567", **packet}, "screening": {}}


def test_a_case_opened_with_its_packet() -> None:
    expected = {"queue": "case_doctor", "priority": "normal",
                "packet": {"condition": "breast cancer", "person": "mother", "plan": "CIMP",
                           "call_language": "Cantonese", "callback_number": "9123 4567"}}
    turns = [turn(1, "yes", said("utter_case_created", case_ref="R1", call_language="粵語"),
                  said("utter_what_next"))]
    verdict = judge(Played(spec("case_opened", **expected), turns, [case(person="mother")]))
    assert verdict.outcome and verdict.kind_reached and not verdict.detoured
    wrong = judge(Played(spec("case_opened", **expected), turns, [case(person="father")]))
    assert wrong.kind_reached and not wrong.outcome and wrong.failures == ["packet person"]
    none = judge(Played(spec("case_opened", **expected), turns, []))
    assert not none.kind_reached


def test_conditions_match_by_meaning_across_languages() -> None:
    assert condition_matches("breast cancer", "乳腺癌")
    assert condition_matches("renal cell carcinoma", "kidney cancer 5cm")
    assert not condition_matches("lung cancer", "乳癌")


def test_an_emergency_needs_999_or_120_before_any_form_question() -> None:
    caught = [turn(1, "he collapsed", said("utter_emergency"))]
    verdict = judge(Played(spec("emergency", emergency_at_turn=1), caught, []))
    assert verdict.emergency_caught and verdict.outcome
    late = [turn(1, "he collapsed", said("utter_ask_policy_number"), said("utter_emergency"))]
    verdict = judge(Played(spec("emergency", emergency_at_turn=1), late, []))
    assert verdict.emergency_caught is False and not verdict.outcome
    missed = [turn(1, "he collapsed", said("utter_ask_rephrase"))]
    verdict = judge(Played(spec("emergency", emergency_at_turn=1), missed, []))
    assert verdict.emergency_caught is False


def test_a_refusal_must_say_why_and_mention_what_it_must() -> None:
    turns = [turn(1, "MD30000001", said("utter_not_eligible_plan_not_covered", plan_name="X"))]
    good = judge(Played(spec("refused", reason="not_eligible_plan"), turns, []))
    assert good.outcome
    other = judge(Played(spec("refused", reason="lapsed"), turns, []))
    assert not other.kind_reached
    missing = judge(Played(spec("refused", reason="not_eligible_plan",
                                must_mention=["no such text"]), turns, []))
    assert missing.kind_reached and not missing.outcome


def test_detours_count_not_understood_re_asks_and_extra_turns() -> None:
    ask = said("utter_ask_policy_number")
    turns = [turn(1, "yes", ask), turn(2, "CI1", ask), turn(3, "hmm", said("utter_ask_rephrase")),
             turn(4, "CI10000001", said("utter_ask_date_of_birth"))]
    assert count_detours(turns) == 2  # the "not understood" and the question asked again
    answered_then_asked = [turn(1, "yes", ask),
                           turn(2, "how much?", said("utter_cost"), ask)]
    assert count_detours(answered_then_asked) == 0  # a digression answered, then the form
    verdict = judge(Played(spec("answered", turns=1, answers=["cost"]),
                           [turn(1, "cost?", said("utter_cost")),
                            Turn(2, "extra", True, [said("utter_cost")], ["utter_cost"])], []))
    assert verdict.outcome and verdict.detoured  # two turns sent where one was enough


def test_the_final_replies_must_be_in_the_expected_script() -> None:
    turns = [turn(1, "how much", said("utter_cost", "zh-Hans"))]
    assert judge(Played(spec("answered", answers=["cost"], script="zh-Hans"), turns, [])).script_ok
    assert not judge(Played(spec("answered", answers=["cost"]), turns, [])).script_ok


@dataclass
class ScriptedCustomer:
    """A customer whose replies are canned: one list of bubbles per message sent."""

    answers: list[list[str]]
    channel: str = "rest"
    tail: str = "0001"
    sent: list[str] = field(default_factory=list)

    def send(self, text: str) -> list[str]:
        self.sent.append(text)
        return self.answers[len(self.sent) - 1]


@dataclass
class ScriptedProduct:
    customer_: ScriptedCustomer

    def customer(self, channel: str) -> ScriptedCustomer:
        return self.customer_

    def cases_of(self, customer: ScriptedCustomer, since: datetime) -> list[dict]:
        return []


def test_a_turn_with_if_asked_is_sent_only_when_its_question_was_asked() -> None:
    conversation = spec("answered", answers=["cost"])
    conversation["turns"] = [
        "hi", {"text": "skipped", "if_asked": "utter_ask_policy_number"},
        {"text": "sent", "if_asked": ["utter_cost"]}, "bye"]
    customer = ScriptedCustomer([[said("utter_cost")], [said("utter_goodbye")],
                                 [said("utter_no_problem")]])
    played = play(ScriptedProduct(customer), conversation)  # type: ignore[arg-type]
    assert customer.sent == ["hi", "sent", "bye"]
    assert [t.sent for t in played.turns] == [True, False, True, True]


def test_held_out_figures_come_without_their_conversations() -> None:
    verdicts = []
    for split in ("dev", "heldout"):
        s = spec("answered", answers=["cost"])
        s["split"] = split
        verdicts.append(judge(Played(s, [turn(1, "cost?", said("utter_cost"))], [])))
    built = report.build(verdicts, {"commit": "test"})
    assert "conversations" in built["splits"]["dev"]
    assert "conversations" not in built["splits"]["heldout"]
    assert built["splits"]["heldout"]["all"]["outcome"] == 1.0
    assert "heldout  all" in report.table(built)


def test_the_set_passes_its_own_checker() -> None:
    conversations = load_set()
    assert {c["split"] for c in conversations} == {"dev", "heldout"}
