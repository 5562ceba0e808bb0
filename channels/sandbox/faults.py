"""The ``/_sandbox/faults`` endpoints both fake providers share.

Each fake keeps a state object with ``faults`` (a list of rules) and ``rng`` (``random.Random``,
seedable for reproducible probabilistic faults) under its app key; only the rule class differs.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web


def add_fault_routes(app: web.Application, state_key: Any, rule_class: Any) -> None:
    """POST (add rules), GET (list) and DELETE (clear) ``/_sandbox/faults``."""

    async def post(request: web.Request) -> web.Response:
        state = request.app[state_key]
        try:
            data = await request.json()
            items = data if isinstance(data, list) else [data]
            rules = [rule_class.from_json(item) for item in items]
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        for item in items:
            if "seed" in item:
                state.rng.seed(item["seed"])
        state.faults.extend(rules)
        return web.json_response({"faults": [asdict(rule) for rule in state.faults]})

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"faults": [asdict(r) for r in request.app[state_key].faults]})

    async def clear(request: web.Request) -> web.Response:
        request.app[state_key].faults.clear()
        return web.json_response({"faults": []})

    app.router.add_post("/_sandbox/faults", post)
    app.router.add_get("/_sandbox/faults", get)
    app.router.add_delete("/_sandbox/faults", clear)
