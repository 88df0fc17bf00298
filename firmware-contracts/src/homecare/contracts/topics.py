"""The MQTT topic tree: templates, parse/format helpers, and the QoS and retain rule of each topic."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel

from homecare.contracts.messages import (
    Command,
    Event,
    Heartbeat,
    ImuBurst,
    LocationFix,
    Measurement,
    Presence,
    Telemetry,
)

ROOT: Final = "homecare/v1/dev"
# Every contract version's device tree (homecare/<version>/dev/<device id>/<channel>): devices may publish
# anything there under their own id and the gateways read all of it, so a channel or version this platform
# does not serve reaches a gateway and is dead-lettered with its reason instead of vanishing at the broker.
ALL_VERSIONS_ROOT: Final = "homecare/+/dev"


class Channel(enum.StrEnum):
    """The last topic level: what kind of message travels on the topic."""

    TELEMETRY = "telemetry"
    MEASUREMENT = "measurement"
    LOCATION = "location"
    IMU = "imu"
    EVENT = "event"
    STATUS = "status"
    PRESENCE = "presence"
    CMD = "cmd"


@dataclass(frozen=True, slots=True)
class TopicRule:
    """How a channel is used on the wire."""

    channel: Channel
    model: type[BaseModel]
    uplink: bool
    qos: int
    retain: bool
    acknowledged: bool
    summary: str


RULES: Final[dict[Channel, TopicRule]] = {
    rule.channel: rule
    for rule in (
        TopicRule(
            Channel.TELEMETRY,
            Telemetry,
            True,
            0,
            False,
            False,
            "Vital signs and activity. QoS 0 by default (a lost reading is replaced by the next); "
            "QoS 1 is accepted. Not acknowledged by the platform.",
        ),
        TopicRule(
            Channel.MEASUREMENT,
            Measurement,
            True,
            1,
            False,
            False,
            "Home health checks, one message per measurement (a blood pressure or a glucose reading), "
            "sent when it is taken. QoS 1: the broker holds it until the gateway has stored it.",
        ),
        TopicRule(
            Channel.LOCATION,
            LocationFix,
            True,
            1,
            False,
            False,
            "A GPS watch's position fixes: every few minutes when still, every 15–30 s when moving or in an "
            "alarm. QoS 1: a fix is part of a track the operator follows.",
        ),
        TopicRule(
            Channel.IMU,
            ImuBurst,
            True,
            1,
            False,
            False,
            "Raw IMU burst around a suspected fall, sent right after its fall_detected event.",
        ),
        TopicRule(
            Channel.EVENT,
            Event,
            True,
            1,
            False,
            True,
            "Alarms and home events. The device keeps every event until the platform's `ack` "
            "command names its seq, and resends it (same seq) after every reconnect.",
        ),
        TopicRule(
            Channel.STATUS,
            Heartbeat,
            True,
            1,
            False,
            False,
            "Heartbeat with battery, signal and firmware, every heartbeat_interval_s.",
        ),
        TopicRule(
            Channel.PRESENCE,
            Presence,
            True,
            1,
            True,
            False,
            "Retained online state: the device publishes online=true after connecting and sets "
            "online=false as its MQTT last will.",
        ),
        TopicRule(
            Channel.CMD,
            Command,
            False,
            1,
            False,
            False,
            "Downlink commands to the device (ack, help_coming, start_call, config). The device "
            "subscribes with a persistent session (clean session off) so commands wait while it is away.",
        ),
    )
}

UPLINK_CHANNELS: Final = tuple(c for c, rule in RULES.items() if rule.uplink)

_CHANNELS: Final = {channel.value: channel for channel in Channel}
_TOPIC = re.compile(r"^homecare/v1/dev/([a-z0-9][a-z0-9-]{2,63})/([a-z]+)$")
_VERSION = re.compile(r"^homecare/([^/]*)/dev/")


class TopicError(ValueError):
    """A topic that is not in the homecare topic tree."""


def topic(device_id: str, channel: Channel) -> str:
    """The topic a device's messages of one channel travel on."""
    return f"{ROOT}/{device_id}/{channel.value}"


def subscription(channel: Channel, share_group: str | None = None) -> str:
    """The filter that receives one channel from every device, optionally as an MQTT shared subscription."""
    pattern = f"{ROOT}/+/{channel.value}"
    return f"$share/{share_group}/{pattern}" if share_group else pattern


def parse(topic_name: str) -> tuple[str, Channel]:
    """Split a topic into (device id, channel); raise TopicError for anything else."""
    match = _TOPIC.match(topic_name)
    if match is None:
        version = _VERSION.match(topic_name)
        if version is not None and version.group(0) != f"{ROOT}/":
            raise TopicError(f"unknown contract version {version.group(1)[:20]!r} (this platform serves v1)")
        raise TopicError(f"not a homecare topic: {topic_name[:120]!r}")
    channel = _CHANNELS.get(match.group(2))
    if channel is None:
        raise TopicError(f"unknown channel {match.group(2)!r}")
    return match.group(1), channel
