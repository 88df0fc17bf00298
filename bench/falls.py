"""Fall-model benchmark: inference time per impact window and artefact size, for every shipped position.

Judges simulated 10 s bursts at 50 Hz (a fall and a knock, as devices send them) through the public
``FallModel.assess`` call, 200 times each, and divides by the impact windows scored; the trees alone
are timed on one window too. The fastest call is the figure (other processes on the two cores only
ever add to it); the median under the machine's load is kept beside it. Prints the figures and
writes bench/results/falls.json. Run: ``python -m bench.falls``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from bench.services import write_results
from homecare.backend.detection.falls import features
from homecare.backend.detection.falls.model import FallModel, available_positions
from homecare.sim.imu import fall_signal, knock_signal

RESULTS = Path(__file__).parent / "results" / "falls.json"
MODELS = Path(features.__file__).with_name("models")
REPEATS = 200
TARGET_MS_PER_WINDOW = 1.0
TARGET_MB = 50.0


def _timed_ms(call: Callable[[], object]) -> tuple[float, float]:
    """Median and fastest of ``REPEATS`` calls (ms): the fastest is the figure without other load on the cores."""
    call()  # warm up
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0, min(times) * 1000.0


def measure(position: str) -> dict[str, Any]:
    """Per-window inference time of one position's shipped model, and its size on disk."""
    model = FallModel.load(position)
    rng = np.random.default_rng(0)
    bursts = [fall_signal(rng), knock_signal(rng)]
    median, fastest, windows = [], [], []
    for burst in bursts:
        acc_g = burst.acc / 1000.0
        n_windows = features.impact_windows(acc_g, burst.fs).features.shape[0]
        timed = _timed_ms(partial(model.assess, acc_g, None, burst.fs))
        windows.append(n_windows)
        median.append(timed[0] / n_windows)
        fastest.append(timed[1] / n_windows)
    one_window = features.impact_windows(bursts[0].acc / 1000.0, bursts[0].fs).features[:1]
    trees = _timed_ms(partial(model.trees.probabilities, one_window))
    return {
        "ms_per_window": round(max(fastest), 3),
        "ms_per_window_median": round(max(median), 3),
        "trees_ms_per_window": round(trees[1], 3),
        "trees_ms_per_window_median": round(trees[0], 3),
        "windows_per_burst": windows,
        "trees": model.trees.n_trees,
        "nodes": int(model.trees.feature.shape[0]),
        "artefact_mb": round((MODELS / f"{position}.npz").stat().st_size / 2**20, 2),
    }


def main() -> None:
    console = Console()
    results = {position: measure(position) for position in available_positions()}
    for position, figures in results.items():
        ok = figures["ms_per_window"] <= TARGET_MS_PER_WINDOW and figures["artefact_mb"] <= TARGET_MB
        console.print(
            f"{position}: {figures['ms_per_window']:.3f} ms per window (median under the machine's load "
            f"{figures['ms_per_window_median']:.3f} ms; trees alone {figures['trees_ms_per_window']:.3f} ms), "
            f"{figures['artefact_mb']:.2f} MB "
            f"[{'green' if ok else 'red'}]{'within' if ok else 'over'} {TARGET_MS_PER_WINDOW:g} ms / {TARGET_MB:g} MB"
        )
    write_results(
        RESULTS,
        {
            "burst": "simulated fall and knock, 10 s at 50 Hz, through FallModel.assess; fastest and median of 200",
            "targets": {"ms_per_window": TARGET_MS_PER_WINDOW, "artefact_mb": TARGET_MB},
            "positions": results,
        },
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
