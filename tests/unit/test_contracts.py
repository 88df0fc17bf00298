"""The wire contract: golden examples, generated schemas and topic helpers agree with the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from homecare.contracts import generate
from homecare.contracts.codec import ContractError, decode_command, decode_uplink, encode
from homecare.contracts.messages import Measurement, Metric, Telemetry
from homecare.contracts.topics import RULES, Channel, TopicError, parse, topic

EXAMPLES = Path(generate.HERE) / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _raw(example: dict[str, Any]) -> str:
    return example["payload_text"] if "payload_text" in example else json.dumps(example["payload"])


def test_generated_files_are_up_to_date() -> None:
    assert generate.stale_files() == [], "run: python -m homecare.contracts.generate"


def test_there_is_a_golden_example_for_every_channel() -> None:
    channels = {parse(_load(p)["topic"])[1] for p in VALID}
    assert channels == set(Channel)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example_decodes_and_round_trips(path: Path) -> None:
    example = _load(path)
    raw = _raw(example)
    is_command = parse(example["topic"])[1] is Channel.CMD
    message = decode_command(raw) if is_command else decode_uplink(example["topic"], raw)
    assert json.loads(encode(message)) == example["payload"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example_satisfies_the_published_json_schema(path: Path) -> None:
    example = _load(path)
    rule = RULES[parse(example["topic"])[1]]
    schema = json.loads((generate.SCHEMA_DIR / f"{generate.schema_name(rule.model)}.schema.json").read_text())
    jsonschema.validate(example["payload"], schema)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_is_refused_with_its_reason(path: Path) -> None:
    example = _load(path)
    with pytest.raises(ContractError) as caught:
        decode_uplink(example["topic"], _raw(example))
    assert example["reason"] in caught.value.reason


def test_topics_format_and_parse() -> None:
    assert topic("r0007-wr", Channel.EVENT) == "homecare/v1/dev/r0007-wr/event"
    assert parse("homecare/v1/dev/r0007-wr/event") == ("r0007-wr", Channel.EVENT)
    for bad in ("homecare/v1/dev/R7/event", "homecare/v2/dev/r0007-wr/event", "homecare/v1/dev/r0007-wr/x/event"):
        with pytest.raises(TopicError):
            parse(bad)


def test_devices_cannot_publish_commands() -> None:
    with pytest.raises(ContractError, match="do not publish"):
        decode_uplink("homecare/v1/dev/r0007-wr/cmd", "{}")


def test_every_telemetry_value_is_one_data_point() -> None:
    example = _load(EXAMPLES / "valid" / "telemetry-full.json")
    message = Telemetry.model_validate(example["payload"])
    assert len(message.points()) == 9


def test_a_glucose_reading_is_stored_in_mmol_per_litre_in_its_meal_contexts_series() -> None:
    example = _load(EXAMPLES / "valid" / "measurement-glucose-mg-dl.json")
    assert Measurement.model_validate(example["payload"]).points() == [(Metric.GLUCOSE_FASTING, 5.4)]
    # To 0.1 mmol/L as meters show it, so the mmol/L bands agree with the mg/dL ones: 70 mg/dL is not below 3.9.
    at_70 = {**example["payload"], "glucose": {"value": 70, "unit": "mg/dL", "meal": "random"}}
    assert Measurement.model_validate(at_70).points() == [(Metric.GLUCOSE_RANDOM, 3.9)]
