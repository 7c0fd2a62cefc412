"""Recovery links and unsubscribes over the app; codes enforced when the order is placed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from jobs.carts import purge_batches
from models import errors
from models.base import utcnow
from models.carts.tables import Cart, DiscountCode
from models.catalog import Product
from models.db import Session
from models.orders import checkout
from models.recovery import tokens
from models.recovery.tables import RecoveryStep, Suppression, email_hash
from services.settings import get_settings
from tests.support.recovery import (
    ADDRESS,
    HOUR,
    idle_cart,
    products,
    run_and_deliver,
    start_clock,
    steps,
)


@pytest.fixture
def reminded(broker, smtp_server):
    """A cart reminded 2 h after its last write: (cart id, the email)."""
    products()
    t0 = start_clock() - 3 * HOUR
    cart_id = idle_cart(since=t0)
    assert run_and_deliver(t0 + 2 * HOUR) == [(cart_id, "email_1")]
    [message] = smtp_server.wait_for(1)
    return cart_id, message


def link(message, kind: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(rf"http://localhost:5000(/{kind}/\S+)", text).group(1)


def code_of(cart_id: str) -> str:
    with Session() as session:
        return session.scalar(
            select(RecoveryStep.discount_code).where(RecoveryStep.cart_id == cart_id)
        )


def place_order(cart_id: str, *, email: str = "ada@example.com", ack: bool = False):
    with Session.begin() as session:
        return checkout.start(
            session,
            cart_id=cart_id,
            email=email,
            shipping_address=ADDRESS,
            acknowledge_price_changes=ack,
            reservation_minutes=15,
        ).order.discount_cents


def test_the_link_restores_the_cart_with_the_code_applied(client, reminded):
    cart_id, message = reminded
    code = code_of(cart_id)

    first = client.get(link(message, "recover"))
    second = client.get(link(message, "recover"))  # opening it twice is harmless

    for response in (first, second):
        assert response.status_code == 302
        assert response.headers["Location"] == (
            f"http://localhost:3000/cart/{cart_id}?discount={code}"
        )
    cart = client.get(f"/api/carts/{cart_id}").get_json()
    assert cart["discount"] == {"code": code, "percent": 5}
    assert cart["subtotal_cents"] == 3700 and cart["total_cents"] == 3700 - 185
    assert all(item["in_stock"] for item in cart["items"])
    with Session() as session:
        step = session.get(RecoveryStep, (cart_id, "email_1"))
        assert (step.clicks, step.clicked_at is not None) == (2, True)
    assert place_order(cart_id) == 185


def test_expired_forged_and_unknown_links(client, reminded):
    cart_id, _ = reminded
    secret = get_settings().recovery_secret
    past = tokens.recovery_token(
        secret, cart_id=cart_id, step="email_1", expires_at=utcnow() - dt.timedelta(seconds=1)
    )
    unsent = tokens.recovery_token(
        secret, cart_id=cart_id, step="email_2", expires_at=utcnow() + HOUR
    )
    forged = tokens.recovery_token(
        "not-the-secret", cart_id=cart_id, step="email_1", expires_at=utcnow() + HOUR
    )

    assert client.get(f"/recover/{past}").status_code == 410
    assert client.get(f"/recover/{past}").get_json()["error"] == "expired"
    for token in (unsent, forged, "garbage", "a.b"):
        response = client.get(f"/recover/{token}")
        assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


def test_a_used_code_link_is_gone(client, reminded):
    cart_id, message = reminded
    client.get(link(message, "recover"))
    place_order(cart_id)

    response = client.get(link(message, "recover"))
    assert (response.status_code, response.get_json()["error"]) == (410, "expired")


def test_an_expired_code_is_refused_at_order_placement(client, reminded):
    cart_id, message = reminded
    client.get(link(message, "recover"))
    with Session.begin() as session:
        session.get(DiscountCode, code_of(cart_id)).expires_at = utcnow() - dt.timedelta(minutes=1)

    with pytest.raises(errors.InvalidCode, match="expired"):
        place_order(cart_id)


def test_a_code_for_another_email_is_refused(client, reminded):
    cart_id, message = reminded
    client.get(link(message, "recover"))

    with pytest.raises(errors.InvalidCode, match="another email"):
        place_order(cart_id, email="mallory@example.com")
    other = client.post("/api/carts", json={"email": "mallory@example.com"}).get_json()["id"]
    response = client.post(f"/api/carts/{other}/discount", json={"code": code_of(cart_id)})
    assert response.status_code == 422


def test_a_price_rise_after_the_reminder_still_needs_acknowledgment(client, reminded):
    cart_id, message = reminded
    with Session.begin() as session:
        session.get(Product, "SKU-1").price_cents = 1800
    client.get(link(message, "recover"))

    with pytest.raises(errors.PriceChangeNeedsAcknowledgment):
        place_order(cart_id)
    assert place_order(cart_id, ack=True) == (2 * 1800 + 700) * 5 // 100


def test_one_click_unsubscribe_without_login_stops_the_next_step(client, reminded):
    cart_id, message = reminded
    header = message["List-Unsubscribe"].strip("<>")
    path = link(message, "unsubscribe")
    assert header.endswith(path)

    page = client.get(path)
    assert page.status_code == 200 and "List-Unsubscribe" in page.get_data(as_text=True)
    with Session() as session:
        assert session.scalar(select(Suppression)) is None  # GET changes nothing
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    again = client.post(path, data={"List-Unsubscribe": "One-Click"})

    assert (response.status_code, again.status_code) == (200, 200)
    assert client.post(path, data={}).status_code == 422
    assert (
        client.post("/unsubscribe/forged.token", data={"List-Unsubscribe": "One-Click"}).status_code
        == 404
    )
    t0 = start_clock() - 3 * HOUR
    assert run_and_deliver(t0 + 24 * HOUR) == []
    assert steps(cart_id)["push"] == ("skipped", "unsubscribed")


def test_the_suppression_survives_the_session_purge(client, reminded, smtp_server):
    cart_id, message = reminded
    client.post(link(message, "unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    with Session.begin() as session:
        session.get(Cart, cart_id).expires_at = utcnow() - dt.timedelta(days=8)

    assert sum(purge_batches()) == 1

    with Session() as session:
        assert session.get(Cart, cart_id) is None
        assert session.get(Suppression, email_hash("ada@example.com")) is not None
    later = start_clock() - 3 * HOUR
    again = idle_cart(since=later, email="ADA@example.com")
    assert run_and_deliver(later + 2 * HOUR) == []
    assert steps(again) == {"email_1": ("skipped", "unsubscribed")}
    assert len(smtp_server.messages) == 1


def test_carts_record_marketing_consent(client):
    given = client.post("/api/carts", json={"email": "a@example.com", "marketing_consent": True})
    refused = client.post("/api/carts", json={"email": "b@example.com"})
    bad = client.post("/api/carts", json={"marketing_consent": "yes"})

    assert bad.status_code == 422
    with Session() as session:
        assert session.get(Cart, given.get_json()["id"]).marketing_consent_at is not None
        assert session.get(Cart, refused.get_json()["id"]).marketing_consent_at is None


def test_checkout_records_marketing_consent(client, stripe_sandbox):
    products()
    cart_id = client.post("/api/carts", json={}).get_json()["id"]
    client.post(f"/api/carts/{cart_id}/items", json={"sku": "SKU-1", "quantity": 1})

    response = client.post(
        f"/api/carts/{cart_id}/checkout",
        json={"email": "ada@example.com", "shipping_address": ADDRESS, "marketing_consent": True},
    )

    assert response.status_code == 201
    with Session() as session:
        cart = session.get(Cart, cart_id)
        assert (cart.email, cart.marketing_consent_at is not None) == ("ada@example.com", True)
