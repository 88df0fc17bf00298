"""What every HTTP answer tells the browser: no type sniffing, no framing by other sites; the API's documentation
loads nothing from another site."""

from __future__ import annotations

import re

import httpx

from tests.support.backend import Backend


async def test_pages_assets_and_api_answers_forbid_sniffing_and_framing(backend: Backend) -> None:
    async with httpx.AsyncClient(base_url=backend.url) as http:
        for path in ("/login", "/console", "/static/js/login.js", "/api/auth/me", "/api/nowhere", "/docs"):
            response = await http.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["x-frame-options"] == "DENY", path


async def test_the_api_documentation_is_served_from_here(backend: Backend) -> None:
    async with httpx.AsyncClient(base_url=backend.url) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
        scripts = re.findall(r"""url: ['"]([^'"]+)""", page.text)
        assert sources
        assert [s for s in sources + scripts if "//" in s] == []  # nothing from another site
        for source in sources + scripts:
            assert (await http.get(source)).status_code == 200, source
