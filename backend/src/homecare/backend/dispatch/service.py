"""Dispatch: suggest stations, offer the incident to one, and move its task from offer to done."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from homecare.backend.devices.repository import queue_resident_command
from homecare.backend.dispatch import (
    AlreadyDispatched,
    InvalidTaskTransition,
    NoStationAvailable,
    StationNotFound,
    TaskNotFound,
)
from homecare.backend.dispatch import repository as repo
from homecare.backend.dispatch.models import (
    CoverageReport,
    EmergencyAnswer,
    EmergencyOption,
    EmergencyService,
    HomeOutside,
    MapHome,
    MapIncident,
    MapStation,
    MapView,
    StationStatus,
    StationSuggestion,
)
from homecare.backend.dispatch.routing import (
    COVERAGE_MINUTES,
    DETOUR_FACTOR,
    URBAN_SPEED_KMH,
    Candidate,
    availability,
    rank_stations,
    travel_minutes,
)
from homecare.backend.incidents import InvalidTransition
from homecare.backend.incidents import repository as incidents_repo
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.models import CLOSED, Incident, StationTask, Status, why
from homecare.backend.incidents.policy import Escalation, FamilyStep
from homecare.contracts.messages import HelpComing
from homecare.storage.connections import Conn

SYSTEM: Final = incidents.SYSTEM
_DISPATCHABLE: Final = frozenset({Status.OPEN, Status.ACKNOWLEDGED, Status.IN_CALL, Status.DISPATCHED})
# task status → the statuses each action may start from
_TASK_MOVES: Final = {
    "accepted": frozenset({"offered"}),
    "declined": frozenset({"offered"}),
    "en_route": frozenset({"accepted"}),
    "on_scene": frozenset({"accepted", "en_route"}),
    "done": frozenset({"accepted", "en_route", "on_scene"}),
}
EMERGENCY_NUMBERS: Final[dict[EmergencyService, str]] = {"medical": "120", "police": "110", "fire": "119"}
# The service an alarm's cause calls for; every other cause is a matter for the ambulance (120).
_SERVICE_FOR_CAUSE: Final[dict[str, EmergencyService]] = {"smoke": "fire", "night_door": "police"}


async def _candidates(
    conn: Conn, *, incident: Incident, now: datetime, exclude: frozenset[int] = frozenset()
) -> list[Candidate]:
    home = await repo.home_of(conn, resident_id=incident.resident_id)
    assert home is not None
    return rank_stations(
        await repo.station_states(conn),
        home_station_id=home.station_id,
        lat=home.lat,
        lon=home.lon,
        at=now,
        exclude=exclude,
    )


async def _choices(conn: Conn, *, incident: Incident, now: datetime) -> list[Candidate]:
    """The stations for the operator: a station that already declined this incident or let it time out is shown
    as not available for it (never suggested again), though the operator may still name it."""
    refused = await repo.refused_station_ids(conn, incident_id=incident.id)
    candidates = [
        replace(c, available=False, why={"code": "did_not_accept", "params": {}}) if c.station_id in refused else c
        for c in await _candidates(conn, incident=incident, now=now)
    ]
    return sorted(candidates, key=lambda c: not c.available)  # stable: otherwise in the ranking's order


async def suggest_stations(conn: Conn, *, incident_id: int, now: datetime) -> list[StationSuggestion]:
    """Every station for this incident, best first (home station if available, then by travel time; one that
    already let this incident down is not available for it)."""
    incident = await incidents.get_incident(conn, incident_id=incident_id)
    return [
        StationSuggestion(
            station_id=c.station_id,
            code=c.code,
            name=c.name,
            travel_min=c.travel_min,
            home=c.home,
            available=c.available,
            why=c.why,
        )
        for c in await _choices(conn, incident=incident, now=now)
    ]


async def dispatch(
    conn: Conn,
    *,
    incident_id: int,
    actor: str,
    now: datetime,
    escalation: Escalation,
    station_id: int | None = None,
    note: str | None = None,
) -> StationTask:
    """Offer the incident to a station (the suggested one unless the operator names another) and tell the
    home help is coming. Refused while a station is already offered or on its way (no double dispatch)."""
    async with conn.transaction():
        incident = await incidents.load_for_update(conn, incident_id=incident_id)
        if incident.status not in _DISPATCHABLE:
            raise InvalidTransition(f"cannot dispatch incident {incident_id}: it is {incident.status.value}")
        active = await repo.active_tasks(conn, incident_id=incident_id)
        if active:
            raise AlreadyDispatched(
                f"incident {incident_id} already has station {active[0].station_id} {active[0].status}"
            )
        candidates = await _choices(conn, incident=incident, now=now)
        if station_id is None:
            chosen = next((c for c in candidates if c.available), None)
            if chosen is None:
                raise NoStationAvailable(f"no station is on duty with capacity for incident {incident_id}")
        else:
            chosen = next((c for c in candidates if c.station_id == station_id), None)
            if chosen is None:
                raise StationNotFound(station_id)
        task_id = await _offer(
            conn, incident=incident, candidate=chosen, now=now, actor=actor, escalation=escalation, note=note
        )
    return await _task(conn, task_id)


async def _offer(
    conn: Conn,
    *,
    incident: Incident,
    candidate: Candidate,
    now: datetime,
    actor: str,
    escalation: Escalation,
    note: str | None,
) -> int:
    """Offer to one station with its accept timer. The family hears of it only once a station accepts."""
    travel = candidate.travel_min if candidate.travel_min >= 0 else None
    task_id = await repo.insert_task(
        conn, incident_id=incident.id, station_id=candidate.station_id, travel_min=travel, now=now
    )
    policy = escalation.policies.named(incident.policy, incident.priority)
    await incidents_repo.add_timer(
        conn,
        incident_id=incident.id,
        kind="station_accept",
        task_id=task_id,
        now=now,
        due_at=now + timedelta(seconds=policy.station.accept_within_s),
    )
    first = incident.dispatched_at is None
    await incidents_repo.cancel_timers(conn, incident_id=incident.id, kinds=["acknowledge"], now=now)
    fields: dict[str, object] = {"station_id": candidate.station_id}
    if first:
        fields["dispatched_at"] = now
    if incident.acknowledged_at is None:
        fields |= {"acknowledged_at": now, "acknowledged_by": actor}
    detail = {
        "task_id": task_id,
        "station_id": candidate.station_id,
        "station": candidate.name,
        "travel_min": travel,
        "station_why": candidate.why,
    }
    await incidents.record(
        conn,
        incident=incident,
        now=now,
        actor=actor,
        change="dispatched" if first else "offered",
        to=Status.DISPATCHED,
        reason=note,
        because=why("offered_to", station=candidate.name),
        detail=detail,
        attention=None,
        **fields,
    )
    if first:
        await tell_home_help_coming(conn, incident_id=incident.id, travel_min=travel, now=now, actor=SYSTEM)
    return task_id


async def tell_home_help_coming(
    conn: Conn, *, incident_id: int, travel_min: float | None, now: datetime, actor: str
) -> int:
    """Queue "help is coming" (with the ETA) to the resident's home units through the device_commands outbox, and
    note it on the audit trail; how many home units were told. The caller holds the incident-writes lock."""
    incident = await incidents.get_incident(conn, incident_id=incident_id)
    eta = None if travel_min is None else min(600, math.ceil(travel_min))
    body = HelpComing(
        incident_id=incident.id,
        eta_min=eta,
        message_zh="已通知服务站，工作人员正在赶来。",
        message_en="Help is on the way.",
    )
    queued = await queue_resident_command(
        conn, resident_id=incident.resident_id, incident_id=incident.id, body=body.model_dump(mode="json")
    )
    await incidents_repo.insert_transition(
        conn,
        incident_id=incident.id,
        at=now,
        from_status=incident.status.value,
        to_status=incident.status.value,
        actor=actor,
        reason=None,
        detail={
            "change": "help_coming",
            "eta_min": eta,
            "home_units": queued,
            "why": why("home_told" if queued else "no_home_unit", n=queued),
        },
    )
    return queued


async def help_coming_again(conn: Conn, *, incident_id: int, actor: str, now: datetime) -> Incident:
    """The operator tells the home again that help is coming (with the ETA of the station on its way, if any);
    the feed carries the updated audit trail to the other consoles."""
    async with conn.transaction():
        incident = await incidents.load_for_update(conn, incident_id=incident_id)
        if incident.status in CLOSED:
            raise InvalidTransition(f"incident {incident_id} is {incident.status.value}: nobody is coming")
        active = await repo.active_tasks(conn, incident_id=incident_id)
        await tell_home_help_coming(
            conn, incident_id=incident_id, now=now, actor=actor, travel_min=active[0].travel_min if active else None
        )
        await incidents_repo.append_change(conn, incident_id=incident_id, at=now, change="help_coming")
    return await incidents.get_incident(conn, incident_id=incident_id)


async def offer_next(conn: Conn, *, incident: Incident, now: datetime, escalation: Escalation) -> int | None:
    """After a decline or time-out: offer to the next available station not yet asked, within the policy's
    limit. Otherwise the dispatch has failed, and the screens say so: nobody is on the way (the incident is
    back to acknowledged, marked ``dispatch_failed`` at the top of the queue) and the supervisor is alerted —
    or the trail says, as a problem, that there was no supervisor to alert. Caller holds the lock."""
    policy = escalation.policies.named(incident.policy, incident.priority)
    asked = await repo.offered_station_ids(conn, incident_id=incident.id)
    candidates = await _candidates(conn, incident=incident, now=now, exclude=frozenset(asked))
    chosen = next((c for c in candidates if c.available), None)
    if chosen is not None and len(asked) < policy.station.max_offers:
        return await _offer(
            conn, incident=incident, candidate=chosen, now=now, actor=SYSTEM, escalation=escalation, note=None
        )
    failed: dict[str, Any] = {"attention": "dispatch_failed", "station_id": None}
    if incident.status is Status.DISPATCHED:
        failed["status"] = Status.ACKNOWLEDGED.value
    await incidents_repo.update_incident(conn, incident_id=incident.id, **failed)  # the message says it as it is
    alerted = await incidents.notify(
        conn, escalation=escalation, incident=incident, audience="supervisor", reason="no_station"
    )
    await incidents.record(
        conn,
        incident=incident,
        now=now,
        actor=SYSTEM,
        change="no_station",
        to=Status.ACKNOWLEDGED if incident.status is Status.DISPATCHED else None,
        because=why("no_station", asked=len(asked)),
        detail={"asked": asked, "notified": {"supervisor": alerted}},
        attention="dispatch_failed",
        station_id=None,
    )
    return None


async def move_task(
    conn: Conn,
    *,
    task_id: int,
    to: str,
    actor: str,
    now: datetime,
    escalation: Escalation,
    note: str | None,
    station_id: int | None = None,
) -> StationTask:
    """Move a station task on; with ``station_id`` (a responder), only that station's tasks are found."""
    async with conn.transaction():
        await incidents_repo.lock_incident_writes(conn)
        task = await repo.get_task(conn, task_id=task_id)
        if task is None or (station_id is not None and task.station_id != station_id):
            raise TaskNotFound(task_id)
        if task.status not in _TASK_MOVES[to]:
            raise InvalidTaskTransition(
                f"cannot mark task {task_id} {to}: it is {task.status}; allowed from "
                f"{', '.join(sorted(_TASK_MOVES[to]))}"
            )
        incident = await incidents.load_for_update(conn, incident_id=task.incident_id)
        await repo.update_task(
            conn,
            task_id=task_id,
            status=to,
            now=now,
            responder=actor if to in ("accepted", "en_route", "on_scene") else None,
            note=note,
        )
        if to in ("accepted", "declined"):
            await incidents_repo.cancel_timers(
                conn, incident_id=incident.id, kinds=["station_accept"], now=now, task_id=task_id
            )
        detail = {"task_id": task_id, "station_id": task.station_id, "station": task.station_name, "task_status": to}
        reason = note
        if to == "on_scene" and incident.status is Status.DISPATCHED:
            await incidents.record(
                conn,
                incident=incident,
                now=now,
                actor=actor,
                change="on_scene",
                to=Status.ON_SCENE,
                reason=reason,
                detail=detail,
                on_scene_at=now,
            )
            updated = await incidents.get_incident(conn, incident_id=incident.id)
            await incidents.tell_family_if_policy_says(
                conn,
                escalation=escalation,
                incident=updated,
                step=FamilyStep.ON_SCENE,
                now=now,
                notice="on_scene",
            )
        else:
            await incidents.record(
                conn, incident=incident, now=now, actor=actor, change=f"task_{to}", reason=reason, detail=detail
            )
        if to == "accepted":
            # Only now is help on the way: the family hears it from a station that has said yes.
            await incidents.tell_family_if_policy_says(
                conn,
                escalation=escalation,
                incident=await incidents.get_incident(conn, incident_id=incident.id),
                step=FamilyStep.DISPATCHED,
                now=now,
                notice="dispatched",
            )
        if to == "declined" and incident.status in _DISPATCHABLE:
            refreshed = await incidents.get_incident(conn, incident_id=incident.id)
            await offer_next(conn, incident=refreshed, now=now, escalation=escalation)
    return await _task(conn, task_id)


async def time_out_task(conn: Conn, *, task_id: int, now: datetime, escalation: Escalation) -> None:
    """The station did not accept in time (a timer fired; the caller holds the lock): the next one is asked."""
    task = await repo.get_task(conn, task_id=task_id)
    if task is None or task.status != "offered":
        return
    incident = await incidents.load_for_update(conn, incident_id=task.incident_id)
    await repo.update_task(conn, task_id=task_id, status="timed_out", now=now)
    policy = escalation.policies.named(incident.policy, incident.priority)
    await incidents.record(
        conn,
        incident=incident,
        now=now,
        actor=SYSTEM,
        change="task_timed_out",
        because=why("not_accepted", station=task.station_name, seconds=policy.station.accept_within_s),
        detail={"task_id": task_id, "station_id": task.station_id, "station": task.station_name},
    )
    if incident.status in _DISPATCHABLE:
        await offer_next(
            conn, incident=await incidents.get_incident(conn, incident_id=incident.id), now=now, escalation=escalation
        )


async def resident_unreachable(
    conn: Conn,
    *,
    incident_id: int,
    actor: str,
    now: datetime,
    escalation: Escalation,
    note: str | None = None,
) -> Incident:
    """The operator cannot reach the resident: record the call to emergency services (120), tell the family
    if the policy says so, and send the station when none is on its way yet."""
    async with conn.transaction():
        incident = await incidents.load_for_update(conn, incident_id=incident_id)
        if incident.status not in _DISPATCHABLE:
            raise InvalidTransition(f"incident {incident_id} is {incident.status.value}: nothing to escalate")
        policy = escalation.policies.named(incident.policy, incident.priority)
        number = policy.unreachable.emergency_number
        taken: dict[str, Any] = {} if incident.acknowledged_at else {"acknowledged_at": now, "acknowledged_by": actor}
        await incidents.record(
            conn,
            incident=incident,
            now=now,
            actor=actor,
            change="emergency_services",
            reason=note,
            because=why("unreachable_called", number=number),
            detail={"emergency_number": number, "policy": policy.name},
            **taken,
        )
        incident = await incidents.get_incident(conn, incident_id=incident_id)
        await incidents.tell_family_if_policy_says(
            conn,
            escalation=escalation,
            incident=incident,
            step=FamilyStep.EMERGENCY_SERVICES,
            now=now,
            notice="unreachable",
        )
        if policy.unreachable.dispatch and not await repo.active_tasks(conn, incident_id=incident_id):
            candidates = await _candidates(conn, incident=incident, now=now)
            chosen = next((c for c in candidates if c.available), None)
            if chosen is not None:
                await _offer(
                    conn,
                    incident=incident,
                    candidate=chosen,
                    now=now,
                    actor=actor,
                    escalation=escalation,
                    note=None,
                )
    return await incidents.get_incident(conn, incident_id=incident_id)


def service_for(cause: str) -> EmergencyService:
    """The emergency service an alarm's cause calls for: fire (119) for smoke, police (110) for a door opened at
    night, the ambulance (120) for everything else."""
    return _SERVICE_FOR_CAUSE.get(cause, "medical")


async def emergency_options(conn: Conn, *, incident_id: int) -> list[EmergencyOption]:
    """The emergency services, the one the incident's cause calls for first."""
    incident = await incidents.get_incident(conn, incident_id=incident_id)
    first = service_for(incident.cause)
    order = [first, *(s for s in EMERGENCY_NUMBERS if s != first)]
    return [EmergencyOption(service=s, number=EMERGENCY_NUMBERS[s], by_cause=s == first) for s in order]


async def call_emergency_services(
    conn: Conn,
    *,
    incident_id: int,
    actor: str,
    now: datetime,
    escalation: Escalation,
    answer: EmergencyAnswer,
    service: EmergencyService | None = None,
    note: str | None = None,
) -> Incident:
    """Record that the operator called the emergency services (by the cause unless named) and what they answered.
    Only "sent" puts help on the way (and tells the family, if the policy says so); any other answer leaves
    the incident marked ``dispatch_failed`` unless a station is already offered or on its way."""
    async with conn.transaction():
        incident = await incidents.load_for_update(conn, incident_id=incident_id)
        if incident.status in CLOSED or incident.status is Status.PRE_ALARM:
            raise InvalidTransition(
                f"cannot call emergency services for incident {incident_id}: it is {incident.status.value}"
            )
        service = service or service_for(incident.cause)
        number = EMERGENCY_NUMBERS[service]
        fields: dict[str, Any] = {}
        if incident.acknowledged_at is None:
            await incidents_repo.cancel_timers(conn, incident_id=incident_id, kinds=["acknowledge"], now=now)
            fields |= {"acknowledged_at": now, "acknowledged_by": actor}
        to = Status.ACKNOWLEDGED if incident.status is Status.OPEN else None  # an operator is on it now
        if answer == "sent":
            fields["attention"] = None
            if incident.status in (Status.OPEN, Status.ACKNOWLEDGED, Status.IN_CALL):
                to = Status.DISPATCHED
            if incident.dispatched_at is None:
                fields["dispatched_at"] = now
        elif not await repo.active_tasks(conn, incident_id=incident_id):
            fields["attention"] = "dispatch_failed"
        await incidents.record(
            conn,
            incident=incident,
            now=now,
            actor=actor,
            change="emergency_services",
            to=to,
            reason=note,
            because=why(f"emergency_{answer}", number=number, service=service),
            detail={"service": service, "number": number, "answer": answer},
            **fields,
        )
        if answer == "sent":
            await incidents.tell_family_if_policy_says(
                conn,
                escalation=escalation,
                incident=await incidents.get_incident(conn, incident_id=incident_id),
                step=FamilyStep.EMERGENCY_SERVICES,
                now=now,
                notice=f"emergency_{service}",
            )
    return await incidents.get_incident(conn, incident_id=incident_id)


async def _task(conn: Conn, task_id: int) -> StationTask:
    task = await repo.get_task(conn, task_id=task_id)
    if task is None:
        raise TaskNotFound(task_id)
    tasks = await incidents_repo.tasks_of(conn, incident_id=task.incident_id)
    return next(t for t in tasks if t.id == task_id)


async def list_stations(conn: Conn, *, now: datetime) -> list[StationStatus]:
    states = {s.id: s for s in await repo.station_states(conn)}
    result = []
    for row in await repo.stations(conn):
        s = states[row["id"]]
        available = availability(s, now)[0]
        result.append(StationStatus(**row, active_tasks=s.active_tasks, available_now=available))
    return result


async def coverage_report(conn: Conn, *, threshold_min: float = COVERAGE_MINUTES) -> CoverageReport:
    """Homes whose nearest station (any, on duty or not) is farther than ``threshold_min`` by the model."""
    states = await repo.station_states(conn)
    located = unlocated = covered = 0
    outside = []
    for home in await repo.homes(conn):
        if home.lat is None or home.lon is None:
            unlocated += 1
            continue
        located += 1
        best = min(((travel_minutes(home.lat, home.lon, s.lat, s.lon), s.id) for s in states), default=None)
        if best is not None and best[0] <= threshold_min:
            covered += 1
        else:
            outside.append(
                HomeOutside(
                    resident_id=home.resident_id,
                    display_name=home.display_name,
                    nearest_station_id=None if best is None else best[1],
                    travel_min=None if best is None else round(best[0], 1),
                )
            )
    return CoverageReport(
        threshold_min=threshold_min,
        model=f"haversine × {DETOUR_FACTOR} at {URBAN_SPEED_KMH:g} km/h",
        residents_located=located,
        residents_unlocated=unlocated,
        covered=covered,
        share_covered=round(covered / located, 4) if located else 0.0,
        outside=outside,
    )


def coverage_radius_m(minutes: float = COVERAGE_MINUTES) -> float:
    """The straight-line radius the travel-time model covers in ``minutes``: the circle drawn on the map."""
    return minutes / 60.0 * URBAN_SPEED_KMH / DETOUR_FACTOR * 1000.0


async def map_view(conn: Conn, *, now: datetime) -> MapView:
    """Homes, stations with their availability, and open incidents, from stored coordinates."""
    stations = await list_stations(conn, now=now)
    homes = await repo.homes(conn)
    located = {h.resident_id for h in homes if h.lat is not None and h.lon is not None}
    return MapView(
        coverage_min=COVERAGE_MINUTES,
        radius_m=round(coverage_radius_m(), 1),
        model=f"haversine × {DETOUR_FACTOR} at {URBAN_SPEED_KMH:g} km/h",
        homes=[
            MapHome(resident_id=h.resident_id, name=h.display_name, lat=h.lat, lon=h.lon, station_id=h.station_id)
            for h in homes
            if h.lat is not None and h.lon is not None
        ],
        stations=[
            MapStation(
                id=s.id,
                name=s.name,
                lat=s.lat,
                lon=s.lon,
                on_duty=s.on_duty,
                capacity=s.capacity,
                active_tasks=s.active_tasks,
                available_now=s.available_now,
            )
            for s in stations
        ],
        incidents=[MapIncident(**row) for row in await repo.open_incidents(conn) if row["resident_id"] in located],
    )
