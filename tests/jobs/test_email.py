"""Order emails through a real worker to a real SMTP server (or the maildir)."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main as cli
from jobs.email import SEND_LEASE, EmailInFlight, add_business_days, send_order_email
from jobs.recommendations import rebuild
from models import emails
from models.base import utcnow
from models.db import Session
from models.emails import Email
from models.orders.tables import OrderItem
from models.recommendations.build import BuildSettings
from services import mailer
from services.settings import get_settings
from tests.support import factories

# Retries in milliseconds instead of minutes, so a flapping server recovers within a test.
FAST = {"min_backoff": 10, "max_backoff": 50}


@pytest.fixture
def setenv():
    """Set environment variables for one test, re-reading the settings each way."""
    with pytest.MonkeyPatch.context() as patch:

        def set_(name: str, value: str) -> None:
            patch.setenv(name, value)
            get_settings.cache_clear()

        yield set_
    get_settings.cache_clear()


def paid_order(lines: dict[str, int] | None = None, **fields) -> tuple[str, str]:
    """A paid order (products created as needed); returns (id, order number)."""
    lines = lines or {"TEE-1": 2, "MUG-1": 1}
    with Session.begin() as session:
        for sku in lines:
            factories.product(session, sku)
        order = factories.order(session, lines=lines, status="paid")
        for name, value in fields.items():
            setattr(order, name, value)
        session.flush()
        return str(order.id), order.order_number


def send(order_id: str, kind: str = "order_confirmation", **options) -> None:
    send_order_email.send_with_options(args=(order_id, kind), **{**FAST, **options})


def email_row(order_id: str, kind: str = "order_confirmation") -> Email | None:
    with Session() as session:
        return session.scalar(
            select(Email).where(Email.order_id == uuid.UUID(order_id), Email.kind == kind)
        )


def dead_letters(broker, queue: str = "email") -> list[dict]:
    raw = broker.client.hgetall(f"dramatiq:{queue}.XQ.msgs").values()
    return [json.loads(item) for item in raw]


def parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_confirmation_arrives_once_with_the_order(smtp_server, drain_queues):
    order_id, number = paid_order({"TEE-1": 2, "MUG-1": 1})

    send(order_id)
    send(order_id)  # a replayed webhook enqueues it again
    drain_queues()
    send(order_id)
    drain_queues()

    [message] = smtp_server.messages
    assert number in message["Subject"]
    assert message["To"].addresses[0].addr_spec == "buyer@example.com"
    assert message["From"] == get_settings().mail_from
    domain = get_settings().mail_from.rpartition("@")[2].rstrip(">")
    # A long Message-ID is folded onto a continuation line; unfolded it is the same id.
    assert message["Message-ID"].strip() == f"<order_confirmation.{order_id}@{domain}>"
    text, html = parts(message)
    for body in (text, html):
        assert "Product TEE-1" in body
        assert "Product MUG-1" in body
        assert "$30.00" in body  # total: 3 x $10.00
        assert "1 Main St" in body
        assert "Springfield" in body
        assert f"http://localhost:3000/orders/{order_id}" in body
        assert "Estimated delivery" in body
    assert "2 x Product TEE-1 @ $10.00 = $20.00" in text
    row = email_row(order_id)
    assert (row.status, row.attempts, row.recipient) == ("sent", 1, "buyer@example.com")
    assert row.subject == message["Subject"]
    assert row.message_id == message["Message-ID"].strip()
    assert row.sent_at is not None


def test_flapping_server_delivers_on_a_retry_exactly_once(smtp_server, drain_queues):
    order_id, _ = paid_order()
    smtp_server.refuse_next(2, code=451)

    send(order_id)
    drain_queues()

    assert smtp_server.refused == 2
    assert len(smtp_server.messages) == 1
    row = email_row(order_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


def test_exhausted_retries_end_dead_with_a_dead_letter(broker, smtp_server, drain_queues):
    order_id, _ = paid_order()
    smtp_server.refuse_next(100, code=451)

    send(order_id, max_retries=2)
    drain_queues()

    assert smtp_server.messages == []
    assert smtp_server.refused == 3
    row = email_row(order_id)
    assert row.status == "dead"
    assert row.attempts == 3
    assert "retries exhausted after 3 attempt(s)" in row.last_error
    assert "451" in row.last_error
    [letter] = dead_letters(broker)
    assert letter["actor_name"] == "send_order_email"
    assert letter["args"] == [order_id, "order_confirmation"]


def test_permanent_refusal_is_dead_at_once_without_retrying(broker, smtp_server, drain_queues):
    order_id, _ = paid_order()
    smtp_server.refuse_next(100, code=550)

    send(order_id)  # the default eight retries would take hours: none may happen
    drain_queues()

    assert smtp_server.refused == 1
    row = email_row(order_id)
    assert (row.status, row.attempts) == ("dead", 1)
    assert "550" in row.last_error
    assert [letter["args"] for letter in dead_letters(broker)] == [[order_id, "order_confirmation"]]


def test_requeued_dead_email_is_sent_once_the_server_accepts(smtp_server, drain_queues):
    order_id, _ = paid_order()
    smtp_server.refuse_next(1, code=550)
    send(order_id)
    drain_queues()

    send(order_id)  # an operator requeues the dead letter after fixing the address
    drain_queues()

    assert len(smtp_server.messages) == 1
    assert email_row(order_id).status == "sent"


def test_without_smtp_url_the_email_lands_in_the_maildir(tmp_path, setenv, drain_queues):
    setenv("MAIL_DIR", str(tmp_path / "mail"))
    order_id, number = paid_order()

    send(order_id)
    drain_queues()

    [message] = list(mailbox.Maildir(tmp_path / "mail", create=False))
    assert number in message["Subject"]
    assert email_row(order_id).status == "sent"


def test_non_ascii_names_and_addresses_render_and_encode(smtp_server, drain_queues):
    address = {
        "name": "Zoë Łukasiewicz-Müller",
        "line1": "Straße des 17. Juni 135",
        "city": "Zürich",
        "postal_code": "8001",
        "country": "CH",
    }
    order_id, _ = paid_order({"CREME-1": 1}, email="zoe@example.com", shipping_address=address)
    with Session.begin() as session:
        item = session.scalar(select(OrderItem).where(OrderItem.sku == "CREME-1"))
        item.name = "Crème brûlée set <b>x</b> & co"

    send(order_id)
    drain_queues()

    [message] = smtp_server.messages
    header_block = smtp_server.raw[0].split(b"\r\n\r\n", 1)[0]
    header_block.decode("ascii")  # headers travel as RFC 2047 encoded-words
    assert b"=?utf-8?" in header_block
    assert message["To"].addresses[0].display_name == "Zoë Łukasiewicz-Müller"
    assert "Zoë Łukasiewicz-Müller" in message["Subject"]
    text, html = parts(message)
    assert "Straße des 17. Juni 135" in text and "Straße des 17. Juni 135" in html
    assert "Zürich 8001" in text
    assert "Crème brûlée set <b>x</b> & co" in text
    assert "Crème brûlée set &lt;b&gt;x&lt;/b&gt; &amp; co" in html
    assert "<b>x</b>" not in html


def test_customers_also_bought_comes_from_the_recommendations(smtp_server, drain_queues):
    with Session.begin() as session:
        for sku in ("A", "B", "C", "D", "E", "F"):
            factories.product(session, sku)
        # B is bought with A twice, C once (shipped), D once but only in a pending
        # order (not a purchase), E and F never with A.
        factories.order(session, lines={"A": 1, "B": 1}, status="paid")
        factories.order(session, lines={"A": 1, "B": 2, "C": 1}, status="shipped")
        factories.order(session, lines={"A": 1, "D": 1}, status="pending_payment")
        factories.order(session, lines={"E": 1, "F": 1}, status="paid")
        order_id = str(factories.order(session, lines={"A": 1}, status="paid").id)
    rebuild(BuildSettings(min_support=1))

    send(order_id)
    drain_queues()

    text, html = parts(smtp_server.messages[0])
    assert "Customers also bought" in text
    assert "http://localhost:3000/products/B" in html
    assert "Product C" in html
    assert "Product D" not in html and "Product E" not in html


def test_unpaid_order_gets_no_confirmation(smtp_server, drain_queues):
    with Session.begin() as session:
        factories.product(session, "A")
        order_id = str(factories.order(session, lines={"A": 1}).id)

    send(order_id)
    drain_queues()

    assert smtp_server.messages == []
    assert email_row(order_id) is None


def test_unknown_kind_is_dead_lettered_without_retries(broker, smtp_server, drain_queues):
    order_id, _ = paid_order()

    send(order_id, kind="birthday_card")
    drain_queues()

    assert smtp_server.messages == []
    assert [letter["args"] for letter in dead_letters(broker)] == [[order_id, "birthday_card"]]


def test_a_row_held_by_another_sender_is_not_claimed_twice():
    order_id, _ = paid_order()
    order_uuid = uuid.UUID(order_id)
    claim = {"kind": "order_confirmation", "order_id": order_uuid, "recipient": "b@example.com"}

    with Session.begin() as first:
        assert emails.claim(first, message_id="<m@x>", **claim) is not None
        first.commit()
    with Session.begin() as first, Session.begin() as second:
        assert emails.claim(first, message_id="<m@x>", **claim) is not None
        assert emails.claim(second, message_id="<m@x>", **claim) is None


def test_the_server_is_called_with_no_lock_on_the_email_row(smtp_server, drain_queues, monkeypatch):
    order_id, _ = paid_order()
    server = mailer.transport
    seen = []

    class LockingTransport:
        """Locks the row without waiting, mid-send: a lock held by the sender fails it."""

        def send(self, message) -> None:
            with Session.begin() as session:
                row = session.scalars(
                    select(Email)
                    .where(Email.order_id == uuid.UUID(order_id))
                    .with_for_update(nowait=True)
                ).one()
                seen.append(row.status)
            server().send(message)

    monkeypatch.setattr(mailer, "transport", LockingTransport)
    send(order_id)
    drain_queues()

    assert seen == ["sending"]
    assert len(smtp_server.messages) == 1
    assert email_row(order_id).status == "sent"


def test_an_attempt_in_flight_holds_off_others_until_its_lease_lapses(smtp_server):
    order_id, _ = paid_order()
    claim = {"kind": "order_confirmation", "order_id": uuid.UUID(order_id)}
    with Session.begin() as session:
        email = emails.claim(session, message_id="<m@x>", recipient="b@example.com", **claim)
        emails.start_sending(session, email=email, now=utcnow())

    with pytest.raises(EmailInFlight):
        send_order_email(order_id, "order_confirmation")
    assert smtp_server.messages == []

    with Session.begin() as session:  # that sender died without recording its outcome
        email = session.scalars(select(Email).filter_by(**claim)).one()
        email.last_attempt_at = utcnow() - SEND_LEASE - dt.timedelta(seconds=1)
    send_order_email(order_id, "order_confirmation")
    send_order_email(order_id, "order_confirmation")

    assert len(smtp_server.messages) == 1
    assert email_row(order_id).status == "sent"


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (dt.date(2026, 11, 20), 1, dt.date(2026, 11, 23)),  # Friday -> Monday
        (dt.date(2026, 11, 21), 5, dt.date(2026, 11, 27)),  # Saturday -> next Friday
        (dt.date(2026, 11, 23), 0, dt.date(2026, 11, 23)),
    ],
)
def test_business_days_skip_weekends(start, days, expected):
    assert add_business_days(start, days) == expected


def test_estimated_delivery_follows_the_setting(smtp_server, setenv, drain_queues):
    paid_at = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)  # a Friday
    setenv("DELIVERY_BUSINESS_DAYS", "2")
    order_id, _ = paid_order(paid_at=paid_at)

    send(order_id)
    drain_queues()

    text, _ = parts(smtp_server.messages[0])
    assert "Estimated delivery: Tuesday, November 24, 2026" in text


def test_preview_command_writes_the_html(tmp_path):
    order_id, number = paid_order()
    output = tmp_path / "preview.html"

    result = CliRunner().invoke(cli, ["mail", "preview", number, "--output", str(output)])

    assert result.exit_code == 0, result.output
    html = output.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert number in html and "Product TEE-1" in html
    assert email_row(order_id) is None  # a preview sends nothing


@pytest.mark.parametrize("status", ["canceled", "pending_payment", "payment_failed"])
def test_preview_refuses_a_confirmation_the_workers_would_never_send(tmp_path, status):
    _, number = paid_order(status=status)
    output = tmp_path / "preview.html"

    result = CliRunner().invoke(cli, ["mail", "preview", number, "--output", str(output)])

    assert result.exit_code == 1
    assert f"{number} gets no order_confirmation: order is {status}" in result.output
    assert not output.exists()
