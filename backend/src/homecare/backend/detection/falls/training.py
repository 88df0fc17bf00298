"""Training of the per-position fall models on every dataset of their position, and their held-out evaluation."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from homecare.backend.detection.falls import features
from homecare.backend.detection.falls.dataset import TRAINING_FILES, FallDataset
from homecare.backend.detection.falls.evaluation import TrialInfo, TrialResults, count_alarms, resample
from homecare.backend.detection.falls.features import ImpactWindows
from homecare.backend.detection.falls.model import BoostedTrees, FallModel, preprocessing

MODEL_VERSION = "3.0.0"
FOLDS = 5
INNER_FOLDS = 3
SEED = 0
ROBUSTNESS_RATES = (20.0,)
"""Other sample rates the held-out subjects are replayed at, to show the model does not depend on 50 Hz."""
EDGE_S = 0.5
"""For the blind-spot check, held-out recordings are cut to start (or end) this long before (after) their impact."""
AUGMENT_MAX_S = 2.0
"""Training also sees every trial cut at a random margin up to this before or after its impact."""
AUGMENTATIONS = ("start~", "end~")
ADL_WINDOWS_PER_TRIAL = 20
"""Windows kept per ADL trial (largest impacts first), so that long walking trials do not swamp the rest."""
ESTIMATOR = {
    "max_iter": 300,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "l2_regularization": 1.0,
    "class_weight": "balanced",
    "early_stopping": False,
}
"""Gradient-boosted trees, which beat model 2's ExtraTrees with subjects held out at every position (the
model card's "Training" gives the figures). No early stopping, whose validation split would tie the trees
to the row order."""


Advance = Callable[[], None]
OnStage = Callable[[str, int], Advance]


def _ignore() -> None:
    return None


def _no_progress(_label: str, _total: int) -> Advance:
    return _ignore


def cache_dir() -> Path:
    """Where prepared impact windows are kept between runs: ``$HOMECARE_FALLS_CACHE`` or the temp folder."""
    return Path(os.environ.get("HOMECARE_FALLS_CACHE") or Path(tempfile.gettempdir()) / "homecare-falls-cache")


def _cache_key(path: Path, variant: str) -> str:
    stat = path.stat()
    recipe = {
        "file": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "variant": variant,
        "preprocessing": preprocessing(),
        "features": features.FEATURE_NAMES,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:24]


def _save_windows(path: Path, windows: Sequence[ImpactWindows]) -> None:
    counts = np.array([w.peak_s.shape[0] for w in windows], dtype=np.int64)
    partial = path.with_suffix(".partial.npz")
    np.savez(
        partial,
        counts=counts,
        peak_s=np.concatenate([w.peak_s for w in windows]),
        features=np.vstack([w.features for w in windows]),
        duration_s=np.array([w.duration_s for w in windows]),
    )
    partial.replace(path)


def _load_windows(path: Path) -> list[ImpactWindows]:
    with np.load(path, allow_pickle=False) as archive:
        counts, peak_s, rows, duration = (archive[k] for k in ("counts", "peak_s", "features", "duration_s"))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [
        ImpactWindows(peak_s=peak_s[a:b], features=rows[a:b], duration_s=float(d))
        for a, b, d in zip(bounds[:-1], bounds[1:], duration, strict=True)
    ]


def crop_at_impact(acc: npt.NDArray[np.float64], fs: float, edge: str, margin_s: float) -> npt.NDArray[np.float64]:
    """The recording cut so that its largest impact lies ``margin_s`` from its start or its end.

    What a burst looks like when the device began (or stopped) recording right at the impact; the
    other side keeps at least the minimum length the models accept.
    """
    peak = int(np.argmax(np.linalg.norm(acc, axis=1)))
    margin, minimum = round(margin_s * fs), int(np.ceil(features.MIN_DURATION_S * fs))
    if edge == "start":
        start = max(0, min(peak - margin, acc.shape[0] - minimum))
        return acc[start:]
    end = min(acc.shape[0], max(peak + margin + 1, minimum))
    return acc[:end]


def trial_windows(
    dataset: FallDataset, path: Path, variant: str = "native", advance: Advance = _ignore
) -> list[ImpactWindows]:
    """Impact windows of every trial, cached in ``cache_dir()``.

    ``variant`` is ``native``, a sample rate (``"20"``: each trial resampled to it first),
    ``start``/``end`` (each trial cropped ``EDGE_S`` from its impact by ``crop_at_impact``), or
    ``start~``/``end~`` (cropped at a margin drawn from 0 to ``AUGMENT_MAX_S`` per trial, to learn from).
    """
    cached = cache_dir() / f"{_cache_key(path, variant)}.npz"
    if cached.exists():
        windows = _load_windows(cached)
        if len(windows) == dataset.n_trials:
            return windows
    windows = []
    for trial in range(dataset.n_trials):
        acc, rate = dataset.acc_g(trial), dataset.fs
        if variant in ("start", "end"):
            acc = crop_at_impact(acc, rate, variant, EDGE_S)
        elif variant in ("start~", "end~"):
            margin = float(np.random.default_rng([SEED, trial]).uniform(0.0, AUGMENT_MAX_S))
            acc = crop_at_impact(acc, rate, variant[:-1], margin)
        elif variant != "native":
            acc, rate = resample(acc, dataset.fs, float(variant)), float(variant)
        windows.append(features.impact_windows(acc, rate))
        advance()
    cached.parent.mkdir(parents=True, exist_ok=True)
    _save_windows(cached, windows)
    return windows


@dataclass(frozen=True)
class Corpus:
    """Every dataset of one sensor position, their trials pooled in file order."""

    position: str
    files: tuple[str, ...]
    datasets: tuple[FallDataset, ...]
    paths: tuple[Path, ...]
    windows: tuple[ImpactWindows, ...]
    augmented: tuple[tuple[ImpactWindows, ...], ...]
    """The windows of each ``AUGMENTATIONS`` variant, learnt from besides ``windows``."""
    info: TrialInfo
    origin: npt.NDArray[np.intp]
    """Index into ``datasets`` of each pooled trial."""

    def trials_of(self, dataset: int) -> npt.NDArray[np.intp]:
        """Pooled indices of one dataset's trials."""
        return np.flatnonzero(self.origin == dataset)

    def variant_windows(self, variant: str, on_stage: OnStage = _no_progress) -> list[ImpactWindows]:
        """The pooled trials' windows after resampling or cropping (see ``trial_windows``)."""
        pooled: list[ImpactWindows] = []
        for dataset, path in zip(self.datasets, self.paths, strict=True):
            label = f"{self.position}: {dataset.name} windows ({variant})"
            pooled += trial_windows(dataset, path, variant, on_stage(label, dataset.n_trials))
        return pooled


def load_corpus(position: str, folder: Path, on_stage: OnStage = _no_progress) -> Corpus:
    """Load every dataset of a position and its impact windows."""
    files = TRAINING_FILES[position]
    datasets, paths = [], []
    for file in files:
        dataset = FallDataset.load(folder / file)
        if dataset.position != position:
            raise ValueError(f"{file} holds {dataset.position!r} data, not {position!r}")
        datasets.append(dataset)
        paths.append(folder / file)
    windows: dict[str, list[ImpactWindows]] = {}
    for variant in ("native", *AUGMENTATIONS):
        windows[variant] = []
        for dataset, path in zip(datasets, paths, strict=True):
            label = f"{position}: {dataset.name} windows ({variant})"
            windows[variant] += trial_windows(dataset, path, variant, on_stage(label, dataset.n_trials))
    return Corpus(
        position=position,
        files=files,
        datasets=tuple(datasets),
        paths=tuple(paths),
        windows=tuple(windows["native"]),
        augmented=tuple(tuple(windows[variant]) for variant in AUGMENTATIONS),
        info=TrialInfo.concatenate([TrialInfo.of(d) for d in datasets]),
        origin=np.concatenate([np.full(d.n_trials, i, dtype=np.intp) for i, d in enumerate(datasets)]),
    )


def training_rows(corpus: Corpus, trials: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """The windows a model learns from: the largest impact of each fall, the largest impacts of each ADL.

    The same again from each trial cut near its impact (``AUGMENTATIONS``), so that a window completed
    by repeated edge samples tells the model nothing about the label: falls and ADLs both have them.
    """
    rows, labels = [], []
    for trial in trials:
        fall = corpus.info.label[trial] == 1
        kept = [corpus.windows[trial].features[: 1 if fall else ADL_WINDOWS_PER_TRIAL]]
        kept += [augmented[trial].features[:1] for augmented in corpus.augmented]
        rows += kept
        labels += [int(fall)] * sum(k.shape[0] for k in kept)
    return np.vstack(rows), np.array(labels, dtype=np.int8)


def export_trees(booster: HistGradientBoostingClassifier) -> BoostedTrees:
    """Copy a fitted scikit-learn gradient-boosting classifier into plain arrays."""
    if list(booster.classes_) != [0, 1]:
        raise ValueError("the trees must be fitted on labels 0 (ADL) and 1 (fall)")
    # scikit-learn keeps its fitted trees in these attributes (one predictor per iteration, binary case).
    trees = [predictors[0].nodes for predictors in booster._predictors]
    if any(tree["is_categorical"].any() for tree in trees):
        raise ValueError("categorical splits cannot be exported")
    nodes = np.concatenate(trees)
    leaf = nodes["is_leaf"].astype(bool)
    return BoostedTrees(
        tree_offsets=np.concatenate([[0], np.cumsum([tree.shape[0] for tree in trees])]).astype(np.int64),
        feature=np.where(leaf, -1, nodes["feature_idx"]).astype(np.int16),
        threshold=np.where(leaf, 0.0, nodes["num_threshold"]).astype(np.float64),
        left=np.where(leaf, -1, nodes["left"]).astype(np.int32),
        right=np.where(leaf, -1, nodes["right"]).astype(np.int32),
        leaf_value=np.where(leaf, nodes["value"], 0.0).astype(np.float64),
        base_score=float(np.ravel(booster._baseline_prediction)[0]),
    )


def fit_trees(x: npt.NDArray[np.float64], y: npt.NDArray[np.int8], seed: int = SEED) -> BoostedTrees:
    """Fit the boosted trees on feature rows and export them."""
    return export_trees(HistGradientBoostingClassifier(**ESTIMATOR, random_state=seed).fit(x, y))


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


def trial_probabilities(trees: BoostedTrees, windows: Sequence[ImpactWindows]) -> npt.NDArray[np.float64]:
    """Each recording's probability: that of its most fall-like window (as ``FallModel.assess_windows``)."""
    counts = np.array([w.features.shape[0] for w in windows])
    scores = trees.probabilities(np.vstack([w.features for w in windows]))
    return np.maximum.reduceat(scores, np.concatenate([[0], np.cumsum(counts)[:-1]]))


def _splits(
    corpus: Corpus, trials: npt.NDArray[np.intp], folds: int, seed: int
) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    split = splitter.split(trials, corpus.info.label[trials], corpus.info.subject[trials])
    return [(trials[fit_at], trials[test_at]) for fit_at, test_at in split]


def _out_of_fold(corpus: Corpus, trials: npt.NDArray[np.intp], seed: int) -> npt.NDArray[np.float64]:
    """Trial probabilities within ``trials``, each from trees that never saw its subject (the inner loop)."""
    probability = np.zeros(corpus.info.label.shape[0])
    for fit_at, test_at in _splits(corpus, trials, INNER_FOLDS, seed):
        trees = fit_trees(*training_rows(corpus, fit_at), seed)
        probability[test_at] = trial_probabilities(trees, [corpus.windows[t] for t in test_at])
    return probability[trials]


def fit_judge(corpus: Corpus, trials: npt.NDArray[np.intp], seed: int = SEED) -> FallModel:
    """A model fitted on ``trials`` alone, its threshold chosen by a subject-held-out inner cross-validation."""
    threshold = choose_threshold(corpus.info.label[trials], _out_of_fold(corpus, trials, seed))
    trees = fit_trees(*training_rows(corpus, trials), seed)
    return FallModel(position=corpus.position, version=MODEL_VERSION, threshold=threshold, trees=trees, metadata={})


def judge(
    model: FallModel, windows: Sequence[ImpactWindows], trials: npt.NDArray[np.intp]
) -> dict[int, tuple[float, int]]:
    """(probability, alarms) of each trial as ``model`` judges it, through ``assess_windows``."""
    judged = {}
    for trial in trials:
        assessment = model.assess_windows(windows[trial])
        judged[int(trial)] = (assessment.probability, count_alarms(assessment, model.threshold))
    return judged


def _results(judged: dict[int, tuple[float, int]], thresholds: dict[int, float], trials: Sequence[int]) -> TrialResults:
    return TrialResults(
        probability=np.array([judged[t][0] for t in trials]),
        predicted=np.array([judged[t][0] >= thresholds[t] for t in trials]),
        alarms=np.array([judged[t][1] for t in trials], dtype=np.int64),
    )


@dataclass
class PositionTraining:
    """A trained model with the figures that describe it, as plain JSON values for the model card."""

    model: FallModel
    corpus: Corpus
    figures: dict[str, Any]


def train_position(
    position: str, folder: Path, n_jobs: int, folds: int = FOLDS, on_stage: OnStage = _no_progress
) -> PositionTraining:
    """Evaluate with subjects (and whole datasets) held out, then fit on everything, the model of one position.

    Held out within each dataset: an outer cross-validation over the pooled subjects of every dataset of
    the position; each fold's threshold comes from an inner cross-validation of its training subjects.
    Leave one dataset out: a model fitted (and thresholded) on the other datasets judges the one left out.
    Fitting uses ``n_jobs`` threads.
    """
    with threadpool_limits(n_jobs):
        return _train_position(position, folder, folds, on_stage)


def _train_position(position: str, folder: Path, folds: int, on_stage: OnStage) -> PositionTraining:
    corpus = load_corpus(position, folder, on_stage)
    variants = {"start": "impact 0.5 s after the start", "end": "impact 0.5 s before the end"}
    variants |= {f"{rate:g}": f"resampled to {rate:g} Hz" for rate in ROBUSTNESS_RATES}
    variant_windows = {name: corpus.variant_windows(name, on_stage) for name in variants}
    everyone = np.arange(corpus.info.label.shape[0])
    splits = _splits(corpus, everyone, folds, SEED)
    advance = on_stage(f"{position}: cross-validation, subjects held out", len(splits))
    held_out: dict[str, dict[int, tuple[float, int]]] = {"native": {}, **{name: {} for name in variants}}
    thresholds: dict[int, float] = {}
    fold_thresholds = []
    for fit_at, test_at in splits:
        model = fit_judge(corpus, fit_at)
        fold_thresholds.append(model.threshold)
        held_out["native"] |= judge(model, corpus.windows, test_at)
        for name, windows in variant_windows.items():
            held_out[name] |= judge(model, windows, test_at)
        thresholds |= dict.fromkeys(test_at.tolist(), model.threshold)
        advance()
    results = {name: _results(judged, thresholds, everyone.tolist()) for name, judged in held_out.items()}
    datasets_figures = []
    for index, dataset in enumerate(corpus.datasets):
        trials = corpus.trials_of(index)
        info = corpus.info.take(trials)
        entry: dict[str, Any] = {
            "name": dataset.name,
            "file": corpus.files[index],
            "source": dataset.source,
            "fs": dataset.fs,
            "trials": dataset.n_trials,
            "falls": int((dataset.label == 1).sum()),
            "subjects": len(set(dataset.subject.tolist())),
            "held_out": results["native"].take(trials).report(info).to_dict(),
            "variants": {name: results[name].take(trials).report(info).to_dict()["overall"] for name in variants},
        }
        if len(corpus.datasets) > 1:
            others = np.flatnonzero(corpus.origin != index)
            model = fit_judge(corpus, others)
            judged = judge(model, corpus.windows, trials)
            lodo = _results(judged, dict.fromkeys(trials.tolist(), model.threshold), trials.tolist())
            entry["left_out"] = lodo.report(info).to_dict() | {"threshold": model.threshold}
        datasets_figures.append(entry)
    advance = on_stage(f"{position}: final fit", 1)
    threshold = choose_threshold(corpus.info.label, results["native"].probability)
    trees = fit_trees(*training_rows(corpus, everyone))
    advance()
    trained_on = [
        {
            "dataset": d["name"],
            "source": d["source"],
            "file": d["file"],
            "trials": d["trials"],
            "subjects": d["subjects"],
        }
        for d in datasets_figures
    ]
    metadata = {
        "trained_on": trained_on,
        "estimator": {
            "kind": "HistGradientBoostingClassifier",
            "scikit_learn": sklearn.__version__,
            **ESTIMATOR,
            "random_state": SEED,
            "adl_windows_per_trial": ADL_WINDOWS_PER_TRIAL,
        },
    }
    model = FallModel(position, MODEL_VERSION, threshold, trees, metadata)
    figures = {
        "position": position,
        "version": MODEL_VERSION,
        "threshold": threshold,
        "fold_thresholds": fold_thresholds,
        "trees": trees.n_trees,
        "nodes": int(trees.feature.shape[0]),
        "fingerprint": trees.fingerprint(),
        "variants": variants,
        "datasets": datasets_figures,
        "shipped": shipped_check(model, corpus),
    }
    return PositionTraining(model=model, corpus=corpus, figures=figures)


CHECK_EVERY = 5
"""The shipped-model check replays every fifth trial of each dataset."""


def check_trials(dataset: FallDataset) -> npt.NDArray[np.intp]:
    """The trials the shipped-model check replays through the public API."""
    return np.arange(0, dataset.n_trials, CHECK_EVERY)


def shipped_check(model: FallModel, corpus: Corpus) -> dict[str, dict[str, float | int]]:
    """What the shipped model says about a fixed subset of its training trials (in-sample, for ``make test``)."""
    check = {}
    for index, dataset in enumerate(corpus.datasets):
        trials = corpus.trials_of(index)[check_trials(dataset)]
        probability = np.array([model.assess_windows(corpus.windows[t]).probability for t in trials])
        check[dataset.name] = {
            "trials": int(trials.shape[0]),
            "alarmed": int((probability >= model.threshold).sum()),
            "mean_probability": round(float(probability.mean()), 4),
        }
    return check
