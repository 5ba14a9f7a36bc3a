"""`raw_events`: the landing zone of each day, registered as a table partition."""


import time

import dagster as dg

from orchestration.defs.common import BACKFILL_POLICY, CRAWLER_POOL, run_days
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import EngineResource
from orchestration.engine import DayRange, Engine, RawRegistration

MAX_PROBLEMS_SHOWN = 20

# The last crawl of this process, by (run id, folders): the schema check of the same run
# (the in-process executor of `edgestats materialize`) reuses it rather than listing and
# sniffing every landing object again (7,608 objects: ~2 s locally; on Athena a second
# Glue crawl).  A check in another process or run crawls for itself.
_last_crawl: dict[tuple[str, str], RawRegistration] = {}


def crawl(context: dg.OpExecutionContext, eng: Engine, folders: DayRange) -> RawRegistration:
    """The registration of `folders` made earlier in this run, or a new one."""
    key = (context.run.run_id, str(folders))
    found = _last_crawl.get(key)
    if found is None:
        found = eng.register_raw_partitions(folders)
        _last_crawl.clear()
        _last_crawl[key] = found
    return found


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    pool=CRAWLER_POOL,  # crawls must not overlap: the pool's limit is 1 (docs/deploy.md)
    group_name="landing",
    kinds={"json"},
    description=(
        "Firehose's landing zone for day D, as `raw_events` partitions: the crawl lists the "
        "objects of folders D and D+1 (events of D can arrive after midnight), checks each "
        "looks like an event file, and registers the folders.  It does not read whole "
        "files; `events` reads them once and reports rows and malformed lines here as "
        "observations."
    ),
)
def raw_events(context: dg.AssetExecutionContext, engine: EngineResource) -> dg.MaterializeResult:
    days = run_days(context)
    folders = days.extend(1)
    started = time.perf_counter()
    with engine.open() as eng:
        _last_crawl.clear()  # the asset always crawls: it is what registers the folders
        registration = crawl(context, eng, folders)
    problems = registration.problems
    for line in problems[:MAX_PROBLEMS_SHOWN]:
        context.log.warning(f"landing object: {line}")
    return dg.MaterializeResult(
        metadata={
            "folders": dg.MetadataValue.json(
                {f.day: {"files": f.files, "bytes": f.bytes} for f in registration.folders}
            ),
            "files": registration.files,
            "bytes": dg.MetadataValue.int(registration.bytes),
            "problem_files": len(problems),
            "problems": dg.MetadataValue.md(
                "\n".join(f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN]) or "none"
            ),
            "duration_s": round(time.perf_counter() - started, 3),
        }
    )
