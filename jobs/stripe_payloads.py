"""The fields each handled Stripe event type is read for, checked before the event is stored.

The webhook refuses (400 ``invalid_payload``) an event of a handled type whose fields
the handler would choke on, so a poison event never enters the queue to fail there
until it dead-letters. Extra fields are allowed: Stripe adds fields without notice.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

# Unix times Stripe can send: 1970 to 2100 (``datetime`` cannot hold much beyond).
Timestamp = Annotated[StrictInt, Field(ge=0, le=4_102_444_800)]
Amount = Annotated[StrictInt, Field(ge=0, le=10**12)]


class _Object(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(min_length=1, max_length=255)
    metadata: dict[StrictStr, StrictStr | None] | None = None
    currency: StrictStr | None = Field(None, max_length=3)


class _PaymentError(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: StrictStr | None = None


class PaymentIntent(_Object):
    amount: Amount | None = None
    amount_received: Amount | None = None
    last_payment_error: _PaymentError | None = None
    cancellation_reason: StrictStr | None = None


class Charge(_Object):
    payment_intent: StrictStr | None = None
    amount_refunded: Amount = 0


class Refund(_Object):
    payment_intent: StrictStr | None = None
    amount: Amount = 0
    status: StrictStr | None = None


OBJECTS: dict[str, type[_Object]] = {
    "payment_intent.succeeded": PaymentIntent,
    "payment_intent.payment_failed": PaymentIntent,
    "payment_intent.canceled": PaymentIntent,
    "charge.refunded": Charge,
    "refund.created": Refund,
    "refund.updated": Refund,
}


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")

    created: Timestamp | None = None


def problems(event: dict[str, Any]) -> str | None:
    """Why ``event`` (a handled type) cannot be applied, or None when its fields are sound."""
    schema = OBJECTS.get(event["type"])
    if schema is None:
        return None
    try:
        _Event.model_validate(event)
        schema.model_validate(event["data"]["object"])
    except ValidationError as error:
        return "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        )
    return None
