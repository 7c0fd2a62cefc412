"""``cartfleet orders``: operations on orders."""

from __future__ import annotations

import json

import click

from worker import bootstrap


@click.group()
def orders() -> None:
    """Orders and their payments."""


@orders.command()
def reconcile() -> None:
    """Ask Stripe about every order still awaiting payment and apply what it says, now.

    The same as the ``reconcile_payment_intents`` job: orders unpaid past
    RECONCILE_PENDING_AFTER_MINUTES, or whose hold ends within
    RECONCILE_EXPIRING_WITHIN_MINUTES. Prints one JSON line per order.
    """
    bootstrap.start()
    from jobs.orders import reconcile_due

    results = reconcile_due()
    for order_id, result in results:
        if result is None:
            click.echo(
                json.dumps({"order_id": str(order_id), "error": "Stripe could not be asked"})
            )
            continue
        settlement, mismatch = result.settlement, result.mismatch
        click.echo(
            json.dumps(
                {
                    "order_id": str(order_id),
                    "stripe_status": result.stripe_status,
                    "from": settlement.status_before if settlement else None,
                    "to": settlement.status_after if settlement else None,
                    "not_applied": mismatch.reason if mismatch else None,
                }
            )
        )
    changed = sum(1 for _, r in results if r and r.settlement)
    click.echo(f"reconciled {len(results)} order(s), {changed} changed", err=True)
