"""The test harness: a real bot served over HTTP, a local Slack stand-in, signed requests.

Nothing of ours is mocked: each test starts the real ASGI app under uvicorn on a free
port, points its Web API client at the stand-in, and talks to it like Slack does."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, text

from bot.app import build_app
from bot.clock import FakeClock
from bot.devkit.requests import HttpResult, SlackRequest, SlackRequests
from bot.devkit.standin import (
    SlackStandIn,
    check_message_blocks,
    check_message_text,
    check_view,
)
from bot.nudges.dispatcher import drain
from bot.runtime import Runtime, build_runtime
from bot.server import SlackASGI, bind_socket, make_server
from bot.settings import load_settings

T = TypeVar("T")
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
DEALS = "C0DEALS"
OTHER = "C0RANDOM"
REP = "U0REP1"
REP2 = "U0REP2"
MANAGER = "U0MGR1"
ADMIN = "U0ADMIN"

# The Web API client must reach 127.0.0.1 directly (slack_sdk ignores NO_PROXY).
for _proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
    os.environ.pop(_proxy, None)


def _pg_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database per test: a SQLite file, or (with TEST_DATABASE_URL) a fresh
    schema on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.db'}"
        return
    base = _pg_url()
    if not base:
        pytest.skip("TEST_DATABASE_URL not set")
    base = "postgresql+psycopg://" + base.split("://", 1)[1]
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as s:
        s.add_user(
            REP,
            name="rita",
            real_name="Rita Rep",
            email="rita@acme.test",
            tz="America/New_York",
            locale="en-US",
        )
        s.add_user(
            REP2,
            name="sam",
            real_name="Sam Seller",
            email="sam@acme.test",
            tz="Europe/Madrid",
            locale="es-ES",
        )
        s.add_user(
            MANAGER,
            name="maya",
            real_name="Maya Manager",
            email="maya@acme.test",
            tz="America/New_York",
            locale="en-US",
        )
        s.add_user(ADMIN, name="ada", real_name="Ada Admin", email="ada@acme.test", is_admin=True)
        s.add_channel(DEALS, "deals")
        s.add_channel(OTHER, "random")
        # The stand-in's default Do Not Disturb hours (22:00-08:00) follow the wall clock,
        # not the test's FakeClock, so they would make a test's fake night quiet on some
        # days and not others. Off here; tests of Do Not Disturb set it themselves.
        for user in (REP, REP2, MANAGER, ADMIN):
            s.set_dnd(user, dnd_enabled=False)
        yield s
        assert not s.block_errors, f"invalid Block Kit sent: {s.block_errors}"
        # Slack validates what goes to a response_url too; the stand-in only records it.
        for call in s.calls_to("response_url"):
            problems = payload_problems(call.body)
            assert not problems, f"invalid Block Kit on a response_url: {problems}"


def payload_problems(body: Any) -> list[str]:
    """What Slack would reject in a message or view payload the bot answered with."""
    if not isinstance(body, dict):
        return []
    problems: list[str] = []
    if body.get("blocks"):
        problems += check_message_blocks(body["blocks"])
    if body.get("text"):
        problems += check_message_text(body["text"])
    if isinstance(body.get("view"), dict):
        problems += check_view(body["view"])
    return problems


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class RunningBot:
    rt: Runtime
    url: str
    slack: SlackRequests
    standin: SlackStandIn
    asgi: SlackASGI

    def post(self, request: SlackRequest) -> HttpResult:
        """POST like Slack does; what the bot answers in the ack (an ephemeral reply,
        a modal update) must be valid Block Kit too."""
        result = request.post(self.url + "/slack/events")
        if result.status == 200 and result.body.startswith("{"):
            problems = payload_problems(result.json())
            assert not problems, f"invalid Block Kit in the ack: {problems}"
        return result

    def send(self, request: SlackRequest) -> HttpResult:
        """POST and wait until the work it started after the ack has finished."""
        result = self.post(request)
        self.idle()
        return result

    def idle(self, timeout: float = 15.0) -> None:
        self.rt.background.wait_idle(timeout)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's own event loop (where the client lives)."""
        assert self.asgi.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.asgi.loop).result(timeout)

    def tick(self) -> int:
        """One dispatcher pass at the fake clock's now (tests drive time, not APScheduler)."""
        n = self.run(drain(self.rt))
        self.idle()
        return n

    def dms_to(self, user: str) -> list[Any]:
        channel = self.standin.dm_channel(user) if hasattr(self.standin, "dm_channel") else None
        return [
            c
            for c in self.standin.calls_to("chat.postMessage")
            if c.body.get("channel") in {user, channel}
        ]


def start_bot(
    standin: SlackStandIn,
    clock: FakeClock,
    database_url: str,
    *,
    extra_env: dict[str, str] | None = None,
) -> tuple[RunningBot, Any]:
    env = {
        "SLACK_BOT_TOKEN": standin.token if hasattr(standin, "token") else "xoxb-standin",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "DATABASE_URL": database_url,
        "DEALS_CHANNELS": DEALS,
        "LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    settings = load_settings(env, env_file=None)
    rt = build_runtime(settings, clock=clock)
    app = build_app(rt)
    asgi = SlackASGI(rt, app, run_dispatcher=False)
    sock = bind_socket()
    port = sock.getsockname()[1]
    server = make_server(asgi, host="127.0.0.1", port=port, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not asgi.started.wait(15):
        raise RuntimeError("the bot did not start")
    bot = RunningBot(
        rt=rt,
        url=f"http://127.0.0.1:{port}",
        slack=SlackRequests(SIGNING_SECRET, response_url_base=standin.base_url),
        standin=standin,
        asgi=asgi,
    )

    def stop() -> None:
        server.should_exit = True
        thread.join(15)
        sock.close()
        rt.engine.dispose()

    return bot, stop


@pytest.fixture
def bot(standin: SlackStandIn, clock: FakeClock, sqlite_url: str) -> Iterator[RunningBot]:
    running, stop = start_bot(standin, clock, sqlite_url)
    yield running
    stop()
