"""Gateways without a configured client id take the lowest free one of a pool held in PostgreSQL: a killed gateway's
id is free at once, a gateway that loses its database connection takes its id again, or stops if it is gone."""

from __future__ import annotations

import threading
import uuid

import psycopg

from homecare.gateway.client_ids import CHECK_INTERVAL_S, ClientIdPool
from tests.support.waiting import eventually


def _holder(database_url: str, prefix: str, slot: int) -> int | None:
    """The server process of the session holding one id, if any."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = hashtext(%s)::oid AND objid = %s AND objsubid = 2",
            (prefix, slot),
        ).fetchone()
        return None if row is None else int(row[0])


def _kill_holder(database_url: str, prefix: str, slot: int) -> int:
    """End the database session holding one id, as a killed process or a database restart ends it."""
    pid = _holder(database_url, prefix, slot)
    assert pid is not None
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # returns once it has ended
    return pid


async def test_ids_are_taken_lowest_first_freed_with_their_holder_and_never_shared(database_url: str) -> None:
    prefix = f"gw-pool-{uuid.uuid4().hex[:6]}"
    lost = {name: threading.Event() for name in "abcd"}
    pools = {name: ClientIdPool(database_url, prefix, lost[name].set) for name in "abcd"}
    try:
        assert pools["a"].take() == f"{prefix}-0"
        assert pools["b"].take() == f"{prefix}-1"
        _kill_holder(database_url, prefix, 0)
        # The replacement of a killed gateway takes its id, and so resumes its session.
        assert pools["c"].take() == f"{prefix}-0"
        # The first holder finds its connection gone, cannot take its id again, and stops.
        await eventually(lost["a"].is_set, timeout=CHECK_INTERVAL_S * 3)

        # A holder whose connection drops with nobody else waiting takes its own id back.
        ended = _kill_holder(database_url, prefix, 0)
        await eventually(lambda: _holder(database_url, prefix, 0) not in {None, ended}, timeout=CHECK_INTERVAL_S * 3)
        assert pools["d"].take() == f"{prefix}-2"
        assert not lost["c"].is_set()
    finally:
        for pool in pools.values():
            pool.release()
