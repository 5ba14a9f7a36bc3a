"""Dagster's SQLite run and event-log storages, without a new engine and fsync per write.

Dagster's own SQLite storages build a SQLAlchemy engine and open a fresh connection for
every write (NullPool), and SQLite syncs the database on every commit; a run of 30
partitions writes ~900 events (planned, materialised, check evaluations), each into the
run's shard and the cross-run index, at ~30-50 ms an event.  These subclasses keep one
engine per database with its connections open, and run SQLite in WAL mode with
`synchronous=NORMAL` (a crash can lose the last commits, never corrupt the database).
Same files, same schema: `dagster dev` reads what `edgestats materialize` writes, and a
home made with Dagster's default storages opens with these and vice versa.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# Run shards a long-lived process (the webserver) keeps engines for; older ones are closed.
MAX_OPEN_SHARDS = 8


# WAL pages after which a commit copies the WAL into the database file (SQLite's default
# is 1000).  `dagster dev` follows a run's log by watching the run's .db file, which
# changed on every write when each connection closed; with connections kept open it
# changes at these checkpoints, every few dozen events (measured on 1.5 KB rows: 0.13 ms
# a commit on average, 0.08 ms with SQLite's default).
RUN_SHARD_WAL_AUTOCHECKPOINT = 32


def pooled_engine(conn_string: str, wal_autocheckpoint: int | None = None) -> Engine:
    """An engine that keeps its SQLite connections open between transactions."""

    def pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        if wal_autocheckpoint is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
        cursor.close()

    engine = db.create_engine(
        conn_string,
        poolclass=QueuePool,
        pool_size=2,
        max_overflow=8,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    db.event.listen(engine, "connect", pragmas)
    return engine


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with one open engine per shard (index and recent runs)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._tables: set[str] = set()
        self._asset_key_columns: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = pooled_engine(
                    self.conn_string_for_shard(shard),
                    None if shard == INDEX_SHARD_NAME else RUN_SHARD_WAL_AUTOCHECKPOINT)
                self._engines[shard] = engine
                while len(self._engines) > MAX_OPEN_SHARDS:
                    _, old = self._engines.popitem(last=False)
                    old.dispose()
            self._engines.move_to_end(shard)
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        # asked before every asset and check event; a table, once there, stays
        if table_name in self._tables:
            return True
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            found = bool(engine.dialect.has_table(conn, table_name))
        if found:
            self._tables.add(table_name)
        return found

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        # reflected before every asset event; migrations only ever add these columns
        if column_name in self._asset_key_columns:
            return True
        found = super()._has_asset_key_col_on_connection(conn, column_name)
        if found:
            self._asset_key_columns.add(column_name)
        return found

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class PooledSqliteRunStorage(SqliteRunStorage):
    """`SqliteRunStorage` with one open engine for runs.db."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(conn_string, inst_data)
        self._engine = pooled_engine(conn_string)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteRunStorage:
        return cls.from_local(inst_data=inst_data, **config_value)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()



