"""Personal baselines over simulated weeks of wristband data: a welfare check with the reason, and its clearing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from homecare.backend.detection.baseline import FEATURES, baseline_status, load_baseline
from homecare.backend.detection.config import BaselineSettings
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.contracts.messages import Metric, Priority
from homecare.sim.neighbourhood import build_neighbourhood
from tests.support.telemetry import Point, store_telemetry

Conn = psycopg.AsyncConnection[Any]
SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST, JUDGED = date(2026, 2, 15), date(2026, 3, 8)


def _local(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI).astimezone(UTC)


def _simulated_minutes(first: date, last: date) -> dict[str, np.ndarray]:
    """Heart rate, activity and steps of one simulated resident, minute by minute."""
    model = build_neighbourhood(1, seed=5, background_incidents=False).households[1].model
    start = _local(first).timestamp()
    minutes = start + 60.0 * np.arange(int((_local(last + timedelta(days=1)).timestamp() - start) // 60))
    v = model.vitals(minutes)
    return {"start": minutes, **{k: np.round(v[k]) for k in ("heart_rate", "activity", "steps")}}


def _points(
    device: int, rid: int, minutes: dict[str, np.ndarray], *, night_hr_change: dict[date, float]
) -> list[Point]:
    """One reading a minute of each metric, with the night heart rate raised on some days."""
    local = [datetime.fromtimestamp(float(t), SHANGHAI) for t in minutes["start"]]
    extra = np.array([night_hr_change.get(t.date(), 0.0) if t.hour < 6 else 0.0 for t in local])
    at = [t.astimezone(UTC) for t in local]
    points: list[Point] = []
    for metric, key, add in (
        (Metric.HEART_RATE, "heart_rate", extra),
        (Metric.ACTIVITY, "activity", 0.0),
        (Metric.STEPS, "steps", 0.0),
    ):
        points += [(t, device, rid, metric, float(v)) for t, v in zip(at, minutes[key] + add, strict=True)]
    return points


async def _resident(db: Conn, name: str) -> tuple[int, int]:
    """A resident and their wristband."""
    cur = await db.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (name,))
    rid = int((await cur.fetchone())[0])  # type: ignore[index]
    cur = await db.execute(
        "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'wristband', %s) RETURNING id",
        (f"wr-{name.lower()}", rid),
    )
    return rid, int((await cur.fetchone())[0])  # type: ignore[index]


def _welfare(signals: list[Signal], rid: int) -> list[Signal]:
    return [s for s in signals if s.resident_id == rid and s.cause is Cause.WELFARE]


async def test_a_raised_night_heart_rate_asks_for_a_welfare_check(db: Conn) -> None:
    minutes = _simulated_minutes(FIRST, JUDGED + timedelta(days=1))
    (usual, usual_band), (unwell, unwell_band), (newcomer, newcomer_band) = [
        await _resident(db, n) for n in ("Usual", "Unwell", "Newcomer")
    ]
    last_judged = _local(JUDGED + timedelta(days=1)).timestamp()
    before_next = {k: v[minutes["start"] < last_judged] for k, v in minutes.items()}
    recent = {
        k: v[before_next["start"] >= _local(JUDGED - timedelta(days=3)).timestamp()] for k, v in before_next.items()
    }
    now = _local(JUDGED + timedelta(days=1), 3)  # 03:00 the next morning: the judged day is complete
    await store_telemetry(
        db,
        [
            *_points(usual_band, usual, before_next, night_hr_change={}),
            *_points(unwell_band, unwell, before_next, night_hr_change={JUDGED: 22.0}),  # an infection: +22/min
            *_points(newcomer_band, newcomer, recent, night_hr_change={}),
        ],
        now=now,
    )
    signals = await run_periodic_detectors(db, now=now)
    assert _welfare(signals, usual) == []
    assert _welfare(signals, newcomer) == []
    [check] = _welfare(signals, unwell)
    assert (check.kind, check.priority) == (SignalKind.ALARM, Priority.LOW)
    # Sleep is rest too: the resting heart rate (minutes without steps) rises with the night's.
    match = re.fullmatch(
        r"Welfare check: night heart rate (\d+) beats/min above usual \((\d+)\)"
        r"(; resting heart rate \d+ beats/min above usual \(\d+\))?\.",
        check.explanation_en,
    )
    assert match is not None, check.explanation_en
    change, usual_hr = int(match[1]), int(match[2])
    assert change >= 15
    assert check.explanation_zh.startswith(f"建议探访：夜间心率比平时（{usual_hr}）高 {change} 次/分")
    cur = await db.execute("SELECT deviations FROM resident_baselines WHERE resident_id = %s", (unwell,))
    stored = (await cur.fetchone())[0]  # type: ignore[index]
    assert stored["overall"] is False
    assert stored["deviations"][0]["feature"] == "night_hr"
    assert stored["deviations"][0]["days"] == 1
    assert round(stored["deviations"][0]["value"] - stored["deviations"][0]["usual"]) == change

    # The fit is stored as plain numbers, and the new resident is told how much data is missing.
    fitted = await load_baseline(db, resident_id=usual)
    assert fitted is not None
    assert fitted.days == 21
    assert fitted.median.shape == (len(FEATURES),)
    assert fitted.envelope_precision is not None
    assert fitted.envelope_precision.shape == (len(FEATURES), len(FEATURES))
    status = await baseline_status(db, resident_id=newcomer, settings=BaselineSettings())
    assert not status.ready
    assert status.explanation_en == "No personal baseline yet: 3 of the 7 days of data it needs."
    assert status.explanation_zh == "尚无个人基线：已有 3 天数据，需要 7 天。"
    assert (await baseline_status(db, resident_id=usual, settings=BaselineSettings())).ready

    # Later runs the same day repeat the verdict without refitting.
    [again] = _welfare(await run_periodic_detectors(db, now=now + timedelta(hours=5)), unwell)
    assert again.explanation_en == check.explanation_en

    # The next day is ordinary again: the check clears.
    following = {k: v[minutes["start"] >= last_judged] for k, v in minutes.items()}
    await store_telemetry(db, _points(unwell_band, unwell, following, night_hr_change={}), now=now + timedelta(days=1))
    [clear] = _welfare(await run_periodic_detectors(db, now=now + timedelta(days=1)), unwell)
    assert clear.kind is SignalKind.CLEAR
    assert clear.explanation_en == "Daily pattern back within the personal baseline."
