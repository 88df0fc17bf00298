"""The capacity plan: computed from the benchmarks' results, and moving with its inputs as a planner expects."""

from __future__ import annotations

import dataclasses

from bench.capacity import PLAN, CityInputs, measured, plan, render


def _figures(city: CityInputs) -> dict[str, str]:
    return {row.what: row.value for row in plan(city, measured())}


def test_the_committed_plan_is_the_one_the_results_give() -> None:
    assert PLAN.read_text() == render(CityInputs(), measured()), "run `python -m bench.capacity` after a benchmark"


def number(value: str) -> float:
    """A plan's figure as a number ("1,234 MiB" → 1234.0)."""
    return float(value.split()[0].replace(",", ""))


def test_more_residents_need_more_messages_gateways_and_call_cores() -> None:
    city = CityInputs()
    small, large = _figures(city), _figures(dataclasses.replace(city, enrolled_share=city.enrolled_share * 4))
    assert number(large["residents enrolled"]) == 4 * number(small["residents enrolled"])
    assert abs(number(large["messages per second"]) - 4 * number(small["messages per second"])) <= 4  # rounding
    for what in ("gateways (replicas on one shared subscription)", "API cores for calls", "broker nodes"):
        assert number(large[what]) >= number(small[what])
    assert number(large["gateways (replicas on one shared subscription)"]) > number(
        small["gateways (replicas on one shared subscription)"]
    )


def test_a_small_city_still_gets_a_cluster_and_a_spare_gateway() -> None:
    tiny = dataclasses.replace(CityInputs(), enrolled_share=0.0001)
    assert _figures(tiny)["broker nodes"] == str(tiny.cluster_nodes_min)
    assert _figures(tiny)["gateways (replicas on one shared subscription)"] == str(tiny.gateways_min)
