"""What the simulated residents take: a common medicine per chronic condition, at fixed local times of day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from typing import Final


@dataclass(frozen=True, slots=True)
class Medicine:
    name: str
    dose: str
    times: tuple[time, ...]  # local times of day
    with_food: bool | None


MEDICINES: Final[dict[str, Medicine]] = {
    "hypertension": Medicine("氨氯地平 Amlodipine", "5 mg", (time(8),), None),
    "diabetes": Medicine("二甲双胍 Metformin", "500 mg", (time(8), time(18)), True),
    "heart_failure": Medicine("呋塞米 Furosemide", "20 mg", (time(8),), False),
    "atrial_fibrillation": Medicine("华法林 Warfarin", "2.5 mg", (time(20),), None),
}
"""The medicine each chronic condition brings (homecare.sim.profiles.Condition values)."""


def medicines(conditions: Iterable[str]) -> list[Medicine]:
    """A resident's medicines, in the order of their conditions."""
    return [MEDICINES[c] for c in conditions if c in MEDICINES]
