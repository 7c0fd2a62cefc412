"""Request metrics of the web process family on ``/metrics``: requests by route, method
and status, latency by route, requests in flight.

A WSGI wrapper around the Flask app, so every answer counts, the 404s, 405s and 413s
the app raises included. The route label is the matched URL rule (``/api/carts/<cart_id>``),
never the raw path: ``unmatched`` for a path no rule serves, so a scan of random paths
cannot grow the label set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "cartfleet_http_requests_total",
    "Requests answered by the web, by route (URL rule), method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "cartfleet_http_request_duration_seconds",
    "Time from the request reaching the app to its response head, by route (URL rule).",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge(
    "cartfleet_http_requests_in_flight",
    "Requests inside the app now, summed over the live web processes.",
    multiprocess_mode="livesum",
)

_ROUTE_KEY = "cartfleet.route"
UNMATCHED = "unmatched"


def _note_route() -> None:
    rule = request.url_rule
    request.environ[_ROUTE_KEY] = rule.rule if rule is not None else UNMATCHED


def install(app: Flask) -> None:
    """Measure every request ``app`` answers."""
    # First of the app's hooks: one that refuses the request (401, 413) must not hide
    # the route.
    app.before_request_funcs.setdefault(None, []).insert(0, _note_route)
    inner = app.wsgi_app

    def measured(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["500"]

        def record_status(code: str, headers: list, *exc_info: Any) -> Callable:
            status[0] = code[:3]
            return start_response(code, headers, *exc_info)

        IN_FLIGHT.inc()
        try:
            return inner(environ, record_status)
        finally:
            IN_FLIGHT.dec()
            route = environ.get(_ROUTE_KEY, UNMATCHED)
            LATENCY.labels(route).observe(time.perf_counter() - started)
            REQUESTS.labels(route, environ.get("REQUEST_METHOD", ""), status[0]).inc()

    app.wsgi_app = measured  # type: ignore[method-assign]
