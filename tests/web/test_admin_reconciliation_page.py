"""The reconciliation page: the list with its figures, retry now, resolve with a note."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from models.audit import AuditEntry
from models.db import Session
from models.orders.tables import Order
from models.stock.tables import StockLevel
from tests.web.admin_helpers import failed_confirmation, logged_in


def audited(action: str) -> list[tuple[str, str | None]]:
    with Session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return sorted((entry.outcome, entry.target) for entry in entries)


def test_a_viewer_sees_the_list_figures_and_runbook_without_buttons(client):
    order_id = failed_confirmation()
    logged_in(client, "viewer")

    page = client.get("/admin/reconciliation").get_data(as_text=True)

    assert 'id="affected">1 affected order<' in page and f'id="order-{order_id}"' in page
    assert "<td>SKU-9</td>" in page and '<svg class="chart"' in page
    assert "docs/runbooks/reconciliation.md" in page
    assert "Retry now" not in page and "Mark resolved" not in page


def test_a_viewer_may_not_retry(client):
    order_id = failed_confirmation()
    token = logged_in(client, "viewer")

    response = client.post(f"/admin/reconciliation/{order_id}/retry", data={"csrf_token": token})

    assert response.status_code == 403
    assert audited("retry_reconciliation") == [("denied", f"order:{order_id}")]


def test_retry_now_confirms_once_stock_is_back_and_the_order_leaves_the_page(client):
    order_id = failed_confirmation()
    token = logged_in(client, "operator")
    with Session.begin() as session:
        session.get(StockLevel, ("SKU-9", "main")).on_hand = 5

    response = client.post(
        f"/admin/reconciliation/{order_id}/retry",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    again = client.post(
        f"/admin/reconciliation/{order_id}/retry",
        data={"csrf_token": token},
        follow_redirects=True,
    )

    assert "Confirmed" in response.get_data(as_text=True)
    assert f'id="order-{order_id}"' not in response.get_data(as_text=True)
    assert "no confirmation errors to retry" in again.get_data(as_text=True)
    assert audited("retry_reconciliation") == [
        ("failed", f"order:{order_id}"),
        ("ok", f"order:{order_id}"),
    ]


def test_resolve_needs_a_note_and_the_csrf_token(client):
    order_id = failed_confirmation()
    token = logged_in(client, "operator")

    no_csrf = client.post(f"/admin/reconciliation/{order_id}/resolve", data={"note": "x"})
    no_note = client.post(
        f"/admin/reconciliation/{order_id}/resolve",
        data={"note": " ", "csrf_token": token},
        follow_redirects=True,
    )
    done = client.post(
        f"/admin/reconciliation/{order_id}/resolve",
        data={"note": "Found one unit in returns", "csrf_token": token},
        follow_redirects=True,
    )

    assert no_csrf.status_code == 400
    assert "Write a note" in no_note.get_data(as_text=True)
    assert "Marked resolved" in done.get_data(as_text=True)
    with Session() as session:
        assert not session.get(Order, uuid.UUID(order_id)).confirmation_errors
    assert audited("resolve_reconciliation") == [
        ("failed", f"order:{order_id}"),
        ("ok", f"order:{order_id}"),
    ]
