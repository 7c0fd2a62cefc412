"""Each fault under the load, in the short mode unless FAULTS_MODE says otherwise.

Given a fresh fleet under the mixed load, when the scenario's fault happens and ends,
then every invariant of ``tests/faults/invariants.py`` holds again before the recovery
deadline and clients saw no 5xx outside the outage the scenario declares.
"""

from __future__ import annotations

import json

import pytest

from tests.faults.scenarios import SCENARIOS, run_scenario

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name):
    result = run_scenario(name)
    print(json.dumps(result, indent=1))
    if "skipped" in result:
        pytest.skip(result["skipped"])
    assert result["held"], json.dumps(
        {k: result[k] for k in ("broken", "undeclared_errors", "logs")}, indent=1
    )
