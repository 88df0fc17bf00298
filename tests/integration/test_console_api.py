"""The operator console's API against the real backend: the resident card and its access log, help is coming,
telling the family, the detector's trigger, the feed cursor and the map."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.backend.dispatch.routing import COVERAGE_MINUTES, DETOUR_FACTOR, URBAN_SPEED_KMH
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.contracts.messages import Priority
from tests.support.backend import Backend
from tests.support.world import World, signed_in

Db = psycopg.AsyncConnection[Any]


@pytest.fixture
async def world(world: World, database_url: str) -> World:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE stations SET opens = '00:00', closes = '00:00'")  # round the clock: any hour
    return world


async def sos(db: Db, resident_id: int, *, device_id: int | None = None, event_id: int | None = None) -> int:
    signal = Signal(
        resident_id=resident_id,
        cause=Cause.SOS,
        kind=SignalKind.ALARM,
        priority=Priority.CRITICAL,
        explanation_en="SOS button pressed (sos_pendant).",
        explanation_zh="按下了紧急呼叫按钮。",
        detected_at=datetime.now(UTC),
        device_id=device_id,
        event_id=event_id,
    )
    applied = await incidents.apply_signal(
        db, signal=signal, now=datetime.now(UTC), escalation=Escalation(policies=load_policies())
    )
    assert applied.incident_id is not None
    return int(applied.incident_id)


async def scalar(db: Db, query: str, *params: object) -> Any:
    row = await (await db.execute(query, params)).fetchone()
    assert row is not None
    return row[0]


async def test_the_card_shows_the_person_and_every_opening_is_logged(backend: Backend, world: World, db: Db) -> None:
    rid = world.resident_ids[0]
    await db.execute(
        "UPDATE residents SET allergies = '{青霉素,花生}', medications = '{阿司匹林 100mg}', conditions = '{高血压}', "
        "mobility = '助行器', language = '上海话', access_notes = '钥匙在邻居 302 室王阿姨家', consent_video = true "
        "WHERE id = %s",
        (rid,),
    )
    await db.execute(
        "INSERT INTO resident_contacts (resident_id, call_order, name, relation, phone) "
        "VALUES (%s, 9, '张伟', 'son', '13900000009')",
        (rid,),
    )
    incident_id = await sos(db, rid)
    async with signed_in(backend, world, "operator") as operator:
        response = await operator.get(f"/api/residents/{rid}")
        assert response.status_code == 200, response.text
        card = response.json()
        await operator.get(f"/api/residents/{rid}")

    record = world.enrolment.residents[0]
    assert card["name"] == record.name
    assert card["age"] == datetime.now(UTC).year - record.birth_year
    assert card["allergies"] == ["青霉素", "花生"]
    assert card["medications"] == ["阿司匹林 100mg"]
    assert (card["mobility"], card["language"], card["consent_video"]) == ("助行器", "上海话", True)
    assert card["access_notes"] == "钥匙在邻居 302 室王阿姨家"
    assert card["address"] == record.address
    assert [c["call_order"] for c in card["contacts"]] == sorted(c["call_order"] for c in card["contacts"])
    assert card["contacts"][-1]["name"] == "张伟"
    assert [c["phone"] for c in card["contacts"][:-1]] == [c.phone for c in record.contacts]
    station = next(s for s in world.enrolment.stations if s.code == record.station)
    assert (card["station"]["name"], card["station"]["phone"]) == (station.name, station.phone)
    assert sorted(d["kind"] for d in card["devices"]) == sorted(d.kind.value for d in record.devices)
    assert card["past_incidents"][0] | {"opened_at": None} == {
        "id": incident_id,
        "cause": "sos",
        "priority": 1,
        "status": "open",
        "outcome": None,
        "opened_at": None,
        "closed_at": None,
    }

    opened = await scalar(
        db,
        "SELECT count(*) FROM access_log WHERE resident_id = %s AND action = 'resident.card' "
        "AND actor = 'operator' AND user_id = %s",
        rid,
        world.user_ids["operator"],
    )
    assert opened == 2


async def test_opening_an_incident_is_an_opening_of_the_record_and_logged(
    backend: Backend, world: World, db: Db
) -> None:
    incident_id = await sos(db, world.resident_ids[3])
    async with signed_in(backend, world, "supervisor") as supervisor:
        assert (await supervisor.get(f"/api/incidents/{incident_id}")).status_code == 200
    row = await (
        await db.execute(
            "SELECT actor, action, detail->>'incident_id' FROM access_log WHERE resident_id = %s",
            (world.resident_ids[3],),
        )
    ).fetchall()
    assert row == [("supervisor", "incident.detail", str(incident_id))]


async def test_family_and_responders_cannot_open_the_card(backend: Backend, world: World, db: Db) -> None:
    before = await scalar(db, "SELECT count(*) FROM access_log WHERE action = 'resident.card'")
    for username, rid in (
        ("family", world.resident_ids[0]),
        ("family2", world.resident_ids[0]),
        ("responder", world.resident_ids[0]),
    ):
        async with signed_in(backend, world, username) as client:
            response = await client.get(f"/api/residents/{rid}")
        assert response.status_code in (403, 404), (username, response.status_code)
    async with signed_in(backend, world, "operator") as operator:
        assert (await operator.get("/api/residents/999999")).status_code == 404
    assert await scalar(db, "SELECT count(*) FROM access_log WHERE action = 'resident.card'") == before


async def test_help_is_coming_again_goes_to_the_home_unit_and_the_audit_trail(
    backend: Backend, world: World, db: Db
) -> None:
    rid = world.resident_ids[0]
    incident_id = await sos(db, rid)
    home_unit = await scalar(db, "SELECT id FROM devices WHERE resident_id = %s AND kind = 'home_unit'", rid)
    async with signed_in(backend, world, "operator") as operator:
        response = await operator.post(f"/api/incidents/{incident_id}/help-coming", json={})
        assert response.status_code == 200, response.text
        commands = await (
            await db.execute(
                "SELECT device_id, body FROM device_commands WHERE incident_id = %s ORDER BY id", (incident_id,)
            )
        ).fetchall()
        assert [(device, body["kind"], body["eta_min"]) for device, body in commands] == [
            (home_unit, "help_coming", None)
        ]

        # After dispatch the home is told once by dispatch; once more on request, now with the station's ETA.
        task = (await operator.post(f"/api/incidents/{incident_id}/dispatch", json={})).json()
        await operator.post(f"/api/incidents/{incident_id}/help-coming", json={})
        detail = (await operator.get(f"/api/incidents/{incident_id}")).json()
    etas = [
        body["eta_min"]
        for (body,) in await (
            await db.execute("SELECT body FROM device_commands WHERE incident_id = %s ORDER BY id", (incident_id,))
        ).fetchall()
    ]
    expected_eta = -(-task["travel_min"] // 1)
    assert etas == [None, expected_eta, expected_eta]
    told = [
        (t["actor"], t["detail"]["home_units"]) for t in detail["transitions"] if t["detail"]["change"] == "help_coming"
    ]
    assert told == [("operator", 1), ("system", 1), ("operator", 1)]


async def test_help_is_coming_is_refused_once_closed(backend: Backend, world: World, db: Db) -> None:
    incident_id = await sos(db, world.resident_ids[1])
    async with signed_in(backend, world, "operator") as operator:
        await operator.post(f"/api/incidents/{incident_id}/resolve", json={"outcome": "false_alarm"})
        response = await operator.post(f"/api/incidents/{incident_id}/help-coming", json={})
    assert response.status_code == 409
    assert await scalar(db, "SELECT count(*) FROM device_commands WHERE incident_id = %s", incident_id) == 0


async def test_the_operator_tells_the_family(backend: Backend, world: World, db: Db) -> None:
    rid = world.resident_ids[2]
    await db.execute(
        "UPDATE resident_contacts SET email = 'daughter@example.org' WHERE resident_id = %s AND call_order = 1", (rid,)
    )
    incident_id = await sos(db, rid)
    queued_by_policy = await scalar(
        db, "SELECT count(*) FROM notification_outbox WHERE incident_id = %s AND audience = 'family'", incident_id
    )
    async with signed_in(backend, world, "operator") as operator:
        response = await operator.post(f"/api/incidents/{incident_id}/notify-family", json={"note": "女儿请尽快回电"})
        assert response.status_code == 200, response.text
        detail = (await operator.get(f"/api/incidents/{incident_id}")).json()
    rows = await (
        await db.execute(
            "SELECT recipient, reason, body FROM notification_outbox WHERE incident_id = %s AND audience = 'family' "
            "ORDER BY id",
            (incident_id,),
        )
    ).fetchall()
    assert len(rows) == queued_by_policy + 1
    assert rows[-1][:2] == ("daughter@example.org", "女儿请尽快回电")
    assert "女儿请尽快回电" in rows[-1][2]
    step = detail["transitions"][-1]
    assert (step["actor"], step["detail"]["change"], step["detail"]["notified"], step["reason"]) == (
        "operator",
        "family_notified",
        {"family": 1},
        "女儿请尽快回电",
    )
    assert step["detail"]["why"] == {"code": "told", "params": {"audience": "family", "n": 1}}


async def test_the_detail_says_what_triggered_it(backend: Backend, world: World, db: Db) -> None:
    rid = world.resident_ids[0]
    pendant = await scalar(db, "SELECT id FROM devices WHERE resident_id = %s AND kind = 'sos_pendant'", rid)
    event_id = await scalar(
        db,
        "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority, room) "
        "VALUES (%s, %s, 1, now(), 'sos', 1, 'bedroom') RETURNING id",
        pendant,
        rid,
    )
    incident_id = await sos(db, rid, device_id=pendant, event_id=event_id)
    async with signed_in(backend, world, "operator") as operator:
        detail = (await operator.get(f"/api/incidents/{incident_id}")).json()
        cursor = (await operator.get("/api/incidents/changes/last")).json()
    trigger = detail["trigger"]
    assert (trigger["signal"], trigger["device_kind"], trigger["event_kind"], trigger["room"]) == (
        "alarm",
        "sos_pendant",
        "sos",
        "bedroom",
    )
    assert trigger["device_uid"] == next(
        d.uid for d in world.enrolment.residents[0].devices if d.kind.value == "sos_pendant"
    )
    assert detail["incident"]["explanation_zh"] == "按下了紧急呼叫按钮。"
    assert cursor["id"] == await scalar(db, "SELECT max(id) FROM incident_changes")


async def test_the_map_has_homes_stations_circles_and_open_incidents(backend: Backend, world: World, db: Db) -> None:
    rid = world.resident_ids[3]
    incident_id = await sos(db, rid)
    async with signed_in(backend, world, "operator") as operator:
        response = await operator.get("/api/map")
        assert response.status_code == 200, response.text
        view = response.json()
    assert view["coverage_min"] == COVERAGE_MINUTES
    assert view["radius_m"] == pytest.approx(COVERAGE_MINUTES / 60 * URBAN_SPEED_KMH / DETOUR_FACTOR * 1000, abs=0.1)
    assert len(view["homes"]) == len(world.resident_ids)
    home = next(h for h in view["homes"] if h["resident_id"] == rid)
    record = world.enrolment.residents[3]
    assert (home["lat"], home["lon"]) == (record.lat, record.lon)
    assert sorted(s["id"] for s in view["stations"]) == sorted(world.station_ids)
    assert all(s["capacity"] >= 0 and s["active_tasks"] == 0 for s in view["stations"])
    assert [(i["id"], i["resident_id"], i["priority"], i["status"]) for i in view["incidents"]] == [
        (incident_id, rid, 1, "open")
    ]
    async with signed_in(backend, world, "family") as family:
        assert (await family.get("/api/map")).status_code == 403
