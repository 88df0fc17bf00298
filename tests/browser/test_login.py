"""Signing in and out in a real browser: redirects, refused passwords, the language switch, role homes."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.browser.conftest import SignIn, screenshot
from tests.support.backend import Backend
from tests.support.world import World


async def test_a_page_asks_to_sign_in_and_returns_there(browser: Browser, backend: Backend, world: World) -> None:
    context = await browser.new_context(base_url=backend.url, locale="zh-CN")
    page = await context.new_page()
    await page.goto("/console")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fconsole"))
    await expect(page.locator("h1")).to_have_text("登录")
    await screenshot(page, "login")

    await page.fill("#username", "operator")
    await page.fill("#password", "not the password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误")

    await page.fill("#password", world.password("operator"))
    await page.click("#login-submit")
    await expect(page).to_have_url(re.compile(r"/console$"))
    await expect(page.locator("#who")).to_contain_text("接警员")
    await context.close()


async def test_each_role_lands_on_its_own_page_and_cannot_open_others(sign_in: SignIn) -> None:
    family = await sign_in("family")
    await expect(family).to_have_url(re.compile(r"/family$"))
    await family.goto("/console")
    await expect(family).to_have_url(re.compile(r"/family$"))
    await family.goto("/admin")
    await expect(family).to_have_url(re.compile(r"/family$"))

    responder = await sign_in("responder")
    await expect(responder).to_have_url(re.compile(r"/station$"))
    await responder.goto("/console")
    await expect(responder).to_have_url(re.compile(r"/station$"))

    admin = await sign_in("admin")
    await expect(admin).to_have_url(re.compile(r"/admin$"))


async def test_language_switch_and_sign_out(sign_in: SignIn) -> None:
    page = await sign_in("operator")
    await expect(page.locator("#sign-out")).to_have_text("退出")
    await page.select_option("#lang-switch", "en")
    await expect(page.locator("#sign-out")).to_have_text("Sign out")
    await page.reload()
    await expect(page.locator("#who")).to_contain_text("Operator")  # kept for this user

    await page.click("#sign-out")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.goto("/console")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    assert page.errors == []  # type: ignore[attr-defined]


async def test_times_follow_the_zone_the_user_picks(sign_in: SignIn) -> None:
    page = await sign_in("family")
    show = "async () => (await import('/static/js/common.js')).formatTime('2026-01-01T00:00:00Z')"
    assert await page.evaluate(show) == "1月1日 08:00:00"  # the account's zone: Asia/Shanghai
    async with page.expect_navigation():  # the page reloads in the new zone
        await page.select_option("#zone-switch", "America/New_York")  # a son abroad
    await expect(page.locator("#zone-switch")).to_have_value("America/New_York")  # kept for the account
    assert await page.evaluate(show) == "12月31日 19:00:00"


async def test_after_sign_in_the_browser_stays_on_this_site(browser: Browser, backend: Backend, world: World) -> None:
    context = await browser.new_context(base_url=backend.url, locale="zh-CN")
    await context.route("**://evil.example/**", lambda route: route.fulfill(body="phished"))
    page = await context.new_page()
    # "/\evil.example" and "/<tab>/evil.example" start with one slash, but the browser reads both as "//evil.example".
    for next_ in ("%2F%5Cevil.example%2Fphish", "%2F%09%2Fevil.example%2Fphish", "https%3A%2F%2Fevil.example%2F"):
        await page.goto(f"/login?next={next_}")
        await page.fill("#username", "operator")
        await page.fill("#password", world.password("operator"))
        await page.click("#login-submit")
        await expect(page).to_have_url(f"{backend.url}/console")
        await page.click("#sign-out")
        await expect(page).to_have_url(re.compile(r"/login$"))
    # A path of this site is where the user goes back to.
    await page.goto("/login?next=%2Fconsole%3Fq%3D1%23map")
    await page.fill("#username", "operator")
    await page.fill("#password", world.password("operator"))
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{backend.url}/console?q=1#map")
    await context.close()
