"""Stripe's form encoding as the sandbox decodes it."""

from __future__ import annotations

from devtools.stripe_sandbox.wire import decode_form


def test_nested_keys_and_both_list_styles():
    body = (
        "amount=100&metadata[order_id]=o-1&metadata[0]=zero"
        "&automatic_payment_methods[enabled]=true"
        "&types[]=a&types[]=b&expand[0]=x&expand[1]=y"
        "&created[gte]=10&payment_method_data[card][number]=4242"
    )

    assert decode_form(body) == {
        "amount": "100",
        "metadata": {"order_id": "o-1", "0": "zero"},
        "automatic_payment_methods": {"enabled": "true"},
        "types": ["a", "b"],
        "expand": ["x", "y"],
        "created": {"gte": "10"},
        "payment_method_data": {"card": {"number": "4242"}},
    }


def test_blank_values_are_kept():
    assert decode_form("description=&metadata[k]=") == {"description": "", "metadata": {"k": ""}}
