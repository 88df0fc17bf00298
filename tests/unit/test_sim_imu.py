"""Wrist IMU signals: a fall has a dip under 1 g, an impact over 2.5 g and stillness after; a knock does not."""

from __future__ import annotations

import numpy as np
import pytest

from homecare.contracts.messages import ImuBurst
from homecare.sim.imu import ImuSignal, fall_signal, knock_signal


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for x in mask:
        run = run + 1 if x else 0
        best = max(best, run)
    return best


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))))


@pytest.mark.parametrize("seed", range(20))
def test_fall_has_a_dip_impact_and_lying_still(seed: int) -> None:
    s = fall_signal(np.random.default_rng(seed))
    g = s.magnitude_g()
    fs = s.fs
    assert fs == 50
    # As in the recorded falls: under 0.6 g only briefly (median 0.04–0.08 s, 90th percentile 0.18 s).
    unloaded = _longest_run(g[: s.impact] < 0.6) / fs
    assert 0.02 <= unloaded <= 0.25
    assert g[s.impact - int(fs) : s.impact].min() < 0.6
    assert 2.5 <= g[s.impact] <= 8.0
    assert g.argmax() == s.impact
    spin = np.linalg.norm(s.gyr.astype(float), axis=1) / 10  # deg/s
    assert spin[s.impact - 5 : s.impact + 10].max() > 250
    still = g[s.impact + int(fs) :]
    assert still.std() < 0.03
    assert abs(still.mean() - 1.0) < 0.05
    assert spin[s.impact + int(fs) :].max() < 5
    before = s.acc[int(fs) : s.impact - int(fs)].mean(axis=0)
    after = s.acc[-int(fs) :].mean(axis=0)
    assert 60 < _angle_deg(before, after) < 120  # lying: the wrist ends up turned


def test_fall_is_deterministic_and_fits_the_contract() -> None:
    a, b = fall_signal(np.random.default_rng(3)), fall_signal(np.random.default_rng(3))
    np.testing.assert_array_equal(a.acc, b.acc)
    burst = ImuBurst(
        v=1,
        device_id="r0001-wr",
        seq=2,
        ts=1_800_000_010_000,
        event_seq=1,
        t0=1_800_000_000_000,
        fs=a.fs,
        acc=[tuple(r) for r in a.acc.tolist()],
        gyr=[tuple(r) for r in a.gyr.tolist()],
    )
    assert len(burst.acc) == len(a.acc)
    assert 8 < len(a.acc) / a.fs < 12


def test_recovery_gets_the_wrist_upright_again() -> None:
    s = fall_signal(np.random.default_rng(5), recovers_after_s=2.0)
    before = s.acc[int(s.fs) : s.impact - int(s.fs)].mean(axis=0)
    assert _angle_deg(before, s.acc[-int(s.fs) :].mean(axis=0)) < 30


@pytest.mark.parametrize("seed", range(10))
def test_a_knock_has_a_spike_but_no_free_fall_and_no_new_posture(seed: int) -> None:
    s: ImuSignal = knock_signal(np.random.default_rng(seed))
    g = s.magnitude_g()
    assert g.max() > 2.5
    assert _longest_run(g < 0.6) / s.fs < 0.1
    assert _angle_deg(s.acc[: s.impact].mean(axis=0), s.acc[s.impact + 5 :].mean(axis=0)) < 30
