"""Plays households on simulated devices against a broker: the bridge from the models to MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import subprocess
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from homecare.contracts.calltoken import load_public_key
from homecare.contracts.messages import ALARM_KINDS, DeviceKind, DoseReminder, EventKind
from homecare.contracts.topics import Channel
from homecare.sim.clock import SimClock
from homecare.sim.device import DeviceSettings, SimDevice
from homecare.sim.household import EventHappening, Household, ImuHappening, MeasurementHappening
from homecare.sim.mqtt_url import BrokerAddress
from homecare.sim.neighbourhood import Neighbourhood
from homecare.sim.netloop import PahoBridge
from homecare.sim.voice import HomeUnitVoice, speech_wav, tone_wav

log = logging.getLogger(__name__)

SIGNING_KEY_PATH: Final = "/api/calls/signing-key"
HELP_SPEECH: Final = "您好，我是{name}，我摔倒了，请帮帮我。"


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run paces itself; behaviour intervals are simulated time, network timers real time."""

    telemetry_interval_s: float = 60.0  # simulated seconds
    heartbeat_interval_s: float = 300.0  # simulated seconds
    tick_s: float = 0.25  # real seconds between looks at the clock
    connects_per_tick: int = 50  # spreads a neighbourhood's connections over the first ticks
    resend_after_s: float = 10.0  # real seconds without an ack before an event goes again
    keepalive_s: int = 60
    backoff_s: tuple[float, float] = (1.0, 60.0)
    seq_state: Path | None = None  # JSON file of next seq per device, so seq keeps growing across runs
    drain_s: float = 0.0  # real seconds to wait at the end for the acks of events still unacknowledged


@dataclass(frozen=True, slots=True)
class Jump:
    """At simulated time `at`, the clock moves forward to `to` (what lies between is skipped)."""

    at: float
    to: float


@dataclass(slots=True)
class RunStatus:
    """A snapshot for a progress line, refreshed every tick."""

    sim_time: float = 0.0
    devices: int = 0
    connected: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    acked: int = 0  # events the platform acknowledged
    unacked: int = 0
    alarms: list[str] = field(default_factory=list)  # recent alarm reports, newest last


@dataclass(slots=True)
class _Timers:
    next_telemetry: float
    last_telemetry: float
    next_heartbeat: float


class SeqState:
    """Next seq per device in a small JSON file. Without one, seq starts at the wall-clock time in ms,
    which also only grows across runs as long as a device sends fewer than 1000 messages a second."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._next: dict[str, int] = {}
        if path is not None and path.exists():
            self._next = {k: int(v) for k, v in json.loads(path.read_text()).items()}

    def first(self, uid: str) -> int:
        return self._next.get(uid, int(time.time() * 1000))

    def save(self, devices: Iterable[SimDevice]) -> None:
        if self._path is None:
            return
        self._next.update({d.uid: d.next_seq for d in devices})
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._next, indent=0, sort_keys=True))
        tmp.replace(self._path)


@dataclass(frozen=True, slots=True)
class VoiceOptions:
    """Where the home units get the platform's call-signing public key, and where their speech is kept."""

    speech_dir: Path
    api_url: str | None = None  # the key from GET <api_url>/api/calls/signing-key, asked until the API answers
    key_file: Path | None = None  # or the key as provisioned: its base64url text in a file
    key_wait_s: float = 120.0  # how long to keep asking the API before going on without voice


class HomeVoices:
    """The home units' voices. Each unit's HomeUnitVoice is a few attributes until a call it verified arrives;
    only then does it build an aiortc peer, so a neighbourhood of idle homes holds no peers. Each resident's plea
    for help is spoken by espeak-ng on their first call and kept in ``speech_dir`` for later calls and runs."""

    def __init__(self, options: VoiceOptions) -> None:
        self.options = options
        self.units: dict[str, HomeUnitVoice] = {}
        self._making = asyncio.Lock()  # one espeak-ng at a time; a second call for the same words finds the file

    async def give(self, households: Iterable[Household], devices: dict[str, SimDevice]) -> None:
        """Fetch the key, then attach a voice to every home unit; without a key the units stay mute (logged)."""
        key = await self._key()
        if key is None:
            return
        if shutil.which("espeak-ng") is None:
            log.warning("espeak-ng is not installed: home units answer calls with a tone instead of speech")
        for h in households:
            for record in h.record.devices:
                if record.kind is DeviceKind.HOME_UNIT:
                    voice = HomeUnitVoice(record.uid, public_key=key, speech=self._speech_of(h.record.name))
                    voice.attach(devices[record.uid])
                    self.units[record.uid] = voice
        log.info("voice on: %d home units answer calls the platform signs", len(self.units))

    async def close(self) -> None:
        await asyncio.gather(*(voice.close() for voice in self.units.values()))

    async def _key(self) -> Ed25519PublicKey | None:
        o = self.options
        if o.key_file is not None:
            try:
                return load_public_key(o.key_file.read_text().strip())
            except (OSError, ValueError) as err:
                log.error(
                    "voice off: no call-signing key in %s (%s); home units will not answer calls", o.key_file, err
                )
                return None
        assert o.api_url is not None, "VoiceOptions needs api_url or key_file"
        url = o.api_url.rstrip("/") + SIGNING_KEY_PATH
        loop = asyncio.get_running_loop()
        deadline = loop.time() + o.key_wait_s
        async with httpx.AsyncClient(timeout=5.0) as client:
            while True:
                try:
                    response = await client.get(url)
                    response.raise_for_status()
                    key = load_public_key(response.json()["public_key"])
                    log.info("voice: call-signing key from %s", url)
                    return key
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
                    problem = str(err) or type(err).__name__
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(1.0)
        log.error(
            "voice off: no call-signing key from %s within %.0f s (%s); home units will not answer calls",
            url,
            o.key_wait_s,
            problem,
        )
        return None

    def _speech_of(self, name: str) -> Callable[[], Awaitable[Path]]:
        async def speech() -> Path:
            async with self._making:
                return await asyncio.to_thread(self._make_speech, HELP_SPEECH.format(name=name))

        return speech

    async def say(self, text: str) -> Path:
        """A home unit speaks a reminder: espeak-ng's WAV of the words (kept for the next time they are due)."""
        async with self._making:
            return await asyncio.to_thread(self._make_speech, text, "reminder")

    def _make_speech(self, text: str, what: str = "help") -> Path:
        directory = self.options.speech_dir
        directory.mkdir(parents=True, exist_ok=True)
        if shutil.which("espeak-ng") is None:
            tone = directory / "tone.wav"  # not kept under the words: once espeak-ng is installed, they are spoken
            return tone if tone.exists() else tone_wav(tone)
        path = directory / f"{what}-{zlib.crc32(text.encode()):08x}.wav"
        if not path.exists():
            partial = path.with_suffix(".partial")
            try:
                speech_wav(partial, text=text)
            except subprocess.CalledProcessError as err:
                log.warning("espeak-ng failed (%s): this call gets a tone", err.stderr.decode(errors="replace"))
                return tone_wav(directory / "tone.wav")
            partial.replace(path)
        return path


def _spread(uid: str, period: float) -> float:
    """A fixed offset within `period` per device, so a neighbourhood's reports do not all coincide."""
    return (zlib.crc32(uid.encode()) % 10_000) / 10_000 * period


class NeighbourhoodRun:
    """Runs the chosen households' devices until `run()` is cancelled or reaches `until`."""

    def __init__(
        self,
        hood: Neighbourhood,
        broker: BrokerAddress,
        clock: SimClock,
        *,
        residents: Iterable[int] | None = None,
        options: RunOptions | None = None,
        secrets: bool = True,
        voice: VoiceOptions | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.hood = hood
        self.clock = clock
        self.options = options or RunOptions()
        chosen = sorted(hood.households) if residents is None else sorted(set(residents))
        self.households = [hood.household(i) for i in chosen]
        self.devices: dict[str, SimDevice] = {}
        self.status = RunStatus()
        self.voices = None if voice is None else HomeVoices(voice)
        self._broker = broker
        self._secrets = secrets
        self._credentials = credentials or {}  # secrets the platform issued, by uid (else each record's own)
        self._seqs = SeqState(self.options.seq_state)
        self._timers: dict[str, _Timers] = {}
        self._reported: dict[str, tuple[int, EventHappening]] = {}  # happening key → (seq, happening)
        self._released: set[str] = set()  # devices whose turn to connect has come
        self._jumps: list[Jump] = []
        self._doses: list[tuple[float, str, DoseReminder]] = []  # when the resident presses "taken", where, for what
        self._speaking: set[asyncio.Task[Path]] = set()

    def device(self, resident: int, kind: DeviceKind) -> SimDevice:
        """The running device of one resident's home."""
        return self.devices[self.hood.household(resident).device(kind).uid]

    def add_jump(self, jump: Jump) -> None:
        """Schedule a jump of the simulated clock (the scenario's `jump` steps)."""
        self._jumps = sorted([*self._jumps, jump], key=lambda j: j.at)

    async def run(self, until: float | None = None, on_tick: Callable[[RunStatus], None] | None = None) -> RunStatus:
        """Connect, then play the households tick by tick; closes every device on the way out."""
        loop = asyncio.get_running_loop()
        bridge = PahoBridge(loop)
        self._create_devices(bridge)
        misc = asyncio.create_task(bridge.run())
        # The devices do not wait for the API: the units take calls from when their voices have the key.
        voicing = None if self.voices is None else asyncio.create_task(self.voices.give(self.households, self.devices))
        pending = list(self.devices.values())
        now = self.clock.now()
        for h in self.households:
            h.skip_to(now)
        try:
            while until is None or self.clock.now() < until:
                # Devices come up a few per tick: thousands of CONNECTs at once look like an attack.
                batch, pending = (
                    pending[: self.options.connects_per_tick],
                    pending[self.options.connects_per_tick :],
                )
                self._released.update(d.uid for d in batch)
                self._tick()
                if on_tick is not None:
                    on_tick(self.status)
                await asyncio.sleep(self.options.tick_s)
            deadline = time.monotonic() + self.options.drain_s
            while any(d.outbox for d in self.devices.values()) and time.monotonic() < deadline:
                for device in self.devices.values():
                    device.maintain()
                await asyncio.sleep(self.options.tick_s)
            self._count()
        finally:
            self._seqs.save(self.devices.values())
            if voicing is not None and self.voices is not None:
                voicing.cancel()
                await asyncio.gather(voicing, return_exceptions=True)
                await self.voices.close()
            for device in self.devices.values():
                device.close()
            await asyncio.sleep(0.2)  # let the clean DISCONNECTs reach the broker
            misc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await misc
        return self.status

    def _create_devices(self, bridge: PahoBridge) -> None:
        o = self.options
        for h in self.households:
            for record in h.record.devices:
                self.devices[record.uid] = SimDevice(
                    record.uid,
                    broker=self._broker,
                    clock=self.clock,
                    bridge=bridge,
                    firmware=record.firmware,
                    secret=self._credentials.get(record.uid, record.secret) if self._secrets else None,
                    first_seq=self._seqs.first(record.uid),
                    settings=DeviceSettings(o.telemetry_interval_s, o.heartbeat_interval_s),
                    resend_after_s=o.resend_after_s,
                    keepalive_s=o.keepalive_s,
                    backoff_s=o.backoff_s,
                )

    def _tick(self) -> None:
        now = self.clock.now()
        if self._jumps and now >= self._jumps[0].at:
            jump = self._jumps.pop(0)
            log.info("jumping the clock forward by %.0f s", jump.to - now)
            self.clock.jump_to(jump.to)
            now = jump.to
            for h in self.households:
                h.skip_to(now)
            self._timers.clear()
        for h in self.households:
            for happening in h.advance_to(now):
                self._report(h, happening)
            self._hear_reminders(h, now)
            for record in h.record.devices:
                device = self.devices[record.uid]
                wanted = h.powered(record.kind) and h.network_up(record.kind, now)
                if wanted and not device.online_wanted and device.uid in self._released:
                    device.go_online()
                elif not wanted and device.online_wanted:
                    flat = not h.powered(record.kind)
                    log.info("%s goes offline (%s)", record.uid, "battery flat" if flat else "no network")
                    device.go_offline(power=flat)
                self._periodic(h, record.kind, device, now)
                device.maintain()
        self._press_taken(now)
        self.status.sim_time = now
        self._count()

    def _hear_reminders(self, h: Household, now: float) -> None:
        """The home unit speaks each new dose reminder; the resident presses "taken" a few minutes later, or forgets."""
        if not any(d.kind is DeviceKind.HOME_UNIT for d in h.record.devices):
            return
        device = self.devices[h.device(DeviceKind.HOME_UNIT).uid]
        while device.dose_reminders:
            reminder = device.dose_reminders.pop(0)
            if self.voices is not None:
                task = asyncio.get_running_loop().create_task(self.voices.say(reminder.message_zh))
                self._speaking.add(task)
                task.add_done_callback(self._speaking.discard)
            after = h.dose_taken_after(reminder.schedule_id, reminder.dose_due)
            if after is None:
                log.info("%s: resident %d forgets %s", device.uid, h.index, reminder.medicine)
            else:
                self._doses.append((now + after, device.uid, reminder))

    def _press_taken(self, now: float) -> None:
        waiting = []
        for at, uid, reminder in self._doses:
            if at > now:
                waiting.append((at, uid, reminder))
                continue
            self.devices[uid].publish_event(
                at, EventKind.DOSE_TAKEN, schedule_id=reminder.schedule_id, dose_due=reminder.dose_due
            )
        self._doses = waiting

    def _count(self) -> None:
        s = self.status
        s.devices = len(self.devices)
        s.connected = sum(d.connected for d in self.devices.values())
        s.acked = sum(d.stats.acked for d in self.devices.values())
        s.unacked = sum(len(d.outbox) for d in self.devices.values())
        s.sent = {c.value: sum(d.stats.sent[c] for d in self.devices.values()) for c in Channel if c is not Channel.CMD}

    def _report(self, h: Household, happening: EventHappening | ImuHappening | MeasurementHappening) -> None:
        if not h.powered(happening.device):
            return  # a flat device senses nothing
        device = self.devices[h.device(happening.device).uid]
        if isinstance(happening, MeasurementHappening):
            device.publish_measurement(happening.t, blood_pressure=happening.blood_pressure, glucose=happening.glucose)
            return
        if isinstance(happening, ImuHappening):
            event = self._reported.get(happening.event)
            if event is not None:
                device.publish_imu(happening.t0, event[0], happening.signal)
            return
        cancels_seq = None
        if happening.cancels is not None:
            alarm = self._reported.get(happening.cancels)
            if alarm is None:
                return  # the alarm was never reported (device flat), so there is nothing to cancel
            cancels_seq, alarm_happening = alarm
            late = happening.t - alarm_happening.t > device.settings.fall_recovery_window_s
            if late and alarm_happening.kind is EventKind.FALL_DETECTED:
                log.info("%s: 'I'm OK' came after the recovery window; the fall alarm stands", device.uid)
                return
        seq = device.publish_event(
            happening.t,
            happening.kind,
            room=happening.room,
            confidence=happening.confidence,
            cancels_seq=cancels_seq,
            carer_code=happening.carer_code,
        )
        if happening.kind in (EventKind.FALL_DETECTED, EventKind.SOS):
            self._reported[happening.key] = (seq, happening)  # "I'm OK" and IMU bursts refer to these
        if happening.kind in ALARM_KINDS:
            self.status.alarms = [*self.status.alarms[-9:], f"{device.uid} {happening.kind} seq {seq}"]
            log.info("%s: %s (seq %d)", device.uid, happening.kind, seq)

    def _periodic(self, h: Household, kind: DeviceKind, device: SimDevice, now: float) -> None:
        timers = self._timers.get(device.uid)
        s = device.settings
        if timers is None:
            timers = self._timers[device.uid] = _Timers(
                next_telemetry=now + _spread(device.uid, s.telemetry_interval_s),
                last_telemetry=now,
                next_heartbeat=now + _spread(device.uid, s.heartbeat_interval_s),
            )
        if kind is DeviceKind.WRISTBAND:
            if now - timers.next_telemetry > 10 * s.telemetry_interval_s:
                timers.next_telemetry = now  # a stalled loop does not flood the broker with old readings
            while timers.next_telemetry <= now:
                t = timers.next_telemetry
                values = h.telemetry(t, timers.last_telemetry)
                if values is not None:
                    device.publish_telemetry(
                        t,
                        heart_rate=values.heart_rate,
                        spo2=values.spo2,
                        skin_temp=values.skin_temp,
                        resp_rate=values.resp_rate,
                        steps=values.steps,
                        activity=values.activity,
                        location=values.location,
                    )
                timers.last_telemetry = t
                timers.next_telemetry = t + s.telemetry_interval_s
        if kind is DeviceKind.GPS_WATCH:
            if h.position(now) is not None:  # the accelerometer wakes the watch when its wearer walks out
                timers.next_telemetry = min(timers.next_telemetry, now + 20)
            tracking = device.track_interval(now)
            if tracking is not None:  # an alarm of hers is open: the operator needs to see where she goes
                timers.next_telemetry = min(timers.next_telemetry, now + tracking)
            while timers.next_telemetry <= now:
                t = max(timers.next_telemetry, now - 60)  # a stalled loop sends the present, not a backlog
                fix = h.watch_fix(t)
                if fix is not None:
                    device.publish_location(
                        t,
                        lat=fix.lat,
                        lon=fix.lon,
                        accuracy_m=fix.accuracy_m,
                        source=fix.source,
                        moving=fix.moving,
                        battery=int(h.batteries[kind].level),
                    )
                moving = fix is not None and fix.moving
                timers.next_telemetry = t + (device.track_interval(t) or h.watch_interval(moving))
        if now - timers.next_heartbeat > 10 * s.heartbeat_interval_s:
            timers.next_heartbeat = now
        while timers.next_heartbeat <= now:
            t = timers.next_heartbeat
            battery = h.batteries[kind]
            rssi = -55 - int(_spread(device.uid, 30)) - int(t // 60) % 5
            device.publish_heartbeat(t, battery=battery.level, charging=battery.charging, rssi=rssi)
            timers.next_heartbeat = t + s.heartbeat_interval_s
