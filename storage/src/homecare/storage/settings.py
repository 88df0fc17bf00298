"""Settings every process that touches the database reads from ``HOMECARE_*`` variables; unsafe values fail fast."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PASSWORD_PARAM = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


def redacted(url: str) -> str:
    """A URL or connection string fit for a log line or a terminal: every password replaced by ``***``
    (``scheme://user:***@host``, ``password=***`` in a query or a libpq key=value string)."""
    parts = urlsplit(url)
    if parts.password is not None:
        userinfo, host = parts.netloc.rsplit("@", 1)
        url = urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{host}"))
    return _PASSWORD_PARAM.sub(r"\1***", url)


class StorageSettings(BaseSettings):
    """Where the data lives and how long it is kept; the gateway's and the backend's settings extend it."""

    # hide_input_in_errors: a refused URL or DSN would otherwise be printed whole, password and all.
    model_config = SettingsConfigDict(
        env_prefix="HOMECARE_", env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    data_dir: Path = Field(default=Path("var"), description="Where the embedded database and logs live.")
    database_url: str | None = Field(
        default=None, description="External PostgreSQL DSN; when absent, an embedded server is started."
    )
    raw_retention_days: int = Field(default=30, ge=1, le=3650)
    rollup_retention_days: int = Field(default=730, ge=1, le=36500)

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError as err:
            raise ValueError(f"database_url is not a PostgreSQL connection string: {err}") from err
        return value
