"""Carts: tables, reads, edits, lifecycle (status changes) and discount codes."""
