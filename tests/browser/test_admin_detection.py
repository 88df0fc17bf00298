"""A resident's alarm thresholds in a real browser: defaults shown beside the fields, the API's refusal next to the
field at fault, the SpO2 scale 2 preset saved and still there after a reload, and back to the defaults."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import SignIn, screenshot
from tests.support.world import World


async def open_resident(page: Page, resident_id: int) -> None:
    await page.goto("/admin#residents")
    await page.click(f"button[data-resident='{resident_id}']")
    await expect(page.locator("#detection-form")).to_be_visible()


async def test_an_administrator_puts_a_copd_resident_on_spo2_scale_2_and_back(sign_in: SignIn, world: World) -> None:
    page = await sign_in("admin")
    resident = world.resident_ids[0]
    await open_resident(page, resident)
    spo2_low, spo2_moderate = page.locator("#f-vitals-spo2_low"), page.locator("#f-vitals-spo2_moderate")
    recovery = page.locator("#f-falls-recovery_window_s")
    await expect(spo2_low).to_have_value("")
    await expect(spo2_low).to_have_attribute("placeholder", "91")
    await expect(page.locator("#f-vitals-spo2_low-hint")).to_have_text("默认 91")
    await expect(page.locator("#det-updated")).to_have_text("全部为默认设置")

    # Too long a wait for "I'm OK" is refused beside the field, and nothing else is lost.
    await recovery.fill("900")
    await page.click("#detection-form-submit")
    await expect(page.locator("#detection-form [data-field='falls.recovery_window_s'] .field-error")).to_have_text(
        "不能大于 300"
    )

    await page.click("#det-scale2")
    await expect(spo2_low).to_have_value("83")
    await expect(spo2_moderate).to_have_value("85")
    await recovery.fill("90")
    await page.uncheck("#f-baseline-enabled")
    await page.click("#detection-form-submit")
    await expect(page.locator("#det-updated")).to_contain_text("admin 于")
    await screenshot(page, "admin-detection")

    await page.reload()
    await open_resident(page, resident)
    await expect(spo2_low).to_have_value("83")
    await expect(spo2_moderate).to_have_value("85")
    await expect(recovery).to_have_value("90")
    await expect(page.locator("#f-vitals-pulse_high")).to_have_value("")
    await expect(page.locator("#f-baseline-enabled")).not_to_be_checked()
    await expect(page.locator("#f-vitals-enabled")).to_be_checked()

    await page.click("#det-reset")
    await expect(page.locator("#det-updated")).to_contain_text("admin 于")
    await expect(spo2_low).to_have_value("")
    await expect(recovery).to_have_value("")
    await expect(page.locator("#f-baseline-enabled")).to_be_checked()
    await page.reload()
    await open_resident(page, resident)
    await expect(spo2_low).to_have_value("")
    await expect(spo2_low).to_have_attribute("placeholder", "91")
