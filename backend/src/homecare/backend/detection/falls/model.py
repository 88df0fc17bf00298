"""The shipped fall classifier: boosted trees kept as plain arrays, loaded without pickle, run in numpy."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from homecare.backend.detection.falls import features
from homecare.backend.detection.falls.features import FloatArray, ImpactWindows

FORMAT = "homecare-fall-trees"
FORMAT_VERSION = 3
MAX_ARTEFACT_BYTES = 64 * 2**20
"""Refuse artefacts that would unpack to more than this: the shipped ones are a few MB (at most 50 on disk)."""

_ARRAYS = {
    "format",
    "format_version",
    "meta",
    "feature_names",
    "tree_offsets",
    "feature",
    "threshold",
    "left",
    "right",
    "leaf_value",
    "base_score",
}
_META_KEYS = {"position", "version", "threshold", "preprocessing", "trained_on", "estimator"}
POSITION_ALIASES = {"chest": "neck", "pendant": "neck"}
"""Sensor positions judged by another position's model: a pendant on a cord hangs at the chest."""


class ArtefactError(ValueError):
    """A model file is missing, not in the expected format, or made for other preprocessing."""


def preprocessing() -> dict[str, float]:
    """The signal settings a model is only valid for; stored in every artefact and checked on loading."""
    return {
        "model_fs": features.MODEL_FS,
        "bandwidth_hz": features.BANDWIDTH_HZ,
        "acc_full_scale_g": features.ACC_FULL_SCALE_G,
        "min_duration_s": features.MIN_DURATION_S,
        "still_std_g": features.STILL_STD_G,
        "max_gain_error": features.MAX_GAIN_ERROR,
        "pre_s": features.PRE_S,
        "post_s": features.POST_S,
        "min_peak_distance_s": features.MIN_PEAK_DISTANCE_S,
        "min_candidate_g": features.MIN_CANDIDATE_G,
    }


@dataclass(frozen=True)
class BoostedTrees:
    """Gradient-boosted binary trees stored back to back; node indices are local to their tree, -1 marks a leaf.

    A row's fall log-odds are ``base_score`` plus the value of the leaf it reaches in every tree.
    """

    tree_offsets: npt.NDArray[np.int64]
    feature: npt.NDArray[np.int16]
    threshold: npt.NDArray[np.float64]
    left: npt.NDArray[np.int32]
    right: npt.NDArray[np.int32]
    leaf_value: npt.NDArray[np.float64]
    base_score: float

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self.tree_offsets.shape[0] - 1)

    def validate(self, n_features: int) -> None:
        """Raise ``ArtefactError`` unless the arrays form well-formed trees over ``n_features`` inputs."""
        offsets = self.tree_offsets
        n_nodes = self.feature.shape[0]
        if offsets.ndim != 1 or offsets.shape[0] < 2 or offsets[0] != 0 or offsets[-1] != n_nodes:
            raise ArtefactError("tree offsets do not cover the node arrays")
        if np.any(np.diff(offsets) < 1):
            raise ArtefactError("a tree has no nodes")
        for name in ("threshold", "left", "right", "leaf_value"):
            if getattr(self, name).shape != (n_nodes,):
                raise ArtefactError(f"node array {name!r} has the wrong length")
        finite = np.isfinite(self.threshold).all() and np.isfinite(self.leaf_value).all()
        if not (finite and np.isfinite(self.base_score)):
            raise ArtefactError("non-finite node values")
        tree = np.repeat(np.arange(self.n_trees), np.diff(offsets))
        local = np.arange(n_nodes) - offsets[tree]
        size = np.diff(offsets)[tree]
        leaf = self.feature < 0
        if np.any(self.feature[leaf] != -1) or np.any(self.feature >= n_features):
            raise ArtefactError("node feature index out of range")
        if np.any(self.left[leaf] != -1) or np.any(self.right[leaf] != -1):
            raise ArtefactError("a leaf has children")
        internal = ~leaf
        for children in (self.left[internal], self.right[internal]):
            # Children after their parent inside the same tree: every walk from a root ends at a leaf.
            if np.any(children <= local[internal]) or np.any(children >= size[internal]):
                raise ArtefactError("a child index points outside its tree or backwards")
        base = offsets[tree[internal]]
        parents = np.bincount(
            np.concatenate([self.left[internal] + base, self.right[internal] + base]), minlength=n_nodes
        )
        if np.any(parents[offsets[:-1]] != 0) or np.any(np.delete(parents, offsets[:-1]) != 1):
            raise ArtefactError("nodes are shared between branches or unreachable")

    def fingerprint(self) -> str:
        """SHA-256 of the node arrays: equal fingerprints, equal trees (the archive's own bytes carry dates)."""
        digest = hashlib.sha256()
        for name in ("tree_offsets", "feature", "threshold", "left", "right", "leaf_value"):
            digest.update(np.ascontiguousarray(getattr(self, name)).tobytes())
        digest.update(np.float64(self.base_score).tobytes())
        return digest.hexdigest()

    @cached_property
    def _walk(self) -> _Walk:
        """The trees laid out for walking every row through every tree at once (made on first use)."""
        tree = np.repeat(np.arange(self.n_trees), np.diff(self.tree_offsets))
        leaf = self.feature < 0
        own = np.arange(self.feature.shape[0])
        # Children as indices into the node arrays; a leaf is its own child (on feature 0) and so stays put.
        left = np.where(leaf, own, self.left + self.tree_offsets[tree])
        right = np.where(leaf, own, self.right + self.tree_offsets[tree])
        return _Walk(
            feature=np.where(leaf, 0, self.feature).astype(np.intp),
            threshold=self.threshold,
            left=left,
            right=right,
            leaf=leaf,
        )

    def probabilities(self, x: FloatArray) -> FloatArray:
        """Fall probability of each row of ``x``: the logistic of its summed leaf values."""
        rows = np.asarray(x, dtype=np.float64)
        walk = self._walk
        node = np.broadcast_to(self.tree_offsets[:-1], (rows.shape[0], self.n_trees)).copy()
        at = np.arange(rows.shape[0])[:, None]
        while not walk.leaf[node].all():
            go_left = rows[at, walk.feature[node]] <= walk.threshold[node]
            node = np.where(go_left, walk.left[node], walk.right[node])
        return np.asarray(expit(self.base_score + self.leaf_value[node].sum(axis=1)), dtype=np.float64)


@dataclass(frozen=True)
class _Walk:
    """The trees' nodes with absolute child indices, leaves pointing at themselves."""

    feature: npt.NDArray[np.intp]
    threshold: npt.NDArray[np.float64]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    leaf: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Assessment:
    """The model's view of one recording."""

    probability: float
    """Fall probability of the most fall-like impact window."""
    is_fall: bool
    """``probability`` reaches the artefact's decision threshold."""
    impact_s: float
    """Time of that window's impact peak from the start of the recording (s)."""
    window_peaks_s: FloatArray
    """Impact time of every candidate window (s)."""
    window_probabilities: FloatArray
    """Fall probability of every candidate window."""


@dataclass(frozen=True)
class FallModel:
    """A fall classifier for one sensor position with its decision threshold and provenance."""

    position: str
    version: str
    threshold: float
    trees: BoostedTrees
    metadata: dict[str, Any]

    @classmethod
    def load(cls, position: str) -> FallModel:
        """Load the model shipped in this package for a sensor position (``neck``, ``waist``, ``wrist``)."""
        if position not in available_positions():
            raise ArtefactError(f"no shipped fall model for position {position!r}")
        with resources.as_file(_models_dir() / f"{position}.npz") as path:
            model = cls.from_file(path)
        if model.position != position:
            raise ArtefactError(f"the {position} artefact is a model for {model.position!r}")
        return model

    @classmethod
    def from_file(cls, path: Path) -> FallModel:
        """Read and check an artefact; anything but the expected plain arrays is refused."""
        arrays = _read_arrays(path)
        if str(arrays["format"]) != FORMAT or arrays["format"].ndim != 0:
            raise ArtefactError(f"{path}: not a {FORMAT} artefact")
        version = arrays["format_version"]
        if version.dtype.kind != "i" or version.ndim != 0 or int(version) != FORMAT_VERSION:
            raise ArtefactError(f"{path}: unsupported format version")
        try:
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError as err:
            raise ArtefactError(f"{path}: metadata is not JSON") from err
        if not isinstance(meta, dict) or set(meta) != _META_KEYS:
            raise ArtefactError(f"{path}: metadata must hold exactly {sorted(_META_KEYS)}")
        threshold = meta["threshold"]
        if not isinstance(threshold, float) or not 0.0 < threshold < 1.0:
            raise ArtefactError(f"{path}: decision threshold must be a number in (0, 1)")
        if not isinstance(meta["position"], str) or not isinstance(meta["version"], str):
            raise ArtefactError(f"{path}: position and version must be strings")
        if meta["preprocessing"] != preprocessing():
            raise ArtefactError(f"{path}: made for other signal preprocessing than this code's")
        if tuple(arrays["feature_names"].tolist()) != features.FEATURE_NAMES:
            raise ArtefactError(f"{path}: made for other features than this code computes")
        expected_dtypes = {
            "tree_offsets": np.int64,
            "feature": np.int16,
            "threshold": np.float64,
            "left": np.int32,
            "right": np.int32,
            "leaf_value": np.float64,
        }
        for name, dtype in expected_dtypes.items():
            if arrays[name].dtype != dtype or arrays[name].ndim != 1:
                raise ArtefactError(f"{path}: array {name!r} must be 1-D {np.dtype(dtype)}")
        base_score = arrays["base_score"]
        if base_score.dtype != np.float64 or base_score.ndim != 0:
            raise ArtefactError(f"{path}: base score must be a float64 scalar")
        trees = BoostedTrees(
            tree_offsets=arrays["tree_offsets"],
            feature=arrays["feature"],
            threshold=arrays["threshold"],
            left=arrays["left"],
            right=arrays["right"],
            leaf_value=arrays["leaf_value"],
            base_score=float(base_score),
        )
        try:
            trees.validate(len(features.FEATURE_NAMES))
        except ArtefactError as err:
            raise ArtefactError(f"{path}: {err}") from err
        return cls(meta["position"], meta["version"], threshold, trees, meta)

    def save(self, path: Path) -> None:
        """Write the artefact as a compressed ``.npz`` of plain arrays."""
        meta = {**self.metadata, "position": self.position, "version": self.version}
        meta |= {"threshold": self.threshold, "preprocessing": preprocessing()}
        np.savez_compressed(
            path,
            format=np.array(FORMAT),
            format_version=np.array(FORMAT_VERSION, dtype=np.int64),
            meta=np.array(json.dumps(meta, sort_keys=True)),
            feature_names=np.array(features.FEATURE_NAMES),
            tree_offsets=self.trees.tree_offsets,
            feature=self.trees.feature,
            threshold=self.trees.threshold,
            left=self.trees.left,
            right=self.trees.right,
            leaf_value=self.trees.leaf_value,
            base_score=np.array(self.trees.base_score, dtype=np.float64),
        )

    def assess(self, acc_g: npt.ArrayLike, gyr_dps: npt.ArrayLike | None, fs: float) -> Assessment:
        """Judge one recording: a live burst or a whole trial of at least ``features.MIN_DURATION_S``.

        ``acc_g`` is (n, 3) in g, ``fs`` its sample rate in Hz (at least ``features.MIN_INPUT_FS``).
        ``gyr_dps`` (n, 3) in deg/s is optional: devices send it, but the shipped models use the
        accelerometer alone (the gyroscope gave no cross-validated gain and is missing on some devices);
        it is only checked. The recording is conditioned to the models' one signal, every impact peak
        in it is scored (up to its first and last sample), and the most fall-like window decides.
        Raises ``features.RecordingError`` for a recording too short, too slow or malformed.
        """
        acc = np.asarray(acc_g, dtype=np.float64)
        if gyr_dps is not None and np.shape(gyr_dps) != acc.shape:
            raise features.RecordingError(f"gyroscope shape {np.shape(gyr_dps)} differs from accelerometer {acc.shape}")
        return self.assess_windows(features.impact_windows(acc, fs))

    def assess_windows(self, windows: ImpactWindows) -> Assessment:
        """Judge a recording from its impact windows; training and evaluation reuse windows through this."""
        probabilities = self.trees.probabilities(windows.features)
        best = int(np.argmax(probabilities))
        return Assessment(
            probability=float(probabilities[best]),
            is_fall=bool(probabilities[best] >= self.threshold),
            impact_s=float(windows.peak_s[best]),
            window_peaks_s=windows.peak_s,
            window_probabilities=probabilities,
        )

    def probability(self, acc_g: npt.ArrayLike, gyr_dps: npt.ArrayLike | None, fs: float) -> float:
        """Fall probability of a recording (see ``assess``)."""
        return self.assess(acc_g, gyr_dps, fs).probability

    def is_fall(self, acc_g: npt.ArrayLike, gyr_dps: npt.ArrayLike | None, fs: float) -> bool:
        """Whether a recording holds a fall, at the threshold stored in the artefact (see ``assess``)."""
        return self.assess(acc_g, gyr_dps, fs).is_fall


def _models_dir() -> resources.abc.Traversable:
    return resources.files(__package__) / "models"


def model_position(position: str) -> str:
    """The position whose model judges data recorded at ``position`` (itself, or its ``POSITION_ALIASES`` entry)."""
    return POSITION_ALIASES.get(position, position)


def available_positions() -> tuple[str, ...]:
    """Sensor positions with a shipped model."""
    return tuple(
        sorted(entry.name.removesuffix(".npz") for entry in _models_dir().iterdir() if entry.name.endswith(".npz"))
    )


def _read_arrays(path: Path) -> dict[str, npt.NDArray[Any]]:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile) as err:
        raise ArtefactError(f"{path}: not a readable .npz archive ({err})") from err
    if unpacked > MAX_ARTEFACT_BYTES:
        raise ArtefactError(f"{path}: unpacks to more than {MAX_ARTEFACT_BYTES} bytes")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        # allow_pickle=False turns any pickled (object) array into this ValueError.
        raise ArtefactError(f"{path}: not a readable artefact ({err})") from err
    if set(arrays) != _ARRAYS:
        raise ArtefactError(f"{path}: arrays must be exactly {sorted(_ARRAYS)}")
    return arrays
