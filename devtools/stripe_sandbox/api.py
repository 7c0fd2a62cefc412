"""The ``/v1`` API: authentication, outage simulation, idempotency, routing.

``handle`` takes one decoded request and returns ``(status, body, headers)``; the
HTTP server in server.py only moves bytes.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from devtools.stripe_sandbox import (
    balance_transactions,
    cards,
    charges,
    events,
    payment_intents,
    refunds,
)
from devtools.stripe_sandbox.state import State
from devtools.stripe_sandbox.wire import Call, StripeError

logger = logging.getLogger(__name__)

Handler = Callable[..., dict[str, Any]]
Response = tuple[int, dict[str, Any], dict[str, str]]

_ID = r"/([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(pattern + r"/?"), handler)
    for method, pattern, handler in [
        ("POST", "/v1/payment_intents", payment_intents.create),
        ("GET", "/v1/payment_intents", payment_intents.list_intents),
        ("GET", "/v1/payment_intents" + _ID, payment_intents.retrieve),
        ("POST", "/v1/payment_intents" + _ID, payment_intents.update),
        ("POST", "/v1/payment_intents" + _ID + "/confirm", payment_intents.confirm),
        ("POST", "/v1/payment_intents" + _ID + "/cancel", payment_intents.cancel),
        ("POST", "/v1/refunds", refunds.create),
        ("GET", "/v1/refunds", refunds.list_refunds),
        ("GET", "/v1/refunds" + _ID, refunds.retrieve),
        ("POST", "/v1/refunds" + _ID, refunds.update),
        ("GET", "/v1/charges", charges.list_charges),
        ("GET", "/v1/charges" + _ID, charges.retrieve),
        ("GET", "/v1/charges" + _ID + "/refunds", refunds.list_charge_refunds),
        ("GET", "/v1/balance_transactions", balance_transactions.list_transactions),
        ("GET", "/v1/balance_transactions" + _ID, balance_transactions.retrieve),
        ("POST", "/v1/payment_methods", cards.create_payment_method),
        ("GET", "/v1/payment_methods" + _ID, cards.retrieve_payment_method),
        ("GET", "/v1/events", events.list_events),
        ("GET", "/v1/events" + _ID, events.retrieve),
    ]
]
# A publishable key (Stripe.js) may only retrieve and confirm, with the intent's client secret.
PUBLISHABLE_ROUTES = {payment_intents.confirm, payment_intents.retrieve}
REQUEST_LOG_LIMIT = 10_000


def _api_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().partition(":")[0]
        except ValueError:
            return None
    return None


def _authenticate(authorization: str | None, handler: Handler | None) -> str:
    key = _api_key(authorization)
    if not key:
        raise StripeError(
            401,
            "invalid_request_error",
            "You did not provide an API key. Provide it in the Authorization header "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if key.startswith(("sk_test_", "rk_test_")):
        return key
    if key.startswith("pk_test_"):
        if handler in PUBLISHABLE_ROUTES:
            return key
        raise StripeError(
            401,
            "invalid_request_error",
            "This API call cannot be made with a publishable API key. Please use a secret API key.",
            code="secret_key_required",
        )
    raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}{'*' * 8}")


def _route(method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groups()
    raise StripeError(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}).",
    )


def handle(
    state: State, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
) -> Response:
    """Answer one API request as Stripe would."""
    request_id = "req_" + secrets.token_hex(7)
    key = headers.get("idempotency-key") if method == "POST" else None
    version = headers.get("stripe-version") or events.API_VERSION
    out = {"Request-Id": request_id, "Stripe-Version": version}
    if key:
        out["Idempotency-Key"] = key
    entry = {"method": method, "path": path, "params": params, "idempotency_key": key}
    with state.lock:
        state.requests.append(entry)
        del state.requests[:-REQUEST_LOG_LIMIT]
        try:
            status, body, extra = _handle(state, method, path, params, headers, request_id, key)
        except StripeError as error:
            status, body, extra = error.status, error.json(), {}
        except Exception:
            # A sandbox bug must reach the client as Stripe's 500, not as a dropped socket.
            logger.exception("sandbox failed on %s %s", method, path)
            status, body, extra = 500, StripeError(500, "api_error", "Sandbox error.").json(), {}
        entry["status"] = status
    return status, body, out | extra


def _handle(
    state: State,
    method: str,
    path: str,
    params: dict[str, Any],
    headers: dict[str, str],
    request_id: str,
    key: str | None,
) -> Response:
    handler, args = _route(method, path)
    api_key = _authenticate(headers.get("authorization"), handler)
    if state.fail_next > 0:
        state.fail_next -= 1
        raise StripeError(state.fail_status, "api_error", "Simulated Stripe outage (sandbox).")
    scope = json.dumps([api_key, method, path, key]) if key else None
    record = state.data["idempotency"].get(scope) if scope else None
    if record is not None:
        if record["params"] != params:
            raise StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you meant "
                "to execute a different request.",
            )
        return record["status"], record["body"], {"Idempotent-Replayed": "true"}
    call = Call(api_key=api_key, request_id=request_id, idempotency_key=key)
    try:
        status, body, replayable = 200, handler(call, state, params, *args), True
    except StripeError as error:
        status, body, replayable = error.status, error.json(), error.replayable
    body = json.loads(json.dumps(body))
    if scope and replayable:
        state.data["idempotency"][scope] = {"params": params, "status": status, "body": body}
    if method != "GET":
        state.save()
    return status, body, {}
