"""Real MQTT brokers for tests: the embedded amqtt broker and Debian's Mosquitto, each in its own process."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from homecare.backend.enrolment.mosquitto_passwords import PasswordFile, mosquitto_hash

REPO = Path(__file__).resolve().parents[2]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


SERVICE_USER = "homecare-gateway"
# The embedded broker alone, without the launcher's imports: it starts in a quarter of the time.
_AMQTT = "import sys; from homecare.gateway.embedded_broker import run; run(sys.argv[1], int(sys.argv[2]))"


@contextmanager
def amqtt_broker(database_url: str | None = None, port: int | None = None) -> Iterator[str]:
    """The embedded broker `make run` uses, as its own process, with a service account of its own and the
    devices enrolled in `database_url`; yields its URL with the service account's credentials in it."""
    port = port or free_port()
    url = f"mqtt://{SERVICE_USER}:{secrets.token_urlsafe(16)}@127.0.0.1:{port}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HOMECARE_MQTT_URL": url}
    if database_url is not None:
        env["HOMECARE_DATABASE_URL"] = database_url
    process = subprocess.Popen([sys.executable, "-c", _AMQTT, "127.0.0.1", str(port)], env=env)
    try:
        wait_for_port(port)
        yield url
    finally:
        _stop(process)


@contextmanager
def mosquitto_broker(workdir: Path, port: int | None = None, extra: str = "") -> Iterator[str]:
    """Debian's Mosquitto with the project's benchmark configuration; yields its URL."""
    if not Path(MOSQUITTO).exists():
        raise RuntimeError("Mosquitto is not installed: run `make system-packages` (apt-get install mosquitto)")
    port = port or free_port()
    conf = workdir / f"mosquitto-{port}.conf"
    base = (REPO / "deploy" / "mosquitto" / "bench.conf").read_text()
    conf.write_text(f"listener {port} 127.0.0.1\n{base}\n{extra}\n")
    log = (workdir / f"mosquitto-{port}.log").open("wb")
    process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()


@dataclass(frozen=True)
class ProductionBroker:
    """Mosquitto started from deploy/mosquitto/mosquitto.conf: devices on one listener, services on the other."""

    devices_url: str  # anonymous: devices give their own id and secret
    services_url: str  # with the service account's credentials
    passwd_file: Path  # the devices' password file and ACL (PasswordFile), as enrolment keeps them
    pid_file: Path
    log: Path


@dataclass(frozen=True)
class _Started:
    devices_url: str
    services_url: str
    pid_file: Path
    log: Path


@contextmanager
def _from_deploy(workdir: Path, name: str, paths: Mapping[str, Path]) -> Iterator[_Started]:
    """Mosquitto started from deploy/mosquitto/<name> with a service account, on free loopback ports; the config's
    other paths (`paths`: as written there → here) and nothing else changed."""
    if not Path(MOSQUITTO).exists():
        raise RuntimeError("Mosquitto is not installed: run `make system-packages` (apt-get install mosquitto)")
    device_port, service_port = free_port(), free_port()
    service_password = secrets.token_urlsafe(16)
    services, pid_file = workdir / "services.passwd", workdir / "mosquitto.pid"
    services.write_text(f"{SERVICE_USER}:{mosquitto_hash(service_password)}\n")
    (workdir / "persistence").mkdir(exist_ok=True)
    deploy = REPO / "deploy" / "mosquitto"
    conf = (
        (deploy / name)
        .read_text()
        .replace("listener 1883\n", f"listener {device_port} 127.0.0.1\n")
        .replace("listener 1884\n", f"listener {service_port} 127.0.0.1\n")
    )
    replaced = {
        **paths,
        "/etc/mosquitto/services.passwd": services,
        "/etc/mosquitto/homecare.acl": deploy / "homecare.acl",
        "/var/lib/mosquitto/": workdir / "persistence",
    }
    for written, here in replaced.items():
        conf = conf.replace(written, f"{here}/" if written.endswith("/") else str(here))
    # As root (CI), Mosquitto would drop to its own user, who cannot read the test's files.
    conf_file, log = workdir / "mosquitto.conf", workdir / "mosquitto.log"
    conf_file.write_text(f"{conf}\nuser root\npid_file {pid_file}\nlog_dest file {log}\n")
    process = subprocess.Popen([MOSQUITTO, "-c", str(conf_file)])
    try:
        wait_for_port(device_port)
        wait_for_port(service_port)
        yield _Started(
            f"mqtt://127.0.0.1:{device_port}",
            f"mqtt://{SERVICE_USER}:{service_password}@127.0.0.1:{service_port}",
            pid_file,
            log,
        )
    finally:
        _stop(process)


@contextmanager
def production_mosquitto(workdir: Path, devices: Mapping[str, str]) -> Iterator[ProductionBroker]:
    """Debian's Mosquitto with the project's production configuration and ACL, on free loopback ports, with the
    given devices' secrets and a service account; only paths and ports differ from deploy/mosquitto."""
    passwd = workdir / "homecare.passwd"
    PasswordFile(passwd, None).apply(devices)  # and the devices' ACL beside it, as enrolment writes them
    with _from_deploy(workdir, "mosquitto.conf", {"/etc/mosquitto/homecare.passwd": passwd}) as started:
        yield ProductionBroker(started.devices_url, started.services_url, passwd, started.pid_file, started.log)


@dataclass(frozen=True)
class DynsecBroker:
    """Mosquitto started from deploy/mosquitto/mosquitto-dynsec.conf, its plugin initialised with an admin account."""

    devices_url: str  # anonymous: devices give their own id and secret
    admin_url: str  # the plugin's admin account, on the devices' listener (as enrolment is given it)
    services_url: str


@contextmanager
def dynsec_mosquitto(
    workdir: Path, before_start: Callable[[Path], object] = lambda plugin_file: None
) -> Iterator[DynsecBroker]:
    """Debian's Mosquitto with the dynamic-security plugin, as deploy/README.md says to set it up: the plugin's file
    made by `mosquitto_ctrl dynsec init` with an admin account, no device in it yet (`before_start` may change the
    file before the broker reads it)."""
    dynsec_file, admin_password = workdir / "dynamic-security.json", secrets.token_urlsafe(16)
    subprocess.run(
        ["mosquitto_ctrl", "dynsec", "init", str(dynsec_file), "homecare-admin", admin_password],
        check=True,
        capture_output=True,
    )
    before_start(dynsec_file)
    paths = {"/var/lib/mosquitto/dynamic-security.json": dynsec_file}
    with _from_deploy(workdir, "mosquitto-dynsec.conf", paths) as started:
        admin_url = started.devices_url.replace("mqtt://", f"mqtt://homecare-admin:{admin_password}@")
        yield DynsecBroker(started.devices_url, admin_url, started.services_url)
