"""Failed admin logins, counted in Redis per account and per client address.

Each failure bumps both counters; a counter at its limit locks that account (or address)
until its key expires, ``ADMIN_LOCKOUT_MINUTES`` after the last failure. Unknown emails
are counted like known ones, so the lockout says nothing about which accounts exist.
"""

from __future__ import annotations

import hashlib

from services.redis_broker import redis_broker
from services.settings import get_settings

PREFIX = "cartfleet:admin:login-failures"


def _keys(email: str, address: str) -> tuple[str, str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"{PREFIX}:account:{account}", f"{PREFIX}:address:{address}"


def is_locked(email: str, address: str) -> bool:
    settings = get_settings()
    account_key, address_key = _keys(email, address)
    account, by_address = redis_broker().client.mget(account_key, address_key)
    return (
        int(account or 0) >= settings.admin_login_max_failures
        or int(by_address or 0) >= settings.admin_login_max_failures_per_address
    )


def record_failure(email: str, address: str) -> None:
    ttl = get_settings().admin_lockout_minutes * 60
    pipe = redis_broker().client.pipeline()
    for key in _keys(email, address):
        pipe.incr(key)
        pipe.expire(key, ttl)
    pipe.execute()


def clear_account(email: str, address: str) -> None:
    """A successful login forgets the account's failures (not the address's)."""
    redis_broker().client.delete(_keys(email, address)[0])
