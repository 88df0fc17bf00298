"""Device commands out: the gateway publishes the database's ``device_commands`` outbox (help is coming, calls).

The backend only inserts rows; the gateway that owns the MQTT connection sends them. A row is claimed with
``FOR UPDATE SKIP LOCKED``, so several alarm gateways never send the same command twice at once, and it is
marked sent only once the broker has it; ``cmd_id`` is the outbox id, so a re-send after a crash is dropped
by the device.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

import psycopg
from psycopg.rows import dict_row

from homecare.contracts.codec import encode
from homecare.contracts.messages import Command
from homecare.contracts.topics import Channel, topic

log = logging.getLogger(__name__)

NOTIFY_CHANNEL: Final = "homecare_device_commands"
BATCH: Final = 100
POLL_S: Final = 1.0  # also sends what a missed notification left behind

Publish = Callable[[str, bytes], bool]
"""Publish at QoS 1; True once the broker has the message."""


def send_pending(conn: psycopg.Connection[dict[str, object]], publish: Publish) -> int:
    """Send up to one batch of unsent commands; stops at the first the broker does not take."""
    sent = 0
    with conn.transaction():
        rows = conn.execute(
            "SELECT c.id, c.body, d.uid FROM device_commands c JOIN devices d ON d.id = c.device_id "
            "WHERE c.sent_at IS NULL ORDER BY c.id LIMIT %s FOR UPDATE OF c SKIP LOCKED",
            (BATCH,),
        ).fetchall()
        for row in rows:
            # The body is any downlink command (help_coming, start_call): its "kind" picks the model.
            command = Command.model_validate({"cmd_id": row["id"], "ts": int(time.time() * 1000), "body": row["body"]})
            if not publish(topic(str(row["uid"]), Channel.CMD), encode(command)):
                break
            conn.execute("UPDATE device_commands SET sent_at = now() WHERE id = %s", (row["id"],))
            sent += 1
    return sent


class CommandSender:
    """A thread that sends the outbox when woken by NOTIFY, and every ``POLL_S``; reconnects on its own."""

    def __init__(self, dsn: str, publish: Publish) -> None:
        self._dsn = dsn
        self._publish = publish
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="command-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, row_factory=dict_row) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        if send_pending(conn, self._publish) == BATCH:
                            continue
                        for _ in conn.notifies(timeout=POLL_S, stop_after=1):
                            pass
            except psycopg.OperationalError as err:
                log.warning("command sender lost its database connection (%s); retrying", err)
                self._stop.wait(1.0)
