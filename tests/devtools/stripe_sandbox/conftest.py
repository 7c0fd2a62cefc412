"""An in-process sandbox, real stripe-python pointed at it, and a tiny webhook receiver.

The sandbox needs neither PostgreSQL nor Redis, so the suite's database fixtures are
replaced here by no-ops and these tests stay fast.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe

from devtools.stripe_sandbox import SandboxControl, SandboxServer

RETRY_BASE_S = 0.05


@pytest.fixture(scope="session")
def schema():
    """No schema: the sandbox is standalone."""


@pytest.fixture
def clean_state():
    """Nothing to clean: every test gets a sandbox of its own."""


@pytest.fixture
def sandbox():
    server = SandboxServer(retry_base_s=RETRY_BASE_S).start()
    yield server
    server.stop()


@pytest.fixture
def control(sandbox) -> SandboxControl:
    return sandbox.control


def make_client(url: str, key: str = "sk_test_sandbox") -> stripe.StripeClient:
    session = requests.Session()
    session.trust_env = False  # no proxy between the client and loopback
    return stripe.StripeClient(
        key,
        base_addresses={"api": url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=5, session=session),
    )


@pytest.fixture
def client(sandbox) -> stripe.StripeClient:
    return make_client(sandbox.url)


@pytest.fixture
def raw(sandbox) -> Callable[..., requests.Response]:
    """Plain HTTP to the sandbox, for headers and bodies stripe-python hides."""
    session = requests.Session()
    session.trust_env = False

    def call(method: str, path: str, key: str | None = "sk_test_sandbox", **kwargs):
        headers = kwargs.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return session.request(method, sandbox.url + path, headers=headers, timeout=5, **kwargs)

    return call


class Receiver:
    """A webhook endpoint that answers the queued statuses (then 200) and keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.calls.append((body, dict(self.headers)))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhooks/stripe"

    def events(self) -> list[dict]:
        with self._lock:
            return [json.loads(body) for body, _ in self.calls]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        """The received events once there are at least ``count`` of them."""
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.calls)} of {count} webhooks arrived")
            time.sleep(0.01)
        return self.events()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def paid_intent(client) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
