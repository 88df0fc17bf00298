"""The resident model: deterministic days, circadian vital signs, drifts, and a plausible routine."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from homecare.sim.incidents import Fall, NightOut
from homecare.sim.profiles import draw_profile
from homecare.sim.resident import Drift, ResidentModel
from homecare.sim.routine import ASLEEP, Doing, Room, plan_day

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)
MIDNIGHT = datetime(2026, 3, 10, tzinfo=TZ).timestamp()


def _model(index: int, seed: int = 1) -> ResidentModel:
    return ResidentModel(draw_profile(seed, index), seed=seed, tz=TZ, background=False)


def _week(model: ResidentModel) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ts = MIDNIGHT + np.arange(0, 7 * 86400, 60.0)
    return ts, model.vitals(ts)


def test_same_seed_same_everything() -> None:
    a, b = _model(7), _model(7)
    assert a.plan(DAY) == b.plan(DAY)
    for key, values in _week(a)[1].items():
        np.testing.assert_array_equal(values, _week(b)[1][key], err_msg=key)


def test_another_seed_or_resident_differs() -> None:
    base = _week(_model(7))[1]["heart_rate"]
    assert not np.array_equal(base, _week(_model(7, seed=2))[1]["heart_rate"])
    assert not np.array_equal(base, _week(_model(8))[1]["heart_rate"])


def test_sampling_does_not_depend_on_how_time_is_sliced() -> None:
    model = _model(3)
    ts, whole = _week(model)
    fresh = _model(3)
    piecewise = np.concatenate([fresh.vitals(chunk)["heart_rate"] for chunk in np.array_split(ts[::-1], 7)])
    np.testing.assert_array_equal(np.sort(piecewise), np.sort(whole["heart_rate"]))


@pytest.mark.parametrize("index", range(1, 11))
def test_heart_rate_lower_at_night_than_by_day(index: int) -> None:
    ts, v = _week(_model(index))
    hour = ((ts - MIDNIGHT) / 3600) % 24
    night, day = (hour >= 2) & (hour < 5), (hour >= 10) & (hour < 18)
    assert v["heart_rate"][night].mean() < v["heart_rate"][day].mean() - 5
    assert v["asleep"][night].mean() > 0.8 > v["asleep"][day].mean()
    # Distal skin is warmer asleep; breathing slower.
    assert v["skin_temp"][night].mean() > v["skin_temp"][day].mean()
    assert v["resp_rate"][night].mean() < v["resp_rate"][day].mean()


def test_vitals_stay_in_physiological_ranges() -> None:
    for index in range(1, 21):
        _, v = _week(_model(index))
        assert v["heart_rate"].min() >= 38
        assert v["heart_rate"].max() <= 180
        assert v["spo2"].min() >= 70
        assert v["spo2"].max() <= 100
        assert v["skin_temp"].min() >= 26
        assert v["skin_temp"].max() <= 40
        assert (v["steps"] >= 0).all()
        assert (v["activity"] >= 0).all()


def test_heart_rate_follows_effort() -> None:
    model = _model(1)
    ts, v = _week(model)
    walking = np.array([model.activity_at(t).doing in (Doing.WALK, Doing.ERRAND) for t in ts[::10]])
    sitting = np.array([model.activity_at(t).doing is Doing.SIT for t in ts[::10]])
    hr = v["heart_rate"][::10]
    assert walking.any()
    assert hr[walking].mean() > hr[sitting].mean() + 5
    assert v["steps"][::10][walking].mean() > 30 > v["steps"][::10][sitting].mean()


def test_a_day_covers_24_hours_with_sleep_meals_and_toilet_visits() -> None:
    profile = draw_profile(1, 5)
    for offset in range(7):
        plan = plan_day(profile, DAY + timedelta(days=offset), TZ, seed=1)
        spans = [(a.start, a.end) for a in plan.activities]
        assert spans[0][0] == plan.start
        assert spans[-1][1] == plan.end
        assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(spans))
        doing = [a.doing for a in plan.activities]
        assert doing[0] is Doing.SLEEP
        assert doing[-1] is Doing.SLEEP
        assert doing.count(Doing.MEAL) == 3
        assert Doing.TOILET in doing
        asleep_h = sum(a.end - a.start for a in plan.activities if a.doing is Doing.SLEEP) / 3600
        assert 6 < asleep_h < 11


def test_spo2_drift_reaches_its_change_and_holds() -> None:
    model = _model(9)
    before = model.vitals(np.array([MIDNIGHT + 3 * 86400 + 10 * 3600]))["spo2"][0]
    model.add_drift(Drift("spo2", MIDNIGHT, 3.0, -6.0))
    ts = np.array([MIDNIGHT + 3 * 86400 + 10 * 3600])
    assert model.vitals(ts)["spo2"][0] == pytest.approx(before - 6.0)
    halfway = MIDNIGHT + 1.5 * 86400
    undrifted = _model(9).vitals(np.array([halfway]))["spo2"][0]
    assert model.vitals(np.array([halfway]))["spo2"][0] == pytest.approx(undrifted - 3.0)


def test_a_fall_leaves_the_resident_lying_still_with_a_raised_heart_rate() -> None:
    model = _model(7)
    t = MIDNIGHT + 10 * 3600
    calm = model.reading_at(t + 120)
    model.add_incident(Fall(t, room=Room.BATHROOM, lies_for_s=3600))
    lying = model.activity_at(t + 600)
    assert (lying.doing, lying.room) == (Doing.LYING, Room.BATHROOM)
    assert model.activity_at(t - 60).room is Room.BATHROOM  # got there before falling
    after = model.reading_at(t + 120)
    assert after.activity < 10
    assert model.steps_between(t, t + 1800) == 0
    assert after.heart_rate > calm.heart_rate - 15  # stress, not the calm of sitting
    assert model.activity_at(t + 3700).doing is not Doing.LYING


def test_a_night_out_takes_the_resident_outside() -> None:
    model = _model(12)
    t = MIDNIGHT + 2.5 * 3600
    model.add_incident(NightOut(t, minutes=40))
    assert model.activity_at(t - 60).room is Room.HALLWAY
    assert model.activity_at(t + 600).doing is Doing.WANDER
    assert model.activity_at(t + 600).doing not in ASLEEP
    assert model.steps_between(t, t + 1200) > 500
