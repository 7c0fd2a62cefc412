"""``SandboxControl``: the Python client of the sandbox's ``/_sandbox/`` control API."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SandboxControlError(RuntimeError):
    """The control API refused a call."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class SandboxControl:
    """Drive a running sandbox: webhooks, switches, outages, clock, 3DS, request log."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_sandbox{path}",
            data=json.dumps(body or {}).encode() if method != "GET" else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                message = json.load(error).get("error", {}).get("message", "")
            raise SandboxControlError(error.code, message) from None

    def health(self) -> bool:
        return self._call("GET", "/health")["ok"]

    def add_webhook(
        self, url: str, secret: str | None = None, enabled_events: list[str] | None = None
    ) -> dict[str, Any]:
        """Register an endpoint; returns it with its ``id`` and signing ``secret``."""
        body = {"url": url, "secret": secret, "enabled_events": enabled_events}
        return self._call("POST", "/webhook_endpoints", body)

    def remove_webhook(self, endpoint_id: str) -> None:
        self._call("DELETE", f"/webhook_endpoints/{endpoint_id}")

    def webhooks(self) -> list[dict[str, Any]]:
        return self._call("GET", "/webhook_endpoints")["data"]

    def switches(self) -> dict[str, Any]:
        return self._call("GET", "/switches")

    def set_switches(self, **switches: Any) -> dict[str, Any]:
        """``duplicate``, ``reorder``, ``drop``, ``paused`` (bools) and ``delay_s``."""
        return self._call("POST", "/switches", switches)

    def pause(self) -> None:
        self.set_switches(paused=True)

    def resume(self) -> None:
        self.set_switches(paused=False)

    def fail_next_requests(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` API requests with a Stripe-shaped ``api_error``."""
        self._call("POST", "/fail_next", {"count": count, "status": status})

    def advance_clock(self, seconds: float) -> float:
        """Move the sandbox clock forward; returns the total offset."""
        return self._call("POST", "/clock/advance", {"seconds": seconds})["offset"]

    def authenticate(self, intent_id: str, *, fail: bool = False) -> dict[str, Any]:
        """Pass (or fail) the 3D Secure step of a ``requires_action`` intent."""
        return self._call("POST", f"/payment_intents/{intent_id}/authenticate", {"fail": fail})

    def requests(self) -> list[dict[str, Any]]:
        """Every API request received since start or the last ``clear_requests``."""
        return self._call("GET", "/requests")["data"]

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def deliveries(self) -> list[dict[str, Any]]:
        """One row per event and endpoint: status, attempts (time, HTTP status, error)."""
        return self._call("GET", "/deliveries")["data"]

    def wait_for_deliveries(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Poll until no delivery is pending; raises ``TimeoutError`` at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            deliveries = self.deliveries()
            if all(d["status"] != "pending" for d in deliveries):
                return deliveries
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries still pending")
            time.sleep(0.02)

    def reset(self) -> None:
        """Forget every object, event, delivery and request; switches back to defaults."""
        self._call("POST", "/reset")
