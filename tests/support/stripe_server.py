"""A local HTTP server answering the Stripe endpoints cartfleet calls, in Stripe's wire format.

stripe-python is pointed at it through ``STRIPE_API_BASE``. It keeps payment intents and
refunds in memory, honours ``Idempotency-Key`` like Stripe (same key, same response), and
can be told to fail the next N requests with a Stripe-shaped error.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


def _form(body: str) -> dict[str, Any]:
    """Decode Stripe's form encoding (``metadata[order_id]=...``) into nested dicts."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


class FakeStripe:
    def __init__(self) -> None:
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_next = 0
        self.fail_status = 500
        self._idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, method: str, path: str, params: dict[str, Any], key: str | None):
        with self._lock:
            self.requests.append((method, path, params))
            if key and (method, path, key) in self._idempotent:
                return self._idempotent[(method, path, key)]
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status, _error("api_error", "Simulated Stripe failure.")
            status, body = self._route(method, path, params)
            if key:
                self._idempotent[(method, path, key)] = (status, body)
            return status, body

    def _route(self, method: str, path: str, params: dict[str, Any]):
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "payment_intents"]:
            if method == "POST" and len(parts) == 2:
                return 200, self._create_intent(params)
            intent = self.payment_intents.get(parts[2]) if len(parts) > 2 else None
            if intent is None:
                return 404, _error("invalid_request_error", "No such payment_intent.")
            if method == "GET" and len(parts) == 3:
                return 200, intent
            if method == "POST" and parts[3:] == ["cancel"]:
                if intent["status"] == "succeeded":
                    return 400, _error("invalid_request_error", "PaymentIntent has succeeded.")
                intent["status"] = "canceled"
                intent["cancellation_reason"] = params.get("cancellation_reason")
                return 200, intent
        if parts == ["v1", "refunds"] and method == "POST":
            return self._create_refund(params)
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({path}).")

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = "pi_" + secrets.token_hex(12)
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0,
            "currency": params["currency"],
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "metadata": params.get("metadata", {}),
            "receipt_email": params.get("receipt_email"),
            "created": int(time.time()),
            "livemode": False,
        }
        self.payment_intents[intent_id] = intent
        return intent

    def _create_refund(self, params: dict[str, Any]):
        intent = self.payment_intents.get(params.get("payment_intent", ""))
        if intent is None:
            return 404, _error("invalid_request_error", "No such payment_intent.")
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": int(params.get("amount", intent["amount"])),
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "reason": params.get("reason"),
            "metadata": params.get("metadata", {}),
            "status": "succeeded",
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return 200, refund

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path, _, query = self.path.partition("?")
                params = _form(body or query)
                status, payload = fake.handle(
                    method, path, params, self.headers.get("Idempotency-Key")
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(8))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._respond("GET")

            def do_POST(self) -> None:
                self._respond("POST")

            def log_message(self, *args) -> None:
                pass

        return Handler


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}
