"""Webhook delivery: Stripe's signature, retries with backoff, and the chaos switches.

One background thread sends every due delivery (one per event and endpoint). A
delivery succeeds on a 2xx; otherwise it is retried after ``retry_base_s * 2**n``
until ``max_attempts`` or until its event is older than ``horizon_s`` (Stripe gives up
after three days; the sandbox clock can be advanced past that).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from devtools.stripe_sandbox.events import delivery_key, render
from devtools.stripe_sandbox.state import State

logger = logging.getLogger(__name__)

HORIZON_S = 3 * 24 * 3600
# Loopback receivers must not be sent through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    signed = str(timestamp).encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Switches:
    """How deliveries misbehave; every field can be changed while the sandbox runs."""

    duplicate: bool = False  # send every event twice
    reorder: bool = False  # hold due deliveries back and send a window of them shuffled
    delay_s: float = 0.0  # wait this long before the first attempt
    drop: bool = False  # record the delivery as failed without sending it
    paused: bool = False  # send nothing until resumed

    def update(self, changes: dict[str, Any]) -> None:
        names = {field.name: field.type for field in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown switch {name!r}")
            setattr(self, name, float(value) if name == "delay_s" else bool(value))


class Deliverer:
    """The background thread that POSTs events to the registered endpoints."""

    def __init__(
        self,
        state: State,
        switches: Switches,
        *,
        retry_base_s: float = 1.0,
        max_attempts: int = 8,
        horizon_s: float = HORIZON_S,
        timeout_s: float = 10.0,
        reorder_window: int = 3,
        reorder_hold_s: float = 0.5,
    ) -> None:
        self.state = state
        self.switches = switches
        self.retry_base_s = retry_base_s
        self.max_attempts = max_attempts
        self.horizon_s = horizon_s
        self.timeout_s = timeout_s
        self.reorder_window = reorder_window
        self.reorder_hold_s = reorder_hold_s
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self.state.changed:
            self._stopping = True
            self.state.changed.notify_all()
        self._thread.join(timeout=self.timeout_s + 1)

    def _run(self) -> None:
        while True:
            with self.state.changed:
                batch, wait = self._due()
                while not batch and not self._stopping:
                    self.state.changed.wait(timeout=wait)
                    batch, wait = self._due()
                if self._stopping:
                    return
            for delivery in batch:
                try:
                    self._attempt(delivery)
                except Exception:
                    # One bad delivery must not end the thread that sends all the others.
                    logger.exception("delivery of %s failed", delivery["event"])

    def _due_at(self, delivery: dict[str, Any]) -> float:
        delay = self.switches.delay_s if not delivery["attempts"] else 0.0
        return delivery["next_at"] + delay

    def _due(self) -> tuple[list[dict[str, Any]], float | None]:
        """The deliveries to send now, and how long to wait if there are none."""
        if self.switches.paused:
            return [], None
        now, events = self.state.now(), self.state.data["events"]
        due, waits = [], []
        for delivery in self.state.data["deliveries"].values():
            if delivery["status"] != "pending":
                continue
            if events[delivery["event"]]["created"] + self.horizon_s < now:
                delivery["status"] = "failed"
                delivery["gave_up"] = "older than the retry window"
                self.state.save()
            elif (at := self._due_at(delivery)) <= now:
                due.append(delivery)
            else:
                waits.append(at - now)
        wait = min(waits) if waits else None
        if self.switches.reorder and due:
            oldest = min(self._due_at(d) for d in due)
            if len(due) < self.reorder_window and now - oldest < self.reorder_hold_s:
                return [], self.reorder_hold_s - (now - oldest)
            return _shuffled(due[: self.reorder_window]), wait
        return due, wait

    def _attempt(self, delivery: dict[str, Any]) -> None:
        with self.state.lock:
            key = delivery_key(delivery["event"], delivery["endpoint"])
            if self.state.data["deliveries"].get(key) is not delivery:
                return  # forgotten by a reset while it waited
            endpoint = self.state.data["endpoints"].get(delivery["endpoint"])
            if endpoint is None:
                delivery["status"] = "failed"
                delivery["gave_up"] = "endpoint removed"
                self.state.save()
                return
            event = render(self.state, self.state.data["events"][delivery["event"]])
            drop, copies = self.switches.drop, 2 if self.switches.duplicate else 1
        # Compact: the indenting encoder is pure Python, the compact one C.
        payload = json.dumps(event, separators=(",", ":")).encode()
        results = (
            [(None, "dropped by the sandbox")]
            if drop
            else [self._post(endpoint, payload) for _ in range(copies)]
        )
        with self.state.lock:
            for status, error in results:
                delivery["attempts"].append(
                    {"at": self.state.now(), "status": status, "error": error}
                )
            if any(status is not None and 200 <= status < 300 for status, _ in results):
                delivery["status"] = "succeeded"
            elif drop or len(delivery["attempts"]) >= self.max_attempts:
                delivery["status"] = "failed"
            else:
                failures = len(delivery["attempts"])
                delivery["next_at"] = self.state.now() + self.retry_base_s * 2 ** (failures - 1)
            self.state.save()
            self.state.changed.notify_all()

    def _post(self, endpoint: dict[str, Any], payload: bytes) -> tuple[int | None, str | None]:
        # The signature uses the real clock: receivers check it against their own.
        request = urllib.request.Request(
            endpoint["url"],
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, endpoint["secret"], int(time.time())),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        try:
            with _OPENER.open(request, timeout=self.timeout_s) as response:
                return response.status, None
        except urllib.error.HTTPError as error:
            error.close()
            return error.code, f"HTTP {error.code}"
        except (OSError, ValueError) as error:
            return None, str(error)


def _shuffled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A shuffle that happens to keep the order would make the switch look broken.
    if len(items) < 2:
        return items
    shuffled = items[:]
    while shuffled == items:
        random.shuffle(shuffled)
    return shuffled
