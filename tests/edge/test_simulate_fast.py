"""The simulator's batch path against the normaliser it stands in for, byte for byte.

The batch path normalises once per distinct page URI, referrer, UTM query and viewer
(User-Agent x location) and assembles lines from the encoded fragments; these tests
rebuild each event's Hit and compare with `encode(normalise(hit))`, and compare the
objects it writes with what `LocalFirehose.put` writes for the same records.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import uuid
from pathlib import Path

import numpy as np
import pytest

import edge.simulate as simulate
from edge.firehose import LocalFirehose
from edge.normalize import format_time, normalise
from edge.schema import encode

DAY = dt.date(2024, 2, 29)  # a leap day; its last hour spills into March


def chunk(tmp_path: Path, pageviews: int, hours: tuple[int, ...], seed: int = 3,
          buffer_bytes: int = 5 << 20, buffer_seconds: float = 900.0) -> simulate.Chunk:
    return simulate.Chunk(str(tmp_path / "landing"), "edgestats", seed, DAY, hours, 0,
                          pageviews, buffer_bytes, buffer_seconds, 1)


def generated(c: simulate.Chunk) -> tuple[simulate._BatchChunk, list[bytes]]:
    sim = simulate._BatchChunk(c)
    sim.generate()
    return sim, sim.lines()


@pytest.mark.parametrize("hours", [tuple(range(24)), (23,)], ids=["whole-day", "last-hour"])
def test_every_line_equals_normalise_and_encode_of_its_hit(tmp_path, hours):
    sim, lines = generated(chunk(tmp_path, 4_000, hours))
    kinds = set(sim.ev_kind.tolist())
    assert kinds == {0, 1, 2}, "page views (200 and 304) and custom events"
    assert len(set((sim.ev_time // 86_400_000).tolist())) == 2, "some events after midnight"
    mismatches = [i for i, line in enumerate(lines)
                  if line != encode(normalise(sim.event_hit(i), sim.salts))]
    assert mismatches == []
    assert len(lines) == len(sim.ev_time) == sim.pageviews + sim.custom
    assert sim.pageviews == 4_000


def test_a_big_days_chunk_matches_on_a_sample(tmp_path):
    sim, lines = generated(chunk(tmp_path, 30_000, (14,), seed=11))
    sample = random.Random(0).sample(range(len(lines)), 3_000)
    assert [lines[i] for i in sample] == [
        encode(normalise(sim.event_hit(i), sim.salts)) for i in sample]
    # one visitor id per site, IP and User-Agent in a day, and a different one for each
    ids = collections.defaultdict(set)
    for i in sample:
        h = sim.event_hit(i)
        ids[h.host, h.client_ip, h.user_agent].add(json.loads(lines[i])["visitor_id"])
    assert all(len(v) == 1 for v in ids.values())
    assert len(set().union(*ids.values())) == len(ids) > 1_000


def test_event_time_and_id_columns_match_the_normaliser():
    sim = simulate._BatchChunk(simulate.Chunk("/nowhere", "s", 1, DAY, (0,), 0, 10, 1, 1.0, 1))
    times = [0, 999, 86_399_999, 951_782_400_000, 1_709_164_799_999, 1_709_251_199_001,
             4_102_444_800_000 - 1]
    times += random.Random(1).sample(range(4_102_444_800_000), 500)
    sim.ev_time = np.array(times, dtype=np.int64)
    heads = sim._heads()
    for i, (ms, head) in enumerate(zip(times, heads, strict=True)):
        t = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=ms)
        want = encode({"schema_version": 1, "event_id": f"{sim.id_prefix.decode()}{i:016x}",
                       "event_time": format_time(t)})
        assert head == want[:-2] + b","


def test_objects_are_what_the_firehose_emulator_writes(tmp_path):
    """Small buffers so the size, interval and arrival-day rules all cut objects."""
    c = chunk(tmp_path, 3_000, (22, 23), buffer_bytes=64 << 10, buffer_seconds=60.0)
    summary = simulate._BatchChunk(c).run()
    sim, lines = generated(c)
    uuid_rng = random.Random(simulate._chunk_tag(c) + ":uuid")
    firehose = LocalFirehose(tmp_path / "by-put", "edgestats", buffer_bytes=64 << 10,
                             buffer_seconds=60.0, compresslevel=1,
                             uuid_factory=lambda: str(uuid.UUID(int=uuid_rng.getrandbits(128),
                                                                version=4)))
    for event, arrival in zip(sim.rec_event.tolist(), sim.rec_arrival.tolist(), strict=True):
        firehose.put(lines[event], arrival / 1000)
    firehose.close()

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file()}

    written = tree(tmp_path / "landing")
    assert written == tree(tmp_path / "by-put")
    assert summary["objects"] == len(written) > 10
    assert {Path(name).parent.name for name in written} == {"dt=2024-02-29", "dt=2024-03-01"}
    assert summary["events"] == firehose.records_out == len(lines) + summary["duplicates"]


def test_normalise_runs_once_per_distinct_input_of_its_steps(tmp_path, monkeypatch):
    seen = []
    real = simulate.normalise
    monkeypatch.setattr(simulate, "normalise", lambda hit, salts: seen.append(
        (hit.host, hit.uri, hit.status, hit.event_name, hit.referer, hit.query, hit.user_agent,
         tuple(sorted(hit.headers.items())))) or real(hit, salts))
    sim, lines = generated(chunk(tmp_path, 5_000, (9, 10)))
    site = sim.visitor_site[sim.ev_visitor]
    distinct = (len(set(zip(sim.ev_uri.tolist(), sim.ev_kind.tolist(), strict=True)))
                + len(set(zip(sim.ev_referer.tolist(), site.tolist(), strict=True)))
                + len(set(sim.ev_query.tolist()))
                + len(set(zip(sim.visitor_ua[sim.ev_visitor].tolist(),
                              sim.visitor_loc[sim.ev_visitor].tolist(), strict=True))))
    assets = len(simulate.ASSETS) + 1  # and the 404: each asked whether it is skipped
    assert len(seen) == distinct + assets
    assert distinct < len(lines) / 5  # ~840 for a 50,000-event chunk
    # every User-Agent and location of the chunk went through the normaliser
    assert {h[6] for h in seen} == {sim.t.uas[u] for u in sim.visitor_ua.tolist()}
    assert {h[7] for h in seen} == {tuple(sorted(sim.t.locations[x].items()))
                                    for x in sim.visitor_loc.tolist()}
