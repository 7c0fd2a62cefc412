"""Sentry transactions for actor runs, in the trace of the code that sent each message.

A message carries the ``sentry-trace`` and ``baggage`` headers of the span that was
running when it was built, in its ``sentry_headers`` option. services/outbox.py takes them
when it builds a message (``message_options``), so they are stored with the outbox row:
a job pushed after commit, or by the relay from another process, still continues the
request or run that wrote it. ``before_enqueue`` fills them in for messages sent
directly (``actor.send``). A retry is the same message, so it stays in the same trace.

Sentry's own Dramatiq integration is not used: it takes the headers at enqueue time,
overwriting any already there, which puts relayed jobs in the relay's trace.

Written for sentry-sdk 3, which streams spans: a run is a segment span (3.x has no
transactions), and a span is sent when it ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import dramatiq
import sentry_sdk
from dramatiq.broker import MessageProxy
from dramatiq.errors import Retry
from dramatiq.middleware import Middleware
from sentry_sdk.consts import OP
from sentry_sdk.traces import (
    BAGGAGE_HEADER_NAME,
    SENTRY_TRACE_HEADER_NAME,
    SegmentNameSource,
    Span,
    SpanStatus,
)
from sentry_sdk.utils import event_from_exception

HEADERS_OPTION = "sentry_headers"
ORIGIN = "auto.queue.cartfleet"


def trace_headers() -> dict[str, str] | None:
    """The running span's trace headers; None outside a span (always, when Sentry is off)."""
    if sentry_sdk.get_current_span() is None:
        return None
    headers = {
        SENTRY_TRACE_HEADER_NAME: sentry_sdk.get_traceparent(),
        BAGGAGE_HEADER_NAME: sentry_sdk.get_baggage(),
    }
    return {name: value for name, value in headers.items() if value} or None


def message_options() -> dict[str, Any]:
    """The options that put a message being built into the current trace."""
    headers = trace_headers()
    return {HEADERS_OPTION: headers} if headers else {}


@dataclass
class _Run:
    message_id: str
    scope: Any  # the isolation scope's context manager
    span: Span


class SentryTracing(Middleware):
    """One segment span per actor run (name = actor name), with the run's errors in it.

    First in the stack, so the other middleware's work is inside the span.
    """

    def __init__(self) -> None:
        # A worker thread runs one message at a time, before to after.
        self._local = threading.local()

    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None
    ) -> None:
        if HEADERS_OPTION not in message.options and (headers := trace_headers()):
            message.options[HEADERS_OPTION] = headers

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        scope_manager = sentry_sdk.isolation_scope()
        scope = scope_manager.__enter__()
        scope.clear_breadcrumbs()
        scope.set_tag("dramatiq.actor", message.actor_name)
        scope.set_context(
            "dramatiq",
            {
                "message_id": message.message_id,
                "queue": message.queue_name,
                "retries": message.options.get("retries", 0),
                "args": list(message.args),
                "kwargs": message.kwargs,
            },
        )
        headers = message.options.get(HEADERS_OPTION)
        if headers:
            sentry_sdk.continue_trace(headers)
        else:  # a thread's scope must not lend one run's trace to the next
            sentry_sdk.new_trace()
        span = sentry_sdk.start_span(
            name=message.actor_name,
            parent_span=None,
            attributes={
                "sentry.op": OP.QUEUE_PROCESS,
                "sentry.origin": ORIGIN,
                "sentry.segment.name.source": SegmentNameSource.TASK.value,
                "messaging.destination.name": message.queue_name,
                "messaging.message.id": message.message_id,
            },
        )
        self._local.run = _Run(message.message_id, scope_manager, span)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        run = self._pop(message)
        if run is None:
            return
        # Dramatiq's worker also logs this error, which Sentry's logging integration
        # reports unless LOG_LEVEL hides it; Sentry drops the second copy of one exception.
        if exception is not None and _unexpected(broker, message, exception):
            event, hint = event_from_exception(
                exception, mechanism={"type": "dramatiq", "handled": False}
            )
            sentry_sdk.capture_event(event, hint=hint)
        run.span.status = SpanStatus.OK if exception is None else SpanStatus.ERROR
        run.span.end()
        run.scope.__exit__(None, None, None)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        run = self._pop(message)
        if run is not None:
            # A skipped message did no work worth a trace: a span is sent when it ends,
            # so this one, never ended, is dropped with its scope.
            run.scope.__exit__(None, None, None)

    def _pop(self, message: MessageProxy) -> _Run | None:
        run = getattr(self._local, "run", None)
        self._local.run = None
        return run if run is not None and run.message_id == message.message_id else None


def _unexpected(broker: dramatiq.Broker, message: MessageProxy, error: BaseException) -> bool:
    """Whether ``error`` is a failure to report (not a requested retry or a declared throw)."""
    throws = message.options.get("throws") or broker.get_actor(message.actor_name).options.get(
        "throws"
    )
    return not isinstance(error, Retry) and not (throws and isinstance(error, throws))
