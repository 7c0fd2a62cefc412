"""Web CPU per request of each API route beside its floor, measured in the same run.

A route's floor is the least any implementation of it could cost on this stack: the same
SQL statements, with the same parameters, run straight on psycopg (one connection, its
prepared statements), the same calls out (the Stripe PaymentIntent, the Redis pushes),
and the JSON encoding of the same response, behind the same gunicorn and waitress.

How: the bench provisions its own PostgreSQL database and Redis db (tests/support/
services) and a Stripe sandbox, seeds products and carts, and copies the database
(``CREATE DATABASE ... TEMPLATE``). It then sends one request per route to the app in
this process and records what it did: every statement with its driver parameters and
the transaction boundaries (SQLAlchemy's engine events), every Redis push and Stripe
call, and the response. ``floor_app`` serves those scripts on the copy: each request
replays one route's script in one transaction (a savepoint where the route committed
and began again) and rolls it back, so the copy stays as it was and every replay meets
the same rows.

The app (``web:create_app()``) and the floor each run under gunicorn with one worker
(``WEB_CONCURRENCY=1``, web/gunicorn_conf.py); a client on one keep-alive connection
sends each route ``BENCH_REQUESTS`` (300; checkouts a third of that) requests, in two
alternating halves, each on rows of its own (a fresh cart per add, per edit, per
checkout). CPU is the user + system time of the gunicorn worker from /proc over the
requests; the client's own CPU is reported apart.

Prints one JSON document: per route the app's and the floor's CPU ms per request, the
ratio (target ≤ 2) and the statements per request. Run: ``.venv/bin/python
bench/routes.py`` (about a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import pickle
import secrets
import sys
import time
import uuid
from pathlib import Path

from harness import (
    HOST,
    ROOT,
    children,
    closed_loop,
    cpu_seconds,
    fleet_env,
    gunicorn,
    stop,
    wait_ready,
)

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
SECRET = "whsec_bench"  # the webhook secret harness.fleet_env gives the app
TARGET_RATIO = 2.0
WARM_UP = 5  # writes per route sent to the app on spare rows before measuring
WARM_UP_REPEATS = 20  # repeats of each other route's first request
SKUS = 40
CHECKOUT_BODY = {
    "email": "buyer@example.com",
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    },
}


# --- the floor ---------------------------------------------------------------------------


def floor_app():
    """Replays the recorded scripts (``gunicorn 'routes:floor_app()' --pythonpath bench``).

    The route is named by the ``X-Route`` header; the body is read and parsed as JSON
    when there is one. A ceiling no implementation of the routes can beat, not one to ship.
    """
    import http.client
    import threading
    import urllib.parse

    import dramatiq
    import psycopg
    from dramatiq.brokers.redis import RedisBroker
    from flask import Flask, request

    scripts = pickle.loads(Path(os.environ["BENCH_FLOOR_SCRIPTS"]).read_bytes())
    broker = RedisBroker(url=os.environ["REDIS_URL"])
    stripe = urllib.parse.urlsplit(os.environ["STRIPE_API_BASE"])
    local = threading.local()
    app = Flask("floor")
    app.json.sort_keys = False

    def connections():
        if getattr(local, "database", None) is None:
            local.database = psycopg.connect(os.environ["FLOOR_DSN"])
            local.stripe = http.client.HTTPConnection(stripe.hostname, stripe.port)
        return local.database, local.stripe

    def pay(connection: http.client.HTTPConnection, form: str) -> None:
        connection.request(
            "POST",
            "/v1/payment_intents",
            body=form,
            headers={
                "Authorization": f"Bearer {os.environ['STRIPE_API_KEY']}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        json.loads(connection.getresponse().read())

    @app.route("/<path:anything>", methods=["GET", "POST", "PATCH", "DELETE"])
    def replay(anything: str):
        body = request.get_data()
        if body:
            json.loads(body)
        script = scripts[request.headers["X-Route"]]
        database, stripe_link = connections()
        try:
            _play(script["steps"], database, stripe_link)
        finally:
            database.rollback()
        return app.json.response(script["response"]), script["status"]

    def _play(steps, database, stripe_link) -> None:
        savepoints = 0
        for step in steps:
            kind = step[0]
            if kind == "sql":
                _, statement, parameters = step
                if (
                    isinstance(parameters, list | tuple)
                    and parameters
                    and isinstance(parameters[0], dict | list | tuple)
                ):
                    database.cursor().executemany(statement, parameters)
                else:
                    cursor = database.execute(statement, parameters)
                    if cursor.description:
                        cursor.fetchall()
            elif kind == "again":
                savepoints += 1
                database.execute(f"SAVEPOINT s{savepoints}")
            elif kind == "stripe":
                pay(stripe_link, step[1])
            elif kind == "redis":
                message = dramatiq.Message(**step[1], message_id=str(uuid.uuid4()))
                broker.enqueue(message)

    return app


# --- recording the scripts -----------------------------------------------------------------


class Recorder:
    """Records what one request does: statements, transaction boundaries, calls out."""

    def __init__(self) -> None:
        self.steps: list[tuple] = []
        self.transactions = 0

    def begin(self, connection) -> None:
        self.transactions += 1
        if self.transactions > 1:
            self.steps.append(("again",))

    def statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.steps.append(("sql", statement, parameters))


def _record(client, recorder: Recorder, method: str, path: str, **kwargs) -> dict:
    recorder.steps.clear()
    recorder.transactions = 0
    response = getattr(client, method.lower())(path, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data()}")
    return {
        "steps": list(recorder.steps),
        "response": response.get_json(),
        "status": response.status_code,
        "statements": sum(1 for step in recorder.steps if step[0] == "sql"),
    }


def _record_scripts(requests: dict[str, list[dict]]) -> dict[str, dict]:
    """Send each route's first request to the app in this process, recording its script."""
    import dramatiq
    from sqlalchemy import Engine, event

    import flows.checkout
    from web import create_app
    from worker.broker import broker

    recorder = Recorder()
    # On the class: the stock reader has engines of its own (models.stock.reader).
    engine = Engine
    event.listen(engine, "begin", recorder.begin)
    event.listen(engine, "before_cursor_execute", recorder.statement)
    create_intent = flows.checkout.create_payment_intent

    def recorded_intent(**fields):
        form = (
            f"amount={fields['amount']}&currency={fields['currency']}"
            f"&metadata[order_id]={fields['order_id']}"
            f"&metadata[order_number]={fields['order_number']}"
            f"&metadata[cart_id]={fields['cart_id']}&automatic_payment_methods[enabled]=true"
        )
        recorder.steps.append(("stripe", form))
        return create_intent(**fields)

    enqueue = broker.enqueue

    def recorded_enqueue(message: dramatiq.Message, *, delay=None):
        fields = message.asdict()
        for key in ("message_id", "message_timestamp"):
            fields.pop(key, None)
        recorder.steps.append(("redis", fields))
        return enqueue(message, delay=delay)

    flows.checkout.create_payment_intent = recorded_intent
    broker.enqueue = recorded_enqueue
    client = create_app().test_client()
    scripts = {}
    try:
        for name, sent in requests.items():
            first = sent[0]
            kwargs = {"headers": first["headers"]}
            if first["body"] is not None:
                kwargs["data"] = first["body"]
            scripts[name] = _record(client, recorder, first["method"], first["path"], **kwargs)
    finally:
        flows.checkout.create_payment_intent = create_intent
        broker.enqueue = enqueue
        event.remove(engine, "begin", recorder.begin)
        event.remove(engine, "before_cursor_execute", recorder.statement)
    return scripts


# --- data and requests ---------------------------------------------------------------------


def _signed(payload: bytes) -> dict[str, str]:
    t = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={digest}"}


def _webhook_event() -> bytes:
    from tests.support import stripe_events

    intent = {
        "id": "pi_" + secrets.token_hex(8),
        "object": "payment_intent",
        "amount": 2000,
        "amount_received": 2000,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"order_id": str(uuid.uuid4())},
    }
    return stripe_events.encode(stripe_events.event("payment_intent.succeeded", intent))


def _seed_and_plan(count: int) -> tuple[dict[str, list[dict]], list[dict]]:
    """Rows for ``count`` + 1 requests per route (the first is recorded); the requests,
    and the app's warm-up: ``WARM_UP`` writes per route on rows of their own (spare carts),
    ``WARM_UP_REPEATS`` of each other route's first request."""
    from models.db import Session
    from tests.support import factories

    checkouts = max(10, count // 3)
    with Session.begin() as session:
        for number in range(SKUS):
            factories.product(session, f"BENCH-{number}", stock={"main": 1_000_000})
        read_cart = factories.cart(session, items={"BENCH-1": 1, "BENCH-2": 2, "BENCH-3": 1}).id
        add_carts = [factories.cart(session, items={"BENCH-1": 1}).id for _ in range(count + 1)]
        edit_carts = [factories.cart(session, items={"BENCH-4": 1}).id for _ in range(count + 1)]
        buy_carts = [
            factories.cart(session, items={"BENCH-5": 1, "BENCH-6": 2}).id
            for _ in range(checkouts + 1)
        ]
        order = factories.order(session, lines={"BENCH-7": 1, "BENCH-8": 2}).id
        spare_add = [factories.cart(session, items={"BENCH-1": 1}).id for _ in range(WARM_UP)]
        spare_edit = [factories.cart(session, items={"BENCH-4": 1}).id for _ in range(WARM_UP)]
        spare_buy = [
            factories.cart(session, items={"BENCH-5": 1, "BENCH-6": 2}).id for _ in range(WARM_UP)
        ]

    def plain(method: str, path: str, body: dict | None = None) -> dict:
        payload = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        return {"method": method, "path": path, "body": payload, "headers": headers}

    def webhook() -> dict:
        payload = _webhook_event()
        headers = {"Content-Type": "application/json", **_signed(payload)}
        return {"method": "POST", "path": "/webhooks/stripe", "body": payload, "headers": headers}

    def cart_writes(add: list[str], edit: list[str], buy: list[str]) -> dict[str, list]:
        """Each write on carts of its own: an add, an edit, a checkout per cart."""
        return {
            "item_add": [
                plain("POST", f"/api/carts/{c}/items", {"sku": "BENCH-2", "quantity": 1})
                for c in add
            ],
            "item_edit": [
                plain("PATCH", f"/api/carts/{c}/items/BENCH-4", {"quantity": 3}) for c in edit
            ],
            "checkout": [plain("POST", f"/api/carts/{c}/checkout", CHECKOUT_BODY) for c in buy],
        }

    n = count + 1
    plan = {
        "healthz": [plain("GET", "/healthz")] * n,
        "product_list": [plain("GET", "/api/products?limit=20")] * n,
        "product_get": [plain("GET", "/api/products/BENCH-9")] * n,
        "cart_get": [plain("GET", f"/api/carts/{read_cart}")] * n,
        "cart_create": [plain("POST", "/api/carts", {"email": "a@example.com"})] * n,
        **cart_writes(add_carts, edit_carts, buy_carts),
        "order_get": [plain("GET", f"/api/orders/{order}")] * n,
        "webhook": [webhook() for _ in range(n)],
    }
    # Writes that change their rows warm up on spare ones; the rest repeat their first.
    spares = {
        **cart_writes(spare_add, spare_edit, spare_buy),
        "webhook": [webhook() for _ in range(WARM_UP)],
    }
    warm_up = [
        request
        for name, sent in plan.items()
        for request in spares.get(name, [sent[0]] * WARM_UP_REPEATS)
    ]
    return plan, warm_up


def _wire(request: dict, *, route: str | None = None) -> bytes:
    head = f"{request['method']} {request['path']} HTTP/1.1\r\nHost: {HOST}\r\n"
    headers = dict(request["headers"])
    if route:
        headers["X-Route"] = route
    if request["body"] is not None:
        headers["Content-Length"] = str(len(request["body"]))
    head += "".join(f"{key}: {value}\r\n" for key, value in headers.items())
    return head.encode() + b"\r\n" + (request["body"] or b"")


# --- measuring -----------------------------------------------------------------------------


def _run(port: int, master, wires: list[bytes]) -> tuple[float, list[int]]:
    """CPU seconds the gunicorn worker under ``master`` spent on ``wires``, and statuses."""
    workers = children(master.pid)
    before = cpu_seconds(workers)
    result = asyncio.run(closed_loop(port, wires, None, 1))
    return cpu_seconds(workers) - before, result["statuses"]


def _measure(plan, scripts, servers: dict[str, tuple]) -> dict:
    """Each route's requests, in two halves alternating app and floor; CPU per request."""
    routes = {}
    for name, sent in plan.items():
        measured = sent[1:]
        halves = (measured[: len(measured) // 2], measured[len(measured) // 2 :])
        cpu = {"app": 0.0, "floor": 0.0}
        wrong: dict[str, int] = {}
        for half in halves:
            for target, (port, master) in servers.items():
                wires = [_wire(r, route=name if target == "floor" else None) for r in half]
                spent, statuses = _run(port, master, wires)
                cpu[target] += spent
                unexpected = sum(1 for status in statuses if status != scripts[name]["status"])
                if unexpected:
                    wrong[target] = wrong.get(target, 0) + unexpected
        app_ms, floor_ms = (1000 * cpu[target] / len(measured) for target in ("app", "floor"))
        routes[name] = {
            "requests": len(measured),
            "statements": scripts[name]["statements"],
            "app_cpu_ms": round(app_ms, 2),
            "floor_cpu_ms": round(floor_ms, 2),
            "ratio": round(app_ms / floor_ms, 2) if floor_ms else None,
            "unexpected_statuses": wrong,
        }
    return routes


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import psycopg
    from alembic import command
    from sqlalchemy.engine import make_url

    from devtools.embedded import free_port
    from devtools.stripe_sandbox import SandboxServer
    from migrations import alembic_config
    from tests.support import services

    load_at_start = os.getloadavg()
    provisioned = services.provision()
    sandbox = SandboxServer().start()
    work = Path(f"/tmp/cartfleet-bench-routes-{os.getpid()}")
    (work / "metrics").mkdir(parents=True, exist_ok=True)
    copy = f"{make_url(provisioned.database_url).database}_floor"
    admin = services._libpq(provisioned.admin_url)
    env = fleet_env(
        provisioned.database_url,
        provisioned.redis_url,
        sandbox.url,
        PROMETHEUS_MULTIPROC_DIR=str(work / "metrics"),
        WEB_CONCURRENCY="1",
        BENCH_FLOOR_SCRIPTS=str(work / "scripts.pickle"),
    )
    os.environ.update({k: env[k] for k in env if k != "PROMETHEUS_MULTIPROC_DIR"})
    processes = []
    try:
        command.upgrade(alembic_config(provisioned.database_url), "head")
        from models import db

        db.configure(provisioned.database_url)
        plan, warm_up = _seed_and_plan(REQUESTS)
        db.engine().dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            source = make_url(provisioned.database_url).database
            connection.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
        floor_url = make_url(provisioned.database_url).set(database=copy)
        env["FLOOR_DSN"] = services._libpq(floor_url.render_as_string(hide_password=False))

        scripts = _record_scripts(plan)
        Path(env["BENCH_FLOOR_SCRIPTS"]).write_bytes(pickle.dumps(scripts))
        db.engine().dispose()

        app_port, floor_port = free_port(), free_port()
        app = gunicorn("web:create_app()", app_port, env, quiet=False)
        floor = gunicorn("routes:floor_app()", floor_port, env, pythonpath="bench", quiet=False)
        processes += [app, floor]
        wait_ready(app_port, "/healthz")
        wait_ready(floor_port)
        # Warm-up: first-use imports and data (checkout's postal-code index), template and
        # statement caches, connections; every route, so none of it lands in a measurement.
        warmed = asyncio.run(closed_loop(app_port, [_wire(r) for r in warm_up], None, 1))
        for name, sent in plan.items():
            asyncio.run(closed_loop(floor_port, [_wire(sent[0], route=name)] * 20, None, 1))

        client_before = time.process_time()
        routes = _measure(plan, scripts, {"app": (app_port, app), "floor": (floor_port, floor)})
        client_cpu = time.process_time() - client_before
        total = sum(route["requests"] * 2 for route in routes.values())
        report = {
            "benchmark": "route_floors",
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in load_at_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "gunicorn": {"workers": 1, "worker_class": "web.server.WaitressWorker"},
            "warm_up_statuses": sorted(set(warmed["statuses"])),
            "routes": routes,
            "client_cpu_ms_per_request": round(1000 * client_cpu / total, 2),
            "target_ratio_max": TARGET_RATIO,
            "routes_over_target": sorted(
                name for name, route in routes.items() if (route["ratio"] or 0) > TARGET_RATIO
            ),
        }
        print(json.dumps(report, indent=2))
    finally:
        for process in processes:
            stop(process)
        sandbox.stop()
        with contextlib.suppress(Exception):
            from models import db

            db.engine().dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        services.release(provisioned)
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
