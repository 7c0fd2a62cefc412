"""Fault-injection suite: the fleet under load while its dependencies break (README.md)."""
