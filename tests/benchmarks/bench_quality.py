"""What issue 5's quality checks cost: one simulated day through `materialize`.

- Step times of the two check ops (`raw_events_quality`: one narrow read of the landing
  zone for schema, future events, duplicates, plus listings; `events_quality`: another
  narrow read for late arrivals, then three queries over the clean Parquet) next to the
  `events` asset (the full read of the landing zone the pipeline needs anyway), from the
  run recorded in the Dagster instance.
- The narrow read against a full one, CPU seconds of the local engine's `raw_scan`.
- The 17-day crafted landing zone of the tests (three blocked days): wall time of the
  whole `edgestats materialize`, re-runs of the held-back days included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import tempfile
import time
from pathlib import Path

from tests.benchmarks.figures import figure_maker

DAY = dt.date(2026, 10, 1)
FULL_PAGEVIEWS = 300_000
QUICK_PAGEVIEWS = 30_000


figure = figure_maker("quality")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def step_seconds(settings, run_id: str) -> dict[str, float]:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    out = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event and event.event_type_value == "STEP_SUCCESS":
            out[event.step_key] = event.event_specific_data.duration_ms / 1000
    return out


def scan_cpu(settings, columns, fresh: bool = True) -> float:
    import shutil

    from orchestration.backends.local import LocalEngine
    from orchestration.engine import DayRange

    with LocalEngine(settings) as eng:
        if fresh:  # the engine keeps a staged copy of each folder; read the landing again
            shutil.rmtree(eng.stage_root, ignore_errors=True)
        started = time.process_time()
        with eng.raw_scan(DayRange(DAY, DAY).extend(1), columns):
            pass
        return time.process_time() - started


def run(quick: bool = False) -> list[dict]:
    from edge.config import Settings
    from edge.schema import REQUIRED
    from edge.simulate import simulate_to_landing
    from orchestration.cli import main
    from orchestration.commands import materialize
    from orchestration.engine import DayRange
    from tests.orchestration import quality_landing

    pageviews = QUICK_PAGEVIEWS if quick else FULL_PAGEVIEWS
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        settings = Settings(home=Path(tmp) / "day")
        simulated = simulate_to_landing(settings.landing, DAY, 1, pageviews, seed=5)
        before = load()
        started = time.perf_counter()
        outcome = materialize(settings, DayRange(DAY, DAY), out=io.StringIO())
        wall = time.perf_counter() - started
        assert outcome and not outcome.failed_errors, [str(c) for c in outcome.failed_errors]
        import dagster as dg

        instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
        (last,) = instance.get_runs(limit=1)
        steps = step_seconds(settings, last.run_id)
        checks = steps["raw_events_quality"] + steps["events_quality"]
        note = (f"{simulated['events']:,} events, {pageviews:,} page views, one run of "
                f"{wall:.1f} s; load average {before} before, {load()} after (2 shared cores)")
        figures += [
            figure("raw_events_quality step", steps["raw_events_quality"], "s",
                   note=note + "; it runs first, so it includes staging the landing folders "
                               "(their one read) that events then reuses"),
            figure("events_quality step", steps["events_quality"], "s"),
            figure("events asset step (for scale)", steps["events"], "s",
                   note="reads the staged copy of the landing folders, cleans and sessionises"),
            figure("quality checks / events asset", checks / steps["events"], "x",
                   note="both check ops together against the step they guard"),
            figure("quality checks / whole run", checks / sum(steps.values()), "x",
                   note="share of all step time in the run"),
        ]
        full = min(scan_cpu(settings, None) for _ in range(2))
        again = min(scan_cpu(settings, REQUIRED, fresh=False) for _ in range(2))
        figures += [
            figure("raw scan, all 25 columns, staged from the landing", full, "s CPU",
                   note="best of 2; one staged copy per folder serves events and all checks"),
            figure("raw scan of a folder already staged (what the checks after the first "
                   "reader pay)", again, "s CPU",
                   note=f"{again / full:.0%} of staging; best of 2"),
        ]

        home = Path(tmp) / "crafted"
        quality_landing.land(home / "landing")
        days = quality_landing.DAYS
        argv = ["materialize", "--start", str(days[0]), "--end", str(days[-1])]
        saved = os.environ.get("EDGESTATS_HOME")
        os.environ["EDGESTATS_HOME"] = str(home)
        try:
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            crafted = time.perf_counter() - started
        finally:
            if saved is None:
                del os.environ["EDGESTATS_HOME"]
            else:
                os.environ["EDGESTATS_HOME"] = saved
        figures.append(figure(
            "17 crafted days, 3 blocked, one edgestats materialize", crafted, "s",
            note=f"exit code {code}; one range run stopped by the blocked days, then the two "
            "ranges around them again without the crawl; ~200 events a day"))
    return figures
