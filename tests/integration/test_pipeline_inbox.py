"""The alarm pipeline takes every stored event, however late it commits behind larger ids (several gateways)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.types.json import Jsonb

from homecare.backend.alarms import pipeline as pipeline_module
from homecare.backend.alarms.pipeline import AlarmPipeline, ManualClock
from homecare.backend.incidents.policy import Escalation, load_policies
from tests.support.enrolment import enrol

INSERT_SOS = (
    "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority, dropped) "
    "VALUES (%s, %s, 1, now(), 'sos', 1, %s)"
)


async def test_an_alarm_that_commits_after_a_hundred_thousand_later_ids_still_opens_its_incident(
    database_url: str,
) -> None:
    first = await enrol(database_url, {"sos-late-01": "sos_pendant"}, name="Zhao Lan")
    second = await enrol(database_url, {"sos-late-02": "sos_pendant"}, name="Qian Mei")
    clock = ManualClock()
    pipeline = AlarmPipeline(dsn=database_url, escalation=Escalation(policies=load_policies()), clock=clock)
    async with (
        await psycopg.AsyncConnection.connect(database_url) as slow_gateway,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
    ):
        # One gateway has its alarm's id but has not committed yet...
        await slow_gateway.execute(INSERT_SOS, (first.devices["sos-late-01"], first.resident_id, None))
        # ...while the others store a hundred thousand more, and the pipeline applies the latest.
        await conn.execute("SELECT setval('events_id_seq', nextval('events_id_seq') + 100000)")
        await conn.execute(
            INSERT_SOS,
            (second.devices["sos-late-02"], second.resident_id, Jsonb({"room": "NUL"})),
        )
        assert await pipeline.process_all_events(conn, now=clock.now()) == 1
        await slow_gateway.commit()
        assert await pipeline.process_all_events(conn, now=clock.now()) == 1
        assert await pipeline.process_all_events(conn, now=datetime.now(UTC)) == 0

        rows = await (
            await conn.execute("SELECT resident_id, cause, explanation_en FROM incidents ORDER BY resident_id")
        ).fetchall()
    assert [(resident, cause) for resident, cause, _ in rows] == [
        (first.resident_id, "sos"),
        (second.resident_id, "sos"),
    ]
    # What the gateway left out of an alarm is in the operator's words for it.
    assert "left out: room" in rows[1][2]
    assert "left out" not in rows[0][2]


async def test_an_alarm_whose_incident_could_not_be_written_for_a_full_disk_opens_it_when_space_returns(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the database's DiskFull error was taken for a bad event, recorded as processed, and the stored,
    # acknowledged alarm never opened an incident (found by `python -m bench.drills --only database-disk-full`).
    household = await enrol(database_url, {"sos-disk-01": "sos_pendant"}, name="Sun Hui")
    clock = ManualClock()
    pipeline = AlarmPipeline(dsn=database_url, escalation=Escalation(policies=load_policies()), clock=clock)

    async def disk_full(*args: object, **kwargs: object) -> object:
        raise psycopg.errors.DiskFull('could not extend file "base/16384/16385": No space left on device')

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(INSERT_SOS, (household.devices["sos-disk-01"], household.resident_id, None))
        monkeypatch.setattr(pipeline_module.incidents, "apply_signal", disk_full)
        with pytest.raises(psycopg.errors.DiskFull):
            await pipeline.process_all_events(conn, now=clock.now())
        monkeypatch.undo()  # space again
        assert await pipeline.process_all_events(conn, now=clock.now()) == 1
        rows = await (
            await conn.execute("SELECT cause FROM incidents WHERE resident_id = %s", (household.resident_id,))
        ).fetchall()
    assert rows == [("sos",)]
