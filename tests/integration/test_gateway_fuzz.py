"""Fuzzing the gateway's decoder through its real ingest path and writers into the test database: random and
mutated payloads on every topic shape. No exception escapes, every refusal is a dead letter with a reason,
and every alarm with a valid envelope is stored and acknowledged, whatever else it carries."""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homecare.contracts.messages import Ack, AckStatus
from homecare.contracts.topics import Channel
from homecare.gateway.durable_writer import DurableWriter
from homecare.gateway.ingest import Ingest
from homecare.gateway.metrics import GatewayMetrics
from homecare.gateway.registry import DeviceRegistry
from homecare.gateway.telemetry_writer import TelemetryWriter
from homecare.storage.partitions import ensure_partitions_sync
from tests.integration.test_gateway import rebased, uplink_examples
from tests.support.enrolment import GOLDEN_DEVICES, Household

UIDS = sorted(GOLDEN_DEVICES)
ALARMS = ("sos", "fall_detected", "smoke", "water_leak")
# Text with what breaks storage and logs: NUL, control characters, lone surrogates, non-BMP characters.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(), st.sampled_from("\x00\x1b\n\ud800\udfff\U0001f600"), st.characters(categories=["Cs"])
    ),
    max_size=60,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
TOPICS = st.one_of(
    st.builds(
        "homecare/v1/dev/{}/{}".format,
        st.sampled_from([*UIDS, "stranger-01", "", "A_B"]) | TEXT,
        st.sampled_from([channel.value for channel in Channel] + ["firmware", ""]) | TEXT,
    ),
    st.builds("homecare/v2/dev/{}/event".format, st.sampled_from(UIDS)),
    TEXT,
)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: lone surrogates travel as \\udXXX escapes


@st.composite
def mutated_examples(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """A golden example on its own topic with fields replaced, removed or added."""
    example = draw(st.sampled_from(uplink_examples()))
    payload = rebased(example["payload"], int(time.time() * 1000))
    for key in draw(st.lists(st.sampled_from(sorted(payload)), max_size=3)):
        if draw(st.booleans()):
            payload[key] = draw(JSON)
        else:
            payload.pop(key, None)
    payload.update(draw(st.dictionaries(TEXT, JSON, max_size=2)))
    return example["topic"], dumps(payload), False


@st.composite
def alarms_with_extras(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """A valid alarm from an enrolled device with anything at all in its other fields."""
    uid = draw(st.sampled_from(UIDS))
    core = {
        "v": 1,
        "device_id": uid,
        "seq": draw(st.integers(0, 2**63 - 1)),
        "ts": int(time.time() * 1000),
        "kind": draw(st.sampled_from(ALARMS)),
    }
    extras = draw(
        st.dictionaries(st.sampled_from(["room", "confidence", "cancels_seq"]) | TEXT, JSON, min_size=1, max_size=4)
    )
    return f"homecare/v1/dev/{uid}/event", dumps({**extras, **core}), True


# (topic, payload, whether it is an alarm with a valid envelope from an enrolled device on its own topic)
MESSAGES = st.one_of(
    st.tuples(TOPICS, st.binary(max_size=200), st.just(False)),
    st.tuples(TOPICS, JSON.map(dumps), st.just(False)),
    mutated_examples(),
    alarms_with_extras(),
)


def test_fuzzed_messages_are_stored_or_dead_lettered_and_alarms_are_never_refused(
    golden_household: Household, database_url: str
) -> None:
    metrics = GatewayMetrics()
    replies: list[tuple[str, int, AckStatus]] = []

    def reply(uid: str, seq: int, status: AckStatus, reason: str | None) -> None:
        Ack(ack_seq=seq, status=status, reason=reason)  # what the gateway sends must be a valid command
        replies.append((uid, seq, status))

    registry = DeviceRegistry(database_url)
    telemetry = TelemetryWriter(
        database_url,
        metrics,
        lambda deliveries: None,
        reply,
        partial(ensure_partitions_sync, raw_retention_days=30),
        batch_rows=5000,
        flush_ms=50,
        max_buffered_rows=100_000,
    )
    durable = DurableWriter(database_url, metrics, lambda deliveries: None, reply)
    ingest = Ingest(
        registry=registry,
        telemetry=telemetry,
        durable=durable,
        metrics=metrics,
        max_future_ms=300_000,
        max_age_ms=29 * 86_400_000,
    )
    alarms: set[tuple[str, int]] = set()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(message=MESSAGES)
    def feed(message: tuple[str, bytes, bool]) -> None:
        topic, payload, is_alarm = message
        ingest.handle(topic, payload, None)  # raises nothing, whatever comes
        if is_alarm:
            parsed = json.loads(payload)
            alarms.add((parsed["device_id"], parsed["seq"]))

    registry.start()
    telemetry.start()
    durable.start()
    try:
        feed()
    finally:
        durable.stop()
        telemetry.stop()
        registry.stop()

    dead_lettered = sum(
        metrics.registry.get_sample_value("homecare_gateway_dead_letters_total", {"cause": cause}) or 0
        for cause in ("topic", "unenrolled", "invalid", "impersonation", "clock", "storage", "unknown_schedule")
    )
    with psycopg.connect(database_url) as conn:
        letters = conn.execute("SELECT count(*), count(*) FILTER (WHERE reason <> '') FROM dead_letters").fetchone()
        stored = set(conn.execute("SELECT d.uid, e.seq FROM events e JOIN devices d ON d.id = e.device_id").fetchall())
    assert letters == (dead_lettered, dead_lettered), "a refusal was lost or has no reason"
    assert dead_lettered > 0
    acknowledged = {(uid, seq) for uid, seq, status in replies if status is not AckStatus.REJECTED}
    assert alarms, "the fuzzer sent no alarm"
    assert alarms <= acknowledged, "an alarm with a valid envelope was refused"
    assert alarms <= stored, "an acknowledged alarm is not stored"
