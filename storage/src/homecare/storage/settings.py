"""Settings every process that touches the database reads from ``HOMECARE_*`` variables; unsafe values fail fast."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from homecare.storage import DatabaseNotConfigured

_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
_DSN_FORM = "postgresql://user:password@host:port/database"
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
        # The parser's own message quotes the whole string, password and all: say what is wrong without it.
        scheme = urlsplit(value).scheme if "://" in value else None
        if scheme is not None and scheme not in _POSTGRES_SCHEMES:
            raise ValueError(f"not a PostgreSQL URL ({scheme}://…); write {_DSN_FORM}")
        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError as err:
            raise ValueError(f"not a PostgreSQL connection string; write {_DSN_FORM}") from err
        return value

    def required_database_url(self, needed_by: str) -> str:
        """The database URL, or a DatabaseNotConfigured error saying that `needed_by` needs one."""
        if self.database_url is None:
            raise DatabaseNotConfigured(
                f"{needed_by} needs a database: set HOMECARE_DATABASE_URL ({_DSN_FORM}); "
                "`homecare run` starts one of its own"
            )
        return self.database_url
