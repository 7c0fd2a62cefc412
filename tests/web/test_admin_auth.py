"""Admin authentication: sessions, CSRF, roles, disabled users, expiry, lockout, tokens."""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from models.audit import AuditEntry
from models.db import Session
from models.staff import StaffUser, authenticate
from tests.web.admin_helpers import BOOTSTRAP, PASSWORD, csrf_token, log_in, logged_in, make_user

ARGS = re.compile(r"<(?:(\w+):)?(\w+)>")
EXEMPT = {"/admin/login", "/admin/static/<path:filename>"}


def admin_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the admin serves, path parameters filled with dummy values."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.rule in EXEMPT:
            continue
        path = ARGS.sub(lambda m: "1" if m.group(1) == "int" else "x", rule.rule)
        routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def state_changing(app) -> list[tuple[str, str]]:
    return [(m, p) for m, p in admin_routes(app) if m != "GET" and p != "/admin/logout"]


def test_every_admin_route_refuses_a_request_without_session_or_token(app, client):
    routes = admin_routes(app)
    assert len(routes) > 25

    for method, path in routes:
        response = client.open(path, method=method)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json["error"] == "unauthorized"


def test_a_browser_asking_for_a_page_gets_the_login_form_as_its_401(client):
    response = client.get("/admin/orders", headers={"Accept": "text/html,*/*;q=0.8"})

    assert response.status_code == 401
    assert 'action="/admin/login"' in response.get_data(as_text=True)
    assert client.get("/admin/api/orders", headers={"Accept": "text/html"}).is_json


def test_every_state_changing_route_refuses_a_session_request_without_csrf(app, client):
    logged_in(client, "owner")

    for method, path in state_changing(app):
        for headers in ({}, {"X-CSRFToken": "forged"}):
            response = client.open(path, method=method, json={}, headers=headers)
            assert response.status_code == 400, (method, path)
            assert response.json["error"] == "csrf_failed"


def test_a_viewer_may_read_but_not_act(app, client):
    token = logged_in(client, "viewer")

    assert client.get("/admin/api/orders").status_code == 200
    for method, path in state_changing(app):
        response = client.open(path, method=method, json={}, headers={"X-CSRFToken": token})
        assert response.status_code == 403, (method, path)
        assert response.json["error"] == "forbidden"


def test_an_operator_may_not_manage_staff(client):
    token = logged_in(client, "operator")

    assert client.get("/admin/api/users").status_code == 403
    created = client.post(
        "/admin/api/users",
        json={"email": "new@example.com", "password": PASSWORD, "role": "owner"},
        headers={"X-CSRFToken": token},
    )
    assert created.status_code == 403
    with Session() as session:
        assert session.scalars(select(StaffUser.email)).all() == ["operator@example.com"]


def test_a_disabled_user_is_refused_at_once_and_cannot_log_in_again(client):
    logged_in(client, "operator", email="gone@example.com")
    with Session.begin() as session:
        session.scalars(select(StaffUser)).one().disabled = True

    assert client.get("/admin/api/orders").status_code == 401
    assert log_in(client, "gone@example.com").status_code == 401


@pytest.mark.parametrize("key", ["seen_at", "login_at"])
def test_an_idle_or_too_old_session_is_refused(client, key):
    logged_in(client, "operator")
    with client.session_transaction() as session:
        session[key] = int(time.time()) - 13 * 3600

    response = client.get("/admin/api/orders")

    assert response.status_code == 401
    assert client.get("/admin/api/orders").status_code == 401  # the session is gone


def test_logout_ends_the_session(client):
    token = logged_in(client, "viewer")

    response = client.post("/admin/logout", data={"csrf_token": token})

    assert response.status_code == 303
    assert client.get("/admin/api/orders").status_code == 401


def test_session_cookie_is_httponly_lax_and_scoped_to_the_admin(client):
    make_user("ops@example.com")

    response = log_in(client)

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie


def test_unknown_email_and_wrong_password_get_the_same_answer(client):
    make_user("ops@example.com")

    unknown = log_in(client, "nobody@example.com")
    wrong = log_in(client, "ops@example.com", "not the password")

    assert unknown.status_code == wrong.status_code == 401
    assert "Invalid email or password." in unknown.get_data(as_text=True)
    assert "Invalid email or password." in wrong.get_data(as_text=True)


def test_repeated_failures_lock_the_account_until_the_lockout_expires(client, broker):
    make_user("ops@example.com")
    for _ in range(5):
        assert log_in(client, "ops@example.com", "guess").status_code == 401

    locked = log_in(client, "ops@example.com")  # even the right password

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.get_data(as_text=True)
    [key] = broker.client.keys("cartfleet:admin:login-failures:account:*")
    assert 0 < broker.client.ttl(key) <= 15 * 60
    broker.client.delete(key)  # what the expiry does
    assert log_in(client, "ops@example.com").status_code == 303


def test_failures_from_one_address_lock_it_for_every_account(client):
    make_user("ops@example.com")
    for number in range(20):
        log_in(client, f"user{number}@example.com", "guess")

    assert log_in(client, "ops@example.com").status_code == 429


def test_bearer_tokens_bootstrap_and_per_user_revocable(client):
    owner_id = make_user("owner@example.com", "owner")
    issued = client.post(
        f"/admin/api/users/{owner_id}/tokens", json={"name": "ci"}, headers=BOOTSTRAP
    )
    assert issued.status_code == 201
    token = issued.json["token"]
    headers = {"Authorization": f"Bearer {token}"}

    assert client.get("/admin/api/users", headers=headers).status_code == 200
    listed = client.get(f"/admin/api/users/{owner_id}/tokens", headers=headers)
    assert token not in listed.get_data(as_text=True)
    revoked = client.delete(f"/admin/api/tokens/{issued.json['id']}", headers=BOOTSTRAP)
    assert revoked.json["revoked_at"] is not None
    assert client.get("/admin/api/users", headers=headers).status_code == 401


def test_owner_changes_role_and_every_action_is_audited(client):
    user_id = make_user("ops@example.com", "viewer")
    token = logged_in(client, "owner")

    changed = client.patch(
        f"/admin/api/users/{user_id}",
        json={"role": "operator"},
        headers={"X-CSRFToken": token, "X-Request-Id": "req-42"},
    )

    assert changed.json["role"] == "operator"
    assert changed.headers["X-Request-Id"] == "req-42"
    audit = client.get("/admin/api/audit?action=update_user").json["items"]
    assert [(a["actor"], a["target"], a["outcome"], a["request_id"]) for a in audit] == [
        ("owner@example.com", f"user:{user_id}", "ok", "req-42")
    ]
    assert client.get("/admin/api/audit?action=login").json["items"][0]["outcome"] == "ok"


def test_a_refused_action_is_audited_as_denied(client):
    token = logged_in(client, "viewer")

    client.post("/admin/api/dead-letters/requeue", json={}, headers={"X-CSRFToken": token})

    with Session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action != "login")).one()
    assert (entry.actor, entry.action, entry.outcome) == (
        "viewer@example.com",
        "requeue_dead_letters",
        "denied",
    )


def test_no_body_leaks_a_hash_a_token_or_a_traceback(app, client):
    owner_id = make_user("owner@example.com", "owner")
    token = client.post(f"/admin/api/users/{owner_id}/tokens", json={}, headers=BOOTSTRAP).json[
        "token"
    ]
    with Session() as session:
        password_hash = session.get(StaffUser, owner_id).password_hash
    bodies = [client.get("/admin/api/users", headers=BOOTSTRAP).get_data(as_text=True)]
    bodies += [client.get("/admin/api/audit", headers=BOOTSTRAP).get_data(as_text=True)]
    bodies += [client.open(p, method=m).get_data(as_text=True) for m, p in admin_routes(app)]
    bodies += [log_in(client, "owner@example.com", "wrong").get_data(as_text=True)]

    for body in bodies:
        assert password_hash not in body and "$argon2" not in body
        assert token not in body and "test-admin-token" not in body
        assert "Traceback" not in body


def test_cli_creates_a_user_with_the_password_from_stdin():
    from cli import main

    result = CliRunner().invoke(
        main, ["admin", "create-user", "boss@example.com", "--role", "owner"], input=PASSWORD + "\n"
    )

    assert result.exit_code == 0, result.output
    with Session.begin() as session:
        user = authenticate(session, email="BOSS@example.com", password=PASSWORD)
        assert user.role == "owner"
    again = CliRunner().invoke(main, ["admin", "create-user", "boss@example.com"], input=PASSWORD)
    assert again.exit_code != 0 and "already exists" in again.output


def test_login_form_without_csrf_is_refused(client):
    make_user("ops@example.com")
    csrf_token(client)

    response = client.post("/admin/login", data={"email": "ops@example.com", "password": PASSWORD})

    assert response.status_code == 400


def test_production_requires_a_secret_key_and_marks_the_cookie_secure(monkeypatch):
    from flask import Flask

    from services.settings import ConfigurationError, Settings, get_settings
    from web.admin import auth

    monkeypatch.setenv("CARTFLEET_ENV", "production")
    monkeypatch.setenv("RECOVERY_SECRET", "r" * 32)  # the other production secret
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings()
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    get_settings.cache_clear()
    try:
        app = Flask("probe")
        auth.init_app(app)
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SECRET_KEY"] == "s" * 64
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_pages_seen_by_an_owner_leak_no_hash_or_token(client):
    owner_id = make_user("owner@example.com", "owner")
    token = client.post(f"/admin/api/users/{owner_id}/tokens", json={}, headers=BOOTSTRAP).json[
        "token"
    ]
    assert log_in(client, "owner@example.com").status_code == 303

    for path in ("/admin/orders", "/admin/staff", "/admin/audit", "/admin/discount-codes"):
        body = client.get(path).get_data(as_text=True)
        assert "$argon2" not in body and token not in body and "Traceback" not in body
