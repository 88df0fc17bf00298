"""Serves each page's HTML shell and the static assets; a page asks for sign-in and sends other roles home."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from homecare.backend.accounts import NotAuthenticated
from homecare.backend.accounts.models import STAFF_ROLES, Actor, Role
from homecare.backend.deps import SESSION_COOKIE, RuntimeDep, authenticate
from homecare.backend.runtime import Runtime

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its path, the roles that may open it, and its script and style under static/."""

    name: str
    path: str
    roles: frozenset[Role]


PAGES = {
    page.name: page
    for page in (
        Page("console", "/console", STAFF_ROLES),
        Page("station", "/station", frozenset({Role.RESPONDER, Role.ADMIN, Role.SUPERVISOR})),
        Page("family", "/family", frozenset({Role.FAMILY})),
        Page("admin", "/admin", frozenset({Role.ADMIN, Role.SUPERVISOR})),
        Page("visits", "/visits", frozenset({Role.VISITOR, Role.ADMIN, Role.SUPERVISOR})),
        Page("carer", "/carer", frozenset({Role.CARER})),
        Page("bookings", "/bookings", STAFF_ROLES | {Role.RESPONDER, Role.VISITOR}),
    )
}
HOME_OF = {
    Role.ADMIN: "/admin",
    Role.SUPERVISOR: "/console",
    Role.OPERATOR: "/console",
    Role.RESPONDER: "/station",
    Role.VISITOR: "/visits",
    Role.CARER: "/carer",
    Role.FAMILY: "/family",
}


@cache
def asset_version() -> str:
    """A hash of every static file: changes when any asset does, so browsers fetch the new ones."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def shell(name: str, title: str, *, tiles: str | None = None, attribution: str | None = None) -> str:
    """The HTML every page starts from: shared and page styles, and the page's module script; the map's tile server
    and its attribution, when one is set, as data attributes of the body."""
    v = asset_version()
    page_css = STATIC / "css" / f"{name}.css"
    extra_css = f'<link rel="stylesheet" href="/static/css/{name}.css?v={v}">' if page_css.exists() else ""
    map_data = "".join(
        f' data-{key}="{escape(value)}"'
        for key, value in (("map-tiles", tiles), ("map-attribution", attribution))
        if value
    )
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>{title}</title>
<link rel="icon" href="/static/img/icon.svg?v={v}" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/app.css?v={v}">{extra_css}
</head>
<body data-page="{name}"{map_data}>
<div id="app"></div>
<script type="module" src="/static/js/{name}.js?v={v}"></script>
</body>
</html>
"""


async def page_actor(request: Request, runtime: RuntimeDep) -> Actor | None:
    """The signed-in user opening a page, or None (pages use the cookie only)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        return None
    try:
        return await authenticate(runtime, bearer=None, cookie=cookie, origin=None, host=None, unsafe=False)
    except NotAuthenticated:
        return None


PageActor = Annotated[Actor | None, Depends(page_actor)]


def _no_store(tile_origin: str | None = None) -> dict[str, str]:
    """A page's headers: never cached, and a Content-Security-Policy that lets it load only this site's resources
    (and the map's tiles from their server, when one is set)."""
    images = " ".join(filter(None, ("'self' data: blob:", tile_origin)))
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": f"default-src 'self'; img-src {images}; media-src 'self' blob:; "
        "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        "Referrer-Policy": "same-origin",
    }


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _page_route(page: Page) -> Callable[[Request, Actor | None, Runtime], Awaitable[Response]]:
    """The route of one page: its shell for the roles it is for, a sign-in or home redirect for anyone else."""

    async def route(request: Request, actor: PageActor, runtime: RuntimeDep) -> Response:
        if actor is None:
            return _login_redirect(request)
        if actor.role not in page.roles:
            return RedirectResponse(HOME_OF[actor.role], status_code=303)
        settings = runtime.settings
        html = shell(page.name, "homecare", tiles=settings.map_tile_url, attribution=settings.map_tile_attribution)
        return HTMLResponse(html, headers=_no_store(settings.map_tile_origin))

    return route


router = APIRouter(include_in_schema=False)
for _page in PAGES.values():
    router.add_api_route(_page.path, _page_route(_page), methods=["GET"], name=f"page_{_page.name}")
    router.add_api_route(
        _page.path + "/{rest:path}", _page_route(_page), methods=["GET"], name=f"page_{_page.name}_deep"
    )


@router.get("/login")
async def login_page() -> Response:
    return HTMLResponse(shell("login", "homecare"), headers=_no_store())


@router.get("/")
async def home(actor: PageActor) -> Response:
    if actor is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME_OF[actor.role], status_code=303)


class CachedStatic(StaticFiles):
    """Static files; versioned URLs (``?v=``) are cached for a year, others revalidated with their ETag."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        query = scope.get("query_string", b"")
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if b"v=" in query else "no-cache"
        return response  # X-Content-Type-Options: nosniff, as on every answer (homecare.backend.app.SecurityHeaders)


def mount(app: FastAPI) -> None:
    """Add the pages and /static to the app."""
    app.include_router(router)
    app.mount("/static", CachedStatic(directory=STATIC), name="static")
