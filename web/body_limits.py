"""How large a request body may be: 1 MiB, except on the routes that take image uploads.

The app reads the limit per view (``takes_uploads`` marks one); the HTTP server, which
reads a body before any routing, tells upload routes by ``UPLOAD_PATH``. An upload's
body may carry a little more than the file it holds (the form's other fields and the
multipart framing), so a file just over ``MAX_UPLOAD_BYTES`` still reaches the
inspection and gets its 422 ``invalid_image``; a body larger still is 413.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask, request

from media.inspection import MAX_UPLOAD_BYTES

MAX_BODY_BYTES = 1024 * 1024
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024
UPLOAD_PATH = re.compile(r"/admin(/api)?/products/[^/]+/images")


def takes_uploads(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``view`` read a body of up to ``UPLOAD_BODY_BYTES`` (its path must match
    ``UPLOAD_PATH``, or the server refuses the body first)."""
    view.max_body_bytes = UPLOAD_BODY_BYTES  # type: ignore[attr-defined]
    return view


def install(app: Flask) -> None:
    """Apply each view's limit before any other hook reads the body (register first)."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.before_request
    def _apply_view_limit() -> None:
        view = app.view_functions.get(request.endpoint or "")
        limit = getattr(view, "max_body_bytes", None)
        if limit is not None:
            request.max_content_length = limit
