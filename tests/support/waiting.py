"""Polling until something a user would see has happened, with a deadline instead of fixed sleeps."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T] | T], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Call (and await, if it is async) `check` until it returns a truthy value; fail with its last value
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        value = await outcome if inspect.isawaitable(outcome) else outcome
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        await asyncio.sleep(interval)
