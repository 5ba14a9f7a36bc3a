"""Fuzzing the doors at volume (issue 7: >= 10,000 cases each, 0 exceptions escaping,
every page still served).

The targets and their promises are `tests/reliability/fuzz_targets.py`, the same ones
`make test` runs a few hundred cases of.  Here hypothesis only generates (no shrinking,
no example database), every case is counted, and a broken promise or an escaped
exception is counted instead of stopping the run, so the figure is the whole tally.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from collections import Counter

from hypothesis import HealthCheck, Phase, given, settings

from edge import handler as edge_handler
from tests.reliability import fuzz_targets

CASES = 10_000


def fuzz(name: str, cases: int) -> dict:
    strategy, check = fuzz_targets.TARGETS[name]
    tally: Counter = Counter()
    first_problem: list[str] = []
    edge_handler.stats.clear()

    @settings(max_examples=cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(case):
        tally["cases"] += 1
        try:
            tally[f"outcome: {check(case)}"] += 1
        except AssertionError as e:
            tally["broken promises"] += 1
            if not first_problem:
                first_problem.append(f"AssertionError: {str(e)[:200]}")
        except Exception as e:  # an exception escaped the code under test
            tally["escaped"] += 1
            if not first_problem:
                first_problem.append(f"{type(e).__name__}: {str(e)[:200]}")

    started = time.perf_counter()
    quiet = logging.getLogger("edgestats")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # fail-open warnings, one per bad case
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the transform's per-batch line
            one()
    finally:
        quiet.setLevel(level)
    tally["seconds"] = time.perf_counter() - started
    tally["failed open"] = edge_handler.stats.get("failed", 0)
    return {"tally": tally, "first_problem": first_problem[0] if first_problem else ""}


def run(quick: bool = False) -> list[dict]:
    cases = 500 if quick else CASES
    fuzz_targets.configure()
    figures = []
    try:
        for name in fuzz_targets.TARGETS:
            r = fuzz(name, cases)
            t = r["tally"]
            bad = t["escaped"] + t["broken promises"]
            outcomes = ", ".join(f"{k.removeprefix('outcome: ')} {v:,}"
                                 for k, v in sorted(t.items()) if k.startswith("outcome: "))
            extra = f"; outcomes: {outcomes}"
            if name == "handler":
                extra += "; every page request came back as the same, unchanged request"
            elif name == "beacon":
                extra += "; every answer 204"
            if name in ("handler", "beacon"):
                extra += (f"; {t['failed open']:,} cases failed open (one log line, the "
                          "viewer still answered)")
            figures.append({
                "group": "fuzz",
                "name": f"fuzz {name}: exceptions escaping or promises broken",
                "value": bad,
                "unit": f"of {t['cases']:,} cases",
                "target": "0 of >= 10,000",
                "ok": bad == 0 and t["cases"] >= (500 if quick else CASES),
                "note": (f"hypothesis, generate phase only, {t['seconds']:.1f} s "
                         f"({t['cases'] / t['seconds']:,.0f} cases/s){extra}"
                         + (f"; first: {r['first_problem']}" if r["first_problem"] else "")),
            })
    finally:
        fuzz_targets.restore()
    return figures


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(quick=True), indent=1))
