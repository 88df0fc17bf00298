"""Acute episodes planted into real series at seeded random times, and how soon the vital-sign alarms catch them.

Each episode shifts one metric of a real series towards a NEWS2 red-score level and back:

* kinds and levels (the plateau level is drawn uniformly from the range):
  ``tachycardia`` pulse 135–160 /min (NEWS2 ≥ 131 scores 3), ``bradycardia`` 30–39 /min (≤ 40),
  ``desaturation_92`` SpO2 88–91 % (below 92: ≤ 91 scores 3), ``desaturation_88`` SpO2 75–87 % (below 88),
  ``tachypnoea`` respiration 26–36 /min (≥ 25);
* shape: a linear ramp of 30–90 s from the real value to the level, a plateau of 3–10 minutes (shorter
  when the record is: it always fits inside the record), and the same ramp back;
* onset: uniform over the record so that the whole episode fits, episodes of one subject never overlap;
* over the real series: the shift ``weight(t) × (level − median of the real values under the episode)``
  is *added* to the real samples, so their beat-to-beat noise and artefacts stay, and a missing sample
  stays missing (an episode in a gap of the wristband's data is not seen, and counts as missed).

A pulse episode whose plateau starts while the step counts say exertion (``VitalsSettings.exertion_steps``)
is not expected to raise the high-pulse alarms, which are meant for rest; ``episodes_during_exertion``
counts them, and ``recall_at_rest_with_data`` leaves them and the episodes in gaps out.

An episode is caught when its cause holds (the alarm is signalled) at a run of the periodic detectors
between its onset and the end of its ramp back plus ``max_gap_s``; the time to alert is from its onset
(the start of the ramp).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np

from homecare.backend.detection import vitals
from homecare.backend.detection.config import VitalsSettings
from homecare.backend.detection.replay.replay import DEVICE_INTERVAL_S, TICK_S, device_readings, replay_vitals
from homecare.backend.detection.replay.report import proportion_interval
from homecare.backend.detection.replay.series import Subject
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import Metric


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of acute episode: the metric it moves, to what level, and the alarm that should catch it."""

    name: str
    metric: Metric
    level: tuple[float, float]
    cause: Cause
    rest_only: bool = False
    """Caught by bands meant for rest (``Band.at_rest``): not expected during exertion."""


KINDS: Final = (
    Kind("tachycardia", Metric.HEART_RATE, (135.0, 160.0), Cause.VITALS_PULSE, rest_only=True),
    Kind("bradycardia", Metric.HEART_RATE, (30.0, 39.0), Cause.VITALS_PULSE),
    Kind("desaturation_92", Metric.SPO2, (88.0, 91.0), Cause.VITALS_SPO2),
    Kind("desaturation_88", Metric.SPO2, (75.0, 87.0), Cause.VITALS_SPO2),
    Kind("tachypnoea", Metric.RESP_RATE, (26.0, 36.0), Cause.VITALS_RESPIRATION),
)
RAMP_S: Final = (30.0, 90.0)
PLATEAU_S: Final = (180.0, 600.0)


@dataclass(frozen=True, slots=True)
class Episode:
    """One planted episode (times in the series' seconds)."""

    kind: Kind
    onset: float
    ramp_s: float
    plateau_s: float
    level: float

    @property
    def end(self) -> float:
        """End of the ramp back."""
        return self.onset + 2 * self.ramp_s + self.plateau_s

    def weight(self, t: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """0 outside the episode, 1 on the plateau, linear on the ramps."""
        up = (t - self.onset) / self.ramp_s
        down = (self.end - t) / self.ramp_s
        return np.clip(np.minimum(up, down), 0.0, 1.0)


def plant(subject: Subject, kind: Kind, count: int, rng: np.random.Generator) -> tuple[Subject, list[Episode]]:
    """``subject`` with ``count`` non-overlapping episodes of ``kind`` planted (fewer when the record is too short)."""
    if kind.metric not in subject.metrics:
        return subject, []
    t0, span = float(subject.t[0]), subject.span_s
    slot = span / count
    values = subject.metrics[kind.metric].copy()
    episodes = []
    for i in range(count):
        ramp = float(rng.uniform(*RAMP_S))
        longest = min(PLATEAU_S[1], slot - 2 * ramp)
        if longest < PLATEAU_S[0] / 2:
            break
        plateau = float(rng.uniform(min(PLATEAU_S[0], longest), longest))
        onset = t0 + i * slot + float(rng.uniform(0.0, slot - 2 * ramp - plateau))
        episode = Episode(kind, onset, ramp, plateau, float(rng.uniform(*kind.level)))
        weight = episode.weight(subject.t)
        under = weight > 0
        real = values[under]
        if np.isnan(real).all():
            episodes.append(episode)  # entirely in a gap: planted into nothing, and counted
            continue
        values = values + weight * (episode.level - float(np.nanmedian(real)))
        episodes.append(episode)
    metrics = dict(subject.metrics)
    metrics[kind.metric] = values
    return replace(subject, metrics=metrics), episodes


def caught(
    subject: Subject,
    episodes: list[Episode],
    settings: VitalsSettings,
    interval_s: float = DEVICE_INTERVAL_S,
    tick_s: float = TICK_S,
) -> list[float | None]:
    """Seconds from each episode's onset to the first run that signals its cause (None when never)."""
    readings = device_readings(subject, interval_s)
    _, at, holds, _ = replay_vitals(
        readings, settings, float(subject.t[0]), float(subject.t[0] + subject.span_s), tick_s
    )
    times: list[float | None] = []
    for episode in episodes:
        holding = holds.get(episode.kind.cause)
        window = (at >= episode.onset) & (at <= episode.end + settings.max_gap_s)
        hits = np.flatnonzero(window & holding) if holding is not None else np.array([], dtype=np.intp)
        times.append(float(at[hits[0]] - episode.onset) if hits.size else None)
    return times


def _during_exertion(
    subject: Subject, episodes: list[Episode], settings: VitalsSettings, interval_s: float
) -> list[bool]:
    """Whether each episode's plateau starts while the step counts say exertion (a band for rest ignores it)."""
    readings = device_readings(subject, interval_s)
    if Metric.STEPS not in readings or not all(e.kind.rest_only for e in episodes):
        return [False] * len(episodes)
    plateau = np.array([e.onset + e.ramp_s for e in episodes])
    return [bool(v) for v in vitals.exertion(plateau, *readings[Metric.STEPS], settings)]


def evaluate(
    subjects: list[Subject],
    settings: VitalsSettings,
    *,
    per_subject: int,
    seed: int,
    copies: int = 1,
    interval_s: float = DEVICE_INTERVAL_S,
) -> dict[str, Any]:
    """Recall and time to alert per kind of episode, each kind planted into ``copies`` fresh copies of every
    subject (``per_subject`` episodes in each; several copies give short records more than one episode)."""
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {}
    for kind in KINDS:
        times: list[float | None] = []
        in_gap: list[bool] = []
        exerting: list[bool] = []
        for subject in [s for s in subjects for _ in range(copies)]:
            planted, episodes = plant(subject, kind, per_subject, rng)
            if not episodes:
                continue
            values = planted.metrics[kind.metric]
            in_gap += [bool(np.isnan(values[e.weight(subject.t) > 0]).all()) for e in episodes]
            exerting += _during_exertion(planted, episodes, settings, interval_s)
            times.extend(caught(planted, episodes, settings, interval_s))
        if not times:
            continue
        found = [t for t in times if t is not None]
        seen = [t for t, gap, moving in zip(times, in_gap, exerting, strict=True) if not gap and not moving]
        results[kind.name] = {
            "episodes": len(times),
            "episodes_in_gaps": sum(in_gap),
            "episodes_during_exertion": sum(exerting),
            "recall_at_rest_with_data": round(sum(t is not None for t in seen) / len(seen), 4) if seen else None,
            "caught": len(found),
            "recall": round(len(found) / len(times), 4),
            "recall_interval": [round(v, 4) for v in proportion_interval(len(found), len(times))],
            "median_time_to_alert_s": round(float(np.median(found)), 1) if found else None,
            "p90_time_to_alert_s": round(float(np.quantile(found, 0.9)), 1) if found else None,
        }
    return {
        "seed": seed,
        "per_subject": per_subject,
        "copies": copies,
        "ramp_s": list(RAMP_S),
        "plateau_s": list(PLATEAU_S),
        "kinds": results,
        "bands": [
            f"{b.cause.value} {'≤' if b.below else '≥'} {b.threshold:g} for {b.duration_s} s"
            for b in vitals.bands(settings)
        ],
    }
