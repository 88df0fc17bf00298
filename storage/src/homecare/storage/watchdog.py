"""Stops an embedded PostgreSQL cluster once the process that launched it ends, however it ends."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from homecare.storage.embedded import EmbeddedPostgres


def main(data_dir: str, bin_dir: str, postmaster: str) -> None:
    """``python -m homecare.storage.watchdog DATA_DIR BIN_DIR POSTMASTER_PID``, the owner holding the other end of
    stdin; a server started since (another postmaster) is not this watchdog's."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Only the owner holds the other end of stdin: end of file means it stopped the server or died.
    while sys.stdin.buffer.read(4096):
        pass
    EmbeddedPostgres(Path(data_dir), bin_dir=Path(bin_dir)).stop_cluster(postmaster=int(postmaster))


if __name__ == "__main__":
    main(*sys.argv[1:4])
