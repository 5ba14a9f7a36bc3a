"""Quality domain: issue 5's data-quality checks on raw_events and events, per day."""

import dagster as dg

from orchestration.defs.landing.assets import raw_events
from orchestration.defs.quality.checks import events_quality, raw_events_quality
from orchestration.defs.quality.sensors import raw_events_freshness_sensor

AFTER_CRAWL_JOB = "edgestats_after_crawl"

# What `edgestats materialize` runs again for the days of a range that a blocked day held
# back (the crawl and its checks already ran for them): clean events, summaries, checks.
after_crawl_job = dg.define_asset_job(
    AFTER_CRAWL_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(raw_events),
    description="events -> the eight summary tables, with their checks, for days whose "
    "landing zone is crawled and passed the blocking checks.",
)

defs = dg.Definitions(
    asset_checks=[raw_events_quality, events_quality],
    jobs=[after_crawl_job],
    sensors=[raw_events_freshness_sensor],
)
