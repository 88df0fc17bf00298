"""The simulator against real brokers (amqtt, and Mosquitto when installed): valid messages, the last
will, the outbox that resends an event with its seq until acked, a scenario run, and the load fleet."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from homecare.contracts.codec import decode_uplink, encode
from homecare.contracts.messages import (
    Ack,
    AckStatus,
    Command,
    Configure,
    DeviceKind,
    DoseReminder,
    Event,
    EventKind,
    HelpComing,
    LocationFix,
    MealContext,
    Measurement,
    Presence,
    StartCall,
    Telemetry,
    Track,
)
from homecare.contracts.topics import Channel, topic
from homecare.sim.clock import SimClock
from homecare.sim.device import SimDevice
from homecare.sim.fleet import FleetConfig, fleet_devices, run_fleet
from homecare.sim.imu import fall_signal
from homecare.sim.mqtt_url import BrokerAddress, parse_mqtt_url
from homecare.sim.netloop import PahoBridge
from homecare.sim.runner import NeighbourhoodRun, RunOptions, RunStatus
from homecare.sim.scenarios import SCENARIO_DIR, Scenario, load_scenario, stage
from tests.support.enrolment import enrol

_uids = itertools.count(1)


@pytest.fixture
def broker(broker_url: str) -> BrokerAddress:
    """Each test runs against the embedded amqtt broker and against Mosquitto (tests/integration/conftest)."""
    return parse_mqtt_url(broker_url)


class Watcher:
    """A platform stand-in: records every uplink message, sends commands, and can ack every event."""

    def __init__(self, broker_url: str, *, auto_ack: bool = False) -> None:
        self._auto_ack = auto_ack
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        name = f"watcher-{next(_uids)}"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311)
        broker, url = parse_mqtt_url(broker_url), urlsplit(broker_url)
        # The platform's service account where the broker has one (the embedded broker), else anonymous.
        self._client.username_pw_set(url.username or name, url.password)
        self._client.on_connect = self._subscribe
        self._client.on_message = self._record
        self._cmd_ids = itertools.count(1)
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def _subscribe(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe("homecare/v1/dev/#", qos=1)
        self._ready.set()

    def _record(self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
        if self._auto_ack and message.topic.endswith("/event"):
            event = Event.model_validate_json(message.payload)
            ack = Command(
                cmd_id=next(self._cmd_ids),
                ts=int(time.time() * 1000),
                body=Ack(ack_seq=event.seq, status=AckStatus.STORED),
            )
            client.publish(topic(event.device_id, Channel.CMD), encode(ack), qos=1)

    def of(self, uid: str, channel: Channel) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic(uid, channel)]

    def events(self, uid: str) -> list[Event]:
        return [Event.model_validate_json(p) for p in self.of(uid, Channel.EVENT)]

    def command(
        self,
        uid: str,
        body: Ack | HelpComing | StartCall | DoseReminder | Track | Configure,
        cmd_id: int | None = None,
    ) -> None:
        command = Command(cmd_id=cmd_id or next(self._cmd_ids), ts=int(time.time() * 1000), body=body)
        self._client.publish(topic(uid, Channel.CMD), encode(command), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


async def eventually(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def watcher(broker_url: str) -> AsyncIterator[Watcher]:
    w = Watcher(broker_url)
    await eventually(w._ready.is_set)
    yield w
    w.close()


@pytest.fixture
async def platform(broker_url: str) -> AsyncIterator[Watcher]:
    w = Watcher(broker_url, auto_ack=True)
    await eventually(w._ready.is_set)
    yield w
    w.close()


async def _device(broker: BrokerAddress, bridge: PahoBridge, database_url: str, **kwargs: object) -> SimDevice:
    """A wristband, enrolled with its secret (the embedded broker checks it)."""
    uid = f"t{next(_uids):03d}-{broker.port}-wr"
    secret = f"{uid}-secret"
    await enrol(database_url, {uid: "wristband"}, secrets={uid: secret})
    return SimDevice(
        uid,
        broker=broker,
        secret=secret,
        clock=SimClock(),
        bridge=bridge,
        firmware="test-1",
        backoff_s=(0.1, 0.5),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_device_connects_and_publishes_valid_messages(
    broker: BrokerAddress, bridge: PahoBridge, watcher: Watcher, database_url: str
) -> None:
    device = await _device(broker, bridge, database_url, first_seq=100)
    device.go_online()
    await eventually(lambda: device.connected and bool(watcher.of(device.uid, Channel.PRESENCE)))
    now = device._clock.now()
    device.publish_telemetry(now, heart_rate=71, spo2=97, skin_temp=33.2, steps=12, location=(31.2, 121.4, 8.0))
    device.publish_heartbeat(now, battery=87.4, charging=False, rssi=-67)
    alarm = device.publish_event(now, EventKind.FALL_DETECTED, confidence=0.9)
    device.publish_imu(now - 3, alarm, fall_signal(np.random.default_rng(1)))
    await eventually(lambda: len([m for m in watcher.messages if f"/{device.uid}/" in m[0]]) >= 5)
    decoded = [decode_uplink(t, p) for t, p, _ in watcher.messages if f"/{device.uid}/" in t]
    presence = [m for m in decoded if isinstance(m, Presence)]
    assert presence[0].online
    assert presence[0].ts is not None
    seqs = [m.seq for m in decoded if not isinstance(m, Presence)]
    assert seqs == [100, 101, 102, 103]
    device.close()
    await eventually(
        lambda: any(not Presence.model_validate_json(p).online for p in watcher.of(device.uid, Channel.PRESENCE))
    )


async def test_last_will_says_offline_when_the_device_dies(
    broker: BrokerAddress, bridge: PahoBridge, watcher: Watcher, database_url: str
) -> None:
    device = await _device(broker, bridge, database_url)
    device.go_online()
    await eventually(lambda: bool(watcher.of(device.uid, Channel.PRESENCE)))
    device.go_offline(power=True)  # battery flat: no DISCONNECT reaches the broker

    def will_seen() -> bool:
        states = [Presence.model_validate_json(p) for p in watcher.of(device.uid, Channel.PRESENCE)]
        return any(not s.online and s.ts is None for s in states)  # the will carries no device time

    await eventually(will_seen)
    await eventually(lambda: not device.connected)
    device.close()


async def test_unacknowledged_event_is_resent_with_its_seq_until_acked(
    broker: BrokerAddress, bridge: PahoBridge, watcher: Watcher, database_url: str
) -> None:
    device = await _device(broker, bridge, database_url, resend_after_s=0.3)
    device.go_online()
    await eventually(lambda: device.connected)
    seq = device.publish_event(device._clock.now(), EventKind.SOS)
    other = device.publish_event(device._clock.now(), EventKind.DOOR_OPEN, room="front door")

    def sent(s: int) -> int:
        return sum(e.seq == s for e in watcher.events(device.uid))

    await eventually(lambda: sent(seq) == 1)

    # A network blip: after the reconnect the event goes again, same seq and same bytes.
    device.go_offline(power=False)
    await eventually(lambda: not device.connected)
    device.go_online()
    await eventually(lambda: sent(seq) >= 2)
    assert len(set(p for p in watcher.of(device.uid, Channel.EVENT) if Event.model_validate_json(p).seq == seq)) == 1

    # No ack for a while: the periodic resend also sends it.
    before = sent(seq)
    await asyncio.sleep(0.35)
    device.maintain()
    await eventually(lambda: sent(seq) > before)

    watcher.command(device.uid, Ack(ack_seq=seq, status=AckStatus.STORED))
    await eventually(lambda: seq not in device.outbox)
    assert other in device.outbox
    settled = sent(seq)
    device.go_offline(power=False)
    await eventually(lambda: not device.connected)
    device.go_online()
    await eventually(lambda: sent(other) >= 3)
    await asyncio.sleep(0.35)
    device.maintain()
    await eventually(lambda: sent(other) >= 4)
    assert sent(seq) == settled  # acked: never again
    assert device.stats.acked == 1
    assert device.stats.resent >= 4
    device.close()


async def test_commands_are_obeyed_once(
    broker: BrokerAddress, bridge: PahoBridge, watcher: Watcher, database_url: str
) -> None:
    device = await _device(broker, bridge, database_url)
    device.go_online()
    await eventually(lambda: device.connected)
    await asyncio.sleep(0.2)  # the subscription to cmd is in place
    watcher.command(device.uid, Configure(heartbeat_interval_s=120, telemetry_interval_s=15))
    help_coming = HelpComing(incident_id=42, eta_min=9, message_en="Help is on the way.")
    watcher.command(device.uid, help_coming, cmd_id=500)
    watcher.command(device.uid, help_coming, cmd_id=500)  # a repeated cmd_id is dropped
    watcher.command(
        device.uid,
        StartCall(call_id="call-0001", token="t" * 20, signalling_url="wss://example/signal"),
    )
    await eventually(lambda: len(device.calls) == 1)
    assert (device.settings.heartbeat_interval_s, device.settings.telemetry_interval_s) == (120, 15)
    assert device.help_coming == [help_coming]
    device.close()


async def test_an_ack_sent_while_the_device_was_away_is_delivered_on_return(
    mosquitto_url: str, bridge: PahoBridge, database_url: str
) -> None:
    # Mosquitto only: where a broker keeps no commands queued for a device that was away, the device's
    # resend after reconnect heals it.
    broker = parse_mqtt_url(mosquitto_url)
    watcher = Watcher(mosquitto_url)
    await eventually(watcher._ready.is_set)
    device = await _device(broker, bridge, database_url)
    device.go_online()
    await eventually(lambda: device.connected)
    await asyncio.sleep(0.2)
    seq = device.publish_event(device._clock.now(), EventKind.SOS)
    await eventually(lambda: any(e.seq == seq for e in watcher.events(device.uid)))
    device.go_offline(power=False)
    await eventually(lambda: not device.connected)
    watcher.command(device.uid, Ack(ack_seq=seq, status=AckStatus.STORED))
    await asyncio.sleep(0.2)
    device.go_online()
    await eventually(lambda: seq not in device.outbox)  # the persistent session kept the ack
    device.close()
    watcher.close()


async def _play(
    name: str, resident: int, speed: float, broker: BrokerAddress, database_url: str
) -> tuple[Scenario, NeighbourhoodRun, RunStatus]:
    """A shipped scenario played for one of its residents, whose devices are enrolled with their secrets."""
    scenario = load_scenario(SCENARIO_DIR / f"{name}.yaml")
    hood, jumps = stage(scenario)
    devices = hood.household(resident).record.devices
    await enrol(database_url, {d.uid: d.kind.value for d in devices}, secrets={d.uid: d.secret for d in devices})
    clock = SimClock(scenario.begins.timestamp(), speed=speed)
    options = RunOptions(tick_s=0.05, resend_after_s=1.0)
    run = NeighbourhoodRun(hood, broker, clock, residents=[resident], options=options)
    for jump in jumps:
        run.add_jump(jump)
    return scenario, run, await run.run(until=scenario.ends.timestamp())


async def test_a_scenario_plays_out_over_mqtt_and_its_alarms_get_acked(
    broker: BrokerAddress, platform: Watcher, database_url: str
) -> None:
    scenario, run, status = await _play("sos-cancelled", 3, 150, broker, database_url)
    pendant = run.device(3, DeviceKind.SOS_PENDANT).uid
    events = platform.events(pendant)
    sos = next(e for e in events if e.kind is EventKind.SOS)
    ok = next(e for e in events if e.kind is EventKind.IM_OK)
    assert ok.cancels_seq == sos.seq
    assert ok.ts - sos.ts == 25_000
    assert sos.ts == int(scenario.time_of("15:20").timestamp() * 1000)
    ours = set(run.devices)
    for topic_name, payload, _ in platform.messages:
        if topic_name.split("/")[3] in ours and not topic_name.endswith("/cmd"):
            decode_uplink(topic_name, payload)
    assert platform.of(run.device(3, DeviceKind.WRISTBAND).uid, Channel.TELEMETRY)
    assert status.connected == len(run.devices)
    outbox = run.device(3, DeviceKind.SOS_PENDANT).outbox
    assert sos.seq not in outbox
    assert ok.seq not in outbox


@pytest.mark.parametrize("qos", [0, 1])
async def test_fleet_sends_every_message_with_contiguous_seqs(
    broker: BrokerAddress, watcher: Watcher, qos: int, database_url: str
) -> None:
    prefix = f"fl{broker.port}q{qos}"
    fleet = fleet_devices(20, prefix=prefix)
    await enrol(database_url, {d.uid: d.kind for d in fleet}, secrets={d.uid: d.secret for d in fleet})
    config = FleetConfig(
        broker, devices=20, rate=600, duration_s=1.5, qos=1 if qos else 0, prefix=prefix, with_secrets=True
    )
    result = await asyncio.to_thread(run_fleet, config)
    assert result.connected == 20
    assert result.errors == 0
    assert result.sent == 900
    assert result.acked == (900 if qos else 0)
    uids = {d.uid for d in result.devices}

    def received() -> list[tuple[str, bytes, bool]]:
        return [m for m in watcher.messages if m[0].split("/")[3] in uids]

    await eventually(lambda: len(received()) >= result.sent)
    seqs: dict[str, list[int]] = {}
    for topic_name, payload, _ in received():
        message = decode_uplink(topic_name, payload)
        assert isinstance(message, Telemetry)
        assert len(message.points()) == 3
        seqs.setdefault(message.device_id, []).append(message.seq)
    for tally in result.devices:
        got = seqs[tally.uid]
        assert got == list(range(tally.first_seq, tally.first_seq + tally.sent))
        assert result.last_seqs()[tally.uid] == got[-1]


async def test_the_hypertensive_crisis_scenario_sends_morning_checks_and_the_crisis_reading(
    broker: BrokerAddress, platform: Watcher, database_url: str
) -> None:
    scenario, run, _ = await _play("hypertensive-crisis", 6, 600, broker, database_url)
    cuff = run.device(6, DeviceKind.BLOOD_PRESSURE_MONITOR).uid
    meter = run.device(6, DeviceKind.GLUCOSE_METER).uid
    readings = [Measurement.model_validate_json(p) for p in platform.of(cuff, Channel.MEASUREMENT)]
    pressures = [(r.blood_pressure.systolic, r.blood_pressure.diastolic) for r in readings if r.blood_pressure]
    assert len(pressures) == 2  # the morning's, in range, and the crisis at 10:30
    assert pressures[0][0] < 180
    assert pressures[1] == (196, 114)
    assert readings[1].ts == int(scenario.time_of("10:30").timestamp() * 1000)
    [fasting] = [Measurement.model_validate_json(p) for p in platform.of(meter, Channel.MEASUREMENT)]
    assert fasting.glucose is not None
    assert fasting.glucose.meal is MealContext.FASTING


async def test_residents_press_taken_after_a_dose_reminder_and_the_missed_dose_resident_never_does(
    broker: BrokerAddress, platform: Watcher, database_url: str
) -> None:
    scenario = load_scenario(SCENARIO_DIR / "missed-dose.yaml")
    hood, _ = stage(scenario)
    homes = {i: hood.household(i) for i in (4, 5)}
    for home in homes.values():
        devices = home.record.devices
        await enrol(database_url, {d.uid: d.kind.value for d in devices}, secrets={d.uid: d.secret for d in devices})
    start = scenario.begins.timestamp()
    # A dose resident 5 takes within five simulated minutes (the household's draw is fixed by its seed).
    due = next(
        d
        for d in range(int(start * 1000), int(start * 1000) + 100 * 60_000, 60_000)
        if (after := homes[5].dose_taken_after(7, d)) is not None and after < 300
    )
    clock = SimClock(start, speed=60)
    run = NeighbourhoodRun(hood, broker, clock, residents=[4, 5], options=RunOptions(tick_s=0.05, resend_after_s=1.0))
    playing = asyncio.create_task(run.run(until=scenario.time_of("08:06").timestamp()))
    await eventually(lambda: bool(run.devices) and all(run.device(i, DeviceKind.HOME_UNIT).connected for i in homes))
    units = {i: run.device(i, DeviceKind.HOME_UNIT) for i in homes}
    for i, unit in units.items():
        platform.command(
            unit.uid,
            DoseReminder(
                schedule_id=7,
                dose_due=due,
                medicine="二甲双胍 Metformin",
                dose="500 mg",
                with_food=True,
                message_zh="该吃药了：二甲双胍 Metformin 500 mg，随餐服用。",
                message_en="Time for your medicine: Metformin 500 mg, with food.",
            ),
            cmd_id=100 + i,
        )
    await playing
    [taken] = [e for e in platform.events(units[5].uid) if e.kind is EventKind.DOSE_TAKEN]
    assert (taken.schedule_id, taken.dose_due) == (7, due)
    assert not [e for e in platform.events(units[4].uid) if e.kind is EventKind.DOSE_TAKEN]


async def test_a_gps_watch_sends_a_fix_every_15_s_while_told_to_track_and_returns_to_its_schedule_after(
    broker: BrokerAddress, platform: Watcher, database_url: str
) -> None:
    scenario = load_scenario(SCENARIO_DIR / "wandering.yaml")
    hood, _ = stage(scenario)
    devices = hood.household(42).record.devices
    await enrol(database_url, {d.uid: d.kind.value for d in devices}, secrets={d.uid: d.secret for d in devices})
    # At home, two hours before she wanders off: the still watch's fix every 5 minutes.
    clock = SimClock(scenario.time_of("17:30").timestamp(), speed=60)
    run = NeighbourhoodRun(hood, broker, clock, residents=[42], options=RunOptions(tick_s=0.05, resend_after_s=1.0))
    playing = asyncio.create_task(run.run(until=scenario.time_of("17:39").timestamp()))
    await eventually(lambda: bool(run.devices) and run.device(42, DeviceKind.GPS_WATCH).connected)
    watch = run.device(42, DeviceKind.GPS_WATCH).uid

    def fixes() -> list[int]:
        return [LocationFix.model_validate_json(p).ts for p in platform.of(watch, Channel.LOCATION)]

    await eventually(lambda: len(fixes()) >= 1)
    platform.command(watch, Track(interval_s=15, for_s=7200, incident_id=9))  # an alarm of hers opened
    await eventually(lambda: len(fixes()) >= 6)
    platform.command(watch, Track(interval_s=15, for_s=0, incident_id=9))  # and closed
    await playing
    gaps = [b - a for a, b in itertools.pairwise(fixes())]
    tracked = [gap for gap in gaps if gap < 300_000]
    assert len(tracked) >= 5
    assert set(tracked[1:]) == {15_000}  # the first is from the last still fix to the command
    assert gaps[-1] == 300_000  # back to its own schedule once the alarm closed
    assert gaps.index(300_000, gaps.index(15_000)) == len(gaps) - 1
