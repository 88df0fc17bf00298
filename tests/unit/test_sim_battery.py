"""Batteries drain, get charged by habit, die when told to, and mains devices stay full."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from homecare.contracts.messages import DeviceKind
from homecare.sim.battery import SPECS, Battery, ChargingHabit
from homecare.sim.profiles import draw_profile

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, tzinfo=TZ).timestamp()


def test_wristband_drains_about_a_quarter_a_day_without_charging() -> None:
    battery = Battery(SPECS[DeviceKind.WRISTBAND], level=90.0)
    battery.advance_to(T0)
    battery.advance_to(T0 + 86400)
    assert battery.level == pytest.approx(90 - 25, abs=0.5)
    battery.advance_to(T0 + 5 * 86400)
    assert battery.level == 0
    assert not battery.powered


def test_result_does_not_depend_on_step_size() -> None:
    habit = ChargingHabit(1, draw_profile(1, 5), TZ)
    coarse, fine = (
        Battery(SPECS[DeviceKind.WRISTBAND], 60.0, habit),
        Battery(SPECS[DeviceKind.WRISTBAND], 60.0, habit),
    )
    coarse.advance_to(T0)
    fine.advance_to(T0)
    coarse.advance_to(T0 + 7 * 86400)
    for step in range(1, 7 * 24 * 6 + 1):
        fine.advance_to(T0 + step * 600)
    assert fine.level == pytest.approx(coarse.level)
    assert fine.plugs == coarse.plugs


def test_charging_habit_keeps_the_band_alive_and_is_logged() -> None:
    profile = draw_profile(1, 1)
    battery = Battery(SPECS[DeviceKind.WRISTBAND], 50.0, ChargingHabit(1, profile, TZ))
    battery.advance_to(T0)
    lowest = 100.0
    for hour in range(24 * 14):
        battery.advance_to(T0 + hour * 3600)
        lowest = min(lowest, battery.level)
    assert battery.plugs
    assert battery.plugs[0][1] is True
    assert lowest > 0 or profile.forgets_charging > 0.2


def test_killed_battery_dies_on_time_and_recharges_when_told() -> None:
    battery = Battery(SPECS[DeviceKind.WRISTBAND], 80.0, ChargingHabit(1, draw_profile(1, 5), TZ))
    battery.advance_to(T0)
    battery.kill(T0 + 4 * 3600, warning_s=3600, recharge_at=T0 + 6 * 3600)
    battery.advance_to(T0 + 3 * 3600)
    assert battery.level > 70
    battery.advance_to(T0 + 3.5 * 3600)
    assert 20 < battery.level < 50
    battery.advance_to(T0 + 4 * 3600)
    assert not battery.powered
    battery.advance_to(T0 + 5.9 * 3600)
    assert not battery.powered
    battery.advance_to(T0 + 6.5 * 3600)
    assert battery.powered
    assert battery.charging


def test_mains_devices_report_full_and_charging() -> None:
    battery = Battery(SPECS[DeviceKind.HOME_UNIT], level=10.0)
    battery.advance_to(T0)
    battery.advance_to(T0 + 30 * 86400)
    assert (battery.level, battery.charging, battery.powered) == (100.0, True, True)
