"""The real web process (gunicorn, web/gunicorn_conf.py, waitress workers) under slow,
oversized and malformed requests sent on raw sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time

import pytest
import requests
from sqlalchemy import func, select

from models.carts.tables import Cart
from models.db import Session
from tests.support import factories, stripe_events
from tests.support.images import photo
from tests.support.web_server import HOST, raw_request, read_response, running_web

MIB = 1024 * 1024
REQUEST_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def web(schema, tmp_path_factory):
    metrics = tmp_path_factory.mktemp("web-metrics")
    options = ("--workers", "1", "--threads", "4", "--timeout", str(REQUEST_TIMEOUT_S))
    with running_web(*options, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics)}) as server:
        yield server
    assert server.process.returncode == 0, server.log()


def carts() -> int:
    with Session() as session:
        return session.scalar(select(func.count()).select_from(Cart))


def assert_json_error(response, status: int, code: str) -> None:
    assert response.status == status, response.body[:300]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)


def post_chunked(port: int, path: str, chunks: list[bytes]) -> object:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    return raw_request(port, head + body)


@contextlib.contextmanager
def slow_clients(port: int, count: int):
    """``count`` connections that send part of a request, half a head, half a body."""
    sockets = []
    try:
        for number in range(count):
            sock = socket.create_connection((HOST, port), timeout=5)
            if number % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            else:
                sock.sendall(
                    b"POST /api/carts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 1000\r\n\r\n{"email": '
                )
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


# --- 1: slow clients ---------------------------------------------------------------------


@pytest.mark.slow  # a process of its own: make test-slow
def test_slow_clients_do_not_stall_other_requests(web):
    with Session.begin() as session:
        factories.product(session, "A")
        cart_id = factories.cart(session, items={"A": 1}).id

    # 64 half-sent requests against 4 threads: with gthread each one held a thread.
    with slow_clients(web.port, 64):
        for _ in range(10):
            started = time.monotonic()
            assert requests.get(f"{web.url}/healthz", timeout=2).status_code == 200
            assert requests.get(f"{web.url}/api/carts/{cart_id}", timeout=2).status_code == 200
            assert time.monotonic() - started < 1
    assert carts() == 1


def test_a_request_still_arriving_after_the_timeout_is_cut_off(web):
    with socket.create_connection((HOST, web.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < REQUEST_TIMEOUT_S + 5:
            try:
                sock.sendall(b"X-Dribble: 1\r\n")  # never idle, never finished
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.3)
        assert closed
        assert time.monotonic() - started >= REQUEST_TIMEOUT_S - 1


def test_idle_connection_is_closed(web):
    with socket.create_connection((HOST, web.port), timeout=15) as sock:
        assert sock.recv(1) == b""  # closed by the server after the keep-alive time


# --- 2: bodies over the limit -----------------------------------------------------------


def test_chunked_body_over_one_mebibyte_is_413_json(web):
    chunks = [b'{"email": null}', b" " * MIB, b"garbage"]
    assert_json_error(post_chunked(web.port, "/api/carts", chunks), 413, "payload_too_large")
    assert carts() == 0


def test_chunked_body_within_the_limit_is_served(web):
    response = post_chunked(web.port, "/api/carts", [b'{"currency":', b' "usd"}'])
    assert response.status == 201
    assert response.json()["currency"] == "usd"
    assert carts() == 1


def test_content_length_over_one_mebibyte_is_413_json(web):
    head = (
        f"POST /api/carts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MIB + 1}\r\n\r\n"
    ).encode()
    assert_json_error(raw_request(web.port, head), 413, "payload_too_large")
    assert carts() == 0


def test_a_body_of_exactly_one_mebibyte_reaches_the_app(web):
    body = b'{"currency": "usd"}'
    body += b" " * (MIB - len(body))
    response = requests.post(
        f"{web.url}/api/carts", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201


def test_only_the_image_upload_route_takes_a_larger_body(web):
    with Session.begin() as session:
        factories.product(session, "BIG-UPLOAD")
    png = photo((64, 64), image_format="PNG")
    padded = png + b"\0" * (3 * MIB - len(png))
    response = requests.post(
        f"{web.url}/admin/api/products/BIG-UPLOAD/images",
        files={"file": ("big.png", padded)},
        headers={"Authorization": "Bearer test-admin-token"},
    )
    assert response.status_code == 202, response.text
    head = (
        "POST /admin/api/products/BIG-UPLOAD/images HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {30 * MIB}\r\n\r\n"
    ).encode()
    assert_json_error(raw_request(web.port, head), 413, "payload_too_large")
    head = (
        "POST /admin/api/products/BIG-UPLOAD HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {2 * MIB}\r\n\r\n"
    ).encode()
    assert_json_error(raw_request(web.port, head), 413, "payload_too_large")


# --- 3: errors the server answers itself ------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431, None),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431, None),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-N: 1\r\n" * 5_000 + b"\r\n", 431, None),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX Bad: a\r\n\r\n", 400, "bad_request"),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
        (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "bad_request"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_request"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
            "bad_request",
        ),
    ],
    ids=[
        "url-too-long",
        "header-too-large",
        "too-many-headers",
        "control-byte-in-header",
        "nul-in-header",
        "space-in-header-name",
        "malformed-request-line",
        "control-byte-in-target",
        "extra-request-line-part",
        "bad-content-length",
        "unknown-transfer-coding",
        "bad-chunk-size",
    ],
)
def test_server_errors_are_json(web, request_bytes, status, code):
    response = raw_request(web.port, request_bytes)
    assert_json_error(response, status, code or "request_header_fields_too_large")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_process_serves_on_after_every_bad_request(web):
    assert requests.get(f"{web.url}/healthz", timeout=2).json() == {"status": "ok"}


# --- what must keep working -------------------------------------------------------------


def test_keep_alive_and_pipelined_requests(web):
    with socket.create_connection((HOST, web.port), timeout=5) as sock:
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request * 3)
        with sock.makefile("rb") as stream:
            for _ in range(3):
                assert read_response(stream).json() == {"status": "ok"}


def test_metrics_in_multiprocess_mode(web):
    payload = stripe_events.encode(stripe_events.event("customer.created", {"id": "cus_1"}))
    response = requests.post(
        f"{web.url}/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": stripe_events.sign(payload)},
    )
    assert response.status_code == 200
    metrics = requests.get(f"{web.url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert 'stripe_webhooks_received_total{outcome="ignored",type="customer.created"}' in (
        metrics.text
    )


@pytest.mark.slow  # a process of its own: make test-slow
def test_sigterm_lets_requests_under_way_finish(schema):
    with running_web("--workers", "1", "--threads", "2") as server:
        with socket.create_connection((HOST, server.port), timeout=10) as sock:
            sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n" * 20)
            time.sleep(0.05)
            os.killpg(server.process.pid, signal.SIGTERM)
            with sock.makefile("rb") as stream:
                statuses = [read_response(stream).status for _ in range(20)]
        assert statuses == [200] * 20
        assert server.process.wait(timeout=30) == 0
