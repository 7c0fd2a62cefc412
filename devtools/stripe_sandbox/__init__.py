"""A local, stateful Stripe in Stripe's wire format, with signed webhook delivery.

See docs/stripe-sandbox.md. Standalone: it imports nothing else of the project.
"""

from __future__ import annotations

from devtools.stripe_sandbox.client import SandboxControl, SandboxControlError
from devtools.stripe_sandbox.server import SandboxServer
from devtools.stripe_sandbox.webhooks import Switches, sign

__all__ = ["SandboxControl", "SandboxControlError", "SandboxServer", "Switches", "sign"]
