"""What a played conversation achieved, judged against its expectations (tests/conversations).

Pure: it reads what the customer sent, the bubbles each turn got back (with the responses
recognised in them, :mod:`bot.conveval.replies`) and the cases the staff API shows for the
conversation. The rules are those of the set's README ("What each outcome kind means"); the
judging tables below are data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.conveval.replies import find, script_of

# The response that says why, per refusal reason.
REASON_RESPONSES: dict[str, tuple[str, ...]] = {
    "not_eligible_plan": ("utter_not_eligible_plan_not_covered",),
    "lapsed": ("utter_not_eligible_not_in_force",),
    "not_yet_effective": ("utter_not_eligible_not_yet_effective",),
    "verification_failed": ("utter_verification_failed", "utter_not_eligible_not_found"),
    "locked": ("utter_verification_locked",),
    "excluded_accident": ("utter_excluded_accident",),
    "excluded_common_illness": ("utter_excluded_common_illness",),
    "excluded_chronic_management": ("utter_excluded_chronic_management",),
}
# A topic is answered by one of its responses, or (for topics whose answer is a fact that
# several responses carry) by a reply holding one of its strings.
TOPIC_RESPONSES: dict[str, tuple[str, ...]] = {
    "overview": ("utter_service_overview",),
    "how_it_works": ("utter_how_it_works",),
    "eligible_plans": ("utter_eligible_plans",),
    "covered_conditions": ("utter_covered_conditions",),
    "excluded_conditions": ("utter_excluded_conditions",),
    "cost": ("utter_cost",),
    "report_time": ("utter_report_time",),
    "languages": ("utter_languages",),
    "hotline": ("utter_hotline",),
    "macau": ("utter_macau",),
    "overseas": ("utter_overseas_treatment",),
    "provider": ("utter_provider",),
    "terms": ("utter_terms", "utter_disclaimer"),
    "health_office": ("utter_health_office",),
    "customer_service": ("utter_customer_service", "utter_out_of_scope"),
    "disclaimer": ("utter_disclaimer", "utter_terms"),
}
TOPIC_STRINGS: dict[str, tuple[str, ...]] = {
    "hotline": ("8229 2880", "400 920 6012"),
    "customer_service": ("2281 1333",),
}
# Replies that make the customer ask again: "not understood" and "that is not the right format".
DETOUR_RESPONSES = frozenset({
    "utter_ask_rephrase", "utter_policy_number_format", "utter_dob_format",
    "utter_invalid_callback_number",
})
EMERGENCY_NUMBERS = re.compile(r"(?<!\d)(999|120)(?!\d)")
CALL_LANGUAGES = {
    "cantonese": ("cantonese", "廣東話", "广东话", "粵語", "粤语", "廣州話"),
    "putonghua": ("putonghua", "mandarin", "普通話", "普通话", "國語", "国语"),
    "english": ("english", "英文", "英語", "英语"),
}
# Condition concepts: English stems (to read the expectation) and how a packet may say them.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "breast": ("breast", "乳"), "lung": ("lung", "肺"),
    "colon": ("colon", "colorectal", "bowel", "sigmoid", "腸", "肠"),
    "rect": ("rect", "直腸", "直肠", "腸", "肠"),
    "kidney": ("kidney", "renal", "nephr", "腎", "肾"),
    "liver": ("liver", "hepat", "肝"), "prostate": ("prostat", "前列腺"),
    "thyroid": ("thyroid", "甲狀腺", "甲状腺"), "ovar": ("ovar", "卵巢"),
    "endometri": ("endometri", "uter", "womb", "子宮", "子宫"),
    "cervi": ("cervi", "子宮頸", "子宫颈"),
    "stomach": ("stomach", "gastric", "胃"), "nasopharyn": ("nasopharyn", "npc", "鼻咽"),
    "osteo": ("osteo", "bone", "骨"), "brain": ("brain", "glio", "腦", "脑"),
    "meningioma": ("meningioma", "腦膜", "脑膜"), "leuk": ("leuk", "血癌", "白血"),
    "lymphoma": ("lymphoma", "淋巴"), "melanoma": ("melanoma", "黑色素"),
    "pancrea": ("pancrea", "胰"), "heart": ("heart", "cardi", "心"),
    "diabet": ("diabet", "糖尿"), "hypertens": ("hypertens", "高血壓", "高血压", "血壓", "血压"),
    "stroke": ("stroke", "中風", "中风"), "bladder": ("bladder", "膀胱"),
    "oesophag": ("oesophag", "esophag", "食道", "食管"), "skin": ("skin", "皮膚", "皮肤"),
}
GENERIC_CONCEPTS: dict[str, tuple[str, ...]] = {
    "cancer": ("cancer", "carcinoma", "tumour", "tumor", "malignan", "sarcoma", "癌", "瘤"),
    "failure": ("failure", "衰竭", "不全"),
}


@dataclass
class Turn:
    """One turn of the script: what was (or would have been) sent, and what came back."""

    number: int  # 1-based, in the script's list
    text: str
    sent: bool
    replies: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # responses recognised in the replies


@dataclass
class Played:
    """A conversation as played: its expectations, its turns, its cases."""

    spec: dict
    turns: list[Turn]
    cases: list[dict]
    error: str | None = None  # the product refused or lost a message


@dataclass
class Verdict:
    """What the judge found for one conversation."""

    id: str
    split: str
    language: str
    channel: str
    kind: str
    outcome: bool  # the right outcome, with everything it must hold
    kind_reached: bool  # the right kind of outcome, packet fields aside
    failures: list[str]
    turns_sent: int
    shortest: int
    detour_replies: int
    detoured: bool
    emergency_caught: bool | None  # None: not an emergency conversation
    script_ok: bool
    # What was said, turn by turn (reported for dev conversations only).
    transcript: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """Plain form for the JSON report."""
        return dict(self.__dict__)


def _sent(played: Played) -> list[Turn]:
    return [t for t in played.turns if t.sent]


def _asks(names: list[str]) -> set[str]:
    return {n for n in names if n.startswith("utter_ask_")}


def count_detours(turns: list[Turn]) -> int:
    """Replies that make the customer ask again: a "not understood" or a format complaint, the
    same question asked again with nothing else said (the answer was not taken), or silence."""
    count = 0
    previous: Turn | None = None
    for turn in turns:
        names = turn.names
        extra = sum(1 for n in names if n in DETOUR_RESPONSES)
        if not turn.replies:
            extra += 1
        elif previous is not None and not extra:
            again = _asks(names) & _asks(previous.names)
            if again and set(names) <= again | DETOUR_RESPONSES:
                extra += 1
        count += extra
        previous = turn
    return count


def emergency_given(turn: Turn) -> bool:
    """999 or 120 in the replies to ``turn``, before any form question in them."""
    text = "\n\n".join(turn.replies)
    hit = EMERGENCY_NUMBERS.search(text)
    if hit is None:
        return False
    asks = [n for n in turn.names if n.startswith("utter_ask_")]
    if not asks:
        return True
    first_bubble_with_number = next(i for i, r in enumerate(turn.replies)
                                    if EMERGENCY_NUMBERS.search(r))
    first_ask = min(f.bubble for f in find(turn.replies) if f.name in asks)
    return first_bubble_with_number <= first_ask


def condition_matches(expected: str, packet_text: str) -> bool:
    """The packet holds the expected condition, by meaning: the specific concepts (organ, disease
    family) named in the expectation appear in the packet in any language; with none, a generic
    one (cancer, failure) does; with neither, any description does."""
    wanted = expected.lower()
    text = packet_text.lower()
    specific = [k for k, words in CONCEPTS.items()
                if any(w in wanted for w in words if w.isascii())]
    if specific:
        return any(any(w in text for w in CONCEPTS[k]) for k in specific)
    generic = [k for k, words in GENERIC_CONCEPTS.items()
               if any(w in wanted for w in words if w.isascii())]
    if generic:
        return any(any(w in text for w in GENERIC_CONCEPTS[k]) for k in generic)
    return bool(text.strip())


def _digits(value: object) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _packet_text(case: dict) -> str:
    packet = case.get("packet") or {}
    screening = case.get("screening") or {}
    parts = [str(packet.get("diagnosis") or ""), *map(str, packet.get("description") or [])]
    parts += [str(t) for t in screening.get("matched") or []]
    parts += [str(f.get("term", "")) for f in screening.get("findings") or []
              if isinstance(f, dict)]
    return " ".join(parts)


def packet_failures(expected: dict, case: dict) -> list[str]:
    """The packet fields of ``case`` that differ from ``expected``."""
    packet = case.get("packet") or {}
    failures = []
    if "condition" in expected and not condition_matches(expected["condition"], _packet_text(case)):
        failures.append("packet condition")
    if "person" in expected:
        person = packet.get("person")
        if person != expected["person"] and not (person is None and expected["person"] == "self"):
            failures.append("packet person")
    if "plan" in expected and (case.get("eligibility") or {}).get("plan_code") != expected["plan"]:
        failures.append("packet plan")
    if "call_language" in expected:
        said = str(packet.get("call_language") or "").lower()
        words = CALL_LANGUAGES.get(expected["call_language"].lower(),
                                   (expected["call_language"].lower(),))
        if not any(w in said for w in words):
            failures.append("packet call_language")
    if "callback_number" in expected:
        want, got = _digits(expected["callback_number"]), _digits(packet.get("callback_number"))
        if not got or want[-8:] != got[-8:]:
            failures.append("packet callback_number")
    return failures


def _answered(topic: str, names: set[str], text: str) -> bool:
    return bool(names & set(TOPIC_RESPONSES.get(topic, ()))) or any(
        s in text for s in TOPIC_STRINGS.get(topic, ()))


def judge(played: Played) -> Verdict:
    """The verdict on one played conversation."""
    spec, outcome = played.spec, played.spec["outcome"]
    kind = outcome["kind"]
    sent = _sent(played)
    all_names = {n for t in sent for n in t.names}
    all_text = "\n\n".join(r for t in sent for r in t.replies)
    doctor = [c for c in played.cases if c.get("queue") == "case_doctor"]
    nurse = [c for c in played.cases if c.get("queue") == "nurse"]
    last = sent[-1] if sent else Turn(0, "", False)
    kind_failures: list[str] = []
    other: list[str] = []
    if played.error:
        kind_failures.append(f"error: {played.error}")
    emergency_caught: bool | None = None

    if kind == "case_opened":
        if not doctor:
            kind_failures.append("no case-doctor case")
        elif "utter_case_created" not in all_names:
            kind_failures.append("case reference not told")
        if doctor:
            case = doctor[-1]
            if "priority" in outcome and case.get("priority") != outcome["priority"]:
                kind_failures.append(f"priority {case.get('priority')}")
            other += packet_failures(outcome.get("packet") or {}, case)
    elif kind == "emergency":
        number = outcome["emergency_at_turn"]
        turn = next((t for t in played.turns if t.number == number and t.sent), None)
        emergency_caught = turn is not None and emergency_given(turn)
        if not emergency_caught:
            kind_failures.append("no 999/120 first")
        if doctor:
            kind_failures.append("case-doctor case opened")
    elif kind == "refused":
        if not all_names & set(REASON_RESPONSES[outcome["reason"]]):
            kind_failures.append(f"no {outcome['reason']} refusal")
        if doctor:
            kind_failures.append("case-doctor case opened")
    elif kind == "answered":
        if doctor:
            kind_failures.append("case-doctor case opened")
    elif kind == "cancelled":
        if played.cases:
            kind_failures.append("a case was opened")
        if not last.replies or _asks(last.names):
            kind_failures.append("form not stopped")
    elif kind == "handed_to_nurse":
        if not nurse and "utter_handoff_after_hours" not in all_names:
            kind_failures.append("no nurse hand-off")
        if doctor:
            kind_failures.append("case-doctor case opened")
        if nurse and "priority" in outcome and nurse[-1].get("priority") != outcome["priority"]:
            kind_failures.append(f"priority {nurse[-1].get('priority')}")
        if _asks(last.names):
            kind_failures.append("form question after the request")
        if "reason" in outcome and not all_names & set(REASON_RESPONSES[outcome["reason"]]):
            kind_failures.append(f"no {outcome['reason']} refusal first")
        if nurse and outcome.get("packet"):
            other += packet_failures(outcome["packet"], nurse[-1])
    for topic in outcome.get("answers") or []:
        if not _answered(topic, all_names, all_text):
            (kind_failures if kind == "answered" else other).append(f"{topic} not answered")
    for needed in outcome.get("must_mention") or []:
        if needed not in all_text:
            other.append(f"{needed!r} not mentioned")

    detours = count_detours(sent)
    script_ok = bool(last.replies) and all(
        spec["reply_script"] in script_of(r) for r in last.replies)
    return Verdict(
        id=spec["id"], split=spec["split"], language=spec["language"], channel=spec["channel"],
        kind=kind, outcome=not kind_failures and not other, kind_reached=not kind_failures,
        failures=kind_failures + other, turns_sent=len(sent), shortest=spec["shortest_turns"],
        detour_replies=detours, detoured=detours > 0 or len(sent) > spec["shortest_turns"],
        emergency_caught=emergency_caught, script_ok=script_ok,
        transcript=[{"turn": t.number, "text": t.text, "sent": t.sent, "names": t.names,
                     "replies": t.replies} for t in played.turns],
    )
