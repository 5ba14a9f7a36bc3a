"""Shared fixtures: every test gets its own EDGESTATS_HOME under pytest's tmp_path."""

from __future__ import annotations

import pytest
from hypothesis import settings as hypothesis_settings

from edge.config import Settings

# The same examples on every run, so `make test` and CI are repeatable; `make bench`
# (tests/benchmarks/bench_fuzz.py) is where the fuzzers explore 10,000 cases each.
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.load_profile("repeatable")


@pytest.fixture
def edgestats_home(tmp_path, monkeypatch):
    home = tmp_path / "edgestats"
    home.mkdir()
    monkeypatch.setenv("EDGESTATS_HOME", str(home))
    monkeypatch.delenv("EDGESTATS_BACKEND", raising=False)
    return home


@pytest.fixture
def settings(edgestats_home) -> Settings:
    return Settings.from_env()
