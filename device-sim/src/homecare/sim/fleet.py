"""Load generator: thousands of wristbands, one MQTT connection each, pre-built packets on raw sockets."""

from __future__ import annotations

import contextlib
import errno
import multiprocessing as mp
import multiprocessing.synchronize
import resource
import selectors
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from typing import Final, Literal, NamedTuple

from homecare.contracts.topics import Channel, topic
from homecare.sim.mqtt_url import BrokerAddress
from homecare.sim.neighbourhood import device_secret
from homecare.sim.seeds import Stream, rng_for

# Why not paho: against Mosquitto on this 2-core machine paho costs 15 µs of CPU per QoS-0 message
# and 50-70 µs per QoS-1 message with 2000 clients; whole MQTT 3.1.1 PUBLISH packets filled in with
# `bytes % (seq, ts)` and written to non-blocking sockets from one selector loop cost 8-9 µs and
# 12-14 µs (4 and 6 µs with --burst 5). The generator shares the machine with the platform it loads.
# Each message is Telemetry with exactly three data points, as in ThingsBoard's published load test.

_TAILS: Final = 32  # distinct readings per device, cycled: realistic enough, and costs nothing per message
_PROGRESS_EVERY_S: Final = 0.25
_CONNACK, _PUBACK, _PINGRESP = 2, 4, 13
_PINGREQ: Final = b"\xc0\x00"
_DISCONNECT: Final = b"\xe0\x00"


@dataclass(frozen=True, slots=True)
class FleetConfig:
    broker: BrokerAddress
    devices: int = 2000
    rate: float = 20_000.0  # messages per second, all devices together
    duration_s: float = 60.0
    qos: Literal[0, 1] = 0
    processes: int = 1
    prefix: str = "fleet"
    first_index: int = 1  # so that several generators can run side by side with distinct devices
    seed: int = 1
    with_secrets: bool = False  # send each device's secret as its MQTT password
    inflight: int = 64  # QoS 1: unacknowledged messages allowed per connection
    burst: int = 1  # messages per device per write: fewer system calls, same average rate per device
    connect_rate: float = 2000.0  # new connections per second (per process)
    connect_timeout_s: float = 60.0
    keepalive_s: int = 60
    seq_start: int | None = None  # None: wall-clock ms, so seq keeps growing across runs without state


@dataclass(frozen=True, slots=True)
class FleetDevice:
    """Enrolment data of one load-test device."""

    uid: str
    kind: str
    secret: str


@dataclass(frozen=True, slots=True)
class DeviceTally:
    """What one device sent: seqs first_seq…last_seq (none if `sent` is 0), and how many the broker acked."""

    uid: str
    first_seq: int
    last_seq: int | None
    sent: int
    acked: int


Phase = Literal["connecting", "publishing", "draining", "done"]
PHASES: Final[tuple[Phase, ...]] = ("connecting", "publishing", "draining", "done")


@dataclass(frozen=True, slots=True)
class FleetProgress:
    phase: Phase
    elapsed_s: float
    devices: int
    connected: int
    sent: int
    acked: int
    errors: int


@dataclass(slots=True)
class FleetResult:
    config: FleetConfig
    devices: list[DeviceTally] = field(default_factory=list)
    elapsed_s: float = 0.0  # publishing phase, wall clock
    cpu_s: float = 0.0  # publishing phase, CPU of the generator processes
    connected: int = 0
    errors: int = 0

    @property
    def sent(self) -> int:
        return sum(d.sent for d in self.devices)

    @property
    def acked(self) -> int:
        return sum(d.acked for d in self.devices)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def us_per_message(self) -> float:
        return 1e6 * self.cpu_s / self.sent if self.sent else 0.0

    def last_seqs(self) -> dict[str, int | None]:
        """Per device, the last seq sent: compare with stored rows to count losses."""
        return {d.uid: d.last_seq for d in self.devices}


def fleet_uid(prefix: str, index: int) -> str:
    return f"{prefix}-{index:06d}"


def fleet_devices(count: int, *, prefix: str = "fleet", first_index: int = 1, seed: int = 1) -> list[FleetDevice]:
    """The devices a fleet run with the same arguments uses, for enrolment before the run."""
    uids = (fleet_uid(prefix, i) for i in range(first_index, first_index + count))
    return [FleetDevice(uid, "wristband", device_secret(seed, uid)) for uid in uids]


# -- MQTT 3.1.1 packets -------------------------------------------------------------------------


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, keepalive_s: int, username: str | None = None, password: str | None = None) -> bytes:
    """CONNECT with clean session (load devices keep no broker state)."""
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + _utf8(client_id)
    if username is not None:
        body += _utf8(username)
    if password is not None:
        body += _utf8(password)
    return b"\x10" + _remaining_length(len(body)) + body


def publish_templates(uid: str, qos: int, seq_digits: int, tails: list[bytes]) -> list[bytes]:
    """Whole PUBLISH packets with `%d` for seq and ts (and `%b` for the packet id at QoS 1).

    The remaining length is fixed because seq has `seq_digits` digits and ts 13 (ms until 2286).
    """
    topic_block = _utf8(topic(uid, Channel.TELEMETRY))
    head = b'{"v":1,"device_id":"' + uid.encode() + b'","seq":'
    out = []
    for tail in tails:
        payload_len = len(head) + seq_digits + len(b',"ts":') + 13 + len(tail)
        pid_len = 2 if qos else 0
        remaining = len(topic_block) + pid_len + payload_len
        fixed = bytes([0x30 | (qos << 1)]) + _remaining_length(remaining)
        pid = b"%b" if qos else b""
        out.append((fixed + topic_block).replace(b"%", b"%%") + pid + head + b'%d,"ts":%d' + tail)
    return out


def readings(seed: int, index: int) -> list[bytes]:
    """Fixed-width readings (2-digit heart rate and SpO2, 4-character skin temperature) so every packet
    of a device has the same length."""
    rng = rng_for(seed, Stream.FLEET, index)
    hr = 60 + rng.integers(0, 20) + (rng.standard_normal(_TAILS).cumsum() * 1.5).clip(-15, 19)
    spo2 = (97 + rng.integers(-2, 2) + rng.integers(-1, 2, _TAILS)).clip(90, 99)
    skin = (33.0 + rng.normal(0, 0.5) + rng.normal(0, 0.15, _TAILS)).clip(30.0, 36.9)
    return [
        b',"heart_rate":%d,"spo2":%d,"skin_temp":%.1f}' % (int(h), int(s), float(t))
        for h, s, t in zip(hr, spo2, skin, strict=True)
    ]


# -- one process's share of the fleet --------------------------------------------------------------


class _Conn:
    """One device's connection in the selector loop (slotted: it is touched for every message)."""

    __slots__ = (
        "acked",
        "first_seq",
        "inflight",
        "last_tx",
        "limit",
        "pending",
        "rbuf",
        "retry_at",
        "seq",
        "sock",
        "state",
        "tails",
        "templates",
        "uid",
    )

    def __init__(self, uid: str, seq: int, tails: list[bytes]) -> None:
        self.uid, self.tails = uid, tails
        self.seq = self.first_seq = seq
        self.sock: socket.socket | None = None
        self.state = "down"  # down → connecting → connack → up
        self.pending = bytearray()
        self.rbuf = b""
        self.inflight = self.acked = 0
        self.retry_at = 0.0
        self.last_tx = 0.0
        self.limit = 0
        self.templates: list[bytes] = []


@dataclass(frozen=True, slots=True)
class _Share:
    config: FleetConfig
    first: int  # first device index of this process
    count: int
    rate: float


def _allow_descriptors(needed: int) -> None:
    """One socket per device: raise the soft open-files limit as far as the hard one allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OSError(
            f"{needed} open files needed but the hard limit is {hard}: raise it (ulimit -Hn) or use more processes"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


class _Worker:
    """One selector loop for a share of the devices: connect all, publish at the rate, drain, report."""

    def __init__(self, share: _Share, report: Callable[[FleetProgress], None]) -> None:
        _allow_descriptors(share.count + 64)
        c = self.config = share.config
        self.share = share
        self.report = report
        self.sel = selectors.DefaultSelector()
        seq0 = c.seq_start if c.seq_start is not None else int(time.time() * 1000)
        self.conns = [
            _Conn(fleet_uid(c.prefix, i), seq0, readings(c.seed, i))
            for i in range(share.first, share.first + share.count)
        ]
        self.up: list[_Conn] = []
        self.failed: list[_Conn] = []  # waiting to reconnect
        self.errors = 0
        self.t0 = time.monotonic()
        self.phase: Phase = "connecting"
        self._cursor = 0
        self._last_report = 0.0

    # connection handling

    def _open(self, conn: _Conn) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex((self.config.broker.host, self.config.broker.port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self._fail(conn)
            return
        conn.sock, conn.state = sock, "connecting"
        conn.pending, conn.rbuf, conn.inflight = bytearray(), b"", 0
        self.sel.register(sock, selectors.EVENT_WRITE, conn)

    def _fail(self, conn: _Conn) -> None:
        self.errors += 1
        if conn.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(conn.sock)
            conn.sock.close()
            conn.sock = None
        if conn.state == "up":
            self.up.remove(conn)
        conn.state = "down"
        conn.retry_at = time.monotonic() + 1.0
        conn.inflight = 0  # unacknowledged QoS 1 messages are lost with a clean session
        self.failed.append(conn)

    def _retry_failed(self, now: float) -> None:
        due = [conn for conn in self.failed if conn.retry_at <= now]
        if due:
            self.failed = [conn for conn in self.failed if conn.retry_at > now]
            for conn in due:
                self._open(conn)

    def _on_writable(self, conn: _Conn) -> None:
        sock = conn.sock
        assert sock is not None
        if conn.state == "connecting":
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._fail(conn)
                return
            c = self.config
            secret = device_secret(c.seed, conn.uid) if c.with_secrets else None
            conn.pending += connect_packet(conn.uid, c.keepalive_s, conn.uid, secret)
            conn.state = "connack"
        self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        sock = conn.sock
        assert sock is not None
        try:
            n = sock.send(conn.pending)
        except BlockingIOError:
            n = 0
        except OSError:
            self._fail(conn)
            return
        del conn.pending[:n]
        self.sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.pending else 0), conn)

    def _on_readable(self, conn: _Conn) -> None:
        sock = conn.sock
        assert sock is not None
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._fail(conn)
            return
        n = len(data) >> 2
        # The common case at QoS 1: nothing but whole PUBACKs (40 02 id id), counted without a loop.
        if not conn.rbuf and len(data) & 3 == 0 and data[::4] == b"\x40" * n and data[1::4] == b"\x02" * n:
            conn.inflight -= n
            conn.acked += n
            return
        buf = conn.rbuf + data
        pos = 0
        while len(buf) - pos >= 2:
            kind, length = buf[pos] >> 4, buf[pos + 1]  # every packet a broker sends us is short
            if len(buf) - pos < 2 + length:
                break
            if kind == _PUBACK:
                conn.inflight -= 1
                conn.acked += 1
            elif kind == _CONNACK:
                if buf[pos + 3] != 0:
                    self._fail(conn)  # refused: bad credentials or not authorised
                    return
                conn.state = "up"
                self.up.append(conn)
            pos += 2 + length
        conn.rbuf = buf[pos:]

    def _poll(self, timeout: float) -> None:
        for key, mask in self.sel.select(timeout):
            conn: _Conn = key.data
            if mask & selectors.EVENT_READ and conn.sock is not None:
                self._on_readable(conn)
            if mask & selectors.EVENT_WRITE and conn.sock is not None:
                self._on_writable(conn)

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_report >= _PROGRESS_EVERY_S:
            self._last_report = now
            self.report(
                FleetProgress(
                    self.phase,
                    now - self.t0,
                    len(self.conns),
                    len(self.up),
                    sum(c.seq - c.first_seq for c in self.conns),
                    sum(c.acked for c in self.conns),
                    self.errors,
                )
            )

    # phases

    def connect_all(self) -> None:
        c = self.config
        started = time.monotonic()
        todo = list(self.conns)
        while len(self.up) < len(self.conns) and time.monotonic() - started < c.connect_timeout_s:
            now = time.monotonic()
            allowed = int((now - started) * c.connect_rate) + 1 - (len(self.conns) - len(todo))
            while todo and allowed > 0:
                self._open(todo.pop())
                allowed -= 1
            self._retry_failed(now)
            self._poll(0.01)
            self._progress()
            if not self.up and self.errors >= len(self.conns) and now - started > 3:
                raise ConnectionError(f"no device could connect to {c.broker} (refused or unreachable)")
        if not self.up:
            raise ConnectionError(f"no device connected to {c.broker} within {c.connect_timeout_s:.0f} s")

    def publish(self, start_at: float) -> tuple[float, float]:
        """Publish at the share's rate for the configured duration; returns (wall s, CPU s)."""
        c = self.config
        while time.monotonic() < start_at:
            self._poll(min(0.01, max(0.0, start_at - time.monotonic())))
        self.phase = "publishing"
        rate, burst = self.share.rate, c.burst
        t0, cpu0 = time.monotonic(), time.process_time()
        end = t0 + c.duration_s
        sent = 0
        next_sweep = t0 + 1.0
        while (now := time.monotonic()) < end:
            due = int((now - t0) * rate) - sent
            if due >= burst:
                sent += self._emit(due, now)
            if now >= next_sweep:
                next_sweep = now + 1.0
                self._sweep(now)
            self._poll(0.002 if due < burst else 0)
            self._progress()
        self._emit(int(c.duration_s * rate) - sent, end)
        return time.monotonic() - t0, time.process_time() - cpu0

    def _emit(self, due: int, now: float) -> int:
        """Hand `due` messages round-robin to the connected devices, `burst` per device per write."""
        up = self.up
        n = len(up)
        if not n or due <= 0:
            return 0
        qos, window, burst = self.config.qos, self.config.inflight, self.config.burst
        ts = int(time.time() * 1000)
        tails = _TAILS - 1
        visits = max(due // burst, 1)
        rounds, extra = divmod(visits, n)
        cursor = self._cursor
        sent = 0
        for k in range(min(visits, n)):
            conn = up[(cursor + k) % n]
            want = min(burst * (rounds + (1 if k < extra else 0)), due - sent)
            if qos and conn.inflight + want > window:
                want = window - conn.inflight
            if want <= 0:
                continue
            seq = conn.seq
            if seq + want > conn.limit:
                self._retemplate(conn, seq + want)
            tm = conn.templates
            # ts grows by 1 ms within a burst, so (device, ts) stays unique as well as (device, seq).
            if qos:
                packets = [
                    tm[s & tails] % (((s % 65535) + 1).to_bytes(2, "big"), s, ts + s - seq)
                    for s in range(seq, seq + want)
                ]
                conn.inflight += want
            else:
                packets = [tm[s & tails] % (s, ts + s - seq) for s in range(seq, seq + want)]
            conn.seq = seq + want
            conn.last_tx = now
            sent += want
            self._send(conn, packets[0] if want == 1 else b"".join(packets))
        self._cursor = (cursor + min(visits, n)) % n
        return sent

    def _sweep(self, now: float) -> None:
        """Once a second: keep quiet connections alive, and reconnect lost ones."""
        half_keepalive = self.config.keepalive_s / 2
        for conn in self.up:
            if now - conn.last_tx > half_keepalive:
                conn.last_tx = now
                self._send(conn, _PINGREQ)
        self._retry_failed(now)

    def _retemplate(self, conn: _Conn, upto: int) -> None:
        digits = len(str(upto))
        conn.templates = publish_templates(conn.uid, self.config.qos, digits, conn.tails)
        conn.limit = 10**digits - 1

    def _send(self, conn: _Conn, data: bytes) -> None:
        sock = conn.sock
        assert sock is not None
        if conn.pending:
            conn.pending += data
            return
        try:
            n = sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            self._fail(conn)
            return
        if n < len(data):
            conn.pending += data[n:]
            self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def drain(self, timeout_s: float = 5.0) -> None:
        """Wait for unsent bytes and (at QoS 1) outstanding PUBACKs, then disconnect cleanly."""
        self.phase = "draining"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(c.pending or c.inflight > 0 for c in self.up):
            self._poll(0.01)
            self._progress()
        for conn in self.conns:
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.send(_DISCONNECT)
                self.sel.unregister(conn.sock)
                conn.sock.close()
        self.sel.close()
        self.phase = "done"
        self._progress(force=True)

    def tallies(self) -> list[DeviceTally]:
        return [
            DeviceTally(c.uid, c.first_seq, c.seq - 1 if c.seq > c.first_seq else None, c.seq - c.first_seq, c.acked)
            for c in self.conns
        ]


# -- running: in this process, or spread over several ---------------------------------------------


def _shares(config: FleetConfig) -> list[_Share]:
    shares, first = [], config.first_index
    for p in range(config.processes):
        count = config.devices // config.processes + (1 if p < config.devices % config.processes else 0)
        shares.append(_Share(config, first, count, config.rate * count / config.devices))
        first += count
    return [s for s in shares if s.count]


class _Outcome(NamedTuple):
    """What a worker hands back at the end."""

    slot: int
    tallies: list[DeviceTally]
    wall_s: float
    cpu_s: float
    connected: int
    errors: int


_WAITING: Final = -1.0  # a worker's phase slot while it waits for the common start
_ROW: Final = 6  # phase, devices, connected, sent, acked, errors


def _child(
    share: _Share,
    slot: int,
    board: SynchronizedArray[float],
    go: multiprocessing.synchronize.Event,
    start_at: Synchronized[float],
    results: mp.Queue[_Outcome],
) -> None:
    """A worker process: its progress goes to its row of the shared board, its outcome to the queue."""

    def report(p: FleetProgress) -> None:
        row = [PHASES.index(p.phase), p.devices, p.connected, p.sent, p.acked, p.errors]
        board[slot * _ROW : (slot + 1) * _ROW] = [float(x) for x in row]

    worker = _Worker(share, report)
    worker.connect_all()
    worker._progress(force=True)
    board[slot * _ROW] = _WAITING
    go.wait()
    wall, cpu = worker.publish(start_at.value)
    worker.drain()
    results.put(_Outcome(slot, worker.tallies(), wall, cpu, len(worker.up), worker.errors))


def run_fleet(config: FleetConfig, on_progress: Callable[[FleetProgress], None] | None = None) -> FleetResult:
    """Connect every device, publish at `config.rate` for `config.duration_s`, drain, and tally.

    With `processes` > 1 the devices are split over that many processes, which start publishing
    together once all are connected.
    """
    if config.devices < 1 or config.rate <= 0 or config.duration_s <= 0 or config.processes < 1:
        raise ValueError("devices, rate, duration and processes must be positive")
    report = on_progress or (lambda _p: None)
    if config.processes == 1:
        worker = _Worker(_shares(config)[0], report)
        worker.connect_all()
        wall, cpu = worker.publish(time.monotonic())
        worker.drain()
        return FleetResult(config, worker.tallies(), wall, cpu, len(worker.up), worker.errors)
    return _run_spread(config, report)


def _run_spread(config: FleetConfig, report: Callable[[FleetProgress], None]) -> FleetResult:
    ctx = mp.get_context("spawn")  # no fork: the caller may run threads (a progress display)
    shares = _shares(config)
    board = ctx.Array("d", _ROW * len(shares))
    go = ctx.Event()
    start_at = ctx.Value("d", 0.0)
    results: mp.Queue[_Outcome] = ctx.Queue()
    children = [
        ctx.Process(target=_child, args=(share, i, board, go, start_at, results), daemon=True)
        for i, share in enumerate(shares)
    ]
    for child in children:
        child.start()
    t0 = time.monotonic()
    outcomes: list[_Outcome] = []
    try:
        while len(outcomes) < len(children):
            values: list[float] = board[:]
            rows = [values[i * _ROW : (i + 1) * _ROW] for i in range(len(shares))]
            if not go.is_set() and all(r[0] == _WAITING for r in rows):
                start_at.value = time.monotonic() + 0.2  # CLOCK_MONOTONIC is shared by all processes
                go.set()
            phase = PHASES[int(min(max(r[0], 0.0) for r in rows))]
            totals = [int(sum(r[k] for r in rows)) for k in range(1, _ROW)]
            report(FleetProgress(phase, time.monotonic() - t0, *totals))
            while not results.empty():
                outcomes.append(results.get())
            if any(not child.is_alive() and child.exitcode for child in children):
                raise RuntimeError("a fleet process failed; see its traceback above")
            time.sleep(_PROGRESS_EVERY_S)
    finally:
        for child in children:
            child.join(timeout=10)
    outcomes.sort(key=lambda o: o.slot)
    return FleetResult(
        config,
        devices=[t for o in outcomes for t in o.tallies],
        elapsed_s=max(o.wall_s for o in outcomes),
        cpu_s=sum(o.cpu_s for o in outcomes),
        connected=sum(o.connected for o in outcomes),
        errors=sum(o.errors for o in outcomes),
    )
