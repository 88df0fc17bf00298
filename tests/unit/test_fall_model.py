"""The fall model: shipped artefacts load safely, generalise to held-out subjects, and ignore the sample rate."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from homecare.backend.detection.falls import evaluation, training
from homecare.backend.detection.falls.dataset import TRAINING_FILES, FallDataset, datasets_dir
from homecare.backend.detection.falls.model import ArtefactError, FallModel, available_positions
from homecare.launcher.cli import app

POSITIONS = ("waist", "wrist")
EXECUTED: list[str] = []


@pytest.fixture(scope="module")
def datasets() -> dict[str, FallDataset]:
    return {position: FallDataset.load(datasets_dir() / TRAINING_FILES[position]) for position in POSITIONS}


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
        assert model.metadata["trained_on"]["file"] == TRAINING_FILES[position]
        artefact = Path(training.__file__).with_name("models") / f"{position}.npz"
        assert artefact.stat().st_size < 5 * 2**20


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
    "float64 leaves": lambda a: {**a, "fall_probability": a["fall_probability"].astype(np.float64)},
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


@pytest.mark.parametrize(
    ("position", "min_sensitivity", "min_specificity", "min_elderly_specificity"),
    [("waist", 0.95, 0.97, 0.97), ("wrist", 0.85, 0.90, 0.95)],
)
def test_held_out_subjects_are_judged_through_the_public_api(
    datasets: dict[str, FallDataset],
    position: str,
    min_sensitivity: float,
    min_specificity: float,
    min_elderly_specificity: float,
) -> None:
    """A model fitted without a quarter of the subjects, then run on them exactly as live bursts are."""
    dataset = datasets[position]
    held_out = _held_out_subjects(dataset)
    windows = training.trial_windows(dataset)
    shipped = FallModel.load(position)
    forest = training.fit_forest(*training.training_rows(dataset.label, windows, np.flatnonzero(~held_out)), 2)
    model = dataclasses.replace(shipped, forest=forest)
    report = evaluation.evaluate(model, _subset(dataset, held_out)).report(_subset(dataset, held_out))
    overall, elderly = report["overall"], report["elderly"]
    assert overall.sensitivity is not None
    assert overall.specificity is not None
    assert elderly.specificity is not None
    assert overall.sensitivity >= min_sensitivity
    assert overall.specificity >= min_specificity
    assert elderly.specificity >= min_elderly_specificity


HARD_TRIALS = {
    # Subjects and activities where the model is least sure: rate effects would show here first.
    "waist": (["SA05", "SA06"], ["D05", "D07", "D08", "D09", "F06", "F08"]),
    "wrist": (["U05", "U06"], ["D05", "D07", "D08", "D09", "F06", "F08"]),
}


@pytest.mark.parametrize("position", POSITIONS)
def test_other_sample_rates_give_nearly_the_same_probability(datasets: dict[str, FallDataset], position: str) -> None:
    model, dataset = FallModel.load(position), datasets[position]
    subjects, activities = HARD_TRIALS[position]
    trials = np.flatnonzero(np.isin(dataset.subject, subjects) & np.isin(dataset.activity, activities))
    native = np.array([model.probability(dataset.acc_g(t), dataset.gyr_dps(t), dataset.fs) for t in trials])
    for rate in (25.0, 100.0):
        resampled = np.array(
            [model.probability(evaluation.resample(dataset.acc_g(t), dataset.fs, rate), None, rate) for t in trials]
        )
        assert np.median(np.abs(resampled - native)) < 0.01, rate
        assert np.max(np.abs(resampled - native)) < 0.1, rate


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


def test_evaluate_command_prints_the_documented_json(datasets: dict[str, FallDataset], tmp_path: Path) -> None:
    dataset = datasets["wrist"]
    keep = np.isin(dataset.subject, ["U01", "U21"])
    path = tmp_path / "two_subjects.npz"
    start = dataset.trial_start[keep]
    lengths = dataset.trial_len[keep]
    rows = np.concatenate([np.arange(s, s + n) for s, n in zip(start, lengths, strict=True)])
    np.savez_compressed(
        path,
        acc=dataset.acc_mg[rows],
        gyr=dataset.gyr_ddps[rows],
        has_gyr=np.array(dataset.has_gyr),
        fs=np.array(dataset.fs),
        trial_start=np.concatenate([[0], np.cumsum(lengths)[:-1]]),
        trial_len=lengths,
        label=dataset.label[keep],
        subject=dataset.subject[keep],
        age_group=dataset.age_group[keep],
        activity=dataset.activity[keep],
        position=np.array("wrist"),
        dataset=np.array("two WEDA-FALL subjects"),
    )
    result = CliRunner().invoke(app, ["falls", "evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["position"] == "wrist"
    assert payload["model"]["position"] == "wrist"
    assert payload["in_sample"] is False
    group_keys = {
        "trials", "falls", "adls", "true_positives", "false_negatives", "true_negatives", "false_positives",
        "sensitivity", "specificity", "f1", "adl_hours", "false_alarms", "false_alarms_per_hour",
    }  # fmt: skip
    for group in ("overall", "elderly", "young"):
        assert set(payload[group]) == group_keys
    assert payload["overall"]["trials"] == int(keep.sum())
    assert payload["elderly"]["sensitivity"] is None
    assert payload["elderly"]["specificity"] is not None


def test_evaluate_command_rejects_a_file_in_another_format(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    result = CliRunner().invoke(app, ["falls", "evaluate", str(tmp_path / "other.npz"), "--json"])
    assert result.exit_code != 0
