"""Warehouse engine backends: `local` (DuckDB + folders, the default), `athena` and
`trino` (the Glue catalog over S3, `catalog.py`), and the factory that picks one."""

from __future__ import annotations

from edge.config import ConfigError, Settings
from orchestration.engine import Engine


def make_engine(settings: Settings) -> Engine:
    """The backend `settings.backend` names."""
    if settings.backend == "local":
        from orchestration.backends.local import LocalEngine

        return LocalEngine(settings)
    if settings.backend == "athena":
        from orchestration.backends.athena import AthenaEngine

        return AthenaEngine(settings)
    if settings.backend == "trino":
        from orchestration.backends.trino import TrinoEngine

        return TrinoEngine(settings)
    raise ConfigError(f"EDGESTATS_BACKEND={settings.backend!r} is not known; use local, athena "
                      "or trino")
