"""Where an address or a warehouse is: coordinates from a postal code or a country.

US postal codes resolve offline through the ``zipcodes`` package; any other place falls
back to its country's centre (``centroids``). Lookups are cached per process: the first
one loads the package's data (seconds), so checkout resolves the buyer's location before
it locks anything.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import zipcodes

from models.warehouses.centroids import CENTROIDS

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Place:
    """A point and how it was found: ``postal_code`` or ``country`` (centroid)."""

    latitude: float
    longitude: float
    source: str


@functools.lru_cache(maxsize=4096)
def postal_code_place(country: str, postal_code: str) -> Place | None:
    """The coordinates of a postal code, or None when it cannot be placed offline."""
    if country.upper() != "US":
        return None
    code = postal_code.strip()[:5]
    try:
        matches = zipcodes.matching(code)  # type: ignore[no-untyped-call]  # untyped library
    except (TypeError, ValueError):
        return None
    if not matches:
        return None
    return Place(float(matches[0]["lat"]), float(matches[0]["long"]), "postal_code")


def locate(country: str | None, postal_code: str | None) -> Place | None:
    """Best-known coordinates of an address: its postal code, else its country's centre."""
    if not country:
        return None
    country = country.upper()
    if postal_code:
        place = postal_code_place(country, postal_code)
        if place is not None:
            return place
    centre = CENTROIDS.get(country)
    return Place(*centre, "country") if centre else None


def haversine_km(a: Place, b: Place) -> float:
    """Great-circle distance between two points, in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
