"""Per-trial fall-detection metrics: sensitivity, specificity, F1, false alarms per hour of daily living."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from homecare.backend.detection.falls import features
from homecare.backend.detection.falls.dataset import FallDataset
from homecare.backend.detection.falls.model import Assessment, FallModel

GROUPS = ("overall", "elderly", "young")
"""Subject groups every report holds; ``overall`` is every trial."""


@dataclass(frozen=True)
class GroupMetrics:
    """Confusion counts of one group of trials and the rates derived from them."""

    trials: int
    falls: int
    adls: int
    true_positives: int
    false_negatives: int
    true_negatives: int
    false_positives: int
    adl_hours: float
    false_alarms: int
    """Distinct alarms raised during ADL trials (a long trial can raise several)."""

    @property
    def sensitivity(self) -> float | None:
        """Share of fall trials detected; None without falls."""
        return self.true_positives / self.falls if self.falls else None

    @property
    def specificity(self) -> float | None:
        """Share of ADL trials without an alarm; None without ADLs."""
        return self.true_negatives / self.adls if self.adls else None

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and sensitivity; None when there is nothing to detect or detected."""
        denominator = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 2 * self.true_positives / denominator if self.falls and denominator else None

    @property
    def false_alarms_per_hour(self) -> float | None:
        """Distinct alarms per hour of ADL recording; None without ADL data."""
        return self.false_alarms / self.adl_hours if self.adl_hours else None

    def to_dict(self) -> dict[str, float | int | None]:
        """The documented keys of ``homecare falls evaluate --json``, per group."""
        return {
            "trials": self.trials,
            "falls": self.falls,
            "adls": self.adls,
            "true_positives": self.true_positives,
            "false_negatives": self.false_negatives,
            "true_negatives": self.true_negatives,
            "false_positives": self.false_positives,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "f1": self.f1,
            "adl_hours": round(self.adl_hours, 3),
            "false_alarms": self.false_alarms,
            "false_alarms_per_hour": self.false_alarms_per_hour,
        }


def count_alarms(assessment: Assessment, threshold: float) -> int:
    """Distinct alarms in a recording: windows at or above the threshold, one per window length.

    A device sends one burst per suspected fall, so alarms closer together than a window are one event.
    """
    times = np.sort(assessment.window_peaks_s[assessment.window_probabilities >= threshold])
    alarms, last = 0, -np.inf
    for time in times:
        if time - last >= features.WINDOW_N / features.MODEL_FS:
            alarms, last = alarms + 1, time
    return alarms


def group_metrics(
    label: npt.NDArray[np.int8],
    predicted: npt.NDArray[np.bool_],
    alarms: npt.NDArray[np.int64],
    duration_s: npt.NDArray[np.float64],
) -> GroupMetrics:
    """Metrics of one group of trials from their labels, decisions, alarm counts and durations."""
    fall = label == 1
    return GroupMetrics(
        trials=int(label.shape[0]),
        falls=int(fall.sum()),
        adls=int((~fall).sum()),
        true_positives=int((fall & predicted).sum()),
        false_negatives=int((fall & ~predicted).sum()),
        true_negatives=int((~fall & ~predicted).sum()),
        false_positives=int((~fall & predicted).sum()),
        adl_hours=float(duration_s[~fall].sum()) / 3600.0,
        false_alarms=int(alarms[~fall].sum()),
    )


@dataclass(frozen=True)
class TrialResults:
    """One decision per trial of a dataset, and the alarms each trial raised."""

    probability: npt.NDArray[np.float64]
    predicted: npt.NDArray[np.bool_]
    alarms: npt.NDArray[np.int64]

    @classmethod
    def from_assessments(cls, assessments: Sequence[Assessment], thresholds: Sequence[float]) -> TrialResults:
        """Collect assessments, each judged at its own model's threshold."""
        return cls(
            probability=np.array([a.probability for a in assessments]),
            predicted=np.array([a.probability >= t for a, t in zip(assessments, thresholds, strict=True)]),
            alarms=np.array([count_alarms(a, t) for a, t in zip(assessments, thresholds, strict=True)]),
        )

    def report(self, dataset: FallDataset) -> dict[str, GroupMetrics]:
        """Metrics overall and per age group."""
        duration = dataset.trial_len / dataset.fs
        masks = {
            "overall": np.ones(dataset.n_trials, dtype=bool),
            "elderly": dataset.age_group == "elderly",
            "young": dataset.age_group == "young",
        }
        return {
            group: group_metrics(dataset.label[mask], self.predicted[mask], self.alarms[mask], duration[mask])
            for group, mask in masks.items()
        }


def evaluate(model: FallModel, dataset: FallDataset, on_trial: Callable[[], None] | None = None) -> TrialResults:
    """Run the model over every trial of a dataset through its public ``assess`` call."""
    assessments = []
    for trial in range(dataset.n_trials):
        assessments.append(model.assess(dataset.acc_g(trial), dataset.gyr_dps(trial), dataset.fs))
        if on_trial is not None:
            on_trial()
    return TrialResults.from_assessments(assessments, [model.threshold] * len(assessments))


def resample(signal: npt.ArrayLike, fs: float, to_fs: float) -> npt.NDArray[np.float64]:
    """Resample a recording (n, k) with an anti-alias filter, as a device at that rate might record it."""
    ratio = Fraction(to_fs / fs).limit_denominator(1000)
    return np.asarray(resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator, ratio.denominator, axis=0))
