"""Device-health alarms (missed heartbeats, home unit offline, low battery, wristband off) and their clearing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from homecare.backend.detection.config import set_overrides
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.contracts.messages import Priority

Conn = psycopg.AsyncConnection[Any]
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _home(db: Conn) -> tuple[int, dict[str, int]]:
    cur = await db.execute("INSERT INTO residents (display_name) VALUES ('Zhang Wei') RETURNING id")
    rid = (await cur.fetchone())[0]  # type: ignore[index]
    ids = {}
    for uid, kind in {"wr-dh-01": "wristband", "hu-dh-01": "home_unit", "door-dh-01": "door_sensor"}.items():
        cur = await db.execute(
            "INSERT INTO devices (uid, kind, resident_id, heartbeat_interval_s) VALUES (%s, %s, %s, 300) RETURNING id",
            (uid, kind, rid),
        )
        ids[uid] = (await cur.fetchone())[0]  # type: ignore[index]
    return rid, ids


async def _state(db: Conn, device: int, **values: Any) -> None:
    columns = ["device_id", *values]
    await db.execute(
        f"INSERT INTO device_state ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT (device_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in values)}",
        (device, *values.values()),
    )


def _by_cause(signals: list[Signal], rid: int) -> dict[Cause, Signal]:
    mine = [s for s in signals if s.resident_id == rid]
    assert len({s.cause for s in mine}) == len(mine)
    return {s.cause: s for s in mine}


async def test_device_problems_raise_named_alarms_and_clear(db: Conn) -> None:
    rid, ids = await _home(db)
    wr, hu, door = ids["wr-dh-01"], ids["hu-dh-01"], ids["door-dh-01"]
    # The wristband last heard 20 minutes ago (4 missed 5-minute heartbeats), taken off 3 hours ago;
    # the home unit dropped offline 15 minutes ago; the door sensor's battery is at 9 %.
    await _state(
        db,
        wr,
        online=True,
        last_seen_at=NOW - timedelta(minutes=20),
        last_heartbeat_at=NOW - timedelta(minutes=20),
        battery=60,
        charging=False,
    )
    await _state(
        db,
        hu,
        online=False,
        online_changed_at=NOW - timedelta(minutes=15),
        last_seen_at=NOW - timedelta(minutes=15),
        battery=100,
        charging=True,
    )
    await _state(db, door, online=True, last_seen_at=NOW - timedelta(minutes=1), battery=9, charging=False)
    await db.execute(
        "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority) "
        "VALUES (%s, %s, 1, %s, 'wearable_removed', 5)",
        (wr, rid, NOW - timedelta(hours=3)),
    )
    alarms = _by_cause(await run_periodic_detectors(db, now=NOW), rid)
    assert set(alarms) >= {Cause.DEVICE_OFFLINE, Cause.HOME_UNIT_OFFLINE, Cause.LOW_BATTERY, Cause.WEARABLE_REMOVED}
    assert all(s.kind is SignalKind.ALARM for s in alarms.values())

    offline = alarms[Cause.DEVICE_OFFLINE]
    assert offline.device_id == wr
    assert offline.priority is Priority.MEDIUM
    assert offline.explanation_en == "Wristband wr-dh-01 has missed 4 heartbeats (last heard 09:40, 20 min ago)."
    assert offline.explanation_zh == "手环 wr-dh-01 已错过 4 次心跳（最后一次 09:40，20 分钟前）。"
    assert alarms[Cause.HOME_UNIT_OFFLINE].explanation_en == "Home unit hu-dh-01 offline for 15 min (since 09:45)."
    assert "家庭主机 hu-dh-01" in alarms[Cause.HOME_UNIT_OFFLINE].explanation_zh
    battery = alarms[Cause.LOW_BATTERY]
    assert (battery.device_id, battery.priority) == (door, Priority.LOW)
    assert battery.explanation_en == "Door sensor door-dh-01 battery at 9%: please charge or replace it."
    assert battery.explanation_zh == "门磁 door-dh-01 电量仅剩 9%，请充电或更换电池。"
    assert alarms[Cause.WEARABLE_REMOVED].explanation_en.startswith("Wristband wr-dh-01 not worn for 3 h 00 min")

    # A minute later: all four continue.
    later = NOW + timedelta(minutes=1)
    assert {s.kind for s in _by_cause(await run_periodic_detectors(db, now=later), rid).values()} == {SignalKind.ALARM}

    # Battery just above the threshold: not yet clearly recharged, so no clear for it.
    await _state(db, door, battery=18)
    # Everything else recovers.
    await _state(db, wr, last_seen_at=later, last_heartbeat_at=later)
    await _state(db, hu, online=True, online_changed_at=later, last_seen_at=later)
    await db.execute(
        "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority) "
        "VALUES (%s, %s, 2, %s, 'wearable_worn', 5)",
        (wr, rid, later),
    )
    clears = _by_cause(await run_periodic_detectors(db, now=later + timedelta(seconds=30)), rid)
    assert {c: s.kind for c, s in clears.items()} == {
        Cause.DEVICE_OFFLINE: SignalKind.CLEAR,
        Cause.HOME_UNIT_OFFLINE: SignalKind.CLEAR,
        Cause.WEARABLE_REMOVED: SignalKind.CLEAR,
    }
    assert clears[Cause.HOME_UNIT_OFFLINE].explanation_zh == "家庭主机已恢复在线。"
    await _state(db, door, battery=95)
    clears = _by_cause(await run_periodic_detectors(db, now=later + timedelta(minutes=1)), rid)
    assert [(c, s.kind) for c, s in clears.items()] == [(Cause.LOW_BATTERY, SignalKind.CLEAR)]


async def test_heartbeat_tolerance_is_configurable_and_unseen_devices_are_not_judged(db: Conn) -> None:
    rid, ids = await _home(db)
    await _state(db, ids["wr-dh-01"], online=True, last_heartbeat_at=NOW - timedelta(minutes=12), battery=80)
    # 12 minutes: 2 missed 5-minute heartbeats, under the default of 3; the other devices were never seen.
    assert _by_cause(await run_periodic_detectors(db, now=NOW), rid).get(Cause.DEVICE_OFFLINE) is None
    await set_overrides(db, resident_id=rid, overrides={"device_health": {"missed_heartbeats": 2}})
    alarm = _by_cause(await run_periodic_detectors(db, now=NOW), rid)[Cause.DEVICE_OFFLINE]
    assert "wr-dh-01 has missed 2 heartbeats" in alarm.explanation_en
    assert "hu-dh-01" not in alarm.explanation_en
