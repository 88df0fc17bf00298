"""A subject's recorded series, as the wristband would report it, judged by the platform's own detector functions.

The vital-sign alarms are ``vitals.judge`` at every run of the periodic detectors (``TICK_S``) over the
readings the device would have sent (one every ``interval_s``, the sample at that moment, rounded as
the firmware rounds it); the personal baseline is ``baseline.day_features`` over minute rollups of
those readings and ``baseline.judge_day`` at 02:00 of every following day. An alarm is raised when a
cause holds while it was not open, and closed when the detector sees it gone, as
``periodic.run_periodic_detectors`` does; a run without fresh data changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from homecare.backend.detection import baseline, vitals
from homecare.backend.detection.config import BaselineSettings, VitalsSettings
from homecare.backend.detection.replay.series import DAY_S, FloatArray, Subject
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import Metric

TICK_S: Final = 30.0
"""How often the platform runs the periodic detectors (the alarm pipeline's ``periodic_every_s``)."""
DEVICE_INTERVAL_S: Final = 60.0
"""The wristband's telemetry interval as shipped (the simulator's and the firmware's default)."""
JUDGED_AT_S: Final = baseline.JUDGE_AFTER.total_seconds()
_DECIMALS: Final = {Metric.HEART_RATE: 0, Metric.SPO2: 0, Metric.RESP_RATE: 0, Metric.STEPS: 0}
"""The firmware sends whole numbers for these (see ``contracts.messages.Telemetry``)."""

Readings = dict[Metric, tuple[FloatArray, FloatArray]]


@dataclass(frozen=True, slots=True)
class Alert:
    """An alarm raised (a cause that holds while it was not open)."""

    cause: Cause
    at: float
    priority: str


@dataclass(frozen=True, slots=True)
class Replay:
    """What the detectors did over one subject's series."""

    alerts: list[Alert]
    ticks: int
    ticks_without_data: int
    """Runs of the periodic detectors with no fresh heart-rate reading: the vital-sign alarms cannot judge."""
    days: int
    days_unknown: int
    """Days the baseline could not judge (not enough data that day or in the history)."""
    unusual_days: list[float]
    """When each ``unusual`` verdict was given (02:00 after the day judged)."""
    holds: dict[Cause, npt.NDArray[np.bool_]]
    """Per vital-sign cause and run: whether an alarm was signalled then."""
    tick_times: FloatArray


def device_readings(subject: Subject, interval_s: float = DEVICE_INTERVAL_S) -> Readings:
    """The readings a wristband reporting every ``interval_s`` would have sent: one sample per report, rounded;
    a missing sample is a missing reading."""
    step = float(np.median(np.diff(subject.t))) if len(subject.t) > 1 else interval_s
    stride = max(1, round(interval_s / step))
    t = subject.t[::stride]
    readings: Readings = {}
    for metric, values in subject.metrics.items():
        sampled = values[::stride]
        keep = ~np.isnan(sampled)
        if keep.any():
            readings[metric] = (t[keep], np.round(sampled[keep], _DECIMALS.get(metric, 1)))
    return readings


def _open_alarms(holding: npt.NDArray[np.bool_], gone: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Whether the condition is open after each run: set by a run where it holds, closed by one where it is gone."""
    decided = holding | gone
    last = np.maximum.accumulate(np.where(decided, np.arange(len(decided)), -1))
    return np.where(last >= 0, holding[np.maximum(last, 0)], False)


def _raised(open_: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    before = np.concatenate(([False], open_[:-1]))
    return np.flatnonzero(open_ & ~before)


def replay_vitals(
    readings: Readings, settings: VitalsSettings, start: float, end: float, tick_s: float = TICK_S
) -> tuple[list[Alert], FloatArray, dict[Cause, npt.NDArray[np.bool_]], int]:
    """Vital-sign alarms raised over ``[start, end]``, the run times, whether each cause held at each run, and the
    number of runs without a fresh heart-rate reading."""
    at = np.arange(start, end + tick_s, tick_s)
    alerts: list[Alert] = []
    holds: dict[Cause, npt.NDArray[np.bool_]] = {}
    without = len(at)
    for cause, (state, cause_bands) in vitals.judge_resident(readings, settings, vitals.bands(settings), at).items():
        holding = state.holding >= 0
        holds[cause] = holding
        for i in _raised(_open_alarms(holding, state.gone)):
            alerts.append(Alert(cause, float(at[i]), cause_bands[int(state.holding[i])].priority.name.lower()))
        if vitals.METRICS[cause] is Metric.HEART_RATE:
            without = int((~state.fresh).sum())
    return sorted(alerts, key=lambda a: a.at), at, holds, without


def day_minutes(readings: Readings) -> dict[date, baseline.DayMinutes]:
    """Minute rollups (readings and their sum per minute) of the readings, per local day, as storage keeps them.

    The series' time is local wall-clock time counted as if it were UTC (as in the shared files)."""
    days: dict[date, baseline.DayMinutes] = {}
    epoch = datetime(1970, 1, 1, tzinfo=UTC).date()
    for metric in baseline.ROLLUP_METRICS:
        if metric not in readings:
            continue
        ts, values = readings[metric]
        day_index = np.floor(ts / DAY_S).astype(np.int64)
        minute = ((ts - day_index * DAY_S) // 60).astype(np.intp)
        bounds = np.flatnonzero(np.diff(day_index)) + 1
        for part in np.split(np.arange(len(ts)), bounds):
            if not part.size:
                continue
            key = epoch + timedelta(days=int(day_index[part[0]]))
            day = days.setdefault(key, baseline.DayMinutes.empty())
            day.add(metric, minute[part], np.ones(part.size), values[part])
    return days


def replay_baseline(
    readings: Readings, settings: BaselineSettings, start: float, end: float
) -> tuple[list[Alert], int, int, list[float]]:
    """Welfare checks raised by the personal baseline judging every day whose verdict falls in ``[start, end]``:
    the alerts, the days judged, the days it could not judge, and when each unusual verdict was given."""
    by_day = {d: baseline.day_features(m, settings) for d, m in day_minutes(readings).items()}
    epoch = datetime(1970, 1, 1, tzinfo=UTC).date()
    first = (epoch + timedelta(days=int(start // DAY_S))).toordinal()
    alerts: list[Alert] = []
    unusual: list[float] = []
    open_, days, unknown = False, 0, 0
    for ordinal in range(first, first + int((end - start) // DAY_S) + 2):
        day = date.fromordinal(ordinal)
        at = (ordinal - epoch.toordinal() + 1) * DAY_S + JUDGED_AT_S
        if at > end:
            break
        days += 1
        verdict = baseline.judge_day(day, by_day, settings)
        if verdict.verdict == "unusual":
            unusual.append(float(at))
            if not open_:
                alerts.append(Alert(Cause.WELFARE, float(at), "low"))
            open_ = True
        elif verdict.verdict == "usual":
            open_ = False
        else:
            unknown += 1
    return alerts, days, unknown, unusual


def replay(
    subject: Subject,
    vitals_settings: VitalsSettings,
    baseline_settings: BaselineSettings,
    interval_s: float = DEVICE_INTERVAL_S,
    tick_s: float = TICK_S,
) -> Replay:
    """Every periodic detector that reads the wristband's vital signs, over one subject's whole series."""
    readings = device_readings(subject, interval_s)
    start, end = float(subject.t[0]), float(subject.t[0] + subject.span_s)
    alerts, at, holds, without = replay_vitals(readings, vitals_settings, start, end, tick_s)
    welfare, days, unknown, unusual = (
        replay_baseline(readings, baseline_settings, start, end) if baseline_settings.enabled else ([], 0, 0, [])
    )
    return Replay(sorted(alerts + welfare, key=lambda a: a.at), len(at), without, days, unknown, unusual, holds, at)
