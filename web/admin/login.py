"""``GET|POST /admin/login`` and ``POST /admin/logout``: the browser session."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for

from models.db import Session
from models.staff import Actor, authenticate
from web.admin import audit, bp, lockout
from web.admin.auth import current_actor, protect, start_session

LOGIN_FAILED = "Invalid email or password."
LOCKED = "Too many failed logins. Try again later."
MAX_FIELD = 320


def _form(message: str | None, status: int, email: str = ""):
    return render_template("admin/login.html", message=message, email=email), status


@bp.get("/login")
def login_form():
    return _form(None, 200)


@bp.post("/login")
def login():
    protect()
    email = request.form.get("email", "")[:MAX_FIELD].strip()
    password = request.form.get("password", "")[:1024]
    address = request.remote_addr or "unknown"
    if lockout.is_locked(email, address):
        audit.write("login", actor=email, user_id=None, target=None, status=429, reason="locked")
        return _form(LOCKED, 429, email)
    with Session.begin() as db:
        user = authenticate(db, email=email, password=password) if email and password else None
        actor = Actor(user.id, user.email, user.role) if user else None
    if actor is None:
        lockout.record_failure(email, address)
        audit.write("login", actor=email, user_id=None, target=None, status=401)
        return _form(LOGIN_FAILED, 401, email)
    lockout.clear_account(email, address)
    start_session(actor)
    audit.write("login", actor=actor.email, user_id=actor.user_id, target=None, status=200)
    return redirect(url_for("admin.page_index"), 303)


@bp.post("/logout")
def logout():
    actor = current_actor()
    session.clear()
    audit.write("logout", actor=actor.label, user_id=actor.user_id, target=None, status=200)
    return redirect(url_for("admin.login_form"), 303)
