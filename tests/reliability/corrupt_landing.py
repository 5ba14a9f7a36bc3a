"""A landing day of 25,000 good events with every kind of damage mixed in, and its numbers.

Day D = 2024-06-10, site good.example.  Visitor v (0..2499, visitor_id = v in 16 hex
digits) views /p0 ... /p9 at 08:00:00 + v seconds + k minutes: one session of ten page
views and 540 s per visitor, no bounces, all in hour 8.  So, for D:

    site_daily   pageviews 25,000, visitors 2,500, sessions 2,500, bounces 0,
                 avg_visit_duration_s 540, views_per_session 10
    page_daily   /pk: 2,500 views by 2,500 visitors; entries all on /p0, exits on /p9

24,993 good events go through the real Firehose emulator; the other 7 ride in damaged
objects, next to the damage, to prove a bad neighbour never costs a good line:

    truncated.gz   2 good lines, then a line cut by the truncation (lost, not counted)
    binary.gz      good line, 3 lines of binary junk, good line          -> 5 malformed
                   (a CR ends a line, as in Athena's and Trino's text reader, so the
                   PNG header's two CRs make its line three)
    types.gz       9 events with one wrongly typed field, a JSON array,
                   good line                                             -> 10 malformed
    huge.gz        good line, one 10 MB line, good line                  -> 1 malformed
    zero-bytes.gz  an empty file                                         -> unreadable
    not-gzip.gz    binary junk that is not gzip at all                   -> unreadable
    empty-gzip.gz  a valid gzip of nothing                               -> no rows
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib
from pathlib import Path

from edge.firehose import LocalFirehose
from edge.schema import encode
from tests.orchestration.scenario import event, t

D = dt.date(2024, 6, 10)
SITE = "good.example"
VISITORS = 2_500
PAGES = 10
GOOD_EVENTS = VISITORS * PAGES
MALFORMED_LINES = 5 + 11 + 1  # junk (3 lines, 5 after CR), wrong types and an array, huge
TRUNCATED_FILES = 1
UNREADABLE_FILES = 2
HUGE_LINE_BYTES = 10 * 1024 * 1024

# Wrongly typed fields; each line is otherwise a valid event.
WRONG_TYPES = (
    {"schema_version": "one"},
    {"schema_version": 1.5},
    {"schema_version": 2**40},  # an integer, but not one the int column holds
    {"event_time": 1718000000},
    {"is_bot": "yes"},
    {"site": {"host": SITE}},
    {"path": ["/p0"]},
    {"visitor_id": 1234},
    {"visitor_id": None},
    {"event_type": "purchase"},
)


def good_events() -> list[dict]:
    out = []
    for v in range(VISITORS):
        for k in range(PAGES):
            when = t(D, "08:00:00.000") + dt.timedelta(seconds=v, minutes=k)
            out.append(event(f"good-{v}-{k}", when, "0", site=SITE, path=f"/p{k}",
                             visitor_id=f"{v:016x}"))
    return out


def _gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(lines), mtime=0)


def _truncated(kept: list[bytes], cut_line: bytes) -> bytes:
    """A gzip stream cut inside `cut_line`: exactly the `kept` lines are salvageable.

    A full flush after the kept lines puts them on a byte boundary; the cut falls a few
    bytes into the compressed form of the next line."""
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = z.compress(b"".join(kept)) + z.flush(zlib.Z_FULL_FLUSH)
    rest = z.compress(cut_line) + z.flush()
    return head + rest[: len(rest) // 2]


def land(landing: Path) -> None:
    events = good_events()
    lines = [encode(e) for e in events]
    main, special = lines[:-7], lines[-7:]
    arrival = t(D, "20:00:00.000").timestamp()
    with LocalFirehose(landing, buffer_bytes=1024 * 1024, buffer_seconds=3600) as firehose:
        for line in main:
            firehose.put(line, arrival=arrival)
    folder = landing / "events" / f"dt={D}"
    name = f"edgestats-1-{D}-20-30-00-"

    lost = encode(event("lost-by-truncation", t(D, "09:00:00.000"), "e", site=SITE,
                        path="/lost"))
    (folder / f"{name}truncated.gz").write_bytes(_truncated(special[0:2], lost))

    junk = [b"\x00\x01\x02\xff\xfe\n", b"\x89PNG\r\x1a\x00\x00\x00\rIHDR\n", b"\xc3\x28 not utf-8\n"]
    (folder / f"{name}binary.gz").write_bytes(_gz([special[2], *junk, special[3]]))

    typed = []
    for i, wrong in enumerate(WRONG_TYPES):
        e = event(f"mistyped-{i}", t(D, "09:30:00.000"), "c", site=SITE, path="/mistyped")
        e.update(wrong)
        typed.append(json.dumps(e).encode() + b"\n")
    (folder / f"{name}types.gz").write_bytes(_gz([*typed, b"[1, 2, 3]\n", special[4]]))

    huge = b'{"event_id": "huge", "path": "/' + b"a" * HUGE_LINE_BYTES + b'"}\n'
    (folder / f"{name}huge.gz").write_bytes(_gz([special[5], huge, special[6]]))

    (folder / f"{name}zero-bytes.gz").write_bytes(b"")
    (folder / f"{name}not-gzip.gz").write_bytes(bytes(range(7, 256)) * 4)
    (folder / f"{name}empty-gzip.gz").write_bytes(gzip.compress(b"", mtime=0))


EXPECTED: dict[str, list[tuple]] = {
    "site_daily": [(SITE, GOOD_EVENTS, VISITORS, VISITORS, 0, 0.0, 540.0, 10.0)],
    "page_daily": [
        (SITE, f"/p{k}", VISITORS, VISITORS, VISITORS if k == 0 else 0,
         VISITORS if k == PAGES - 1 else 0)
        for k in range(PAGES)
    ],
    "source_daily": [(SITE, "(direct)", None, None, VISITORS, VISITORS, GOOD_EVENTS, 0)],
    "geo_daily": [(SITE, "DE", "BE", "Berlin", VISITORS, GOOD_EVENTS)],
    "tech_daily": [(SITE, "desktop", "Firefox", "Linux", VISITORS, GOOD_EVENTS)],
    "site_hourly": [(SITE, 8, GOOD_EVENTS, VISITORS)],
    "event_daily": [],
    "bot_daily": [],
}
