"""Recorded vital-sign series in the shared ``.npz`` layout (see ``datasets/vitals/README.md``), per subject."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from homecare.contracts.messages import Metric

FloatArray = npt.NDArray[np.float64]
DAY_S: Final = 86_400

_KEYS: Final = {"hr": Metric.HEART_RATE, "pulse": Metric.HEART_RATE, "spo2": Metric.SPO2, "resp": Metric.RESP_RATE}
_WRIST_HR: Final = ("pulse", "hr")
"""A wristband's heart rate is optical: the PPG pulse rate when the file has one, else the heart rate."""


class SeriesError(ValueError):
    """The file is not a vital-sign series file this evaluator can read."""


@dataclass(frozen=True, slots=True)
class Labels:
    """Illness dates of one subject in the series' time frame (seconds); empty when not aligned."""

    onset: float | None = None
    recovery: float | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """One subject's series: time (seconds, ascending) and one array per metric, NaN where missing."""

    name: str
    t: FloatArray
    metrics: dict[Metric, FloatArray]
    labels: Labels = field(default_factory=Labels)
    aligned: bool = False

    @property
    def span_s(self) -> float:
        """Seconds from the first to the end of the last sample."""
        step = float(np.median(np.diff(self.t))) if len(self.t) > 1 else 1.0
        return float(self.t[-1] - self.t[0]) + step


@dataclass(frozen=True, slots=True)
class SeriesFile:
    """A whole file: its dataset name, sampling step and subjects."""

    path: Path
    dataset: str
    step_s: float
    subjects: list[Subject]
    labelled: bool
    """Whether the file carries illness dates (the Stanford file) or none at all (BIDMC)."""

    @classmethod
    def load(cls, path: Path) -> SeriesFile:
        """Read a file; raises ``SeriesError`` with a plain reason when it cannot be used."""
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an archive of named arrays")
            with loaded as archive:
                data = {key: archive[key] for key in archive.files}
        except (OSError, ValueError) as err:
            raise SeriesError(f"{path}: not a readable .npz file ({err})") from err
        missing = [key for key in ("subject", "start", "length", "t", "hr") if key not in data]
        if missing:
            raise SeriesError(f"{path}: not a vital-sign series file (missing {', '.join(missing)})")
        events: dict[str, Any] = json.loads(str(data["events"])) if "events" in data else {}
        names = [str(s) for s in data["subject"]]
        steps = np.diff(data["t"][: int(data["length"][0])]) if len(names) else np.array([1])
        subjects = []
        for i, name in enumerate(names):
            part = slice(int(data["start"][i]), int(data["start"][i] + data["length"][i]))
            metrics: dict[Metric, FloatArray] = {}
            hr_key = next(key for key in _WRIST_HR if key in data)
            metrics[Metric.HEART_RATE] = data[hr_key][part].astype(np.float64)
            for key, metric in _KEYS.items():
                if key in data and metric not in metrics:
                    metrics[metric] = data[key][part].astype(np.float64)
            if "steps" in data:
                metrics[Metric.STEPS] = data["steps"][part].astype(np.float64)
            ev = events.get(name, {})
            subjects.append(
                Subject(name, data["t"][part].astype(np.float64), metrics, _labels(ev), bool(ev.get("aligned")))
            )
        return cls(path, str(data.get("dataset", path.stem)), float(np.median(steps)), subjects, bool(events))


def _labels(ev: dict[str, Any]) -> Labels:
    """Onset: the first symptom onset, else the first diagnosis; recovery: the last one after the onset."""
    if not ev.get("aligned"):
        return Labels()
    starts = ev.get("symptom_onset_t") or ev.get("diagnosis_t") or []
    if not starts:
        return Labels()
    onset = float(min(starts))
    after = [float(r) for r in ev.get("recovery_t", []) if r >= onset]
    return Labels(onset, max(after) if after else None)


STANFORD: Final = "vitals/stanford_covid_fitbit_1min.npz"
BIDMC: Final = "vitals/bidmc_numerics_1hz.npz"
