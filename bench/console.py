"""Console benchmark: first load and responsiveness of the operator console with 500 open incidents.

Starts an embedded PostgreSQL, the amqtt broker and the API (as `homecare api`), enrols a neighbourhood,
opens 500 incidents through the incidents service, then drives Debian's Chromium with Playwright:
cold first loads in fresh browser contexts (navigation start → queue rendered, bytes transferred),
a burst of 50 live changes (commit → every row updated), and keypress → incident screen rendered. Then 500
consoles' live feeds (WebSockets) at once: one change committed → the last of them has it, and the database
connections the API holds with 500 feeds open against none. Prints the figures and writes
bench/results/console.json. Run: ``python -m bench.console``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from playwright.async_api import Browser, Page, async_playwright
from rich.console import Console
from websockets.asyncio.client import connect

from bench.services import start_homecare, wait_for_api, with_services, write_results
from homecare.backend.deps import SESSION_COOKIE
from homecare.backend.detection.signals import DEFAULT_PRIORITY, Cause, Signal, SignalKind
from homecare.backend.incidents import service as incidents
from homecare.backend.incidents.policy import Escalation, load_policies
from homecare.storage.maintenance import prepare_database
from homecare.storage.settings import StorageSettings
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.brokers import free_port
from tests.support.world import build_world

RESULTS = Path(__file__).parent / "results" / "console.json"
TOKEN = "bench-token-" + "x" * 24
# Every cause but the confirmed fall, which folds into the fall of the same resident (one happening).
CAUSES = [cause for cause in Cause if cause is not Cause.FALL_CONFIRMED]
console = Console()

# Installed in the page: when each queue row changes status, and keypress → incident screen rendered.
PROBES = """
() => {
  window.__changed = new Map();
  new MutationObserver((records) => {
    const at = Date.now();
    for (const r of records) {
      if (!window.__changed.has(r.target.dataset.id)) window.__changed.set(r.target.dataset.id, at);
    }
  }).observe(document.getElementById("queue"), { subtree: true, attributes: true, attributeFilter: ["data-status"] });
  window.__opened = [];
  let keyAt = null;
  addEventListener("keydown", () => { keyAt = performance.now(); }, { capture: true });
  new MutationObserver(() => {
    const screen = document.querySelector("#incident[data-ready]");
    if (keyAt !== null && screen) { window.__opened.push(performance.now() - keyAt); keyAt = null; }
  }).observe(document.getElementById("incident-pane"), { childList: true, subtree: true });
}
"""
FIRST_LOAD = """
() => {
  const rendered = performance.getEntriesByName("console:queue")[0].startTime;
  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
  const bytes = (filter) => entries.filter(filter).reduce((sum, e) => sum + e.transferSize, 0);
  return { ms: rendered, rows: document.querySelectorAll("#queue .q-row").length, requests: entries.length,
           bytes: bytes(() => true), static_bytes: bytes((e) => new URL(e.name).pathname.startsWith("/static/")),
           api_bytes: bytes((e) => new URL(e.name).pathname.startsWith("/api/")) };
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--loads", type=int, default=10, help="cold first loads, each in a fresh browser context")
    parser.add_argument("--burst", type=int, default=50, help="live changes committed at once")
    parser.add_argument("--keys", type=int, default=20, help="J presses, each opening the next incident")
    parser.add_argument("--feeds", type=int, default=500, help="consoles' live feeds open at once")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = with_services(
        "console", lambda work, dsn, broker_url: _measure(work, dsn, broker_url, args), broker="amqtt"
    )
    write_results(args.output, result)
    load, burst, keys = result["first_load"], result["burst"], result["keypress"]
    console.print(
        f"[bold]console first load[/] ({args.incidents} open incidents, {args.loads} cold loads): "
        f"median {load['median_ms']:.0f} ms, max {load['max_ms']:.0f} ms, "
        f"{load['bytes'] / 1024:.0f} KiB transferred ({load['static_bytes'] / 1024:.0f} KiB static, "
        f"{load['api_bytes'] / 1024:.0f} KiB API) in {load['requests']} requests"
    )
    console.print(
        f"[bold]burst of {args.burst} live changes[/]: all rows updated {burst['commit_to_last_ms']:.0f} ms "
        f"after the commit; applied within {burst['first_to_last_ms']:.0f} ms of each other"
    )
    console.print(
        f"[bold]keypress → incident screen[/]: median {keys['median_ms']:.0f} ms, "
        f"max {keys['max_ms']:.0f} ms over {keys['presses']} presses"
    )
    feeds = result["feeds"]
    console.print(
        f"[bold]{feeds['feeds']} live feeds open[/]: one change reached the last of them "
        f"{feeds['commit_to_last_ms']:.0f} ms after the commit (median {feeds['commit_to_median_ms']:.0f} ms); "
        f"the API held {feeds['api_connections_idle']} database connections with none open and "
        f"{feeds['api_connections_open']} with {feeds['feeds']}"
    )
    console.print(f"written to {args.output}")


async def _measure(work: Path, dsn: str, broker_url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await prepare_database(conn, settings=StorageSettings(_env_file=None))
    residents = -(-args.incidents // len(CAUSES))
    world = await build_world(dsn, work / "data", residents=residents)
    ids = await _open_incidents(dsn, world.resident_ids, args.incidents)
    port = free_port()
    env = {
        **os.environ,
        "HOMECARE_DATABASE_URL": dsn,
        "HOMECARE_MQTT_URL": broker_url,
        "HOMECARE_API_TOKEN": TOKEN,
        "HOMECARE_API_PORT": str(port),
        "HOMECARE_EMBEDDED_BROKER": "false",
    }
    api = start_homecare(work, "api", ["api"], env)
    try:
        await wait_for_api(f"http://127.0.0.1:{port}")
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            response = await client.post(
                "/api/auth/login", json={"username": "operator", "password": world.password("operator")}
            )
            response.raise_for_status()
            cookie = response.cookies[SESSION_COOKIE]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                loads = [await _first_load(browser, base, cookie, args.incidents) for _ in range(args.loads)]
                page = await _page(browser, base, cookie)
                await page.goto("/console")
                await page.wait_for_function("performance.getEntriesByName('console:queue').length > 0")
                await page.evaluate(PROBES)
                keys = await _keypresses(page, args.keys)
                burst = await _burst(page, dsn, ids[-args.burst :])
            finally:
                await browser.close()
        feeds = await _feeds(f"ws://127.0.0.1:{port}/api/incidents/feed", dsn, ids[0], args.feeds)
    finally:
        api.terminate()
        api.wait(30)
    times = [load["ms"] for load in loads]
    return {
        "open_incidents": args.incidents,
        "first_load": {
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
            "loads": len(times),
            "bytes": loads[-1]["bytes"],
            "static_bytes": loads[-1]["static_bytes"],
            "api_bytes": loads[-1]["api_bytes"],
            "requests": loads[-1]["requests"],
        },
        "burst": burst,
        "keypress": {
            "median_ms": round(statistics.median(keys), 1),
            "max_ms": round(max(keys), 1),
            "presses": len(keys),
        },
        "feeds": feeds,
    }


async def _open_incidents(dsn: str, resident_ids: list[int], count: int) -> list[int]:
    """Open ``count`` incidents through the incidents service, aged 0–10 min, some as pre-alarms; their
    escalation timers are cancelled so escalations do not add feed traffic while measuring."""
    escalation = Escalation(policies=load_policies())
    now = datetime.now(UTC)
    ids = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("UPDATE stations SET opens = '00:00', closes = '00:00'")
        for n in range(count):
            cause = CAUSES[n % len(CAUSES)]
            resident = resident_ids[n // len(CAUSES)]
            pre_alarm = cause is Cause.FALL and n % 2 == 0
            at = now - timedelta(seconds=(count - n) * 600 / count)
            signal = Signal(
                resident_id=resident,
                cause=cause,
                priority=DEFAULT_PRIORITY[cause],
                kind=SignalKind.PRE_ALARM if pre_alarm else SignalKind.ALARM,
                recovery_window_s=45 if pre_alarm else None,
                detected_at=at,
                explanation_en=f"bench {cause.value}",
                explanation_zh=f"基准测试 {cause.value}",
            )
            applied = await incidents.apply_signal(conn, signal=signal, now=at, escalation=escalation)
            assert applied.incident_id is not None
            ids.append(applied.incident_id)
        await conn.execute("UPDATE incident_timers SET cancelled_at = now() WHERE fired_at IS NULL")
    return ids


async def _page(browser: Browser, base: str, cookie: str) -> Page:
    context = await browser.new_context(
        base_url=base,
        viewport={"width": 1440, "height": 900},
        timezone_id="Asia/Shanghai",
        locale="zh-CN",
        bypass_csp=True,
    )  # the page's CSP forbids the probes' string eval
    await context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": base}])
    return await context.new_page()


async def _first_load(browser: Browser, base: str, cookie: str, expected: int) -> dict[str, Any]:
    page = await _page(browser, base, cookie)
    try:
        await page.goto("/console")
        await page.wait_for_function("performance.getEntriesByName('console:queue').length > 0")
        load: dict[str, Any] = await page.evaluate(FIRST_LOAD)
        if load["rows"] != expected:
            raise RuntimeError(f"the queue shows {load['rows']} rows, expected {expected}")
        return load
    finally:
        await page.context.close()


async def _keypresses(page: Page, presses: int) -> list[float]:
    for n in range(1, presses + 1):
        await page.keyboard.press("j")
        await page.wait_for_function(f"window.__opened.length >= {n}")
    return [float(ms) for ms in await page.evaluate("window.__opened")]


async def _burst(page: Page, dsn: str, ids: list[int]) -> dict[str, float]:
    """Acknowledge ``ids`` in one transaction: their changes reach the console together."""
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async with conn.transaction():
            for incident_id in ids:
                await incidents.acknowledge(conn, incident_id=incident_id, actor="bench", now=now)
        committed = time.time() * 1000
    await page.wait_for_function(
        f"[{','.join(map(str, ids))}].every((id) => "
        "document.querySelector(`#queue [data-id='${id}']`)?.dataset.status === 'acknowledged')"
    )
    changed: dict[str, float] = await page.evaluate("Object.fromEntries(window.__changed)")
    stamps = [changed[str(i)] for i in ids]
    return {
        "changes": len(ids),
        "commit_to_last_ms": round(max(stamps) - committed, 1),
        "first_to_last_ms": round(max(stamps) - min(stamps), 1),
    }


async def _feeds(url: str, dsn: str, incident_id: int, count: int) -> dict[str, Any]:
    """Open ``count`` live feeds from the latest change, commit one note, and time its arrival at each."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:

        async def api_connections() -> int:
            row = await (
                await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).fetchone()
            assert row is not None
            return int(row[0])

        latest = await (await conn.execute("SELECT max(id) FROM incident_changes")).fetchone()
        assert latest is not None
        idle = await api_connections()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with contextlib.AsyncExitStack() as stack:
            sockets = [
                await stack.enter_async_context(connect(f"{url}?after={latest[0]}", additional_headers=headers))
                for _ in range(count)
            ]
            opened = await api_connections()

            async def arrival(socket: Any) -> float:
                await socket.recv()
                return time.time() * 1000

            arrivals = [asyncio.create_task(arrival(socket)) for socket in sockets]
            await incidents.add_note(conn, incident_id=incident_id, actor="bench", note="feeds", now=datetime.now(UTC))
            committed = time.time() * 1000
            stamps = [stamp - committed for stamp in await asyncio.gather(*arrivals)]
    return {
        "feeds": count,
        "commit_to_median_ms": round(statistics.median(stamps), 1),
        "commit_to_last_ms": round(max(stamps), 1),
        "api_connections_idle": idle,
        "api_connections_open": opened,
    }


if __name__ == "__main__":
    main()
