"""Discount codes: whether a cart may use one, what it takes off, claiming and releasing it.

A code is claimed (marked used) when an order is placed with it and released on every
path that undoes that order before payment (checkout failed, payment canceled, hold
expired), through ``release`` alone.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.carts.tables import Cart, DiscountCode
from models.errors import CodeTaken, InvalidCode, NotFound


def discount_amount(subtotal_cents: int, percent: int | None) -> int:
    """The discount in cents, rounded down: never more than ``percent`` of the subtotal."""
    return subtotal_cents * percent // 100 if percent else 0


# Unambiguous when read aloud or typed from an email: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # ~49 bits: guessing one is hopeless


def _same_address(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().lower() == b.strip().lower()


def usable_code(
    session: Session,
    code: str,
    *,
    cart: Cart,
    email: str | None = None,
    lock: bool = False,
) -> DiscountCode:
    """The discount code if this cart may use it now; else ``InvalidCode``.

    A code issued for an address (recovery codes) is only for that address: ``email``
    (the order's, at checkout) or else the cart's.
    """
    row = session.get(DiscountCode, code, with_for_update=lock)
    if row is None:
        raise InvalidCode("Unknown discount code.")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise InvalidCode("This discount code has expired.")
    if row.used_at is not None:
        raise InvalidCode("This discount code has already been used.")
    if row.cart_id is not None and row.cart_id != cart.id:
        raise InvalidCode("This discount code belongs to another cart.")
    if row.email is not None and not _same_address(row.email, email or cart.email):
        raise InvalidCode("This discount code belongs to another email address.")
    return row


def claim(session: Session, cart: Cart, *, email: str | None = None) -> DiscountCode | None:
    """Lock the cart's code and mark it used; ``InvalidCode`` if it is no longer usable.

    ``email`` is the order's address, which a code tied to an address must match.
    """
    if cart.discount_code is None:
        return None
    code = usable_code(session, cart.discount_code, cart=cart, email=email, lock=True)
    code.used_at = utcnow()
    return code


def issue_code(
    session: Session, *, cart: Cart, percent: int, email: str, expires_at: dt.datetime
) -> DiscountCode:
    """A new random one-time code for this cart and address only, valid until ``expires_at``."""
    random_part = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    row = DiscountCode(
        code=f"BACK{percent}-{random_part}",
        percent=percent,
        cart_id=cart.id,
        email=email,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def release(session: Session, code: str | None) -> bool:
    """Make a claimed code usable again (its order was undone); returns whether it was used."""
    if code is None:
        return False
    row = session.get(DiscountCode, code, with_for_update=True)
    if row is None or row.used_at is None:
        return False
    row.used_at = None
    return True


# --- Managing codes (the admin) --------------------------------------------------------------

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def create_code(
    session: Session, *, code: str | None, percent: int, expires_at: dt.datetime | None
) -> DiscountCode:
    """A new single-use code (``code`` None: generated); ``CodeTaken`` if it exists."""
    code = (code or new_code()).strip().upper()
    if session.get(DiscountCode, code) is not None:
        raise CodeTaken(f"Discount code {code} already exists.")
    row = DiscountCode(code=code, percent=percent, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def list_codes(session: Session, *, limit: int = 200) -> list[DiscountCode]:
    query = select(DiscountCode).order_by(DiscountCode.created_at.desc(), DiscountCode.code)
    return list(session.scalars(query.limit(limit)))


def code_status(row: DiscountCode) -> str:
    if row.used_at is not None:
        return "used"
    if row.expires_at is not None and row.expires_at <= utcnow():
        return "expired"
    return "active"


def disable_code(session: Session, code: str) -> DiscountCode:
    """Stop a code being applied or claimed from now on: it expires now.

    A cart that already applied it is refused at checkout (``claim``); an order already
    placed with it keeps its discount.
    """
    row = session.get(DiscountCode, code.strip().upper(), with_for_update=True)
    if row is None:
        raise NotFound(f"No discount code {code}.")
    now = utcnow()
    if row.expires_at is None or row.expires_at > now:
        row.expires_at = now
    return row
