"""The resident card an operator reads during an incident: who, where, how to get in, health, contacts, devices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from homecare.backend.devices.models import DeviceStatus


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Contact(_Model):
    """Someone to call, in call order."""

    call_order: int
    name: str
    relation: str | None
    phone: str | None
    email: str | None
    notify: bool = Field(description="Sent alarm messages.")


class HomeStation(_Model):
    """The community service station the home belongs to."""

    id: int
    name: str
    phone: str | None
    address: str


class PastIncident(_Model):
    id: int
    cause: str
    priority: int
    status: str
    outcome: str | None
    opened_at: UtcDatetime
    closed_at: UtcDatetime | None


class ResidentCard(_Model):
    """Everything an operator needs about the person on one screen."""

    id: int
    name: str
    age: int | None = Field(description="Years, from the birth year.")
    birth_year: int | None
    sex: str | None
    address: str | None
    lat: float | None
    lon: float | None
    access_notes: str | None = Field(description="How to get in: key safe, neighbour with a key, door code.")
    conditions: list[str]
    medications: list[str]
    allergies: list[str]
    mobility: str | None
    language: str | None = Field(description="Language and dialect to speak to them in.")
    phone: str | None
    vulnerable: bool
    consent_video: bool
    timezone: str
    contacts: list[Contact]
    station: HomeStation | None
    devices: list[DeviceStatus]
    past_incidents: list[PastIncident] = Field(description="The last 20, newest first (open ones included).")
