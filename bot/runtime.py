"""What every listener needs, built once at start-up and handed to each `register()`.

Listeners ack inside Slack's 3 seconds and hand slow work to `Runtime.spawn`, which
keeps track of it: a graceful shutdown waits for it, and tests wait for it instead of
sleeping.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.clock import Clock, SystemClock
from bot.deals.parser import use_deal_words
from bot.messages.catalog import ScriptCatalog
from bot.metrics import Metrics
from bot.nudges.registry import Registry
from bot.settings import Settings
from bot.slack.teams import TeamClient, TeamTokens
from storage import nudge_stats, schema
from storage.db import make_engine, unit_of_work
from storage.installations import InstallationStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# Where `Runtime.db` runs blocking work for the current task: None is asyncio's shared
# pool. The dispatcher sets its own single thread for its drain (and all it awaits), so
# a listener's query never queues behind a tick's, and however busy the dispatcher is,
# only one of its threads competes with the event loop for the GIL.
db_executor: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "db_executor", default=None
)


# How to tell the person behind the request being handled that work after its ack
# failed: set per request by the listeners' middleware (handlers/common.py) and copied
# into every task spawned while handling it, so `spawn` tells them unless told otherwise.
OnError = Callable[[], Coroutine[Any, Any, Any]]
tell_on_failure: contextvars.ContextVar[OnError | None] = contextvars.ContextVar(
    "tell_on_failure", default=None
)


class Background:
    """Tracks work that runs after the ack."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending = 0
        self._cond = threading.Condition()

    def begin(self) -> None:
        with self._cond:
            self._pending += 1

    def end(self) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str,
        on_error: Callable[[], Coroutine[Any, Any, Any]] | None = None,
    ) -> asyncio.Task[Any]:
        """Run work after the ack. `on_error` tells the person who is waiting for an
        answer when it fails (the ack has gone, so Bolt's error handler never sees it);
        by default, the person behind the current request is told (`tell_on_failure`)."""
        if on_error is None:
            on_error = tell_on_failure.get()
        self.begin()
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, on_error))
        return task

    def _done(
        self, task: asyncio.Task[Any], on_error: Callable[[], Coroutine[Any, Any, Any]] | None
    ) -> None:
        self._tasks.discard(task)
        try:
            if not task.cancelled() and task.exception() is not None:
                log.error("background work %r failed", task.get_name(), exc_info=task.exception())
                if on_error is not None:
                    self.spawn(on_error(), name=f"{task.get_name()}:tell-user")
        finally:
            self.end()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block (from another thread) until no work is in flight."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise TimeoutError(f"{self._pending} background task(s) still running")

    async def drain(self, timeout: float = 10.0) -> None:
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


def make_client(settings: Settings, metrics: Metrics | None = None) -> AsyncWebClient:
    """Bolt has no base-URL setting, so the client is built here and handed to the App;
    every Web API call then honours SLACK_API_URL.

    Only 429s are retried inside the client (Slack says the call was not processed),
    for listeners and for a DM sent right away. The dispatcher sends with a copy that
    does not retry them (bot/nudges/dispatcher.py): it paces the workspace and puts the nudge
    back until Retry-After instead of holding a claimed row while it waits.
    Connection errors are not retried: a lost response to chat.postMessage may still
    have posted, and the delivery code decides what that means."""
    # Section-aware: an answer to a click on a bundled DM replaces that section only.
    # Team-aware: in OAuth mode each call uses its workspace's token (bot/slack/teams.py).
    client = TeamClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            *([metrics.observer()] if metrics is not None else []),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )
    return client


async def share_http_session(client: AsyncWebClient) -> None:
    """One aiohttp session, so one pool of kept-alive connections, for every Web API call
    made on this event loop: without it slack_sdk's async client opens a session and a
    new connection (with its TLS handshake) for each call. Bolt's per-request clients
    take the app client's session, so listeners share it too. Called on the loop the
    server (or the dispatcher process) runs on; `close_http_session` at shutdown."""
    if client.session is None or client.session.closed:
        client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))


async def close_http_session(client: AsyncWebClient) -> None:
    session, client.session = client.session, None
    if session is not None and not session.closed:
        await session.close()


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    catalog: ScriptCatalog
    client: AsyncWebClient
    clock: Clock = field(default_factory=SystemClock)
    background: Background = field(default_factory=Background)
    team_id: str | None = None
    bot_user_id: str | None = None
    channel_names: dict[str, str] = field(default_factory=dict)
    # user id -> Slack locale, so an ack never waits on the database or Slack for it.
    locales: dict[str, str] = field(default_factory=dict)
    # One users.info lookup per person at a time: a burst of first commands from a new
    # user must not race to insert (or, on SQLite, to upgrade a read lock) the same row.
    person_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    # user id -> the users.info lookup in flight: a listener that may wait only a moment
    # (bot.slack.people.person_within) leaves it running, and the next caller joins it.
    person_lookups: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    # The nudge kinds, planners and quiet checks the rituals declare (bot/app.py collects
    # them): per runtime, not global, so two apps in one process never share their state.
    registry: Registry = field(default_factory=Registry)
    # (team id, user id) -> DM channel: conversations.open is Tier 3, so a burst of
    # nudges opens each DM once, not once per message.
    dm_channels: dict[tuple[str, str], str] = field(default_factory=dict)
    # bot.nudges.dispatcher's pacing and sending client, made on its first tick.
    dispatch_state: Any = None
    # handlers.deal_intake's queue that takes machine-sent deals in batches, made on the
    # first CRM delivery.
    intake_queue: Any = None
    # (team id, e-mail) -> (Slack user id, when looked up): users.lookupByEmail is Tier 3,
    # and a CRM names the same few owners over and over. Per team: one e-mail is a
    # different user (or none) in each workspace.
    email_ids: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    # (team id, e-mail) -> the users.lookupByEmail in flight, which later askers join.
    email_lookups: dict[tuple[str, str], asyncio.Future[str | None]] = field(default_factory=dict)
    # One SQLite write transaction at a time in this process (see tx_blocking).
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    # `POST /crm/webhook[/T…]`: the composition root plugs in the handler (bot/server.py
    # imports no handlers); (payload, the workspace the URL names or None) -> (HTTP
    # status, JSON answer).
    crm_webhook: (
        Callable[[dict[str, Any], str | None], Coroutine[Any, Any, tuple[int, dict[str, Any]]]]
        | None
    ) = None
    # Counters for GET /metrics; the client built by build_runtime reports to them.
    metrics: Metrics = field(default_factory=Metrics)
    # team id -> (until when, in time.monotonic(), its effective settings): what
    # bot/workspace_settings.py read last, so a channel message's ack reads no database.
    workspace_settings: dict[str, tuple[float, Any]] = field(default_factory=dict)
    # OAuth mode: each installed workspace's bot token (None with SLACK_BOT_TOKEN).
    tokens: TeamTokens | None = None
    # Tells this process's dispatcher (in-process, or the child `run` started) that a
    # nudge fell due now, so it need not wait for its next tick. The server plugs it in
    # (bot/server.py); without a dispatcher here (tests, the demo) it does nothing.
    dispatcher_wake: Callable[[], None] | None = None

    def wake_dispatcher(self) -> None:
        if self.dispatcher_wake is not None:
            self.dispatcher_wake()

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str,
        on_error: Callable[[], Coroutine[Any, Any, Any]] | None = None,
    ) -> asyncio.Task[Any]:
        return self.background.spawn(coro, name=name, on_error=on_error)

    async def db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking database work off the event loop, so one slow query never
        delays another request's ack."""
        executor = db_executor.get()
        if executor is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        # As asyncio.to_thread does: the function sees the caller's context variables.
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(executor, call)

    async def tx(self, fn: Callable[..., T], /, *, write: bool = True, **kwargs: Any) -> T:
        """One storage function in a unit of work of its own, off the event loop: what a
        listener needs from the database is one call (`await rt.tx(deals.get_deal,
        deal_id=...)`), and the session never leaks into handlers. `write=False` for pure
        reads, which then never wait for SQLite's write lock."""
        return await self.db(self.tx_blocking, fn, write=write, **kwargs)

    def tx_blocking(self, fn: Callable[..., T], /, *, write: bool = True, **kwargs: Any) -> T:
        """`tx` for code already off the event loop (the dispatcher's own thread)."""
        if write and self.engine.dialect.name == "sqlite":
            # SQLite runs one writer at a time anyway. Threads of this process that found
            # the lock taken would sleep in SQLite's busy handler (1, 2, 5 … 100 ms, not
            # woken when it frees); queueing here instead hands the lock straight on.
            with self.write_lock:
                with unit_of_work(self.engine, immediate=write) as session:
                    return fn(session=session, **kwargs)
        with unit_of_work(self.engine, immediate=write) as session:
            return fn(session=session, **kwargs)


# Where the listeners' middleware (handlers/common.py) puts the runtime in Bolt's context.
# Here, not in handlers, so every handlers module (the /loop router too) can read it.
RT = "feedback_loop_runtime"


def rt_of(context: Mapping[str, Any]) -> Runtime:
    """The runtime from a listener's Bolt context (or a test's own dict)."""
    rt = context.get(RT)
    if not isinstance(rt, Runtime):
        raise RuntimeError("the runtime middleware (handlers.common.register) is not installed")
    return rt


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    catalog: ScriptCatalog | None = None,
    engine: Engine | None = None,
) -> Runtime:
    engine = engine or make_engine(settings.database_url)
    schema.prepare(engine, auto_migrate=settings.auto_migrate)
    use_deal_words(settings.deal_words_dir)
    metrics = Metrics()
    rt = Runtime(
        settings=settings,
        engine=engine,
        catalog=catalog or ScriptCatalog.load(settings.scripts_dir),
        client=make_client(settings, metrics),
        clock=clock or SystemClock(),
        metrics=metrics,
    )
    metrics.nudge_reader = functools.partial(_read_nudges, rt)
    if settings.oauth:
        use_installations(rt)
    return rt


async def installed_teams(rt: Runtime) -> set[str] | None:
    """OAuth mode: the workspaces that have the app installed now; None with one token
    (every workspace we know is ours to serve)."""
    if rt.tokens is None:
        return None
    return set(await rt.db(rt.tokens.store.installed_teams))


def use_installations(rt: Runtime) -> None:
    """OAuth mode: the client's calls take their workspace's token from the installations."""
    settings = rt.settings
    assert settings.slack_client_id and settings.slack_client_secret
    rt.tokens = TeamTokens(
        store=InstallationStore(settings.slack_client_id, rt.engine),
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        api=AsyncWebClient(base_url=settings.slack_api_url, timeout=15),
        clock=rt.clock,
        run_blocking=rt.db,
    )
    if isinstance(rt.client, TeamClient):
        rt.client.tokens = rt.tokens


def _read_nudges(rt: Runtime) -> tuple[dict[tuple[str, str], int], datetime | None, datetime]:
    now = rt.clock.now()
    with unit_of_work(rt.engine, immediate=False) as session:
        counts = nudge_stats.counts_by_kind_and_state(session=session)
        oldest = nudge_stats.oldest_due_pending(session=session, now=now)
    return counts, oldest, now
