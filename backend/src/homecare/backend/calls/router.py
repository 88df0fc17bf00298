"""HTTP routes for calls on an incident and the signalling WebSocket both sides of a call talk through."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, cast

from fastapi import APIRouter, Depends, FastAPI, Path, Request, WebSocket, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from homecare.backend.accounts import NotAuthenticated
from homecare.backend.accounts.models import Actor
from homecare.backend.calls import (
    CallerRefused,
    CallNotFound,
    CallOver,
    CallsError,
    service,
)
from homecare.backend.calls.bridge import Bridge, CallHub, Leg
from homecare.backend.calls.models import (
    Call,
    CallOutcome,
    CallSetup,
    CallState,
    FamilyCallbackBody,
    HangupBody,
    PlacedCall,
    StartCallBody,
)
from homecare.backend.calls.settings import CallSettings
from homecare.backend.calls.tokens import signing_key
from homecare.backend.deps import SESSION_COOKIE, ConnDep, SettingsDep, StaffActor, authenticate
from homecare.backend.incidents import IncidentsError
from homecare.backend.incidents.models import Incident
from homecare.backend.inputs import BigRowId
from homecare.backend.runtime import Runtime
from homecare.contracts.calltoken import TokenRefused, public_key_text, verify

HELLO_WITHIN_S: Final = 10.0
PURGE_EVERY_S: Final = 3600.0


async def _purge_recordings(hub: CallHub) -> None:
    while True:
        async with hub.pool.connection() as conn:
            await service.purge_recordings(
                conn, data_dir=hub.data_dir, now=datetime.now(UTC), retention_days=hub.settings.recording_retention_days
            )
        await asyncio.sleep(PURGE_EVERY_S)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The call hub (every WebRTC peer of this backend), after the app's runtime is up; calls end at shutdown."""
    runtime = cast(Runtime, app.state.runtime)
    settings = CallSettings()  # HOMECARE_CALL_*; fails fast on unsafe values
    data_dir = runtime.settings.data_dir
    hub = CallHub(settings=settings, pool=runtime.pool, key=signing_key(settings, data_dir), data_dir=data_dir)
    app.state.calls = hub
    purge = asyncio.create_task(_purge_recordings(hub), name="call-recording-retention")
    try:
        yield
    finally:
        purge.cancel()
        await asyncio.gather(purge, return_exceptions=True)
        await hub.close()


router = APIRouter(tags=["calls"], lifespan=lifespan)

IncidentId = Annotated[BigRowId, Path(description="The incident's id.")]
CallId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="The call's id.")]


def get_hub(request: Request) -> CallHub:
    return cast(CallHub, request.app.state.calls)


HubDep = Annotated[CallHub, Depends(get_hub)]


class SigningKey(BaseModel):
    alg: Literal["Ed25519"] = "Ed25519"
    public_key: str


@router.get("/calls/signing-key", summary="The public key home units verify call tokens with (no sign-in needed)")
async def get_signing_key(hub: HubDep) -> SigningKey:
    return SigningKey(public_key=public_key_text(hub.key.public_key()))


@router.get("/incidents/{incident_id}/call-setup", summary="What the call panel needs: home unit, consent, contacts")
async def get_call_setup(actor: StaffActor, conn: ConnDep, hub: HubDep, incident_id: IncidentId) -> CallSetup:
    return await service.call_setup(
        conn, actor=actor, incident_id=incident_id, settings=hub.settings, now=datetime.now(UTC)
    )


def _signal_base(request: Request, settings: CallSettings) -> str:
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    return "ws" + base.removeprefix("http")


@router.post(
    "/incidents/{incident_id}/calls",
    status_code=status.HTTP_201_CREATED,
    summary="Call the resident's home unit: a signed token goes to the unit over MQTT",
)
async def place_call(
    request: Request,
    actor: StaffActor,
    conn: ConnDep,
    hub: HubDep,
    incident_id: IncidentId,
    body: StartCallBody | None = None,
) -> PlacedCall:
    body = body or StartCallBody()
    opened: list[Bridge] = []

    def take_line() -> str:
        opened.append(hub.open())
        return opened[0].call_id

    try:
        call = await service.place_call(
            conn,
            actor=actor,
            incident_id=incident_id,
            take_line=take_line,
            video=body.video,
            auto_answer=body.auto_answer,
            key=hub.key,
            settings=hub.settings,
            signal_base=_signal_base(request, hub.settings),
            now=datetime.now(UTC),
        )
    except BaseException:
        for bridge in opened:
            hub.discard(bridge)
        raise
    opened[0].video = call.video
    return PlacedCall(
        call=call,
        signal_path=f"/api/calls/{call.id}/signal",
        ice_servers=service.ice_servers(hub.settings, user=actor.name, now=datetime.now(UTC)),
    )


@router.get("/incidents/{incident_id}/calls", summary="The incident's calls: who, when, how long, how they ended")
async def get_calls(actor: StaffActor, conn: ConnDep, incident_id: IncidentId) -> list[Call]:
    return await service.calls_of_incident(conn, actor=actor, incident_id=incident_id)


@router.post(
    "/incidents/{incident_id}/family-callbacks",
    summary="Record that a family contact was rung back, and whether they were reached",
)
async def family_callback(
    actor: StaffActor, conn: ConnDep, incident_id: IncidentId, body: FamilyCallbackBody
) -> Incident:
    return await service.family_callback(conn, actor=actor, incident_id=incident_id, body=body, now=datetime.now(UTC))


@router.get("/calls/{call_id}", summary="One call's record")
async def get_call(actor: StaffActor, conn: ConnDep, call_id: CallId) -> Call:
    return await service.get_call(conn, call_id=call_id)


@router.post("/calls/{call_id}/hangup", summary="Hang up (the operator's side)")
async def hangup(
    actor: StaffActor, conn: ConnDep, hub: HubDep, call_id: CallId, body: HangupBody | None = None
) -> Call:
    body = body or HangupBody()
    call = await service.get_call(conn, call_id=call_id)
    if call.state is CallState.ENDED:
        raise CallOver(f"call {call_id} has already ended")
    outcome = CallOutcome.COMPLETED if call.state is CallState.CONNECTED else CallOutcome.NO_ANSWER
    bridge = hub.bridges.get(call_id)
    if bridge is not None:
        await bridge.end(outcome, actor.name, body.reason)
        return await service.get_call(conn, call_id=call_id)
    # Not carried here (the backend restarted mid-call): close the record all the same.
    return await service.end(
        conn, call_id=call_id, outcome=outcome, ended_by=actor.name, reason=body.reason, now=datetime.now(UTC)
    )


@router.get(
    "/calls/{call_id}/recording/{side}",
    summary="Play or download one side of a recorded call (logged)",
    response_class=FileResponse,
)
async def get_recording(
    actor: StaffActor, conn: ConnDep, settings: SettingsDep, call_id: CallId, side: Literal["operator", "home"]
) -> FileResponse:
    path = await service.recording_file(conn, actor=actor, call_id=call_id, side=side, data_dir=settings.data_dir)
    return FileResponse(path, media_type="audio/ogg", filename=f"call-{call_id}-{side}.ogg")


# -- signalling ------------------------------------------------------------------------------------


async def _staff(websocket: WebSocket, runtime: Runtime) -> Actor:
    header = websocket.headers.get("authorization", "")
    try:
        actor = await authenticate(
            runtime,
            bearer=header[7:] if header.lower().startswith("bearer ") else None,
            cookie=websocket.cookies.get(SESSION_COOKIE),
            origin=websocket.headers.get("origin"),
            host=websocket.headers.get("host"),
            unsafe=True,
        )
    except NotAuthenticated as err:
        raise CallerRefused(str(err)) from err
    if not actor.is_staff:
        raise CallerRefused(f"{actor.role.value} may not join calls")
    return actor


async def _home_unit(websocket: WebSocket, hub: CallHub, call_id: str) -> tuple[Bridge, bool]:
    """The bridge a home unit may join with the token of its first message, and whether it answers at once."""
    try:
        hello = await asyncio.wait_for(websocket.receive_json(), HELLO_WITHIN_S)
    except (TimeoutError, ValueError, WebSocketDisconnect) as err:
        raise CallerRefused('a home unit starts with {"type": "hello", "token": …}') from err
    if not isinstance(hello, dict) or hello.get("type") != "hello" or not isinstance(hello.get("token"), str):
        raise CallerRefused('a home unit starts with {"type": "hello", "token": …}')
    async with hub.pool.connection() as conn:
        try:
            call = await service.get_call(conn, call_id=call_id)
        except CallNotFound as err:
            raise CallerRefused(str(err)) from err
    try:
        verify(hub.key.public_key(), hello["token"], device_id=call.device_uid, call_id=call_id, now=time.time())
    except TokenRefused as err:
        raise CallerRefused(f"call token refused: {err.reason}") from err
    return hub.find(call_id), bool(hello.get("answer", True))


@router.websocket("/calls/{call_id}/signal")
async def signal(websocket: WebSocket, call_id: str) -> None:
    """Offer/answer for one call, complete SDP each way (no trickle). The console joins with its session cookie
    (staff, incident open); the home unit joins with ``{"type": "hello", "token": …, "answer": true}`` as its first
    message. The backend sends ``offer`` and ``state`` messages; clients send ``answer``, ``hangup``, and the home
    unit ``accept`` or ``refuse`` when it did not answer at once."""
    runtime = cast(Runtime, websocket.app.state.runtime)
    hub = cast(CallHub, websocket.app.state.calls)
    device = "authorization" not in websocket.headers and SESSION_COOKIE not in websocket.cookies
    try:
        if device:
            await websocket.accept()
            bridge, answer_now = await _home_unit(websocket, hub, call_id)
            leg = await bridge.join_home()
            if answer_now:
                await bridge.accept_home()
            who = "home_unit"
        else:
            actor = await _staff(websocket, runtime)
            async with runtime.pool.connection() as conn:
                try:
                    await service.operator_may_join(conn, call_id=call_id)
                except (CallsError, IncidentsError) as err:
                    raise CallerRefused(str(err)) from err
            bridge = hub.find(call_id)
            await websocket.accept()
            leg = await bridge.join_operator()
            who = actor.name
    except CallerRefused as err:
        if websocket.client_state is WebSocketState.CONNECTING:
            await websocket.close(code=1008, reason=str(err)[:120])
        else:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await websocket.send_json({"type": "refused", "detail": str(err)})
                await websocket.close(code=1008, reason=str(err)[:120])
        return
    await _converse(websocket, bridge, leg, who)


async def _converse(websocket: WebSocket, bridge: Bridge, leg: Leg, who: str) -> None:
    """Relay the bridge's messages to the socket and the socket's to the bridge until the call or socket ends."""

    async def send() -> None:
        while True:
            message = await leg.outbox.get()
            await websocket.send_json(message)
            if message.get("state") == CallState.ENDED.value:
                return

    async def receive() -> None:
        while True:
            message: Any = await websocket.receive_json()
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == "answer" and isinstance(message.get("sdp"), str):
                await bridge.answer(leg, message["sdp"])
            elif kind == "accept" and leg is bridge.home:
                await bridge.accept_home()
            elif kind == "refuse" and leg is bridge.home:
                await bridge.end(CallOutcome.REFUSED, who, message.get("reason"))
            elif kind == "hangup":
                answered = bridge.state is CallState.CONNECTED
                outcome = (
                    CallOutcome.COMPLETED
                    if answered
                    else (CallOutcome.REFUSED if leg is bridge.home else CallOutcome.NO_ANSWER)
                )
                await bridge.end(outcome, who, message.get("reason"))

    sending = asyncio.create_task(send())
    receiving = asyncio.create_task(receive())
    try:
        await asyncio.wait({sending, receiving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        receiving.cancel()
        with contextlib.suppress(
            asyncio.CancelledError, WebSocketDisconnect, RuntimeError, ValidationError, ValueError
        ):
            await receiving
        if bridge.state is not CallState.ENDED:
            # The socket went away mid-call: a drop, on the record as such.
            answered = bridge.state is CallState.CONNECTED
            await bridge.end(
                CallOutcome.DROPPED if answered else CallOutcome.FAILED,
                "system",
                f"{leg.side} signalling connection lost",
            )
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sending
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()
