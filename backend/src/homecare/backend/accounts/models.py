"""Roles, the signed-in actor every route receives, and the account shapes of the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from homecare.backend.inputs import NotNull, RowId, Text

Language = Literal["zh", "en"]


class Role(StrEnum):
    """What a user is; decides the pages and the data they reach."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    RESPONDER = "responder"
    VISITOR = "visitor"  # a station's welfare visitor (巡访员)
    CARER = "carer"  # a station's carer who delivers booked home services (上门服务人员)
    FAMILY = "family"


STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR})
"""The call centre: they see every resident, and each opening of a record is logged."""

STATION_ROLES = frozenset({Role.RESPONDER, Role.VISITOR, Role.CARER})
"""Staff of one community station: responders, visitors and carers belong to a station."""

SERVICE_NAME = "service"
"""The name the bearer service token acts under (an administrator without an account row)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who is calling: a signed-in user, or the service token."""

    name: str
    role: Role
    user_id: int | None
    display_name: str
    station_id: int | None = None
    language: Language = "zh"
    timezone: str = "Asia/Shanghai"

    @property
    def is_service(self) -> bool:
        return self.user_id is None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def acting_as(self, on_behalf_of: str | None) -> str:
        """The name recorded for an action: users act as themselves; the service token may name someone."""
        if self.is_service and on_behalf_of:
            return on_behalf_of
        return self.name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Username = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.@-]{2,63}$", examples=["li.na"])]
Password = Annotated[Text, Field(min_length=10, max_length=256, description="At least 10 characters.")]


class LoginBody(_Model):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=256)


class Me(_Model):
    """The signed-in user, as the pages need them."""

    id: int | None
    username: str
    display_name: str
    role: Role
    station_id: int | None
    language: Language
    timezone: str


class MePatch(_Model):
    language: Language | None = None
    timezone: Text | None = Field(default=None, max_length=64)


class PasswordChange(_Model):
    current_password: Text = Field(min_length=1, max_length=256)
    new_password: Password


class User(_Model):
    """An account as administrators see it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    station_id: int | None
    phone: str | None
    email: str | None
    language: Language
    timezone: str
    on_duty: bool
    disabled: bool
    created_at: datetime


class NewUser(_Model):
    username: Username
    display_name: Text = Field(min_length=1, max_length=100)
    role: Role
    password: Password
    station_id: RowId | None = Field(default=None, description="Required for responders, visitors and carers.")
    phone: Text | None = Field(default=None, max_length=40)
    email: Text | None = Field(default=None, max_length=200)
    language: Language = "zh"
    timezone: Text = Field(default="Asia/Shanghai", max_length=64)


class UserPatch(_Model):
    """What to change; a field left out stays as it is, and only phone, e-mail and station may be cleared (null)."""

    display_name: NotNull[Text] = Field(default=None, min_length=1, max_length=100)
    role: NotNull[Role] = None
    station_id: RowId | None = None
    phone: Text | None = Field(default=None, max_length=40)
    email: Text | None = Field(default=None, max_length=200)
    disabled: NotNull[bool] = None
    on_duty: NotNull[bool] = None
    password: Password | None = Field(default=None, description="Set a new password (ends their sessions).")


class Sharing(_Model):
    """What the resident agreed to share with one family member."""

    share_status: bool = True
    share_vitals: bool = False
    share_activity: bool = False
    share_incidents: bool = True
    share_location: bool = False  # and then only while an alarm is open


class FamilyLink(Sharing):
    user_id: int
    resident_id: int
    relation: str | None
    consent_recorded_at: datetime
    consent_recorded_by: str


class NewFamilyLink(Sharing):
    user_id: RowId
    relation: Text | None = Field(default=None, max_length=40)
