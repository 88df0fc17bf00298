"""HTTP routes for medication: schedules (the call centre), a resident's medicines and adherence, the figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from homecare.backend.accounts.models import Role
from homecare.backend.deps import ConnDep, CurrentActor, ManagerActor, SettingsDep, StaffActor
from homecare.backend.incidents.router import AlarmsDep
from homecare.backend.inputs import Instant, RowId
from homecare.backend.medication import service
from homecare.backend.medication.models import Adherence, ResidentMedication, Schedule, ScheduleIn
from homecare.backend.settings import Settings

router = APIRouter(prefix="/medication", tags=["medication"])

ResidentId = Annotated[RowId, Path(description="The resident's id.")]
ScheduleId = Annotated[RowId, Path(description="The medication schedule's id.")]


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.dose_confirm_window_min)


@router.post(
    "/residents/{resident_id}/schedules",
    status_code=201,
    summary="Add a medicine to a resident's schedule: what, the dose, the local times, with or without food",
)
async def post_schedule(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, resident_id: ResidentId, body: ScheduleIn
) -> Schedule:
    return await service.create_schedule(conn, actor=actor, resident_id=resident_id, body=body, now=alarms.clock.now())


@router.post("/schedules/{schedule_id}/stop", summary="Stop a schedule from now (its past doses stay counted)")
async def stop_schedule(actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, schedule_id: ScheduleId) -> Schedule:
    return await service.stop_schedule(conn, actor=actor, schedule_id=schedule_id, now=alarms.clock.now())


@router.get(
    "/residents/{resident_id}",
    summary="A resident's medicines, 30-day adherence and the last week's doses (family: when vitals are shared)",
)
async def get_resident_medication(
    actor: CurrentActor, conn: ConnDep, alarms: AlarmsDep, settings: SettingsDep, resident_id: ResidentId
) -> ResidentMedication:
    action = "family.medication" if actor.role is Role.FAMILY else "medication.read"
    return await service.resident_medication(
        conn, actor=actor, resident_id=resident_id, now=alarms.clock.now(), window=_window(settings), action=action
    )


@router.get("/adherence", summary="Adherence per resident: doses confirmed over doses due in the period")
async def get_adherence(
    actor: ManagerActor,
    conn: ConnDep,
    settings: SettingsDep,
    since: Annotated[Instant, Query(description="Doses due from then, with its offset.")],
    until: Annotated[Instant, Query(description="Doses due before then, with its offset.")],
) -> list[Adherence]:
    return await service.adherence_report(conn, actor=actor, since=since, until=until, window=_window(settings))
