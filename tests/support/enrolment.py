"""Enrolling residents and devices the way an administrator would, and settings for test processes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg

from homecare.gateway.settings import GatewaySettings
from homecare.storage.device_secrets import hash_secret


def gateway_settings(database_url: str, broker_url: str, **overrides: object) -> GatewaySettings:
    return GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        mqtt_url=broker_url,
        **{"gateway_client_id": f"gw-test-{uuid.uuid4().hex[:8]}", "telemetry_flush_ms": 50, **overrides},
    )


@dataclass(frozen=True)
class Household:
    resident_id: int
    devices: dict[str, int]  # uid → devices.id


GOLDEN_DEVICES = {
    "wr-golden-01": "wristband",
    "sos-golden-01": "sos_pendant",
    "fs-golden-01": "fall_sensor",
    "door-golden-01": "door_sensor",
    "bed-golden-01": "bed_sensor",
    "hu-golden-01": "home_unit",
    "bp-golden-01": "blood_pressure_monitor",
    "gl-golden-01": "glucose_meter",
    "gps-golden-01": "gps_watch",
}


async def enrol(
    database_url: str, devices: Mapping[str, str], name: str = "Wang Xiuying", secrets: Mapping[str, str] | None = None
) -> Household:
    """A resident with these devices (uid → kind), as an administrator would enrol them, with the given devices'
    secrets (uid → secret: they sign in to the embedded broker with it)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        row = await (
            await conn.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (name,))
        ).fetchone()
        assert row is not None
        ids = {}
        for uid, kind in devices.items():
            device = await (
                await conn.execute(
                    "INSERT INTO devices (uid, kind, resident_id, secret_hash) VALUES (%s, %s, %s, %s) RETURNING id",
                    (uid, kind, row[0], hash_secret(secrets[uid]) if secrets and uid in secrets else None),
                )
            ).fetchone()
            assert device is not None
            ids[uid] = device[0]
    return Household(row[0], ids)
