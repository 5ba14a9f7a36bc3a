"""Landing domain: the Firehose landing zone registered as the `raw_events` table."""

import dagster as dg

from orchestration.defs.landing.assets import raw_events
from orchestration.defs.landing.checks import raw_events_files_match_schema

defs = dg.Definitions(assets=[raw_events], asset_checks=[raw_events_files_match_schema])
