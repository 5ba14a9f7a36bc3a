"""The freshness deadline: at 02:00 UTC, does yesterday's landing folder hold anything?

The daily run (01:15 UTC) evaluates `freshness` before the deadline, when an empty
folder is not late yet.  This sensor evaluates it once after the deadline for each new
day, by listing the folder, and records the result against the day's partition without
a run (a runless check evaluation), so a day with no data fails in the UI by 02:00.
"""


import datetime as dt

import dagster as dg

from orchestration.defs.partitions import daily_partitions
from orchestration.defs.quality import checks
from orchestration.defs.resources import EngineResource
from orchestration.engine import DayRange

SENSOR_INTERVAL_S = 15 * 60


def due_day(now: dt.datetime) -> str | None:
    """The latest day whose deadline has passed at `now` (None before the first partition)."""
    today = now.astimezone(dt.timezone.utc).date()
    day = today - dt.timedelta(days=1 if now.time() >= checks.FRESHNESS_DEADLINE else 2)
    return day.isoformat() if day >= daily_partitions.start.date() else None


@dg.sensor(
    name="raw_events_freshness_sensor",
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After 02:00 UTC, records `raw_events/freshness` for the day before: fails "
    "when landing folder events/dt=D/ has no object.  Lists the folder, reads nothing.",
)
def raw_events_freshness_sensor(context: dg.SensorEvaluationContext,
                                engine: EngineResource) -> dg.SensorResult | dg.SkipReason:
    now = checks.utc_now()
    day = due_day(now)
    if day is None or (context.cursor and context.cursor >= day):
        return dg.SkipReason(f"freshness is recorded up to {context.cursor or 'no day'}; the "
                             "next day is due at 02:00 UTC")
    with engine.open() as eng:
        (verdict,) = checks.raw_verdicts(eng, DayRange.of(day), {"freshness"}, now=now)
    context.log.info(f"freshness {day}: {'passed' if verdict.passed else 'FAILED'}: "
                     f"{verdict.summary}")
    target = checks.latest_materialization(context.instance, verdict.rule.asset, day)
    return dg.SensorResult(asset_events=[checks.evaluation(verdict, target=target)], cursor=day)
