"""The `athena` backend: Athena runs the pipeline's SQL as written (design.md, "Backends").

Everything but running a statement is shared with the `trino` backend
(`orchestration/backends/catalog.py`: the Glue tables, the raw_events view, partition
registration and the crawler, repair of damaged landing objects, atomic day replace).
Statements go through pyathena, so the workgroup's result location and byte cutoff
apply; a failed statement raises `AthenaQueryFailed` with Athena's own reason.
"""

from __future__ import annotations

import math
from functools import cached_property

from pyathena import connect
from pyathena.error import Error as PyAthenaError

from edge.config import ConfigError, Settings
from orchestration.backends.catalog import (  # noqa: F401 - the names callers catch
    CRAWLER_POOL,
    CatalogBackendError,
    CatalogEngine,
    CrawlerError,
    CrawlerTimeout,
    Executed,
    QueryFailed,
    split_s3_uri,
)

# Athena list price: $5 per TB scanned, rounded up to the MB, 10 MB minimum per query;
# DDL statements and failed queries are free.
USD_PER_TB = 5.0
BYTES_PER_TB = 1024**4
BILLING_STEP_BYTES = 1024**2
MIN_BILLED_BYTES = 10 * 1024**2

AthenaBackendError = CatalogBackendError


class AthenaQueryFailed(QueryFailed):
    """An Athena statement ended FAILED or CANCELLED, or could not be started."""


def scan_cost_usd(bytes_scanned: int | None, statement_type: str | None = "DML") -> float:
    """What Athena bills for one successful statement at list price."""
    if statement_type == "DDL":
        return 0.0
    billed = max(MIN_BILLED_BYTES,
                 math.ceil((bytes_scanned or 0) / BILLING_STEP_BYTES) * BILLING_STEP_BYTES)
    return billed / BYTES_PER_TB * USD_PER_TB


class AthenaEngine(CatalogEngine):
    name = "athena"

    def __init__(self, settings: Settings, *, poll_seconds: float = 5.0,
                 athena_poll_seconds: float = 0.5):
        if not settings.athena_workgroup and not settings.athena_output:
            raise ConfigError("the athena backend needs EDGESTATS_ATHENA_WORKGROUP "
                              "(or EDGESTATS_ATHENA_OUTPUT, an s3:// result location)")
        super().__init__(settings, database=settings.athena_database, poll_seconds=poll_seconds)
        self.athena_poll_seconds = athena_poll_seconds

    @cached_property
    def _connection(self):
        return connect(
            session=self._session,
            s3_staging_dir=self.settings.athena_output,
            work_group=self.settings.athena_workgroup or "",
            region_name=self.settings.aws_region,
            endpoint_url=self.settings.aws_endpoint_url,
            schema_name=self.database,
            poll_interval=self.athena_poll_seconds,
        )

    def _execute(self, sql: str, what: str) -> Executed:
        """One statement through pyathena; a failure carries Athena's reason and query id."""
        polled: list = []
        cursor = self._connection.cursor(on_poll=polled.append)
        try:
            try:
                cursor.execute(sql)
            except PyAthenaError as e:
                execution = polled[-1] if polled else None
                state = execution.state if execution else "NOT STARTED"
                message = e.args[0] if e.args else None  # pyathena: the reason, or None
                reason = ((execution.state_change_reason if execution else None)
                          or (str(message) if message else None))
                query_id = cursor.query_id
                code = next((c for c in ("HIVE_CURSOR_ERROR", "HIVE_CANNOT_OPEN_SPLIT",
                                         "HIVE_BAD_DATA") if reason and c in reason), None)
                raise AthenaQueryFailed(
                    f"Athena query {query_id or '(not started)'} for {what} {state}: "
                    f"{reason or 'no reason given'}", query_id, state, reason, code) from None
            execution = polled[-1] if polled else None
            columns = [d[0] for d in cursor.description] if cursor.description else []
            rows = [tuple(r) for r in cursor.fetchall()] if columns else []
            statement_type = execution.statement_type if execution else None
            scanned = cursor.data_scanned_in_bytes or 0
            return Executed(
                query_id=cursor.query_id,
                statement_type=statement_type,
                columns=columns,
                rows=rows,
                bytes_scanned=scanned,
                engine_ms=cursor.engine_execution_time_in_millis or 0,
                update_count=cursor.rowcount if cursor.rowcount >= 0 else None,
                cost_usd=scan_cost_usd(scanned, statement_type),
            )
        finally:
            cursor.close()

    def close(self) -> None:
        if "_connection" in self.__dict__:
            self._connection.close()
        super().close()


__all__ = ["AthenaBackendError", "AthenaEngine", "AthenaQueryFailed", "CrawlerError",
           "CrawlerTimeout", "scan_cost_usd", "split_s3_uri"]
