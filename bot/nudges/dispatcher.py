"""The dispatcher: claims the nudges that are due and sends them, paced per workspace.

APScheduler only ticks (an interval job in a memory job store: APScheduler 3.x must
not share a job store between processes); the schedule itself is the nudge table, so
a restart loses nothing and several replicas can share it. A tick that finds work
starts a drain, which keeps sending until nothing is due, at the workspace's pace.

Claims are small: only as many rows as the workspace may post right now (its pacing
tokens), so no row sits claimed while the dispatcher waits for its turn, and a
replica that dies holds at most a handful of leases.

`feedback-loop dispatch` runs only this loop in a process (no HTTP server): replicas
that do not serve Slack's requests, the child that `feedback-loop run` starts
(bot/nudges/process.py), and the crash tests. SIGTERM finishes the send in flight,
hands back what was claimed and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import SlackCallObserver
from bot.nudges import budget
from bot.nudges.delivery import (
    LEASE,
    reconcile_due,
    release_unsent,
    send_claimed,
    send_group,
    skip_claimed,
)
from bot.nudges.pacing import Pacer
from bot.nudges.registry import Planner
from bot.runtime import Runtime, close_http_session, db_executor, share_http_session
from bot.slack.identity import identify
from bot.slack.teams import acting_for, copy_for_sending
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge

log = logging.getLogger(__name__)

BATCH = 50
STDIN = 0


def add_tick_hook(rt: Runtime, hook: Planner) -> None:
    """A planner added by hand (tests); rituals declare theirs (bot/nudges/registry.py)."""
    rt.registry.planners.append(hook)


@dataclass
class DispatchState:
    """Per runtime: the pacing buckets, the sending client and the stop flag."""

    pacer: Pacer
    client: AsyncWebClient
    lease: timedelta = LEASE
    stopping: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    hooks_ran_at: datetime | None = None
    # Figures for logs and benchmarks.
    sent: int = 0
    settled: int = 0
    paced_seconds: float = 0.0  # waiting for the workspace's next token
    rate_limited_seconds: float = 0.0  # waiting out Slack's Retry-After
    # Nudges due while no drain ran: from when they fell due (or the last drain ended)
    # until a tick picked them up. Bounded by TICK_SECONDS when all is well.
    idle_due_seconds: float = 0.0
    drain_ended_at: datetime | None = None


def sending_client(client: AsyncWebClient) -> AsyncWebClient:
    """The runtime's client without its 429 retry: the dispatcher must not sit on a
    claimed row for Retry-After seconds; it puts the row back and paces instead."""
    # Only the metrics observer, which never retries. Still team-aware in OAuth mode:
    # each send uses its nudge's workspace's token (refreshed first if it expires soon).
    return copy_for_sending(
        client, [h for h in client.retry_handlers if isinstance(h, SlackCallObserver)]
    )


def dispatch_state(rt: Runtime) -> DispatchState:
    state = rt.dispatch_state
    if state is None:
        state = DispatchState(
            pacer=Pacer(rt.settings.send_rate_per_second), client=sending_client(rt.client)
        )
        rt.dispatch_state = state
    assert isinstance(state, DispatchState)
    return state


async def _run_hooks(rt: Runtime, state: DispatchState, *, force: bool) -> None:
    """The planners and the housekeeping, at most once per tick interval (`force`: at
    the start of every drain)."""
    now = rt.clock.now()
    every = timedelta(seconds=rt.settings.tick_seconds)
    if not force and state.hooks_ran_at is not None and now - state.hooks_ran_at < every:
        return
    state.hooks_ran_at = now
    for hook in rt.registry.planners:
        try:
            await hook(rt)
        except Exception:
            log.exception("planner %s failed; sending what is due anyway", hook)
    # After the planners, so a slot they just added that is already due collapses too.
    await rt.db(_housekeep, rt, rt.clock.now())
    # Before the claim: an uncertain nudge found missing from its DM is pending again
    # and goes out in this same pass.
    try:
        await reconcile_due(rt, client=state.client, lease=state.lease)
    except Exception:
        log.exception("checking uncertain nudges against their DMs failed; next tick retries")


def _housekeep(rt: Runtime, now: datetime) -> None:
    """Leases that ran out go back (or become uncertain) and missed recurring slots
    collapse. Once per tick interval, not before every claim: a lease lasts minutes,
    and a paced drain claims one or two rows at a time, so doing this per claim only
    burned the CPU the event loop needs for acks."""
    recurring = [name for name, kind in rt.registry.kinds.items() if kind.policy.collapse_missed]
    with unit_of_work(rt.engine, immediate=True) as session:
        retried, uncertain = nudges.recover_expired_leases(session=session, now=now)
        if retried or uncertain:
            log.warning(
                "recovered expired leases: %d back to pending, %d uncertain", retried, uncertain
            )
        for kind in recurring:
            collapsed = nudges.collapse_all_missed(session=session, kind=kind, now=now)
            if collapsed:
                log.info("%d missed %s nudge(s) collapsed into the newest", collapsed, kind)


def _claim(rt: Runtime, state: DispatchState, now: datetime, batch: int) -> list[Nudge]:
    pacer = state.pacer
    blocked = pacer.blocked(now)
    free = [pacer.available(team, now) for team in pacer.buckets if team not in blocked]
    limit = min(batch, max(free) if free else math.ceil(pacer.burst))
    with unit_of_work(rt.engine, immediate=True) as session:
        return nudges.claim_due(
            session=session, now=now, limit=limit, lease=state.lease, skip_teams=blocked
        )


def _by_person(rt: Runtime, claimed: list[Nudge]) -> list[list[Nudge]]:
    """Under the noise budget, one person's due nudges go out as one DM: group them
    (in the order of their first one). Others, and exempt kinds, go one by one."""
    groups: list[list[Nudge]] = []
    by_person: dict[tuple[str, str], list[Nudge]] = {}
    for nudge in claimed:
        if not budget.applies(rt, nudge):
            groups.append([nudge])
            continue
        key = (nudge.team_id, nudge.user_slack_id)
        if key not in by_person:
            by_person[key] = []
            groups.append(by_person[key])
        by_person[key].append(nudge)
    return groups


async def tick(rt: Runtime, *, batch: int = BATCH, run_hooks: bool = True) -> int:
    """One pass: claim what is due and may be posted now, send it. Returns how many
    nudges were claimed (sent or otherwise settled, or handed back)."""
    state = dispatch_state(rt)
    if run_hooks:
        await _run_hooks(rt, state, force=False)
    now = rt.clock.now()
    claimed = await rt.db(_claim, rt, state, now, batch)
    if not claimed:
        return 0
    # Tokens are taken per nudge: with several workspaces in one batch, those beyond
    # their workspace's share go back untouched.
    to_send: list[Nudge] = []
    paced: list[Nudge] = []
    for nudge in claimed:
        (to_send if state.pacer.take(nudge.team_id, now) else paced).append(nudge)
    await release_unsent(rt, paced, "waiting for its turn (paced)")

    def on_rate_limited(team_id: str, retry_after: float) -> None:
        state.pacer.rate_limited(team_id, rt.clock.now(), retry_after)
        log.warning("Slack rate-limited workspace %s: pausing %.1fs", team_id, retry_after)

    groups = _by_person(rt, to_send)
    for i, group in enumerate(groups):
        nudge = group[0]
        if state.stopping:
            unsent = [n for g in groups[i:] for n in g]
            await release_unsent(rt, unsent, "dispatcher stopped before sending")
            break
        if state.pacer.paused(nudge.team_id, rt.clock.now()):
            # A 429 earlier in this batch paused the workspace: the rest wait their turn.
            await release_unsent(rt, group, "waiting for its turn (rate-limited)")
            continue
        try:
            with acting_for(nudge.team_id):
                result = await _send(rt, state, group, on_rate_limited)
        except Exception:
            # The database went away while settling, most likely: what was not tried
            # yet goes back now if it can; the leases cover the rest.
            with contextlib.suppress(Exception):
                await release_unsent(
                    rt, [n for g in groups[i + 1 :] for n in g], "dispatcher tick failed"
                )
            raise
        state.settled += len(group)
        if result == nudges.SENT:
            state.sent += 1
            state.pacer.sent(nudge.team_id, rt.clock.now())
    return len(claimed)


async def _send(
    rt: Runtime,
    state: DispatchState,
    group: list[Nudge],
    on_rate_limited: Callable[[str, float], None],
) -> str:
    nudge = group[0]
    if rt.tokens is not None and await rt.tokens.installation(nudge.team_id) is None:
        # Planned during the grace period after an uninstall: no token to send it with.
        return await skip_claimed(rt, group, "workspace uninstalled the app")
    if budget.applies(rt, nudge):
        return await send_group(
            rt, group, client=state.client, lease=state.lease, on_rate_limited=on_rate_limited
        )
    return await send_claimed(
        rt, nudge, client=state.client, lease=state.lease, on_rate_limited=on_rate_limited
    )


async def _sleep(rt: Runtime, state: DispatchState, seconds: float, *, slack_said: bool) -> None:
    """Wait for pacing. With a clock that tests move by hand (it has `advance`), waiting
    moves it: the tests see the real schedule of sends without sleeping."""
    if slack_said:
        state.rate_limited_seconds += seconds
    else:
        state.paced_seconds += seconds
    advance = getattr(rt.clock, "advance", None)
    if callable(advance):
        advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)
        return
    state.wake.clear()
    try:
        await asyncio.wait_for(state.wake.wait(), timeout=seconds)
    except TimeoutError:
        pass


def _oldest_due(rt: Runtime) -> datetime | None:
    # Reads: they take no write lock, so the server's writes (a deal taken in) never
    # wait behind them.
    with unit_of_work(rt.engine, immediate=False) as session:
        return nudges.next_due_at(session=session)


def _anything_due(rt: Runtime, now: datetime) -> bool:
    with unit_of_work(rt.engine, immediate=False) as session:
        return nudges.anything_due(session=session, now=now)


async def drain(
    rt: Runtime, *, max_ticks: int = 100_000, wait: bool = True, hooks: bool = True
) -> int:
    """Tick until nothing is due; with `wait`, also wait for pacing tokens while work
    is due. Returns how many nudges were claimed. The catch-up after downtime, the
    body of every scheduled tick, and the tests' `bot.tick()`. `hooks=False` (a drain
    a wake-up started): the planners run no more often than once per tick interval,
    however many nudges fall due in between."""
    state = dispatch_state(rt)
    await _run_hooks(rt, state, force=hooks)
    total = 0
    empty_claims = 0
    for _ in range(max_ticks):
        if state.stopping:
            break
        n = await tick(rt)
        total += n
        if n:
            empty_claims = 0
            continue
        now = rt.clock.now()
        if not wait or not await rt.db(_anything_due, rt, now):
            break
        blocked = state.pacer.blocked(now)
        if not blocked:
            # Work is due and may be sent, yet nothing was claimed: a token came back
            # between the claim and now, or (PostgreSQL) other replicas hold the rows'
            # locks for a moment. Look again shortly; a few misses in a row end the
            # drain and the next tick takes over.
            empty_claims += 1
            if empty_claims > 3:
                break
            await _sleep(rt, state, 0.005 * empty_claims, slack_said=False)
            continue
        empty_claims = 0
        ready = min(blocked.values())
        slack_said = all(state.pacer.paused(team, now) for team in blocked)
        # Capped at a tick: while one workspace waits out a long Retry-After, work that
        # falls due for the others (and the planners) must not wait with it.
        wait_for = min(max((ready - now).total_seconds(), 0.001), rt.settings.tick_seconds)
        await _sleep(rt, state, wait_for, slack_said=slack_said)
    return total


class _CancelledTickFilter(logging.Filter):
    """A tick APScheduler had just started when we shut it down is cancelled by that
    shutdown; APScheduler logs the CancelledError with a traceback, as if it failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


class Dispatcher:
    """APScheduler's interval job; each tick starts a drain unless one is running."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._draining: asyncio.Task[int] | None = None
        self.started_at = rt.clock.now()
        # The drains' database work (claims, settles, planners, renderers' reads) runs
        # here, one query at a time, apart from the listeners' (bot.runtime.db_executor).
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatcher-db")
        # A wake-up that came while a drain ran: that drain may have looked already, so
        # it goes round once more before it ends.
        self._woken = False

    def start(self) -> None:
        # APScheduler logs every run of every job at INFO: one line per tick is noise.
        executors = logging.getLogger("apscheduler.executors.default")
        executors.setLevel(logging.WARNING)
        if not any(isinstance(f, _CancelledTickFilter) for f in executors.filters):
            executors.addFilter(_CancelledTickFilter())
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.rt.settings.tick_seconds,
            id="nudge-dispatcher",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            # First tick at once: catch up on what fell due while the bot was down.
            # (APScheduler's own wall clock, not business time.)
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()

    async def _tick(self) -> None:
        # A drain in progress picks up whatever falls due meanwhile; the tick returns
        # at once so APScheduler never sees an overlapping run.
        if self._draining is not None and not self._draining.done():
            return
        if dispatch_state(self.rt).stopping:
            return
        self._draining = self.rt.spawn(self._drain(), name="dispatcher-drain")

    def wake(self) -> None:
        """A nudge fell due just now (a deal came in): drain now rather than at the next
        tick. Cheap and safe to call often: a drain already running goes round once
        more; otherwise one starts. Called on the event loop."""
        state = dispatch_state(self.rt)
        if state.stopping or not self.scheduler.running:
            return
        if self._draining is not None and not self._draining.done():
            self._woken = True
            return
        self._draining = self.rt.spawn(self._drain(woken=True), name="dispatcher-drain")

    async def _drain(self, *, woken: bool = False) -> int:
        # Set inside the drain's own task: its context is a copy, so the listeners'
        # tasks keep the shared pool.
        db_executor.set(self.executor)
        state = dispatch_state(self.rt)
        try:
            oldest = await self.rt.db(_oldest_due, self.rt)
            now = self.rt.clock.now()
            if oldest is not None and oldest <= now:
                since = max(oldest, state.drain_ended_at or self.started_at)
                state.idle_due_seconds += max(0.0, (now - since).total_seconds())
            total = await drain(self.rt, hooks=not woken)
            while self._woken and not state.stopping:
                self._woken = False
                total += await drain(self.rt, hooks=False)
            return total
        except Exception:
            log.exception("dispatcher tick failed; the next tick will try again")
            return 0
        finally:
            state.drain_ended_at = self.rt.clock.now()

    def shutdown(self) -> None:
        """Stop ticking; a drain in progress finishes its current send and hands back
        the rest (it is tracked by rt.background, which a graceful shutdown awaits)."""
        state = dispatch_state(self.rt)
        state.stopping = True
        state.wake.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def stopped(self, timeout: float = 60.0) -> None:
        if self._draining is not None:
            await asyncio.wait([self._draining], timeout=timeout)
        # A drain that outlived the timeout still needs its thread for handing rows back.
        if self._draining is None or self._draining.done():
            self.executor.shutdown(wait=False)


RuntimeSetup = Callable[[Runtime], None]


def _stop_when_stdin_closes(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, wake: Callable[[], None]
) -> None:
    """A supervised child's standard input is a pipe from the server that started it;
    it closes when the server exits, however it died, so the child never outlives it.
    Anything the server writes on it means "a nudge is due now" (DispatcherProcess.wake)."""

    def readable() -> None:
        try:
            data = os.read(STDIN, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(STDIN)
            log.warning("the server that started this dispatcher is gone: stopping")
            stop.set()
            return
        wake()

    try:
        loop.add_reader(STDIN, readable)
    except (OSError, ValueError):
        # Not a pipe (a file, /dev/null): nobody to watch; SIGTERM still stops us.
        log.warning("standard input is not a pipe: not watching for the server's exit")


async def _serve(rt: Runtime, setup: RuntimeSetup | None, supervised: bool) -> int:
    # The caller filled rt.registry (the kinds, planners and quiet checks the rituals
    # declare): no Bolt app is built here.
    if setup is not None:
        setup(rt)
    await share_http_session(rt.client)
    await identify(rt)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Supervised, Ctrl-C reaches us and the server alike; the server passes it on as
    # SIGTERM once it has stopped taking requests.
    for sig in (signal.SIGTERM,) if supervised else (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dispatcher = Dispatcher(rt)
    dispatcher.start()
    if supervised:
        _stop_when_stdin_closes(loop, stop, dispatcher.wake)
    log.info(
        "dispatcher running: tick every %gs, %g message(s)/s per workspace",
        rt.settings.tick_seconds,
        rt.settings.send_rate_per_second,
    )
    await stop.wait()
    log.info("stopping: finishing the send in flight, handing back the rest")
    dispatcher.shutdown()
    await dispatcher.stopped()
    await rt.background.drain(timeout=30)
    await close_http_session(rt.client)
    state = dispatch_state(rt)
    log.info(
        "dispatcher stopped after sending %d nudge(s); waited %.1fs for pacing, %.1fs on "
        "429s; work sat due with no drain running for %.2fs",
        state.sent,
        state.paced_seconds,
        state.rate_limited_seconds,
        state.idle_due_seconds,
    )
    return 0


def run_dispatch_process(
    rt: Runtime,
    *,
    lease: timedelta | None = None,
    setup: RuntimeSetup | None = None,
    supervised: bool = False,
) -> int:
    """The body of `feedback-loop dispatch`: the dispatcher alone, until SIGTERM.
    `supervised`: started by `feedback-loop run`, so it also stops when the server's
    pipe on its standard input closes, and leaves Ctrl-C to the server."""
    if lease is not None:
        dispatch_state(rt).lease = lease
    return asyncio.run(_serve(rt, setup, supervised))
