"""Two overlapping `edgestats materialize` ranges started at once, against one home.

Both are real subprocesses sharing the landing zone, the warehouse and the Dagster
instance; they must both finish, and the tables must equal those of one run over the
union of the ranges in a second home with a copy of the same landing zone.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import Settings
from edge.simulate import simulate_to_landing
from orchestration.commands import materialize
from orchestration.engine import DayRange
from orchestration.tables import WAREHOUSE_TABLES
from tests.orchestration.test_pipeline import read

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2024, 9, 1)
DAYS = DayRange(START, START + dt.timedelta(days=3))


def _materialize(home: Path, first: dt.date, last: dt.date) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGESTATS_")}
    env["EDGESTATS_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "materialize", "--start", first.isoformat(),
         "--end", last.isoformat()],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_overlapping_ranges_at_once_equal_one_run(tmp_path):
    shared, single = tmp_path / "shared", tmp_path / "single"
    simulate_to_landing(shared / "landing", START, len(DAYS), 400, seed=11)
    shutil.copytree(shared / "landing", single / "landing")

    # days 1-3 and 2-4: days 2 and 3 are written by both, at the same time
    runs = [_materialize(shared, DAYS.start, DAYS.end - dt.timedelta(days=1)),
            _materialize(shared, DAYS.start + dt.timedelta(days=1), DAYS.end)]
    outputs = [p.communicate(timeout=400)[0] for p in runs]
    for p, out in zip(runs, outputs, strict=True):
        assert p.returncode == 0, out
        assert "run succeeded" in out

    out = io.StringIO()
    assert materialize(Settings(home=single), DAYS, out=out), out.getvalue()

    for day in DAYS:
        for table in WAREHOUSE_TABLES:
            got = sorted(read(Settings(home=shared), table, day), key=repr)
            want = sorted(read(Settings(home=single), table, day), key=repr)
            assert got == want, (table, day)
    pageviews = sum(r[1] for day in DAYS for r in read(Settings(home=single), "site_daily", day))
    assert pageviews > 0.9 * 400 * len(DAYS)  # bots are left out of site_daily
    # no write left half-done: no staging folders; what is aside is only replaced days
    # (kept a while for queries already reading them), each a whole version
    leftovers = [p for p in (shared / "warehouse").rglob("*") if p.name.startswith(".")
                 and p.name != ".staging"]
    assert all(re.fullmatch(r"\.dt=\d{4}-\d{2}-\d{2}\.old-[0-9a-f]{32}", p.name)
               and len(list(p.glob("part-*.parquet"))) == 1 for p in leftovers), leftovers
    assert not any((shared / "warehouse" / ".staging").iterdir())


def test_first_use_of_a_home_by_four_processes_at_once_creates_one_dagster_instance(tmp_path):
    """Without the instance lock, one of four processes failed in each of 3 tries here with
    sqlite3.OperationalError: table bulk_actions already exists."""
    code = ("import sys, pathlib; from edge.config import Settings; "
            "from orchestration.commands import dagster_instance; "
            "print(dagster_instance(Settings(home=pathlib.Path(sys.argv[1]))).get_runs_count())")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert [o.strip().splitlines()[-1] for o in outputs] == ["0"] * 4
    assert (tmp_path / "dagster" / "dagster.yaml").read_text().startswith("# Dagster instance")
