"""One-value queries on the test database, for checks on what the platform stored."""

from __future__ import annotations

from typing import Any

import psycopg


async def scalar(database_url: str, query: str, *params: object) -> Any:
    """The first column of the query's first row, or None without a row."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        row = await (await conn.execute(query, params)).fetchone()
        return None if row is None else row[0]
