"""The load generator's hand-built MQTT 3.1.1 packets are well formed and carry valid telemetry."""

from __future__ import annotations

import struct

import pytest

from homecare.contracts.codec import decode_uplink
from homecare.contracts.messages import Metric, Telemetry
from homecare.sim.fleet import (
    FleetConfig,
    _shares,
    connect_packet,
    fleet_devices,
    publish_templates,
    readings,
)
from homecare.sim.mqtt_url import BrokerAddress, parse_mqtt_url


def _remaining(packet: bytes) -> tuple[int, int]:
    """(remaining length, offset of the variable header)."""
    value, shift, pos = 0, 0, 1
    while True:
        byte = packet[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def _string(packet: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("!H", packet, pos)
    return packet[pos + 2 : pos + 2 + n].decode(), pos + 2 + n


def test_connect_packet() -> None:
    packet = connect_packet("fleet-000001", 60, "fleet-000001", "s3cret")
    length, pos = _remaining(packet)
    assert packet[0] == 0x10
    assert length == len(packet) - pos
    name, pos = _string(packet, pos)
    assert (name, packet[pos], packet[pos + 1]) == ("MQTT", 4, 0x80 | 0x40 | 0x02)
    assert struct.unpack_from("!H", packet, pos + 2) == (60,)
    client, pos = _string(packet, pos + 4)
    user, pos = _string(packet, pos)
    password, pos = _string(packet, pos)
    assert (client, user, password, pos) == ("fleet-000001", "fleet-000001", "s3cret", len(packet))
    assert connect_packet("x1y", 30)[9] == 0x02  # no credentials: clean session only


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.parametrize("seq", [7, 99, 1_795_000_000_123])
def test_publish_packets_carry_valid_three_point_telemetry(qos: int, seq: int) -> None:
    uid = "fleet-000042"
    templates = publish_templates(uid, qos, len(str(seq)), readings(1, 42))
    assert len(templates) == 32
    for template in templates:
        args = ((seq % 65535 + 1).to_bytes(2, "big"), seq, 1_795_000_000_999) if qos else (seq, 1_795_000_000_999)
        packet = template % args
        length, pos = _remaining(packet)
        assert packet[0] == 0x30 | (qos << 1)
        assert length == len(packet) - pos
        topic_name, pos = _string(packet, pos)
        if qos:
            assert struct.unpack_from("!H", packet, pos) == (seq % 65535 + 1,)
            pos += 2
        message = decode_uplink(topic_name, packet[pos:])
        assert isinstance(message, Telemetry)
        assert (message.device_id, message.seq) == (uid, seq)
        assert [m for m, _ in message.points()] == [Metric.HEART_RATE, Metric.SPO2, Metric.SKIN_TEMP]


def test_devices_and_shares() -> None:
    devices = fleet_devices(5, prefix="load", first_index=10, seed=2)
    assert [d.uid for d in devices] == [f"load-0000{i}" for i in range(10, 15)]
    assert devices == fleet_devices(5, prefix="load", first_index=10, seed=2)
    config = FleetConfig(BrokerAddress("127.0.0.1"), devices=1001, rate=10_000, processes=4, first_index=5)
    shares = _shares(config)
    assert [s.count for s in shares] == [251, 250, 250, 250]
    assert [s.first for s in shares] == [5, 256, 506, 756]
    assert sum(s.rate for s in shares) == pytest.approx(10_000)


def test_broker_urls() -> None:
    assert parse_mqtt_url("mqtt://10.0.0.5:18830") == BrokerAddress("10.0.0.5", 18830)
    assert parse_mqtt_url("localhost") == BrokerAddress("localhost", 1883)
    with pytest.raises(ValueError, match="unsupported"):
        parse_mqtt_url("mqtts://host:8883")
