"""Reporting domain: the traffic report built from the summary tables."""

import dagster as dg

from orchestration.defs.reporting.assets import traffic_report

defs = dg.Definitions(assets=[traffic_report])
