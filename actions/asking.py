"""The forms' questions: the full one, or after an answered digression the short one, once.

Rasa asks a form's next slot with ``action_ask_<slot>`` when the domain has it. Each action here
sends ``utter_ask_<slot>``, or ``utter_ask_<slot>_short`` when the form's validation just answered
a question the customer asked instead (``reask``, set by ``actions.digression``), and clears the
flag so the short form is used once.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.digression import REASK_SLOT


def ask(dispatcher: CollectingDispatcher, tracker: Tracker, response: str) -> list[dict[str, Any]]:
    """Send ``response`` (or its short form after a digression); the events clearing the flag."""
    if tracker.get_slot(REASK_SLOT):
        dispatcher.utter_message(response=f"{response}_short")
        return [SlotSet(REASK_SLOT, None)]
    dispatcher.utter_message(response=response)
    return []


class _Ask:
    """Shared body: ``slot`` names the question (subclasses are the domain's actions)."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return ask(dispatcher, tracker, f"utter_ask_{self.slot}")


class AskPolicyNumber(_Ask, Action):
    """``action_ask_policy_number``."""

    slot = "policy_number"


class AskDateOfBirth(_Ask, Action):
    """``action_ask_date_of_birth``."""

    slot = "date_of_birth"


class AskConditionDone(_Ask, Action):
    """``action_ask_condition_done``."""

    slot = "condition_done"


class AskDiagnosis(_Ask, Action):
    """``action_ask_diagnosis``."""

    slot = "diagnosis"


class AskDiagnosisWhen(_Ask, Action):
    """``action_ask_diagnosis_when``."""

    slot = "diagnosis_when"


class AskTreatment(_Ask, Action):
    """``action_ask_treatment``."""

    slot = "treatment"


class AskOpinionQuestion(_Ask, Action):
    """``action_ask_opinion_question``."""

    slot = "opinion_question"


class AskCallLanguage(_Ask, Action):
    """``action_ask_call_language``."""

    slot = "call_language"


class AskCallbackNumber(_Ask, Action):
    """``action_ask_callback_number``."""

    slot = "callback_number"


class AskCallbackTime(_Ask, Action):
    """``action_ask_callback_time``."""

    slot = "callback_time"
