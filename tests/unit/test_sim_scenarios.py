"""Scenario files: every shipped one validates and stages; broken ones fail with a clear message."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from homecare.contracts.messages import DeviceKind, FixSource, MealContext
from homecare.sim.equipment import safe_zones
from homecare.sim.household import MeasurementHappening
from homecare.sim.incidents import Fall
from homecare.sim.scenarios import (
    ScenarioError,
    load_scenario,
    on_present_clock,
    parse_duration,
    prescriptions,
    shipped_scenarios,
    stage,
)

SHIPPED = shipped_scenarios()


def test_at_least_six_scenarios_ship() -> None:
    assert len(SHIPPED) >= 6


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_validates_and_stages(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    hood, jumps = stage(scenario)
    assert len(hood.households) == scenario.residents
    assert all(scenario.begins.timestamp() <= j.at < j.to <= scenario.ends.timestamp() for j in jumps)


def test_fall_scenario_lays_a_fall_into_the_model() -> None:
    scenario = load_scenario(next(p for p in SHIPPED if p.stem == "fall-no-response"))
    hood, _ = stage(scenario)
    at = scenario.time_of("10:00").timestamp()
    model = hood.household(7).model
    falls = [i for i in model.incidents_on(scenario.begins.date()) if isinstance(i, Fall)]
    assert [f.t for f in falls] == [at]
    assert not falls[0].responds


def test_battery_and_offline_steps_change_the_household() -> None:
    scenario = load_scenario(next(p for p in SHIPPED if p.stem == "home-unit-offline"))
    hood, _ = stage(scenario)
    home = hood.household(4)
    at = scenario.time_of("09:00").timestamp()
    assert home.network_up(DeviceKind.HOME_UNIT, at - 1)
    assert not home.network_up(DeviceKind.HOME_UNIT, at + 60)
    assert home.network_up(DeviceKind.HOME_UNIT, at + 41 * 60)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    return path


BASE = """name: broken
description: a test
start: 2026-03-10T09:00:00+08:00
duration: 1h
"""


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ("steps:\n  - {at: '09:10', do: fall, resident: 7, responds: maybe}", "steps[0].fall.responds"),
        ("steps:\n  - {at: '09:10', do: falls, resident: 7}", "does not match any of the expected tags"),
        ("steps:\n  - {at: '25:00', do: sos, resident: 3}", "no such time: '25:00'"),
        ("steps:\n  - {at: '11:00', do: sos, resident: 3}", "is outside the run"),
        ("steps:\n  - {at: '09:10', do: sos, resident: 99}", "names resident 99, but there are 50"),
        (
            "steps:\n  - {at: '09:10', do: sos, resident: 3, colour: red}",
            "colour: Extra inputs are not permitted",
        ),
        (
            "steps:\n  - {at: '09:10', do: battery_dies, resident: 3, device: home_unit}",
            "runs on mains power",
        ),
        ("steps:\n  - {at: '09:10', do: offline, resident: 3, for: soon}", "not a duration: 'soon'"),
        ("steps:\n  - {at: '09:30', do: jump, to: '09:10'}", "must jump forward"),
        ("steps: []", "steps: List should have at least 1 item"),
    ],
)
def test_broken_scenario_names_the_problem(tmp_path: Path, steps: str, expected: str) -> None:
    path = _write(tmp_path, BASE + steps)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_not_yaml_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(_write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(ScenarioError, match="a scenario is a mapping"):
        load_scenario(_write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.yaml")


def test_durations_and_times(tmp_path: Path) -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration(90) == timedelta(seconds=90)
    scenario = load_scenario(_write(tmp_path, BASE + "steps:\n  - {at: '+15m', do: sos, resident: 1}"))
    assert scenario.time_of("+15m") == scenario.begins + timedelta(minutes=15)
    assert scenario.time_of("day 2 08:00") - scenario.begins == timedelta(hours=23)


def test_on_the_present_clock_a_scenario_never_runs_ahead_of_real_time() -> None:
    # Before: every run replayed 2026-03-10, which the platform dead-lettered for clock skew.
    spo2 = load_scenario(next(p for p in SHIPPED if p.stem == "spo2-decline"))  # 3d1h at 60, jumping nights
    now = 1_900_000_000.0
    sos = load_scenario(next(p for p in SHIPPED if p.stem == "sos-cancelled"))
    assert on_present_clock(sos, speed=1, now=now).begins.timestamp() == now  # at speed 1 (no jumps): now
    moved = on_present_clock(spo2, now=now)
    assert moved.speed == spo2.speed
    assert moved.duration == spo2.duration
    # Faster, it starts as far back as it gains, so that its clock reaches the present as the run ends.
    assert moved.begins.timestamp() + moved.duration.total_seconds() - moved.real_duration_s == now
    assert moved.real_duration_s == spo2.real_duration_s < spo2.duration.total_seconds() / spo2.speed  # jumps
    for old, new in zip(spo2.steps, moved.steps, strict=True):
        assert new.at.startswith("+")
        assert moved.time_of(new.at) - moved.begins == spo2.time_of(old.at) - spo2.begins
    hood, jumps = stage(moved)
    clock_at_end = now  # simulated time at the end of the run, real time then being now
    assert all(moved.begins.timestamp() <= j.at < j.to <= clock_at_end for j in jumps)
    assert hood.household(9).record.devices[0].uid == "sc1-r0009-wr"  # its own devices, not the neighbourhood's


def test_the_hypertensive_crisis_is_one_reading_in_the_crisis_band_after_morning_checks_in_range() -> None:
    scenario = load_scenario(next(p for p in SHIPPED if p.stem == "hypertensive-crisis"))
    hood, _ = stage(scenario)
    home = hood.household(6)
    home.advance_to(scenario.begins.timestamp())
    checks = [h for h in home.advance_to(scenario.ends.timestamp()) if isinstance(h, MeasurementHappening)]
    crisis = scenario.time_of("10:30").timestamp()
    assert [(h.t, h.blood_pressure) for h in checks if h.t == crisis] == [(crisis, (196, 114, 96))]
    morning = [h for h in checks if h.t < crisis]
    assert {h.device for h in morning} == {DeviceKind.BLOOD_PRESSURE_MONITOR, DeviceKind.GLUCOSE_METER}
    for h in morning:  # in range: below the crisis band, a fasting glucose above hypoglycaemia
        assert h.blood_pressure is None or (h.blood_pressure[0] < 180 and h.blood_pressure[1] < 120)
        assert h.glucose is None or (h.glucose[0] >= 3.9 and h.glucose[1] is MealContext.FASTING)


def test_the_wandering_resident_walks_out_of_her_home_zone_after_dark_with_her_watch_reporting_often() -> None:
    scenario = load_scenario(next(p for p in SHIPPED if p.stem == "wandering"))
    hood, _ = stage(scenario)
    home = hood.household(42)
    assert DeviceKind.GPS_WATCH in {d.kind for d in home.record.devices}
    [house, neighbourhood] = safe_zones(home.record)
    assert (neighbourhood["active_until"], house["shape"]["radius_m"]) == ("19:00", 120.0)
    home.advance_to(scenario.begins.timestamp())
    before = home.watch_fix(scenario.time_of("19:35").timestamp())
    assert before is not None
    assert (before.source, before.moving) == (FixSource.WIFI, False)
    assert home.watch_interval(before.moving) == 300.0  # still: every five minutes
    out = home.watch_fix(scenario.time_of("19:55").timestamp())
    assert out is not None
    assert (out.source, out.moving) == (FixSource.GNSS, True)
    assert home.watch_interval(out.moving) == 20.0  # walking: every 20 s
    north = (out.lat - home.record.lat) * 111_195
    east = (out.lon - home.record.lon) * 111_195 * math.cos(math.radians(home.record.lat))
    assert math.hypot(north, east) > 300  # well beyond the home's 120 m after a quarter of an hour


def test_the_missed_dose_scenario_has_the_platform_schedule_a_dose_its_resident_never_confirms() -> None:
    scenario = load_scenario(next(p for p in SHIPPED if p.stem == "missed-dose"))
    now = 1_899_999_960.0  # a whole minute
    moved = on_present_clock(scenario, speed=1, now=now)
    [(resident, step, due)] = prescriptions(moved, now=now)
    assert (resident, step.medicine, step.dose) == (4, "二甲双胍 Metformin", "500 mg")
    assert due.timestamp() == now + 120  # two minutes in, on the real clock the platform keeps
    # The schedule's confirmation windows (family, then station) follow the speed, as everything else does: the
    # whole path fits in the scenario at any speed.
    assert step.windows_min(1) == (30, 30)
    assert step.windows_min(scenario.speed) == (3, 3)
    assert step.windows_min(30) == (1, 1)
    assert 2 + sum(step.windows_min(1)) < scenario.duration.total_seconds() / 60
    fast = on_present_clock(scenario, speed=30, now=now)
    [(_, _, fast_due)] = prescriptions(fast, now=now)
    assert fast_due.timestamp() - now <= 60  # two scenario minutes are 4 s: the next whole minute
    hood, _ = stage(moved)
    assert hood.household(4).dose_taken_after(1, int(due.timestamp() * 1000)) is None
    # Elsewhere residents take their medicine a few minutes after the reminder, and forget about one dose in ten.
    other = hood.household(5)
    after = [other.dose_taken_after(1, int(now * 1000) + day * 86_400_000) for day in range(200)]
    forgotten = sum(a is None for a in after)
    assert 5 <= forgotten <= 40
    assert all(60 <= a <= 900 for a in after if a is not None)
