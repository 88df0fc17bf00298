"""The incident lifecycle at the service level: the recovery window's edges, invalid steps, the queue's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from homecare.backend.alarms.escalation import fire_due_timers
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.backend.incidents import InvalidTransition
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.models import Outcome, Status
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.contracts.messages import Priority
from tests.support.backend import SERVICE

Db = psycopg.AsyncConnection[Any]
T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


async def resident(db: Db, name: str = "Chen") -> int:
    row = await (await db.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (name,))).fetchone()
    assert row is not None
    return int(row[0])


def fall(resident_id: int, kind: SignalKind = SignalKind.PRE_ALARM, priority: Priority = Priority.CRITICAL) -> Signal:
    return Signal(
        resident_id=resident_id,
        cause=Cause.FALL,
        kind=kind,
        priority=priority,
        explanation_en="fall",
        explanation_zh="跌倒",
        detected_at=T0,
        recovery_window_s=45,
    )


async def test_im_ok_after_the_window_leaves_the_alarm_standing(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    rid = await resident(db)
    opened = await incidents.apply_signal(db, signal=fall(rid), now=T0, escalation=escalation)
    assert opened.incident_id is not None
    # The backend was down: the "I'm OK" arrived 50 s after the fall and is processed before the timer fired.
    late = await incidents.apply_signal(
        db, signal=fall(rid, SignalKind.CANCEL), now=T0 + timedelta(seconds=50), escalation=escalation
    )
    assert late.change == "noted"
    incident = await incidents.get_incident(db, incident_id=opened.incident_id)
    assert incident.status is Status.OPEN
    assert incident.alarm_at == T0 + timedelta(seconds=45)
    assert await fire_due_timers(db, now=T0 + timedelta(seconds=60), escalation=escalation) == 1  # the stale countdown
    assert (await incidents.get_incident(db, incident_id=opened.incident_id)).escalation_level == 0
    assert await fire_due_timers(db, now=T0 + timedelta(seconds=106), escalation=escalation) == 1  # ack overdue
    assert (await incidents.get_incident(db, incident_id=opened.incident_id)).escalation_level == 1


async def test_invalid_steps_are_refused_and_leave_no_trace(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    rid = await resident(db)
    applied = await incidents.apply_signal(db, signal=fall(rid, SignalKind.ALARM), now=T0, escalation=escalation)
    assert applied.incident_id is not None
    iid = applied.incident_id
    with pytest.raises(InvalidTransition, match="use cancel"):
        await incidents.resolve(
            db, incident_id=iid, actor="op", outcome=Outcome.CANCELLED_BY_RESIDENT, now=T0, escalation=escalation
        )
    await incidents.resolve(db, incident_id=iid, actor="op", outcome=Outcome.FALSE_ALARM, now=T0, escalation=escalation)
    before = len((await incidents.incident_detail(db, incident_id=iid, actor=SERVICE)).transitions)
    for action in (incidents.acknowledge, incidents.start_call):
        with pytest.raises(InvalidTransition, match="it is resolved"):
            await action(db, incident_id=iid, actor="op", now=T0)
    with pytest.raises(InvalidTransition):
        await incidents.cancel(db, incident_id=iid, actor="op", now=T0, escalation=escalation)
    assert len((await incidents.incident_detail(db, incident_id=iid, actor=SERVICE)).transitions) == before
    # A new fall after the close is a new incident, not a fold into the closed one.
    again = await incidents.apply_signal(db, signal=fall(rid, SignalKind.ALARM), now=T0, escalation=escalation)
    assert (again.change, again.incident_id != iid) == ("opened", True)


async def test_queue_is_priority_then_age_and_a_more_urgent_repeat_raises_priority(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    a, b, c = await resident(db, "a"), await resident(db, "b"), await resident(db, "c")
    await incidents.apply_signal(db, signal=fall(a, SignalKind.ALARM, Priority.HIGH), now=T0, escalation=escalation)
    await incidents.apply_signal(
        db, signal=fall(b, SignalKind.ALARM, Priority.CRITICAL), now=T0 + timedelta(seconds=5), escalation=escalation
    )
    await incidents.apply_signal(
        db, signal=fall(c, SignalKind.ALARM, Priority.HIGH), now=T0 - timedelta(seconds=5), escalation=escalation
    )
    assert [i.resident_id for i in await incidents.open_queue(db)] == [b, c, a]
    folded = await incidents.apply_signal(
        db, signal=fall(a, SignalKind.ALARM, Priority.CRITICAL), now=T0 + timedelta(seconds=9), escalation=escalation
    )
    assert folded.change == "folded"
    assert [i.resident_id for i in await incidents.open_queue(db)] == [a, b, c]


def radar_fall(resident_id: int) -> Signal:
    return Signal(
        resident_id=resident_id,
        cause=Cause.FALL_CONFIRMED,
        priority=Priority.CRITICAL,
        explanation_en="Fall detected by the fall sensor in the bathroom.",
        explanation_zh="跌倒传感器检测到跌倒（bathroom）。",
        detected_at=T0,
    )


async def test_one_fall_seen_by_the_wristband_and_the_radar_is_one_incident(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    for order in ((fall, radar_fall), (radar_fall, fall)):
        rid = await resident(db, f"Chen {order[0].__name__}")
        first = await incidents.apply_signal(db, signal=order[0](rid), now=T0, escalation=escalation)
        second = await incidents.apply_signal(
            db, signal=order[1](rid), now=T0 + timedelta(seconds=2), escalation=escalation
        )
        assert second.change == "folded"
        assert second.incident_id == first.incident_id
        rows = await (await db.execute("SELECT repeat_count FROM incidents WHERE resident_id = %s", (rid,))).fetchall()
        assert rows == [(2,)]


async def test_im_ok_reaches_a_wristband_fall_that_the_radar_also_saw(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    rid = await resident(db)
    opened = await incidents.apply_signal(db, signal=fall(rid), now=T0, escalation=escalation)
    await incidents.apply_signal(db, signal=radar_fall(rid), now=T0 + timedelta(seconds=2), escalation=escalation)
    ok = await incidents.apply_signal(
        db, signal=fall(rid, SignalKind.CANCEL), now=T0 + timedelta(seconds=20), escalation=escalation
    )
    assert (ok.incident_id, ok.change) == (opened.incident_id, "cancelled")


async def test_repeats_fold_into_one_trail_line_with_the_count_and_the_latest_value(db: Db) -> None:
    escalation = Escalation(policies=load_policies())
    rid = await resident(db)

    def spo2(value: int, priority: Priority = Priority.HIGH) -> Signal:
        return Signal(
            resident_id=rid,
            cause=Cause.VITALS_SPO2,
            priority=priority,
            explanation_en=f"SpO2 {value}%",
            explanation_zh=f"血氧 {value}%",
            detected_at=T0,
        )

    for n, value in enumerate([91, 90, 89, 90, 88, 87]):  # a reading every 30 s
        priority = Priority.CRITICAL if value == 87 else Priority.HIGH
        applied = await incidents.apply_signal(
            db, signal=spo2(value, priority), now=T0 + timedelta(seconds=30 * n), escalation=escalation
        )
    assert applied.incident_id is not None
    detail = await incidents.incident_detail(db, incident_id=applied.incident_id, actor=SERVICE)
    assert detail.incident.repeat_count == 6
    changes = [(t.detail or {}).get("change") for t in detail.transitions]
    assert changes.count("folded") == 1  # not five "repeat N" lines
    assert changes.count("reprioritised") == 1  # the more urgent last reading is a line of its own
    line = next(t.detail for t in detail.transitions if (t.detail or {}).get("change") == "folded")
    assert line is not None
    last = (T0 + timedelta(seconds=150)).isoformat()
    assert line["why"] == {"code": "repeats", "params": {"n": 5, "at": last, "zh": "血氧 87%", "en": "SpO2 87%"}}
