"""SQL for clinic clients, their tokens and residents' consents, and the rows the FHIR resources are made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row, scalar_row

from homecare.backend.fhir.models import CallingClinic, Clinic, ClinicConsent, Period
from homecare.backend.incidents.models import ALARMS
from homecare.contracts.messages import Metric
from homecare.storage.connections import Conn

_CLINIC = "SELECT id, name, client_id, created_at, created_by, disabled_at FROM clinic_clients"
_CONSENT = """
    SELECT c.resident_id, c.clinic_id, k.name AS clinic_name, c.recorded_at, c.recorded_by, c.revoked_at, c.revoked_by
    FROM clinic_consents c JOIN clinic_clients k ON k.id = c.clinic_id
"""


@dataclass(frozen=True, slots=True)
class PatientRow:
    resident_id: int
    external_ref: str | None
    display_name: str
    sex: str | None
    birth_year: int | None
    phone: str | None
    address: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ObservationRow:
    """One hour of one metric of one resident, from the hourly rollup (``device_id`` and ``readings`` None), or
    one health check from raw telemetry: the device, when it was taken, and its values by metric code."""

    resident_id: int
    metric: int
    at: datetime
    n: int
    total: float
    device_id: int | None
    readings: dict[str, float] | None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: int
    uid: str
    kind: str
    resident_id: int
    enrolled_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlarmRow:
    incident_id: int
    resident_id: int
    cause: str
    explanation: str
    since: datetime
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ClinicSecret:
    id: int
    secret_hash: str
    disabled: bool


async def insert_clinic(conn: Conn, *, name: str, client_id: str, secret_hash: str, created_by: str) -> Clinic:
    async with conn.cursor(row_factory=class_row(Clinic)) as cur:
        await cur.execute(
            "INSERT INTO clinic_clients (name, client_id, secret_hash, created_by) VALUES (%s, %s, %s, %s) "
            "RETURNING id, name, client_id, created_at, created_by, disabled_at",
            (name, client_id, secret_hash, created_by),
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def list_clinics(conn: Conn) -> list[Clinic]:
    async with conn.cursor(row_factory=class_row(Clinic)) as cur:
        await cur.execute(f"{_CLINIC} ORDER BY id")
        return await cur.fetchall()


async def disable_clinic(conn: Conn, *, clinic_id: int, now: datetime) -> Clinic | None:
    """Disable the clinic (kept as it was when already disabled) and delete its tokens."""
    await conn.execute("DELETE FROM clinic_tokens WHERE clinic_id = %s", (clinic_id,))
    async with conn.cursor(row_factory=class_row(Clinic)) as cur:
        await cur.execute(
            "UPDATE clinic_clients SET disabled_at = coalesce(disabled_at, %s) WHERE id = %s "
            "RETURNING id, name, client_id, created_at, created_by, disabled_at",
            (now, clinic_id),
        )
        return await cur.fetchone()


async def clinic_secret(conn: Conn, *, client_id: str) -> ClinicSecret | None:
    async with conn.cursor(row_factory=class_row(ClinicSecret)) as cur:
        await cur.execute(
            "SELECT id, secret_hash, disabled_at IS NOT NULL AS disabled FROM clinic_clients WHERE client_id = %s",
            (client_id,),
        )
        return await cur.fetchone()


async def insert_token(conn: Conn, *, token_hash: bytes, clinic_id: int, now: datetime, expires_at: datetime) -> None:
    """Keep a new token's hash, and forget the clinic's tokens that have expired."""
    await conn.execute("DELETE FROM clinic_tokens WHERE clinic_id = %s AND expires_at <= %s", (clinic_id, now))
    await conn.execute(
        "INSERT INTO clinic_tokens (token_hash, clinic_id, issued_at, expires_at) VALUES (%s, %s, %s, %s)",
        (token_hash, clinic_id, now, expires_at),
    )


async def token_clinic(conn: Conn, *, token_hash: bytes, now: datetime) -> CallingClinic | None:
    """The enabled clinic a live token was issued to."""
    async with conn.cursor(row_factory=class_row(CallingClinic)) as cur:
        await cur.execute(
            "SELECT k.id, k.client_id, k.name FROM clinic_tokens t JOIN clinic_clients k ON k.id = t.clinic_id "
            "WHERE t.token_hash = %s AND t.expires_at > %s AND k.disabled_at IS NULL",
            (token_hash, now),
        )
        return await cur.fetchone()


async def upsert_consent(
    conn: Conn, *, resident_id: int, clinic_id: int, recorded_by: str, now: datetime
) -> ClinicConsent:
    await conn.execute(
        "INSERT INTO clinic_consents (resident_id, clinic_id, recorded_at, recorded_by) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (resident_id, clinic_id) DO UPDATE SET recorded_at = excluded.recorded_at, "
        "recorded_by = excluded.recorded_by, revoked_at = NULL, revoked_by = NULL",
        (resident_id, clinic_id, now, recorded_by),
    )
    found = await consents(conn, resident_id=resident_id, clinic_id=clinic_id)
    return found[0]


async def revoke_consent(
    conn: Conn, *, resident_id: int, clinic_id: int, revoked_by: str, now: datetime
) -> ClinicConsent | None:
    """Revoke the consent (kept as it was when already revoked); None when none was ever recorded."""
    await conn.execute(
        "UPDATE clinic_consents SET revoked_at = %s, revoked_by = %s "
        "WHERE resident_id = %s AND clinic_id = %s AND revoked_at IS NULL",
        (now, revoked_by, resident_id, clinic_id),
    )
    found = await consents(conn, resident_id=resident_id, clinic_id=clinic_id)
    return found[0] if found else None


async def consents(conn: Conn, *, resident_id: int, clinic_id: int | None = None) -> list[ClinicConsent]:
    async with conn.cursor(row_factory=class_row(ClinicConsent)) as cur:
        await cur.execute(
            f"{_CONSENT} WHERE c.resident_id = %s AND (%s::int IS NULL OR c.clinic_id = %s) ORDER BY c.clinic_id",
            (resident_id, clinic_id, clinic_id),
        )
        return await cur.fetchall()


async def consenting_residents(conn: Conn, *, clinic_id: int, resident_ids: list[int] | None = None) -> list[int]:
    """The residents (of ``resident_ids`` when given) whose consent to share with the clinic stands."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT resident_id FROM clinic_consents WHERE clinic_id = %s AND revoked_at IS NULL "
            "AND (%s::int[] IS NULL OR resident_id = ANY(%s::int[])) ORDER BY resident_id",
            (clinic_id, resident_ids, resident_ids),
        )
        return list(await cur.fetchall())


_PAGE = "LIMIT %(limit)s OFFSET %(offset)s"


async def patients(
    conn: Conn, *, resident_ids: list[int], updated: Period, limit: int, offset: int
) -> list[PatientRow]:
    async with conn.cursor(row_factory=class_row(PatientRow)) as cur:
        await cur.execute(
            f"""
            SELECT id AS resident_id, external_ref, display_name, sex, birth_year, phone, address, updated_at
            FROM residents
            WHERE id = ANY(%(ids)s::int[])
              AND (%(start)s::timestamptz IS NULL OR updated_at >= %(start)s)
              AND (%(end)s::timestamptz IS NULL OR updated_at < %(end)s)
            ORDER BY id {_PAGE}
            """,
            {"ids": resident_ids, "start": updated.start, "end": updated.end, "limit": limit, "offset": offset},
        )
        return await cur.fetchall()


_HEALTH_CHECK_METRICS = f"metric BETWEEN {int(Metric.BP_SYSTOLIC)} AND {int(Metric.GLUCOSE_RANDOM)}"
"""The predicate of the partial index on raw telemetry that finds health checks (migration 0053)."""


async def observations(
    conn: Conn,
    *,
    resident_ids: list[int],
    vitals: list[int],
    checks: list[int],
    hours: Period,
    taken: Period,
    limit: int,
    offset: int,
) -> list[ObservationRow]:
    """Hourly rollup rows of the ``vitals`` whose hour starts within ``hours``, and the health checks (raw points
    of the ``checks`` metrics grouped by device and time) taken within ``taken``, by resident, time and metric."""
    async with conn.cursor(row_factory=class_row(ObservationRow)) as cur:
        await cur.execute(
            f"""
            SELECT * FROM (
                SELECT resident_id, metric, bucket AS at, n, sum AS total, NULL::int AS device_id,
                       NULL::jsonb AS readings
                FROM telemetry_1h
                WHERE resident_id = ANY(%(ids)s::int[]) AND metric = ANY(%(vitals)s::smallint[])
                  AND (%(hours_start)s::timestamptz IS NULL OR bucket >= %(hours_start)s)
                  AND (%(hours_end)s::timestamptz IS NULL OR bucket < %(hours_end)s)
                UNION ALL
                SELECT resident_id, min(metric) AS metric, ts AS at, count(*) AS n, 0 AS total, device_id,
                       jsonb_object_agg(metric, value) AS readings
                FROM telemetry
                WHERE resident_id = ANY(%(ids)s::int[]) AND {_HEALTH_CHECK_METRICS}
                  AND metric = ANY(%(checks)s::smallint[])
                  AND (%(taken_start)s::timestamptz IS NULL OR ts >= %(taken_start)s)
                  AND (%(taken_end)s::timestamptz IS NULL OR ts < %(taken_end)s)
                GROUP BY resident_id, device_id, ts
            ) o
            ORDER BY resident_id, at, metric, device_id {_PAGE}
            """,
            {
                "ids": resident_ids,
                "vitals": vitals,
                "checks": checks,
                "hours_start": hours.start,
                "hours_end": hours.end,
                "taken_start": taken.start,
                "taken_end": taken.end,
                "limit": limit,
                "offset": offset,
            },
        )
        return await cur.fetchall()


async def devices(conn: Conn, *, resident_ids: list[int], limit: int, offset: int) -> list[DeviceRow]:
    async with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        await cur.execute(
            f"""
            SELECT id AS device_id, uid, kind, resident_id, enrolled_at, revoked_at
            FROM devices WHERE resident_id = ANY(%(ids)s::int[])
            ORDER BY resident_id, id {_PAGE}
            """,
            {"ids": resident_ids, "limit": limit, "offset": offset},
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class DoseRow:
    dose_id: int
    resident_id: int
    schedule_id: int
    medicine: str
    dose: str
    with_food: bool | None
    due_at: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None
    changed_at: datetime


async def doses(conn: Conn, *, resident_ids: list[int], updated: Period, limit: int, offset: int) -> list[DoseRow]:
    """The residents' doses that are settled: confirmed taken, or told to the family as not confirmed (their window
    passed); last updated when that happened."""
    async with conn.cursor(row_factory=class_row(DoseRow)) as cur:
        await cur.execute(
            f"""
            SELECT * FROM (
                SELECT m.id AS dose_id, m.resident_id, m.schedule_id, s.medicine, s.dose, s.with_food, m.due_at,
                       m.confirmed_at, m.confirmed_by, coalesce(m.confirmed_at, m.family_told_at) AS changed_at
                FROM medication_doses m JOIN medication_schedules s ON s.id = m.schedule_id
                WHERE m.resident_id = ANY(%(ids)s::int[])
            ) d
            WHERE changed_at IS NOT NULL
              AND (%(start)s::timestamptz IS NULL OR changed_at >= %(start)s)
              AND (%(end)s::timestamptz IS NULL OR changed_at < %(end)s)
            ORDER BY resident_id, due_at, dose_id {_PAGE}
            """,
            {"ids": resident_ids, "start": updated.start, "end": updated.end, "limit": limit, "offset": offset},
        )
        return await cur.fetchall()


async def open_alarms(conn: Conn, *, resident_ids: list[int], limit: int, offset: int) -> list[AlarmRow]:
    """The residents' incidents that are alarms now (ALARMS), oldest first."""
    async with conn.cursor(row_factory=class_row(AlarmRow)) as cur:
        await cur.execute(
            f"""
            SELECT id AS incident_id, resident_id, cause, explanation_zh AS explanation,
                   coalesce(alarm_at, opened_at) AS since,
                   greatest(opened_at, alarm_at, acknowledged_at, dispatched_at, on_scene_at, last_seen_at)
                       AS changed_at
            FROM incidents
            WHERE resident_id = ANY(%(ids)s::int[]) AND status = ANY(%(statuses)s::text[])
            ORDER BY resident_id, opened_at, id {_PAGE}
            """,
            {"ids": resident_ids, "statuses": ALARMS, "limit": limit, "offset": offset},
        )
        return await cur.fetchall()
