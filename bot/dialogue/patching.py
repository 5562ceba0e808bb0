"""The one place that swaps Rasa methods for ours: it remembers each stock method the first time
(so installing twice is harmless) and can put them all back (tests, or an operator's A/B run)."""

from __future__ import annotations

from typing import Any

_ORIGINALS: dict[tuple[type, str], Any] = {}
_ABSENT = object()  # the class had no such attribute of its own: restoring deletes ours


def replace(owner: type, name: str, replacement: Any) -> None:
    """Make ``owner.name`` our ``replacement``; the stock attribute is kept for :func:`restore`."""
    _ORIGINALS.setdefault((owner, name), owner.__dict__.get(name, _ABSENT))
    setattr(owner, name, replacement)


def original(owner: type, name: str) -> Any:
    """The stock attribute ``replace`` put aside (for comparing ours with it); ``KeyError`` when
    ``owner.name`` was not replaced, ``AttributeError`` when Rasa's class had none of its own."""
    kept = _ORIGINALS[(owner, name)]
    if kept is _ABSENT:
        raise AttributeError(f"{owner.__name__}.{name} is ours only")
    return kept


def restore() -> None:
    """Put every replaced method back as Rasa ships it."""
    for (owner, name), original in _ORIGINALS.items():
        if original is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _ORIGINALS.clear()
