"""Calls on an incident: place one (token, start_call command, record), its ring/answer/end on the record and the
incident's audit trail, the console's call setup, family call-backs, and the recordings' retention."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from homecare.backend.accounts.models import Actor
from homecare.backend.calls import CallNotFound, CallOver, HomeUnitBusy, HomeUnitOffline, NotCallable, RecordingNotFound
from homecare.backend.calls import repository as repo
from homecare.backend.calls.models import Call, CallOutcome, CallSetup, CallState, FamilyCallbackBody
from homecare.backend.calls.settings import CallSettings, IceServer
from homecare.backend.calls.tokens import issue
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.models import CLOSED, Incident, Status, why
from homecare.backend.residents.access import open_resident
from homecare.contracts.messages import StartCall
from homecare.storage.connections import Conn

HOME_UNIT: Final = "home_unit"
SYSTEM: Final = incidents.SYSTEM
_CALLABLE: Final = frozenset({Status.OPEN, Status.ACKNOWLEDGED})  # the statuses the incidents service calls from


def ice_servers(settings: CallSettings, *, user: str, now: datetime) -> list[IceServer]:
    """The ICE servers for one peer: TURN entries without a username get credentials valid for
    ``turn_credential_ttl_s`` (username "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)))."""
    secret = settings.turn_secret
    if secret is None:
        return settings.ice_servers
    username = f"{int(now.timestamp()) + settings.turn_credential_ttl_s}:{user}"
    password = base64.b64encode(
        hmac.new(secret.get_secret_value().encode(), username.encode(), hashlib.sha1).digest()
    ).decode()
    return [
        server
        if server.username or not any(u.startswith(("turn:", "turns:")) for u in server.urls)
        else server.model_copy(update={"username": username, "credential": password})
        for server in settings.ice_servers
    ]


async def _open_incident(conn: Conn, *, incident_id: int) -> Incident:
    incident = await incidents.get_incident(conn, incident_id=incident_id)
    if incident.status in CLOSED:
        raise NotCallable(f"incident {incident_id} is {incident.status.value}")
    return incident


async def call_setup(conn: Conn, *, actor: Actor, incident_id: int, settings: CallSettings, now: datetime) -> CallSetup:
    """What the call panel shows before a call: the home unit, video consent, family contacts, ICE servers."""
    incident = await incidents.get_incident(conn, incident_id=incident_id)
    await open_resident(
        conn, actor=actor, resident_id=incident.resident_id, action="call_setup", detail={"incident_id": incident_id}
    )
    unit = await repo.home_unit_of(conn, resident_id=incident.resident_id)
    online, last_contact = (None, None) if unit is None else await repo.home_unit_presence(conn, device_id=unit[0])
    return CallSetup(
        ice_servers=ice_servers(settings, user=actor.name, now=now),
        home_unit=None if unit is None else unit[1],
        home_unit_online=online,
        home_unit_last_contact=last_contact,
        video_consented=await repo.consent_video(conn, resident_id=incident.resident_id),
        recording=settings.record,
        contacts=await repo.contacts_of(conn, resident_id=incident.resident_id),
    )


async def place_call(
    conn: Conn,
    *,
    actor: Actor,
    incident_id: int,
    take_line: Callable[[], str],
    video: bool,
    auto_answer: bool,
    key: Ed25519PrivateKey,
    settings: CallSettings,
    signal_base: str,
    now: datetime,
) -> Call:
    """Record a call to the resident's home unit and queue its start_call command with a fresh token; the
    incident moves to in_call (or, past that, notes the call). Video only with the resident's consent.

    ``take_line`` makes room for the call on this backend and returns its id (or raises LineBusy); it is called only
    once the incident, the caller's right to it and a free home unit are checked, so a full backend never hides
    that the incident does not exist or that the home is already in a call."""
    async with conn.transaction():
        incident = await _open_incident(conn, incident_id=incident_id)
        await open_resident(
            conn, actor=actor, resident_id=incident.resident_id, action="call", detail={"incident_id": incident_id}
        )
        unit = await repo.home_unit_of(conn, resident_id=incident.resident_id)
        if unit is None:
            raise NotCallable(f"the resident of incident {incident_id} has no home unit")
        device_id, uid = unit
        online, last_contact = await repo.home_unit_presence(conn, device_id=device_id)
        if online is False:
            raise HomeUnitOffline(device_uid=uid, last_contact=last_contact)
        await repo.lock_home_unit(conn, device_id=device_id)
        placed_since = now - timedelta(seconds=settings.ring_timeout_s)
        live = await repo.live_call_to(conn, device_id=device_id, placed_since=placed_since)
        if live is not None:
            raise HomeUnitBusy(call_id=live, device_uid=uid)
        call_id = take_line()
        video = video and await repo.consent_video(conn, resident_id=incident.resident_id)
        await repo.insert_call(
            conn,
            call_id=call_id,
            incident_id=incident_id,
            resident_id=incident.resident_id,
            device_id=device_id,
            started_by=actor.name,
            video=video,
            now=now,
        )
        token = issue(
            key,
            call_id=call_id,
            device_uid=uid,
            incident_id=incident_id,
            video=video,
            ttl_s=settings.token_ttl_s,
            now=now.timestamp(),
        )
        body = StartCall(
            call_id=call_id,
            token=token,
            signalling_url=f"{signal_base}/api/calls/{call_id}/signal",
            auto_answer=auto_answer,
            video=video,
        )
        await repo.queue_command(conn, device_id=device_id, incident_id=incident_id, body=body.model_dump(mode="json"))
        because = why("call_video" if video else "call_voice", device=uid)
        if incident.status in _CALLABLE:
            await incidents.start_call(conn, incident_id=incident_id, actor=actor.name, now=now, because=because)
        else:
            await incidents.record(
                conn,
                incident=await incidents.load_for_update(conn, incident_id=incident_id),
                now=now,
                actor=actor.name,
                change="call_placed",
                because=because,
                detail={"call_id": call_id},
            )
    return await get_call(conn, call_id=call_id)


async def get_call(conn: Conn, *, call_id: str) -> Call:
    call = await repo.get_call(conn, call_id=call_id)
    if call is None:
        raise CallNotFound(call_id)
    return call


async def calls_of_incident(conn: Conn, *, actor: Actor, incident_id: int) -> list[Call]:
    incident = await incidents.get_incident(conn, incident_id=incident_id)
    await open_resident(
        conn, actor=actor, resident_id=incident.resident_id, action="calls", detail={"incident_id": incident_id}
    )
    return await repo.calls_of(conn, incident_id=incident_id)


async def operator_may_join(conn: Conn, *, call_id: str) -> Call:
    """The call, if a member of staff may still join it: not over, and its incident open."""
    call = await get_call(conn, call_id=call_id)
    if call.state is CallState.ENDED:
        raise CallOver(f"call {call_id} has ended")
    await _open_incident(conn, incident_id=call.incident_id)
    return call


async def ringing(conn: Conn, *, call_id: str, now: datetime) -> None:
    await repo.mark_ringing(conn, call_id=call_id, now=now)


async def answered(conn: Conn, *, call_id: str, now: datetime) -> None:
    async with conn.transaction():
        if await repo.mark_answered(conn, call_id=call_id, now=now):
            call = await get_call(conn, call_id=call_id)
            incident = await incidents.load_for_update(conn, incident_id=call.incident_id)
            await incidents.record(
                conn,
                incident=incident,
                now=now,
                actor=HOME_UNIT,
                change="call_answered",
                detail={"call_id": call_id},
            )


async def end(
    conn: Conn, *, call_id: str, outcome: CallOutcome, ended_by: str, reason: str | None, now: datetime
) -> Call:
    """End the call on the record and on the incident's audit trail; a second ending changes nothing."""
    async with conn.transaction():
        if await repo.end_call(conn, call_id=call_id, outcome=outcome.value, ended_by=ended_by, reason=reason, now=now):
            call = await get_call(conn, call_id=call_id)
            incident = await incidents.load_for_update(conn, incident_id=call.incident_id)
            await incidents.record(
                conn,
                incident=incident,
                now=now,
                actor=ended_by,
                change="call_ended",
                reason=reason,
                because=why(f"call_{outcome.value}", seconds=round(call.duration_s or 0), by=ended_by),
                detail={"call_id": call_id, "outcome": outcome.value, "duration_s": call.duration_s},
            )
    return await get_call(conn, call_id=call_id)


async def recorded(conn: Conn, *, call_id: str, directory: str) -> None:
    await repo.set_recording(conn, call_id=call_id, directory=directory)


async def family_callback(
    conn: Conn, *, actor: Actor, incident_id: int, body: FamilyCallbackBody, now: datetime
) -> Incident:
    """Record on the incident that the operator rang a family contact, and whether they were reached."""
    async with conn.transaction():
        incident = await incidents.load_for_update(conn, incident_id=incident_id)
        await open_resident(
            conn,
            actor=actor,
            resident_id=incident.resident_id,
            action="family_callback",
            detail={"incident_id": incident_id},
        )
        contact = next(
            (c for c in await repo.contacts_of(conn, resident_id=incident.resident_id) if c.id == body.contact_id), None
        )
        if contact is None:
            raise NotCallable(f"contact {body.contact_id} is not one of this resident's")
        await incidents.record(
            conn,
            incident=incident,
            now=now,
            actor=actor.name,
            change="family_called",
            reason=body.note,
            because=why(f"family_{body.outcome}", name=contact.name, phone=contact.phone or "—"),
            detail={"contact_id": contact.id, "outcome": body.outcome},
        )
    return await incidents.get_incident(conn, incident_id=incident_id)


async def recording_file(conn: Conn, *, actor: Actor, call_id: str, side: str, data_dir: Path) -> Path:
    """One side's recording of a call; every playback or download is on the access log."""
    call = await get_call(conn, call_id=call_id)
    directory = await repo.recording_of(conn, call_id=call_id)
    path = None if directory is None else data_dir / directory / f"{side}.ogg"
    if path is None or not path.is_file():
        raise RecordingNotFound(call_id)
    await open_resident(
        conn,
        actor=actor,
        resident_id=call.resident_id,
        action="call_recording",
        detail={"call_id": call_id, "side": side},
    )
    return path


async def purge_recordings(conn: Conn, *, data_dir: Path, retention_days: int, now: datetime) -> int:
    """Delete recordings older than the retention period (the call record stays); how many went."""
    purged = 0
    for row in await repo.recordings_ended_before(conn, before=now - timedelta(days=retention_days)):
        shutil.rmtree(data_dir / row["recording"], ignore_errors=True)
        await repo.mark_purged(conn, call_id=row["id"], now=now)
        purged += 1
    return purged
