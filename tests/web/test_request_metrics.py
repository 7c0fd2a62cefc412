"""Every answer of the web is counted by route (URL rule), method and status and timed."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_rule_method_and_status(client):
    route = "/api/carts/<cart_id>"
    before = {
        "found": sample("cartfleet_http_requests_total", route=route, method="GET", status="404"),
        "timed": sample("cartfleet_http_request_duration_seconds_count", route=route),
        "health": sample(
            "cartfleet_http_requests_total", route="/healthz", method="GET", status="200"
        ),
        "unmatched": sample(
            "cartfleet_http_requests_total", route="unmatched", method="GET", status="404"
        ),
        "refused": sample(
            "cartfleet_http_requests_total", route="/admin/api/orders", method="GET", status="401"
        ),
    }

    client.get("/api/carts/no-such-cart")
    client.get("/api/carts/another-one")
    client.get("/healthz")
    client.get("/no/such/path/abc123")
    client.get("/admin/api/orders")

    assert sample("cartfleet_http_requests_total", route=route, method="GET", status="404") == (
        before["found"] + 2
    )
    assert sample("cartfleet_http_request_duration_seconds_count", route=route) == (
        before["timed"] + 2
    )
    assert sample(
        "cartfleet_http_requests_total", route="/healthz", method="GET", status="200"
    ) == (before["health"] + 1)
    assert sample(
        "cartfleet_http_requests_total", route="unmatched", method="GET", status="404"
    ) == (before["unmatched"] + 1)
    assert sample(
        "cartfleet_http_requests_total", route="/admin/api/orders", method="GET", status="401"
    ) == (before["refused"] + 1)
    assert sample("cartfleet_http_requests_in_flight") == 0


def test_the_exposition_carries_them(client):
    client.get("/healthz")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'cartfleet_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert 'cartfleet_http_request_duration_seconds_bucket{le="0.005",route="/healthz"}' in body
    assert "cartfleet_http_requests_in_flight" in body
