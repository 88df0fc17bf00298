"""Clinic systems: registration with a secret shown once, residents' consent to share with a clinic, and the
OAuth2 client-credentials tokens a clinic reads the FHIR interface with."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final

import psycopg

from homecare.backend.accounts.models import Actor
from homecare.backend.accounts.passwords import hash_password, verify_password
from homecare.backend.accounts.service import token_hash
from homecare.backend.fhir import (
    ClinicNotAuthenticated,
    ClinicNotFound,
    ConsentNotFound,
    InvalidClient,
    TokenRefused,
)
from homecare.backend.fhir import repository as repo
from homecare.backend.fhir.models import CallingClinic, Clinic, ClinicConsent, ClinicToken, RegisteredClinic
from homecare.backend.residents.access import open_resident
from homecare.storage.connections import Conn

TOKEN_LIFETIME: Final = timedelta(minutes=5)
"""How long a clinic's bearer token works (SMART Backend Services: at most five minutes); it asks for another."""
TOKEN_SCOPE: Final = (
    "system/Patient.read system/Observation.read system/Device.read system/Flag.read system/MedicationStatement.read"
)
"""What every token grants (SMART v1 scope names): reading these resources of consenting residents."""
GRANT_TYPE: Final = "client_credentials"


async def register_clinic(conn: Conn, *, actor: Actor, name: str) -> RegisteredClinic:
    """A new clinic with a fresh client id and secret; the secret is in this answer only."""
    secret = secrets.token_urlsafe(32)
    clinic = await repo.insert_clinic(
        conn,
        name=name,
        client_id=f"clinic-{secrets.token_hex(8)}",
        secret_hash=hash_password(secret),
        created_by=actor.name,
    )
    return RegisteredClinic(**clinic.model_dump(), client_secret=secret)


async def list_clinics(conn: Conn) -> list[Clinic]:
    return await repo.list_clinics(conn)


async def disable_clinic(conn: Conn, *, clinic_id: int, now: datetime) -> Clinic:
    """The clinic gets no more tokens, and the ones it holds stop working at once."""
    clinic = await repo.disable_clinic(conn, clinic_id=clinic_id, now=now)
    if clinic is None:
        raise ClinicNotFound(clinic_id)
    return clinic


async def consents(conn: Conn, *, actor: Actor, resident_id: int) -> list[ClinicConsent]:
    await open_resident(conn, actor=actor, resident_id=resident_id, action="clinic_consents")
    return await repo.consents(conn, resident_id=resident_id)


async def record_consent(conn: Conn, *, actor: Actor, resident_id: int, clinic_id: int, now: datetime) -> ClinicConsent:
    """The resident agreed to share their record with the clinic (again, if they had revoked it)."""
    await open_resident(conn, actor=actor, resident_id=resident_id, action="clinic_consent_recorded")
    try:
        async with conn.transaction():
            return await repo.upsert_consent(
                conn, resident_id=resident_id, clinic_id=clinic_id, recorded_by=actor.name, now=now
            )
    except psycopg.errors.ForeignKeyViolation as err:
        raise ClinicNotFound(clinic_id) from err


async def revoke_consent(conn: Conn, *, actor: Actor, resident_id: int, clinic_id: int, now: datetime) -> ClinicConsent:
    """The clinic no longer sees the resident, from its next request on."""
    await open_resident(conn, actor=actor, resident_id=resident_id, action="clinic_consent_revoked")
    consent = await repo.revoke_consent(
        conn, resident_id=resident_id, clinic_id=clinic_id, revoked_by=actor.name, now=now
    )
    if consent is None:
        raise ConsentNotFound(resident_id, clinic_id)
    return consent


async def issue_token(
    conn: Conn, *, grant_type: str | None, client_id: str | None, client_secret: str | None, now: datetime
) -> ClinicToken:
    """RFC 6749 section 4.4: a bearer token for the clinic whose credentials these are."""
    if grant_type is None:
        raise TokenRefused("invalid_request", "grant_type is required")
    if grant_type != GRANT_TYPE:
        raise TokenRefused("unsupported_grant_type", f"grant_type must be {GRANT_TYPE}, not {grant_type!r}")
    if client_id is None or client_secret is None:
        raise InvalidClient()
    found = await repo.clinic_secret(conn, client_id=client_id)
    ok = verify_password(None if found is None else found.secret_hash, client_secret)
    if found is None or not ok or found.disabled:
        raise InvalidClient()
    token = secrets.token_urlsafe(32)
    await repo.insert_token(
        conn, token_hash=token_hash(token), clinic_id=found.id, now=now, expires_at=now + TOKEN_LIFETIME
    )
    return ClinicToken(access_token=token, expires_in=int(TOKEN_LIFETIME.total_seconds()), scope=TOKEN_SCOPE)


async def token_clinic(conn: Conn, *, token: str | None, now: datetime) -> CallingClinic:
    """The clinic a FHIR request's bearer token stands for; ClinicNotAuthenticated when there is none."""
    if token is None:
        raise ClinicNotAuthenticated("a bearer token is required: POST /fhir/token with the clinic's credentials")
    clinic = await repo.token_clinic(conn, token_hash=token_hash(token), now=now)
    if clinic is None:
        raise ClinicNotAuthenticated("the bearer token is not valid or has expired")
    return clinic
