"""One active alarm pipeline among the API replicas: a session advisory lock on a connection of its own."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

import psycopg

from homecare.backend.metrics import BackendMetrics
from homecare.storage.connections import Conn
from homecare.storage.migrate import LOCK_NAMESPACE

log = logging.getLogger(__name__)

LEADER_LOCK: Final = 33  # beside the pipeline's per-source locks (31, 32) in LOCK_NAMESPACE
# The server ends a lock connection whose host vanished (no FIN, no RST) after about 3 + 3 × 1 s of silence; the
# leader, which asks every CHECK_S with ANSWER_WITHIN_S to answer, has stopped its work before that.
_KEEPALIVES: Final = "SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3"
_HELD_SQL: Final = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
    "AND objsubid = 2 AND pid = %s AND granted)"
)


class Role(enum.StrEnum):
    LEADER = "leader"
    STANDBY = "standby"


class LeadershipLost(Exception):
    """The pipeline's work found the leader lock no longer held by this process: stop before doing anything."""


@dataclass
class Leadership:
    """Runs ``work`` while this process holds the leader lock, and only then.

    Standbys try the lock every ``retry_s``; a leader's process that dies, or whose lock connection ends, frees
    it at once on the server, and a standby takes it at its next try. The leader asks its lock connection every
    ``check_s``: one that does not answer within ``answer_within_s`` (or errs) cancels the work at once, before
    the server gives the lock to another; ``fence`` lets the work check, inside its own transactions, that the
    lock is still held, so no transaction of an old leader starts after a new one took over."""

    dsn: str
    metrics: BackendMetrics
    retry_s: float = 1.0
    check_s: float = 1.0
    answer_within_s: float = 2.0
    role: Role = Role.STANDBY
    _holder_pid: int | None = None

    async def run(self, work: Callable[[asyncio.Event], Coroutine[Any, Any, None]], stop: asyncio.Event) -> None:
        """Until ``stop``: wait as standby, lead while the lock is held, and start over when it is lost."""
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as lock_conn:
                    await lock_conn.execute(_KEEPALIVES)
                    if await self._wait_for_lock(lock_conn, stop):
                        await self._lead(lock_conn, work, stop)
            except Exception as err:  # the lock connection lost or the work failed: free the lock, stand by
                log.warning("the alarm pipeline stopped leading (%s); standing by", err)
            finally:
                self._become(Role.STANDBY, None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry_s)

    async def fence(self, conn: Conn) -> None:
        """Raise LeadershipLost unless the leader lock is held by this process's lock connection (call it inside
        the transaction that is about to act)."""
        pid = self._holder_pid
        if pid is None:
            raise LeadershipLost("this process is not the pipeline's leader")
        row = await (await conn.execute(_HELD_SQL, (LOCK_NAMESPACE, LEADER_LOCK, pid))).fetchone()
        if row is None or not row[0]:
            raise LeadershipLost("the leader lock's connection has ended")

    async def _wait_for_lock(self, lock_conn: psycopg.AsyncConnection[Any], stop: asyncio.Event) -> bool:
        while not stop.is_set():
            cur = await lock_conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, LEADER_LOCK))
            row = await cur.fetchone()
            if row is not None and row[0]:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry_s)
        return False

    async def _lead(
        self,
        lock_conn: psycopg.AsyncConnection[Any],
        work: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
        stop: asyncio.Event,
    ) -> None:
        self._become(Role.LEADER, lock_conn.info.backend_pid)
        log.info("this process leads the alarm pipeline")
        work_stop = asyncio.Event()
        task = asyncio.create_task(work(work_stop), name="alarm-pipeline-work")
        try:
            while not stop.is_set() and not task.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.check_s)
                if not stop.is_set() and not task.done():
                    await asyncio.wait_for(lock_conn.execute("SELECT 1"), self.answer_within_s)
        except BaseException:
            self._become(Role.STANDBY, None)  # the fence refuses from now on
            task.cancel()
            await asyncio.wait({task}, timeout=self.answer_within_s)
            raise
        work_stop.set()  # stopping normally: the work finishes what it has in hand
        await task  # a work that ended by itself raises here (LeadershipLost when its fence refused)

    def _become(self, role: Role, holder_pid: int | None) -> None:
        self.role, self._holder_pid = role, holder_pid
        self.metrics.pipeline_leader.set(1 if role is Role.LEADER else 0)
