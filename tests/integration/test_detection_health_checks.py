"""Home health-check alarms (hypertensive crisis, hypoglycaemia) raised once per reading and cleared through
run_periodic_detectors, with each resident's bands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pydantic
import pytest

from homecare.backend.detection.config import set_overrides
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.contracts.messages import Metric, Priority
from tests.support.telemetry import store_telemetry

Conn = psycopg.AsyncConnection[Any]
T0 = datetime(2026, 3, 10, 23, 10, tzinfo=UTC)  # 07:10 the next morning in Shanghai


async def _resident(db: Conn, name: str) -> tuple[int, int, int]:
    """A resident with a blood-pressure monitor and a glucose meter: (resident id, cuff id, meter id)."""
    rid = (
        await (await db.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (name,))).fetchone()
    )[0]  # type: ignore[index]
    ids = []
    for kind in ("blood_pressure_monitor", "glucose_meter"):
        cur = await db.execute(
            "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, %s, %s) RETURNING id",
            (f"{name}-{kind[:2]}", kind, rid),
        )
        ids.append((await cur.fetchone())[0])  # type: ignore[index]
    return rid, ids[0], ids[1]


async def _blood_pressure(db: Conn, rid: int, cuff: int, at: datetime, systolic: float, diastolic: float) -> None:
    points = [(at, cuff, rid, Metric.BP_SYSTOLIC, systolic), (at, cuff, rid, Metric.BP_DIASTOLIC, diastolic)]
    await store_telemetry(db, [*points, (at, cuff, rid, Metric.BP_PULSE, 80.0)], now=at)


def _of(signals: list[Signal], rid: int, cause: Cause) -> list[Signal]:
    return [s for s in signals if s.resident_id == rid and s.cause is cause]


async def test_a_crisis_reading_is_one_alarm_a_second_one_another_and_a_normal_reading_clears_it(db: Conn) -> None:
    rid, cuff, _ = await _resident(db, "bp-crisis")
    await _blood_pressure(db, rid, cuff, T0, 186, 104)
    [alarm] = _of(await run_periodic_detectors(db, now=T0 + timedelta(minutes=1)), rid, Cause.BLOOD_PRESSURE_CRISIS)
    assert (alarm.kind, alarm.priority, alarm.device_id) == (SignalKind.ALARM, Priority.HIGH, cuff)
    assert alarm.explanation_en == "Blood pressure 186/104 mmHg at 07:10: systolic ≥ 180 (hypertensive crisis)."
    assert alarm.explanation_zh == "07:10 血压 186/104 mmHg：收缩压 ≥ 180（高血压危象）。"

    # The same reading is not an alarm again (an operator who resolved it is not called back for it) ...
    assert _of(await run_periodic_detectors(db, now=T0 + timedelta(minutes=2)), rid, Cause.BLOOD_PRESSURE_CRISIS) == []
    # ... a second crisis reading is.
    await _blood_pressure(db, rid, cuff, T0 + timedelta(minutes=5), 176, 122)
    [again] = _of(await run_periodic_detectors(db, now=T0 + timedelta(minutes=6)), rid, Cause.BLOOD_PRESSURE_CRISIS)
    assert again.explanation_en == "Blood pressure 176/122 mmHg at 07:15: diastolic ≥ 120 (hypertensive crisis)."

    await _blood_pressure(db, rid, cuff, T0 + timedelta(minutes=30), 148, 92)
    [clear] = _of(await run_periodic_detectors(db, now=T0 + timedelta(minutes=31)), rid, Cause.BLOOD_PRESSURE_CRISIS)
    assert clear.kind is SignalKind.CLEAR
    assert clear.explanation_zh == "07:40 血压 148/92 mmHg：已回落。"
    assert _of(await run_periodic_detectors(db, now=T0 + timedelta(minutes=32)), rid, Cause.BLOOD_PRESSURE_CRISIS) == []


async def test_hypoglycaemia_is_graded_and_each_resident_has_their_own_band(db: Conn) -> None:
    low, _, meter = await _resident(db, "gl-low")
    severe, _, severe_meter = await _resident(db, "gl-severe")
    own, _, own_meter = await _resident(db, "gl-own")
    await store_telemetry(
        db,
        [
            (T0, meter, low, Metric.GLUCOSE_FASTING, 3.4),
            (T0, severe_meter, severe, Metric.GLUCOSE_RANDOM, 2.8),
            (T0, own_meter, own, Metric.GLUCOSE_BEFORE_MEAL, 4.1),
        ],
        now=T0,
    )
    await set_overrides(db, resident_id=own, overrides={"health_checks": {"glucose_low": 4.4}})
    signals = await run_periodic_detectors(db, now=T0 + timedelta(minutes=1))
    [mild] = _of(signals, low, Cause.HYPOGLYCAEMIA)
    assert mild.priority is Priority.MEDIUM
    assert mild.explanation_en == "Glucose 3.4 mmol/L (fasting) at 07:10: below 3.9 mmol/L (hypoglycaemia)."
    assert mild.explanation_zh == "07:10 血糖 3.4 mmol/L（空腹）：低于 3.9 mmol/L（低血糖）。"
    [worse] = _of(signals, severe, Cause.HYPOGLYCAEMIA)
    assert worse.priority is Priority.HIGH
    assert worse.explanation_en.endswith("below 3.0 mmol/L (severe hypoglycaemia).")
    [theirs] = _of(signals, own, Cause.HYPOGLYCAEMIA)  # 4.1 is fine by default, low by this resident's band
    assert theirs.explanation_zh == "07:10 血糖 4.1 mmol/L（餐前）：低于 4.4 mmol/L（低血糖）。"


async def test_a_reading_older_than_a_day_raises_nothing(db: Conn) -> None:
    rid, cuff, _ = await _resident(db, "bp-backlog")
    await _blood_pressure(db, rid, cuff, T0, 190, 110)
    later = T0 + timedelta(hours=25)
    assert _of(await run_periodic_detectors(db, now=later), rid, Cause.BLOOD_PRESSURE_CRISIS) == []


async def test_glucose_bands_out_of_order_are_refused(db: Conn) -> None:
    rid, _, _ = await _resident(db, "gl-bands")
    with pytest.raises(pydantic.ValidationError, match="glucose_severe"):
        await set_overrides(db, resident_id=rid, overrides={"health_checks": {"glucose_severe": 4.0}})
