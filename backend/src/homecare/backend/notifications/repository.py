"""SQL of the notification outbox, its attempts, the subscriptions and the change-relay cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from homecare.backend.notifications.messages import IncidentSnapshot
from homecare.storage.connections import Conn

CHANGES_CURSOR = "incident_changes"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """An outbox row to insert: about an incident, or about a medication dose nobody confirmed."""

    incident_id: int | None
    audience: str
    channel: str
    recipient: str
    reason: str
    subject: str
    body: str
    payload: dict[str, Any]
    dose_id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A row of ``notification_outbox``."""

    id: int
    incident_id: int | None
    audience: str
    channel: str
    recipient: str
    reason: str
    subject: str
    body: str
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """A row of ``notification_attempts``."""

    outbox_id: int
    attempt: int
    started_at: datetime
    finished_at: datetime
    ok: bool
    permanent: bool
    detail: str | None


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A row of ``incident_changes``."""

    id: int
    incident_id: int
    at: datetime
    change: str
    snapshot: dict[str, Any]


_OUTBOX_COLUMNS = (
    "id, incident_id, audience, channel, recipient, reason, subject, body, payload, status, attempts, "
    "created_at, next_attempt_at, sent_at, failed_at, last_error"
)


async def incident_snapshot(conn: Conn, *, incident_id: int) -> IncidentSnapshot | None:
    """The incident with its resident's name and zone and its station, or None."""
    async with conn.cursor(row_factory=class_row(IncidentSnapshot)) as cur:
        await cur.execute(
            """
            SELECT i.id AS incident_id, i.resident_id, r.display_name AS resident_name,
                   r.timezone AS resident_timezone, i.cause, i.priority, i.status, i.explanation_en,
                   i.explanation_zh, i.opened_at, i.alarm_at, i.acknowledged_at, i.acknowledged_by,
                   s.name AS station_name, s.phone AS station_phone, i.outcome
            FROM incidents i
            JOIN residents r ON r.id = i.resident_id
            LEFT JOIN stations s ON s.id = coalesce(i.station_id, r.station_id)
            WHERE i.id = %s
            """,
            (incident_id,),
        )
        return await cur.fetchone()


async def family_emails(conn: Conn, *, resident_id: int) -> list[str]:
    """E-mail addresses of the resident's contacts who want alarm messages, in call order, each once."""
    cursor = await conn.execute(
        """
        SELECT email FROM (
            SELECT DISTINCT ON (lower(btrim(email))) btrim(email) AS email, call_order
            FROM resident_contacts
            WHERE resident_id = %s AND notify AND email IS NOT NULL AND btrim(email) <> ''
            ORDER BY lower(btrim(email)), call_order
        ) c ORDER BY call_order
        """,
        (resident_id,),
    )
    return [str(row[0]) for row in await cursor.fetchall()]


async def subscribers(conn: Conn, *, audience: str) -> list[tuple[str, str]]:
    """(channel, address) of everyone subscribed to an audience."""
    cursor = await conn.execute(
        "SELECT channel, address FROM notification_subscriptions WHERE audience = %s ORDER BY id", (audience,)
    )
    return [(str(channel), str(address)) for channel, address in await cursor.fetchall()]


async def replace_config_subscriptions(conn: Conn, *, rows: Sequence[tuple[str, str, str]]) -> None:
    """Make the configured (audience, channel, address) rows exactly these; other sources stay."""
    # Two backends starting together must not interleave their delete and insert.
    await conn.execute("LOCK TABLE notification_subscriptions IN SHARE ROW EXCLUSIVE MODE")
    await conn.execute("DELETE FROM notification_subscriptions WHERE source = 'config'")
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO notification_subscriptions (audience, channel, address, source) "
            "VALUES (%s, %s, %s, 'config') ON CONFLICT (audience, channel, address) DO NOTHING",
            list(rows),
        )


async def enqueue(conn: Conn, *, messages: Sequence[NewMessage]) -> None:
    """Insert outbox rows, due at once."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO notification_outbox "
            "(incident_id, dose_id, audience, channel, recipient, reason, subject, body, payload) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    m.incident_id,
                    m.dose_id,
                    m.audience,
                    m.channel,
                    m.recipient,
                    m.reason,
                    m.subject,
                    m.body,
                    Jsonb(m.payload),
                )
                for m in messages
            ],
        )


async def claim_due(conn: Conn) -> OutboxRow | None:
    """Lock the oldest due pending row nobody else holds, in the caller's transaction; None when none is due."""
    async with conn.cursor(row_factory=class_row(OutboxRow)) as cur:
        await cur.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM notification_outbox "
            "WHERE status = 'pending' AND next_attempt_at <= clock_timestamp() "
            "ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        return await cur.fetchone()


async def next_due(conn: Conn) -> float | None:
    """Seconds until the next pending row is due (0 if one is due now), or None when nothing is pending."""
    cursor = await conn.execute(
        "SELECT greatest(extract(epoch FROM min(next_attempt_at) - clock_timestamp()), 0)::float8 "
        "FROM notification_outbox WHERE status = 'pending'"
    )
    row = await cursor.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def record_attempt(
    conn: Conn,
    *,
    outbox_id: int,
    attempt: int,
    started_at: datetime,
    ok: bool,
    permanent: bool,
    detail: str,
    retry_in_s: float | None,
) -> None:
    """Store one attempt and the row's new state: sent, failed (no retry), or pending again after a delay."""
    await conn.execute(
        "INSERT INTO notification_attempts (outbox_id, attempt, started_at, finished_at, ok, permanent, detail) "
        "VALUES (%s, %s, %s, clock_timestamp(), %s, %s, %s)",
        (outbox_id, attempt, started_at, ok, permanent, detail[:2000]),
    )
    if ok:
        await conn.execute(
            "UPDATE notification_outbox SET status = 'sent', attempts = %s, sent_at = clock_timestamp(), "
            "last_error = NULL WHERE id = %s",
            (attempt, outbox_id),
        )
    elif retry_in_s is None:
        await conn.execute(
            "UPDATE notification_outbox SET status = 'failed', attempts = %s, failed_at = clock_timestamp(), "
            "last_error = %s WHERE id = %s",
            (attempt, detail[:2000], outbox_id),
        )
    else:
        await conn.execute(
            "UPDATE notification_outbox SET attempts = %s, last_error = %s, "
            "next_attempt_at = clock_timestamp() + make_interval(secs => %s) WHERE id = %s",
            (attempt, detail[:2000], retry_in_s, outbox_id),
        )


async def requeue_failed(conn: Conn, *, outbox_id: int) -> str | None:
    """Make a failed row due again (one more attempt); the row's status before, or None if there is no row."""
    cursor = await conn.execute("SELECT status FROM notification_outbox WHERE id = %s FOR UPDATE", (outbox_id,))
    row = await cursor.fetchone()
    if row is None:
        return None
    if row[0] == "failed":
        await conn.execute(
            "UPDATE notification_outbox SET status = 'pending', next_attempt_at = clock_timestamp(), failed_at = NULL "
            "WHERE id = %s",
            (outbox_id,),
        )
    return str(row[0])


async def outbox_for_incident(conn: Conn, *, incident_id: int) -> list[OutboxRow]:
    async with conn.cursor(row_factory=class_row(OutboxRow)) as cur:
        await cur.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM notification_outbox WHERE incident_id = %s ORDER BY id",
            (incident_id,),
        )
        return await cur.fetchall()


async def attempts_for(conn: Conn, *, outbox_ids: list[int]) -> list[AttemptRow]:
    async with conn.cursor(row_factory=class_row(AttemptRow)) as cur:
        await cur.execute(
            "SELECT outbox_id, attempt, started_at, finished_at, ok, permanent, detail "
            "FROM notification_attempts WHERE outbox_id = ANY(%s) ORDER BY outbox_id, attempt",
            (outbox_ids,),
        )
        return await cur.fetchall()


async def lock_changes_cursor(conn: Conn) -> int:
    """The relay's position, locked for the caller's transaction; starts at the newest change (no backlog)."""
    await conn.execute(
        "INSERT INTO notification_cursors (name, last_id) "
        "SELECT %s, coalesce(max(id), 0) FROM incident_changes ON CONFLICT (name) DO NOTHING",
        (CHANGES_CURSOR,),
    )
    cursor = await conn.execute(
        "SELECT last_id FROM notification_cursors WHERE name = %s FOR UPDATE", (CHANGES_CURSOR,)
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def changes_after(conn: Conn, *, after_id: int, limit: int) -> list[ChangeRow]:
    async with conn.cursor(row_factory=class_row(ChangeRow)) as cur:
        await cur.execute(
            "SELECT id, incident_id, at, change, snapshot FROM incident_changes WHERE id > %s ORDER BY id LIMIT %s",
            (after_id, limit),
        )
        return await cur.fetchall()


async def move_changes_cursor(conn: Conn, *, last_id: int) -> None:
    await conn.execute("UPDATE notification_cursors SET last_id = %s WHERE name = %s", (last_id, CHANGES_CURSOR))
