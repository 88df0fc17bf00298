"""Reading a resident's record: the card an operator sees, opened through the one access check and logged."""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from homecare.backend.accounts.models import Actor
from homecare.backend.devices.repository import device_status
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents import repository as repo
from homecare.backend.residents.access import open_resident
from homecare.backend.residents.models import Contact, HomeStation, PastIncident, ResidentCard
from homecare.storage.connections import Conn

PAST_INCIDENTS: Final = 20


async def resident_card(conn: Conn, *, actor: Actor, resident_id: int, now: datetime) -> ResidentCard:
    """The resident card; the opening is checked and written to the access log in the same transaction.
    Raises ``ResidentNotFound`` (also when the resident is out of the actor's scope)."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="resident.card")
        row = await repo.card_row(conn, resident_id=resident_id)
        if row is None:
            raise ResidentNotFound(resident_id)
        contacts = [Contact(**c) for c in await repo.contacts(conn, resident_id=resident_id)]
        devices = await device_status(conn, resident_id=resident_id)
        past = [
            PastIncident(**i) for i in await repo.recent_incidents(conn, resident_id=resident_id, limit=PAST_INCIDENTS)
        ]
    # Only the birth year is kept: the age is the one they reach this year where they live.
    year = now.astimezone(ZoneInfo(row.timezone)).year
    station = (
        None
        if row.station_id is None or row.station_name is None
        else HomeStation(
            id=row.station_id, name=row.station_name, phone=row.station_phone, address=row.station_address or ""
        )
    )
    return ResidentCard(
        id=row.id,
        name=row.display_name,
        age=None if row.birth_year is None else year - row.birth_year,
        birth_year=row.birth_year,
        sex=row.sex,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        access_notes=row.access_notes,
        conditions=row.conditions,
        medications=row.medications,
        allergies=row.allergies,
        mobility=row.mobility,
        language=row.language,
        phone=row.phone,
        vulnerable=row.vulnerable,
        consent_video=row.consent_video,
        timezone=row.timezone,
        contacts=contacts,
        station=station,
        devices=devices,
        past_incidents=past,
    )
