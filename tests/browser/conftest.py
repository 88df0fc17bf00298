"""Browser fixtures: Debian's Chromium driven headless by Playwright, the running backend, signed-in pages,
and screenshots saved under test-artifacts/screenshots/ for the CI artefacts and the README."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from homecare.gateway.service import Gateway
from tests.support.backend import Backend
from tests.support.enrolment import gateway_settings
from tests.support.mqtt import TestClient
from tests.support.world import World

CHROMIUM = os.environ.get("HOMECARE_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the run (Playwright's own browser download cannot work here)."""
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - once per run, before the browser starts
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (deploy/system-packages.sh does)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    """Browser tests run against the in-process broker, as `make run` does."""
    return amqtt_url


@pytest.fixture
def gateway(database_url: str, broker_url: str, world: World) -> Iterator[Gateway]:
    """The gateway, started once the world's devices are enrolled (it loads the device registry at start)."""
    running = Gateway(gateway_settings(database_url, broker_url), database_url)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pendant(broker_url: str) -> Iterator[TestClient]:
    """An MQTT client that publishes device messages as firmware does."""
    client = TestClient(broker_url)
    yield client
    client.close()


SignIn = Callable[..., Awaitable[Page]]


@pytest.fixture
async def sign_in(browser: Browser, backend: Backend, world: World) -> AsyncIterator[SignIn]:
    """sign_in("operator") → a page in its own browser context, signed in through the login form, on the
    user's home page. Options: lang ("zh" default, as a new user sees it), viewport (a phone for family)."""
    contexts: list[BrowserContext] = []

    async def open_as(
        username: str,
        *,
        lang: str | None = None,
        viewport: dict[str, int] | None = None,
        timezone_id: str = "Asia/Shanghai",
    ) -> Page:
        context = await browser.new_context(
            base_url=backend.url,
            viewport=viewport or {"width": 1440, "height": 900},
            timezone_id=timezone_id,
            locale="zh-CN",
        )
        contexts.append(context)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors  # type: ignore[attr-defined]
        if lang is not None:
            await context.add_init_script(f"localStorage.setItem('homecare.lang', '{lang}')")
        await page.goto("/login")
        await page.fill("#username", username)
        await page.fill("#password", world.password(username))
        await page.click("#login-submit")
        await page.wait_for_url(re.compile(r"/(console|station|family|admin|visits|carer)"))
        return page

    yield open_as
    for context in contexts:
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
