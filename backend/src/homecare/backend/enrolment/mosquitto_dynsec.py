"""Device accounts in Mosquitto's dynamic-security plugin, changed by its control commands over MQTT."""

from __future__ import annotations

import json
import os
import secrets
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from homecare.backend.enrolment import BrokerAccountsFailed
from homecare.backend.enrolment.mosquitto_passwords import replace_whole, split_hash
from homecare.contracts.topics import ALL_VERSIONS_ROOT, Channel, topic

CONTROL_TOPIC: Final = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC: Final = f"{CONTROL_TOPIC}/response"
ROLE_PREFIX: Final = "homecare-device-"
# Commands per control message: the broker answers each message whole, after hashing each password and saving its
# whole file once per command (Mosquitto 2.0.11: 50 commands in one message opened the file 50 times under strace;
# tens of ms each with a thousand devices, whatever the batching: `python -m bench.dynsec`), so a large import goes
# in small parts and the timeout is for each part's answer.
COMMANDS_PER_MESSAGE: Final = 20
EXISTS: Final = ("createClient", "Client already exists")  # a new secret for an enrolled device: set its password
# Answers that leave the broker as asked: a role kept from an earlier enrolment, a device already gone.
HARMLESS: Final = {
    EXISTS,
    ("createRole", "Role already exists"),
    ("deleteClient", "Client not found"),
    ("deleteRole", "Role not found"),
}


def device_role(uid: str) -> dict[str, Any]:
    """The device's role: the devices' ACL of the password-file mode (``DEVICE_ACL_RULES`` and its read line) for
    this device alone. It publishes anywhere under its own id in any version's tree, except on its own cmd topic
    (the broker would deliver that straight back to it as a command), and subscribes only to that topic."""
    commands = topic(uid, Channel.CMD)
    return {
        "command": "createRole",
        "rolename": ROLE_PREFIX + uid,
        "acls": [
            {"acltype": "publishClientSend", "topic": commands, "priority": 1, "allow": False},
            {"acltype": "publishClientSend", "topic": f"{ALL_VERSIONS_ROOT}/{uid}/+", "allow": True},
            {"acltype": "subscribeLiteral", "topic": commands, "allow": True},
            {"acltype": "publishClientReceive", "topic": commands, "allow": True},
        ],
    }


@dataclass(frozen=True, slots=True)
class DynamicSecurity:
    """The plugin's admin account on every broker node (mqtt[s]://user:password@host:port); each is told alike."""

    urls: tuple[str, ...]
    timeout: float = 10.0
    per_message: int = COMMANDS_PER_MESSAGE

    def apply(self, changes: Mapping[str, str | None]) -> None:
        """Create or update each device's client bound to its own client id and role (None: delete both, which
        disconnects it at once); BrokerAccountsFailed on a node that cannot be reached or answers an error."""
        first: list[dict[str, Any]] = []
        for uid, secret in changes.items():
            if secret is None:
                first += [
                    {"command": "deleteClient", "username": uid},
                    {"command": "deleteRole", "rolename": ROLE_PREFIX + uid},
                ]
            else:
                client = {
                    "username": uid,
                    "clientid": uid,
                    "password": secret,
                    "roles": [{"rolename": ROLE_PREFIX + uid}],
                }
                first += [device_role(uid), {"command": "createClient", **client}]
        for url in self.urls:
            node = urlsplit(url).netloc.rsplit("@", 1)[-1]
            try:
                answers = _control(url, first, self.timeout, self.per_message)
                # A device given a new secret exists already: its password changes, its binding and role stay.
                again = [
                    {"command": "setClientPassword", "username": command["username"], "password": command["password"]}
                    for command, error in zip(first, answers, strict=True)
                    if (command["command"], error) == EXISTS
                ]
                answers += _control(url, again, self.timeout, self.per_message) if again else []
            except (OSError, ValueError) as err:
                raise BrokerAccountsFailed(f"the broker {node} was not told: {err}") from err
            errors = [
                f"{command['command']} {command.get('username') or command['rolename']}: {error}"
                for command, error in zip(first + again, answers, strict=True)
                if error is not None and (command["command"], error) not in HARMLESS
            ]
            if errors:
                raise BrokerAccountsFailed(f"the broker {node} refused: {'; '.join(errors)}")


def add_to_plugin_file(plugin_file: Path, hashes: Mapping[str, str]) -> None:
    """Write each device (uid → its ``mosquitto_hash``) into the plugin's file as enrolment makes it (a client
    bound to its uid with a role of its own), keeping its secret: the control API takes only plain passwords, but
    the file holds the same PBKDF2-SHA512 hash, salt and iterations as the password file. The plugin reads its file
    only when the broker starts and rewrites it on every change: stop every node that uses the file first."""
    plugin = json.loads(plugin_file.read_text())
    clients = {client["username"]: client for client in plugin.get("clients", [])}
    roles = {role["rolename"]: role for role in plugin.get("roles", [])}
    for uid, hashed in hashes.items():
        iterations, salt, key = split_hash(hashed)
        clients[uid] = {
            "username": uid,
            "clientid": uid,
            "password": key,
            "salt": salt,
            "iterations": iterations,
            "roles": [{"rolename": ROLE_PREFIX + uid}],
        }
        role = device_role(uid)
        roles[role["rolename"]] = {"rolename": role["rolename"], "acls": role["acls"]}
    plugin["clients"], plugin["roles"] = list(clients.values()), list(roles.values())
    replace_whole(plugin_file, json.dumps(plugin, indent=1, ensure_ascii=False), os.stat(plugin_file).st_mode & 0o777)


def _control(url: str, commands: list[dict[str, Any]], timeout: float, per_message: int) -> list[str | None]:
    """Send the commands (QoS 1) and wait for their answers, `timeout` for each message's: each one's error, or
    None."""
    parts = urlsplit(url)
    session = secrets.token_hex(8)
    sent = [{**command, "correlationData": f"{session}-{n}"} for n, command in enumerate(commands)]
    answers: dict[str, str | None] = {}
    connected, subscribed, answered = threading.Event(), threading.Event(), threading.Event()  # answered: some
    refusal: list[str] = []

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: Any, properties: object) -> None:
        if reason.is_failure:
            refusal.append(f"connection refused: {reason}")
        else:
            client.subscribe(RESPONSE_TOPIC, qos=1)
        connected.set()

    def on_subscribe(client: mqtt.Client, userdata: object, mid: int, reasons: Any, properties: object) -> None:
        if any(reason.is_failure for reason in reasons):
            refusal.append(f"{RESPONSE_TOPIC} not granted (not the plugin's admin account?)")
        subscribed.set()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        for answer in json.loads(message.payload).get("responses", []):
            if str(answer.get("correlationData", "")).startswith(f"{session}-"):
                answers[answer["correlationData"]] = answer.get("error")
                answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"homecare-enrolment-{session}", protocol=mqtt.MQTTv311)
    client.username_pw_set(unquote(parts.username or ""), unquote(parts.password or ""))
    if parts.scheme == "mqtts":
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect(parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883))
    client.loop_start()
    try:
        for step, event in (("connect", connected), ("subscribe", subscribed)):
            if not event.wait(timeout):
                raise TimeoutError(f"no answer to {step} within {timeout} s")
            if refusal:
                raise ConnectionRefusedError(refusal[0])
        for start in range(0, len(sent), per_message):
            client.publish(CONTROL_TOPIC, json.dumps({"commands": sent[start : start + per_message]}), qos=1)
        while len(answers) < len(sent):
            answered.clear()
            if len(answers) < len(sent) and not answered.wait(timeout):
                raise TimeoutError(f"{len(sent) - len(answers)} of {len(sent)} commands unanswered after {timeout} s")
    finally:
        client.disconnect()
        client.loop_stop()
    return [answers[command["correlationData"]] for command in sent]
