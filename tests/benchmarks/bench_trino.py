"""The 1M-page-view day on Trino and on DuckDB, side by side in one run.

The same simulated landing objects (bench_pipeline's cached day) go to the local backend
and, uploaded to moto's S3, to the trino backend of `orchestration.devstack` (one Trino
476 node on this machine, 4 GB heap).  Each side runs every asset and check through the
same `materialize` in a child process; the figures are their wall times and what Trino
read: the sum of its queries' physical input bytes, from Trino's own query statistics.
Trino is a distributed engine run here on one node of 2 cores against an S3 emulator, so
this measures the cost of the SQL on Trino's engine, not what a cluster would do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from edge.config import Settings
from orchestration import devstack, landing_store
from tests.benchmarks.bench_pipeline import DAY, cached_landing, materialize_in_child
from tests.benchmarks.figures import figure_maker

ROOT = Path(__file__).resolve().parents[2]
figure = figure_maker("trino")
UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def _bytes(size: str) -> int:
    """A Trino DataSize ("12.5MB", "0B") in bytes."""
    m = re.fullmatch(r"([0-9.]+)\s*([kMGT]?B)", size)
    return int(float(m.group(1)) * UNITS[m.group(2)]) if m else 0


SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(duration: str) -> float:
    """A Trino Duration ("450.00ms", "1.23s", "2.00m") in seconds."""
    m = re.fullmatch(r"([0-9.]+)\s*(ns|us|ms|s|m|h|d)", duration)
    return float(m.group(1)) * SECONDS[m.group(2)] if m else 0.0


def trino_read(stack: devstack.Stack, since: float) -> tuple[int, int, float]:
    """(queries, physical input bytes, their elapsed seconds) since `since` (epoch s)."""
    import trino

    con = trino.dbapi.connect(host="127.0.0.1", port=stack.trino_port, user="bench",
                              catalog="system", schema="runtime")
    cur = con.cursor()
    sql = f"SELECT query_id FROM queries WHERE source = 'edgestats' AND created >= from_unixtime({float(since)})"  # noqa: S608, E501 - a float
    cur.execute(sql)
    ids = [r[0] for r in cur.fetchall()]
    total, elapsed = 0, 0.0
    for query_id in ids:
        with urllib.request.urlopen(urllib.request.Request(
                f"{stack.trino_url}/v1/query/{query_id}", headers={"X-Trino-User": "bench"}),
                timeout=30) as answer:
            stats = json.loads(answer.read())["queryStats"]
        total += _bytes(stats.get("physicalInputDataSize", "0B"))
        elapsed += _seconds(stats.get("elapsedTime", "0s"))
    return len(ids), total, elapsed


def run(quick: bool = False) -> list[dict]:
    views = 50_000 if quick else 1_000_000
    reason = devstack.missing_prerequisite()
    if reason:
        raise RuntimeError(reason)
    with tempfile.TemporaryDirectory(prefix="bench-trino-") as tmp:
        tmp = Path(tmp)
        stack = devstack.start(tmp / "devstack")
        try:
            local_home, trino_home = tmp / "local", tmp / "trino"
            cached_landing(local_home, DAY, 1, views, seed=1)
            env = {**os.environ, **stack.environment(), "EDGESTATS_HOME": str(trino_home)}
            os.environ.update({k: v for k, v in stack.environment().items()
                               if k.startswith("AWS_")})
            t0 = time.perf_counter()
            objects = landing_store.publish(local_home / "landing",
                                            Settings.from_env({**env}))
            upload_s = time.perf_counter() - t0
            local = materialize_in_child(local_home, DAY, DAY)
            since = time.time()
            proc = subprocess.run([sys.executable, "-m", "orchestration.cli", "materialize",
                                   "--start", DAY.isoformat(), "--end", DAY.isoformat()],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            trino_s = time.perf_counter() - t0 - upload_s - local["seconds"]
            if proc.returncode != 0:
                raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
            wall = re.search(r"run succeeded in ([0-9.]+) s", proc.stdout)
            queries, read, engine_s = trino_read(stack, since)
        finally:
            devstack.stop(tmp / "devstack")
    trino_wall = float(wall.group(1)) if wall else trino_s
    size = f"{views:,}-page-view day"
    return [
        figure(f"{size}, all assets and checks, local backend (DuckDB)", local["seconds"], "s",
               note="the same `materialize`, in a child process"),
        figure(f"{size}, all assets and checks, trino backend", trino_wall, "s",
               note=f"one Trino 476 node (4 GB heap, 2 cores) over moto's S3 and Glue; "
                    f"{queries} queries, {engine_s:.1f} s of them in Trino"),
        figure("Trino / DuckDB, the same day", trino_wall / local["seconds"], "x"),
        figure("bytes Trino read (physical input, all queries)", read, "B",
               note="raw_events is read by the checks, the profile and events; the "
                    "summaries read the clean events' Parquet"),
        figure("landing objects uploaded to the S3 landing", objects, "objects",
               note=f"{upload_s:.1f} s to moto"),
    ]


if __name__ == "__main__":  # pragma: no cover
    for f in run(quick="--quick" in sys.argv):
        print(f)
