"""The sandbox's HTTP server: ``/v1/...`` in Stripe's wire format, ``/_sandbox/...`` in JSON."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from devtools.stripe_sandbox import api, pages
from devtools.stripe_sandbox.client import SandboxControl
from devtools.stripe_sandbox.control import Control
from devtools.stripe_sandbox.state import State
from devtools.stripe_sandbox.webhooks import HORIZON_S, Deliverer, Switches
from devtools.stripe_sandbox.wire import decode_form, invalid

logger = logging.getLogger(__name__)

_POLL_S = 0.5

# Stripe.js confirms a PaymentIntent from the shop's page, another origin (the demo
# storefront does the same), so that route answers CORS as Stripe's API does.
_CORS_ROUTE = re.compile(r"/v1/payment_intents/[^/]+/confirm/?")
_CORS_PREFLIGHT = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, Stripe-Version",
    "Access-Control-Max-Age": "600",
}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up on a kept-alive connection (or stop() ending it) is how
        # conversations end, not a fault worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("%s hung up", client_address)
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """A stateful local Stripe, with webhook delivery, on ``host:port`` (0: any free port).

    ``state_dir`` keeps the state across restarts (None: in memory). ``webhooks`` are
    ``(url, secret)`` endpoints registered at start unless already known.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhooks: Iterable[tuple[str, str]] = (),
        switches: dict[str, Any] | None = None,
        retry_base_s: float = 1.0,
        max_attempts: int = 8,
        horizon_s: float = HORIZON_S,
    ) -> None:
        self.state = State(state_dir)
        self.switches = Switches()
        self.switches.update(switches or {})
        self.webhooks = list(webhooks)
        self.control_api = Control(self.state, self.switches, on_reset=self._register_webhooks)
        self.deliverer = Deliverer(
            self.state,
            self.switches,
            retry_base_s=retry_base_s,
            max_attempts=max_attempts,
            horizon_s=horizon_s,
        )
        # Keep-alive connections outlive a request: stop() ends them, so a stopped
        # sandbox answers nothing, as a restarted one answers from its new state.
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._httpd = _Server((host, port), _handler(self))
        self.state.base_url = self.url
        # serve_forever wakes every poll interval to see whether it should stop; stop()
        # wakes it at once instead (see _shutdown), so the loop can wake twice a second
        # rather than a hundred times.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(_POLL_S,), name="sandbox-http", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def control(self) -> SandboxControl:
        return SandboxControl(self.url)

    def start(self) -> SandboxServer:
        with self.state.lock:
            self._register_webhooks()
        self.deliverer.start()
        self._thread.start()
        logger.info("Stripe sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._shutdown()
            self.deliverer.stop()
        self._httpd.server_close()
        with self._connections_lock:
            open_now = list(self.connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _shutdown(self) -> None:
        """``shutdown()`` and, while it waits for the serving loop, connect to wake the
        loop's select: tests start and stop a sandbox each and must not wait a poll."""
        stopping = threading.Thread(target=self._httpd.shutdown)
        stopping.start()
        address = self._httpd.server_address[:2]
        while stopping.is_alive():
            with contextlib.suppress(OSError), socket.create_connection(address, timeout=1):
                pass
            stopping.join(0.01)

    def opened(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self.connections.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self.connections.discard(connection)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _register_webhooks(self) -> None:
        known = {(e["url"], e["secret"]) for e in self.state.data["endpoints"].values()}
        for url, secret in self.webhooks:
            if (url, secret) not in known:
                self.control_api.add_endpoint({"url": url, "secret": secret})


def _page(state: State, method: str, path: str, query: str, raw: str) -> pages.Page | None:
    """An HTML page's answer, or None when ``path`` is not a page."""
    challenge = pages.CHALLENGE.fullmatch(path)
    receipt = pages.RECEIPT.fullmatch(path)
    with state.lock:
        if challenge and method == "GET":
            return pages.challenge(state, challenge[1], dict(parse_qsl(query)))
        if challenge and method == "POST":
            return pages.answer(state, challenge[1], dict(parse_qsl(raw)))
        if receipt and method == "GET":
            return pages.receipt(state, receipt[1])
    return None


def _handler(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "stripe-sandbox"
        # Keep-alive, as Stripe's API: a client's connection (and the thread serving it)
        # lasts across its requests instead of a connect, a thread and a close per call.
        # Every answer carries a Content-Length, which HTTP/1.1 needs.
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            sandbox.opened(self.connection)

        def finish(self) -> None:
            sandbox.closed(self.connection)
            super().finish()

        def _serve(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            page = _page(sandbox.state, self.command, path, query, raw)
            if page is not None:
                self._send_page(*page)
                return
            if path.startswith("/_sandbox/"):
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    status, payload = 400, invalid("The control API takes JSON.").json()
                else:
                    status, payload = sandbox.control_api.handle(self.command, path, body)
                self._send(status, payload, {})
                return
            params = decode_form(raw if self.command == "POST" else query)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, payload, extra = api.handle(
                sandbox.state, self.command, path.rstrip("/"), params, headers
            )
            if _CORS_ROUTE.fullmatch(path):
                extra = {**extra, "Access-Control-Allow-Origin": "*"}
            self._send(status, payload, extra)

        def do_OPTIONS(self) -> None:
            path = self.path.partition("?")[0]
            if not _CORS_ROUTE.fullmatch(path):
                self.send_error(501, "Unsupported method ('OPTIONS')")
                return
            self.send_response(204)
            for name, value in _CORS_PREFLIGHT.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            # Compact: the indenting encoder is pure Python, the compact one C.
            data = json.dumps(payload, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_page(self, status: int, text: str, headers: dict[str, str]) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    return Handler
