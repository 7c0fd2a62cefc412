"""The fleet's own bookkeeping, apart from the store's domain: the outbox, the dead-letter
archive, scheduled job runs and the Stripe backfill cursor. Nothing here imports the
domain (an import-linter contract holds it).
"""
