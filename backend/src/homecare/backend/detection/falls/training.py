"""Training of the per-position fall models, with whole subjects held out to measure them."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import sklearn
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.model_selection import StratifiedGroupKFold

from homecare.backend.detection.falls import features
from homecare.backend.detection.falls.dataset import TRAINING_FILES, FallDataset
from homecare.backend.detection.falls.evaluation import GroupMetrics, TrialResults, resample
from homecare.backend.detection.falls.features import ImpactWindows
from homecare.backend.detection.falls.model import Assessment, FallModel, Forest

MODEL_VERSION = "1.0.0"
FOLDS = 5
INNER_FOLDS = 4
SEED = 0
REPEATS = 5
"""Cross-validations with different assignments of subjects to folds: WEDA-FALL is small enough to care."""
ROBUSTNESS_RATES = (20.0, 25.0, 100.0)
"""Other sample rates the held-out subjects are replayed at, to show the model does not depend on 50 Hz."""
ADL_WINDOWS_PER_TRIAL = 30
"""Windows kept per ADL trial (largest impacts first), so that long walking trials do not swamp the rest."""
ESTIMATOR = {
    "n_estimators": 300,
    "min_samples_leaf": 2,
    "max_features": "sqrt",
    "class_weight": "balanced",
}

Advance = Callable[[], None]


def _ignore() -> None:
    return None


def trial_windows(dataset: FallDataset, fs: float | None = None, advance: Advance = _ignore) -> list[ImpactWindows]:
    """Impact windows of every trial, optionally after resampling the trial to another rate first."""
    windows = []
    for trial in range(dataset.n_trials):
        acc, rate = dataset.acc_g(trial), dataset.fs
        if fs is not None:
            acc, rate = resample(acc, dataset.fs, fs), fs
        windows.append(features.impact_windows(acc, rate))
        advance()
    return windows


def training_rows(
    label: npt.NDArray[np.int8], windows: Sequence[ImpactWindows], trials: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """The windows a model learns from: the impact of each fall, the largest impacts of each ADL.

    A fall whose largest peak lies too near the recording's edge has no window around its impact,
    and padded recordings are never learnt from (see ``features.impact_windows``).
    """
    rows, labels = [], []
    for trial in trials:
        found = windows[trial]
        if found.padded:
            continue
        if label[trial] == 1:
            if found.largest_inside:
                rows.append(found.features[:1])
                labels.append(1)
        else:
            kept = found.features[:ADL_WINDOWS_PER_TRIAL]
            rows.append(kept)
            labels += [0] * kept.shape[0]
    return np.vstack(rows), np.array(labels, dtype=np.int8)


def export_forest(forest: ExtraTreesClassifier) -> Forest:
    """Copy a fitted scikit-learn tree ensemble into plain arrays."""
    if list(forest.classes_) != [0, 1]:
        raise ValueError("the forest must be fitted on labels 0 (ADL) and 1 (fall)")
    trees = [estimator.tree_ for estimator in forest.estimators_]
    sizes = [tree.node_count for tree in trees]
    values = [tree.value[:, 0, :] for tree in trees]
    return Forest(
        tree_offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        feature=np.concatenate([np.where(t.children_left < 0, -1, t.feature) for t in trees]).astype(np.int16),
        threshold=np.concatenate([np.where(t.children_left < 0, 0.0, t.threshold) for t in trees]),
        left=np.concatenate([t.children_left for t in trees]).astype(np.int32),
        right=np.concatenate([t.children_right for t in trees]).astype(np.int32),
        fall_probability=np.concatenate([v[:, 1] / v.sum(axis=1) for v in values]).astype(np.float32),
    )


def fit_forest(x: npt.NDArray[np.float64], y: npt.NDArray[np.int8], n_jobs: int, seed: int = SEED) -> Forest:
    """Fit the ensemble on feature rows and export it."""
    forest = ExtraTreesClassifier(**ESTIMATOR, n_jobs=n_jobs, random_state=seed)
    return export_forest(forest.fit(x, y))


def choose_threshold(label: npt.NDArray[np.int8], probability: npt.NDArray[np.float64]) -> float:
    """The decision threshold with the best per-trial F1; on a tie the lowest, which favours sensitivity."""
    fall = label == 1
    best_threshold, best_f1 = 0.5, -1.0
    for threshold in np.round(np.arange(0.05, 0.951, 0.01), 2):
        predicted = probability >= threshold
        true_positives = int((fall & predicted).sum())
        errors = int((fall != predicted).sum())
        f1 = 2 * true_positives / (2 * true_positives + errors) if true_positives else 0.0
        if f1 > best_f1:
            best_threshold, best_f1 = float(threshold), f1
    return best_threshold


def _model(position: str, forest: Forest, threshold: float) -> FallModel:
    return FallModel(position=position, version=MODEL_VERSION, threshold=threshold, forest=forest, metadata={})


def _pooled_probability(
    dataset: FallDataset,
    windows: Sequence[ImpactWindows],
    trials: npt.NDArray[np.intp],
    n_jobs: int,
    seed: int,
) -> npt.NDArray[np.float64]:
    """Out-of-fold trial probabilities within ``trials``, subjects held out (the inner loop)."""
    probability = np.zeros(dataset.n_trials)
    splitter = StratifiedGroupKFold(INNER_FOLDS, shuffle=True, random_state=seed)
    for fit_at, test_at in splitter.split(trials, dataset.label[trials], dataset.subject[trials]):
        forest = fit_forest(*training_rows(dataset.label, windows, trials[fit_at]), n_jobs, seed)
        model = _model(dataset.position, forest, 0.5)  # only its probabilities are used here
        for trial in trials[test_at]:
            probability[trial] = model.assess_windows(windows[trial]).probability
    return probability[trials]


@dataclass
class CrossValidation:
    """Held-out results of every trial, at the native rate and the robustness rates."""

    results: dict[float, TrialResults]
    fold_thresholds: list[float]
    fold_subjects: list[list[str]]


def cross_validate(
    dataset: FallDataset,
    windows: dict[float, list[ImpactWindows]],
    n_jobs: int,
    folds: int = FOLDS,
    seed: int = SEED,
    advance: Advance = _ignore,
) -> CrossValidation:
    """Nested, subject-held-out cross-validation.

    Each outer fold picks its threshold by an inner cross-validation over its own training subjects,
    so the held-out subjects influence neither the trees nor the threshold. ``windows`` maps a sample
    rate to the impact windows of every trial recorded at that rate; ``dataset.fs`` must be present.
    """
    native = windows[dataset.fs]
    assessments: dict[float, dict[int, Assessment]] = {rate: {} for rate in windows}
    thresholds = np.zeros(dataset.n_trials)
    fold_thresholds, fold_subjects = [], []
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for fit_at, test_at in splitter.split(np.zeros(dataset.n_trials), dataset.label, dataset.subject):
        threshold = choose_threshold(dataset.label[fit_at], _pooled_probability(dataset, native, fit_at, n_jobs, seed))
        forest = fit_forest(*training_rows(dataset.label, native, fit_at), n_jobs, seed)
        model = _model(dataset.position, forest, threshold)
        for rate, rate_windows in windows.items():
            for trial in test_at:
                assessments[rate][int(trial)] = model.assess_windows(rate_windows[trial])
        thresholds[test_at] = threshold
        fold_thresholds.append(threshold)
        fold_subjects.append(sorted(set(dataset.subject[test_at].tolist())))
        advance()
    trials = range(dataset.n_trials)
    results = {
        rate: TrialResults.from_assessments([held_out[t] for t in trials], thresholds.tolist())
        for rate, held_out in assessments.items()
    }
    return CrossValidation(results=results, fold_thresholds=fold_thresholds, fold_subjects=fold_subjects)


@dataclass
class PositionTraining:
    """A trained model with the figures that describe it."""

    model: FallModel
    dataset: FallDataset
    dataset_file: str
    windows: list[ImpactWindows]
    cross_validation: CrossValidation
    reports: dict[float, dict[str, GroupMetrics]] = field(default_factory=dict)
    """Held-out metrics of the first cross-validation, per sample rate the subjects were replayed at."""
    repeats: list[dict[str, GroupMetrics]] = field(default_factory=list)
    """Held-out metrics at the native rate, one per assignment of subjects to folds."""
    probability_shift: dict[float, float] = field(default_factory=dict)
    """Per robustness rate: 99th percentile of |held-out trial probability - the one at the native rate|."""
    seconds: float = 0.0


def train_position(
    position: str,
    datasets: Path,
    n_jobs: int,
    folds: int = FOLDS,
    on_stage: Callable[[str, int], Advance] = lambda _label, _total: _ignore,
) -> PositionTraining:
    """Cross-validate, then fit on every subject, the model of one sensor position.

    ``on_stage(label, total)`` is called at the start of each stage and returns the callback that
    advances it by one step, for a progress display.
    """
    started = time.monotonic()
    dataset = FallDataset.load(datasets / TRAINING_FILES[position])
    if dataset.position != position:
        raise ValueError(f"{TRAINING_FILES[position]} holds {dataset.position!r} data, not {position!r}")
    windows: dict[float, list[ImpactWindows]] = {}
    for rate in (dataset.fs, *ROBUSTNESS_RATES):
        advance = on_stage(f"{position}: impact windows at {rate:g} Hz", dataset.n_trials)
        windows[rate] = trial_windows(dataset, None if rate == dataset.fs else rate, advance)
    cv = cross_validate(dataset, windows, n_jobs, folds, SEED, on_stage(f"{position}: cross-validation", folds))
    native = cv.results[dataset.fs]
    repeats = [native.report(dataset)]
    advance = on_stage(f"{position}: repeated cross-validation", REPEATS - 1)
    for seed in range(SEED + 1, SEED + REPEATS):
        repeat = cross_validate(dataset, {dataset.fs: windows[dataset.fs]}, n_jobs, folds, seed)
        repeats.append(repeat.results[dataset.fs].report(dataset))
        advance()
    advance = on_stage(f"{position}: final fit", 1)
    threshold = choose_threshold(dataset.label, native.probability)
    forest = fit_forest(*training_rows(dataset.label, windows[dataset.fs], np.arange(dataset.n_trials)), n_jobs)
    advance()
    metadata = {
        "created": datetime.date.today().isoformat(),
        "trained_on": {
            "dataset": dataset.name,
            "source": dataset.source,
            "file": TRAINING_FILES[position],
            "trials": dataset.n_trials,
            "subjects": len(set(dataset.subject.tolist())),
        },
        "estimator": {
            "kind": "ExtraTreesClassifier",
            "scikit_learn": sklearn.__version__,
            **ESTIMATOR,
            "random_state": SEED,
            "adl_windows_per_trial": ADL_WINDOWS_PER_TRIAL,
        },
    }
    model = FallModel(position, MODEL_VERSION, threshold, forest, metadata)
    return PositionTraining(
        model=model,
        dataset=dataset,
        dataset_file=TRAINING_FILES[position],
        windows=windows[dataset.fs],
        cross_validation=cv,
        reports={rate: result.report(dataset) for rate, result in cv.results.items()},
        repeats=repeats,
        probability_shift={
            rate: float(np.percentile(np.abs(result.probability - native.probability), 99))
            for rate, result in cv.results.items()
            if rate != dataset.fs
        },
        seconds=time.monotonic() - started,
    )


def cross_position(model: FallModel, other: PositionTraining) -> dict[str, GroupMetrics]:
    """A model judged on another position's dataset, which it never saw."""
    assessments = [model.assess_windows(windows) for windows in other.windows]
    results = TrialResults.from_assessments(assessments, [model.threshold] * len(assessments))
    report: dict[str, GroupMetrics] = results.report(other.dataset)
    return report
