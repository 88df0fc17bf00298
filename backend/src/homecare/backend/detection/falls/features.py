"""Signal conditioning and impact-window features, one code path for live bursts, training and evaluation."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, find_peaks, sosfilt, sosfilt_zi

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

MODEL_FS = 25.0
"""Every recording is resampled to this rate (Hz) before features are taken."""
BANDWIDTH_HZ = 8.0
"""Low-pass corner (Hz): below the 18 Hz WEDA-FALL holds, and below Nyquist of a 20 Hz device."""
MIN_INPUT_FS = 20.0
"""Slower recordings cannot carry the band the features rely on."""
MIN_DURATION_S = 2.0
"""Shorter recordings hold too little around an impact to judge it."""
ACC_FULL_SCALE_G = 4.0
"""Per-axis clip for every accelerometer: the smallest full scale of the training devices (WEDA's watch)."""
STILL_STD_G = 0.02
"""A 0.5 s stretch whose magnitude varies less than this (std) is at rest: it reads gravity alone."""
MAX_GAIN_ERROR = 0.1
"""Gain errors up to this share are calibrated away from the resting magnitude; larger ones are left alone."""
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
    duration_s: float
    """Length of the recording (s)."""


class RecordingError(ValueError):
    """A recording the model cannot judge: too short, too slow, or not (n, 3) finite acceleration."""


def condition(acc_g: npt.ArrayLike, fs: float) -> FloatArray:
    """Bring any device's accelerometer recording to the one signal the models know.

    Clip each axis to the common full scale (as the most limited device would have), band-limit and
    resample to ``MODEL_FS`` (inputs from ``MIN_INPUT_FS`` to a few hundred Hz), then divide out a
    small gain error of the device, measured where it lies at rest and reads gravity alone.
    """
    acc = np.asarray(acc_g, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise RecordingError(f"acceleration must have shape (n, 3), not {acc.shape}")
    check_recording(acc.shape[0], fs)
    if not np.all(np.isfinite(acc)):
        raise RecordingError("acceleration holds non-finite values")
    # Clip before filtering, as a ±4 g device would have, so peak height above saturation carries nothing.
    clipped = np.clip(acc, -ACC_FULL_SCALE_G, ACC_FULL_SCALE_G)
    # Zero-phase, so the impact peak stays where it was; the same analogue band whatever the input rate.
    filtered = _zero_phase(clipped, float(fs))
    t_in = np.arange(acc.shape[0]) / fs
    t_out = np.arange(int((acc.shape[0] - 1) / fs * MODEL_FS + 1e-9) + 1) / MODEL_FS
    resampled = np.column_stack([np.interp(t_out, t_in, filtered[:, axis]) for axis in range(3)])
    return resampled / resting_gain(resampled)


@dataclass(frozen=True)
class _LowPass:
    """The band-limiting filter for one input rate, with its initial state per unit step and its edge padding."""

    sos: FloatArray
    zi: FloatArray
    """(sections, 2, 1): multiplied by a first sample, the state of a filter that has long seen that value."""
    edge: int


@functools.lru_cache(maxsize=64)
def _low_pass(fs: float) -> _LowPass:
    """Design the filter for one input rate once (designing it costs more than running it)."""
    sos = np.asarray(butter(4, BANDWIDTH_HZ, fs=fs, output="sos"), dtype=np.float64)
    # scipy's sosfiltfilt default padding: three times the taps not lost to poles and zeros at the origin.
    taps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return _LowPass(sos=sos, zi=sosfilt_zi(sos)[:, :, None], edge=3 * taps)


def _zero_phase(x: FloatArray, fs: float) -> FloatArray:
    """Filter the columns of ``x`` forward and back, as scipy's sosfiltfilt does with its odd padding, with the
    filter's design and initial state computed once per rate rather than on every call."""
    low = _low_pass(fs)
    edge = low.edge
    padded = np.concatenate((2 * x[:1] - x[edge:0:-1], x, 2 * x[-1:] - x[-2 : -edge - 2 : -1]))
    forward, _ = sosfilt(low.sos, padded, axis=0, zi=low.zi * padded[:1])
    backward, _ = sosfilt(low.sos, forward[::-1], axis=0, zi=low.zi * forward[-1:])
    return np.asarray(backward[::-1][edge:-edge], dtype=np.float64)


def check_recording(n_samples: int, fs: float) -> None:
    """Raise ``RecordingError``, stating the minimum, unless a recording is long and fast enough to judge."""
    if not np.isfinite(fs) or fs < MIN_INPUT_FS:
        raise RecordingError(f"sampled at {fs:g} Hz; the fall models need at least {MIN_INPUT_FS:g} Hz")
    if n_samples < MIN_DURATION_S * fs:
        raise RecordingError(f"lasts {n_samples / fs:.2f} s; the fall models need at least {MIN_DURATION_S:g} s")


def resting_gain(acc: FloatArray) -> float:
    """The magnitude a recording at ``MODEL_FS`` reads at rest (1.0 for a calibrated device).

    The median over its still half-seconds, if it has any and the error is small enough to be a
    calibration offset (FallAllD's pendant reads 0.983 g); otherwise 1.0, nothing to go by.
    """
    half_second = round(0.5 * MODEL_FS)
    n = acc.shape[0] // half_second
    if n == 0:
        return 1.0
    magnitude = np.linalg.norm(acc[: n * half_second], axis=1).reshape(n, half_second)
    still = magnitude[magnitude.std(axis=1) < STILL_STD_G]
    if still.shape[0] == 0:
        return 1.0
    gain = float(np.median(still))
    return gain if abs(gain - 1.0) <= MAX_GAIN_ERROR else 1.0


def impact_peaks(magnitude: FloatArray) -> IndexArray:
    """Indices of impact peaks anywhere in a recording, largest first (the largest is always one)."""
    peaks, _ = find_peaks(magnitude, height=MIN_CANDIDATE_G, distance=round(MIN_PEAK_DISTANCE_S * MODEL_FS))
    # find_peaks skips the first and last sample: a recording may start or end on its impact.
    peaks = np.union1d(peaks, [int(np.argmax(magnitude))]).astype(np.intp)
    return peaks[np.argsort(-magnitude[peaks], kind="stable")]


def impact_windows(acc_g: npt.ArrayLike, fs: float) -> ImpactWindows:
    """Condition a recording and compute the features of every candidate impact window in it.

    No impact goes unscored: a window reaching past either end of the recording is completed by
    repeating the edge sample (the least inventive filler), so an impact in the first or last
    seconds, or a recording shorter than a window, is judged like any other.
    """
    acc = condition(acc_g, fs)
    peaks = impact_peaks(np.linalg.norm(acc, axis=1))
    padded = np.pad(acc, ((PRE_N, POST_N), (0, 0)), mode="edge")
    # Padded index p + PRE_N is the peak; its window starts PRE_N earlier.
    windows = np.stack([padded[p : p + WINDOW_N] for p in peaks])
    return ImpactWindows(peak_s=peaks / MODEL_FS, features=window_features(windows), duration_s=acc.shape[0] / MODEL_FS)


def _segment(start_s: float, end_s: float) -> slice:
    return slice(PRE_N + round(start_s * MODEL_FS), PRE_N + round(end_s * MODEL_FS))


_BIN_EDGES = np.array([_segment(start, start + BIN_S).start for start in _BIN_STARTS], dtype=np.intp)
"""Where each profile bin starts in a window; the bins are back to back up to its end."""
_BIN_LENGTHS = np.diff(np.append(_BIN_EDGES, WINDOW_N))


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
    # The profile: every bin at once, as (k, bins) per feature, then interleaved bin by bin.
    direction = _bin_means(windows)
    spread = _bin_means((windows - np.repeat(direction, _BIN_LENGTHS, axis=1)) ** 2).sum(axis=2)
    profile = np.stack(
        [
            _bin_means(magnitude),
            np.sqrt(spread),
            _angle_deg(posture_before[:, None], direction),
            _angle_deg(posture_after[:, None], direction),
        ],
        axis=2,
    )
    return np.column_stack([*columns, profile.reshape(windows.shape[0], -1)])


def _bin_means(values: FloatArray) -> FloatArray:
    """Means of ``values`` (k, ``WINDOW_N``, ...) over each profile bin: (k, bins, ...)."""
    sums = np.add.reduceat(values, _BIN_EDGES, axis=1)
    return np.asarray(sums / _BIN_LENGTHS.reshape((1, -1) + (1,) * (values.ndim - 2)), dtype=np.float64)
