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
alarm, and only those are read over the longest duration (served by the BRIN index on ``ts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

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


@dataclass(frozen=True, slots=True)
class Band:
    """One duration condition: ``metric`` at or below (``below``) or at or above ``threshold`` for ``duration_s``."""

    cause: Cause
    metric: Metric
    below: bool
    threshold: float
    duration_s: int
    priority: Priority


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
        Band(Cause.VITALS_PULSE, Metric.HEART_RATE, False, s.pulse_high, s.pulse_duration_s, high),
        Band(Cause.VITALS_PULSE, Metric.HEART_RATE, False, s.pulse_raised, s.pulse_raised_duration_s, medium),
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


# One row per (resident, band) with readings in the window: the start of the current run of in-band
# readings (after the last reading outside the band and the last gap), the latest reading and whether
# it is in the band. Residents with overrides get their own bands (resident_id set); the default
# bands (resident_id NULL) apply to everybody else.
_RUNS: Final = """
WITH bands AS (
    SELECT * FROM unnest(%(resident)s::int[], %(band)s::int[], %(metric)s::smallint[], %(below)s::bool[],
                         %(threshold)s::float8[], %(gap_s)s::float8[])
        AS b(resident_id, band, metric, below, threshold, gap_s)
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
points AS (
    SELECT t.resident_id, t.metric, t.ts, t.value
    FROM telemetry t
    JOIN candidates c ON c.resident_id = t.resident_id AND c.metric = t.metric
    WHERE t.ts > %(since)s AND t.ts <= %(now)s
),
flagged AS (
    SELECT p.resident_id, b.band, p.ts, p.value, b.gap_s,
           CASE WHEN b.below THEN p.value <= b.threshold ELSE p.value >= b.threshold END AS hit,
           extract(epoch FROM p.ts - lag(p.ts) OVER (PARTITION BY p.resident_id, b.band ORDER BY p.ts)) AS gap
    FROM points p
    JOIN bands b ON b.metric = p.metric
     AND (b.resident_id = p.resident_id
          OR (b.resident_id IS NULL AND p.resident_id <> ALL(%(overridden)s::int[])))
),
runs AS (
    -- A reading outside the band, or one after a gap, starts a new run.
    SELECT *, sum(CASE WHEN NOT hit OR gap > gap_s THEN 1 ELSE 0 END)
                  OVER (PARTITION BY resident_id, band ORDER BY ts) AS run
    FROM flagged
),
tagged AS (
    SELECT *, max(run) OVER (PARTITION BY resident_id, band) AS last_run FROM runs
)
SELECT t.resident_id, t.band, max(t.ts) AS last_ts,
       (array_agg(t.hit ORDER BY t.ts DESC))[1] AS last_hit,
       (array_agg(t.value ORDER BY t.ts DESC))[1] AS last_value,
       min(t.ts) FILTER (WHERE t.hit AND t.run = t.last_run) AS run_start,
       r.timezone
FROM tagged t JOIN residents r ON r.id = t.resident_id
GROUP BY t.resident_id, t.band, r.timezone
"""


async def detect(conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]:
    """Findings for every resident with recent vital-sign readings (one per vital-sign cause)."""
    default_bands = bands(_defaults(book))
    rows: list[tuple[int | None, int, Band]] = [(None, i, b) for i, b in enumerate(default_bands)]
    per_resident: dict[int | None, list[Band]] = {None: default_bands}
    max_gap_by_resident: dict[int | None, int] = {None: _defaults(book).max_gap_s}
    for resident_id in book.overridden:
        settings = book.for_resident(resident_id).vitals
        per_resident[resident_id] = bands(settings)
        max_gap_by_resident[resident_id] = settings.max_gap_s
        rows += [(resident_id, i, b) for i, b in enumerate(per_resident[resident_id])]
    if not rows:
        return []
    longest = max(b.duration_s for _, _, b in rows) + max(max_gap_by_resident.values())
    cursor = await conn.execute(
        _RUNS,
        {
            "resident": [r for r, _, _ in rows],
            "band": [i for _, i, _ in rows],
            "metric": [int(b.metric) for _, _, b in rows],
            "below": [b.below for _, _, b in rows],
            "threshold": [float(b.threshold) for _, _, b in rows],
            "since": now - timedelta(seconds=longest),
            "now": now,
            "recent": now - timedelta(seconds=max(max_gap_by_resident.values())),
            "open_causes": [cause.value for cause in METRICS],
            "open_metrics": [int(metric) for metric in METRICS.values()],
            "overridden": book.overridden,
            "gap_s": [float(max_gap_by_resident[r]) for r, _, _ in rows],
        },
    )
    # (resident, cause) → best (most severe) holding band, and whether the cause is clearly over.
    holding: dict[tuple[int, Cause], tuple[Band, float, datetime, str]] = {}
    fresh: dict[tuple[int, Cause], bool] = {}
    in_some_band: dict[tuple[int, Cause], bool] = {}
    latest: dict[tuple[int, Cause], tuple[float, datetime, str]] = {}
    for resident_id, index, last_ts, last_hit, last_value, run_start, timezone in await cursor.fetchall():
        key_bands = per_resident[resident_id] if resident_id in per_resident else per_resident[None]
        band = key_bands[index]
        gap_s = max_gap_by_resident.get(resident_id, max_gap_by_resident[None])
        key = (resident_id, band.cause)
        is_fresh = now - last_ts <= timedelta(seconds=gap_s)
        fresh[key] = fresh.get(key, False) or is_fresh
        latest[key] = (last_value, last_ts, timezone)
        if not is_fresh:
            continue
        if last_hit:
            in_some_band[key] = True
            if run_start is not None and now - run_start >= timedelta(seconds=band.duration_s):
                best = holding.get(key)
                if best is None or band.priority < best[0].priority:
                    holding[key] = (band, last_value, run_start, timezone)
    findings = []
    for key, is_fresh in fresh.items():
        resident_id, cause = key
        if key in holding:
            band, value, since, timezone = holding[key]
            findings.append(_alarm(resident_id, band, value, since, now, timezone))
        elif is_fresh and not in_some_band.get(key, False):
            value, _, _ = latest[key]
            findings.append(_back_to_normal(resident_id, cause, value))
        # Otherwise in a band but not for long enough yet, or no fresh readings: nothing decided.
    return findings


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
