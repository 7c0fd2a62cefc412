"""Refunds through the Stripe sandbox: once per request, never over the remainder, status
from Stripe's webhooks, an email per refund; resending the confirmation."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from models.db import Session
from models.emails import Email
from models.orders.refunds import Refund
from services import stripe
from services.stripe import stripe_client
from tests.web.admin_helpers import (
    BOOTSTRAP,
    fleet_sandbox,
    logged_in,
    order_status,
    paid_order,
    wait_until,
)


@pytest.fixture
def sandbox(live_server, worker):
    with fleet_sandbox(live_server) as server:
        yield server


def refund(client, order_id: str, **body):
    body.setdefault("reason", "requested_by_customer")
    return client.post(f"/admin/api/orders/{order_id}/refund", json=body, headers=BOOTSTRAP)


def refund_posts(sandbox) -> list[dict]:
    return [r for r in sandbox.control.requests() if r["path"] == "/v1/refunds"]


def rows(order_id: str) -> list[Refund]:
    with Session() as session:
        return list(session.scalars(select(Refund).where(Refund.order_id == uuid.UUID(order_id))))


def test_a_partial_refund_settles_by_webhook_and_emails_the_customer(
    client, sandbox, smtp_server, drain_queues
):
    order_id = paid_order(sandbox)  # 2 x $10.00
    token = logged_in(client, "operator")

    response = client.post(
        f"/admin/api/orders/{order_id}/refund",
        json={"amount_cents": 500, "reason": "requested_by_customer", "note": "scratched"},
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 202
    assert response.json == {
        "refund_id": response.json["refund_id"],
        "status": "pending",
        "amount_cents": 500,
        "currency": "usd",
    }
    wait_until(lambda: order_status(order_id) == "partially_refunded")
    drain_queues()
    [row] = rows(order_id)
    assert (row.status, row.amount_cents, row.created_by) == (
        "succeeded",
        500,
        "operator@example.com",
    )
    assert row.stripe_refund_id.startswith("re_")
    [message] = [m for m in smtp_server.messages if "refund" in m["Subject"].lower()]
    assert "$5.00" in message.get_body(preferencelist=("plain",)).get_content()
    detail = client.get(f"/admin/api/orders/{order_id}").json
    assert detail["refunded_cents"] == 500 and detail["refundable_cents"] == 1500
    assert detail["refunds"][0]["note"] == "scratched"
    actions = [(line["kind"], line["actor"]) for line in detail["timeline"]]
    assert ("admin.refund_order", "operator@example.com") in actions


def test_twenty_concurrent_refunds_of_the_remainder_make_one_stripe_refund(
    live_server, sandbox, drain_queues
):
    order_id = paid_order(sandbox)
    sandbox.control.clear_requests()
    url = f"{live_server}/admin/api/orders/{order_id}/refund"

    def post(_):
        body = {"amount_cents": 2000, "reason": "duplicate"}
        return requests.post(url, json=body, headers=BOOTSTRAP, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(post, range(20)))
    wait_until(lambda: order_status(order_id) == "refunded")
    drain_queues()

    # The losers are refused: over the remainder (422), or once the refund's webhook has
    # already made the order refunded, not refundable at all (409).
    assert statuses.count(202) == 1
    assert set(statuses) - {202} <= {409, 422}
    assert len(refund_posts(sandbox)) == 1
    assert [r.status for r in rows(order_id)] == ["succeeded"]


def test_a_job_killed_after_stripe_answered_still_refunds_once(
    client, sandbox, broker, drain_queues
):
    order_id = paid_order(sandbox)
    sandbox.control.clear_requests()
    assert refund(client, order_id, amount_cents=700).status_code == 202
    [row] = rows(order_id)
    # The job's Stripe call went through, then the worker died before its commit.
    stripe.create_refund(
        payment_intent_id=row_intent(order_id),
        amount=700,
        reason="requested_by_customer",
        idempotency_key=row.idempotency_key,
        metadata={"order_id": order_id, "refund_id": str(row.id)},
    )

    drain_queues()  # the job runs (again)
    wait_until(lambda: order_status(order_id) == "partially_refunded")

    posts = refund_posts(sandbox)
    assert [p["idempotency_key"] for p in posts] == [row.idempotency_key] * len(posts)
    intent = row_intent(order_id)
    assert len(stripe_client().v1.refunds.list(params={"payment_intent": intent}).data) == 1
    assert [r.status for r in rows(order_id)] == ["succeeded"]


def row_intent(order_id: str) -> str:
    from models.orders.tables import Order

    with Session() as session:
        return session.get(Order, uuid.UUID(order_id)).payment_intent_id


def test_over_the_remainder_is_refused_and_nothing_reaches_stripe(client, sandbox, drain_queues):
    order_id = paid_order(sandbox)
    sandbox.control.clear_requests()

    over = refund(client, order_id, amount_cents=2001)
    drain_queues()

    assert over.status_code == 422
    assert over.json["error"] == "amount_out_of_range"
    assert over.json["refundable_cents"] == 2000
    assert refund_posts(sandbox) == [] and rows(order_id) == []


def test_pending_refunds_count_against_the_remainder(client, sandbox):
    order_id = paid_order(sandbox)
    sandbox.control.pause()  # keeps the first refund pending: no webhook arrives

    assert refund(client, order_id, amount_cents=1500).status_code == 202
    second = refund(client, order_id, amount_cents=600)

    assert second.status_code == 422
    assert second.json["refundable_cents"] == 500


@pytest.mark.parametrize("status", ["pending_payment", "canceled"])
def test_an_unpaid_order_is_not_refundable(client, status):
    from tests.web.test_admin_orders import make_order

    response = refund(client, make_order(status))

    assert response.status_code == 409
    assert response.json["error"] == "invalid_transition"


def test_a_refund_made_in_stripes_dashboard_shows_up_the_same_way(client, sandbox, drain_queues):
    order_id = paid_order(sandbox)

    stripe_client().v1.refunds.create(
        params={"payment_intent": row_intent(order_id), "amount": 300, "reason": "fraudulent"}
    )
    wait_until(lambda: order_status(order_id) == "partially_refunded")
    drain_queues()

    [row] = rows(order_id)
    assert (row.created_by, row.status, row.amount_cents, row.reason) == (
        "stripe",
        "succeeded",
        300,
        "fraudulent",
    )


def test_bad_refund_bodies_are_refused(client):
    from tests.web.test_admin_orders import make_order

    order_id = make_order("paid")
    for body in ({"reason": "bored"}, {"reason": "duplicate", "amount_cents": 0}, {}):
        response = client.post(f"/admin/api/orders/{order_id}/refund", json=body, headers=BOOTSTRAP)
        assert response.status_code == 422


def test_resend_confirmation_sends_a_second_copy(client, smtp_server, drain_queues):
    from tests.web.test_admin_orders import make_order

    order_id = make_order("paid")
    with Session.begin() as session:
        from models.orders.tables import Order

        session.get(Order, uuid.UUID(order_id)).paid_at = session.get(
            Order, uuid.UUID(order_id)
        ).created_at

    first = client.post(f"/admin/api/orders/{order_id}/emails/confirmation", headers=BOOTSTRAP)
    second = client.post(f"/admin/api/orders/{order_id}/emails/confirmation", headers=BOOTSTRAP)
    drain_queues()

    assert first.status_code == second.status_code == 202
    assert len(smtp_server.messages) == 2
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 2
    with Session() as session:
        kinds = session.scalars(select(Email.kind)).all()
    assert all(kind.startswith("order_confirmation.r") for kind in kinds)
