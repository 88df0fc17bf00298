"""HTTP routes for the operators' queue, incident detail and actions, and the live feed WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, Query, Request, WebSocket
from starlette.websockets import WebSocketDisconnect

from homecare.backend.accounts import NotAuthenticated
from homecare.backend.alarms.pipeline import RunningPipeline
from homecare.backend.deps import SESSION_COOKIE, ConnDep, StaffActor, authenticate
from homecare.backend.incidents import service
from homecare.backend.incidents.feed import ChangeHub
from homecare.backend.incidents.models import (
    ActBody,
    Change,
    ChangeCursor,
    Incident,
    IncidentDetail,
    NoteBody,
    NotifyFamilyBody,
    ResolveBody,
)
from homecare.backend.incidents.policy import AnswerTargets, PolicySet
from homecare.backend.inputs import BigRowId, Cursor, Text
from homecare.backend.runtime import Runtime

router = APIRouter(prefix="/incidents", tags=["incidents"])

IncidentId = Annotated[BigRowId, Path(description="The incident's id.")]


def get_alarms(request: Request) -> RunningPipeline:
    """The running alarm pipeline: its escalation policies and its clock (a manual one in tests)."""
    return cast(RunningPipeline, request.app.state.alarm_pipeline)


AlarmsDep = Annotated[RunningPipeline, Depends(get_alarms)]


def get_answer_targets(alarms: AlarmsDep) -> AnswerTargets:
    """The answer targets of the escalation policy in force: the reports measure against them, the console's
    timers turn amber and red at them."""
    return alarms.escalation.policies.answer_targets


AnswerTargetsDep = Annotated[AnswerTargets, Depends(get_answer_targets)]


@router.get("", summary="The queue: open incidents (pre-alarms included), most urgent first, then oldest")
async def get_queue(
    actor: StaffActor,
    conn: ConnDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    include_pre_alarms: Annotated[bool, Query(description="Show falls still counting down.")] = True,
) -> list[Incident]:
    return await service.open_queue(conn, limit=limit, include_pre_alarms=include_pre_alarms)


@router.get("/changes", summary="Feed rows after a cursor (the WebSocket's replay, for polling clients)")
async def get_changes(
    actor: StaffActor,
    conn: ConnDep,
    after: Annotated[Cursor, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[Change]:
    return await service.changes_after(conn, after=after, limit=limit)


@router.get("/changes/last", summary="The newest feed id: read it before the queue, then follow the feed after it")
async def get_last_change(actor: StaffActor, conn: ConnDep) -> ChangeCursor:
    return ChangeCursor(id=await service.last_change_id(conn))


@router.get("/escalation/policy", summary="The escalation policies in force (who is alerted when, station time-outs)")
async def get_policy(actor: StaffActor, alarms: AlarmsDep) -> PolicySet:
    return alarms.escalation.policies


@router.get(
    "/escalation/targets",
    summary="The answer targets in force (within 60 s / 180 s): the console's timers turn amber, then red",
)
async def get_answer_targets_in_force(actor: StaffActor, targets: AnswerTargetsDep) -> AnswerTargets:
    return targets


@router.get("/{incident_id}", summary="One incident with its audit trail and station tasks")
async def get_incident(actor: StaffActor, conn: ConnDep, incident_id: IncidentId) -> IncidentDetail:
    return await service.incident_detail(conn, incident_id=incident_id, actor=actor)


@router.post("/{incident_id}/acknowledge", summary="An operator takes the incident (stops escalation)")
async def acknowledge(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: ActBody
) -> Incident:
    return await service.acknowledge(
        conn, incident_id=incident_id, actor=actor.acting_as(body.actor), now=alarms.clock.now(), note=body.note
    )


@router.post("/{incident_id}/call", summary="The operator is calling the home")
async def start_call(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: ActBody
) -> Incident:
    return await service.start_call(
        conn, incident_id=incident_id, actor=actor.acting_as(body.actor), now=alarms.clock.now(), note=body.note
    )


@router.post("/{incident_id}/notes", summary="Add a note to the audit trail")
async def add_note(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: NoteBody
) -> Incident:
    return await service.add_note(
        conn, incident_id=incident_id, actor=actor.acting_as(body.actor), note=body.note, now=alarms.clock.now()
    )


@router.post("/{incident_id}/notify-family", summary="Tell the family now (e-mail to the contacts who get alarms)")
async def notify_family(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: NotifyFamilyBody
) -> Incident:
    return await service.tell_family_now(
        conn,
        incident_id=incident_id,
        actor=actor.acting_as(body.actor),
        now=alarms.clock.now(),
        escalation=alarms.escalation,
        note=body.note,
    )


@router.post("/{incident_id}/resolve", summary="Close the incident with its outcome")
async def resolve(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: ResolveBody
) -> Incident:
    return await service.resolve(
        conn,
        incident_id=incident_id,
        actor=actor.acting_as(body.actor),
        outcome=body.outcome,
        now=alarms.clock.now(),
        escalation=alarms.escalation,
        note=body.note,
    )


@router.post("/{incident_id}/cancel", summary="The resident called it off (outcome cancelled_by_resident)")
async def cancel(
    actor: StaffActor, conn: ConnDep, alarms: AlarmsDep, incident_id: IncidentId, body: ActBody
) -> Incident:
    return await service.cancel(
        conn,
        incident_id=incident_id,
        actor=actor.acting_as(body.actor),
        now=alarms.clock.now(),
        escalation=alarms.escalation,
        note=body.note,
    )


@router.websocket("/feed")
async def feed(
    websocket: WebSocket,
    after: Annotated[Cursor, Query(description="The last change id the client saw (0: from the start).")] = 0,
    token: Annotated[
        Text | None, Query(max_length=256, description="The bearer token, for clients that cannot set headers.")
    ] = None,
) -> None:
    """Incident changes after ``after``, in order, then live, for the call centre. Authorise with the session
    cookie, ``Authorization: Bearer`` or ``?token=``. Each message is one ``Change`` as JSON; reconnect with the
    last ``id`` seen."""
    runtime = cast(Runtime, websocket.app.state.runtime)
    header = websocket.headers.get("authorization", "")
    presented = token or (header[7:] if header.lower().startswith("bearer ") else None)
    try:
        actor = await authenticate(
            runtime,
            bearer=presented,
            cookie=websocket.cookies.get(SESSION_COOKIE),
            origin=websocket.headers.get("origin"),
            host=websocket.headers.get("host"),
            unsafe=True,
        )
    except NotAuthenticated as err:
        await websocket.close(code=1008, reason=str(err))
        return
    if not actor.is_staff:
        await websocket.close(code=1008, reason=f"{actor.role.value} may not follow the incident feed")
        return
    await websocket.accept()

    async def send_all() -> None:
        stream = cast(ChangeHub, websocket.app.state.incident_changes).follow(after=after)
        try:
            async for change in stream:
                await websocket.send_text(change.model_dump_json())
        finally:
            await stream.aclose()

    async def until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return

    sender = asyncio.create_task(send_all())
    closed = asyncio.create_task(until_closed())
    done, pending = await asyncio.wait({sender, closed}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await task
    for task in done:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            task.result()
