"""The audit log page: every staff action with its outcome, filtered like its API twin."""

from __future__ import annotations

from flask import render_template, request

from web.admin import audit, bp
from web.validation import parse_query


@bp.get("/audit")
def page_audit():
    query = parse_query(audit.AuditQuery)
    entries = [audit.entry_json(entry) for entry in audit.search(query)]
    return render_template("admin/audit.html", entries=entries, filters=request.args)
