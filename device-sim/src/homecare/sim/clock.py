"""The simulated clock: real time by default, faster for demos, and able to jump forward."""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    """Simulated epoch seconds advancing `speed` times faster than the monotonic clock.

    Behaviour (telemetry, heartbeats, a resident's day) runs on this clock; network timers
    (reconnect backoff, resends) stay on real time because the broker lives in real time.
    """

    def __init__(
        self,
        start: float | None = None,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self._monotonic = monotonic
        self._speed = speed
        self._origin_real = monotonic()
        self._origin_sim = time.time() if start is None else start

    def now(self) -> float:
        """Simulated seconds since the epoch."""
        return self._origin_sim + (self._monotonic() - self._origin_real) * self._speed

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def jump_to(self, t: float) -> None:
        """Move the simulated time forward to `t` (never backwards: device time only grows)."""
        now = self.now()
        if t < now:
            raise ValueError(f"the clock only jumps forward ({t} is {now - t:.0f} s in the past)")
        self._origin_real = self._monotonic()
        self._origin_sim = t
