"""Events: recorded on every state change, listed and retrieved like Stripe's Events API."""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.wire import (
    Call,
    check_created,
    check_known,
    missing,
    page,
    param_error,
)

API_VERSION = "2026-10-28.endive"
LIST_PARAMS = {
    "created",
    "delivery_success",
    "ending_before",
    "limit",
    "starting_after",
    "type",
    "types",
}


def emit(
    state: State,
    event_type: str,
    obj: dict[str, Any],
    call: Call | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an event with a snapshot of ``obj`` and queue it for every endpoint."""
    data: dict[str, Any] = {"object": copy.deepcopy(obj)}
    if previous:
        data["previous_attributes"] = previous
    event = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": state.timestamp(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": call.event_request() if call else {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    state.data["events"][event["id"]] = event
    for endpoint in state.data["endpoints"].values():
        if not any(fnmatch.fnmatchcase(event_type, p) for p in endpoint["enabled_events"]):
            continue
        state.data["deliveries"][delivery_key(event["id"], endpoint["id"])] = {
            "event": event["id"],
            "endpoint": endpoint["id"],
            "status": "pending",
            "attempts": [],
            "next_at": state.now(),
        }
    state.changed.notify_all()
    return event


def delivery_key(event_id: str, endpoint_id: str) -> str:
    return f"{event_id}:{endpoint_id}"


def deliveries_of(state: State, event_id: str) -> list[dict[str, Any]]:
    return [d for d in state.data["deliveries"].values() if d["event"] == event_id]


def render(state: State, event: dict[str, Any]) -> dict[str, Any]:
    pending = sum(1 for d in deliveries_of(state, event["id"]) if d["status"] != "succeeded")
    return {**event, "pending_webhooks": pending}


def retrieve(call: Call, state: State, params: dict[str, Any], event_id: str) -> dict[str, Any]:
    event = state.data["events"].get(event_id)
    if event is None:
        raise missing("event", event_id)
    return render(state, event)


def _type_filter(params: dict[str, Any]):
    patterns = params.get("types") or []
    if isinstance(patterns, str):
        patterns = [patterns]
    if "type" in params:
        if patterns:
            raise param_error("You may pass either type or types, but not both.", "types")
        patterns = [params["type"]]
    if len(patterns) > 20:
        raise param_error("types may contain at most 20 values", "types")
    return lambda name: not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def list_events(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, LIST_PARAMS)
    wanted_type = _type_filter(params)
    in_window = check_created(params.get("created"))
    success = params.get("delivery_success")
    if success not in (None, "true", "false"):
        raise param_error(f"Invalid boolean: {success}", "delivery_success")
    items = []
    for event in reversed(state.data["events"].values()):
        if not wanted_type(event["type"]) or not in_window(event["created"]):
            continue
        shown = render(state, event)
        if success is not None and (shown["pending_webhooks"] == 0) != (success == "true"):
            continue
        items.append(shown)
    return page(items, params, "/v1/events")
