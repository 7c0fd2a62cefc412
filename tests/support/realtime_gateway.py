"""The realtime gateway in a thread of its own (its own event loop), for tests and benches."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from realtime.gateway import Gateway, TokenCheck
from realtime.server import running


class GatewayThread:
    """``with GatewayThread(redis_url, tokens) as gw``: ``gw.url``, ``gw.gateway``."""

    def __init__(self, redis_url: str, tokens: TokenCheck) -> None:
        self.redis_url, self.tokens = redis_url, tokens
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.gateway: Gateway | None = None
        self.port = 0
        self._subscribed: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _run(self) -> None:
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with running(
            host="127.0.0.1", port=0, redis_url=self.redis_url, tokens=self.tokens
        ) as gateway:
            self.gateway, self.port, self._subscribed = (
                gateway.gateway,
                gateway.port,
                gateway.subscribed,
            )
            self._ready.set()
            await self._stop.wait()

    def subscribed(self, timeout: float = 10) -> bool:
        """Whether the hint subscription is up (waits up to ``timeout``)."""
        future = asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(self._subscribed.wait(), timeout), self.loop
        )
        with contextlib.suppress(TimeoutError):
            future.result(timeout + 1)
            return True
        return False

    def call(self, function, *args):
        """Run ``function(*args)`` on the gateway's loop and return its result."""

        async def call():
            return function(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the gateway did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


@contextlib.contextmanager
def gateway_for(redis_url: str, *, secret: str, ttl_s: int = 300) -> Iterator[GatewayThread]:
    with GatewayThread(redis_url, TokenCheck(secret=secret, ttl_s=ttl_s)) as gateway:
        if not gateway.subscribed():
            raise RuntimeError("the gateway did not subscribe to the hint channel")
        yield gateway
