"""The warehouse engine: one interface, three backends (design.md, "Backends").

Assets never talk to DuckDB, Athena, Glue or S3 directly; they talk to an `Engine`.
They render the pipeline's SQL themselves (`orchestration.statements`, Athena/Trino
dialect, from `orchestration/sql/*.sql`) and hand finished statements over, so a
backend holds no pipeline logic, only storage mechanics:

- `local` (default, `orchestration/backends/local.py`): DuckDB in-process, folders
  under `$EDGESTATS_HOME`; statements are transpiled by sqlglot to DuckDB.
- `athena` and `trino` (`orchestration/backends/athena.py`, `trino.py`, sharing
  `catalog.py`): statements run as they are through pyathena or the Trino client; the
  landing zone and warehouse are S3 prefixes, tables live in Glue.  The factory,
  `orchestration.backends.make_engine`, sits beside them.

Tables every backend exposes under these names (columns: `orchestration.tables`):

- `raw_events`: the landing zone, one JSON line per event, columns from
  `edge.schema.FIELDS`, partition column `dt` = the landing folder's date (the day
  Firehose received the record, not the event's day).  Malformed lines read as rows
  whose required columns are NULL (Athena's `ignore.malformed.json`), never as errors.
- `events` and the eight summary tables: Parquet, partition column `dt`
  (string `YYYY-MM-DD`, the UTC day of `event_time`), not stored inside the files.

Rules a backend must keep:

- Idempotent writes: `replace_partitions(table, days, sql)` replaces exactly the
  partitions in `days` (all of them, also days for which `sql` yields no rows) and
  nothing else, writing aside first and swapping in, so readers never see half a day.
- Two writers of the same (table, day) never interleave (local: a file lock per day).
- At most `MAX_PARTITIONS_PER_STATEMENT` days per statement (Athena's INSERT limit);
  callers split longer ranges with `DayRange.chunks`.
- Only validated dates and identifiers reach SQL; backends get finished statements
  and must not interpolate anything else into them.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from edge.schema import COLUMNS

MAX_PARTITIONS_PER_STATEMENT = 100  # Athena: an INSERT INTO may write at most 100 partitions

# Glue runs one crawl of a crawler at a time: the asset that may start the raw partitions'
# crawler belongs to this Dagster pool, whose limit must be 1 (the instance's
# `concurrency: pools:`; the catalog backends also wait for a crawl already running).
CRAWLER_POOL = "glue_crawler"

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits, nothing around them


def parse_day(text: str) -> dt.date:
    """A strict `YYYY-MM-DD`; the only shape of date allowed into SQL."""
    if isinstance(text, str) and _ISO_DAY.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:  # 2026-02-30: the same clear message, not "day is out of range"
            pass
    raise ValueError(f"{text!r} is not a date in YYYY-MM-DD form")


def first_line_problem(line: bytes) -> str | None:
    """Why a landing object's first line is not a canonical event, or None."""
    if not line.strip():
        return "empty"
    try:
        doc = json.loads(line)
    except ValueError:
        return "first line is not JSON"
    if not isinstance(doc, dict):
        return "first line is not a JSON object"
    missing = [c for c in COLUMNS if c not in doc]
    extra = sorted(set(doc) - set(COLUMNS))
    parts = []
    if missing:
        parts.append(f"missing columns {missing}")
    if extra:
        parts.append(f"unknown columns {extra}")
    return "; ".join(parts) or None


@dataclass(frozen=True)
class DayRange:
    """An inclusive range of UTC days, the unit every statement and write works on."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if not isinstance(self.start, dt.date) or not isinstance(self.end, dt.date):
            raise TypeError("DayRange takes datetime.date values")
        if self.end < self.start:
            raise ValueError(f"range end {self.end} is before its start {self.start}")

    @classmethod
    def of(cls, start: str | dt.date, end: str | dt.date | None = None) -> DayRange:
        s = parse_day(start) if isinstance(start, str) else start
        e = s if end is None else (parse_day(end) if isinstance(end, str) else end)
        return cls(s, e)

    def __len__(self) -> int:
        return (self.end - self.start).days + 1

    def __iter__(self) -> Iterator[dt.date]:
        for i in range(len(self)):
            yield self.start + dt.timedelta(days=i)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    @property
    def keys(self) -> list[str]:
        """The days as partition keys (`YYYY-MM-DD`)."""
        return [d.isoformat() for d in self]

    def extend(self, days_after: int) -> DayRange:
        """The same start, `days_after` more days at the end (landing folders of late events)."""
        return DayRange(self.start, self.end + dt.timedelta(days=days_after))

    def chunks(self, size: int = MAX_PARTITIONS_PER_STATEMENT) -> list[DayRange]:
        if size < 1:
            raise ValueError("chunk size must be positive")
        out, s = [], self.start
        while s <= self.end:
            e = min(self.end, s + dt.timedelta(days=size - 1))
            out.append(DayRange(s, e))
            s = e + dt.timedelta(days=1)
        return out

    def __str__(self) -> str:
        return self.start.isoformat() if self.start == self.end else f"{self.start}..{self.end}"


@dataclass
class RawFolder:
    """What the crawl found in one landing folder `events/dt=<day>/`."""

    day: str
    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)  # one line each, no event content


@dataclass
class RawRegistration:
    """Result of registering landing folders as `raw_events` partitions."""

    folders: list[RawFolder]

    @property
    def files(self) -> int:
        return sum(f.files for f in self.folders)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.folders)

    @property
    def problems(self) -> list[str]:
        return [p for f in self.folders for p in f.problems]


@dataclass
class RawScan:
    """What reading the landing zone cost and found; None where a backend cannot tell."""

    files_read: int | None = None
    bytes_read: int | None = None
    truncated_files: list[str] = field(default_factory=list)  # salvaged up to the damage
    unreadable_files: list[str] = field(default_factory=list)  # nothing salvageable


LANDING_AREAS = ("events", "errors")  # Firehose output and Firehose failures (DESIGN 5)


@dataclass(frozen=True)
class LandingObject:
    """One object of the landing zone as a listing shows it (never read)."""

    key: str  # relative to the landing root: events/dt=D/<name> or errors/<type>/dt=D/<name>
    day: str  # the dt=D folder it is in
    bytes: int


@dataclass
class WriteResult:
    """Result of `replace_partitions`."""

    table: str
    rows_by_day: dict[str, int]
    bytes_written: int
    bytes_scanned: int | None = None  # what the engine reports it read, where it can
    seconds: float = 0.0
    # where the engine reports them (Athena): its query ids, its own execution time, and
    # the scan cost at list price; None/empty for the local backend
    query_ids: list[str] = field(default_factory=list)
    engine_seconds: float | None = None
    cost_usd: float | None = None

    @property
    def rows(self) -> int:
        return sum(self.rows_by_day.values())


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    # what the engine reports about the statement, where it can (Athena)
    query_id: str | None = None
    bytes_scanned: int | None = None
    engine_seconds: float | None = None
    cost_usd: float | None = None

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def to_markdown(self, limit: int | None = None) -> str:
        """A Markdown table (Dagster metadata and the `sql` command both show it)."""
        from tabulate import tabulate

        rows = self.rows if limit is None else self.rows[:limit]
        return tabulate(rows, headers=self.columns, tablefmt="github", floatfmt=".4g",
                        missingval="NULL")


class Engine(abc.ABC):
    """What the assets need from a warehouse; see the module docstring for the rules."""

    name: str = "engine"

    @abc.abstractmethod
    def register_raw_partitions(self, folders: DayRange) -> RawRegistration:
        """Make landing folders `folders` queryable as `raw_events` partitions.

        The crawl: list the objects of each folder, check they look like event files
        (local: gzip, first line's columns against `edge.schema`), register the
        partition.  Must not read whole files; a bad file is reported, never fatal.
        """

    @contextmanager
    def raw_scan(self, folders: DayRange,
                 columns: tuple[str, ...] | None = None) -> Iterator[RawScan]:
        """Within the block, every statement over `raw_events` partitions `folders`
        shares one read of the landing zone (local: a staged Parquet copy per folder,
        kept for later blocks while the folder's listing is unchanged; a truncated gzip
        is salvaged up to its damage).  `columns`: the event columns those statements
        read, when not all (a backend may then read only these, plus `dt` and `object_path`).
        Athena reads S3 per query, so by default this does nothing and reports nothing.
        """
        yield RawScan()

    @abc.abstractmethod
    def replace_partitions(self, table: str, days: DayRange, sql: str) -> WriteResult:
        """Run `sql` (a SELECT, Athena dialect, columns of `table` then `dt`) and make its
        rows the whole content of `table` for `days`; a day without rows becomes empty.
        """

    @abc.abstractmethod
    def query(self, sql: str) -> QueryResult:
        """Run one read-only statement (Athena dialect) and return its rows."""

    @abc.abstractmethod
    def stored_bytes(self, table: str, days: DayRange) -> int:
        """Bytes stored in `table`'s partitions `days` (0 for missing ones)."""

    @abc.abstractmethod
    def landing_objects(self, area: str, days: DayRange) -> list[LandingObject]:
        """List (never read) the landing objects of `days`: area "events" lists
        `events/dt=D/`, area "errors" lists `errors/<error-type>/dt=D/` of every type.
        Objects whose name starts with `.` or `_` are not data and are left out."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
