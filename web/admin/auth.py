"""Who is calling the admin: a bearer token or a browser session; roles and CSRF.

``authenticate`` is the one check every ``/admin`` request passes (registered on the app
by ``web.admin``): ``Authorization: Bearer`` with ``ADMIN_TOKEN`` (the bootstrap owner) or
a staff user's API token; else the signed session cookie of a login, refused once idle or
too old, or once its user is disabled. Session requests that change something must carry
Flask-WTF's CSRF token; bearer requests cannot be forged by a browser and are exempt.
"""

from __future__ import annotations

import functools
import hmac
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Response, g, render_template, request, session
from flask.sansio.app import App
from flask_wtf.csrf import CSRFError, CSRFProtect

from models.db import Session
from models.errors import NotFound
from models.staff import Actor, Role, may, user_for_token
from models.staff import get_user as load_user
from services.settings import get_settings
from web.errors import APIError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reachable without logging in: the login form itself and the stylesheet it uses.
PUBLIC_PATHS = ("/admin/login", "/admin/static/")
# State-changing views every role may use.
ANY_ROLE = frozenset({"admin.logout"})
BOOTSTRAP_ACTOR = Actor(user_id=None, email="ADMIN_TOKEN", role=Role.OWNER)
SESSION_COOKIE = "cartfleet_admin"

csrf = CSRFProtect()


def init_app(app: App) -> None:
    """Session cookie and CSRF settings; ``app.config`` values already set win (tests)."""
    settings = get_settings()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.secret_key
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH="/admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        PERMANENT_SESSION_LIFETIME=settings.admin_session_max_hours * 3600,
        # Checked in ``authenticate`` for session requests only, never for the storefront
        # API, the webhooks or bearer calls.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)


def is_public(path: str) -> bool:
    return path == PUBLIC_PATHS[0] or path.startswith(PUBLIC_PATHS[1])


def unauthorized() -> APIError:
    return APIError(401, "unauthorized", "Log in or send a valid admin bearer token.")


def _bearer_actor(supplied: str) -> Actor | None:
    expected = get_settings().admin_token
    if expected and hmac.compare_digest(supplied.encode(), expected.encode()):
        return BOOTSTRAP_ACTOR
    with Session.begin() as db:
        user = user_for_token(db, supplied)
        return Actor(user.id, user.email, user.role) if user else None


def start_session(actor: Actor) -> None:
    """A fresh session for a user who just logged in (a new CSRF token too)."""
    session.clear()
    now = int(time.time())
    session.update(user_id=actor.user_id, login_at=now, seen_at=now)
    session.permanent = True


def _session_actor() -> Actor | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    settings = get_settings()
    now = int(time.time())
    idle = now - int(session.get("seen_at", 0)) > settings.admin_session_idle_minutes * 60
    old = now - int(session.get("login_at", 0)) > settings.admin_session_max_hours * 3600
    with Session.begin() as db:
        try:
            user = load_user(db, int(user_id))
        except NotFound:
            user = None
        actor = Actor(user.id, user.email, user.role) if user and not user.disabled else None
    if actor is None or idle or old:
        session.clear()
        return None
    session["seen_at"] = now
    return actor


def authenticate() -> Response | None:
    """Set ``g.actor`` for an admin request, or refuse it (401, 400 CSRF, 403 role).

    A browser asking for a page without a session gets the 401 as the login form; every
    other client API.md's JSON error.
    """
    g.request_id = _request_id()
    if is_public(request.path):
        return None
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme:
        actor = _bearer_actor(supplied.strip()) if scheme.lower() == "bearer" else None
    else:
        actor = _session_actor()
        if actor is not None and request.method not in SAFE_METHODS:
            protect()
    if actor is None:
        if not scheme and _wants_page():
            form = render_template("admin/login.html", message=None, email="")
            return Response(form, 401, mimetype="text/html")
        raise unauthorized()
    g.actor = actor
    acting = request.method not in SAFE_METHODS and request.endpoint not in ANY_ROLE
    if acting and not may(actor.role, Role.OPERATOR):
        raise forbidden()
    return None


def _wants_page() -> bool:
    if request.method != "GET" or request.path.startswith("/admin/api/"):
        return False
    return request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html"


def protect() -> None:
    """Flask-WTF's CSRF check (form field or ``X-CSRFToken`` header) as our JSON error."""
    try:
        csrf.protect()
    except CSRFError as error:
        raise APIError(400, "csrf_failed", error.description) from None


def forbidden() -> APIError:
    return APIError(403, "forbidden", "Your role may not do this.")


def requires(role: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view only ``role`` (or a higher one) may call."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not may(current_actor().role, role):
                raise forbidden()
            return view(*args, **kwargs)

        return wrapped

    return decorate


def current_actor() -> Actor:
    return g.actor


def _request_id() -> str:
    supplied = request.headers.get("X-Request-Id", "")
    if 0 < len(supplied) <= 64 and supplied.isprintable():
        return supplied
    return uuid.uuid4().hex
