"""Reads of a resident's vitals, each recorded in the access log in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from homecare.backend.accounts.models import Actor, Role
from homecare.backend.devices.repository import device_ids_for_resident
from homecare.backend.residents.access import Share, open_resident
from homecare.backend.telemetry import InvalidTimeRange, UnknownMetric
from homecare.backend.telemetry import repository as repo
from homecare.backend.telemetry.models import (
    METRIC_NAMES,
    LatestValue,
    RawPoint,
    RecentVitals,
    Resolution,
    RollupBucket,
    Rollups,
    metric_name,
    unit_of,
)
from homecare.contracts.messages import Metric
from homecare.storage.connections import Conn
from homecare.storage.rollups import floor_time

RECENT_MAX_AGE: Final = timedelta(hours=24)
RECENT_DEFAULT_AGE: Final = timedelta(hours=1)
LATEST_WITHIN: Final = timedelta(hours=24)
MAX_POINTS: Final = 10_000


def parse_metric(name: str) -> Metric:
    """The metric with this API name (``heart_rate``, ``spo2``, …)."""
    try:
        return METRIC_NAMES[name]
    except KeyError:
        raise UnknownMetric(f"unknown metric {name!r}; known metrics: {', '.join(METRIC_NAMES)}") from None


_ACTIVITY_METRICS = frozenset({Metric.STEPS, Metric.ACTIVITY})
_LOCATION_METRICS = frozenset({Metric.LATITUDE, Metric.LONGITUDE, Metric.LOCATION_ACCURACY})


def _share_of(metric: Metric) -> Share:
    """What a family member needs the resident to share to see this metric (location: never shared)."""
    if metric in _LOCATION_METRICS:
        return "location"
    return "activity" if metric in _ACTIVITY_METRICS else "vitals"


def _visible_metrics(actor: Actor) -> list[Metric]:
    """Every metric for staff; family asking for all metrics get the vital signs."""
    if actor.role is Role.FAMILY:
        return [m for m in Metric if m not in _ACTIVITY_METRICS | _LOCATION_METRICS]
    return list(Metric)


async def recent_vitals(
    conn: Conn,
    *,
    actor: Actor,
    resident_id: int,
    since: datetime | None = None,
    metric: str | None = None,
    now: datetime | None = None,
) -> RecentVitals:
    """The latest value of each metric (last 24 h) and the raw points since ``since`` (default: 1 h ago)."""
    now = now or datetime.now(UTC)
    since = since or now - RECENT_DEFAULT_AGE
    if since < now - RECENT_MAX_AGE:
        raise InvalidTimeRange("since may be at most 24 hours ago; ask for rollups for longer periods")
    asked = None if metric is None else parse_metric(metric)
    metrics = [int(m) for m in (_visible_metrics(actor) if asked is None else [asked])]
    async with conn.transaction():
        await open_resident(
            conn,
            actor=actor,
            resident_id=resident_id,
            action="vitals.recent",
            share="vitals" if asked is None else _share_of(asked),
            detail={"since": since.isoformat(), "metric": metric},
        )
        devices = await device_ids_for_resident(conn, resident_id=resident_id)
        latest = await repo.latest_per_metric(
            conn, resident_id=resident_id, device_ids=devices, since=now - LATEST_WITHIN, metrics=metrics
        )
        points = await repo.raw_points(
            conn,
            resident_id=resident_id,
            device_ids=devices,
            since=since,
            metrics=metrics,
            limit=MAX_POINTS + 1,
        )
    return RecentVitals(
        resident_id=resident_id,
        since=since,
        latest=[
            LatestValue(
                metric=metric_name(Metric(row.metric)),
                unit=unit_of(Metric(row.metric)),
                value=row.value,
                ts=row.ts,
                device_id=row.device_id,
            )
            for row in latest
        ],
        points=[
            RawPoint(metric=metric_name(Metric(row.metric)), ts=row.ts, value=row.value, device_id=row.device_id)
            for row in points[:MAX_POINTS]
        ],
        truncated=len(points) > MAX_POINTS,
    )


async def vitals_rollups(
    conn: Conn,
    *,
    actor: Actor,
    resident_id: int,
    metric: str,
    start: datetime,
    end: datetime,
    resolution: Resolution,
) -> Rollups:
    """Per-bucket avg/min/max/n of one metric for buckets starting in [floor(start), end)."""
    parsed = parse_metric(metric)
    if end <= start:
        raise InvalidTimeRange("end must be after start")
    if end - start > resolution.max_span:
        days = resolution.max_span.days
        raise InvalidTimeRange(f"at {resolution} resolution a range may span at most {days} days")
    first = floor_time(start, resolution.step)
    async with conn.transaction():
        await open_resident(
            conn,
            actor=actor,
            resident_id=resident_id,
            action="vitals.rollups",
            share=_share_of(parsed),
            detail={
                "metric": metric,
                "resolution": resolution.value,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
        rows = await repo.rollup_buckets(
            conn, resident_id=resident_id, metric=int(parsed), resolution=resolution, start=first, end=end
        )
    return Rollups(
        resident_id=resident_id,
        metric=metric,
        unit=unit_of(parsed),
        resolution=resolution,
        start=first,
        end=end,
        buckets=[RollupBucket(bucket=r.bucket, avg=r.avg, min=r.min, max=r.max, n=r.n) for r in rows],
    )
