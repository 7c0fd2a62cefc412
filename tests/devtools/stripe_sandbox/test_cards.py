"""Every test payment method in the sandbox's table does what the table says."""

from __future__ import annotations

import pytest
import stripe

from devtools.stripe_sandbox.cards import CARDS, Outcome


@pytest.mark.parametrize("token", sorted(CARDS))
@pytest.mark.parametrize("by", ["token", "number"])
def test_each_card_has_its_outcome(client, control, token, by):
    card = CARDS[token]
    method = (
        {"payment_method": token}
        if by == "token"
        else {"payment_method_data": {"type": "card", "card": {"number": card.number}}}
    )
    intent = client.v1.payment_intents.create(params={"amount": 1200, "currency": "usd"})

    if card.outcome is Outcome.DECLINED:
        with pytest.raises(stripe.CardError) as raised:
            client.v1.payment_intents.confirm(intent.id, method)
        assert (raised.value.code, raised.value.error.decline_code) == (
            card.code,
            card.decline_code,
        )
        status = "requires_payment_method"
    else:
        confirmed = client.v1.payment_intents.confirm(intent.id, method)
        assert confirmed.status == card.outcome.value
        status = "succeeded"
        if card.outcome is Outcome.REQUIRES_ACTION:
            status = control.authenticate(intent.id)["status"]

    after = client.v1.payment_intents.retrieve(intent.id)
    assert after.status == status
    method_id = after.payment_method or after.last_payment_error.payment_method.id
    assert client.v1.payment_methods.retrieve(method_id).card.last4 == card.number[-4:]
