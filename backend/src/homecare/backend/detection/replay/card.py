"""The vital-sign detectors' card: generated sections measured by ``homecare vitals card``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from homecare.backend.detection.cards import replace_section
from homecare.backend.detection.config import DEFAULTS
from homecare.backend.detection.replay.evaluate import evaluate_file
from homecare.backend.detection.replay.series import BIDMC, STANFORD, SeriesFile

CARD: Final = Path(__file__).with_name("VITALS_CARD.md")
INJECT: Final = {"stanford": (20, 1), "bidmc": (1, 5)}
"""Episodes planted per subject and kind, and into how many copies: 20 into each multi-week Stanford series, one
into each of 5 copies of every 8-minute BIDMC record."""
SEED: Final = 1
FILES: Final = {"stanford": STANFORD, "bidmc": BIDMC}
TARGETS: Final = {
    "false_alerts_per_person_week": 1.0,
    "illness_detected": 7,
    "recall": 0.95,
    "median_time_to_alert_s": 300.0,
}
"""The issue's targets: ≤ 1 false alert per person-week when healthy, illness flagged in ≥ 7 of the 9, planted
episodes recalled ≥ 95 % with a median time to alert ≤ 5 minutes (desaturation and tachycardia)."""


def measure(folder: Path) -> dict[str, dict[str, Any]]:
    """Both shared files evaluated with the shipped settings, with planted episodes."""
    return {
        name: evaluate_file(
            SeriesFile.load(folder / path), DEFAULTS, inject=INJECT[name][0], copies=INJECT[name][1], seed=SEED
        )
        for name, path in FILES.items()
    }


def measured(payloads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The figures ``make test`` checks: the pooled ones, per-subject alerts, and the planted episodes."""
    return {
        name: {
            "file": FILES[name],
            "overall": payload["overall"],
            "alerts_per_subject": {s["subject"]: s["alerts"] for s in payload["subjects"]},
            "injected": payload["injected"]["kinds"],
        }
        for name, payload in payloads.items()
    }


def _interval(values: list[float] | None, digits: int = 2) -> str:
    return "–" if values is None else f"{values[0]:.{digits}f}–{values[1]:.{digits}f}"


def _value(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def figures(payloads: dict[str, dict[str, Any]]) -> str:
    """The figures against the targets, then per subject and per kind of planted episode."""
    stanford, bidmc = payloads["stanford"]["overall"], payloads["bidmc"]["overall"]
    flagged, labelled = stanford["illness_detected"], stanford["illness_labelled"]
    lines = [
        "Measured with `homecare vitals card`: the same as `homecare vitals evaluate FILE --json "
        f"--inject {INJECT['stanford'][0]} --seed {SEED}` for the Stanford file and `--inject {INJECT['bidmc'][0]} "
        f"--copies {INJECT['bidmc'][1]} --seed {SEED}` for BIDMC; wristband reporting every 60 s, detectors every "
        "30 s. The baseline's thresholds were chosen on these same 9 people (in-sample: expect less on others).",
        "",
        "| figure | target | measured | 95% interval |",
        "|---|---|---|---|",
        f"| false alerts per person-week, healthy periods (Stanford, {stanford['healthy_weeks']:.1f} person-weeks) "
        f"| ≤ {TARGETS['false_alerts_per_person_week']:g} | {_value(stanford['false_alerts_per_person_week'])} "
        f"({stanford['false_alerts_healthy']} alerts: {_causes(stanford['false_alerts_healthy_by_cause'])}) | "
        f"{_interval(stanford['false_alerts_per_person_week_interval'])} |",
        f"| illness flagged onset − 7 d … onset + 3 d (Stanford) | ≥ {TARGETS['illness_detected']} of {labelled} | "
        f"{flagged} of {labelled}, median lead {_value(stanford['median_lead_time_days'], 1)} d | "
        f"{_interval(stanford['illness_detected_interval'])} |",
        f"| healthy 10-day windows holding a welfare check all the same (the rate of flagging by chance) | – | "
        f"{stanford['healthy_windows_flagged_share']:.0%}; {flagged} of {labelled} or more by chance: "
        f"p = {stanford['illness_detected_p_by_chance']:.3f} | – |",
        f"| alerts per hour without planted episodes (BIDMC ICU records, {bidmc['hours']:.1f} h) | – | "
        f"{_value(bidmc['alerts_per_hour'], 3)} ({bidmc['alerts']} alerts: {_causes(bidmc['alerts_by_cause'])}) | "
        f"{_interval(bidmc['alerts_per_hour_interval'], 3)} |",
        f"| time the alarms could not judge for lack of a fresh reading (Stanford, mean over subjects) | – | "
        f"{stanford['not_judgeable']['vitals_share_mean']:.1%} | – |",
        f"| days the baseline could not judge (Stanford) | – | {stanford['not_judgeable']['baseline_days_unknown']} "
        f"of {stanford['not_judgeable']['baseline_days']} ({stanford['not_judgeable']['baseline_share']:.1%}) | – |",
    ]
    for name in ("bidmc", "stanford"):
        for kind, k in payloads[name]["injected"]["kinds"].items():
            lines.append(
                f"| planted {kind} ({'BIDMC' if name == 'bidmc' else 'Stanford'}, {k['episodes']} episodes, "
                f"{k['episodes_in_gaps']} in gaps, {k['episodes_during_exertion']} during exertion): recall; "
                f"median (p90) time to alert | ≥ {TARGETS['recall']:.0%}; "
                f"≤ {TARGETS['median_time_to_alert_s']:.0f} s | "
                f"{k['recall']:.3f} ({_value(k['recall_at_rest_with_data'], 3)} at rest with data); "
                f"{_value(k['median_time_to_alert_s'], 0)} ({_value(k['p90_time_to_alert_s'], 0)}) s"
                f" | {_interval(k['recall_interval'], 3)} |"
            )
    lines += [
        "",
        "**Stanford, per subject** (false alerts per person-week in the subject's healthy periods; lead time in "
        "days before the onset; share of detector runs without a fresh heart rate; days the baseline could not "
        "judge):",
        "",
        "| subject | hours | alerts | healthy weeks | false / week | illness flagged | lead (d) | no fresh HR | "
        "days unknown |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in payloads["stanford"]["subjects"]:
        illness = s["illness"]
        lines.append(
            f"| {s['subject']} | {s['hours']:.0f} | {s['alerts']} ({_causes(s['alerts_by_cause'])}) | "
            f"{s['healthy_weeks']:.1f} | {_value(s['false_alerts_per_person_week'])} | "
            f"{'not aligned' if illness is None else 'yes' if illness['detected'] else 'no'} | "
            f"{_value(None if illness is None else illness['lead_time_days'], 1)} | "
            f"{s['not_judgeable']['vitals_share']:.1%} | {s['not_judgeable']['baseline_days_unknown']} of "
            f"{s['not_judgeable']['baseline_days']} |"
        )
    return "\n".join(lines)


def _causes(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {cause}" for cause, n in counts.items()) or "none"


def settings_section() -> str:
    """The shipped vital-sign and baseline settings, as JSON."""
    shipped = {"vitals": DEFAULTS.vitals.model_dump(), "baseline": DEFAULTS.baseline.model_dump()}
    return "```json\n" + json.dumps(shipped, indent=2) + "\n```"


def render(payloads: dict[str, dict[str, Any]], card: str) -> str:
    """The card with its generated sections rewritten from these evaluations."""
    for name, body in (
        ("settings", settings_section()),
        ("figures", figures(payloads)),
        ("measured", "```json\n" + json.dumps(measured(payloads), indent=1) + "\n```"),
    ):
        card = replace_section(card, name, body)
    return card
