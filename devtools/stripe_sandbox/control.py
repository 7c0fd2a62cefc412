"""The sandbox's own JSON API under ``/_sandbox/``: endpoints, switches, clock, outages.

It has no authentication: the sandbox listens on loopback and holds test data only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from devtools.stripe_sandbox import confirmation
from devtools.stripe_sandbox.payment_intents import get_intent
from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.webhooks import Switches
from devtools.stripe_sandbox.wire import StripeError, invalid

Response = tuple[int, dict[str, Any]]


class Control:
    """Control handlers bound to one sandbox's state and switches."""

    def __init__(self, state: State, switches: Switches, on_reset: Callable[[], None]) -> None:
        self.state = state
        self.switches = switches
        self.on_reset = on_reset
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., dict[str, Any]]]] = [
            (method, re.compile("/_sandbox" + pattern), handler)
            for method, pattern, handler in [
                ("GET", "/health", lambda body: {"ok": True}),
                ("GET", "/webhook_endpoints", lambda body: {"data": self.endpoints()}),
                ("POST", "/webhook_endpoints", self.add_endpoint),
                ("DELETE", "/webhook_endpoints/([^/]+)", self.remove_endpoint),
                ("GET", "/switches", lambda body: self.switch_values()),
                ("POST", "/switches", self.set_switches),
                ("POST", "/fail_next", self.fail_next),
                ("POST", "/clock/advance", self.advance_clock),
                ("POST", "/payment_intents/([^/]+)/authenticate", self.authenticate),
                ("GET", "/requests", lambda body: {"data": list(self.state.requests)}),
                ("DELETE", "/requests", self.clear_requests),
                ("GET", "/deliveries", lambda body: {"data": self.deliveries()}),
                ("POST", "/reset", self.reset),
            ]
        ]

    def handle(self, method: str, path: str, body: dict[str, Any]) -> Response:
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path.rstrip("/"))
            if match and route_method == method:
                try:
                    with self.state.lock:
                        return 200, handler(body, *match.groups())
                except StripeError as error:
                    return error.status, error.json()
                except (KeyError, TypeError, ValueError) as error:
                    return 400, invalid(f"Bad control request: {error}").json()
        return 404, invalid(f"Unknown control URL ({method}: {path}).").json()

    def endpoints(self) -> list[dict[str, Any]]:
        return list(self.state.data["endpoints"].values())

    def add_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = {
            "id": new_id("we"),
            "object": "webhook_endpoint",
            "url": str(body["url"]),
            "secret": body.get("secret") or new_id("whsec"),
            "enabled_events": list(body.get("enabled_events") or ["*"]),
            "created": self.state.timestamp(),
        }
        self.state.data["endpoints"][endpoint["id"]] = endpoint
        self.state.save()
        return endpoint

    def remove_endpoint(self, body: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
        if self.state.data["endpoints"].pop(endpoint_id, None) is None:
            raise StripeError(404, "invalid_request_error", f"No such endpoint: {endpoint_id}")
        self.state.save()
        self.state.changed.notify_all()
        return {"id": endpoint_id, "deleted": True}

    def switch_values(self) -> dict[str, Any]:
        return vars(self.switches).copy()

    def set_switches(self, body: dict[str, Any]) -> dict[str, Any]:
        self.switches.update(body)
        self.state.changed.notify_all()
        return self.switch_values()

    def fail_next(self, body: dict[str, Any]) -> dict[str, Any]:
        self.state.fail_next = int(body["count"])
        self.state.fail_status = int(body.get("status", 500))
        return {"count": self.state.fail_next, "status": self.state.fail_status}

    def advance_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        offset = self.state.advance_clock(float(body["seconds"]))
        return {"offset": offset, "now": self.state.now()}

    def authenticate(self, body: dict[str, Any], intent_id: str) -> dict[str, Any]:
        intent = get_intent(self.state, intent_id)
        confirmation.authenticate(self.state, intent, fail=bool(body.get("fail")))
        self.state.save()
        return intent

    def clear_requests(self, body: dict[str, Any]) -> dict[str, Any]:
        self.state.requests.clear()
        return {"data": []}

    def deliveries(self) -> list[dict[str, Any]]:
        events = self.state.data["events"]
        return [
            {**delivery, "type": events[delivery["event"]]["type"]}
            for delivery in self.state.data["deliveries"].values()
        ]

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        self.state.reset()
        self.switches.update(vars(Switches()))
        self.on_reset()
        return {"reset": True}
