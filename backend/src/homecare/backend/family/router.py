"""HTTP routes of the family status page: residents I follow, their status, incident history and nights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from homecare.backend.deps import ConnDep, CurrentActor
from homecare.backend.family import service
from homecare.backend.family.models import FamilyIncident, FamilyStatus, FollowedResident, Sleep
from homecare.backend.incidents.router import AlarmsDep
from homecare.backend.inputs import RowId

router = APIRouter(prefix="/family/residents", tags=["family"])

ResidentId = Annotated[RowId, Path(description="The resident's id.")]


@router.get("", summary="The residents I follow, with my relation and what each shares with me")
async def list_followed(actor: CurrentActor, conn: ConnDep) -> list[FollowedResident]:
    return await service.followed(conn, actor=actor)


@router.get(
    "/{resident_id}/status",
    summary="All well / needs attention / help is on the way, with why, last activity, today and devices",
)
async def get_status(actor: CurrentActor, conn: ConnDep, alarms: AlarmsDep, resident_id: ResidentId) -> FamilyStatus:
    return await service.status(conn, actor=actor, resident_id=resident_id, now=alarms.clock.now())


@router.get("/{resident_id}/incidents", summary="Incident history with outcomes (no operator notes)")
async def get_incidents(actor: CurrentActor, conn: ConnDep, resident_id: ResidentId) -> list[FamilyIncident]:
    return await service.incidents(conn, actor=actor, resident_id=resident_id)


@router.get("/{resident_id}/sleep", summary="Hours in bed per night, from the bed sensor")
async def get_sleep(
    actor: CurrentActor,
    conn: ConnDep,
    alarms: AlarmsDep,
    resident_id: ResidentId,
    nights: Annotated[int, Query(ge=1, le=service.MAX_NIGHTS, description="How many nights, up to last night.")] = 7,
) -> Sleep:
    return await service.sleep(conn, actor=actor, resident_id=resident_id, nights_back=nights, now=alarms.clock.now())
