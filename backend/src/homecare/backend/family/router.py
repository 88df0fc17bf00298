"""HTTP routes of the family status page: residents I follow, their status, incident history and nights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from homecare.backend.deps import ConnDep, CurrentActor
from homecare.backend.family import FamilyError, InvalidRange, service
from homecare.backend.family.models import FamilyIncident, FamilyStatus, FollowedResident, Sleep
from homecare.backend.incidents.router import AlarmsDep
from homecare.backend.residents import ResidentNotFound

router = APIRouter(prefix="/family/residents", tags=["family"])

ResidentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The resident's id.")]


def http_error(err: FamilyError | ResidentNotFound) -> HTTPException:
    """The one place family errors become HTTP statuses; an unlinked or unshared resident is simply not found."""
    if isinstance(err, ResidentNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err))
    if isinstance(err, InvalidRange):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err))
    return HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, detail=str(err))


@router.get("", summary="The residents I follow, with my relation and what each shares with me")
async def list_followed(actor: CurrentActor, conn: ConnDep) -> list[FollowedResident]:
    return await service.followed(conn, actor=actor)


@router.get("/{resident_id}/status",
            summary="All well / needs attention / help is on the way, with why, last activity, today and devices")
async def get_status(actor: CurrentActor, conn: ConnDep, alarms: AlarmsDep, resident_id: ResidentId) -> FamilyStatus:
    try:
        return await service.status(conn, actor=actor, resident_id=resident_id, now=alarms.clock.now())
    except (FamilyError, ResidentNotFound) as err:
        raise http_error(err) from err


@router.get("/{resident_id}/incidents", summary="Incident history with outcomes (no operator notes)")
async def get_incidents(actor: CurrentActor, conn: ConnDep, resident_id: ResidentId) -> list[FamilyIncident]:
    try:
        return await service.incidents(conn, actor=actor, resident_id=resident_id)
    except (FamilyError, ResidentNotFound) as err:
        raise http_error(err) from err


@router.get("/{resident_id}/sleep", summary="Hours in bed per night, from the bed sensor")
async def get_sleep(
    actor: CurrentActor, conn: ConnDep, alarms: AlarmsDep, resident_id: ResidentId,
    nights: Annotated[int, Query(ge=1, le=service.MAX_NIGHTS, description="How many nights, up to last night.")] = 7,
) -> Sleep:
    try:
        return await service.sleep(conn, actor=actor, resident_id=resident_id, nights_back=nights,
                                   now=alarms.clock.now())
    except (FamilyError, ResidentNotFound) as err:
        raise http_error(err) from err
