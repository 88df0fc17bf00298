"""Mosquitto's password file kept in step with device credentials: rewritten when they change, reloaded by SIGHUP."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from homecare.backend.enrolment import BrokerAccountsFailed

# mosquitto_passwd 2.x: "$7$" is PBKDF2-HMAC-SHA512 with 101 iterations, a 12-byte salt and a 64-byte key.
PBKDF2_ITERATIONS: Final = 101
SALT_BYTES: Final = 12


class BrokerAccountSettings(BaseSettings):
    """``HOMECARE_MOSQUITTO_*``: where the production broker's password file is, and how to make it reload."""

    model_config = SettingsConfigDict(env_prefix="HOMECARE_MOSQUITTO_", env_file=".env", extra="ignore", frozen=True)

    passwd_file: Path | None = Field(
        default=None,
        description="Mosquitto's password_file. When set, issuing device credentials adds or replaces the device's "
        "line and revoking removes it; other lines (the service accounts) are kept. Mount its directory, not the "
        "file alone: it is replaced atomically.",
    )
    pid_file: Path | None = Field(
        default=None, description="Mosquitto's pid_file: the broker is sent SIGHUP to reload after each change."
    )


def mosquitto_hash(secret: str, salt: bytes | None = None) -> str:
    """A password hash in the format ``mosquitto_passwd`` writes (and Mosquitto 2 checks)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, PBKDF2_ITERATIONS, 64)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


@dataclass(frozen=True, slots=True)
class PasswordFile:
    """The broker's password file; ``apply`` is blocking (run it in a thread)."""

    path: Path
    pid_file: Path | None

    @classmethod
    def configured(cls, settings: BrokerAccountSettings) -> PasswordFile | None:
        return None if settings.passwd_file is None else cls(settings.passwd_file, settings.pid_file)

    def apply(self, changes: Mapping[str, str | None]) -> None:
        """Set each user's secret (None: remove the user), then have the broker reload; BrokerAccountsFailed."""
        try:
            self._rewrite(changes)
            self._reload()
        except (OSError, ValueError) as err:
            raise BrokerAccountsFailed(f"the broker's password file {self.path} was not updated: {err}") from err

    def _rewrite(self, changes: Mapping[str, str | None]) -> None:
        # A lock beside the file: two API workers changing devices at once must not lose each other's lines.
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            kept = []
            if self.path.exists():
                for line in self.path.read_text().splitlines():
                    user = line.split(":", 1)[0]
                    if line.strip() and user not in changes:
                        kept.append(line)
            kept += [f"{user}:{mosquitto_hash(secret)}" for user, secret in changes.items() if secret is not None]
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o640
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w") as out:
                out.write("".join(f"{line}\n" for line in kept))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode)  # the umask may have narrowed it; the broker must still read it
            os.replace(temporary, self.path)  # the broker never reads a half-written file

    def _reload(self) -> None:
        if self.pid_file is not None:
            os.kill(int(self.pid_file.read_text().strip()), signal.SIGHUP)
