"""The recovery schedule on a test clock: steps, catch-up, checkout, overlap, consent."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from jobs.recovery import deliver
from models.carts.tables import Cart, DiscountCode
from models.db import Session
from models.orders import checkout
from models.recovery import consent, sending
from models.recovery.tables import email_hash
from services.settings import get_settings
from tests.support.recovery import (
    ADDRESS,
    HOUR,
    cart_status,
    idle_cart,
    products,
    run_and_deliver,
    run_job,
    start_clock,
    steps,
)


@pytest.fixture
def t0(broker):
    products()
    return start_clock()


def codes(message) -> DiscountCode:
    text = message.get_body(preferencelist=("plain",)).get_content()
    [code] = [word for word in text.split() if word.startswith("BACK")]
    with Session() as session:
        return session.get(DiscountCode, code)


def test_the_whole_schedule_email_push_email_abandoned(t0, smtp_server):
    cart_id = idle_cart(since=t0)

    assert run_and_deliver(t0 + 2 * HOUR - dt.timedelta(minutes=1)) == []
    assert run_and_deliver(t0 + 2 * HOUR) == [(cart_id, "email_1")]
    [first] = smtp_server.wait_for(1)
    assert first["Subject"] == "You left items in your cart"
    code = codes(first)
    assert (code.percent, code.cart_id, code.email) == (5, cart_id, "ada@example.com")
    assert code.expires_at == t0 + 2 * HOUR + 7 * 24 * HOUR
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["List-Unsubscribe"].startswith("<http://localhost:5000/unsubscribe/")
    text = first.get_body(preferencelist=("plain",)).get_content()
    html = first.get_body(preferencelist=("html",)).get_content()
    assert "2 x Product SKU-1 @ $15.00 = $30.00" in text
    for body in (text, html):
        assert "Product SKU-2" in body and "$37.00" in body
        assert code.code in body and "5 % off" in body.replace("&nbsp;", " ")
        assert f"{code.expires_at:%B} {code.expires_at.day}, {code.expires_at:%Y %H:%M} UTC" in body
        assert "Complete your order" in body
        assert "http://localhost:5000/recover/" in body
        assert get_settings().store_address in body
        assert first["List-Unsubscribe"].strip("<>") in body
    assert 'name="viewport"' in html

    assert run_and_deliver(t0 + 23 * HOUR) == []
    assert run_and_deliver(t0 + 24 * HOUR) == [(cart_id, "push")]
    assert len(smtp_server.messages) == 1  # the push went to the push channel

    assert run_and_deliver(t0 + 72 * HOUR) == [(cart_id, "email_2")]
    [_, second] = smtp_server.wait_for(2)
    assert second["Subject"] == "Last chance — 10 % off"
    assert codes(second).percent == 10

    assert run_job(t0 + 7 * 24 * HOUR) == []
    assert cart_status(cart_id) == "abandoned"
    assert steps(cart_id) == {
        "email_1": ("sent", None),
        "push": ("sent", None),
        "email_2": ("sent", None),
        "abandon": ("sent", None),
    }
    assert run_and_deliver(t0 + 8 * 24 * HOUR) == []
    assert len(smtp_server.messages) == 2


def test_a_cart_ordered_at_71h59_gets_no_72h_email(t0, smtp_server):
    cart_id = idle_cart(since=t0)
    run_and_deliver(t0 + 2 * HOUR)
    run_and_deliver(t0 + 24 * HOUR)

    with Session.begin() as session:
        checkout.start(
            session,
            cart_id=cart_id,
            email="ada@example.com",
            shipping_address=ADDRESS,
            acknowledge_price_changes=False,
            reservation_minutes=15,
        )

    assert run_and_deliver(t0 + 72 * HOUR) == []
    assert run_and_deliver(t0 + 8 * 24 * HOUR) == []
    assert len(smtp_server.messages) == 1
    assert "email_2" not in steps(cart_id)


def test_a_send_queued_a_second_before_checkout_is_canceled(t0, smtp_server):
    cart_id = idle_cart(since=t0)
    [send] = run_job(t0 + 2 * HOUR)  # claimed and enqueued

    with Session.begin() as session:
        checkout.start(
            session,
            cart_id=cart_id,
            email="ada@example.com",
            shipping_address=ADDRESS,
            acknowledge_price_changes=False,
            reservation_minutes=15,
        )

    # Canceled by the checkout's own transaction, before the send job even looks.
    assert steps(cart_id) == {"email_1": ("canceled", "ordered")}
    assert deliver(*send, now=t0 + 2 * HOUR) is False
    assert smtp_server.messages == []


def test_activity_after_the_claim_resets_the_clock(t0, smtp_server):
    cart_id = idle_cart(since=t0)
    [send] = run_job(t0 + 2 * HOUR)
    with Session.begin() as session:
        session.get(Cart, cart_id).last_activity_at = t0 + 2 * HOUR

    assert deliver(*send, now=t0 + 2 * HOUR) is False
    assert steps(cart_id) == {}
    assert run_and_deliver(t0 + 4 * HOUR) == [(cart_id, "email_1")]
    assert len(smtp_server.wait_for(1)) == 1


def test_two_jobs_at_once_send_each_step_once(t0, smtp_server):
    carts = [idle_cart(since=t0, email=f"buyer{n}@example.com") for n in range(24)]
    claimed: list[list] = [[], []]

    def job(index: int) -> None:
        claimed[index] = run_job(t0 + 2 * HOUR, batch_size=5)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sends = claimed[0] + claimed[1]
    assert sorted(cart for cart, _ in sends) == sorted(carts)
    # The outbox may run a send twice (relay, retry): the second one sends nothing.
    results = [deliver(*send, now=t0 + 2 * HOUR) for send in sends + sends]
    assert results.count(True) == len(carts)
    assert len(smtp_server.wait_for(len(carts))) == len(carts)
    assert run_job(t0 + 3 * HOUR) == []


def test_a_job_down_for_a_day_sends_only_what_is_still_due(t0, smtp_server):
    stale = idle_cart(since=t0)
    reactivated = idle_cart(since=t0 + 25 * HOUR, email="back@example.com")

    assert run_and_deliver(t0 + 26 * HOUR) == [(stale, "push")]
    assert smtp_server.messages == []
    assert steps(stale) == {"email_1": ("skipped", "stale"), "push": ("sent", None)}
    assert steps(reactivated) == {}


def test_a_send_delayed_past_the_next_step_is_stale(t0, smtp_server):
    cart_id = idle_cart(since=t0)
    [send] = run_job(t0 + 2 * HOUR)

    assert deliver(*send, now=t0 + 25 * HOUR) is False
    assert steps(cart_id) == {"email_1": ("skipped", "stale")}
    assert run_and_deliver(t0 + 25 * HOUR) == [(cart_id, "push")]


def test_no_consent_no_email_nothing_sent(t0, smtp_server):
    refused = idle_cart(since=t0, consent=False)
    anonymous = idle_cart(since=t0, email=None)

    assert run_and_deliver(t0 + 2 * HOUR) == []
    assert run_and_deliver(t0 + 72 * HOUR) == []
    assert smtp_server.messages == []
    assert steps(refused)["email_2"] == ("skipped", "no_consent")
    assert steps(anonymous)["email_2"] == ("skipped", "no_email")


def test_consent_not_required_when_configured(t0, smtp_server, monkeypatch):
    monkeypatch.setenv("RECOVERY_REQUIRES_CONSENT", "false")
    get_settings.cache_clear()
    try:
        cart_id = idle_cart(since=t0, consent=False)
        assert run_and_deliver(t0 + 2 * HOUR) == [(cart_id, "email_1")]
    finally:
        monkeypatch.delenv("RECOVERY_REQUIRES_CONSENT")
        get_settings.cache_clear()


def test_an_unsubscribed_address_gets_no_later_step(t0, smtp_server):
    cart_id = idle_cart(since=t0, email="Ada@Example.com")
    run_and_deliver(t0 + 2 * HOUR)
    with Session.begin() as session:
        consent.unsubscribe(session, address_hash=email_hash("ada@example.com"), now=t0)

    assert run_and_deliver(t0 + 24 * HOUR) == []
    assert steps(cart_id)["push"] == ("skipped", "unsubscribed")


def test_the_periodic_job_sends_through_the_outbox_and_a_worker(broker, smtp_server, drain_queues):
    from jobs.recovery import REMINDERS_SENT, recover_abandoned_carts

    before = REMINDERS_SENT.labels("email_1")._value.get()
    products()
    cart_id = idle_cart(since=start_clock() - 3 * HOUR)

    recover_abandoned_carts.send_with_options(args=())
    drain_queues()
    recover_abandoned_carts.send_with_options(args=())  # a second scheduler tick
    drain_queues()

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "ada@example.com"
    assert steps(cart_id) == {"email_1": ("sent", None)}
    assert REMINDERS_SENT.labels("email_1")._value.get() == before + 1


def test_a_failed_attempt_is_retried_and_sent_once(t0, smtp_server):
    from services import mailer

    cart_id = idle_cart(since=t0)
    [send] = run_job(t0 + 2 * HOUR)
    smtp_server.refuse_next(1, code=451)

    with pytest.raises(mailer.TransientMailError):
        deliver(*send, now=t0 + 2 * HOUR)
    assert steps(cart_id) == {"email_1": ("pending", None)}
    assert deliver(*send, now=t0 + 2 * HOUR + dt.timedelta(seconds=5)) is True
    assert deliver(*send, now=t0 + 2 * HOUR + dt.timedelta(seconds=9)) is False

    [message] = smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1
    assert codes(message).percent == 5


def test_the_server_is_called_with_no_lock_on_the_cart_or_the_email(t0, smtp_server, monkeypatch):
    from sqlalchemy import select

    from models.emails import Email
    from services import mailer

    cart_id = idle_cart(since=t0)
    [send] = run_job(t0 + 2 * HOUR)
    server = mailer.transport
    seen = []

    class LockingTransport:
        """Locks the cart and the email row without waiting, mid-send."""

        def send(self, message) -> None:
            with Session.begin() as session:
                session.get(Cart, cart_id, with_for_update={"nowait": True})
                email = session.scalars(
                    select(Email).where(Email.cart_id == cart_id).with_for_update(nowait=True)
                ).one()
                seen.append(email.status)
            server().send(message)

    monkeypatch.setattr(mailer, "transport", LockingTransport)
    assert deliver(*send, now=t0 + 2 * HOUR) is True

    assert seen == ["sending"]
    assert len(smtp_server.wait_for(1)) == 1
    assert steps(cart_id) == {"email_1": ("sent", None)}


def test_a_permanent_refusal_ends_the_step_dead(t0, smtp_server):
    from services import mailer

    cart_id = idle_cart(since=t0)
    [send] = run_job(t0 + 2 * HOUR)
    smtp_server.refuse_next(1, code=550)

    with pytest.raises(mailer.PermanentMailError):
        deliver(*send, now=t0 + 2 * HOUR)
    assert steps(cart_id) == {"email_1": ("dead", "mail_refused")}
    assert deliver(*send, now=t0 + 2 * HOUR) is False


def test_the_gauges_follow_the_recovered_orders(t0, smtp_server):
    from jobs.recovery import CARTS_RECOVERED, REVENUE_RECOVERED, publish_figures
    from models.orders.tables import Order

    cart_id = idle_cart(since=t0 - 3 * HOUR)
    run_and_deliver(t0 - HOUR)
    with Session.begin() as session:
        order = checkout.start(
            session,
            cart_id=cart_id,
            email="ada@example.com",
            shipping_address=ADDRESS,
            acknowledge_price_changes=False,
            reservation_minutes=15,
        ).order
        order_id = order.id
    with Session.begin() as session:
        session.get(Order, order_id).status = "paid"

    figures = publish_figures(now=t0 + HOUR)

    assert figures["carts_recovered"] == 1
    assert CARTS_RECOVERED.labels("email_1")._value.get() == 1
    assert REVENUE_RECOVERED.labels("usd")._value.get() == 3700


def test_a_write_revives_an_abandoned_cart_for_good(t0):
    from models.carts import edits
    from models.carts.reads import StockPolicy

    cart_id = idle_cart(since=t0)
    run_job(t0 + 7 * 24 * HOUR)
    assert cart_status(cart_id) == "abandoned"

    with Session.begin() as session:
        edits.add_item(session, cart_id=cart_id, sku="SKU-2", quantity=1, policy=StockPolicy())

    assert cart_status(cart_id) == "active"
    # Each step happens once per cart: revived, it is neither reminded nor abandoned again.
    assert run_job(t0 + 15 * 24 * HOUR) == []
    assert cart_status(cart_id) == "active"


def test_two_sends_of_one_step_at_once_send_one_email(t0, smtp_server):
    cart_id = idle_cart(since=t0)
    [send] = run_job(t0 + 2 * HOUR)
    results: list[bool | str] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(deliver(*send, now=t0 + 2 * HOUR))
        except sending.CartBusy:  # the other one's claim is in flight: this one retries
            results.append("busy")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(True) == 1 and len(results) == 2
    assert len(smtp_server.wait_for(1)) == 1
    assert steps(cart_id) == {"email_1": ("sent", None)}
    assert deliver(*send, now=t0 + 2 * HOUR) is False  # the retry of the one held off
