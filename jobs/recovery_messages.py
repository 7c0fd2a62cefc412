"""What a recovery step sends: the reminder email (HTML + text, RFC 8058 unsubscribe
headers) and the push notification, through a pluggable push channel.

The default push channel records the notification in the log and sends nothing else;
``RECOVERY_PUSH_CHANNEL=package.module:factory`` plugs in a real one (docs/recovery.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Protocol

from jobs.templates import render
from models.recovery import tokens
from models.recovery.sending import Plan
from models.recovery.tables import email_hash
from services import mailer
from services.settings import get_settings

logger = logging.getLogger(__name__)


def email_kind(step: str) -> str:
    """The ``emails.kind`` (and template name) of an email step."""
    return f"recovery_{step}"


@dataclass(frozen=True)
class Links:
    recover: str
    unsubscribe: str


def links(plan: Plan, *, expires_at: dt.datetime) -> Links:
    settings = get_settings()
    base = settings.public_url.rstrip("/")
    recover = tokens.recovery_token(
        settings.recovery_secret,
        cart_id=plan.cart.id,
        step=plan.step.name.value,
        expires_at=expires_at,
    )
    unsubscribe = tokens.unsubscribe_token(
        settings.recovery_secret, address_hash=email_hash(plan.recipient)
    )
    return Links(f"{base}/recover/{recover}", f"{base}/unsubscribe/{unsubscribe}")


def _store_name() -> str:
    name, _ = parseaddr(get_settings().mail_from)
    return name or "Cartfleet"


def _when(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%B} {moment.day}, {moment:%Y %H:%M} UTC"


def email_context(plan: Plan, *, links: Links) -> dict[str, Any]:
    settings = get_settings()
    code = None
    if plan.code is not None:
        if plan.code.expires_at is None:
            # A recovery code is minted by discounts.issue_code, always with an expiry.
            raise AssertionError(f"recovery code {plan.code.code} has no expiry")
        code = {
            "code": plan.code.code,
            "percent": plan.code.percent,
            "expires": _when(plan.code.expires_at),
        }
    return {
        "store_name": _store_name(),
        "store_address": settings.store_address,
        "storefront_url": settings.storefront_url.rstrip("/"),
        "currency": plan.cart.currency,
        "items": [
            {
                "name": line.name,
                "quantity": line.quantity,
                "price_cents": line.price_cents,
                "line_total_cents": line.quantity * line.price_cents,
            }
            for line in plan.lines
        ],
        "subtotal_cents": plan.subtotal_cents,
        "code": code,
        "recover_url": links.recover,
        "unsubscribe_url": links.unsubscribe,
    }


def compose_email(plan: Plan, *, links: Links, message_id: str) -> tuple[str, EmailMessage]:
    """The reminder as multipart/alternative with one-click unsubscribe headers."""
    rendered = render(email_kind(plan.step.name.value), email_context(plan, links=links))
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = get_settings().mail_from
    message["To"] = plan.cart.email
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return rendered.subject, message


def message_id(plan: Plan) -> str:
    return mailer.deterministic_message_id(email_kind(plan.step.name.value), plan.cart.id)


# --- Push ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushNotification:
    cart_id: str
    recipient: str
    title: str
    body: str
    url: str


class PushChannel(Protocol):
    def send(self, notification: PushNotification) -> None:
        """Deliver or raise (the send job retries)."""


class RecordingChannel:
    """The default channel: writes the notification to the log and does nothing else."""

    def send(self, notification: PushNotification) -> None:
        logger.info(
            "Push notification recorded (not delivered) for cart %s: %s",
            notification.cart_id,
            notification.title,
        )


@functools.cache
def push_channel() -> PushChannel:
    """The channel ``RECOVERY_PUSH_CHANNEL`` names (``module:factory``), else recording."""
    target = get_settings().recovery_push_channel
    if not target:
        return RecordingChannel()
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


def push_notification(plan: Plan, *, links: Links) -> PushNotification:
    count = sum(line.quantity for line in plan.lines)
    return PushNotification(
        cart_id=plan.cart.id,
        recipient=plan.recipient,
        title="Your cart is waiting",
        body=f"{count} item(s) are still in your cart at {_store_name()}.",
        url=links.recover,
    )
