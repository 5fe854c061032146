"""The dispatcher's database work runs on its own thread, apart from the listeners'.

A busy tick (claims, settles, planners, a renderer's reads) must not make a person's
`/loop` wait: the running dispatcher's drain sends its blocking work to one thread of its
own, while the listeners keep asyncio's shared pool. Driven through the real
`Dispatcher` drain against the stand-in; the kind and the planner are the test's own,
declared the way rituals declare theirs."""

from __future__ import annotations

import asyncio
import logging
import threading

from bot.nudges.delivery import Message, register_kind
from bot.nudges.dispatcher import Dispatcher, add_tick_hook
from bot.nudges.registry import KindPolicy
from bot.runtime import Runtime
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge, Person
from tests.conftest import REP, RunningBot

TEAM = "T0001"


def _thread_name() -> str:
    return threading.current_thread().name


def test_drain_runs_database_work_on_the_dispatcher_thread(bot: RunningBot) -> None:
    seen: dict[str, list[str]] = {"planner": [], "render": []}

    async def planner(rt: Runtime) -> None:
        seen["planner"].append(await rt.db(_thread_name))

    async def render(rt: Runtime, nudge: Nudge, person: Person) -> Message:
        seen["render"].append(await rt.db(_thread_name))
        return Message(text=f"hello {person.slack_id}")

    register_kind(bot.rt, "threaded", render, policy=KindPolicy(respects_quiet=False))
    add_tick_hook(bot.rt, planner)
    now = bot.rt.clock.now()
    with unit_of_work(bot.rt.engine) as session:
        nudges.schedule(
            session=session,
            team_id=TEAM,
            user_slack_id=REP,
            kind="threaded",
            due_at=now,
            idempotency_key="threaded:1",
            now=now,
        )
    dispatcher = Dispatcher(bot.rt)
    try:
        assert bot.run(dispatcher._drain()) == 1
        bot.idle()
        # What a listener runs meanwhile still goes to the shared pool.
        listener_thread = bot.run(bot.rt.db(_thread_name))
    finally:
        dispatcher.executor.shutdown(wait=True)

    assert [c.body["text"] for c in bot.dms_to(REP)] == [f"hello {REP}"]
    assert seen["planner"] and seen["render"] == [seen["planner"][0]]
    assert seen["planner"][0].startswith("dispatcher-db")
    assert not listener_thread.startswith("dispatcher-db")


def test_a_tick_cut_short_by_shutdown_is_not_logged_as_an_error(bot: RunningBot) -> None:
    """APScheduler cancels a tick it had just started when the dispatcher stops (Ctrl-C,
    SIGTERM) and logs the CancelledError as a failed job, traceback and all. Once the
    dispatcher runs, its executor's logger drops exactly those; real failures still show."""

    async def started() -> None:
        dispatcher = Dispatcher(bot.rt)
        dispatcher.start()
        dispatcher.shutdown()
        await dispatcher.stopped()

    bot.run(started())
    executors = logging.getLogger("apscheduler.executors.default")

    def record(error: BaseException) -> logging.LogRecord:
        return executors.makeRecord(
            executors.name, logging.ERROR, __file__, 1, "Job %r raised an exception",
            ("tick",), (type(error), error, None),
        )  # fmt: skip

    assert executors.filter(record(asyncio.CancelledError())) is False
    assert executors.filter(record(ValueError("a real failure"))) is True
