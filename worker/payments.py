"""The Stripe client the web and the jobs share, configured from settings.

``STRIPE_API_BASE`` points it at another host (the tests' local Stripe server).
"""

from __future__ import annotations

import functools

import requests
import stripe

from worker.settings import get_settings

# Checkout waits on Stripe inside a request: keep it bounded, retry idempotent calls.
NETWORK_RETRIES = 2
TIMEOUT_S = 10


def _session(api_base: str) -> requests.Session:
    # Proxy settings are read from the environment once here, not on every Stripe call.
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(api_base))
    return session


@functools.cache
def stripe_client() -> stripe.StripeClient:
    settings = get_settings()
    base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    return stripe.StripeClient(
        settings.stripe_api_key,
        base_addresses=base,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(
            timeout=TIMEOUT_S, session=_session(settings.stripe_api_base or stripe.DEFAULT_API_BASE)
        ),
    )
