"""``POST /webhooks/stripe``: verify the signature, store the event, hand off to a job.

The view stays thin so Stripe gets its 200 in milliseconds: the event goes into the
``webhook_events`` inbox and its ``process_stripe_event`` job into the outbox, in one
statement (one round trip, its own transaction), then the job is pushed to Redis.
The store itself is ``jobs.stripe_events.store_event``, shared with the Events API
backfill; processing happens in jobs/stripe_events.py.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, request
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from jobs import stripe_payloads
from jobs.stripe_events import store_event
from services.settings import get_settings
from services.stripe import SignatureError, verify_signature
from web.errors import APIError
from web.validation import JSONBodyError, read_json

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

RECEIVED = Counter(
    "stripe_webhooks_received_total",
    "Stripe webhook deliveries by event type and outcome "
    "(accepted, duplicate, ignored, invalid_signature, invalid_payload, unavailable).",
    ["type", "outcome"],
)


class _EventData(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: dict[str, Any]


class StripeEvent(BaseModel):
    """The envelope every Stripe event has; the rest of the body is kept as sent."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=128)
    api_version: str | None = Field(default=None, max_length=32)
    livemode: bool = False
    created: int | None = None
    data: _EventData


def _parse(payload: bytes) -> dict[str, Any]:
    try:
        document = read_json(payload)
        StripeEvent.model_validate(document)
    except ValidationError as error:
        # The reason per field, without pydantic's text (input values, documentation URLs).
        reasons = "; ".join(
            f"{'.'.join(map(str, item['loc'])) or 'body'}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        )
        raise _invalid_payload(reasons) from None
    except (ValueError, UnicodeDecodeError) as error:
        # read_json's own messages say what is wrong and carry nothing of the server's.
        reason = str(error) if isinstance(error, JSONBodyError) else "The body is not JSON."
        raise _invalid_payload(reason) from None
    if not isinstance(document, dict):
        # StripeEvent validates objects only.
        raise AssertionError("a valid Stripe event is not a JSON object")
    unreadable = stripe_payloads.problems(document)
    if unreadable:
        raise _invalid_payload(unreadable)
    return document


def _invalid_payload(reason: str) -> APIError:
    RECEIVED.labels(type="unknown", outcome="invalid_payload").inc()
    return APIError(400, "invalid_payload", "The body is not a Stripe event object.", detail=reason)


@bp.post("/webhooks/stripe")
def stripe_webhook():
    payload = request.get_data(cache=False)
    try:
        verify_signature(
            payload,
            request.headers.get("Stripe-Signature"),
            get_settings().stripe_webhook_secret,
        )
    except SignatureError as error:
        RECEIVED.labels(type="unknown", outcome="invalid_signature").inc()
        raise APIError(400, "invalid_signature", str(error)) from None

    event = _parse(payload)
    try:
        outcome = store_event(event, source="webhook")
    except DataError as error:  # a value PostgreSQL cannot hold that the checks missed
        logger.warning("Stripe event %s cannot be stored: %s", event["id"], error.orig)
        RECEIVED.labels(type=event["type"], outcome="invalid_payload").inc()
        raise APIError(
            400,
            "invalid_payload",
            "The event cannot be stored.",
            detail="A value in the event cannot be stored.",
        ) from None
    except (DBAPIError, PoolTimeoutError):
        RECEIVED.labels(type=event["type"], outcome="unavailable").inc()
        raise  # answered 503 by web.errors, so Stripe delivers it again
    RECEIVED.labels(type=event["type"], outcome=outcome).inc()
    return {"received": True, "duplicate": outcome == "duplicate"}
