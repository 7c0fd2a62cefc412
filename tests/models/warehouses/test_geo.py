"""Places from postal codes (US, offline) or country centres, and straight-line distance."""

from __future__ import annotations

from models.warehouses import geo


def test_a_us_postal_code_places_the_address():
    place = geo.locate("us", "10001-1234")
    assert place.source == "postal_code"
    assert round(place.latitude) == 41 and round(place.longitude) == -74


def test_other_addresses_fall_back_to_the_country_centre_or_nothing():
    assert geo.locate("DE", "10115").source == "country"
    assert geo.locate("US", "00000").source == "country"
    assert geo.locate("XX", "1") is None
    assert geo.locate(None, "10001") is None


def test_haversine_new_york_to_los_angeles():
    distance = geo.haversine_km(geo.locate("US", "10001"), geo.locate("US", "90012"))
    assert 3900 < distance < 4000
