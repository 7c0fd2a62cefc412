"""The admin pages' form actions: parse the posted form, and show and audit a refusal.

A page action redirects (303) whatever happens; the audit log must still record what
happened to the action, so a refusal sets ``g.audit_status`` to its own status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import flash, g, request
from pydantic import BaseModel, ValidationError

from models.errors import CartfleetError

SchemaT = TypeVar("SchemaT", bound=BaseModel)


def parse_form(schema: type[SchemaT], *, numbers: tuple[str, ...] = ()) -> SchemaT:
    """The posted form as ``schema``; blank fields count as absent, ``numbers`` are ints."""
    data: dict[str, Any] = {k: v for k, v in request.form.items() if v.strip()}
    data.pop("csrf_token", None)
    for name in numbers:
        if name in data and data[name].strip().isdigit():
            data[name] = int(data[name])
    return schema.model_validate(data)


def refuse(message: str, *, status: int) -> None:
    """Show ``message`` on the next page and audit the action as refused with ``status``."""
    flash(message, "error")
    g.audit_status = status


@contextmanager
def form_action(hint: str = "") -> Iterator[None]:
    """Run a form's action: a bad form (422) or a domain refusal is shown and audited.

    ``hint`` follows the list of bad fields (``"passwords need 12 characters"``).
    """
    try:
        yield
    except ValidationError as error:
        fields = ", ".join(str(e["loc"][-1]) for e in error.errors())
        refuse(f"Check the form: {fields}{f' ({hint})' if hint else ''}.", status=422)
    except CartfleetError as error:
        refuse(error.message, status=error.status)
