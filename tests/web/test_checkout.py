"""Checkout: re-pricing, reservations, the PaymentIntent, failure rollback, no overselling."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from models.base import utcnow
from models.carts.tables import Cart, CartItem, DiscountCode
from models.db import Session
from models.orders.tables import Order
from models.stock import availability
from models.stock.tables import Reservation, StockLevel
from tests.support import factories
from tests.support.stripe_sandbox import payment_intent, payment_intents

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "us",
}
BODY = {"email": "ada@example.com", "shipping_address": ADDRESS}


def make_cart(items: dict[str, int], **stock) -> str:
    with Session.begin() as session:
        for sku in items:
            factories.product(session, sku, price_cents=1000, stock=stock.get(sku))
        return factories.cart(session, items=items).id


def checkout(client, cart_id, **extra):
    return client.post(f"/api/carts/{cart_id}/checkout", json={**BODY, **extra})


def set_price(sku: str, price_cents: int) -> None:
    """Change the price, leaving the stock as it is."""
    with Session.begin() as session:
        factories.product(session, sku, price_cents=price_cents, stock={})


def reserved_units(sku: str) -> int:
    with Session.begin() as session:
        return 10 - availability.available_units(session, [sku])[sku]


def test_checkout_creates_order_reservation_and_payment_intent(client, stripe_sandbox):
    cart_id = make_cart({"A": 2, "B": 1})
    response = checkout(client, cart_id)

    assert response.status_code == 201
    body = response.json
    assert body["status"] == "pending_payment"
    assert body["order_number"].startswith("CF-")
    assert (body["total_cents"], body["currency"], body["price_changes"]) == (3000, "usd", [])
    intent = payment_intent(body["payment_intent_id"])
    assert intent["amount"] == 3000 and intent["metadata"]["order_id"] == body["order_id"]
    assert body["client_secret"] == intent["client_secret"]
    expires = dt.datetime.fromisoformat(body["reservation_expires_at"])
    assert dt.timedelta(minutes=14) < expires - utcnow() <= dt.timedelta(minutes=15)
    with Session.begin() as session:
        cart = session.get(Cart, cart_id)
        order = session.get(Order, cart.order_id)
        assert (cart.status, str(order.id)) == ("checkout", body["order_id"])
        assert order.cart_id == cart_id and order.payment_intent_id == body["payment_intent_id"]
        assert order.shipping_address["country"] == "US"
        assert {(r.sku, r.quantity, r.status) for r in order.reservations} == {
            ("A", 2, "active"),
            ("B", 1, "active"),
        }
    assert reserved_units("A") == 2


def test_posting_again_returns_the_same_order(client, stripe_sandbox):
    cart_id = make_cart({"A": 1})
    first = checkout(client, cart_id)
    again = checkout(client, cart_id)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert len(payment_intents()) == 1
    assert reserved_units("A") == 1


def test_concurrent_double_post_makes_one_order(live_server, stripe_sandbox):
    cart_id = make_cart({"A": 1})

    def post(_):
        return requests.post(f"{live_server}/api/carts/{cart_id}/checkout", json=BODY, timeout=30)

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(post, range(4)))

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert len({r.json()["payment_intent_id"] for r in responses}) == 1
    with Session.begin() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert len(payment_intents()) == 1 and reserved_units("A") == 1


def test_price_rise_needs_acknowledgment(client, stripe_sandbox):
    cart_id = make_cart({"A": 2})
    set_price("A", 1500)
    response = checkout(client, cart_id)

    assert response.status_code == 409
    assert response.json["error"] == "price_changed_acknowledgment_required"
    assert response.json["changes"] == [
        {"sku": "A", "old_price_cents": 1000, "new_price_cents": 1500}
    ]
    assert reserved_units("A") == 0 and payment_intents() == {}
    with Session.begin() as session:
        assert session.get(Cart, cart_id).status == "active"
        assert session.scalar(select(func.count()).select_from(Order)) == 0

    response = checkout(client, cart_id, acknowledge_price_changes=True)
    assert response.status_code == 201 and response.json["total_cents"] == 3000
    assert response.json["price_changes"] == [
        {"sku": "A", "old_price_cents": 1000, "new_price_cents": 1500}
    ]
    with Session.begin() as session:
        order = session.get(Order, response.json["order_id"])
        assert [(i.sku, i.unit_price_cents) for i in order.items] == [("A", 1500)]


def test_price_drop_applies_silently(client, stripe_sandbox):
    cart_id = make_cart({"A": 2})
    set_price("A", 800)
    response = checkout(client, cart_id)

    assert response.status_code == 201 and response.json["total_cents"] == 1600
    assert response.json["price_changes"] == [
        {"sku": "A", "old_price_cents": 1000, "new_price_cents": 800}
    ]
    intent = payment_intent(response.json["payment_intent_id"])
    assert intent["amount"] == 1600


def test_out_of_stock_reserves_nothing(client, stripe_sandbox):
    cart_id = make_cart({"A": 2, "B": 5}, B={"main": 3})
    response = checkout(client, cart_id)

    assert response.status_code == 409 and response.json["error"] == "out_of_stock"
    assert response.json["items"] == [{"sku": "B", "requested": 5, "available": 3}]
    with Session.begin() as session:
        assert session.scalars(select(Reservation)).all() == []
        assert session.scalar(select(func.count()).select_from(Order)) == 0
        assert session.get(Cart, cart_id).status == "active"
    assert payment_intents() == {}


def test_a_price_rise_is_answered_before_a_shortfall(client, stripe_sandbox):
    cart_id = make_cart({"A": 5}, A={"main": 2})
    set_price("A", 1100)
    response = checkout(client, cart_id)
    assert response.json["error"] == "price_changed_acknowledgment_required"
    response = checkout(client, cart_id, acknowledge_price_changes=True)
    assert response.json["error"] == "out_of_stock"
    assert response.json["items"] == [{"sku": "A", "requested": 5, "available": 2}]


def test_repeat_post_after_taking_the_last_unit_returns_the_order(client, stripe_sandbox):
    cart_id = make_cart({"A": 1}, A={"main": 1})
    first = checkout(client, cart_id)
    again = checkout(client, cart_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["order_id"] == first.json["order_id"]


def test_expired_reservation_makes_stock_available_again(client, stripe_sandbox):
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 1})
        first = factories.cart(session, items={"A": 1}).id
        second = factories.cart(session, items={"A": 1}).id
    assert checkout(client, first).status_code == 201
    assert checkout(client, second).json["error"] == "out_of_stock"
    assert client.get(f"/api/carts/{second}").json["items"][0]["in_stock"] is False

    with Session.begin() as session:
        for reservation in session.scalars(select(Reservation)):
            reservation.expires_at = utcnow() - dt.timedelta(seconds=1)

    assert client.get(f"/api/carts/{second}").json["items"][0]["in_stock"] is True
    assert checkout(client, second).status_code == 201


def test_stripe_failure_releases_the_reservation_and_reactivates_the_cart(client, stripe_sandbox):
    cart_id = make_cart({"A": 3})
    stripe_sandbox.control.fail_next_requests(10)
    response = checkout(client, cart_id)

    assert response.status_code == 502 and response.json["error"] == "payment_provider_error"
    assert reserved_units("A") == 0
    with Session.begin() as session:
        cart = session.get(Cart, cart_id)
        assert (cart.status, cart.order_id) == ("active", None)
        orders = session.scalars(select(Order)).all()
        assert [o.status for o in orders] == ["canceled"]
        assert {r.status for r in orders[0].reservations} == {"released"}
    response = client.post(f"/api/carts/{cart_id}/items", json={"sku": "A", "quantity": 1})
    assert response.status_code == 200

    stripe_sandbox.control.fail_next_requests(0)
    response = checkout(client, cart_id)
    assert response.status_code == 201 and reserved_units("A") == 4


def test_discount_is_charged_and_the_code_used_once(client, stripe_sandbox):
    cart_id = make_cart({"A": 2})
    with Session.begin() as session:
        factories.discount_code(session, "HALF", percent=50)
    client.post(f"/api/carts/{cart_id}/discount", json={"code": "HALF"})
    response = checkout(client, cart_id)

    assert response.status_code == 201 and response.json["total_cents"] == 1000
    with Session.begin() as session:
        assert session.get(DiscountCode, "HALF").used_at is not None
        other = factories.cart(session, items={"A": 1}).id
    response = client.post(f"/api/carts/{other}/discount", json={"code": "HALF"})
    assert response.json["error"] == "invalid_code"


def test_discount_code_used_since_it_was_applied_is_refused(client, stripe_sandbox):
    cart_id = make_cart({"A": 1})
    with Session.begin() as session:
        factories.discount_code(session, "ONCE", percent=10)
    client.post(f"/api/carts/{cart_id}/discount", json={"code": "ONCE"})
    with Session.begin() as session:
        session.get(DiscountCode, "ONCE").used_at = utcnow()

    response = checkout(client, cart_id)
    assert response.status_code == 422 and response.json["error"] == "invalid_code"
    assert reserved_units("A") == 0


def test_empty_completed_and_unknown_carts(client, stripe_sandbox):
    with Session.begin() as session:
        empty = factories.cart(session).id
        factories.product(session, "A")
        done = factories.cart(session, items={"A": 1})
        done.status = "completed"
        done = done.id
    assert checkout(client, empty).json["error"] == "empty_cart"
    assert checkout(client, empty).status_code == 409
    response = checkout(client, done)
    assert response.status_code == 409 and response.json["error"] == "cart_not_active"
    assert checkout(client, "no-such-cart").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"shipping_address": ADDRESS},
        {"email": "nope", "shipping_address": ADDRESS},
        {"email": "ada@example.com"},
        {"email": "ada@example.com", "shipping_address": {**ADDRESS, "city": ""}},
        {"email": "ada@example.com", "shipping_address": {**ADDRESS, "country": "USA"}},
        {"email": "ada@example.com", "shipping_address": {**ADDRESS, "extra": 1}},
        {**BODY, "acknowledge_price_changes": "yes"},
        {**BODY, "coupon": "X"},
    ],
)
def test_bad_checkout_bodies_are_422(client, stripe_sandbox, body):
    cart_id = make_cart({"A": 1})
    response = client.post(f"/api/carts/{cart_id}/checkout", json=body)
    assert response.status_code == 422 and response.json["error"] == "validation_error"
    assert response.json["errors"]
    assert reserved_units("A") == 0


def test_malformed_checkout_json_is_400(client):
    cart_id = make_cart({"A": 1})
    response = client.post(
        f"/api/carts/{cart_id}/checkout", data="{nope", content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_json"


def test_hundred_buyers_ten_units_never_oversell(live_server, stripe_sandbox):
    with Session.begin() as session:
        factories.product(session, "HOT", stock={"main": 10})
        carts = [factories.cart(session, items={"HOT": 1}).id for _ in range(100)]

    def buy(cart_id):
        response = requests.post(
            f"{live_server}/api/carts/{cart_id}/checkout", json=BODY, timeout=60
        )
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(buy, carts))

    statuses = [status for status, _ in results]
    assert statuses.count(201) == 10 and statuses.count(409) == 90
    assert {body["error"] for status, body in results if status == 409} == {"out_of_stock"}
    with Session.begin() as session:
        orders = session.scalars(select(Order).where(Order.status == "pending_payment")).all()
        assert len(orders) == 10 and all(o.payment_intent_id for o in orders)
        assert availability.available_units(session, ["HOT"]) == {"HOT": 0}
        held = session.scalar(
            select(func.sum(Reservation.quantity)).where(Reservation.status == "active")
        )
        assert held == 10
        assert session.scalar(select(StockLevel.on_hand).where(StockLevel.sku == "HOT")) == 10
        in_checkout = session.scalar(
            select(func.count()).select_from(Cart).where(Cart.status == "checkout")
        )
        assert in_checkout == 10
        assert session.scalar(select(func.count()).select_from(CartItem)) == 100
    assert len(payment_intents()) == 10


def nothing_written(cart_id: str) -> bool:
    with Session() as session:
        cart = session.get(Cart, cart_id)
        orders = session.scalar(select(func.count()).select_from(Order))
        held = session.scalar(select(func.count()).select_from(Reservation))
        return (cart.status, orders, held) == ("active", 0, 0)


def test_a_total_over_what_stripe_can_charge_is_422_and_writes_nothing(client, stripe_sandbox):
    with Session.begin() as session:
        factories.product(session, "GOLD", price_cents=99_999_999, stock={"main": 50})
        cart_id = factories.cart(session, items={"GOLD": 2}).id

    response = checkout(client, cart_id)

    assert response.status_code == 422
    body = response.json
    assert body["error"] == "amount_out_of_range"
    assert (body["total_cents"], body["maximum_cents"]) == (199_999_998, 99_999_999)
    assert nothing_written(cart_id)  # no order, so no PaymentIntent was asked for


def test_a_total_below_the_card_minimum_is_422_and_frees_nothing_it_never_took(
    client, stripe_sandbox
):
    cart_id = make_cart({"A": 1})
    with Session.begin() as session:
        factories.discount_code(session, "FREE", percent=100)
    client.post(f"/api/carts/{cart_id}/discount", json={"code": "FREE"})

    response = checkout(client, cart_id)

    assert response.status_code == 422
    assert (response.json["error"], response.json["minimum_cents"]) == ("amount_out_of_range", 50)
    assert nothing_written(cart_id)
    with Session() as session:
        assert session.get(DiscountCode, "FREE").used_at is None


def test_a_product_price_over_the_charge_maximum_is_refused(client):
    response = client.put(
        "/admin/api/products/BIG",
        json={"name": "Big", "price_cents": 100_000_000},
        headers={"Authorization": "Bearer test-admin-token"},
    )

    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "price_cents"
