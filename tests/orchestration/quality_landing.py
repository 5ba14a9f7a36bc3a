"""Seventeen landing days for issue 5's checks: seven normal ones, then one violation a day.

Every day's traffic is `NORMAL` page views on quality.example by human visitors in Germany,
one every 4 minutes from 06:00:00, each arriving at Firehose 2 s after it happened (900 s
buffers, as the simulator uses), unless the day's line below says otherwise.  All go
through the real local Firehose emulator.

    day  date        what is wrong                            fails
    1-7  05-01..07   nothing                                  (volume: no verdict on 1-3)
    8    05-08       only 20 page views                       volume_anomaly (0.1x of 200)
    9    05-09       3 junk lines, 2 wrongly typed events     schema_valid (5 of 205)
    10   05-10       a truncated gzip object (1 good line)    schema_valid (1 of 202)
    11   05-11       one event 3 h after its arrival          no_future_events
    12   05-12       one object under errors/                 firehose_errors
    13   05-13       6 events delivered twice                 duplicate_rate (6 of 206)
    14   05-14       the last 20 events arrive after midnight late_arrival_share (20 of 200)
    15   05-15       every second event from a bot            bot_share (100 of 200)
    16   05-16       no country on any event                  geo_coverage (200 of 200)
    17   05-17       no landing data at all                   freshness (and volume: 0 views)

Days 9-11 fail blocking ERROR checks: no clean events, no summaries.  Day 12 fails a
non-blocking ERROR check and the others only warnings: they get their summaries.
"""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from pathlib import Path

from edge.firehose import LocalFirehose
from edge.schema import encode
from tests.orchestration.scenario import event, t

FIRST = dt.date(2024, 5, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(17)]
(D1, D2, D3, D4, D5, D6, D7, LOW_VOLUME, JUNK, TRUNCATED, FUTURE, ERRORS, DUPLICATES, LATE,
 BOTS, NO_COUNTRY, EMPTY) = DAYS
SITE = "quality.example"
NORMAL = 200
LOW = 20
DUPLICATED = 6
LATE_EVENTS = 20
JUNK_LINES = (b"this is not JSON 203.0.113.7\n", b'{"site": "quality.example"\n',
              b"[1, 2, 3]\n")
BLOCKED = [JUNK, TRUNCATED, FUTURE]
BUFFER_SECONDS = 900.0
SECRET_IP = "203.0.113.7"  # in a junk line: must never show in any metadata

# (check, day) -> passed, for every check evaluated by a materialisation of all 17 days;
# pairs not listed pass.  Blocked days have no events, so no events checks.
FAILURES = {
    ("volume_anomaly", LOW_VOLUME), ("schema_valid", JUNK), ("schema_valid", TRUNCATED),
    ("no_future_events", FUTURE), ("firehose_errors", ERRORS),
    ("duplicate_rate", DUPLICATES), ("late_arrival_share", LATE), ("bot_share", BOTS),
    ("geo_coverage", NO_COUNTRY), ("freshness", EMPTY), ("volume_anomaly", EMPTY),
}


def day_events(day: dt.date, count: int = NORMAL, **fields) -> list[dict]:
    """`count` page views of `day`, one every 4 minutes from 06:00, 50 visitors."""
    out = []
    for i in range(count):
        when = t(day, "06:00:00.000") + dt.timedelta(minutes=4 * i)
        out.append(event(f"{day}-{i:03d}", when, "0", site=SITE, path=f"/p{i % 7}/",
                         visitor_id=f"{i % 50:016x}", **fields))
    return out


def arrival(e: dict, delay_s: float = 2.0) -> float:
    when = dt.datetime.fromisoformat(e["event_time"].replace("Z", "+00:00"))
    return when.timestamp() + delay_s


def land(landing: Path, days: list[dt.date] = DAYS) -> None:
    with LocalFirehose(landing, buffer_seconds=BUFFER_SECONDS) as firehose:
        for day in days:
            for when, record in _records(day):
                firehose.put(record, arrival=when)
            if day == ERRORS:
                firehose.put_error(b"a record the transform could not turn into an event",
                                   "processing-failed",
                                   arrival=t(day, "12:00:00.000").timestamp())
    if TRUNCATED in days:
        _truncated_object(landing, TRUNCATED)


def _records(day: dt.date) -> list[tuple[float, bytes]]:
    if day == EMPTY:
        return []
    if day == LOW_VOLUME:
        events = day_events(day, LOW)
    elif day == BOTS:
        events = day_events(day)
        for e in events[1::2]:
            e.update(is_bot=True, device_type="bot", browser="Googlebot")
    elif day == NO_COUNTRY:
        events = day_events(day, country=None, region=None, city=None)
    else:
        events = day_events(day)
    records = [(arrival(e), encode(e)) for e in events]
    if day == JUNK:
        noon = t(day, "12:00:00.500").timestamp()
        records += [(noon, line) for line in JUNK_LINES]
        wrong = day_events(day, 2)
        wrong[0].update(event_id="wrong-type-1", is_bot="yes")
        wrong[1].update(event_id="wrong-type-2", schema_version="one")
        records += [(noon, encode(e)) for e in wrong]
    elif day == FUTURE:
        ahead = event("from-the-future", t(day, "23:00:00.000"), "f", site=SITE)
        records.append((t(day, "20:00:00.000").timestamp(), encode(ahead)))
    elif day == DUPLICATES:
        records += [(arrival(e, 30.0), encode(e)) for e in events[:DUPLICATED]]
    elif day == LATE:  # the last 20 arrive at 00:05 the next day
        next_day = t(day + dt.timedelta(days=1), "00:05:00.000").timestamp()
        records = records[:-LATE_EVENTS] + [(next_day, r) for _, r in records[-LATE_EVENTS:]]
    return sorted(records, key=lambda r: r[0])


def _truncated_object(landing: Path, day: dt.date) -> None:
    """A Firehose-named object whose gzip stream breaks inside its second line."""
    good, lost = day_events(day, 2)
    good.update(event_id="truncated-good", event_time=f"{day}T05:00:00.000Z")
    lost.update(event_id="truncated-lost", event_time=f"{day}T05:00:01.000Z")
    first = encode(good)
    data = gzip.compress(first + encode(lost), mtime=0)
    for cut in range(10, len(data)):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            if len(inflate.decompress(data[:cut])) > len(first) + 10:
                break
        except zlib.error:
            continue
    path = landing / "events" / f"dt={day}" / f"edgestats-1-{day}-05-00-00-truncated.gz"
    path.write_bytes(data[:cut])
