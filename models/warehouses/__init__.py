"""Warehouses: where stock sits, where it ships to, and how an order is routed over them.

``tables`` holds the warehouse row, ``geo`` turns postal codes and countries into
coordinates, ``routing`` chooses the warehouses of an order (a pure function of free
units, distances and priorities), ``edits`` creates, changes and deactivates them.
"""
