"""Warehouse engine backends: `local` (DuckDB + folders) and `athena`."""
