"""The order rules the flows enforce and the admin order page reads."""

from __future__ import annotations

from models.orders import rules
from models.orders.status import OrderStatus


def test_only_a_paid_or_partly_shipped_order_ships():
    shippable = {status for status in OrderStatus if rules.may_ship(status)}

    assert shippable == {OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED}
    assert rules.may_ship_shipment("partially_shipped", "pending")
    assert not rules.may_ship_shipment("partially_shipped", "shipped")
    assert not rules.may_ship_shipment("refunded", "pending")


def test_a_refund_needs_a_captured_order_with_a_remainder():
    assert rules.may_refund("shipped", 1)
    assert not rules.may_refund("shipped", 0)
    assert not rules.may_refund("refunded", 500)
    assert not rules.may_refund("pending_payment", 500)


def test_only_a_paid_order_has_a_confirmation_to_resend_and_labels_read_as_words():
    assert rules.may_resend_confirmation("2026-12-07T20:00:00+00:00")
    assert not rules.may_resend_confirmation(None)
    assert rules.label("partially_refunded") == "partially refunded"
