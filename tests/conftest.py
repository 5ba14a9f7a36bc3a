"""Shared fixtures: every test gets its own EDGESTATS_HOME under pytest's tmp_path."""

from __future__ import annotations

import pytest

from edge.config import Settings


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
