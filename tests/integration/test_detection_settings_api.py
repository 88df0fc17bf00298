"""Per-resident detector settings through the administration API: read with the defaults beside them, validated
overrides stored and reset, roles and the access log, and a detector that behaves differently at its next run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from homecare.backend.alarms.pipeline import AlarmPipeline, ManualClock
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.contracts.messages import Metric
from homecare.storage.migrate import StorageMode, read_storage_mode
from tests.support.world import Login, World

Db = psycopg.AsyncConnection[Any]
SCALE_2 = {"vitals": {"spo2_low": 83, "spo2_moderate": 85}}
T0 = datetime(2026, 3, 10, 7, 50, tzinfo=UTC)


def path(world: World, index: int = 0) -> str:
    return f"/api/admin/residents/{world.resident_ids[index]}/detection"


def problems(response: Any) -> dict[str, str]:
    """Field path → message of a 422 (FastAPI's validation shape)."""
    assert response.status_code == 422, response.text
    return {".".join(str(part) for part in item["loc"]): item["msg"] for item in response.json()["detail"]}


async def test_an_admin_reads_the_defaults_puts_a_resident_on_scale_2_and_resets_them_all_logged(
    login: Login, world: World, db: Db
) -> None:
    admin = await login("admin")
    rid = world.resident_ids[0]
    first = (await admin.get(path(world))).json()
    assert first["overrides"] == {}
    assert first["updated_by"] is None
    assert first["effective"] == first["defaults"]
    assert (first["defaults"]["vitals"]["spo2_low"], first["defaults"]["falls"]["recovery_window_s"]) == (91, 45)

    body = {**SCALE_2, "falls": {"recovery_window_s": 90}, "activity": {"no_activity_hours": 12}}
    saved = await admin.put(path(world), json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["overrides"] == body
    read = (await admin.get(path(world))).json()
    assert read["overrides"] == body
    assert read["updated_by"] == "admin"
    assert (read["effective"]["vitals"]["spo2_low"], read["effective"]["vitals"]["spo2_moderate"]) == (83, 85)
    assert read["effective"]["vitals"]["pulse_high"] == read["defaults"]["vitals"]["pulse_high"] == 131
    assert read["effective"]["falls"]["recovery_window_s"] == 90
    assert read["defaults"]["vitals"]["spo2_low"] == 91
    row = await (
        await db.execute("SELECT overrides, updated_by FROM detection_settings WHERE resident_id = %s", (rid,))
    ).fetchone()
    assert row == (body, "admin")

    reset = (await admin.put(path(world), json={})).json()
    assert reset["overrides"] == {}
    assert reset["effective"] == reset["defaults"]
    assert reset["updated_by"] == "admin"

    logged = await (
        await db.execute(
            "SELECT action, detail FROM access_log WHERE resident_id = %s AND actor = 'admin' "
            "AND action LIKE 'admin.detection.%%' ORDER BY id",
            (rid,),
        )
    ).fetchall()
    assert [action for action, _ in logged] == [
        "admin.detection.read",
        "admin.detection.update",
        "admin.detection.read",
        "admin.detection.update",
    ]
    assert logged[1][1] == {"overrides": body}


async def test_bad_overrides_are_refused_with_the_field_at_fault_and_nothing_is_stored(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    assert (await admin.put(path(world), json=SCALE_2)).status_code == 200

    assert problems(await admin.put(path(world), json={"falls": {"recovery_window_s": 900}})) == {
        "body.falls.recovery_window_s": "Input should be less than or equal to 300"
    }
    assert "body.vitals.spo2_lowest" in problems(
        await admin.put(path(world), json={"vitals": {"spo2_low": 80, "spo2_lowest": 75}})
    )
    assert "body.vitals.spo2_low" in problems(await admin.put(path(world), json={"vitals": {"spo2_low": "low"}}))
    assert "body.alarms" in problems(await admin.put(path(world), json={"alarms": {}}))
    assert problems(await admin.put(path(world), json={"vitals": {"spo2_low": 500}})) == {
        "body.vitals.spo2_low": "Input should be less than or equal to 100"
    }
    assert problems(await admin.put(path(world), json={"vitals": {"pulse_low": 120}})) == {
        "body.vitals": "Value error, pulse_low (120) must not be above pulse_raised (111)"
    }
    assert "body.priorities.sneezing.[key]" in problems(
        await admin.put(path(world), json={"priorities": {"sneezing": 2}})
    )
    assert problems(await admin.put(path(world), json={"baseline": {"history_days": 10, "min_days": 14}})) == {
        "body": "Value error, baseline.min_days exceeds baseline.history_days"
    }

    assert (await admin.get(path(world))).json()["overrides"] == SCALE_2


async def test_only_admins_change_settings_managers_read_them_and_nobody_else_sees_them(
    login: Login, world: World, db: Db
) -> None:
    supervisor, operator, family = await login("supervisor"), await login("operator"), await login("family")
    assert (await supervisor.get(path(world))).status_code == 200
    for client in (supervisor, operator, family):
        assert (await client.put(path(world), json=SCALE_2)).status_code == 403
    # Family and operators never reach the resident at all: the role is refused before anything is looked up,
    # for the relative the family member follows as for anyone else.
    for client in (operator, family):
        assert (await client.get(path(world, 0))).status_code == 403
        assert (await client.get(path(world, 1))).status_code == 403
    admin = await login("admin")
    assert (await admin.get("/api/admin/residents/999999/detection")).status_code == 404
    assert (await admin.put("/api/admin/residents/999999/detection", json=SCALE_2)).status_code == 404
    assert await (await db.execute("SELECT count(*) FROM detection_settings")).fetchone() == (0,)


async def _wristband(db: Db, rid: int) -> int:
    row = await (
        await db.execute(
            "SELECT id FROM devices WHERE resident_id = %s AND kind = 'wristband' "
            "AND revoked_at IS NULL ORDER BY id LIMIT 1",
            (rid,),
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def _spo2(db: Db, rid: int, start: datetime, values: Sequence[float]) -> None:
    """One SpO2 reading every 30 s from ``start`` from the resident's wristband (a day partition made if needed)."""
    if await read_storage_mode(db) is StorageMode.PLAIN:
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        await db.execute(
            f"CREATE TABLE IF NOT EXISTS telemetry_p{day:%Y%m%d} PARTITION OF telemetry "
            f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
        )
    device = await _wristband(db, rid)
    async with db.cursor() as cur:
        await cur.executemany(
            "INSERT INTO telemetry (ts, device_id, resident_id, metric, value, seq) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (start + timedelta(seconds=30 * i), device, rid, int(Metric.SPO2), v, int(start.timestamp()) + i)
                for i, v in enumerate(values)
            ],
        )


async def _spo2_incidents(db: Db) -> set[int]:
    cursor = await db.execute("SELECT resident_id FROM incidents WHERE cause = 'vitals_spo2' AND status = 'open'")
    return {rid for (rid,) in await cursor.fetchall()}


async def test_scale_2_set_through_the_api_keeps_88_percent_from_raising_an_incident_from_the_next_run_on(
    login: Login, world: World, db: Db, database_url: str
) -> None:
    admin = await login("admin")
    usual, copd = world.resident_ids[2], world.resident_ids[3]
    pipeline = AlarmPipeline(
        dsn=database_url,
        escalation=Escalation(policies=load_policies()),
        clock=ManualClock(T0),
        periodic=run_periodic_detectors,
    )
    config = pipeline.config
    # One pipeline for the whole test, as a running backend has: settings changed in between are still seen.
    assert (await admin.put(path(world, 3), json=SCALE_2)).status_code == 200
    for rid in (usual, copd):
        await _spo2(db, rid, T0, [88] * 11)  # 5 minutes at 88 %: the ≤ 91 % band holds for 2 minutes on scale 1
    await pipeline.run_periodic_if_due(db, now=T0 + timedelta(minutes=5))
    assert await _spo2_incidents(db) == {usual}

    assert (await admin.put(path(world, 3), json={})).status_code == 200
    later = T0 + timedelta(minutes=5, seconds=config.periodic_every_s)
    for rid in (usual, copd):
        await _spo2(db, rid, T0 + timedelta(minutes=5, seconds=30), [88] * int(config.periodic_every_s // 30))
    await pipeline.run_periodic_if_due(db, now=later)
    assert await _spo2_incidents(db) == {usual, copd}
