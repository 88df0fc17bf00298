"""The in-process amqtt broker for a single-machine deployment (use Mosquitto or EMQX under load)."""

from __future__ import annotations

import asyncio
import enum
import hmac
import logging
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import psycopg
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import Session
from amqtt.utils import format_client_message, gen_client_id

from homecare.contracts.codec import printable
from homecare.contracts.topics import Channel, topic
from homecare.gateway.settings import GatewaySettings
from homecare.storage.device_secrets import hash_secret

log = logging.getLogger(__name__)

DATABASE_TIMEOUT_S: Final = 3
# Refused publishes written to the dead letters per user and minute; a flood beyond that is only logged.
REFUSALS_RECORDED_PER_MINUTE: Final = 30


class Refusal(enum.IntEnum):
    """The MQTT 3.1.1 CONNACK return codes this broker refuses with."""

    SERVER_UNAVAILABLE = 3
    BAD_USER_NAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


_RENEWED_ON_CONNECT: Final = (
    "will_flag",
    "will_retain",
    "will_message",
    "will_topic",
    "will_qos",
    "keep_alive",
    "username",
    "password",
)


@dataclass(frozen=True, slots=True)
class Accounts:
    """Who may connect: the platform's service account (the gateways) and the enrolled devices.

    The service account is the one in HOMECARE_MQTT_URL, whose password ``homecare run`` makes per
    installation; devices give their id and the secret issued at enrolment, checked against the
    ``devices`` table on every CONNECT, so enrolment, re-issue and revocation apply at once.
    """

    service_user: str
    service_password: str
    dsn: str | None  # None: only the service account can connect

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> Accounts:
        url = urlsplit(settings.mqtt_url)
        if not url.username or not url.password:
            raise SystemExit(
                "the embedded broker needs HOMECARE_MQTT_URL with the platform's user name and password "
                "(mqtt://user:password@host:port; homecare run makes them)"
            )
        return cls(unquote(url.username), unquote(url.password), settings.database_url)


def may(session: Session, service_user: str, topic_name: str, action: Action) -> bool:
    """The topic ACL of deploy/mosquitto: a device publishes anywhere under its own id in any version's tree
    (the gateways dead-letter what they do not serve) except on its own command topic, and reads only its own
    command topic; the service account is the platform and uses every topic."""
    user = session.username
    if user == service_user:
        return True
    if action is Action.PUBLISH:
        levels = topic_name.split("/")
        return (
            len(levels) == 5
            and levels[0] == "homecare"
            and levels[2] == "dev"
            and levels[3] == user
            and "+" not in topic_name
            and "#" not in topic_name
            and topic_name != topic(user, Channel.CMD)  # it would come straight back to the device as a command
        )
    return topic_name == topic(user, Channel.CMD)


class _SnapshotDict(dict[str, Any]):
    """A dict whose iteration walks a copy, so code that awaits inside the loop survives changes."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return list(super().items())


class HomecareBroker(Broker):  # type: ignore[misc]  # amqtt ships no type information
    """amqtt 0.12 with device authentication and the production topic ACL, and three of its bugs worked
    around, seen with a few hundred devices and with hostile clients:

    - amqtt authenticates a client only after it has let the CONNECT delete or take over the session of
      the same client id; here the CONNECT is checked first, and a device's client id is its user name
      (as Mosquitto's ``use_username_as_clientid``), so no client can disconnect another or take its
      queued commands;
    - while a client connects, the broker loops over *all* subscriptions, awaiting inside the loop,
      and sends the client retained messages for every one of them — other devices' presence
      included — and the loop dies with "dictionary changed size during iteration" when another
      client subscribes meanwhile (the same can happen in the broadcast loop);
    - so: iteration walks a snapshot, and retained messages go only to sessions subscribed to the
      filter in question.
    """

    def __init__(self, config: dict[str, object], accounts: Accounts) -> None:
        super().__init__(config)
        existing: dict[str, Any] = self._subscriptions  # type: ignore[has-type]  # set by amqtt
        self._subscriptions = _SnapshotDict(existing)
        self._accounts = accounts
        self._database: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._database_lock = asyncio.Lock()
        self._refusals: dict[str, int] = {}  # user → publishes refused in the current minute
        self._refusals_minute = 0

    async def shutdown(self) -> None:
        await super().shutdown()
        if self._database is not None:
            await self._database.close()

    async def _execute(self, query: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        """Run one statement on the broker's own connection (opened when first needed, again after a failure)
        and return its first row; psycopg.Error or TimeoutError when the database cannot answer."""
        assert self._accounts.dsn is not None
        async with self._database_lock:
            try:
                if self._database is None or self._database.closed:
                    self._database = await psycopg.AsyncConnection.connect(
                        self._accounts.dsn, autocommit=True, connect_timeout=DATABASE_TIMEOUT_S
                    )
                async with asyncio.timeout(DATABASE_TIMEOUT_S):
                    cursor = await self._database.execute(query, params)
                    return await cursor.fetchone() if cursor.description else None
            except (psycopg.Error, TimeoutError):
                if self._database is not None:
                    await self._database.close()  # the next statement opens a new one
                raise

    # --- CONNECT: who may connect, checked before the session table is touched ---------------------

    async def _refusal(self, session: Session) -> Refusal | None:
        """The CONNACK code refusing this CONNECT, or None to accept it."""
        user, password = session.username, session.password or ""
        if not user:
            return Refusal.NOT_AUTHORIZED
        if user == self._accounts.service_user:
            known = hmac.compare_digest(password.encode(), self._accounts.service_password.encode())
            return None if known else Refusal.BAD_USER_NAME_OR_PASSWORD
        try:
            secret_hash = await self._device_secret_hash(user)
        except (psycopg.Error, TimeoutError) as err:
            log.warning("device %s not checked, the database is unavailable: %s", user, err)
            return Refusal.SERVER_UNAVAILABLE  # the device retries; a refusal it might take as final
        if secret_hash is None or not hmac.compare_digest(secret_hash.encode(), hash_secret(password).encode()):
            return Refusal.BAD_USER_NAME_OR_PASSWORD
        session.client_id = user  # one session per device, whatever client id it sent
        if session.will_flag and not may(
            session, self._accounts.service_user, session.will_topic or "", Action.PUBLISH
        ):
            return Refusal.NOT_AUTHORIZED  # a last will is a publish too
        return None

    async def _device_secret_hash(self, uid: str) -> str | None:
        """The enrolled, unrevoked device's secret hash, or None; psycopg.Error or TimeoutError if the database
        cannot say."""
        if self._accounts.dsn is None:
            return None
        row = await self._execute("SELECT secret_hash FROM devices WHERE uid = %s AND revoked_at IS NULL", (uid,))
        return None if row is None or row[0] is None else str(row[0])

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        # amqtt's own method, with the account check between reading the CONNECT and using its client id.
        try:
            handler, client_session = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except MQTTError:
            await writer.close()
            raise
        except NoDataError as exc:
            raise AMQTTError(exc) from exc
        refusal = await self._refusal(client_session)
        if refusal is not None:
            log.warning(
                "refused %s (user %r): %s",
                format_client_message(address=remote_address, port=remote_port),
                client_session.username,
                refusal.name,
            )
            await ConnackPacket.build(0, refusal.value).to_stream(writer)
            await writer.close()
            raise MQTTError(f"connection refused: {refusal.name}")
        if client_session.clean_session:
            if client_session.client_id:
                await self._delete_session(client_session.client_id)
            else:
                client_session.client_id = gen_client_id()
            client_session.parent = 0
        elif client_session.client_id in self._sessions:
            # The resumed session takes what this CONNECT brought: its will, keep-alive and credentials.
            existing, _ = self._sessions[client_session.client_id]
            for attribute in _RENEWED_ON_CONNECT:
                setattr(existing, attribute, getattr(client_session, attribute))
            client_session = existing
            client_session.parent = 1
        else:
            client_session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if client_session.keep_alive > 0 and isinstance(delay, int):
            client_session.keep_alive += delay
        return handler, client_session

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        return True  # checked when the CONNECT was read (see _refusal)

    # --- topics: the production ACL ------------------------------------------------------------------

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        allowed = may(session, self._accounts.service_user, topic, action)
        if not allowed and action is Action.SUBSCRIBE:
            log.warning("refused: %s may not subscribe to %s", session.username, printable(topic)[:200])
        return allowed

    async def _handle_message_delivery(
        self, client_session: Session, handler: BrokerProtocolHandler, wait_deliver: asyncio.Future[Any]
    ) -> bool:
        # amqtt drops a refused publish in here (see _topic_filtering); it is recorded first.
        message = wait_deliver.result()
        user = self._accounts.service_user
        if message is not None and message.topic and not may(client_session, user, message.topic, Action.PUBLISH):
            await self._record_refused_publish(client_session.username, message.topic, bytes(message.data))
        return bool(await super()._handle_message_delivery(client_session, handler, wait_deliver))

    async def _record_refused_publish(self, user: str, topic_name: str, payload: bytes) -> None:
        """A publish the ACL refuses (under another device's id, on the device's own command topic) goes to the
        dead letters beside what the gateways refuse, where the operator sees it; a flood only to the log."""
        minute = int(time.monotonic() // 60)
        if minute != self._refusals_minute:
            self._refusals_minute, self._refusals = minute, {}
        count = self._refusals[user] = self._refusals.get(user, 0) + 1
        if count > REFUSALS_RECORDED_PER_MINUTE:
            if count == REFUSALS_RECORDED_PER_MINUTE + 1:
                log.warning("refused: %s keeps publishing where it may not; not recording more this minute", user)
            return
        shown = printable(topic_name)[:200]
        log.warning("refused: %s may not publish on %s", user, shown)
        if self._accounts.dsn is None:
            return
        reason = "refused: the broker lets a device publish only under its own id, and never on its own cmd topic"
        try:
            await self._execute(
                "INSERT INTO dead_letters (topic, device_uid, reason, payload) VALUES (%s, %s, %s, %s)",
                (shown, printable(user)[:64], reason, payload),
            )
        except (psycopg.Error, TimeoutError) as err:
            log.warning("refused publish of %s not recorded, the database is unavailable: %s", user, err)

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        subscribers = self._subscriptions.get(subscription[0], [])
        if any(subscriber.client_id == session.client_id for subscriber, _ in subscribers):
            await super()._publish_retained_messages_for_subscription(subscription, session)


def broker_config(host: str, port: int) -> dict[str, object]:
    """amqtt configuration: one TCP listener, no $SYS chatter or packet logging; accounts and topics are
    checked by HomecareBroker itself."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "plugins": {},
    }


async def serve_broker(host: str, port: int, accounts: Accounts, stop: asyncio.Event) -> None:
    """Run the broker until `stop` is set."""
    broker = HomecareBroker(broker_config(host, port), accounts)
    await broker.start()
    log.info("amqtt broker listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


def run(host: str, port: int) -> None:
    """Run the broker until SIGINT or SIGTERM, with the accounts of this installation (``homecare broker``)."""
    accounts = Accounts.from_settings(GatewaySettings())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve_broker(host, port, accounts, stop)

    asyncio.run(main())
