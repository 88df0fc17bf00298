"""Computes the reports from stored incidents, device state and visits; each read is recorded in the access log."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from homecare.backend.accounts.models import Actor
from homecare.backend.care import carers
from homecare.backend.incidents.policy import AnswerTargets
from homecare.backend.inputs import EARLIEST_DAY, LATEST_DAY
from homecare.backend.reports import InvalidReportQuery
from homecare.backend.reports import repository as repo
from homecare.backend.reports.models import (
    HEALTH_MANAGEMENT_TARGET,
    WELFARE_TARGET,
    AcknowledgeFigures,
    Breach,
    Coverage,
    GroupFigures,
    HealthManagement,
    OnSceneFigures,
    Period,
    ResidentCoverage,
    ResponseTimes,
    ServiceQuality,
    UncheckedResident,
    UnvisitedResident,
    WelfareVisits,
)
from homecare.backend.reports.repository import AlarmRow
from homecare.backend.residents.repository import record_access
from homecare.backend.zones import find_zone
from homecare.storage.connections import Conn

MAX_PERIOD_DAYS: Final = 366
DEFAULT_PERIOD_DAYS: Final = 30
COVERAGE_WINDOW: Final = timedelta(hours=24)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone with this name, or InvalidReportQuery."""
    found = find_zone(name)
    if found is None:
        raise InvalidReportQuery(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai")
    return found


def period(*, start: date | None, end: date | None, timezone: str, now: datetime | None = None) -> Period:
    """Local days [start, end] in the zone; by default the last 30 days up to today."""
    tz = zone(timezone)
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if end < start:
        raise InvalidReportQuery("end must not be before start")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidReportQuery(f"a period may span at most {MAX_PERIOD_DAYS} days")
    return Period(
        start_date=start,
        end_date=end,
        timezone=tz.key,
        start=datetime.combine(start, time(), tz),
        end=datetime.combine(end + timedelta(days=1), time(), tz),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _seconds(later: datetime, earlier: datetime) -> float:
    return max((later - earlier).total_seconds(), 0.0)


def ack_wait(alarm: AlarmRow, now: datetime) -> float:
    """Seconds from alarm to acknowledgement, or to closing (or now) for an alarm nobody acknowledged."""
    if alarm.acknowledged_at is not None:
        return _seconds(alarm.acknowledged_at, alarm.alarm_at)
    return _seconds(alarm.closed_at or now, alarm.alarm_at)


def is_counted(alarm: AlarmRow, now: datetime, targets: AnswerTargets) -> bool:
    """Counted in the shares: acknowledged, or left unacknowledged for longer than the answer target (60 s)."""
    return alarm.acknowledged_at is not None or ack_wait(alarm, now) > targets.target.within_s


def _acknowledge_figures(alarms: Sequence[AlarmRow], now: datetime, targets: AnswerTargets) -> AcknowledgeFigures:
    counted = [a for a in alarms if is_counted(a, now, targets)]
    waits = [ack_wait(a, now) for a in counted if a.acknowledged_at is not None]
    within_60 = sum(1 for w in waits if w <= targets.target.within_s)
    within_180 = sum(1 for w in waits if w <= targets.limit.within_s)
    share_60, share_180 = _share(within_60, len(counted)), _share(within_180, len(counted))
    return AcknowledgeFigures(
        alarms=len(alarms),
        counted=len(counted),
        acknowledged=len(waits),
        unacknowledged=len(counted) - len(waits),
        withdrawn=len(alarms) - len(counted),
        median_s=percentile(waits, 0.5),
        p90_s=percentile(waits, 0.9),
        within_60s=within_60,
        within_180s=within_180,
        share_within_60s=share_60,
        share_within_180s=share_180,
        target_within_60s=targets.target.share,
        target_within_180s=targets.limit.share,
        answer_target_s=targets.target.within_s,
        answer_limit_s=targets.limit.within_s,
        meets_60s_target=None if share_60 is None else share_60 >= targets.target.share,
        meets_180s_target=None if share_180 is None else share_180 >= targets.limit.share,
    )


def _on_scene_waits(alarms: Sequence[AlarmRow]) -> list[float]:
    return [_seconds(a.on_scene_at, a.alarm_at) for a in alarms if a.on_scene_at is not None]


def _group(
    alarms: Sequence[AlarmRow], key: Callable[[AlarmRow], tuple[str, int | None] | None], targets: AnswerTargets
) -> list[GroupFigures]:
    groups: dict[tuple[str, int | None], list[AlarmRow]] = defaultdict(list)
    for alarm in alarms:
        k = key(alarm)
        if k is not None:
            groups[k].append(alarm)
    figures = []
    for (name, station_id), members in sorted(groups.items(), key=lambda item: item[0][0]):
        waits = [_seconds(a.acknowledged_at, a.alarm_at) for a in members if a.acknowledged_at is not None]
        scene = _on_scene_waits(members)
        figures.append(
            GroupFigures(
                key=name,
                station_id=station_id,
                alarms=len(members),
                acknowledged=len(waits),
                median_ack_s=percentile(waits, 0.5),
                p90_ack_s=percentile(waits, 0.9),
                share_within_60s=_share(sum(1 for w in waits if w <= targets.target.within_s), len(waits)),
                share_within_180s=_share(sum(1 for w in waits if w <= targets.limit.within_s), len(waits)),
                on_scene=len(scene),
                median_on_scene_s=percentile(scene, 0.5),
                p90_on_scene_s=percentile(scene, 0.9),
            )
        )
    return figures


def compute_response_times(
    alarms: Sequence[AlarmRow], *, period: Period, now: datetime, targets: AnswerTargets
) -> ResponseTimes:
    """The response-times report over these alarms against the policy's answer targets (pure: the tests check
    it against hand-made rows)."""
    tz = ZoneInfo(period.timezone)

    def local(moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.astimezone(tz)

    breaches = [
        Breach(
            incident_id=a.incident_id,
            resident_id=a.resident_id,
            resident_name=a.resident_name,
            cause=a.cause,
            priority=a.priority,
            status=a.status,
            alarm_at=a.alarm_at.astimezone(tz),
            acknowledged_at=local(a.acknowledged_at),
            acknowledged_by=a.acknowledged_by,
            acknowledged_by_name=a.acknowledged_by_name,
            wait_s=ack_wait(a, now),
            missed_180s=a.acknowledged_at is None or ack_wait(a, now) > targets.limit.within_s,
            station_id=a.station_id,
            station_name=a.station_name,
        )
        for a in alarms
        if is_counted(a, now, targets) and (a.acknowledged_at is None or ack_wait(a, now) > targets.target.within_s)
    ]
    scene = _on_scene_waits(alarms)
    return ResponseTimes(
        period=period,
        acknowledge=_acknowledge_figures(alarms, now, targets),
        on_scene=OnSceneFigures(count=len(scene), median_s=percentile(scene, 0.5), p90_s=percentile(scene, 0.9)),
        by_operator=_group(alarms, lambda a: None if a.acknowledged_by is None else (a.acknowledged_by, None), targets),
        by_station=_group(
            alarms,
            lambda a: ("(no station)", None) if a.station_id is None else (a.station_name or "", a.station_id),
            targets,
        ),
        breaches=breaches,
    )


async def response_times(
    conn: Conn,
    *,
    actor: str,
    start: date | None,
    end: date | None,
    timezone: str,
    targets: AnswerTargets,
    now: datetime | None = None,
) -> ResponseTimes:
    """Time to acknowledge (median, p90, shares within the answer targets of 60 s and 180 s, every breach) and
    to on-scene."""
    now = now or datetime.now(UTC)
    span = period(start=start, end=end, timezone=timezone, now=now)
    async with conn.transaction():
        alarms = await repo.alarms_between(conn, start=span.start, end=span.end)
        await record_access(
            conn,
            actor=actor,
            resident_id=None,
            action="reports.response_times",
            detail={"start": span.start_date.isoformat(), "end": span.end_date.isoformat(), "tz": span.timezone},
        )
    return compute_response_times(alarms, period=span, now=now, targets=targets)


async def coverage(conn: Conn, *, actor: str, timezone: str, now: datetime | None = None) -> Coverage:
    """Share of enrolled residents whose devices were online in the last 24 hours (device_state.last_seen_at)."""
    tz = zone(timezone)
    now = now or datetime.now(UTC)
    async with conn.transaction():
        rows = await repo.coverage(conn, since=now - COVERAGE_WINDOW)
        await record_access(conn, actor=actor, resident_id=None, action="reports.coverage", detail=None)
    covered = sum(1 for r in rows if r.devices_online > 0)
    full = sum(1 for r in rows if r.devices_online == r.devices)
    return Coverage(
        at=now.astimezone(tz),
        window_hours=int(COVERAGE_WINDOW.total_seconds() // 3600),
        timezone=tz.key,
        enrolled=len(rows),
        covered=covered,
        fully_covered=full,
        online_now=sum(1 for r in rows if r.devices_online_now == r.devices),
        share_covered=_share(covered, len(rows)),
        share_fully_covered=_share(full, len(rows)),
        gaps=[
            ResidentCoverage(
                resident_id=r.resident_id,
                resident_name=r.resident_name,
                station_id=r.station_id,
                station_name=r.station_name,
                devices=r.devices,
                devices_online=r.devices_online,
                covered=r.devices_online > 0,
                last_seen_at=None if r.last_seen_at is None else r.last_seen_at.astimezone(tz),
            )
            for r in rows
            if r.devices_online < r.devices
        ],
    )


def month_bounds(month: str | None, *, timezone: str, now: datetime | None = None) -> tuple[str, datetime, datetime]:
    """'YYYY-MM' (default: the current month in the zone) and its first and next month's first local midnight."""
    tz = zone(timezone)
    if month is None:
        today = (now or datetime.now(UTC)).astimezone(tz).date()
        year, number = today.year, today.month
    else:
        match = _MONTH.match(month)
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise InvalidReportQuery(f"month must look like 2026-11, got {month!r}")
        year, number = int(match.group(1)), int(match.group(2))
        if not EARLIEST_DAY.year <= year <= LATEST_DAY.year:
            raise InvalidReportQuery(f"month must lie in the years {EARLIEST_DAY.year}–{LATEST_DAY.year}")
    first = datetime(year, number, 1, tzinfo=tz)
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return f"{year:04d}-{number:02d}", first, after


async def welfare_visits(
    conn: Conn, *, actor: str, month: str | None, timezone: str, now: datetime | None = None
) -> WelfareVisits:
    """Share of vulnerable residents visited at least once in the month, and who was not."""
    label, start, end = month_bounds(month, timezone=timezone, now=now)
    tz = zone(timezone)
    async with conn.transaction():
        rows = await repo.vulnerable_visits(conn, start=start, end=end)
        await record_access(
            conn, actor=actor, resident_id=None, action="reports.welfare_visits", detail={"month": label}
        )
    visited = sum(1 for r in rows if r.visits > 0)
    rate = _share(visited, len(rows))
    return WelfareVisits(
        month=label,
        timezone=tz.key,
        start=start,
        end=end,
        vulnerable=len(rows),
        visited=visited,
        rate=rate,
        meets_target=None if rate is None else rate >= WELFARE_TARGET,
        not_visited=[
            UnvisitedResident(
                resident_id=r.resident_id,
                resident_name=r.resident_name,
                station_id=r.station_id,
                station_name=r.station_name,
                last_visit_at=None if r.last_visit_at is None else r.last_visit_at.astimezone(tz),
            )
            for r in rows
            if r.visits == 0
        ],
    )


async def service_quality(
    conn: Conn, *, actor: Actor, month: str | None, timezone: str, late_after: timedelta, now: datetime | None = None
) -> ServiceQuality:
    """The month's home-service figures per providing station and carer (visits begun by now)."""
    now = now or datetime.now(UTC)
    label, start, end = month_bounds(month, timezone=timezone, now=now)
    async with conn.transaction():
        lines = await carers.figures(
            conn, actor=actor, station_id=None, since=start, until=end, now=now, late_after=late_after
        )
        await record_access(
            conn, actor=actor.name, resident_id=None, action="reports.service_quality", detail={"month": label}
        )
    return ServiceQuality(month=label, timezone=zone(timezone).key, start=start, end=end, lines=lines)


async def health_management(
    conn: Conn, *, actor: str, start: date | None, end: date | None, timezone: str, now: datetime | None = None
) -> HealthManagement:
    """Share of residents with a home health check (blood pressure or glucose) in the period, and who had none."""
    now = now or datetime.now(UTC)
    span = period(start=start, end=end, timezone=timezone, now=now)
    async with conn.transaction():
        rows = await repo.health_checks(conn, start=span.start, end=span.end, now=now)
        await record_access(
            conn,
            actor=actor,
            resident_id=None,
            action="reports.health_management",
            detail={"start": span.start_date.isoformat(), "end": span.end_date.isoformat(), "tz": span.timezone},
        )
    checked = sum(1 for r in rows if r.checked)
    rate = _share(checked, len(rows))
    return HealthManagement(
        period=span,
        residents=len(rows),
        checked=checked,
        rate=rate,
        meets_target=None if rate is None else rate >= HEALTH_MANAGEMENT_TARGET,
        not_checked=[
            UncheckedResident(
                resident_id=r.resident_id,
                resident_name=r.resident_name,
                station_id=r.station_id,
                station_name=r.station_name,
            )
            for r in rows
            if not r.checked
        ],
    )
