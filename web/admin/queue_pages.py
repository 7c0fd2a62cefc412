"""The queues and dead-letters pages: depths, workers, waiting messages; requeue or delete
dead letters one at a time or every one matching a queue/actor filter (after a confirmation).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from flows import dead_letters as letters_flow
from web.admin import bp
from web.admin.dead_letters import DeadLetterQuery
from web.admin.forms import form_action
from web.admin.queues import MessagesQuery
from web.validation import parse_query
from worker import dead_letters, queues

__all__ = ["bp"]


def _filters() -> dict[str, str]:
    """The queue/actor filter a form posted (blank fields dropped)."""
    return {k: request.form[k] for k in ("queue", "actor") if request.form.get(k, "").strip()}


def _back(filters: dict[str, Any]):
    return redirect(url_for("admin.page_dead_letters", **filters), 303)


@bp.get("/queues")
def page_queues():
    dead_letters.adopt_redis_entries()  # so the dead counts include what only Redis holds
    return render_template(
        "admin/queues.html", queues=queues.queue_stats(), workers=queues.workers()
    )


@bp.get("/queues/<queue>")
def page_queue(queue: str):
    if queue not in queues.queue_names():
        abort(404)
    query = parse_query(MessagesQuery)
    messages = queues.waiting_messages(queue, offset=query.offset, limit=query.limit)
    return render_template(
        "admin/queue.html", queue=queue, messages=messages, offset=query.offset, page=query.limit
    )


@bp.get("/dead-letters")
def page_dead_letters():
    query = parse_query(DeadLetterQuery)
    letters = dead_letters.list_dead_letters(
        queue=query.queue, actor=query.actor, limit=query.limit
    )
    return render_template(
        "admin/dead_letters.html",
        letters=[letter.to_dict() for letter in letters],
        filters={k: v for k, v in request.args.items() if k in ("queue", "actor") and v},
    )


@bp.get("/dead-letters/confirm")
def page_confirm_dead_letters():
    """The confirmation step of a bulk requeue or a delete: what it will touch, one button."""
    do = request.args.get("do")
    message_id = request.args.get("message_id", "")
    filters = {k: v for k, v in request.args.items() if k in ("queue", "actor") and v}
    if do == "delete" and message_id:
        fields = {}
        action = url_for("admin.page_delete_dead_letter", message_id=message_id)
        text = f"Delete the dead letter {message_id} for good?"
    elif do == "requeue":
        count = len(dead_letters.list_dead_letters(**filters))
        fields, action = filters, url_for("admin.page_requeue_dead_letters")
        text = f"Requeue {count} dead letter(s) matching {filters or 'no filter (all)'}?"
    else:
        abort(404)
    return render_template(
        "admin/confirm.html",
        text=text,
        action=action,
        fields=fields,
        back=url_for("admin.page_dead_letters"),
    )


@bp.post("/dead-letters/<message_id>/requeue")
def page_requeue_dead_letter(message_id: str):
    with form_action():
        letter = letters_flow.requeue_one(message_id)
        flash(f"Requeued {message_id} on {letter.queue}.", "ok")
    return _back(_filters())


@bp.post("/dead-letters/requeue")
def page_requeue_dead_letters():
    filters = _filters()
    done = letters_flow.requeue(**filters)
    flash(f"Requeued {len(done)} dead letter(s).", "ok")
    return _back(filters)


@bp.post("/dead-letters/<message_id>/delete")
def page_delete_dead_letter(message_id: str):
    with form_action():
        letters_flow.purge_one(message_id)
        flash(f"Deleted {message_id}.", "ok")
    return _back({})
