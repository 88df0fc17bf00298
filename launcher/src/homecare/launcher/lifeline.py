"""Children of ``homecare run`` end with it: each watches a pipe only the runner writes to, and stops when it closes."""

from __future__ import annotations

import os
import signal
import threading
from typing import Final

ENV: Final = "HOMECARE_LIFELINE_FD"


def hold() -> int:
    """In the runner: a pipe whose write end only this process holds; returns the read end to hand to children
    (``pass_fds`` and ``HOMECARE_LIFELINE_FD``). The kernel closes the write end however the runner ends."""
    read_end, _write_end = os.pipe()  # the write end stays open (unreferenced) until this process ends
    return read_end


def follow() -> None:
    """In a child: SIGTERM this process (its usual clean stop) once the runner is gone."""
    fd = os.environ.pop(ENV, None)
    if fd is None:
        return

    def watch() -> None:
        while os.read(int(fd), 1):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
