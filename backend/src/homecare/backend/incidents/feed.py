"""The live feed: one LISTEN connection per process reads each incident change once and hands it to every follower."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any, Final

import psycopg
from psycopg_pool import AsyncConnectionPool

from homecare.backend.incidents import repository as repo
from homecare.backend.incidents.models import Change

CHANNEL: Final = "homecare_incident_changes"
PAGE: Final = 500
KEPT: Final = 5000
"""Recent changes held in memory (up to twice as many between trims): a follower further behind reads the table."""
RECONNECT_S: Final = 1.0

log = logging.getLogger(__name__)


class ChangeHub:
    """The process's one reader of ``incident_changes``: every open feed follows it, not a connection of its own.

    The hub LISTENs on a connection of its own and, on each notification (and every ``idle_check_s`` in case
    one was lost with a dropped connection), reads the table after the last id it holds; it keeps the latest
    ``KEPT`` changes and wakes the followers. It re-reads the table rather than trusting notification
    payloads, so the stream has no gaps and no duplicates (ids commit in order: see
    ``repository.lock_incident_writes``). A follower whose cursor is older than what the hub holds replays
    from the table through the pool, page by page, until it reaches the hub's changes.
    """

    def __init__(self, dsn: str, pool: AsyncConnectionPool[Any], *, idle_check_s: float = 5.0) -> None:
        self._dsn = dsn
        self._pool = pool
        self._idle_check_s = idle_check_s
        self._kept: list[Change] = []
        self._ids: list[int] = []
        self._base = 0  # every change with id > _base is in _kept
        self._changed = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin following the table; returns once the hub knows where the table ends."""
        self._task = asyncio.create_task(self._run(), name="incident-change-hub")
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._task.done():
            self._task.result()  # it failed before it was ready: say why

    async def stop(self) -> None:
        """Stop reading; open followers stay where they are (the server closes their sockets)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if not self._ready.is_set():
                        row = await (await conn.execute("SELECT coalesce(max(id), 0) FROM incident_changes")).fetchone()
                        assert row is not None
                        self._base = int(row[0])
                        self._ready.set()
                    while True:
                        await self._read(conn)
                        async for _ in conn.notifies(timeout=self._idle_check_s, stop_after=1):
                            pass
            except (psycopg.Error, OSError) as err:
                if not self._ready.is_set():
                    raise
                log.warning("incident feed lost its database connection (%s); reconnecting", err)
                await asyncio.sleep(RECONNECT_S)

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Take every change after the last held, then wake the followers."""
        while True:
            page = await repo.changes_after(conn, after=self._ids[-1] if self._ids else self._base, limit=PAGE)
            for change in page:
                self._kept.append(change)
                self._ids.append(change.id)
            if len(self._kept) > 2 * KEPT:
                self._base = self._ids[-KEPT - 1]
                del self._kept[:-KEPT], self._ids[:-KEPT]
            if page:
                self._changed.set()
                self._changed = asyncio.Event()
            if len(page) < PAGE:
                return

    def _held_after(self, after: int) -> list[Change] | None:
        """The held changes after ``after`` (None: ``after`` is older than what is held)."""
        if after < self._base:
            return None
        return self._kept[bisect.bisect_right(self._ids, after) :]

    async def follow(self, *, after: int) -> AsyncGenerator[Change]:
        """Every change with id > ``after``, in id order, forever."""
        last = after
        while True:
            changed = self._changed  # taken before reading: a change held meanwhile wakes the wait below
            held = self._held_after(last)
            if held is None:
                async with self._pool.connection() as conn:
                    page = await repo.changes_after(conn, after=last, limit=PAGE)
                for change in page:
                    yield change
                    last = change.id
                if not page:  # the table no longer holds them (retention): go on from what the hub holds
                    last = self._base
                continue
            for change in held:
                yield change
                last = change.id
            if not held:
                await changed.wait()
