"""The warehouse tables (declared in `edge.tables`) plus their DuckDB types.

The Athena backend and the local backend both build on `edge.tables`; this module adds
only what the local backend needs to read them.
"""

from __future__ import annotations

from edge.tables import (  # noqa: F401 - re-exported for the pipeline
    ALL_TABLES,
    ATHENA_TYPES,
    PARTITION_COLUMN,
    RAW_EVENT_COLUMNS,
    SESSION_COLUMNS,
    SUMMARY_TABLES,
    WAREHOUSE_TABLES,
    Columns,
    column_names,
)

# Athena column type -> DuckDB column type
DUCKDB_TYPES = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "double": "DOUBLE",
    "timestamp": "TIMESTAMP_MS",
}
