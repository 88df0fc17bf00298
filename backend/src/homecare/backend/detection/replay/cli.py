"""``homecare vitals``: replay recorded vital-sign series through the shipped detectors, and refresh their card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from homecare.backend.detection.config import DEFAULTS
from homecare.backend.detection.falls.dataset import datasets_dir
from homecare.backend.detection.replay import card
from homecare.backend.detection.replay.evaluate import evaluate_file
from homecare.backend.detection.replay.replay import DEVICE_INTERVAL_S
from homecare.backend.detection.replay.series import SeriesError, SeriesFile

app = typer.Typer(
    help="Vital-sign detectors on recorded series: evaluate a file, refresh the card.", no_args_is_help=True
)


def _figure(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _print(payload: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"{payload['dataset']} — device every {payload['interval_s']:g} s")
    for column in ("subject", "hours", "alerts", "false / wk", "illness", "lead d", "no data", "days unknown"):
        table.add_column(column, justify="left" if column == "subject" else "right")
    for s in [*payload["subjects"], {**payload["overall"], "subject": "overall"}]:
        illness = s.get("illness")
        flagged = (
            f"{s['illness_detected']}/{s['illness_labelled']}"
            if "illness_detected" in s
            else ("–" if illness is None else "yes" if illness["detected"] else "no")
        )
        lead = s.get("median_lead_time_days") if "illness_detected" in s else (illness or {}).get("lead_time_days")
        share = s["not_judgeable"].get("vitals_share", s["not_judgeable"].get("vitals_share_mean"))
        table.add_row(
            str(s["subject"]),
            f"{s['hours']:.0f}",
            str(s["alerts"]),
            _figure(s["false_alerts_per_person_week"]),
            flagged,
            _figure(lead, 1),
            _figure(share),
            _figure(s["not_judgeable"]["baseline_share"]),
        )
    console.print(table)
    injected = payload.get("injected")
    if injected:
        planted = Table(title=f"planted episodes (seed {injected['seed']})")
        for column in ("kind", "episodes", "in gaps", "recall", "95% interval", "median s", "p90 s"):
            planted.add_column(column, justify="left" if column == "kind" else "right")
        for kind, k in injected["kinds"].items():
            low, high = k["recall_interval"]
            planted.add_row(
                kind,
                str(k["episodes"]),
                str(k["episodes_in_gaps"]),
                f"{k['recall']:.3f}",
                f"{low:.3f}–{high:.3f}",
                _figure(k["median_time_to_alert_s"], 0),
                _figure(k["p90_time_to_alert_s"], 0),
            )
        console.print(planted)


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Series in the shared vital-sign .npz layout.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (see VITALS_CARD.md).")] = False,
    interval: Annotated[
        float, typer.Option(min=1, help="Seconds between the wristband's reports.")
    ] = DEVICE_INTERVAL_S,
    inject: Annotated[int, typer.Option(min=0, help="Acute episodes to plant per subject and kind (0: none).")] = 0,
    copies: Annotated[
        int, typer.Option(min=1, help="Plant into this many fresh copies of each subject (for short records).")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the planted episodes' times and shapes.")] = 1,
) -> None:
    """Alerts, false alerts per person-week when healthy, illness flagged and data not judgeable, per subject."""
    try:
        series = SeriesFile.load(file)
    except SeriesError as err:
        raise typer.BadParameter(str(err)) from err
    payload = evaluate_file(series, DEFAULTS, interval_s=interval, inject=inject, copies=copies, seed=seed)
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print(payload)


@app.command("card")
def write_card(
    datasets: Annotated[
        Path | None, typer.Option(help="Datasets folder; default $HOMECARE_DATASETS or ../shared/datasets.")
    ] = None,
) -> None:
    """Evaluate the shipped settings on both shared files and rewrite the generated parts of VITALS_CARD.md."""
    folder = datasets or datasets_dir()
    try:
        text = card.render(card.measure(folder), card.CARD.read_text())
    except SeriesError as err:
        raise typer.BadParameter(str(err)) from err
    card.CARD.write_text(text)
    Console().print(f"updated {card.CARD}")
