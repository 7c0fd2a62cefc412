"""Use cases, one function each, called alike by the JSON API, the pages, the CLI and jobs.

A flow takes ids and primitives, owns the order of its steps (the transactions, the
outside calls between them, the jobs it sends through the outbox) and returns what
happened or raises a domain error (``models.errors``). Views and commands parse, call a
flow, and render.
"""
