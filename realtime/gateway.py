"""WebSocket connections per cart: the handshake's token check, fan-out, hostile clients.

A client connects to ``/carts/{cart_id}?token=...`` with a token from ``POST
/api/carts/{id}/live-token``; a missing, forged, expired or other-cart token gets an
HTTP 401 before the upgrade, so nothing of the WebSocket is set up for it. Clients only
listen: a client that sends more than ``MAX_CLIENT_MESSAGES`` frames in
``CLIENT_WINDOW_S`` is closed (1008), a frame over ``MAX_FRAME_BYTES`` closes it (1009,
by websockets), and fan-out uses ``broadcast``, which never waits on a slow reader.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from services import live_tokens
from services.hint_wire import encode

logger = logging.getLogger(__name__)

PATH = re.compile(r"^/carts/(?P<cart_id>[A-Za-z0-9_-]{1,64})$")
MAX_FRAME_BYTES = 1024
MAX_CLIENT_MESSAGES = 20
CLIENT_WINDOW_S = 10.0
MAX_CONNECTIONS_PER_CART = 50


@dataclass(frozen=True)
class TokenCheck:
    secret: str
    ttl_s: int


class Gateway:
    """The open connections, by cart; what the handshake and the hint fan-out share."""

    def __init__(self, tokens: TokenCheck) -> None:
        self.tokens = tokens
        self.rooms: dict[str, set[ServerConnection]] = {}
        self.refused = 0

    @property
    def connections(self) -> int:
        return sum(len(room) for room in self.rooms.values())

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, why: str) -> Response:
        self.refused += 1
        return connection.respond(status, f"{why}\n")

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The handshake hook: ``/healthz``, or a cart path with a valid token."""
        url = urlsplit(request.path)
        if url.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        match = PATH.match(url.path)
        if match is None:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "No such path.")
        token = parse_qs(url.query).get("token", [""])[0]
        cart_id = match["cart_id"]
        try:
            live_tokens.verify(
                token, cart_id=cart_id, secret=self.tokens.secret, ttl_s=self.tokens.ttl_s
            )
        except live_tokens.TokenRefused as refused:
            return self._refuse(connection, HTTPStatus.UNAUTHORIZED, f"Token refused: {refused}.")
        if len(self.rooms.get(cart_id, ())) >= MAX_CONNECTIONS_PER_CART:
            return self._refuse(connection, HTTPStatus.TOO_MANY_REQUESTS, "Too many connections.")
        return None

    async def handler(self, connection: ServerConnection) -> None:
        """Hold one accepted connection until it closes; it only listens."""
        # ``authorize`` ran at the handshake: the request is there and its path matched.
        assert connection.request is not None
        match = PATH.match(urlsplit(connection.request.path).path)
        assert match is not None
        cart_id = match["cart_id"]
        room = self.rooms.setdefault(cart_id, set())
        room.add(connection)
        try:
            window_start, received = time.monotonic(), 0
            async for _message in connection:
                now = time.monotonic()
                if now - window_start > CLIENT_WINDOW_S:
                    window_start, received = now, 0
                received += 1
                if received > MAX_CLIENT_MESSAGES:
                    await connection.close(CloseCode.POLICY_VIOLATION, "clients only listen")
                    break
        except ConnectionClosed:
            pass
        finally:
            room.discard(connection)
            if not room:
                self.rooms.pop(cart_id, None)

    def hint(self, cart_id: str, version: int | None) -> int:
        """Send ``{"cart_id", "version"}`` to the cart's connections; returns how many."""
        room = self.rooms.get(cart_id)
        if not room:
            return 0
        broadcast(room, encode(cart_id, version))
        return len(room)

    def resync(self) -> int:
        """Hints may have been lost (Redis was away): every client refetches."""
        return sum(self.hint(cart_id, None) for cart_id in list(self.rooms))
