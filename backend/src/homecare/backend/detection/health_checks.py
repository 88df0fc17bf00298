"""Home health-check alarms: a blood pressure in the hypertensive crisis band, a glucose reading below the band.

A cuff or a meter gives one reading now and then, not a series, so one reading is enough (no duration) and
each reading raises its alarm once: a resident's latest reading of the last day holds when it is in a band and
is newer than the open condition (an operator who resolved the incident is not called again for the same
reading; a second crisis reading is a new alarm). A later reading outside the bands clears the condition.
The bands are per resident (``config.HealthCheckSettings``).

One query: the residents with an in-band reading of the last day (by the loosest bands of anybody) or an open
condition, and their readings of the last day; the judging is in Python, per resident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from homecare.backend.detection.config import HealthCheckSettings, SettingsBook
from homecare.backend.detection.findings import Finding, State, hhmm, resident_zone
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import GLUCOSE_METRICS, MealContext, Metric, Priority
from homecare.storage.connections import Conn

CAUSES: Final = (Cause.BLOOD_PRESSURE_CRISIS, Cause.HYPOGLYCAEMIA)
LOOKBACK: Final = timedelta(hours=24)
"""A reading taken longer ago raises nothing: a meter's backlog from last week is history, not an alarm."""

_MEALS: Final = {metric: meal for meal, metric in GLUCOSE_METRICS.items()}
_MEAL_WORDS: Final = {
    MealContext.FASTING: ("fasting", "空腹"),
    MealContext.BEFORE_MEAL: ("before a meal", "餐前"),
    MealContext.AFTER_MEAL: ("after a meal", "餐后"),
    MealContext.RANDOM: ("random", "随机"),
}

_READINGS: Final = """
WITH candidates AS (
    SELECT DISTINCT t.resident_id
    FROM telemetry t
    WHERE t.ts > %(since)s AND t.ts <= %(now)s AND t.resident_id IS NOT NULL
      AND ((t.metric = %(systolic)s AND t.value >= %(systolic_crisis)s)
           OR (t.metric = %(diastolic)s AND t.value >= %(diastolic_crisis)s)
           OR (t.metric = ANY(%(glucose)s) AND t.value < %(glucose_low)s))
    UNION
    SELECT resident_id FROM detection_conditions WHERE cause = ANY(%(causes)s)
)
SELECT t.resident_id, r.timezone, t.device_id, t.metric, t.ts, t.value
FROM telemetry t
JOIN candidates c ON c.resident_id = t.resident_id
JOIN residents r ON r.id = t.resident_id
WHERE t.ts > %(since)s AND t.ts <= %(now)s AND t.metric = ANY(%(metrics)s)
ORDER BY t.ts, t.metric
"""


@dataclass(frozen=True, slots=True)
class Reading:
    """The latest health check of one kind: the blood pressure's two values, or one glucose value."""

    device_id: int
    ts: datetime
    values: dict[Metric, float]


async def detect(conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]:
    """Findings for every resident with an in-band health check of the last day or an open condition."""
    everyone = [book.for_resident(0).health_checks] + [book.for_resident(r).health_checks for r in book.overridden]
    judged = [s for s in everyone if s.enabled]
    if not judged:
        return []
    cursor = await conn.execute(
        _READINGS,
        {
            "since": now - LOOKBACK,
            "now": now,
            "systolic": int(Metric.BP_SYSTOLIC),
            "diastolic": int(Metric.BP_DIASTOLIC),
            "glucose": [int(m) for m in GLUCOSE_METRICS.values()],
            "systolic_crisis": min(s.systolic_crisis for s in judged),
            "diastolic_crisis": min(s.diastolic_crisis for s in judged),
            "glucose_low": max(s.glucose_low for s in judged),
            "causes": [cause.value for cause in CAUSES],
            "metrics": [int(Metric.BP_SYSTOLIC), int(Metric.BP_DIASTOLIC), *(int(m) for m in GLUCOSE_METRICS.values())],
        },
    )
    latest: dict[tuple[int, Cause], Reading] = {}
    zones: dict[int, str] = {}
    for resident_id, timezone, device_id, metric, ts, value in await cursor.fetchall():
        zones[resident_id] = timezone
        metric = Metric(metric)
        key = (resident_id, Cause.HYPOGLYCAEMIA if metric in _MEALS else Cause.BLOOD_PRESSURE_CRISIS)
        reading = latest.get(key)
        if reading is None or (reading.ts, reading.device_id) != (ts, device_id):  # ordered by ts: a newer reading
            reading = latest[key] = Reading(device_id, ts, {})
        reading.values[metric] = value
    cursor = await conn.execute(
        "SELECT resident_id, cause, last_seen_at FROM detection_conditions WHERE cause = ANY(%s)",
        ([cause.value for cause in CAUSES],),
    )
    judged_at = {(resident_id, Cause(cause)): at for resident_id, cause, at in await cursor.fetchall()}
    findings = []
    for (resident_id, cause), reading in sorted(latest.items()):
        settings = book.for_resident(resident_id).health_checks
        if not settings.enabled:
            continue
        zone = resident_zone(zones[resident_id])
        holds = _JUDGES[cause](settings, reading, zone)
        seen = judged_at.get((resident_id, cause))
        if holds is None:
            findings.append(_back_in_range(resident_id, cause, reading, zone))
        elif seen is None or reading.ts > seen:
            priority, en, zh = holds
            findings.append(
                Finding(resident_id, cause, State.HOLDS, en, zh, priority=priority, device_id=reading.device_id)
            )
    return findings


Judgement = tuple[Priority, str, str] | None
"""The band a reading is in (priority, English, Chinese), None when it is in none."""


def _blood_pressure(settings: HealthCheckSettings, reading: Reading, zone: ZoneInfo) -> Judgement:
    systolic, diastolic = reading.values[Metric.BP_SYSTOLIC], reading.values[Metric.BP_DIASTOLIC]
    over = [
        (name_en, name_zh, limit)
        for name_en, name_zh, value, limit in (
            ("systolic", "收缩压", systolic, settings.systolic_crisis),
            ("diastolic", "舒张压", diastolic, settings.diastolic_crisis),
        )
        if value >= limit
    ]
    if not over:
        return None
    at = hhmm(reading.ts, zone)
    pressure = f"{systolic:.0f}/{diastolic:.0f} mmHg"
    why_en = ", ".join(f"{name} ≥ {limit:g}" for name, _, limit in over)
    why_zh = "，".join(f"{name} ≥ {limit:g}" for _, name, limit in over)
    return (
        Priority.HIGH,
        f"Blood pressure {pressure} at {at}: {why_en} (hypertensive crisis).",
        f"{at} 血压 {pressure}：{why_zh}（高血压危象）。",
    )


def _glucose(settings: HealthCheckSettings, reading: Reading, zone: ZoneInfo) -> Judgement:
    [(metric, value)] = reading.values.items()
    if value < settings.glucose_severe:
        priority, limit, en, zh = Priority.HIGH, settings.glucose_severe, "severe hypoglycaemia", "严重低血糖"
    elif value < settings.glucose_low:
        priority, limit, en, zh = Priority.MEDIUM, settings.glucose_low, "hypoglycaemia", "低血糖"
    else:
        return None
    at = hhmm(reading.ts, zone)
    meal_en, meal_zh = _MEAL_WORDS[_MEALS[metric]]
    return (
        priority,
        f"Glucose {value:.1f} mmol/L ({meal_en}) at {at}: below {limit:.1f} mmol/L ({en}).",
        f"{at} 血糖 {value:.1f} mmol/L（{meal_zh}）：低于 {limit:.1f} mmol/L（{zh}）。",
    )


def _back_in_range(resident_id: int, cause: Cause, reading: Reading, zone: ZoneInfo) -> Finding:
    at = hhmm(reading.ts, zone)
    if cause is Cause.BLOOD_PRESSURE_CRISIS:
        pressure = f"{reading.values[Metric.BP_SYSTOLIC]:.0f}/{reading.values[Metric.BP_DIASTOLIC]:.0f} mmHg"
        en, zh = f"Blood pressure {pressure} at {at}: out of the crisis band.", f"{at} 血压 {pressure}：已回落。"
    else:
        [value] = reading.values.values()
        en, zh = f"Glucose {value:.1f} mmol/L at {at}: back in range.", f"{at} 血糖 {value:.1f} mmol/L：已恢复正常。"
    return Finding(resident_id, cause, State.GONE, en, zh, device_id=reading.device_id)


_JUDGES: Final[dict[Cause, Callable[[HealthCheckSettings, Reading, ZoneInfo], Judgement]]] = {
    Cause.BLOOD_PRESSURE_CRISIS: _blood_pressure,
    Cause.HYPOGLYCAEMIA: _glucose,
}
