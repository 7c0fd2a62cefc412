"""Stock: on-hand units per warehouse, reservations, and the one availability rule.

Available units of a stock row = on hand - its live reservations (active, not expired).
``availability`` holds that rule once; every read and every reservation builds on it.
"""
