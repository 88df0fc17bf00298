"""SQL for devices: enrolment, a resident's devices, their last known state and the commands queued to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from homecare.backend.devices.models import MISSED_HEARTBEATS, DeviceStatus
from homecare.contracts.messages import DeviceKind
from homecare.storage.connections import Conn
from homecare.storage.device_secrets import hash_secret

# The one rule for "online", on every page and report, as SQL over ``devices d LEFT JOIN device_state s``: heard
# from (a message, a heartbeat, or the connection coming up) within MISSED_HEARTBEATS of its intervals, and the
# connection's last word was not "gone" after that.
LAST_CONTACT: Final = "GREATEST(s.last_seen_at, s.last_heartbeat_at)"


def online_sql(now: str = "now()") -> str:
    """The rule as a boolean SQL expression; ``now`` is the SQL for the present (a placeholder where the caller
    keeps its own clock)."""
    return (
        f"coalesce(GREATEST({LAST_CONTACT}, CASE WHEN s.online THEN s.online_changed_at END) "
        f">= {now} - make_interval(secs => {MISSED_HEARTBEATS} * d.heartbeat_interval_s) "
        f"AND NOT (s.online IS FALSE AND s.online_changed_at > {LAST_CONTACT}), false)"
    )


ONLINE: Final = online_sql()


async def device_ids_for_resident(conn: Conn, *, resident_id: int) -> list[int]:
    """Ids of the devices assigned to the resident, revoked ones included (their data is still theirs)."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute("SELECT id FROM devices WHERE resident_id = %s ORDER BY id", (resident_id,))
        return [int(device_id) for device_id in await cur.fetchall()]


async def enrol_device(conn: Conn, *, uid: str, kind: DeviceKind, resident_id: int | None, secret: str | None) -> int:
    """Enrol a device (or update the one with this uid, un-revoking it); returns its id."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "INSERT INTO devices (uid, kind, resident_id, secret_hash) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (uid) DO UPDATE SET kind = excluded.kind, resident_id = excluded.resident_id, "
            "secret_hash = excluded.secret_hash, revoked_at = NULL RETURNING id",
            (uid, kind.value, resident_id, None if secret is None else hash_secret(secret)),
        )
        device_id = await cur.fetchone()
    assert device_id is not None
    return int(device_id)


async def device_status(
    conn: Conn, *, resident_id: int, include_revoked: bool = False, now: datetime | None = None
) -> list[DeviceStatus]:
    """The resident's devices with connection and battery from ``device_state`` (never heard from: offline), online
    or not at ``now`` (the database's clock when None)."""
    online = online_sql("coalesce(%(now)s::timestamptz, now())")
    async with conn.cursor(row_factory=class_row(DeviceStatus)) as cur:
        await cur.execute(
            f"SELECT d.id, d.uid, d.kind, {online} AS online, {LAST_CONTACT} AS last_seen_at, s.battery, s.charging, "
            "       s.rssi, s.firmware, d.heartbeat_interval_s, d.revoked_at IS NOT NULL AS revoked "
            "FROM devices d LEFT JOIN device_state s ON s.device_id = d.id "
            "WHERE d.resident_id = %(resident)s AND (%(revoked)s OR d.revoked_at IS NULL) ORDER BY d.kind, d.id",
            {"resident": resident_id, "revoked": include_revoked, "now": now},
        )
        return await cur.fetchall()


async def queue_resident_command(
    conn: Conn, *, resident_id: int, incident_id: int | None, body: dict[str, Any], kind: str = "home_unit"
) -> int:
    """Queue a command to each of the resident's devices of this kind (sent after commit); how many were queued."""
    cursor = await conn.execute(
        "INSERT INTO device_commands (device_id, incident_id, body) "
        "SELECT id, %s, %s FROM devices WHERE resident_id = %s AND kind = %s AND revoked_at IS NULL",
        (incident_id, Jsonb(body), resident_id, kind),
    )
    return max(cursor.rowcount, 0)
