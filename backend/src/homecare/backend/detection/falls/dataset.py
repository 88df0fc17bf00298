"""Fall-detection datasets in the project's common ``.npz`` format (``shared/datasets/falls/README.md``)."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

TRAINING_FILES = {
    "neck": ("falls/fallalld_neck.npz",),
    "waist": ("falls/sisfall_waist.npz", "falls/fallalld_waist.npz"),
    "wrist": ("falls/wedafall_wrist.npz", "falls/fallalld_wrist.npz"),
}
"""The datasets each shipped model is trained on, relative to the datasets folder: every one for its position."""

_REQUIRED = {
    "acc": "i",
    "gyr": "i",
    "has_gyr": "b",
    "fs": "f",
    "trial_start": "i",
    "trial_len": "i",
    "label": "i",
    "subject": "U",
    "age_group": "U",
    "position": "U",
}
"""Arrays the evaluation needs, with their numpy dtype kind; the other arrays of the format are optional."""


class DatasetError(ValueError):
    """A file is not a dataset in the common format."""


def datasets_dir() -> Path:
    """``$HOMECARE_DATASETS``, or ``shared/datasets`` beside the repository (where CI puts it)."""
    configured = os.environ.get("HOMECARE_DATASETS")
    if configured:
        return Path(configured)
    # backend/src/homecare/backend/detection/falls/dataset.py: parents[6] is the repository.
    return Path(__file__).resolve().parents[6].parent / "shared" / "datasets"


@dataclass(frozen=True)
class FallDataset:
    """One sensor position of one dataset: trials stored back to back, in g and deg/s on loading."""

    name: str
    source: str
    position: str
    fs: float
    has_gyr: bool
    acc_mg: npt.NDArray[np.int16]
    gyr_ddps: npt.NDArray[np.int16]
    trial_start: npt.NDArray[np.int64]
    trial_len: npt.NDArray[np.int64]
    label: npt.NDArray[np.int8]
    subject: npt.NDArray[np.str_]
    age_group: npt.NDArray[np.str_]
    activity: npt.NDArray[np.str_]
    trial_id: npt.NDArray[np.str_]

    @classmethod
    def load(cls, path: Path) -> FallDataset:
        """Read and check a dataset file; pickled objects are refused."""
        try:
            with path.open("rb") as stream:
                is_archive = zipfile.is_zipfile(stream)
        except OSError as err:
            raise DatasetError(f"{path}: cannot be read ({err.strerror})") from err
        if not is_archive:
            raise DatasetError(f"{path} is not a recording: give a fall-dataset .npz file (acc, gyr, trials, labels)")
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError) as err:
            raise DatasetError(f"{path}: not a readable .npz file ({err})") from err
        for key, kind in _REQUIRED.items():
            if key not in arrays:
                raise DatasetError(f"{path}: array {key!r} is missing")
            if arrays[key].dtype.kind != kind:
                raise DatasetError(f"{path}: array {key!r} has dtype {arrays[key].dtype}")
        n_trials = arrays["trial_start"].shape[0]
        n_samples = arrays["acc"].shape[0]
        if arrays["acc"].shape != (n_samples, 3) or arrays["gyr"].shape != (n_samples, 3):
            raise DatasetError(f"{path}: acc and gyr must both have shape (N, 3)")
        for key in ("trial_len", "label", "subject", "age_group", "activity", "trial_id"):
            if key not in arrays:
                continue  # activity and trial_id are optional
            if arrays[key].shape != (n_trials,):
                raise DatasetError(f"{path}: array {key!r} must have one entry per trial")
            if key in ("activity", "trial_id") and arrays[key].dtype.kind != "U":
                raise DatasetError(f"{path}: array {key!r} has dtype {arrays[key].dtype}")
        if n_trials == 0:
            raise DatasetError(f"{path}: holds no trials")
        start, length = arrays["trial_start"], arrays["trial_len"]
        if np.any(start < 0) or np.any(length <= 0) or np.any(start + length > n_samples):
            raise DatasetError(f"{path}: trial bounds lie outside the sample arrays")
        activity = arrays.get("activity", np.full(n_trials, "", dtype=np.str_))
        trial_id = arrays.get("trial_id", np.array([f"#{trial}" for trial in range(n_trials)], dtype=np.str_))
        return cls(
            name=str(arrays.get("dataset", path.stem)),
            source=str(arrays.get("source", "")),
            position=str(arrays["position"]),
            fs=float(arrays["fs"]),
            has_gyr=bool(arrays["has_gyr"]),
            acc_mg=arrays["acc"].astype(np.int16, copy=False),
            gyr_ddps=arrays["gyr"].astype(np.int16, copy=False),
            trial_start=start.astype(np.int64, copy=False),
            trial_len=length.astype(np.int64, copy=False),
            label=arrays["label"].astype(np.int8, copy=False),
            subject=arrays["subject"],
            age_group=arrays["age_group"],
            activity=activity,
            trial_id=trial_id,
        )

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return int(self.trial_start.shape[0])

    def acc_g(self, trial: int) -> npt.NDArray[np.float64]:
        """Acceleration of one trial in g (n, 3)."""
        start = int(self.trial_start[trial])
        return self.acc_mg[start : start + int(self.trial_len[trial])] / 1000.0

    def gyr_dps(self, trial: int) -> npt.NDArray[np.float64] | None:
        """Angular rate of one trial in deg/s (n, 3), or None when the dataset has no gyroscope."""
        if not self.has_gyr:
            return None
        start = int(self.trial_start[trial])
        return self.gyr_ddps[start : start + int(self.trial_len[trial])] / 10.0

    def trial_name(self, trial: int) -> str:
        """The trial's name in the release (``trial_id``), or its index when the file names none."""
        return str(self.trial_id[trial])

    def duration_s(self, trial: int) -> float:
        """Duration of one trial in seconds."""
        return float(self.trial_len[trial]) / self.fs
