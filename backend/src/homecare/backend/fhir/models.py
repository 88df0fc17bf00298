"""Clinic clients and consents as the administration API shows them, the clinic a FHIR request acts for, and the
time ranges its searches ask for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from homecare.backend.inputs import Text


@dataclass(frozen=True, slots=True)
class CallingClinic:
    """The clinic behind a FHIR request's bearer token."""

    id: int
    client_id: str
    name: str

    @property
    def audit_name(self) -> str:
        """Who the access log names for this clinic's reads."""
        return f"clinic:{self.client_id}"


@dataclass(frozen=True, slots=True)
class Period:
    """Instants from ``start`` (inclusive) to ``end`` (exclusive); None leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    def __and__(self, other: Period) -> Period:
        starts = [at for at in (self.start, other.start) if at is not None]
        ends = [at for at in (self.end, other.end) if at is not None]
        return Period(max(starts, default=None), min(ends, default=None))

    def shifted(self, by: timedelta) -> Period:
        return Period(None if self.start is None else self.start + by, None if self.end is None else self.end + by)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewClinic(_Model):
    name: Text = Field(min_length=1, max_length=200, examples=["Jing'an District Community Health Centre"])


class Clinic(_Model):
    """A registered clinic system (never its secret)."""

    id: int
    name: str
    client_id: str
    created_at: datetime
    created_by: str
    disabled_at: datetime | None


class RegisteredClinic(Clinic):
    """A clinic just registered: the only answer that carries its client secret."""

    client_secret: str = Field(description="Shown once; only its hash is kept.")


class ClinicConsent(_Model):
    """A resident's consent to share their record with one clinic."""

    resident_id: int
    clinic_id: int
    clinic_name: str
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None


class ClinicToken(_Model):
    """RFC 6749 section 5.1's successful token answer."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str
