"""One file's evaluation: every subject replayed, pooled figures, and optionally planted acute episodes."""

from __future__ import annotations

from typing import Any

from homecare.backend.detection.config import DetectionSettings
from homecare.backend.detection.replay import episodes
from homecare.backend.detection.replay.replay import DEVICE_INTERVAL_S, TICK_S, replay
from homecare.backend.detection.replay.report import SubjectReport, overall
from homecare.backend.detection.replay.series import SeriesFile


def evaluate_file(
    series: SeriesFile,
    settings: DetectionSettings,
    *,
    interval_s: float = DEVICE_INTERVAL_S,
    inject: int = 0,
    copies: int = 1,
    seed: int = 1,
) -> dict[str, Any]:
    """The documented JSON of ``homecare vitals evaluate`` (see ``VITALS_CARD.md``)."""
    subjects = [
        SubjectReport(s, replay(s, settings.vitals, settings.baseline, interval_s)).to_dict() for s in series.subjects
    ]
    payload: dict[str, Any] = {
        "file": str(series.path),
        "dataset": series.dataset,
        "sample_step_s": series.step_s,
        "interval_s": interval_s,
        "tick_s": TICK_S,
        "labelled": series.labelled,
        "settings": {"vitals": settings.vitals.model_dump(), "baseline": settings.baseline.model_dump()},
        "subjects": subjects,
        "overall": overall(subjects),
    }
    if inject:
        payload["injected"] = episodes.evaluate(
            series.subjects, settings.vitals, per_subject=inject, seed=seed, copies=copies, interval_s=interval_s
        )
    return payload
