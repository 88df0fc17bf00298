"""The ``homecare`` command line: run the whole system or one of its processes, and the fall and vital-sign tools."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from homecare.backend.accounts.cli import app as users_app
from homecare.backend.detection.falls.cli import app as falls_app
from homecare.backend.detection.replay.cli import app as vitals_app
from homecare.backend.settings import Settings
from homecare.gateway.settings import GatewaySettings
from homecare.launcher.lifeline import follow as follow_lifeline
from homecare.launcher.settings import SystemSettings
from homecare.sim.cli import app as sim_app
from homecare.storage.settings import StorageSettings

app = typer.Typer(help="homecare: home-based elderly care platform.", no_args_is_help=True)
app.add_typer(falls_app, name="falls")
app.add_typer(vitals_app, name="vitals")
app.add_typer(users_app, name="users")
app.add_typer(sim_app, name="sim", help="Simulated devices: a neighbourhood, scenarios, a load fleet.")


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


@app.command()
def run(
    residents: Annotated[int, typer.Option(help="Simulated residents in the neighbourhood.")] = 50,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of the simulated neighbourhood; the shipped scenarios' (1) lets them sign in as its devices."
        ),
    ] = 1,
    speed: Annotated[float, typer.Option(help="Simulated clock speed (60 = an hour a minute).")] = 1.0,
    verbose: Verbose = False,
) -> None:
    """Start everything: database, broker, gateway, API and a simulated neighbourhood. Ctrl-C stops it."""
    from homecare.launcher.runner import run_system

    _logging(verbose)
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
    if settings.database_url is None:
        raise typer.BadParameter("set HOMECARE_DATABASE_URL")
    asyncio.run(prepare_storage(settings.database_url, settings))


if __name__ == "__main__":
    follow_lifeline()  # a child of `homecare run` (which starts them this way) ends with it
    app()
