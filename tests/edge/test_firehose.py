"""The local Firehose emulator writes what Firehose writes to S3 (DESIGN section 5)."""

from __future__ import annotations

import base64
import calendar
import gzip
import itertools
import json
import re
import threading

import pytest

from edge.firehose import LocalFirehose

NAME = re.compile(
    r"^edgestats-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.gz$"
)


def epoch(y, mo, d, h=0, mi=0, s=0.0) -> float:
    return calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0)) + s


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def uuids():
    n = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(n):012d}"


def objects(root, kind="events"):
    """{relative path: decompressed lines} of every delivered object."""
    out = {}
    for p in sorted((root / kind).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = gzip.decompress(p.read_bytes()).splitlines()
    return out


def test_object_name_prefix_and_gzip(tmp_path):
    t0 = epoch(2026, 11, 20, 13, 5, 9.5)
    fh = LocalFirehose(tmp_path, clock=Clock(t0), uuid_factory=uuids())
    fh.put(b'{"a":1}\n')
    fh.put(b'{"a":2}\n')
    fh.close()
    assert objects(tmp_path) == {
        "events/dt=2026-11-20/edgestats-1-2026-11-20-13-05-09-"
        "00000000-0000-4000-8000-000000000001.gz": [b'{"a":1}', b'{"a":2}'],
    }
    (path,) = fh.objects_written
    assert NAME.match(path.name)
    assert fh.records_in == fh.records_out == 2


def test_real_uuid_names_match_the_firehose_pattern(tmp_path):
    fh = LocalFirehose(tmp_path, stream="edgestats")
    fh.put(b"x\n")
    fh.close()
    (path,) = fh.objects_written
    m = NAME.match(path.name)
    assert m, path.name
    assert path.parent.name == "dt={}-{}-{}".format(*m.groups()[:3])


def test_size_buffering_delivers_before_exceeding_the_size(tmp_path):
    clock = Clock(epoch(2026, 11, 20, 10))
    fh = LocalFirehose(tmp_path, buffer_bytes=100, clock=clock, uuid_factory=uuids())
    records = [f"{i:039d}\n".encode() for i in range(5)]  # 40 bytes each
    for r in records:
        fh.put(r)
    # 40+40 fits, a third would make 120 > 100: two objects of 2 while putting.
    assert fh.records_out == 4
    assert len(fh.objects_written) == 2
    fh.close()
    assert [len(v) for v in objects(tmp_path).values()] == [2, 2, 1]
    assert b"".join(line + b"\n" for v in objects(tmp_path).values() for line in v) == b"".join(
        records
    )


def test_interval_buffering_by_put_and_by_flush_due(tmp_path):
    clock = Clock(epoch(2026, 11, 20, 10))
    fh = LocalFirehose(tmp_path, buffer_seconds=60, clock=clock, uuid_factory=uuids())
    fh.put(b"a\n")
    clock.t += 59.9
    fh.put(b"b\n")
    fh.flush_due()
    assert fh.objects_written == []  # 59.9 s old: not due yet
    clock.t += 0.1
    fh.flush_due()
    assert [p.name for p in fh.objects_written] == [
        "edgestats-1-2026-11-20-10-00-00-00000000-0000-4000-8000-000000000001.gz"
    ]
    fh.put(b"c\n")  # t = 10:01:00
    clock.t += 61
    fh.put(b"d\n")  # the c-buffer is 61 s old: delivered by this put
    assert fh.records_out == 3
    fh.close()
    assert list(objects(tmp_path).values()) == [[b"a", b"b"], [b"c"], [b"d"]]
    assert [p.name[12:31] for p in fh.objects_written] == [
        "2026-11-20-10-00-00", "2026-11-20-10-01-00", "2026-11-20-10-02-01"]


def test_day_change_starts_a_new_object_and_folder(tmp_path):
    clock = Clock(epoch(2026, 11, 20, 23, 59, 30.0))
    fh = LocalFirehose(tmp_path, buffer_seconds=900, clock=clock, uuid_factory=uuids())
    fh.put(b"late-1\n")
    clock.t = epoch(2026, 11, 20, 23, 59, 59.999)
    fh.put(b"late-2\n")
    clock.t = epoch(2026, 11, 21, 0, 0, 0.001)
    fh.put(b"after-midnight\n")  # arrives on D+1, lands in folder D+1
    fh.close()
    assert objects(tmp_path) == {
        "events/dt=2026-11-20/edgestats-1-2026-11-20-23-59-30-"
        "00000000-0000-4000-8000-000000000001.gz": [b"late-1", b"late-2"],
        "events/dt=2026-11-21/edgestats-1-2026-11-21-00-00-00-"
        "00000000-0000-4000-8000-000000000002.gz": [b"after-midnight"],
    }


def test_explicit_arrival_time_decides_the_folder(tmp_path):
    fh = LocalFirehose(tmp_path, clock=Clock(epoch(2030, 1, 1)), uuid_factory=uuids())
    fh.put(b"x\n", arrival=epoch(2026, 3, 1, 12))
    fh.close()
    assert list(objects(tmp_path)) == [
        "events/dt=2026-03-01/edgestats-1-2026-03-01-12-00-00-"
        "00000000-0000-4000-8000-000000000001.gz"]


def test_error_records_go_to_errors_type_prefix(tmp_path):
    t0 = epoch(2026, 11, 20, 8, 0, 1.25)
    fh = LocalFirehose(tmp_path, clock=Clock(t0), uuid_factory=uuids())
    fh.put(b"good\n")
    fh.put_error(b"bad record", "processing-failed", message="not JSON")
    fh.close()
    errors = objects(tmp_path, "errors")
    assert list(errors) == [
        "errors/processing-failed/dt=2026-11-20/edgestats-1-2026-11-20-08-00-01-"
        "00000000-0000-4000-8000-000000000002.gz"]
    (line,) = next(iter(errors.values()))
    assert json.loads(line) == {
        "attemptsMade": 1,
        "arrivalTimestamp": 1795161601250,
        "errorCode": "Lambda.ProcessingFailed",
        "errorMessage": "not JSON",
        "attemptEndingTimestamp": 1795161601250,
        "rawData": base64.b64encode(b"bad record").decode(),
    }
    assert list(objects(tmp_path).values()) == [[b"good"]]


def test_no_temporary_file_is_left_and_nothing_before_close(tmp_path):
    fh = LocalFirehose(tmp_path, uuid_factory=uuids())
    fh.put(b"x\n")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # still buffered
    fh.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.suffix for p in files] == [".gz"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_reader_never_sees_a_partial_object(tmp_path):
    """A reader polling `*.gz` while the background thread writes sees only whole objects."""
    fh = LocalFirehose(tmp_path, buffer_bytes=64 * 1024, compresslevel=1).start(tick=0.01)
    stop = threading.Event()
    seen: dict[str, int] = {}
    problems: list[str] = []

    def reader():
        while not stop.is_set():
            for p in tmp_path.rglob("*.gz"):
                if p.name in seen:
                    continue
                try:
                    seen[p.name] = len(gzip.decompress(p.read_bytes()).splitlines())
                except Exception as e:  # a truncated gzip would land here
                    problems.append(f"{p.name}: {e!r}")

    t = threading.Thread(target=reader)
    t.start()
    record = b'{"pad":"' + b"x" * 1000 + b'"}\n'
    for _ in range(3000):
        fh.put(record)
    fh.close()
    stop.set()
    t.join()
    assert problems == []
    assert fh.records_out == 3000
    total = sum(len(v) for v in objects(tmp_path).values())
    assert total == 3000
    assert len(fh.objects_written) >= 40  # ~63 records per 64 KiB object
    assert not list(tmp_path.rglob("*.tmp"))


def test_started_writer_delivers_full_buffers_and_flush_waits(tmp_path):
    fh = LocalFirehose(tmp_path, buffer_bytes=10, uuid_factory=uuids()).start(tick=0.01)
    for i in range(50):
        fh.put(f"{i:04d}\n".encode())  # 5 bytes: two per object
    fh.flush()
    assert fh.records_out == 50
    assert sorted(line for v in objects(tmp_path).values() for line in v) == [
        f"{i:04d}".encode() for i in range(50)]
    fh.put(b"last\n")
    fh.close()
    assert fh.records_out == 51
    assert fh.delivery_errors == 0


def test_started_timer_flushes_by_interval(tmp_path):
    clock = Clock(epoch(2026, 11, 20, 10))
    fh = LocalFirehose(tmp_path, buffer_seconds=60, clock=clock).start(tick=0.01)
    fh.put(b"x\n")
    clock.t += 60
    for _ in range(500):  # the background thread notices within a few ticks
        if fh.records_out:
            break
        threading.Event().wait(0.01)
    assert fh.records_out == 1
    fh.close()


@pytest.mark.parametrize("kwargs", [{"buffer_seconds": 0.5}, {"buffer_bytes": 0}])
def test_bad_buffer_settings_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        LocalFirehose(tmp_path, **kwargs)
