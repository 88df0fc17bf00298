"""`homecare users`: create the first administrator (and reset a forgotten password) from the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import psycopg
import typer

from homecare.backend.accounts import AccountsError, service
from homecare.backend.accounts import repository as repo
from homecare.backend.accounts.models import NewUser, Role
from homecare.backend.accounts.passwords import hash_password
from homecare.backend.settings import Settings

app = typer.Typer(help="Accounts: the first administrator, password resets.", no_args_is_help=True)


def _dsn() -> str:
    return Settings().required_database_url("homecare users")


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Argument(help="Lower-case letters, digits and . _ @ -")],
    name: Annotated[str, typer.Option(help="The name shown to others.")] = "Administrator",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="At least 10 characters; asked for when not given.",
        ),
    ] = "",
) -> None:
    """Create an administrator account (the first one, or another)."""

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(_dsn()) as conn:
            user = await service.create_user(
                conn, new=NewUser(username=username, display_name=name, role=Role.ADMIN, password=password)
            )
        typer.echo(f"administrator {user.username} created (id {user.id}); sign in at /login")

    try:
        asyncio.run(main())
    except (AccountsError, ValueError) as err:
        raise typer.BadParameter(str(err)) from err


@app.command("set-password")
def set_password(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Set someone's password and end their sessions (for a locked-out administrator)."""
    if len(password) < 10:
        raise typer.BadParameter("a password has at least 10 characters")

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(_dsn()) as conn:
            found = await repo.credentials(conn, username=username)
            if found is None:
                raise typer.BadParameter(f"no user {username!r}")
            now = datetime.now(UTC)
            await repo.update_user(
                conn, user_id=found.id, changes={"password_hash": hash_password(password), "password_changed_at": now}
            )
            await repo.end_user_sessions(conn, user_id=found.id, now=now)
        typer.echo(f"password of {username} set; their sessions ended")

    asyncio.run(main())
