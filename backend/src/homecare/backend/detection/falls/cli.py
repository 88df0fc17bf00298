"""``homecare falls``: evaluate recordings with the shipped fall models, and retrain them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from homecare.backend.detection.falls import card, evaluation, features, training
from homecare.backend.detection.falls.dataset import TRAINING_FILES, DatasetError, FallDataset, datasets_dir
from homecare.backend.detection.falls.evaluation import GROUPS, GroupMetrics, Report, TrialInfo
from homecare.backend.detection.falls.model import ArtefactError, FallModel, available_positions, model_position

app = typer.Typer(
    help="Fall detection: evaluate recordings with the shipped models, retrain them.", no_args_is_help=True
)

_MODELS = Path(__file__).with_name("models")


def _progress() -> Progress:
    # On stderr, so that --json output on stdout stays machine-readable.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _table(title: str, report: dict[str, GroupMetrics]) -> Table:
    table = Table(title=title)
    # Short headings, so that the table fits an 80-column terminal.
    for column in ("subjects", "trials", "falls", "ADLs", "sens.", "spec.", "F1", "alarms/ADL h"):
        table.add_column(column, justify="left" if column == "subjects" else "right")
    for group in GROUPS:
        m = report[group]
        table.add_row(
            group,
            str(m.trials),
            str(m.falls),
            str(m.adls),
            *("–" if v is None else f"{v:.3f}" for v in (m.sensitivity, m.specificity, m.f1)),
            "–" if m.false_alarms_per_hour is None else f"{m.false_alarms_per_hour:.2f}",
        )
    return table


def _refuse(message: str) -> NoReturn:
    """A plain mistake: the command line says it in one line and exits non-zero, no traceback."""
    raise typer.BadParameter(message)


def _figures_table(figures: dict[str, Any]) -> Table:
    table = Table(title=f"{figures['position']} model: subjects held out (and dataset left out)")
    for column in ("dataset", "sens.", "spec.", "F1", "alarms/ADL h", "left out: F1"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for entry in figures["datasets"]:
        overall = entry["held_out"]["overall"]
        left_out = entry.get("left_out")
        table.add_row(
            entry["name"],
            *(_number(overall[rate], 2 if rate == "false_alarms_per_hour" else 3) for rate in evaluation.RATES),
            "–" if left_out is None else _number(left_out["overall"]["f1"], 3),
        )
    return table


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _intervals_table(report: Report) -> Table:
    table = Table(title="95% intervals, subjects drawn with replacement")
    for column in ("group", "subjects", "sens.", "spec.", "F1", "alarms/ADL h"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for group in GROUPS:
        m = report.groups[group]
        cells = [
            "–" if (i := m.intervals.get(rate)) is None else f"{i[0]:.{d}f}–{i[1]:.{d}f}"
            for rate, d in zip(evaluation.RATES, (3, 3, 3, 2), strict=True)
        ]
        table.add_row(group, str(m.subjects), *cells)
    return table


def _activities_table(report: Report) -> Table:
    table = Table(title="Per activity: share of trials that raised an alarm")
    for column in ("activity", "kind", "trials", "alarmed", "share"):
        table.add_column(column, justify="left" if column in ("activity", "kind") else "right")
    for code, a in report.activities.items():
        table.add_row(code, "fall" if a.label else "ADL", str(a.trials), str(a.alarmed), f"{a.alarm_rate:.2f}")
    return table


def _check_trials(file: Path, dataset: FallDataset) -> None:
    """Refuse, before any work, a file whose rate or shortest trial the models cannot judge."""
    shortest = int(np.argmin(dataset.trial_len))
    try:
        features.check_recording(int(dataset.trial_len[shortest]), dataset.fs)
    except features.RecordingError as err:
        which = " is" if dataset.fs < features.MIN_INPUT_FS else f": trial {dataset.trial_name(shortest)}"
        _refuse(f"{file}{which} {err}")


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Recordings in the common fall-dataset .npz format.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    position: Annotated[
        str | None, typer.Option(help="Use this position's model instead of the one for the file's position.")
    ] = None,
    activities: Annotated[bool, typer.Option("--activities", help="Also print the alarm rate per activity.")] = False,
) -> None:
    """Per-trial sensitivity, specificity, F1 and false alarms per ADL hour (with intervals over subjects),
    overall, by age group and by activity."""
    try:
        dataset = FallDataset.load(file)
    except DatasetError as err:
        _refuse(str(err))
    chosen = model_position(position or dataset.position)
    if chosen not in available_positions():
        _refuse(
            f"{file}: no fall model for {position or dataset.position!r} data; "
            f"choose one with --position ({', '.join(available_positions())})"
        )
    try:
        model = FallModel.load(chosen)
    except ArtefactError as err:
        _refuse(str(err))
    _check_trials(file, dataset)
    if position:
        why = f"chosen with --position for {dataset.position} data"
    elif chosen == dataset.position:
        why = f"the model for the file's {dataset.position} data"
    else:
        why = f"the model for {dataset.position} data, where a pendant on a cord hangs"
    judged_by = f"judged by the {model.position} model {model.version} (threshold {model.threshold:.2f}), {why}"
    with _progress() as progress:
        task = progress.add_task(f"{file.name}: {model.position} model", total=dataset.n_trials)
        results = evaluation.evaluate(model, dataset, lambda: progress.advance(task))
    report = results.report(TrialInfo.of(dataset))
    # Figures on the model's own training data are fit, not generalisation: say so.
    in_sample = any(
        seen["dataset"] == dataset.name and seen["source"] == dataset.source for seen in model.metadata["trained_on"]
    )
    payload: dict[str, Any] = {
        "file": str(file),
        "dataset": dataset.name,
        "position": dataset.position,
        "sample_rate_hz": dataset.fs,
        "model": {
            "position": model.position,
            "version": model.version,
            "threshold": model.threshold,
            "judged_by": judged_by,
        },
        "in_sample": in_sample,
        **report.to_dict(),
    }
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    console.print(f"{file}: {dataset.name} ({dataset.position}, {dataset.fs:g} Hz), {judged_by}.")
    console.print(_table(f"{dataset.name} — {model.position} model {model.version}", report.groups))
    console.print(_intervals_table(report))
    if activities:
        console.print(_activities_table(report))
    if in_sample:
        console.print(
            "[yellow]This file is the model's training data: these figures are in-sample fit. "
            "See MODEL_CARD.md for subject-held-out figures.[/yellow]"
        )


@app.command()
def train(
    position: Annotated[
        list[str] | None, typer.Option(help="Position to train (repeatable); default: every position.")
    ] = None,
    datasets: Annotated[
        Path | None, typer.Option(help="Datasets folder; default $HOMECARE_DATASETS or ../shared/datasets.")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, help="Outer cross-validation folds (whole subjects).")] = training.FOLDS,
    jobs: Annotated[int, typer.Option(min=1, max=2, help="CPU cores for fitting.")] = 2,
    output: Annotated[Path, typer.Option(help="Where to write the artefacts and figures.json.")] = _MODELS,
    update_card: Annotated[bool, typer.Option(help="Regenerate the figures in MODEL_CARD.md.")] = True,
) -> None:
    """Evaluate with subjects and whole datasets held out, fit on every dataset of the position, and write
    the artefacts, their figures (figures.json) and the model card's tables generated from them."""
    positions = position or sorted(TRAINING_FILES)
    unknown = set(positions) - set(TRAINING_FILES)
    if unknown:
        _refuse(f"unknown position(s) {sorted(unknown)}; known: {sorted(TRAINING_FILES)}")
    folder = datasets or datasets_dir()
    absent = [str(folder / file) for name in positions for file in TRAINING_FILES[name] if not (folder / file).exists()]
    if absent:
        _refuse(f"missing dataset file(s): {', '.join(absent)}")
    console = Console()
    results: dict[str, training.PositionTraining] = {}
    with _progress() as progress:

        def stage(label: str, total: int) -> training.Advance:
            task = progress.add_task(label, total=total)
            return lambda: progress.advance(task)

        for name in positions:
            started = time.monotonic()
            results[name] = training.train_position(name, folder, jobs, folds, stage)
            console.print(f"{name}: trained and evaluated in {time.monotonic() - started:.0f} s")
    output.mkdir(parents=True, exist_ok=True)
    # Read at the end, so that positions trained meanwhile by another run keep their figures.
    figures_path = output / card.FIGURES.name
    figures = json.loads(figures_path.read_text()) if figures_path.exists() else {}
    for name, result in results.items():
        path = output / f"{name}.npz"
        result.model.save(path)
        figures[name] = result.figures | {"artefact_mb": round(path.stat().st_size / 2**20, 2)}
        console.print(_figures_table(result.figures))
        console.print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MB), threshold {result.model.threshold:.2f}")
    figures_path.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    console.print(f"wrote {figures_path}")
    if update_card:
        # From the file as written (keys sorted), so that the card is what the shipped figures.json renders.
        card.CARD.write_text(card.render(card.CARD.read_text(), json.loads(figures_path.read_text())))
        console.print(f"updated {card.CARD}")
