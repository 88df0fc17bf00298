"""The shipped escalation policy is valid and says what the issue asks; broken policies fail at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from homecare.backend.incidents import PolicyError
from homecare.backend.incidents.policy import FamilyStep, load_policies


def test_the_shipped_policy() -> None:
    policies = load_policies()
    assert policies.fall_recovery_window_s == 45
    urgent = policies.for_priority(1)
    assert urgent.acknowledge.within_s == 60
    assert set(urgent.acknowledge.alert) == {"staff", "supervisor"}
    assert urgent.acknowledge.repeat_every_s == 60
    assert urgent.unreachable.emergency_number == "120"
    assert FamilyStep.ALARM in urgent.family_at
    assert policies.for_priority(4).name == "routine"


def test_an_override_file_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        Path(load_policies.__code__.co_filename)
        .with_name("escalation_policy.yaml")
        .read_text()
        .replace("within_s: 60 ", "within_s: 30 ")
    )
    assert load_policies(path).for_priority(1).acknowledge.within_s == 30


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fall_recovery_window_s: 90\npolicies: []", "fall_recovery_window_s"),
        (
            "policies:\n  - {name: a, priorities: [1], acknowledge: {within_s: 60, alert: [staff], "
            "repeat_every_s: 60, max_repeats: 1}, station: {accept_within_s: 60, max_offers: 1}, "
            "unreachable: {emergency_number: '120'}}",
            "no policy covers priorities",
        ),
        ("policies: [{name: a, typo: 1}]", "typo"),
        (": not yaml : [", "escalation policy"),
    ],
)
def test_invalid_policies_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=problem):
        load_policies(path)
