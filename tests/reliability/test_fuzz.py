"""Fuzzing the doors: the Lambda@Edge handler, the beacon body, the log parser and the
transform Lambda (promises in `fuzz_targets`).  A modest number of cases here; the
benchmark `bench_fuzz` runs >= 10,000 each and records the figures."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.reliability import fuzz_targets

pytestmark = pytest.mark.timeout(300)

EXAMPLES = 150


@pytest.fixture(autouse=True)
def in_memory_doors():
    fuzz_targets.configure()
    yield
    fuzz_targets.restore()


@pytest.mark.parametrize("name", list(fuzz_targets.TARGETS))
def test_fuzz_target_keeps_its_promises(name, capsys):
    strategy, check = fuzz_targets.TARGETS[name]

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(case):
        check(case)

    run()
