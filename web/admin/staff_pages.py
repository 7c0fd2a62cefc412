"""The staff page (owners): list, create, change role, disable or enable staff users."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from models import staff
from models.db import Session
from models.staff import Role
from web.admin import bp
from web.admin.auth import requires
from web.admin.forms import form_action
from web.admin.users import NewUser, UserChange, user_json

__all__ = ["bp"]


@bp.get("/staff")
@requires(Role.OWNER)
def page_staff():
    with Session() as session:
        users = [user_json(user) for user in staff.list_users(session)]
    return render_template("admin/staff.html", users=users, roles=list(Role))


@bp.post("/staff")
@requires(Role.OWNER)
def page_create_user():
    with form_action("passwords need 12 characters"):
        body = NewUser.model_validate(
            {key: request.form.get(key, "") for key in ("email", "password", "role")}
        )
        with Session.begin() as session:
            staff.create_user(session, email=body.email, password=body.password, role=body.role)
        flash(f"Created {body.role} {body.email}.", "ok")
    return redirect(url_for("admin.page_staff"), 303)


@bp.post("/staff/<int:user_id>")
@requires(Role.OWNER)
def page_update_user(user_id: int):
    with form_action():
        change = UserChange.model_validate(
            {
                "role": request.form.get("role") or None,
                "disabled": {"true": True, "false": False}.get(request.form.get("disabled", "")),
            }
        )
        with Session.begin() as session:
            user = staff.get_user(session, user_id)
            if change.role is not None:
                user.role = change.role
            if change.disabled is not None:
                user.disabled = change.disabled
            email = user.email
        flash(f"Updated {email}.", "ok")
    return redirect(url_for("admin.page_staff"), 303)
