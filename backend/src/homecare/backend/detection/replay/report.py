"""Figures of a replay: alerts, false alerts per person-week in healthy periods, illness flagged, data not judgeable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
from scipy import stats

from homecare.backend.detection.replay.replay import Alert, Replay
from homecare.backend.detection.replay.series import DAY_S, Subject

WEEK_S: Final = 7 * DAY_S
HEALTHY_BEFORE_ONSET_S: Final = 14 * DAY_S
"""Healthy: up to 14 days before the symptom onset, and from the recovery on."""
DETECTION_WINDOW_S: Final = (-7 * DAY_S, 3 * DAY_S)
"""Illness is flagged by a welfare check given between onset − 7 days and onset + 3 days."""
LEVEL: Final = 0.95


def poisson_interval(count: int, exposure: float) -> tuple[float, float]:
    """Exact (Garwood) 95% interval of a rate from ``count`` events over ``exposure``."""
    alpha = 1 - LEVEL
    low = 0.0 if count == 0 else float(stats.chi2.ppf(alpha / 2, 2 * count)) / 2
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return low / exposure, high / exposure


def proportion_interval(k: int, n: int) -> tuple[float, float]:
    """Exact (Clopper–Pearson) 95% interval of a proportion ``k / n``."""
    alpha = 1 - LEVEL
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def _day(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).date().isoformat()


def healthy_seconds(subject: Subject, start: float, end: float) -> tuple[float, list[tuple[float, float]]]:
    """Seconds of ``[start, end]`` labelled healthy, and those periods (none for a subject without labels)."""
    onset, recovery = subject.labels.onset, subject.labels.recovery
    if onset is None:
        return 0.0, []
    periods = [(start, min(end, onset - HEALTHY_BEFORE_ONSET_S))]
    if recovery is not None:
        periods.append((max(start, recovery), end))
    periods = [(a, b) for a, b in periods if b > a]
    return sum(b - a for a, b in periods), periods


@dataclass(frozen=True, slots=True)
class SubjectReport:
    """One subject's figures (see the JSON documentation in ``VITALS_CARD.md``)."""

    subject: Subject
    replay: Replay

    def to_dict(self) -> dict[str, Any]:
        r, s = self.replay, self.subject
        start, end = float(s.t[0]), float(s.t[0] + s.span_s)
        healthy_s, periods = healthy_seconds(s, start, end)
        healthy_alerts = [a for a in r.alerts if any(lo <= a.at < hi for lo, hi in periods)]
        illness: dict[str, Any] | None = None
        if s.labels.onset is not None:
            lo, hi = s.labels.onset + DETECTION_WINDOW_S[0], s.labels.onset + DETECTION_WINDOW_S[1]
            flagged = [t for t in r.unusual_days if lo <= t <= hi]
            windows, by_chance = _chance(r.unusual_days, periods)
            illness = {
                "detected": bool(flagged),
                "lead_time_days": round((s.labels.onset - flagged[0]) / DAY_S, 2) if flagged else None,
                "healthy_windows": windows,
                "healthy_windows_flagged": by_chance,
            }
        return {
            "subject": s.name,
            "hours": round(s.span_s / 3600, 2),
            "labelled": s.labels.onset is not None,
            "onset": _day(s.labels.onset),
            "recovery": _day(s.labels.recovery),
            "alerts": len(r.alerts),
            "alerts_by_cause": _count(r.alerts),
            "healthy_weeks": round(healthy_s / WEEK_S, 3),
            "false_alerts_healthy": len(healthy_alerts),
            "false_alerts_healthy_by_cause": _count(healthy_alerts),
            "false_alerts_per_person_week": round(len(healthy_alerts) / (healthy_s / WEEK_S), 3) if healthy_s else None,
            "illness": illness,
            "not_judgeable": {
                "vitals_share": round(r.ticks_without_data / r.ticks, 4) if r.ticks else None,
                "baseline_days": r.days,
                "baseline_days_unknown": r.days_unknown,
                "baseline_share": round(r.days_unknown / r.days, 4) if r.days else None,
            },
        }


def _chance(unusual: list[float], periods: list[tuple[float, float]]) -> tuple[int, int]:
    """How many detection windows (10 days, one starting each day) fit in the healthy periods, and how many
    of them hold a welfare check all the same: how often "illness flagged" would be true by chance."""
    width = DETECTION_WINDOW_S[1] - DETECTION_WINDOW_S[0]
    windows = flagged = 0
    for lo, hi in periods:
        for start in np.arange(lo, hi - width + 1, DAY_S):
            windows += 1
            flagged += any(start <= t <= start + width for t in unusual)
    return windows, flagged


def _count(alerts: list[Alert]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.cause.value] = counts.get(alert.cause.value, 0) + 1
    return dict(sorted(counts.items()))


def overall(subjects: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled figures over the subjects, with exact 95% intervals."""
    hours = sum(s["hours"] for s in subjects)
    alerts = sum(s["alerts"] for s in subjects)
    by_cause: dict[str, int] = {}
    healthy_by_cause: dict[str, int] = {}
    for s in subjects:
        for cause, n in s["alerts_by_cause"].items():
            by_cause[cause] = by_cause.get(cause, 0) + n
        for cause, n in s["false_alerts_healthy_by_cause"].items():
            healthy_by_cause[cause] = healthy_by_cause.get(cause, 0) + n
    weeks = sum(s["healthy_weeks"] for s in subjects)
    false = sum(s["false_alerts_healthy"] for s in subjects)
    labelled = [s for s in subjects if s["illness"] is not None]
    detected = [s for s in labelled if s["illness"]["detected"]]
    leads = [s["illness"]["lead_time_days"] for s in detected]
    windows = sum(s["illness"]["healthy_windows"] for s in labelled)
    by_chance = sum(s["illness"]["healthy_windows_flagged"] for s in labelled)
    ticks_share = [
        s["not_judgeable"]["vitals_share"] for s in subjects if s["not_judgeable"]["vitals_share"] is not None
    ]
    days = sum(s["not_judgeable"]["baseline_days"] for s in subjects)
    unknown = sum(s["not_judgeable"]["baseline_days_unknown"] for s in subjects)
    return {
        "subjects": len(subjects),
        "hours": round(hours, 2),
        "alerts": alerts,
        "alerts_by_cause": dict(sorted(by_cause.items())),
        "alerts_per_hour": round(alerts / hours, 4) if hours else None,
        "alerts_per_hour_interval": [round(v, 4) for v in poisson_interval(alerts, hours)] if hours else None,
        "healthy_weeks": round(weeks, 3),
        "false_alerts_healthy": false,
        "false_alerts_healthy_by_cause": dict(sorted(healthy_by_cause.items())),
        "false_alerts_per_person_week": round(false / weeks, 3) if weeks else None,
        "false_alerts_per_person_week_interval": [round(v, 3) for v in poisson_interval(false, weeks)]
        if weeks
        else None,
        "illness_labelled": len(labelled),
        "illness_detected": len(detected),
        "illness_detected_interval": [round(v, 3) for v in proportion_interval(len(detected), len(labelled))]
        if labelled
        else None,
        "median_lead_time_days": round(float(np.median(leads)), 2) if leads else None,
        "healthy_windows_flagged_share": round(by_chance / windows, 3) if windows else None,
        # If the checks fell at random at the rate they fall in healthy windows: the chance of flagging this many.
        "illness_detected_p_by_chance": round(
            float(stats.binom.sf(len(detected) - 1, len(labelled), by_chance / windows)), 4
        )
        if windows and labelled
        else None,
        "not_judgeable": {
            "vitals_share_mean": round(float(np.mean(ticks_share)), 4) if ticks_share else None,
            "baseline_days": days,
            "baseline_days_unknown": unknown,
            "baseline_share": round(unknown / days, 4) if days else None,
        },
    }
