"""Settings of notification channels and delivery, read from ``HOMECARE_NOTIFY_*``; unsafe values fail fast."""

from __future__ import annotations

import ipaddress
import re
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SubscriberAudience = Literal["staff", "supervisor", "changes"]


def is_loopback(host: str | None) -> bool:
    """Whether a host name is this machine (plain HTTP and unencrypted SMTP are only allowed there)."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_email_address(value: str) -> str:
    """The address itself if it is one plain mailbox (no display name, no line breaks), else ValueError."""
    name, address = parseaddr(value)
    if name or address != value.strip() or re.search(r"[\s<>,;]", value) or value.count("@") != 1:
        raise ValueError(f"not a plain e-mail address: {value!r}")
    local, _, domain = address.partition("@")
    if not local or ("." not in domain and domain != "localhost"):
        raise ValueError(f"not a plain e-mail address: {value!r}")
    Address(addr_spec=address)  # raises on anything the e-mail library would not put in a header
    return address


class WebhookEndpoint(BaseModel):
    """A receiver of signed webhooks: staff or supervisor alerts, and/or every incident change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$", description="Stable name, stored in the outbox.")
    url: str = Field(description="https:// URL; plain http only to a loopback address.")
    secret: SecretStr = Field(description="Shared HMAC-SHA256 key, at least 32 characters.")
    audiences: frozenset[SubscriberAudience] = Field(
        min_length=1, description="staff, supervisor (alerts), changes (every incident change)."
    )

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and is_loopback(parts.hostname):
            return value
        raise ValueError(f"webhook url must be https:// (http:// only to a loopback address), got {value!r}")

    @field_validator("secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("webhook secret must be at least 32 characters")
        return value


class NotificationSettings(BaseSettings):
    """Built once in the app's lifespan (``NotificationSettings()`` reads the environment) and passed down."""

    model_config = SettingsConfigDict(env_prefix="HOMECARE_NOTIFY_", env_file=".env", extra="ignore", frozen=True)

    smtp_host: str | None = Field(default=None, description="SMTP server; without it e-mails are marked failed.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (submission, 587), tls (implicit, 465), none (loopback only)."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = Field(
        default=None, description="PEM file of the CA that signed the SMTP server's certificate (private relays)."
    )
    smtp_timeout_s: float = Field(default=20.0, gt=0, le=300)
    mail_from: str = Field(default="homecare@localhost", description="Envelope and From address.")
    mail_from_name: str = Field(default="homecare 居家养老", description="Display name of the sender.")

    staff_emails: list[str] = Field(default_factory=list, description="Operators' shared mailbox(es).")
    supervisor_emails: list[str] = Field(default_factory=list, description="Duty supervisors.")
    webhooks: list[WebhookEndpoint] = Field(default_factory=list, description="JSON list of endpoints.")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)

    max_attempts: int = Field(default=8, ge=1, le=50, description="Then the message is marked failed.")
    backoff_base_s: float = Field(default=5.0, gt=0, le=3600, description="Delay after the first failure.")
    backoff_max_s: float = Field(default=900.0, gt=0, le=86_400, description="Longest delay between attempts.")
    poll_interval_s: float = Field(default=1.0, gt=0, le=60, description="How often idle senders look for work.")
    concurrency: int = Field(default=4, ge=1, le=64, description="Messages sent at the same time.")

    @field_validator("staff_emails", "supervisor_emails")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return [check_email_address(v) for v in values]

    @field_validator("mail_from")
    @classmethod
    def _from_address(cls, value: str) -> str:
        return check_email_address(value)

    @model_validator(mode="after")
    def _safe(self) -> NotificationSettings:
        if self.smtp_security == "none" and self.smtp_host is not None and not is_loopback(self.smtp_host):
            raise ValueError("smtp_security 'none' is only allowed to a loopback SMTP server")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both smtp_username and smtp_password, or neither")
        names = [w.name for w in self.webhooks]
        if len(names) != len(set(names)):
            raise ValueError("webhook names must be unique")
        return self

    def webhook(self, name: str) -> WebhookEndpoint | None:
        """The configured endpoint with this name, if any."""
        return next((w for w in self.webhooks if w.name == name), None)

    def backoff_s(self, attempt: int) -> float:
        """Delay before the next try after ``attempt`` failed attempts: doubling from the base, capped."""
        return float(min(self.backoff_base_s * 2 ** max(attempt - 1, 0), self.backoff_max_s))
