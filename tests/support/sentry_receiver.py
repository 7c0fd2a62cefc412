"""A local HTTP endpoint standing in for Sentry: records every envelope the SDK posts.

``wait_for`` finds raw text in any envelope; ``items`` parses the envelopes into their
JSON items (events, check-ins) and ``wait_for_items`` waits for some. sentry-sdk 3
streams spans in ``span`` items holding several each: ``spans`` lists them one by one, and
``segment`` waits for the root span of a request or an actor run.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SentryReceiver:
    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli

                    body = brotli.decompress(body)
                receiver.envelopes.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self._server.server_address[1]}/1"

    def wait_for(self, text: str, *, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for envelope in list(self.envelopes):
                if text.encode() in envelope:
                    return envelope
            time.sleep(0.1)
        raise AssertionError(f"no Sentry envelope mentioning {text!r} arrived")

    def items(self, item_type: str) -> list[dict[str, Any]]:
        """The payloads of every item of ``item_type`` ("event", "check_in", "span")."""
        if item_type == "span":
            return self.spans()
        return [
            payload
            for envelope in list(self.envelopes)
            for kind, payload in parse_envelope(envelope)
            if kind == item_type
        ]

    def spans(self) -> list[dict[str, Any]]:
        """Every span sent, each one dict (``span`` items carry a list of them).

        Attributes travel typed (``{"value": ..., "type": "string"}``); here they are plain.
        """
        return [
            dict(span, attributes={k: v["value"] for k, v in span["attributes"].items()})
            for envelope in list(self.envelopes)
            for kind, payload in parse_envelope(envelope)
            if kind == "span"
            for span in payload["items"]
        ]

    def segment(self, name: str, *, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        """Wait for ``count`` root spans (a request's, an actor run's) named ``name``."""
        return self.wait_for_items(
            "span", lambda s: s["is_segment"] and s["name"] == name, count=count, timeout=timeout
        )

    def span_ids(self, segment: dict[str, Any]) -> set[str]:
        """The ids of ``segment`` and of every span sent inside it."""
        return {segment["span_id"]} | {
            span["span_id"]
            for span in self.spans()
            if span["attributes"].get("sentry.segment.id") == segment["span_id"]
        }

    def wait_for_items(
        self,
        item_type: str,
        match: Callable[[dict[str, Any]], bool],
        *,
        count: int = 1,
        timeout: float = 30,
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` items of ``item_type`` satisfy ``match``; returns them."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = [item for item in self.items(item_type) if match(item)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(
            f"{len(found)} of {count} matching {item_type} item(s) arrived: {found!r}"
        )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def parse_envelope(envelope: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The (type, JSON payload) of each item; a header line, then each item's header and payload.

    Items that are not JSON (attachments, ...) are left out.
    """
    _, _, rest = envelope.partition(b"\n")
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        try:
            items.append((header.get("type", ""), json.loads(payload)))
        except ValueError:
            continue
    return items
