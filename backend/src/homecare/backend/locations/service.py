"""Locations: safe zones kept by staff, a resident's fixes and an incident's track (each read logged), what a
family member may see, and the retention of raw fixes an administrator sets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from homecare.backend.accounts.models import Actor
from homecare.backend.locations import NoSuchIncident, ZoneNotFound
from homecare.backend.locations import repository as repo
from homecare.backend.locations.geometry import departure
from homecare.backend.locations.models import (
    FamilyLocation,
    Fix,
    LocationPolicy,
    LocationPolicyState,
    NewSafeZone,
    SafeZone,
    Track,
)
from homecare.backend.residents.access import open_resident
from homecare.backend.residents.repository import get_resident
from homecare.backend.zones import zone_or_service
from homecare.storage.connections import Conn

TRACK_LOOKBACK: Final = timedelta(hours=6)
"""How far before an incident its track may begin: a resident out longer than this shows the last six hours."""
AROUND_ALARM: Final = timedelta(minutes=30)
"""An alarm raised inside a zone (an SOS at the park) shows the fixes of the half hour before it."""
FAMILY_FIX_AGE: Final = timedelta(hours=1)
"""A family member sees a fix at most this old: an older one says where the resident was, not is."""


async def safe_zones(conn: Conn, *, actor: Actor, resident_id: int) -> list[SafeZone]:
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="locations.zones")
        return await repo.zones(conn, resident_ids=[resident_id])


async def add_safe_zone(conn: Conn, *, actor: Actor, resident_id: int, zone: NewSafeZone, now: datetime) -> SafeZone:
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="locations.zone_added")
        return await repo.insert_zone(conn, resident_id=resident_id, zone=zone, by=actor.name, now=now)


async def remove_safe_zone(conn: Conn, *, actor: Actor, resident_id: int, zone_id: int) -> None:
    async with conn.transaction():
        await open_resident(
            conn, actor=actor, resident_id=resident_id, action="locations.zone_removed", detail={"zone_id": zone_id}
        )
        if not await repo.delete_zone(conn, resident_id=resident_id, zone_id=zone_id):
            raise ZoneNotFound(zone_id)


async def resident_fixes(conn: Conn, *, actor: Actor, resident_id: int, start: datetime, end: datetime) -> list[Fix]:
    """A resident's fixes in a period; the read and the period are in the access log."""
    async with conn.transaction():
        await open_resident(
            conn,
            actor=actor,
            resident_id=resident_id,
            action="locations.fixes",
            detail={"start": start.isoformat(), "end": end.isoformat()},
        )
        return (await repo.fixes(conn, resident_ids=[resident_id], start=start, end=end))[resident_id]


async def incident_track(conn: Conn, *, actor: Actor, incident_id: int, now: datetime) -> Track:
    """The incident's track: the fixes since the resident left their safe zones (up to six hours before the
    alarm), or the half hour before an alarm raised inside one, until the incident closed or now."""
    async with conn.transaction():
        span = await repo.incident_span(conn, incident_id=incident_id)
        if span is None:
            raise NoSuchIncident(incident_id)
        resident_id, opened_at, closed_at = span
        await open_resident(
            conn, actor=actor, resident_id=resident_id, action="locations.track", detail={"incident_id": incident_id}
        )
        resident = await get_resident(conn, resident_id=resident_id)
        assert resident is not None
        zones = await repo.zones(conn, resident_ids=[resident_id])
        end = closed_at or now
        fixes = (await repo.fixes(conn, resident_ids=[resident_id], start=opened_at - TRACK_LOOKBACK, end=end))[
            resident_id
        ]
        before = [f for f in fixes if f.ts <= opened_at]
        left = departure(before, zones, zone_or_service(resident.timezone)) if zones else None
        since = None if left is None else before[left].ts
        start = since if since is not None else opened_at - AROUND_ALARM
        return Track(resident_id=resident_id, since=since, fixes=[f for f in fixes if f.ts >= start], zones=zones)


async def family_location(conn: Conn, *, actor: Actor, resident_id: int, now: datetime) -> FamilyLocation:
    """The latest fix, for a family member the resident consented to share the location with, and only while an
    alarm is open; the opening is logged either way."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="family.location", share="location")
        if not await repo.has_open_alarm(conn, resident_id=resident_id):
            return FamilyLocation(shown=False)
        fixes = (await repo.fixes(conn, resident_ids=[resident_id], start=now - FAMILY_FIX_AGE, end=now))[resident_id]
        return FamilyLocation(shown=True, fix=fixes[-1] if fixes else None)


async def location_policy(conn: Conn) -> LocationPolicyState:
    return await repo.policy(conn)


async def set_location_policy(
    conn: Conn, *, actor: Actor, policy: LocationPolicy, now: datetime
) -> LocationPolicyState:
    async with conn.transaction():
        return await repo.set_policy(conn, policy=policy, by=actor.name, now=now)
