"""``cartfleet mail``: look at the emails the workers send."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from sqlalchemy import select

from models.db import Session
from models.orders.tables import Order
from worker import bootstrap

KINDS = ("order_confirmation", "shipping_notification")


@click.group()
def mail() -> None:
    """Mail commands."""


@mail.command()
@click.argument("order_id")
@click.option("--kind", type=click.Choice(KINDS), default=KINDS[0], show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write [default: var/mail-preview/<kind>-<order number>.html].",
)
def preview(order_id: str, kind: str, output: Path | None) -> None:
    """Render the email for ORDER_ID (order id or number) to an HTML file; sends nothing."""
    bootstrap.start()
    from jobs.email import compose, not_sendable  # after start: the actors need the broker

    with Session() as session:
        try:
            order = session.get(Order, uuid.UUID(order_id))
        except ValueError:
            order = session.scalar(select(Order).where(Order.order_number == order_id))
        if order is None:
            raise click.ClickException(f"no order {order_id}")
        # The workers would never send it: a preview must not show, say, a canceled
        # order as confirmed.
        reason = not_sendable(session, order, kind)
        if reason:
            raise click.ClickException(f"{order.order_number} gets no {kind}: {reason}")
        rendered, message = compose(session, order, kind)
    path = output or Path("var/mail-preview") / f"{kind}-{order.order_number}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendered.html, encoding="utf-8")
    click.echo(f"{path}  (To: {message['To']}; Subject: {rendered.subject})")
