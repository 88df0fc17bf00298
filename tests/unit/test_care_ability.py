"""GB/T 42195-2022 scoring (parts, total, the five levels at their edges, the standard's adjustments) and how a
month splits into the periods residents are visited in."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from homecare.backend.care.ability import ITEMS, MAX_TOTAL, Adjustment, Level, Part, level_of_total, score
from homecare.backend.care.models import RoundIn
from homecare.backend.care.rounds import month_bounds, periods


def full_marks() -> dict[str, int]:
    return {code: item.max_score for code, item in ITEMS.items()}


def test_the_standard_has_26_items_in_four_parts_worth_90_points() -> None:
    assert len(ITEMS) == 26
    assert MAX_TOTAL == 90
    per_part = {part: sum(i.max_score for i in ITEMS.values() if i.part is part) for part in Part}
    assert per_part == {Part.SELF_CARE: 32, Part.MOBILITY: 15, Part.MENTAL: 28, Part.PERCEPTION: 15}


@pytest.mark.parametrize(
    ("total", "level"),
    [
        (90, Level.INTACT),
        (89, Level.MILD),
        (66, Level.MILD),
        (65, Level.MODERATE),
        (46, Level.MODERATE),
        (45, Level.SEVERE),
        (30, Level.SEVERE),
        (29, Level.LOST),
        (0, Level.LOST),
    ],
)
def test_the_total_maps_to_the_five_levels(total: int, level: Level) -> None:
    assert level_of_total(total) is level


def test_scores_add_up_per_part() -> None:
    items = full_marks() | {"stairs": 0, "memory": 1, "vision": 0}
    scored = score(items, coma=False, dementia=False, risk_events=0)
    assert scored.parts == {Part.SELF_CARE: 32, Part.MOBILITY: 12, Part.MENTAL: 25, Part.PERCEPTION: 13}
    assert scored.total == 82
    assert scored.preliminary_level is scored.level is Level.MILD
    assert scored.adjustments == []


def test_dementia_and_risk_events_each_make_the_level_one_worse_and_coma_makes_it_lost() -> None:
    items = full_marks()
    dementia = score(items, coma=False, dementia=True, risk_events=1)
    assert (dementia.preliminary_level, dementia.level, dementia.adjustments) == (
        Level.INTACT,
        Level.MILD,
        [Adjustment.DEMENTIA],
    )
    both = score(items, coma=False, dementia=True, risk_events=2)
    assert both.level is Level.MODERATE
    assert both.adjustments == [Adjustment.DEMENTIA, Adjustment.RISK_EVENTS]
    low = score(dict.fromkeys(ITEMS, 0), coma=False, dementia=True, risk_events=5)
    assert low.level is Level.LOST  # never past the last level
    coma = score(items, coma=True, dementia=False, risk_events=0)
    assert (coma.total, coma.level, coma.adjustments) == (90, Level.LOST, [Adjustment.COMA])


def test_a_month_is_one_period_or_its_weeks_cut_at_the_edges() -> None:
    start, end = month_bounds("2026-12", today=date(2026, 1, 5))
    assert (start, end) == (date(2026, 12, 1), date(2027, 1, 1))
    assert periods("monthly", start=start, end=end) == [(date(2026, 12, 1), date(2026, 12, 31))]
    weeks = periods("weekly", start=start, end=end)
    assert weeks[0] == (date(2026, 12, 1), date(2026, 12, 6))  # a Tuesday to the Sunday
    assert weeks[1] == (date(2026, 12, 7), date(2026, 12, 13))
    assert weeks[-1] == (date(2026, 12, 28), date(2026, 12, 31))
    assert len(weeks) == 5
    days = sum((last - first).days + 1 for first, last in weeks)
    assert days == 31
    assert month_bounds(None, today=date(2027, 2, 14)) == (date(2027, 2, 1), date(2027, 3, 1))


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "2026-13", "2026-1", "1999-12"])
def test_a_round_is_for_a_month_of_the_platform_s_days(month: str) -> None:
    with pytest.raises(ValidationError):
        RoundIn(month=month)
    assert RoundIn(month="2199-12").month == "2199-12"
