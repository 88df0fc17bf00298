"""`homecare devices`: move the devices of Mosquitto's password file into its dynamic-security plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homecare.backend.enrolment.mosquitto_dynsec import add_to_plugin_file
from homecare.backend.enrolment.mosquitto_passwords import PasswordFile

app = typer.Typer(help="Device accounts at the broker.", no_args_is_help=True)


@app.command("to-dynsec")
def to_dynsec(
    passwd_file: Annotated[
        Path, typer.Argument(help="The devices' password file (HOMECARE_MOSQUITTO_PASSWD_FILE).", exists=True)
    ],
    plugin_file: Annotated[
        Path,
        typer.Argument(
            help="The plugin's file (plugin_opt_config_file), made by `mosquitto_ctrl dynsec init`.", exists=True
        ),
    ],
) -> None:
    """With every broker node that uses PLUGIN_FILE stopped: give each device of PASSWD_FILE its client and role in
    the plugin as enrolment makes them, with the secret it has (nothing is re-issued). Then start the nodes and set
    HOMECARE_MOSQUITTO_DYNSEC_URLS instead of HOMECARE_MOSQUITTO_PASSWD_FILE."""
    hashes = PasswordFile(passwd_file, None).hashes()
    try:
        add_to_plugin_file(plugin_file, hashes)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    typer.echo(f"{len(hashes)} device(s) written to {plugin_file}; start the broker nodes that use it")
