"""Questions asked while a form waits: answered, then the form's question once more, shorter.

A customer asked for a policy number may first ask what the service costs; that question is not a
malformed policy number. Each form's validation runs :func:`answer_digression` before reading the
answer: when the message is an FAQ question (the classifier's intent) and not a value the step can
use, the FAQ's own answer is sent (the responses its rule in ``data/rules/faq.yml`` sends, so the
answer in a form is the answer outside one), the slot stays empty and ``reask`` asks the form's
question again in its short form (``actions/asking.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.paths import ROOT
from bot.yamlfile import load_yaml

FAQ_RULES = ROOT / "data" / "rules" / "faq.yml"
QUESTION_PREFIX = "ask_"  # the FAQ intents (greetings and thanks are not digressions)
# A free-text answer (a diagnosis, a treatment) is only taken for a question when the classifier
# is this sure; a value that fails its format needs less (it cannot be the answer anyway).
FREE_TEXT_CONFIDENCE = 0.8
VALUE_CONFIDENCE = 0.4
# Messages that leave the form through its rules: they must fill no slot here.
LEAVING_INTENTS = ("request_human", "stop")
# A free-text answer is taken for a question only when it is written as one; and where the
# step's answer is itself a question (what the second opinion should answer), never.
QUESTION_MARKS = ("?", "？")
ANSWERS_ARE_QUESTIONS = ("opinion_question",)
SURE_LEAVING = 0.95  # how sure a nurse request must be where answers are questions
REASK_SLOT = "reask"


@lru_cache(maxsize=1)
def faq_answers() -> dict[str, tuple[str, ...]]:
    """Intent → the responses its FAQ rule sends, read from the rules themselves."""
    answers: dict[str, tuple[str, ...]] = {}
    for rule in load_yaml(FAQ_RULES).get("rules", []):
        steps = rule.get("steps", [])
        intent = next((s["intent"] for s in steps if "intent" in s), None)
        actions = tuple(s["action"] for s in steps if "action" in s)
        if intent and intent.startswith(QUESTION_PREFIX) and actions:
            answers[intent] = actions
    return answers


def latest_intent(tracker: Tracker) -> tuple[str | None, float]:
    """The latest message's intent and its confidence."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def leaving(tracker: Tracker) -> bool:
    """True for a nurse request or a "stop": the form's rules take them, no slot may be filled."""
    return latest_intent(tracker)[0] in LEAVING_INTENTS


def answer_digression(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    is_value: Callable[[str], bool] | None = None,
    short: bool = True,
) -> list[dict[str, Any]] | None:
    """Answer an FAQ question asked mid-form; the events that keep the form waiting, or ``None``
    when the message is an answer to the form's question.

    ``is_value`` says whether the text is a usable value for the step (a policy number, a date);
    ``None`` for free-text steps, where only a confident question counts as one. ``short``:
    the form asks again with one of ``actions/asking.py``'s actions (the consent question has one
    form only).
    """
    requested = tracker.get_slot("requested_slot")
    name, confidence = latest_intent(tracker)
    responses = faq_answers().get(name or "")
    if not requested or not responses:
        return None
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    if is_value is not None:
        if is_value(text) or confidence < VALUE_CONFIDENCE:
            return None
    elif (
        confidence < FREE_TEXT_CONFIDENCE
        or requested in ANSWERS_ARE_QUESTIONS
        or not any(mark in text for mark in QUESTION_MARKS)
    ):
        return None
    for response in responses:
        dispatcher.utter_message(response=response)
    return [SlotSet(requested, None), *([SlotSet(REASK_SLOT, True)] if short else [])]


def answer_is_a_question(tracker: Tracker) -> bool:
    """True where the step's answer is itself a question ("想知有冇標靶藥…") and the classifier
    only guessed a nurse request: the text is the answer, not a way out."""
    name, confidence = latest_intent(tracker)
    return (
        tracker.get_slot("requested_slot") in ANSWERS_ARE_QUESTIONS
        and name == "request_human"  # "stop" / "cancel" are short and plain: always a stop
        and confidence < SURE_LEAVING
    )
