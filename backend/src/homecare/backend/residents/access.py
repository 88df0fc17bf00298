"""Who may open which resident: the one scope check before a resident's data is read, and family links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from homecare.backend.accounts import InvalidAccount
from homecare.backend.accounts import repository as accounts_repo
from homecare.backend.accounts.models import Actor, FamilyLink, NewFamilyLink, Role, Sharing
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents.repository import get_resident, record_access
from homecare.backend.zones import day_bounds
from homecare.storage.connections import Conn

Share = Literal["status", "vitals", "activity", "incidents", "location"]
"""What a family member may be shown; location only while an alarm is open (``locations.service``)."""


async def link_family(conn: Conn, *, actor: Actor, resident_id: int, link: NewFamilyLink, now: datetime) -> FamilyLink:
    """Let a family account follow a resident, sharing what the resident agreed to."""
    user = await accounts_repo.get_user(conn, user_id=link.user_id)
    if user is None or user.role is not Role.FAMILY:
        raise InvalidAccount(f"user {link.user_id} is not a family account")
    if await get_resident(conn, resident_id=resident_id) is None:
        raise ResidentNotFound(resident_id)
    return await accounts_repo.upsert_family_link(
        conn,
        user_id=link.user_id,
        resident_id=resident_id,
        relation=link.relation,
        sharing=Sharing(**link.model_dump(exclude={"user_id", "relation"})),
        recorded_by=actor.name,
        now=now,
    )


async def open_resident(
    conn: Conn,
    *,
    actor: Actor,
    resident_id: int,
    action: str,
    share: Share | None = None,
    detail: dict[str, object] | None = None,
    now: datetime | None = None,
) -> None:
    """The one check before any resident's data is read: in scope, or ResidentNotFound (so a family member cannot
    even learn that someone else's relative exists). Family see only what the resident shares (``share``);
    staff openings go to the access log, in the caller's transaction. A carer's route is judged at ``now`` (the
    backend's clock; the real time when not given)."""
    if actor.role is Role.FAMILY:
        links = await accounts_repo.family_links(conn, user_id=actor.user_id, resident_id=resident_id)
        if not links or (share is not None and not getattr(links[0], f"share_{share}", False)):
            raise ResidentNotFound(resident_id)
    elif actor.role is Role.RESPONDER:
        if actor.station_id is None or not await accounts_repo.responder_sees(
            conn, station_id=actor.station_id, resident_id=resident_id
        ):
            raise ResidentNotFound(resident_id)
    elif actor.role is Role.VISITOR:
        if actor.user_id is None or not await accounts_repo.visitor_sees(
            conn, user_id=actor.user_id, resident_id=resident_id
        ):
            raise ResidentNotFound(resident_id)
    elif actor.role is Role.CARER:
        now = now or datetime.now(UTC)
        since, until = day_bounds(actor.timezone, now)
        if actor.user_id is None or not await accounts_repo.carer_sees(
            conn, carer_id=actor.user_id, resident_id=resident_id, since=since, until=until, now=now
        ):
            raise ResidentNotFound(resident_id)
    elif await get_resident(conn, resident_id=resident_id) is None:
        raise ResidentNotFound(resident_id)
    await record_access(conn, actor=actor.name, resident_id=resident_id, action=action, detail=detail)
