"""Shapes of the administration API: residents with home, card and detector settings, devices and secrets, stations."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Final, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from homecare.backend.detection.config import DetectionSettings
from homecare.backend.inputs import LocalTime, RowId, Text
from homecare.contracts.messages import DeviceId, DeviceKind

Sex = Literal["female", "male"]
Item = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Items = Annotated[list[Item], Field(max_length=30)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+() -]*$")]
Reference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$"),
    Field(description="The resident's reference in the enrolling organisation's records.", examples=["SH-XH-00017"]),
]
Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS-84 latitude of the home.", examples=[31.19])]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS-84 longitude of the home.", examples=[121.43])]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Contact(_In):
    """Someone to call, in the order given."""

    name: Text = Field(min_length=1, max_length=100)
    relation: Text | None = Field(default=None, max_length=40)
    phone: Phone | None = None
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if not self.phone and not self.email:
            # Its own error type, so that pages can say it in the user's language.
            raise PydanticCustomError("contact_unreachable", "a contact needs a phone number or an e-mail address")
        return self


class ResidentIn(_In):
    """A resident with their home and the card an operator reads after an alarm."""

    external_ref: Reference | None = Field(
        default=None, description="Default on creation: a generated one. Imports match residents by it."
    )
    display_name: Text = Field(min_length=1, max_length=100)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    sex: Sex | None = None
    phone: Phone | None = None
    timezone: Text = Field(default="Asia/Shanghai", max_length=64)
    address: Text = Field(min_length=1, max_length=300)
    lat: Latitude
    lon: Longitude
    station_id: RowId | None = Field(default=None, description="The community station the home belongs to.")
    vulnerable: bool = Field(default=False, description="Due a monthly welfare visit.")
    access_notes: Text | None = Field(default=None, max_length=500, description="How to get in.")
    conditions: Items = []
    medications: Items = []
    allergies: Items = []
    mobility: Text | None = Field(default=None, max_length=200)
    language: Text | None = Field(default=None, max_length=60, description="Language and dialect, e.g. 上海话.")
    consent_video: bool = False
    contacts: list[Contact] = Field(default=[], max_length=10, description="In call order.")


class Resident(_Out):
    """A resident as administrators see them."""

    id: int
    external_ref: str | None
    display_name: str
    birth_year: int | None
    sex: Sex | None
    phone: str | None
    timezone: str
    address: str | None
    lat: float | None
    lon: float | None
    station_id: int | None
    station_name: str | None
    vulnerable: bool
    access_notes: str | None
    conditions: list[str]
    medications: list[str]
    allergies: list[str]
    mobility: str | None
    language: str | None
    consent_video: bool
    contacts: list[Contact]
    created_at: datetime


class ResidentSummary(_Out):
    """A line of the residents list."""

    id: int
    external_ref: str | None
    display_name: str
    address: str | None
    station_id: int | None
    station_name: str | None
    devices: int = Field(description="Active (not revoked) devices.")
    vulnerable: bool


class ResidentPage(_Out):
    total: int
    offset: int
    limit: int
    items: list[ResidentSummary]


# The platform's own MQTT clients (gateways, the runner's probe) are named so; a device named so could take
# a gateway's session on a broker that binds client ids to user names.
PLATFORM_CLIENT_PREFIX: Final = "homecare-"


def _not_a_platform_client(uid: str) -> str:
    if uid.startswith(PLATFORM_CLIENT_PREFIX):
        raise PydanticCustomError(
            "reserved_device_id",
            "device ids starting with {prefix} are the platform's own MQTT clients",
            {"prefix": PLATFORM_CLIENT_PREFIX},
        )
    return uid


class DeviceIn(_In):
    uid: Annotated[DeviceId, AfterValidator(_not_a_platform_client)]
    kind: DeviceKind


class Device(_Out):
    """An enrolled device; its secret is never shown here (only its hash is stored)."""

    id: int
    uid: str
    kind: DeviceKind
    resident_id: int | None
    resident_name: str | None
    enrolled_at: datetime
    revoked_at: datetime | None
    online: bool
    last_seen_at: datetime | None
    battery: int | None


class DevicePage(_Out):
    total: int
    offset: int
    limit: int
    items: list[Device]


class IssuedCredentials(_Out):
    """A device's MQTT credentials. The secret is shown this once: the platform keeps only its hash."""

    device: Device
    username: str = Field(description="The MQTT user name and client id (the device uid).")
    secret: str = Field(description="The MQTT password. Not stored; a lost secret needs new credentials.")


class StationIn(_In):
    """A community service station: where, when it is staffed, how many tasks it can run at once."""

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", examples=["XH-01"])
    name: Text = Field(min_length=1, max_length=100)
    address: Text = Field(min_length=1, max_length=300)
    phone: Phone | None = None
    lat: Latitude
    lon: Longitude
    opens: LocalTime = Field(default=time(8), description="Local time in the station's zone.")
    closes: LocalTime = Field(default=time(20), description="Local; earlier than opens means open overnight.")
    timezone: Text = Field(default="Asia/Shanghai", max_length=64)
    capacity: int = Field(default=3, ge=0, le=1000, description="Tasks it can run at once.")
    on_duty: bool = True


class Station(_Out):
    id: int
    code: str
    name: str
    address: str
    phone: str | None
    lat: float
    lon: float
    opens: time
    closes: time
    timezone: str
    capacity: int
    on_duty: bool
    residents: int = Field(description="Homes that belong to the station.")
    created_at: datetime


class ImportResult(_Out):
    """What an import did; every row was valid, or nothing was imported."""

    added: int
    updated: int


class DetectionView(_Out):
    """A resident's detector settings: what applies, what was changed for them, and the defaults beside it."""

    resident_id: int
    effective: DetectionSettings = Field(description="What the detectors use for this resident.")
    overrides: dict[str, Any] = Field(description="What differs from the defaults, as stored (empty: all defaults).")
    defaults: DetectionSettings
    updated_at: datetime | None = Field(description="When the overrides were last set; null if never.")
    updated_by: str | None
