"""`edgestats collect` under load, stopped cleanly and killed: what lands, exactly.

A real collector subprocess on 127.0.0.1 (`--port 0`), a pipelined asyncio client in this
process (`loadgen`), bounded request counts; each request has a unique page path, so
every landed event is matched to the one request that made it.
"""

from __future__ import annotations

import gzip
import signal
from collections import Counter

import pytest

from edge.firehose import MAX_WAITING_BUFFERS
from edge.schema import validate
from tests.reliability.loadgen import (
    CollectorProcess,
    landed_events,
    load,
    marker,
    request_mix,
)

pytestmark = pytest.mark.timeout(300)

LOAD_REQUESTS = 50_000
EXPECTED_STATUS = {"edge": 200, "pixel": 200, "beacon": 204}


def test_50k_mixed_requests_land_exactly_once_after_sigterm(tmp_path):
    requests = request_mix(LOAD_REQUESTS)
    collector = CollectorProcess(tmp_path / "home")  # default buffering: 60 s / 5 MiB
    try:
        result = load(collector.port, requests, connections=8, window=32)
    finally:
        collector.proc.send_signal(signal.SIGTERM)
        code, out = collector.wait()
    print(f"\n{LOAD_REQUESTS:,} requests in {result.seconds:.1f} s "
          f"({LOAD_REQUESTS / result.seconds:,.0f} req/s, 8 pipelined connections)")
    assert code == 0, collector.log.read_text()[-2000:]
    assert not result.errors
    kinds = {r.n: r.kind for r in requests}
    assert len(result.answered) == LOAD_REQUESTS
    wrong = {n: s for n, s in result.answered.items() if s != EXPECTED_STATUS[kinds[n]]}
    assert wrong == {}

    events = landed_events(tmp_path / "home" / "landing")
    ids = Counter(e["event_id"] for e in events)
    assert len(ids) == len(events), "an event_id landed twice"
    landed = Counter(marker(e) for e in events)
    assert landed == Counter((r.kind, r.n) for r in requests)  # each request exactly once
    assert all(e["ingest"] == marker(e)[0] for e in events)  # and through its own door
    by_kind = Counter(e["ingest"] for e in events)
    assert by_kind == Counter(r.kind for r in requests)
    assert by_kind["edge"] > 30_000 and by_kind["pixel"] > 8_000 and by_kind["beacon"] > 3_000
    assert f"stopped after {LOAD_REQUESTS} requests: {LOAD_REQUESTS} events" in out
    assert not list((tmp_path / "home" / "landing").rglob("*.tmp"))


KILL_BUFFER_BYTES = 64 * 1024
# What the emulator may hold that is not on disk: the open buffer, the one the writer
# thread is writing, and those waiting for it (bounded; `put` waits beyond that).
UNFLUSHED_BUFFERS = 2 + MAX_WAITING_BUFFERS


def test_sigkill_mid_load_leaves_only_complete_objects_and_loses_at_most_the_buffer(tmp_path):
    home = tmp_path / "home"
    requests = request_mix(20_000, seed=2)
    collector = CollectorProcess(home, env={
        "EDGESTATS_FIREHOSE_BUFFER_BYTES": str(KILL_BUFFER_BYTES),
        "EDGESTATS_FIREHOSE_BUFFER_SECONDS": "1",
    })
    try:
        result = load(collector.port, requests, connections=8, window=32, stop_after=12_000,
                      on_stop=collector.kill_now)
    finally:
        collector.kill_now()
        code, _ = collector.wait()
    assert code == -signal.SIGKILL

    landing = home / "landing"
    files = [p for p in landing.rglob("*") if p.is_file()]
    finals = [p for p in files if not p.name.startswith(".")]
    assert finals, "nothing was delivered before the kill"
    for p in finals:  # a final name is always a whole object
        assert p.suffix == ".gz" and p.parent.name.startswith("dt="), p
        data = gzip.decompress(p.read_bytes())  # raises on a truncated object
        assert data.endswith(b"\n")
    leftovers = [p for p in files if p.name.startswith(".")]
    assert all(p.name.endswith(".tmp") for p in leftovers), leftovers

    events = landed_events(landing)
    for e in events:
        assert validate(e) == [], e
    landed = Counter(marker(e) for e in events)
    assert max(landed.values()) == 1, "an event landed twice"
    landed_n = {n for _, n in landed}
    assert landed_n <= result.sent  # nothing invented
    accepted = result.accepted()
    assert len(accepted) >= 12_000
    lost = accepted - landed_n
    line_bytes = [len(gzip.decompress(p.read_bytes()).splitlines()[0]) + 1 for p in finals]
    lost_bytes_bound = UNFLUSHED_BUFFERS * KILL_BUFFER_BYTES
    print(f"\nSIGKILL after {len(accepted):,} answered requests: {len(landed_n):,} landed, "
          f"{len(lost):,} lost (~{len(lost) * max(line_bytes):,} bytes; buffer "
          f"{KILL_BUFFER_BYTES:,} bytes), {len(leftovers)} temporary files left")
    assert len(lost) * min(line_bytes) <= lost_bytes_bound
