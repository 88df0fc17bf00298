"""Detection logic without a database: settings, NEWS2 bands, "usually up by", baseline statistics, IMU decoding."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from homecare.backend.detection import baseline, vitals
from homecare.backend.detection.activity import usual_up_by
from homecare.backend.detection.config import DEFAULTS, ActivitySettings, BaselineSettings, parse_overrides
from homecare.backend.detection.fall_confirmation import decode_axes, position_for
from homecare.backend.detection.findings import duration_en, duration_zh
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import Metric, Priority


def test_overrides_are_partial_typed_and_strict() -> None:
    settings = parse_overrides({"vitals": {"spo2_low": 83}, "priorities": {"inactivity": 3}})
    assert settings.vitals.spo2_low == 83
    assert settings.vitals.spo2_low_duration_s == DEFAULTS.vitals.spo2_low_duration_s
    assert settings.priority(Cause.INACTIVITY) is Priority.MEDIUM
    assert settings.priority(Cause.NIGHT_DOOR) is Priority.HIGH
    with pytest.raises(ValidationError):
        parse_overrides({"vitals": {"spo2_lowest": 80}})  # a typo is an error, not silence
    with pytest.raises(ValidationError):
        parse_overrides({"activity": {"quiet_max_min": 5}})
    with pytest.raises(ValidationError):
        parse_overrides({"baseline": {"min_days": 40, "history_days": 28}})


def test_default_bands_follow_news2_red_scores() -> None:
    bands = {(b.metric, b.below): b for b in vitals.bands(DEFAULTS.vitals) if b.priority is Priority.HIGH}
    assert bands[(Metric.SPO2, True)].threshold == 91
    assert bands[(Metric.SPO2, True)].duration_s == 120
    assert bands[(Metric.HEART_RATE, True)].threshold == 40
    assert bands[(Metric.HEART_RATE, False)].threshold == 131
    assert bands[(Metric.RESP_RATE, True)].threshold == 8
    assert bands[(Metric.RESP_RATE, False)].threshold == 25
    assert vitals.bands(parse_overrides({"vitals": {"enabled": False}}).vitals) == []


def test_usually_up_by_is_learnt_with_a_default_for_new_residents() -> None:
    settings = ActivitySettings()
    assert usual_up_by([time(6, 10)] * 3, settings).at == time(8, 0)  # too little history: the default
    days = [time(6, 0), time(6, 5), time(6, 12), time(6, 20), time(6, 31), time(6, 8), time(6, 15)]
    learnt = usual_up_by(days, settings)
    assert learnt.learnt_from_days == 7
    assert time(6, 20) <= learnt.at <= time(6, 35)
    assert learnt.at.minute % 5 == 0
    assert usual_up_by(days, ActivitySettings(up_by=time(9, 30))).at == time(9, 30)


def _history(rng: np.random.Generator, days: int) -> np.ndarray:
    return np.column_stack(
        [
            rng.normal(62, 2.5, days),  # night HR
            rng.normal(68, 2, days),  # resting HR
            rng.normal(300, 30, days),  # activity
            rng.normal(4500, 500, days),  # steps
            rng.normal(8, 0.5, days),  # hours asleep
        ]
    )


def test_baseline_names_the_deviation_in_both_languages() -> None:
    rng = np.random.default_rng(1)
    settings = BaselineSettings()
    fitted = baseline.fit(_history(rng, 21), settings)
    assert fitted.envelope_precision is not None
    assert fitted.envelope_precision.shape == (5, 5)
    usual = fitted.median.copy()
    assert baseline.judge(usual, fitted, settings) is None
    feverish = usual.copy()
    feverish[0] = 84
    reason = baseline.judge(feverish, fitted, settings)
    assert reason is not None
    en, zh = reason
    usual_night = round(fitted.median[0])
    assert en == f"night heart rate {84 - usual_night} beats/min above usual ({usual_night})."
    assert zh == f"夜间心率比平时（{usual_night}）高 {84 - usual_night} 次/分。"


def test_a_lasting_departure_is_worded_with_its_days_and_stored_as_a_code_with_parameters() -> None:
    settings = BaselineSettings()
    rng = np.random.default_rng(2)
    start = date(2026, 3, 1)
    by_day: dict[date, tuple[float, np.ndarray]] = {}
    for k in range(24):
        resting = 76.0 + rng.normal(0, 1) + (9 if k >= 22 else 0)  # 9 beats/min up on the last two days
        # A wristband without an activity sensor: activity and hours asleep are unknown (NaN), steps drop a little.
        by_day[start + timedelta(days=k)] = (20.0, np.array([70.0, resting, np.nan, 5000.0 - 100 * (k >= 22), np.nan]))
    verdict = baseline.judge_day(start + timedelta(days=23), by_day, settings)
    assert verdict.verdict == "unusual"
    assert verdict.judgement is not None
    [deviation] = verdict.judgement.deviations
    assert deviation.params() == {
        "feature": "resting_hr", "value": round(deviation.value), "usual": pytest.approx(76, abs=1),
        "spread": pytest.approx(2, abs=1), "days": 2,
    }  # fmt: skip
    change, usual = round(deviation.value - deviation.usual), round(deviation.usual)
    assert verdict.reason == (
        f"resting heart rate {change} beats/min above usual ({usual}) for 2 days.",
        f"静息心率比平时（{usual}）高 {change} 次/分，已连续 2 天。",
    )
    # The first day of it is one day; a day without enough data is not judged.
    assert baseline.judge_day(start + timedelta(days=22), by_day, settings).judgement.deviations[0].days == 1  # type: ignore[union-attr]
    by_day[start + timedelta(days=23)] = (3.0, by_day[start + timedelta(days=23)][1])
    assert baseline.judge_day(start + timedelta(days=23), by_day, settings).verdict == "unknown"


def test_fewer_steps_and_more_sleep_read_naturally() -> None:
    judgement = baseline.Judgement(
        [baseline.Deviation("steps", 2000, 7500, 900, 3), baseline.Deviation("sleep_h", 11, 8, 1)], overall=True
    )
    assert baseline.words(judgement) == (
        "unusual day overall: 5,500 fewer steps than usual (7,500) for 3 days; asleep 3.0 h more than usual (8.0 h).",
        "整体异常：步数比平时（7500）少 5500 步，已连续 3 天；睡眠比平时（8.0 小时）多 3.0 小时。",
    )


def test_baseline_ignores_tiny_changes_of_a_very_regular_resident() -> None:
    history = np.tile([62.0, 68.0, 300.0, 4500.0, 8.0], (10, 1))
    history[:, 0] += np.linspace(-0.5, 0.5, 10)
    settings = BaselineSettings()
    fitted = baseline.fit(history, settings)
    assert fitted.envelope_location is None  # 10 days: robust z-scores only
    day = fitted.median.copy()
    day[0] += 3  # a huge z-score, but 3 beats/min is not worth a visit
    assert baseline.judge(day, fitted, settings) is None
    day[0] += 10
    assert baseline.judge(day, fitted, settings) is not None


def test_judged_day_is_yesterday_in_local_time_from_two_oclock() -> None:
    at = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)  # 01:30 on 11 March in Shanghai
    assert baseline.judged_day(at, "Asia/Shanghai") == date(2026, 3, 9)
    assert baseline.judged_day(at + timedelta(hours=1), "Asia/Shanghai") == date(2026, 3, 10)
    assert baseline.judged_day(at, "Europe/London") == date(2026, 3, 9)


def test_imu_bytes_decode_to_physical_units() -> None:
    raw = np.array([[1000, -2000, 16000], [0, 0, -1]], dtype="<i2").tobytes()
    np.testing.assert_allclose(decode_axes(raw, 0.001), [[1.0, -2.0, 16.0], [0.0, 0.0, -0.001]])
    np.testing.assert_allclose(decode_axes(raw, 0.1), [[100.0, -200.0, 1600.0], [0.0, 0.0, -0.1]])
    with pytest.raises(ValueError, match="whole"):
        decode_axes(raw[:-2], 0.001)
    assert position_for("wristband") == "wrist"
    assert position_for("sos_pendant") == "neck"
    assert position_for("door_sensor") is None


def test_durations_read_naturally() -> None:
    assert duration_en(timedelta(seconds=150)) == "2 min 30 s"
    assert duration_en(timedelta(seconds=720)) == "12 min"
    assert duration_en(timedelta(seconds=90)) == "90 s"
    assert duration_zh(timedelta(hours=3, minutes=5)) == "3 小时 05 分钟"
