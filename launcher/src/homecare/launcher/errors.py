"""The one place where the ``homecare`` command turns an error it knows into plain lines instead of a traceback."""

from __future__ import annotations

from typing import Any, Final

import psycopg
from pydantic import ValidationError

from homecare.storage.errors import HomecareError

USAGE: Final = 2  # exit status of a mistake in the command line or the settings, as click uses it
FAILED: Final = 1  # exit status of anything else the command could not do


def explain(err: BaseException) -> tuple[str, int] | None:
    """One or two plain lines for an error the user can act on, with the exit status; None for a bug."""
    if isinstance(err, HomecareError):
        return str(err), FAILED
    if isinstance(err, ValidationError) and err.title.endswith("Settings"):
        return "\n".join(_setting(item) for item in err.errors(include_url=False, include_input=False)[:2]), USAGE
    if isinstance(err, psycopg.OperationalError):
        lines = str(err).strip().splitlines()
        return (
            f"cannot reach the database of HOMECARE_DATABASE_URL: {lines[0] if lines else type(err).__name__}",
            FAILED,
        )
    return None


def _setting(item: Any) -> str:
    """``HOMECARE_DATABASE_URL: not a PostgreSQL URL …``: the variable that holds the value, and what is wrong."""
    message = str(item["msg"]).removeprefix("Value error, ")
    name = ".".join(str(part) for part in item["loc"])
    return f"HOMECARE_{name.upper()}: {message}" if name else message
