"""Generated sections of the model card, rendered from the figures ``homecare falls train`` measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homecare.backend.detection import cards
from homecare.backend.detection.falls.evaluation import GROUPS

CARD = Path(__file__).with_name("MODEL_CARD.md")
FIGURES = Path(__file__).with_name("models") / "figures.json"
"""Every figure of the card, as ``homecare falls train`` wrote it; the card's tables are rendered from it."""

_RATE_DIGITS = {"sensitivity": 3, "specificity": 3, "f1": 3, "false_alarms_per_hour": 2}


def _figure(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _rate(group: dict[str, Any], rate: str) -> str:
    """A rate with its bootstrap interval, e.g. ``0.951 (0.921–0.975)``."""
    digits = _RATE_DIGITS[rate]
    value, interval = group[rate], group.get("intervals", {}).get(rate)
    if value is None:
        return "–"
    if interval is None:
        return _figure(value, digits)
    return f"{value:.{digits}f} ({interval[0]:.{digits}f}–{interval[1]:.{digits}f})"


def _rates_row(first: list[str], group: dict[str, Any]) -> str:
    return "| " + " | ".join([*first, *(_rate(group, rate) for rate in _RATE_DIGITS)]) + " |"


_RATE_HEADER = "sensitivity | specificity | F1 | false alarms / ADL h |"


def summary_section(figures: dict[str, Any]) -> str:
    """One row per position and dataset: subjects held out, and the dataset left out."""
    lines = [
        f"| model | dataset | {_RATE_HEADER} dataset left out: F1 (false alarms / ADL h) |",
        "|---|---|---|---|---|---|---|",
    ]
    for position in sorted(figures):
        for entry in figures[position]["datasets"]:
            left_out = entry.get("left_out")
            lodo = (
                "– (one dataset)"
                if left_out is None
                else f"{_rate(left_out['overall'], 'f1')} ({_figure(left_out['overall']['false_alarms_per_hour'], 2)})"
            )
            lines.append(_rates_row([position, entry["name"]], entry["held_out"]["overall"]) + f" {lodo} |")
    return "\n".join(lines)


def _groups_table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"| subjects | people | trials | falls | ADLs | {_RATE_HEADER} ADL hours |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for group in GROUPS:
        m = report[group]
        if not m["trials"]:
            continue
        first = [group, str(m["subjects"]), str(m["trials"]), str(m["falls"]), str(m["adls"])]
        lines.append(_rates_row(first, m) + f" {m['adl_hours']:.2f} |")
    return lines


def _activities(report: dict[str, Any]) -> list[str]:
    cells = [
        f"{code} {'fall' if a['label'] else 'ADL'} {a['alarmed']}/{a['trials']}"
        for code, a in report["activities"].items()
    ]
    return [
        "<details><summary>Per activity (alarmed / trials)</summary>",
        "",
        "; ".join(cells) + ".",
        "",
        "</details>",
    ]


def position_section(figures: dict[str, Any]) -> str:
    """Provenance, held-out and left-out figures, robustness and per-activity rates of one position's model."""
    trained_on = ", ".join(f"`{d['file']}` ({d['name']}, {d['trials']} trials)" for d in figures["datasets"])
    fold_thresholds = ", ".join(f"{t:.2f}" for t in figures["fold_thresholds"])
    lines = [
        f"Trained on {trained_on}. Shipped threshold {figures['threshold']:.2f} (best F1 over the held-out "
        f"predictions of the training data); the folds' own thresholds {fold_thresholds}. "
        f"Artefact `models/{figures['position']}.npz`: {figures['trees']} trees, {figures['nodes']} nodes, "
        f"{figures['artefact_mb']:.2f} MB; fingerprint `{figures['fingerprint'][:16]}`.",
    ]
    for entry in figures["datasets"]:
        lines += [
            "",
            f"**{entry['name']}, subjects held out** ({entry['subjects']} subjects, {entry['fs']:g} Hz):",
            "",
            *_groups_table(entry["held_out"]),
            "",
        ]
        if "left_out" in entry:
            lines += [
                f"**{entry['name']} left out** (model and threshold {entry['left_out']['threshold']:.2f} from "
                "the other datasets only):",
                "",
                *_groups_table(entry["left_out"]),
                "",
            ]
        lines += [
            f"**{entry['name']}, the same held-out subjects, recordings changed** (overall):",
            "",
            f"| recordings | {_RATE_HEADER}",
            "|---|---|---|---|---|",
            _rates_row(["as recorded"], entry["held_out"]["overall"]),
            *(_rates_row([figures["variants"][name]], m) for name, m in entry["variants"].items()),
            "",
            *_activities(entry["held_out"]),
        ]
    return "\n".join(lines)


def render(card: str, figures: dict[str, Any]) -> str:
    """The card with every generated section rendered from ``figures`` (as in ``figures.json``)."""
    card = cards.replace_section(card, "metrics:summary", summary_section(figures))
    for position, position_figures in figures.items():
        card = cards.replace_section(card, f"metrics:{position}", position_section(position_figures))
    return card
