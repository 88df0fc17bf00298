"""The demo sign-ins `homecare run` creates for the simulated neighbourhood, with passwords made once and kept."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from homecare.backend.accounts import repository as repo
from homecare.backend.accounts.models import Role, Sharing
from homecare.backend.accounts.passwords import hash_password
from homecare.storage.connections import Conn


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: Role
    display_name: str
    station: int | None = None  # the station's index in the neighbourhood, for a station's staff
    follows: int | None = None  # the resident's index in the neighbourhood, for family


# Names only: the top bar and the records add the role ("李娜 · 接警员").
DEMO_PEOPLE = (
    ("admin", Role.ADMIN, "刘洋", None, None),
    ("supervisor", Role.SUPERVISOR, "周敏", None, None),
    ("operator", Role.OPERATOR, "李娜", None, None),
    ("responder", Role.RESPONDER, "王强", 0, None),
    ("visitor", Role.VISITOR, "孙丽", 0, None),
    ("carer", Role.CARER, "吴芳", 0, None),
    ("family", Role.FAMILY, "陈静", None, 0),
    ("family2", Role.FAMILY, "赵磊", None, 1),
)


def demo_logins(data_dir: Path) -> list[DemoLogin]:
    """The demo accounts with their passwords, made on first use and kept in data_dir (owner-readable only)."""
    path = data_dir / "demo-logins.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for username, *_ in DEMO_PEOPLE:
        stored.setdefault(username, secrets.token_urlsafe(9))
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=1))
    path.chmod(0o600)
    return [
        DemoLogin(username, stored[username], role, name, station=station, follows=follows)
        for username, role, name, station, follows in DEMO_PEOPLE
    ]


async def ensure_demo_accounts(
    conn: Conn, *, logins: list[DemoLogin], station_ids: list[int], resident_ids: list[int], now: datetime
) -> None:
    """Create the demo accounts if missing (passwords are reset to the kept ones) and link the family members."""
    for login in logins:
        station = None if login.station is None else station_ids[login.station]
        found = await repo.credentials(conn, username=login.username)
        if found is None:
            user = await repo.insert_user(
                conn,
                username=login.username,
                display_name=login.display_name,
                role=login.role,
                password_hash=hash_password(login.password),
                station_id=station,
                phone=None,
                email=None,
                language="zh",
                timezone="Asia/Shanghai",
            )
            user_id = user.id
        else:
            user_id = found.id
            await repo.update_user(
                conn,
                user_id=user_id,
                changes={
                    "password_hash": hash_password(login.password),
                    "disabled_at": None,
                    "display_name": login.display_name,
                },
            )
        if login.role is Role.RESPONDER:
            await repo.update_user(conn, user_id=user_id, changes={"on_duty": True})
        if login.follows is not None and login.follows < len(resident_ids):
            await repo.upsert_family_link(
                conn,
                user_id=user_id,
                resident_id=resident_ids[login.follows],
                relation="女儿",
                sharing=Sharing(share_status=True, share_vitals=True, share_activity=True, share_incidents=True),
                recorded_by="demo",
                now=now,
            )
