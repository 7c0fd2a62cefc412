"""The item-to-item rebuild (Linden, Smith, York 2003), in SQL on one connection.

Paid orders become baskets of distinct products in temporary tables (products numbered,
so the self-join compares integers). For each batch of anchor products, one transaction
replaces their neighbours: co-purchase counts by self-join with a minimum support, the
cosine score ``co / sqrt(n_a * n_b)`` (``n``: orders holding the product), the top N per
anchor by window function. Readers see a product's old neighbours or its new ones, never
a mix; a run cut short leaves the batches it finished, and the next run redoes them all.
Neighbours of products no longer bought are dropped at the end (``drop_stale``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from models.base import quoted
from models.orders.status import PURCHASED

# Two rebuilds at once would race on the same rows; the second one gives up instead.
REBUILD_LOCK_KEY = 0x72656373  # "recs"


@dataclass(frozen=True)
class BuildSettings:
    """``min_support``: orders a pair needs in common; ``top_n``: neighbours kept per
    product; ``batch_size``: anchor products per transaction."""

    min_support: int = 2
    top_n: int = 20
    batch_size: int = 2_000


# The rebuild's own session settings: no statement timeout (the staging reads every
# order line), memory enough for the pair counts of a batch to stay off disk, and no
# JIT (compiling each batch's plan costs more than it saves on these simple scans).
SESSION_SETTINGS = {"statement_timeout": "0", "work_mem": "128MB", "jit": "off"}


def configure_session(connection: Connection) -> None:
    for name, value in SESSION_SETTINGS.items():
        connection.execute(text(f"SET {name} = '{value}'"))


def reset_session(connection: Connection) -> None:
    """Back to the pool's settings (the connection is reused by other work)."""
    for name in SESSION_SETTINGS:
        connection.execute(text(f"RESET {name}"))


def try_lock(connection: Connection) -> bool:
    """Take the rebuild's session lock on ``connection``; False when another run holds it."""
    return bool(
        connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": REBUILD_LOCK_KEY})
    )


def unlock(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REBUILD_LOCK_KEY})


def stage_pairs(connection: Connection, *, min_support: int) -> int:
    """Create the temporary tables of products bought and pairs; returns the products.

    ``rec_items``: each product in a paid order, numbered, with ``n`` (orders holding it).
    ``rec_pairs``: each pair (a < b) bought together in at least ``min_support`` orders,
    with ``co``, that count; only products with ``n >= min_support`` can form one. Each
    pair is counted once, in one pass over the baskets.
    """
    drop_staging(connection)
    connection.execute(
        text(
            "CREATE TEMP TABLE rec_lines AS"
            " SELECT DISTINCT i.order_id, i.sku FROM order_items i"
            " JOIN orders o ON o.id = i.order_id"
            f" WHERE o.status IN ({quoted(tuple(PURCHASED))})"
        )
    )
    connection.execute(
        text(
            "CREATE TEMP TABLE rec_items AS"
            " SELECT (row_number() OVER (ORDER BY sku))::int AS item, sku, count(*)::int AS n"
            " FROM rec_lines GROUP BY sku"
        )
    )
    connection.execute(text("CREATE UNIQUE INDEX ON rec_items (item)"))
    connection.execute(
        text(
            "CREATE TEMP TABLE rec_baskets AS"
            " SELECT l.order_id, i.item FROM rec_lines l JOIN rec_items i USING (sku)"
            " WHERE i.n >= :min_support"
        ),
        {"min_support": min_support},
    )
    connection.execute(text("DROP TABLE rec_lines"))
    connection.execute(
        text(
            "CREATE TEMP TABLE rec_pairs AS"
            " SELECT a.item AS a, b.item AS b, count(*)::int AS co"
            " FROM rec_baskets a JOIN rec_baskets b ON b.order_id = a.order_id AND a.item < b.item"
            " GROUP BY a.item, b.item HAVING count(*) >= :min_support"
        ),
        {"min_support": min_support},
    )
    connection.execute(text("DROP TABLE rec_baskets"))
    connection.execute(text("CREATE INDEX ON rec_pairs (a)"))
    connection.execute(text("CREATE INDEX ON rec_pairs (b)"))
    connection.execute(text("ANALYZE rec_items"))
    connection.execute(text("ANALYZE rec_pairs"))
    return int(connection.scalar(text("SELECT count(*) FROM rec_items")) or 0)


def drop_staging(connection: Connection) -> None:
    """Drop the temporary tables (the connection goes back to a pool afterwards)."""
    for table in ("rec_lines", "rec_baskets", "rec_pairs", "rec_items"):
        connection.execute(text(f"DROP TABLE IF EXISTS {table}"))


def write_sales(connection: Connection, *, built_at: dt.datetime) -> int:
    """Replace ``product_sales`` (orders per product) in the caller's transaction."""
    connection.execute(text("DELETE FROM product_sales"))
    return connection.execute(
        text(
            "INSERT INTO product_sales (sku, orders, built_at)"
            " SELECT i.sku, i.n, :built_at FROM rec_items i"
            " JOIN products p ON p.sku = i.sku"
        ),
        {"built_at": built_at},
    ).rowcount


def anchor_batches(products: int, *, batch_size: int) -> Iterator[tuple[int, int]]:
    """Ranges (first, last) of the ``products`` staged, ``batch_size`` products each."""
    for first in range(1, products + 1, batch_size):
        yield first, min(first + batch_size - 1, products)


_REPLACE = text(
    "DELETE FROM product_neighbours n USING rec_items i"
    " WHERE n.sku = i.sku AND i.item BETWEEN :first AND :last"
)
_INSERT = text(
    "WITH pairs AS ("
    "  SELECT a, b, co FROM rec_pairs WHERE a BETWEEN :first AND :last"
    "  UNION ALL"
    "  SELECT b, a, co FROM rec_pairs WHERE b BETWEEN :first AND :last"
    "), scored AS ("
    "  SELECT ia.sku AS sku, ib.sku AS neighbour_sku, p.co,"
    "    p.co / sqrt(ia.n::float8 * ib.n) AS score"
    "  FROM pairs p JOIN rec_items ia ON ia.item = p.a JOIN rec_items ib ON ib.item = p.b"
    "), ranked AS ("
    "  SELECT *, row_number() OVER ("
    "    PARTITION BY sku ORDER BY score DESC, co DESC, neighbour_sku) AS rank"
    "  FROM scored"
    ")"
    " INSERT INTO product_neighbours (sku, neighbour_sku, rank, score, co_purchases, built_at)"
    " SELECT sku, neighbour_sku, rank, score, co, :built_at FROM ranked WHERE rank <= :top_n"
).bindparams(bindparam("built_at"))


def build_batch(
    connection: Connection,
    *,
    first: int,
    last: int,
    settings: BuildSettings,
    built_at: dt.datetime,
) -> int:
    """Replace the neighbours of products ``first..last`` in the caller's transaction."""
    connection.execute(_REPLACE, {"first": first, "last": last})
    return connection.execute(
        _INSERT,
        {
            "first": first,
            "last": last,
            "top_n": settings.top_n,
            "built_at": built_at,
        },
    ).rowcount


def drop_stale(connection: Connection, *, built_at: dt.datetime) -> int:
    """Delete neighbours this run did not write (products no longer bought together),
    and refresh the planner's statistics of the rewritten tables for the lookups."""
    dropped = connection.execute(
        text("DELETE FROM product_neighbours WHERE built_at < :built_at"), {"built_at": built_at}
    ).rowcount
    connection.execute(text("ANALYZE product_neighbours, product_sales"))
    return dropped


def anchor_count(connection: Connection) -> int:
    """Products that have neighbours now."""
    return connection.scalar(text("SELECT count(DISTINCT sku) FROM product_neighbours")) or 0
