"""Fault drills: SOS presses through a production-shaped stack while its parts are killed, stopped and cut off.

The stack comes from the project's own files: Mosquitto with deploy/mosquitto/mosquitto.conf (password file,
ACL, persistence), two telemetry and two alarm gateways on shared subscriptions, the API with the alarm
pipeline, each its own process, on an embedded PostgreSQL. Pendants (the simulator's devices, which keep an
alarm in their outbox and resend it until the platform acknowledges it) press SOS while a fleet sends
telemetry, and each drill breaks one part mid-burst (kills or stops it, replaces a gateway under a new name,
cuts the gateways' network namespace off the broker, fills the database's disk), then counts what was sent,
acknowledged, stored and turned into incidents. The drill stands in for a service manager: it restarts what it
killed, nothing else. One drill runs against `homecare run` instead, whose own supervisor restarts its database.
Writes bench/results/drills.json and exits non-zero if an acknowledged alarm was lost or duplicated.
Run: ``make drills`` (``python -m bench.drills --only broker-sigkill`` for one).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from bench.services import start_homecare, wait_for_api, write_results
from homecare.backend.devices.repository import enrol_device
from homecare.backend.enrolment.mosquitto_passwords import PasswordFile, mosquitto_hash
from homecare.contracts.messages import DeviceKind, EventKind
from homecare.gateway.service import subscription_filters
from homecare.sim.clock import SimClock
from homecare.sim.device import SimDevice
from homecare.sim.fleet import fleet_devices
from homecare.sim.mqtt_url import BrokerAddress
from homecare.sim.neighbourhood import device_secret
from homecare.sim.netloop import PahoBridge
from homecare.storage.embedded import SUPERUSER, EmbeddedPostgres
from homecare.storage.maintenance import prepare_storage
from homecare.storage.settings import StorageSettings
from tests.support.brokers import MOSQUITTO, REPO, free_port, wait_for_port

RESULTS = Path(__file__).parent / "results" / "drills.json"
TOKEN = "drill-token-" + "x" * 24
GATEWAY_USER = "homecare-gateway"
SEED = 11
console = Console()


@dataclass
class Options:
    alarms: int  # SOS presses per drill, each from its own resident's pendant
    burst_s: float  # over how long they are pressed
    telemetry_rate: float  # fleet messages/s beside them
    fleet_devices: int
    db_outage_s: float
    offline_s: float  # how long the offline pendants stay away
    resend_s: float  # a pendant resends an unacknowledged alarm after this long
    partition_s: float  # how long the gateways are cut off from the broker
    runner_residents: int  # the simulated neighbourhood beside the drill's pendants under `homecare run`


@dataclass
class Stack:
    """The processes of the production-shaped stack, started and killed by name."""

    work: Path
    database: EmbeddedPostgres
    dsn: str
    broker_port: int  # the devices' listener
    service_port: int  # the gateways' listener
    api_port: int
    gateway_password: str
    partition: Partition | None = None  # when set, the gateways run in its network namespace
    disk: Path | None = None  # when set, the small filesystem the database lives on
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)  # stopped by the drill on purpose: not a failure
    starts: int = 0

    @property
    def broker_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.broker_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOMECARE_DATABASE_URL": self.dsn,
            "HOMECARE_MQTT_URL": f"mqtt://{GATEWAY_USER}:{self.gateway_password}@127.0.0.1:{self.service_port}",
            "HOMECARE_API_TOKEN": TOKEN,
            "HOMECARE_API_PORT": str(self.api_port),
            "HOMECARE_DATA_DIR": str(self.work / "var"),
        }

    def start(self, name: str, client_id: str | None = None) -> None:
        """Start one part by name: broker, api, gateway-telemetry-N or gateway-alarms-N (whose client id is
        ``homecare-<name>`` unless given: a stable StatefulSet name, not a Deployment pod's)."""
        self.starts += 1
        self.killed.discard(name)
        if name == "broker":
            log = (self.work / f"broker-{self.starts}.log").open("wb")
            self.processes[name] = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.work / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT
            )
            log.close()
            wait_for_port(self.broker_port)
            return
        env = self.env()
        args = ["api"]
        wrapper: list[str] = []
        if name.startswith("gateway-"):
            channels = name.split("-")[1]
            share = "homecare-gateways" if channels == "telemetry" else "homecare-alarm-gateways"
            env |= {
                "HOMECARE_GATEWAY_CHANNELS": channels,
                "HOMECARE_MQTT_SHARE_GROUP": share,
                "HOMECARE_GATEWAY_CLIENT_ID": client_id or f"homecare-{name}",
            }
            args = ["gateway"]
            if self.partition is not None:
                # Across the namespace's link to the broker; the database through its Unix socket, which no
                # network namespace separates, so that cutting the link cuts the broker alone.
                env |= {
                    "HOMECARE_MQTT_URL": f"mqtt://{GATEWAY_USER}:{self.gateway_password}@"
                    f"{self.partition.host_address}:{self.service_port}",
                    "HOMECARE_DATABASE_URL": self.database.socket_dsn,
                }
                wrapper = ["ip", "netns", "exec", self.partition.namespace]
        self.processes[name] = start_homecare(self.work, f"{name}-{self.starts}", args, env, wrapper)

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        self.killed.add(name)
        process = self.processes[name]
        process.send_signal(signum)
        process.wait(60)

    def restart_exited(self) -> list[str]:
        """Parts that ended without the drill ending them (a real deployment would need someone to restart
        them), started again for the next drill."""
        exited = [n for n, p in self.processes.items() if p.poll() is not None and n not in self.killed]
        for name in exited:
            self.start(name)
        return exited

    def start_telemetry(self, name: str, options: Options) -> subprocess.Popen[bytes] | None:
        """The fleet's telemetry beside the drill's alarms."""
        return start_homecare(
            self.work,
            f"fleet-{name}",
            [
                "sim",
                "fleet",
                *("--devices", str(options.fleet_devices), "--rate", str(options.telemetry_rate)),
                *("--duration", str(int(options.burst_s + options.offline_s + 120)), "--prefix", "drill"),
                *("--seed", str(SEED), "--secrets", "--mqtt-url", self.broker_url),
            ],
            self.env(),
        )

    def stop_all(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.killed.add(name)


PARTS = ["broker", "gateway-telemetry-1", "gateway-telemetry-2", "gateway-alarms-1", "gateway-alarms-2", "api"]


@dataclass(frozen=True)
class BrokerFiles:
    """deploy/mosquitto/mosquitto.conf as shipped, with each listener on a free local port and its files in ``work``."""

    conf: str
    ports: dict[int, int]  # the port in the shipped file → the port here
    password_files: dict[int, Path]  # the port in the shipped file → its listener's password file

    @classmethod
    def from_deploy(cls, work: Path, service_address: str | None = None) -> BrokerFiles:
        """With ``service_address``, the gateways' listener also listens there (a network namespace's link)."""
        ports: dict[int, int] = {}
        password_files: dict[int, Path] = {}
        lines = []
        listener = 0
        for line in (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text().splitlines():
            words = line.split()
            key = words[0] if words and not words[0].startswith("#") else ""
            if key == "listener":
                listener = int(words[1])
                ports[listener] = free_port()
                line = f"listener {ports[listener]} 127.0.0.1"
            elif key in ("password_file", "acl_file"):
                line = f"{key} {work / Path(words[1]).name}"
                if key == "password_file":
                    password_files[listener] = work / Path(words[1]).name
            elif key == "persistence_location":
                line = f"persistence_location {work / 'mosquitto'}/"
            lines.append(line)
        broker = cls("", ports, password_files)
        if service_address is not None:
            lines += [
                f"listener {broker.service_port} {service_address}",
                "allow_anonymous false",
                f"password_file {password_files[1884 if 1884 in ports else 1883]}",
                f"acl_file {work / 'homecare.acl'}",
            ]
        return cls("\n".join(lines) + "\n", ports, password_files)

    @property
    def device_port(self) -> int:
        return self.ports[1883]

    @property
    def service_port(self) -> int:
        """The gateways' listener: their own (1884) where the configuration has one."""
        return self.ports.get(1884, self.device_port)

    def write_accounts(self, devices: dict[str, str], services: dict[str, str]) -> None:
        """The devices' password file and ACL as enrolment writes them, then the services' accounts."""
        PasswordFile(self.password_files[1883], None).apply(devices)
        with self.password_files[1884 if 1884 in self.ports else 1883].open("a") as out:
            out.writelines(f"{user}:{mosquitto_hash(secret)}\n" for user, secret in services.items())


async def build_stack(
    work: Path, drills: list[str], options: Options, partition: Partition | None, disk: Path | None
) -> Stack:
    database = EmbeddedPostgres((disk or work) / "data")
    dsn = await asyncio.to_thread(database.start)
    await prepare_storage(dsn, StorageSettings(_env_file=None, database_url=dsn))  # type: ignore[call-arg]
    pendants = [uid for drill in drills for uid in pendant_uids(drill, options.alarms + 1)]
    fleet = fleet_devices(options.fleet_devices, prefix="drill", seed=SEED)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for uid in pendants:
            await cur.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (f"resident of {uid}",))
            row = await cur.fetchone()
            assert row is not None
            await cur.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'sos_pendant', %s)", (uid, row[0])
            )
        await cur.execute(
            "INSERT INTO residents (display_name) SELECT 'fleet resident ' || g FROM generate_series(1, %s) g "
            "RETURNING id",
            (len(fleet),),
        )
        residents = [row[0] for row in await cur.fetchall()]
        await cur.executemany(
            "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'wristband', %s)",
            [(device.uid, resident) for device, resident in zip(fleet, residents, strict=True)],
        )
    gateway_password = os.urandom(18).hex()
    devices = {uid: device_secret(SEED, uid) for uid in pendants} | {device.uid: device.secret for device in fleet}
    broker = prepare_broker(
        work, devices, {GATEWAY_USER: gateway_password}, partition.host_address if partition else None
    )
    stack = Stack(
        work, database, dsn, broker.device_port, broker.service_port, free_port(), gateway_password, partition, disk
    )
    for part in PARTS:
        stack.start(part)
    await wait_for_api(f"http://127.0.0.1:{stack.api_port}")
    await asyncio.sleep(2)  # the gateways subscribe
    return stack


async def until(check: Callable[[], bool], *, timeout: float) -> bool:
    """Whether ``check`` came true within ``timeout`` seconds (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def prepare_broker(
    work: Path, devices: dict[str, str], services: dict[str, str], service_address: str | None = None
) -> BrokerFiles:
    """The configuration, ACL, password files and persistence directory of the drills' Mosquitto."""
    broker = BrokerFiles.from_deploy(work, service_address)
    (work / "mosquitto.conf").write_text(broker.conf)
    broker.write_accounts(devices, services)
    shutil.copy(REPO / "deploy" / "mosquitto" / "homecare.acl", work / "homecare.acl")
    (work / "mosquitto").mkdir()
    if os.geteuid() == 0:  # Mosquitto started as root drops to its own user, which must reach these
        broker_user = pwd.getpwnam("mosquitto")
        os.chown(work / "mosquitto", broker_user.pw_uid, broker_user.pw_gid)
        work.chmod(0o755)
        for path in [
            work / "homecare.acl",
            *broker.password_files.values(),
            PasswordFile(broker.password_files[1883], None).acl_path,
        ]:
            path.chmod(0o644)
    return broker


@dataclass(frozen=True)
class Partition:
    """A network namespace joined to this machine by a veth pair on a test range (198.18.0.0/15): processes
    in it reach the broker only across the link, which the drill takes down and up."""

    namespace: str
    host_link: str
    host_address: str = "198.18.0.1"
    namespace_address: str = "198.18.0.2"

    def cut(self) -> None:
        subprocess.run(["ip", "link", "set", self.host_link, "down"], check=True)

    def restore(self) -> None:
        subprocess.run(["ip", "link", "set", self.host_link, "up"], check=True)


@contextmanager
def partition_namespace() -> Iterator[Partition]:
    """The namespace and its link, removed on exit however the drills end."""
    partition = Partition(f"homecare-drill-{os.getpid()}", f"hcd{os.getpid()}h")
    inside = f"hcd{os.getpid()}n"
    in_namespace = ["ip", "netns", "exec", partition.namespace, "ip"]
    try:
        for command in (
            ["ip", "netns", "add", partition.namespace],
            ["ip", "link", "add", partition.host_link, "type", "veth", "peer", "name", inside],
            ["ip", "link", "set", inside, "netns", partition.namespace],
            ["ip", "addr", "add", f"{partition.host_address}/30", "dev", partition.host_link],
            ["ip", "link", "set", partition.host_link, "up"],
            [*in_namespace, "addr", "add", f"{partition.namespace_address}/30", "dev", inside],
            [*in_namespace, "link", "set", inside, "up"],
            [*in_namespace, "link", "set", "lo", "up"],
        ):
            subprocess.run(command, check=True)
        yield partition
    finally:
        # Deleting one end of a veth pair deletes the other; either may not exist if setting up failed.
        subprocess.run(["ip", "link", "del", partition.host_link], check=False, stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", partition.namespace], check=False, stderr=subprocess.DEVNULL)


@contextmanager
def small_disk(work: Path, size_mb: int = 4096) -> Iterator[Path]:
    """An ext4 filesystem in a sparse image file, loop-mounted, with no blocks reserved for root (the drill
    fills it as root): the database's disk. Unmounted and removed on exit."""
    image, mountpoint = work / "disk.img", work / "disk"
    with image.open("wb") as out:
        out.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True)
    mountpoint.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        # Lazy: detached now even if a process that failed to stop still holds a file on it.
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)
        image.unlink()


def fill_disk(disk: Path) -> int:
    """Write a ballast file until the filesystem has no byte left (ENOSPC); its size in bytes."""
    ballast = disk / "ballast"
    free = os.statvfs(disk)
    # Most of it allocated at once, the last 64 MB written until the filesystem refuses.
    written = max(0, free.f_bavail * free.f_frsize - (64 << 20))
    with ballast.open("wb", buffering=0) as out:
        os.posix_fallocate(out.fileno(), 0, written)
        out.seek(written)
        for chunk in (16 << 20, 64 << 10, 4 << 10, 512):
            block = bytes(chunk)
            while True:
                try:
                    written += out.write(block)
                except OSError as err:
                    if err.errno != errno.ENOSPC:
                        raise
                    break
        os.fsync(out.fileno())
    return written


def pendant_uids(drill: str, count: int) -> list[str]:
    return [f"drill-{drill}-{i:03d}" for i in range(count)]


class Pendants:
    """One drill's pendants: the last one is the probe that times recovery, the others press SOS."""

    def __init__(self, broker_port: int, drill: str, options: Options, bridge: PahoBridge) -> None:
        self.clock = SimClock()
        self.devices = [
            SimDevice(
                uid,
                broker=BrokerAddress("127.0.0.1", broker_port),
                clock=self.clock,
                bridge=bridge,
                firmware="drill",
                secret=device_secret(SEED, uid),
                first_seq=1,
                resend_after_s=options.resend_s,
                backoff_s=(0.5, 8.0),
            )
            for uid in pendant_uids(drill, options.alarms + 1)
        ]
        self.probe = self.devices.pop()
        self.sent: dict[str, list[int]] = {device.uid: [] for device in [*self.devices, self.probe]}

    async def connect(self) -> None:
        for device in [*self.devices, self.probe]:
            device.go_online()
        await until(lambda: all(d.connected for d in [*self.devices, self.probe]), timeout=30)

    def press(self, device: SimDevice) -> None:
        self.sent[device.uid].append(device.publish_event(self.clock.now(), EventKind.SOS))

    def maintain(self) -> None:
        for device in [*self.devices, self.probe]:
            device.maintain()

    def all_pressed_and_acked(self) -> bool:
        return all(self.sent[d.uid] for d in self.devices) and not self.unacked()

    def unacked(self, devices: list[SimDevice] | None = None) -> int:
        return sum(len(d.outbox) for d in (devices if devices is not None else [*self.devices, self.probe]))

    def acked(self) -> set[tuple[str, int]]:
        return {
            (uid, seq)
            for device in [*self.devices, self.probe]
            for uid, seqs in [(device.uid, self.sent[device.uid])]
            for seq in seqs
            if seq not in device.outbox
        }

    def close(self) -> None:
        for device in [*self.devices, self.probe]:
            device.close()


class Target(Protocol):
    """What a drill presses alarms against: the production-shaped stack or a `homecare run`."""

    @property
    def dsn(self) -> str: ...

    @property
    def broker_port(self) -> int: ...  # the devices' listener

    def start_telemetry(self, name: str, options: Options) -> subprocess.Popen[bytes] | None: ...

    def restart_exited(self) -> list[str]: ...


Fault = Callable[[Stack, Pendants, Options], Awaitable[dict[str, Any]]]


async def gateway_sigkill(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """Both alarm gateways and one telemetry gateway die mid-burst; the service manager restarts them."""
    await asyncio.sleep(options.burst_s / 3)
    for name in ("gateway-alarms-1", "gateway-alarms-2", "gateway-telemetry-1"):
        stack.kill(name)
    await asyncio.sleep(1)
    for name in ("gateway-alarms-1", "gateway-alarms-2", "gateway-telemetry-1"):
        stack.start(name)
    return {}


async def broker_sigkill(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """Mosquitto dies mid-burst (what it had not saved is gone) and comes back from its persistence file."""
    await asyncio.sleep(options.burst_s / 3)
    stack.kill("broker")
    await asyncio.sleep(1)
    stack.start("broker")
    return {}


async def database_stopped(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """PostgreSQL is stopped (fast shutdown) for db_outage_s mid-burst, then started again."""
    await asyncio.sleep(options.burst_s / 4)
    await asyncio.to_thread(stack.database.stop)
    await asyncio.sleep(options.db_outage_s)
    await asyncio.to_thread(stack.database.start)
    return {"outage_s": options.db_outage_s}


async def database_restarted(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """PostgreSQL restarted with a fast shutdown in the middle of the gateways' commits."""
    await asyncio.sleep(options.burst_s / 2)
    await asyncio.to_thread(stack.database.stop)
    await asyncio.to_thread(stack.database.start)
    return {}


async def pipeline_sigkill(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """The API with the alarm pipeline dies while the first incidents' 60 s acknowledgement timers come due,
    and is restarted 20 s later: each timer due meanwhile must fire once, late but not lost."""
    await asyncio.sleep(50)
    stack.kill("api")
    down_at = time.time()
    await asyncio.sleep(20)
    stack.start("api")
    await wait_for_api(f"http://127.0.0.1:{stack.api_port}")
    await asyncio.sleep(15)  # the restarted pipeline catches up with its timers
    residents = [device.uid for device in [*pendants.devices, pendants.probe]]
    async with await psycopg.AsyncConnection.connect(stack.dsn) as conn:
        row = await (
            await conn.execute(
                """
                SELECT count(*) FILTER (WHERE t.due_at <= now()),
                       count(*) FILTER (WHERE t.due_at <= now() AND t.fired_at IS NULL AND t.cancelled_at IS NULL),
                       count(*) FILTER (WHERE t.due_at BETWEEN to_timestamp(%s) AND now()),
                       max(extract(epoch FROM t.fired_at - t.due_at))
                FROM incident_timers t JOIN incidents i ON i.id = t.incident_id JOIN devices d ON d.id = i.device_id
                WHERE t.kind = 'acknowledge' AND d.uid = ANY(%s)
                """,
                (down_at, residents),
            )
        ).fetchone()
    assert row is not None
    return {
        "timers_due": row[0],
        "timers_not_fired": row[1],
        "timers_due_since_kill": row[2],
        "max_timer_late_s": round(float(row[3] or 0), 1),
    }


async def device_offline(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """Ten pendants lose their network, are pressed while away (the alarm waits in their outbox) and come back
    after offline_s: everything they kept is delivered on reconnect."""
    away = pendants.devices[-10:]
    for device in away:
        device.go_offline(power=False)
    await asyncio.sleep(options.offline_s)
    back = time.monotonic()
    for device in away:
        device.go_online()
    await until(lambda: not pendants.unacked(away), timeout=600)
    return {"offline_s": options.offline_s, "delivered_after_reconnect_s": round(time.monotonic() - back, 1)}


async def gateway_replaced(stack: Stack, pendants: Pendants, options: Options, *, same_name: bool) -> dict[str, Any]:
    """One alarm gateway is SIGKILLed mid-burst and a replacement starts at once, under a new client id (a
    Deployment's new pod) or the dead one's (a StatefulSet's). Then what the broker still holds for the dead
    session is counted: with a new name nobody resumes it until persistent_client_expiration."""
    await asyncio.sleep(options.burst_s / 3)
    dead = "homecare-gateway-alarms-2"
    stack.kill("gateway-alarms-2")
    killed_at = time.monotonic()
    stack.start("gateway-alarms-2", None if same_name else f"{dead}-replacement")
    await until(pendants.all_pressed_and_acked, timeout=600)
    all_acked_s = time.monotonic() - killed_at
    # With the same name the replacement has taken the session over: nothing is left to strand.
    stranded = {} if same_name else await asyncio.to_thread(take_session, stack, dead)
    if not same_name:
        stack.kill("gateway-alarms-2", signal.SIGTERM)
        stack.start("gateway-alarms-2")  # the stack as it was, for the drills after this one
    return {"all_acked_after_kill_s": round(all_acked_s, 1), "stranded": stranded}


def take_session(stack: Stack, client_id: str, listen_s: float = 5.0) -> dict[str, int]:
    """Resume a dead gateway's persistent session, count what the broker had queued for it by channel, then
    end the session (as an operator removing the dead replica would). The queued messages are taken, not
    stored: the counts are what waited there, and would have waited until the session expired."""
    stranded: dict[str, int] = {}

    def on_connect(client: mqtt.Client, *_: object) -> None:
        # The session's shared subscription would also hand the probe a share of new messages: drop it.
        client.unsubscribe(subscription_filters("alarms", "homecare-alarm-gateways"))

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        channel = message.topic.rsplit("/", 1)[-1]
        stranded[channel] = stranded.get(channel, 0) + 1

    for clean, listen in ((False, listen_s), (True, 1.0)):  # resume and count, then start clean: no session
        probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        probe.username_pw_set(GATEWAY_USER, stack.gateway_password)
        probe.on_connect = on_connect
        probe.on_message = on_message
        probe.connect("127.0.0.1", stack.service_port)
        probe.loop_start()
        time.sleep(listen)
        probe.disconnect()
        probe.loop_stop()
        probe._reset_sockets()  # paho leaves its wake-up socket pair to the garbage collector
    return stranded


async def network_partition(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """The link between the gateways' network namespace and the broker goes down mid-burst for partition_s,
    then comes back: no reset reaches either side, so each finds out by its keepalive."""
    assert stack.partition is not None, "the stack's gateways are not in a namespace"
    await asyncio.sleep(options.burst_s / 3)
    stack.partition.cut()
    await asyncio.sleep(options.partition_s)
    stack.partition.restore()
    return {"partition_s": options.partition_s}


async def database_disk_full(stack: Stack, pendants: Pendants, options: Options) -> dict[str, Any]:
    """The database's filesystem fills up mid-burst (a ballast file written until ENOSPC) and stays full for
    db_outage_s while alarms are pressed, then the ballast is removed. A server that stopped for want of space
    is started again, as its service manager would."""
    assert stack.disk is not None, "the stack's database is not on a disk of its own"
    await asyncio.sleep(options.burst_s / 4)
    ballast = await asyncio.to_thread(fill_disk, stack.disk)
    await asyncio.sleep(options.db_outage_s)
    (stack.disk / "ballast").unlink()
    stopped = not stack.database.running
    if stopped:
        await asyncio.to_thread(stack.database.start)
    # The services' logs too: what the server could not write to its log on the full disk, they reported.
    logs = [stack.database.log_file, *stack.work.glob("*.log")]
    return {
        "full_s": options.db_outage_s,
        "ballast_mb": ballast >> 20,
        "no_space_errors_logged": sum(log.read_text(errors="replace").count("No space left on device") for log in logs),
        "database_stopped_and_restarted": stopped,
    }


DRILLS: dict[str, Fault] = {
    "gateway-sigkill": gateway_sigkill,
    "broker-sigkill": broker_sigkill,
    "database-stopped": database_stopped,
    "pipeline-sigkill": pipeline_sigkill,
    "database-fast-restart": database_restarted,
    "device-offline": device_offline,
    "gateway-replaced-new-name": partial(gateway_replaced, same_name=False),
    "gateway-replaced-same-name": partial(gateway_replaced, same_name=True),
    "network-partition": network_partition,
    "database-disk-full": database_disk_full,
}


@dataclass
class Runner:
    """`homecare run` (embedded PostgreSQL and broker, supervised) as a drill's target."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    dsn: str
    broker_port: int
    output: Path

    def start_telemetry(self, name: str, options: Options) -> subprocess.Popen[bytes] | None:
        return None  # its own simulated neighbourhood sends telemetry beside the pendants

    def restart_exited(self) -> list[str]:
        return ["homecare run"] if self.process.poll() is not None else []

    def postmaster(self) -> int | None:
        """The running postmaster's pid (None while there is none, or its pid file is being written)."""
        try:
            pid = int((self.data_dir / "pg" / "postmaster.pid").read_text().split()[0])
            zombie = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
        except (OSError, ValueError, IndexError):
            return None
        return None if zombie else pid


async def runner_postmaster_sigkill(runner: Runner, pendants: Pendants, options: Options) -> dict[str, Any]:
    """The embedded database's postmaster is SIGKILLed mid-burst; `homecare run` alone starts it again."""
    await asyncio.sleep(options.burst_s / 3)
    killed = runner.postmaster()
    assert killed is not None, "the embedded database is not running"
    os.kill(killed, signal.SIGKILL)
    killed_at = time.monotonic()
    await until(lambda: runner.postmaster() not in (None, killed), timeout=300)
    return {
        "database_back_s": round(time.monotonic() - killed_at, 1),
        "runner_restarted_database": "The database stopped" in runner.output.read_text(errors="replace"),
    }


async def runner_database_sigkill(options: Options) -> dict[str, Any]:
    """The drill against `homecare run --residents N` with its own data directory and ports; the drill's
    pendants are enrolled beside the simulated neighbourhood, with their own secrets."""
    name = "runner-database-sigkill"
    with tempfile.TemporaryDirectory(prefix="homecare-drill-run-") as tmp:
        work = Path(tmp)
        data_dir, api_port, broker_port = work / "var", free_port(), free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("HOMECARE_")} | {
            "HOMECARE_DATA_DIR": str(data_dir),
            "HOMECARE_API_PORT": str(api_port),
            "HOMECARE_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        }
        process = start_homecare(work, "run", ["run", "--residents", str(options.runner_residents)], env)
        try:
            await wait_for_api(f"http://127.0.0.1:{api_port}", timeout=300)
            port = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()[3]
            password = (data_dir / "pg.password").read_text().strip()
            dsn = f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/homecare"
            async with await psycopg.AsyncConnection.connect(dsn) as conn:
                for uid in pendant_uids(name, options.alarms + 1):
                    row = await (
                        await conn.execute(
                            "INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (f"resident of {uid}",)
                        )
                    ).fetchone()
                    assert row is not None
                    secret = device_secret(SEED, uid)
                    await enrol_device(conn, uid=uid, kind=DeviceKind.SOS_PENDANT, resident_id=row[0], secret=secret)
                await conn.commit()
            await asyncio.sleep(2)  # the alarm gateway's registry follows the enrolment
            runner = Runner(process, data_dir, dsn, broker_port, work / "run.log")
            return await run_drill(runner, name, partial(runner_postmaster_sigkill, runner), options)
        finally:
            process.terminate()  # the runner stops its children and the database
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def run_drill(
    target: Target, name: str, fault: Callable[[Pendants, Options], Awaitable[dict[str, Any]]], options: Options
) -> dict[str, Any]:
    bridge = PahoBridge(asyncio.get_running_loop())
    network = asyncio.create_task(bridge.run(0.1))
    pendants = Pendants(target.broker_port, name, options, bridge)
    await pendants.connect()
    fleet = target.start_telemetry(name, options)
    await asyncio.sleep(3)
    details: dict[str, Any] = {}
    recovery_s = 0.0

    async def inject() -> None:
        """The fault, then recovery: from its end until an alarm pressed at that moment is acknowledged."""
        nonlocal recovery_s
        details.update(await fault(pendants, options))
        fault_ended = time.monotonic()
        pendants.press(pendants.probe)
        await until(lambda: not pendants.probe.outbox, timeout=300)
        recovery_s = time.monotonic() - fault_ended

    async def keep_resending() -> None:
        while True:
            pendants.maintain()
            await asyncio.sleep(0.2)

    resender = asyncio.create_task(keep_resending())
    injection = asyncio.create_task(inject())
    try:
        for device in pendants.devices:
            pendants.press(device)
            await asyncio.sleep(options.burst_s / options.alarms)
        await injection
        await until(lambda: not pendants.unacked(), timeout=180)
        figures = await tally(target.dsn, pendants)
        # Every stored alarm becomes an incident; give the pipeline a moment after the last acknowledgement.
        deadline = time.monotonic() + 60
        while figures["stored_without_incident"] and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            figures = await tally(target.dsn, pendants)
    finally:
        resender.cancel()
        injection.cancel()
        pendants.close()
        network.cancel()
        if fleet is not None:
            fleet.terminate()
            fleet.wait(30)
    needing_restart = target.restart_exited()
    return {
        "name": name,
        **figures,
        "recovery_s": round(recovery_s, 1),
        "manual_restart": needing_restart,
        **details,
    }


async def tally(dsn: str, pendants: Pendants) -> dict[str, Any]:
    """What the pendants sent and had acknowledged against what the database holds."""
    sent = {(uid, seq) for uid, seqs in pendants.sent.items() for seq in seqs}
    acked = pendants.acked()
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        stored = {
            (str(uid), int(seq))
            for uid, seq in await (
                await conn.execute(
                    "SELECT d.uid, e.seq FROM events e JOIN devices d ON d.id = e.device_id "
                    "WHERE d.uid = ANY(%s) AND e.kind = 'sos'",
                    (list(pendants.sent),),
                )
            ).fetchall()
        }
        row = await (
            await conn.execute(
                """
                SELECT count(*), count(DISTINCT i.resident_id),
                       (SELECT count(*) FROM events e JOIN devices d ON d.id = e.device_id
                        WHERE d.uid = ANY(%(uids)s) AND e.kind = 'sos'
                          AND NOT EXISTS (SELECT 1 FROM pipeline_processed p
                                          WHERE p.source = 'event' AND p.item_id = e.id AND p.incident_id IS NOT NULL))
                FROM incidents i JOIN devices d ON d.resident_id = i.resident_id
                WHERE d.uid = ANY(%(uids)s) AND i.cause = 'sos'
                """,
                {"uids": list(pendants.sent)},
            )
        ).fetchone()
    assert row is not None
    incidents, residents, without_incident = row
    return {
        "alarms_sent": len(sent),
        "acked": len(acked),
        "stored": len(stored & sent),
        "incidents": incidents,
        "lost_acked": len(acked - stored),
        "unacked_at_end": len(sent - acked),
        "duplicates": incidents - residents,
        "stored_without_incident": without_incident,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=[*DRILLS, RUNNER_DRILL], help="run only these drills")
    parser.add_argument("--alarms", type=int, default=60, help="SOS presses per drill")
    parser.add_argument("--burst", type=float, default=40.0, help="seconds over which they are pressed")
    parser.add_argument("--telemetry-rate", type=float, default=2000.0, help="fleet messages/s beside them")
    parser.add_argument("--fleet-devices", type=int, default=500)
    parser.add_argument("--db-outage", type=float, default=30.0, help="seconds PostgreSQL stays stopped")
    parser.add_argument("--offline", type=float, default=300.0, help="seconds the offline pendants stay away")
    parser.add_argument("--resend", type=float, default=10.0, help="a pendant resends an unacknowledged alarm after")
    parser.add_argument("--partition", type=float, default=60.0, help="seconds the gateways are cut off the broker")
    parser.add_argument("--runner-residents", type=int, default=20, help="simulated residents under homecare run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    options = Options(
        alarms=args.alarms,
        burst_s=args.burst,
        telemetry_rate=args.telemetry_rate,
        fleet_devices=args.fleet_devices,
        db_outage_s=args.db_outage,
        offline_s=args.offline,
        resend_s=args.resend,
        partition_s=args.partition,
        runner_residents=args.runner_residents,
    )
    names = args.only or [*DRILLS, RUNNER_DRILL]
    results = asyncio.run(run_all(names, options))
    write_results(args.output, {"drills": results, "options": options.__dict__})
    show(results)
    console.print(f"written to {args.output}")
    failed = [r["name"] for r in results if r["lost_acked"] or r["duplicates"] or r["stored_without_incident"]]
    if failed:
        console.print(f"[bold red]acknowledged alarms lost or duplicated in: {', '.join(failed)}[/]")
        sys.exit(1)


RUNNER_DRILL = "runner-database-sigkill"  # against `homecare run`, not the production-shaped stack


async def run_all(names: list[str], options: Options) -> list[dict[str, Any]]:
    results = []
    on_stack = [name for name in names if name in DRILLS]
    with tempfile.TemporaryDirectory(prefix="homecare-drills-") as tmp, ExitStack() as cleanup:
        work = Path(tmp)
        # When their drills run, the gateways live in a network namespace and the database on a small disk
        # for the whole run: the other drills then run in that shape too.
        partition = cleanup.enter_context(partition_namespace()) if "network-partition" in on_stack else None
        disk = cleanup.enter_context(small_disk(work)) if "database-disk-full" in on_stack else None
        if on_stack:
            stack = await build_stack(work, on_stack, options, partition, disk)
            try:
                for name in on_stack:
                    console.print(f"[bold]drill {name}[/] …")
                    result = await run_drill(stack, name, partial(DRILLS[name], stack), options)
                    console.print(result)
                    results.append(result)
            finally:
                stack.stop_all()
                await asyncio.to_thread(stack.database.stop)
    if RUNNER_DRILL in names:
        console.print(f"[bold]drill {RUNNER_DRILL}[/] …")
        results.append(await runner_database_sigkill(options))
        console.print(results[-1])
    return results


def show(results: list[dict[str, Any]]) -> None:
    table = Table(title="fault drills")
    columns = ["name", "alarms_sent", "acked", "stored", "incidents", "lost_acked", "duplicates", "recovery_s"]
    for heading in ["drill", "sent", "acked", "stored", "incidents", "lost acked", "duplicates", "recovery s"]:
        table.add_column(heading, no_wrap=True)
    table.add_column("manual restart")
    for result in results:
        table.add_row(*(str(result[c]) for c in columns), ", ".join(result["manual_restart"]) or "none")
    console.print(table, width=150)  # wider than a pipe's default 80 columns


if __name__ == "__main__":
    main()
