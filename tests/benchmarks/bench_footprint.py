"""What edgestats weighs and costs (issue 7): the Lambda@Edge bundle, the bytes a 30-day
report reads against the raw landing bytes of the same days, and the cost model's price
of a million page views per ingestion door.

- Bundles: built by `infra.bundling.build_bundle`, as `cdk synth` builds them (no
  Docker), measured as the deflated zip Lambda counts (issue 4: viewer-request <= 1 MB).
- Report bytes: 30 simulated days of 100,000 page views each, materialised in one
  range, then the report for those 30 days (it also reads the 30 days before, for the
  comparison; they are empty here).  Raw = the gzip landing objects of the same 30
  folders, what an ad-hoc query over the landing zone would have to read.
- Cost: `orchestration.cost.door_costs` for 1,000,000 page views in a month, plus the
  daily pipeline's share, per door.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

from edge.config import EdgeConfig, Settings
from edge.simulate import simulate_to_landing
from tests.benchmarks.figures import figure_maker

START = dt.date(2026, 8, 1)
DAYS = 30
PAGEVIEWS_PER_DAY = 100_000


figure = figure_maker("footprint")


def bundles() -> list[dict]:
    from infra.bundling import VIEWER_REQUEST_LIMIT, build_bundle, zipped_size

    out = []
    with tempfile.TemporaryDirectory(prefix="edgestats-bundles-") as tmp:
        for name, entry, what in (
            ("edge", "edge.handler", "Lambda@Edge viewer-request bundle"),
            ("transform", "edge.transform", "log-stream transform Lambda bundle"),
            ("rotate-salts", "edge.rotate_salts", "salt rotation Lambda bundle"),
        ):
            folder = build_bundle(name, [entry], EdgeConfig(), Path(tmp))
            size = zipped_size(folder)
            files = sum(1 for p in folder.rglob("*") if p.is_file())
            edge = name == "edge"
            out.append(figure(
                f"{what}, zipped", round(size / 1024, 1), "KiB",
                target=f"<= {VIEWER_REQUEST_LIMIT // 1024} KiB" if edge else None,
                ok=size <= VIEWER_REQUEST_LIMIT if edge else None,
                note=f"{files} files: edge modules {entry} needs and its pure-Python "
                     "dependencies, baked edge_config.json; deflate, as Lambda measures it"))
    return out


def report_bytes(quick: bool) -> list[dict]:
    from orchestration.commands import materialize
    from orchestration.engine import DayRange
    from orchestration.report import build_report

    per_day = 5_000 if quick else PAGEVIEWS_PER_DAY
    days = DayRange(START, START + dt.timedelta(days=DAYS - 1))
    home = Path(tempfile.mkdtemp(prefix="edgestats-bench-report-"))
    try:
        settings = Settings(home=home)
        started = time.perf_counter()
        sim = simulate_to_landing(settings.landing, days.start, DAYS, per_day, seed=30)
        simulated_s = time.perf_counter() - started
        started = time.perf_counter()
        log = io.StringIO()
        if not materialize(settings, days, out=log):
            raise RuntimeError(f"materialize failed:\n{log.getvalue()}")
        materialized_s = time.perf_counter() - started
        started = time.perf_counter()
        report = build_report(settings.warehouse, days.start, days.end)
        report_s = time.perf_counter() - started
        landing = [p for day in days.keys
                   for p in (settings.landing / "events" / f"dt={day}").glob("*.gz")]
        raw = sum(p.stat().st_size for p in landing)
        events = sum(p.stat().st_size
                     for p in (settings.warehouse / "events").rglob("*.parquet")
                     if p.parent.name.removeprefix("dt=") in days.keys)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    volume = (f"{DAYS} days x {per_day:,} page views ({sim['events']:,} events, "
              f"simulated in {simulated_s:.0f} s, materialised in one range in "
              f"{materialized_s:.0f} s)")
    return [
        figure("30-day report: bytes read from the summary tables",
               round(report.bytes_read / 1024, 1), "KiB",
               note=f"{report.files_read} Parquet files; report built in {report_s:.2f} s; "
                    f"{volume}"),
        figure("raw landing bytes of the same 30 days", round(raw / 1024 / 1024, 1), "MiB",
               note=f"{len(landing):,} gzip NDJSON objects"),
        figure("raw landing bytes / report bytes", round(raw / report.bytes_read), "x",
               note=f"clean events Parquet of the same days: {events / 1024 / 1024:.1f} MiB "
                    f"({events / report.bytes_read:,.0f}x the report's read); summary size "
                    "grows with distinct pages/sources, not with traffic, so the ratio grows "
                    "with volume"),
    ]


def costs() -> list[dict]:
    from orchestration.cost import door_costs, pipeline_costs

    pageviews = 1_000_000
    doors = door_costs(pageviews)
    pipeline = sum(pipeline_costs(pageviews).values())
    out = []
    for door, parts in doors.items():
        ingest = sum(parts.values())
        biggest = max(parts, key=parts.get)
        out.append(figure(
            f"cost per 1M page views, {door} door", round(ingest + pipeline, 2), "USD/month",
            note=f"ingestion ${ingest:.2f} (largest: {biggest} ${parts[biggest]:.2f}) + daily "
                 f"pipeline ${pipeline:.2f}; us-east-1 list prices and the assumptions in "
                 "orchestration/cost.py (docs/cost.md)"))
    return out


def run(quick: bool = False) -> list[dict]:
    figures = bundles() + costs()
    load = os.getloadavg()
    out = report_bytes(quick)
    out[0]["note"] += f"; load average {load[0]:.1f} before (2 shared cores)"
    return figures + out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick=True), indent=1))
