"""SQL for devices (minimal for now; the devices domain grows it)."""

from __future__ import annotations

import hashlib

from psycopg.rows import scalar_row

from homecare.backend.db.connections import Conn
from homecare.contracts.messages import DeviceKind


async def device_ids_for_resident(conn: Conn, *, resident_id: int) -> list[int]:
    """Ids of the devices assigned to the resident, revoked ones included (their data is still theirs)."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute("SELECT id FROM devices WHERE resident_id = %s ORDER BY id", (resident_id,))
        return [int(device_id) for device_id in await cur.fetchall()]


def hash_secret(secret: str) -> str:
    """Device secrets are long random tokens, not passwords people choose: a plain SHA-256 cannot be
    brute-forced and keeps broker authentication cheap for thousands of devices."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


async def enrol_device(
    conn: Conn, *, uid: str, kind: DeviceKind, resident_id: int | None, secret: str | None
) -> int:
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
