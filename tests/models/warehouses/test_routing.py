"""Routing: fewest shipments, then nearest, then priority; splits over the fewest warehouses."""

from __future__ import annotations

from models.warehouses import routing
from models.warehouses.routing import Candidate


def parts(allocation):
    return {part.warehouse: part.lines for part in allocation.parts}


def test_one_warehouse_covering_the_order_beats_a_nearer_split():
    near = Candidate("near", {"A": 2, "B": 0}, distance_km=10)
    far = Candidate("far", {"A": 2, "B": 1}, distance_km=3000)

    allocation = routing.route({"A": 2, "B": 1}, [near, far])

    assert parts(allocation) == {"far": {"A": 2, "B": 1}}
    assert "holds the whole order" in allocation.reason


def test_the_nearest_covering_warehouse_wins_then_priority_then_code():
    lines = {"A": 1}
    nearest = routing.route(lines, [Candidate("b", {"A": 1}, 500), Candidate("a", {"A": 1}, 100)])
    assert parts(nearest) == {"a": {"A": 1}}

    ranked = routing.route(
        lines, [Candidate("low", {"A": 1}, 100, 1), Candidate("high", {"A": 1}, 100, 5)]
    )
    assert parts(ranked) == {"high": {"A": 1}}

    unknown_last = routing.route(
        lines, [Candidate("nowhere", {"A": 1}, None, 9), Candidate("far", {"A": 1}, 9000)]
    )
    assert parts(unknown_last) == {"far": {"A": 1}}


def test_an_order_no_warehouse_covers_splits_over_the_fewest():
    candidates = [
        Candidate("a", {"A": 1, "B": 0, "C": 0}, 10),
        Candidate("b", {"A": 0, "B": 1, "C": 0}, 20),
        Candidate("c", {"A": 0, "B": 0, "C": 1}, 30),
        Candidate("bc", {"A": 0, "B": 1, "C": 1}, 4000),
    ]

    allocation = routing.route({"A": 1, "B": 1, "C": 1}, candidates)

    assert parts(allocation) == {"a": {"A": 1}, "bc": {"B": 1, "C": 1}}
    assert "split over 2" in allocation.reason


def test_a_line_splits_across_warehouses_nearest_first():
    allocation = routing.route(
        {"A": 5}, [Candidate("far", {"A": 4}, 900), Candidate("near", {"A": 3}, 10)]
    )
    assert parts(allocation) == {"near": {"A": 3}, "far": {"A": 2}}


def test_no_allocation_when_the_warehouses_together_fall_short():
    assert (
        routing.route({"A": 3}, [Candidate("a", {"A": 1}, 1), Candidate("b", {"A": 1}, 2)]) is None
    )


def test_past_the_search_limit_a_greedy_cover_still_covers(monkeypatch):
    monkeypatch.setattr(routing, "SEARCH_LIMIT", 3)
    candidates = [Candidate(f"w{i}", {f"S{i}": 1}, i) for i in range(6)]
    lines = {f"S{i}": 1 for i in range(6)}

    allocation = routing.route(lines, candidates)

    assert sorted(parts(allocation)) == [f"w{i}" for i in range(6)]
    assert "greedy" in allocation.reason
