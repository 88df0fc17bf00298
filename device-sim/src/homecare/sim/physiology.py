"""Vital signs minute by minute: circadian rhythm, sleep dip, response to effort and noise, vectorised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from homecare.sim.profiles import Condition, ResidentProfile
from homecare.sim.routine import ASLEEP, EFFORT, DayPlan, Doing, Room
from homecare.sim.seeds import Stream, rng_for

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Filters need a few hours of history; the tail of the previous day warms them up so midnight is seamless.
_WARMUP_MIN: Final = 240
_NOISE_ROWS: Final = 7  # hr, spo2, skin temp, resp, stepping, activity, arrhythmia


@dataclass(frozen=True, slots=True)
class DaySeries:
    """One value per minute of a local day, as float arrays (rounded only when sent)."""

    start: float
    heart_rate: FloatArray
    spo2: FloatArray
    skin_temp: FloatArray
    resp_rate: FloatArray
    steps: FloatArray  # steps taken during the minute
    activity: FloatArray  # accelerometer counts per minute
    asleep: BoolArray

    def __len__(self) -> int:
        return len(self.heart_rate)


@dataclass(frozen=True, slots=True)
class _Minutes:
    met: FloatArray
    stepping: FloatArray
    asleep: FloatArray
    outside: FloatArray
    stress: FloatArray  # extra heart rate of someone lying on the floor, fading as they tire


def _per_minute(plan: DayPlan) -> _Minutes:
    n = round((plan.end - plan.start) / 60)
    met, stepping, asleep, outside, stress = (np.zeros(n) for _ in range(5))
    for a in plan.activities:
        i0 = int((a.start - plan.start) // 60)
        i1 = max(int((a.end - plan.start) // 60), i0 + 1)
        effort = EFFORT[a.doing]
        met[i0:i1] = effort.met
        stepping[i0:i1] = effort.stepping
        asleep[i0:i1] = a.doing in ASLEEP
        outside[i0:i1] = a.room is Room.OUTSIDE
        if a.doing is Doing.LYING:
            stress[i0:i1] = 14.0 * np.exp(-np.arange(i1 - i0) / 25.0)
    return _Minutes(met, stepping, asleep, outside, stress)


def _smooth(x: FloatArray, tau_min: float) -> FloatArray:
    """First-order lag (a body that takes `tau_min` minutes to follow), as a causal convolution."""
    a = np.exp(-1.0 / tau_min)
    kernel = (1 - a) * a ** np.arange(int(6 * tau_min) + 1)
    return np.convolve(x, kernel)[: len(x)]


def _red_noise(white: FloatArray, tau_min: float, sd: float) -> FloatArray:
    """Slowly wandering noise of standard deviation `sd` from unit white noise."""
    a = np.exp(-1.0 / tau_min)
    return _smooth(white, tau_min) * float(sd / np.sqrt((1 - a) / (1 + a)))


def _white(profile: ResidentProfile, plan: DayPlan, seed: int) -> FloatArray:
    n = round((plan.end - plan.start) / 60)
    rng = rng_for(seed, Stream.VITALS, profile.index, plan.day.toordinal())
    return rng.standard_normal((_NOISE_ROWS, n))


def day_series(profile: ResidentProfile, plan: DayPlan, previous: DayPlan, seed: int) -> DaySeries:
    """The day's vital signs; `previous` (yesterday's plan) warms up the filters."""
    today, before = _per_minute(plan), _per_minute(previous)
    n = len(today.met)

    def joined(name: str) -> FloatArray:
        return np.concatenate([getattr(before, name)[-_WARMUP_MIN:], getattr(today, name)])

    met, stepping, asleep, outside, stress = (joined(k) for k in ("met", "stepping", "asleep", "outside", "stress"))
    noise = np.concatenate([_white(profile, previous, seed)[:, -_WARMUP_MIN:], _white(profile, plan, seed)], axis=1)
    hours = (np.arange(-_WARMUP_MIN, n) / 60.0) % 24
    # Core-body rhythm: lowest around 04:30, highest late afternoon.
    circadian = np.cos(2 * np.pi * (hours - 16.5) / 24)
    sleep = _smooth(asleep, 20)
    effort = _smooth(met, 1.5) - 1.2

    heart = profile.resting_hr + 3.5 * circadian - 9.0 * sleep + 11.0 * effort + stress
    heart += _red_noise(noise[0], 4, 2.5)
    if profile.has(Condition.ATRIAL_FIBRILLATION):
        heart += 7.0 * noise[6]  # an irregular rhythm: large minute-to-minute scatter

    copd = profile.has(Condition.COPD)
    spo2 = profile.spo2 - (0.9 + 1.5 * copd) * sleep - 1.5 * copd * np.clip(effort, 0, None)
    spo2 += _red_noise(noise[1], 3, 0.6)

    # Distal skin warms when falling asleep (heat loss through the hands) and cools outdoors.
    skin = profile.skin_temp + 1.2 * _smooth(asleep, 30) - 0.25 * circadian
    skin += -0.25 * np.clip(effort, 0, None) - 1.5 * _smooth(outside, 10) + _red_noise(noise[2], 5, 0.12)

    resp = profile.resp_rate - 1.6 * sleep + 2.8 * effort + 0.2 * stress + _red_noise(noise[3], 2, 0.7)

    pace = profile.cadence * stepping * (1 + 0.15 * np.clip(noise[4], -2, 2))
    counts = np.where(
        asleep > 0,
        8.0 * np.abs(noise[5]),  # restless sleep: a few counts
        900.0 * np.clip(met - 1.0, 0, None) * (1 + 0.2 * np.clip(noise[5], -2, 2)),
    )
    cut = slice(_WARMUP_MIN, None)
    return DaySeries(
        start=plan.start,
        heart_rate=np.clip(heart[cut], 38, 180),
        spo2=np.clip(spo2[cut], 70, 100),
        skin_temp=np.clip(skin[cut], 26, 40),
        resp_rate=np.clip(resp[cut], 8, 40),
        steps=np.clip(pace[cut], 0, None),
        activity=np.clip(counts[cut], 0, None),
        asleep=asleep[cut] > 0,
    )
