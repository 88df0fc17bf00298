"""Who the simulated residents are: age, frailty, chronic conditions and daily habits, drawn from a seed."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np

from homecare.sim.seeds import Stream, rng_for


class Condition(enum.StrEnum):
    """Chronic conditions that change the simulated signals (and interest the detectors)."""

    HYPERTENSION = "hypertension"
    DIABETES = "diabetes"
    COPD = "copd"
    HEART_FAILURE = "heart_failure"
    ATRIAL_FIBRILLATION = "atrial_fibrillation"
    DEMENTIA = "dementia"
    PARKINSONS = "parkinsons"


# Rough prevalence among people over 65 in an urban Chinese district; enough for a realistic mix.
PREVALENCE: Final[dict[Condition, float]] = {
    Condition.HYPERTENSION: 0.55,
    Condition.DIABETES: 0.20,
    Condition.COPD: 0.10,
    Condition.HEART_FAILURE: 0.07,
    Condition.ATRIAL_FIBRILLATION: 0.07,
    Condition.DEMENTIA: 0.07,
    Condition.PARKINSONS: 0.03,
}

_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许邓冯韩曹"
_GIVEN_F: Final = (
    "秀英",
    "桂英",
    "秀兰",
    "玉兰",
    "桂兰",
    "凤英",
    "淑珍",
    "玉珍",
    "美华",
    "丽华",
    "月娥",
    "惠芳",
)
_GIVEN_M: Final = (
    "建国",
    "建华",
    "国强",
    "志明",
    "德明",
    "永福",
    "文华",
    "国华",
    "福生",
    "金根",
    "荣发",
    "根宝",
)


@dataclass(frozen=True, slots=True)
class ResidentProfile:
    """Traits that stay fixed for a resident; everything the physiology and routine models read."""

    index: int
    name: str
    sex: Literal["f", "m"]
    age: int
    frailty: float  # 0 robust … 1 very frail (a continuous stand-in for the Clinical Frailty Scale)
    conditions: frozenset[Condition]
    wanders_at_night: bool
    resting_hr: float  # beats/min, awake and sitting
    spo2: float  # %, awake at rest
    skin_temp: float  # °C at the wrist, awake indoors
    resp_rate: float  # breaths/min at rest
    cadence: float  # steps/min while walking
    wake_hour: float  # local time, hours
    sleep_hour: float
    charge_hour: float  # when the wristband usually goes on its charger
    forgets_charging: float  # chance per day of not charging a wristband that needs it

    def has(self, condition: Condition) -> bool:
        return condition in self.conditions


def draw_profile(seed: int, index: int) -> ResidentProfile:
    """One resident, deterministic from (seed, index)."""
    rng = rng_for(seed, Stream.PROFILE, index)
    sex: Literal["f", "m"] = "f" if rng.random() < 0.6 else "m"
    age = int(np.clip(round(rng.gamma(4.0, 3.2) + 65), 65, 101))
    # Frailty rises with age; a beta draw keeps it in [0, 1] with a long frail tail.
    frailty = float(np.clip(rng.beta(2.0, 5.0) + (age - 75) * 0.012, 0.02, 0.98))
    conditions = frozenset(c for c, p in PREVALENCE.items() if rng.random() < p * (0.7 + frailty))
    surname = _SURNAMES[int(rng.integers(len(_SURNAMES)))]
    given = _GIVEN_F if sex == "f" else _GIVEN_M
    name = surname + given[int(rng.integers(len(given)))]

    resting_hr = rng.normal(70 if sex == "f" else 66, 6) + 4 * (Condition.HEART_FAILURE in conditions)
    spo2 = rng.normal(97.2, 0.8) - 4.5 * (Condition.COPD in conditions) - 1.0 * (Condition.HEART_FAILURE in conditions)
    return ResidentProfile(
        index=index,
        name=name,
        sex=sex,
        age=age,
        frailty=round(frailty, 3),
        conditions=conditions,
        wanders_at_night=Condition.DEMENTIA in conditions and rng.random() < 0.5,
        resting_hr=float(np.clip(resting_hr, 52, 95)),
        spo2=float(np.clip(spo2, 88, 99.2)),
        skin_temp=float(rng.normal(33.2, 0.5)),
        resp_rate=float(np.clip(rng.normal(16.5, 1.5) + 3 * (Condition.COPD in conditions), 12.5, 25)),
        cadence=float(np.clip(rng.normal(105 - 30 * frailty, 6), 55, 120)),
        wake_hour=float(np.clip(rng.normal(6.0, 0.6), 4.5, 8.0)),
        sleep_hour=float(np.clip(rng.normal(21.5, 0.6), 20.0, 23.3)),
        charge_hour=float(rng.choice([7.5, 12.5, 19.5, 20.5])),
        forgets_charging=float(np.clip(0.03 + 0.25 * (Condition.DEMENTIA in conditions) + 0.1 * frailty, 0, 0.5)),
    )


def wanderer(profile: ResidentProfile) -> ResidentProfile:
    """The same resident with dementia who leaves home at night (to guarantee a few per neighbourhood)."""
    return replace(
        profile,
        conditions=profile.conditions | {Condition.DEMENTIA},
        wanders_at_night=True,
    )
