"""The dispatcher: each tick claims the nudges that are due and sends them.

APScheduler only ticks (an interval job in a memory job store); the schedule itself
is the nudge table, so a restart loses nothing and several replicas can share it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.delivery import LEASE, send_claimed
from bot.runtime import Runtime
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge

log = logging.getLogger(__name__)

BATCH = 50

# Planners that make sure the next recurring nudges exist (end-of-day reflections,
# weekly digests) run at the start of every tick, before due rows are claimed.
TickHook = Callable[[Runtime], Awaitable[None]]


def add_tick_hook(rt: Runtime, hook: TickHook) -> None:
    rt.tick_hooks.append(hook)


async def tick(rt: Runtime, *, batch: int = BATCH) -> int:
    """Claim and send what is due now; returns how many were sent or settled."""
    for hook in rt.tick_hooks:
        try:
            await hook(rt)
        except Exception:
            log.exception("planner %s failed; sending what is due anyway", hook)
    now = rt.clock.now()

    def claim() -> list[Nudge]:
        with unit_of_work(rt.engine, immediate=True) as session:
            retried, uncertain = nudges.recover_expired_leases(session=session, now=now)
            if retried or uncertain:
                log.warning(
                    "recovered expired leases: %d back to pending, %d uncertain",
                    retried,
                    uncertain,
                )
            return nudges.claim_due(session=session, now=now, limit=batch, lease=LEASE)

    claimed = await rt.db(claim)
    for nudge in claimed:
        await send_claimed(rt, nudge)
    return len(claimed)


async def drain(rt: Runtime, *, max_ticks: int = 1000) -> int:
    """Tick until nothing is due (tests and catch-up after downtime)."""
    total = 0
    for _ in range(max_ticks):
        n = await tick(rt)
        total += n
        if n == 0:
            break
    return total


class Dispatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.scheduler = AsyncIOScheduler(timezone="UTC")

    def start(self) -> None:
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.rt.settings.tick_seconds,
            id="nudge-dispatcher",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            # First tick at once: catch up on what fell due while the bot was down.
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()

    async def _tick(self) -> None:
        try:
            await drain(self.rt, max_ticks=20)
        except Exception:
            log.exception("dispatcher tick failed; the next tick will try again")

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
