"""Independent random streams keyed by (seed, purpose, resident, day), so any slice replays identically."""

from __future__ import annotations

import enum

import numpy as np


class Stream(enum.IntEnum):
    """Purposes get their own stream so that adding draws to one never shifts another."""

    PROFILE = 1
    GEOGRAPHY = 2
    ROUTINE = 3
    VITALS = 4
    CHARGING = 5
    INCIDENTS = 6
    IMU = 7
    FLEET = 8
    CARE = 9
    MEDICATION = 10


def rng_for(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """A generator for one (seed, stream, keys…) tuple; non-negative integer keys only."""
    return np.random.default_rng([seed, int(stream), *keys])
