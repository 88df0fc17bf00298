"""The one place wire bytes become contract models and back.

Exceptions::

    ContractError            the bytes are not a valid message for the topic
    └── (TopicError lives in topics; decode_topic wraps it as a ContractError)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, cast

from pydantic import BaseModel, ValidationError

from homecare.contracts.messages import ALARM_KINDS, Command, Event, UplinkMessage
from homecare.contracts.topics import RULES, Channel, TopicError, parse


class ContractError(ValueError):
    """A message that breaks the contract; `reason` is short and fit for a dead-letter row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_MAX_REASON: Final = 500
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# What makes an alarm an alarm: without any of these it cannot be routed, stored once, or acknowledged.
_ALARM_CORE: Final = ("v", "device_id", "seq", "ts", "kind")


def printable(text: str) -> str:
    """Text a device sent (a topic, a field name), safe to store and to log: control characters and lone
    surrogates are written as escapes, so a NUL cannot make the database refuse a dead letter."""
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def explain(err: ValidationError) -> str:
    """A compact, human-readable reason: the first few field errors with their locations."""
    parts = []
    for item in err.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg']}")
    more = err.error_count() - len(parts)
    if more > 0:
        parts.append(f"(+{more} more)")
    return printable("; ".join(parts))[:_MAX_REASON]


def decode_topic(topic_name: str) -> tuple[str, Channel]:
    """(device id, channel) of an uplink topic."""
    try:
        device_id, channel = parse(topic_name)
    except TopicError as err:
        raise ContractError(str(err)) from err
    if not RULES[channel].uplink:
        raise ContractError(f"devices do not publish on {channel.value}")
    return device_id, channel


def decode(channel: Channel, payload: bytes | bytearray | str) -> UplinkMessage:
    """Validate an uplink payload for its channel."""
    rule = RULES[channel]
    if not rule.uplink:
        raise ContractError(f"devices do not publish on {channel.value}")
    try:
        return cast(UplinkMessage, rule.model.model_validate_json(payload))
    except ValidationError as err:
        raise ContractError(explain(err)) from err


@dataclass(frozen=True, slots=True)
class SalvagedAlarm:
    """An alarm that broke the contract only in its optional fields, with those fields left out."""

    event: Event
    dropped: dict[str, str]  # field name (printable) → why it was dropped


def salvage_alarm(payload: bytes | bytearray | str) -> SalvagedAlarm | None:
    """The alarm in a payload ``decode`` refused, when its envelope and alarm kind are valid: every other
    field that breaks the contract (NUL in the room, an unknown field, a value out of range) is dropped,
    because an alarm is never refused for its details. None when the payload is not such an alarm."""
    try:
        data = json.loads(payload)  # Python's parser keeps what pydantic's refuses (a lone surrogate)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    core = {name: data[name] for name in _ALARM_CORE if name in data}
    try:
        alarm = Event.model_validate(core)
    except ValidationError:
        return None
    if alarm.kind not in ALARM_KINDS:
        return None
    kept: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    for name, value in data.items():
        if name in core:
            continue
        try:
            Event.model_validate({**core, **kept, name: value})
        except ValidationError as err:
            dropped[printable(name)[:40]] = explain(err)
        else:
            kept[name] = value
    return SalvagedAlarm(Event.model_validate({**core, **kept}), dropped)


def decode_uplink(topic_name: str, payload: bytes | bytearray | str) -> UplinkMessage:
    """Validate topic and payload together: the message must carry the device id of its topic."""
    device_id, channel = decode_topic(topic_name)
    message = decode(channel, payload)
    require_topic_device(message, device_id)
    return message


def require_topic_device(message: UplinkMessage, device_id: str) -> None:
    """A device speaks only for itself: the message's device_id must be its topic's."""
    if message.device_id != device_id:
        raise ContractError(f"device_id {message.device_id!r} does not match topic device {device_id!r}")


def decode_command(payload: bytes | bytearray | str) -> Command:
    """Validate a downlink command (devices and simulators use this)."""
    try:
        return Command.model_validate_json(payload)
    except ValidationError as err:
        raise ContractError(explain(err)) from err


def encode(message: BaseModel) -> bytes:
    """Compact JSON without absent optional fields, as devices send it."""
    return message.model_dump_json(exclude_none=True).encode()
