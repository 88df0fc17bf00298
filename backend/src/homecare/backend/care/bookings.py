"""Home services: the stations' catalogue, offers nearest first with the co-payment shown before booking, and bookings
(by family, the hotline or the station) checked against the area served, the service's capacity and the resident's
other bookings; cancelled with a reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from homecare.backend.accounts.models import Actor, Role
from homecare.backend.care import BookingNotFound, InvalidCareInput
from homecare.backend.care import repository as repo
from homecare.backend.care.models import (
    Booking,
    BookingIn,
    Offer,
    Quote,
    Service,
    ServiceIn,
    ServiceKind,
)
from homecare.backend.dispatch.routing import haversine_km, travel_minutes
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents.access import open_resident
from homecare.storage.connections import Conn

CHANNEL_OF: dict[Role, str] = {Role.FAMILY: "family", Role.RESPONDER: "station", Role.VISITOR: "station"}
"""The booking channel of each role; the call centre's roles book through the hotline."""


def _service(row: dict[str, Any]) -> Service:
    return Service.model_validate(row)


def quote(service: dict[str, Any], *, level: int | None, economic_status: str | None) -> Quote:
    """The price, the subsidy the resident's level earns (the rule of their own economic status first, else the one
    for all; none before an assessment) and what is left for them to pay."""
    rules = [s for s in service["subsidies"] if s["level"] == level and s["economic_status"] in (economic_status, None)]
    rules.sort(key=lambda s: s["economic_status"] is None)
    price = Decimal(service["price_yuan"])
    subsidy = min(Decimal(rules[0]["yuan"]), price) if rules else Decimal("0.00")
    return Quote(price_yuan=price, subsidy_yuan=subsidy, copay_yuan=price - subsidy)


async def add_service(conn: Conn, *, body: ServiceIn) -> Service:
    """Add a service to a station's catalogue; an unknown station or a name the station already uses is refused."""
    try:
        async with conn.transaction():
            service_id = await repo.insert_service(
                conn,
                values=body.model_dump(exclude={"subsidies"}),
                subsidies=[(s.level, s.economic_status, s.yuan) for s in body.subsidies],
            )
    except psycopg.errors.ForeignKeyViolation as err:
        raise InvalidCareInput([("station_id", f"station {body.station_id} does not exist")]) from err
    except psycopg.errors.UniqueViolation as err:
        raise InvalidCareInput([("name", "the station already offers a service of this kind by this name")]) from err
    [row] = await repo.services(conn, service_id=service_id)
    return _service(row)


async def catalogue(conn: Conn, *, station_id: int | None) -> list[Service]:
    return [_service(row) for row in await repo.services(conn, station_id=station_id)]


async def _resident_facts(
    conn: Conn, *, actor: Actor, resident_id: int, action: str
) -> tuple[tuple[float, float], Any]:
    await open_resident(conn, actor=actor, resident_id=resident_id, action=action)
    home = await repo.home(conn, resident_id=resident_id)
    standing = await repo.standing(conn, resident_id=resident_id)
    if home is None or standing is None:
        raise InvalidCareInput([("resident_id", "the resident's home is not located yet")])
    return home, standing


async def offers(conn: Conn, *, actor: Actor, resident_id: int, kind: ServiceKind, starts_at: datetime) -> list[Offer]:
    """The services of this kind whose area covers the home and that have a place at that time, nearest first,
    each with what the resident would pay."""
    async with conn.transaction():
        (lat, lon), standing = await _resident_facts(
            conn, actor=actor, resident_id=resident_id, action="care.service_offers"
        )
        found = []
        for row in await repo.services(conn, kind=kind):
            if haversine_km(lat, lon, row["station_lat"], row["station_lon"]) > row["radius_km"]:
                continue
            ends_at = starts_at + timedelta(minutes=row["duration_min"])
            free = row["capacity"] - await repo.taken_places(
                conn, service_id=row["id"], starts_at=starts_at, ends_at=ends_at
            )
            if free > 0:
                found.append(
                    Offer(
                        service=_service(row),
                        travel_min=round(travel_minutes(row["station_lat"], row["station_lon"], lat, lon), 1),
                        free_places=free,
                        quote=quote(row, level=standing.level, economic_status=standing.economic_status),
                    )
                )
    return sorted(found, key=lambda offer: (offer.travel_min, offer.quote.copay_yuan))


async def _booking(conn: Conn, row: dict[str, Any]) -> Booking:
    [service] = await repo.services(conn, service_id=row["service_id"])
    return Booking.model_validate(
        {
            **row,
            "service": _service(service),
            "quote": {k: row[k] for k in ("price_yuan", "subsidy_yuan", "copay_yuan")},
        }
    )


async def book(conn: Conn, *, actor: Actor, body: BookingIn, now: datetime) -> Booking:
    """Book a service for a resident: the home must be in its area, a place free for the whole visit, and the
    resident not booked for anything else then. Price, subsidy and co-payment are fixed now."""
    if body.starts_at < now:
        raise InvalidCareInput([("starts_at", "a booking starts in the future")])
    async with conn.transaction():
        (lat, lon), standing = await _resident_facts(
            conn, actor=actor, resident_id=body.resident_id, action="care.booking"
        )
        rows = await repo.services(conn, service_id=body.service_id)
        if not rows:
            raise InvalidCareInput([("service_id", f"service {body.service_id} does not exist")])
        service = rows[0]
        if haversine_km(lat, lon, service["station_lat"], service["station_lon"]) > service["radius_km"]:
            raise InvalidCareInput([("service_id", "the resident's home is outside the area this service covers")])
        ends_at = body.starts_at + timedelta(minutes=service["duration_min"])
        await repo.lock_bookings(conn, service_id=body.service_id, resident_id=body.resident_id)
        other = await repo.overlapping_booking(
            conn, resident_id=body.resident_id, starts_at=body.starts_at, ends_at=ends_at
        )
        if other is not None:
            raise InvalidCareInput([("starts_at", f"the resident is already booked then (booking {other})")])
        taken = await repo.taken_places(conn, service_id=body.service_id, starts_at=body.starts_at, ends_at=ends_at)
        if taken >= service["capacity"]:
            raise InvalidCareInput([("starts_at", "the service has no place left at that time")])
        price = quote(service, level=standing.level, economic_status=standing.economic_status)
        booking_id = await repo.insert_booking(
            conn,
            values={
                "resident_id": body.resident_id,
                "service_id": body.service_id,
                "starts_at": body.starts_at,
                "ends_at": ends_at,
                "channel": CHANNEL_OF.get(actor.role, "hotline"),
                **price.model_dump(),
                "booked_by": actor.name,
                "booked_at": now,
            },
        )
        [row] = await repo.bookings(conn, booking_id=booking_id)
        return await _booking(conn, row)


async def resident_bookings(conn: Conn, *, actor: Actor, resident_id: int) -> list[Booking]:
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="care.bookings")
        return [await _booking(conn, row) for row in await repo.bookings(conn, resident_id=resident_id)]


async def cancel(conn: Conn, *, actor: Actor, booking_id: int, reason: str, now: datetime) -> Booking:
    """Cancel a booking with the reason; who may see the resident may cancel."""
    async with conn.transaction():
        rows = await repo.bookings(conn, booking_id=booking_id, lock=True)
        if not rows:
            raise BookingNotFound(booking_id)
        row = rows[0]
        try:
            await open_resident(conn, actor=actor, resident_id=row["resident_id"], action="care.booking.cancel")
        except ResidentNotFound as err:
            raise BookingNotFound(booking_id) from err
        if row["status"] != "booked":
            raise InvalidCareInput([("reason", "the booking is already cancelled")])
        await repo.cancel_booking(conn, booking_id=booking_id, actor=actor.name, reason=reason, now=now)
        [row] = await repo.bookings(conn, booking_id=booking_id)
        return await _booking(conn, row)
