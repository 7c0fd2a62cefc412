"""A real SMTP server on a free localhost port (aiosmtpd) that records what it accepts.

``server.refuse_next(n, code=451)`` makes the next ``n`` deliveries fail at RCPT with
that reply code (4xx: try later, 5xx: refused for good), like a flapping or strict
mail server.
"""

from __future__ import annotations

import email
import socket
import threading
import time
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        code = self.server._take_refusal()
        if code is not None:
            return f"{code} {'4.7.1 Try again later' if code < 500 else '5.1.1 No such user'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        self.server._record(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        return "250 Message accepted for delivery"


class SMTPServer:
    """``start()``/``stop()``; ``messages`` gives every accepted message, parsed, and
    ``raw`` the same messages as the bytes that went over the wire.

    Messages are parsed when ``messages`` is read, each once, not as they arrive: under
    the load bench most are never read, and parsing with the default policy costs more
    CPU than the SMTP conversation."""

    def __init__(self, *, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.raw: list[bytes] = []
        self.received_at: list[float] = []  # time.monotonic() of each message in ``raw``
        self._parsed: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused = 0
        self._refusals: list[int] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.port = 0

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.credentials == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> SMTPServer:
        self.port = _free_port()
        options = {}
        if self.credentials:
            options = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    @property
    def url(self) -> str:
        auth = ""
        if self.credentials:
            auth = f"{self.credentials[0]}:{self.credentials[1]}@"
        return f"smtp://{auth}127.0.0.1:{self.port}"

    def refuse_next(self, count: int, *, code: int = 451) -> None:
        with self._lock:
            self._refusals.extend([code] * count)

    def _take_refusal(self) -> int | None:
        with self._lock:
            if not self._refusals:
                return None
            self.refused += 1
            return self._refusals.pop(0)

    def _record(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        with self._lock:
            self.envelopes.append((mail_from, rcpt_tos))
            self.raw.append(raw)
            self.received_at.append(time.monotonic())

    @property
    def messages(self) -> list[EmailMessage]:
        """The accepted messages so far, parsed (a new list each time)."""
        with self._lock:
            arrived = self.raw[len(self._parsed) :]
            self._parsed += [email.message_from_bytes(r, policy=default_policy) for r in arrived]
            return list(self._parsed)

    def wait_for(self, count: int, *, timeout: float = 10) -> list[EmailMessage]:
        """The accepted messages once there are at least ``count`` (or on timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.raw) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)
