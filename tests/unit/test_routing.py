"""The travel-time model, opening hours across midnight, and the ranking of stations."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from homecare.backend.dispatch.routing import (
    StationState,
    haversine_km,
    rank_stations,
    travel_minutes,
    within_hours,
)


def test_haversine_matches_a_known_distance() -> None:
    # The Bund to People's Square, Shanghai: about 1.9 km in a straight line.
    assert haversine_km(31.2400, 121.4900, 31.2325, 121.4720) == pytest.approx(1.88, abs=0.05)
    assert haversine_km(31.0, 121.0, 31.0, 121.0) == 0.0


def test_travel_minutes_is_detoured_distance_at_urban_speed() -> None:
    km = haversine_km(31.0, 121.0, 31.01, 121.0)
    assert travel_minutes(31.0, 121.0, 31.01, 121.0) == pytest.approx(km * 1.4 / 20 * 60)


@pytest.mark.parametrize(
    ("opens", "closes", "local_hour", "expected"),
    [
        (time(8), time(20), 7, False),
        (time(8), time(20), 8, True),
        (time(8), time(20), 20, False),
        (time(20), time(8), 23, True),
        (time(20), time(8), 3, True),
        (time(20), time(8), 12, False),
        (time(0), time(0), 3, True),
    ],
)
def test_opening_hours_in_the_station_zone(opens: time, closes: time, local_hour: int, expected: bool) -> None:
    at = datetime(2026, 6, 1, (local_hour - 8) % 24, 0, tzinfo=UTC)  # Asia/Shanghai is UTC+8
    assert within_hours(opens, closes, "Asia/Shanghai", at) is expected


def _station(ident: int, lat: float, **kw: object) -> StationState:
    base: dict[str, object] = {
        "id": ident,
        "code": f"S{ident}",
        "name": f"S{ident}",
        "lat": lat,
        "lon": 121.0,
        "capacity": 2,
        "opens": time(0),
        "closes": time(0),
        "timezone": "Asia/Shanghai",
        "on_duty": True,
        "active_tasks": 0,
        "on_call": 0,
    }
    base.update(kw)
    return StationState(**base)  # type: ignore[arg-type]


def test_ranking_prefers_the_home_station_then_the_fastest_available() -> None:
    stations = [_station(1, 31.05), _station(2, 31.01), _station(3, 31.02), _station(4, 31.001, on_duty=False)]
    at = datetime(2026, 6, 1, tzinfo=UTC)
    ranked = rank_stations(stations, home_station_id=1, lat=31.0, lon=121.0, at=at)
    assert [c.station_id for c in ranked] == [1, 2, 3, 4]
    busy = [_station(1, 31.05, active_tasks=2), *stations[1:]]
    ranked = rank_stations(busy, home_station_id=1, lat=31.0, lon=121.0, at=at)
    assert [(c.station_id, c.available) for c in ranked] == [(2, True), (3, True), (1, False), (4, False)]
    assert [
        c.station_id for c in rank_stations(busy, home_station_id=1, lat=31.0, lon=121.0, at=at, exclude=frozenset({2}))
    ][:1] == [3]


def test_out_of_hours_a_station_with_people_on_call_still_takes_tasks() -> None:
    night = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 23:00 in Asia/Shanghai
    day = {"opens": time(8), "closes": time(20)}
    stations = [
        _station(1, 31.001, **day),  # nearest, closed, nobody on call
        _station(2, 31.05, **day, on_call=2),  # farther, its two people on call
        _station(3, 31.002, **day, on_call=1, active_tasks=2),  # on call but full
    ]
    ranked = rank_stations(stations, home_station_id=1, lat=31.0, lon=121.0, at=night)
    assert [(c.station_id, c.available, c.why["code"]) for c in ranked] == [
        (2, True, "on_call"),
        (1, False, "closed"),
        (3, False, "at_capacity"),
    ]
    assert ranked[0].why["params"] == {"people": 2, "opens": "08:00", "closes": "20:00"}
    assert ranked[1].why["params"] == {"opens": "08:00", "closes": "20:00"}
