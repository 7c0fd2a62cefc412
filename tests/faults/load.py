"""The mixed load a scenario runs under, from threads in the test process.

Buyers (one thread each) create a cart, add and change items, check out when the
``Pacer`` lets them (a steady offered checkout rate shared by all buyers), and confirm
the PaymentIntent on the sandbox the way Stripe.js would: most with ``pm_card_visa``, one
in ``decline_every`` with ``pm_card_chargeDeclined``. A reader thread browses the
storefront. A staff thread refunds one paid order in ``refund_every`` through the admin
API, alternately in part (``PARTIAL_REFUND_CENTS``) and in full. Every request is
recorded (time, endpoint, status, seconds); status 0 is a connection error or timeout.
Everything is bounded by ``seconds`` and a request count. Each thread keeps its own
connections alive (tests/faults/http.py): the harness's CPU is measured beside the fleet's.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time

from tests.faults.cluster import STRIPE_KEY
from tests.faults.fleet import ADMIN_TOKEN, CATALOGUE
from tests.faults.http import Client, HTTPFailure, Response

TIMEOUT_S = 40  # past services.stripe's 10 s x 3 attempts, so a checkout answers
ADDRESS = {
    "name": "Ada",
    "line1": "1 Loop St",
    "city": "Localhost",
    "postal_code": "1",
    "country": "US",
}
# Buyers near either placed warehouse or nowhere in particular, so routing varies.
POSTAL_CODES = ("10001", "94105", "60601", "1")
PARTIAL_REFUND_CENTS = 100  # below every order's total: the cheapest item costs more
REFUND_AFTER_S = 3  # a payment's webhook is applied by then, unless a fault holds it


@dataclasses.dataclass(frozen=True)
class Record:
    at: float  # time.monotonic()
    endpoint: str
    status: int
    seconds: float


class Pacer:
    """Hands out checkout slots ``1/rate`` apart; a buyer more than 1 s late skips it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self.offered = 0

    def wait(self, deadline: float) -> bool:
        with self._lock:
            now = time.monotonic()
            self._next = max(self._next, now - 1)
            slot, self._next = self._next, self._next + self.interval
            self.offered += 1
        if slot >= deadline:
            return False
        time.sleep(max(0.0, slot - time.monotonic()))
        return True


class Load:
    """``start()`` the threads; they end at ``stop()`` or after ``seconds``, whichever is
    first (``join()`` waits for that); ``summary()`` gives the figures."""

    def __init__(
        self,
        web_url: str,
        sandbox_url: str,
        *,
        buyers: int,
        checkout_rate: float,
        seconds: float,
        decline_every: int = 5,
        refund_every: int = 4,
    ) -> None:
        self.web_url, self.sandbox_url = web_url, sandbox_url
        self.buyers, self.rate, self.seconds = buyers, checkout_rate, seconds
        self.decline_every, self.refund_every = decline_every, refund_every
        self.records: list[Record] = []
        self.payments = {"succeeded": 0, "declined": 0, "unconfirmed": 0}
        self.paid_at: dict[str, float] = {}  # order id -> when its payment succeeded
        self.refunds_requested: dict[int, str] = {}  # refund id (202) -> its order id
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.pacer = Pacer(checkout_rate)
        self.started = self.ended = 0.0

    # --- recording ------------------------------------------------------------------

    def _call(
        self, http: Client, endpoint: str, method: str, path: str, json: object = None
    ) -> Response | None:
        start = time.monotonic()
        try:
            response = http.request(method, path, json_body=json)
            status = response.status_code
        except HTTPFailure:
            response, status = None, 0
        with self._lock:
            self.records.append(Record(start, endpoint, status, time.monotonic() - start))
        return response

    # --- the actors of the load ---------------------------------------------------

    def _buyer(self, number: int) -> None:
        http = Client(self.web_url, timeout=TIMEOUT_S)
        stripe = Client(
            self.sandbox_url, timeout=TIMEOUT_S, headers={"Authorization": f"Bearer {STRIPE_KEY}"}
        )
        rng = random.Random(number)
        try:
            for round_ in range(10_000):
                if self._stop.is_set() or time.monotonic() >= self.deadline:
                    return
                self._shop(http, stripe, rng, number * 10_000 + round_)
        finally:
            http.close()
            stripe.close()

    def _shop(self, http: Client, stripe: Client, rng: random.Random, n: int) -> None:
        cart = self._call(http, "create_cart", "POST", "/api/carts", json={})
        if cart is None or cart.status_code != 201:
            time.sleep(0.2)
            return
        cart_id = cart.json()["id"]
        skus = rng.sample(sorted(CATALOGUE), 2)
        for sku in skus:
            added = self._call(
                http, "add_item", "POST", f"/api/carts/{cart_id}/items",
                json={"sku": sku, "quantity": rng.randint(1, 2)},
            )  # fmt: skip
            if added is None or added.status_code != 200:
                return
        self._call(
            http, "edit_item", "PATCH", f"/api/carts/{cart_id}/items/{skus[1]}",
            json={"quantity": 1},
        )  # fmt: skip
        self._call(http, "read_cart", "GET", f"/api/carts/{cart_id}")
        if not self.pacer.wait(self.deadline) or self._stop.is_set():
            return
        order = self._call(
            http, "checkout", "POST", f"/api/carts/{cart_id}/checkout",
            json={"email": f"buyer{n}@example.com",
                  "shipping_address": {**ADDRESS, "postal_code": POSTAL_CODES[n % 4]},
                  "acknowledge_price_changes": True},
        )  # fmt: skip
        if order is not None and order.status_code == 201:
            declined = n % self.decline_every == 0
            body = order.json()
            self._confirm(stripe, body["order_id"], body["payment_intent_id"], declined)

    def _confirm(self, stripe: Client, order: str, intent: str, declined: bool) -> None:
        method = "pm_card_chargeDeclined" if declined else "pm_card_visa"
        outcome = "unconfirmed"
        for _ in range(3):
            try:
                response = stripe.request(
                    "POST",
                    f"/v1/payment_intents/{intent}/confirm",
                    form={"payment_method": method},
                )
            except HTTPFailure:
                continue
            if response.status_code == 200:
                outcome = "succeeded"
                break
            if response.status_code == 402:
                outcome = "declined"
                break
            time.sleep(0.5)
        with self._lock:
            self.payments[outcome] += 1
            if outcome == "succeeded":
                self.paid_at[order] = time.monotonic()

    def _reader(self) -> None:
        http = Client(self.web_url, timeout=TIMEOUT_S)
        skus = sorted(CATALOGUE)
        for n in range(100_000):
            if self._stop.is_set() or time.monotonic() >= self.deadline:
                return
            if n % 2:
                self._call(http, "product", "GET", f"/api/products/{skus[n % len(skus)]}")
            else:
                self._call(http, "products", "GET", "/api/products?in_stock=true&limit=20")
            time.sleep(0.1)

    def _staff(self) -> None:
        """Refund every ``refund_every``-th paid order once, a few seconds after payment;
        one not refundable yet (its payment webhook still held by a fault) is tried again."""
        http = Client(
            self.web_url, timeout=TIMEOUT_S, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        done: set[str] = set()
        for n in range(100_000):
            if self._stop.is_set() or time.monotonic() >= self.deadline:
                return
            with self._lock:
                now = time.monotonic()
                due = [o for o, at in self.paid_at.items() if now - at > REFUND_AFTER_S]
            chosen = [o for o in due[:: self.refund_every] if o not in done]
            if chosen:
                order = chosen[0]
                body = {"reason": "requested_by_customer"}
                if n % 2:
                    body["amount_cents"] = PARTIAL_REFUND_CENTS
                answer = self._call(http, "refund", "POST", f"/admin/api/orders/{order}/refund",
                                    json=body)  # fmt: skip
                if answer is not None and answer.status_code == 202:
                    done.add(order)
                    with self._lock:
                        self.refunds_requested[answer.json()["refund_id"]] = order
            time.sleep(0.5)

    # --- lifecycle ------------------------------------------------------------------

    @property
    def deadline(self) -> float:
        return self.started + self.seconds

    def start(self) -> Load:
        self.started = time.monotonic()
        targets = [self._reader, self._staff]
        targets += [lambda n=n: self._buyer(n) for n in range(self.buyers)]
        self._threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> None:
        """Wait for the load to run its ``seconds`` (plus the requests under way)."""
        for thread in self._threads:
            thread.join(timeout=max(0.0, self.deadline - time.monotonic()) + 60)
        self.ended = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def server_errors(self, allowed: list[tuple[float, float, set[int]]]) -> list[Record]:
        """Records with a 5xx (or no answer) not in flight during a window allowing it."""
        bad = []
        for record in self.records:
            if record.status and record.status < 500:
                continue
            end = record.at + record.seconds
            if not any(record.at <= b and end >= a and record.status in codes
                       for a, b, codes in allowed):  # fmt: skip
                bad.append(record)
        return bad

    def summary(self) -> dict:
        elapsed = max(1e-9, (self.ended or time.monotonic()) - self.started)
        checkouts = [r for r in self.records if r.endpoint == "checkout"]
        by_endpoint: dict[str, dict[str, int]] = {}
        for record in self.records:
            counts = by_endpoint.setdefault(record.endpoint, {})
            counts[str(record.status)] = counts.get(str(record.status), 0) + 1
        return {
            "buyers": self.buyers,
            "offered_checkouts_per_s": self.rate,
            "achieved_checkouts_per_s": round(sum(r.status == 201 for r in checkouts) / elapsed, 2),
            "requests": len(self.records),
            "requests_per_s": round(len(self.records) / elapsed, 1),
            "checkout_max_s": round(max((r.seconds for r in checkouts), default=0.0), 1),
            "statuses": by_endpoint,
            "payments": dict(self.payments),
            "refunds_requested": len(self.refunds_requested),
        }
