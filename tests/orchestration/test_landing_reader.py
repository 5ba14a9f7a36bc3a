"""Landing objects -> Arrow: strict typing, the tolerant fallback, damaged gzip."""

from __future__ import annotations

import gzip
import json

import pyarrow.parquet as pq
import pytest

from orchestration.backends import landing_reader as lr
from tests.orchestration import scenario

GOOD = scenario.event("good-1", scenario.t(scenario.D, "10:00:00.000"), "1")


def line(**changes) -> bytes:
    return json.dumps({**GOOD, **changes}).encode() + b"\n"


def write(path, *lines: bytes, compress=True):
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def test_salvage_keeps_complete_lines_only_and_follows_members():
    data = gzip.compress(b'{"a":1}\n{"b":2}\n{"c":', mtime=0)
    assert lr.salvage(data[:-8]) == b'{"a":1}\n{"b":2}\n'  # no trailer
    two = gzip.compress(b"x\n", mtime=0) + gzip.compress(b"y\nz", mtime=0)[:-8]
    assert lr.salvage(two) == b"x\ny\n"
    assert lr.salvage(b"garbage") == b""


def test_inflate_reports_the_state_of_each_object(tmp_path):
    ok = write(tmp_path / "ok.gz", b'{"a":1}\n{"b":2}')  # no final newline: one is added
    assert lr.inflate(ok) == (b'{"a":1}\n{"b":2}\n', "ok")
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(b'{"a":1}\n{"b":', mtime=0)[:-8])
    assert lr.inflate(cut) == (b'{"a":1}\n', "truncated")
    junk = write(tmp_path / "junk.gz", b"not gzip at all\n", compress=False)
    assert lr.inflate(junk) == (b"", "unreadable")
    assert lr.inflate(write(tmp_path / "zero.gz", b"", compress=False)) == (b"", "unreadable")
    assert lr.inflate(write(tmp_path / "empty.gz", b"")) == (b"", "ok")


@pytest.mark.parametrize("changes", [
    {"site": {"a": 1}},            # object where a string belongs
    {"visitor_id": 7},             # number where a string belongs
    {"is_bot": "yes"},             # string where a boolean belongs
    {"is_bot": 1},                 # number where a boolean belongs
    {"schema_version": "1"},       # string where an int belongs
    {"schema_version": 2**40},     # an int the column cannot hold
    {"schema_version": 1.0},       # a float where an int belongs
])
def test_a_wrongly_typed_field_is_null_never_coerced(changes):
    text = line() + line(**changes) + line(event_id="good-2")
    assert lr.parse_strict(text) is None
    rows = lr.parse_tolerant(text).to_pylist()
    (field,) = changes
    assert [r[field] for r in rows] == [GOOD[field], None, GOOD[field]]
    assert [r["event_id"] for r in rows] == ["good-1", "good-1", "good-2"]


def test_broken_lines_are_rows_of_nulls_and_blank_lines_are_skipped():
    text = line() + b"{broken\n" + b"[1, 2]\n" + b"\n" + b"  \n" + b'"text"\n' + line(
        event_id="good-2")
    assert lr.parse_strict(text) is None
    rows = lr.parse_tolerant(text).to_pylist()
    assert len(rows) == 5
    assert [r["event_id"] for r in rows] == ["good-1", None, None, None, "good-2"]
    assert all(v is None for r in rows[1:4] for v in r.values())


def test_a_clean_object_reads_strictly_with_every_column_typed():
    table = lr.parse_strict(line() + line(event_id="good-2", extra_field={"x": [1]}))
    assert table is not None and table.schema == lr.EVENT_SCHEMA
    assert table.to_pylist()[1] == {**GOOD, "event_id": "good-2"}


def test_rows_keep_their_object_when_one_object_needs_the_fallback(tmp_path):
    folder = tmp_path / "dt=2024-03-05"
    folder.mkdir()
    a = write(folder / "a.gz", line(event_id="a1"), line(event_id="a2"))
    b = write(folder / "b.gz", line(event_id="b1"), b"{broken\n", line(event_id="b2", site=5))
    c = folder / "c.gz"
    c.write_bytes(gzip.compress(line(event_id="c1") + line(event_id="c2"), mtime=0)[:-12])
    d = write(folder / "d.gz", b"garbage", compress=False)
    piece = lr.read_piece("2024-03-05", [a, b, c, d])
    assert piece.table.schema == lr.STAGED_SCHEMA
    got = [(r["event_id"], r["object_path"].rsplit("/", 1)[1], r["dt"]) for r in piece.table.to_pylist()]
    assert got == [("a1", "a.gz", "2024-03-05"), ("a2", "a.gz", "2024-03-05"),
                   ("b1", "b.gz", "2024-03-05"), (None, "b.gz", "2024-03-05"),
                   ("b2", "b.gz", "2024-03-05"), ("c1", "c.gz", "2024-03-05")]
    assert piece.table.column("site").to_pylist()[4] is None  # the wrongly typed site
    assert (piece.truncated, piece.unreadable) == ([c], [d])


def test_pieces_split_by_compressed_size_and_a_piece_writes_as_parquet(tmp_path):
    files = [write(tmp_path / f"{n}.gz", line(event_id=str(n)) * 50) for n in range(5)]
    size = files[0].stat().st_size
    assert [len(p) for p in lr.pieces(files, size * 2)] == [2, 2, 1]
    assert [len(p) for p in lr.pieces(files, 1)] == [1] * 5
    piece = lr.read_piece("2024-03-05", files)
    pq.write_table(piece.table, tmp_path / "part.parquet")
    assert pq.read_table(tmp_path / "part.parquet").num_rows == 250
