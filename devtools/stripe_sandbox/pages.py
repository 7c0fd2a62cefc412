"""The sandbox's HTML pages: the 3D Secure challenge a buyer is redirected to, and receipts.

``GET /_sandbox/3ds/{intent}?client_secret=...`` shows the challenge; its form posts back
the buyer's choice, which passes or fails authentication as ``/_sandbox/.../authenticate``
does, then sends the browser to the ``return_url`` given at confirmation with Stripe's
query parameters (``payment_intent``, ``payment_intent_client_secret``,
``redirect_status``). ``GET /_sandbox/receipts/{charge}`` is a charge's ``receipt_url``.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from devtools.stripe_sandbox import confirmation
from devtools.stripe_sandbox.state import State
from devtools.stripe_sandbox.wire import StripeError

Page = tuple[int, str, dict[str, str]]

CHALLENGE = re.compile(r"/_sandbox/3ds/([^/]+)/?")
RECEIPT = re.compile(r"/_sandbox/receipts/([^/]+)/?")

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Stripe sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto">
<p><small>Stripe sandbox · test mode</small></p>
<h1>{title}</h1>
{body}
</body></html>"""


def _page(status: int, title: str, body: str) -> Page:
    return status, _LAYOUT.format(title=html.escape(title), body=body), {}


def _money(amount: int, currency: str) -> str:
    return html.escape(f"{amount / 100:.2f} {currency.upper()}")


def _intent(state: State, intent_id: str, secret: str) -> dict[str, Any] | None:
    # The client secret in the link is what lets this page act on the intent.
    intent = state.get("payment_intent", intent_id)
    return intent if intent is not None and intent["client_secret"] == secret else None


def challenge(state: State, intent_id: str, query: dict[str, str]) -> Page:
    """The challenge page: the amount, and buttons to complete or fail authentication."""
    intent = _intent(state, intent_id, query.get("client_secret", ""))
    if intent is None:
        return _page(404, "Unknown payment", "<p>No such payment, or a wrong link.</p>")
    if intent["status"] != "requires_action":
        return _page(409, "Nothing to authenticate", "<p>This payment needs no action.</p>")
    secret = html.escape(intent["client_secret"])
    body = f"""<p>Authenticate a payment of {_money(intent["amount"], intent["currency"])}
with the test card ending {html.escape(_last4(state, intent))}.</p>
<form method="post">
<input type="hidden" name="client_secret" value="{secret}">
<button type="submit" name="outcome" value="complete">Complete authentication</button>
<button type="submit" name="outcome" value="fail">Fail authentication</button>
</form>"""
    return _page(200, "3D Secure test payment", body)


def answer(state: State, intent_id: str, form: dict[str, str]) -> Page:
    """The buyer's choice: authenticate or fail, then back to the shop's ``return_url``."""
    intent = _intent(state, intent_id, form.get("client_secret", ""))
    if intent is None:
        return _page(404, "Unknown payment", "<p>No such payment, or a wrong link.</p>")
    next_action = intent["next_action"] or {}
    return_url = (next_action.get("redirect_to_url") or {}).get("return_url")
    try:
        confirmation.authenticate(state, intent, fail=form.get("outcome") != "complete")
    except StripeError as error:
        return _page(409, "Nothing to authenticate", f"<p>{html.escape(str(error))}</p>")
    state.save()
    redirect_status = "succeeded" if intent["status"] == "succeeded" else "failed"
    if not return_url:
        return _page(200, f"Authentication {redirect_status}", "<p>You can close this page.</p>")
    query = urlencode(
        {
            "payment_intent": intent["id"],
            "payment_intent_client_secret": intent["client_secret"],
            "redirect_status": redirect_status,
        }
    )
    separator = "&" if urlsplit(return_url).query else "?"
    return 303, "", {"Location": f"{return_url}{separator}{query}"}


def receipt(state: State, charge_id: str) -> Page:
    charge = state.get("charge", charge_id)
    if charge is None or not charge["paid"]:
        return _page(404, "Unknown receipt", "<p>No such receipt.</p>")
    refunded = (
        f"<p>Refunded: {_money(charge['amount_refunded'], charge['currency'])}</p>"
        if charge["amount_refunded"]
        else ""
    )
    card = charge["payment_method_details"]["card"]
    body = f"""<p>Amount paid: {_money(charge["amount"], charge["currency"])}</p>
<p>Card: {html.escape(card["brand"])} ending {html.escape(card["last4"])}</p>
<p>Charge: {html.escape(charge["id"])}</p>{refunded}"""
    return _page(200, "Receipt", body)


def _last4(state: State, intent: dict[str, Any]) -> str:
    return state.objects[intent["payment_method"]]["card"]["last4"]
