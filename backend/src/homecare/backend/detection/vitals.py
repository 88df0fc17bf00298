"""Vital-sign alarms: NEWS2 bands for pulse, SpO2, respiration and temperature, each with a duration condition.

The bands come from the National Early Warning Score 2 chart (Royal College of Physicians, *National
Early Warning Score (NEWS) 2: Standardising the assessment of acute-illness severity in the NHS*,
London 2017, chart 1 "The NEWS2 scoring system"):

================  =======  =========  =========  ==========  =========  =========  ========
parameter            3         2          1          0           1          2         3
================  =======  =========  =========  ==========  =========  =========  ========
respiration /min   ≤ 8                 9–11       12–20                   21–24      ≥ 25
SpO2 scale 1 %     ≤ 91     92–93      94–95      ≥ 96
SpO2 scale 2 %     ≤ 83     84–85      86–87      88–92 / ≥ 93 on air
pulse /min         ≤ 40                41–50      51–90       91–110     111–130    ≥ 131
temperature °C     ≤ 35.0              35.1–36.0  36.1–38.0   38.1–39.0  ≥ 39.1
================  =======  =========  =========  ==========  =========  =========  ========

A single parameter scoring 3 is NEWS2's "red score" (urgent review), so every score-3 band is a
high-priority alarm after a short duration (default 2 minutes: one minute-rate reading is not enough
for a wrist sensor that moves); score-2 bands raise a medium-priority alarm only when they last
(default 15 minutes). A wristband measures skin temperature, not core temperature, so only the fever
side of the temperature row is used (see ``config.VitalsSettings``). Every threshold and duration is a
per-resident setting, e.g. SpO2 scale 2 for a resident with hypercapnic respiratory failure.

A band holds when every reading of the metric since the start of the run is in it, the readings are
never further apart than ``max_gap_s``, the latest one is fresh, and the run has lasted the duration.
It is over when the latest fresh reading is outside every band of that cause. Without fresh readings
nothing is decided (an alarm stays open: a wristband taken off is not a recovery).

Durations are in seconds, so this reads raw telemetry rather than the minute rollups, whose
resolution cannot tell 90 s from 150 s (and which lag in plain mode). One set-based query: the last
``max_gap_s`` of readings picks the (resident, metric) pairs with a reading in some band or an open
alarm, and only those are read over the longest duration (served by the BRIN index on ``ts``). The
runs are judged by ``judge``, plain NumPy over in-memory readings, which ``homecare vitals evaluate``
also replays real recorded series through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from homecare.backend.detection.config import SettingsBook, VitalsSettings
from homecare.backend.detection.findings import Finding, State, duration_en, duration_zh, hhmm, resident_zone
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import Metric, Priority
from homecare.storage.connections import Conn

METRICS: Final = {
    Cause.VITALS_SPO2: Metric.SPO2,
    Cause.VITALS_PULSE: Metric.HEART_RATE,
    Cause.VITALS_RESPIRATION: Metric.RESP_RATE,
    Cause.VITALS_TEMPERATURE: Metric.SKIN_TEMP,
}
CAUSES: Final = tuple(METRICS)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Band:
    """One duration condition: ``metric`` at or below (``below``) or at or above ``threshold`` for ``duration_s``."""

    cause: Cause
    metric: Metric
    below: bool
    threshold: float
    duration_s: int
    priority: Priority
    at_rest: bool = False
    """A band meant for a resident at rest: readings taken during exertion (see ``exertion``) do not count."""


_NAMES: Final = {
    Metric.SPO2: ("SpO2", "血氧", "%"),
    Metric.HEART_RATE: ("Pulse", "心率", "/min"),
    Metric.RESP_RATE: ("Respiration", "呼吸频率", "/min"),
    Metric.SKIN_TEMP: ("Temperature", "体温", " °C"),
}


def bands(settings: VitalsSettings) -> list[Band]:
    """The duration conditions of one resident, most severe first within each cause."""
    if not settings.enabled:
        return []
    s = settings
    high, medium = Priority.HIGH, Priority.MEDIUM
    return [
        Band(Cause.VITALS_SPO2, Metric.SPO2, True, s.spo2_low, s.spo2_low_duration_s, high),
        Band(Cause.VITALS_SPO2, Metric.SPO2, True, s.spo2_moderate, s.spo2_moderate_duration_s, medium),
        Band(Cause.VITALS_PULSE, Metric.HEART_RATE, True, s.pulse_low, s.pulse_duration_s, high),
        Band(Cause.VITALS_PULSE, Metric.HEART_RATE, False, s.pulse_high, s.pulse_duration_s, high, at_rest=True),
        Band(
            Cause.VITALS_PULSE,
            Metric.HEART_RATE,
            False,
            s.pulse_raised,
            s.pulse_raised_duration_s,
            medium,
            at_rest=True,
        ),
        Band(Cause.VITALS_RESPIRATION, Metric.RESP_RATE, True, s.respiration_low, s.respiration_duration_s, high),
        Band(Cause.VITALS_RESPIRATION, Metric.RESP_RATE, False, s.respiration_high, s.respiration_duration_s, high),
        Band(
            Cause.VITALS_RESPIRATION,
            Metric.RESP_RATE,
            False,
            s.respiration_raised,
            s.respiration_raised_duration_s,
            medium,
        ),
        Band(Cause.VITALS_TEMPERATURE, Metric.SKIN_TEMP, False, s.temperature_high, s.temperature_duration_s, medium),
        Band(Cause.VITALS_TEMPERATURE, Metric.SKIN_TEMP, True, s.temperature_low, s.temperature_duration_s, medium),
    ]


# The readings of every (resident, metric) whose latest readings touch a band of theirs, or whose
# alarm is open, over the window the longest duration needs. Residents with overrides get their own
# bands (resident_id set); the default bands (resident_id NULL) apply to everybody else.
_POINTS: Final = """
WITH bands AS (
    SELECT * FROM unnest(%(resident)s::int[], %(metric)s::smallint[], %(below)s::bool[], %(threshold)s::float8[])
        AS b(resident_id, metric, below, threshold)
),
candidates AS (
    -- Only a (resident, metric) whose latest readings touch a band, or whose alarm is open, can change
    -- anything: a cheap look at the last few minutes spares the longer window for everybody else.
    SELECT DISTINCT t.resident_id, t.metric
    FROM telemetry t
    JOIN bands b ON b.metric = t.metric
     AND (b.resident_id = t.resident_id
          OR (b.resident_id IS NULL AND t.resident_id <> ALL(%(overridden)s::int[])))
    WHERE t.ts > %(recent)s AND t.ts <= %(now)s AND t.resident_id IS NOT NULL
      AND CASE WHEN b.below THEN t.value <= b.threshold ELSE t.value >= b.threshold END
    UNION
    SELECT c.resident_id, m.metric
    FROM detection_conditions c
    JOIN unnest(%(open_causes)s::text[], %(open_metrics)s::smallint[]) AS m(cause, metric) ON m.cause = c.cause
),
wanted AS (
    -- The step counts of a resident whose pulse is read, to tell exertion from a resting pulse.
    SELECT resident_id, metric FROM candidates
    UNION
    SELECT resident_id, %(steps)s::smallint FROM candidates WHERE metric = %(pulse)s
)
SELECT t.resident_id, t.metric, r.timezone,
       array_agg(extract(epoch FROM t.ts)::float8 ORDER BY t.ts), array_agg(t.value::float8 ORDER BY t.ts)
FROM telemetry t
JOIN wanted c ON c.resident_id = t.resident_id AND c.metric = t.metric
JOIN residents r ON r.id = t.resident_id
WHERE t.ts > %(since)s AND t.ts <= %(now)s
GROUP BY t.resident_id, t.metric, r.timezone
"""


def in_band(values: FloatArray, band: Band) -> npt.NDArray[np.bool_]:
    """Which readings are in the band."""
    return values <= band.threshold if band.below else values >= band.threshold


def exertion(
    ts: FloatArray, steps_ts: FloatArray, steps: FloatArray, settings: VitalsSettings
) -> npt.NDArray[np.bool_]:
    """Which readings at ``ts`` were taken during exertion: at least ``exertion_steps`` steps counted in the
    ``exertion_window_s`` up to them (never, when ``exertion_steps`` is 0 or there are no step counts)."""
    if settings.exertion_steps <= 0 or not len(steps_ts):
        return np.zeros(len(ts), dtype=bool)
    total = np.concatenate(([0.0], np.cumsum(steps)))
    upto = np.searchsorted(steps_ts, ts, side="right")
    since = np.searchsorted(steps_ts, ts - settings.exertion_window_s, side="right")
    return np.asarray(total[upto] - total[since] >= settings.exertion_steps)


def run_starts(
    ts: FloatArray, values: FloatArray, band: Band, max_gap_s: float, exerting: npt.NDArray[np.bool_] | None = None
) -> FloatArray:
    """For each reading, the start of the run of in-band readings it ends (NaN when it is outside the band).

    ``ts`` (seconds, ascending) and ``values`` are one metric's readings; a reading outside the band or
    one more than ``max_gap_s`` after the previous reading starts a new run. For a band meant for rest,
    a reading taken during exertion (``exerting``) is not in it.
    """
    hit = in_band(values, band)
    if band.at_rest and exerting is not None:
        hit &= ~exerting
    gap = np.diff(ts, prepend=-np.inf)
    gap[0] = 0.0  # the first reading of a window has no known predecessor: not a break
    previous_hit = np.concatenate(([False], hit[:-1]))
    starts = hit & (~previous_hit | (gap > max_gap_s))
    start = np.maximum.accumulate(np.where(starts, ts, -np.inf))
    return np.where(hit, start, np.nan)


@dataclass(frozen=True, slots=True)
class CauseStates:
    """One cause judged at each of several moments from the same readings."""

    holding: npt.NDArray[np.intp]
    """Index (into the bands given) of the most severe band that holds, -1 when none does."""
    gone: npt.NDArray[np.bool_]
    """A fresh reading outside every band: the condition is over."""
    since: FloatArray
    """Start of the holding band's run (NaN when none holds)."""
    value: FloatArray
    """The latest reading at each moment (NaN without one)."""
    fresh: npt.NDArray[np.bool_]
    """A reading at most ``max_gap_s`` old: without one nothing can be judged."""


def judge(
    ts: FloatArray,
    values: FloatArray,
    cause_bands: list[Band],
    max_gap_s: float,
    at: FloatArray,
    exerting: npt.NDArray[np.bool_] | None = None,
) -> CauseStates:
    """The state of one cause at each moment of ``at`` (seconds), from one metric's readings up to then.

    A band holds when the latest reading is fresh (at most ``max_gap_s`` old), in the band, and its run has
    lasted the band's duration; the cause is over when the latest fresh reading is in no band; otherwise
    (in a band for too short a time, or no fresh reading) nothing is decided. The platform asks about
    ``now``; the evaluator on real series asks about every reading at once. A reading taken during
    exertion (``exerting``) does not count for a band meant for rest, nor does it say the cause is over.
    """
    latest = np.searchsorted(ts, at, side="right") - 1
    known = latest >= 0
    index = np.maximum(latest, 0)
    fresh = known & (at - ts[index] <= max_gap_s) if len(ts) else np.zeros(len(at), dtype=bool)
    holding = np.full(len(at), -1, dtype=np.intp)
    since = np.full(len(at), np.nan)
    in_some_band = np.zeros(len(at), dtype=bool)
    if len(ts):
        # Most severe first: a band only takes the moments no more severe band holds.
        order = sorted(range(len(cause_bands)), key=lambda i: cause_bands[i].priority)
        for i in order:
            band = cause_bands[i]
            start = run_starts(ts, values, band, max_gap_s, exerting)[index]
            in_some_band |= fresh & in_band(values, band)[index]
            counts = fresh & ~np.isnan(start)
            holds = counts & (holding < 0) & (at - np.where(counts, start, at) >= band.duration_s)
            holding[holds] = i
            since[holds] = start[holds]
    value = np.where(known, values[index] if len(ts) else np.nan, np.nan)
    return CauseStates(holding, fresh & ~in_some_band, since, value, fresh)


async def detect(conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]:
    """Findings for every resident with recent vital-sign readings (one per vital-sign cause)."""
    default_settings = _defaults(book)
    per_resident: dict[int | None, tuple[VitalsSettings, list[Band]]] = {
        None: (default_settings, bands(default_settings))
    }
    for resident_id in book.overridden:
        settings = book.for_resident(resident_id).vitals
        per_resident[resident_id] = (settings, bands(settings))
    rows = [(resident_id, band) for resident_id, (_, own) in per_resident.items() for band in own]
    if not rows:
        return []
    longest_gap = max(settings.max_gap_s for settings, _ in per_resident.values())
    longest = max(band.duration_s for _, band in rows) + longest_gap
    exertion_s = max(settings.exertion_window_s for settings, _ in per_resident.values())
    cursor = await conn.execute(
        _POINTS,
        {
            "resident": [r for r, _ in rows],
            "metric": [int(b.metric) for _, b in rows],
            "below": [b.below for _, b in rows],
            "threshold": [float(b.threshold) for _, b in rows],
            "since": now - timedelta(seconds=longest + exertion_s),
            "now": now,
            "recent": now - timedelta(seconds=longest_gap),
            "open_causes": [cause.value for cause in METRICS],
            "open_metrics": [int(metric) for metric in METRICS.values()],
            "overridden": book.overridden,
            "steps": int(Metric.STEPS),
            "pulse": int(Metric.HEART_RATE),
        },
    )
    readings: dict[int, dict[Metric, tuple[FloatArray, FloatArray]]] = {}
    zones: dict[int, str] = {}
    for resident_id, metric, timezone, ts, values in await cursor.fetchall():
        readings.setdefault(resident_id, {})[Metric(metric)] = (
            np.array(ts, dtype=np.float64),
            np.array(values, dtype=np.float64),
        )
        zones[resident_id] = timezone
    at = np.array([now.timestamp()])
    findings = []
    for resident_id, metrics in readings.items():
        settings, own = per_resident.get(resident_id, per_resident[None])
        for cause, (state, cause_bands) in judge_resident(metrics, settings, own, at).items():
            if state.holding[0] >= 0:
                band = cause_bands[int(state.holding[0])]
                since = datetime.fromtimestamp(float(state.since[0]), tz=now.tzinfo)
                findings.append(_alarm(resident_id, band, float(state.value[0]), since, now, zones[resident_id]))
            elif state.gone[0]:
                findings.append(_back_to_normal(resident_id, cause, float(state.value[0])))
            # Otherwise in a band but not for long enough yet, or no fresh readings: nothing decided.
    return findings


def judge_resident(
    readings: dict[Metric, tuple[FloatArray, FloatArray]], settings: VitalsSettings, own: list[Band], at: FloatArray
) -> dict[Cause, tuple[CauseStates, list[Band]]]:
    """Every vital-sign cause of one resident judged at ``at`` from their readings per metric (seconds, values),
    with the bands of each cause: for the platform's every run and for the evaluator on recorded series."""
    judged = {}
    for cause in CAUSES:
        metric = METRICS[cause]
        cause_bands = [b for b in own if b.cause is cause]
        if metric not in readings or not cause_bands:
            continue
        ts, values = readings[metric]
        exerting = None
        if any(b.at_rest for b in cause_bands) and Metric.STEPS in readings:
            exerting = exertion(ts, *readings[Metric.STEPS], settings)
        judged[cause] = (judge(ts, values, cause_bands, settings.max_gap_s, at, exerting), cause_bands)
    return judged


def _defaults(book: SettingsBook) -> VitalsSettings:
    # Resident ids start at 1, so id 0 always has the default settings.
    return book.for_resident(0).vitals


def _fmt(metric: Metric, value: float) -> str:
    return f"{value:.1f}" if metric is Metric.SKIN_TEMP else f"{value:.0f}"


def _alarm(resident_id: int, band: Band, value: float, since: datetime, now: datetime, timezone: str) -> Finding:
    name_en, name_zh, unit = _NAMES[band.metric]
    zone = resident_zone(timezone)
    limit = _fmt(band.metric, band.threshold)
    sign = "≤" if band.below else "≥"
    span = now - since
    return Finding(
        resident_id=resident_id,
        cause=band.cause,
        state=State.HOLDS,
        priority=band.priority,
        explanation_en=(
            f"{name_en} {_fmt(band.metric, value)}{unit}: {sign} {limit}{unit} for {duration_en(span)} "
            f"(since {hhmm(since, zone)})."
        ),
        explanation_zh=(
            f"{name_zh} {_fmt(band.metric, value)}{unit}：{hhmm(since, zone)} 起持续 {duration_zh(span)} "
            f"{sign} {limit}{unit}。"
        ),
    )


def _back_to_normal(resident_id: int, cause: Cause, value: float) -> Finding:
    metric = METRICS[cause]
    name_en, name_zh, unit = _NAMES[metric]
    return Finding(
        resident_id=resident_id,
        cause=cause,
        state=State.GONE,
        explanation_en=f"{name_en} back in range: {_fmt(metric, value)}{unit}.",
        explanation_zh=f"{name_zh}已恢复正常：{_fmt(metric, value)}{unit}。",
    )
