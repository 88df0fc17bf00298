"""The ``homecare`` command line: run the whole system or one of its processes, and the fall and vital-sign tools."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.logging import RichHandler

from homecare.backend.accounts.cli import app as users_app
from homecare.backend.detection.falls.cli import app as falls_app
from homecare.backend.detection.replay.cli import app as vitals_app
from homecare.backend.enrolment.cli import app as devices_app
from homecare.backend.settings import Settings
from homecare.gateway.settings import GatewaySettings
from homecare.launcher.errors import explain
from homecare.launcher.lifeline import follow as follow_lifeline
from homecare.launcher.settings import SystemSettings
from homecare.sim.cli import app as sim_app
from homecare.storage.settings import StorageSettings

app = typer.Typer(help="homecare: home-based elderly care platform.", no_args_is_help=True)
app.add_typer(falls_app, name="falls")
app.add_typer(vitals_app, name="vitals")
app.add_typer(users_app, name="users")
app.add_typer(devices_app, name="devices")
app.add_typer(sim_app, name="sim", help="Simulated devices: a neighbourhood, scenarios, a load fleet.")


def _logging(verbose: bool, console: Console | None = None) -> None:
    """Log lines to stderr, or through the console that shows a spinner, so that they never land on its line."""
    handler = None if console is None else RichHandler(console=console, show_path=False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if handler is None else "%(name)s: %(message)s",
        handlers=None if handler is None else [handler],
    )
    for noisy in ("amqtt", "transitions", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


@app.command()
def run(
    residents: Annotated[int, typer.Option(help="Simulated residents in the neighbourhood.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the simulated neighbourhood: its people, homes and days.")] = 1,
    speed: Annotated[float, typer.Option(help="Simulated clock speed (60 = an hour a minute).")] = 1.0,
    verbose: Verbose = False,
) -> None:
    """Start everything: database, broker, gateway, API and a simulated neighbourhood. Ctrl-C stops it."""
    from homecare.launcher.runner import console, run_system

    _logging(verbose, console)
    raise typer.Exit(run_system(SystemSettings(), residents=residents, seed=seed, speed=speed))


@app.command()
def broker(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 1883,
    verbose: Verbose = False,
) -> None:
    """Run the embedded amqtt MQTT broker: the service account of HOMECARE_MQTT_URL and the devices enrolled in
    HOMECARE_DATABASE_URL may connect."""
    from homecare.gateway.embedded_broker import run as run_broker

    _logging(verbose)
    run_broker(host, port)


@app.command()
def gateway(verbose: Verbose = False) -> None:
    """Run one gateway: MQTT → validated, deduplicated, durable (needs HOMECARE_DATABASE_URL)."""
    from homecare.gateway.service import serve

    _logging(verbose)
    serve(GatewaySettings())


@app.command()
def api(verbose: Verbose = False) -> None:
    """Run the backend API (needs HOMECARE_DATABASE_URL)."""
    import uvicorn

    from homecare.backend.app import create_app, server_options

    _logging(verbose)
    settings = Settings()
    _reachable(settings.required_database_url("the API"))
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        **server_options(settings),
    )


@app.command()
def migrate(verbose: Verbose = False) -> None:
    """Apply the database migrations (needs HOMECARE_DATABASE_URL)."""
    from homecare.storage.maintenance import prepare_storage

    _logging(verbose)
    settings = StorageSettings()
    asyncio.run(prepare_storage(settings.required_database_url("homecare migrate"), settings))


def _reachable(dsn: str) -> None:
    """Fail at once on a database that cannot be reached (a server would only find out inside its startup)."""
    psycopg.connect(dsn, connect_timeout=5).close()


def main() -> None:
    """The `homecare` command. A mistake or a failure it knows is one or two plain lines and a non-zero exit
    status (errors.explain); a bug keeps its traceback."""
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as err:  # a usage error (its context names the command), or another of click's
        context = getattr(err, "ctx", None)
        if context is None:
            typer.echo(f"homecare: {err}", err=True)
        else:
            typer.echo(f"{context.command_path}: {err}\nTry '{context.command_path} --help' for help.", err=True)
        sys.exit(err.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except Exception as err:
        known = explain(err)
        if known is None:
            raise
        message, code = known
        typer.echo(f"homecare: {message}", err=True)
        sys.exit(code)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    follow_lifeline()  # a child of `homecare run` (which starts them this way) ends with it
    main()
