"""SQL for devices: enrolment, a resident's devices and their last known state."""

from __future__ import annotations

from psycopg.rows import class_row, scalar_row

from homecare.backend.devices.models import DeviceStatus
from homecare.contracts.messages import DeviceKind
from homecare.storage.connections import Conn
from homecare.storage.device_secrets import hash_secret


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


async def device_status(conn: Conn, *, resident_id: int, include_revoked: bool = False) -> list[DeviceStatus]:
    """The resident's devices with connection and battery from ``device_state`` (never heard from: offline)."""
    async with conn.cursor(row_factory=class_row(DeviceStatus)) as cur:
        await cur.execute(
            "SELECT d.id, d.uid, d.kind, coalesce(s.online, false) AS online, s.last_seen_at, s.battery, s.charging, "
            "       s.rssi, s.firmware, d.heartbeat_interval_s, d.revoked_at IS NOT NULL AS revoked "
            "FROM devices d LEFT JOIN device_state s ON s.device_id = d.id "
            "WHERE d.resident_id = %s AND (%s OR d.revoked_at IS NULL) ORDER BY d.kind, d.id",
            (resident_id, include_revoked),
        )
        return await cur.fetchall()
