"""HTTP routes for signing in and out, one's own account, and (administrators) accounts and family links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status

from homecare.backend.accounts import (
    AccountsError,
    service,
)
from homecare.backend.accounts import repository as repo
from homecare.backend.accounts.models import (
    FamilyLink,
    LoginBody,
    Me,
    MePatch,
    NewFamilyLink,
    NewUser,
    PasswordChange,
    Role,
    User,
    UserPatch,
)
from homecare.backend.deps import SESSION_COOKIE, AdminActor, ConnDep, CurrentActor, SettingsDep, same_site_write
from homecare.backend.inputs import RowId
from homecare.backend.residents import access

router = APIRouter(tags=["accounts"])

UserId = Annotated[RowId, Path(description="The user's id.")]
ResidentId = Annotated[RowId, Path(description="The resident's id.")]


def _me(actor: CurrentActor) -> Me:
    return Me(
        id=actor.user_id,
        username=actor.name,
        display_name=actor.display_name,
        role=actor.role,
        station_id=actor.station_id,
        language=actor.language,
        timezone=actor.timezone,
    )


@router.post(
    "/auth/login",
    summary="Sign in: sets the session cookie",
    status_code=status.HTTP_200_OK,
    dependencies=[Depends(same_site_write)],
)
async def login(request: Request, response: Response, conn: ConnDep, settings: SettingsDep, body: LoginBody) -> Me:
    try:
        token = await service.login(
            conn,
            settings=settings,
            username=body.username,
            password=body.password,
            ip=None if request.client is None else request.client.host,
            user_agent=request.headers.get("user-agent"),
            now=datetime.now(UTC),
        )
        actor = await service.session_actor(conn, settings=settings, token=token, now=datetime.now(UTC))
    except AccountsError:
        await conn.commit()  # keep the failed attempt: it counts toward the limit
        raise
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return _me(actor)


@router.post(
    "/auth/logout",
    summary="Sign out: ends the session",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(same_site_write)],
)
async def logout(request: Request, conn: ConnDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token is not None:
        await service.logout(conn, token=token, now=datetime.now(UTC))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", summary="Who is signed in, with their language and time zone")
async def get_me(actor: CurrentActor) -> Me:
    return _me(actor)


@router.patch("/auth/me", summary="Change one's language or time zone")
async def patch_me(actor: CurrentActor, conn: ConnDep, body: MePatch) -> Me:
    await service.update_me(conn, actor=actor, language=body.language, timezone=body.timezone)
    return _me(actor).model_copy(update=body.model_dump(exclude_none=True))


@router.post(
    "/auth/password", summary="Change one's password (other sessions end)", status_code=status.HTTP_204_NO_CONTENT
)
async def change_password(request: Request, actor: CurrentActor, conn: ConnDep, body: PasswordChange) -> None:
    await service.change_password(
        conn,
        actor=actor,
        current=body.current_password,
        new=body.new_password,
        keep_token=request.cookies.get(SESSION_COOKIE),
        now=datetime.now(UTC),
    )


@router.get("/users", summary="Accounts (administrators)")
async def list_users(
    _: AdminActor,
    conn: ConnDep,
    role: Annotated[Role | None, Query()] = None,
    station_id: Annotated[RowId | None, Query()] = None,
) -> list[User]:
    return await repo.list_users(conn, role=role, station_id=station_id)


@router.post("/users", summary="Add an account (administrators)", status_code=status.HTTP_201_CREATED)
async def create_user(_: AdminActor, conn: ConnDep, body: NewUser) -> User:
    return await service.create_user(conn, new=body)


@router.patch("/users/{user_id}", summary="Change, disable or reset an account (administrators)")
async def patch_user(actor: AdminActor, conn: ConnDep, user_id: UserId, body: UserPatch) -> User:
    return await service.update_user(conn, actor=actor, user_id=user_id, patch=body, now=datetime.now(UTC))


@router.get("/residents/{resident_id}/family", summary="Family members following a resident (administrators)")
async def list_family(_: AdminActor, conn: ConnDep, resident_id: ResidentId) -> list[FamilyLink]:
    return await repo.family_links(conn, resident_id=resident_id)


@router.put("/residents/{resident_id}/family", summary="Link a family member with the resident's consent")
async def put_family(actor: AdminActor, conn: ConnDep, resident_id: ResidentId, body: NewFamilyLink) -> FamilyLink:
    return await access.link_family(conn, actor=actor, resident_id=resident_id, link=body, now=datetime.now(UTC))


@router.delete(
    "/residents/{resident_id}/family/{user_id}",
    summary="Unlink a family member",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_family(_: AdminActor, conn: ConnDep, resident_id: ResidentId, user_id: UserId) -> None:
    if not await repo.delete_family_link(conn, user_id=user_id, resident_id=resident_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such family link")
