"""Ending a revoked device's open session on EMQX, through its REST API (``DELETE /api/v5/clients/{clientid}``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from homecare.backend.enrolment import BrokerAccountsFailed


class EmqxSettings(BaseSettings):
    """``HOMECARE_EMQX_*``: EMQX's REST API, to disconnect revoked devices (unset: EMQX is not used)."""

    model_config = SettingsConfigDict(env_prefix="HOMECARE_EMQX_", env_file=".env", extra="ignore", frozen=True)

    api_url: str | None = Field(
        default=None,
        description="Any EMQX node's dashboard listener, e.g. http://emqx-0:18083 (the cluster's clients are one "
        "list). Revoking a device then ends its open session at once; its next sign-in is refused by the devices "
        "table either way.",
    )
    api_key: str = Field(default="", description="An API key made in EMQX (System → API Keys), sent as the user name.")
    api_secret: SecretStr = Field(default=SecretStr(""), description="That API key's secret.")


@dataclass(frozen=True, slots=True)
class EmqxSessions:
    """EMQX's REST API; ``end`` is blocking (run it in a thread)."""

    api_url: str
    api_key: str
    api_secret: str
    timeout: float = 10.0

    def end(self, uid: str) -> None:
        """Disconnect the device (its client id is its uid) and drop its session; nothing to do when it is not
        connected (404); BrokerAccountsFailed when EMQX cannot be reached or refuses."""
        url = f"{self.api_url.rstrip('/')}/api/v5/clients/{quote(uid, safe='')}"
        try:
            answer = httpx.delete(url, auth=(self.api_key, self.api_secret), timeout=self.timeout)
        except httpx.HTTPError as err:
            raise BrokerAccountsFailed(f"EMQX was not reached to disconnect {uid}: {err}") from err
        if answer.status_code not in (204, 404):
            raise BrokerAccountsFailed(f"EMQX did not disconnect {uid}: HTTP {answer.status_code} {answer.text[:200]}")


def configured_sessions(settings: EmqxSettings) -> EmqxSessions | None:
    """EMQX's REST API as the settings name it, or None."""
    if settings.api_url is None:
        return None
    return EmqxSessions(settings.api_url, settings.api_key, settings.api_secret.get_secret_value())
