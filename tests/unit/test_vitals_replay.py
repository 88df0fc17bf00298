"""Recorded series replayed through the platform's own vital-sign detectors: the documented JSON, planted episodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from homecare.backend.detection import vitals
from homecare.backend.detection.config import DEFAULTS, VitalsSettings
from homecare.backend.detection.replay import episodes
from homecare.backend.detection.replay.series import Subject
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import Metric
from homecare.launcher.cli import app

DAY = 86_400
START = 1_577_836_800  # 2020-01-01 00:00 in the file's frame


def _spo2_bands() -> list[vitals.Band]:
    return [b for b in vitals.bands(VitalsSettings()) if b.cause is Cause.VITALS_SPO2]


def test_judge_holds_after_the_duration_and_never_across_a_gap() -> None:
    ts = 60.0 * np.arange(10)
    values = np.array([97, 91, 91, 91, 91, 97, 91, 91, 91, 91], dtype=np.float64)
    ts[7:] += 600  # readings 7.. come after a 10-minute gap
    at = np.array([60, 150, 180, 240, 300, 420, 1019, ts[7] + 60, ts[9], ts[9] + 400])
    state = vitals.judge(ts, values, _spo2_bands(), 180, at)
    # 91 % from 60 s: not yet at 150 s, the high band (≤ 91 for 120 s) at 180 s; over at 300 s (97 %).
    assert state.holding.tolist()[:5] == [-1, -1, 0, 0, -1]
    assert state.gone.tolist()[:5] == [False, False, False, False, True]
    # 91 % again from 360 s: 60 s in, in the band but not for long enough, so nothing is decided.
    assert (state.holding[5], state.gone[5]) == (-1, False)
    # Then nothing for 10 minutes: undecided (never over), and after the gap the run starts again.
    assert (state.holding[6], state.gone[6], state.fresh[6]) == (-1, False, False)
    assert (state.holding[7], state.gone[7]) == (-1, False)
    assert state.holding[8] == 0
    assert (state.fresh[9], state.gone[9]) == (False, False)


def _write(path: Path) -> None:
    """Two subjects, 20 days of minutes each: A calm with a 10-minute tachycardia on day 12 and illness dates,
    B calm with a two-day hole in the data and nothing else."""
    rng = np.random.default_rng(3)
    minutes = 20 * 1440
    t = START + 60 * np.arange(minutes)
    hr_a = 62 + rng.normal(0, 2, minutes)
    episode = 12 * 1440 + 600
    hr_a[episode : episode + 10] = 140
    hr_b = 70 + rng.normal(0, 2, minutes)
    hr_b[5 * 1440 : 7 * 1440] = np.nan
    steps = np.where(rng.random(minutes) < 0.1, 30.0, 0.0)
    events = {
        "A": {
            "aligned": True,
            "symptom_onset_t": [START + 15 * DAY],
            "diagnosis_t": [],
            "recovery_t": [START + 18 * DAY],
        },
        "B": {"aligned": False, "symptom_onset_t": [], "diagnosis_t": [], "recovery_t": []},
    }
    np.savez_compressed(
        path,
        subject=np.array(["A", "B"]),
        start=np.array([0, minutes]),
        length=np.array([minutes, minutes]),
        t=np.concatenate([t, t]),
        hr=np.concatenate([hr_a, hr_b]).astype(np.float32),
        steps=np.concatenate([steps, steps]).astype(np.float32),
        events=np.array(json.dumps(events)),
        dataset=np.array("two synthetic wristbands"),
    )


SUBJECT_KEYS = {
    "subject", "hours", "labelled", "onset", "recovery", "alerts", "alerts_by_cause", "healthy_weeks",
    "false_alerts_healthy", "false_alerts_healthy_by_cause", "false_alerts_per_person_week", "illness",
    "not_judgeable",
}  # fmt: skip
OVERALL_KEYS = {
    "subjects", "hours", "alerts", "alerts_by_cause", "alerts_per_hour", "alerts_per_hour_interval", "healthy_weeks",
    "false_alerts_healthy", "false_alerts_healthy_by_cause", "false_alerts_per_person_week",
    "false_alerts_per_person_week_interval", "illness_labelled", "illness_detected", "illness_detected_interval",
    "median_lead_time_days", "healthy_windows_flagged_share", "illness_detected_p_by_chance", "not_judgeable",
}  # fmt: skip


def test_evaluate_command_prints_the_documented_json(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    _write(path)
    result = CliRunner().invoke(app, ["vitals", "evaluate", str(path), "--json", "--inject", "2"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["dataset"] == "two synthetic wristbands"
    assert (payload["interval_s"], payload["tick_s"], payload["sample_step_s"]) == (60, 30, 60)
    assert payload["settings"]["vitals"] == DEFAULTS.vitals.model_dump()
    a, b = payload["subjects"]
    assert set(a) == SUBJECT_KEYS
    assert set(payload["overall"]) == OVERALL_KEYS
    # The tachycardia on day 12 is one alert; it is within 14 days of the onset (day 15), so not a false one.
    assert a["alerts_by_cause"] == {"vitals_pulse": 1}
    assert a["false_alerts_healthy"] == 0
    assert a["healthy_weeks"] == pytest.approx((1 + 2) / 7, abs=1e-3)  # day 0–1 and days 18–20
    assert a["illness"] == {
        "detected": False, "lead_time_days": None, "healthy_windows": 0, "healthy_windows_flagged": 0
    }  # fmt: skip
    assert a["not_judgeable"]["vitals_share"] < 0.001
    # A gap alone raises nothing, and shows as data the detectors could not judge.
    assert (b["alerts"], b["illness"], b["false_alerts_per_person_week"]) == (0, None, None)
    assert b["not_judgeable"]["vitals_share"] == pytest.approx(0.1, abs=0.002)
    assert b["not_judgeable"]["baseline_days_unknown"] >= 9  # the first 7 days of history, and the hole
    overall = payload["overall"]
    assert (overall["subjects"], overall["alerts"], overall["illness_labelled"]) == (2, 1, 1)
    tachycardia = payload["injected"]["kinds"]["tachycardia"]
    assert tachycardia["episodes"] == 4
    assert "desaturation_92" not in payload["injected"]["kinds"]


def test_evaluate_command_rejects_a_file_in_another_format(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    result = CliRunner().invoke(app, ["vitals", "evaluate", str(tmp_path / "other.npz")], env={"COLUMNS": "200"})
    assert result.exit_code != 0
    assert "not a vital-sign series file" in result.output


def _steady(metric: Metric, level: float, seconds: int, missing: slice | None = None) -> Subject:
    t = np.arange(seconds, dtype=np.float64)
    values = np.full(seconds, level) + np.random.default_rng(0).normal(0, 0.4, seconds)
    if missing is not None:
        values[missing] = np.nan
    return Subject("steady", t, {metric: values})


def test_planted_episodes_are_caught_within_minutes_unless_they_fall_in_a_gap() -> None:
    settings = VitalsSettings()
    kind = next(k for k in episodes.KINDS if k.name == "desaturation_88")
    subject = _steady(Metric.SPO2, 97, 6 * 3600)
    planted, found = episodes.plant(subject, kind, 6, np.random.default_rng(1))
    assert len(found) == 6
    for e in found:  # the plateau sits at the drawn level, the rest of the series is untouched
        plateau = (subject.t > e.onset + e.ramp_s) & (subject.t < e.end - e.ramp_s)
        assert np.median(planted.metrics[Metric.SPO2][plateau]) == pytest.approx(e.level, abs=0.3)
        assert kind.level[0] <= e.level <= kind.level[1]
    times = episodes.caught(planted, found, settings)
    assert all(t is not None and t <= 5 * 60 for t in times), times
    # The same episode planted where the wristband sent nothing cannot be seen.
    gap = _steady(Metric.SPO2, 97, 6 * 3600, missing=slice(0, 6 * 3600))
    planted, found = episodes.plant(gap, kind, 3, np.random.default_rng(1))
    assert episodes.caught(planted, found, settings) == [None, None, None]
