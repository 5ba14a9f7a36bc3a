"""Checks on the landing zone."""


import dagster as dg

from orchestration.defs.common import run_days
from orchestration.defs.landing.assets import crawl, raw_events
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import EngineResource


@dg.asset_check(
    asset=raw_events,
    partitions_def=daily_partitions,
    description="Every landing object is a readable gzip whose first line has exactly the "
    "event schema's columns (edge.schema).  A warning, never a failure: bad lines are "
    "skipped and counted by `events`.",
)
def raw_events_files_match_schema(
    context: dg.AssetCheckExecutionContext, engine: EngineResource
) -> dg.AssetCheckResult:
    with engine.open() as eng:
        registration = crawl(context, eng, run_days(context).extend(1))
    problems = registration.problems
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"files": registration.files, "problem_files": len(problems),
                  "first_problems": dg.MetadataValue.json(problems[:10])},
    )
