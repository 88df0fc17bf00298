"""HTTP routes of locations: safe zones, fixes and incident tracks for staff, the family's view during an alarm,
and the retention of raw fixes for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from homecare.backend.deps import AdminActor, ConnDep, CurrentActor, StaffActor
from homecare.backend.incidents.router import AlarmsDep, IncidentId
from homecare.backend.inputs import Instant, RowId
from homecare.backend.locations import service
from homecare.backend.locations.models import (
    FamilyLocation,
    Fix,
    LocationPolicy,
    LocationPolicyState,
    NewSafeZone,
    SafeZone,
    Track,
)

router = APIRouter(tags=["locations"])

ResidentId = Annotated[RowId, Path(description="The resident's id.")]
ZoneId = Annotated[RowId, Path(description="The safe zone's id.")]


@router.get("/residents/{resident_id}/safe-zones", summary="The resident's safe zones (circles, polygons, windows)")
async def list_safe_zones(actor: StaffActor, conn: ConnDep, resident_id: ResidentId) -> list[SafeZone]:
    return await service.safe_zones(conn, actor=actor, resident_id=resident_id)


@router.post(
    "/residents/{resident_id}/safe-zones",
    status_code=201,
    summary="Add a safe zone: leaving every zone that applies is a left_safe_zone alarm",
)
async def add_safe_zone(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, resident_id: ResidentId, zone: NewSafeZone
) -> SafeZone:
    return await service.add_safe_zone(conn, actor=actor, resident_id=resident_id, zone=zone, now=alarms.clock.now())


@router.delete("/residents/{resident_id}/safe-zones/{zone_id}", status_code=204, summary="Remove a safe zone")
async def remove_safe_zone(actor: StaffActor, conn: ConnDep, resident_id: ResidentId, zone_id: ZoneId) -> None:
    await service.remove_safe_zone(conn, actor=actor, resident_id=resident_id, zone_id=zone_id)


@router.get("/residents/{resident_id}/fixes", summary="The resident's GPS fixes in a period (each read is logged)")
async def list_fixes(
    actor: StaffActor,
    conn: ConnDep,
    resident_id: ResidentId,
    start: Annotated[Instant, Query(description="From (ISO-8601 with offset).")],
    end: Annotated[Instant, Query(description="Until (ISO-8601 with offset).")],
) -> list[Fix]:
    return await service.resident_fixes(conn, actor=actor, resident_id=resident_id, start=start, end=end)


@router.get("/incidents/{incident_id}/track", summary="Where the resident went since leaving the safe zones")
async def get_track(actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId) -> Track:
    return await service.incident_track(conn, actor=actor, incident_id=incident_id, now=alarms.clock.now())


@router.get(
    "/family/residents/{resident_id}/location",
    summary="The latest fix, only while an alarm is open and only if the resident consented (else 404)",
)
async def get_family_location(
    actor: CurrentActor, conn: ConnDep, alarms: AlarmsDep, resident_id: ResidentId
) -> FamilyLocation:
    return await service.family_location(conn, actor=actor, resident_id=resident_id, now=alarms.clock.now())


@router.get("/admin/location-policy", summary="How long raw GPS fixes are kept")
async def get_location_policy(actor: AdminActor, conn: ConnDep) -> LocationPolicyState:
    return await service.location_policy(conn)


@router.put("/admin/location-policy", summary="Set how long raw GPS fixes are kept (the maintenance job deletes older)")
async def put_location_policy(
    actor: AdminActor, conn: ConnDep, alarms: AlarmsDep, policy: LocationPolicy
) -> LocationPolicyState:
    return await service.set_location_policy(conn, actor=actor, policy=policy, now=alarms.clock.now())
