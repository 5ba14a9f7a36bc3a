"""`traffic_report`: the HTML dashboard as a daily-partitioned Dagster asset.

Materialising partition D writes `$EDGESTATS_HOME/report.html` for the 30 days ending on
D (compared with the 30 days before them) from the Parquet summary tables, and records
the file's path and a Markdown table of the top-line numbers per site in the
materialisation's metadata, so the Dagster UI shows the week at a glance and links to
the file.  It depends on every summary table over the 60 days it reads; missing days
before the first partition are fine (allowed, shown as zeros).  The same report comes
from `edgestats report --start D1 --end D2`.
"""

import datetime as dt
import warnings

import dagster as dg

from edge.config import Settings
from orchestration.report import build_report, default_report_path, save_report
from orchestration.tables import SUMMARY_TABLES

WINDOW_DAYS = 30


def traffic_report_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset over the project's daily partitions (passed in, so there is one definition)."""
    # The report reads its 30 days and the 30 before them, for the change figures.
    # Days before the first partition do not exist; the report shows them as zeros.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        trailing = dg.TimeWindowPartitionMapping(
            start_offset=-(2 * WINDOW_DAYS - 1), allow_nonexistent_upstream_partitions=True
        )

    @dg.asset(
        name="traffic_report",
        partitions_def=partitions_def,
        deps=[dg.AssetDep(table, partition_mapping=trailing) for table in SUMMARY_TABLES],
        group_name="reporting",
        kinds={"html"},
        description=f"Self-contained HTML traffic dashboard for the {WINDOW_DAYS} days "
        "ending on the partition day, from the summary tables.",
    )
    def traffic_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings = Settings.from_env()
        end = dt.date.fromisoformat(context.partition_key)
        start = end - dt.timedelta(days=WINDOW_DAYS - 1)
        result = build_report(settings.warehouse, start, end)
        path = save_report(result, default_report_path(settings))
        context.log.info(f"wrote {path}: {result.one_line()}")
        total = result.numbers["total"]
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "summary": dg.MetadataValue.md(result.summary),
                "start": start.isoformat(),
                "end": end.isoformat(),
                "sites": len(result.numbers["sites"]),
                "pageviews": total["pageviews"],
                "visitors_sum_of_daily": total["visitors"],
                "bytes_read": result.bytes_read,
            }
        )

    return traffic_report
