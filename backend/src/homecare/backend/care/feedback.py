"""Ratings and complaints of booked visits: by the resident's family on their page and by the resident through the
call centre or the providing station, one rating per visit and rater once it is checked out; complaints go to the
station that provided the visit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from homecare.backend.accounts.models import Actor, Role
from homecare.backend.care import BookingNotFound, InvalidCareInput
from homecare.backend.care import repository as repo
from homecare.backend.care.bookings import booking_in_scope
from homecare.backend.care.models import Complaint, ComplaintIn, Rater, Rating, RatingIn
from homecare.backend.residents.repository import record_access
from homecare.storage.connections import Conn
from homecare.storage.errors import Refusal


async def _visit_to_judge(conn: Conn, *, actor: Actor, booking_id: int, action: str) -> tuple[dict[str, Any], Rater]:
    """The booked visit, locked, if the actor speaks for its family (a linked family member) or its resident (the
    call centre, or a responder of the providing station or of the resident's), the opening logged; and who the
    actor speaks for. Else BookingNotFound."""
    row = await repo.carer_visit(conn, booking_id=booking_id, lock=True)
    if row is None:
        raise BookingNotFound(booking_id)
    if actor.role is Role.RESPONDER and actor.station_id == row["station_id"]:
        await record_access(conn, actor=actor.name, resident_id=row["resident_id"], action=action)
    else:
        await booking_in_scope(conn, actor=actor, booking_id=booking_id, action=action)
    return row, "family" if actor.role is Role.FAMILY else "resident"


async def rate(conn: Conn, *, actor: Actor, booking_id: int, body: RatingIn, now: datetime) -> Rating:
    """Rate a checked-out visit, once per rater: each family member for themselves, staff for the resident."""
    async with conn.transaction():
        row, rater = await _visit_to_judge(conn, actor=actor, booking_id=booking_id, action="care.rating")
        if row["checked_out_at"] is None:
            raise InvalidCareInput(
                [Refusal("visit", "a visit is rated once the carer has checked out", "care.not_checked_out")]
            )
        values = {
            "booking_id": booking_id,
            "rater": rater,
            "family_user": actor.user_id if rater == "family" else None,
            "stars": body.stars,
            "comment": body.comment,
            "rated_at": now,
            "recorded_by": actor.name,
        }
        try:
            async with conn.transaction():
                await repo.insert_rating(conn, values=values)
        except psycopg.errors.UniqueViolation as err:
            who = "you have" if rater == "family" else "the resident has"
            raise InvalidCareInput(
                [Refusal("visit", f"{who} already rated this visit", f"care.rated_by_{rater}")]
            ) from err
    return Rating.model_validate(values)


async def complain(conn: Conn, *, actor: Actor, booking_id: int, body: ComplaintIn, now: datetime) -> Complaint:
    """A complaint about a visit that has begun or was due (late, missed, done badly …), for the providing station."""
    async with conn.transaction():
        row, raised_by = await _visit_to_judge(conn, actor=actor, booking_id=booking_id, action="care.complaint")
        if row["status"] != "booked":
            raise InvalidCareInput([Refusal("visit", "the booking was cancelled", "care.cancelled")])
        if row["checked_in_at"] is None and now < row["starts_at"]:
            raise InvalidCareInput(
                [Refusal("visit", "the visit has not begun: move or cancel the booking instead", "care.not_begun")]
            )
        complaint_id = await repo.insert_complaint(
            conn,
            values={
                "booking_id": booking_id,
                "raised_by": raised_by,
                "family_user": actor.user_id if raised_by == "family" else None,
                "category": body.category,
                "text": body.text,
                "raised_at": now,
                "recorded_by": actor.name,
            },
        )
        [found] = await repo.complaints(conn, complaint_id=complaint_id)
    return Complaint.model_validate(found)


async def station_complaints(conn: Conn, *, actor: Actor, station_id: int | None, since: datetime) -> list[Complaint]:
    """Complaints raised since ``since`` about the visits a station provided (responders: their own station's),
    newest first; each resident's opening logged."""
    if actor.role is Role.RESPONDER:
        station_id = actor.station_id
    async with conn.transaction():
        rows = await repo.complaints(conn, station_id=station_id, since=since)
        for resident_id in sorted({row["resident_id"] for row in rows}):
            await record_access(conn, actor=actor.name, resident_id=resident_id, action="care.complaints")
    return [Complaint.model_validate(row) for row in rows]
