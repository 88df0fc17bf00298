"""The home unit's voice: checks a start_call token, joins the call with an aiortc peer, speaks a WAV (espeak-ng
speech or a tone) and measures, optionally records, what the operator says; and a console stand-in for load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import shutil
import struct
import subprocess
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av.audio.frame import AudioFrame
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from homecare.contracts.calltoken import CallClaims, TokenRefused, verify
from homecare.contracts.messages import StartCall

log = logging.getLogger(__name__)

SPEECH: Final = {"zh": "您好，我摔倒了，请帮帮我。", "en": "Hello, I have fallen, please help me."}
HEARD_RMS: Final = 0.01  # above this (of full scale) a frame counts as sound rather than silence


def speech_wav(path: Path, *, lang: str = "zh", text: str | None = None) -> Path:
    """A WAV of the resident asking for help (``text``, or the stock words), by espeak-ng; a 440 Hz tone when
    espeak-ng is not installed."""
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        subprocess.run(
            [espeak, "-v", "cmn" if lang == "zh" else "en", "-w", str(path), text or SPEECH[lang]],
            check=True,
            capture_output=True,
        )
        return path
    return tone_wav(path)


def tone_wav(path: Path, *, hz: float = 440.0, seconds: float = 2.0, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(12_000 * math.sin(2 * math.pi * hz * i / rate)))
                for i in range(int(seconds * rate))
            )
        )
    return path


@dataclass
class Ear:
    """What the home unit heard: frames, how many carried sound, the loudest RMS (0–1 of full scale)."""

    frames: int = 0
    loud_frames: int = 0
    peak_rms: float = 0.0
    first_sound_at: float | None = None  # time.monotonic() of the first frame with sound
    silent_run: int = 0  # frames since the last one with sound

    def hear(self, frame: AudioFrame) -> None:
        samples = frame.to_ndarray().astype(np.float32) / 32768.0
        rms = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        self.frames += 1
        self.peak_rms = max(self.peak_rms, rms)
        self.silent_run += 1
        if rms > HEARD_RMS:
            self.silent_run = 0
            self.loud_frames += 1
            if self.first_sound_at is None:
                self.first_sound_at = time.monotonic()


@dataclass(eq=False)
class Line:
    """One side's view of a call: its state as the platform last said, what it heard, whether it is up."""

    state: str = "calling"
    outcome: str | None = None
    ear: Ear = field(default_factory=Ear)
    offered_video: bool = False  # the platform's offer asked for a camera
    sent_video: bool = False
    video_frames: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    socket: ClientConnection | None = None

    async def send(self, message: dict[str, Any]) -> None:
        if self.socket is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.socket.send(json.dumps(message))

    async def hangup(self) -> None:
        await self.send({"type": "hangup"})


async def talk(
    socket: ClientConnection, line: Line, *, speech: Path, camera: bool = False, record_to: Path | None = None
) -> None:
    """Answer the platform's offer with a peer that speaks ``speech`` (looped) and listens, until the call ends."""
    line.socket = socket
    pc: RTCPeerConnection | None = None
    player: MediaPlayer | None = None
    listening: list[asyncio.Task[None]] = []
    try:
        async for raw in socket:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "offer":
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                player = MediaPlayer(str(speech), loop=True)
                await _answer(line, pc, player, message["sdp"], listening, camera=camera, record_to=record_to)
                # The call may have ended while the answer was made: the ending is still there to read.
                with contextlib.suppress(ConnectionClosedOK):
                    await socket.send(json.dumps({"type": "answer", "sdp": pc.localDescription.sdp}))
            elif kind == "state":
                line.state = message["state"]
                if line.state == "connected":
                    line.connected.set()
                elif line.state == "ended":
                    line.outcome = message.get("outcome")
                    return
            elif kind == "refused":
                line.state, line.outcome = "ended", "refused_by_platform"
                return
    finally:
        line.socket = None
        line.state = "ended"
        for task in listening:
            task.cancel()
        await asyncio.gather(*listening, return_exceptions=True)
        if pc is not None:
            await pc.close()
        if player is not None and player.audio is not None:
            player.audio.stop()
        line.ended.set()


async def _answer(
    line: Line,
    pc: RTCPeerConnection,
    player: MediaPlayer,
    sdp: str,
    listening: list[asyncio.Task[None]],
    *,
    camera: bool,
    record_to: Path | None,
) -> None:
    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        listening.append(
            asyncio.create_task(_listen(line, track, record_to) if track.kind == "audio" else _watch(line, track))
        )

    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    # addTrack takes the transceivers the offer created; a video one stays inactive without a camera track.
    if player.audio is not None:
        pc.addTrack(player.audio)
    line.offered_video = any(t.kind == "video" for t in pc.getTransceivers())
    if camera and line.offered_video:
        pc.addTrack(VideoStreamTrack())
        line.sent_video = True
    await pc.setLocalDescription(await pc.createAnswer())  # complete SDP: aiortc gathers before returning


async def _listen(line: Line, track: MediaStreamTrack, record_to: Path | None) -> None:
    with contextlib.ExitStack() as stack:
        recording = None
        if record_to is not None:
            record_to.parent.mkdir(parents=True, exist_ok=True)
            recording = stack.enter_context(wave.open(str(record_to), "wb"))
            recording.setnchannels(2)  # aiortc decodes Opus to 48 kHz stereo
            recording.setsampwidth(2)
            recording.setframerate(48_000)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, AudioFrame)
                line.ear.hear(frame)
                if recording is not None:
                    recording.writeframes(frame.to_ndarray().tobytes())


async def _watch(line: Line, track: MediaStreamTrack) -> None:
    """Take the video frames as they come (a received track left unread would queue them without end)."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
            line.video_frames += 1


class HomeUnitVoice:
    """The voice side of one home unit; `attach` it to the unit's SimDevice so start_call commands reach it.

    It answers only calls whose token the platform signed for this unit and that have not expired; refusals are
    kept in `refused` (call id, reason). The camera is offered only when the token says the resident consented.
    A command with auto_answer (after an alarm) is answered at once; otherwise the unit rings until `pick_up`.
    `speech` is a WAV, or a coroutine function giving one, awaited only for a call the unit takes.
    """

    def __init__(
        self,
        uid: str,
        *,
        public_key: Ed25519PublicKey,
        speech: Path | Callable[[], Awaitable[Path]],
        record_dir: Path | None = None,
        camera: bool = True,
    ) -> None:
        self.uid = uid
        self._key = public_key
        self._speech = speech
        self._record_dir = record_dir
        self._camera = camera
        self.calls: dict[str, Line] = {}
        self.refused: list[tuple[str, str]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, device: Any) -> None:
        device.on_call = self.ring

    def ring(self, command: StartCall) -> None:
        """A start_call command arrived (from the MQTT callback: only schedules the work)."""
        task = asyncio.get_running_loop().create_task(self.take(command), name=f"{self.uid}-call-{command.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def check(self, command: StartCall) -> CallClaims | None:
        """The token's claims, or None (and the refusal noted) when it is forged, expired or someone else's."""
        try:
            return verify(self._key, command.token, device_id=self.uid, call_id=command.call_id, now=time.time())
        except TokenRefused as err:
            log.warning("%s: refused call %s: %s", self.uid, command.call_id, err.reason)
            self.refused.append((command.call_id, err.reason))
            return None

    async def take(self, command: StartCall) -> None:
        claims = self.check(command)
        if claims is None:
            return
        line = self.calls[command.call_id] = Line()
        record_to = None if self._record_dir is None else self._record_dir / f"{command.call_id}.wav"
        log.info(
            "%s: joining call %s (%s)",
            self.uid,
            command.call_id,
            "answering at once" if command.auto_answer else "ringing",
        )
        try:
            speech = self._speech if isinstance(self._speech, Path) else await self._speech()
            async with connect(command.signalling_url, open_timeout=10) as socket:
                await socket.send(json.dumps({"type": "hello", "token": command.token, "answer": command.auto_answer}))
                await talk(socket, line, speech=speech, camera=claims.video and self._camera, record_to=record_to)
        except (OSError, ConnectionClosed) as err:
            log.warning("%s: call %s lost: %s", self.uid, command.call_id, err)
            line.outcome = line.outcome or "dropped"
        finally:
            line.state = "ended"
            line.ended.set()
            log.info(
                "%s: call %s ended (%s); heard sound in %d of %d frames",
                self.uid,
                command.call_id,
                line.outcome,
                line.ear.loud_frames,
                line.ear.frames,
            )

    async def pick_up(self, call_id: str) -> None:
        """Answer a call that rings without auto-answer (the resident pressed the button)."""
        await self.calls[call_id].send({"type": "accept"})

    async def close(self) -> None:
        for line in self.calls.values():
            await line.hangup()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class ConsolePeer:
    """An operator's console stand-in for tests and load: joins a call's signalling socket as staff and talks."""

    def __init__(self, signal_url: str, *, headers: dict[str, str], speech: Path) -> None:
        self.line = Line()
        self._url = signal_url
        self._headers = headers
        self._speech = speech

    async def run(self) -> None:
        async with connect(self._url, additional_headers=self._headers, open_timeout=10) as socket:
            await talk(socket, self.line, speech=self._speech)
