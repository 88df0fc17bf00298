"""Carer visits: a booked service visit assigned to a carer of its station, checked in and out by the home unit's
carer_present and the carer's phone near the home, a checklist of the service's tasks at check-out, and the resident
not at home or unwell raised as an incident through the alarm path."""

from __future__ import annotations

import hashlib
import itertools
import secrets
from datetime import datetime, timedelta
from typing import Any, Final, get_args

import psycopg

from homecare.backend.accounts.models import Actor, Role
from homecare.backend.accounts.repository import EARLIEST_CHECK_IN
from homecare.backend.care import BookingNotFound, InvalidCareInput
from homecare.backend.care import repository as repo
from homecare.backend.care.bookings import booking_in_scope, booking_view
from homecare.backend.care.models import (
    BoardCarer,
    BoardProvider,
    BoardVisit,
    Booking,
    CarerCode,
    CarerFigures,
    CarerVisit,
    CarerVisitCard,
    CheckOutIn,
    PhoneProof,
    ServiceBoard,
    VisitState,
)
from homecare.backend.care.rounds import resident_brief
from homecare.backend.detection.config import get_settings
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.backend.dispatch.routing import haversine_km
from homecare.backend.incidents.policy import Escalation
from homecare.backend.incidents.service import apply_signal
from homecare.backend.residents.repository import record_access
from homecare.backend.zones import day_bounds
from homecare.storage.connections import Conn
from homecare.storage.errors import Refusal

PRESENCE_MARGIN: Final = timedelta(hours=1)  # a code typed this long before the start or after the end still counts
ALERT_HORIZON: Final = timedelta(days=1)  # a visit that started longer ago than this is a missed figure, not an alert
SHORT_VISIT_SHARE: Final = 0.75  # a visit at home for less than this share of its booked duration is short
_CHECKED_OUT: Final = Refusal("visit", "the visit is already checked out", "care.checked_out")
MAX_WRONG_CODES: Final = 5  # wrong carer codes at one home unit within the window pause its codes (no guessing)
WRONG_CODE_WINDOW: Final = timedelta(minutes=15)
MAX_PHOTO_BYTES: Final = 1024 * 1024  # the phone page scales a picture down well below this
PHOTO_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp"})
OUTCOME_WORDS: Final = {
    "not_home": ("老人不在家或无人应门", "nobody answered at home"),
    "unwell": ("老人身体不适", "the resident is unwell"),
}


async def issue_code(conn: Conn, *, actor: Actor, user_id: int, now: datetime) -> CarerCode:
    """A new random six-digit code for an active carer, replacing their old one."""
    async with conn.transaction():
        if await repo.active_carer_station(conn, user_id=user_id) is None:
            raise InvalidCareInput([("user_id", f"user {user_id} is not an active carer")])
        while True:
            code = f"{secrets.randbelow(1_000_000):06d}"
            try:
                async with conn.transaction():
                    await repo.save_carer_code(conn, user_id=user_id, code=code, actor=actor.name, now=now)
            except psycopg.errors.UniqueViolation:
                continue  # another carer holds it: draw again
            return CarerCode(user_id=user_id, code=code, issued_at=now)


async def assign(conn: Conn, *, actor: Actor, booking_id: int, carer_id: int) -> Booking:
    """Give a live booking not yet started to a carer of the station that provides the service."""
    async with conn.transaction():
        row = await booking_in_scope(conn, actor=actor, booking_id=booking_id, action="care.booking.assign")
        visit = await repo.carer_visit(conn, booking_id=booking_id)
        assert visit is not None
        station = await repo.active_carer_station(conn, user_id=carer_id)
        if station is None:
            raise InvalidCareInput([("carer_id", f"user {carer_id} is not an active carer")])
        if station != visit["station_id"]:
            raise InvalidCareInput([("carer_id", f"the carer works for another station than {visit['station_name']}")])
        if row["status"] != "booked":
            raise InvalidCareInput([("carer_id", "the booking is cancelled")])
        if visit["checked_in_at"] is not None:
            raise InvalidCareInput([("carer_id", "the visit has started")])
        await repo.assign_carer(conn, booking_id=booking_id, carer_id=carer_id)
        [row] = await repo.bookings(conn, booking_id=booking_id)
        return await booking_view(conn, row)


async def todays_visits(conn: Conn, *, actor: Actor, now: datetime) -> list[CarerVisit]:
    """The carer's route, in the order its visits start: today's (their zone), one whose check-in is open though
    the day has turned, and one begun and not yet ended."""
    assert actor.user_id is not None  # carers are accounts
    since, until = day_bounds(actor.timezone, now)
    return [
        CarerVisit.model_validate(row)
        for row in await repo.carer_visits(conn, carer_id=actor.user_id, since=since, until=until, now=now)
    ]


async def _own_visit(
    conn: Conn, *, actor: Actor, booking_id: int, action: str, now: datetime | None = None
) -> dict[str, Any]:
    """The carer's own visit, locked, its resident's opening (at ``now``) checked and logged; else
    BookingNotFound."""
    row = await repo.carer_visit(conn, booking_id=booking_id, lock=True)
    if row is None or actor.role is not Role.CARER or row["carer_id"] != actor.user_id:
        raise BookingNotFound(booking_id)
    await booking_in_scope(conn, actor=actor, booking_id=booking_id, action=action, now=now)
    return row


async def visit_card(conn: Conn, *, actor: Actor, booking_id: int, now: datetime) -> CarerVisitCard:
    """The carer's visit with the resident's card; the opening is logged."""
    async with conn.transaction():
        row = await _own_visit(conn, actor=actor, booking_id=booking_id, action="care.carer_visit", now=now)
        resident = await resident_brief(conn, resident_id=row["resident_id"], now=now)
    return CarerVisitCard(visit=CarerVisit.model_validate(row), resident=resident)


async def _metres_from_home(conn: Conn, *, row: dict[str, Any], proof: PhoneProof, radius_m: int, what: str) -> float:
    """How far the phone is from the home; too far (or the home not located) is refused naming the position."""
    home = await repo.home(conn, resident_id=row["resident_id"])
    if home is None:
        raise InvalidCareInput(
            [Refusal("lat", "the resident's home is not located: the phone cannot prove the visit", "care.no_home")]
        )
    metres = haversine_km(proof.lat, proof.lon, *home) * 1000
    if metres > radius_m:
        raise InvalidCareInput(
            [
                Refusal(
                    "lat",
                    f"the phone (lat/lon) is {metres:.0f} m from the home; {what} is accepted within {radius_m} m",
                    "care.too_far",
                    {"metres": round(metres), "radius_m": radius_m},
                )
            ]
        )
    return metres


async def _arrived_after_alert(conn: Conn, *, row: dict[str, Any], at: datetime, escalation: Escalation) -> None:
    """The first check-in of a visit alerted as not arrived: the carer's arrival noted on the open incident."""
    if row["non_arrival_at"] is None or row["checked_in_at"] is not None:
        return
    late_min = int((at - row["starts_at"]).total_seconds() // 60)
    await _signal(
        conn,
        resident_id=row["resident_id"],
        cause=Cause.CARER_NON_ARRIVAL,
        kind=SignalKind.CLEAR,
        en=f"The carer checked in {late_min} min after the booked start.",
        zh=f"服务人员已签到，比预约开始晚 {late_min} 分钟。",
        now=at,
        escalation=escalation,
    )


async def check_in(
    conn: Conn,
    *,
    actor: Actor,
    booking_id: int,
    proof: PhoneProof,
    now: datetime,
    radius_m: int,
    escalation: Escalation,
) -> CarerVisit:
    """The carer's phone near the home checks them in (or proves the home unit's check-in a second time)."""
    async with conn.transaction():
        row = await _own_visit(conn, actor=actor, booking_id=booking_id, action="care.carer_visit.check_in", now=now)
        if row["status"] != "booked":
            raise InvalidCareInput([Refusal("visit", "the booking is cancelled", "care.cancelled")])
        if row["checked_out_at"] is not None:
            raise InvalidCareInput([_CHECKED_OUT])
        if row["phone_in_at"] is not None:
            raise InvalidCareInput([Refusal("visit", "the phone has already checked this visit in", "care.checked_in")])
        if now < row["starts_at"] - EARLIEST_CHECK_IN:
            opens = row["starts_at"] - EARLIEST_CHECK_IN
            raise InvalidCareInput(
                [
                    Refusal(
                        "visit",
                        f"check-in opens at {opens:%Y-%m-%d %H:%M} UTC, an hour before the start",
                        "care.too_early",
                        {"opens_at": opens.isoformat()},
                    )
                ]
            )
        metres = await _metres_from_home(conn, row=row, proof=proof, radius_m=radius_m, what="check-in")
        await _arrived_after_alert(conn, row=row, at=now, escalation=escalation)
        await repo.check_in(conn, booking_id=booking_id, carer_id=row["carer_id"], at=now, phone_m=metres)
        found = await repo.carer_visit(conn, booking_id=booking_id)
    return CarerVisit.model_validate(found)


def _check_tasks(tasks: list[str], checklist: dict[str, bool] | None) -> None:
    """Every task of the service ticked (done or not), nothing else; else InvalidCareInput naming each."""
    if checklist is None:
        return
    errors = [
        (f"checklist.{task}", "missing: tick every task of the service, done or not")
        for task in tasks
        if task not in checklist
    ]
    errors += [(f"checklist.{name}", "not a task of this service") for name in checklist if name not in tasks]
    if errors:
        raise InvalidCareInput(errors)


async def check_out(
    conn: Conn,
    *,
    actor: Actor,
    booking_id: int,
    body: CheckOutIn,
    now: datetime,
    radius_m: int,
    escalation: Escalation,
) -> CarerVisit:
    """End the visit from the phone near the home, with the checklist, notes and outcome. The resident not at home
    or unwell opens an incident through the alarm path, in the same transaction."""
    async with conn.transaction():
        row = await _own_visit(conn, actor=actor, booking_id=booking_id, action="care.carer_visit.check_out", now=now)
        if row["checked_in_at"] is None:
            raise InvalidCareInput(
                [Refusal("visit", "check in first, at the home unit or with the phone", "care.not_checked_in")]
            )
        if row["checked_out_at"] is not None:
            raise InvalidCareInput([_CHECKED_OUT])
        _check_tasks(row["tasks"], body.checklist)
        if row["photo_required"] and body.outcome == "completed" and row["photo_taken_at"] is None:
            raise InvalidCareInput(
                [Refusal("photo", "this service is checked out with a photo of the visit", "care.photo_required")]
            )
        metres = await _metres_from_home(conn, row=row, proof=body, radius_m=radius_m, what="check-out")
        await repo.check_out(
            conn,
            booking_id=booking_id,
            at=now,
            phone_m=metres,
            outcome=body.outcome,
            checklist=body.checklist,
            note=body.note,
        )
        if body.outcome in OUTCOME_WORDS:
            incident_id = await _raise(conn, row=row, actor=actor, body=body, now=now, escalation=escalation)
            if incident_id is not None:
                await repo.link_visit_incident(conn, booking_id=booking_id, incident_id=incident_id)
        found = await repo.carer_visit(conn, booking_id=booking_id)
    return CarerVisit.model_validate(found)


async def _raise(
    conn: Conn, *, row: dict[str, Any], actor: Actor, body: CheckOutIn, now: datetime, escalation: Escalation
) -> int | None:
    zh, en = OUTCOME_WORDS[body.outcome]
    en = f"{row['service_name']} by {actor.display_name}: {en}."
    zh = f"{actor.display_name} 上门服务（{row['service_name']}）：{zh}。"
    if body.note:
        en, zh = f"{en} Note: {body.note}", f"{zh} 备注：{body.note}"
    return await _signal(
        conn, resident_id=row["resident_id"], cause=Cause.CARER_VISIT, en=en, zh=zh, now=now, escalation=escalation
    )


async def _signal(
    conn: Conn,
    *,
    resident_id: int,
    cause: Cause,
    en: str,
    zh: str,
    now: datetime,
    escalation: Escalation,
    kind: SignalKind = SignalKind.ALARM,
) -> int | None:
    """A signal about a visit through the alarm path at the resident's priority for ``cause``; its incident."""
    applied = await apply_signal(
        conn,
        signal=Signal(
            resident_id=resident_id,
            cause=cause,
            kind=kind,
            priority=(await get_settings(conn, resident_id=resident_id)).priority(cause),
            explanation_en=en[:300],
            explanation_zh=zh[:300],
            detected_at=now,
        ),
        now=now,
        escalation=escalation,
    )
    return applied.incident_id


async def save_photo(
    conn: Conn, *, actor: Actor, booking_id: int, content_type: str, image: bytes, now: datetime
) -> CarerVisit:
    """The carer's photo of a visit in progress (a new one replaces it until check-out), at most MAX_PHOTO_BYTES."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in PHOTO_TYPES:
        raise InvalidCareInput(
            [Refusal("photo", f"a photo is sent as one of {', '.join(sorted(PHOTO_TYPES))}", "care.photo_type")]
        )
    if not image or len(image) > MAX_PHOTO_BYTES:
        raise InvalidCareInput(
            [
                Refusal(
                    "photo", f"a photo has 1 to {MAX_PHOTO_BYTES} bytes", "care.photo_size", {"limit": MAX_PHOTO_BYTES}
                )
            ]
        )
    async with conn.transaction():
        row = await _own_visit(conn, actor=actor, booking_id=booking_id, action="care.carer_visit.photo", now=now)
        if row["checked_in_at"] is None or row["checked_out_at"] is not None:
            raise InvalidCareInput(
                [Refusal("photo", "a photo is taken between check-in and check-out", "care.photo_when")]
            )
        await repo.save_photo(conn, booking_id=booking_id, content_type=kind, image=image, at=now, actor=actor.name)
        found = await repo.carer_visit(conn, booking_id=booking_id)
    return CarerVisit.model_validate(found)


async def visit_photo(conn: Conn, *, actor: Actor, booking_id: int) -> tuple[str, bytes]:
    """A visit's photo for its carer (today), the providing station's responders and the call centre, the opening
    logged; else BookingNotFound."""
    async with conn.transaction():
        row = await repo.carer_visit(conn, booking_id=booking_id)
        if row is None:
            raise BookingNotFound(booking_id)
        if actor.role is Role.CARER:
            await _own_visit(conn, actor=actor, booking_id=booking_id, action="care.visit_photo")
        elif actor.is_staff or (actor.role is Role.RESPONDER and actor.station_id == row["station_id"]):
            await record_access(conn, actor=actor.name, resident_id=row["resident_id"], action="care.visit_photo")
        else:
            raise BookingNotFound(booking_id)
        found = await repo.photo(conn, booking_id=booking_id)
    if found is None:
        raise BookingNotFound(booking_id)
    return found


async def photographed_visits(conn: Conn, *, actor: Actor, station_id: int | None, since: datetime) -> list[CarerVisit]:
    """Visits checked out since ``since`` with a photo, of a providing station (responders: their own)."""
    if actor.role is Role.RESPONDER:
        station_id = actor.station_id
    rows = await repo.photographed_visits(conn, station_id=station_id, since=since)
    return [CarerVisit.model_validate(row) for row in rows]


async def record_presence(conn: Conn, *, event: dict[str, Any], at: datetime, escalation: Escalation) -> str:
    """A carer's code typed at a home unit (a stored carer_present event): the first for a visit checks the carer
    in, the next checks them out (the home unit's word), at ``at``. What happened, for the pipeline's record."""
    if event["device_kind"] != "home_unit":
        return f"carer_present from a {event['device_kind']}, not a home unit: ignored"
    wrong = await repo.wrong_codes_before(conn, event_id=event["id"], window=WRONG_CODE_WINDOW)
    if wrong >= MAX_WRONG_CODES:
        return (
            f"carer codes paused at this home unit: {wrong} wrong codes in the last "
            f"{WRONG_CODE_WINDOW.seconds // 60} min"
        )
    carer_id = await repo.carer_of_code(conn, code=event["carer_code"])
    if carer_id is None:
        return "carer code matches no carer"
    booking_id = await repo.presence_booking(
        conn, carer_id=carer_id, resident_id=event["resident_id"], at=at, margin=PRESENCE_MARGIN
    )
    if booking_id is None:
        return f"carer {carer_id} has no visit here now"
    row = await repo.carer_visit(conn, booking_id=booking_id)
    assert row is not None
    if row["home_unit_in_at"] is None:
        await _arrived_after_alert(conn, row=row, at=at, escalation=escalation)
        await repo.check_in(conn, booking_id=booking_id, carer_id=carer_id, at=at, home_unit_event=event["id"])
        return f"carer {carer_id} checked in to booking {booking_id}"
    await repo.home_unit_out(conn, booking_id=booking_id, at=at)
    return f"carer {carer_id} checked out of booking {booking_id}"


async def raise_non_arrivals(conn: Conn, *, now: datetime, late_after: timedelta, escalation: Escalation) -> int:
    """Alert every booked visit not checked in ``late_after`` past its start (carer non-arrival): an incident for the
    operators through the alarm path, and the visit on its station's list of non-arrivals. Once per visit; how many."""
    async with conn.transaction():
        rows = await repo.unstarted_visits(conn, due_before=now - late_after, since=now - ALERT_HORIZON)
        for row in rows:
            late_min = int((now - row["starts_at"]).total_seconds() // 60)
            who_en, who_zh = (
                (row["carer_name"], row["carer_name"]) if row["carer_id"] else ("no carer", "未指派服务人员")
            )
            incident_id = await _signal(
                conn,
                resident_id=row["resident_id"],
                cause=Cause.CARER_NON_ARRIVAL,
                en=f"{row['resident_name']}: {row['service_name']} of {row['station_name']} ({who_en}) has not "
                f"checked in {late_min} min after the booked start.",
                zh=f"{row['resident_name']}：{row['station_name']}的{row['service_name']}（{who_zh}）预约开始已 "
                f"{late_min} 分钟，仍未签到。",
                now=now,
                escalation=escalation,
            )
            await repo.mark_non_arrival(conn, booking_id=row["booking_id"], at=now, incident_id=incident_id)
    return len(rows)


async def non_arrivals(conn: Conn, *, actor: Actor, station_id: int | None, now: datetime) -> list[CarerVisit]:
    """Today's visits alerted as not arrived and still not checked in; a responder sees their own station's."""
    if actor.role is Role.RESPONDER:
        station_id = actor.station_id
    since, _ = day_bounds(actor.timezone, now)
    return [CarerVisit.model_validate(row) for row in await repo.non_arrivals(conn, station_id=station_id, since=since)]


async def figures(
    conn: Conn,
    *,
    actor: Actor,
    station_id: int | None,
    since: datetime,
    until: datetime | None,
    now: datetime,
    late_after: timedelta,
) -> list[CarerFigures]:
    """Late, missed and short visits, ratings and complaints per carer and providing station (a responder: their
    own station's), for visits due to start in [since, until) that have begun (started, or checked in early)."""
    if actor.role is Role.RESPONDER:
        station_id = actor.station_id
    rows = await repo.carer_figures(
        conn,
        since=since,
        until=until,
        now=now,
        late_after=late_after,
        short_share=SHORT_VISIT_SHARE,
        station_id=station_id,
    )
    return [CarerFigures.model_validate(row, from_attributes=True) for row in rows]


async def board(
    conn: Conn,
    *,
    actor: Actor,
    station_id: int | None,
    now: datetime,
    late_after: timedelta,
    unless_version: str | None = None,
) -> ServiceBoard | None:
    """Today's visits (the reader's zone) per providing station and carer with where each stands, the open
    non-arrivals first; a responder sees their own station's, a manager one station's or (none named) every one.
    None when the board's version is still ``unless_version``: an unchanged board opens no record again. Each
    resident shown is logged as opened."""
    if actor.role is Role.RESPONDER:
        station_id = actor.station_id
    since, until = day_bounds(actor.timezone, now)
    async with conn.transaction():
        rows = await repo.board_visits(
            conn,
            station_id=station_id,
            since=since,
            until=until,
            now=now,
            late_after=late_after,
            short_share=SHORT_VISIT_SHARE,
        )
        visits = [BoardVisit.model_validate(row) for row in rows]
        digest = hashlib.sha256(f"{since.date()}|".encode())
        for visit in visits:
            digest.update(visit.model_dump_json().encode())
        version = digest.hexdigest()[:24]
        if version == unless_version:
            return None
        for resident_id in dict.fromkeys(visit.resident_id for visit in visits):
            await record_access(
                conn, actor=actor.name, resident_id=resident_id, action="care.board", detail={"station_id": station_id}
            )
    providers = []
    for (provider, name), of_station in itertools.groupby(visits, lambda v: (v.station_id, v.station_name)):
        mine = list(of_station)
        counts: dict[VisitState, int] = dict.fromkeys(get_args(VisitState), 0)
        for visit in mine:
            counts[visit.state] += 1
        carers = [
            BoardCarer(carer_id=carer_id, carer_name=carer_name, visits=list(of_carer))
            for (carer_id, carer_name), of_carer in itertools.groupby(mine, lambda v: (v.carer_id, v.carer_name))
        ]
        providers.append(BoardProvider(station_id=provider, station_name=name, counts=counts, carers=carers))
    return ServiceBoard(
        day=since.date(),
        non_arrivals=sorted((v for v in visits if v.state == "missed"), key=lambda v: (v.starts_at, v.booking_id)),
        providers=providers,
        version=version,
    )
