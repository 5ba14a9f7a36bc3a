"""The local backend's storage mechanics: crawl, one read of the landing zone, swaps,
locks, salvage."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time

import pytest
from filelock import FileLock

from edge.config import Settings
from orchestration.backends.local import STAGE_KEEP_S, LocalEngine
from orchestration.engine import DayRange
from tests.orchestration import scenario

DAY = DayRange(scenario.D, scenario.D)


@pytest.fixture
def engine(tmp_path):
    eng = LocalEngine(Settings(home=tmp_path / "home"))
    yield eng
    eng.close()


def site_rows(day: str, *sites_and_views) -> str:
    rows = " UNION ALL ".join(f"SELECT '{s}' AS site, {v} AS hits, '{day}' AS dt"
                              for s, v in sites_and_views)
    return f"SELECT site, CAST(NULL AS varchar) AS browser, hits, dt FROM ({rows})"  # noqa: S608


def test_crawl_lists_folders_d_and_d_plus_1_and_reports_bad_objects(engine):
    scenario.land(engine.landing)
    reg = engine.register_raw_partitions(DAY.extend(1))
    assert [f.day for f in reg.folders] == ["2024-03-05", "2024-03-06"]
    assert [f.files for f in reg.folders] == [4, 1]
    assert reg.bytes == sum(p.stat().st_size for p in engine.landing.rglob("*.gz"))
    assert reg.problems == [
        "edgestats-1-2024-03-05-15-00-00-notgzip.gz: not a gzip object"
    ]
    catalog = json.loads(engine.catalog_file.read_text())
    assert set(catalog["partitions"]) == {"2024-03-05", "2024-03-06"}


def test_crawl_reports_foreign_columns_and_unregisters_empty_folders(engine):
    folder = engine.landing / "events" / "dt=2024-03-05"
    folder.mkdir(parents=True)
    (folder / "x.gz").write_bytes(gzip.compress(b'{"event_id": "a", "colour": "red"}\n'))
    reg = engine.register_raw_partitions(DAY)
    (problem,) = reg.problems
    assert problem.startswith("x.gz: missing columns ['schema_version'")
    assert "unknown columns ['colour']" in problem
    (folder / "x.gz").unlink()
    assert engine.register_raw_partitions(DAY).files == 0
    assert json.loads(engine.catalog_file.read_text())["partitions"] == {}


def test_raw_scan_salvages_a_truncated_object_and_skips_garbage(engine):
    scenario.land(engine.landing)
    engine.register_raw_partitions(DAY.extend(1))
    with engine.raw_scan(DAY.extend(1)) as scan:
        ids = {r[0] for r in engine.query("SELECT event_id FROM raw_events").rows}
    assert scan.truncated_files == ["dt=2024-03-05/edgestats-1-2024-03-05-14-00-00-truncated.gz"]
    assert scan.unreadable_files == ["dt=2024-03-05/edgestats-1-2024-03-05-15-00-00-notgzip.gz"]
    assert "v7-truncated" in ids and "v7-lost" not in ids
    assert scan.files_read == 5
    # afterwards nothing of the scan is left behind
    assert not [p for p in engine.tmp_root.iterdir() if p.name.startswith("raw-scan-")]


def _stage_files(engine) -> dict[str, tuple[int, int]]:
    """Staged copies: name -> (inode, mtime of the Parquet file)."""
    return {p.relative_to(engine.stage_root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in engine.stage_root.rglob("*.parquet")}


def test_a_landing_folder_is_read_once_and_later_scans_reuse_its_staged_copy(engine):
    scenario.land(engine.landing)
    engine.register_raw_partitions(DAY.extend(1))
    with engine.raw_scan(DAY.extend(1)) as first:
        rows = engine.query("SELECT * FROM raw_events ORDER BY event_id, dt").rows
    staged = _stage_files(engine)
    assert sorted(k.split("/")[0] for k in staged) == ["dt=2024-03-05", "dt=2024-03-06"]
    with engine.raw_scan(DAY.extend(1), ("event_id",)) as again:
        assert engine.query("SELECT * FROM raw_events ORDER BY event_id, dt").rows == rows
    assert _stage_files(engine) == staged  # the same files, not written again
    # the damage found while staging is reported by every scan of the copy
    assert (again.truncated_files, again.unreadable_files, again.files_read) == (
        first.truncated_files, first.unreadable_files, first.files_read)
    assert again.truncated_files == [
        "dt=2024-03-05/edgestats-1-2024-03-05-14-00-00-truncated.gz"]


def test_folders_staged_together_or_one_by_one_read_the_same(engine, tmp_path):
    scenario.land(engine.landing)
    engine.register_raw_partitions(DAY.extend(1))
    rows = ("SELECT * EXCLUDE (object_path), regexp_extract(object_path, '[^/]+$') AS object "
            "FROM raw_events ORDER BY ALL")  # the homes differ, the object names do not
    with engine.raw_scan(DAY.extend(1)):  # both folders in one statement
        together = engine.con.sql(rows).fetchall()
    other = LocalEngine(Settings(home=tmp_path / "other"))
    scenario.land(other.landing)
    other.register_raw_partitions(DAY.extend(1))
    for day in DAY.extend(1):
        with other.raw_scan(DayRange(day, day)):
            pass
    with other.raw_scan(DAY.extend(1)) as scan:
        assert other.con.sql(rows).fetchall() == together
    other.close()
    assert scan.truncated_files == ["dt=2024-03-05/edgestats-1-2024-03-05-14-00-00-truncated.gz"]
    assert len(together) > 10


def test_a_folder_of_unreadable_objects_stages_as_empty(engine):
    folder = engine.landing / "events" / "dt=2024-03-05"
    folder.mkdir(parents=True)
    (folder / "edgestats-1-2024-03-05-15-00-00-x.gz").write_bytes(b"not gzip\n")
    engine.register_raw_partitions(DAY)
    for _ in range(2):  # staged, then read from the copy
        with engine.raw_scan(DAY) as scan:
            assert engine.query("SELECT count(*) FROM raw_events").rows == [(0,)]
        assert scan.unreadable_files == ["dt=2024-03-05/edgestats-1-2024-03-05-15-00-00-x.gz"]


def test_a_new_landing_object_restages_its_folder_only(engine):
    scenario.land(engine.landing)
    engine.register_raw_partitions(DAY.extend(1))
    with engine.raw_scan(DAY.extend(1)):
        before = engine.query("SELECT count(*) FROM raw_events WHERE dt = '2024-03-06'").rows
    staged = _stage_files(engine)
    late = engine.landing / "events" / "dt=2024-03-06" / "edgestats-1-2024-03-06-23-00-00-late.gz"
    late.write_bytes(gzip.compress(scenario.encode(scenario.event(
        "late-1", scenario.t(scenario.D, "23:59:00.000"), "9")), mtime=0))
    with engine.raw_scan(DAY.extend(1)):
        ids = {r[0] for r in engine.query(
            "SELECT event_id FROM raw_events WHERE dt = '2024-03-06'").rows}
        after = engine.query("SELECT count(*) FROM raw_events WHERE dt = '2024-03-06'").rows
    assert "late-1" in ids and after[0][0] == before[0][0] + 1
    now = _stage_files(engine)
    kept = {k: v for k, v in staged.items() if k.startswith("dt=2024-03-05/")}
    assert {k: v for k, v in now.items() if k.startswith("dt=2024-03-05/")} == kept
    assert len([k for k in now if k.startswith("dt=2024-03-06/")]) == 2  # old one kept a while


def test_staged_copies_unused_for_hours_are_deleted(engine):
    scenario.land(engine.landing)
    engine.register_raw_partitions(DAY.extend(1))
    with engine.raw_scan(DAY):
        pass
    folder = engine.stage_root / "dt=2024-03-05"
    old = time.time() - STAGE_KEEP_S - 60
    for f in folder.iterdir():
        os.utime(f, (old, old))
    with engine.raw_scan(DayRange.of("2024-03-06")):
        pass
    assert not folder.exists()
    assert (engine.stage_root / "dt=2024-03-06").is_dir()


def test_replace_partitions_replaces_exactly_the_given_days(engine):
    two = DayRange.of("2024-03-05", "2024-03-06")
    engine.replace_partitions(
        "bot_daily", two,
        site_rows("2024-03-05", ("a.com", 1)) + " UNION ALL " + site_rows("2024-03-06", ("b.com", 2)),
    )
    result = engine.replace_partitions("bot_daily", DAY, site_rows("2024-03-05", ("c.com", 3)))
    assert result.rows_by_day == {"2024-03-05": 1}
    rows = engine.query("SELECT site, hits, dt FROM bot_daily ORDER BY dt").rows
    assert rows == [("c.com", 3, "2024-03-05"), ("b.com", 2, "2024-03-06")]
    assert engine.stored_bytes("bot_daily", two) == result.bytes_written + sum(
        p.stat().st_size for p in (engine.warehouse / "bot_daily" / "dt=2024-03-06").iterdir())


def test_a_reader_sees_the_old_day_or_the_new_one_never_a_gap(engine, tmp_path):
    """The day's folder is exchanged in one step; the replaced one stays aside for
    queries that listed it."""
    day = "2024-03-05"
    contents = [(("a.com", 1), ("b.com", 2)), (("c.com", 3),)]
    allowed = {tuple(sorted(c)) for c in contents}
    engine.replace_partitions("bot_daily", DAY, site_rows(day, *contents[0]))
    seen, errors, stop = [], [], threading.Event()

    def read() -> None:
        with LocalEngine(Settings(home=tmp_path / "home")) as reader:
            while not stop.is_set():
                reader._views.discard("bot_daily")  # list the files again each time
                try:
                    seen.append(tuple(sorted(reader.query(
                        "SELECT site, hits FROM bot_daily").rows)))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        n = 0
        while n < 40 or len(seen) < 200:  # until the reader has read across many swaps
            n += 1
            engine.replace_partitions("bot_daily", DAY, site_rows(day, *contents[n % 2]))
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert set(seen) <= allowed, set(seen) - allowed
    folder = engine.warehouse / "bot_daily"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [f"dt={day}"]
    assert len(list(folder.glob(f".dt={day}.old-*"))) == n  # each kept a while, then gone


def test_a_day_without_rows_becomes_an_empty_partition(engine):
    engine.replace_partitions("bot_daily", DAY, site_rows("2024-03-05", ("a.com", 1)))
    result = engine.replace_partitions("bot_daily", DAY, site_rows("2024-03-05", ("a.com", 1))
                                       + " WHERE false")
    assert result.rows_by_day == {"2024-03-05": 0}
    assert list((engine.warehouse / "bot_daily" / "dt=2024-03-05").glob("*.parquet"))
    assert engine.query("SELECT count(*) FROM bot_daily").rows == [(0,)]


def test_rows_outside_the_days_are_refused_and_nothing_changes(engine):
    engine.replace_partitions("bot_daily", DAY, site_rows("2024-03-05", ("a.com", 1)))
    with pytest.raises(ValueError, match="outside"):
        engine.replace_partitions("bot_daily", DAY, site_rows("2024-03-07", ("x.com", 9)))
    assert engine.query("SELECT site FROM bot_daily").rows == [("a.com",)]
    assert not list((engine.warehouse / ".staging").iterdir())


def test_statement_columns_must_be_the_tables(engine):
    with pytest.raises(ValueError, match="orchestration.tables"):
        engine.replace_partitions("bot_daily", DAY, "SELECT 'a' AS site, 1 AS hits, "
                                  "'2024-03-05' AS dt")


def test_two_writers_of_the_same_day_do_not_interleave(engine):
    engine.lock_dir.mkdir(parents=True, exist_ok=True)
    held = FileLock(str(engine.lock_dir / "bot_daily-2024-03-05.lock"))
    done = threading.Event()
    with held:
        def write():
            other = LocalEngine(engine.settings)
            other.replace_partitions("bot_daily", DAY, site_rows("2024-03-05", ("a.com", 1)))
            other.close()
            done.set()

        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(1.0)
        assert not done.is_set()  # waiting for the day's lock
    thread.join(timeout=60)
    assert done.is_set()


def test_empty_warehouse_has_typed_empty_views(engine):
    assert engine.query("SELECT count(*) FROM site_daily").rows == [(0,)]
    assert engine.query("SELECT count(*) FROM raw_events").rows == [(0,)]
    result = engine.query("SELECT * FROM events")
    assert result.columns[-1] == "dt" and result.rows == []


def test_events_statements_are_cut_by_landing_bytes(engine):
    from orchestration.defs.warehouse.assets import event_chunks

    for day, size in (("2024-03-01", 600), ("2024-03-02", 500), ("2024-03-03", 100),
                      ("2024-03-04", 2000), ("2024-03-06", 10)):
        folder = engine.landing / "events" / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "x.gz").write_bytes(b"x" * size)
    days = DayRange.of("2024-03-01", "2024-03-07")
    assert [str(c) for c in event_chunks(engine, days, max_bytes=1000)] == [
        "2024-03-01", "2024-03-02..2024-03-03", "2024-03-04", "2024-03-05..2024-03-07"]
    assert event_chunks(engine, days, max_bytes=10**9) == [days]
    year = DayRange.of("2024-01-01", "2024-12-31")
    assert [len(c) for c in event_chunks(engine, year, max_bytes=10**9)] == [100, 100, 100, 66]


@pytest.mark.parametrize("days", [DAY, DayRange.of("2024-03-05", "2024-03-06")])
def test_a_rewrite_writes_the_same_bytes_in_the_statements_order(engine, days):
    """400,000 rows are enough for a PARTITION_BY COPY on 2 threads to interleave its
    sorted runs differently on each run (3 different files in 3 runs)."""
    sql = ("SELECT to_hex(md5(CAST(i AS varchar))) AS site, CAST(NULL AS varchar) AS browser, "  # noqa: S608 - test days
           "i AS hits, CASE WHEN i % 3 = 0 THEN '" + days.keys[-1] + "' ELSE '"
           + days.keys[0] + "' END AS dt FROM unnest(sequence(1, 400000)) AS t(i) "
           "ORDER BY site")
    contents = set()
    for _ in range(3):
        result = engine.replace_partitions("bot_daily", days, sql)
        files = sorted((engine.warehouse / "bot_daily").glob("dt=*/*.parquet"))
        assert [f.parent.name for f in files] == [f"dt={d}" for d in days.keys]
        contents.add(b"".join(f.read_bytes() for f in files))
        assert sum(result.rows_by_day.values()) == 400_000
    assert len(contents) == 1
    for f in files:  # each day's file in the statement's order
        sites = engine.con.sql("SELECT site FROM read_parquet(?)", params=[str(f)]).fetchall()
        assert sites == sorted(sites) and len(sites) > 100_000
