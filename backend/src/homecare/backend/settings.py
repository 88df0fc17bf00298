"""Settings of the backend process (API, pages, alarm pipeline), read from ``HOMECARE_*`` variables; unsafe values
fail fast."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from homecare.storage.settings import StorageSettings


class Settings(StorageSettings):
    """One settings object, built once per process in its entry point and passed down explicitly."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token for machine access to the API (acts as an administrator)."
    )
    session_idle_minutes: int = Field(
        default=720, ge=5, le=10_080, description="A signed-in session ends after this long without a request."
    )
    session_max_hours: int = Field(
        default=168, ge=1, le=8_760, description="A session ends this long after sign-in, however active."
    )
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only; turn on behind a TLS proxy."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed sign-ins per user name within login_window_s before a pause."
    )
    login_max_failures_per_ip: int = Field(default=30, ge=1, le=10_000)
    login_window_s: int = Field(default=900, ge=10, le=86_400)
    timezone: str = Field(default="Asia/Shanghai", description="Default zone for display.")

    @model_validator(mode="after")
    def _token_is_strong(self) -> Settings:
        if self.api_token is not None and len(self.api_token.get_secret_value()) < 24:
            raise ValueError("api_token must be at least 24 characters")
        return self
