"""The backend in the middle of every call: two aiortc peers per call with the audio crossed and recorded."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import av
import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc import rtp as aiortc_rtp
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.frame import Frame
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg_pool import AsyncConnectionPool

from homecare.backend.calls import CallerRefused, LineBusy
from homecare.backend.calls import service as calls
from homecare.backend.calls.models import CallOutcome, CallState
from homecare.backend.calls.settings import CallSettings

log = logging.getLogger(__name__)

SAMPLE_RATE: Final = 48_000
FRAME_SAMPLES: Final = 960  # 20 ms, the Opus frame aiortc decodes to
_MAX_BUFFERED: Final = 3  # frames a feed keeps; older ones are dropped so delay never builds up
Outbox = asyncio.Queue[dict[str, Any]]


def _audio_level_dbov(frame: AudioFrame) -> int:
    """aiortc's RFC 6465 audio level (same formula, same quirk of dividing by the per-channel sample count),
    vectorised: aiortc's own loops over every sample in Python and cost about 1.5 ms per 20 ms frame sent,
    three quarters of the backend's whole cost of relaying a call."""
    samples = np.frombuffer(bytes(frame.planes[0]), dtype=np.int16).astype(np.int64)
    # A plain sum of squares: np.dot would hand 2,000 numbers to the BLAS threads, which costs more than it saves.
    rms = math.sqrt(int(np.square(samples).sum()) / (frame.samples * 32767 * 32767))
    return round(min(max(20 * math.log10(rms), -127), 0)) if rms > 0 else -127


def speed_up_audio_level() -> None:
    """Put the vectorised audio level in aiortc's place (its sender looks it up on the module at each frame)."""
    aiortc_rtp.compute_audio_level_dbov = _audio_level_dbov


def _silence() -> AudioFrame:
    frame = AudioFrame(format="s16", layout="stereo", samples=FRAME_SAMPLES)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = SAMPLE_RATE
    return frame


class AudioFeed(MediaStreamTrack):
    """What one leg sends: the other leg's audio as it arrives, silence while there is none, paced at 20 ms."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._frames: collections.deque[Frame] = collections.deque(maxlen=_MAX_BUFFERED)
        self._start: float | None = None
        self._pts = 0

    def push(self, frame: Frame) -> None:
        self._frames.append(frame)

    async def recv(self) -> Frame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(self._start + self._pts / SAMPLE_RATE - time.monotonic())
        frame = self._frames.popleft() if self._frames else _silence()
        assert isinstance(frame, AudioFrame)
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += frame.samples
        return frame


class VideoFeed(MediaStreamTrack):
    """The home unit's camera towards the console, frame by frame as it arrives (consented calls only)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._frames: asyncio.Queue[Frame] = asyncio.Queue(maxsize=2)

    def push(self, frame: Frame) -> None:
        if self._frames.full():
            self._frames.get_nowait()
        self._frames.put_nowait(frame)

    async def recv(self) -> Frame:
        if self.readyState != "live":
            raise MediaStreamError
        return await self._frames.get()


class SideRecorder:
    """One side of the call as Ogg/Opus, written as frames pass through the bridge."""

    def __init__(self, path: Path) -> None:
        self._container: Any = av.open(str(path), mode="w", format="ogg")
        self._stream: Any = self._container.add_stream("libopus", rate=SAMPLE_RATE)
        self._pts = 0

    def write(self, frame: Frame) -> None:
        assert isinstance(frame, AudioFrame)
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += frame.samples
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()


@dataclass(eq=False)
class Leg:
    """One peer connection of the bridge: "operator" (the console) or "home" (the home unit)."""

    side: str
    pc: RTCPeerConnection
    audio_out: AudioFeed
    outbox: Outbox
    video_out: VideoFeed | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class Bridge:
    """One call in this backend: a peer towards the console and one towards the home unit, the audio (and consented
    video) crossed between them, recorded when the deployment records calls, and how the call ends.

    Relaying costs a decode and an encode per direction, but it is what lets the platform record calls it could not
    otherwise hear, and it keeps the home's address away from browsers. The backend offers on both legs with
    complete SDP (aiortc does not trickle ICE).
    """

    def __init__(self, hub: CallHub, *, call_id: str) -> None:
        self.hub = hub
        self.call_id = call_id
        self.video = False  # set once the call is on record (only with the resident's consent)
        self.state = CallState.CALLING
        self.outcome: CallOutcome | None = None
        self.operator: Leg | None = None
        self.home: Leg | None = None
        self._recorders: dict[str, SideRecorder] = {}
        self._ring_timer = asyncio.get_running_loop().call_later(
            hub.settings.ring_timeout_s, lambda: hub.spawn(self._ring_out())
        )

    async def _ring_out(self) -> None:
        """The ring time is up: unanswered is no answer; answered with no console on the line is a failure
        (the resident must not be left on a silent line)."""
        if self.state is CallState.ENDED or (self.state is CallState.CONNECTED and self.operator is not None):
            return
        if self.state is CallState.CONNECTED:
            await self.end(CallOutcome.FAILED, "system", "the console never joined the call")
        else:
            await self.end(CallOutcome.NO_ANSWER, "system", None)

    def cancel_ring(self) -> None:
        self._ring_timer.cancel()

    # -- legs --------------------------------------------------------------------------------

    def _leg(self, side: str, *, video_in: bool, video_out: bool) -> Leg:
        servers = [
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in calls.ice_servers(self.hub.settings, user="homecare-backend", now=datetime.now(UTC))
        ]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        leg = Leg(side, pc, AudioFeed(), asyncio.Queue())
        pc.addTransceiver(leg.audio_out, direction="sendrecv")
        if video_out:
            leg.video_out = VideoFeed()
            pc.addTransceiver(leg.video_out, direction="sendonly")
        elif video_in:
            pc.addTransceiver("video", direction="recvonly")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            leg.pumps.append(asyncio.create_task(self._pump(leg, track), name=f"call-{self.call_id}-{side}"))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected" and side == "home":
                await self._answered()
            elif pc.connectionState == "failed":
                answered = self.state is CallState.CONNECTED
                await self.end(
                    CallOutcome.DROPPED if answered else CallOutcome.FAILED, "system", f"{side} connection failed"
                )

        return leg

    async def _pump(self, leg: Leg, track: MediaStreamTrack) -> None:
        """Copy what one side sends to the other side's feed (and the recorder) until the track ends."""
        other = self.home if leg is self.operator else self.operator
        recorder = self._recorders.get(leg.side) if track.kind == "audio" else None
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, Frame)  # a received track yields decoded frames, never packets
                if recorder is not None:
                    recorder.write(frame)
                if other is None:
                    other = self.home if leg is self.operator else self.operator
                    continue
                if track.kind == "audio":
                    other.audio_out.push(frame)
                elif other.video_out is not None:
                    other.video_out.push(frame)

    @contextlib.contextmanager
    def _unless_over(self) -> Iterator[None]:
        """Peer work the call's ending may overtake: ``end`` closes both peers first, and a closed peer refuses what
        a late answer, a late accept or an offer in progress asks of it (aiortc's InvalidStateError). That side
        hears the ending instead; raised on, the refusal would end the signalling socket without a close frame."""
        try:
            yield
        except InvalidStateError:
            if self.state is not CallState.ENDED:
                raise

    async def _offer(self, leg: Leg) -> None:
        with self._unless_over():
            await leg.pc.setLocalDescription(await leg.pc.createOffer())  # returns once ICE gathering is complete
        if self.state is not CallState.ENDED:
            await leg.outbox.put({"type": "offer", "sdp": leg.pc.localDescription.sdp})

    def _may_join(self, leg: Leg | None, who: str) -> None:
        if self.state is CallState.ENDED:  # ending, and still found until ``end`` lets go of it
            raise CallerRefused(f"call {self.call_id} is over")
        if leg is not None:
            raise CallerRefused(f"{who} is already connected")

    async def join_operator(self) -> Leg:
        self._may_join(self.operator, "the call's console")
        self.operator = self._leg("operator", video_in=False, video_out=self.video)
        self._start_recording("operator")
        await self._offer(self.operator)
        await self.operator.outbox.put(self._state_message())
        return self.operator

    async def join_home(self) -> Leg:
        self._may_join(self.home, "the home unit")
        self.home = self._leg("home", video_in=self.video, video_out=False)
        await self._set_state(CallState.RINGING)
        return self.home

    async def accept_home(self) -> None:
        assert self.home is not None
        if self.state is CallState.ENDED:  # the resident pressed as the ring ran out: the ending is on its way
            return
        self._start_recording("home")
        await self._offer(self.home)

    async def answer(self, leg: Leg, sdp: str) -> None:
        with self._unless_over():
            await leg.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    # -- state ---------------------------------------------------------------------------------

    def _state_message(self) -> dict[str, Any]:
        return {
            "type": "state",
            "call_id": self.call_id,
            "state": self.state.value,
            "outcome": None if self.outcome is None else self.outcome.value,
        }

    async def _broadcast(self, message: dict[str, Any]) -> None:
        for leg in (self.operator, self.home):
            if leg is not None:
                await leg.outbox.put(message)

    async def _set_state(self, state: CallState) -> None:
        self.state = state
        if state is CallState.RINGING:
            async with self.hub.pool.connection() as conn:
                await calls.ringing(conn, call_id=self.call_id, now=datetime.now(UTC))
        await self._broadcast(self._state_message())

    async def _answered(self) -> None:
        if self.state is CallState.ENDED:
            return
        async with self.hub.pool.connection() as conn:
            await calls.answered(conn, call_id=self.call_id, now=datetime.now(UTC))
        await self._set_state(CallState.CONNECTED)

    def _start_recording(self, side: str) -> None:
        if not self.hub.settings.record:
            return
        directory = self.hub.recordings / self.call_id
        directory.mkdir(parents=True, exist_ok=True)
        self._recorders[side] = SideRecorder(directory / f"{side}.ogg")

    async def end(self, outcome: CallOutcome, ended_by: str, reason: str | None) -> None:
        """End the call once: close the peers and recorders, write the record, then tell both sides."""
        if self.state is CallState.ENDED:
            return
        self._ring_timer.cancel()
        self.state = CallState.ENDED
        self.outcome = outcome
        for leg in (self.operator, self.home):
            if leg is not None:
                await leg.pc.close()
                for pump in leg.pumps:
                    pump.cancel()
                await asyncio.gather(*leg.pumps, return_exceptions=True)
        for recorder in self._recorders.values():
            recorder.close()
        self.hub.bridges.pop(self.call_id, None)
        try:
            async with self.hub.pool.connection() as conn:
                if self._recorders:
                    directory = (self.hub.recordings / self.call_id).relative_to(self.hub.data_dir)
                    await calls.recorded(conn, call_id=self.call_id, directory=str(directory))
                await calls.end(
                    conn, call_id=self.call_id, outcome=outcome, ended_by=ended_by, reason=reason, now=datetime.now(UTC)
                )
        finally:
            # Told only now, so whoever reads the record on hearing it finds the ending there (and told even
            # when the record could not be written, so no side waits on a call that is over).
            await self._broadcast(self._state_message() | {"ended_by": ended_by, "reason": reason})


class CallHub:
    """Every call this backend carries, held on ``app.state.calls``; built and closed in the router's lifespan."""

    def __init__(
        self, *, settings: CallSettings, pool: AsyncConnectionPool[Any], key: Ed25519PrivateKey, data_dir: Path
    ) -> None:
        speed_up_audio_level()
        self.settings = settings
        self.pool = pool
        self.key = key
        self.data_dir = data_dir
        self.recordings = data_dir / "call-recordings"
        self.bridges: dict[str, Bridge] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None]) -> None:
        """Run work from a callback (timers, peer events) and keep a reference until it is done."""

        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def open(self) -> Bridge:
        """Make room for a new call (before it is on record, so its home unit always finds it here)."""
        if len(self.bridges) >= self.settings.max_calls:
            raise LineBusy(f"this backend already carries {len(self.bridges)} calls")
        bridge = Bridge(self, call_id=secrets.token_urlsafe(12))
        self.bridges[bridge.call_id] = bridge
        return bridge

    def discard(self, bridge: Bridge) -> None:
        """A call that never made it onto the record."""
        bridge.cancel_ring()
        self.bridges.pop(bridge.call_id, None)

    def find(self, call_id: str) -> Bridge:
        bridge = self.bridges.get(call_id)
        if bridge is None:
            raise CallerRefused(f"call {call_id} is not carried here (over, or placed on another backend)")
        return bridge

    async def close(self) -> None:
        """At shutdown: every call ends as dropped (the record says so), then stray tasks finish."""
        for bridge in list(self.bridges.values()):
            await bridge.end(CallOutcome.DROPPED, "system", "the backend stopped")
        await asyncio.gather(*self._tasks, return_exceptions=True)
