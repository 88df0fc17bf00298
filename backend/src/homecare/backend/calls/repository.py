"""SQL for calls, the home unit and contacts a call needs, and start_call commands in the device outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from homecare.backend.calls.models import Call, Contact
from homecare.backend.devices.repository import LAST_CONTACT, ONLINE
from homecare.storage.connections import Conn

_CALL = (
    "SELECT c.id, c.incident_id, c.resident_id, d.uid AS device_uid, c.started_by, "
    " u.display_name AS started_by_name, c.video, c.state, c.outcome, "
    " c.ended_by, c.end_reason, c.started_at, c.ringing_at, c.answered_at, c.ended_at, "
    " extract(epoch FROM c.ended_at - c.answered_at)::float8 AS duration_s, "
    " (c.recording IS NOT NULL AND c.recording_purged_at IS NULL) AS recorded "
    "FROM calls c JOIN devices d ON d.id = c.device_id LEFT JOIN users u ON u.username = c.started_by "
)


async def home_unit_of(conn: Conn, *, resident_id: int) -> tuple[int, str] | None:
    """(devices.id, uid) of the resident's home unit (the first enrolled, when several)."""
    row = await (
        await conn.execute(
            "SELECT id, uid FROM devices WHERE resident_id = %s AND kind = 'home_unit' AND revoked_at IS NULL "
            "ORDER BY id LIMIT 1",
            (resident_id,),
        )
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


async def home_unit_presence(conn: Conn, *, device_id: int) -> tuple[bool | None, datetime | None]:
    """Whether the home unit is online by the devices' one rule (None: never heard from) and when it last was."""
    row = await (
        await conn.execute(
            f"SELECT CASE WHEN s.device_id IS NULL THEN NULL ELSE {ONLINE} END, {LAST_CONTACT} "
            "FROM devices d LEFT JOIN device_state s ON s.device_id = d.id WHERE d.id = %s",
            (device_id,),
        )
    ).fetchone()
    return (None, None) if row is None else (row[0], row[1])


async def consent_video(conn: Conn, *, resident_id: int) -> bool:
    row = await (await conn.execute("SELECT consent_video FROM residents WHERE id = %s", (resident_id,))).fetchone()
    return bool(row and row[0])


async def contacts_of(conn: Conn, *, resident_id: int) -> list[Contact]:
    async with conn.cursor(row_factory=class_row(Contact)) as cur:
        await cur.execute(
            "SELECT id, name, relation, phone FROM resident_contacts WHERE resident_id = %s ORDER BY call_order",
            (resident_id,),
        )
        return await cur.fetchall()


async def lock_home_unit(conn: Conn, *, device_id: int) -> None:
    """Hold the home unit's row to the end of the transaction: two operators calling the same home take turns."""
    await conn.execute("SELECT 1 FROM devices WHERE id = %s FOR UPDATE", (device_id,))


async def live_call_to(conn: Conn, *, device_id: int, placed_since: datetime) -> str | None:
    """The id of a call to this home unit that may still be on: connected, or placed since ``placed_since`` and not
    yet over. (An older call still calling or ringing was left by a backend that stopped: it can no longer connect.)"""
    row = await (
        await conn.execute(
            "SELECT id FROM calls WHERE device_id = %s "
            "AND (state = 'connected' OR (state IN ('calling', 'ringing') AND started_at > %s)) "
            "ORDER BY started_at DESC LIMIT 1",
            (device_id, placed_since),
        )
    ).fetchone()
    return None if row is None else str(row[0])


async def insert_call(
    conn: Conn,
    *,
    call_id: str,
    incident_id: int,
    resident_id: int,
    device_id: int,
    started_by: str,
    video: bool,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO calls (id, incident_id, resident_id, device_id, started_by, video, started_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (call_id, incident_id, resident_id, device_id, started_by, video, now),
    )


async def get_call(conn: Conn, *, call_id: str) -> Call | None:
    async with conn.cursor(row_factory=class_row(Call)) as cur:
        await cur.execute(_CALL + "WHERE c.id = %s", (call_id,))
        return await cur.fetchone()


async def calls_of(conn: Conn, *, incident_id: int) -> list[Call]:
    async with conn.cursor(row_factory=class_row(Call)) as cur:
        await cur.execute(_CALL + "WHERE c.incident_id = %s ORDER BY c.started_at, c.id", (incident_id,))
        return await cur.fetchall()


async def mark_ringing(conn: Conn, *, call_id: str, now: datetime) -> bool:
    cursor = await conn.execute(
        "UPDATE calls SET state = 'ringing', ringing_at = %s WHERE id = %s AND state = 'calling'", (now, call_id)
    )
    return cursor.rowcount == 1


async def mark_answered(conn: Conn, *, call_id: str, now: datetime) -> bool:
    cursor = await conn.execute(
        "UPDATE calls SET state = 'connected', answered_at = %s, ringing_at = coalesce(ringing_at, %s) "
        "WHERE id = %s AND state IN ('calling', 'ringing')",
        (now, now, call_id),
    )
    return cursor.rowcount == 1


async def end_call(conn: Conn, *, call_id: str, outcome: str, ended_by: str, reason: str | None, now: datetime) -> bool:
    """End the call once; False when it had already ended (the first ending is the one on record)."""
    cursor = await conn.execute(
        "UPDATE calls SET state = 'ended', outcome = %s, ended_by = %s, end_reason = %s, ended_at = %s "
        "WHERE id = %s AND state <> 'ended'",
        (outcome, ended_by, reason, now, call_id),
    )
    return cursor.rowcount == 1


async def set_recording(conn: Conn, *, call_id: str, directory: str) -> None:
    await conn.execute("UPDATE calls SET recording = %s WHERE id = %s", (directory, call_id))


async def recording_of(conn: Conn, *, call_id: str) -> str | None:
    row = await (
        await conn.execute("SELECT recording FROM calls WHERE id = %s AND recording_purged_at IS NULL", (call_id,))
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


async def recordings_ended_before(conn: Conn, *, before: datetime) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, recording FROM calls WHERE recording IS NOT NULL AND recording_purged_at IS "
            "NULL AND ended_at < %s ORDER BY ended_at LIMIT 500",
            (before,),
        )
        return await cur.fetchall()


async def mark_purged(conn: Conn, *, call_id: str, now: datetime) -> None:
    await conn.execute("UPDATE calls SET recording_purged_at = %s WHERE id = %s", (now, call_id))


async def queue_command(conn: Conn, *, device_id: int, incident_id: int, body: dict[str, Any]) -> int:
    """Put a command in the device outbox (the alarm pipeline publishes it after commit); its id is the cmd_id."""
    row = await (
        await conn.execute(
            "INSERT INTO device_commands (device_id, incident_id, body) VALUES (%s, %s, %s) RETURNING id",
            (device_id, incident_id, Jsonb(body)),
        )
    ).fetchone()
    assert row is not None
    return int(row[0])
