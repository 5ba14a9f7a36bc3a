"""The traffic report: one self-contained HTML dashboard built from the summary tables.

Plausible-like numbers for a date range, with the change against the previous period of
equal length, rendered to a single HTML file (inline CSS, JS and SVG, and a Content
Security Policy that forbids any network access) so it opens from disk or from S3.

It reads only the Parquet summary tables of DESIGN section 6, and only the `dt=` folders
of the two periods it shows, so the bytes it reads stay small however long the history
is; that figure is printed in the footer.  Raw events are never opened.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup, escape

from edge.config import ConfigError, Settings
from orchestration.engine import Engine
from orchestration.tables import DUCKDB_TYPES, SUMMARY_TABLES

# Every summary table's columns as DESIGN 6 declares them (orchestration.tables), read with
# explicit casts so the report is indifferent to the writer's integer widths.
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    table: {name: DUCKDB_TYPES[athena_type] for name, athena_type in columns}
    for table, columns in SUMMARY_TABLES.items()
}

DT_FOLDER = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")
DEFAULT_REPORT_NAME = "report.html"
TEMPLATE_FILE = Path(__file__).with_name("report_template.html")
LIST_LIMIT = 10
PAGE_LIMIT = 15


class ReportError(ConfigError):
    """The report cannot be made from what the user gave or what is in the warehouse."""


# --------------------------------------------------------------------------- formatting


def format_count(value: float | int | None) -> str:
    """12345 -> '12.3k': people compare magnitudes, not digits."""
    if value is None:
        return "—"
    n = int(round(value))
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 1000:
        return f"{sign}{n}"
    for suffix, scale in (("k", 1_000), ("m", 1_000_000), ("b", 1_000_000_000)):
        scaled = n / scale
        text = f"{scaled:.1f}" if scaled < 100 else f"{scaled:.0f}"
        if float(text) < 1000 or suffix == "b":
            return sign + text.removesuffix(".0") + suffix
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float | None) -> str:
    """65 -> '1m 05s', the way Plausible shows visit duration."""
    if seconds is None:
        return "—"
    s = int(round(max(seconds, 0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def format_percent(ratio: float | None) -> str:
    """0.45 -> '45%'; small shares keep one decimal so 0.4% does not read as 0%."""
    if ratio is None:
        return "—"
    pct = ratio * 100
    if pct == 0:
        return "0%"
    if 0 < abs(pct) < 0.1:
        return "<0.1%"
    if abs(pct) < 10:
        return f"{pct:.1f}".removesuffix(".0") + "%"
    return f"{pct:.0f}%"


def format_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    for suffix, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        scaled = n / scale
        if scaled < 1000 or suffix == "GB":
            return (f"{scaled:.1f}" if scaled < 100 else f"{scaled:.0f}") + " " + suffix
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Change:
    text: str  # '▲ 12%', '▼ 3 pp', 'new', '—'
    direction: str  # up | down | flat | none
    tone: str  # good | bad | neutral
    label: str  # words for screen readers


def compute_change(current: float | None, previous: float | None, kind: str) -> Change:
    """Change against the previous period: relative for amounts, points for rates."""
    lower_is_better = kind == "rate_lower_better"
    if current is None or previous is None:
        return Change("—", "none", "neutral", "no comparison")
    if kind.startswith("rate"):
        delta = (current - previous) * 100
        amount = (
            f"{abs(delta):.0f} pp"
            if abs(delta) >= 10
            else f"{abs(delta):.1f}".removesuffix(".0") + " pp"
        )
    else:
        if previous == 0:
            if current == 0:
                return Change("—", "flat", "neutral", "no change")
            return Change("new", "up", "good", "new this period")
        delta = (current - previous) / previous * 100
        amount = f"{abs(delta):.0f}%"
    if amount in ("0%", "0 pp"):
        return Change("0%" if amount == "0%" else "0 pp", "flat", "neutral", "no change")
    direction = "up" if delta > 0 else "down"
    good = (direction == "up") != lower_is_better
    arrow = "▲" if direction == "up" else "▼"
    return Change(
        f"{arrow} {amount}", direction, "good" if good else "bad", f"{direction} {amount}"
    )


# --------------------------------------------------------------------------- reading


@dataclass
class Warehouse:
    """The summary tables of the requested days, loaded into an in-memory DuckDB."""

    con: duckdb.DuckDBPyConnection
    files: list[Path] = field(default_factory=list)
    engine_bytes: int = 0  # read through an engine: what its tables store for those days
    engine_partitions: int = 0

    @property
    def bytes_read(self) -> int:
        return sum(f.stat().st_size for f in self.files) + self.engine_bytes

    @property
    def files_read(self) -> int:
        return len(self.files) + self.engine_partitions


def _partition_files(warehouse: Path, table: str, first: dt.date, last: dt.date) -> list[Path]:
    """Parquet files of `table` whose dt folder lies in [first, last]; others are not opened."""
    root = warehouse / table
    if not root.is_dir():
        return []
    found: list[Path] = []
    for folder in sorted(root.iterdir()):
        match = DT_FOLDER.fullmatch(folder.name)
        if not match or not folder.is_dir():
            continue  # e.g. a temporary folder of a write in progress
        try:
            day = dt.date.fromisoformat(match.group(1))
        except ValueError:
            continue
        if first <= day <= last:
            found.extend(
                f
                for f in sorted(folder.glob("*.parquet"))
                if f.is_file() and not f.name.startswith(".")
            )
    return found


def load_from_engine(engine: Engine, first: dt.date, last: dt.date,
                     site: str | None) -> Warehouse:
    """The summary tables of [first, last] through the engine (any backend): each table's
    rows of those days by one query, loaded into an in-memory DuckDB, `site` filtered
    there (it is never put into the engine's SQL)."""
    import pyarrow as pa

    from orchestration.engine import DayRange

    con = duckdb.connect(":memory:")
    wh = Warehouse(con)
    days = DayRange(first, last)
    for table, columns in TABLE_COLUMNS.items():
        names = ", ".join([*columns, "dt"])
        try:
            result = engine.query(
                f"SELECT {names} FROM {table} "  # noqa: S608 - constants and dates
                f"WHERE dt BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'")
        except Exception as e:  # any engine's error, as one line
            raise ReportError(f"cannot read summary table {table} through the "
                              f"{engine.name} engine: {str(e).splitlines()[0]}") from None
        data = list(zip(*result.rows, strict=True)) if result.rows else [[]] * len(result.columns)
        con.register("fetched", pa.table({c: pa.array(list(v))
                                          for c, v in zip(result.columns, data, strict=True)}))
        select = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())
        con.execute(f"CREATE TABLE {table} AS SELECT CAST(dt AS DATE) AS day, {select} "  # noqa: S608
                    "FROM fetched WHERE $site IS NULL OR site = $site", {"site": site})
        con.unregister("fetched")
        wh.engine_partitions += len({r[-1] for r in result.rows})
        wh.engine_bytes += engine.stored_bytes(table, days)
    return wh


def load_warehouse(warehouse: Path, first: dt.date, last: dt.date, site: str | None) -> Warehouse:
    con = duckdb.connect(":memory:")
    wh = Warehouse(con)
    for table, columns in TABLE_COLUMNS.items():
        files = _partition_files(warehouse, table, first, last)
        # Table and column names are constants of this module, never data.
        if not files:
            cols = ", ".join(f"{c} {t}" for c, t in columns.items())
            con.execute(f"CREATE TABLE {table} (day DATE, {cols})")
            continue
        select = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())
        sql = (
            f"CREATE TABLE {table} AS SELECT "  # noqa: S608
            r"CAST(regexp_extract(filename, '/dt=(\d{4}-\d{2}-\d{2})/[^/]*$', 1) AS DATE) AS day, "
            f"{select} FROM read_parquet($files, filename = true, union_by_name = true, "
            "hive_partitioning = false) WHERE $site IS NULL OR site = $site"
        )
        try:
            con.execute(sql, {"files": [str(f) for f in files], "site": site})
        except duckdb.Error as e:
            first_line = str(e).splitlines()[0]
            raise ReportError(
                f"cannot read summary table {table} under {warehouse / table}: {first_line}; "
                "re-run `edgestats materialize` for those days"
            ) from None
        wh.files.extend(files)
    return wh


# --------------------------------------------------------------------------- numbers


def _topline(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> dict[str, dict]:
    rows = con.execute(
        """
        SELECT site, sum(visitors), sum(pageviews), sum(sessions), sum(bounces),
               sum(avg_visit_duration_s * sessions)
        FROM site_daily WHERE day BETWEEN $first AND $last GROUP BY site
        """,
        {"first": first, "last": last},
    ).fetchall()
    out = {}
    for site, visitors, pageviews, sessions, bounces, duration_total in rows:
        out[site] = _topline_values(visitors, pageviews, sessions, bounces, duration_total)
    return out


def _topline_values(visitors, pageviews, sessions, bounces, duration_total) -> dict[str, Any]:
    visitors, pageviews, sessions, bounces = (
        int(x or 0) for x in (visitors, pageviews, sessions, bounces)
    )
    return {
        "visitors": visitors,
        "pageviews": pageviews,
        "sessions": sessions,
        "bounces": bounces,
        "bounce_rate": bounces / sessions if sessions else None,
        "visit_duration": float(duration_total or 0) / sessions if sessions else None,
        "views_per_session": pageviews / sessions if sessions else None,
    }


def _bot_hits(con, first: dt.date, last: dt.date) -> dict[str, int]:
    rows = con.execute(
        "SELECT site, sum(hits) FROM bot_daily WHERE day BETWEEN $first AND $last GROUP BY site",
        {"first": first, "last": last},
    ).fetchall()
    return {site: int(hits or 0) for site, hits in rows}


@dataclass(frozen=True)
class Breakdown:
    """One ranked list: which key, which measures, how to order and how many to show."""

    name: str
    table: str
    key: str  # SQL expression over the table's constant column names
    measures: tuple[tuple[str, str], ...]  # (name, SQL aggregate)
    where: str = "TRUE"
    limit: int = LIST_LIMIT


BREAKDOWNS = (
    Breakdown(
        "pages",
        "page_daily",
        "path",
        (
            ("visitors", "sum(visitors)"),
            ("pageviews", "sum(pageviews)"),
            ("entries", "sum(entries)"),
            ("exits", "sum(exits)"),
        ),
        limit=PAGE_LIMIT,
    ),
    Breakdown(
        "sources",
        "source_daily",
        "coalesce(source, '(direct)')",
        (
            ("visitors", "sum(visitors)"),
            ("sessions", "sum(sessions)"),
            ("pageviews", "sum(pageviews)"),
            ("bounces", "sum(bounces)"),
        ),
    ),
    Breakdown(
        "campaigns",
        "source_daily",
        "utm_campaign",
        (
            ("visitors", "sum(visitors)"),
            ("sessions", "sum(sessions)"),
            ("pageviews", "sum(pageviews)"),
            ("bounces", "sum(bounces)"),
        ),
        where="utm_campaign IS NOT NULL AND utm_campaign <> ''",
    ),
    Breakdown(
        "countries",
        "geo_daily",
        "coalesce(nullif(country, ''), '(unknown)')",
        (("visitors", "sum(visitors)"), ("pageviews", "sum(pageviews)")),
    ),
    Breakdown(
        "devices",
        "tech_daily",
        "coalesce(nullif(device_type, ''), '(unknown)')",
        (("visitors", "sum(visitors)"), ("pageviews", "sum(pageviews)")),
    ),
    Breakdown(
        "browsers",
        "tech_daily",
        "coalesce(nullif(browser, ''), '(unknown)')",
        (("visitors", "sum(visitors)"), ("pageviews", "sum(pageviews)")),
    ),
    Breakdown(
        "os",
        "tech_daily",
        "coalesce(nullif(os, ''), '(unknown)')",
        (("visitors", "sum(visitors)"), ("pageviews", "sum(pageviews)")),
    ),
    Breakdown(
        "events",
        "event_daily",
        "event_name",
        (("events", "sum(events)"), ("visitors", "sum(visitors)")),
        where="event_name IS NOT NULL",
    ),
    Breakdown(
        "bots",
        "bot_daily",
        "coalesce(nullif(browser, ''), '(unknown)')",
        (("hits", "sum(hits)"),),
        limit=5,
    ),
)


def _breakdown(con, spec: Breakdown, first: dt.date, last: dt.date) -> dict[str, dict]:
    """Top rows per site, ordered by the first measure, then the second, then the key."""
    aggregates = ", ".join(f"{expr} AS {name}" for name, expr in spec.measures)
    order = ", ".join(f"{name} DESC" for name, _ in spec.measures[:2])
    sql = f"""
        WITH grouped AS (
            SELECT site, {spec.key} AS key, {aggregates}
            FROM {spec.table}
            WHERE day BETWEEN $first AND $last AND ({spec.where})
            GROUP BY site, {spec.key}
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY site ORDER BY {order}, key) AS rank,
                   count(*) OVER (PARTITION BY site) AS n_rows
            FROM grouped
        )
        SELECT site, key, {", ".join(name for name, _ in spec.measures)}, n_rows
        FROM ranked WHERE rank <= {int(spec.limit)} ORDER BY site, rank
    """  # noqa: S608 -- only this module's constants are interpolated
    out: dict[str, dict] = {}
    names = [name for name, _ in spec.measures]
    for row in con.execute(sql, {"first": first, "last": last}).fetchall():
        site, key, *values, n_rows = row
        entry = out.setdefault(site, {"rows": [], "total_rows": int(n_rows)})
        entry["rows"].append(
            {"key": key, **{n: int(v or 0) for n, v in zip(names, values, strict=True)}}
        )
    return out


def _series(con, first: dt.date, last: dt.date) -> tuple[str, list[str], dict[str, dict]]:
    """Visitors and page views per day, or per hour when the range is a single day."""
    if first == last:
        labels = [f"{h:02d}:00" for h in range(24)]
        rows = con.execute(
            "SELECT site, hour, sum(pageviews), sum(visitors) FROM site_hourly "
            "WHERE day = $first GROUP BY site, hour",
            {"first": first},
        ).fetchall()
        index = {h: h for h in range(24)}
        unit = "hour"
    else:
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        labels = [d.isoformat() for d in days]
        rows = con.execute(
            "SELECT site, day, sum(pageviews), sum(visitors) FROM site_daily "
            "WHERE day BETWEEN $first AND $last GROUP BY site, day",
            {"first": first, "last": last},
        ).fetchall()
        index = {d: i for i, d in enumerate(days)}
        unit = "day"
    out: dict[str, dict] = {}
    for site, at, pageviews, visitors in rows:
        if at not in index:
            continue  # an hour outside 0-23 would be a writer bug; do not crash the report
        s = out.setdefault(site, {"pageviews": [0] * len(labels), "visitors": [0] * len(labels)})
        s["pageviews"][index[at]] = int(pageviews or 0)
        s["visitors"][index[at]] = int(visitors or 0)
    return unit, labels, out


def _all_sites(con) -> list[str]:
    parts = " UNION ".join(f"SELECT site FROM {t}" for t in TABLE_COLUMNS)  # noqa: S608
    sql = f"SELECT DISTINCT site FROM ({parts}) WHERE site IS NOT NULL"  # noqa: S608
    return [r[0] for r in con.execute(sql).fetchall()]


def compute_numbers(
    wh: Warehouse, start: dt.date, end: dt.date, site: str | None
) -> dict[str, Any]:
    """Every number the report shows, as plain data (also the Dagster metadata's source)."""
    days = (end - start).days + 1
    prev_end = start - dt.timedelta(days=1)
    prev_start = start - dt.timedelta(days=days)
    con = wh.con
    current, previous = _topline(con, start, end), _topline(con, prev_start, prev_end)
    bots_now, bots_before = _bot_hits(con, start, end), _bot_hits(con, prev_start, prev_end)
    unit, labels, series = _series(con, start, end)
    lists = {spec.name: _breakdown(con, spec, start, end) for spec in BREAKDOWNS}

    sites = _all_sites(con)
    if site is not None and site not in sites:
        sites.append(site)
    # Busiest site first: it is the one shown when the report opens.
    sites.sort(key=lambda s: (-current.get(s, {}).get("pageviews", 0), s))

    empty = _topline_values(0, 0, 0, 0, 0)
    per_site: dict[str, dict] = {}
    for s in sites:
        now = {**empty, **current.get(s, {})}
        before = {**empty, **previous.get(s, {})}
        now["bot_hits"], before["bot_hits"] = bots_now.get(s, 0), bots_before.get(s, 0)
        for values in (now, before):
            seen = values["bot_hits"] + values["pageviews"]
            values["bot_share"] = values["bot_hits"] / seen if seen else None
        per_site[s] = {
            **now,
            "previous": before,
            "series": series.get(
                s, {"pageviews": [0] * len(labels), "visitors": [0] * len(labels)}
            ),
            "lists": {
                name: by_site.get(s, {"rows": [], "total_rows": 0})
                for name, by_site in lists.items()
            },
        }

    totals_now = _sum_topline([current.get(s, empty) for s in sites])
    totals_before = _sum_topline([previous.get(s, empty) for s in sites])
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": days,
        "previous_start": prev_start.isoformat(),
        "previous_end": prev_end.isoformat(),
        "site_filter": site,
        "series_unit": unit,
        "series_labels": labels,
        "sites": per_site,
        "total": {**totals_now, "previous": totals_before},
    }


def _sum_topline(rows: list[dict]) -> dict[str, Any]:
    sessions = sum(r["sessions"] for r in rows)
    duration_total = sum((r["visit_duration"] or 0) * r["sessions"] for r in rows)
    return _topline_values(
        sum(r["visitors"] for r in rows),
        sum(r["pageviews"] for r in rows),
        sessions,
        sum(r["bounces"] for r in rows),
        duration_total,
    )


# --------------------------------------------------------------------------- rendering

METRICS = (
    # key, label, formatter, change kind
    ("visitors", "Visitors (sum of daily)", format_count, "amount"),
    ("pageviews", "Page views", format_count, "amount"),
    ("sessions", "Sessions", format_count, "amount"),
    ("bounce_rate", "Bounce rate", format_percent, "rate_lower_better"),
    ("visit_duration", "Visit duration", format_duration, "amount"),
    ("views_per_session", "Views per session", format_ratio, "amount"),
)

# The one inline script: switches between the pre-rendered per-site sections.  Its hash goes
# into the Content Security Policy, so a script smuggled in through data could not run.
SITE_SWITCH_JS = """
(function () {
  var select = document.getElementById("site-select");
  var sections = document.querySelectorAll("section[data-site]");
  if (!select || !sections.length) { return; }
  function show(site) {
    var found = false;
    for (var i = 0; i < sections.length; i++) {
      var on = sections[i].getAttribute("data-site") === site;
      sections[i].hidden = !on;
      found = found || on;
    }
    if (!found) {
      sections[0].hidden = false;
      site = sections[0].getAttribute("data-site");
    }
    select.value = site;
  }
  function fromHash() {
    var match = /^#site=(.*)$/.exec(window.location.hash);
    if (!match) { return null; }
    try { return decodeURIComponent(match[1]); } catch (e) { return null; }
  }
  select.addEventListener("change", function () {
    show(select.value);
    window.location.hash = "site=" + encodeURIComponent(select.value);
  });
  window.addEventListener("hashchange", function () { show(fromHash() || select.value); });
  show(fromHash() || select.value);
})();
""".strip()


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(SITE_SWITCH_JS.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def _nice_step(top: float, ticks: int = 4) -> int:
    raw = max(top, 1) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = m * magnitude
        if step >= raw:
            return max(1, int(math.ceil(step)))
    return int(10 * magnitude)  # pragma: no cover


def _short_label(label: str, unit: str) -> str:
    if unit == "hour":
        return label
    return dt.date.fromisoformat(label).strftime("%b %-d")


def render_line_chart(
    labels: list[str],
    series: dict[str, list[int]],
    unit: str,
    width: int,
    height: int,
    max_labels: int,
) -> Markup:
    """Page views (solid line, round points) and visitors (dashed, square points) in SVG.

    Line style and point shape, not just colour, tell the two series apart.
    """
    left, right, top, bottom = 52, 14, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)
    peak = max([0, *series["pageviews"], *series["visitors"]])
    step = _nice_step(peak)
    y_max = max(step, math.ceil(peak / step) * step)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" class="chart-svg" '
        f'aria-label="Visitors and page views per {unit}" preserveAspectRatio="xMidYMid meet">'
    ]
    for tick in range(0, y_max + 1, step):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(format_count(tick))}</text>"
        )
    every = max(1, math.ceil(n / max_labels))
    for i in range(0, n, every):
        # the right-most label would run off the edge if centred on its point
        anchor = "end" if n > 1 and x(i) > width - right - 20 else "middle"
        parts.append(
            f'<text class="axis" x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">'
            f"{escape(_short_label(labels[i], unit))}</text>"
        )
    show_points = n <= 62
    for name, css in (("visitors", "visitors"), ("pageviews", "pageviews")):
        values = series[name]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="line {css}" points="{points}"/>')
        if not show_points:
            continue
        for i, v in enumerate(values):
            title = f"{labels[i]}: {v:,} {'page views' if name == 'pageviews' else 'visitors'}"
            if name == "pageviews":
                shape = f'<circle class="pt {css}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5">'
                end = "</circle>"
            else:
                shape = f'<rect class="pt {css}" x="{x(i) - 3:.1f}" y="{y(v) - 3:.1f}" width="6" height="6">'
                end = "</rect>"
            parts.append(f"{shape}<title>{escape(title)}</title>{end}")
    parts.append("</svg>")
    return Markup("".join(parts))


def _template() -> jinja2.Template:
    source = TEMPLATE_FILE.read_text("utf-8")
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        count=format_count,
        duration=format_duration,
        percent=format_percent,
        ratio=format_ratio,
        bytes=format_bytes,
        rawnum=_raw_number,
    )
    return env.from_string(source)


def _raw_number(value: float | int | None) -> str:
    """The exact value for data-value attributes; repr round-trips floats."""
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


def _view(
    numbers: dict[str, Any], bytes_read: int, files_read: int, generated: dt.datetime
) -> dict:
    sections = []
    for site, data in numbers["sites"].items():
        cards = []
        for key, label, fmt, kind in METRICS:
            cards.append(
                {
                    "key": key,
                    "label": label,
                    "value": data[key],
                    "text": fmt(data[key]),
                    "previous_text": fmt(data["previous"][key]),
                    "change": compute_change(data[key], data["previous"][key], kind),
                }
            )
        charts = {
            "wide": render_line_chart(
                numbers["series_labels"], data["series"], numbers["series_unit"], 960, 300, 12
            ),
            "narrow": render_line_chart(
                numbers["series_labels"], data["series"], numbers["series_unit"], 360, 240, 4
            ),
        }
        lists = {name: _list_view(name, data["lists"][name]) for name in data["lists"]}
        sections.append(
            {
                "site": site,
                "data": data,
                "cards": cards,
                "charts": charts,
                "lists": lists,
                "has_traffic": bool(
                    data["pageviews"] or data["bot_hits"] or sum(data["series"]["pageviews"])
                ),
            }
        )
    rows = list(zip(numbers["series_labels"], range(len(numbers["series_labels"])), strict=True))
    return {
        "n": numbers,
        "sections": sections,
        "series_rows": rows,
        "bytes_read": bytes_read,
        "files_read": files_read,
        "generated": generated.strftime("%Y-%m-%d %H:%M UTC"),
        "csp": _csp(),
        "script": Markup(SITE_SWITCH_JS),
        "period_words": _period_words(numbers["days"]),
    }


_COUNT_COLUMNS = {
    "visitors": ("Visitors", format_count),
    "pageviews": ("Views", format_count),
    "sessions": ("Sessions", format_count),
    "entries": ("Entries", format_count),
    "exits": ("Exits", format_count),
    "events": ("Events", format_count),
    "hits": ("Hits", format_count),
    "bounce_rate": ("Bounce", format_percent),
}

# name -> (panel title, key heading, columns, bar measure, text when empty)
LIST_VIEWS: dict[str, tuple[str, str, tuple[str, ...], str, str]] = {
    "pages": (
        "Top pages",
        "Page",
        ("visitors", "pageviews", "entries", "exits"),
        "visitors",
        "No page views in this period.",
    ),
    "sources": (
        "Sources",
        "Source",
        ("visitors", "sessions", "bounce_rate"),
        "visitors",
        "No sessions in this period.",
    ),
    "campaigns": (
        "UTM campaigns",
        "Campaign",
        ("visitors", "sessions", "bounce_rate"),
        "visitors",
        "No visits tagged with utm_campaign in this period.",
    ),
    "countries": (
        "Countries",
        "Country",
        ("visitors", "pageviews"),
        "visitors",
        "No visitors in this period.",
    ),
    "devices": (
        "Devices",
        "Device",
        ("visitors", "pageviews"),
        "visitors",
        "No visitors in this period.",
    ),
    "browsers": (
        "Browsers",
        "Browser",
        ("visitors", "pageviews"),
        "visitors",
        "No visitors in this period.",
    ),
    "os": (
        "Operating systems",
        "OS",
        ("visitors", "pageviews"),
        "visitors",
        "No visitors in this period.",
    ),
    "events": (
        "Custom events",
        "Event",
        ("events", "visitors"),
        "events",
        "No custom events in this period.",
    ),
    "bots": ("Bots", "Bot (browser)", ("hits",), "hits", "No bot hits in this period."),
}


def _list_view(name: str, entry: dict) -> dict:
    title, key_heading, columns, bar_measure, empty_text = LIST_VIEWS[name]
    rows = entry["rows"]
    peak = max((r[bar_measure] for r in rows), default=0)
    view_rows = []
    for r in rows:
        values = dict(r)
        if "bounce_rate" in columns:
            values["bounce_rate"] = r["bounces"] / r["sessions"] if r["sessions"] else None
        view_rows.append(
            {
                "key": r["key"],
                "bar": round(100 * r[bar_measure] / peak, 1) if peak else 0,
                "cells": [
                    {"col": c, "value": values[c], "text": _COUNT_COLUMNS[c][1](values[c])}
                    for c in columns
                ],
            }
        )
    return {
        "name": name,
        "title": title,
        "key_heading": key_heading,
        "headings": [(c, _COUNT_COLUMNS[c][0]) for c in columns],
        "rows": view_rows,
        "more": entry["total_rows"] - len(rows),
        "empty_text": empty_text,
    }


def _period_words(days: int) -> str:
    return "previous day" if days == 1 else f"previous {days} days"


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def summary_markdown(numbers: dict[str, Any], bytes_read: int) -> str:
    """The table shown in Dagster's metadata panel: one row per site and a total."""
    lines = [
        f"**Traffic {numbers['start']} to {numbers['end']}** ({numbers['days']} days, "
        f"compared with {numbers['previous_start']} to {numbers['previous_end']}; "
        f"{format_bytes(bytes_read)} of summary tables read)",
        "",
        "| site | visitors (sum of daily) | page views | sessions | bounce rate | visit duration "
        "| views per session | bot share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = list(numbers["sites"].items())
    if len(rows) != 1:
        total = numbers["total"]
        bot_hits = sum(d["bot_hits"] for d in numbers["sites"].values())
        seen = bot_hits + total["pageviews"]
        rows.append(("**all sites**", {**total, "bot_share": bot_hits / seen if seen else None}))
    for site, d in rows:
        lines.append(
            f"| {_markdown_cell(site)} | {format_count(d['visitors'])} | {format_count(d['pageviews'])} "
            f"| {format_count(d['sessions'])} | {format_percent(d['bounce_rate'])} "
            f"| {format_duration(d['visit_duration'])} | {format_ratio(d['views_per_session'])} "
            f"| {format_percent(d['bot_share'])} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportResult:
    html: str
    bytes_read: int
    files_read: int
    summary: str  # Markdown
    numbers: dict[str, Any]

    def one_line(self) -> str:
        t = self.numbers["total"]
        n_sites = len(self.numbers["sites"])
        return (
            f"{self.numbers['start']} to {self.numbers['end']}: {n_sites} site"
            f"{'' if n_sites == 1 else 's'}, {format_count(t['pageviews'])} page views, "
            f"{format_count(t['visitors'])} visitors (sum of daily), "
            f"{format_bytes(self.bytes_read)} read from {self.files_read} summary files"
        )


def build_report(
    source: Path | Engine, start: dt.date, end: dt.date, site: str | None = None
) -> ReportResult:
    """Read the summary tables for [start, end] and the previous period, from a local
    warehouse folder or through an engine (any backend); render the HTML."""
    if end < start:
        raise ReportError(
            f"--end {end} is before --start {start}; give an end on or after the start"
        )
    days = (end - start).days + 1
    first = start - dt.timedelta(days=days)
    wh = (load_warehouse(Path(source), first, end, site) if isinstance(source, str | Path)
          else load_from_engine(source, first, end, site))
    try:
        numbers = compute_numbers(wh, start, end, site)
    finally:
        wh.con.close()
    bytes_read = wh.bytes_read
    view = _view(numbers, bytes_read, wh.files_read, dt.datetime.now(dt.UTC))
    html = _template().render(**view)
    return ReportResult(
        html, bytes_read, wh.files_read, summary_markdown(numbers, bytes_read), numbers
    )


def save_report(result: ReportResult, out: Path) -> Path:
    """Atomic write: a reader (a browser, an S3 sync) never sees half a report."""
    out = Path(out)
    if out.is_dir():
        raise ReportError(
            f"{out} is a directory; give a file name such as {out / DEFAULT_REPORT_NAME}"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as e:
        raise ReportError(
            f"cannot write the report to {out}: {e.strerror or e}; pick another --out"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(result.html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def report_through_engine(settings: Settings, start: dt.date, end: dt.date,
                          site: str | None = None) -> ReportResult:
    """`build_report` reading the configured backend's tables."""
    from orchestration.backends import make_engine

    with make_engine(settings) as engine:
        return build_report(engine, start, end, site)


def default_report_path(settings: Settings) -> Path:
    return settings.home / DEFAULT_REPORT_NAME


def write_report(
    settings: Settings,
    start: dt.date,
    end: dt.date,
    site: str | None = None,
    out: Path | str | None = None,
) -> Path:
    """Build the report through the configured engine and write it (default
    $EDGESTATS_HOME/report.html)."""
    result = report_through_engine(settings, start, end, site)
    return save_report(result, Path(out) if out else default_report_path(settings))


def run_cli(args, settings: Settings) -> int:
    """`edgestats report --start D1 --end D2 [--site S] [--out FILE]`."""
    if args.end < args.start:
        raise ReportError(
            f"--end {args.end} is before --start {args.start}; give an end on or after the start"
        )
    if args.out and re.match(r"^[a-z][a-z0-9+.-]*://", args.out):
        raise ReportError(
            f"--out {args.out}: the report is written to a local file; copy it to S3 afterwards "
            "(aws s3 cp report.html s3://bucket/key)"
        )
    site = args.site.strip().lower() if args.site else None
    result = report_through_engine(settings, args.start, args.end, site)
    path = save_report(
        result, Path(args.out).expanduser() if args.out else default_report_path(settings)
    )
    print(path)
    print(result.one_line(), file=sys.stdout)
    return 0
