"""Daily salts for the cookieless visitor id (DESIGN section 3).

A salt is 16 random bytes per UTC day.  It is deleted once its day is more than
48 h old, so no one can map a visitor id back to an IP address afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Protocol

SALT_BYTES = 16
RETENTION = dt.timedelta(hours=48)


class SaltStore(Protocol):
    def salt_for(self, day: dt.date) -> bytes: ...


def _expired(day: dt.date, now: dt.datetime) -> bool:
    """A day's salt expires 48 h after the day has ended."""
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return now - end_of_day > RETENTION


class MemorySaltStore:
    """Salts that live only as long as the process: a log import uses one per day for its run."""

    def __init__(self, seed: bytes | None = None):
        self._seed = seed
        self._salts: dict[dt.date, bytes] = {}

    def salt_for(self, day: dt.date) -> bytes:
        s = self._salts.get(day)
        if s is None:
            if self._seed is not None:  # deterministic, for the simulator only
                import hashlib

                s = hashlib.sha256(self._seed + day.isoformat().encode()).digest()[:SALT_BYTES]
            else:
                s = secrets.token_bytes(SALT_BYTES)
            self._salts[day] = s
        return s


class FileSaltStore:
    """The local salt store: one JSON file, mode 0600, written atomically."""

    def __init__(self, path: Path, clock=None):
        self.path = Path(path)
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] | None = None

    def _read(self) -> dict[str, bytes]:
        if self._cache is None:
            try:
                raw = json.loads(self.path.read_text())
                self._cache = {k: bytes.fromhex(v) for k, v in raw.items()}
            except FileNotFoundError:
                self._cache = {}
        return self._cache

    def _write(self, salts: dict[str, bytes]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({k: v.hex() for k, v in sorted(salts.items())}, f)
        os.replace(tmp, self.path)
        self._cache = salts

    def salt_for(self, day: dt.date) -> bytes:
        key = day.isoformat()
        with self._lock:
            salts = self._read()
            s = salts.get(key)
            if s is None:
                s = secrets.token_bytes(SALT_BYTES)
                salts = dict(salts)
                salts[key] = s
                salts = {k: v for k, v in salts.items()
                         if not _expired(dt.date.fromisoformat(k), self._clock())}
                salts.setdefault(key, s)
                self._write(salts)
            return s

    def rotate(self) -> list[str]:
        """Create today's salt and delete expired ones; returns the days deleted."""
        with self._lock:
            self._cache = None
            salts = self._read()
            now = self._clock()
            gone = [k for k in salts if _expired(dt.date.fromisoformat(k), now)]
            keep = {k: v for k, v in salts.items() if k not in gone}
            keep.setdefault(now.date().isoformat(), secrets.token_bytes(SALT_BYTES))
            self._write(keep)
            return sorted(gone)

    def days(self) -> list[str]:
        with self._lock:
            self._cache = None
            return sorted(self._read())
