"""Daily-rhythm alarms: not up, a long quiet spell, out of bed at night, night door, a day without activity.

Movement is any home-sensor event (motion, bed exit/return, door) or a wristband minute with steps
or clear activity counts. "Usually up by" is learnt from the resident's own first movement of the
day over the last weeks (a high quantile, so an ordinary late morning does not alarm), with a
default for a new resident. Every clock time is the resident's own local time
(``residents.timezone``); stored times are UTC instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from homecare.backend.detection.config import ActivitySettings, SettingsBook
from homecare.backend.detection.findings import Finding, State, duration_en, duration_zh, hhmm, resident_zone
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import Metric
from homecare.storage.connections import Conn

CAUSES: Final = (Cause.INACTIVITY, Cause.NOT_BACK_IN_BED, Cause.NIGHT_DOOR, Cause.NO_ACTIVITY_DAY)
MOVEMENT_COUNTS: Final = 100.0
"""A wristband minute with at least this many activity counts (or any steps) is movement; sleep stays below 30."""
HORIZON: Final = timedelta(days=30)
"""Residents without any movement in this long are not judged (nothing installed, or moved away)."""
BED_LOOKBACK: Final = timedelta(hours=24)
"""Bed events older than this say nothing about tonight."""
RECENT: Final = timedelta(hours=6)
"""Wristband movement is read per minute this far back, per hour before that."""

# The first movement event after the resident's day start, per local day, over the history.
_FIRST_UP: Final = """
WITH p AS (SELECT * FROM unnest(%(ids)s::int[], %(day_starts)s::time[]) AS p(resident_id, day_starts))
SELECT e.resident_id, (e.ts AT TIME ZONE r.timezone)::date AS day, min((e.ts AT TIME ZONE r.timezone)::time)
FROM events e
JOIN p ON p.resident_id = e.resident_id
JOIN residents r ON r.id = e.resident_id
WHERE e.ts >= %(since)s AND e.ts < %(now)s AND e.kind IN ('motion', 'bed_exit', 'door_open')
  AND (e.ts AT TIME ZONE r.timezone)::time >= p.day_starts
GROUP BY 1, 2
"""

# Per resident: the latest movement (events, then wristband minutes and hours), the latest bed
# events, the latest front-door opening at night and the latest home-sensor movement.
_RECENT: Final = """
WITH p AS (
    SELECT * FROM unnest(%(ids)s::int[], %(night_starts)s::time[], %(night_ends)s::time[],
                         %(door_since)s::timestamptz[])
        AS p(resident_id, night_starts, night_ends, door_since)
)
SELECT p.resident_id, r.timezone,
       (SELECT max(e.ts) FROM events e WHERE e.resident_id = p.resident_id AND e.ts >= %(horizon)s
           AND e.ts <= %(now)s AND e.kind IN ('motion', 'bed_exit', 'bed_return', 'door_open', 'door_closed'))
           AS last_event,
       -- One metric per subquery, so that each is a backward scan of the (resident, metric, bucket) index.
       GREATEST(
           (SELECT max(m.bucket) FROM telemetry_1m m WHERE m.resident_id = p.resident_id
               AND m.metric = %(steps)s AND m.bucket >= %(recent)s AND m.bucket <= %(now)s AND m.max > 0),
           (SELECT max(m.bucket) FROM telemetry_1m m WHERE m.resident_id = p.resident_id
               AND m.metric = %(activity)s AND m.bucket >= %(recent)s AND m.bucket <= %(now)s
               AND m.max >= %(counts)s)
       ) + interval '1 minute' AS last_band_minute,
       GREATEST(
           (SELECT max(h.bucket) FROM telemetry_1h h WHERE h.resident_id = p.resident_id
               AND h.metric = %(steps)s AND h.bucket >= %(horizon)s AND h.bucket <= %(now)s AND h.max > 0),
           (SELECT max(h.bucket) FROM telemetry_1h h WHERE h.resident_id = p.resident_id
               AND h.metric = %(activity)s AND h.bucket >= %(horizon)s AND h.bucket <= %(now)s
               AND h.max >= %(counts)s)
       ) AS last_band_hour,
       (SELECT max(e.ts) FROM events e WHERE e.resident_id = p.resident_id AND e.kind = 'bed_exit'
           AND e.ts >= %(bed_since)s AND e.ts <= %(now)s) AS last_bed_exit,
       (SELECT max(e.ts) FROM events e WHERE e.resident_id = p.resident_id AND e.kind = 'bed_return'
           AND e.ts >= %(bed_since)s AND e.ts <= %(now)s) AS last_bed_return,
       (SELECT max(e.ts) FROM events e WHERE e.resident_id = p.resident_id AND e.kind = 'door_open'
           AND e.ts >= p.door_since AND e.ts <= %(now)s
           AND CASE WHEN p.night_starts > p.night_ends
                    THEN (e.ts AT TIME ZONE r.timezone)::time >= p.night_starts
                      OR (e.ts AT TIME ZONE r.timezone)::time < p.night_ends
                    ELSE (e.ts AT TIME ZONE r.timezone)::time >= p.night_starts
                     AND (e.ts AT TIME ZONE r.timezone)::time < p.night_ends END) AS last_night_door,
       (SELECT max(e.ts) FROM events e WHERE e.resident_id = p.resident_id AND e.ts >= p.door_since
           AND e.ts <= %(now)s AND e.kind IN ('door_open', 'door_closed')) AS last_door_event,
       (SELECT max(e.ts) FROM events e WHERE e.resident_id = p.resident_id AND e.ts >= p.door_since
           AND e.ts <= %(now)s AND e.kind IN ('motion', 'bed_exit', 'bed_return')) AS last_home_event
FROM p JOIN residents r ON r.id = p.resident_id
"""


@dataclass(frozen=True, slots=True)
class UpBy:
    """When the resident is usually up, and where that comes from."""

    at: time
    learnt_from_days: int  # 0: the default (or a fixed setting)


def usual_up_by(first_up: list[time], settings: ActivitySettings) -> UpBy:
    """ "Usually up by": a fixed setting, else a high quantile of the first movement of past days, else the default."""
    if settings.up_by is not None:
        return UpBy(settings.up_by, 0)
    if len(first_up) < settings.min_history_days:
        return UpBy(settings.default_up_by, 0)
    minutes = np.array([t.hour * 60 + t.minute + t.second / 60 for t in first_up])
    at = float(np.quantile(minutes, settings.up_by_quantile))
    # Rounded up to 5 minutes: "usually up by 06:45" reads better than 06:43, and errs later.
    rounded = min(int(np.ceil(at / 5.0)) * 5, 23 * 60 + 55)
    return UpBy(time(rounded // 60, rounded % 60), len(first_up))


async def detect(conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]:
    """Findings for every resident with movement data in the last 30 days."""
    cursor = await conn.execute(
        "SELECT r.id, r.timezone, a.learnt_on, a.up_by, a.days "
        "FROM residents r LEFT JOIN activity_rhythms a ON a.resident_id = r.id ORDER BY r.id"
    )
    residents = await cursor.fetchall()
    settings = {rid: book.for_resident(rid).activity for rid, *_ in residents}
    ids = [rid for rid, *_ in residents if settings[rid].enabled]
    if not ids:
        return []
    up_by: dict[int, UpBy] = {}
    today: dict[int, date] = {}
    for rid, timezone, learnt_on, at, days in residents:
        today[rid] = now.astimezone(resident_zone(timezone)).date()
        if learnt_on == today[rid]:
            up_by[rid] = UpBy(at, days)
    # Learnt once per local day: the history of first movements only changes at midnight.
    await _learn(
        conn, now=now, ids=[rid for rid in ids if rid not in up_by], settings=settings, today=today, into=up_by
    )
    cursor = await conn.execute(
        _RECENT,
        {
            "ids": ids,
            "night_starts": [settings[rid].night_starts for rid in ids],
            "night_ends": [settings[rid].night_ends for rid in ids],
            "door_since": [now - timedelta(hours=settings[rid].night_door_lookback_h) for rid in ids],
            "horizon": now - HORIZON,
            "recent": now - RECENT,
            "bed_since": now - BED_LOOKBACK,
            "now": now,
            "steps": int(Metric.STEPS),
            "activity": int(Metric.ACTIVITY),
            "counts": MOVEMENT_COUNTS,
        },
    )
    findings: list[Finding] = []
    for row in await cursor.fetchall():
        (
            rid,
            timezone,
            last_event,
            band_minute,
            band_hour,
            bed_exit,
            bed_return,
            night_door,
            door_event,
            home_event,
        ) = row
        s = settings[rid]
        zone = resident_zone(timezone)
        local_now = now.astimezone(zone)
        # Older than the minute window: the start of the hour it was in (erring early).
        band = band_minute if band_minute is not None else band_hour
        last_move = max((t for t in (last_event, band) if t is not None), default=None)
        if last_move is None:
            continue
        last_move = min(last_move, now)
        usual = up_by.get(rid)
        if s.up_by is not None or usual is None or usual.learnt_from_days < s.min_history_days:
            usual = usual_up_by([], s)  # a fixed setting, or the default (not enough history)
        view = _View(rid, s, zone, now, local_now, last_move)
        findings.append(view.inactivity(usual))
        findings.append(view.not_back_in_bed(bed_exit, bed_return))
        findings.append(view.night_door(night_door, bed_return, door_event, home_event))
        findings.append(view.no_activity_day())
    return [f for f in findings if f.state is not State.UNKNOWN]


async def _learn(
    conn: Conn,
    *,
    now: datetime,
    ids: list[int],
    settings: dict[int, ActivitySettings],
    today: dict[int, date],
    into: dict[int, UpBy],
) -> None:
    """Learn "usually up by" for these residents from their history, store it for the day, add it to ``into``."""
    if not ids:
        return
    longest_history = max(settings[rid].history_days for rid in ids)
    cursor = await conn.execute(
        _FIRST_UP,
        {
            "ids": ids,
            "day_starts": [settings[rid].day_starts for rid in ids],
            "since": now - timedelta(days=longest_history + 1),
            "now": now,
        },
    )
    first_up: dict[int, dict[date, time]] = {}
    for rid, day, at in await cursor.fetchall():
        first_up.setdefault(rid, {})[day] = at
    rows = []
    for rid in ids:
        s, days = settings[rid], first_up.get(rid, {})
        history = [days[day] for day in sorted(days) if day < today[rid]][-s.history_days :]
        learnt = usual_up_by(history, s.model_copy(update={"up_by": None}))
        into[rid] = learnt
        rows.append((rid, today[rid], learnt.at, learnt.learnt_from_days))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO activity_rhythms (resident_id, learnt_on, up_by, days) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (resident_id) DO UPDATE "
            "SET learnt_on = excluded.learnt_on, up_by = excluded.up_by, days = excluded.days",
            rows,
        )


@dataclass(frozen=True, slots=True)
class _View:
    """One resident's recent movement, judged against their settings."""

    resident_id: int
    s: ActivitySettings
    zone: ZoneInfo
    now: datetime
    local_now: datetime
    last_move: datetime

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone)

    def _is_night(self, moment: datetime) -> bool:
        t: time = moment.astimezone(self.zone).time()
        start: time = self.s.night_starts
        end: time = self.s.night_ends
        return bool(t >= start or t < end) if start > end else bool(start <= t < end)

    def _when(self, moment: datetime) -> tuple[str, str]:
        """A local time for an explanation, with the day when it is not today."""
        local = moment.astimezone(self.zone)
        days = (self.local_now.date() - local.date()).days
        clock = hhmm(moment, self.zone)
        if days == 0:
            return clock, clock
        if days == 1:
            return f"yesterday {clock}", f"昨天 {clock}"
        return f"{local:%m-%d} {clock}", f"{local.month}月{local.day}日 {clock}"

    def _finding(self, cause: Cause, state: State, en: str = "", zh: str = "") -> Finding:
        return Finding(self.resident_id, cause, state, explanation_en=en, explanation_zh=zh)

    def inactivity(self, up_by: UpBy) -> Finding:
        s, now, today = self.s, self.now, self.local_now.date()
        day_start = self._local(today, s.day_starts)
        active_end = self._local(today, s.active_until)
        up_deadline = self._local(today, up_by.at) + timedelta(minutes=s.grace_min)
        quiet = now - self.last_move
        since_en, since_zh = self._when(self.last_move)
        usual = up_by.at.strftime("%H:%M")
        if day_start <= now < active_end and now >= up_deadline and self.last_move < day_start:
            return self._finding(
                Cause.INACTIVITY,
                State.HOLDS,
                f"No movement since {since_en}; usually up by {usual}.",
                f"{since_zh} 起无活动；平时 {usual} 前起床。",
            )
        # A long quiet spell after being up today (not up at all is the rule above, with its grace).
        active_start = self._local(today, up_by.at)
        if (
            active_start <= now < active_end
            and self.last_move >= day_start
            and quiet >= timedelta(minutes=s.quiet_max_min)
        ):
            return self._finding(
                Cause.INACTIVITY,
                State.HOLDS,
                f"No movement for {duration_en(quiet)} (since {since_en}), during usual active hours "
                f"{usual}–{s.active_until:%H:%M}.",
                f"{since_zh} 起已 {duration_zh(quiet)}无活动（平时 {usual}–{s.active_until:%H:%M} 为活动时段）。",
            )
        if quiet < timedelta(minutes=s.quiet_max_min):
            return self._finding(
                Cause.INACTIVITY, State.GONE, f"Moving again (last at {since_en}).", f"已恢复活动（最近 {since_zh}）。"
            )
        # Outside active hours without recent movement: not a new alarm, but no reason to call an open one over.
        return self._finding(Cause.INACTIVITY, State.UNKNOWN)

    def not_back_in_bed(self, bed_exit: datetime | None, bed_return: datetime | None) -> Finding:
        if bed_exit is None:
            return self._finding(Cause.NOT_BACK_IN_BED, State.UNKNOWN)  # no bed sensor (or never used)
        if bed_return is not None and bed_return >= bed_exit:
            return self._finding(Cause.NOT_BACK_IN_BED, State.GONE, "Back in bed.", "已回到床上。")
        out_for = self.now - bed_exit
        if (
            self._is_night(self.now)
            and self._is_night(bed_exit)
            and out_for >= timedelta(minutes=self.s.out_of_bed_max_min)
        ):
            when_en, when_zh = self._when(bed_exit)
            return self._finding(
                Cause.NOT_BACK_IN_BED,
                State.HOLDS,
                f"Out of bed since {when_en} ({duration_en(out_for)}) at night and not back.",
                f"夜间 {when_zh} 离床，已 {duration_zh(out_for)}未回床。",
            )
        if self._is_night(self.now):
            return self._finding(Cause.NOT_BACK_IN_BED, State.GONE, "Out of bed only briefly.", "离床时间不长。")
        if self.last_move > bed_exit:
            return self._finding(Cause.NOT_BACK_IN_BED, State.GONE, "Up and about for the day.", "已起床活动。")
        return self._finding(Cause.NOT_BACK_IN_BED, State.UNKNOWN)

    def night_door(
        self,
        night_door: datetime | None,
        bed_return: datetime | None,
        door_event: datetime | None,
        home_event: datetime | None,
    ) -> Finding:
        if night_door is None:
            return self._finding(Cause.NIGHT_DOOR, State.GONE, "No door opened at night.", "夜间无开门。")
        if bed_return is not None and bed_return > night_door:
            return self._finding(Cause.NIGHT_DOOR, State.GONE, "Back in bed.", "已回到床上。")
        # Movement inside after the last door event: they came back in (or never went out).
        if home_event is not None and door_event is not None and home_event > door_event:
            return self._finding(Cause.NIGHT_DOOR, State.GONE, "Back inside.", "已回到室内。")
        when_en, when_zh = self._when(night_door)
        return self._finding(
            Cause.NIGHT_DOOR,
            State.HOLDS,
            f"Front door opened at night ({when_en}); no movement inside since.",
            f"夜间 {when_zh} 大门被打开，之后室内无活动。",
        )

    def no_activity_day(self) -> Finding:
        quiet = self.now - self.last_move
        if quiet >= timedelta(hours=self.s.no_activity_hours):
            since_en, since_zh = self._when(self.last_move)
            return self._finding(
                Cause.NO_ACTIVITY_DAY,
                State.HOLDS,
                f"No activity at all for {duration_en(quiet)} (since {since_en}).",
                f"已 {duration_zh(quiet)}无任何活动（{since_zh} 起）。",
            )
        return self._finding(Cause.NO_ACTIVITY_DAY, State.GONE, "Activity seen again.", "已有活动。")
