"""The fall models: shipped artefacts load safely, match their model card, ignore the device, leave no blind spot."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from typer.testing import CliRunner

from homecare.backend.detection.falls import card, evaluation, features, training
from homecare.backend.detection.falls.dataset import TRAINING_FILES, FallDataset, datasets_dir
from homecare.backend.detection.falls.model import ArtefactError, FallModel, available_positions
from homecare.launcher.cli import app

POSITIONS = ("neck", "waist", "wrist")
EXECUTED: list[str] = []


@pytest.fixture(scope="module")
def all_datasets() -> dict[str, FallDataset]:
    """Every training file, by its path relative to the datasets folder."""
    files = {file for position in POSITIONS for file in TRAINING_FILES[position]}
    return {file: FallDataset.load(datasets_dir() / file) for file in sorted(files)}


@pytest.fixture(scope="module")
def datasets(all_datasets: dict[str, FallDataset]) -> dict[str, FallDataset]:
    """The first dataset of each position."""
    return {position: all_datasets[TRAINING_FILES[position][0]] for position in POSITIONS}


def _subset(dataset: FallDataset, keep: npt.NDArray[np.bool_]) -> FallDataset:
    """The trials selected by ``keep``; the sample arrays stay shared."""
    return dataclasses.replace(
        dataset,
        trial_start=dataset.trial_start[keep],
        trial_len=dataset.trial_len[keep],
        label=dataset.label[keep],
        subject=dataset.subject[keep],
        age_group=dataset.age_group[keep],
        activity=dataset.activity[keep],
    )


def _held_out_subjects(dataset: FallDataset) -> npt.NDArray[np.bool_]:
    """Every fourth subject, young and elderly alike."""
    subjects = sorted(set(dataset.subject.tolist()))
    return np.isin(dataset.subject, subjects[::4])


def test_every_position_ships_a_small_model_that_loads() -> None:
    assert available_positions() == POSITIONS
    for position in POSITIONS:
        model = FallModel.load(position)
        assert model.position == position
        assert 0.0 < model.threshold < 1.0
        assert [seen["file"] for seen in model.metadata["trained_on"]] == list(TRAINING_FILES[position])
        artefact = Path(training.__file__).with_name("models") / f"{position}.npz"
        assert artefact.stat().st_size <= 50 * 2**20


def _mark_executed() -> None:
    EXECUTED.append("pickle payload ran")


class _Payload:
    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return _mark_executed, ()


def _shipped_arrays() -> dict[str, npt.NDArray[Any]]:
    with np.load(Path(training.__file__).with_name("models") / "wrist.npz") as archive:
        return {name: archive[name] for name in archive.files}


def _forge_meta(arrays: dict[str, npt.NDArray[Any]], **changes: Any) -> dict[str, npt.NDArray[Any]]:
    meta = json.loads(str(arrays["meta"]))
    return {**arrays, "meta": np.array(json.dumps(meta | changes))}


def _loop_back(arrays: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    left = arrays["left"].copy()
    left[0] = 0  # the root's left child is the root itself: inference would never end
    return {**arrays, "left": left}


FORGERIES: dict[str, Callable[[dict[str, npt.NDArray[Any]]], dict[str, npt.NDArray[Any]]]] = {
    "pickled object": lambda a: {**a, "meta": np.array([_Payload()], dtype=object)},
    "extra array": lambda a: {**a, "extra": np.zeros(3)},
    "missing array": lambda a: {k: v for k, v in a.items() if k != "threshold"},
    "other format": lambda a: {**a, "format": np.array("sklearn-pickle")},
    "other features": lambda a: {**a, "feature_names": a["feature_names"][::-1]},
    "other preprocessing": lambda a: _forge_meta(a, preprocessing={"model_fs": 50.0}),
    "threshold out of range": lambda a: _forge_meta(a, threshold=1.5),
    "cyclic tree": _loop_back,
    "feature out of range": lambda a: {**a, "feature": np.where(a["feature"] >= 0, 999, -1).astype(np.int16)},
    "float32 leaves": lambda a: {**a, "leaf_value": a["leaf_value"].astype(np.float32)},
    "base score not a scalar": lambda a: {**a, "base_score": np.zeros(2)},
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_artefact_is_refused(forgery: str, tmp_path: Path) -> None:
    path = tmp_path / "forged.npz"
    np.savez(path, **FORGERIES[forgery](_shipped_arrays()))
    with pytest.raises(ArtefactError):
        FallModel.from_file(path)
    assert EXECUTED == []


def test_a_file_that_is_no_artefact_is_refused(tmp_path: Path) -> None:
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ArtefactError):
        FallModel.from_file(tmp_path / "noise.npz")
    with pytest.raises(ArtefactError):
        FallModel.load("../../../etc/passwd")


def test_an_unmodified_copy_loads(tmp_path: Path) -> None:
    np.savez(tmp_path / "copy.npz", **_shipped_arrays())
    assert FallModel.from_file(tmp_path / "copy.npz").threshold == FallModel.load("wrist").threshold


def test_exported_trees_score_every_row_as_scikit_learn_does() -> None:
    """The plain arrays shipped are the fitted trees: same probabilities as scikit-learn's own predictor."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(800, len(features.FEATURE_NAMES)))
    y = (x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + rng.normal(scale=0.5, size=800) > 0).astype(np.int8)
    booster = HistGradientBoostingClassifier(**training.ESTIMATOR | {"max_iter": 40}, random_state=0).fit(x, y)
    trees = training.export_trees(booster)
    trees.validate(len(features.FEATURE_NAMES))
    unseen = rng.normal(size=(200, len(features.FEATURE_NAMES)))
    np.testing.assert_allclose(trees.probabilities(unseen), booster.predict_proba(unseen)[:, 1], rtol=1e-9)
    assert 0.2 < trees.probabilities(unseen).mean() < 0.8


def _figures() -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(card.FIGURES.read_text())
    return figures


def test_the_model_card_is_generated_from_the_trained_figures() -> None:
    """Every table of the card is what ``homecare falls train`` rendered from figures.json: none is typed."""
    text = card.CARD.read_text()
    assert set(_figures()) == set(POSITIONS)
    assert card.render(text, _figures()) == text


@pytest.mark.parametrize("position", POSITIONS)
def test_the_shipped_model_is_the_one_its_card_describes(all_datasets: dict[str, FallDataset], position: str) -> None:
    """No training: the shipped artefact has the card's trees and threshold, and judges its check trials as then."""
    figures, model = _figures()[position], FallModel.load(position)
    assert model.trees.fingerprint() == figures["fingerprint"]
    assert (model.threshold, model.trees.n_trees, model.version) == (
        figures["threshold"],
        figures["trees"],
        figures["version"],
    )
    for file in TRAINING_FILES[position]:
        dataset = all_datasets[file]
        expected = figures["shipped"][dataset.name]
        trials = training.check_trials(dataset)
        probability = np.array([model.probability(dataset.acc_g(t), dataset.gyr_dps(t), dataset.fs) for t in trials])
        assert probability.shape[0] == expected["trials"]
        assert abs(int((probability >= model.threshold).sum()) - expected["alarmed"]) <= 0.01 * expected["trials"]
        assert probability.mean() == pytest.approx(expected["mean_probability"], abs=0.005)


HARD_TRIALS = {
    # Subjects and activities where the model is least sure: rate effects would show here first.
    "neck": (["S05", "S06"], ["A015", "A017", "A102", "A116", "A135"]),
    "waist": (["SA05", "SA06"], ["D05", "D07", "D08", "D09", "F06", "F08"]),
    "wrist": (["U05", "U06"], ["D05", "D07", "D08", "D09", "F06", "F08"]),
}


@pytest.mark.parametrize("position", POSITIONS)
def test_other_sample_rates_give_nearly_the_same_probability(datasets: dict[str, FallDataset], position: str) -> None:
    model, dataset = FallModel.load(position), datasets[position]
    subjects, activities = HARD_TRIALS[position]
    trials = np.flatnonzero(np.isin(dataset.subject, subjects) & np.isin(dataset.activity, activities))
    native = np.array([model.probability(dataset.acc_g(t), dataset.gyr_dps(t), dataset.fs) for t in trials])
    for rate in (25.0, 100.0, 238.0):
        resampled = np.array(
            [model.probability(evaluation.resample(dataset.acc_g(t), dataset.fs, rate), None, rate) for t in trials]
        )
        # Boosted trees are sharp near their threshold: on these borderline trials a rate can move one
        # probability a long way (a wrist D05 at 25 Hz: 0.02 → 0.51), so the test bounds what a wearer
        # would notice, decisions changed, rather than any one probability. The held-out effect of a
        # slower device is the card's 20 Hz row.
        assert np.median(np.abs(resampled - native)) < 0.04, rate
        changed = (resampled >= model.threshold) != (native >= model.threshold)
        assert changed.sum() <= 0.05 * trials.shape[0], rate


@pytest.mark.parametrize("position", POSITIONS)
def test_a_gain_error_and_a_missing_gyroscope_change_nothing(datasets: dict[str, FallDataset], position: str) -> None:
    """A device reading 2% low at rest (as FallAllD's pendant does) is calibrated back; the gyroscope is optional."""
    model, dataset = FallModel.load(position), datasets[position]
    subjects, activities = HARD_TRIALS[position]
    trials = np.flatnonzero(np.isin(dataset.subject, subjects) & np.isin(dataset.activity, activities))[:30]
    native = np.array([model.probability(dataset.acc_g(t), dataset.gyr_dps(t), dataset.fs) for t in trials])
    low = np.array([model.probability(dataset.acc_g(t) * 0.98, None, dataset.fs) for t in trials])
    assert np.median(np.abs(low - native)) < 0.01
    assert np.max(np.abs(low - native)) < 0.1


def _a_fall(dataset: FallDataset) -> tuple[npt.NDArray[np.float64], int]:
    """The first fall trial whose model-rate impact is clear, and the sample of its largest peak."""
    trial = int(np.flatnonzero(dataset.label == 1)[0])
    acc = dataset.acc_g(trial)
    return acc, int(np.argmax(np.linalg.norm(acc, axis=1)))


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("edge", ["start", "end"])
def test_an_impact_at_either_end_of_a_recording_is_scored(
    datasets: dict[str, FallDataset], position: str, edge: str
) -> None:
    """No blind spot: a burst that starts (or ends) on its impact still has a window centred on it."""
    model, dataset = FallModel.load(position), datasets[position]
    acc, peak = _a_fall(dataset)
    fs = dataset.fs
    burst = acc[peak : peak + round(4 * fs)] if edge == "start" else acc[max(0, peak - round(4 * fs)) : peak + 1]
    impact_s = 0.0 if edge == "start" else (burst.shape[0] - 1) / fs
    assessment = model.assess(burst, None, fs)
    assert np.min(np.abs(assessment.window_peaks_s - impact_s)) <= 0.25  # low-pass smears an edge peak
    assert abs(assessment.impact_s - impact_s) <= 0.25


@pytest.mark.parametrize(
    ("n_samples", "fs", "minimum"),
    [(98, 50.0, "at least 2 s"), (60, 15.0, "at least 20 Hz"), (39, 20.0, "at least 2 s")],
)
def test_a_recording_too_short_or_too_slow_is_refused_stating_the_minimum(
    n_samples: int, fs: float, minimum: str
) -> None:
    acc = np.tile([0.0, 0.0, 1.0], (n_samples, 1))
    with pytest.raises(features.RecordingError, match=minimum):
        FallModel.load("neck").assess(acc, None, fs)
    # The shortest accepted recording, at the slowest accepted rate, is judged.
    FallModel.load("neck").assess(np.tile([0.0, 0.0, 1.0], (40, 1)), None, 20.0)


@pytest.mark.parametrize("position", POSITIONS)
def test_a_live_burst_gets_the_probability_of_its_trial(datasets: dict[str, FallDataset], position: str) -> None:
    model, dataset = FallModel.load(position), datasets[position]
    for trial in (*np.flatnonzero(dataset.label == 1)[:3], *np.flatnonzero(dataset.label == 0)[:3]):
        acc, fs = dataset.acc_g(int(trial)), dataset.fs
        whole = model.assess(acc, dataset.gyr_dps(int(trial)), fs)
        # What a device sends: int16 milli-g, 4 s before and 5 s after its impact, no gyroscope.
        impact = round(whole.impact_s * fs)
        burst_mg = np.round(acc[max(0, impact - 200) : impact + 250] * 1000).astype(np.int16)
        burst = model.assess(burst_mg / 1000.0, None, fs)
        assert burst.probability == pytest.approx(whole.probability, abs=0.05)
        assert burst.is_fall == (dataset.label[trial] == 1)


def _write_subset(
    dataset: FallDataset, keep: npt.NDArray[np.bool_], path: Path, position: str, fs: float | None = None
) -> Path:
    """The kept trials as a file in the common format, optionally relabelled with another position or rate."""
    start, lengths = dataset.trial_start[keep], dataset.trial_len[keep]
    rows = np.concatenate([np.arange(s, s + n) for s, n in zip(start, lengths, strict=True)])
    np.savez_compressed(
        path,
        acc=dataset.acc_mg[rows],
        gyr=dataset.gyr_ddps[rows],
        has_gyr=np.array(dataset.has_gyr),
        fs=np.array(fs or dataset.fs),
        trial_start=np.concatenate([[0], np.cumsum(lengths)[:-1]]),
        trial_len=lengths,
        label=dataset.label[keep],
        subject=dataset.subject[keep],
        age_group=dataset.age_group[keep],
        activity=dataset.activity[keep],
        trial_id=dataset.trial_id[keep],
        position=np.array(position),
        dataset=np.array(f"part of {dataset.name}"),
    )
    return path


def test_evaluate_command_prints_the_documented_json(datasets: dict[str, FallDataset], tmp_path: Path) -> None:
    dataset = datasets["wrist"]
    keep = np.isin(dataset.subject, ["U01", "U21"])
    path = _write_subset(dataset, keep, tmp_path / "two_subjects.npz", "wrist")
    result = CliRunner().invoke(app, ["falls", "evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["position"] == "wrist"
    assert payload["model"]["position"] == "wrist"
    assert "the model for the file's wrist data" in payload["model"]["judged_by"]
    assert payload["in_sample"] is False
    group_keys = {
        "trials", "subjects", "falls", "adls", "true_positives", "false_negatives", "true_negatives",
        "false_positives", "sensitivity", "specificity", "f1", "adl_hours", "false_alarms",
        "false_alarms_per_hour", "intervals",
    }  # fmt: skip
    for group in ("overall", "elderly", "young"):
        assert set(payload[group]) == group_keys
        assert set(payload[group]["intervals"]) == set(evaluation.RATES)
    assert payload["overall"]["trials"] == int(keep.sum())
    assert payload["overall"]["subjects"] == 2
    assert payload["elderly"]["sensitivity"] is None
    assert payload["elderly"]["specificity"] is not None
    low, high = payload["overall"]["intervals"]["specificity"]
    assert low <= payload["overall"]["specificity"] <= high
    activities = payload["activities"]
    assert set(activities) == set(dataset.activity[keep].tolist())
    assert sum(a["trials"] for a in activities.values()) == int(keep.sum())


def test_evaluate_judges_chest_data_with_the_pendant_model_and_says_which(
    datasets: dict[str, FallDataset], tmp_path: Path
) -> None:
    dataset = datasets["neck"]
    path = _write_subset(dataset, dataset.subject == "S01", tmp_path / "chest.npz", "chest")
    result = CliRunner().invoke(app, ["falls", "evaluate", str(path), "--activities"])
    assert result.exit_code == 0, result.output
    assert "judged by the neck model" in result.stdout
    assert "Per activity" in result.stdout
    result = CliRunner().invoke(app, ["falls", "evaluate", str(path), "--position", "wrist", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"]["judged_by"].startswith("judged by the wrist model")
    assert "chosen with --position for chest data" in json.loads(result.stdout)["model"]["judged_by"]


def test_evaluate_refuses_a_file_it_cannot_judge_stating_why(datasets: dict[str, FallDataset], tmp_path: Path) -> None:
    dataset = datasets["neck"]
    keep = dataset.subject == "S01"
    slow = _write_subset(dataset, keep, tmp_path / "slow.npz", "neck", fs=10.0)
    short = dataclasses.replace(dataset, trial_len=np.where(np.arange(dataset.n_trials) == 3, 60, dataset.trial_len))
    cases = {
        slow: "is sampled at 10 Hz; the fall models need at least 20 Hz",
        _write_subset(short, keep, tmp_path / "short.npz", "neck"): "lasts 1.20 s; the fall models need at least 2 s",
        _write_subset(dataset, keep, tmp_path / "ankle.npz", "ankle"): "no fall model for 'ankle' data",
    }
    for path, message in cases.items():
        result = CliRunner().invoke(app, ["falls", "evaluate", str(path)])
        assert result.exit_code == 2, result.output
        assert message in _unboxed(result.output)
        assert "Traceback" not in result.output
    short = CliRunner().invoke(app, ["falls", "evaluate", str(tmp_path / "short.npz")]).output
    assert f"trial {dataset.trial_id[3]} lasts" in _unboxed(short)


def test_evaluate_command_rejects_a_file_in_another_format(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    result = CliRunner().invoke(app, ["falls", "evaluate", str(tmp_path / "other.npz"), "--json"])
    assert result.exit_code == 2
    assert "array 'acc' is missing" in _unboxed(result.output)
    assert "Traceback" not in result.output


def _unboxed(output: str) -> str:
    """A command's message unwrapped from click's error box (where it breaks depends on the path's length)."""
    return " ".join(output.replace("│", " ").split())
