"""Orders: tables, status and its one ``transition``, checkout, payment effects, refunds,
fulfilment, expiry and reservation-confirmation reconciliation."""
