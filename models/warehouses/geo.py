"""Where an address or a warehouse is: coordinates from a postal code or a country.

US postal codes resolve offline through the ``zipcodes`` package; any other place falls
back to its country's centre (``centroids``). The package's data is indexed by code once
per process, on the first lookup (a few tenths of a second, so checkout resolves the
buyer's location before it locks anything); every lookup after it is a dict get.
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


@functools.cache
def _us_coordinates() -> dict[str, tuple[float, float]]:
    """Latitude and longitude by five-digit US code, the first record of each code.

    ``zipcodes.matching`` scans all 42,000 records per call; one pass here replaces it.
    """
    coordinates: dict[str, tuple[float, float]] = {}
    for record in zipcodes.list_all():  # type: ignore[no-untyped-call]  # untyped library
        coordinates.setdefault(record["zip_code"], (float(record["lat"]), float(record["long"])))
    return coordinates


def load_postal_codes() -> None:
    """Build the postal-code index now: web workers do it as they start, so no buyer's
    checkout waits on it."""
    _us_coordinates()


def postal_code_place(country: str, postal_code: str) -> Place | None:
    """The coordinates of a postal code (ZIP or ZIP+4), or None when it cannot be placed offline."""
    if country.upper() != "US":
        return None
    found = _us_coordinates().get(postal_code.strip()[:5])
    return Place(*found, "postal_code") if found else None


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
