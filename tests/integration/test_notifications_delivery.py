"""Notifications end to end: outbox rows written with the caller's transaction, delivered by the worker to a
real SMTP server (aiosmtpd) and a real HTTP receiver, retried with backoff, never sent twice across a restart."""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.server
import itertools
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from fastapi import FastAPI
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from homecare.backend.app import create_app
from homecare.backend.http import install as install_error_handler
from homecare.backend.metrics import BackendMetrics
from homecare.backend.notifications import IncidentNotFound, InvalidSignature
from homecare.backend.notifications.delivery import run_delivery
from homecare.backend.notifications.router import router as notifications_router
from homecare.backend.notifications.service import notify_incident, relay_changes, sync_subscriptions
from homecare.backend.notifications.settings import NotificationSettings
from homecare.backend.notifications.webhooks import verify_signature
from homecare.backend.runtime import Runtime
from homecare.backend.settings import Settings
from tests.support.waiting import eventually

Conn = psycopg.AsyncConnection[Any]
SECRET = "webhook-secret-0123456789-abcdefghijkl"
TOKEN = "test-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- a real SMTP server -------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every accepted message; refuses recipients at refused.example."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        parsed = []
        for envelope in self.envelopes:
            content = envelope.original_content or envelope.content
            assert isinstance(content, bytes)
            message = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append((list(envelope.rcpt_tos), message))
        return parsed


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


# ---- a real HTTP receiver -----------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records every POST; answers each path with a fixed status after an optional delay."""

    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


def _handler(receiver_box: list[Receiver]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            status = receiver.statuses.get(self.path, 204)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    server.daemon_threads = True
    box.append(Receiver(port=server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ---- data and helpers ---------------------------------------------------------------------------------


@dataclass
class Home:
    resident: int
    station: int


async def _id(db: Conn, query: str, params: tuple[Any, ...]) -> int:
    row = await (await db.execute(query, params)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
async def home(db: Conn) -> Home:
    station = await _id(
        db,
        "INSERT INTO stations (code, name, address, phone, lat, lon) VALUES (%s, %s, %s, %s, 31.2, 121.4) RETURNING id",
        ("MY-01", "明园服务站", "明园路 1 号", "021-5555-0101"),
    )
    resident = await _id(
        db,
        "INSERT INTO residents (display_name, station_id) VALUES ('王秀英', %s) RETURNING id",
        (station,),
    )
    contacts = [
        (1, "李明", "son", "li.ming@example.com", True),
        (2, "李华", "daughter", "Li.Hua@example.com ", True),
        (3, "邻居张", "neighbour", "zhang@example.com", False),  # notify off
        (4, "李芳", "granddaughter", None, True),  # no e-mail
        (5, "李华", "daughter (dup)", "li.hua@example.com", True),  # same address twice: one message
    ]
    for order, name, relation, address, notify in contacts:
        await db.execute(
            "INSERT INTO resident_contacts (resident_id, call_order, name, relation, email, notify) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (resident, order, name, relation, address, notify),
        )
    return Home(resident=resident, station=station)


async def new_incident(db: Conn, resident: int, *, cause: str = "fall_confirmed") -> int:
    alarm = datetime(2026, 11, 23, 1, 15, 30, tzinfo=UTC)
    return await _id(
        db,
        "INSERT INTO incidents (resident_id, cause, priority, status, explanation_en, explanation_zh, opened_at, "
        "alarm_at, last_seen_at) VALUES (%s, %s, 1, 'open', 'Fall detected in the bathroom.', '卫生间检测到跌倒。', "
        "%s, %s, %s) RETURNING id",
        (resident, cause, alarm - timedelta(seconds=30), alarm, alarm),
    )


def settings_for(**values: Any) -> NotificationSettings:
    defaults: dict[str, Any] = {
        "smtp_security": "none",
        "poll_interval_s": 0.05,
        "backoff_base_s": 0.3,
        "max_attempts": 3,
        "concurrency": 2,
    }
    return NotificationSettings(_env_file=None, **(defaults | values))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=6, open=False) as opened:
        yield opened


class Worker:
    """run_delivery as the app's lifespan runs it: a task and a stop event."""

    def __init__(self, pool: AsyncConnectionPool[Any], settings: NotificationSettings) -> None:
        self.stop = asyncio.Event()
        self.metrics = BackendMetrics()
        self.task = asyncio.create_task(
            run_delivery(pool, settings=settings, metrics=self.metrics, stop_event=self.stop)
        )

    def attempts(self, channel: str, result: str) -> float:
        """What homecare_notification_attempts_total says for a channel and result."""
        labels = {"channel": channel, "result": result}
        return self.metrics.registry.get_sample_value("homecare_notification_attempts_total", labels) or 0.0

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def outbox(db: Conn) -> list[tuple[Any, ...]]:
    cursor = await db.execute(
        "SELECT id, audience, channel, recipient, status, attempts, last_error FROM notification_outbox ORDER BY id"
    )
    return await cursor.fetchall()


async def all_settled(db: Conn) -> bool:
    rows = await outbox(db)
    return bool(rows) and all(r[4] != "pending" for r in rows)


# ---- tests --------------------------------------------------------------------------------------------


async def test_family_email_reaches_a_real_smtp_server(
    db: Conn, pool: AsyncConnectionPool[Any], home: Home, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    incident = await new_incident(db, home.resident)
    async with db.transaction():
        await notify_incident(db, incident_id=incident, audience="family", reason="alarm")
    rows = await outbox(db)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("family", "email", "li.ming@example.com", "pending"),
        ("family", "email", "Li.Hua@example.com", "pending"),
    ]
    worker = Worker(pool, settings_for(smtp_host="127.0.0.1", smtp_port=port))
    try:
        await eventually(lambda: all_settled(db))
    finally:
        await worker.close()
    assert [r[4] for r in await outbox(db)] == ["sent", "sent"]
    messages = inbox.messages()
    assert sorted(rcpt for rcpts, _ in messages for rcpt in rcpts) == ["Li.Hua@example.com", "li.ming@example.com"]
    for _, message in messages:
        subject = str(message["Subject"])
        assert all(word in subject for word in ("王秀英", "跌倒", "fall")), subject
        body = message.get_content()
        assert body.index("卫生间检测到跌倒。") < body.index("Fall detected in the bathroom."), "Chinese first"
        assert "2026-11-23 09:15:30" in body  # Shanghai time
        assert "明园服务站" in body
        assert message["Message-ID"].startswith("<notification-")
        assert message.get_content_charset() == "utf-8"


async def test_nothing_is_queued_when_the_caller_rolls_back(db: Conn, home: Home) -> None:
    incident = await new_incident(db, home.resident)

    async def change_that_fails() -> None:
        async with db.transaction():
            await notify_incident(db, incident_id=incident, audience="family", reason="alarm")
            raise RuntimeError("the incident change failed")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    assert await outbox(db) == []
    with pytest.raises(IncidentNotFound):
        await notify_incident(db, incident_id=999_999, audience="family", reason="alarm")


async def test_refused_recipient_fails_at_once_others_still_delivered(
    db: Conn, pool: AsyncConnectionPool[Any], home: Home, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    await db.execute("UPDATE resident_contacts SET email = 'gone@refused.example' WHERE call_order = 1")
    incident = await new_incident(db, home.resident)
    await notify_incident(db, incident_id=incident, audience="family", reason="alarm")
    worker = Worker(pool, settings_for(smtp_host="127.0.0.1", smtp_port=port))
    try:
        await eventually(lambda: all_settled(db))
    finally:
        await worker.close()
    by_recipient = {r[3]: r for r in await outbox(db)}
    assert by_recipient["gone@refused.example"][4:6] == ("failed", 1)
    assert "550" in by_recipient["gone@refused.example"][6]
    assert by_recipient["Li.Hua@example.com"][4] == "sent"
    assert [rcpts for rcpts, _ in inbox.messages()] == [["Li.Hua@example.com"]]
    assert (worker.attempts("email", "delivered"), worker.attempts("email", "failed")) == (1, 1)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_staff_email_over_starttls_with_login(
    db: Conn, pool: AsyncConnectionPool[Any], home: Home, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()

    def authenticate(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"desk", b"pa55word")
        if ok:
            inbox.logins.append(data.login)
        return AuthResult(success=ok)

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        settings = settings_for(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="starttls",
            smtp_ca_file=cert,
            smtp_username="desk",
            smtp_password="pa55word",
            staff_emails=["desk@centre.example"],
            supervisor_emails=["boss@centre.example"],
        )
        async with pool.connection() as conn:
            await sync_subscriptions(conn, settings=settings)
        incident = await new_incident(db, home.resident, cause="sos")
        await notify_incident(db, incident_id=incident, audience="supervisor", reason="escalated")
        worker = Worker(pool, settings)
        try:
            await eventually(lambda: all_settled(db))
        finally:
            await worker.close()
    finally:
        controller.stop()
    assert [(r[1], r[3], r[4]) for r in await outbox(db)] == [("supervisor", "boss@centre.example", "sent")]
    assert inbox.logins == [b"desk"]
    [(rcpts, message)] = inbox.messages()
    assert rcpts == ["boss@centre.example"]
    assert "紧急呼叫" in str(message["Subject"])
    assert "SOS" in str(message["Subject"])
    assert "升级" in str(message["Subject"])
    assert "escalated" in str(message["Subject"])


async def test_signed_webhook_verifies_and_a_tampered_one_does_not(
    db: Conn, pool: AsyncConnectionPool[Any], home: Home, receiver: Receiver
) -> None:
    settings = settings_for(
        webhooks=[{"name": "desk", "url": receiver.url("/desk"), "secret": SECRET, "audiences": ["staff"]}]
    )
    async with pool.connection() as conn:
        await sync_subscriptions(conn, settings=settings)
    incident = await new_incident(db, home.resident)
    await notify_incident(db, incident_id=incident, audience="staff", reason="alarm")
    worker = Worker(pool, settings)
    try:
        await eventually(lambda: all_settled(db))
    finally:
        await worker.close()
    [request] = receiver.on("/desk")
    [row] = await outbox(db)
    assert row[4] == "sent"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-homecare-delivery"] == str(row[0])
    verify_signature(
        SECRET.encode(),
        body=request.body,
        timestamp=headers["x-homecare-timestamp"],
        signature=headers["x-homecare-signature"],
    )
    document = json.loads(request.body)
    assert document["delivery_id"] == row[0]
    assert document["type"] == "incident.notification"
    assert document["audience"] == "staff"
    assert document["incident"]["resident_name"] == "王秀英"
    assert document["incident"]["cause"] == "fall_confirmed"
    tampered = request.body.replace(b'"priority":1', b'"priority":5')
    assert tampered != request.body
    with pytest.raises(InvalidSignature):
        verify_signature(
            SECRET.encode(),
            body=tampered,
            timestamp=headers["x-homecare-timestamp"],
            signature=headers["x-homecare-signature"],
        )
    with pytest.raises(InvalidSignature):  # replayed later than the tolerance
        verify_signature(
            SECRET.encode(),
            body=request.body,
            timestamp=headers["x-homecare-timestamp"],
            signature=headers["x-homecare-signature"],
            now=time.time() + 3600,
        )


async def test_failing_endpoint_is_retried_with_backoff_then_marked_failed(
    db: Conn, pool: AsyncConnectionPool[Any], home: Home, receiver: Receiver
) -> None:
    receiver.statuses = {"/flaky": 503, "/gone": 410}
    settings = settings_for(
        max_attempts=3,
        backoff_base_s=0.3,
        webhooks=[
            {"name": "flaky", "url": receiver.url("/flaky"), "secret": SECRET, "audiences": ["staff"]},
            {"name": "gone", "url": receiver.url("/gone"), "secret": SECRET, "audiences": ["staff"]},
        ],
    )
    async with pool.connection() as conn:
        await sync_subscriptions(conn, settings=settings)
    incident = await new_incident(db, home.resident)
    await notify_incident(db, incident_id=incident, audience="staff", reason="alarm")
    worker = Worker(pool, settings)
    try:
        await eventually(lambda: all_settled(db))
    finally:
        await worker.close()
    rows = {r[3]: r for r in await outbox(db)}
    assert rows["flaky"][4:] == ("failed", 3, "HTTP 503 from flaky")
    assert rows["gone"][4:] == ("failed", 1, "HTTP 410 from gone"), "a 410 is not retried"
    # flaky: two retries, then given up; gone: given up at once.
    assert [worker.attempts("webhook", result) for result in ("delivered", "retry", "failed")] == [0, 2, 2]
    flaky = receiver.on("/flaky")
    assert [r.headers["X-Homecare-Attempt"] for r in flaky] == ["1", "2", "3"]
    assert {r.headers["X-Homecare-Delivery"] for r in flaky} == {str(rows["flaky"][0])}
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(flaky)]
    assert gaps[0] >= 0.3, gaps  # exponential: 0.3 s, then 0.6 s
    assert gaps[1] >= 0.6, gaps
    assert gaps[1] > gaps[0]
    cursor = await db.execute(
        "SELECT attempt, ok, permanent, detail FROM notification_attempts WHERE outbox_id = %s ORDER BY attempt",
        (rows["flaky"][0],),
    )
    assert await cursor.fetchall() == [(n, False, False, "HTTP 503 from flaky") for n in (1, 2, 3)]


async def test_nothing_is_sent_twice_across_a_restart_and_parallel_workers(
    db: Conn, database_url: str, home: Home, receiver: Receiver
) -> None:
    receiver.delay_s = 0.05
    settings = settings_for(
        concurrency=3,
        webhooks=[{"name": "desk", "url": receiver.url("/desk"), "secret": SECRET, "audiences": ["staff"]}],
    )
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await sync_subscriptions(conn, settings=settings)
    incident = await new_incident(db, home.resident)
    for n in range(40):
        await notify_incident(db, incident_id=incident, audience="staff", reason=f"repeat {n}")

    async def sent() -> int:
        row = await (await db.execute("SELECT count(*) FROM notification_outbox WHERE status = 'sent'")).fetchone()
        assert row is not None
        return int(row[0])

    async with AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False) as first_pool:
        first = Worker(first_pool, settings)
        await eventually(lambda: _at_least(sent, 6))
        await first.close()  # a restart: the backend stops with messages still pending
    after_stop = await sent()
    assert 6 <= after_stop < 40
    assert len(receiver.on("/desk")) == after_stop, "every delivered message was recorded as sent before exit"
    # Two backends start and share the rest.
    async with (
        AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False) as pool_a,
        AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False) as pool_b,
    ):
        workers = [Worker(pool_a, settings), Worker(pool_b, settings)]
        try:
            await eventually(lambda: _at_least(sent, 40), timeout=20)
        finally:
            for worker in workers:
                await worker.close()
    deliveries = [r.headers["X-Homecare-Delivery"] for r in receiver.on("/desk")]
    assert len(deliveries) == 40
    assert len(set(deliveries)) == 40
    cursor = await db.execute("SELECT count(*), count(DISTINCT outbox_id) FROM notification_attempts")
    assert await cursor.fetchone() == (40, 40)


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)


async def test_every_incident_change_goes_to_change_subscribers(
    db: Conn, pool: AsyncConnectionPool[Any], home: Home, receiver: Receiver
) -> None:
    settings = settings_for(
        webhooks=[{"name": "crm", "url": receiver.url("/crm"), "secret": SECRET, "audiences": ["changes"]}]
    )
    incident = await new_incident(db, home.resident)
    await db.execute(
        "INSERT INTO incident_changes (incident_id, change, snapshot) VALUES (%s, 'opened', %s)",
        (incident, Jsonb({"status": "open"})),
    )
    worker = Worker(pool, settings)
    try:
        # The relay starts at the newest change: history before it was configured is not replayed.
        await eventually(lambda: _cursor_set(db))
        for change, status in (("acknowledged", "acknowledged"), ("dispatched", "dispatched")):
            await db.execute(
                "INSERT INTO incident_changes (incident_id, change, snapshot) VALUES (%s, %s, %s)",
                (incident, change, Jsonb({"status": status})),
            )
        await eventually(lambda: _received(receiver, "/crm", 2))
    finally:
        await worker.close()
    bodies = [json.loads(r.body) for r in receiver.on("/crm")]
    # Senders work in parallel, so deliveries may arrive in either order; each carries its change.
    assert sorted((b["type"], b["change"], b["incident"]["status"]) for b in bodies) == [
        ("incident.change", "acknowledged", "acknowledged"),
        ("incident.change", "dispatched", "dispatched"),
    ]
    for request in receiver.on("/crm"):
        verify_signature(
            SECRET.encode(),
            body=request.body,
            timestamp=request.headers["X-Homecare-Timestamp"],
            signature=request.headers["X-Homecare-Signature"],
        )
    async with pool.connection() as conn:
        assert await relay_changes(conn) == 0, "nothing relayed twice"


async def _cursor_set(db: Conn) -> bool:
    row = await (await db.execute("SELECT count(*) FROM notification_cursors")).fetchone()
    return row is not None and row[0] == 1


async def _received(receiver: Receiver, path: str, n: int) -> bool:
    return len(receiver.on(path)) >= n


async def test_the_app_lifespan_runs_the_delivery_worker(
    db: Conn, database_url: str, amqtt_url: str, home: Home, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = {"name": "desk", "url": receiver.url("/desk"), "secret": SECRET, "audiences": ["supervisor"]}
    monkeypatch.setenv("HOMECARE_NOTIFY_WEBHOOKS", json.dumps([hook]))
    monkeypatch.setenv("HOMECARE_NOTIFY_POLL_INTERVAL_S", "0.05")
    app = create_app(Settings(_env_file=None, database_url=database_url))
    async with app.router.lifespan_context(app):
        await eventually(lambda: _subscribed(db))  # the worker wrote the configured subscriptions
        incident = await new_incident(db, home.resident, cause="smoke")
        await notify_incident(db, incident_id=incident, audience="supervisor", reason="unreachable")
        await eventually(lambda: _received(receiver, "/desk", 1))
    [request] = receiver.on("/desk")
    assert json.loads(request.body)["reason"] == "unreachable"
    assert [r[4] for r in await outbox(db)] == ["sent"]


async def _subscribed(db: Conn) -> bool:
    row = await (await db.execute("SELECT count(*) FROM notification_subscriptions")).fetchone()
    return row is not None and row[0] == 1


async def test_the_api_lists_messages_and_retries_a_failed_one(
    db: Conn, database_url: str, pool: AsyncConnectionPool[Any], home: Home, receiver: Receiver
) -> None:
    receiver.statuses = {"/desk": 410}
    settings = settings_for(
        webhooks=[{"name": "desk", "url": receiver.url("/desk"), "secret": SECRET, "audiences": ["staff"]}]
    )
    async with pool.connection() as conn:
        await sync_subscriptions(conn, settings=settings)
    incident = await new_incident(db, home.resident)
    await notify_incident(db, incident_id=incident, audience="staff", reason="alarm")
    worker = Worker(pool, settings)
    try:
        await eventually(lambda: all_settled(db))
    finally:
        await worker.close()

    app = FastAPI()
    app.include_router(notifications_router, prefix="/api")
    install_error_handler(app)
    app.state.runtime = Runtime(
        settings=Settings(_env_file=None, database_url=database_url, api_token=TOKEN), pool=pool
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://homecare.test") as http:
        assert (await http.get("/api/notifications", params={"incident_id": incident})).status_code == 401
        response = await http.get("/api/notifications", params={"incident_id": incident}, headers=AUTH)
        assert response.status_code == 200
        [message] = response.json()
        assert (message["audience"], message["channel"], message["recipient"], message["status"]) == (
            "staff",
            "webhook",
            "desk",
            "failed",
        )
        assert [(a["attempt"], a["ok"], a["permanent"], a["detail"]) for a in message["history"]] == [
            (1, False, True, "HTTP 410 from desk")
        ]
        receiver.statuses = {}  # the receiver is fixed
        assert (await http.post(f"/api/notifications/{message['id']}/retry", headers=AUTH)).status_code == 204
        worker = Worker(pool, settings)
        try:
            await eventually(lambda: all_settled(db))
        finally:
            await worker.close()
        [message] = (await http.get("/api/notifications", params={"incident_id": incident}, headers=AUTH)).json()
        assert (message["status"], message["attempts"], message["last_error"]) == ("sent", 2, None)
        assert [a["ok"] for a in message["history"]] == [False, True]
        again = await http.post(f"/api/notifications/{message['id']}/retry", headers=AUTH)
        assert again.status_code == 409
        assert "only a failed one" in again.json()["detail"]
        assert (await http.post("/api/notifications/999999/retry", headers=AUTH)).status_code == 404
        missing = await http.get("/api/notifications", params={"incident_id": 999_999}, headers=AUTH)
        assert missing.status_code == 404
    assert len(receiver.on("/desk")) == 2
    cursor = await db.execute("SELECT actor, resident_id, action FROM access_log ORDER BY id")
    assert await cursor.fetchall() == [
        ("service", home.resident, "notifications.list"),
        ("service", None, "notifications.retry"),
        ("service", home.resident, "notifications.list"),
    ]
