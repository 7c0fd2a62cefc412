"""Places from postal codes (US, offline) or country centres, and straight-line distance."""

from __future__ import annotations

import zipcodes

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


def test_leading_zeros_whitespace_and_zip_plus_four_place_the_same_code():
    holtsville = geo.postal_code_place("US", "00501")
    assert holtsville == geo.Place(40.8154, -73.0451, "postal_code")
    assert geo.postal_code_place("us", " 00501-0001 ") == holtsville
    assert geo.postal_code_place("US", "005011234") == holtsville


def test_codes_that_are_not_us_postal_codes_are_not_placed():
    for code in ("", "   ", "501", "0050", "abcde", "1000a", "-1000", "00000", "99999"):
        assert geo.postal_code_place("US", code) is None, code
    assert geo.postal_code_place("CA", "10001") is None


def test_a_lookup_places_every_code_as_the_package_scan_does():
    sample = [record["zip_code"] for record in zipcodes.list_all()[::997]]
    for code in sample:
        expected = zipcodes.matching(code)[0]
        place = geo.postal_code_place("US", code)
        assert place.latitude == float(expected["lat"])
        assert place.longitude == float(expected["long"])


def test_a_lookup_does_not_scan_the_package_data(monkeypatch):
    geo.postal_code_place("US", "10001")

    def scan(*args, **kwargs):
        raise AssertionError("scanned")

    monkeypatch.setattr(zipcodes, "matching", scan)
    monkeypatch.setattr(zipcodes, "list_all", scan)
    assert geo.postal_code_place("US", "90012").source == "postal_code"


def test_a_web_worker_indexes_the_postal_codes_before_it_takes_requests(monkeypatch):
    from web import gunicorn_conf

    geo._us_coordinates.cache_clear()
    gunicorn_conf.post_worker_init(worker=None)

    def scan(*args, **kwargs):
        raise AssertionError("scanned")

    monkeypatch.setattr(zipcodes, "list_all", scan)
    assert geo.postal_code_place("US", "10001").source == "postal_code"
