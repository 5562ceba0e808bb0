"""Slots copied by bot.dialogue.slot_copy are what ``copy.copy`` made of them before."""

from __future__ import annotations

import copy

from rasa.shared.core.domain import Domain
from rasa.shared.core.slots import Slot

from bot.dialogue import slot_copy
from bot.paths import ROOT


def test_every_domain_slot_copies_as_copy_copy_did() -> None:
    domain = Domain.load(ROOT / "domain.yml")
    assert domain.slots and all(slot_copy.is_plain(type(slot)) for slot in domain.slots)
    for slot in domain.slots:
        slot.value = ["a value", 1]  # a mutable value: shared by both copies (shallow)
        stock = copy.copy(slot) if "__copy__" not in Slot.__dict__ else None
        ours = slot_copy.copy_slot(slot)
        if stock is not None:
            assert type(stock) is type(ours) and stock.__dict__ == ours.__dict__
        assert type(ours) is type(slot) and ours is not slot
        assert ours.__dict__ == slot.__dict__ and ours.value is slot.value
        ours.value = None  # and the copy is its own object
        assert slot.value == ["a value", 1]


def test_a_class_that_copies_itself_is_not_plain() -> None:
    class Special:  # not a Slot subclass: it would stay among Slot's subclasses for later tests
        def __reduce_ex__(self, protocol: object) -> tuple:
            return (Special, ())

    class Packed:
        __slots__ = ("a",)

    assert not slot_copy.is_plain(Special) and not slot_copy.is_plain(Packed)
