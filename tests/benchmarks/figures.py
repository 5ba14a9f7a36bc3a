"""The figure record every bench module returns (see tests/benchmarks/__main__.py)."""

from __future__ import annotations

from collections.abc import Callable


def figure_maker(group: str) -> Callable[..., dict]:
    """`figure(name, value, unit, target=None, ok=None, note="")` for one bench's group."""

    def figure(name, value, unit, target=None, ok=None, note=""):
        return {"group": group, "name": name, "value": value, "unit": unit,
                "target": target, "ok": ok, "note": note}

    return figure
