"""The family status page: who I follow, how they are at a glance, their incident history and their nights."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Final, cast
from zoneinfo import ZoneInfo

from homecare.backend.accounts.models import Actor
from homecare.backend.detection.baseline import FEATURES
from homecare.backend.detection.config import get_settings
from homecare.backend.devices.repository import device_status
from homecare.backend.family import InvalidRange
from homecare.backend.family import repository as repo
from homecare.backend.family.models import (
    ActivitySource,
    BaselineChange,
    BaselineDay,
    BaselineDeviation,
    FamilyDevice,
    FamilyIncident,
    FamilyStatus,
    FollowedResident,
    HealthChecks,
    LastActivity,
    LatestBloodPressure,
    LatestGlucose,
    Night,
    Reason,
    Sleep,
    State,
    TodayVsUsual,
)
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents.access import Share, open_resident
from homecare.contracts.messages import GLUCOSE_METRICS, Metric
from homecare.storage.connections import Conn

LOW_BATTERY_PCT: Final = 20
NO_ACTIVITY_LONG: Final = timedelta(hours=12)
"""No movement for this long needs attention: longer than a night's sleep, shorter than the detectors' full day."""
USUAL_DAYS: Final = 14
MIN_USUAL_DAYS: Final = 3
MAX_NIGHTS: Final = 60
HISTORY_LIMIT: Final = 100
BASELINE_FRESH: Final = timedelta(days=2)
"""A welfare verdict is shown while it is about yesterday or the day before (not once the data stopped)."""
NIGHT_STARTS: Final = time(18, 0)
"""A night runs from 18:00 the evening before to 12:00 on its morning, the resident's local time."""
NIGHT_ENDS: Final = time(12, 0)
LONGEST_STAY: Final = timedelta(hours=16)
"""A stay in bed longer than this is a missed exit event, not sleep: it is left out."""
_HOUR: Final = timedelta(hours=1)
HEALTH_CHECKS_WITHIN: Final = timedelta(days=30)
"""The family page shows the latest blood pressure and glucose of this long (the raw readings' default retention)."""
_MEALS: Final = {int(metric): meal for meal, metric in GLUCOSE_METRICS.items()}


async def followed(conn: Conn, *, actor: Actor) -> list[FollowedResident]:
    """The residents linked to the signed-in user (none for staff: they have no family links)."""
    return [] if actor.user_id is None else await repo.followed(conn, user_id=actor.user_id)


async def _may(conn: Conn, *, actor: Actor, resident_id: int, action: str, share: Share) -> bool:
    """Whether the resident shares this with the actor too (the opening is logged like any other)."""
    try:
        await open_resident(conn, actor=actor, resident_id=resident_id, action=action, share=share)
    except ResidentNotFound:
        return False
    return True


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _overlap(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> timedelta:
    return max(timedelta(0), min(end, window_end) - max(start, window_start))


def today_vs_usual(totals: Iterable[repo.HourTotal], *, now: datetime, zone: ZoneInfo) -> TodayVsUsual:
    """Steps since local midnight, against the median of the same stretch of each earlier day that has data;
    the hour holding that stretch's end counts pro rata."""
    hours = list(totals)
    today = now.astimezone(zone).date()
    start = _midnight(today, zone)
    elapsed = now - start
    so_far = sum(h.total for h in hours if h.bucket >= start)
    usual = []
    for back in range(1, USUAL_DAYS + 1):
        day_start = _midnight(today - timedelta(days=back), zone)
        day_end = _midnight(today - timedelta(days=back - 1), zone)
        day = [h for h in hours if day_start <= h.bucket < day_end]
        if day:
            usual.append(
                sum(
                    h.total * (_overlap(h.bucket, h.bucket + _HOUR, day_start, day_start + elapsed) / _HOUR)
                    for h in day
                )
            )
    return TodayVsUsual(
        today=so_far, usual=statistics.median(usual) if len(usual) >= MIN_USUAL_DAYS else None, usual_days=len(usual)
    )


def _state(
    open_incidents: list[repo.OpenIncident], devices: list[FamilyDevice], last: LastActivity | None, now: datetime
) -> tuple[State, list[Reason]]:
    helping, worrying = [], []
    for incident in open_incidents:
        # Help is on the way only once someone has said yes: a station that accepted, or emergency services
        # that said they are sending someone; a station that was only asked is not help.
        if incident.task_status == "on_scene" or incident.status == "on_scene":
            helping.append(Reason(code="responder_on_scene", cause=incident.cause, since=incident.on_scene_at))
        elif incident.task_status is not None:
            helping.append(Reason(code="help_on_the_way", cause=incident.cause, since=incident.dispatched_at))
        elif incident.emergency is not None:
            helping.append(Reason(code="emergency_on_the_way", cause=incident.cause, service=incident.emergency))
        else:
            worrying.append(Reason(code="incident", cause=incident.cause, since=incident.opened_at))
    for device in devices:
        if not device.online:
            worrying.append(Reason(code="device_offline", device_kind=device.kind, since=device.last_seen_at))
        elif device.battery is not None and device.battery < LOW_BATTERY_PCT and not device.charging:
            worrying.append(Reason(code="low_battery", device_kind=device.kind, battery=device.battery))
    if last is not None and now - last.at >= NO_ACTIVITY_LONG:
        worrying.append(Reason(code="no_activity", since=last.at))
    if helping:
        return "help_on_the_way", helping + worrying
    return ("needs_attention" if worrying else "all_well"), worrying


async def _last_activity(conn: Conn, *, resident_id: int, now: datetime) -> LastActivity | None:
    event = await repo.last_movement_event(conn, resident_id=resident_id, now=now)
    band = await repo.last_wristband_movement(
        conn,
        resident_id=resident_id,
        now=now,
        minutes_since=now - timedelta(hours=24),
        hours_since=now - timedelta(days=30),
    )
    found = [
        (m.at, cast(ActivitySource, repo.MOVEMENT_EVENTS.get(m.source, m.source)))
        for m in (event, band)
        if m is not None
    ]
    if not found:
        return None
    at, source = max(found)
    return LastActivity(at=at, source=source)


async def status(conn: Conn, *, actor: Actor, resident_id: int, now: datetime) -> FamilyStatus:
    """All well, needs attention, or help is on the way — with why, last activity, today and the devices."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="family.status", share="status")
        resident = await repo.resident(conn, resident_id=resident_id)
        assert resident is not None  # open_resident found them
        zone = ZoneInfo(resident.timezone)
        open_incidents = await repo.open_incidents(conn, resident_id=resident_id)
        devices = [
            FamilyDevice(
                kind=d.kind, online=d.online, battery=d.battery, charging=d.charging, last_seen_at=d.last_seen_at
            )
            for d in await device_status(conn, resident_id=resident_id, now=now)
        ]
        last = await _last_activity(conn, resident_id=resident_id, now=now)
        today = None
        if await _may(conn, actor=actor, resident_id=resident_id, action="family.today", share="activity"):
            start = _midnight(now.astimezone(zone).date() - timedelta(days=USUAL_DAYS), zone)
            today = today_vs_usual(
                await repo.hourly_totals(conn, resident_id=resident_id, metric=Metric.STEPS, start=start, end=now),
                now=now,
                zone=zone,
            )
        change = None
        if await _may(conn, actor=actor, resident_id=resident_id, action="family.baseline", share="vitals"):
            change = await _baseline_change(conn, resident_id=resident_id, today=now.astimezone(zone).date())
        checks = None
        if await _may(conn, actor=actor, resident_id=resident_id, action="family.health_checks", share="vitals"):
            checks = await _health_checks(conn, resident_id=resident_id, now=now)
    state, reasons = _state(open_incidents, devices, last, now)
    return FamilyStatus(
        resident_id=resident_id,
        display_name=resident.display_name,
        timezone=resident.timezone,
        state=state,
        reasons=reasons,
        last_activity=last,
        today=today,
        baseline=change,
        health_checks=checks,
        devices=devices,
        now=now,
    )


async def _health_checks(conn: Conn, *, resident_id: int, now: datetime) -> HealthChecks:
    """The latest blood pressure (its values taken together) and the latest glucose, in any meal context."""
    points = await repo.latest_health_checks(conn, resident_id=resident_id, since=now - HEALTH_CHECKS_WITHIN, now=now)
    latest = {Metric(p.metric): p for p in points}
    pressure = None
    systolic, diastolic = latest.get(Metric.BP_SYSTOLIC), latest.get(Metric.BP_DIASTOLIC)
    if systolic is not None and diastolic is not None:
        pulse = latest.get(Metric.BP_PULSE)
        pressure = LatestBloodPressure(
            systolic=systolic.value,
            diastolic=diastolic.value,
            pulse=pulse.value if pulse is not None and pulse.ts == systolic.ts else None,
            at=systolic.ts,
        )
    glucose = next((p for p in points if p.metric in _MEALS), None)  # newest first
    return HealthChecks(
        blood_pressure=pressure,
        glucose=None
        if glucose is None
        else LatestGlucose(mmol_per_l=glucose.value, meal=_MEALS[glucose.metric], at=glucose.ts),
    )


async def _baseline_change(conn: Conn, *, resident_id: int, today: date) -> BaselineChange | None:
    """Yesterday's (or the day before's) unusual verdict of the personal baseline, with its chart's days."""
    found = await repo.baseline_verdict(conn, resident_id=resident_id, since=today - BASELINE_FRESH)
    if found is None:
        return None
    day, judged = found
    deviations = [BaselineDeviation.model_validate(d) for d in judged["deviations"]]
    if not deviations:
        return None
    settings = await get_settings(conn, resident_id=resident_id)
    since = day - timedelta(days=settings.baseline.history_days)
    series = await repo.baseline_series(
        conn, resident_id=resident_id, feature=FEATURES.index(deviations[0].feature), since=since
    )
    return BaselineChange(
        day=day,
        overall=bool(judged["overall"]),
        deviations=deviations,
        series=[BaselineDay(day=d, value=v) for d, v in series if d <= day],
    )


async def incidents(conn: Conn, *, actor: Actor, resident_id: int) -> list[FamilyIncident]:
    """The resident's incidents, newest first, with outcomes and without the operators' notes."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="family.incidents", share="incidents")
        return await repo.incident_history(conn, resident_id=resident_id, limit=HISTORY_LIMIT)


def nights(events: Iterable[repo.BedEvent], *, days: list[date], zone: ZoneInfo, now: datetime) -> list[Night]:
    """Time in bed per night: each stay runs from a bed return to the next bed exit (or now, if still in bed)
    and counts within the night's 18:00–12:00 window."""
    stays: list[tuple[datetime, datetime]] = []
    since: datetime | None = None
    for event in events:
        if event.kind == "bed_return":
            since = since or event.ts
        elif since is not None:
            stays.append((since, event.ts))
            since = None
    if since is not None:
        stays.append((since, now))
    stays = [(a, b) for a, b in stays if b - a <= LONGEST_STAY]
    result = []
    for day in days:
        start = datetime.combine(day - timedelta(days=1), NIGHT_STARTS, zone)
        end = datetime.combine(day, NIGHT_ENDS, zone)
        inside = [(max(a, start), min(b, end)) for a, b in stays if a < end and b > start]
        hours = sum((b - a).total_seconds() for a, b in inside) / 3600
        result.append(
            Night(
                night_of=day,
                hours=round(hours, 2) if inside else None,
                in_bed_at=min((a for a, _ in inside), default=None),
                up_at=max((b for _, b in inside), default=None),
            )
        )
    return result


async def sleep(conn: Conn, *, actor: Actor, resident_id: int, nights_back: int, now: datetime) -> Sleep:
    """The last ``nights_back`` nights (the latest is the one ending this morning), oldest first."""
    if not 1 <= nights_back <= MAX_NIGHTS:
        raise InvalidRange(f"ask for 1 to {MAX_NIGHTS} nights")
    async with conn.transaction():
        await open_resident(
            conn,
            actor=actor,
            resident_id=resident_id,
            action="family.sleep",
            share="activity",
            detail={"nights": nights_back},
        )
        resident = await repo.resident(conn, resident_id=resident_id)
        assert resident is not None
        zone = ZoneInfo(resident.timezone)
        today = now.astimezone(zone).date()
        days = [today - timedelta(days=back) for back in range(nights_back - 1, -1, -1)]
        # A day earlier than the first night's window, so a stay that started before it is seen whole.
        start = datetime.combine(days[0] - timedelta(days=2), NIGHT_STARTS, zone)
        events = await repo.bed_events(conn, resident_id=resident_id, start=start, end=now)
    return Sleep(resident_id=resident_id, nights=nights(events, days=days, zone=zone, now=now))
