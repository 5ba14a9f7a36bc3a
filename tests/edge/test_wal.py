"""The collector's write-ahead log (edge/wal.py) on real files: frames, commits, replay.

Each crash point is built as the files it leaves behind (a segment with or without its
object, a torn tail, a header only) and replayed, twice, into a real LocalFirehose
landing folder.  The whole-process version, with real SIGKILLs, is
tests/reliability/test_collector_crash.py.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.firehose import LocalFirehose
from edge.wal import WalBusy, WriteAheadLog, frame, header, read_frames
from tests.edge.test_firehose import Clock, epoch, uuids

OBJECT = ("events/dt=2026-03-01/edgestats-1-2026-03-01-12-00-00-"
          "00000000-0000-4000-8000-000000000001.gz")
SEGMENT = "edgestats-1-2026-03-01-12-00-00-00000000-0000-4000-8000-000000000001.wal"
LINES = [b'{"event_id":"a"}\n', b'{"event_id":"b"}\n', b'{"event_id":"c"}\n']


def segment_bytes(object_name: str, records: list[bytes]) -> bytes:
    return b"".join(frame(p) for p in [header(object_name), *records])


def replay(home, firehose=None):
    wal = WriteAheadLog(home / "wal").open()
    fh = firehose or LocalFirehose(home / "landing", journal=wal)
    try:
        return wal.replay(home / "landing", fh.deliver_records)
    finally:
        wal.close()


def landed(home) -> dict[str, list[bytes]]:
    root = home / "landing"
    return {p.relative_to(root).as_posix(): gzip.decompress(p.read_bytes()).splitlines(True)
            for p in sorted(root.rglob("*.gz"))}


# ---------------------------------------------------------------- frames


def test_a_frame_is_length_crc_payload_newline():
    assert frame(b"abc") == b"00000003 352441c2 abc\n"  # CRC-32 of "abc", the check value
    data = b"".join(frame(p) for p in (b"", b"x\ny", b"\xff" * 300))
    assert read_frames(data) == [b"", b"x\ny", b"\xff" * 300]


def test_reading_stops_at_the_first_damaged_frame():
    good = frame(b"one") + frame(b"two")
    third = frame(b"three")
    assert read_frames(good + third[:-1]) == [b"one", b"two"]  # torn before its newline
    flipped = third[:19] + b"X" + third[20:]
    assert read_frames(good + flipped + frame(b"four")) == [b"one", b"two"]  # CRC
    assert read_frames(good + b"\0" * 64 + frame(b"four")) == [b"one", b"two"]  # a zero page
    assert read_frames(good + b"0000_005 00000000 ") == [b"one", b"two"]  # not strict hex


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.binary(max_size=80), min_size=1, max_size=12),
       synced=st.integers(min_value=0), cut=st.integers(min_value=0),
       junk=st.sampled_from([b"", b"\0" * 512, b"\xff" * 7, b"00000003 00000000 abc\n"]))
def test_a_power_cut_after_any_sync_keeps_every_synced_frame(records, synced, cut, junk):
    """What a power cut leaves: every frame up to the last fdatasync, then any prefix of the
    unsynced tail, then garbage (unwritten pages read as zeros, or stale bytes)."""
    synced %= len(records) + 1
    data = b"".join(frame(r) for r in records)
    synced_bytes = len(b"".join(frame(r) for r in records[:synced]))
    tail = data[synced_bytes:]
    got = read_frames(data[:synced_bytes] + tail[:cut % (len(tail) + 1)] + junk)
    assert got[:synced] == records[:synced]
    assert got == records[:len(got)]  # never a frame that was not written


# ---------------------------------------------------------------- replay, crash by crash


def test_a_segment_without_its_object_becomes_that_object(tmp_path):
    """Killed while the buffer was open (or before its object was renamed into place)."""
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / SEGMENT).write_bytes(segment_bytes(OBJECT, LINES))
    assert replay(tmp_path) == (1, 3)
    assert landed(tmp_path) == {OBJECT: LINES}
    assert sorted(p.name for p in (tmp_path / "wal").iterdir()) == [".lock"]
    assert [p.name for p in (tmp_path / "landing").rglob("*") if p.is_file()] == [
        OBJECT.rsplit("/", 1)[1]]  # no temporary file left
    assert replay(tmp_path) == (0, 0)  # again: nothing more
    assert landed(tmp_path) == {OBJECT: LINES}


def test_a_half_written_temporary_object_is_replaced(tmp_path):
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / SEGMENT).write_bytes(segment_bytes(OBJECT, LINES))
    final = tmp_path / "landing" / OBJECT
    final.parent.mkdir(parents=True)
    tmp = final.with_name(f".{final.name}.tmp")
    tmp.write_bytes(gzip.compress(b"".join(LINES))[:20])
    assert replay(tmp_path) == (1, 3)
    assert landed(tmp_path) == {OBJECT: LINES}
    assert not tmp.exists()


def test_a_segment_whose_object_exists_is_only_deleted(tmp_path):
    """Killed after the object was published and before its segment was deleted: the
    overlap that must not land twice.  The object may hold more than the segment (records
    put after the last commit), never less."""
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / SEGMENT).write_bytes(segment_bytes(OBJECT, LINES[:2]))
    final = tmp_path / "landing" / OBJECT
    final.parent.mkdir(parents=True)
    final.write_bytes(gzip.compress(b"".join(LINES)))
    before = final.read_bytes()
    assert replay(tmp_path) == (0, 0)
    assert final.read_bytes() == before
    assert not (tmp_path / "wal" / SEGMENT).exists()


def test_a_torn_tail_lands_the_intact_frames(tmp_path):
    (tmp_path / "wal").mkdir()
    data = segment_bytes(OBJECT, LINES)
    (tmp_path / "wal" / SEGMENT).write_bytes(data[:-5] + b"\0" * 100)
    assert replay(tmp_path) == (1, 2)
    assert landed(tmp_path) == {OBJECT: LINES[:2]}


@pytest.mark.parametrize("data", [b"", frame(header(OBJECT))[:10], frame(header(OBJECT))],
                         ids=["empty", "torn-header", "header-only"])
def test_a_segment_with_no_record_lands_nothing(tmp_path, data):
    """Killed while creating a segment: nothing in it was ever answered."""
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / SEGMENT).write_bytes(data)
    assert replay(tmp_path) == (0, 0)
    assert landed(tmp_path) == {}
    assert not (tmp_path / "wal" / SEGMENT).exists()


@pytest.mark.parametrize("name", ["../outside.gz", "/etc/x.gz", "events/x.gz",
                                  "events/dt=2026-03-01/../../x.gz"])
def test_a_header_naming_no_landing_object_is_left_alone(tmp_path, caplog, name):
    (tmp_path / "wal").mkdir()
    path = tmp_path / "wal" / SEGMENT
    path.write_bytes(segment_bytes(name, LINES))
    with caplog.at_level(logging.WARNING, "edgestats.wal"):
        assert replay(tmp_path) == (0, 0)
    assert path.exists()  # kept for a person to look at, not deleted, not landed
    assert not (tmp_path / "landing").exists() or landed(tmp_path) == {}
    assert [r.getMessage() for r in caplog.records] == [
        f"edgestats collector left {path} alone: it does not name a landing object this "
        "version writes"]


def test_one_collector_per_folder(tmp_path):
    first = WriteAheadLog(tmp_path / "wal").open()
    with pytest.raises(WalBusy, match="another edgestats collect is using .*wal; stop it"):
        WriteAheadLog(tmp_path / "wal").open()
    first.close()
    WriteAheadLog(tmp_path / "wal").open().close()  # released by close


# ---------------------------------------------------------------- commits, live


class Commits:
    def __init__(self):
        self.reports: list[tuple[int, frozenset[int]]] = []
        self.done = threading.Condition()

    def __call__(self, upto, failed):
        with self.done:
            self.reports.append((upto, failed))
            self.done.notify_all()

    def wait_for(self, upto):
        with self.done:
            assert self.done.wait_for(lambda: self.reports and self.reports[-1][0] >= upto, 10)


def journaled(tmp_path, **kw):
    commits = Commits()
    wal = WriteAheadLog(tmp_path / "wal", on_commit=commits).open().start()
    fh = LocalFirehose(tmp_path / "landing", journal=wal, uuid_factory=uuids(), **kw)
    return wal, fh, commits


def test_a_committed_record_is_in_its_segment_named_for_its_object(tmp_path):
    wal, fh, commits = journaled(tmp_path, clock=Clock(epoch(2026, 3, 1, 12)))
    for line in LINES:
        fh.put(line)
    commits.wait_for(3)
    assert commits.reports[-1] == (3, frozenset())
    assert all(failed == frozenset() for _, failed in commits.reports)
    # while the buffer is open the events are in the segment only, fdatasync'd
    assert landed(tmp_path) == {}
    frames = read_frames((tmp_path / "wal" / SEGMENT).read_bytes())
    assert json.loads(frames[0]) == {"edgestats_wal": 1, "object": OBJECT}
    assert frames[1:] == LINES
    assert wal.durable == 3
    fh.close()  # the buffer becomes its object, then the segment goes
    wal.close()
    assert landed(tmp_path) == {OBJECT: LINES}
    assert sorted(p.name for p in (tmp_path / "wal").iterdir()) == [".lock"]


def test_full_buffers_become_objects_and_their_segments_go(tmp_path):
    wal, fh, commits = journaled(tmp_path, buffer_bytes=40)
    fh.start(tick=0.01)
    records = [f'{{"event_id":"{i:04d}"}}\n'.encode() for i in range(30)]  # 20 bytes: 2 a buffer
    for r in records:
        fh.put(r)
    commits.wait_for(30)
    fh.flush()
    wal.close()  # commits the last publications
    objects = landed(tmp_path)
    assert len(objects) == 15
    assert sorted(line for lines in objects.values() for line in lines) == records
    assert sorted(p.name for p in (tmp_path / "wal").iterdir()) == [".lock"]
    assert replay(tmp_path) == (0, 0)


def test_a_segment_that_cannot_be_written_reports_its_records_failed(tmp_path, caplog):
    """A real OSError: the segment's name is taken (by a directory) when it is created."""
    wal, fh, commits = journaled(tmp_path, clock=Clock(epoch(2026, 3, 1, 12)))
    (tmp_path / "wal" / SEGMENT).mkdir()
    with caplog.at_level(logging.ERROR, "edgestats.wal"):
        fh.put(LINES[0])
        commits.wait_for(1)
        fh.put(LINES[1])  # the segment is broken now: not even tried
        commits.wait_for(2)
    assert commits.reports[-2:] == [(1, frozenset({1})), (2, frozenset({2}))]
    assert wal.write_errors == 1
    (tmp_path / "wal" / SEGMENT).rmdir()
    assert [r.getMessage() for r in caplog.records] == [
        f"edgestats collector cannot write its write-ahead log {tmp_path / 'wal' / SEGMENT} "
        "(File exists): answering 503 for the events that were not kept"]
    fh.close()  # the buffer still becomes its object
    wal.close()
    assert landed(tmp_path) == {OBJECT: LINES[:2]}
