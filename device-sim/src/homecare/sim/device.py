"""One simulated device's MQTT side: last will, growing seq, an outbox of events until acked, commands."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from homecare.contracts.codec import ContractError, decode_command, encode
from homecare.contracts.messages import (
    Ack,
    AckStatus,
    BloodPressure,
    Configure,
    DoseReminder,
    Event,
    EventKind,
    Fix,
    FixSource,
    Glucose,
    Heartbeat,
    HelpComing,
    ImuBurst,
    Location,
    LocationFix,
    MealContext,
    Measurement,
    Presence,
    StartCall,
    Telemetry,
    Track,
)
from homecare.contracts.topics import RULES, Channel, topic
from homecare.sim.clock import SimClock
from homecare.sim.imu import ImuSignal
from homecare.sim.mqtt_url import BrokerAddress
from homecare.sim.netloop import PahoBridge

log = logging.getLogger(__name__)

_SEEN_COMMANDS: Final = 256
_OUTBOX_LIMIT: Final = 1000  # events a device keeps for the platform (its flash is not endless)


@dataclass(slots=True)
class DeviceSettings:
    """What the platform's `config` command can change."""

    telemetry_interval_s: float = 60.0
    heartbeat_interval_s: float = 300.0
    fall_recovery_window_s: float = 30.0


@dataclass(slots=True)
class _Unacked:
    topic: str
    payload: bytes
    sent_at: float | None = None  # real (monotonic) time of the last send; None: never sent yet


@dataclass(slots=True)
class DeviceStats:
    sent: collections.Counter[Channel] = field(default_factory=collections.Counter)
    resent: int = 0
    acked: int = 0
    connects: int = 0


class SimDevice:
    """A device on a `PahoBridge`; call `go_online()`, then publish; `maintain()` every second or so.

    Every event stays in the outbox until the platform's `ack` command names its seq; it is resent,
    same seq and same bytes, after each reconnect and whenever it has waited `resend_after_s`.
    """

    def __init__(
        self,
        uid: str,
        *,
        broker: BrokerAddress,
        clock: SimClock,
        bridge: PahoBridge,
        firmware: str,
        secret: str | None = None,
        first_seq: int = 0,
        settings: DeviceSettings | None = None,
        resend_after_s: float = 10.0,
        keepalive_s: int = 60,
        backoff_s: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self.uid = uid
        self.firmware = firmware
        self.settings = settings or DeviceSettings()
        self.stats = DeviceStats()
        self.next_seq = first_seq
        self.outbox: OrderedDict[int, _Unacked] = OrderedDict()
        self.help_coming: list[HelpComing] = []
        self.dose_reminders: list[DoseReminder] = []  # the home unit speaks and shows each (see the runner)
        self.calls: list[StartCall] = []
        self.tracking: tuple[float, float] | None = None  # a GPS watch told to track: (interval s, until, sim time)
        self.on_call: Callable[[StartCall], None] | None = None  # the home unit's voice (homecare.sim.voice)
        self._broker = broker
        self._clock = clock
        self._bridge = bridge
        self._resend_after_s = resend_after_s
        self._keepalive_s = keepalive_s
        self._backoff_min, self._backoff_max = backoff_s
        self._backoff = self._backoff_min
        self._jitter = random.Random(uid)  # reconnect jitter only; never feeds the data
        self._wanted = False
        self._connected = False
        self._tried = False
        self._retry: asyncio.TimerHandle | None = None
        self._seen_commands: collections.deque[int] = collections.deque(maxlen=_SEEN_COMMANDS)
        self._backlog: list[tuple[str, bytes]] = []  # IMU bursts recorded while offline
        self._powered_at = clock.now()
        self._powered_off = False

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=uid,
            clean_session=False,  # commands (acks above all) wait at the broker while we are away
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(uid, secret)
        client.will_set(
            topic(uid, Channel.PRESENCE),
            encode(Presence(v=1, device_id=uid, online=False)),
            qos=1,
            retain=True,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        bridge.attach(client)
        self._client = client

    # -- connection -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def online_wanted(self) -> bool:
        return self._wanted

    def go_online(self) -> None:
        """Power on / network back: connect now and keep reconnecting with backoff."""
        if self._wanted:
            return
        self._wanted = True
        if self._powered_off:
            self._powered_off = False
            self._powered_at = self._clock.now()
        self._backoff = self._backoff_min
        self._connect()

    def go_offline(self, *, power: bool) -> None:
        """Battery flat (`power`) or network gone: the connection just dies (no DISCONNECT, so the
        broker publishes the will); events stay in the outbox, which survives in flash."""
        self._wanted = False
        self._powered_off = power
        self._cancel_retry()
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """End of the run: say offline on purpose, then disconnect cleanly."""
        self._wanted = False
        self._cancel_retry()
        if self._connected:
            self._announce(online=False)
            self._client.disconnect()
        self._bridge.detach(self._client)

    def _connect(self) -> None:
        self._retry = None
        if not self._wanted:
            return
        try:
            if self._tried:
                self._client.reconnect()
            else:
                self._tried = True
                self._client.connect(self._broker.host, self._broker.port, keepalive=self._keepalive_s)
        except OSError as err:
            log.debug("%s: connect failed: %s", self.uid, err)
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if not self._wanted or self._retry is not None:
            return
        delay = self._backoff * self._jitter.uniform(0.8, 1.2)
        self._backoff = min(self._backoff * 2, self._backoff_max)
        self._retry = asyncio.get_running_loop().call_later(delay, self._connect)

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("%s: broker refused the connection: %s", self.uid, reason)
            return
        self._connected = True
        self._backoff = self._backoff_min
        self.stats.connects += 1
        self._announce(online=True)
        client.subscribe(topic(self.uid, Channel.CMD), qos=RULES[Channel.CMD].qos)
        for imu_topic, payload in self._backlog:
            self._send(imu_topic, payload, Channel.IMU)
        self._backlog.clear()
        # Every unacknowledged event goes again, same seq, oldest first: the platform drops duplicates.
        self._resend(lambda _entry: True)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        was = self._connected
        self._connected = False
        if was and self._wanted:
            log.info("%s: connection lost (%s)", self.uid, reason)
        self._schedule_retry()

    # -- commands -------------------------------------------------------------------------

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            command = decode_command(message.payload)
        except ContractError as err:
            log.warning("%s: bad command ignored: %s", self.uid, err.reason)
            return
        if command.cmd_id in self._seen_commands:
            return
        self._seen_commands.append(command.cmd_id)
        body = command.body
        if isinstance(body, Ack):
            if self.outbox.pop(body.ack_seq, None) is not None:
                self.stats.acked += 1
            if body.status is AckStatus.REJECTED:
                log.warning("%s: platform rejected seq %d: %s", self.uid, body.ack_seq, body.reason)
        elif isinstance(body, HelpComing):
            self.help_coming.append(body)
            log.info("%s: help is coming for incident %d (eta %s min)", self.uid, body.incident_id, body.eta_min)
        elif isinstance(body, DoseReminder):
            self.dose_reminders.append(body)
            log.info("%s shows and says: %s", self.uid, body.message_zh)
        elif isinstance(body, StartCall):
            self.calls.append(body)
            log.info("%s: asked to start call %s", self.uid, body.call_id)
            if self.on_call is not None:
                self.on_call(body)
        elif isinstance(body, Track):
            self.tracking = (float(body.interval_s), self._clock.now() + body.for_s) if body.for_s else None
            log.info("%s: tracking %s", self.uid, f"every {body.interval_s} s" if body.for_s else "ends")
        elif isinstance(body, Configure):
            self._configure(body)

    def track_interval(self, t: float) -> float | None:
        """Seconds between a GPS watch's fixes while the platform has it tracking at `t` (an alarm of its wearer is
        open); None when it does not."""
        if self.tracking is None or t >= self.tracking[1]:
            return None
        return self.tracking[0]

    def _configure(self, body: Configure) -> None:
        s = self.settings
        if body.telemetry_interval_s is not None:
            s.telemetry_interval_s = float(body.telemetry_interval_s)
        if body.heartbeat_interval_s is not None:
            s.heartbeat_interval_s = float(body.heartbeat_interval_s)
        if body.fall_recovery_window_s is not None:
            s.fall_recovery_window_s = float(body.fall_recovery_window_s)
        log.info("%s: configured %s", self.uid, s)

    # -- uplink ---------------------------------------------------------------------------

    def _announce(self, *, online: bool) -> None:
        presence = Presence(v=1, device_id=self.uid, online=online, ts=self._clock.now_ms())
        rule = RULES[Channel.PRESENCE]
        self._client.publish(topic(self.uid, Channel.PRESENCE), encode(presence), qos=rule.qos, retain=rule.retain)
        self.stats.sent[Channel.PRESENCE] += 1

    def _take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def _send(self, topic_name: str, payload: bytes, channel: Channel) -> bool:
        if not self._connected:
            return False
        info = self._client.publish(topic_name, payload, qos=RULES[channel].qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        self.stats.sent[channel] += 1
        return True

    def publish_event(
        self,
        t: float,
        kind: EventKind,
        *,
        room: str | None = None,
        confidence: float | None = None,
        cancels_seq: int | None = None,
        carer_code: str | None = None,
        schedule_id: int | None = None,
        dose_due: int | None = None,
    ) -> int:
        """Queue an event (sent now if connected) until the platform acks it; returns its seq."""
        seq = self._take_seq()
        message = Event(
            v=1,
            device_id=self.uid,
            seq=seq,
            ts=int(t * 1000),
            kind=kind,
            room=room,
            confidence=confidence,
            cancels_seq=cancels_seq,
            carer_code=carer_code,
            schedule_id=schedule_id,
            dose_due=dose_due,
        )
        entry = _Unacked(topic(self.uid, Channel.EVENT), encode(message))
        self.outbox[seq] = entry
        if len(self.outbox) > _OUTBOX_LIMIT:
            dropped, _ = self.outbox.popitem(last=False)
            log.warning("%s: outbox full, oldest unacknowledged event (seq %d) dropped", self.uid, dropped)
        if self._send(entry.topic, entry.payload, Channel.EVENT):
            entry.sent_at = time.monotonic()
        return seq

    def publish_imu(self, t0: float, event_seq: int, signal: ImuSignal) -> int:
        """Send a raw IMU burst (the platform does not ack these; kept for the next connection if offline)."""
        seq = self._take_seq()
        burst = ImuBurst(
            v=1,
            device_id=self.uid,
            seq=seq,
            ts=int(t0 * 1000 + 1000 * len(signal.acc) / signal.fs),
            event_seq=event_seq,
            t0=int(t0 * 1000),
            fs=signal.fs,
            acc=[tuple(row) for row in signal.acc.tolist()],
            gyr=[tuple(row) for row in signal.gyr.tolist()],
        )
        imu_topic, payload = topic(self.uid, Channel.IMU), encode(burst)
        if not self._send(imu_topic, payload, Channel.IMU):
            self._backlog.append((imu_topic, payload))
        return seq

    def publish_telemetry(
        self,
        t: float,
        *,
        heart_rate: int | None = None,
        spo2: int | None = None,
        skin_temp: float | None = None,
        resp_rate: int | None = None,
        steps: int | None = None,
        activity: int | None = None,
        location: tuple[float, float, float] | None = None,
    ) -> bool:
        """Vital signs now, or nothing if offline (a lost reading is replaced by the next one)."""
        if not self._connected:
            return False
        fix = None if location is None else Location(lat=location[0], lon=location[1], accuracy_m=location[2])
        message = Telemetry(
            v=1,
            device_id=self.uid,
            seq=self._take_seq(),
            ts=int(t * 1000),
            heart_rate=heart_rate,
            spo2=spo2,
            skin_temp=skin_temp,
            resp_rate=resp_rate,
            steps=steps,
            activity=activity,
            location=fix,
        )
        return self._send(topic(self.uid, Channel.TELEMETRY), encode(message), Channel.TELEMETRY)

    def publish_location(
        self, t: float, *, lat: float, lon: float, accuracy_m: float, source: FixSource, moving: bool, battery: int
    ) -> bool:
        """A GPS watch's fix now, or nothing if offline."""
        if not self._connected:
            return False
        message = LocationFix(
            v=1,
            device_id=self.uid,
            seq=self._take_seq(),
            ts=int(t * 1000),
            fix=Fix(lat=lat, lon=lon, accuracy_m=accuracy_m, source=source),
            moving=moving,
            battery=battery,
        )
        return self._send(topic(self.uid, Channel.LOCATION), encode(message), Channel.LOCATION)

    def publish_measurement(
        self,
        t: float,
        *,
        blood_pressure: tuple[int, int, int] | None = None,
        glucose: tuple[float, MealContext] | None = None,
    ) -> bool:
        """One health check now (a blood pressure or a glucose reading in mmol/L), or nothing if offline."""
        if not self._connected:
            return False
        message = Measurement(
            v=1,
            device_id=self.uid,
            seq=self._take_seq(),
            ts=int(t * 1000),
            blood_pressure=None
            if blood_pressure is None
            else BloodPressure(
                systolic=blood_pressure[0], diastolic=blood_pressure[1], pulse=blood_pressure[2], unit="mmHg"
            ),
            glucose=None if glucose is None else Glucose(value=glucose[0], unit="mmol/L", meal=glucose[1]),
        )
        return self._send(topic(self.uid, Channel.MEASUREMENT), encode(message), Channel.MEASUREMENT)

    def publish_heartbeat(self, t: float, *, battery: float, charging: bool, rssi: int) -> bool:
        """Device health now (battery %, signal, firmware, uptime), or nothing if offline."""
        if not self._connected:
            return False
        message = Heartbeat(
            v=1,
            device_id=self.uid,
            seq=self._take_seq(),
            ts=int(t * 1000),
            battery=round(min(max(battery, 0.0), 100.0)),
            charging=charging,
            rssi=rssi,
            firmware=self.firmware,
            uptime_s=max(0, int(t - self._powered_at)),
            heartbeat_interval_s=int(self.settings.heartbeat_interval_s),
        )
        return self._send(topic(self.uid, Channel.STATUS), encode(message), Channel.STATUS)

    def maintain(self) -> None:
        """Resend events that have waited `resend_after_s` without an ack."""
        if self.outbox and self._connected:
            deadline = time.monotonic() - self._resend_after_s
            self._resend(lambda entry: entry.sent_at is None or entry.sent_at <= deadline)

    def _resend(self, due: Callable[[_Unacked], bool]) -> None:
        now = time.monotonic()
        for entry in list(self.outbox.values()):
            if due(entry) and self._send(entry.topic, entry.payload, Channel.EVENT):
                if entry.sent_at is not None:
                    self.stats.resent += 1
                entry.sent_at = now
