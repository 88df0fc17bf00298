"""Home services: the stations' catalogue, offers nearest first with the co-payment shown before booking, and bookings
(by family, the hotline or the station) checked against the area served, the service's capacity and the resident's
other bookings; cancelled with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

import psycopg

from homecare.backend.accounts.models import Actor, Role
from homecare.backend.care import BookingNotFound, InvalidCareInput
from homecare.backend.care import repository as repo
from homecare.backend.care.models import (
    Booking,
    BookingIn,
    MoveIn,
    Offer,
    Quote,
    ResidentBrief,
    SeriesIn,
    Service,
    ServiceIn,
    ServiceKind,
)
from homecare.backend.care.rounds import resident_brief
from homecare.backend.dispatch.routing import haversine_km, travel_minutes
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents.access import open_resident
from homecare.backend.zones import zone_or_service
from homecare.storage.connections import Conn
from homecare.storage.errors import Refusal

MAX_SERIES_DAYS: Final = 92
_IN_THE_PAST: Final = Refusal("starts_at", "a booking starts in the future", "care.in_the_past")

CHANNEL_OF: dict[Role, str] = {
    Role.FAMILY: "family",
    Role.RESPONDER: "station",
    Role.VISITOR: "station",
    Role.CARER: "station",
}
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
        raise InvalidCareInput(
            [
                Refusal(
                    "station_id",
                    f"station {body.station_id} does not exist",
                    "care.no_station",
                    {"station_id": body.station_id},
                )
            ]
        ) from err
    except psycopg.errors.UniqueViolation as err:
        raise InvalidCareInput(
            [Refusal("name", "the station already offers a service of this kind by this name", "care.name_taken")]
        ) from err
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
        raise InvalidCareInput([Refusal("resident_id", "the resident's home is not located yet", "care.home_unknown")])
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


async def booking_view(conn: Conn, row: dict[str, Any]) -> Booking:
    """A booking with its service, the price fixed when booked, and the ratings and complaints of its visit."""
    [service] = await repo.services(conn, service_id=row["service_id"])
    return Booking.model_validate(
        {
            **row,
            "service": _service(service),
            "quote": {k: row[k] for k in ("price_yuan", "subsidy_yuan", "copay_yuan")},
            "ratings": await repo.ratings(conn, booking_id=row["id"]),
            "complaints": await repo.complaints(conn, booking_id=row["id"]),
        }
    )


async def _bookable_service(conn: Conn, *, service_id: int, home: tuple[float, float]) -> dict[str, Any]:
    rows = await repo.services(conn, service_id=service_id)
    if not rows:
        raise InvalidCareInput(
            [
                Refusal(
                    "service_id", f"service {service_id} does not exist", "care.no_service", {"service_id": service_id}
                )
            ]
        )
    service = rows[0]
    if haversine_km(*home, service["station_lat"], service["station_lon"]) > service["radius_km"]:
        raise InvalidCareInput(
            [
                Refusal(
                    "service_id",
                    "the resident's home is outside the area this service covers",
                    "care.outside_area",
                    {"radius_km": service["radius_km"]},
                )
            ]
        )
    return service


async def _check_slot(
    conn: Conn,
    *,
    service: dict[str, Any],
    resident_id: int,
    starts_at: datetime,
    field: str,
    besides: int | None = None,
) -> datetime:
    """The end of a visit starting then, once the resident is free and the service has a place (else
    InvalidCareInput naming ``field``); the caller holds the bookings lock."""
    ends_at = starts_at + timedelta(minutes=service["duration_min"])
    other = await repo.overlapping_booking(
        conn, resident_id=resident_id, starts_at=starts_at, ends_at=ends_at, besides=besides
    )
    if other is not None:
        raise InvalidCareInput(
            [
                Refusal(
                    field,
                    f"the resident is already booked at {starts_at:%Y-%m-%d %H:%M} UTC (booking {other})",
                    "care.resident_busy",
                    {"starts_at": starts_at.isoformat(), "booking_id": other},
                )
            ]
        )
    taken = await repo.taken_places(
        conn, service_id=service["id"], starts_at=starts_at, ends_at=ends_at, besides=besides
    )
    if taken >= service["capacity"]:
        raise InvalidCareInput(
            [
                Refusal(
                    field,
                    f"the service has no place left at {starts_at:%Y-%m-%d %H:%M} UTC",
                    "care.full",
                    {"starts_at": starts_at.isoformat()},
                )
            ]
        )
    return ends_at


async def _book(
    conn: Conn, *, actor: Actor, body: BookingIn, starts: list[datetime], field: str, now: datetime
) -> list[int]:
    """Check every start and book them all, or none (the caller's transaction)."""
    home, standing = await _resident_facts(conn, actor=actor, resident_id=body.resident_id, action="care.booking")
    service = await _bookable_service(conn, service_id=body.service_id, home=home)
    await repo.lock_bookings(conn, service_id=body.service_id, resident_id=body.resident_id)
    price = quote(service, level=standing.level, economic_status=standing.economic_status)
    booked = []
    for starts_at in starts:
        ends_at = await _check_slot(
            conn, service=service, resident_id=body.resident_id, starts_at=starts_at, field=field
        )
        booked.append(
            await repo.insert_booking(
                conn,
                values={
                    "resident_id": body.resident_id,
                    "service_id": body.service_id,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "channel": CHANNEL_OF.get(actor.role, "hotline"),
                    **price.model_dump(),
                    "booked_by": actor.name,
                    "booked_at": now,
                },
            )
        )
    return booked


async def book(conn: Conn, *, actor: Actor, body: BookingIn, now: datetime) -> Booking:
    """Book a service for a resident: the home must be in its area, a place free for the whole visit, and the
    resident not booked for anything else then. Price, subsidy and co-payment are fixed now."""
    if body.starts_at < now:
        raise InvalidCareInput([_IN_THE_PAST])
    async with conn.transaction():
        [booking_id] = await _book(conn, actor=actor, body=body, starts=[body.starts_at], field="starts_at", now=now)
        [row] = await repo.bookings(conn, booking_id=booking_id)
        return await booking_view(conn, row)


def series_starts(body: SeriesIn, zone: ZoneInfo) -> list[datetime]:
    """The starts of a recurring booking: starts_at's local time on each chosen weekday up to ``until``, a local
    time that a clock change skips or repeats taken as the zone gives it."""
    first = body.starts_at.astimezone(zone)
    if body.until < first.date():
        raise InvalidCareInput([Refusal("until", "the series ends before it starts", "care.series_backwards")])
    if (body.until - first.date()).days > MAX_SERIES_DAYS:
        raise InvalidCareInput(
            [
                Refusal(
                    "until",
                    f"a series runs for {MAX_SERIES_DAYS} days at most",
                    "care.series_too_long",
                    {"days": MAX_SERIES_DAYS},
                )
            ]
        )
    days = (first.date() + timedelta(days=n) for n in range((body.until - first.date()).days + 1))
    return [datetime.combine(day, first.time(), zone).astimezone(UTC) for day in days if day.weekday() in body.weekdays]


async def book_series(conn: Conn, *, actor: Actor, body: SeriesIn, now: datetime) -> list[Booking]:
    """A recurring booking (a meal every weekday): every visit is checked as a one-off is, and either all are
    booked, as one series, or none (the first that cannot be is named)."""
    if body.starts_at < now:
        raise InvalidCareInput([_IN_THE_PAST])
    async with conn.transaction():
        zone = zone_or_service(await repo.resident_timezone(conn, resident_id=body.resident_id))
        starts = series_starts(body, zone)
        if not starts:
            raise InvalidCareInput(
                [Refusal("weekdays", "none of these weekdays falls between the start and until", "care.no_days")]
            )
        ids = await _book(conn, actor=actor, body=body, starts=starts, field="weekdays", now=now)
        await repo.join_series(conn, booking_ids=ids)
        return [await booking_view(conn, row) for row in await repo.bookings(conn, series_id=min(ids))]


async def move(conn: Conn, *, actor: Actor, booking_id: int, body: MoveIn, now: datetime) -> Booking:
    """Move a live booking to another time (checked as a new one is, itself aside), keeping the reason."""
    if body.starts_at < now:
        raise InvalidCareInput([_IN_THE_PAST])
    async with conn.transaction():
        row = await booking_in_scope(conn, actor=actor, booking_id=booking_id, action="care.booking.move")
        if row["status"] != "booked":
            raise InvalidCareInput([Refusal("starts_at", "a cancelled booking cannot be moved", "care.cancelled")])
        [service] = await repo.services(conn, service_id=row["service_id"])
        await repo.lock_bookings(conn, service_id=row["service_id"], resident_id=row["resident_id"])
        ends_at = await _check_slot(
            conn,
            service=service,
            resident_id=row["resident_id"],
            starts_at=body.starts_at,
            field="starts_at",
            besides=booking_id,
        )
        await repo.move_booking(
            conn,
            booking_id=booking_id,
            starts_at=body.starts_at,
            ends_at=ends_at,
            actor=actor.name,
            reason=body.reason,
            now=now,
        )
        [row] = await repo.bookings(conn, booking_id=booking_id)
        return await booking_view(conn, row)


async def booking_in_scope(
    conn: Conn, *, actor: Actor, booking_id: int, action: str, now: datetime | None = None
) -> dict[str, Any]:
    """The booking, locked, if the actor may see its resident at ``now`` (the opening logged); else
    BookingNotFound."""
    rows = await repo.bookings(conn, booking_id=booking_id, lock=True)
    if not rows:
        raise BookingNotFound(booking_id)
    try:
        await open_resident(conn, actor=actor, resident_id=rows[0]["resident_id"], action=action, now=now)
    except ResidentNotFound as err:
        raise BookingNotFound(booking_id) from err
    return rows[0]


async def resident_for_booking(conn: Conn, *, actor: Actor, resident_id: int, now: datetime) -> ResidentBrief:
    """The card of a resident that staff book for (the hotline, the station, a visitor); the opening is checked and
    logged."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="care.booking_card")
        return await resident_brief(conn, resident_id=resident_id, now=now)


async def resident_bookings(conn: Conn, *, actor: Actor, resident_id: int) -> list[Booking]:
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="care.bookings")
        return [await booking_view(conn, row) for row in await repo.bookings(conn, resident_id=resident_id)]


async def cancel(conn: Conn, *, actor: Actor, booking_id: int, reason: str, now: datetime) -> Booking:
    """Cancel a booking with the reason; who may see the resident may cancel."""
    async with conn.transaction():
        row = await booking_in_scope(conn, actor=actor, booking_id=booking_id, action="care.booking.cancel")
        if row["status"] != "booked":
            raise InvalidCareInput([Refusal("reason", "the booking is already cancelled", "care.cancelled")])
        await repo.cancel_booking(conn, booking_id=booking_id, actor=actor.name, reason=reason, now=now)
        [row] = await repo.bookings(conn, booking_id=booking_id)
        return await booking_view(conn, row)
