"""The change feed under concurrent writers: a follower sees every change exactly once, in id order."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import psycopg

from homecare.backend.detection.signals import Cause, Signal
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.feed import follow_changes
from homecare.backend.incidents.models import Change
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.contracts.messages import Priority
from tests.support.waiting import eventually

WRITERS = 8
ROUNDS = 5


async def test_concurrent_writers_leave_no_gap_for_a_follower(
    database_url: str, db: psycopg.AsyncConnection[Any]
) -> None:
    escalation = Escalation(policies=load_policies())
    residents = []
    for n in range(WRITERS):
        row = await (
            await db.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (f"r{n}",))
        ).fetchone()
        assert row is not None
        residents.append(row[0])
    seen: list[Change] = []

    async def follow() -> None:
        async for change in follow_changes(database_url, after=0, idle_check_s=0.5):
            seen.append(change)

    follower = asyncio.create_task(follow())

    async def writer(resident_id: int) -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            for round_ in range(ROUNDS):
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

    await asyncio.gather(*(writer(r) for r in residents))
    expected = WRITERS * ROUNDS * 2

    async def all_seen() -> bool:
        return len(seen) >= expected

    await eventually(all_seen)
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower
    rows = await (await db.execute("SELECT id FROM incident_changes ORDER BY id")).fetchall()
    assert [c.id for c in seen] == [r[0] for r in rows]
    assert len(rows) == expected
    counts = await (await db.execute("SELECT count(*), sum(repeat_count) FROM incidents")).fetchone()
    assert counts == (WRITERS, WRITERS * ROUNDS)  # one incident per resident and cause; repeats folded in
