"""The `local` backend: DuckDB in-process over folders (DESIGN 5 and 7).

- `raw_events` covers the landing folders registered by the crawl
  (`<home>/catalog/raw_events.json`); malformed lines read as NULL rows, exactly like
  Athena's JSON SerDe with `ignore.malformed.json`.  Inside `raw_scan` each folder is
  read once (`landing_reader`: pyarrow's strict JSON reader) into a staged Parquet copy
  that the events asset and the raw quality checks share; outside it, DuckDB's JSON
  reader reads the objects.
- `events` and the summaries are Parquet under `<warehouse>/<table>/dt=<day>/`, read
  through views with hive partitioning (`dt` is a string, as in Glue).
- Statements arrive in Athena dialect and are transpiled by sqlglot.
- A write goes to `<warehouse>/.staging/`, then each day's folder is exchanged with the
  old one in one step (Linux `renameat2`), under a per-(table, day) file lock; the old
  one stays aside for a while, and a query that loses a file to a swap reads again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from filelock import FileLock

from edge.config import Settings
from orchestration.backends import landing_reader
from orchestration.engine import (
    LANDING_AREAS,
    DayRange,
    Engine,
    LandingObject,
    QueryResult,
    RawFolder,
    RawRegistration,
    RawScan,
    WriteResult,
    first_line_problem,
)
from orchestration.tables import (
    DUCKDB_TYPES,
    PARTITION_COLUMN,
    RAW_EVENT_COLUMNS,
    WAREHOUSE_TABLES,
)

LOCK_TIMEOUT_S = 600
_SNIFF_BYTES = 4096  # read a gzip object in small steps until its first line is out
PATH_COLUMN = landing_reader.PATH_COLUMN
STAGE_KEEP_S = 2 * 3600  # a landing folder's staged copy unused this long is deleted
STAGE_REPLACED_KEEP_S = 600  # an outdated copy may still be read by a running block
REPLACED_KEEP_S = 600  # a replaced day of a warehouse table, for queries already running
QUERY_ATTEMPTS = 3  # a query that lost a file to a concurrent swap lists the files again
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
except OSError:  # pragma: no cover - no C library to load: two renames instead
    _LIBC = None


@lru_cache(maxsize=256)
def to_duckdb(sql: str) -> str:
    """Athena (Trino) SQL -> DuckDB SQL."""
    out = sqlglot.transpile(sql, read="athena", write="duckdb")
    if len(out) != 1:
        raise ValueError("expected exactly one SQL statement")
    return out[0]


@lru_cache(maxsize=256)
def tables_named(sql: str) -> frozenset[str]:
    """The table names a (DuckDB) statement reads, so only their views are set up."""
    return frozenset(t.name for t in sqlglot.parse_one(sql, read="duckdb").find_all(
        sqlglot.exp.Table) if t.name)


def _sql_string(text: str) -> str:
    """A DuckDB string literal for a path we built ourselves."""
    return "'" + str(text).replace("'", "''") + "'"


def _columns_struct(columns) -> str:
    return "{" + ", ".join(f"'{n}': '{DUCKDB_TYPES[t]}'" for n, t in columns) + "}"


# What `json_type` calls a JSON value of each column type (integers: UBIGINT or BIGINT).
_JSON_TYPES = {"int": "'UBIGINT', 'BIGINT'", "bigint": "'UBIGINT', 'BIGINT'",
               "string": "'VARCHAR'", "boolean": "'BOOLEAN'"}


def _typed_values(columns) -> str:
    """Each column from its JSON value, NULL when the value has another JSON type.

    A typed read_json would coerce: `"site": {"a": 1}` becomes the string '{"a":1}',
    `"is_bot": "yes"` becomes true, `"visitor_id": 7` becomes '7'.  Such lines break
    the event schema and must count as malformed (a required column is NULL), not
    reach the summaries.
    """
    out = []
    for n, t in columns:
        # TRY_CAST: an integer the column cannot hold (2**40 in an INTEGER) is NULL, a
        # malformed line when the field is required, never an error for the whole read.
        value = f"({n} ->> '$')" if t == "string" else f"TRY_CAST({n} AS {DUCKDB_TYPES[t]})"
        out.append(f"CASE WHEN json_type({n}) IN ({_JSON_TYPES[t]}) THEN {value} END AS {n}")
    return ", ".join(out)


def _empty_select(columns) -> str:
    """A typed SELECT with no rows, for tables that have no files yet."""
    cols = [f"CAST(NULL AS {DUCKDB_TYPES[t]}) AS {n}" for n, t in columns]
    cols.append(f"CAST(NULL AS VARCHAR) AS {PARTITION_COLUMN}")
    return f"SELECT {', '.join(cols)} WHERE false"


def _remove_if_older(path: Path, seconds: float) -> None:
    try:
        if time.time() - path.stat().st_mtime > seconds:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
    except FileNotFoundError:
        pass


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`, which the standard
    library does not expose); False where the system cannot."""
    rename = getattr(_LIBC, "renameat2", None) if _LIBC is not None else None
    if rename is None:
        return False
    if rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # e.g. a file system without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def _listing_key(files: list[Path]) -> str:
    """A landing folder's listing (names, sizes, mtimes) as a short hash."""
    listing = "\n".join(f"{f.name}\t{st.st_size}\t{st.st_mtime_ns}"
                        for f, st in ((f, f.stat()) for f in files))
    return hashlib.sha256(listing.encode()).hexdigest()[:24]


def _first_line(path: Path) -> bytes:
    """The first line of a gzip object without inflating the whole thing."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with open(path, "rb") as f:
        out = b""
        while b"\n" not in out:
            chunk = f.read(_SNIFF_BYTES)
            if not chunk:
                out += d.flush()
                break
            out += d.decompress(chunk)
            if len(out) > 4 * 1024 * 1024:
                break
    return out.split(b"\n", 1)[0]


class LocalEngine(Engine):
    name = "local"

    def __init__(self, settings: Settings, memory_limit: str = "1GB", threads: int | None = None):
        self.settings = settings
        self.landing = settings.landing
        self.warehouse = settings.warehouse
        self.catalog_file = settings.home / "catalog" / "raw_events.json"
        self.lock_dir = settings.home / "locks"
        self.tmp_root = settings.home / "tmp"
        self.stage_root = self.tmp_root / "raw-stage"
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        self.threads = threads or os.cpu_count() or 1
        self.con = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "temp_directory": str(self.tmp_root / "duckdb"),
                **({"threads": threads} if threads else {}),
            }
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self._raw_scoped = False
        self._views: set[str] = set()  # views set up on this connection, made on first use

    # ------------------------------------------------------------------ catalog

    def _catalog(self) -> dict:
        if not self.catalog_file.exists():
            return {"partitions": {}}
        return json.loads(self.catalog_file.read_text())

    def _save_catalog(self, catalog: dict) -> None:
        self.catalog_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.catalog_file.with_name(f".{self.catalog_file.name}.{uuid.uuid4().hex}")
        tmp.write_text(json.dumps(catalog, indent=1, sort_keys=True))
        os.replace(tmp, self.catalog_file)

    def _landing_folder(self, day: str) -> Path:
        return self.landing / "events" / f"dt={day}"

    def register_raw_partitions(self, folders: DayRange) -> RawRegistration:
        found = []
        with FileLock(str(self.catalog_file) + ".lock", timeout=LOCK_TIMEOUT_S):
            catalog = self._catalog()
            for day in folders.keys:
                folder = self._landing_folder(day)
                info = RawFolder(day=day)
                files = sorted(folder.glob("*.gz")) if folder.is_dir() else []
                for f in files:
                    info.files += 1
                    info.bytes += f.stat().st_size
                    problem = self._sniff(f)
                    if problem:
                        info.problems.append(f"{f.name}: {problem}")
                if files:
                    catalog["partitions"][day] = {"files": info.files, "bytes": info.bytes}
                else:
                    catalog["partitions"].pop(day, None)
                found.append(info)
            self._save_catalog(catalog)
        return RawRegistration(found)

    @staticmethod
    def _sniff(path: Path) -> str | None:
        """Why this object does not look like an event file, or None."""
        try:
            line = _first_line(path)
        except zlib.error:
            return "not a gzip object"
        except OSError as e:
            return f"unreadable ({e.strerror or type(e).__name__})"
        return first_line_problem(line)

    def _raw_files(self, folders: DayRange) -> list[Path]:
        registered = self._catalog()["partitions"]
        files: list[Path] = []
        for day in folders.keys:
            if day in registered:
                files.extend(sorted(self._landing_folder(day).glob("*.gz")))
        return files

    @staticmethod
    def _read_json(sources: list[Path], columns: tuple[str, ...] | None = None) -> str:
        """DuckDB's NDJSON reader over files or globs, typed from `edge.schema`, with each
        row's file as `object_path` (Athena's hidden `"$path"`, as the raw_events view names
        it: the quality checks read the Firehose arrival time from the object name)."""
        read = [c for c in RAW_EVENT_COLUMNS if columns is None or c[0] in columns]
        if not sources:
            return (f"SELECT *, CAST(NULL AS VARCHAR) AS {PATH_COLUMN} "  # noqa: S608 - constants
                    f"FROM ({_empty_select(read)})")
        listing = ", ".join(_sql_string(f) for f in sources)
        raw = "{" + ", ".join(f"'{n}': 'JSON'" for n, _ in read) + "}"
        return (
            f"SELECT {_typed_values(read)}, {PARTITION_COLUMN}, "  # noqa: S608 - our own quoted paths
            f"filename AS {PATH_COLUMN} "
            f"FROM read_json([{listing}], format = 'newline_delimited', "
            f"columns = {raw}, ignore_errors = true, filename = true, "
            "hive_partitioning = true, hive_types = {'dt': 'VARCHAR'}, "
            "maximum_object_size = 16777216)"
        )

    def _raw_view(self) -> str:
        """`raw_events` over every registered folder (DuckDB prunes by `dt` filters)."""
        globs = []
        for day in sorted(self._catalog()["partitions"]):
            folder = self._landing_folder(day)
            if any(folder.glob("*.gz")):
                globs.append(folder / "*.gz")
        return self._read_json(globs)

    @contextmanager
    def raw_scan(self, folders: DayRange,
                 columns: tuple[str, ...] | None = None) -> Iterator[RawScan]:
        """`raw_events` over one staged Parquet copy per landing folder for the block.

        A folder is read from its gzip objects once, all columns (`landing_reader`),
        into `<home>/tmp/raw-stage/dt=<day>/<listing hash>/`; every later block over that
        folder (the events asset, the raw quality checks, the next backfill chunk's folder
        D+1) reads the Parquet instead, as long as the folder's listing (names, sizes,
        mtimes) is unchanged.  Extracting the JSON columns is most
        of a scan's cost, so doing it once beats a narrower read per consumer (`columns`
        is therefore not needed here).  Stages unused for `STAGE_KEEP_S` go.
        """
        self._forget_old_stages()
        registered = self._catalog()["partitions"]
        scan = RawScan(files_read=0, bytes_read=0)
        wanted: dict[str, list[Path]] = {}
        for day in folders.keys:
            files = sorted(self._landing_folder(day).glob("*.gz")) if day in registered else []
            if files:
                wanted[day] = files
                scan.files_read += len(files)
                scan.bytes_read += sum(f.stat().st_size for f in files)
        staged = self._staged_folders(wanted)
        for day in wanted:
            scan.truncated_files += staged[day][1]["truncated_files"]
            scan.unreadable_files += staged[day][1]["unreadable_files"]
        if staged:
            listing = ", ".join(_sql_string(staged[d][0] / "*.parquet") for d in wanted)
            names = ", ".join([n for n, _ in RAW_EVENT_COLUMNS] + [PARTITION_COLUMN, PATH_COLUMN])
            body = (f"SELECT {names} FROM read_parquet([{listing}], "  # noqa: S608 - our own paths
                    "hive_partitioning = false)")  # dt is a column; the path would make it a DATE
        else:
            body = self._read_json([])
        self.con.execute(f"CREATE OR REPLACE VIEW raw_events AS {body}")
        self._raw_scoped = True
        self._views.add("raw_events")
        try:
            yield scan
        finally:
            self._raw_scoped = False
            self._views.discard("raw_events")

    def _staged_folders(self, wanted: dict[str, list[Path]]) -> dict[str, tuple[Path, dict]]:
        """Each landing folder's staged copy (a folder of Parquet) and what staging found;
        the folders without a copy of their current listing are staged now, together
        (their pieces share one thread pool), written aside and renamed in under a
        per-folder lock."""
        keys = {day: _listing_key(files) for day, files in wanted.items()}
        out: dict[str, tuple[Path, dict]] = {}

        def done(day: str) -> bool:
            manifest = self.stage_root / f"dt={day}" / f"{keys[day]}.json"
            if not manifest.exists():
                return False
            os.utime(manifest)  # in use: keep it
            out[day] = (manifest.with_suffix(""), json.loads(manifest.read_text()))
            return True

        missing = [day for day in wanted if not done(day)]
        if not missing:
            return out
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            for day in missing:  # date order, so two stagers cannot deadlock
                stack.enter_context(FileLock(str(self.lock_dir / f"raw-stage-{day}.lock"),
                                             timeout=LOCK_TIMEOUT_S))
            todo = [day for day in missing if not done(day)]
            if todo:
                self._stage({day: wanted[day] for day in todo}, keys)
            for day in missing:
                done(day)
        return out

    def _stage(self, wanted: dict[str, list[Path]], keys: dict[str, str]) -> None:
        """Read the folders' objects in pieces of ~4 MB (`landing_reader`), one Parquet
        part per piece, pieces spread over `self.threads` threads (pyarrow's parser and
        ISA-L's inflate run outside the GIL); then swap each folder's copy in."""
        work = Path(tempfile.mkdtemp(prefix="raw-scan-", dir=self.tmp_root))
        tasks = [(day, n, piece) for day, files in wanted.items()
                 for n, piece in enumerate(landing_reader.pieces(files))]
        damaged: dict[str, dict[str, list[str]]] = {
            day: {"truncated_files": [], "unreadable_files": []} for day in wanted}

        def stage_piece(task: tuple[str, int, list[Path]]) -> tuple[str, list[Path], list[Path]]:
            day, n, files = task
            piece = landing_reader.read_piece(day, files)
            folder = work / f"dt={day}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(piece.table, folder / f"part-{n}.parquet", compression="zstd")
            return day, piece.truncated, piece.unreadable  # not the rows: they are on disk

        try:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="raw-stage") as pool:
                for day, truncated, unreadable in pool.map(stage_piece, tasks):
                    damaged[day]["truncated_files"] += [f"dt={day}/{f.name}" for f in truncated]
                    damaged[day]["unreadable_files"] += [f"dt={day}/{f.name}" for f in unreadable]
            pa.default_memory_pool().release_unused()
            for day, key in keys.items():
                if day not in wanted:
                    continue
                folder = self.stage_root / f"dt={day}"
                folder.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(folder / key, ignore_errors=True)  # a crashed stager's leftover
                os.replace(work / f"dt={day}", folder / key)
                tmp = folder / f".{key}.json.{uuid.uuid4().hex}"
                tmp.write_text(json.dumps(damaged[day]))
                os.replace(tmp, folder / f"{key}.json")  # last: it marks the copy complete
                self._forget_replaced(folder, key)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _forget_replaced(folder: Path, key: str) -> None:
        """Delete copies of older listings of a folder once unused for a while (a block
        that began before the restaging may still read one)."""
        for old in folder.iterdir():
            if old.name.startswith((key, ".")):
                continue
            if old.suffix == ".json":
                if time.time() - old.stat().st_mtime > STAGE_REPLACED_KEEP_S:
                    shutil.rmtree(old.with_suffix(""), ignore_errors=True)
                    old.unlink(missing_ok=True)
            elif not old.with_suffix(".json").exists():  # a crashed stager's leftover
                _remove_if_older(old, STAGE_REPLACED_KEEP_S)

    def _forget_old_stages(self) -> None:
        if not self.stage_root.is_dir():
            return
        for folder in self.stage_root.iterdir():
            manifests = list(folder.glob("*.json"))
            if manifests and all(time.time() - m.stat().st_mtime > STAGE_KEEP_S
                                 for m in manifests):
                shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------ warehouse

    def _table_dir(self, table: str) -> Path:
        if table not in WAREHOUSE_TABLES:
            raise ValueError(f"unknown warehouse table {table!r}")
        return self.warehouse / table

    def _prepare(self, duck_sql: str) -> None:
        """Create the views `duck_sql` reads that this connection has not set up yet."""
        for table in tables_named(duck_sql) - self._views:
            if table in WAREHOUSE_TABLES:
                folder = self._table_dir(table)
                if any(folder.glob("dt=????-??-??/*.parquet")):
                    # dt=YYYY-MM-DD folders only (not a writer's temporary folder); files
                    # by column name, so a column all NULL in one file still unions
                    body = (
                        f"SELECT * FROM read_parquet({_sql_string(folder / 'dt=????-??-??' / '*.parquet')}, "  # noqa: S608 - our own quoted path
                        "hive_partitioning = true, hive_types = {'dt': 'VARCHAR'}, "
                        "union_by_name = true)"
                    )
                else:
                    body = _empty_select(WAREHOUSE_TABLES[table])
            elif table == "raw_events":
                body = self._raw_view()
            else:
                continue
            self.con.execute(f"CREATE OR REPLACE VIEW {table} AS {body}")
            self._views.add(table)

    @contextmanager
    def _day_locks(self, table: str, days: DayRange) -> Iterator[None]:
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            for day in days.keys:  # always in date order, so two writers cannot deadlock
                lock = FileLock(str(self.lock_dir / f"{table}-{day}.lock"), timeout=LOCK_TIMEOUT_S)
                stack.enter_context(lock)
            yield

    def replace_partitions(self, table: str, days: DayRange, sql: str) -> WriteResult:
        """Write the statement's rows for `days` aside, one Parquet file per day in the
        statement's row order, then swap each day in.

        The statement's rows are materialised in order in a temporary table, then one
        plain COPY per day writes them out: a `PARTITION_BY` COPY interleaves its
        threads' sorted runs (at ~1M rows the same day came out in different bytes on
        each run), and re-runs must write the same files.  A one-day run goes the same
        way (~10% slower than copying the statement directly on a 1M-event day), so a
        day written by a range run and by a one-day run is the same file."""
        started = time.perf_counter()
        target = self._table_dir(table)
        staging_root = self.warehouse / ".staging"
        staging = staging_root / f"{table}-{uuid.uuid4().hex}"
        staging_root.mkdir(parents=True, exist_ok=True)
        query = to_duckdb(sql)
        self._prepare(query)
        query = self._typed(table, query)
        scratch = f"replace_{table}_{uuid.uuid4().hex[:12]}"
        with self._day_locks(table, days):
            try:
                self.con.execute(f"CREATE TEMP TABLE {scratch} AS {query}")
                self._refuse_strays(table, days, scratch)
                rows, size = {}, 0
                # a name of this write's own: a path never holds two versions' contents
                # (a reader that listed it earlier reads it whole, or finds it gone)
                part = f"part-{uuid.uuid4().hex[:16]}.parquet"
                for day in days.keys:
                    folder = staging / f"dt={day}"
                    folder.mkdir(parents=True)
                    self.con.execute(
                        f"COPY (SELECT * EXCLUDE ({PARTITION_COLUMN}) FROM {scratch} "  # noqa: S608 - validated day
                        f"WHERE {PARTITION_COLUMN} = '{day}') "
                        f"TO {_sql_string(folder / part)} (FORMAT parquet, COMPRESSION zstd)")
                    rows[day] = pq.read_metadata(folder / part).num_rows
                    size += (folder / part).stat().st_size
                target.mkdir(parents=True, exist_ok=True)
                for day in days.keys:
                    self._swap(staging / f"dt={day}", target / f"dt={day}")
            finally:
                self.con.execute(f"DROP TABLE IF EXISTS {scratch}")
                shutil.rmtree(staging, ignore_errors=True)
        self._views.discard(table)  # it may have had no files before
        return WriteResult(table=table, rows_by_day=rows, bytes_written=size,
                           seconds=time.perf_counter() - started)

    def _refuse_strays(self, table: str, days: DayRange, source: str) -> None:
        keys = ", ".join(f"'{d}'" for d in days.keys)
        stray = [r[0] for r in self.con.execute(
            f"SELECT DISTINCT {PARTITION_COLUMN} FROM {source} "  # noqa: S608 - validated days
            f"WHERE {PARTITION_COLUMN} IS NULL OR {PARTITION_COLUMN} NOT IN ({keys}) "
            "ORDER BY 1 LIMIT 5").fetchall()]
        if stray:
            raise ValueError(f"{table}: statement produced rows for days outside {days}: {stray}")

    def _typed(self, table: str, query: str) -> str:
        """The statement with its columns cast to the table's declared types, as Athena's
        INSERT INTO would coerce them (DuckDB's count_if is a HUGEINT, Parquet has none)."""
        columns = WAREHOUSE_TABLES[table]
        expected = [n for n, _ in columns] + [PARTITION_COLUMN]
        got = self.con.sql(query).columns
        if list(got) != expected:
            raise ValueError(f"{table}: the statement's columns {got} are not the table's "
                             f"{expected} (orchestration.tables)")
        casts = ", ".join(f"CAST({n} AS {DUCKDB_TYPES[t]}) AS {n}" for n, t in columns)
        return f"SELECT {casts}, {PARTITION_COLUMN} FROM ({query}) AS statement"  # noqa: S608

    @staticmethod
    def _swap(new: Path, final: Path) -> None:
        """Put the day's new folder in place in one step (Linux: `renameat2` exchanges the
        two folders; elsewhere two renames, with a moment between them without the day).
        The replaced version is kept aside for `REPLACED_KEEP_S`, so a query that listed
        its files just before can still read them; older ones go now."""
        for aside in final.parent.glob(f".{final.name}.old-*"):
            _remove_if_older(aside, REPLACED_KEEP_S)
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex}")
        if final.exists() and _exchange(new, final):
            os.replace(new, old)  # `new` now holds the replaced version
            return
        if final.exists():
            os.replace(final, old)
        os.replace(new, final)

    def query(self, sql: str) -> QueryResult:
        duck_sql = to_duckdb(sql)
        for attempt in range(1, QUERY_ATTEMPTS + 1):
            try:
                self._prepare(duck_sql)  # a view reads its files' schema when made
                rel = self.con.sql(duck_sql)
                if rel is None:
                    return QueryResult([], [])
                return QueryResult(list(rel.columns), rel.fetchall())
            except duckdb.IOException:
                if attempt == QUERY_ATTEMPTS:
                    raise
                # a day was replaced between listing its files and reading them: the
                # views list the files again, and the query reads the new version
                self._views -= set(WAREHOUSE_TABLES)
        raise AssertionError("unreachable")

    def stored_bytes(self, table: str, days: DayRange) -> int:
        folder = self._table_dir(table)
        return sum(
            f.stat().st_size for day in days.keys for f in (folder / f"dt={day}").glob("*.parquet")
        )

    def landing_objects(self, area: str, days: DayRange) -> list[LandingObject]:
        if area not in LANDING_AREAS:
            raise ValueError(f"unknown landing area {area!r}")
        found = []
        for day in days.keys:
            pattern = f"dt={day}/*" if area == "events" else f"*/dt={day}/*"
            for path in sorted((self.landing / area).glob(pattern)):
                if path.is_file() and not path.name.startswith((".", "_")):
                    found.append(LandingObject(key=path.relative_to(self.landing).as_posix(),
                                               day=day, bytes=path.stat().st_size))
        return found

    def close(self) -> None:
        self.con.close()
