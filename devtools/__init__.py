"""Development tools: the Stripe sandbox, embedded PostgreSQL and Redis, ``cartfleet dev``.

Installed by the ``dev`` extra (``make run`` and the tests); never in a production wheel.
"""
