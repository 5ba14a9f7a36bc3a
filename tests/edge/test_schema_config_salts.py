"""The schema export, configuration errors and the salt store's 48-hour rule."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest

from edge.config import ConfigError, EdgeConfig, Settings
from edge.salts import FileSaltStore, MemorySaltStore
from edge.schema import COLUMNS, FIELDS, REQUIRED, encode, json_schema, validate

DESIGN_FIELDS = (
    "schema_version event_id event_time event_type event_name site path referrer_host "
    "utm_source utm_medium utm_campaign utm_term utm_content country region city timezone "
    "device_type browser browser_version os os_version is_bot visitor_id ingest"
).split()


def test_schema_matches_design_section_2():
    assert list(COLUMNS) == DESIGN_FIELDS
    assert "event_name" not in REQUIRED and "visitor_id" in REQUIRED
    s = json_schema()
    assert s["required"] == list(REQUIRED)
    assert s["properties"]["is_bot"]["type"] == "boolean"
    assert s["properties"]["country"]["type"] == ["string", "null"]
    assert len(FIELDS) == 25


def test_validate_reports_each_problem():
    ev = dict.fromkeys(COLUMNS)
    problems = validate(ev)
    assert "event_id is null" in problems and "country is null" not in problems
    ev.update(schema_version=True)
    assert "schema_version is not int" in validate(ev)
    assert "unknown fields ['ip']" in validate({**ev, "ip": "x"})


def test_encode_is_one_ascii_line():
    line = encode({"path": "/café"})
    assert line == b'{"path":"/caf\\u00e9"}\n'
    assert json.loads(line) == {"path": "/café"}


def test_settings_defaults_and_errors(tmp_path):
    s = Settings.from_env({"EDGESTATS_HOME": str(tmp_path)})
    assert s.backend == "local" and s.landing == tmp_path / "landing"
    assert s.dagster_home == tmp_path / "dagster"
    with pytest.raises(ConfigError, match="set it to 'local', 'athena' or 'trino'"):
        Settings.from_env({"EDGESTATS_BACKEND": "spark"})
    with pytest.raises(ConfigError, match="at least 1.0"):
        Settings.from_env({"EDGESTATS_FIREHOSE_BUFFER_SECONDS": "0.5"})


def test_edge_config_round_trip(tmp_path):
    cfg = EdgeConfig(firehose_stream="s", allowed_sites=("example.com",))
    p = tmp_path / "edge_config.json"
    p.write_text(cfg.to_json())
    assert EdgeConfig.load(p) == cfg
    assert EdgeConfig.load(tmp_path / "missing.json") == EdgeConfig()


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_file_salt_store_is_private_stable_and_forgets_after_48h(tmp_path):
    clock = Clock(dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc))
    store = FileSaltStore(tmp_path / "salts.json", clock=clock)
    d20 = dt.date(2026, 11, 20)
    s20 = store.salt_for(d20)
    assert len(s20) == 16
    assert stat.S_IMODE((tmp_path / "salts.json").stat().st_mode) == 0o600
    assert FileSaltStore(tmp_path / "salts.json", clock=clock).salt_for(d20) == s20
    assert store.salt_for(dt.date(2026, 11, 21)) != s20

    # Day 20 ends at 21T00:00; 48 h later is 23T00:00. Exactly then it is still kept.
    clock.now = dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.timezone.utc)
    assert store.rotate() == []
    clock.now = dt.datetime(2026, 11, 23, 0, 0, 1, tzinfo=dt.timezone.utc)
    assert store.rotate() == ["2026-11-20"]
    assert "2026-11-20" not in store.days() and "2026-11-23" in store.days()
    assert s20.hex() not in (tmp_path / "salts.json").read_text()


def test_memory_salts_deterministic_only_with_seed():
    d = dt.date(2026, 1, 1)
    assert MemorySaltStore(b"x").salt_for(d) == MemorySaltStore(b"x").salt_for(d)
    assert MemorySaltStore().salt_for(d) != MemorySaltStore().salt_for(d)
