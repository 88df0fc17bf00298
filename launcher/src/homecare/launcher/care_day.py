"""The simulated carers at the platform: each station's catalogue and carers with the codes they type at the home
units, today's and tomorrow's visits booked and given to them, and what of today already happened written as it went
(the simulator types the codes from now on)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Final

from homecare.backend.accounts import repository as accounts_repo
from homecare.backend.accounts.models import Role
from homecare.backend.accounts.passwords import hash_password
from homecare.backend.care import repository as care_repo
from homecare.backend.care.bookings import add_service, quote
from homecare.backend.care.models import ServiceIn
from homecare.sim.carers import CARERS_PER_STATION, CATALOGUE, CareRoster, CarerRecord, CareVisit
from homecare.storage.connections import Conn

BOOKED_BY: Final = "homecare run"
AREA_KM: Final = 3.0  # homes cluster within walking distance of their station
DEMO_CARER: Final = "carer"  # the demo sign-in is the first carer of the first station


async def _service_ids(conn: Conn, stations: dict[str, int]) -> dict[tuple[str, str], int]:
    """Each station's service of each offer of the catalogue, added when missing: (station code, kind) → id."""
    found = {}
    for code, station_id in stations.items():
        offered = {row["name"]: row["id"] for row in await care_repo.services(conn, station_id=station_id)}
        for offer in CATALOGUE:
            if offer.name not in offered:
                body = ServiceIn(
                    station_id=station_id,
                    kind=offer.kind,
                    name=offer.name,
                    duration_min=offer.duration_min,
                    price_yuan=offer.price_yuan,
                    capacity=CARERS_PER_STATION,  # each carer on one visit at a time
                    radius_km=AREA_KM,
                    tasks=list(offer.tasks),
                )
                offered[offer.name] = (await add_service(conn, body=body)).id
            found[(code, offer.kind)] = offered[offer.name]
    return found


async def _carer_id(conn: Conn, carer: CarerRecord, *, first: bool, station_id: int, now: datetime) -> int:
    """The carer's account (the demo carer's for the first), made if missing, holding the simulator's code."""
    username = DEMO_CARER if first else f"carer-{carer.station}-{carer.number}"
    found = await accounts_repo.credentials(conn, username=username)
    if found is not None:
        user_id = found.id
    else:
        user = await accounts_repo.insert_user(
            conn,
            username=username,
            display_name=carer.name,
            role=Role.CARER,
            password_hash=hash_password(secrets.token_urlsafe(18)),  # a simulated carer does not sign in
            station_id=station_id,
            phone=None,
            email=None,
            language="zh",
            timezone="Asia/Shanghai",
        )
        user_id = user.id
    await care_repo.save_carer_code(conn, user_id=user_id, code=carer.code, actor=BOOKED_BY, now=now)
    return user_id


async def book_care_days(conn: Conn, *, care: CareRoster, now: datetime) -> int:
    """Book today's and tomorrow's visits of the simulated carers (a re-run books only what is missing) and write
    the check-ins and check-outs of today's that happened before ``now``; how many visits were booked."""
    booked = 0
    async with conn.transaction():
        rows = await conn.execute(
            "SELECT code, id FROM stations WHERE code = ANY(%s)", ([s.code for s in care.enrolment.stations],)
        )
        stations = {str(code): int(station_id) for code, station_id in await rows.fetchall()}
        refs = {f"sim-{care.enrolment.seed}-{r.index:04d}": r.index for r in care.enrolment.residents}
        rows = await conn.execute("SELECT external_ref, id FROM residents WHERE external_ref = ANY(%s)", (list(refs),))
        residents = {refs[str(ref)]: int(resident_id) for ref, resident_id in await rows.fetchall()}
        services = await _service_ids(conn, stations)
        first_station = care.enrolment.stations[0].code
        carers = {
            (c.station, c.number): await _carer_id(
                conn, c, first=(c.station, c.number) == (first_station, 1), station_id=stations[c.station], now=now
            )
            for c in care.carers
        }
        today = now.astimezone(care.tz).date()
        for day in (today, today + timedelta(days=1)):
            for visit in care.day(day):
                service_id = services[(visit.station, visit.service.kind)]
                resident_id = residents[visit.resident]
                carer_id = carers[(visit.station, visit.carer)]
                rows = await conn.execute(
                    "SELECT id FROM care_bookings WHERE resident_id = %s AND service_id = %s AND starts_at = %s",
                    (resident_id, service_id, visit.starts),
                )
                found = await rows.fetchone()
                if found is None:
                    [service] = await care_repo.services(conn, service_id=service_id)
                    booking_id = await care_repo.insert_booking(
                        conn,
                        values={
                            "resident_id": resident_id,
                            "service_id": service_id,
                            "starts_at": visit.starts,
                            "ends_at": visit.ends,
                            "channel": "station",
                            **quote(service, level=None, economic_status=None).model_dump(),
                            "booked_by": BOOKED_BY,
                            "booked_at": now,
                            "carer_id": carer_id,
                        },
                    )
                    booked += 1
                else:
                    booking_id = int(found[0])
                await _what_happened(conn, booking_id=booking_id, carer_id=carer_id, visit=visit, now=now)
    return booked


async def _what_happened(conn: Conn, *, booking_id: int, carer_id: int, visit: CareVisit, now: datetime) -> None:
    """A visit whose carer arrived (and left) before now, not recorded yet: the home unit's check-in (and out)."""
    arrives, leaves = visit.arrives, visit.leaves
    if arrives is None or leaves is None or arrives >= now.timestamp():
        return
    row = await care_repo.carer_visit(conn, booking_id=booking_id)
    if row is None or row["checked_in_at"] is not None:
        return
    await care_repo.check_in(conn, booking_id=booking_id, carer_id=carer_id, at=datetime.fromtimestamp(arrives, UTC))
    if leaves < now.timestamp():
        await care_repo.home_unit_out(conn, booking_id=booking_id, at=datetime.fromtimestamp(leaves, UTC))
