"""The numeric limits of docs/domain.md, in one place.

The HTTP schemas, the CLI and the CSV import all read these constants, so the
three entrypoints cannot disagree, and every stored value fits its column:
`on_hand` stays inside a 32-bit integer and an order total inside a signed
64-bit one on every storage.
"""

from __future__ import annotations

MAX_PRICE = 10**12
"""A product's price in minor units, at most."""

MAX_STOCK = 10**9
"""`on_hand` after any set, adjustment or import, at most (below 2**31 - 1)."""

MAX_QUANTITY = 1000
"""Units of one SKU on one order line, at most."""

MAX_LINES = 100
"""Lines on one order, at most."""

MAX_ORDER_TOTAL = MAX_PRICE * MAX_QUANTITY * MAX_LINES
"""10**17: the largest total the limits above allow, well below 2**63 - 1."""

MAX_ID_LENGTH = 64
"""Ids (orders, principals, events, correlation ids) are stored in 64-character columns."""

assert MAX_STOCK < 2**31 - 1
assert MAX_ORDER_TOTAL < 2**63 - 1
