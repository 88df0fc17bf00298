"""HTTP routes for a resident's vitals: recent raw values and rollups over a time range."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from homecare.backend.deps import ConnDep, CurrentActor
from homecare.backend.inputs import Instant, RowId, Text
from homecare.backend.telemetry import service
from homecare.backend.telemetry.models import METRIC_NAMES, RecentVitals, Resolution, Rollups

router = APIRouter(prefix="/residents/{resident_id}/vitals", tags=["vitals"])

ResidentId = Annotated[RowId, Path(description="The resident's id.")]
MetricName = Annotated[
    Text, Query(max_length=40, description=f"One of: {', '.join(METRIC_NAMES)}.", examples=["heart_rate"])
]


@router.get("/recent", summary="Latest value per metric and raw points since a time")
async def get_recent_vitals(
    actor: CurrentActor,
    conn: ConnDep,
    resident_id: ResidentId,
    since: Annotated[
        Instant | None, Query(description="ISO-8601 with zone; default 1 h ago, at most 24 h ago.")
    ] = None,
    metric: Annotated[
        Text | None, Query(max_length=40, description=f"Only this metric: {', '.join(METRIC_NAMES)}.")
    ] = None,
) -> RecentVitals:
    return await service.recent_vitals(conn, actor=actor, resident_id=resident_id, since=since, metric=metric)


@router.get("/rollups", summary="Per-minute or per-hour avg/min/max/n of one metric over a range")
async def get_vitals_rollups(
    actor: CurrentActor,
    conn: ConnDep,
    resident_id: ResidentId,
    metric: MetricName,
    start: Annotated[Instant, Query(description="ISO-8601 with zone, e.g. 2025-01-01T00:00:00+08:00.")],
    end: Annotated[Instant, Query(description="ISO-8601 with zone; exclusive.")],
    resolution: Annotated[Resolution, Query(description="1m (up to 7 days) or 1h (up to 400 days).")] = Resolution.HOUR,
) -> Rollups:
    return await service.vitals_rollups(
        conn,
        actor=actor,
        resident_id=resident_id,
        metric=metric,
        start=start,
        end=end,
        resolution=resolution,
    )
