"""Households and the neighbourhood: consistent device reports, enrolment data, determinism."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from homecare.contracts.messages import DeviceKind, EventKind
from homecare.sim.equipment import HEALTH_CHECK_KINDS, HOUSEHOLD_KINDS
from homecare.sim.household import EventHappening, Household, ImuHappening
from homecare.sim.incidents import Fall, FalseFallAlarm, Hazard, NightOut, SosPress
from homecare.sim.neighbourhood import SHANGHAI, build_neighbourhood
from homecare.sim.routine import Room

UID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


def _start(tz: ZoneInfo, hour: float = 0.0) -> float:
    return datetime(2026, 3, 10, tzinfo=tz).timestamp() + hour * 3600


def _events(home: Household, t0: float, t1: float) -> list[EventHappening]:
    home.advance_to(t0)
    return [h for h in home.advance_to(t1) if isinstance(h, EventHappening)]


def test_enrolment_is_complete_and_deterministic() -> None:
    a, b = build_neighbourhood(50, seed=3), build_neighbourhood(50, seed=3)
    assert a.enrolment == b.enrolment
    assert a.enrolment != build_neighbourhood(50, seed=4).enrolment
    e = a.enrolment
    assert len(e.residents) == 50
    # Every home's devices, a blood-pressure monitor or glucose meter for a resident with hypertension or diabetes,
    # and a GPS watch for one who wanders.
    checks = sum(condition in r.conditions for r in e.residents for condition in HEALTH_CHECK_KINDS)
    watches = sum(r.wanders_at_night for r in e.residents)
    assert checks > 0
    assert watches > 0
    assert len(e.devices) == 50 * len(HOUSEHOLD_KINDS) + checks + watches
    assert {d.kind for d in e.devices if d.kind is DeviceKind.GPS_WATCH} == {DeviceKind.GPS_WATCH}
    assert 2 <= len(e.stations) <= 12
    uids = [d.uid for d in e.devices]
    assert len(set(uids)) == len(uids)
    assert all(UID.match(u) for u in uids)
    assert "r0007-wr" in uids
    assert "r0007-hu" in uids
    assert "r0007-mot" in uids
    assert len({d.secret for d in e.devices}) == len(uids)
    stations = {s.code for s in e.stations}
    for r in e.residents:
        assert r.station in stations
        assert abs(r.lat - SHANGHAI[0]) < 0.1
        assert abs(r.lon - SHANGHAI[1]) < 0.1
    assert sum(r.wanders_at_night for r in e.residents) >= 2
    assert any(r.conditions for r in e.residents)
    assert any(r.frailty > 0.4 for r in e.residents)


def test_a_day_of_reports_is_consistent() -> None:
    hood = build_neighbourhood(10, seed=1, background_incidents=False)
    for home in hood.households.values():
        events = _events(home, _start(hood.tz), _start(hood.tz, 24))
        kinds = Counter(e.kind for e in events)
        assert abs(kinds[EventKind.BED_EXIT] - kinds[EventKind.BED_RETURN]) <= 1
        assert kinds[EventKind.DOOR_OPEN] == kinds[EventKind.DOOR_CLOSED]
        assert kinds[EventKind.BED_EXIT] >= 1
        assert kinds[EventKind.MOTION] > 20
        assert [e.t for e in events] == sorted(e.t for e in events)
        devices = {e.kind: e.device for e in events}
        assert devices[EventKind.MOTION] is DeviceKind.MOTION_SENSOR
        assert devices[EventKind.BED_EXIT] is DeviceKind.BED_SENSOR
        # Door events come in open/closed pairs a few seconds apart.
        doors = [e for e in events if e.device is DeviceKind.DOOR_SENSOR]
        for opened, closed in zip(doors[::2], doors[1::2], strict=True):
            assert (opened.kind, closed.kind) == (EventKind.DOOR_OPEN, EventKind.DOOR_CLOSED)
            assert 0 < closed.t - opened.t < 30


def test_reports_are_the_same_however_time_is_advanced() -> None:
    one, two = build_neighbourhood(3, seed=5), build_neighbourhood(3, seed=5)
    t0 = _start(one.tz)
    whole = _events(one.household(2), t0, t0 + 86400)
    two.household(2).advance_to(t0)
    sliced = [h for k in range(1, 24 * 12 + 1) for h in two.household(2).advance_to(t0 + k * 300)]
    assert whole == [h for h in sliced if isinstance(h, EventHappening)]


def test_a_fall_is_reported_by_wristband_with_imu_and_by_the_radar_in_its_room() -> None:
    hood = build_neighbourhood(8, seed=1, background_incidents=False)
    home = hood.household(7)
    room = Room(home.device(DeviceKind.FALL_SENSOR).room or "")
    t = _start(hood.tz, 10)
    home.add_incident(Fall(t, room=room, responds=True, response_after_s=15, lies_for_s=120))
    home.advance_to(t - 60)
    found = home.advance_to(t + 120)
    wrist = [h for h in found if h.device is DeviceKind.WRISTBAND]
    alarm = next(h for h in wrist if isinstance(h, EventHappening) and h.kind is EventKind.FALL_DETECTED)
    imu = next(h for h in wrist if isinstance(h, ImuHappening))
    ok = next(h for h in wrist if isinstance(h, EventHappening) and h.kind is EventKind.IM_OK)
    assert imu.event == alarm.key
    assert imu.t0 < t < imu.t
    assert imu.t - alarm.t < 15
    assert ok.cancels == alarm.key
    assert ok.t == pytest.approx(t + 15)
    radar = [h for h in found if h.device is DeviceKind.FALL_SENSOR]
    assert len(radar) == 1
    assert isinstance(radar[0], EventHappening)
    assert radar[0].room == room.value
    motion_while_lying = [h for h in found if h.device is DeviceKind.MOTION_SENSOR and t + 5 < h.t < t + 120]
    assert not motion_while_lying


def test_a_pendant_fall_is_reported_by_the_pendant_with_its_imu_burst() -> None:
    hood = build_neighbourhood(8, seed=1, background_incidents=False)
    home = hood.household(3)
    t = _start(hood.tz, 10)
    home.add_incident(Fall(t, responds=False, lies_for_s=600, device=DeviceKind.SOS_PENDANT))
    home.add_incident(FalseFallAlarm(t + 3600, response_after_s=10, device=DeviceKind.SOS_PENDANT))
    home.advance_to(t - 60)
    found = home.advance_to(t + 3700)
    assert not [h for h in found if h.device is DeviceKind.WRISTBAND and isinstance(h, ImuHappening)]
    pendant = [h for h in found if h.device is DeviceKind.SOS_PENDANT]
    alarms = [h for h in pendant if isinstance(h, EventHappening) and h.kind is EventKind.FALL_DETECTED]
    bursts = [h for h in pendant if isinstance(h, ImuHappening)]
    assert len(alarms) == 2
    assert [b.event for b in bursts] == [a.key for a in alarms]
    ok = [h for h in pendant if isinstance(h, EventHappening) and h.kind is EventKind.IM_OK]
    assert [h.cancels for h in ok] == [alarms[1].key]  # the knock is cancelled, the fall is not


def test_presses_hazards_and_false_alarms() -> None:
    hood = build_neighbourhood(4, seed=1, background_incidents=False)
    home = hood.household(3)
    t = _start(hood.tz, 15)
    home.add_incident(SosPress(t, DeviceKind.SOS_PENDANT, cancel_after_s=25))
    home.add_incident(Hazard(t + 60, EventKind.SMOKE, Room.KITCHEN))
    home.add_incident(FalseFallAlarm(t + 120, response_after_s=8))
    events = [e for e in _events(home, t - 1, t + 200) if e.kind is not EventKind.MOTION]
    by_kind = {(e.device, e.kind): e for e in events}
    sos = by_kind[DeviceKind.SOS_PENDANT, EventKind.SOS]
    assert by_kind[DeviceKind.SOS_PENDANT, EventKind.IM_OK].cancels == sos.key
    assert by_kind[DeviceKind.HOME_UNIT, EventKind.SMOKE].room == "kitchen"
    knock = by_kind[DeviceKind.WRISTBAND, EventKind.FALL_DETECTED]
    assert knock.confidence is not None
    assert knock.confidence < 0.75
    assert by_kind[DeviceKind.WRISTBAND, EventKind.IM_OK].cancels == knock.key


def test_wandering_opens_the_door_and_reports_a_position_away_from_home() -> None:
    hood = build_neighbourhood(12, seed=1, background_incidents=False)
    home = hood.household(12)
    t = _start(hood.tz, 2.5)
    home.add_incident(NightOut(t, minutes=90))
    events = _events(home, t - 600, t + 1800)
    kinds = [e.kind for e in events]
    assert EventKind.BED_EXIT in kinds
    assert EventKind.DOOR_OPEN in kinds
    values = home.telemetry(t + 1800, t + 1740)
    assert values is not None
    assert values.location is not None
    lat, lon, _ = values.location
    assert abs(lat - home.record.lat) + abs(lon - home.record.lon) > 0.003  # several hundred metres
    assert home.telemetry(t - 3600, t - 3660) is not None
    assert home.position(t - 3600) is None


def test_the_band_comes_off_to_charge_and_reports_nothing_meanwhile() -> None:
    hood = build_neighbourhood(5, seed=1, background_incidents=False)
    t0 = _start(hood.tz)
    home = hood.household(1)
    home.advance_to(t0)
    removed = next(
        h.t
        for hour in range(1, 24 * 7)
        for h in home.advance_to(t0 + hour * 3600)
        if isinstance(h, EventHappening) and h.kind is EventKind.WEARABLE_REMOVED
    )
    again = build_neighbourhood(5, seed=1, background_incidents=False).household(1)
    again.advance_to(t0)
    again.advance_to(removed - 60)
    assert again.worn()
    assert again.telemetry(removed - 60, removed - 120) is not None
    found = again.advance_to(removed + 60)
    assert [h.kind for h in found if isinstance(h, EventHappening) and h.device is DeviceKind.WRISTBAND] == [
        EventKind.WEARABLE_REMOVED
    ]
    assert not again.worn()
    assert again.batteries[DeviceKind.WRISTBAND].charging
    assert again.telemetry(removed + 60, removed) is None
