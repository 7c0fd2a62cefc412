"""The real web process (gunicorn with web/gunicorn_conf.py) on a free loopback port, and a
raw-socket HTTP client for requests no well-behaved client library would send."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import requests

from devtools.embedded import free_port
from tests.support.services import ROOT

HOST = "127.0.0.1"


@dataclass
class WebServer:
    port: int
    process: subprocess.Popen
    log_path: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log(self) -> str:
        with open(self.log_path, errors="replace") as handle:
            return handle.read()


@contextlib.contextmanager
def running_web(*options: str, env: dict[str, str] | None = None) -> Iterator[WebServer]:
    """``gunicorn "web:create_app()" -c web/gunicorn_conf.py`` plus ``options``."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "web/gunicorn_conf.py"]
    command += ["--bind", f"{HOST}:{port}", *options, "web:create_app()"]
    with tempfile.NamedTemporaryFile(prefix="cartfleet-web-", suffix=".log") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "LOG_LEVEL": "WARNING", **(env or {})},
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = WebServer(port, process, log.name)
        try:
            _wait_ready(server)
            yield server
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_ready(server: WebServer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the web process exited:\n{server.log()}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the web process did not answer /healthz:\n{server.log()}")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def raw_request(port: int, data: bytes, *, timeout: float = 10) -> RawResponse:
    """Send ``data`` as is on a new connection; read one response."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        with sock.makefile("rb") as stream:
            return read_response(stream)


def read_response(stream: BinaryIO) -> RawResponse:
    """One response from ``stream`` (``socket.makefile("rb")``), its body by Content-Length."""
    status_line = stream.readline()
    if not status_line:
        raise ConnectionError("closed before a response")
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return RawResponse(int(status_line.split()[1]), headers, body)
