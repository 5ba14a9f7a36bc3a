"""The `trino` backend: a Trino cluster runs the pipeline's SQL as written (design.md,
"Backends").

For people who run Trino themselves: the self-hosted, distributed engine beside Athena.
The cluster needs a Hive connector catalog (`EDGESTATS_TRINO_CATALOG`, default `hive`)
whose metastore is Glue (`hive.metastore=glue`) over S3 or S3-compatible storage, with
writes to external tables allowed (`hive.non-managed-table-writes-enabled=true`):
partition registration and the atomic day replace go through the Glue API, shared with
the Athena backend (`catalog.py`).  Only running a statement is this module's: the
`trino` client from PyPI.  `make trino-up` runs such a cluster on this machine.
"""

from __future__ import annotations

import os
from functools import cached_property
from urllib.parse import urlparse

import requests
import trino
from trino.exceptions import TrinoQueryError

from edge.config import ConfigError, Settings
from orchestration.backends.catalog import (  # noqa: F401 - the names callers catch
    CatalogBackendError,
    CatalogEngine,
    Executed,
    QueryFailed,
)
from orchestration.statements import identifier

PASSWORD_VARIABLE = "EDGESTATS_TRINO_PASSWORD"  # read here only: a secret, not a setting


class TrinoEngine(CatalogEngine):
    name = "trino"

    def __init__(self, settings: Settings, *, poll_seconds: float = 5.0):
        if not settings.trino_url:
            raise ConfigError("the trino backend needs EDGESTATS_TRINO_URL, the coordinator's "
                              "http(s)://host:port (`make trino-up` prints one for a local stack)")
        url = urlparse(settings.trino_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"EDGESTATS_TRINO_URL={settings.trino_url!r} is not an "
                              "http(s)://host:port address")
        try:
            self.catalog = identifier(settings.trino_catalog)
        except ValueError as e:
            raise ConfigError(f"EDGESTATS_TRINO_CATALOG: {e}") from None
        super().__init__(settings, database=settings.athena_database, poll_seconds=poll_seconds)
        self.url = url

    @cached_property
    def _connection(self):
        password = os.environ.get(PASSWORD_VARIABLE)
        user = self.url.username or self.settings.trino_user
        auth = trino.auth.BasicAuthentication(user, password) if password else None
        if auth and self.url.scheme != "https":
            raise ConfigError(f"{PASSWORD_VARIABLE} is set but EDGESTATS_TRINO_URL is not "
                              "https: Trino takes passwords over TLS only")
        return trino.dbapi.connect(
            host=self.url.hostname,
            port=self.url.port or (443 if self.url.scheme == "https" else 8080),
            http_scheme=self.url.scheme,
            user=user,
            auth=auth,
            catalog=self.catalog,
            schema=self.database,
            source="edgestats",
        )

    def _execute(self, sql: str, what: str) -> Executed:
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql)
            rows = [tuple(r) for r in cursor.fetchall()]
        except TrinoQueryError as e:
            raise QueryFailed(
                f"Trino query {e.query_id or '(not started)'} for {what} failed: "
                f"{e.error_name}: {e.message}", e.query_id, "FAILED", e.message,
                e.error_name) from None
        except requests.exceptions.RequestException as e:
            raise CatalogBackendError(
                f"cannot reach Trino at {self.settings.trino_url} for {what}: "
                f"{type(e).__name__}; check EDGESTATS_TRINO_URL and that the cluster is up "
                "(`make trino-up` for the local stack)") from None
        finally:
            cursor.close()
        stats = cursor.stats or {}
        update = cursor.update_type
        columns = [d[0] for d in cursor.description] if cursor.description and not update else []
        return Executed(
            query_id=cursor.query_id,
            statement_type=update or "SELECT",
            columns=columns,
            rows=rows if columns else [],
            bytes_scanned=int(stats.get("physicalInputBytes") or stats.get("processedBytes") or 0),
            engine_ms=int(stats.get("elapsedTimeMillis") or 0),
            update_count=int(rows[0][0]) if update == "INSERT" and rows else None,
        )

    def close(self) -> None:
        if "_connection" in self.__dict__:
            self._connection.close()
        super().close()
