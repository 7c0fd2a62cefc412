"""Choosing the warehouses an order ships from, in the order Shopify's routing rules use.

1. Fewest shipments: one warehouse that holds every line wins; an order none covers is
   split over the smallest set of warehouses that together do.
2. Among sets of that size, the nearest to the shipping address (straight-line distance;
   a warehouse whose distance is unknown ranks after every known one).
3. Then ``priority`` (higher first), then the warehouse code, so the choice is stable.

A pure function of free units, distances and priorities: the caller locks the stock rows
and reads those first (``models.stock.reservations``). Sets are tried in rank order, so
the first set that covers the order is also the nearest of its size. The exhaustive
search is bounded (``SEARCH_LIMIT`` sets); past it a greedy cover (most missing units
first) is used, which may split more than needed but never fails to cover.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Sets of warehouses examined before the greedy fallback: every set of up to 10 warehouses
# (1023) stays well inside it.
SEARCH_LIMIT = 5_000


@dataclass(frozen=True)
class Candidate:
    """A warehouse that serves the address, with its free units of the order's skus."""

    warehouse: str
    free: Mapping[str, int]
    distance_km: float | None
    priority: int = 0

    def rank(self) -> tuple[bool, float, int, str]:
        return (self.distance_km is None, self.distance_km or 0.0, -self.priority, self.warehouse)


@dataclass(frozen=True)
class Part:
    """What one warehouse ships: units per sku."""

    warehouse: str
    lines: dict[str, int]
    distance_km: float | None


@dataclass(frozen=True)
class Allocation:
    parts: list[Part]
    reason: str
    candidates: int = 0

    def as_event(self) -> dict[str, object]:
        """The timeline's ``allocated`` line."""
        return {
            "reason": self.reason,
            "candidates": self.candidates,
            "shipments": [
                {
                    "warehouse": part.warehouse,
                    "items": [{"sku": sku, "quantity": n} for sku, n in sorted(part.lines.items())],
                    "distance_km": None if part.distance_km is None else round(part.distance_km),
                }
                for part in self.parts
            ],
        }


def _covers(warehouses: Sequence[Candidate], lines: Mapping[str, int]) -> bool:
    return all(sum(w.free.get(sku, 0) for w in warehouses) >= n for sku, n in lines.items())


def _fill(warehouses: Sequence[Candidate], lines: Mapping[str, int]) -> list[Part]:
    """Each line from the chosen warehouses in rank order; warehouses left empty drop out."""
    taken: dict[str, dict[str, int]] = {w.warehouse: {} for w in warehouses}
    for sku in sorted(lines):
        needed = lines[sku]
        for warehouse in warehouses:
            take = min(needed, max(warehouse.free.get(sku, 0), 0))
            if take:
                taken[warehouse.warehouse][sku] = take
                needed -= take
            if not needed:
                break
    return [
        Part(w.warehouse, taken[w.warehouse], w.distance_km)
        for w in warehouses
        if taken[w.warehouse]
    ]


def _greedy(ranked: Sequence[Candidate], lines: Mapping[str, int]) -> list[Candidate]:
    missing, chosen = dict(lines), []
    while any(missing.values()):
        remaining = [w for w in ranked if w not in chosen]
        best = max(
            remaining,
            key=lambda w: (
                sum(min(w.free.get(s, 0), n) for s, n in missing.items()),
                -ranked.index(w),
            ),
        )
        chosen.append(best)
        for sku in missing:
            missing[sku] = max(missing[sku] - max(best.free.get(sku, 0), 0), 0)
    return sorted(chosen, key=Candidate.rank)


def _describe(chosen: Sequence[Candidate], covering_alone: int, exact: bool) -> str:
    first = chosen[0]
    where = "distance unknown" if first.distance_km is None else f"{first.distance_km:.0f} km"
    if len(chosen) == 1:
        return (
            f"{first.warehouse} holds the whole order; nearest of {covering_alone} that do "
            f"({where}), then priority"
        )
    how = "the fewest warehouses that together hold it" if exact else "a greedy cover"
    return (
        f"no warehouse holds the whole order; split over {len(chosen)} ({how}), "
        "nearest first, then priority"
    )


def route(lines: Mapping[str, int], candidates: Iterable[Candidate]) -> Allocation | None:
    """The allocation of ``lines`` (units per sku) over ``candidates``; None if they fall short."""
    wanted = {sku: n for sku, n in lines.items() if n > 0}
    ranked = sorted(
        (c for c in candidates if any(c.free.get(sku, 0) > 0 for sku in wanted)), key=Candidate.rank
    )
    if not _covers(ranked, wanted):
        return None
    examined, chosen, exact = 0, None, True
    for size in range(1, len(ranked) + 1):
        for subset in itertools.combinations(ranked, size):
            examined += 1
            if _covers(subset, wanted):
                chosen = list(subset)
                break
            if examined >= SEARCH_LIMIT:
                break
        if chosen is not None or examined >= SEARCH_LIMIT:
            break
    if chosen is None:
        chosen, exact = _greedy(ranked, wanted), False
    covering_alone = sum(1 for c in ranked if _covers([c], wanted))
    return Allocation(
        parts=_fill(chosen, wanted),
        reason=_describe(chosen, covering_alone, exact),
        candidates=len(ranked),
    )
