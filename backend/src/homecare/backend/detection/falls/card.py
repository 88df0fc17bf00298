"""Generated sections of the model card: the figures ``homecare falls train`` measured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from homecare.backend.detection.falls.evaluation import GROUPS, GroupMetrics
from homecare.backend.detection.falls.training import PositionTraining

CARD = Path(__file__).with_name("MODEL_CARD.md")


def _figure(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


_REPEAT_FIGURES: tuple[Callable[[dict[str, GroupMetrics]], float | None], ...] = (
    lambda report: report["overall"].sensitivity,
    lambda report: report["overall"].specificity,
    lambda report: report["overall"].f1,
    lambda report: report["elderly"].specificity,
)


def _spread(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "–"
    return f"{sum(known) / len(known):.3f} ({min(known):.3f}–{max(known):.3f})"


def metrics_table(report: dict[str, GroupMetrics]) -> list[str]:
    """One markdown row per subject group."""
    lines = [
        "| subjects | trials | falls | ADLs | sensitivity | specificity | F1 | ADL hours | false alarms / h |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for group in GROUPS:
        m = report[group]
        lines.append(
            f"| {group} | {m.trials} | {m.falls} | {m.adls} | {_figure(m.sensitivity)} | "
            f"{_figure(m.specificity)} | {_figure(m.f1)} | {m.adl_hours:.2f} | "
            f"{_figure(m.false_alarms_per_hour, 2)} |"
        )
    return lines


def position_section(training: PositionTraining, artefact_bytes: int) -> str:
    """Held-out figures, sample-rate robustness and provenance of one position's model."""
    model, dataset, cv = training.model, training.dataset, training.cross_validation
    unlearnt = sum(
        1 for trial, windows in enumerate(training.windows) if dataset.label[trial] == 1 and not windows.largest_inside
    )
    lines = [
        f"Trained on `{training.dataset_file}` ({dataset.name}, {dataset.n_trials} trials, "
        f"{len(set(dataset.subject.tolist()))} subjects). Shipped threshold {model.threshold:.2f} "
        f"(best held-out F1); per-fold thresholds {', '.join(f'{t:.2f}' for t in cv.fold_thresholds)}. "
        f"Artefact `models/{model.position}.npz`: {model.forest.n_trees} trees, "
        f"{model.forest.feature.shape[0]} nodes, {artefact_bytes / 2**20:.2f} MB. "
        f"Training took {training.seconds:.0f} s. {unlearnt} fall trials have their largest peak too near "
        "an edge for a window and are not learnt from (they are still evaluated).",
        "",
        f"**Held-out subjects, recorded at {dataset.fs:g} Hz (headline):**",
        "",
        *metrics_table(training.reports[dataset.fs]),
        "",
        f"**The same over {len(training.repeats)} different assignments of subjects to folds** "
        "(overall; mean, and range):",
        "",
        "| sensitivity | specificity | F1 | elderly specificity |",
        "|---|---|---|---|",
        "| " + " | ".join(_spread([getter(r) for r in training.repeats]) for getter in _REPEAT_FIGURES) + " |",
        "",
        "**The same held-out subjects resampled to other rates** (each trial resampled with an anti-alias "
        "filter, then fed to the model at that rate):",
        "",
        "| rate | sensitivity | specificity | F1 | elderly specificity | false alarms / h | "
        "99th pct. shift of trial probability |",
        "|---|---|---|---|---|---|---|",
    ]
    for rate, report in sorted(training.reports.items()):
        overall, elderly = report["overall"], report["elderly"]
        shift = training.probability_shift.get(rate)
        lines.append(
            f"| {rate:g} Hz | {_figure(overall.sensitivity)} | {_figure(overall.specificity)} | "
            f"{_figure(overall.f1)} | {_figure(elderly.specificity)} | "
            f"{_figure(overall.false_alarms_per_hour, 2)} | "
            f"{'(native)' if shift is None else _figure(shift)} |"
        )
    return "\n".join(lines)


def cross_section(results: dict[tuple[str, str], dict[str, GroupMetrics]]) -> str:
    """Each model on the other position's dataset, which it never saw."""
    lines = [
        "| model | evaluated on | sensitivity | specificity | F1 | elderly specificity | false alarms / h |",
        "|---|---|---|---|---|---|---|",
    ]
    for (model_position, data_position), report in sorted(results.items()):
        overall, elderly = report["overall"], report["elderly"]
        lines.append(
            f"| {model_position} | {data_position} data | {_figure(overall.sensitivity)} | "
            f"{_figure(overall.specificity)} | {_figure(overall.f1)} | {_figure(elderly.specificity)} | "
            f"{_figure(overall.false_alarms_per_hour, 2)} |"
        )
    return "\n".join(lines)
