"""The 3D Secure redirect: confirm with a return_url, the sandbox's challenge page, back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.sandbox_objects import Api

RETURN_URL = "http://shop.test/orders/o-1?from=pay"


def needs_action(api: Api, **params: str) -> dict:
    return api.intent(payment_method="pm_card_threeDSecure2Required", confirm="true", **params)


def choose(api: Api, intent: dict, outcome: str):
    url = intent["next_action"]["redirect_to_url"]["url"]
    return api.session.post(
        url,
        data={"client_secret": intent["client_secret"], "outcome": outcome},
        allow_redirects=False,
        timeout=10,
    )


def test_confirm_with_a_return_url_redirects_to_the_sandbox_challenge(sandbox):
    api = Api(sandbox.url)

    intent = needs_action(api, return_url=RETURN_URL)
    page = api.session.get(intent["next_action"]["redirect_to_url"]["url"], timeout=10)

    assert intent["status"] == "requires_action"
    assert intent["next_action"]["type"] == "redirect_to_url"
    assert intent["next_action"]["redirect_to_url"]["return_url"] == RETURN_URL
    assert intent["next_action"]["redirect_to_url"]["url"].startswith(sandbox.url)
    assert page.status_code == 200
    assert "Complete authentication" in page.text and "25.00 USD" in page.text


def test_completing_the_challenge_pays_and_returns_with_stripes_parameters(sandbox):
    api = Api(sandbox.url)
    intent = needs_action(api, return_url=RETURN_URL)

    answered = choose(api, intent, "complete")

    location = urlsplit(answered.headers["Location"])
    assert answered.status_code == 303
    assert location._replace(query="").geturl() == "http://shop.test/orders/o-1"
    assert parse_qs(location.query) == {
        "from": ["pay"],
        "payment_intent": [intent["id"]],
        "payment_intent_client_secret": [intent["client_secret"]],
        "redirect_status": ["succeeded"],
    }
    paid = api.get(f"/v1/payment_intents/{intent['id']}")
    assert (paid["status"], paid["next_action"]) == ("succeeded", None)
    card = api.get(f"/v1/charges/{paid['latest_charge']}")["payment_method_details"]["card"]
    assert card["three_d_secure"]["result"] == "authenticated"


def test_failing_the_challenge_returns_failed_and_the_intent_takes_another_card(sandbox):
    api = Api(sandbox.url)
    intent = needs_action(api, return_url=RETURN_URL)

    answered = choose(api, intent, "fail")

    assert parse_qs(urlsplit(answered.headers["Location"]).query)["redirect_status"] == ["failed"]
    failed = api.get(f"/v1/payment_intents/{intent['id']}")
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    retried = api.post(f"/v1/payment_intents/{intent['id']}/confirm", payment_method="pm_card_visa")
    assert retried["status"] == "succeeded"


@pytest.mark.parametrize("params", [{}, {"return_url": RETURN_URL, "use_stripe_sdk": "true"}])
def test_without_a_return_url_or_with_stripe_js_next_action_is_use_stripe_sdk(sandbox, params):
    intent = needs_action(Api(sandbox.url), **params)

    assert intent["next_action"]["type"] == "use_stripe_sdk"
    assert intent["next_action"]["use_stripe_sdk"]["stripe_js"].startswith(sandbox.url)


def test_the_challenge_needs_the_intents_client_secret(sandbox):
    api = Api(sandbox.url)
    intent = needs_action(api, return_url=RETURN_URL)
    url = f"{sandbox.url}/_sandbox/3ds/{intent['id']}"

    shown = api.session.get(url, params={"client_secret": "pi_x_secret_wrong"}, timeout=10)
    posted = api.session.post(
        url, data={"client_secret": "wrong", "outcome": "complete"}, timeout=10
    )

    assert (shown.status_code, posted.status_code) == (404, 404)
    assert api.get(f"/v1/payment_intents/{intent['id']}")["status"] == "requires_action"


def test_a_challenge_answered_twice_is_refused_the_second_time(sandbox):
    api = Api(sandbox.url)
    intent = needs_action(api, return_url=RETURN_URL)
    choose(api, intent, "complete")

    again = choose(api, intent, "fail")

    assert again.status_code == 409
    assert api.get(f"/v1/payment_intents/{intent['id']}")["status"] == "succeeded"
