"""The ``faults`` marker: scenarios that boot a whole fleet (FAULTS_MODE=short by default)."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "faults: a fault-injection scenario running a whole fleet under load"
    )
