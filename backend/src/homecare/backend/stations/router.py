"""HTTP routes of the station view: the station, its tasks and roster (with an ETag for polling), and duty."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from homecare.backend.accounts.models import Actor, Role
from homecare.backend.deps import ConnDep, require_role
from homecare.backend.incidents.router import AlarmsDep
from homecare.backend.inputs import RowId
from homecare.backend.stations import service
from homecare.backend.stations.models import DutyBody, StationView

router = APIRouter(prefix="/station", tags=["stations"])

StationActor = Annotated[Actor, Depends(require_role(Role.RESPONDER, Role.ADMIN, Role.SUPERVISOR))]
"""Responders see their own station; administrators and supervisors may look at any."""


@router.get(
    "",
    summary="My station now: its tasks (active first, then today's closed ones) and its roster",
    response_model=StationView,
    responses={304: {"description": "Unchanged since the ETag given in If-None-Match."}},
)
async def get_station(
    actor: StationActor,
    conn: ConnDep,
    alarms: AlarmsDep,
    response: Response,
    station_id: Annotated[RowId | None, Query(description="Administrators and supervisors: which station.")] = None,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> StationView | Response:
    now = alarms.clock.now()
    chosen = service.station_of(actor, asked=station_id)
    version = await service.view_version(conn, station_id=chosen, now=now)
    etag = f'"{version}"'
    if if_none_match is not None and etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    view = await service.station_view(conn, actor=actor, station_id=chosen, now=now)
    response.headers["ETag"] = f'"{view.version}"'
    response.headers["Cache-Control"] = "no-cache"
    return view


@router.post(
    "/duty", summary="Put myself on or off my station's on-duty roster", status_code=status.HTTP_204_NO_CONTENT
)
async def set_duty(actor: StationActor, conn: ConnDep, body: DutyBody) -> None:
    await service.set_duty(conn, actor=actor, on_duty=body.on_duty)
