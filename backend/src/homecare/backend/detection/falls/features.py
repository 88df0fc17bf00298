"""Signal conditioning and impact-window features, one code path for live bursts, training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, find_peaks, sosfiltfilt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

MODEL_FS = 25.0
"""Every recording is resampled to this rate (Hz) before features are taken."""
BANDWIDTH_HZ = 8.0
"""Low-pass corner (Hz): below the 18 Hz WEDA-FALL holds, and below Nyquist of a 20 Hz device."""
MIN_INPUT_FS = 20.0
"""Slower recordings cannot carry the band the features rely on."""
ACC_FULL_SCALE_G = 4.0
"""Per-axis clip for every accelerometer: the smallest full scale of the training devices (WEDA's watch)."""
PRE_S = 2.0
"""Window start before the impact peak (s): long enough to see the posture before a fall."""
POST_S = 3.0
"""Window end after the impact peak (s): long enough to see whether the wearer stays down."""
MIN_PEAK_DISTANCE_S = 1.0
"""Impact candidates are at least this far apart, so an impact and its rebound count once."""
MIN_CANDIDATE_G = 1.4
"""Local maxima below this are ordinary movement; the largest peak is a candidate regardless."""
BIN_S = 0.5
"""Width of the time bins of the window profile."""

PRE_N = round(PRE_S * MODEL_FS)
POST_N = round(POST_S * MODEL_FS)
WINDOW_N = PRE_N + POST_N
_STILL_TOLERANCE_G = 0.1
_IMPACT_LEVEL_G = 2.0

_BIN_STARTS = tuple(float(t) for t in np.arange(-PRE_S, POST_S - 1e-9, BIN_S))
_SCALAR_FEATURES = (
    "peak_g",
    "impact_above_2g_s",
    "impact_impulse_gs",
    "impact_jerk_gps",
    "descent_min_g",
    "descent_free_fall_gs",
    "before_std_g",
    "before_range_g",
    "after_std_g",
    "after_deviation_g",
    "after_still_fraction",
    "after_vector_std_g",
    "after_max_g",
    "orientation_change_deg",
    "window_mean_g",
    "window_std_g",
)
_BIN_FEATURES = ("magnitude_g", "vector_std_g", "angle_from_before_deg", "angle_from_after_deg")
FEATURE_NAMES: tuple[str, ...] = _SCALAR_FEATURES + tuple(
    f"{name}@{start:+.1f}s" for start in _BIN_STARTS for name in _BIN_FEATURES
)
"""The feature contract between this module and a model artefact; artefacts store and check it."""


@dataclass(frozen=True)
class ImpactWindows:
    """The candidate impact windows of one recording, largest impact first."""

    peak_s: FloatArray
    """Time of each window's impact peak from the start of the recording (s)."""
    features: FloatArray
    """One row of ``FEATURE_NAMES`` per window."""
    padded: bool
    """The recording was shorter than a window and its edges were repeated to fill one."""
    largest_inside: bool
    """The first window is centred on the recording's largest peak (it may lie too near an edge)."""


def condition(acc_g: npt.ArrayLike, fs: float) -> FloatArray:
    """Clip to the common full scale, band-limit and resample one accelerometer recording to ``MODEL_FS``."""
    acc = np.asarray(acc_g, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise ValueError(f"acceleration must have shape (n, 3), not {acc.shape}")
    if not np.isfinite(fs) or fs < MIN_INPUT_FS:
        raise ValueError(f"sample rate {fs} Hz is below the {MIN_INPUT_FS} Hz the model needs")
    if acc.shape[0] < fs:
        raise ValueError("a recording must last at least 1 s")
    if not np.all(np.isfinite(acc)):
        raise ValueError("acceleration holds non-finite values")
    # Clip before filtering, as a ±4 g device would have, so peak height above saturation carries nothing.
    clipped = np.clip(acc, -ACC_FULL_SCALE_G, ACC_FULL_SCALE_G)
    # Zero-phase, so the impact peak stays where it was; the same analogue band whatever the input rate.
    filtered = sosfiltfilt(butter(4, BANDWIDTH_HZ, fs=fs, output="sos"), clipped, axis=0)
    t_in = np.arange(acc.shape[0]) / fs
    t_out = np.arange(int((acc.shape[0] - 1) / fs * MODEL_FS + 1e-9) + 1) / MODEL_FS
    return np.column_stack([np.interp(t_out, t_in, filtered[:, axis]) for axis in range(3)])


def impact_peaks(magnitude: FloatArray) -> IndexArray:
    """Indices of impact peaks whose whole window lies inside the recording, largest first.

    Peaks nearer an edge than the window are left out: in the datasets they are mostly the wearer
    starting or stopping the recording, and padding their windows with made-up samples would let a
    model learn the padding. Live bursts are cut around the suspected impact, so it is never that near.
    """
    first, last = PRE_N, magnitude.shape[0] - POST_N
    if last < first:
        return np.empty(0, dtype=np.intp)
    inside = magnitude[first : last + 1]
    peaks, _ = find_peaks(inside, height=MIN_CANDIDATE_G, distance=round(MIN_PEAK_DISTANCE_S * MODEL_FS))
    peaks = np.union1d(peaks, [int(np.argmax(inside))]).astype(np.intp)
    return peaks[np.argsort(-inside[peaks], kind="stable")] + first


def impact_windows(acc_g: npt.ArrayLike, fs: float) -> ImpactWindows:
    """Condition a recording and compute the features of every candidate impact window in it."""
    acc = condition(acc_g, fs)
    magnitude = np.linalg.norm(acc, axis=1)
    largest = int(np.argmax(magnitude))
    peaks = impact_peaks(magnitude)
    if peaks.size:
        windows = np.stack([acc[p - PRE_N : p + POST_N] for p in peaks])
        return ImpactWindows(
            peak_s=peaks / MODEL_FS,
            features=window_features(windows),
            padded=False,
            largest_inside=bool(peaks[0] == largest),
        )
    # Shorter than a window: repeat the edge samples, the least inventive filler available.
    before = max(0, PRE_N - largest)
    after = max(0, largest + POST_N - acc.shape[0])
    padded = np.pad(acc, ((before, after), (0, 0)), mode="edge")
    start = largest + before - PRE_N
    return ImpactWindows(
        peak_s=np.array([largest / MODEL_FS]),
        features=window_features(padded[None, start : start + WINDOW_N]),
        padded=True,
        largest_inside=True,
    )


def _segment(start_s: float, end_s: float) -> slice:
    return slice(PRE_N + round(start_s * MODEL_FS), PRE_N + round(end_s * MODEL_FS))


def _angle_deg(u: FloatArray, v: FloatArray) -> FloatArray:
    cosine = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-9)
    return np.asarray(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))), dtype=np.float64)


def window_features(windows: FloatArray) -> FloatArray:
    """Features of impact windows (k, ``WINDOW_N``, 3) in g, each centred on its peak at ``PRE_N``.

    Only magnitudes and angles between acceleration vectors of the same window are used, so the
    features do not depend on how the device's axes are mounted (left or right wrist, buckle turned).
    """
    if windows.ndim != 3 or windows.shape[1:] != (WINDOW_N, 3):
        raise ValueError(f"windows must have shape (k, {WINDOW_N}, 3), not {windows.shape}")
    magnitude = np.linalg.norm(windows, axis=2)
    posture_before = windows[:, _segment(-PRE_S, -1.0)].mean(axis=1)
    posture_after = windows[:, _segment(POST_S - 1.5, POST_S)].mean(axis=1)
    impact = magnitude[:, _segment(-0.5, 0.5)]
    descent = magnitude[:, _segment(-1.0, 0.0)]
    before = magnitude[:, _segment(-PRE_S, -0.5)]
    after = magnitude[:, _segment(1.0, POST_S)]
    columns = [
        magnitude[:, PRE_N],
        (impact > _IMPACT_LEVEL_G).sum(axis=1) / MODEL_FS,
        np.abs(impact - 1.0).sum(axis=1) / MODEL_FS,
        np.abs(np.diff(impact, axis=1)).max(axis=1) * MODEL_FS,
        descent.min(axis=1),
        # Area under 1 g while descending: proportional to the speed gained in free fall.
        np.clip(1.0 - descent, 0.0, None).sum(axis=1) / MODEL_FS,
        before.std(axis=1),
        np.ptp(before, axis=1),
        after.std(axis=1),
        np.abs(after - 1.0).mean(axis=1),
        (np.abs(after - 1.0) < _STILL_TOLERANCE_G).mean(axis=1),
        np.sqrt(windows[:, _segment(1.0, POST_S)].var(axis=1).sum(axis=1)),
        magnitude[:, _segment(0.5, POST_S)].max(axis=1),
        _angle_deg(posture_before, posture_after),
        magnitude.mean(axis=1),
        magnitude.std(axis=1),
    ]
    for start in _BIN_STARTS:
        part = _segment(start, start + BIN_S)
        direction = windows[:, part].mean(axis=1)
        columns += [
            magnitude[:, part].mean(axis=1),
            np.sqrt(windows[:, part].var(axis=1).sum(axis=1)),
            _angle_deg(posture_before, direction),
            _angle_deg(posture_after, direction),
        ]
    return np.column_stack(columns)
