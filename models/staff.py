"""Staff users of the admin, their roles, password hashes and per-user API tokens.

Passwords are argon2id hashes (``argon2-cffi``). An API token is shown once, when made:
only its SHA-256 is stored, so a database leak gives no usable token, and a lookup is
one indexed equality (a random 32-byte token needs no slow hash).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, quoted, utcnow
from models.errors import EmailTaken, NotFound

TOKEN_PREFIX = "cfa_"
_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    OWNER = "owner"


RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.OWNER: 2}


def may(role: str, needed: Role) -> bool:
    """Whether ``role`` includes what ``needed`` may do (owner ⊃ operator ⊃ viewer)."""
    return RANK[Role(role)] >= RANK[needed]


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at()

    __table_args__ = (
        CheckConstraint(f"role IN ({quoted(tuple(Role))})", name="role_known"),
        Index("uq_staff_users_email_lower", func.lower(email), unique=True),
    )


class ApiToken(Base):
    __tablename__ = "staff_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = created_at()
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_staff_api_tokens_user_id", "user_id"),)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user, or the bootstrap ``ADMIN_TOKEN`` (``user_id`` None)."""

    user_id: int | None
    email: str
    role: str

    @property
    def label(self) -> str:
        return self.email


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _find_by_email(session: Session, email: str) -> StaffUser | None:
    return session.scalars(
        select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())
    ).one_or_none()


def create_user(session: Session, *, email: str, password: str, role: Role) -> StaffUser:
    """A new staff user; ``EmailTaken`` when the email (any case) already has one."""
    if _find_by_email(session, email) is not None:
        raise EmailTaken(f"A staff user with email {email} already exists.")
    user = StaffUser(
        email=email.strip(), password_hash=hash_password(password), role=Role(role), disabled=False
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.id)))


def get_user(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"No staff user {user_id}.")
    return user


def authenticate(session: Session, *, email: str, password: str) -> StaffUser | None:
    """The enabled user with this email and password, else None (whichever was wrong)."""
    user = _find_by_email(session, email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, user: StaffUser, name: str) -> tuple[ApiToken, str]:
    """A new API token for ``user``: the row and the token itself, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_sha256=_digest(token))
    session.add(row)
    session.flush()
    return row, token


def user_for_token(session: Session, token: str) -> StaffUser | None:
    """The enabled user an unrevoked ``token`` belongs to; stamps its last use."""
    row = session.scalars(
        select(ApiToken).where(
            ApiToken.token_sha256 == _digest(token), ApiToken.revoked_at.is_(None)
        )
    ).one_or_none()
    if row is None:
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or user.disabled:
        return None
    row.last_used_at = utcnow()
    return user


def revoke_token(session: Session, *, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id, with_for_update=True)
    if row is None:
        raise NotFound(f"No API token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
    )
