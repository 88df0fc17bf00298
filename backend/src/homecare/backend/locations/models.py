"""Request and response bodies of locations: fixes, safe zones, tracks, the retention setting."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from homecare.backend.inputs import LocalTime, Text
from homecare.contracts.messages import FixSource

Latitude = Annotated[float, Field(ge=-90, le=90, description="Degrees, WGS-84.")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="Degrees, WGS-84.")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fix(_Model):
    """One stored position of a GPS watch."""

    ts: datetime
    lat: float
    lon: float
    accuracy_m: float
    source: FixSource
    moving: bool = False


class Circle(_Model):
    """A circle: its centre and radius."""

    kind: Literal["circle"] = "circle"
    lat: Latitude
    lon: Longitude
    radius_m: float = Field(gt=0, le=50_000, description="Metres.")


class Polygon(_Model):
    """A polygon: its corners in order, [lat, lon] each (closed implicitly)."""

    kind: Literal["polygon"] = "polygon"
    points: list[tuple[Latitude, Longitude]] = Field(min_length=3, max_length=200)


class NewSafeZone(_Model):
    """A place the resident may be: always, or only between two local times ("not outside after 21:00" is a
    neighbourhood zone from 07:00 until 21:00 beside the home's zone without a window)."""

    name: Annotated[Text, Field(min_length=1, max_length=80, examples=["家", "日间照料中心"])]
    shape: Circle | Polygon = Field(discriminator="kind")
    active_from: LocalTime | None = Field(default=None, description="Local time the zone starts to count, e.g. 07:00.")
    active_until: LocalTime | None = Field(default=None, description="Local time it stops counting, e.g. 21:00.")

    @model_validator(mode="after")
    def _window(self) -> NewSafeZone:
        if (self.active_from is None) != (self.active_until is None):
            missing = "active_until" if self.active_until is None else "active_from"
            raise ValueError(f"{missing}: a time window needs both active_from and active_until")
        if self.active_from is not None and self.active_from == self.active_until:
            raise ValueError("active_until: the window must not be empty (active_until equals active_from)")
        return self


class SafeZone(NewSafeZone):
    id: int
    resident_id: int
    created_at: datetime
    created_by: str


class Track(_Model):
    """Where the resident went: the fixes since they left their safe zones (or around the alarm), oldest first,
    with the zones they were measured against."""

    resident_id: int
    since: datetime | None = Field(description="The departure: the first fix outside, None when never outside.")
    fixes: list[Fix]
    zones: list[SafeZone]


class FamilyLocation(_Model):
    """What a family member sees: the latest fix only while an alarm is open and the resident consented."""

    shown: bool = Field(description="False when no alarm is open: the location is not shared then.")
    fix: Fix | None = None


class LocationPolicy(_Model):
    retention_days: int = Field(ge=1, le=365, description="Raw fixes older than this many days are deleted.")


class LocationPolicyState(LocationPolicy):
    updated_at: datetime
    updated_by: str
