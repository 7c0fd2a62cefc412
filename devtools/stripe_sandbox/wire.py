"""Stripe's wire format: nested form decoding, the error object, list pages.

Both ``types[]=a`` and stripe-python's indexed ``types[0]=a`` decode to a list.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

_KEY_PART = re.compile(r"\[([^\]]*)\]")


class StripeError(Exception):
    """An error answered in Stripe's shape: ``{"error": {...}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        # Stripe keeps an idempotent result only once the endpoint started executing.
        self.replayable = True
        self.body: dict[str, Any] = {"type": kind, "message": message}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["param"] = param
        self.body.update({k: v for k, v in extra.items() if v is not None})

    def json(self) -> dict[str, Any]:
        return {"error": self.body}


def invalid(message: str, *, code: str | None = None, param: str | None = None, **extra: Any):
    return StripeError(400, "invalid_request_error", message, code=code, param=param, **extra)


def param_error(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A request Stripe refuses before acting on it (no idempotency record is kept)."""
    error = invalid(message, code=code, param=param)
    error.replayable = False
    return error


def metadata(value: Any, current: dict[str, str] | None = None) -> dict[str, str]:
    """``current`` updated by ``value``; as Stripe, ``""`` unsets a key, or all of them."""
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise param_error("Invalid metadata: must be a hash", "metadata")
    merged = {**(current or {}), **value}
    return {key: val for key, val in merged.items() if val != ""}


def missing(resource: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404,
        "invalid_request_error",
        f"No such {resource}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def decode_form(body: str) -> dict[str, Any]:
    """``a[b][c]=1&l[]=x&l[1]=y`` → ``{"a": {"b": {"c": "1"}}, "l": ["x", "y"]}``."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
        target = result
        for part, child in itertools.pairwise(parts):
            target = target.setdefault(part, {} if child else [])
            if isinstance(target, list):
                break
        if isinstance(target, list):
            target.append(value)
        else:
            target[parts[-1]] = value
    return _lists(result)


def _lists(node: Any, key: str = "") -> Any:
    # Indexed keys (types[0]) become lists; metadata keys are left as they came.
    if not isinstance(node, dict):
        return node
    node = {k: _lists(v, k) for k, v in node.items()}
    if key != "metadata" and node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def integer(params: dict[str, Any], name: str, *, minimum: int = 0) -> int | None:
    if name not in params:
        return None
    value = params[name]
    if not isinstance(value, str) or not value.lstrip("-").isdigit() or int(value) < minimum:
        raise param_error(f"Invalid integer: {value}", name, "parameter_invalid_integer")
    return int(value)


def boolean(params: dict[str, Any], name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise param_error(f"Invalid boolean: {value}", name)
    return value == "true"


def choice(params: dict[str, Any], name: str, allowed: Sequence[str]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise param_error(f"Invalid {name}: must be one of {', '.join(allowed)}", name)
    return value


def check_known(params: dict[str, Any], allowed: set[str]) -> None:
    """Stripe refuses parameters it does not know; so does the sandbox."""
    for name in params:
        if name not in allowed and name != "expand":
            raise param_error(f"Received unknown parameter: {name}", name, "parameter_unknown")


def check_created(value: Any, param: str = "created") -> Callable[[int], bool]:
    """A predicate for ``created=123`` or ``created[gte|gt|lte|lt]=123``."""
    if value is None:
        return lambda _: True
    bounds = value if isinstance(value, dict) else {"eq": value}
    ops = {
        "eq": lambda a, b: a == b,
        "gte": lambda a, b: a >= b,
        "gt": lambda a, b: a > b,
        "lte": lambda a, b: a <= b,
        "lt": lambda a, b: a < b,
    }
    checks = []
    for op, raw in bounds.items():
        if op not in ops or not str(raw).isdigit():
            raise param_error(f"Invalid {param}[{op}]: {raw}", f"{param}[{op}]")
        checks.append((ops[op], int(raw)))
    return lambda created: all(check(created, bound) for check, bound in checks)


def page(items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """A list envelope over ``items`` (newest first) honouring limit and the cursors."""
    limit = integer(params, "limit", minimum=1)
    limit = 10 if limit is None else limit
    if limit > 100:
        raise param_error("Invalid limit: must be at most 100", "limit")
    ids = [item["id"] for item in items]
    after, before = params.get("starting_after"), params.get("ending_before")
    for name, cursor in (("starting_after", after), ("ending_before", before)):
        if cursor is not None and cursor not in ids:
            raise missing("object", cursor, param=name)
    if after is not None:
        rest = items[ids.index(after) + 1 :]
        data, has_more = rest[:limit], len(rest) > limit
    elif before is not None:
        rest = items[: ids.index(before)]
        data, has_more = rest[-limit:], len(rest) > limit
    else:
        data, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


class Call:
    """One API request as the handlers see it: who made it and under which ids."""

    def __init__(
        self,
        *,
        api_key: str,
        request_id: str,
        idempotency_key: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.request_id = request_id
        self.idempotency_key = idempotency_key

    @property
    def publishable(self) -> bool:
        return self.api_key.startswith("pk_")

    def event_request(self) -> dict[str, Any]:
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}
