"""Routing against a real database: the home station when it can go, otherwise the fastest to reach; coverage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from homecare.backend.detection.signals import Cause, Signal
from homecare.backend.dispatch import service as dispatch
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.contracts.messages import Priority
from tests.support.backend import SERVICE

Db = psycopg.AsyncConnection[Any]
NOON_SHANGHAI = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
NIGHT_SHANGHAI = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 23:00 in Asia/Shanghai


async def station(db: Db, code: str, lat: float, lon: float, **extra: Any) -> int:
    columns = ["code", "name", "address", "lat", "lon", *extra]
    values = [code, f"Station {code}", "addr", lat, lon, *extra.values()]
    row = await (
        await db.execute(
            f"INSERT INTO stations ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
            values,
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def resident(db: Db, name: str, lat: float, lon: float, station_id: int | None) -> int:
    row = await (
        await db.execute(
            "INSERT INTO residents (display_name, lat, lon, station_id) VALUES (%s, %s, %s, %s) RETURNING id",
            (name, lat, lon, station_id),
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def sos(db: Db, resident_id: int, now: datetime, escalation: Escalation) -> int:
    signal = Signal(
        resident_id=resident_id,
        cause=Cause.SOS,
        priority=Priority.CRITICAL,
        explanation_en="SOS",
        explanation_zh="SOS",
        detected_at=now,
    )
    applied = await incidents.apply_signal(db, signal=signal, now=now, escalation=escalation)
    assert applied.incident_id is not None
    return applied.incident_id


async def test_home_station_when_on_duty_with_capacity_else_the_nearest(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    # A line of stations north of the home: home station H is the farthest, N1 nearer than N2.
    home_station = await station(db, "H", 31.2600, 121.4700, capacity=1)
    near = await station(db, "N1", 31.2320, 121.4700)
    await station(db, "N2", 31.2400, 121.4700)
    await station(db, "OFF", 31.2302, 121.4700, on_duty=False)  # nearest of all, but switched off
    first = await resident(db, "Zhang", 31.2300, 121.4700, home_station)
    second = await resident(db, "Li", 31.2300, 121.4701, home_station)

    task = await dispatch.dispatch(
        db,
        incident_id=await sos(db, first, NOON_SHANGHAI, escalation),
        actor="op",
        now=NOON_SHANGHAI,
        escalation=escalation,
    )
    assert task.station_id == home_station  # on duty with capacity: the home's own station, although farther

    # H now has one active task = its capacity: the next incident goes to the nearest available, N1.
    incident = await sos(db, second, NOON_SHANGHAI, escalation)
    suggestions = await dispatch.suggest_stations(db, incident_id=incident, now=NOON_SHANGHAI)
    assert [(s.code, s.available) for s in suggestions] == [("N1", True), ("N2", True), ("H", False), ("OFF", False)]
    assert suggestions[2].why == {"code": "at_capacity", "params": {"active": 1, "capacity": 1}}
    task = await dispatch.dispatch(db, incident_id=incident, actor="op", now=NOON_SHANGHAI, escalation=escalation)
    assert task.station_id == near
    assert task.travel_min is not None
    assert 0 < task.travel_min < 2


async def test_outside_its_hours_the_home_station_is_passed_over(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    day_station = await station(db, "DAY", 31.2300, 121.4700)  # 08:00–20:00 by default
    all_night = await station(db, "24H", 31.2500, 121.4700, opens="00:00", closes="00:00")
    home = await resident(db, "Wang", 31.2300, 121.4700, day_station)
    incident = await sos(db, home, NIGHT_SHANGHAI, escalation)
    task = await dispatch.dispatch(db, incident_id=incident, actor="op", now=NIGHT_SHANGHAI, escalation=escalation)
    assert task.station_id == all_night
    suggestions = await dispatch.suggest_stations(db, incident_id=incident, now=NIGHT_SHANGHAI)
    closed = next(s.why for s in suggestions if s.station_id == day_station)
    assert closed == {"code": "closed", "params": {"opens": "08:00", "closes": "20:00"}}


async def test_coverage_report_lists_homes_beyond_fifteen_minutes(db: Db) -> None:
    # 15 min at 20 km/h with a 1.4 detour factor is 3.57 km in a straight line (0.0321° of latitude).
    centre = await station(db, "C", 31.0000, 121.0000)
    await resident(db, "inside", 31.0300, 121.0000, centre)  # 3.34 km: 14.0 min
    await resident(db, "outside", 31.0340, 121.0000, centre)  # 3.78 km: 15.9 min
    await resident(db, "far away", 32.0000, 121.0000, None)
    await db.execute("INSERT INTO residents (display_name) VALUES ('no address yet')")
    report = await dispatch.coverage_report(db)
    assert (report.residents_located, report.residents_unlocated, report.covered) == (3, 1, 1)
    assert [(h.display_name, h.nearest_station_id) for h in report.outside] == [
        ("outside", centre),
        ("far away", centre),
    ]
    assert report.outside[0].travel_min == 15.9
    assert report.share_covered == round(1 / 3, 4)


async def test_unreachable_resident_records_the_120_call_and_sends_the_station(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    home_station = await station(db, "H", 31.2310, 121.4700, opens="00:00", closes="00:00")
    home = await resident(db, "Zhou", 31.2300, 121.4700, home_station)
    incident = await sos(db, home, NOON_SHANGHAI, escalation)
    await incidents.start_call(db, incident_id=incident, actor="operator Li", now=NOON_SHANGHAI)
    after = await dispatch.resident_unreachable(
        db, incident_id=incident, actor="operator Li", now=NOON_SHANGHAI, escalation=escalation, note="no answer twice"
    )
    assert after.status.value == "dispatched"
    assert after.station_id == home_station
    detail = await incidents.incident_detail(db, incident_id=incident, actor=SERVICE)
    emergency = [t for t in detail.transitions if (t.detail or {}).get("change") == "emergency_services"]
    assert len(emergency) == 1
    assert emergency[0].actor == "operator Li"
    assert emergency[0].detail is not None
    assert emergency[0].detail["emergency_number"] == "120"
    assert [t.status for t in detail.tasks] == ["offered"]
    # Unreachable again later: the 120 call is recorded again, but no second station is sent.
    await dispatch.resident_unreachable(
        db, incident_id=incident, actor="operator Li", now=NOON_SHANGHAI, escalation=escalation
    )
    assert len((await incidents.incident_detail(db, incident_id=incident, actor=SERVICE)).tasks) == 1
