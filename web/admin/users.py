"""Admin: staff users and their API tokens (owners manage staff; anyone their own tokens)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints

from models import staff
from models.db import Session
from models.staff import Role
from web.admin import bp
from web.admin.auth import current_actor, forbidden, requires
from web.errors import APIError
from web.serializers import iso
from web.validation import Schema, parse_body

Password = Annotated[str, StringConstraints(min_length=12, max_length=1024)]


# Staff addresses may be on internal domains (".local"), which EmailStr refuses.
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
]


# Ids are PostgreSQL integers; a larger one cannot even be looked up.
MAX_ROW_ID = 2**31 - 1


class NewUser(Schema):
    email: Email
    password: Password
    role: Role


class UserChange(Schema):
    role: Role | None = None
    disabled: bool | None = None
    password: Password | None = None


class NewToken(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = "api"


def user_json(user: staff.StaffUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "disabled": user.disabled,
        "last_login_at": iso(user.last_login_at),
        "created_at": iso(user.created_at),
    }


def token_json(token: staff.ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user_id": token.user_id,
        "name": token.name,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }


def _row_id(value: int, kind: str) -> None:
    """404 for an id no row can have, rather than a query PostgreSQL refuses."""
    if value > MAX_ROW_ID:
        raise APIError(404, "not_found", f"No such {kind}.")


def _may_manage_tokens_of(user_id: int) -> None:
    actor = current_actor()
    if actor.user_id != user_id and not staff.may(actor.role, Role.OWNER):
        raise forbidden()


@bp.get("/api/users")
@requires(Role.OWNER)
def list_users():
    with Session() as session:
        return {"items": [user_json(user) for user in staff.list_users(session)]}


@bp.post("/api/users")
@requires(Role.OWNER)
def create_user():
    body = parse_body(NewUser)
    with Session.begin() as session:
        user = staff.create_user(session, email=body.email, password=body.password, role=body.role)
        return user_json(user), 201


@bp.patch("/api/users/<int:user_id>")
@requires(Role.OWNER)
def update_user(user_id: int):
    _row_id(user_id, "staff user")
    body = parse_body(UserChange)
    with Session.begin() as session:
        user = staff.get_user(session, user_id)
        if body.role is not None:
            user.role = body.role
        if body.disabled is not None:
            user.disabled = body.disabled
        if body.password is not None:
            user.password_hash = staff.hash_password(body.password)
        session.flush()
        return user_json(user)


@bp.get("/api/users/<int:user_id>/tokens")
def list_tokens(user_id: int):
    _row_id(user_id, "staff user")
    _may_manage_tokens_of(user_id)
    with Session() as session:
        return {"items": [token_json(token) for token in staff.tokens_of(session, user_id)]}


@bp.post("/api/users/<int:user_id>/tokens")
def create_token(user_id: int):
    """A new API token; the token itself is in this answer only, never stored."""
    _row_id(user_id, "staff user")
    _may_manage_tokens_of(user_id)
    body = parse_body(NewToken)
    with Session.begin() as session:
        row, token = staff.issue_token(
            session, user=staff.get_user(session, user_id), name=body.name
        )
        return {**token_json(row), "token": token}, 201


@bp.delete("/api/tokens/<int:token_id>")
def revoke_token(token_id: int):
    _row_id(token_id, "token")
    with Session.begin() as session:
        row = session.get(staff.ApiToken, token_id)
        if row is not None:
            _may_manage_tokens_of(row.user_id)
        return token_json(staff.revoke_token(session, token_id=token_id))
