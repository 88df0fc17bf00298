"""Wearable IMU signals at 50 Hz (wristband or pendant): a fall (dip, impact, settling, lying still) or a knock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from homecare.sim.physiology import FloatArray

Int16Array = npt.NDArray[np.int16]

ACC_FULL_SCALE_MG = 16000


@dataclass(frozen=True, slots=True)
class ImuSignal:
    """Raw samples as a device sends them: acceleration in milli-g, angular rate in 0.1 deg/s."""

    fs: float
    acc: Int16Array  # (n, 3), gravity included
    gyr: Int16Array  # (n, 3)
    impact: int  # index of the impact peak (or of the knock)

    def magnitude_g(self) -> FloatArray:
        return np.asarray(np.linalg.norm(self.acc.astype(np.float64), axis=1) / 1000.0, dtype=np.float64)


def _unit(v: FloatArray) -> FloatArray:
    return v / float(np.linalg.norm(v))


def _random_unit(rng: np.random.Generator) -> FloatArray:
    return _unit(rng.standard_normal(3))


def _rotate(v: FloatArray, axis: FloatArray, angle: float) -> FloatArray:
    """Rodrigues' rotation of `v` about unit `axis`."""
    along = float(axis @ v)
    turned = v * np.cos(angle) + np.cross(axis, v) * np.sin(angle) + axis * along * (1 - np.cos(angle))
    return np.asarray(turned, dtype=np.float64)


def _slerp(a: FloatArray, b: FloatArray, w: FloatArray) -> FloatArray:
    """Unit vectors turning from `a` to `b` for weights `w` in [0, 1], one row per weight."""
    omega = np.arccos(np.clip(a @ b, -1.0, 1.0))
    w = w[:, None]
    return (np.sin((1 - w) * omega) * a + np.sin(w * omega) * b) / np.sin(omega)


def _upright(rng: np.random.Generator) -> FloatArray:
    """Gravity in device axes with the arm hanging: mostly along -x, tilted a little at random."""
    return _unit(np.array([-0.9, 0.2, 0.35]) + 0.15 * rng.standard_normal(3))


def _moving(rng: np.random.Generator, up: FloatArray, n: int, fs: float) -> tuple[FloatArray, FloatArray]:
    """Walking with an arm swing: vertical bounce at the step rate, swing at half of it."""
    t = np.arange(n) / fs
    step_hz = rng.uniform(1.5, 1.9)
    phase = rng.uniform(0, 2 * np.pi)
    swing_axis = _unit(np.cross(up, _random_unit(rng)))
    side = np.cross(swing_axis, up)
    acc = (
        up * (1 + rng.uniform(0.12, 0.22) * np.sin(2 * np.pi * step_hz * t))[:, None]
        + side * (rng.uniform(0.08, 0.16) * np.sin(np.pi * step_hz * t + phase))[:, None]
        + 0.02 * rng.standard_normal((n, 3))
    )
    gyr = swing_axis * (rng.uniform(30, 70) * np.cos(np.pi * step_hz * t + phase))[:, None]
    return acc, gyr + 2.0 * rng.standard_normal((n, 3))


def _still(rng: np.random.Generator, down: FloatArray, n: int, fs: float) -> tuple[FloatArray, FloatArray]:
    """Lying (or standing) still: gravity plus sensor noise and the faint rhythm of breathing."""
    t = np.arange(n) / fs
    acc = down * (1 + 0.006 * np.sin(2 * np.pi * 0.25 * t))[:, None] + 0.006 * rng.standard_normal((n, 3))
    return acc, 0.4 * rng.standard_normal((n, 3))


SETTLE_S = 0.6
"""How long the body moves on after the impact before it lies still."""


def _settling(rng: np.random.Generator, down: FloatArray, n: int, fs: float) -> tuple[FloatArray, FloatArray]:
    """What is added to lying still while the body settles: a second knock of 0.7–1.2 g (a limb landing)
    and movement dying away, in acceleration (g) and angular rate (deg/s)."""
    t = np.arange(n) / fs
    fade = np.exp(-t / (SETTLE_S / 4))[:, None]
    acc = fade * rng.uniform(0.15, 0.3) * rng.standard_normal((n, 3))
    at, width = int(rng.integers(n // 4, n // 2 + 1)), max(2, round(0.06 * fs))
    k = np.arange(n) - at
    knock = np.where((k >= 0) & (k < width), np.sin(np.pi * (k + 0.5) / width), 0.0)
    acc += np.outer(knock * rng.uniform(0.7, 1.2), _unit(down + 0.5 * _random_unit(rng)))
    gyr = fade * rng.uniform(40, 90) * rng.standard_normal((n, 3))
    return acc, gyr


def _to_wire(acc_g: FloatArray, gyr_dps: FloatArray) -> tuple[Int16Array, Int16Array]:
    acc = np.clip(np.round(acc_g * 1000), -ACC_FULL_SCALE_MG, ACC_FULL_SCALE_MG).astype(np.int16)
    gyr = np.clip(np.round(gyr_dps * 10), -32768, 32767).astype(np.int16)
    return acc, gyr


def fall_signal(
    rng: np.random.Generator,
    *,
    fs: float = 50.0,
    pre_s: float = 3.0,
    post_s: float = 7.0,
    recovers_after_s: float | None = None,
) -> ImuSignal:
    """A fall: walking, a stumble, 0.32–0.48 s of falling with a brief dip to 0.25–0.55 g, an impact of
    2.5–8 g with a gyro burst, the body settling for 0.6 s (a second, smaller knock), then lying still with
    the wrist turned 70–110°; optionally getting up again.

    Shaped on the recorded falls the models learn from (WEDA-FALL and FallAllD): the device is under
    0.6 g for a median 0.04–0.08 s before the impact, never the textbook free fall of the whole descent,
    and it keeps moving for a moment after the impact.
    """
    up = _upright(rng)
    turn_axis = _unit(np.cross(up, _random_unit(rng)))
    down = _rotate(up, turn_axis, float(np.radians(rng.uniform(70, 110))))

    n_pre = int(pre_s * fs)
    pre_acc, pre_gyr = _moving(rng, up, n_pre, fs)
    pre_acc[-2:] *= np.array([[0.85], [0.7]])  # support is lost over a few tens of ms

    n_ff = round(rng.uniform(0.32, 0.48) * fs)
    w = np.arange(1, n_ff + 1) / (n_ff + 1)
    # Unloading deepest mid-fall: below 0.6 g for about 0.1 s of the descent.
    dip = 1.0 - (1.0 - rng.uniform(0.25, 0.55)) * np.sin(np.pi * w) ** 4
    ff_acc = _slerp(up, down, w) * (dip + 0.02 * rng.standard_normal(n_ff))[:, None]
    ff_gyr = turn_axis * (rng.uniform(120, 250) * np.sqrt(np.sin(np.pi * w)))[:, None]
    ff_gyr += 3.0 * rng.standard_normal((n_ff, 3))

    n_hit = round(0.3 * fs)
    k = np.arange(n_hit)
    peak = rng.uniform(2.5, 8.0)
    hit_dir = _unit(down + 0.4 * _random_unit(rng))
    # A body meets the floor over 0.1–0.2 s (soft tissue, clothing, the floor giving a little), not in
    # one sample: a half-sine pulse, then a small rebound.
    width = max(3, round(rng.uniform(0.1, 0.2) * fs))
    pulse = np.where(k < width, np.sin(np.pi * (k + 0.5) / width), 0.0)
    rebound = np.where((k >= width) & (k < 2 * width), -0.25 * np.sin(np.pi * (k - width + 0.5) / width), 0.0)
    # Gravity fades into the impact, so no sample of the pulse exceeds its peak.
    hit_acc = np.outer(1 - pulse, down) + np.outer(pulse * peak, hit_dir) + np.outer(rebound * peak, hit_dir)
    top = int(np.argmax(pulse))
    hit_acc[top] = hit_dir * peak  # the peak itself is exactly `peak` g
    spin_axis = _random_unit(rng)
    hit_gyr = np.outer(rng.uniform(300, 600) * np.cos(np.pi * 0.7 * k) * np.exp(-k / 3.0), spin_axis)

    n_post = max(int(post_s * fs) - n_hit, 1)
    post_acc, post_gyr = _still(rng, down, n_post, fs)
    settle_acc, settle_gyr = _settling(rng, down, min(round(SETTLE_S * fs), n_post), fs)
    post_acc[: settle_acc.shape[0]] += settle_acc
    post_gyr[: settle_gyr.shape[0]] += settle_gyr
    if recovers_after_s is not None and recovers_after_s * fs < n_post:
        r0 = int(recovers_after_s * fs)
        n_up = min(int(2 * fs), n_post - r0)
        post_acc[r0 : r0 + n_up] = _slerp(down, up, np.linspace(0, 1, n_up)) + 0.3 * rng.standard_normal((n_up, 3))
        post_gyr[r0 : r0 + n_up] = 80.0 * rng.standard_normal((n_up, 3))
        post_acc[r0 + n_up :], post_gyr[r0 + n_up :] = _still(rng, up, n_post - r0 - n_up, fs)

    acc, gyr = _to_wire(
        np.concatenate([pre_acc, ff_acc, hit_acc, post_acc]),
        np.concatenate([pre_gyr, ff_gyr, hit_gyr, post_gyr]),
    )
    return ImuSignal(fs=fs, acc=acc, gyr=gyr, impact=n_pre + n_ff + top)


def knock_signal(rng: np.random.Generator, *, fs: float = 50.0, pre_s: float = 3.0, post_s: float = 7.0) -> ImuSignal:
    """A false trigger: ordinary movement with a sharp 2.6–4.5 g knock (a hand hitting a table),
    no free fall before it and no change of posture after it."""
    up = _upright(rng)
    n = int((pre_s + post_s) * fs)
    acc, gyr = _moving(rng, up, n, fs)
    at = int(pre_s * fs)
    knock = _random_unit(rng)
    acc[at] = knock * rng.uniform(2.6, 4.5)
    acc[at + 1] = up - 0.6 * knock
    gyr[at : at + 3] += np.outer([150.0, -90.0, 40.0], _random_unit(rng))
    acc_w, gyr_w = _to_wire(acc, gyr)
    return ImuSignal(fs=fs, acc=acc_w, gyr=gyr_w, impact=at)
