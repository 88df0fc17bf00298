"""The station view: which station the caller looks at, its tasks with their residents, the roster, duty."""

from __future__ import annotations

import hashlib
from datetime import datetime

from homecare.backend.accounts import repository as accounts_repo
from homecare.backend.accounts.models import Actor, Role
from homecare.backend.dispatch import StationNotFound
from homecare.backend.dispatch import service as dispatch
from homecare.backend.dispatch.routing import within_hours
from homecare.backend.residents.access import open_resident
from homecare.backend.stations import NotYourStation, StationRequired
from homecare.backend.stations import repository as repo
from homecare.backend.stations.models import RosterMember, StationTaskItem, StationView, TaskResident
from homecare.storage.connections import Conn


def station_of(actor: Actor, *, asked: int | None) -> int:
    """The station the caller looks at: a responder's own; the one an administrator or supervisor names."""
    if actor.role is Role.RESPONDER:
        if actor.station_id is None or asked not in (None, actor.station_id):
            raise NotYourStation("responders see only their own station")
        return actor.station_id
    if asked is None:
        if actor.station_id is None:
            raise StationRequired("choose a station: ?station_id=")
        return actor.station_id
    return asked


async def view_version(conn: Conn, *, station_id: int, now: datetime) -> str:
    """The view's version (its ETag): changes whenever anything the view shows does, the hours included."""
    found = await repo.view_version(conn, station_id=station_id, now=now)
    if found is None:
        raise StationNotFound(station_id)
    in_hours = within_hours(found.opens, found.closes, found.timezone, now)
    return hashlib.sha256(f"{found.digest}|{in_hours}".encode()).hexdigest()[:24]


async def station_view(conn: Conn, *, actor: Actor, station_id: int, now: datetime) -> StationView:
    """The station now, its tasks with their residents (each opening logged), and the roster."""
    async with conn.transaction():
        version = await view_version(conn, station_id=station_id, now=now)
        station = next(s for s in await dispatch.list_stations(conn, now=now) if s.id == station_id)
        rows = await repo.station_tasks(conn, station_id=station_id, now=now)
        for resident_id in dict.fromkeys(row.resident_id for row in rows):
            await open_resident(
                conn, actor=actor, resident_id=resident_id, action="station.tasks", detail={"station_id": station_id}
            )
        people = await repo.roster(conn, station_id=station_id)
    tasks = [
        StationTaskItem(
            id=r.id,
            incident_id=r.incident_id,
            status=r.status,
            travel_min=r.travel_min,
            offered_at=r.offered_at,
            accepted_at=r.accepted_at,
            on_scene_at=r.on_scene_at,
            closed_at=r.closed_at,
            responder=r.responder,
            responder_name=r.responder_name,
            note=r.note,
            cause=r.cause,
            priority=r.priority,
            incident_status=r.incident_status,
            opened_at=r.opened_at,
            explanation_en=r.explanation_en,
            explanation_zh=r.explanation_zh,
            resident=TaskResident(
                id=r.resident_id, name=r.resident_name, address=r.address, access_notes=r.access_notes, phone=r.phone
            ),
        )
        for r in rows
    ]
    roster = [
        RosterMember(
            user_id=p.user_id,
            display_name=p.display_name,
            phone=p.phone,
            on_duty=p.on_duty,
            me=p.user_id == actor.user_id,
        )
        for p in people
    ]
    return StationView(
        station=station,
        tasks=tasks,
        roster=roster,
        on_duty_count=sum(p.on_duty for p in people),
        version=version,
        now=now,
    )


async def set_duty(conn: Conn, *, actor: Actor, on_duty: bool) -> None:
    """Put oneself on or off one's station's roster."""
    if actor.user_id is None or actor.station_id is None:
        raise NotYourStation("only a station's own people have a place on its roster")
    await accounts_repo.update_user(conn, user_id=actor.user_id, changes={"on_duty": on_duty})
