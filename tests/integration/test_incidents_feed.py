"""The change feed: a follower sees every change exactly once, in id order, under concurrent writers and from behind;
and however many consoles follow it, a process holds one database connection for the feed, not one each."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from websockets.asyncio.client import connect

from homecare.backend.detection.signals import Cause, Signal
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.feed import ChangeHub
from homecare.backend.incidents.models import Change
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.contracts.messages import Priority
from tests.support.backend import AUTH, start_backend
from tests.support.waiting import eventually

WRITERS = 8
ROUNDS = 5
CONSOLES = 40


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[ChangeHub]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False) as pool:
        running = ChangeHub(database_url, pool, idle_check_s=0.5)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


async def add_residents(db: psycopg.AsyncConnection[Any], count: int) -> list[int]:
    ids = []
    for n in range(count):
        row = await (
            await db.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (f"r{n}",))
        ).fetchone()
        assert row is not None
        ids.append(row[0])
    return ids


async def press(database_url: str, resident_id: int, rounds: int) -> None:
    """SOS presses of one resident, each with an operator's note: two changes a round."""
    escalation = Escalation(policies=load_policies())
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for round_ in range(rounds):
            now = datetime.now(UTC)
            signal = Signal(
                resident_id=resident_id,
                cause=Cause.SOS,
                priority=Priority.CRITICAL,
                explanation_en=f"press {round_}",
                explanation_zh="按键",
                detected_at=now,
            )
            applied = await incidents.apply_signal(conn, signal=signal, now=now, escalation=escalation)
            assert applied.incident_id is not None
            await incidents.add_note(conn, incident_id=applied.incident_id, actor="op", note="n", now=now)


async def change_ids(db: psycopg.AsyncConnection[Any]) -> list[int]:
    return [row[0] for row in await (await db.execute("SELECT id FROM incident_changes ORDER BY id")).fetchall()]


@contextlib.asynccontextmanager
async def following(hub: ChangeHub, after: int) -> AsyncIterator[list[Change]]:
    seen: list[Change] = []

    async def follow() -> None:
        async for change in hub.follow(after=after):
            seen.append(change)

    follower = asyncio.create_task(follow())
    try:
        yield seen
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower


async def test_concurrent_writers_leave_no_gap_for_a_follower(
    database_url: str, db: psycopg.AsyncConnection[Any], hub: ChangeHub
) -> None:
    residents = await add_residents(db, WRITERS)
    expected = WRITERS * ROUNDS * 2
    async with following(hub, after=0) as seen:
        await asyncio.gather(*(press(database_url, r, ROUNDS) for r in residents))

        async def all_seen() -> bool:
            return len(seen) >= expected

        await eventually(all_seen)
    assert [c.id for c in seen] == await change_ids(db)
    assert len(seen) == expected
    counts = await (await db.execute("SELECT count(*), sum(repeat_count) FROM incidents")).fetchone()
    assert counts == (WRITERS, WRITERS * ROUNDS)  # one incident per resident and cause; repeats folded in


async def test_a_follower_from_before_the_hub_started_replays_the_table_then_goes_on_live(
    database_url: str, db: psycopg.AsyncConnection[Any]
) -> None:
    """A console reconnecting with an old cursor: the changes before the process started come from the table."""
    first, second = await add_residents(db, 2)
    await press(database_url, first, 3)
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False) as pool:
        late = ChangeHub(database_url, pool, idle_check_s=0.5)
        await late.start()
        try:
            async with following(late, after=2) as seen:
                await press(database_url, second, 2)

                async def caught_up() -> bool:
                    return len(seen) >= 8  # changes 3–6 from the table, then four live

                await eventually(caught_up)
        finally:
            await late.stop()
    assert [c.id for c in seen] == [i for i in await change_ids(db) if i > 2]


async def test_forty_consoles_share_one_database_connection_and_all_see_a_new_alarm(
    database_url: str, db: psycopg.AsyncConnection[Any]
) -> None:
    (resident,) = await add_residents(db, 1)
    backend = await start_backend(database_url)
    try:

        async def connections() -> int:
            row = await (
                await db.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).fetchone()
            assert row is not None
            return int(row[0])

        before = await connections()
        feed = f"{backend.ws_url}/api/incidents/feed?after=0"
        async with contextlib.AsyncExitStack() as stack:
            consoles = [
                await stack.enter_async_context(connect(feed, additional_headers=AUTH)) for _ in range(CONSOLES)
            ]
            await press(database_url, resident, 1)
            received = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 10) for ws in consoles))
            assert {json.loads(message)["change"] for message in received} == {"opened"}
            assert len({json.loads(message)["id"] for message in received}) == 1  # the same change, to every one
            # The pipeline and the pool may open a few as the alarm comes in; a connection per console would be 40.
            assert await connections() < before + CONSOLES // 4
    finally:
        await backend.stop()
