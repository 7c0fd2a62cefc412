"""Whatever a client sends, each route family answers below 500, in the error contract.

Property-based (hypothesis): arbitrary path segments, query strings, If-Match values and
bodies (any JSON, NUL, deep nesting, huge numbers, wrong types, non-JSON bytes, other
media types). Every answer is below 500; every 4xx is ``{"error", "message", ...}`` JSON;
a refused request leaves every table as it was.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import models
from models import db
from models.db import Session
from services import outbox
from tests.support import factories, stripe_events

AUTH = {"Authorization": "Bearer test-admin-token"}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

# --- what clients send -----------------------------------------------------------------

texts = st.text(max_size=30) | st.sampled_from(["\x00", "a\x00b", "²", "\ud800", "%00", ""])
segments = texts.map(lambda value: quote(value.encode("utf-8", "surrogatepass"), safe=""))
queries = st.dictionaries(texts, texts, max_size=4).map(
    lambda params: urlencode(
        {
            k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass")
            for k, v in params.items()
        }
    )
)
if_match = st.text(
    alphabet=st.characters(max_codepoint=0xFF, exclude_categories=("Cc",)), max_size=20
) | st.sampled_from(["²", "9" * 5000, '"1"', 'W/"1"', "*", "-1", "1_000", " ", "0x1"])

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)


def deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


raw_bodies = st.sampled_from(
    [
        deep(20_000),
        b"[" * 50_000 + b"]" * 50_000,
        b'{"quantity": ' + b"9" * 5000 + b"}",
        b'{"sku": "\\u0000", "quantity": 1}',
        b'{"\\u0000": 1}',
        b'{"sku": "\\ud800", "quantity": 1}',
        b"NaN",
        b'{"quantity": Infinity}',
        b"\xff\xfe\x00",
        b"{",
        b'"just a string"',
    ]
) | st.binary(max_size=40)


def bodies(*fields: str) -> st.SearchStrategy[bytes]:
    """Raw bytes: the route's own fields with arbitrary values, any JSON, or garbage."""
    shaped = st.fixed_dictionaries({}, optional={name: documents for name in fields})
    return (shaped | documents).map(lambda doc: json.dumps(doc).encode()) | raw_bodies


content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/xml"]
)

# --- what must hold --------------------------------------------------------------------


def snapshot() -> dict[str, str]:
    """A checksum of every table's rows (once the outbox's background marks are written).

    Not the audit log: it records every admin attempt, refused ones too (docs/admin.md).
    """
    outbox.sent_marks.flush()
    tables = [t.name for t in models.Base.metadata.sorted_tables if t.name != "audit_log"]
    query = " UNION ALL ".join(
        f"SELECT '{name}', count(*)::text || ':' || "
        f"coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM \"{name}\" t"
        for name in tables
    )
    return dict(db.with_connection(db.engine(), lambda c: c.execute(text(query)).all()))


def check(client, method: str, path: str, *, body: bytes = b"", content_type: str = "", **kw):
    """Send one request; assert the contract; return the response."""
    before = snapshot()
    headers = kw.pop("headers", {})
    response = client.open(
        path, method=method, data=body, content_type=content_type or None, headers=headers, **kw
    )
    assert response.status_code < 500, (method, path, body[:200], response.get_data()[:500])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if response.status_code >= 400:
        document = response.get_json(silent=True)
        assert isinstance(document, dict), (method, path, response.get_data()[:200])
        assert isinstance(document.get("error"), str) and isinstance(document.get("message"), str)
        if response.status_code == 401:
            assert "WWW-Authenticate" in response.headers
        assert snapshot() == before, (method, path, body[:200], response.status_code)
    return response


@pytest.fixture
def catalog():
    """Products, an active cart with an item, an order: something for routes to find."""
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1000, stock={"main": 50})
        cart = factories.cart(session, items={"A": 1})
        order = factories.order(session, lines={"A": 1})
        return {"cart": cart.id, "order": str(order.id)}


# --- one property per route family -----------------------------------------------------


@PROPERTY
@given(
    route=st.sampled_from(["", "/items", "/items/{seg}", "/discount"]),
    method=st.sampled_from(METHODS),
    known_cart=st.booleans(),
    segment=segments,
    query=queries,
    tag=if_match,
    body=bodies("sku", "quantity", "code", "email", "currency"),
    content_type=content_types,
)
def test_carts(client, catalog, route, method, known_cart, segment, query, tag, body, content_type):
    cart = catalog["cart"] if known_cart else segment
    path = f"/api/carts/{cart}{route.format(seg=segment)}?{query}"
    check(client, method, path, body=body, content_type=content_type, headers={"If-Match": tag})
    check(client, "POST", "/api/carts", body=body, content_type=content_type)


@PROPERTY
@given(
    known_cart=st.booleans(),
    segment=segments,
    body=bodies("email", "shipping_address", "acknowledge_price_changes")
    | st.just(
        json.dumps(
            {
                "email": "a@example.com",
                "shipping_address": {
                    "name": "A\x00",
                    "line1": "1",
                    "city": "C",
                    "postal_code": "1",
                    "country": "US",
                },
            }
        ).encode()
    ),
    content_type=content_types,
)
def test_checkout(client, catalog, stripe_sandbox, known_cart, segment, body, content_type):
    cart = catalog["cart"] if known_cart else segment
    check(client, "POST", f"/api/carts/{cart}/checkout", body=body, content_type=content_type)


@PROPERTY
@given(method=st.sampled_from(METHODS), segment=segments, query=queries)
def test_products(client, catalog, method, segment, query):
    check(client, method, f"/api/products?{query}")
    check(client, method, f"/api/products/{segment}?{query}")


@PROPERTY
@given(
    known=st.booleans(),
    segment=segments,
    limit=texts,
    cookie=texts,
    query=queries,
)
def test_recommendations(client, catalog, known, segment, limit, cookie, query):
    client.set_cookie("cf_visitor", quote(cookie.encode("utf-8", "surrogatepass")))
    limit = quote(limit.encode("utf-8", "surrogatepass"), safe="")
    sku, cart = ("A", catalog["cart"]) if known else (segment, segment)
    check(client, "GET", f"/api/products/{sku}/recommendations?limit={limit}&{query}")
    check(client, "GET", f"/api/carts/{cart}/recommendations?limit={limit}")
    check(client, "GET", f"/api/recommendations?cart={cart}&limit={limit}&{query}")


@PROPERTY
@given(
    cursor=st.one_of(
        texts.map(lambda value: value.encode("utf-8", "surrogatepass")), st.binary(max_size=30)
    ).map(lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=")),
    path=st.sampled_from(["/api/products", "/admin/api/orders", "/admin/api/reconciliation"]),
    limit=texts,
)
def test_cursors(client, catalog, cursor, path, limit):
    limit = limit.encode("utf-8", "surrogatepass")
    query = urlencode({"cursor": cursor, "limit": limit})
    check(client, "GET", f"{path}?{query}", headers=AUTH)


@PROPERTY
@given(method=st.sampled_from(METHODS), segment=segments, query=queries)
def test_orders(client, catalog, method, segment, query):
    check(client, method, f"/api/orders/{segment}?{query}")
    check(client, method, f"/api/orders/{catalog['order']}?{query}")


@PROPERTY
@given(body=bodies("id", "type", "data", "object"), signed=st.booleans())
def test_webhooks(client, body, signed):
    headers = {"Stripe-Signature": stripe_events.sign(body)} if signed else {}
    check(client, "POST", "/webhooks/stripe", body=body, headers=headers)


@PROPERTY
@given(
    route=st.sampled_from(
        [
            "",
            "/",
            "/{seg}",
            "/api/orders",
            "/api/orders/{seg}",
            "/api/orders/{seg}/ship",
            "/api/products/{seg}",
            "/api/dead-letters",
            "/api/dead-letters/{seg}/requeue",
            "/api/dead-letters/requeue",
            "/api/reconciliation",
            "/api/schedules",
            "/api/webhooks/health",
            "/api/{seg}/{seg}",
        ]
    ),
    method=st.sampled_from(METHODS),
    authorized=st.booleans(),
    segment=segments,
    query=queries,
    body=bodies("name", "price_cents", "currency", "stock", "carrier"),
    content_type=content_types,
)
def test_admin(client, catalog, route, method, authorized, segment, query, body, content_type):
    path = f"/admin{route.format(seg=segment)}?{query}"
    headers = AUTH if authorized else {}
    response = check(client, method, path, body=body, content_type=content_type, headers=headers)
    assert response.headers["Cache-Control"] == "no-store"
    if not authorized:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="cartfleet-admin"'


@PROPERTY
@given(
    route=st.sampled_from(["/healthz", "/readyz", "/metrics", "/{seg}", "/api/{seg}"]),
    method=st.sampled_from(METHODS),
    segment=segments,
    query=queries,
)
def test_health_and_unknown_routes(client, route, method, segment, query):
    check(client, method, f"{route.format(seg=segment)}?{query}")
