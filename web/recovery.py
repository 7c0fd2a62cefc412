"""Cart recovery links and unsubscribes (API.md "Cart recovery"); no login, signed tokens.

``GET /recover/{token}`` applies the step's code to the cart (re-priced, stock checked:
the cart write path) and redirects to the storefront's cart. ``/unsubscribe/{token}``
shows a confirmation page (GET changes nothing: mail scanners follow links) and
unsubscribes on POST, which is also RFC 8058's one-click request.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, redirect, request
from markupsafe import escape
from prometheus_client import Counter

from flows.cart_events import record_event
from models.base import utcnow
from models.carts import edits
from models.db import Session
from models.errors import CartNotActive, InvalidCode
from models.recovery import consent, tokens
from services.settings import get_settings
from web.carts import stock_policy
from web.errors import APIError

bp = Blueprint("recovery", __name__)

LINKS_CLICKED = Counter(
    "cart_recovery_links_clicked_total", "Recovery links opened, by step.", ["step"]
)
UNSUBSCRIBES = Counter(
    "cart_recovery_unsubscribes_total", "Addresses newly unsubscribed from recovery reminders."
)
ONE_CLICK = "One-Click"

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;
max-width:32rem;margin:3rem auto;padding:0 1rem;color:#18181b;">
<h1 style="font-size:1.4rem;">{title}</h1><p>{text}</p>{form}</body></html>
"""
FORM = """<form method="post" action="{action}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="padding:.6rem 1.2rem;font-weight:bold;">Unsubscribe</button>
</form>"""


def _not_found(what: str) -> APIError:
    return APIError(404, "not_found", f"No such {what} link.")


@bp.get("/recover/<token>")
def recover(token: str):
    link = tokens.read_recovery_token(get_settings().recovery_secret, token)
    if link is None:
        raise _not_found("recovery")
    now = utcnow()
    if link.expires_at <= now:
        raise APIError(410, "expired", "This recovery link has expired.")
    with Session.begin() as session:
        step = consent.sent_step(session, cart_id=link.cart_id, step=link.step)
        if step is None:
            raise _not_found("recovery")
        code = step.discount_code
        if code is not None:
            try:
                view = edits.apply_discount(
                    session, cart_id=link.cart_id, code=code, policy=stock_policy()
                )
            except (InvalidCode, CartNotActive) as error:
                raise APIError(410, "expired", error.message) from None
            record_event(session, view, "discount_applied")
        consent.record_click(session, cart_id=link.cart_id, step=link.step, now=now)
    LINKS_CLICKED.labels(link.step).inc()
    location = f"{get_settings().storefront_url.rstrip('/')}/cart/{quote(link.cart_id, safe='')}"
    if code is not None:
        location += f"?discount={quote(code, safe='')}"
    return redirect(location, 302)


def _address_hash(token: str) -> str:
    address_hash = tokens.read_unsubscribe_token(get_settings().recovery_secret, token)
    if address_hash is None:
        raise _not_found("unsubscribe")
    return address_hash


def _page(title: str, text: str, form: str = "") -> Response:
    body = PAGE.format(title=escape(title), text=escape(text), form=form)
    return Response(body, mimetype="text/html")


@bp.get("/unsubscribe/<token>")
def confirm_unsubscribe(token: str):
    _address_hash(token)
    return _page(
        "Unsubscribe from cart reminders",
        "Press the button to stop every reminder about carts left at our store.",
        FORM.format(action=escape(request.path)),
    )


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):
    """RFC 8058 one-click (and the confirmation page's form): always 200 once valid."""
    address_hash = _address_hash(token)
    if request.form.get("List-Unsubscribe") != ONE_CLICK:
        raise APIError(
            422,
            "validation_error",
            "The body must be List-Unsubscribe=One-Click.",
            errors=[{"field": "List-Unsubscribe", "message": "must be One-Click"}],
        )
    with Session.begin() as session:
        new = consent.unsubscribe(session, address_hash=address_hash, now=utcnow())
    if new:
        UNSUBSCRIBES.inc()
    return _page("You are unsubscribed", "You will get no more reminders about your carts.")
