"""The shipped vital-sign settings are the ones on the card, and still reach the card's figures on the real series."""

from __future__ import annotations

from typing import Any

import pytest

from homecare.backend.detection.cards import section_json
from homecare.backend.detection.config import DEFAULTS
from homecare.backend.detection.falls.dataset import datasets_dir
from homecare.backend.detection.replay import card

FOLDER = datasets_dir()
needs_data = pytest.mark.skipif(
    not all((FOLDER / path).exists() for path in card.FILES.values()),
    reason=f"the shared vital-sign series are not in {FOLDER} (CI has them in ../shared/datasets/vitals)",
)


def test_the_card_lists_the_shipped_settings() -> None:
    shipped = section_json(card.CARD.read_text(), "settings")
    assert shipped == {"vitals": DEFAULTS.vitals.model_dump(), "baseline": DEFAULTS.baseline.model_dump()}, (
        "the settings changed: run `homecare vitals card` and commit VITALS_CARD.md"
    )


def _close(now: Any, then: Any, tolerance: float) -> bool:
    if now is None or then is None:
        return now is then
    return abs(now - then) <= tolerance


@needs_data
def test_the_shipped_settings_reach_the_figures_on_the_card() -> None:
    on_card = section_json(card.CARD.read_text(), "measured")
    now = card.measured(card.measure(FOLDER))
    assert set(now) == set(on_card)
    for name, figures in now.items():
        was = on_card[name]
        overall, before = figures["overall"], was["overall"]
        # Counts may move by a hair with another scikit-learn or NumPy; the figures the card states may not.
        assert _close(overall["false_alerts_per_person_week"], before["false_alerts_per_person_week"], 0.05), name
        assert _close(overall["alerts_per_hour"], before["alerts_per_hour"], 0.002), name
        assert overall["illness_detected"] == before["illness_detected"], name
        assert _close(overall["median_lead_time_days"], before["median_lead_time_days"], 0.5), name
        for subject, alerts in figures["alerts_per_subject"].items():
            assert abs(alerts - was["alerts_per_subject"][subject]) <= max(2, 0.05 * alerts), (name, subject)
        assert set(figures["injected"]) == set(was["injected"])
        for kind, k in figures["injected"].items():
            assert _close(k["recall"], was["injected"][kind]["recall"], 0.02), (name, kind)
            assert _close(k["median_time_to_alert_s"], was["injected"][kind]["median_time_to_alert_s"], 15), (
                name,
                kind,
            )
