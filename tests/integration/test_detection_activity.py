"""Daily-rhythm alarms on simulated and constructed days, in the resident's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from homecare.backend.detection.activity import usual_up_by
from homecare.backend.detection.config import ActivitySettings
from homecare.backend.detection.periodic import run_periodic_detectors
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.contracts.messages import Metric, Priority
from homecare.sim.household import EventHappening
from homecare.sim.incidents import NightOut
from homecare.sim.neighbourhood import build_neighbourhood
from tests.support.telemetry import store_telemetry

Conn = psycopg.AsyncConnection[Any]
SHANGHAI = ZoneInfo("Asia/Shanghai")
KINDS = ("wristband", "door_sensor", "bed_sensor", "motion_sensor")


class Home:
    """A resident with a wristband and home sensors, and a way to store what they report."""

    def __init__(self, db: Conn, rid: int, devices: dict[str, int]) -> None:
        self.db, self.rid, self.devices, self.seq = db, rid, devices, 0

    @classmethod
    async def create(cls, db: Conn, name: str, timezone: str = "Asia/Shanghai") -> Home:
        cur = await db.execute(
            "INSERT INTO residents (display_name, timezone) VALUES (%s, %s) RETURNING id", (name, timezone)
        )
        rid = (await cur.fetchone())[0]  # type: ignore[index]
        devices = {}
        for kind in KINDS:
            cur = await db.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, %s, %s) RETURNING id",
                (f"{name}-{kind.split('_')[0]}", kind, rid),
            )
            devices[kind] = (await cur.fetchone())[0]  # type: ignore[index]
        return cls(db, rid, devices)

    async def events(self, rows: list[tuple[datetime, str, str, str | None]]) -> None:
        """(ts, device kind, event kind, room) rows, stored as the gateway stores events."""
        params = []
        for ts, device, kind, room in rows:
            self.seq += 1
            params.append((self.devices[device], self.rid, self.seq, ts, kind, 5, room))
        async with self.db.cursor() as cur:
            await cur.executemany(
                "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority, room) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                params,
            )

    async def steps(self, minute: datetime, steps: float, *, now: datetime) -> None:
        """A wristband's step count for one minute, in the minute rollup by ``now``."""
        await store_telemetry(self.db, [(minute, self.devices["wristband"], self.rid, Metric.STEPS, steps)], now=now)


def _of(signals: list[Signal], rid: int, cause: Cause) -> list[Signal]:
    return [s for s in signals if s.resident_id == rid and s.cause is cause]


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


async def test_not_up_by_the_learnt_time_raises_inactivity_and_movement_clears_it(db: Conn) -> None:
    hood = build_neighbourhood(1, seed=11, background_incidents=False)
    sim = hood.households[1]
    home = await Home.create(db, "r-sim-01")
    first, today = date(2026, 3, 1), date(2026, 3, 11)
    # Ten simulated days of what the home sensors report; today, nothing: the resident stays in bed.
    happenings = sim.happenings(_local(first, 0).timestamp(), _local(today, 0).timestamp())
    rows = [
        (datetime.fromtimestamp(h.t, UTC), str(h.device), str(h.kind), h.room)
        for h in happenings
        if isinstance(h, EventHappening) and str(h.device) in KINDS
    ]
    await home.events(rows)

    # What the detector should learn: a high quantile of each day's first movement after 04:00.
    first_up: dict[date, time] = {}
    for ts, _, kind, _ in rows:
        local = ts.astimezone(SHANGHAI)
        if kind in ("motion", "bed_exit", "door_open") and local.time() >= time(4, 0):
            first_up.setdefault(local.date(), local.time())
    expected = usual_up_by([first_up[d] for d in sorted(first_up)], ActivitySettings())
    assert expected.learnt_from_days == 10
    up_by = expected.at.strftime("%H:%M")
    last = max(ts for ts, _, _, _ in rows).astimezone(SHANGHAI)

    early = _local(today, expected.at.hour, expected.at.minute) + timedelta(minutes=30)  # within the grace hour
    assert _of(await run_periodic_detectors(db, now=early), home.rid, Cause.INACTIVITY) == []

    late = early + timedelta(minutes=45)
    [alarm] = _of(await run_periodic_detectors(db, now=late), home.rid, Cause.INACTIVITY)
    assert (alarm.kind, alarm.priority) == (SignalKind.ALARM, Priority.HIGH)
    assert alarm.explanation_en == f"No movement since yesterday {last:%H:%M}; usually up by {up_by}."
    assert alarm.explanation_zh == f"昨天 {last:%H:%M} 起无活动；平时 {up_by} 前起床。"

    await home.events([(late + timedelta(minutes=5), "bed_sensor", "bed_exit", "bedroom")])
    [clear] = _of(await run_periodic_detectors(db, now=late + timedelta(minutes=6)), home.rid, Cause.INACTIVITY)
    assert clear.kind is SignalKind.CLEAR
    assert clear.explanation_zh.startswith("已恢复活动")


async def test_a_new_resident_gets_the_default_morning(db: Conn) -> None:
    home = await Home.create(db, "r-new-01")
    today = date(2026, 3, 11)
    await home.events([(_local(today - timedelta(days=1), 21, 30), "bed_sensor", "bed_return", "bedroom")])
    assert _of(await run_periodic_detectors(db, now=_local(today, 8, 50)), home.rid, Cause.INACTIVITY) == []
    [alarm] = _of(await run_periodic_detectors(db, now=_local(today, 9, 5)), home.rid, Cause.INACTIVITY)
    assert alarm.explanation_en == "No movement since yesterday 21:30; usually up by 08:00."


async def test_night_is_the_residents_own_night(db: Conn) -> None:
    shanghai = await Home.create(db, "r-sh-01")
    london = await Home.create(db, "r-ldn-01", "Europe/London")
    opened = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)  # 02:30 in Shanghai, 18:30 in London
    for home in (shanghai, london):
        await home.events(
            [
                (opened - timedelta(minutes=1), "motion_sensor", "motion", "hallway"),
                (opened, "door_sensor", "door_open", "front door"),
                (opened + timedelta(seconds=15), "door_sensor", "door_closed", "front door"),
            ]
        )
    signals = await run_periodic_detectors(db, now=opened + timedelta(minutes=10))
    [alarm] = _of(signals, shanghai.rid, Cause.NIGHT_DOOR)
    assert (alarm.kind, alarm.priority) == (SignalKind.ALARM, Priority.HIGH)
    assert alarm.explanation_en == "Front door opened at night (02:30); no movement inside since."
    assert alarm.explanation_zh == "夜间 02:30 大门被打开，之后室内无活动。"
    assert _of(signals, london.rid, Cause.NIGHT_DOOR) == []

    # Still out twenty minutes later: the alarm continues; back in the hallway: it clears.
    assert _of(await run_periodic_detectors(db, now=opened + timedelta(minutes=30)), shanghai.rid, Cause.NIGHT_DOOR)
    await shanghai.events(
        [
            (opened + timedelta(minutes=40), "door_sensor", "door_open", "front door"),
            (opened + timedelta(minutes=40, seconds=10), "door_sensor", "door_closed", "front door"),
            (opened + timedelta(minutes=41), "motion_sensor", "motion", "hallway"),
        ]
    )
    [clear] = _of(await run_periodic_detectors(db, now=opened + timedelta(minutes=42)), shanghai.rid, Cause.NIGHT_DOOR)
    assert (clear.kind, clear.explanation_en) == (SignalKind.CLEAR, "Back inside.")


async def test_out_of_bed_at_night_and_not_back(db: Conn) -> None:
    home = await Home.create(db, "r-bed-01")
    day = date(2026, 3, 11)
    await home.events(
        [
            (_local(day - timedelta(days=1), 21, 40), "bed_sensor", "bed_return", "bedroom"),
            (_local(day, 2, 0), "bed_sensor", "bed_exit", "bedroom"),
            (_local(day, 2, 1), "motion_sensor", "motion", "hallway"),
        ]
    )
    assert _of(await run_periodic_detectors(db, now=_local(day, 2, 30)), home.rid, Cause.NOT_BACK_IN_BED) == []
    [alarm] = _of(await run_periodic_detectors(db, now=_local(day, 2, 50)), home.rid, Cause.NOT_BACK_IN_BED)
    assert (alarm.priority, alarm.explanation_en) == (
        Priority.MEDIUM,
        "Out of bed since 02:00 (50 min) at night and not back.",
    )
    assert alarm.explanation_zh == "夜间 02:00 离床，已 50 分钟未回床。"
    await home.events([(_local(day, 2, 55), "bed_sensor", "bed_return", "bedroom")])
    [clear] = _of(await run_periodic_detectors(db, now=_local(day, 2, 56)), home.rid, Cause.NOT_BACK_IN_BED)
    assert clear.kind is SignalKind.CLEAR


async def test_a_day_without_any_activity_and_wristband_steps_end_it(db: Conn) -> None:
    home = await Home.create(db, "r-quiet-01")
    day = date(2026, 3, 11)
    await home.events([(_local(day - timedelta(days=1), 12, 0), "motion_sensor", "motion", "kitchen")])
    now = _local(day, 14, 0)
    signals = await run_periodic_detectors(db, now=now)
    [day_alarm] = _of(signals, home.rid, Cause.NO_ACTIVITY_DAY)
    assert day_alarm.explanation_en == "No activity at all for 26 h 00 min (since yesterday 12:00)."
    assert day_alarm.explanation_zh == "已 26 小时 00 分钟无任何活动（昨天 12:00 起）。"
    [quiet] = _of(signals, home.rid, Cause.INACTIVITY)
    assert quiet.explanation_en == "No movement since yesterday 12:00; usually up by 08:00."

    # No home sensor sees them, but the wristband counts steps (out shopping): that is activity.
    await home.steps(now.replace(second=0) + timedelta(minutes=3), 40, now=now + timedelta(minutes=5))
    signals = await run_periodic_detectors(db, now=now + timedelta(minutes=5))
    assert [s.kind for s in _of(signals, home.rid, Cause.NO_ACTIVITY_DAY)] == [SignalKind.CLEAR]
    assert [s.kind for s in _of(signals, home.rid, Cause.INACTIVITY)] == [SignalKind.CLEAR]


async def test_a_long_quiet_spell_after_getting_up(db: Conn) -> None:
    home = await Home.create(db, "r-spell-01")
    day = date(2026, 3, 11)
    await home.events(
        [
            (_local(day, 6, 30), "bed_sensor", "bed_exit", "bedroom"),
            (_local(day, 7, 0), "motion_sensor", "motion", "kitchen"),
            (_local(day, 9, 0), "motion_sensor", "motion", "living room"),
        ]
    )
    assert _of(await run_periodic_detectors(db, now=_local(day, 12, 50)), home.rid, Cause.INACTIVITY) == []
    [alarm] = _of(await run_periodic_detectors(db, now=_local(day, 13, 10)), home.rid, Cause.INACTIVITY)
    assert alarm.explanation_en == ("No movement for 4 h 10 min (since 09:00), during usual active hours 08:00–21:00.")
    assert alarm.explanation_zh == "09:00 起已 4 小时 10 分钟无活动（平时 08:00–21:00 为活动时段）。"
    # Past the active hours the alarm is neither repeated nor called over while nobody has moved.
    assert _of(await run_periodic_detectors(db, now=_local(day, 21, 30)), home.rid, Cause.INACTIVITY) == []
    await home.events([(_local(day, 21, 40), "motion_sensor", "motion", "hallway")])
    [clear] = _of(await run_periodic_detectors(db, now=_local(day, 21, 41)), home.rid, Cause.INACTIVITY)
    assert clear.kind is SignalKind.CLEAR


async def test_a_simulated_night_wander_raises_night_door_until_back_inside(db: Conn) -> None:
    sim = build_neighbourhood(1, seed=4, background_incidents=False).households[1]
    day = date(2026, 3, 10)
    sim.add_incident(NightOut(_local(day, 2, 0).timestamp(), minutes=60))
    home = await Home.create(db, "r-wander-01")

    async def report(start: datetime, end: datetime) -> list[tuple[datetime, str, str, str | None]]:
        rows = [
            (datetime.fromtimestamp(h.t, UTC), str(h.device), str(h.kind), h.room)
            for h in sim.happenings(start.timestamp(), end.timestamp())
            if isinstance(h, EventHappening) and str(h.device) in KINDS
        ]
        await home.events(rows)
        return rows

    out = await report(_local(day - timedelta(days=1), 12), _local(day, 2, 20))
    door = [ts for ts, _, kind, _ in out if kind == "door_open"][-1].astimezone(SHANGHAI)
    assert time(1, 55) <= door.time() <= time(2, 0)
    [alarm] = _of(await run_periodic_detectors(db, now=_local(day, 2, 20)), home.rid, Cause.NIGHT_DOOR)
    assert alarm.kind is SignalKind.ALARM
    assert alarm.explanation_en == f"Front door opened at night ({door:%H:%M}); no movement inside since."

    await report(_local(day, 2, 20), _local(day, 3, 30))  # back through the door, into the hallway
    [clear] = _of(await run_periodic_detectors(db, now=_local(day, 3, 30)), home.rid, Cause.NIGHT_DOOR)
    assert clear.kind is SignalKind.CLEAR
