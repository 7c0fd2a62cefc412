"""The invariants' own assumptions about the fleet, checked without booting one."""

from __future__ import annotations

from jobs.stripe_payloads import OBJECTS
from tests.faults.invariants import HANDLED_EVENT_TYPES


def test_the_invariants_know_the_event_types_the_fleet_applies():
    assert frozenset(OBJECTS) == HANDLED_EVENT_TYPES
