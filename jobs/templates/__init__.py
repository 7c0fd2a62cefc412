"""Jinja2 rendering of the emails under ``jobs/templates/email`` (HTML and plain text).

HTML templates autoescape, so names and addresses typed by customers cannot inject
markup; the plain-text twins are not escaped (there is nothing to inject into).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

# Currencies whose minor unit is the major unit (Stripe's zero-decimal list, common ones).
ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "isk", "huf", "twd", "ugx"})
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def money(cents: int, currency: str) -> str:
    """``2500, "usd"`` → ``$25.00``; unknown currencies get their code as prefix."""
    code = currency.lower()
    amount = f"{cents:,}" if code in ZERO_DECIMAL else f"{cents / 100:,.2f}"
    symbol = SYMBOLS.get(code)
    return f"{symbol}{amount}" if symbol else f"{code.upper()} {amount}"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("jobs.templates", "email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money
    return env


def render(kind: str, context: dict[str, Any]) -> Rendered:
    """Render ``<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html`` with ``context``."""
    env = environment()
    subject = " ".join(env.get_template(f"{kind}.subject.txt").render(context).split())
    context = {**context, "subject": subject}
    return Rendered(
        subject=subject,
        text=env.get_template(f"{kind}.txt").render(context),
        html=env.get_template(f"{kind}.html").render(context),
    )
