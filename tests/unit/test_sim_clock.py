"""The simulated clock runs faster on demand and only ever jumps forward."""

from __future__ import annotations

import time

import pytest

from homecare.sim.clock import SimClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_speed_and_jumps() -> None:
    real = FakeMonotonic()
    clock = SimClock(1_800_000_000.0, speed=60, monotonic=real)
    real.now += 2.0
    assert clock.now() == pytest.approx(1_800_000_120.0)
    assert clock.now_ms() == 1_800_000_120_000
    clock.jump_to(1_800_086_400.0)
    real.now += 1.0
    assert clock.now() == pytest.approx(1_800_086_460.0)
    with pytest.raises(ValueError, match="only jumps forward"):
        clock.jump_to(1_800_000_000.0)
    with pytest.raises(ValueError, match="speed must be positive"):
        SimClock(speed=0)


def test_real_time_by_default() -> None:
    clock = SimClock()
    assert abs(clock.now() - time.time()) < 1.0
