"""Where device credentials live at the broker: Mosquitto's password file or its dynamic-security plugin."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from homecare.backend.enrolment.mosquitto_dynsec import DynamicSecurity
from homecare.backend.enrolment.mosquitto_passwords import PasswordFile


class BrokerAccounts(Protocol):
    """The broker's device accounts, as enrolment changes them; ``apply`` is blocking (run it in a thread)."""

    def apply(self, changes: Mapping[str, str | None]) -> None:
        """Set each device's secret (None: remove the device) at the broker; BrokerAccountsFailed."""


class BrokerAccountSettings(BaseSettings):
    """``HOMECARE_MOSQUITTO_*``: how the production broker learns device credentials (unset: it is not told)."""

    model_config = SettingsConfigDict(env_prefix="HOMECARE_MOSQUITTO_", env_file=".env", extra="ignore", frozen=True)

    passwd_file: Path | None = Field(
        default=None,
        description="The devices' listener's password_file. When set, issuing device credentials adds or replaces "
        "the device's line and revoking removes it; other lines are kept. The listener's acl_file is written beside "
        "it (<passwd_file>.acl) with a read line for each device. Mount the directory, not the files alone: they "
        "are replaced atomically.",
    )
    pid_file: Path | None = Field(
        default=None, description="Mosquitto's pid_file: the broker is sent SIGHUP to reload after each change."
    )
    dynsec_urls: list[str] = Field(
        default=[],
        description="Instead of the password file: every broker node's dynamic-security admin account, as "
        "mqtt://user:password@host:port (mqtts:// for TLS). Each device becomes a client of that plugin on every "
        "node (user name = client id = its uid) with a role of its own; revoking deletes it, which disconnects it.",
    )

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if self.passwd_file is not None and self.dynsec_urls:
            raise ValueError("set HOMECARE_MOSQUITTO_PASSWD_FILE or HOMECARE_MOSQUITTO_DYNSEC_URLS, not both")
        return self


def configured_accounts(settings: BrokerAccountSettings) -> BrokerAccounts | None:
    """The broker accounts the settings name, or None when the broker keeps its own (the embedded broker)."""
    if settings.dynsec_urls:
        return DynamicSecurity(tuple(settings.dynsec_urls))
    return None if settings.passwd_file is None else PasswordFile(settings.passwd_file, settings.pid_file)
