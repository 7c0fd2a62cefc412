"""The webhooks pages: the inbox filtered by status, type and time; an event's payload,
attempts, error and order; replay one, or every replayable event matching a filter.

A replay goes through ``flows.webhook_replay``, as the API's and the CLI's do.
"""

from __future__ import annotations

import json

from flask import abort, flash, g, redirect, render_template, request, url_for
from pydantic import ValidationError

from flows import webhook_replay
from models import inbox, inbox_queries
from models.db import Session
from models.inbox import WebhookEvent
from web import cursors
from web.admin import bp
from web.admin.webhooks import EventQuery
from web.validation import parse_query

__all__ = ["bp"]

PAGE = 50
FILTERS = ("status", "type", "from", "to")


def _shown(source) -> dict[str, str]:
    return {k: source[k] for k in FILTERS if source.get(k, "").strip()}


@bp.get("/webhooks")
def page_webhooks():
    query = parse_query(EventQuery)
    before = cursors.decode_event(query.cursor) if query.cursor else None
    with Session() as session:
        rows = inbox_queries.search(session, where=query.where(), before=before, limit=PAGE + 1)
    page, shown = rows[:PAGE], _shown(request.args)
    next_url = None
    if len(rows) > PAGE:
        last = page[-1]
        cursor = cursors.encode_event(last.received_at, last.id)
        next_url = url_for("admin.page_webhooks", **shown, cursor=cursor)
    return render_template(
        "admin/webhooks.html",
        events=page,
        filters=shown,
        statuses=inbox.WEBHOOK_STATUSES,
        next_url=next_url,
        replay_url=url_for("admin.page_confirm_replay_webhooks", **shown),
    )


@bp.get("/webhooks/replay")
def page_confirm_replay_webhooks():
    """The confirmation step of a bulk replay: how many events the filter would replay."""
    query = parse_query(EventQuery)
    with Session() as session:
        count = len(inbox_queries.replayable_ids(session, where=query.where()))
    return render_template(
        "admin/confirm.html",
        text=f"Replay {count} event(s) (received, failed or dead) matching "
        f"{_shown(request.args) or 'no filter (all)'}?",
        action=url_for("admin.page_replay_webhooks"),
        fields=_shown(request.args),
        back=url_for("admin.page_webhooks", **_shown(request.args)),
    )


@bp.post("/webhooks/replay")
def page_replay_webhooks():
    shown = _shown(request.form)
    try:
        where = EventQuery.model_validate(shown).where()
    except ValidationError:
        flash("Check the filter: status, type, from and to.", "error")
        g.audit_status = 422
        return redirect(url_for("admin.page_webhooks"), 303)
    with Session.begin() as session:
        ids = webhook_replay.replay_matching(session, where=where)
    flash(f"Replaying {len(ids)} event(s).", "ok")
    return redirect(url_for("admin.page_webhooks", **shown), 303)


@bp.get("/webhooks/<event_id>")
def page_webhook(event_id: str):
    with Session() as session:
        event = session.get(WebhookEvent, event_id)
        if event is None:
            abort(404)
        order_id = inbox_queries.touched_order_id(session, event)
        return render_template(
            "admin/webhook.html",
            event=event,
            payload=json.dumps(event.payload, indent=2, sort_keys=True),
            order_id=order_id,
            replayable=event.reason is None,
        )


@bp.post("/webhooks/<event_id>/replay")
def page_replay_webhook(event_id: str):
    with Session.begin() as session:
        ids = webhook_replay.replay(session, ids=[event_id])
    if ids:
        flash(f"Replaying {event_id}; it is applied at most once.", "ok")
    else:
        flash(f"No replayable event {event_id} (unknown, or refused for good).", "error")
        g.audit_status = 404
    return redirect(url_for("admin.page_webhook", event_id=event_id), 303)
