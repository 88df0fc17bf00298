"""Medication schedules for staff; at each dose time a reminder to the home units; the resident's button or the pill
dispenser confirms; a dose not confirmed is told to the family, then to the station; adherence figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from homecare.backend.accounts.models import Actor
from homecare.backend.detection.config import get_settings
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.backend.devices.repository import queue_resident_command
from homecare.backend.incidents.policy import Escalation
from homecare.backend.incidents.service import apply_signal
from homecare.backend.medication import ScheduleNotFound
from homecare.backend.medication import repository as repo
from homecare.backend.medication.models import Adherence, Dose, ResidentMedication, Schedule, ScheduleIn
from homecare.backend.notifications.service import notify_family_of_dose
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents.access import open_resident
from homecare.backend.residents.repository import get_resident, record_access
from homecare.contracts.messages import DoseReminder
from homecare.storage.connections import Conn

DUE_HORIZON: Final = timedelta(hours=6)
"""Doses due this far back are still recorded after the pipeline was stopped (later ones are not counted)."""
ESCALATION_HORIZON: Final = timedelta(hours=12)
"""An unconfirmed dose older than this is not told any more: the next one is what matters."""
ADHERENCE_DAYS: Final = 30
RECENT_DAYS: Final = 7


def _food(with_food: bool | None) -> tuple[str, str]:
    if with_food is None:
        return "", ""
    return ("，随餐服用", ", with food") if with_food else ("，空腹服用", ", without food")


def reminder(row: dict[str, Any]) -> DoseReminder:
    """What the home unit says and shows for one dose."""
    food_zh, food_en = _food(row["with_food"])
    what = f"{row['medicine']} {row['dose']}"
    return DoseReminder(
        schedule_id=row["schedule_id"],
        dose_due=int(row["due"].timestamp() * 1000),
        medicine=row["medicine"],
        dose=row["dose"],
        with_food=row["with_food"],
        message_zh=f"该吃药了：{what}{food_zh}。吃完请按“已服药”。"[:200],
        message_en=f'Time for your medicine: {what}{food_en}. Press "taken" when done.'[:200],
    )


async def create_schedule(conn: Conn, *, actor: Actor, resident_id: int, body: ScheduleIn, now: datetime) -> Schedule:
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="medication.schedule.create")
        row = await repo.insert_schedule(
            conn, resident_id=resident_id, created_by=actor.name, now=now, **body.model_dump()
        )
    return Schedule.model_validate(row)


async def stop_schedule(conn: Conn, *, actor: Actor, schedule_id: int, now: datetime) -> Schedule:
    """End a schedule from now: no further reminders; its past doses stay in the figures."""
    async with conn.transaction():
        row = await repo.schedule(conn, schedule_id=schedule_id)
        if row is None:
            raise ScheduleNotFound(schedule_id)
        try:
            await open_resident(
                conn,
                actor=actor,
                resident_id=row["resident_id"],
                action="medication.schedule.stop",
                detail={"schedule_id": schedule_id},
            )
        except ResidentNotFound:
            raise ScheduleNotFound(schedule_id) from None
        await repo.stop_schedule(conn, schedule_id=schedule_id, now=now)
        found = await repo.schedule(conn, schedule_id=schedule_id)
    return Schedule.model_validate(found)


async def resident_medication(
    conn: Conn, *, actor: Actor, resident_id: int, now: datetime, window: timedelta, action: str
) -> ResidentMedication:
    """The resident's schedules, 30-day adherence and the last week's doses; family only when vitals are shared."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action=action, share="vitals")
        schedules = [Schedule.model_validate(r) for r in await repo.schedules(conn, resident_id=resident_id)]
        figure = await adherence_of(conn, resident_id=resident_id, now=now, window=window)
        recent = await repo.doses(
            conn, resident_id=resident_id, since=now - timedelta(days=RECENT_DAYS), now=now, window=window
        )
    return ResidentMedication(
        resident_id=resident_id,
        schedules=schedules,
        adherence=figure,
        recent=[Dose.model_validate(r) for r in recent],
    )


async def adherence_of(conn: Conn, *, resident_id: int, now: datetime, window: timedelta) -> Adherence:
    """One resident's doses confirmed over doses due in the last 30 days (the caller has opened the resident)."""
    since = now - timedelta(days=ADHERENCE_DAYS)
    rows = await repo.adherence(conn, resident_id=resident_id, since=since, until=now, window=window)
    if rows:
        return _adherence(rows[0], since=since, until=now)
    resident = await get_resident(conn, resident_id=resident_id)
    assert resident is not None
    return Adherence(
        resident_id=resident_id,
        display_name=resident.display_name,
        since=since,
        until=now,
        due=0,
        confirmed=0,
        share=None,
    )


def _adherence(row: dict[str, Any], *, since: datetime, until: datetime) -> Adherence:
    due, confirmed = int(row["due"]), int(row["confirmed"])
    return Adherence(
        resident_id=row["resident_id"],
        display_name=row["display_name"],
        station_id=row["station_id"],
        station_name=row["station_name"],
        since=since,
        until=until,
        due=due,
        confirmed=confirmed,
        share=confirmed / due if due else None,
    )


async def adherence_report(
    conn: Conn, *, actor: Actor, since: datetime, until: datetime, window: timedelta
) -> list[Adherence]:
    """Every resident with doses due in [since, until): the supervisor's figure, its reading logged."""
    async with conn.transaction():
        rows = await repo.adherence(conn, resident_id=None, since=since, until=until, window=window)
        await record_access(
            conn,
            actor=actor.name,
            resident_id=None,
            action="medication.adherence",
            detail={"since": since.isoformat(), "until": until.isoformat()},
        )
    return [_adherence(row, since=since, until=until) for row in rows]


async def remind_and_escalate(
    conn: Conn, *, now: datetime, window: timedelta, station_after: timedelta, escalation: Escalation
) -> int:
    """The pipeline's medication stage: record each dose that came due and remind the resident's home units of it;
    tell the family of a dose not confirmed within ``window``, and ``station_after`` later open a missed_dose
    incident for the operators and the station (both the platform's, for schedules that set none of their own).
    How many doses changed."""
    changed = 0
    async with conn.transaction():
        for row in await repo.new_due_doses(conn, now=now, since=now - DUE_HORIZON, window=window):
            fresh = now - row["due"] < row["window"]  # a reminder later than the window would only confuse
            units = 0
            if fresh:
                units = await queue_resident_command(
                    conn, resident_id=row["resident_id"], incident_id=None, body=reminder(row).model_dump(mode="json")
                )
            await repo.insert_dose(
                conn,
                schedule_id=row["schedule_id"],
                resident_id=row["resident_id"],
                due_at=row["due"],
                reminded_at=now if fresh else None,
                home_units=units,
            )
            changed += 1
        since = now - ESCALATION_HORIZON
        for row in await repo.unconfirmed(
            conn, now=now, window=window, station_after=station_after, since=since, family_told=False
        ):
            told = await notify_family_of_dose(
                conn,
                dose_id=row["id"],
                resident_id=row["resident_id"],
                resident_name=row["display_name"],
                medicine=f"{row['medicine']} {row['dose']}",
                due_at=row["due_at"],
                zone=ZoneInfo(row["timezone"]),
            )
            await repo.mark_family_told(conn, dose_id=row["id"], at=now, told=told)
            changed += 1
        for row in await repo.unconfirmed(
            conn, now=now, window=window, station_after=station_after, since=since, family_told=True
        ):
            incident_id = await _tell_station(conn, row=row, now=now, escalation=escalation)
            await repo.mark_station_told(conn, dose_id=row["id"], at=now, incident_id=incident_id)
            changed += 1
    return changed


async def _signal(
    conn: Conn,
    *,
    resident_id: int,
    kind: SignalKind,
    en: str,
    zh: str,
    at: datetime,
    escalation: Escalation,
    event: dict[str, Any] | None = None,
) -> int | None:
    """Raise (or clear) the resident's missed_dose incident at their priority for it; the incident's id."""
    applied = await apply_signal(
        conn,
        signal=Signal(
            resident_id=resident_id,
            cause=Cause.MISSED_DOSE,
            kind=kind,
            priority=(await get_settings(conn, resident_id=resident_id)).priority(Cause.MISSED_DOSE),
            explanation_en=en[:300],
            explanation_zh=zh[:300],
            detected_at=at,
            device_id=None if event is None else event["device_id"],
            event_id=None if event is None else event["id"],
        ),
        now=at,
        escalation=escalation,
    )
    return applied.incident_id


async def _tell_station(conn: Conn, *, row: dict[str, Any], now: datetime, escalation: Escalation) -> int | None:
    local = row["due_at"].astimezone(ZoneInfo(row["timezone"])).strftime("%H:%M")
    what = f"{row['medicine']} {row['dose']}"
    minutes = int((now - row["due_at"]).total_seconds() // 60)
    return await _signal(
        conn,
        resident_id=row["resident_id"],
        kind=SignalKind.ALARM,
        en=f"{what} due at {local} not confirmed taken after {minutes} min; the family was told.",
        zh=f"{local} 应服的 {what} 已过 {minutes} 分钟仍未确认服用；已通知家属。",
        at=now,
        escalation=escalation,
    )


async def record_dose_taken(conn: Conn, *, event: dict[str, Any], at: datetime, escalation: Escalation) -> str:
    """A stored dose_taken event (the home unit's button or the pill dispenser): the dose is confirmed taken at
    ``at``; a dose already escalated to the station gets a note on its incident. What happened, for the record."""
    kind = event["device_kind"]
    if kind not in ("home_unit", "pill_dispenser"):
        return f"dose_taken from a {kind}: ignored"
    found = await repo.confirm(
        conn,
        schedule_id=event["schedule_id"],
        resident_id=event["resident_id"],
        due_at=event["dose_due"],
        at=at,
        event_id=event["id"],
        by=kind,
    )
    if found is None:
        return f"schedule {event['schedule_id']} has no dose due at {event['dose_due'].isoformat()}: ignored"
    if not found["first"]:
        return f"dose {found['id']} was already confirmed"
    if found["incident_id"] is not None:
        await _signal(
            conn,
            resident_id=event["resident_id"],
            kind=SignalKind.CLEAR,
            en="The resident has now confirmed the dose taken.",
            zh="老人现已确认服药。",
            at=at,
            escalation=escalation,
            event=event,
        )
    return f"dose {found['id']} confirmed taken"
