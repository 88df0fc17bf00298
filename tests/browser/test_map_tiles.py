"""Street tiles under the console's map when an administrator set a tile server: fetched from its host (which the
pages' Content-Security-Policy then allows), placed under the homes and stations, with its attribution."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.async_api import expect
from pydantic import ValidationError

from homecare.backend.settings import Settings
from tests.browser.conftest import SignIn, screenshot
from tests.support.backend import Backend, serving
from tests.support.waiting import eventually
from tests.support.world import World


def _png() -> bytes:
    """A 256 × 256 light-grey PNG, as a tile server would send."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xdd" * 256 for _ in range(256))
    header = struct.pack(">IIBBBBB", 256, 256, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class TileServer(ThreadingHTTPServer):
    requested: list[str]


class _Tiles(BaseHTTPRequestHandler):
    server: TileServer
    TILE = _png()

    def do_GET(self) -> None:
        self.server.requested.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.TILE)))
        self.end_headers()
        self.wfile.write(self.TILE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tiles() -> Iterator[TileServer]:
    server = TileServer(("127.0.0.1", 0), _Tiles)
    server.requested = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
async def backend(database_url: str, amqtt_url: str, world: World, tiles: TileServer) -> AsyncIterator[Backend]:
    url = f"http://127.0.0.1:{tiles.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
    async with serving(database_url, map_tile_url=url, map_tile_attribution="© 测试底图 test tiles") as running:
        yield running


async def test_the_map_draws_the_tile_servers_street_tiles_under_homes_and_stations(
    sign_in: SignIn, backend: Backend, tiles: TileServer
) -> None:
    origin = f"http://127.0.0.1:{tiles.server_address[1]}"
    async with httpx.AsyncClient(base_url=backend.url) as client:
        login = await client.get("/login")
    assert origin not in login.headers["content-security-policy"]  # only the pages with a map name the host
    page = await sign_in("operator")
    await expect(page.locator("#feed-state.live")).to_be_visible()
    await page.keyboard.press("m")
    drawing = page.locator("#map-svg")
    await expect(drawing.locator(".m-stations .m-station").first).to_be_visible()
    images = drawing.locator(".m-tiles image")
    count = await images.count()
    assert 1 <= count <= 64
    hrefs = [await images.nth(i).get_attribute("href") for i in range(count)]
    assert all(h and h.startswith(f"{origin}/tiles/") and h.endswith(".png") for h in hrefs)
    # The browser fetched every tile from the tile server: the page's policy let it.
    await eventually(lambda: len(set(tiles.requested)) >= count)
    assert {f"{origin}{path}" for path in tiles.requested} == set(hrefs)
    # Underneath: the tiles come first in the drawing, the homes and stations over them.
    first = await drawing.evaluate("svg => svg.firstElementChild.getAttribute('class')")
    assert first == "m-tiles"
    await expect(page.locator(".map-attribution")).to_have_text("© 测试底图 test tiles")
    await screenshot(page, "console-map-tiles")
    assert page.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("https://tiles.example.org/{z}/{x}.png", "map_tile_url must hold {y}"),
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "map_tile_url must be an http(s) URL"),
        ("tiles.example.org/{z}/{x}/{y}.png", "map_tile_url must be an http(s) URL"),
    ],
)
def test_a_tile_server_setting_that_is_not_a_tile_template_is_refused(url: str, refusal: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(refusal)):
        Settings(_env_file=None, map_tile_url=url)  # type: ignore[call-arg]
