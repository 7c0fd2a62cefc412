"""Webhook delivery: Stripe's signature, retries with backoff, and the chaos switches.

One background thread picks the due deliveries (one per event and endpoint) and hands
them to ``senders`` threads, which POST them concurrently, as Stripe does, each on a
kept-alive connection of its own. A delivery succeeds on a 2xx; otherwise it is retried
after ``retry_base_s * 2**n`` until ``max_attempts`` or until its event is older than
``horizon_s`` (Stripe gives up after three days; the sandbox clock can be advanced past
that).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import json
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from devtools.stripe_sandbox.events import delivery_key, render
from devtools.stripe_sandbox.state import State

logger = logging.getLogger(__name__)

HORIZON_S = 3 * 24 * 3600
SENDERS = 8


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
        senders: int = SENDERS,
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
        # Deliveries handed to a sender and not yet recorded: never picked twice.
        self._in_flight: set[str] = set()
        # The keys of the pending deliveries, so a scan skips the thousands already sent.
        # Deliveries are only ever added (a reset replaces the whole table): the keys
        # past the count already seen are the new ones.
        self._pending: dict[str, None] = {}
        self._table: dict[str, Any] | None = None
        self._seen = 0
        self._queue: queue.SimpleQueue[list[dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._senders = [
            threading.Thread(target=self._send, name=f"sandbox-webhooks-{n}", daemon=True)
            for n in range(senders)
        ]

    def start(self) -> None:
        for sender in self._senders:
            sender.start()
        self._thread.start()

    def stop(self) -> None:
        with self.state.changed:
            self._stopping = True
            self.state.changed.notify_all()
        self._thread.join(timeout=self.timeout_s + 1)
        for _ in self._senders:
            self._queue.put(None)
        for sender in self._senders:
            sender.join(timeout=self.timeout_s + 1)

    def _run(self) -> None:
        while True:
            with self.state.changed:
                batch, wait = self._due()
                while not batch and not self._stopping:
                    self.state.changed.wait(timeout=wait)
                    batch, wait = self._due()
                if self._stopping:
                    return
                for group in batch:
                    self._in_flight.update(self._key(delivery) for delivery in group)
            for group in batch:
                self._queue.put(group)

    def _send(self) -> None:
        connections: dict[str, http.client.HTTPConnection] = {}
        while (group := self._queue.get()) is not None:
            for delivery in group:
                try:
                    self._attempt(delivery, connections)
                except Exception:
                    # One bad delivery must not end the thread that sends all the others.
                    logger.exception("delivery of %s failed", delivery["event"])
                finally:
                    with self.state.changed:
                        self._in_flight.discard(self._key(delivery))
                        self.state.changed.notify_all()
        for connection in connections.values():
            connection.close()

    @staticmethod
    def _key(delivery: dict[str, Any]) -> str:
        return delivery_key(delivery["event"], delivery["endpoint"])

    def _due_at(self, delivery: dict[str, Any]) -> float:
        delay = self.switches.delay_s if not delivery["attempts"] else 0.0
        return delivery["next_at"] + delay

    def _due(self) -> tuple[list[list[dict[str, Any]]], float | None]:
        """The deliveries to send now, in groups a sender sends in order (one each, or a
        shuffled window of ``reorder_window`` when reordering), and how long to wait if
        there are none."""
        if self.switches.paused:
            return [], None
        now, events = self.state.now(), self.state.data["events"]
        due, waits = [], []
        for key, delivery in self._pending_deliveries():
            if key in self._in_flight:
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
            window = self.reorder_window
            return [_shuffled(due[i : i + window]) for i in range(0, len(due), window)], wait
        return [[delivery] for delivery in due], wait

    def _pending_deliveries(self) -> list[tuple[str, dict[str, Any]]]:
        deliveries = self.state.data["deliveries"]
        if deliveries is not self._table:
            self._table, self._pending, self._seen = deliveries, {}, 0
        if len(deliveries) > self._seen:
            self._pending.update(dict.fromkeys(list(deliveries)[self._seen :]))
            self._seen = len(deliveries)
        pending = []
        for key in list(self._pending):
            if deliveries[key]["status"] == "pending":
                pending.append((key, deliveries[key]))
            else:
                del self._pending[key]
        return pending

    def _attempt(
        self, delivery: dict[str, Any], connections: dict[str, http.client.HTTPConnection]
    ) -> None:
        with self.state.lock:
            key = self._key(delivery)
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
            else [self._post(endpoint, payload, connections) for _ in range(copies)]
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

    def _post(
        self,
        endpoint: dict[str, Any],
        payload: bytes,
        connections: dict[str, http.client.HTTPConnection],
    ) -> tuple[int | None, str | None]:
        # The signature uses the real clock: receivers check it against their own.
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, endpoint["secret"], int(time.time())),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        url = urlsplit(endpoint["url"])
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        # A kept connection the receiver closed while idle fails before any answer: that
        # one attempt is made again on a new connection.
        for fresh in (endpoint["url"] not in connections, True):
            connection = connections.get(endpoint["url"])
            if connection is None:
                connection_class = (
                    http.client.HTTPSConnection
                    if url.scheme == "https"
                    else http.client.HTTPConnection
                )
                connection = connection_class(url.netloc, timeout=self.timeout_s)
                connections[endpoint["url"]] = connection
            try:
                connection.request("POST", path, body=payload, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException, ValueError) as error:
                connection.close()
                del connections[endpoint["url"]]
                if fresh or not isinstance(error, _STALE):
                    return None, str(error) or type(error).__name__
                continue
            if response.will_close:
                connection.close()
                del connections[endpoint["url"]]
            if 200 <= response.status < 300:
                return response.status, None
            return response.status, f"HTTP {response.status}"
        raise AssertionError("unreachable")


# What a kept-alive connection the other side had closed fails with.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _shuffled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A shuffle that happens to keep the order would make the switch look broken.
    if len(items) < 2:
        return items
    shuffled = items[:]
    while shuffled == items:
        random.shuffle(shuffled)
    return shuffled
