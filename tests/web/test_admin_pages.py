"""The admin's HTML pages: the list with its filters, the detail, the forms, staff, audit."""

from __future__ import annotations

from models.db import Session
from tests.support import factories
from tests.web.admin_helpers import logged_in, order_status


def paid_orders() -> list[str]:
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        ids = []
        for email in ("ann@example.com", "bob@example.com"):
            order = factories.order(session, lines={"TEE-1": 1}, status="paid", email=email)
            order.payment_intent_id = f"pi_{email[:3]}"
            ids.append(str(order.id))
        return ids


def test_orders_page_filters_and_counts(client):
    ann, _ = paid_orders()
    logged_in(client, "viewer")

    every = client.get("/admin/orders").get_data(as_text=True)
    one = client.get("/admin/orders?customer=ann&status=&from=&to=2100-01-01").get_data(
        as_text=True
    )

    assert "2 matches" in every and "ann@example.com" in every and "bob@example.com" in every
    assert "1 match<" in one and f"/admin/orders/{ann}" in one and "bob@example.com" not in one
    assert "/admin/api/orders.csv?customer=ann" in one


def test_a_viewer_sees_the_order_without_its_forms(client):
    ann, _ = paid_orders()
    logged_in(client, "viewer")

    page = client.get(f"/admin/orders/{ann}").get_data(as_text=True)

    assert "ann@example.com" in page and "Timeline" in page
    assert 'id="ship-form"' not in page and 'id="refund-form"' not in page


def test_ship_form_ships_once_and_says_so(client, smtp_server, drain_queues):
    ann, _ = paid_orders()
    token = logged_in(client, "operator")
    form = {"carrier": "UPS", "tracking_number": "1Z1", "csrf_token": token}

    first = client.post(f"/admin/orders/{ann}/ship", data=form, follow_redirects=True)
    again = client.post(f"/admin/orders/{ann}/ship", data=form, follow_redirects=True)
    drain_queues()

    assert "Marked shipped" in first.get_data(as_text=True)
    assert "Only a paid order can be shipped" in again.get_data(as_text=True)
    assert order_status(ann) == "shipped"
    assert len(smtp_server.messages) == 1
    timeline = client.get(f"/admin/orders/{ann}").get_data(as_text=True)
    assert "admin.ship_order" in timeline and "operator@example.com" in timeline


def test_refund_form_refuses_over_the_remainder_with_a_message(client):
    ann, _ = paid_orders()
    token = logged_in(client, "operator")

    page = client.post(
        f"/admin/orders/{ann}/refund",
        data={"amount_cents": "5000", "reason": "duplicate", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)

    assert "The refundable remainder is 1000" in page
    assert order_status(ann) == "paid"


def test_staff_page_is_for_owners_and_creates_users(client):
    token = logged_in(client, "owner")

    created = client.post(
        "/admin/staff",
        data={
            "email": "new@example.com",
            "password": "long enough pass",
            "role": "viewer",
            "csrf_token": token,
        },
        follow_redirects=True,
    ).get_data(as_text=True)

    assert "Created viewer new@example.com" in created
    audit = client.get("/admin/audit?action=create_user").get_data(as_text=True)
    assert "owner@example.com" in audit


def test_staff_page_is_refused_to_an_operator(client):
    logged_in(client, "operator")

    assert client.get("/admin/staff").status_code == 403


def test_a_refused_form_action_is_audited_as_failed(client):
    ann, _ = paid_orders()
    token = logged_in(client, "operator")

    client.post(f"/admin/orders/{ann}/refund", data={"reason": "bored", "csrf_token": token})

    [entry] = client.get("/admin/api/audit?action=refund_order").json["items"]
    assert (entry["outcome"], entry["status_code"], entry["target"]) == (
        "failed",
        422,
        f"order:{ann}",
    )
