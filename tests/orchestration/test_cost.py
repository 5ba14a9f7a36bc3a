"""The cost model against numbers worked out by hand (binary units, us-east-1 prices)."""

from __future__ import annotations

import pytest

from orchestration import cost
from orchestration.cli import main

GIB = 1073741824


def test_log_stream_door_for_one_million_pageviews():
    c = cost.door_costs(1_000_000)["log-stream"]
    # 10 requests per page view -> 10,000,000 log records of 500 bytes.
    assert c["CloudFront log delivery"] == pytest.approx(5e9 / GIB * 0.25)  # 1.164153
    # Firehose bills each record as 5 KB: 10e6 * 5120 B = 47.6837 GiB at $0.029.
    assert c["Firehose ingest (5 KB rounding)"] == pytest.approx(47.68371582 * 0.029)
    # 5e9 B / 1 MiB = 4,769 batches, but the 60 s interval flushes 43,200 times a month.
    assert c["Lambda transform requests"] == pytest.approx(43_200 * 0.20 / 1e6)
    # (43,200 * 20 ms + 10e6 * 0.2 ms) = 2,864 s at 0.5 GB = 1,432 GB-s.
    assert c["Lambda transform duration"] == pytest.approx(1432 * 0.0000133334)
    assert c["S3 PUTs (landing)"] == pytest.approx(0.216)
    assert sum(c.values()) == pytest.approx(2.790714407, rel=1e-8)


def test_lambda_edge_and_eventbridge_doors_for_one_million_pageviews():
    doors = cost.door_costs(1_000_000)
    edge = doors["lambda-edge"]
    assert edge["Lambda@Edge requests"] == pytest.approx(0.60)
    assert edge["Lambda@Edge duration"] == pytest.approx(3750 * 0.00005001)  # 30 ms x 128 MB
    assert edge["Firehose ingest (5 KB rounding)"] == pytest.approx(4.768371582 * 0.029)
    assert sum(edge.values()) == pytest.approx(1.141820276, rel=1e-8)
    sfn = doors["eventbridge+sfn"]
    assert sfn["S3 PUTs (one object per event)"] == pytest.approx(5.00)
    assert sfn["Step Functions duration"] == pytest.approx(6250 * 0.00001667)
    assert sum(sfn.values()) == pytest.approx(7.891725, rel=1e-8)


def test_transform_invocations_follow_size_once_traffic_is_large():
    c = cost.door_costs(100_000_000)["log-stream"]
    # 1e9 records * 500 B / 1 MiB = 476,837.16 -> 476,838 invocations > 43,200.
    assert c["Lambda transform requests"] == pytest.approx(476_838 * 0.20 / 1e6)


def test_pipeline_costs_show_the_crawler_minimum_and_athena_floor():
    p = cost.pipeline_costs(1_000_000)
    assert p["Glue crawler (1 run/day, 10-min minimum)"] == pytest.approx(2.20)
    assert p["Glue partition API (free tier)"] == 0.0
    # a day's raw data (2 x 2.5 MB) is under the 10 MB minimum: 300 queries x 10 MiB.
    assert p["Athena queries"] == pytest.approx(300 * 10 * 1048576 / 1024**4 * 5)
    # 75 MB of gzip a month kept 400 days: 0.0698 GiB x 13.33 months x $0.023.
    assert p["S3 raw storage at full retention"] == pytest.approx(0.021420419, rel=1e-6)


def test_every_price_names_its_source():
    assert len(cost.PRICES) >= 12
    for name, price in cost.PRICES.items():
        assert price.usd > 0 and price.source.startswith("aws.amazon.com/"), name


def test_cli_prints_the_table(capsys):
    assert main(["cost", "--pageviews-per-month", "1000000"]) == 0
    out = capsys.readouterr().out
    assert "1,000,000 page views" in out
    total = next(line for line in out.splitlines() if line.strip().startswith("total"))
    assert total.split()[1:] == ["2.7907", "1.1418", "7.8917"]
    assert "Glue crawler (1 run/day, 10-min minimum)" in out


def test_cli_rejects_a_non_positive_volume(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cost", "--pageviews-per-month", "0"])
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
