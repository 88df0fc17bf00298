"""Mosquitto's device password file and ACL kept in step with device credentials: rewritten when they change,
reloaded by SIGHUP."""

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

from homecare.backend.enrolment import BrokerAccountsFailed

# mosquitto_passwd 2.x: "$7$" is PBKDF2-HMAC-SHA512 with 101 iterations, a 12-byte salt and a 64-byte key.
PBKDF2_ITERATIONS: Final = 101
SALT_BYTES: Final = 12
# The devices' listener's acl_file. A device may publish anywhere under its own id, in any version's tree (the
# gateways dead-letter a channel or version the platform does not serve), but not on its own cmd topic: the
# broker would deliver that straight back to it as a command. Mosquitto 2.0 applies a `deny` to reading as well
# and checks a user's own lines before the patterns, so each device reads its commands by a line of its own.
DEVICE_ACL_RULES: Final = """\
# Written by homecare enrolment with the password file beside it, and rewritten on every change: do not edit.
pattern write homecare/+/dev/%u/+
pattern deny homecare/v1/dev/%u/cmd
"""


def mosquitto_hash(secret: str, salt: bytes | None = None) -> str:
    """A password hash in the format ``mosquitto_passwd`` writes (and Mosquitto 2 checks)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, PBKDF2_ITERATIONS, 64)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def split_hash(hashed: str) -> tuple[int, str, str]:
    """A ``mosquitto_hash`` taken apart: its iterations, salt and key (base64, as the dynamic-security plugin's
    file holds them); ValueError for another format (Mosquitto 1.x's ``$6$``)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[:2] != ["", "7"]:
        raise ValueError(f"not a mosquitto_passwd 2 ($7$) hash: {hashed[:4]}…")
    return int(parts[2]), parts[3], parts[4]


@dataclass(frozen=True, slots=True)
class PasswordFile:
    """The broker's password file; ``apply`` is blocking (run it in a thread)."""

    path: Path
    pid_file: Path | None

    def apply(self, changes: Mapping[str, str | None]) -> None:
        """Set each user's secret (None: remove the user), then have the broker reload; BrokerAccountsFailed."""
        try:
            self._rewrite(changes)
            self._reload()
        except (OSError, ValueError) as err:
            raise BrokerAccountsFailed(f"the broker's password file {self.path} was not updated: {err}") from err

    def hashes(self) -> dict[str, str]:
        """Each user's password hash as the file holds it (none when there is no file yet)."""
        if not self.path.exists():
            return {}
        pairs = (line.split(":", 1) for line in self.path.read_text().splitlines() if line.strip())
        return {user: hashed for user, hashed in pairs}

    @property
    def acl_path(self) -> Path:
        """The devices' ACL, written beside the password file with the same users."""
        return self.path.with_name(self.path.name + ".acl")

    def _rewrite(self, changes: Mapping[str, str | None]) -> None:
        # A lock beside the file: two API workers changing devices at once must not lose each other's lines.
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            kept = [f"{user}:{hashed}" for user, hashed in self.hashes().items() if user not in changes]
            kept += [f"{user}:{mosquitto_hash(secret)}" for user, secret in changes.items() if secret is not None]
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o640
            replace_whole(self.path, "".join(f"{line}\n" for line in kept), mode)
            users = sorted(line.split(":", 1)[0] for line in kept)
            reads = "".join(f"user {user}\ntopic read homecare/v1/dev/{user}/cmd\n" for user in users)
            replace_whole(self.acl_path, DEVICE_ACL_RULES + reads, mode)

    def _reload(self) -> None:
        if self.pid_file is not None:
            os.kill(int(self.pid_file.read_text().strip()), signal.SIGHUP)


def replace_whole(path: Path, text: str, mode: int) -> None:
    """Write the file whole under a temporary name, then rename it: the broker never reads a half-written file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, mode)  # the umask may have narrowed it; the broker must still read it
    os.replace(temporary, path)
