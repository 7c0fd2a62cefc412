"""Stripe, behind one seam: the client, webhook signatures, PaymentIntents, events, keys.

``STRIPE_API_BASE`` points the client at another host (the local Stripe sandbox). Every
call that creates or changes something at Stripe carries an idempotency key derived from
our own ids, so a retried request or job never does it twice.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
import stripe

from services.settings import get_settings

if TYPE_CHECKING:
    # Stripe declares its request shapes for type checkers only.
    from stripe._base_address import BaseAddresses
    from stripe.params import EventListParams, PaymentIntentConfirmParams

logger = logging.getLogger(__name__)

# Checkout waits on Stripe inside a request: keep it bounded, retry idempotent calls.
NETWORK_RETRIES = 2
TIMEOUT_S = 10
SIGNATURE_TOLERANCE_S = 300


# What a failed call raises (network, outage, Stripe's refusal), for callers that carry on.
StripeError = stripe.StripeError


class SignatureError(Exception):
    """The ``Stripe-Signature`` header does not prove the body came from Stripe."""


def _session(api_base: str) -> requests.Session:
    # Proxy settings are read from the environment once here, not on every Stripe call.
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(api_base))
    return session


@functools.cache
def stripe_client() -> stripe.StripeClient:
    settings = get_settings()
    base: BaseAddresses | None = (
        {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    )
    return stripe.StripeClient(
        settings.stripe_api_key,
        base_addresses=base,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(
            timeout=TIMEOUT_S, session=_session(settings.stripe_api_base or stripe.DEFAULT_API_BASE)
        ),
    )


# --- Webhook signatures ----------------------------------------------------------------------


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = SIGNATURE_TOLERANCE_S,
) -> None:
    """Check ``header`` against every configured secret (rotation); raise ``SignatureError``.

    stripe-python checks the HMAC and refuses a stale timestamp; a timestamp further in
    the future than ``tolerance`` is refused here too (a replay signed ahead of time).
    """
    if not header:
        raise SignatureError("The Stripe-Signature header is missing.")
    if not secrets:
        logger.error("STRIPE_WEBHOOK_SECRET is not set; every webhook is refused")
        raise SignatureError("No webhook secret is configured.")
    try:
        payload.decode("utf-8")  # stripe-python signs the text form of the body
    except UnicodeDecodeError:
        raise SignatureError("The body is not UTF-8 text.") from None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        if _timestamp(header) > time.time() + tolerance:
            raise SignatureError(f"The signature timestamp is over {tolerance} s in the future.")
        return
    raise SignatureError("No signature matches any configured webhook secret.")


def _timestamp(header: str) -> int:
    """The ``t=`` of a header stripe-python already verified (so it is there and an int)."""
    return next(
        int(value)
        for key, _, value in (i.partition("=") for i in header.split(","))
        if key.strip() == "t"
    )


# --- PaymentIntents -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedIntent:
    """The fields of a new PaymentIntent that checkout keeps."""

    id: str
    client_secret: str | None
    status: str


def create_payment_intent(
    *, order_id: str, order_number: str, cart_id: str | None, amount: int, currency: str
) -> CreatedIntent:
    """One PaymentIntent per order: the idempotency key is derived from the order id.

    Read straight from Stripe's JSON answer: checkout needs three fields, and building
    the whole ``PaymentIntent`` object was a quarter of the call's CPU. The client's
    retries and its errors (``stripe.StripeError`` subclasses) are those of any call.
    """
    response = stripe_client().raw_request(
        "post",
        "/v1/payment_intents",
        amount=amount,
        currency=currency,
        metadata={"order_id": order_id, "order_number": order_number, "cart_id": cart_id or ""},
        automatic_payment_methods={"enabled": True},
        idempotency_key=f"checkout-payment-intent-{order_id}",
    )
    intent = response.data
    return CreatedIntent(intent["id"], intent.get("client_secret"), intent["status"])


def cancel_payment_intent(intent_id: str, *, order_id: str, reason: str = "abandoned") -> str:
    """Cancel the order's PaymentIntent; returns its status at Stripe afterwards.

    Stripe refuses to cancel an intent that is already canceled or succeeded: then the
    intent's current status is returned (``canceled`` or ``succeeded``) for the caller to
    act on. Other errors propagate.
    """
    client = stripe_client()
    try:
        client.v1.payment_intents.cancel(
            intent_id,
            {"cancellation_reason": reason},
            {"idempotency_key": f"cartfleet-cancel-pi-{order_id}"},
        )
    except stripe.InvalidRequestError:
        status = client.v1.payment_intents.retrieve(intent_id).status
        if status in ("canceled", "succeeded"):
            return status
        raise
    return "canceled"


def confirm_payment_intent(
    intent_id: str, *, payment_method: str | None = None, card_number: str | None = None
) -> stripe.PaymentIntent:
    """Confirm ``intent_id`` with a test token (``pm_card_visa``) or a test card number.

    What a browser's pay form does through Stripe.js, for ``cartfleet pay``. A decline
    raises ``stripe.CardError`` (``.code``, ``.error.decline_code``, ``.user_message``).
    """
    params: PaymentIntentConfirmParams = {}
    if card_number is not None:
        # Stripe's test mode (and the sandbox) take a raw card number; its types leave it out.
        card = {"number": card_number}
        params = {"payment_method_data": {"type": "card", "card": card}}  # type: ignore[typeddict-unknown-key]
    elif payment_method is not None:  # a None parameter is left out of the request anyway
        params = {"payment_method": payment_method}
    return stripe_client().v1.payment_intents.confirm(intent_id, params)


def retrieve_payment_intent(intent_id: str) -> dict[str, Any]:
    """The PaymentIntent as Stripe has it now (reconciliation's source of truth)."""
    return stripe_client().v1.payment_intents.retrieve(intent_id).to_dict()


# --- Events ---------------------------------------------------------------------------------

EVENTS_PAGE = 100  # Stripe's largest page


def list_events(
    *,
    created_gte: int,
    created_lt: int,
    types: Sequence[str],
    delivery_success: bool | None = None,
    on_page: Callable[[], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Events of ``types`` created in [``created_gte``, ``created_lt``), newest first.

    Follows Stripe's pagination; ``on_page`` is called once per API call made.
    """
    params: EventListParams = {
        "created": {"gte": created_gte, "lt": created_lt},
        "types": list(types),
        "limit": EVENTS_PAGE,
    }
    if delivery_success is not None:
        params["delivery_success"] = delivery_success
    events = stripe_client().v1.events
    while True:
        page = events.list(params=params)
        if on_page is not None:
            on_page()
        for event in page.data:
            yield event.to_dict()
        if not page.has_more or not page.data:
            return
        params["starting_after"] = page.data[-1].id


def key_livemode() -> bool:
    """Whether ``STRIPE_API_KEY`` is a live-mode key (``sk_live_``, ``rk_live_``)."""
    return get_settings().stripe_api_key.startswith(("sk_live_", "rk_live_"))


# --- Refunds --------------------------------------------------------------------------------


class RefundRefused(Exception):
    """Stripe refused the refund request itself (nothing was refunded); do not retry."""


def create_refund(
    *,
    payment_intent_id: str,
    amount: int,
    reason: str,
    idempotency_key: str,
    metadata: dict[str, str],
) -> stripe.Refund:
    """Refund ``amount`` of the intent's charge; the key (stored on our row) makes it once.

    A retried job sends the same key, so Stripe answers the refund it already made.
    Raises ``RefundRefused`` for a request Stripe will never accept (over the remainder,
    already refunded); other errors (outage, network) propagate for the job to retry.
    """
    try:
        return stripe_client().v1.refunds.create(
            params={
                "payment_intent": payment_intent_id,
                "amount": amount,
                "reason": reason,
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.InvalidRequestError as error:
        raise RefundRefused(error.user_message or str(error)) from error
