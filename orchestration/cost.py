"""`edgestats cost --pageviews-per-month N`: a monthly cost model from AWS list prices.

Every price is a named constant with its source and the date it was read; those marked
`assumed` could not be confirmed and are our best reading.  Units are binary, as AWS
bills them (1 KB = 1024 B, 1 GB = 1024^3 B, 1 TB = 1024^4 B).  Prices are us-east-1.
The traffic shape (requests per page view, record sizes, durations) is in `Assumptions`;
docs/cost.md walks through one worked example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KB, MB, GB, TB = 1024, 1024**2, 1024**3, 1024**4


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str
    checked: str = "2026-11"
    assumed: bool = False


# CloudFront standard logging (v2) is delivered by CloudWatch Logs as vended logs.
CLOUDFRONT_LOG_DELIVERY_PER_GB = Price(
    0.25, "GB of log records delivered to Firehose",
    "aws.amazon.com/cloudwatch/pricing (vended logs, delivery to Firehose)", assumed=True)
FIREHOSE_DIRECT_PUT_PER_GB = Price(
    0.029, "GB ingested, each record rounded up to 5 KB",
    "aws.amazon.com/firehose/pricing (Direct PUT, first 500 TB/month)")
FIREHOSE_RECORD_ROUNDING_BYTES = 5 * KB
LAMBDA_EDGE_PER_REQUEST = Price(0.60 / 1e6, "request", "aws.amazon.com/lambda/pricing (Lambda@Edge)")
LAMBDA_EDGE_PER_GB_SECOND = Price(0.00005001, "GB-second",
                                  "aws.amazon.com/lambda/pricing (Lambda@Edge)")
LAMBDA_PER_REQUEST = Price(0.20 / 1e6, "request", "aws.amazon.com/lambda/pricing")
LAMBDA_ARM_PER_GB_SECOND = Price(0.0000133334, "GB-second",
                                 "aws.amazon.com/lambda/pricing (Arm, first 7.5 billion GB-s)")
S3_PUT_PER_REQUEST = Price(0.005 / 1000, "PUT/COPY/POST/LIST request",
                           "aws.amazon.com/s3/pricing (Standard)")
S3_STORAGE_PER_GB_MONTH = Price(0.023, "GB-month", "aws.amazon.com/s3/pricing (Standard, first 50 TB)")
GLUE_CRAWLER_PER_DPU_HOUR = Price(0.44, "DPU-hour, billed per second, 10-minute minimum per run",
                                  "aws.amazon.com/glue/pricing (crawlers)")
GLUE_CRAWLER_MINIMUM_HOURS = 10 / 60
GLUE_REQUESTS_FREE_PER_MONTH = 1_000_000  # Data Catalog requests; beyond: $1 per million
ATHENA_PER_TB = Price(5.00, "TB scanned, 10 MB minimum per query", "aws.amazon.com/athena/pricing")
ATHENA_MIN_BYTES_PER_QUERY = 10 * MB
EVENTBRIDGE_PER_EVENT = Price(1.00 / 1e6, "custom event published (64 KB chunk)",
                              "aws.amazon.com/eventbridge/pricing")
SFN_EXPRESS_PER_REQUEST = Price(1.00 / 1e6, "workflow request",
                                "aws.amazon.com/step-functions/pricing (Express)")
SFN_EXPRESS_PER_GB_SECOND = Price(0.00001667, "GB-second",
                                  "aws.amazon.com/step-functions/pricing (Express, first 1,000 h)")

PRICES = {name: value for name, value in globals().items() if isinstance(value, Price)}


@dataclass(frozen=True)
class Assumptions:
    days: int = 30
    requests_per_pageview: int = 10  # the page plus its assets; every request is logged
    log_record_bytes: int = 500  # one JSON log record with the delivery's selected fields
    event_bytes: int = 600  # one canonical NDJSON event
    gzip_ratio: float = 8.0
    edge_ms: float = 30.0  # Lambda@Edge billed duration: parse + PutRecord to us-east-1
    edge_memory_gb: float = 0.125
    transform_ms_per_invocation: float = 20.0
    transform_ms_per_record: float = 0.2
    transform_memory_gb: float = 0.5
    firehose_buffer_seconds: int = 60
    firehose_buffer_bytes: int = 5 * MB
    processor_buffer_bytes: int = 1 * MB
    queries_per_day: int = 10  # events + 8 summaries + checks
    raw_retention_days: int = 400
    sfn_ms: float = 100.0
    sfn_memory_gb: float = 0.0625

    @property
    def buffer_flushes(self) -> int:
        """Firehose flushes at least once per interval while traffic flows (assumed steady)."""
        return self.days * 86400 // self.firehose_buffer_seconds


def _firehose_ingest(records: int) -> float:
    """Each record is billed as if it were rounded up to the next 5 KB."""
    return records * FIREHOSE_RECORD_ROUNDING_BYTES / GB * FIREHOSE_DIRECT_PUT_PER_GB.usd


def _landing_puts(a: Assumptions, records: int) -> float:
    gz_bytes = records * a.event_bytes / a.gzip_ratio
    objects = max(math.ceil(gz_bytes / a.firehose_buffer_bytes), a.buffer_flushes)
    return objects * S3_PUT_PER_REQUEST.usd


def door_costs(pageviews: int, a: Assumptions = Assumptions()) -> dict[str, dict[str, float]]:
    """Monthly USD per ingestion door, by component."""
    log_records = pageviews * a.requests_per_pageview
    invocations = max(math.ceil(log_records * a.log_record_bytes / a.processor_buffer_bytes),
                      a.buffer_flushes)
    transform_seconds = (invocations * a.transform_ms_per_invocation
                         + log_records * a.transform_ms_per_record) / 1000
    edge = {
        "Lambda@Edge requests": pageviews * LAMBDA_EDGE_PER_REQUEST.usd,
        "Lambda@Edge duration": pageviews * a.edge_ms / 1000 * a.edge_memory_gb
        * LAMBDA_EDGE_PER_GB_SECOND.usd,
    }
    return {
        "log-stream": {
            "CloudFront log delivery": log_records * a.log_record_bytes / GB
            * CLOUDFRONT_LOG_DELIVERY_PER_GB.usd,
            "Firehose ingest (5 KB rounding)": _firehose_ingest(log_records),
            "Lambda transform requests": invocations * LAMBDA_PER_REQUEST.usd,
            "Lambda transform duration": transform_seconds * a.transform_memory_gb
            * LAMBDA_ARM_PER_GB_SECOND.usd,
            "S3 PUTs (landing)": _landing_puts(a, pageviews),
        },
        "lambda-edge": {
            **edge,
            "Firehose ingest (5 KB rounding)": _firehose_ingest(pageviews),
            "S3 PUTs (landing)": _landing_puts(a, pageviews),
        },
        "eventbridge+sfn": {
            **edge,
            "EventBridge events": pageviews * EVENTBRIDGE_PER_EVENT.usd,
            "Step Functions requests": pageviews * SFN_EXPRESS_PER_REQUEST.usd,
            "Step Functions duration": pageviews * a.sfn_ms / 1000 * a.sfn_memory_gb
            * SFN_EXPRESS_PER_GB_SECOND.usd,
            "S3 PUTs (one object per event)": pageviews * S3_PUT_PER_REQUEST.usd,
        },
    }


def pipeline_costs(pageviews: int, a: Assumptions = Assumptions()) -> dict[str, float]:
    """Monthly USD of the daily pipeline, whichever door fed it."""
    day_raw_bytes = pageviews / a.days * a.event_bytes / a.gzip_ratio
    scanned = max(2 * day_raw_bytes, ATHENA_MIN_BYTES_PER_QUERY)  # day D reads folders D, D+1
    stored_gb = pageviews * a.event_bytes / a.gzip_ratio / GB * a.raw_retention_days / a.days
    return {
        "Glue crawler (1 run/day, 10-min minimum)": a.days * GLUE_CRAWLER_MINIMUM_HOURS
        * GLUE_CRAWLER_PER_DPU_HOUR.usd,
        "Glue partition API (free tier)": 0.0,
        "Athena queries": a.days * a.queries_per_day * scanned / TB * ATHENA_PER_TB.usd,
        "S3 raw storage at full retention": stored_gb * S3_STORAGE_PER_GB_MONTH.usd,
    }


def render(pageviews: int, a: Assumptions = Assumptions()) -> str:
    doors = door_costs(pageviews, a)
    names = list(doors)
    rows = list(dict.fromkeys(c for d in doors.values() for c in d))
    width = max(len(r) for r in rows) + 2
    lines = [f"edgestats monthly cost for {pageviews:,} page views (USD, us-east-1 list prices)",
             "", "Ingestion, per door:",
             "  " + "component".ljust(width) + "".join(n.rjust(17) for n in names)]
    for row in rows:
        cells = "".join((f"{doors[n][row]:.4f}" if row in doors[n] else "-").rjust(17)
                        for n in names)
        lines.append("  " + row.ljust(width) + cells)
    lines.append("  " + "total".ljust(width)
                 + "".join(f"{sum(doors[n].values()):.4f}".rjust(17) for n in names))
    lines += ["", "Daily pipeline (any door):"]
    pipe = pipeline_costs(pageviews, a)
    pwidth = max(len(k) for k in pipe) + 2
    for k, v in pipe.items():
        lines.append("  " + k.ljust(pwidth) + f"{v:.4f}".rjust(12))
    lines += ["", "Prices marked assumed in orchestration/cost.py could not be confirmed; "
              "see docs/cost.md."]
    return "\n".join(lines)


def run_cli(args, settings) -> int:
    print(render(args.pageviews_per_month))
    return 0
