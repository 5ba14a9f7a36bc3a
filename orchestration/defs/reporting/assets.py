"""`traffic_report`: the HTML dashboard as a daily-partitioned Dagster asset.

Materialising day D writes `$EDGESTATS_HOME/report.html` for the 30 days ending on D
(compared with the 30 days before them) from the Parquet summary tables, and records the
file's path and a Markdown table of the top-line numbers per site in the
materialisation's metadata, so the Dagster UI shows the month at a glance and links to
the file.  A run over a range of days (a backfill, `edgestats materialize`) writes it
once, for the range's last day.  It depends on every summary table over the 60 days it
reads; days before the first partition are allowed and show as zeros.  The same report
comes from `edgestats report --start D1 --end D2`.

The report reads the local warehouse; with the Athena backend the asset does not
materialise and says why in the log.
"""

import datetime as dt
import warnings

import dagster as dg

from orchestration.defs.common import BACKFILL_POLICY
from orchestration.defs.partitions import daily_partitions
from orchestration.defs.resources import EngineResource
from orchestration.report import build_report, default_report_path, save_report
from orchestration.tables import SUMMARY_TABLES

WINDOW_DAYS = 30


def traffic_report_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset over a daily partitions definition (the project's, or a test's)."""
    # Trailing-window mappings and backfill policies are beta in Dagster 1.13 and exactly
    # what this asset needs; the warnings would print on every CLI run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _build(partitions_def)


def _build(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    # The report reads its 30 days and the 30 before them, for the change figures.
    trailing = dg.TimeWindowPartitionMapping(
        start_offset=-(2 * WINDOW_DAYS - 1), allow_nonexistent_upstream_partitions=True
    )

    @dg.asset(
        name="traffic_report",
        partitions_def=partitions_def,
        deps=[dg.AssetDep(table, partition_mapping=trailing) for table in SUMMARY_TABLES],
        # the pipeline's policy, so the daily job has one; each run writes the report once
        backfill_policy=BACKFILL_POLICY,
        output_required=False,
        group_name="reporting",
        kinds={"html"},
        description=f"Self-contained HTML traffic dashboard for the {WINDOW_DAYS} days "
        "ending on the partition day, from the summary tables.",
    )
    def traffic_report(context: dg.AssetExecutionContext, engine: EngineResource):
        settings = engine.settings()
        if settings.backend != "local":
            context.log.warning(
                "traffic_report reads the local warehouse; with EDGESTATS_BACKEND="
                f"{settings.backend} it is not written (sync the warehouse and run "
                "`edgestats report` with the local backend)"
            )
            return
        end = dt.date.fromisoformat(context.partition_key_range.end)
        start = end - dt.timedelta(days=WINDOW_DAYS - 1)
        result = build_report(settings.warehouse, start, end)
        path = save_report(result, default_report_path(settings))
        context.log.info(f"wrote {path}: {result.one_line()}")
        total = result.numbers["total"]
        yield dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "summary": dg.MetadataValue.md(result.summary),
                "start": start.isoformat(),
                "end": end.isoformat(),
                "sites": len(result.numbers["sites"]),
                "pageviews": total["pageviews"],
                "visitors_sum_of_daily": total["visitors"],
                "bytes_read": dg.MetadataValue.int(result.bytes_read),
            }
        )

    return traffic_report


traffic_report = traffic_report_asset(daily_partitions)
