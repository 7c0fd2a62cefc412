"""The live-cart gateway: WebSocket connections fed by the cart hints on Redis pub/sub.

``gateway`` accepts and holds the connections (the handshake checks the live token),
``subscriber`` follows the hint channel and survives Redis restarts, ``server`` runs both.
"""
