"""The traffic report over hand-made summary tables whose sums are worked out below.

Current period 2026-11-05..07 (3 days), previous period 2026-11-02..04.

a.example, site_daily:  11-05 pv 100 vis 40 sessions 50 bounces 20 avg 60 s
                        11-06 pv 200 vis 60 sessions 70 bounces 35 avg 90 s
                        11-07 no folder at all (a gap in the chart)
  -> visitors 100, page views 300, sessions 120, bounce rate 55/120, duration
     (60*50 + 90*70)/120 = 77.5 s, views per session 2.5
  previous (11-03): pv 150 vis 50 sessions 60 bounces 30 avg 45 s
  bots: 11-05 Googlebot 30 + curl 20, 11-06 Googlebot 25 -> 75 hits, share 75/375 = 20%
b.example (11-06 only): pv 10 vis 5 sessions 5 bounces 5; strings from data that try to
  inject markup in its page path, source and event name.
Out of range (11-01, 11-08) rows of 9999 page views must never show up or be opened.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from orchestration import cli, report
from orchestration.report import (
    build_report,
    compute_change,
    format_bytes,
    format_count,
    format_duration,
    format_percent,
    format_ratio,
    render_line_chart,
    write_report,
)
from orchestration.tables import SUMMARY_TABLES, column_names

D = dt.date
START, END = D(2026, 11, 5), D(2026, 11, 7)
EVIL_PATH = '/<script>alert("path")</script>'
EVIL_SOURCE = '"><img src=x onerror=alert(1)>'
EVIL_EVENT = "</script><script>alert(2)</script>"

COLUMNS = {table: list(column_names(table)) for table in SUMMARY_TABLES}


def site_row(site, pv, vis, sessions, bounces, avg):
    return (site, pv, vis, sessions, bounces, bounces / sessions, avg, pv / sessions)


FIXTURE: dict[str, dict[str, list[tuple]]] = {
    "site_daily": {
        "2026-11-01": [site_row("a.example", 9999, 9999, 9999, 0, 1.0)],
        "2026-11-03": [site_row("a.example", 150, 50, 60, 30, 45.0)],
        "2026-11-05": [site_row("a.example", 100, 40, 50, 20, 60.0)],
        "2026-11-06": [
            site_row("a.example", 200, 60, 70, 35, 90.0),
            site_row("b.example", 10, 5, 5, 5, 0.0),
        ],
        "2026-11-08": [site_row("a.example", 9999, 9999, 9999, 0, 1.0)],
    },
    "page_daily": {
        "2026-11-05": [("a.example", "/", 60, 30, 35, 20), ("a.example", "/blog/", 40, 15, 15, 30)],
        "2026-11-06": [
            ("a.example", "/", 120, 40, 50, 40),
            ("a.example", "/pricing", 80, 30, 20, 30),
            ("b.example", EVIL_PATH, 10, 5, 5, 5),
        ],
        "2026-11-08": [("a.example", "/late", 9999, 9999, 0, 0)],
    },
    "source_daily": {
        "2026-11-05": [
            ("a.example", "(direct)", None, None, 30, 25, 50, 10),
            ("a.example", "google.com", None, None, 20, 15, 50, 10),
        ],
        "2026-11-06": [
            ("a.example", "newsletter", "email", "nov-launch", 40, 35, 120, 15),
            ("a.example", "google.com", None, None, 30, 25, 80, 20),
            ("b.example", EVIL_SOURCE, None, None, 5, 5, 10, 5),
        ],
    },
    "geo_daily": {
        "2026-11-05": [
            ("a.example", "DE", "BE", "Berlin", 20, 50),
            ("a.example", "US", None, None, 20, 50),
        ],
        "2026-11-06": [
            ("a.example", "DE", "HH", "Hamburg", 30, 100),
            ("a.example", None, None, None, 30, 100),
        ],
    },
    "tech_daily": {
        "2026-11-05": [
            ("a.example", "desktop", "Chrome", "Windows", 30, 70),
            ("a.example", "mobile", "Safari", "iOS", 10, 30),
        ],
        "2026-11-06": [
            ("a.example", "desktop", "Firefox", "Linux", 20, 60),
            ("a.example", "mobile", "Chrome", "Android", 40, 140),
        ],
    },
    "site_hourly": {
        "2026-11-05": [("a.example", 9, 60, 25), ("a.example", 14, 40, 20)],
        "2026-11-06": [("a.example", 10, 200, 60), ("b.example", 23, 10, 5)],
    },
    "event_daily": {
        "2026-11-05": [("a.example", "signup", 5, 4)],
        "2026-11-06": [
            ("a.example", "signup", 3, 3),
            ("a.example", "download", 10, 6),
            ("b.example", EVIL_EVENT, 1, 1),
        ],
    },
    "bot_daily": {
        "2026-11-05": [("a.example", "Googlebot", 30), ("a.example", "curl", 20)],
        "2026-11-06": [("a.example", "Googlebot", 25)],
    },
}


def write_partition(
    warehouse: Path, table: str, day: str, rows: list[tuple], dt_as_date: bool
) -> Path:
    """One Parquet file shaped like the pipeline's: DESIGN 6 columns plus dt."""
    frame = pd.DataFrame(rows, columns=COLUMNS[table])
    frame["dt"] = D.fromisoformat(day) if dt_as_date else day
    folder = warehouse / table / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-00000.parquet"
    frame.to_parquet(path, index=False)
    return path


def make_warehouse(root: Path) -> Path:
    """The fixture above on disk, plus traps a correct reader never opens."""
    warehouse = root / "warehouse"
    for i, (table, days) in enumerate(FIXTURE.items()):
        for day, rows in days.items():
            write_partition(warehouse, table, day, rows, dt_as_date=i % 2 == 1)
    # A write in progress and the raw events table: both would break the numbers (or fail
    # to parse) if the report ever opened them.
    tmp = warehouse / "site_daily" / "dt=2026-11-05.tmp-1234"
    tmp.mkdir(parents=True)
    (tmp / "part-00000.parquet").write_bytes(b"not parquet")
    events = warehouse / "events" / "dt=2026-11-05"
    events.mkdir(parents=True)
    (events / "part-00000.parquet").write_bytes(b"not parquet either")
    return warehouse


def files_in_range(warehouse: Path, first: str, last: str) -> list[Path]:
    return [
        p
        for p in warehouse.glob("*/dt=*/*.parquet")
        if p.parent.parent.name in COLUMNS
        and re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", p.parent.name)
        and first <= p.parent.name[3:] <= last
    ]


@pytest.fixture
def warehouse(tmp_path) -> Path:
    return make_warehouse(tmp_path)


class DomMetrics(HTMLParser):
    """Collects data-metric values per site section and list cells per (site, list, key)."""

    def __init__(self):
        super().__init__()
        self.site: str | None = None
        self.list: str | None = None
        self.key: str | None = None
        self.metrics: dict[tuple[str | None, str], str] = {}
        self.texts: dict[tuple[str | None, str], str] = {}
        self.cells: dict[tuple[str | None, str, str, str], str] = {}
        self.points: dict[tuple[str | None, str, str], str] = {}
        self.point: str | None = None
        self.scripts = 0
        self._capture: tuple | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "section" and "data-site" in a:
            self.site = a["data-site"]
        if "data-list" in a:
            self.list = a["data-list"]
        if tag == "tr":
            self.key = a.get("data-key")
            self.point = a.get("data-point")
        if "data-metric" in a:
            self.metrics[(self.site, a["data-metric"])] = a["data-value"]
            self._capture = (self.site, a["data-metric"])
        if "data-col" in a and self.key is not None:
            self.cells[(self.site, self.list, self.key, a["data-col"])] = a["data-value"]
        if "data-col" in a and self.point is not None:
            self.points[(self.site, self.point, a["data-col"])] = a["data-value"]

    def handle_data(self, data):
        if self._capture is not None and data.strip():
            self.texts[self._capture] = data.strip()
            self._capture = None


def parse(html: str) -> DomMetrics:
    p = DomMetrics()
    p.feed(html)
    return p


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (999, "999"),
        (1000, "1k"),
        (1049, "1k"),
        (1050, "1.1k"),
        (12_345, "12.3k"),
        (99_949, "99.9k"),
        (99_950, "100k"),
        (123_456, "123k"),
        (999_499, "999k"),
        (999_500, "1m"),
        (1_234_567, "1.2m"),
        (2_000_000_000, "2b"),
        (-1500, "-1.5k"),
        (None, "—"),
    ],
)
def test_format_count(value, text):
    assert format_count(value) == text


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (45, "45s"),
        (59.4, "59s"),
        (65, "1m 05s"),
        (77.5, "1m 18s"),
        (600, "10m 00s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (7325, "2h 02m"),
        (None, "—"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "ratio, text",
    [
        (0.45, "45%"),
        (55 / 120, "46%"),
        (0.2, "20%"),
        (1.0, "100%"),
        (0.0, "0%"),
        (0.094, "9.4%"),
        (0.05, "5%"),
        (0.0004, "<0.1%"),
        (None, "—"),
    ],
)
def test_format_percent(ratio, text):
    assert format_percent(ratio) == text


def test_format_ratio_and_bytes():
    assert format_ratio(2.5) == "2.50"
    assert format_ratio(None) == "—"
    assert [format_bytes(n) for n in (0, 999, 1000, 12_345, 2_500_000)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "12.3 kB",
        "2.5 MB",
    ]


def test_change_against_previous_period():
    assert compute_change(200, 100, "amount").text == "▲ 100%"
    down = compute_change(90, 120, "amount")
    assert (down.text, down.direction, down.tone) == ("▼ 25%", "down", "bad")
    assert compute_change(5, 0, "amount").text == "new"
    assert compute_change(0, 0, "amount").direction == "flat"
    assert compute_change(2.5, 2.5, "amount").text == "0%"
    # Bounce rate: percentage points, and lower is good.
    bounce = compute_change(55 / 120, 0.5, "rate_lower_better")
    assert (bounce.text, bounce.tone) == ("▼ 4.2 pp", "good")
    assert compute_change(None, 0.5, "rate_lower_better").text == "—"


def test_chart_axis_and_points():
    svg = render_line_chart(
        ["2026-11-05", "2026-11-06"], {"pageviews": [0, 10], "visitors": [0, 4]}, "day", 360, 240, 4
    )
    # y axis 0..10 in steps of 5; the plot runs from y=14 (top) to y=210 (zero)
    assert re.findall(r'<text class="axis" x="46" [^>]*>([^<]+)<', svg) == ["0", "5", "10"]
    assert '<polyline class="line pageviews" points="52.0,210.0 346.0,14.0"/>' in svg
    assert '<polyline class="line visitors" points="52.0,210.0 346.0,131.6"/>' in svg
    assert svg.count("<circle") == 2 and svg.count("<rect") == 2
    assert "<title>2026-11-06: 10 page views</title>" in svg
    assert ">Nov 5<" in svg and 'text-anchor="end">Nov 6<' in svg


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_palette_contrast_meets_wcag_aa():
    css = report.TEMPLATE_FILE.read_text()
    colours = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6});", css))
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54  # the checker against a known pair
    # text on cards, on the page background and on list bars: 4.5:1 (AA, normal text); the
    # chart lines use the same colours, so they clear the 3:1 for graphics too
    for text in ("fg", "muted", "pageviews", "visitors", "good", "bad"):
        for background in ("card", "bg"):
            assert contrast(colours[text], colours[background]) >= 4.5, (text, background)
    assert contrast(colours["fg"], colours["bar"]) >= 4.5
    assert contrast(colours["grid"], colours["card"]) < 1.5  # grid lines stay quiet


# --------------------------------------------------------------------------- numbers


def test_numbers_from_the_summary_tables(warehouse):
    result = build_report(warehouse, START, END)
    n = result.numbers
    assert (n["previous_start"], n["previous_end"], n["days"]) == ("2026-11-02", "2026-11-04", 3)
    assert list(n["sites"]) == ["a.example", "b.example"]  # busiest first
    a = n["sites"]["a.example"]
    assert {k: a[k] for k in ("visitors", "pageviews", "sessions", "bounces", "bot_hits")} == {
        "visitors": 100,
        "pageviews": 300,
        "sessions": 120,
        "bounces": 55,
        "bot_hits": 75,
    }
    assert a["bounce_rate"] == pytest.approx(55 / 120)
    assert a["visit_duration"] == pytest.approx(77.5)
    assert a["views_per_session"] == pytest.approx(2.5)
    assert a["bot_share"] == pytest.approx(0.2)
    prev = a["previous"]
    assert (prev["visitors"], prev["pageviews"], prev["sessions"]) == (50, 150, 60)
    assert (prev["bounce_rate"], prev["visit_duration"], prev["bot_hits"]) == (0.5, 45.0, 0)
    assert a["series"] == {"pageviews": [100, 200, 0], "visitors": [40, 60, 0]}
    assert n["series_labels"] == ["2026-11-05", "2026-11-06", "2026-11-07"]

    lists = a["lists"]
    assert [
        (r["key"], r["visitors"], r["pageviews"], r["entries"], r["exits"])
        for r in lists["pages"]["rows"]
    ] == [("/", 70, 180, 85, 60), ("/pricing", 30, 80, 20, 30), ("/blog/", 15, 40, 15, 30)]
    assert [
        (r["key"], r["visitors"], r["sessions"], r["bounces"]) for r in lists["sources"]["rows"]
    ] == [("google.com", 40, 50, 30), ("newsletter", 35, 40, 15), ("(direct)", 25, 30, 10)]
    assert [(r["key"], r["visitors"]) for r in lists["campaigns"]["rows"]] == [("nov-launch", 35)]
    assert [(r["key"], r["visitors"], r["pageviews"]) for r in lists["countries"]["rows"]] == [
        ("DE", 50, 150),
        ("(unknown)", 30, 100),
        ("US", 20, 50),
    ]
    assert [(r["key"], r["visitors"], r["pageviews"]) for r in lists["devices"]["rows"]] == [
        ("mobile", 50, 170),
        ("desktop", 50, 130),
    ]
    assert [r["key"] for r in lists["browsers"]["rows"]] == ["Chrome", "Firefox", "Safari"]
    assert [r["key"] for r in lists["os"]["rows"]] == ["Android", "Windows", "Linux", "iOS"]
    assert [(r["key"], r["events"], r["visitors"]) for r in lists["events"]["rows"]] == [
        ("download", 10, 6),
        ("signup", 8, 7),
    ]
    assert [(r["key"], r["hits"]) for r in lists["bots"]["rows"]] == [
        ("Googlebot", 55),
        ("curl", 20),
    ]

    b = n["sites"]["b.example"]
    assert (b["visitors"], b["pageviews"], b["bounce_rate"], b["bot_share"]) == (5, 10, 1.0, 0.0)
    total = n["total"]
    assert (total["visitors"], total["pageviews"], total["sessions"], total["bounces"]) == (
        105,
        310,
        125,
        60,
    )
    assert total["visit_duration"] == pytest.approx((77.5 * 120) / 125)


def test_reads_only_summary_files_of_the_two_periods(warehouse):
    result = build_report(warehouse, START, END)
    expected = files_in_range(warehouse, "2026-11-02", "2026-11-07")
    assert len(expected) == 17  # site_daily 3 (11-03, 11-05, 11-06) + 7 tables x 2
    assert result.files_read == 17
    assert result.bytes_read == sum(p.stat().st_size for p in expected)
    assert "9999" not in result.html and "/late" not in result.html


def test_site_filter_keeps_one_site(warehouse):
    result = build_report(warehouse, START, END, site="b.example")
    assert list(result.numbers["sites"]) == ["b.example"]
    dom = parse(result.html)
    assert dom.metrics[("b.example", "pageviews")] == "10"
    assert 'id="site-select"' not in result.html  # one site, no selector


def test_html_shows_the_numbers_with_raw_values(warehouse):
    dom = parse(build_report(warehouse, START, END).html)
    a = "a.example"
    assert dom.metrics[(a, "visitors")] == "100"
    assert dom.metrics[(a, "pageviews")] == "300"
    assert float(dom.metrics[(a, "bounce_rate")]) == pytest.approx(55 / 120)
    assert (dom.texts[(a, "bounce_rate")], dom.texts[(a, "visit_duration")]) == ("46%", "1m 18s")
    assert (dom.texts[(a, "views_per_session")], dom.texts[(a, "bot_share")]) == ("2.50", "20%")
    assert dom.cells[(a, "pages", "/", "entries")] == "85"
    assert dom.cells[(a, "sources", "google.com", "bounce_rate")] == repr(0.6)
    assert dom.points[(a, "2026-11-07", "pageviews")] == "0"
    html = build_report(warehouse, START, END).html
    assert "▲ 100%" in html and "▼ 4.2 pp" in html and "Visitors (sum of daily)" in html
    assert "new" in html  # b.example had nothing before


def test_every_string_from_data_is_escaped(warehouse):
    html = build_report(warehouse, START, END).html
    for evil in (EVIL_PATH, EVIL_SOURCE, EVIL_EVENT, "<img"):
        assert evil not in html
    assert "&lt;script&gt;alert(&#34;path&#34;)&lt;/script&gt;" in html
    dom = parse(html)
    assert dom.scripts == 1  # only the site switcher
    assert dom.cells[("b.example", "pages", EVIL_PATH, "visitors")] == "5"
    assert dom.cells[("b.example", "sources", EVIL_SOURCE, "visitors")] == "5"
    assert dom.cells[("b.example", "events", EVIL_EVENT, "events")] == "1"


def test_no_external_urls(warehouse):
    html = build_report(warehouse, START, END).html
    assert not re.search(r"""(src|href|action|xlink:href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.I)
    assert "@import" not in html
    assert "http://" not in html and "https://" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
    assert unescape(csp).startswith("default-src 'none';")  # the browser refuses any fetch


def test_empty_range_renders_an_empty_state(tmp_path):
    for warehouse in (tmp_path / "nothing-here", make_warehouse(tmp_path)):
        result = build_report(warehouse, D(2030, 1, 1), D(2030, 1, 31))
        assert result.numbers["sites"] == {}
        assert result.bytes_read == 0 and result.files_read == 0
        assert 'data-empty="report"' in result.html
        assert "No traffic recorded from 2030-01-01 to 2030-01-31" in result.html


def test_site_with_no_data_gets_zeros_not_a_crash(warehouse):
    result = build_report(warehouse, START, END, site="nobody.example")
    dom = parse(result.html)
    assert dom.metrics[("nobody.example", "pageviews")] == "0"
    assert dom.metrics[("nobody.example", "bounce_rate")] == ""
    assert dom.texts[("nobody.example", "bounce_rate")] == "—"
    assert 'data-empty="site"' in result.html


def test_single_day_is_hourly(warehouse):
    result = build_report(warehouse, D(2026, 11, 5), D(2026, 11, 5))
    n = result.numbers
    assert (n["series_unit"], len(n["series_labels"])) == ("hour", 24)
    a = n["sites"]["a.example"]
    assert (
        a["series"]["pageviews"][9],
        a["series"]["pageviews"][14],
        sum(a["series"]["pageviews"]),
    ) == (60, 40, 100)
    assert (a["visitors"], a["previous"]["pageviews"]) == (40, 0)  # 11-04 is empty
    assert "b.example" not in n["sites"]  # nothing on 11-04 or 11-05
    assert "per hour" in result.html


def test_unreadable_table_is_one_clear_error(warehouse):
    (warehouse / "geo_daily" / "dt=2026-11-06" / "part-00000.parquet").write_bytes(b"garbage")
    with pytest.raises(
        report.ReportError, match=r"cannot read summary table geo_daily .* materialize"
    ):
        build_report(warehouse, START, END)


def test_summary_markdown(warehouse):
    summary = build_report(warehouse, START, END).summary
    assert "| a.example | 100 | 300 | 120 | 46% | 1m 18s | 2.50 | 20% |" in summary
    assert "| **all sites** | 105 | 310 | 125 | 48% |" in summary
    assert "2026-11-05 to 2026-11-07" in summary


# --------------------------------------------------------------------------- writing and CLI


def test_write_report_default_path_and_atomic(settings, tmp_path):
    make_warehouse(settings.home)
    path = write_report(settings, START, END)
    assert path == settings.home / "report.html"
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.glob(".report.html.*")] == []  # no temporary left over
    with pytest.raises(report.ReportError, match="is a directory"):
        write_report(settings, START, END, out=tmp_path)


def test_cli_report(settings, capsys):
    make_warehouse(settings.home)
    out = settings.home / "out" / "r.html"
    code = cli.main(["report", "--start", "2026-11-05", "--end", "2026-11-07", "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(out)
    assert lines[1].startswith(
        "2026-11-05 to 2026-11-07: 2 sites, 310 page views, 105 visitors (sum of daily)"
    )
    assert out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--start", "2026-11-07", "--end", "2026-11-05"],
            "--end 2026-11-05 is before --start 2026-11-07",
        ),
        (
            ["--start", "2026-11-05", "--end", "2026-11-07", "--out", "s3://bucket/r.html"],
            "local file",
        ),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(settings, capsys, argv, message):
    assert cli.main(["report", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_run_cli_direct(settings, capsys):
    make_warehouse(settings.home)
    args = argparse.Namespace(start=START, end=START, site="A.Example", out=None)
    assert report.run_cli(args, settings) == 0
    assert capsys.readouterr().out.splitlines()[0] == str(settings.home / "report.html")
    dom = parse((settings.home / "report.html").read_text())
    assert dom.metrics[("a.example", "pageviews")] == "100"


# --------------------------------------------------------------------------- Dagster


def _materialize_report(settings, instance, **kwargs):
    import dagster as dg

    from orchestration.defs.reporting.assets import traffic_report_asset
    from orchestration.defs.resources import EngineResource

    asset = traffic_report_asset(dg.DailyPartitionsDefinition(start_date="2026-01-01"))
    engine = EngineResource.from_settings(settings)
    return asset, dg.materialize([asset], instance=instance, resources={"engine": engine}, **kwargs)


def test_traffic_report_asset(settings):
    import dagster as dg

    make_warehouse(settings.home)
    instance = dg.DagsterInstance.ephemeral()
    asset, result = _materialize_report(settings, instance, partition_key="2026-11-07")
    assert {dep.path[-1] for dep in asset.dependency_keys} == set(SUMMARY_TABLES)
    mapping = asset.get_partition_mapping(dg.AssetKey("site_daily"))
    assert (mapping.start_offset, mapping.end_offset) == (-59, 0)  # 30 days and the 30 before
    assert result.success
    [materialization] = result.asset_materializations_for_node("traffic_report")
    meta = materialization.metadata
    assert meta["path"].value == str(settings.home / "report.html")
    assert (meta["start"].value, meta["end"].value) == ("2026-10-09", "2026-11-07")
    # 10-09..11-07 takes in the 11-01 row too: 9999 + 150 + 100 + 200 page views for a.example
    assert meta["pageviews"].value == 10449 + 10
    assert "| a.example | 10.1k | 10.4k | 10.2k |" in meta["summary"].value
    assert (settings.home / "report.html").read_text().count('data-metric="pageviews"') == 2


def test_traffic_report_asset_in_a_range_run_writes_once_for_the_last_day(settings):
    import dagster as dg
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    make_warehouse(settings.home)
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: "2026-11-01",
        ASSET_PARTITION_RANGE_END_TAG: "2026-11-06",
    }
    _, result = _materialize_report(settings, dg.DagsterInstance.ephemeral(), tags=tags)
    assert result.success
    # one run, one report (for the last day); Dagster records it against each day of the range
    materializations = result.asset_materializations_for_node("traffic_report")
    assert sorted(m.partition for m in materializations) == [f"2026-11-0{d}" for d in range(1, 7)]
    assert {m.metadata["end"].value for m in materializations} == {"2026-11-06"}


def test_traffic_report_asset_with_athena_backend_writes_nothing(settings):
    import dagster as dg

    athena = dataclasses.replace(settings, backend="athena")
    _, result = _materialize_report(
        athena, dg.DagsterInstance.ephemeral(), partition_key="2026-11-07"
    )
    assert result.success
    assert result.asset_materializations_for_node("traffic_report") == []
    assert not (settings.home / "report.html").exists()


def test_reporting_defs_merge_with_the_pipeline():
    import dagster as dg

    from orchestration.defs import reporting, warehouse
    from orchestration.defs.resources import EngineResource

    resources = dg.Definitions(resources={"engine": EngineResource()})
    defs = dg.Definitions.merge(warehouse.defs, reporting.defs, resources)
    graph = defs.resolve_asset_graph()
    report_key = dg.AssetKey("traffic_report")
    assert graph.get(report_key).parent_keys == {dg.AssetKey(t) for t in SUMMARY_TABLES}
    assert all(not graph.get(dg.AssetKey(t)).is_external for t in SUMMARY_TABLES)
    job = defs.resolve_job_def("edgestats_daily")  # selection=all takes the report in
    assert report_key in job.asset_layer.selected_asset_keys


def test_cli_unwritable_out_exits_2(settings, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / "report.html"
    assert (
        cli.main(["report", "--start", "2026-11-05", "--end", "2026-11-07", "--out", str(out)]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(f"edgestats: cannot write the report to {out}: ") and err.count("\n") == 1
