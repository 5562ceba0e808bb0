"""Event classes found by type name once, instead of by walking every Event subclass each time.

Stock ``Event.resolve_by_type`` lists all subclasses of ``Event`` (recursively, checking each for
abstractness) for every event it decodes: reading a conversation back from the tracker store, or
rebuilding a new session, decodes each event that way (measured here at a fifth of a new
conversation's extra cost). The answer for a type name does not change once the classes are
imported, so the first answer found is kept; a name not found goes to the stock method each time
(its default or error unchanged).
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import Event

_STOCK_RESOLVE = Event.__dict__["resolve_by_type"]  # the staticmethod object
_FOUND: dict[str, type] = {}


def resolve_by_type(type_name: str, default: Any = None) -> Any:
    """Stock ``Event.resolve_by_type``, remembered per type name once found."""
    found = _FOUND.get(type_name)
    if found is not None:
        return found
    result = _STOCK_RESOLVE.__func__(type_name, default)
    if result is not None and result is not default:
        _FOUND[type_name] = result
    return result
