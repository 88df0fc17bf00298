"""NEWS2 vital-sign alarms with duration conditions, raised and cleared through run_periodic_detectors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from homecare.backend.detection.config import DEFAULTS, get_settings, set_overrides
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.contracts.messages import Metric, Priority
from homecare.storage.migrate import StorageMode, read_storage_mode

Conn = psycopg.AsyncConnection[Any]
T0 = datetime(2026, 3, 10, 7, 50, tzinfo=UTC)  # 15:50 in Shanghai


async def _resident(db: Conn, uid: str, timezone: str = "Asia/Shanghai") -> tuple[int, int]:
    cur = await db.execute(
        "INSERT INTO residents (display_name, timezone) VALUES (%s, %s) RETURNING id", (uid, timezone)
    )
    rid = (await cur.fetchone())[0]  # type: ignore[index]
    cur = await db.execute(
        "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'wristband', %s) RETURNING id", (uid, rid)
    )
    return rid, (await cur.fetchone())[0]  # type: ignore[index]


async def _partition(db: Conn, day: datetime) -> None:
    """Plain mode keeps daily partitions around the wall clock only; these tests live in March 2026."""
    if await read_storage_mode(db) is not StorageMode.PLAIN:
        return
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    await db.execute(
        f"CREATE TABLE IF NOT EXISTS telemetry_p{start:%Y%m%d} PARTITION OF telemetry "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
    )


async def _readings(db: Conn, rid: int, device: int, metric: Metric, start: datetime, values: Sequence[float]) -> None:
    """One reading every 30 s from ``start``."""
    await _partition(db, start)
    async with db.cursor() as cur:
        await cur.executemany(
            "INSERT INTO telemetry (ts, device_id, resident_id, metric, value, seq) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (start + timedelta(seconds=30 * i), device, rid, int(metric), v, int(start.timestamp()) + i)
                for i, v in enumerate(values)
            ],
        )


def _of(signals: list[Signal], rid: int, cause: Cause) -> list[Signal]:
    return [s for s in signals if s.resident_id == rid and s.cause is cause]


async def test_spo2_91_for_90_s_is_nothing_for_150_s_an_alarm_then_it_clears(db: Conn) -> None:
    rid, device = await _resident(db, "wr-spo2-01")
    # 97 % from 07:50:00 to 07:57:00, then 91 % every 30 s from 07:57:30.
    await _readings(db, rid, device, Metric.SPO2, T0, [97] * 15 + [91] * 6)
    at_90s = T0 + timedelta(minutes=9)  # 91 % since 07:57:30 → 90 s at 07:59:00
    assert _of(await run_periodic_detectors(db, now=at_90s), rid, Cause.VITALS_SPO2) == []

    at_150s = T0 + timedelta(minutes=10)  # 150 s at 08:00:00 (the reading at 08:00:00 is 91 too)
    [alarm] = _of(await run_periodic_detectors(db, now=at_150s), rid, Cause.VITALS_SPO2)
    assert (alarm.kind, alarm.priority) == (SignalKind.ALARM, Priority.HIGH)
    assert alarm.explanation_en == "SpO2 91%: ≤ 91% for 2 min 30 s (since 15:57)."  # Shanghai time
    assert alarm.explanation_zh == "血氧 91%：15:57 起持续 2 分 30 秒 ≤ 91%。"
    assert alarm.detected_at == at_150s

    # Still low a minute later: the alarm continues (the incidents service folds it).
    await _readings(db, rid, device, Metric.SPO2, at_150s + timedelta(seconds=30), [90, 90])
    [again] = _of(await run_periodic_detectors(db, now=at_150s + timedelta(minutes=1)), rid, Cause.VITALS_SPO2)
    assert again.kind is SignalKind.ALARM
    assert again.explanation_en.startswith("SpO2 90%")

    await _readings(db, rid, device, Metric.SPO2, at_150s + timedelta(seconds=90), [96])
    [clear] = _of(await run_periodic_detectors(db, now=at_150s + timedelta(seconds=90)), rid, Cause.VITALS_SPO2)
    assert clear.kind is SignalKind.CLEAR
    assert clear.explanation_en == "SpO2 back in range: 96%."
    assert clear.explanation_zh == "血氧已恢复正常：96%。"
    # Cleared once; nothing more while it stays normal.
    assert _of(await run_periodic_detectors(db, now=at_150s + timedelta(seconds=95)), rid, Cause.VITALS_SPO2) == []


async def test_missing_readings_never_clear_an_alarm(db: Conn) -> None:
    rid, device = await _resident(db, "wr-spo2-02")
    await _readings(db, rid, device, Metric.SPO2, T0, [89] * 10)  # 07:50:00–07:54:30
    end = T0 + timedelta(seconds=270)
    [alarm] = _of(await run_periodic_detectors(db, now=end), rid, Cause.VITALS_SPO2)
    assert alarm.kind is SignalKind.ALARM
    # The band comes off the wrist: no readings for 20 minutes is not a recovery.
    assert _of(await run_periodic_detectors(db, now=end + timedelta(minutes=20)), rid, Cause.VITALS_SPO2) == []
    await _readings(db, rid, device, Metric.SPO2, end + timedelta(minutes=21), [97, 97])
    [clear] = _of(await run_periodic_detectors(db, now=end + timedelta(minutes=22)), rid, Cause.VITALS_SPO2)
    assert clear.kind is SignalKind.CLEAR


async def test_a_gap_in_the_readings_restarts_the_duration(db: Conn) -> None:
    rid, device = await _resident(db, "wr-spo2-03")
    await _readings(db, rid, device, Metric.SPO2, T0, [91, 91])  # 07:50:00, 07:50:30
    await _readings(db, rid, device, Metric.SPO2, T0 + timedelta(minutes=5), [91, 91, 91])  # 07:55:00–07:56:00
    # Both runs together span 6 minutes, but the 4.5-minute hole breaks them: only 60 s count.
    assert _of(await run_periodic_detectors(db, now=T0 + timedelta(minutes=6)), rid, Cause.VITALS_SPO2) == []


async def test_a_fast_pulse_while_walking_is_exertion_not_an_alarm(db: Conn) -> None:
    walker, walker_band = await _resident(db, "wr-pulse-walk")
    sitter, sitter_band = await _resident(db, "wr-pulse-sit")
    for rid, device in ((walker, walker_band), (sitter, sitter_band)):
        await _readings(db, rid, device, Metric.HEART_RATE, T0, [140] * 6)  # 07:50:00–07:52:30
    # The walker's band counts 10 steps every 30 s (the default needs 50 in the 10 minutes before a reading).
    await _readings(db, walker, walker_band, Metric.STEPS, T0 - timedelta(seconds=290), [10] * 16)
    signals = await run_periodic_detectors(db, now=T0 + timedelta(seconds=150))
    [alarm] = _of(signals, sitter, Cause.VITALS_PULSE)
    assert (alarm.kind, alarm.priority) == (SignalKind.ALARM, Priority.HIGH)
    assert _of(signals, walker, Cause.VITALS_PULSE) == []
    # Per resident: with the rule off, the same walk is an alarm.
    await set_overrides(db, resident_id=walker, overrides={"vitals": {"exertion_steps": 0}})
    [walking] = _of(await run_periodic_detectors(db, now=T0 + timedelta(seconds=150)), walker, Cause.VITALS_PULSE)
    assert walking.kind is SignalKind.ALARM


async def test_per_resident_thresholds_and_priorities(db: Conn) -> None:
    usual, _ = await _resident(db, "wr-copd-00")
    copd, _ = await _resident(db, "wr-copd-01")
    # SpO2 scale 2 for a resident with hypercapnic respiratory failure; pulse alarms made critical.
    await set_overrides(
        db,
        resident_id=copd,
        overrides={"vitals": {"spo2_low": 83, "spo2_moderate": 85}, "priorities": {"vitals_pulse": 1}},
        updated_by="nurse.chen",
    )
    for rid in (usual, copd):
        device = (await (await db.execute("SELECT id FROM devices WHERE resident_id = %s", (rid,))).fetchone())[0]  # type: ignore[index]
        await _readings(db, rid, device, Metric.SPO2, T0, [89] * 21)
        await _readings(db, rid, device, Metric.HEART_RATE, T0, [118] * 21)  # NEWS2 pulse score 2
    now = T0 + timedelta(minutes=10)
    signals = await run_periodic_detectors(db, now=now)
    assert [s.priority for s in _of(signals, usual, Cause.VITALS_SPO2)] == [Priority.HIGH]
    assert _of(signals, copd, Cause.VITALS_SPO2) == []  # 89 % is the target range on scale 2
    # 118/min for 10 minutes: below the 15-minute duration of the score-2 band.
    assert _of(signals, usual, Cause.VITALS_PULSE) == []
    await _readings(db, usual, await _device_of(db, usual), Metric.HEART_RATE, now + timedelta(seconds=30), [118] * 12)
    await _readings(db, copd, await _device_of(db, copd), Metric.HEART_RATE, now + timedelta(seconds=30), [118] * 12)
    later = now + timedelta(minutes=6)
    signals = await run_periodic_detectors(db, now=later)
    [pulse] = _of(signals, usual, Cause.VITALS_PULSE)
    assert pulse.priority is Priority.MEDIUM
    assert pulse.explanation_en.startswith("Pulse 118/min: ≥ 111/min for 16 min")
    [pulse_copd] = _of(signals, copd, Cause.VITALS_PULSE)
    assert pulse_copd.priority is Priority.CRITICAL


async def _device_of(db: Conn, rid: int) -> int:
    row = await (await db.execute("SELECT id FROM devices WHERE resident_id = %s", (rid,))).fetchone()
    assert row is not None
    return int(row[0])


async def test_run_is_quiet_on_an_empty_database(db: Conn) -> None:
    assert await run_periodic_detectors(db, now=T0) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        await run_periodic_detectors(db, now=T0.replace(tzinfo=None))


async def test_a_broken_stored_override_falls_back_to_the_defaults(db: Conn) -> None:
    rid, device = await _resident(db, "wr-broken-01")
    await db.execute(
        "INSERT INTO detection_settings (resident_id, overrides) VALUES (%s, %s)",
        (rid, Jsonb({"vitals": {"spo2_low": "very low"}})),
    )
    assert await get_settings(db, resident_id=rid) == DEFAULTS
    await _readings(db, rid, device, Metric.SPO2, T0, [88] * 8)
    [alarm] = _of(await run_periodic_detectors(db, now=T0 + timedelta(seconds=210)), rid, Cause.VITALS_SPO2)
    assert alarm.priority is Priority.HIGH
    with pytest.raises(ValueError, match="recovery_window_s"):
        await set_overrides(db, resident_id=rid, overrides={"falls": {"recovery_window_s": 900}})
    settings = await set_overrides(db, resident_id=rid, overrides={"falls": {"recovery_window_s": 30}})
    assert (await get_settings(db, resident_id=rid)).falls.recovery_window_s == settings.falls.recovery_window_s == 30
