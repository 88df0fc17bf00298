"""After a dispatch, the record states only what happened: a dispatch nobody accepted heads the queue again, the
family hears of help only once someone said yes, a notification nobody received is a problem, and the emergency
services are a dispatch target with the answer the operator recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from homecare.backend.alarms.escalation import fire_due_timers
from homecare.backend.detection.signals import Cause, Signal
from homecare.backend.dispatch import service as dispatch
from homecare.backend.family import service as family
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.models import Status
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.backend.notifications.service import notify_incident
from homecare.contracts.messages import Priority
from tests.support.backend import SERVICE

Db = psycopg.AsyncConnection[Any]
NIGHT = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 23:00 in Asia/Shanghai
ESCALATION = Escalation(policies=load_policies(), notify=notify_incident)


async def home_with_one_station(db: Db, *, on_call: bool) -> tuple[int, int]:
    """A day station (08:00–20:00) and a resident of it; with ``on_call``, one responder of it on its roster."""
    station = await (
        await db.execute(
            "INSERT INTO stations (code, name, address, lat, lon) VALUES ('S', '东门站', 'addr', 31.231, 121.47) "
            "RETURNING id"
        )
    ).fetchone()
    assert station is not None
    if on_call:
        await db.execute(
            "INSERT INTO users (username, display_name, role, password_hash, station_id, on_duty) "
            "VALUES ('night', '夜班', 'responder', 'x', %s, true)",
            (station[0],),
        )
    resident = await (
        await db.execute(
            "INSERT INTO residents (display_name, lat, lon, station_id) VALUES ('周奶奶', 31.23, 121.47, %s) "
            "RETURNING id",
            (station[0],),
        )
    ).fetchone()
    assert resident is not None
    return int(resident[0]), int(station[0])


async def fall_at(db: Db, resident_id: int, now: datetime) -> int:
    signal = Signal(
        resident_id=resident_id,
        cause=Cause.FALL_CONFIRMED,
        priority=Priority.CRITICAL,
        explanation_en="fall",
        explanation_zh="跌倒",
        detected_at=now,
    )
    applied = await incidents.apply_signal(db, signal=signal, now=now, escalation=ESCALATION)
    assert applied.incident_id is not None
    return applied.incident_id


def steps(detail: Any, change: str) -> list[dict[str, Any]]:
    return [t.detail for t in detail.transitions if (t.detail or {}).get("change") == change]


async def test_a_dispatch_nobody_accepts_heads_the_queue_again_and_is_never_help(db: Db) -> None:
    resident, _ = await home_with_one_station(db, on_call=True)
    earlier = await fall_at(db, await db_resident(db, "早先的"), NIGHT - timedelta(minutes=5))
    incident = await fall_at(db, resident, NIGHT)
    # Out of hours, the station with a responder on call takes it.
    [suggestion] = await dispatch.suggest_stations(db, incident_id=incident, now=NIGHT)
    assert (suggestion.available, suggestion.why["code"]) == (True, "on_call")
    await dispatch.dispatch(db, incident_id=incident, actor="op", now=NIGHT, escalation=ESCALATION)
    status = await family.status(db, actor=SERVICE, resident_id=resident, now=NIGHT)
    assert status.state == "needs_attention"  # asked is not coming: no "help is on the way" before a yes

    # Nobody accepts in the 180 s window and there is no other station: nobody is on the way, and it says so.
    assert await fire_due_timers(db, now=NIGHT + timedelta(seconds=181), escalation=ESCALATION) >= 1
    after = await incidents.get_incident(db, incident_id=incident)
    assert (after.status, after.attention, after.station_id) == (Status.ACKNOWLEDGED, "dispatch_failed", None)
    assert [i.id for i in await incidents.open_queue(db)][:2] == [incident, earlier]
    detail = await incidents.incident_detail(db, incident_id=incident, actor=SERVICE)
    [timed_out] = steps(detail, "task_timed_out")
    assert timed_out["why"] == {"code": "not_accepted", "params": {"station": "东门站", "seconds": 180}}
    [failed] = steps(detail, "no_station")
    assert failed["why"] == {"code": "no_station", "params": {"asked": 1}}
    assert failed["notified"] == {"supervisor": 0}  # no supervisor subscribed: a problem, never "alerted"
    assert not steps(detail, "notified")  # the family was told nothing, and the trail does not say otherwise
    assert (await family.status(db, actor=SERVICE, resident_id=resident, now=NIGHT)).state == "needs_attention"
    [history] = await family.incidents(db, actor=SERVICE, resident_id=resident)
    assert (history.station_name, history.emergency_service) == (None, None)

    [again] = await dispatch.suggest_stations(db, incident_id=incident, now=NIGHT + timedelta(seconds=190))
    assert (again.available, again.why["code"]) == (False, "did_not_accept")  # never suggested again for it

    # The operator names the station again (it called back); it accepts: only now is help on the way.
    task = await dispatch.dispatch(
        db,
        incident_id=incident,
        actor="op",
        now=NIGHT + timedelta(seconds=200),
        escalation=ESCALATION,
        station_id=again.station_id,
    )
    assert (await incidents.get_incident(db, incident_id=incident)).attention is None
    await dispatch.move_task(
        db,
        task_id=task.id,
        to="accepted",
        actor="night",
        now=NIGHT + timedelta(seconds=210),
        escalation=ESCALATION,
        note=None,
    )
    status = await family.status(db, actor=SERVICE, resident_id=resident, now=NIGHT + timedelta(seconds=210))
    assert (status.state, status.reasons[0].code) == ("help_on_the_way", "help_on_the_way")
    [history] = await family.incidents(db, actor=SERVICE, resident_id=resident)
    assert history.station_name == "东门站"


async def db_resident(db: Db, name: str) -> int:
    row = await (await db.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (name,))).fetchone()
    assert row is not None
    return int(row[0])


async def test_closed_with_nobody_on_call_there_is_still_a_route_the_emergency_services(db: Db) -> None:
    resident, _ = await home_with_one_station(db, on_call=False)
    incident = await fall_at(db, resident, NIGHT)
    [suggestion] = await dispatch.suggest_stations(db, incident_id=incident, now=NIGHT)
    assert (suggestion.available, suggestion.why) == (
        False,
        {"code": "closed", "params": {"opens": "08:00", "closes": "20:00"}},
    )
    options = await dispatch.emergency_options(db, incident_id=incident)
    assert [(o.service, o.number, o.by_cause) for o in options] == [
        ("medical", "120", True),
        ("police", "110", False),
        ("fire", "119", False),
    ]

    # 120 does not answer: recorded, and nobody is on the way.
    after = await dispatch.call_emergency_services(
        db, incident_id=incident, actor="op", now=NIGHT, escalation=ESCALATION, answer="no_answer"
    )
    assert (after.status, after.attention, after.acknowledged_by) == (Status.ACKNOWLEDGED, "dispatch_failed", "op")
    assert (await family.status(db, actor=SERVICE, resident_id=resident, now=NIGHT)).state == "needs_attention"

    # Called again, they send an ambulance: help is on the way, the family is told (here: nobody to tell).
    later = NIGHT + timedelta(minutes=1)
    after = await dispatch.call_emergency_services(
        db, incident_id=incident, actor="op", now=later, escalation=ESCALATION, answer="sent", note="车牌 沪A12345"
    )
    assert (after.status, after.attention, after.dispatched_at) == (Status.DISPATCHED, None, later)
    status = await family.status(db, actor=SERVICE, resident_id=resident, now=later)
    assert (status.state, status.reasons[0].code, status.reasons[0].service) == (
        "help_on_the_way",
        "emergency_on_the_way",
        "medical",
    )
    detail = await incidents.incident_detail(db, incident_id=incident, actor=SERVICE)
    calls = [t for t in detail.transitions if (t.detail or {}).get("change") == "emergency_services"]
    assert [(t.detail or {})["why"]["code"] for t in calls] == ["emergency_no_answer", "emergency_sent"]
    assert calls[1].reason == "车牌 沪A12345"
    nobody = steps(detail, "not_notified")  # at the alarm and at the ambulance: no family contact to tell
    assert [n["step"] for n in nobody] == ["alarm", "emergency_services"]
    assert nobody[1]["why"] == {"code": "nobody_told", "params": {"audience": "family", "n": 0}}
    [history] = await family.incidents(db, actor=SERVICE, resident_id=resident)
    assert history.emergency_service == "medical"


async def test_the_family_is_told_only_when_someone_receives_it(db: Db) -> None:
    resident, _ = await home_with_one_station(db, on_call=True)
    first = await fall_at(db, resident, NIGHT)  # the policy tells the family of an alarm: nobody to tell yet
    await db.execute(
        "INSERT INTO resident_contacts (resident_id, call_order, name, relation, email) "
        "VALUES (%s, 1, '周红', 'daughter', 'hong@example.org')",
        (resident,),
    )
    told = await incidents.tell_family_now(db, incident_id=first, actor="op", now=NIGHT, escalation=ESCALATION)
    detail = await incidents.incident_detail(db, incident_id=told.id, actor=SERVICE)
    assert [(t.detail or {}).get("change") for t in detail.transitions] == [
        "opened",
        "not_notified",
        "family_notified",
    ]
    assert detail.transitions[1].actor == "system"
    assert detail.transitions[2].detail is not None
    assert detail.transitions[2].detail["why"] == {"code": "told", "params": {"audience": "family", "n": 1}}
    assert all(t.reason is None for t in detail.transitions)  # nothing written in one language
