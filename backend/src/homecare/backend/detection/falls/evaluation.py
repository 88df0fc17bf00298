"""Per-trial fall-detection metrics: sensitivity, specificity, F1, false alarms per ADL hour, with intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from homecare.backend.detection.falls import features
from homecare.backend.detection.falls.dataset import FallDataset
from homecare.backend.detection.falls.model import Assessment, FallModel

GROUPS = ("overall", "elderly", "young")
"""Subject groups every report holds; ``overall`` is every trial."""
RATES = ("sensitivity", "specificity", "f1", "false_alarms_per_hour")
"""The figures that get a bootstrap interval."""
BOOTSTRAP_DRAWS = 1000
"""Resamples of the subjects behind each interval."""
BOOTSTRAP_SEED = 0

Interval = tuple[float, float]


@dataclass(frozen=True)
class GroupMetrics:
    """Confusion counts of one group of trials, the rates derived from them and their intervals."""

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
    subjects: int = 0
    intervals: dict[str, Interval | None] = field(default_factory=dict)
    """95% percentile interval of each of ``RATES`` over subjects drawn with replacement."""

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

    def to_dict(self) -> dict[str, Any]:
        """The documented keys of ``homecare falls evaluate --json``, per group."""
        return {
            "trials": self.trials,
            "subjects": self.subjects,
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
            "intervals": {
                rate: None if i is None else [round(i[0], 4), round(i[1], 4)] for rate, i in self.intervals.items()
            },
        }


@dataclass(frozen=True)
class ActivityMetrics:
    """How often the trials of one activity raised an alarm."""

    label: int
    trials: int
    alarmed: int

    @property
    def alarm_rate(self) -> float:
        """Share of the trials detected as falls: sensitivity for a fall type, 1 - specificity for an ADL."""
        return self.alarmed / self.trials


@dataclass(frozen=True)
class Report:
    """Metrics of a set of trials: overall and per age group, and per activity."""

    groups: dict[str, GroupMetrics]
    activities: dict[str, ActivityMetrics]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            **{group: metrics.to_dict() for group, metrics in self.groups.items()},
            "activities": {
                code: {"label": a.label, "trials": a.trials, "alarmed": a.alarmed}
                for code, a in sorted(self.activities.items())
            },
        }


@dataclass(frozen=True)
class TrialInfo:
    """What is known about each trial of one or more datasets, apart from its samples."""

    label: npt.NDArray[np.int8]
    subject: npt.NDArray[np.str_]
    age_group: npt.NDArray[np.str_]
    activity: npt.NDArray[np.str_]
    duration_s: npt.NDArray[np.float64]

    @classmethod
    def of(cls, dataset: FallDataset) -> TrialInfo:
        """The trials of one dataset; subjects are prefixed with its name, so datasets never share one."""
        return cls(
            label=dataset.label,
            subject=np.char.add(f"{dataset.name}/", dataset.subject.astype(np.str_)),
            age_group=dataset.age_group,
            activity=dataset.activity,
            duration_s=dataset.trial_len / dataset.fs,
        )

    def take(self, trials: npt.NDArray[np.intp]) -> TrialInfo:
        """The selected trials."""
        return TrialInfo(*(getattr(self, name)[trials] for name in self.__dataclass_fields__))

    @classmethod
    def concatenate(cls, parts: Sequence[TrialInfo]) -> TrialInfo:
        """Trials of several datasets, one after the other."""
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in cls.__dataclass_fields__))


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


def _rates(tp: Any, fn: Any, tn: Any, fp: Any, alarms: Any, hours: Any) -> dict[str, Any]:
    """The ``RATES`` from counts (scalars or arrays); NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "sensitivity": np.where(tp + fn > 0, tp / (tp + fn), np.nan),
            "specificity": np.where(tn + fp > 0, tn / (tn + fp), np.nan),
            "f1": np.where((tp + fn > 0) & (2 * tp + fp + fn > 0), 2 * tp / (2 * tp + fp + fn), np.nan),
            "false_alarms_per_hour": np.where(hours > 0, alarms / hours, np.nan),
        }


def subject_intervals(
    label: npt.NDArray[np.int8],
    predicted: npt.NDArray[np.bool_],
    alarms: npt.NDArray[np.int64],
    duration_s: npt.NDArray[np.float64],
    subject: npt.NDArray[np.str_],
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Interval | None]:
    """95% intervals of the ``RATES``, drawing whole subjects with replacement (their trials are not independent)."""
    names, index = np.unique(subject, return_inverse=True)
    fall = label == 1

    def per_subject(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        return np.bincount(index, weights=values.astype(np.float64), minlength=names.shape[0]).astype(np.float64)

    counts = [
        per_subject(fall & predicted),
        per_subject(fall & ~predicted),
        per_subject(~fall & ~predicted),
        per_subject(~fall & predicted),
        per_subject(np.where(fall, 0, alarms)),
        per_subject(np.where(fall, 0.0, duration_s)) / 3600.0,
    ]
    draws = np.random.default_rng(seed).integers(0, names.shape[0], size=(BOOTSTRAP_DRAWS, names.shape[0]))
    rates = _rates(*(count[draws].sum(axis=1) for count in counts))
    intervals: dict[str, Interval | None] = {}
    for rate in RATES:
        values = rates[rate][np.isfinite(rates[rate])]
        # Undefined in more than a few draws (e.g. one subject holds every fall): no honest interval.
        intervals[rate] = (
            (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
            if values.shape[0] >= 0.95 * BOOTSTRAP_DRAWS
            else None
        )
    return intervals


def group_metrics(
    label: npt.NDArray[np.int8],
    predicted: npt.NDArray[np.bool_],
    alarms: npt.NDArray[np.int64],
    duration_s: npt.NDArray[np.float64],
    subject: npt.NDArray[np.str_] | None = None,
) -> GroupMetrics:
    """Metrics of one group of trials from their labels, decisions, alarm counts and durations.

    With ``subject`` the rates also get bootstrap intervals over subjects.
    """
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
        subjects=0 if subject is None else len(set(subject.tolist())),
        intervals={}
        if subject is None or label.shape[0] == 0
        else subject_intervals(label, predicted, alarms, duration_s, subject),
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
            alarms=np.array([count_alarms(a, t) for a, t in zip(assessments, thresholds, strict=True)], dtype=np.int64),
        )

    def take(self, trials: npt.NDArray[np.intp]) -> TrialResults:
        """The selected trials."""
        return TrialResults(self.probability[trials], self.predicted[trials], self.alarms[trials])

    def report(self, info: TrialInfo) -> Report:
        """Metrics with subject-bootstrap intervals, overall and per age group, and alarm rates per activity."""
        masks = {
            "overall": np.ones(info.label.shape[0], dtype=bool),
            "elderly": info.age_group == "elderly",
            "young": info.age_group == "young",
        }
        groups = {
            group: group_metrics(
                info.label[mask], self.predicted[mask], self.alarms[mask], info.duration_s[mask], info.subject[mask]
            )
            for group, mask in masks.items()
        }
        activities = {}
        for code in sorted(set(info.activity.tolist())):
            mask = info.activity == code
            activities[str(code)] = ActivityMetrics(
                label=int(info.label[mask].max()), trials=int(mask.sum()), alarmed=int(self.predicted[mask].sum())
            )
        return Report(groups=groups, activities=activities)


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
