"""The live feed: incident changes after a cursor, replayed from the table and then followed via LISTEN."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Final

import psycopg

from homecare.backend.incidents import repository as repo
from homecare.backend.incidents.models import Change

CHANNEL: Final = "homecare_incident_changes"
PAGE: Final = 500


async def follow_changes(dsn: str, *, after: int, idle_check_s: float = 5.0) -> AsyncGenerator[Change]:
    """Every change with id > ``after``, in id order, forever.

    LISTEN starts before the replay, so a change committed during the replay is not missed; each wake-up
    re-reads the table after the last id sent rather than trusting notification payloads, so the stream
    has no gaps and no duplicates (ids commit in order: see ``repository.lock_incident_writes``). A
    periodic re-read covers a notification lost with a dropped connection.
    """
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        last = after
        while True:
            while True:
                page = await repo.changes_after(conn, after=last, limit=PAGE)
                for change in page:
                    yield change
                    last = change.id
                if len(page) < PAGE:
                    break
            async for _ in conn.notifies(timeout=idle_check_s, stop_after=1):
                pass
