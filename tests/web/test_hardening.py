"""The hostile-input cases of the hardening issue, one class at a time (Flask test client).

Real-server cases (slow clients, chunked bodies on the wire, the server's own errors)
are in test_server_limits.py.
"""

from __future__ import annotations

import base64
import io
import json

import pytest
from sqlalchemy import func, select

from models.carts.tables import Cart
from models.db import Session
from models.inbox import WebhookEvent
from services.settings import get_settings
from tests.support import factories, stripe_events

AUTH = {"Authorization": "Bearer test-admin-token"}
MIB = 1024 * 1024
DEEP = b'{"a":' * 30_000 + b"1" + b"}" * 30_000
CHECKOUT = {
    "email": "buyer@example.com",
    "shipping_address": {
        "name": "Ada",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    },
}


@pytest.fixture
def cart_id():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1000, stock={"main": 10})
        return factories.cart(session, items={"A": 1}).id


def carts() -> int:
    with Session() as session:
        return session.scalar(select(func.count()).select_from(Cart))


def json_routes(cart_id: str) -> list[tuple[str, str]]:
    """Every route that reads a JSON body (``parse_body``)."""
    return [
        ("POST", "/api/carts"),
        ("POST", f"/api/carts/{cart_id}/items"),
        ("PATCH", f"/api/carts/{cart_id}/items/A"),
        ("POST", f"/api/carts/{cart_id}/discount"),
        ("POST", f"/api/carts/{cart_id}/checkout"),
        ("PUT", "/admin/api/products/NEW"),
        ("POST", "/admin/api/orders/00000000-0000-0000-0000-000000000000/ship"),
        ("POST", "/admin/api/dead-letters/requeue"),
    ]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data()[:300]
    assert response.json["error"] == code
    assert isinstance(response.json["message"], str)
    return response.json


# --- 2: chunked bodies ------------------------------------------------------------------


def chunked(client, path: str, body: bytes, headers: dict | None = None):
    """A body of unknown length, as a server hands a chunked one to the app."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked", **(headers or {})},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_body_over_one_mebibyte_is_413_not_truncated(client):
    # Valid JSON in its first MiB, invalid as a whole: truncated, it would be accepted.
    body = b'{"email": null}' + b" " * MIB + b"trailing garbage"
    assert_error(chunked(client, "/api/carts", body), 413, "payload_too_large")
    assert carts() == 0


def test_chunked_body_within_the_limit_is_read_whole(client):
    body = b'{"currency": "usd"}' + b" " * (MIB - 19)
    assert len(body) == MIB
    response = chunked(client, "/api/carts", body)
    assert response.status_code == 201
    assert carts() == 1


def test_chunked_webhook_over_the_limit_is_413(client):
    body = b" " * (MIB + 1)
    response = chunked(client, "/webhooks/stripe", body, headers={"Stripe-Signature": "x"})
    assert_error(response, 413, "payload_too_large")


# --- 4: deep nesting --------------------------------------------------------------------


def test_deep_nesting_is_400_invalid_json_on_every_json_route(client, cart_id):
    for method, path in json_routes(cart_id):
        response = client.open(
            path, method=method, data=DEEP, content_type="application/json", headers=AUTH
        )
        assert_error(response, 400, "invalid_json")
    assert carts() == 1


def test_deep_nesting_on_the_signed_webhook_is_400_invalid_payload(client):
    response = stripe_events.post(client, DEEP)
    assert_error(response, 400, "invalid_payload")


# --- 5: NUL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/carts/%00",
        "/api/carts/a%00b/items",
        "/api/products/%00",
        "/api/orders/%00",
        "/recover/%00",
        "/admin/api/orders/%00",
        "/admin/api/dead-letters/%00/requeue",
    ],
)
def test_nul_in_a_path_is_404(client, path):
    for method in ("GET", "POST", "DELETE"):
        response = client.open(path, method=method, headers=AUTH)
        assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/products?q=%00",
        "/api/products?q%00=1",
        "/admin/api/orders?email=a%00b",
        "/admin/api/dead-letters?queue=%00",
        "/admin/api/reconciliation?cursor=%00",
    ],
)
def test_nul_in_a_query_parameter_is_422_naming_it(client, path):
    body = assert_error(client.get(path, headers=AUTH), 422, "validation_error")
    assert body["errors"][0]["message"] == "NUL characters are not allowed."


def test_nul_inside_a_cursor_is_422(client):
    with Session.begin() as session:
        factories.product(session, "A")
    cursor = base64.urlsafe_b64encode(b"A\x00").decode().rstrip("=")
    body = assert_error(client.get(f"/api/products?cursor={cursor}"), 422, "validation_error")
    assert body["errors"][0]["field"] == "cursor"


def test_nul_in_a_json_string_or_key_is_422_naming_the_field(client, cart_id):
    body = {**CHECKOUT, "shipping_address": {**CHECKOUT["shipping_address"], "name": "A\x00"}}
    response = client.post(f"/api/carts/{cart_id}/checkout", json=body)
    errors = assert_error(response, 422, "validation_error")["errors"]
    assert errors == [
        {"field": "shipping_address.name", "message": "NUL characters are not allowed."}
    ]

    response = client.post("/api/carts", data=b'{"\\u0000": 1}', content_type="application/json")
    assert assert_error(response, 422, "validation_error")["errors"][0]["field"] == "\\x00"

    response = client.put(
        "/admin/api/products/NEW",
        json={"name": "x", "price_cents": 1, "stock": {"a\x00": 1}},
        headers=AUTH,
    )
    assert_error(response, 422, "validation_error")
    assert carts() == 1


def test_unpaired_surrogate_in_a_json_string_is_422(client):
    response = client.post(
        "/api/carts", data=b'{"email": "\\ud800@example.com"}', content_type="application/json"
    )
    assert assert_error(response, 422, "validation_error")["errors"][0]["field"] == "email"


def test_nul_in_a_signed_webhook_is_400_and_stores_nothing(client):
    event = stripe_events.event("payment_intent.succeeded", {"id": "pi_\x00", "metadata": {}})
    assert_error(stripe_events.post(client, event), 400, "invalid_payload")
    with Session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


# --- 6: If-Match ------------------------------------------------------------------------


BAD_TAGS = ["²", '"²"', "\u0661", "9" * 5000, '"' + "9" * 19 + '"', "1.0", "-1"]


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_if_match_that_is_no_version_is_409_on_every_cart_write(client, cart_id, tag):
    writes = [
        ("POST", f"/api/carts/{cart_id}/items", {"sku": "A", "quantity": 1}),
        ("PATCH", f"/api/carts/{cart_id}/items/A", {"quantity": 2}),
        ("DELETE", f"/api/carts/{cart_id}/items/A", None),
        ("POST", f"/api/carts/{cart_id}/discount", {"code": "NOPE"}),
        ("DELETE", f"/api/carts/{cart_id}/discount", None),
    ]
    for method, path, body in writes:
        response = client.open(path, method=method, json=body, headers={"If-Match": tag})
        assert_error(response, 409, "version_conflict")
    assert client.get(f"/api/carts/{cart_id}").json["version"] == 1


# --- 7: admin authentication first ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin"),
        ("GET", "/admin/"),
        ("GET", "/admin/no/such/page"),
        ("DELETE", "/admin/api/orders"),
        ("PATCH", "/admin/api/products/X"),
        ("POST", "/admin/api/schedules"),
        ("GET", "/admin/api/orders/"),
    ],
)
def test_every_admin_path_is_401_before_404_or_405(client, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = client.open(path, method=method, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="cartfleet-admin"'
        assert response.headers["Cache-Control"] == "no-store"


def test_authenticated_unknown_admin_path_and_method_are_404_and_405(client):
    assert_error(client.get("/admin/no/such/page", headers=AUTH), 404, "not_found")
    assert_error(client.delete("/admin/api/orders", headers=AUTH), 405, "method_not_allowed")


def test_paths_merely_starting_with_admin_are_not_admin(client):
    assert_error(client.get("/administrator"), 404, "not_found")


# --- 8: headers -------------------------------------------------------------------------


def test_nosniff_on_every_response(client):
    for response in (client.get("/healthz"), client.get("/nope"), client.post("/healthz")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.usefixtures("stripe_sandbox")
def test_checkout_responses_carrying_the_client_secret_are_no_store(client, cart_id):
    first = client.post(f"/api/carts/{cart_id}/checkout", json=CHECKOUT)
    again = client.post(f"/api/carts/{cart_id}/checkout", json=CHECKOUT)
    assert (first.status_code, again.status_code) == (201, 200)
    for response in (first, again):
        assert response.json["client_secret"]
        assert response.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get(f"/api/carts/{cart_id}").headers.get("Cache-Control", "")


def test_admin_responses_are_no_store(client):
    assert client.get("/admin/api/schedules", headers=AUTH).headers["Cache-Control"] == "no-store"


# --- 9: media types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", ""],
)
def test_non_json_media_type_is_415_on_every_json_route(client, cart_id, content_type):
    for method, path in json_routes(cart_id):
        response = client.open(
            path, method=method, data=b'{"sku": "A"}', content_type=content_type, headers=AUTH
        )
        assert_error(response, 415, "unsupported_media_type")
    assert carts() == 1


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_media_types_are_accepted(client, content_type):
    response = client.post("/api/carts", data=b"{}", content_type=content_type)
    assert response.status_code == 201


def test_empty_body_needs_no_media_type(client):
    assert client.post("/api/carts").status_code == 201


def test_webhook_takes_a_raw_body_of_any_media_type(client):
    payload = stripe_events.encode(stripe_events.event("customer.created", {"id": "cus_1"}))
    response = client.post(
        "/webhooks/stripe",
        data=payload,
        content_type="text/plain",
        headers={"Stripe-Signature": stripe_events.sign(payload)},
    )
    assert response.status_code == 200


# --- 10: currencies ---------------------------------------------------------------------


@pytest.mark.parametrize("currency", ["xxx", "eur", "US", "usd\x00"])
def test_a_currency_the_store_does_not_sell_is_422(client, currency):
    response = client.post(
        "/api/carts", data=json.dumps({"currency": currency}), content_type="application/json"
    )
    errors = assert_error(response, 422, "validation_error")["errors"]
    assert [error["field"] for error in errors] == ["currency"]
    assert carts() == 0


def test_store_currencies_setting(client, monkeypatch):
    monkeypatch.setenv("STORE_CURRENCIES", "usd, EUR")
    get_settings.cache_clear()
    try:
        assert get_settings().store_currencies == ["usd", "eur"]
        assert client.post("/api/carts", json={"currency": "EUR"}).json["currency"] == "eur"
        assert client.post("/api/carts", json={"currency": "gbp"}).status_code == 422
    finally:
        monkeypatch.delenv("STORE_CURRENCIES")
        get_settings.cache_clear()
