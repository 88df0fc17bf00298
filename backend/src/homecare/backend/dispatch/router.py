"""HTTP routes for dispatch: station suggestions, dispatching, station task actions, stations and coverage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from homecare.backend.accounts.models import STAFF_ROLES, Actor, Role
from homecare.backend.deps import ConnDep, StaffActor, require_role
from homecare.backend.dispatch import (
    service,
)
from homecare.backend.dispatch.models import (
    CoverageReport,
    DispatchBody,
    EmergencyBody,
    EmergencyOption,
    MapView,
    StationStatus,
    StationSuggestion,
    TaskBody,
)
from homecare.backend.dispatch.routing import COVERAGE_MINUTES
from homecare.backend.incidents.models import ActBody, Incident, StationTask
from homecare.backend.incidents.router import AlarmsDep
from homecare.backend.inputs import BigRowId

router = APIRouter(tags=["dispatch"])

IncidentId = Annotated[BigRowId, Path()]
TaskId = Annotated[BigRowId, Path()]


@router.get("/incidents/{incident_id}/stations", summary="Stations for this incident, best first, with travel time")
async def suggest(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId
) -> list[StationSuggestion]:
    return await service.suggest_stations(conn, incident_id=incident_id, now=alarms.clock.now())


@router.post(
    "/incidents/{incident_id}/dispatch",
    status_code=status.HTTP_201_CREATED,
    summary="Offer the incident to a station (default: the first suggested) and tell the home",
)
async def dispatch(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: DispatchBody
) -> StationTask:
    return await service.dispatch(
        conn,
        incident_id=incident_id,
        actor=actor.acting_as(body.actor),
        now=alarms.clock.now(),
        escalation=alarms.escalation,
        station_id=body.station_id,
        note=body.note,
    )


@router.post("/incidents/{incident_id}/help-coming", summary="Tell the home unit again that help is coming")
async def help_coming(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: ActBody
) -> Incident:
    return await service.help_coming_again(
        conn, incident_id=incident_id, actor=actor.acting_as(body.actor), now=alarms.clock.now()
    )


@router.post(
    "/incidents/{incident_id}/unreachable",
    summary="The resident cannot be reached: record the 120 call and send the station",
)
async def unreachable(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: ActBody
) -> Incident:
    return await service.resident_unreachable(
        conn,
        incident_id=incident_id,
        actor=actor.acting_as(body.actor),
        now=alarms.clock.now(),
        escalation=alarms.escalation,
        note=body.note,
    )


@router.get(
    "/incidents/{incident_id}/emergency-services",
    summary="The emergency services (120, 110, 119), the one the incident's cause calls for first",
)
async def emergency_options(actor: StaffActor, conn: ConnDep, incident_id: IncidentId) -> list[EmergencyOption]:
    return await service.emergency_options(conn, incident_id=incident_id)


@router.post(
    "/incidents/{incident_id}/emergency-services",
    summary="Record a call to the emergency services and what they answered (only 'sent' puts help on the way)",
)
async def emergency_services(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: EmergencyBody
) -> Incident:
    return await service.call_emergency_services(
        conn,
        incident_id=incident_id,
        actor=actor.acting_as(body.actor),
        now=alarms.clock.now(),
        escalation=alarms.escalation,
        answer=body.answer,
        service=body.service,
        note=body.note,
    )


# Path of each station-task action → the task status it moves to, and its summary.
_ACTIONS: dict[str, tuple[str, str]] = {
    "accept": ("accepted", "The station accepts the task"),
    "decline": ("declined", "The station declines; the next station is asked"),
    "en-route": ("en_route", "The responder is on the way"),
    "on-scene": ("on_scene", "The responder has arrived"),
    "done": ("done", "The responder is done (with a note)"),
}


TaskActor = Annotated[Actor, Depends(require_role(*STAFF_ROLES, Role.RESPONDER))]
"""Responders move their own station's tasks; the call centre may move any (e.g. for a station desk by phone)."""


def _task_route(to: str) -> Callable[..., Awaitable[StationTask]]:
    async def route(actor: TaskActor, conn: ConnDep, alarms: AlarmsDep, task_id: TaskId, body: TaskBody) -> StationTask:
        return await service.move_task(
            conn,
            task_id=task_id,
            to=to,
            actor=actor.acting_as(body.actor),
            now=alarms.clock.now(),
            escalation=alarms.escalation,
            note=body.note,
            station_id=actor.station_id if actor.role is Role.RESPONDER else None,
        )

    return route


for _name, (_to, _summary) in _ACTIONS.items():
    router.add_api_route(
        f"/tasks/{{task_id}}/{_name}",
        _task_route(_to),
        methods=["POST"],
        summary=_summary,
        name=f"task_{_name.replace('-', '_')}",
        response_model=StationTask,
    )


@router.get("/stations", summary="Stations with their hours, capacity, active tasks and availability now")
async def stations(_: StaffActor, conn: ConnDep, alarms: AlarmsDep) -> list[StationStatus]:
    return await service.list_stations(conn, now=alarms.clock.now())


@router.get("/stations/coverage", summary="Homes outside the 15-minute circle of every station")
async def coverage(
    _: StaffActor,
    conn: ConnDep,
    threshold_min: Annotated[float, Query(gt=0, le=120)] = COVERAGE_MINUTES,
) -> CoverageReport:
    return await service.coverage_report(conn, threshold_min=threshold_min)


@router.get("/map", summary="Homes, stations with their 15-minute circles, and open incidents, for the map")
async def map_view(_: StaffActor, conn: ConnDep, alarms: AlarmsDep) -> MapView:
    return await service.map_view(conn, now=alarms.clock.now())
