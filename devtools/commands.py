"""The development commands the ``cartfleet`` command adds when this package is installed."""

from __future__ import annotations

from devtools.dev import dev
from devtools.pay import pay
from devtools.sandbox_command import stripe_sandbox

COMMANDS = (dev, pay, stripe_sandbox)
