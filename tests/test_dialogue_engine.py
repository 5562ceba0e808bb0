"""Our dialogue-engine shortcuts (bot.dialogue) give what stock Rasa gives.

The same conversations (the second-opinion flow through its forms, FAQ answers, an emergency, a
nurse request, and one longer than the action calls' 12-turn window) are played twice with the
trained model and the running action server: once with ``SMO_STOCK_RASA`` (Rasa as shipped, its
own tracker store and action endpoint, nothing replaced), once with the shortcuts installed. The
replies and the stored events must be the same (case numbers aside: each run opens its own).

In the second run every call of a replaced function is also compared with the stock function on
the same input: applied events, featurised states, tracker copies, slot copies, rule lookups,
graph runs (parse and policy predictions), the intent classifier's graph calls, the policies'
prediction states, the debug text, the action server's request (stock's but for the events
window), the check of its response and the slot-mapping validation. The conversations must have
gone through forms and past the window, and no comparison may differ.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

CONVERSATIONS = [
    ["hello", "I want to get a second medical opinion", "yes I agree", "CI10000001",
     "15/03/1980", "My doctor diagnosed stage 2 colon cancer and wants to operate next month",
     "He also suggested chemotherapy afterwards", "no that's all", "how long does the report take",
     "thanks"],
    ["我想攞第二醫療意見", "同意", "CI10000007", "25/04/1979", "報告要幾耐先有呀",
     "可唔可以搵護士"],
    ["哪些计划可以使用这个服务", "我想申请第二医疗意见", "不同意",
     "my father has crushing chest pain and can't breathe", "ok", "可以安排去海外治疗吗",
     "/restart", "😀", "what is this service"],
    # Longer than the action calls' window (12 user turns): the misses in a row, the consent step
    # and the slot validation all run on trimmed requests here.
    ["hi", "what is this service", "how much does it cost", "which plans can use it",
     "who provides the service", "how long does the report take", "which conditions are covered",
     "which conditions are excluded", "what languages can the doctor speak",
     "can I get treatment overseas", "can I use it in Macau", "how does it work", "qwxz zzkv",
     "vvkq zzpt", "my mother has breast cancer and I want a second opinion", "yes"],
]


def _compare(counts: Counter, problems: list[str]) -> None:
    """Wrap each patched function so every call also runs stock and compares."""
    import copy
    import logging

    from rasa.core.actions.action import ActionExtractSlots, RemoteAction
    from rasa.core.featurizers.tracker_featurizers import (
        MaxHistoryTrackerFeaturizer,
        TrackerFeaturizer,
    )
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.constants import ACTION_VALIDATE_SLOT_MAPPINGS
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.slots import Slot
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
    from rasa.shared.nlu.training_data.message import Message
    from rasa.utils.tensorflow.models import RasaModel

    from bot.dialogue import (
        action_calls,
        debug_text,
        event_types,
        graph_runner,
        history,
        model_inference,
        prediction_states,
        rule_matching,
        slot_copy,
        tracker_copy,
    )
    from bot.dialogue.patching import original, replace

    def applied(self):  # noqa: ANN001, ANN202
        mine, stock = history.applied_events(self), history._STOCK_APPLIED(self)
        counts["applied"] += 1
        if [id(e) for e in mine] != [id(e) for e in stock]:
            problems.append("applied_events differs")
        return mine

    def states(self, tracker, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        mine = history.states_for_tracker_history(self, tracker, *args, **kwargs)
        stock = history._STOCK_STATES(self, tracker, *args, **kwargs)
        counts["states"] += 1
        counts["form states"] += any("active_loop" in s for s in stock)
        if mine != stock:
            problems.append(f"states differ for {args} {kwargs}")
        return mine

    def copied(self):  # noqa: ANN001, ANN202
        mine, stock = tracker_copy.copy(self), tracker_copy._STOCK_COPY(self)
        counts["copies"] += 1
        slots = {k: (v.value, v.has_been_set) for k, v in mine.slots.items()}
        if (mine.current_state(EventVerbosity.ALL) != stock.current_state(EventVerbosity.ALL)
                or slots != {k: (v.value, v.has_been_set) for k, v in stock.slots.items()}):
            problems.append("tracker copy differs")
        return mine

    def keys(self, lookup, states_):  # noqa: ANN001, ANN202
        mine = rule_matching._get_possible_keys(self, lookup, states_)
        stock = rule_matching._STOCK_POSSIBLE_KEYS(self, lookup, states_)
        counts["rule lookups"] += 1
        if mine != stock:
            problems.append("rule keys differ")
        return mine

    def comparable(value):  # noqa: ANN001, ANN202
        if isinstance(value, list):
            return [comparable(item) for item in value]
        if isinstance(value, Message):
            return value.as_dict(only_output_properties=True)
        return value

    def graph(self, inputs=None, targets=None):  # noqa: ANN001, ANN202
        mine = graph_runner.run(self, inputs, targets)
        stock = graph_runner._STOCK_RUN(self, inputs, targets)
        counts["graph runs"] += 1
        if mine.keys() != stock.keys() or any(
                comparable(mine[key]) != comparable(stock[key]) for key in mine):
            problems.append(f"graph results differ for {targets}")
        return mine

    def resolved(type_name, default=None):  # noqa: ANN001, ANN202
        mine = event_types.resolve_by_type(type_name, default)
        stock = event_types._STOCK_RESOLVE.__func__(type_name, default)
        counts["event types"] += 1
        if mine is not stock:
            problems.append(f"event type {type_name} resolves differently")
        return mine

    def predicted(self, batch_in):  # noqa: ANN001, ANN202
        mine = model_inference._rasa_predict(self, batch_in)
        stock = model_inference._STOCK_PREDICT(self, batch_in)
        counts["model predictions"] += 1
        if mine.keys() != stock.keys() or any(
                not np.array_equal(mine[key], stock[key]) for key in mine
                if isinstance(mine[key], np.ndarray)):
            problems.append("model prediction differs")
        return mine

    def featurised(self, trackers, domain, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        mine = prediction_states.prediction_states(self, trackers, domain, *args, **kwargs)
        stock = prediction_states._STOCK_PREDICTION_STATES(self, trackers, domain, *args,
                                                           **kwargs)
        counts["prediction states"] += 1
        counts["long prediction states"] += len(mine[0]) > 10
        if mine != stock:
            problems.append("prediction states differ")
        return mine

    def text_removed(trackers_as_states):  # noqa: ANN001, ANN202
        import copy

        stock_input = copy.deepcopy(trackers_as_states)
        prediction_states._STOCK_REMOVE_TEXT.__func__(stock_input)
        prediction_states.remove_user_text_if_intent(trackers_as_states)
        counts["text removals"] += 1
        if trackers_as_states != stock_input:
            problems.append("user text removed differently")

    def feature_key(self, states):  # noqa: ANN001, ANN202
        mine = rule_matching._create_feature_key(self, states)
        stock = rule_matching._STOCK_FEATURE_KEY(self, list(states))
        counts["feature keys"] += 1
        counts["long feature keys"] += (mine or "").count("prev_action") > 10
        if mine != stock:
            problems.append("rule feature key differs")
        return mine

    def debug_states(states_):  # noqa: ANN001, ANN202
        mine, stock = debug_text.format_tracker_states(states_), debug_text._STOCK_FORMAT(states_)
        counts["debug texts"] += 1
        rasa_logger = logging.getLogger("rasa")
        level = rasa_logger.level
        if not rasa_logger.isEnabledFor(logging.DEBUG) and mine != "":
            problems.append("debug text built while debug logging is off")
        try:  # at DEBUG the text is stock's
            rasa_logger.setLevel(logging.DEBUG)
            if debug_text.format_tracker_states(states_) != stock:
                problems.append("debug text differs at DEBUG")
        finally:
            rasa_logger.setLevel(level)
        return mine

    def slot_copied(self):  # noqa: ANN001, ANN202
        mine = slot_copy.copy_slot(self)
        stock = copy._reconstruct(self, None, *self.__reduce_ex__(4))  # copy.copy, generically
        counts["slot copies"] += 1
        if type(mine) is not type(stock) or mine.__dict__ != stock.__dict__ or mine is self:
            problems.append(f"slot {self.name} copied differently")
        return mine

    def call_format(self, tracker, domain):  # noqa: ANN001, ANN202
        """Stock's request but for the events (the newest of stock's, unchanged) and the
        domain's responses (the core renders them)."""
        mine = action_calls._action_call_format(self, tracker, domain)
        stock = action_calls._STOCK_CALL_FORMAT(self, tracker, domain)
        counts["action calls"] += 1
        events, full = mine["tracker"]["events"], stock["tracker"]["events"]
        validation = self.name() == ACTION_VALIDATE_SLOT_MAPPINGS
        counts["action calls past the window"] += not validation and len(events) < len(full)
        users = sum(event["event"] == "user" for event in events)
        expected = 1 if validation else action_calls.SESSION_EVENTS
        if full[len(full) - len(events):] != events or (
                len(events) < len(full) and (users != expected or events[0]["event"] != "user")):
            problems.append(f"{self.name()}: not the newest {expected} user turns of stock's")
        rest = {**mine, "tracker": {k: v for k, v in mine["tracker"].items() if k != "events"}}
        stock_rest = {**stock, "tracker": {k: v for k, v in stock["tracker"].items()
                                           if k != "events"}}
        if "domain" in stock_rest:
            stock_rest["domain"] = {k: v for k, v in stock_rest["domain"].items()
                                    if k != "responses"}
        if json.loads(json.dumps(rest)) != json.loads(json.dumps(stock_rest)):
            problems.append(f"{self.name()}: request differs from stock beyond the events")
        return mine

    stock_check = original(RemoteAction, "_validate_action_result")

    def response_checked(self, result):  # noqa: ANN001, ANN202
        def verdict(check) -> tuple[object, Exception | None]:  # noqa: ANN001
            try:
                return check(self, result), None
            except Exception as error:  # noqa: BLE001 - stock's error is what is compared
                return None, error

        counts["action responses"] += 1
        (mine, mine_error), (stock, stock_error) = (
            verdict(action_calls._validate_action_result), verdict(stock_check))
        if (mine, repr(mine_error)) != (stock, repr(stock_error)):
            problems.append("action response checked differently")
        if mine_error is not None:
            raise mine_error
        return mine

    async def slots_validated(self, extraction_events, output_channel, nlg, tracker,  # noqa: ANN001, ANN202
                              domain):
        mine = await action_calls._execute_validation_action(
            self, extraction_events, output_channel, nlg, tracker, domain)
        # The language decision is a pure function of the request: calling it twice is harmless.
        stock = await action_calls._STOCK_VALIDATION(
            self, extraction_events, output_channel, nlg, tracker, domain)
        counts["slot validations"] += 1
        if [_as_json(e, timestamps=False) for e in mine] != [
                _as_json(e, timestamps=False) for e in stock]:
            problems.append("slot validation differs")
        return mine

    replace(DialogueStateTracker, "applied_events", applied)
    replace(MaxHistoryTrackerFeaturizer, "prediction_states", featurised)
    replace(RulePolicy, "_create_feature_key", feature_key)
    replace(TrackerFeaturizer, "_remove_user_text_if_intent", staticmethod(text_removed))
    replace(RasaModel, "_rasa_predict", predicted)
    replace(Event, "resolve_by_type", staticmethod(resolved))
    replace(DaskGraphRunner, "run", graph)
    replace(Domain, "states_for_tracker_history", states)
    replace(DialogueStateTracker, "copy", copied)
    replace(RulePolicy, "_get_possible_keys", keys)
    replace(Policy, "format_tracker_states", staticmethod(debug_states))
    replace(Slot, "__copy__", slot_copied)
    replace(RemoteAction, "_action_call_format", call_format)
    replace(RemoteAction, "_validate_action_result", response_checked)
    replace(ActionExtractSlots, "_execute_validation_action", slots_validated)




def _as_json(event, *, timestamps: bool = True) -> object:  # noqa: ANN001
    """An event as stored (JSON turns tuples into lists)."""
    stored = json.loads(json.dumps(event.as_dict()))
    if not timestamps:
        stored.pop("timestamp", None)
    return stored


CASE_NUMBER = re.compile(r"SMO-\d+")


def _comparable(value: object) -> object:
    """``value`` as JSON with what differs between two runs by nature taken out: times, message
    ids, and case numbers (each run opens its own cases)."""
    def strip(item: object) -> object:
        if isinstance(item, dict):
            return {k: strip(v) for k, v in item.items()
                    if k not in ("timestamp", "message_id", "recipient_id")}
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    return strip(json.loads(CASE_NUMBER.sub("SMO-#", json.dumps(value, ensure_ascii=False))))


@dataclass
class Played:
    """What one run of the conversations gave: replies per message, events per conversation."""

    replies: list[object] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    tracker_store: str = ""
    action_endpoint: str = ""


def _play(assistant, model: Path, folder: Path, *, stock: bool, prefix: str,  # noqa: ANN001
          played: Played) -> Played:
    """Play every conversation as the core would run it, with ``SMO_STOCK_RASA`` = ``stock``."""
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.core_server import build_endpoints, prepare_engine
    from bot.settings import Settings

    settings = Settings(action_server_url=f"http://127.0.0.1:{assistant.action_port}/webhook",
                        action_token=assistant.action_token,
                        tracker_db_url=f"sqlite:///{folder / 'tracker.db'}", stock_rasa=stock)
    prepare_engine(settings)
    endpoints = build_endpoints(settings)
    played.tracker_store = endpoints.tracker_store.type
    played.action_endpoint = type(endpoints.action).__name__

    async def run() -> None:
        agent = await load_agent(model_path=str(model), endpoints=endpoints)
        # After every message, the conversation the store holds is what stock Rasa's SQL store
        # reads back from what it wrote, event for event.
        stock_store = SQLTrackerStore(agent.domain, dialect="sqlite",
                                      db=str(folder / "tracker.db"))
        for index, conversation in enumerate(CONVERSATIONS):
            sender = f"{prefix}-{index}"
            for text in conversation:
                out = CollectingOutputChannel()
                await agent.handle_message(UserMessage(text, out, sender))
                played.replies.append(_comparable(out.messages))
                held = await agent.tracker_store.retrieve(sender)
                stored = await stock_store.retrieve(sender)
                played.counts["stored turns"] += 1
                if [_as_json(e) for e in held.events] != [_as_json(e) for e in stored.events]:
                    played.problems.append(f"{sender} after {text!r}: held differs from stored")
            played.events.append(_comparable([e.as_dict() for e in held.events]))

    asyncio.run(run())
    return played


@pytest.fixture()
def restored_rasa():  # noqa: ANN201
    """Whatever this test replaces in this process is put back afterwards."""
    yield
    from bot.dialogue.patching import restore

    restore()


@pytest.fixture(scope="module")
def stock_run(assistant, trained_model: Path, tmp_path_factory) -> Played:  # noqa: ANN001
    """The conversations under ``SMO_STOCK_RASA=true``: nothing of Rasa's replaced."""
    from bot.dialogue import patching

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SMO_VAR_DIR", str(assistant.var_dir))
        played = Played()
        played.counts["replaced before"] = len(patching._ORIGINALS)
        _play(assistant, trained_model, tmp_path_factory.mktemp("stock"), stock=True,
              prefix="stock", played=played)
        played.counts["replaced after"] = len(patching._ORIGINALS)
    return played


def test_stock_setting_runs_rasa_as_shipped(stock_run: Played) -> None:
    assert stock_run.counts["replaced before"] == stock_run.counts["replaced after"] == 0
    assert (stock_run.tracker_store, stock_run.action_endpoint) == ("sql", "EndpointConfig")
    flat = [t for c in CONVERSATIONS for t in c]
    # In process, "/restart" is Rasa's restart command (silent; it exercises the restart paths);
    # the channels turn it into plain text for customers.
    assert [t for t, r in zip(flat, stock_run.replies, strict=True) if not r] == ["/restart"]
    assert stock_run.problems == []


def test_patched_dialogue_engine_matches_stock(assistant, trained_model: Path, tmp_path: Path,
                                               stock_run: Played, restored_rasa) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SMO_VAR_DIR", str(assistant.var_dir))
        played = Played()
        import bot.core_server

        installing = bot.core_server.prepare_engine

        def install_and_compare(settings) -> None:  # noqa: ANN001
            """The core's own installation, then every replacement wrapped to compare."""
            installing(settings)
            _compare(played.counts, played.problems)

        env.setattr(bot.core_server, "prepare_engine", install_and_compare)
        _play(assistant, trained_model, tmp_path, stock=False, prefix="engine", played=played)
    counts, flat = played.counts, [t for c in CONVERSATIONS for t in c]
    assert (played.tracker_store, played.action_endpoint) == (
        "bot.dialogue.tracker_store.CachedSQLTrackerStore", "PooledEndpointConfig")
    assert counts["graph runs"] > 50 and counts["stored turns"] == len(flat)
    assert counts["event types"] > 20
    assert counts["model predictions"] >= len(flat) - 1  # all but "/restart" went through DIET
    assert counts["long prediction states"] > 20 and counts["text removals"] > 100
    assert counts["long feature keys"] > 10
    assert counts["states"] > 100 and counts["copies"] > 20 and counts["rule lookups"] > 50
    assert counts["form states"] > 10, "the conversations must go through forms"
    assert counts["debug texts"] > 50 and counts["slot copies"] > 100
    assert counts["slot validations"] >= len(flat) - 1 and counts["action responses"] > 50
    assert counts["action calls past the window"] > 3, "the long conversation must pass it"
    assert played.problems == []
    # The same conversations as under stock Rasa: every reply, every stored event.
    assert played.replies == stock_run.replies
    assert played.events == stock_run.events
