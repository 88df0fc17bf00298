"""The ``homecare`` command as people use it: mistakes are one or two plain lines and a non-zero exit status; a
second ``homecare run`` refuses at once; a scenario plays against the running system with devices of its own, on
the present clock; the README's examples work; ``make install`` shows its progress."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from tests.support.brokers import REPO, amqtt_broker, free_port

HOMECARE = Path(sys.executable).with_name("homecare")  # the installed command, as people run it
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPINNER = re.compile("[\u2800-\u28ff]")  # the frames of rich's spinner
DSN_FORM = "postgresql://user:password@host:port/database"


def homecare(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``homecare <args>`` with only these HOMECARE_* variables, to its end."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("HOMECARE_")}
    return subprocess.run(
        [str(HOMECARE), *args],
        cwd=cwd,
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def plain(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr


# -- mistakes: one or two plain lines --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "status", "said"),
    [
        (
            ["api"],
            {},
            1,
            f"homecare: the API needs a database: set HOMECARE_DATABASE_URL ({DSN_FORM}); "
            "`homecare run` starts one of its own\n",
        ),
        (
            ["users", "create-admin", "root", "--password", "a good long password"],
            {},
            1,
            f"homecare: homecare users needs a database: set HOMECARE_DATABASE_URL ({DSN_FORM}); "
            "`homecare run` starts one of its own\n",
        ),
        (
            ["migrate"],
            {"HOMECARE_DATABASE_URL": "mysql://app:hunter2secret@db.example/homecare"},
            2,
            f"homecare: HOMECARE_DATABASE_URL: not a PostgreSQL URL (mysql://…); write {DSN_FORM}\n",
        ),
        (
            ["api"],
            {"HOMECARE_DATABASE_URL": "host=db.example port=5432 user=app password=hunter2secret sslmode=nonsense x"},
            2,
            f"homecare: HOMECARE_DATABASE_URL: not a PostgreSQL connection string; write {DSN_FORM}\n",
        ),
    ],
    ids=["api-without-database", "create-admin-without-database", "mysql-url", "broken-connection-string"],
)
def test_a_database_mistake_is_one_plain_line(args: list[str], env: dict[str, str], status: int, said: str) -> None:
    # Before: 85-line tracebacks (and the refused URL printed whole, password and all).
    result = homecare(args, env)
    assert (result.returncode, plain(result)) == (status, said)
    assert "hunter2secret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [["api"], ["users", "create-admin", "root", "--password", "a good long password"], ["migrate"]],
    ids=["api", "create-admin", "migrate"],
)
def test_an_unreachable_database_is_one_plain_line(args: list[str]) -> None:
    port = free_port()
    result = homecare(args, {"HOMECARE_DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{port}/homecare"})
    assert result.returncode == 1
    assert plain(result) == (
        "homecare: cannot reach the database of HOMECARE_DATABASE_URL: connection failed: connection to server "
        f'at "127.0.0.1", port {port} failed: Connection refused\n'
    )


def test_run_with_an_unreachable_database_says_so_and_starts_nothing(tmp_path: Path) -> None:
    # Before: it waited for the database for ever, retrying behind the spinner.
    port = free_port()
    env = {
        "HOMECARE_DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{port}/homecare",
        "HOMECARE_DATA_DIR": str(tmp_path / "var"),
        "HOMECARE_API_PORT": str(free_port()),
        "HOMECARE_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
    }
    result = homecare(["run"], env)
    assert result.returncode == 1
    assert plain(result) == (
        "homecare: cannot reach the database of HOMECARE_DATABASE_URL: connection failed: connection to server "
        f'at "127.0.0.1", port {port} failed: Connection refused\n'
    )
    assert not (tmp_path / "var" / "logs").exists()


def test_falls_evaluate_says_what_is_not_a_recording(tmp_path: Path) -> None:
    # Before: "This file contains pickled (object) data…", in a traceback.
    readme = homecare(["falls", "evaluate", "README.md"])
    assert readme.returncode == 2
    assert plain(readme) == (
        "homecare falls evaluate: README.md is not a recording: give a fall-dataset .npz file "
        "(acc, gyr, trials, labels)\nTry 'homecare falls evaluate --help' for help.\n"
    )
    slow = tmp_path / "slow.npz"
    samples = np.zeros((400, 3), dtype=np.int16)
    np.savez(
        slow,
        acc=samples,
        gyr=samples,
        has_gyr=np.bool_(True),
        fs=np.float32(10.0),
        position=np.str_("wrist"),
        trial_start=np.array([0, 200]),
        trial_len=np.array([200, 200]),
        label=np.array([1, 0], dtype=np.int8),
        subject=np.array(["s1", "s2"]),
        age_group=np.array(["old", "young"]),
    )
    result = homecare(["falls", "evaluate", str(slow)])
    assert result.returncode == 2
    assert plain(result) == (
        f"homecare falls evaluate: {slow} is sampled at 10 Hz; the fall models need at least 20 Hz\n"
        "Try 'homecare falls evaluate --help' for help.\n"
    )


def test_scenario_mistakes_point_to_the_list_and_refuse_a_negative_speed() -> None:
    unknown = homecare(["sim", "scenario", "nosuch"])
    assert unknown.returncode == 2
    assert plain(unknown) == (
        "no scenario 'nosuch': give a scenario file, or one of busy-morning, carer-no-show, fall-no-response, "
        "fall-recovered, home-unit-offline, hypertensive-crisis, missed-dose, night-wandering, pendant-fall, "
        "sos-cancelled, "
        "spo2-decline, wandering, wristband-battery-dies "
        "(`homecare sim scenarios` says more)\n"
    )
    backwards = homecare(["sim", "scenario", "fall-no-response", "--speed", "-3", "--check"])
    assert backwards.returncode == 2
    assert plain(backwards) == "--speed must be above 0 and at most 1000000, not -3\n"


# -- against a running system ----------------------------------------------------------------------------------


@dataclass
class RunningSystem:
    """`homecare run` with its own data folder and ports, its output as a terminal would get it."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    data_dir: Path
    output: Path
    api_url: str
    api_port: int
    broker_port: int

    def said(self) -> str:
        return self.output.read_text(errors="replace")

    def dsn(self) -> str:
        port = (self.data_dir / "pg" / "postmaster.pid").read_text().splitlines()[3]
        password = (self.data_dir / "pg.password").read_text().strip()
        return f"postgresql://postgres:{password}@127.0.0.1:{port}/homecare"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    work = tmp_path_factory.mktemp("homecare-cli")
    api_port, broker_port = free_port(), free_port()
    env = {
        "HOMECARE_DATA_DIR": str(work / "var"),
        "HOMECARE_API_PORT": str(api_port),
        "HOMECARE_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
    }
    output = work / "run.out"
    clean = {key: value for key, value in os.environ.items() if not key.startswith("HOMECARE_")}
    with output.open("wb") as out:
        # FORCE_COLOR: the spinner is drawn as on a terminal, so that what lands on its line can be seen.
        process = subprocess.Popen(
            [str(HOMECARE), "run", "--residents", "2"],
            cwd=work,
            env=clean | env | {"FORCE_COLOR": "1", "COLUMNS": "200"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = RunningSystem(process, env, work / "var", output, f"http://127.0.0.1:{api_port}", api_port, broker_port)
    try:
        deadline = time.monotonic() + 180
        while "Press Ctrl-C to stop" not in running.said():
            assert process.poll() is None, running.said()
            assert time.monotonic() < deadline, running.said()
            time.sleep(0.5)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_log_lines_never_land_on_the_spinner_line(system: RunningSystem) -> None:
    # Before: "⠧ Starting the database…2026-12-02 18:47:44,003 INFO homecare.storage.embedded: PostgreSQL 18 ready on …"
    marks = (" ready on 127.0.0.1:", "database migrated")
    logged = [line for line in system.said().split("\n") if any(mark in ANSI.sub("", line) for mark in marks)]
    assert len(logged) == len(marks), system.said()
    for line in logged:
        shown = ANSI.sub("", re.split(r"\r|\x1b\[2K", line)[-1])
        assert not SPINNER.search(shown), repr(line)


def _starts(log: Path) -> int:
    """How many times a part of the system started with this log (each says so when it is up)."""
    text = log.read_text(errors="replace")
    return sum(text.count(mark) for mark in ("broker listening", "gateway connected", "Started server process"))


def test_a_second_run_refuses_at_once_naming_the_first(system: RunningSystem, tmp_path: Path) -> None:
    # Before: "homecare is running" with a process table, five fights over the broker port, the first instance's
    # MQTT sessions taken over and its logs written into.
    logs = system.data_dir / "logs"
    before = {path.name: _starts(path) for path in logs.glob("*.log")}
    second = homecare(["run", "--residents", "2"], system.env, cwd=tmp_path)
    assert second.returncode == 1
    started = re.escape(time.strftime("%Y-%m-%d"))
    assert re.fullmatch(
        rf"homecare: already running with the data folder {re.escape(str(system.data_dir))}: "
        rf"pid {system.process.pid}, since {started}T[0-9:]+ \(API on 127\.0\.0\.1:{system.api_port}, broker on "
        rf"127\.0\.0\.1:{system.broker_port}\); stop it first \(Ctrl-C in its terminal, or kill {system.process.pid}\)"
        "\n",
        plain(second),
    )
    assert "Starting" not in second.stdout
    assert {path.name: _starts(path) for path in logs.glob("*.log")} == before  # no part started a second time
    # Another data folder, the same ports: the port and the process that holds it are named.
    elsewhere = homecare(["run"], system.env | {"HOMECARE_DATA_DIR": str(tmp_path / "var")}, cwd=tmp_path)
    assert elsewhere.returncode == 1
    assert re.fullmatch(
        rf"homecare: port {system.api_port} for the API \(127\.0\.0\.1\) is in use by pid \d+ \(.*homecare"
        r"\.launcher\.cli api\): stop it, or set HOMECARE_API_PORT to another port\n",
        plain(elsewhere),
    )
    assert system.process.poll() is None
    assert system.healthy()


def test_a_scenario_plays_against_the_running_system_with_devices_of_its_own(system: RunningSystem) -> None:
    # Before: it ignored HOMECARE_MQTT_URL, signed in as the neighbourhood's devices (taking them over) and sent
    # 2026-03-10 timestamps that the gateways dead-lettered for clock skew.
    neighbourhood = _neighbourhood_sessions(system)
    started = time.time()
    result = homecare(["sim", "scenario", "sos-cancelled", "--speed", "20"], system.env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    counts = re.search(r"sos-cancelled: (\d+) events sent, (\d+) acknowledged by the platform", result.stderr)
    assert counts is not None, result.stderr
    assert int(counts[1]) >= 2
    assert counts[1] == counts[2]
    with psycopg.connect(system.dsn()) as conn:
        dead = conn.execute(
            "SELECT device_uid, reason FROM dead_letters WHERE reason LIKE 'clock%' OR device_uid LIKE 'sc1-%'"
        ).fetchall()
        assert dead == [], dead
        sos = conn.execute(
            "SELECT e.ts, e.received_at FROM events e JOIN devices d ON d.id = e.device_id "
            "WHERE d.uid = 'sc1-r0003-sos' AND e.kind = 'sos'"
        ).fetchall()
        assert len(sos) == 1
        ts, received = sos[0]
        # On the present clock: the press is from this run, and never ahead of the platform's clock.
        assert started - 8 * 60 <= ts.timestamp() <= received.timestamp() + 1
        # Its own devices, revoked once it ended.
        ours = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM devices WHERE uid LIKE 'sc1-%'"
        ).fetchone()
    assert ours == (7, 7)  # the seven devices of its one home, all revoked
    # The neighbourhood's devices kept their sessions: none went offline or came back meanwhile.
    assert _neighbourhood_sessions(system) == neighbourhood


def _neighbourhood_sessions(system: RunningSystem) -> dict[str, tuple[bool, object]]:
    """Each of the neighbourhood's devices (two homes): online or not, and since when (once all were seen online)."""
    deadline = time.monotonic() + 120
    while True:
        with psycopg.connect(system.dsn()) as conn:
            rows = conn.execute(
                "SELECT d.uid, s.online, s.online_changed_at FROM devices d "
                "LEFT JOIN device_state s ON s.device_id = d.id WHERE d.uid NOT LIKE 'sc1-%'"
            ).fetchall()
        if (rows and all(online for _, online, _ in rows)) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(rows) >= 14, rows  # two homes of at least seven devices each
    assert all(online for _, online, _ in rows), rows
    return {uid: (online, changed) for uid, online, changed in rows}


def test_a_scenario_that_nobody_acknowledges_fails(system: RunningSystem) -> None:
    # A broker that knows the devices, with no gateway reading it.
    with amqtt_broker(system.dsn()) as lonely:
        broker = lonely.rsplit("@", 1)[1]
        result = homecare(
            ["sim", "scenario", "sos-cancelled", "--speed", "200"],
            system.env | {"HOMECARE_MQTT_URL": f"mqtt://{broker}"},
            timeout=300,
        )
    assert result.returncode == 1
    last = plain(result).strip().splitlines()[-1]
    assert re.fullmatch(
        rf"none of the \d+ events sent was acknowledged: is a gateway of the platform reading mqtt://{broker}\?", last
    )


def test_the_readme_rollups_example_returns_today(system: RunningSystem) -> None:
    # Before: fixed dates in 2026-11, an empty list on any other day.
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("TOKEN=$(cat var/api-token)") :].split("```", 1)[0]
    commands = [line for line in block.splitlines() if "/vitals/rollups" in line]
    assert len(commands) == 1
    command = commands[0].replace("http://127.0.0.1:8000", system.api_url)
    token = (system.data_dir / "api-token").read_text().strip()
    deadline = time.monotonic() + 240
    while True:
        answer = subprocess.run(
            ["bash", "-c", f"TOKEN={shlex.quote(token)}; {command}"], capture_output=True, text=True, check=True
        )
        if '"buckets":[]' not in answer.stdout or time.monotonic() > deadline:
            break
        time.sleep(5)
    rollups = httpx.Response(200, content=answer.stdout).json()
    assert rollups["resident_id"] == 1
    assert rollups["buckets"], answer.stdout


# -- installing ------------------------------------------------------------------------------------------------


def test_install_shows_what_pip_is_doing_and_keeps_its_log(tmp_path: Path) -> None:
    project = tmp_path / "tiny"
    (project / "src" / "tiny").mkdir(parents=True)
    (project / "src" / "tiny" / "__init__.py").write_text('"""A package to install."""\n')
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling>=1.25"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "tiny"\nversion = "0.1"\n[tool.hatch.build.targets.wheel]\npackages = ["src/tiny"]\n'
    )
    log = tmp_path / "pip.log"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(tmp_path / "site"), str(project)]
    result = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "pip_progress.py"), str(log), *pip],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("resolving: 1 packages so far (")
    assert "building: 1 (tiny)" in lines
    assert "installing 1 packages: tiny" in lines
    assert re.fullmatch(rf"installed or updated 1 packages in \d+ s \(pip's log: {re.escape(str(log))}\)", lines[-1])
    assert "Successfully installed tiny-0.1" in log.read_text()
    broken = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "pip_progress.py"), str(log), *pip[:-1], str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert broken.returncode != 0
    assert re.match(rf"pip failed after \d+ s; its last lines \(all of them in {re.escape(str(log))}\):", broken.stdout)


def test_the_backend_wheel_carries_the_pages_static_files_without_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(REPO / "backend")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "setuptools" not in result.stdout + result.stderr
    assert not re.search(r"(?im)^\s*warning.*static", result.stdout + result.stderr)
    (wheel,) = tmp_path.glob("homecare_backend-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        "homecare/backend/" + path.relative_to(REPO / "backend" / "src" / "homecare" / "backend").as_posix()
        for path in (REPO / "backend" / "src" / "homecare" / "backend" / "web" / "static").rglob("*")
        if path.is_file()
    }
    assert shipped
    assert shipped <= names
