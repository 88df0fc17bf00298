"""``homecare falls``: evaluate recordings with the shipped fall models, and retrain them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from homecare.backend.detection import cards
from homecare.backend.detection.falls import card, evaluation, training
from homecare.backend.detection.falls.dataset import TRAINING_FILES, DatasetError, FallDataset, datasets_dir
from homecare.backend.detection.falls.evaluation import GROUPS, GroupMetrics
from homecare.backend.detection.falls.features import MIN_INPUT_FS
from homecare.backend.detection.falls.model import ArtefactError, FallModel

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


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Recordings in the common fall-dataset .npz format.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    position: Annotated[
        str | None, typer.Option(help="Use this position's model instead of the one for the file's position.")
    ] = None,
) -> None:
    """Per-trial sensitivity, specificity, F1 and false alarms per ADL hour, overall and by age group."""
    try:
        dataset = FallDataset.load(file)
        model = FallModel.load(position or dataset.position)
    except (DatasetError, ArtefactError) as err:
        raise typer.BadParameter(str(err)) from err
    if dataset.fs < MIN_INPUT_FS:
        raise typer.BadParameter(
            f"{file} is sampled at {dataset.fs:g} Hz; the fall models need at least {MIN_INPUT_FS:g} Hz"
        )
    with _progress() as progress:
        task = progress.add_task(f"{file.name}: {model.position} model", total=dataset.n_trials)
        results = evaluation.evaluate(model, dataset, lambda: progress.advance(task))
    report = results.report(dataset)
    trained_on = model.metadata["trained_on"]
    # Figures on the model's own training data are fit, not generalisation: say so.
    in_sample = trained_on["dataset"] == dataset.name and trained_on["source"] == dataset.source
    payload: dict[str, Any] = {
        "file": str(file),
        "dataset": dataset.name,
        "position": dataset.position,
        "sample_rate_hz": dataset.fs,
        "model": {"position": model.position, "version": model.version, "threshold": model.threshold},
        "in_sample": in_sample,
        **{group: metrics.to_dict() for group, metrics in report.items()},
    }
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    console.print(
        _table(
            f"{dataset.name} ({dataset.position}, {dataset.fs:g} Hz) — {model.position} model "
            f"{model.version}, threshold {model.threshold:.2f}",
            report,
        )
    )
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
    output: Annotated[Path, typer.Option(help="Where to write the artefacts.")] = _MODELS,
    update_card: Annotated[bool, typer.Option(help="Refresh the figures in MODEL_CARD.md.")] = True,
) -> None:
    """Cross-validate with whole subjects held out, fit on all, write the artefacts and the card's figures."""
    positions = position or sorted(TRAINING_FILES)
    unknown = set(positions) - set(TRAINING_FILES)
    if unknown:
        raise typer.BadParameter(f"unknown position(s) {sorted(unknown)}; known: {sorted(TRAINING_FILES)}")
    folder = datasets or datasets_dir()
    if update_card:
        # Checked before the minutes of training, not after.
        text = card.CARD.read_text()
        wanted = [f"metrics:{name}" for name in positions] + ["metrics:cross-position"] * (len(positions) > 1)
        missing = [section for section in wanted if not cards.has_section(text, section)]
        if missing:
            raise typer.BadParameter(f"{card.CARD} lacks the generated sections {missing}; use --no-update-card")
    console = Console()
    results: dict[str, training.PositionTraining] = {}
    with _progress() as progress:

        def stage(label: str, total: int) -> training.Advance:
            task = progress.add_task(label, total=total)
            return lambda: progress.advance(task)

        for name in positions:
            results[name] = training.train_position(name, folder, jobs, folds, stage)
    output.mkdir(parents=True, exist_ok=True)
    bodies: dict[str, str] = {}
    for name, result in results.items():
        path = output / f"{name}.npz"
        result.model.save(path)
        console.print(_table(f"{name}: subjects held out, {result.dataset.fs:g} Hz", result.reports[result.dataset.fs]))
        console.print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MB), threshold {result.model.threshold:.2f}")
        bodies[f"metrics:{name}"] = card.position_section(result, path.stat().st_size)
    if len(results) > 1:
        cross = {
            (mine, theirs): training.cross_position(results[mine].model, results[theirs])
            for mine in results
            for theirs in results
            if mine != theirs
        }
        for (mine, theirs), report in cross.items():
            console.print(_table(f"{mine} model on {theirs} data (never seen)", report))
        bodies["metrics:cross-position"] = card.cross_section(cross)
    if update_card:
        text = card.CARD.read_text()
        for section, body in bodies.items():
            text = cards.replace_section(text, section, body)
        card.CARD.write_text(text)
        console.print(f"updated {card.CARD}")
