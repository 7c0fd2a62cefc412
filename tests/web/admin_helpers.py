"""Staff users, logins and CSRF tokens for the admin's HTTP and browser tests."""

from __future__ import annotations

import re

from models.db import Session
from models.staff import Role, create_user

PASSWORD = "correct horse battery staple"
BOOTSTRAP = {"Authorization": "Bearer test-admin-token"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(email: str = "ops@example.com", role: str = Role.OPERATOR, **fields) -> int:
    with Session.begin() as session:
        user = create_user(session, email=email, password=PASSWORD, role=Role(role))
        for name, value in fields.items():
            setattr(user, name, value)
        return user.id


def csrf_token(client) -> str:
    """The CSRF token of the client's session, as the login form carries it."""
    page = client.get("/admin/login").get_data(as_text=True)
    return _CSRF.search(page).group(1)


def log_in(client, email: str = "ops@example.com", password: str = PASSWORD):
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client)},
    )


def logged_in(client, role: str = Role.OPERATOR, email: str | None = None) -> str:
    """Log ``client`` in as a new user of ``role``; returns the CSRF token to send."""
    email = email or f"{role}@example.com"
    make_user(email, role)
    assert log_in(client, email).status_code == 303
    return csrf_token(client)
