"""The test harness: a real bot served over HTTP, a local Slack stand-in, signed requests.

Nothing of ours is mocked: the real ASGI app runs under uvicorn on a free port, its Web
API client points at the stand-in, and tests talk to it like Slack does.

Starting and stopping servers cost more than most tests, so the run starts one uvicorn
server (with its event loop) and one stand-in server, and every test mounts its own bot
on them: a fresh database, Runtime, Bolt app and FakeClock, and a stand-in with a clean
workspace. Nothing but the listening sockets and the loop outlives a test."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import pytest
from sqlalchemy import create_engine, text

from bot.app import build_app
from bot.clock import FakeClock
from bot.devkit.requests import HttpResult, SlackRequest, SlackRequests
from bot.devkit.socket_mode import SocketModeStandIn, envelope_for
from bot.devkit.standin import (
    SlackStandIn,
    check_message_blocks,
    check_message_text,
    check_view,
)
from bot.messages.catalog import ScriptCatalog
from bot.nudges.dispatcher import drain
from bot.runtime import Runtime, build_runtime
from bot.server import SlackASGI, bind_socket, make_server
from bot.settings import Settings, load_settings
from bot.socket_mode import SocketModeRunner
from storage.db import create_db_and_tables, make_engine

log = logging.getLogger(__name__)
T = TypeVar("T")
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
DEALS = "C0DEALS"
OTHER = "C0RANDOM"
REP = "U0REP1"
REP2 = "U0REP2"
MANAGER = "U0MGR1"
ADMIN = "U0ADMIN"

# How long the uvicorn server and the stand-in's server live. Every test still gets its
# own bot and stand-in state on them (BotServer, StandInServer), so one pair serves the
# whole run; "module" would restart them per test module for about 0.2 s each.
SERVER_SCOPE: Literal["session", "module"] = "session"

# The Web API client must reach 127.0.0.1 directly (slack_sdk ignores NO_PROXY).
for _proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
    os.environ.pop(_proxy, None)


def _pg_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


def _ours(handler: logging.Handler) -> bool:
    """Not one of pytest's capture handlers (they come and go with each test phase)."""
    return not type(handler).__module__.startswith("_pytest")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs the CLI in-process configures the root logger (level INFO, a
    stderr handler); without this every later test would log at INFO, through that
    handler, and see the earlier test's logging setup."""
    root = logging.getLogger()
    level, handlers = root.level, [h for h in root.handlers if _ours(h)]
    yield
    root.setLevel(level)
    for handler in [h for h in root.handlers if _ours(h) and h not in handlers]:
        root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)


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


class StandInServer:
    """The stand-in's HTTP server, started once; each test gets a fresh SlackStandIn
    (users, channels, recorded calls, faults, hooks: all new) answering on it."""

    def __init__(self) -> None:
        self.current = SlackStandIn().start()

    def fresh(self) -> SlackStandIn:
        previous = self.current
        if not previous.running:  # a test stopped it: start over on a new port
            self.current = SlackStandIn().start()
        else:
            self.current = SlackStandIn().take_over(previous)
        return self.current

    def stop(self) -> None:
        self.current.stop()


@pytest.fixture(scope=SERVER_SCOPE)
def standin_server() -> Iterator[StandInServer]:
    server = StandInServer()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server: StandInServer) -> Iterator[SlackStandIn]:
    s = standin_server.fresh()
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
    # Set when the bot runs in Socket Mode: requests then go over its WebSocket.
    socket: SocketModeStandIn | None = None

    def post(self, request: SlackRequest) -> HttpResult:
        """POST like Slack does (or, in Socket Mode, send the same thing as an envelope);
        what the bot answers in the ack (an ephemeral reply, a modal update) must be
        valid Block Kit too."""
        if self.socket is not None:
            result = self._over_socket(request)
        else:
            result = request.post(self.url + "/slack/events")
        if result.status == 200 and result.body.startswith("{"):
            problems = payload_problems(result.json())
            assert not problems, f"invalid Block Kit in the ack: {problems}"
        return result

    def _over_socket(self, request: SlackRequest) -> HttpResult:
        """The envelope's ack as an HTTP result: 200 with the ack's payload as the body,
        or 504 when the app never acked (Bolt sends no ack when no listener matched)."""
        assert self.socket is not None
        content_type = {k.lower(): v for k, v in request.headers.items()}["content-type"]
        kind, payload = envelope_for(request.body, content_type)
        ack = self.socket.deliver(kind, payload)
        if ack.payload is None:
            return HttpResult(504, {}, "")
        body = json.dumps(ack.payload) if ack.payload else ""
        return HttpResult(200, {"content-type": "application/json"}, body)

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


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BotServer:
    """One uvicorn server and its event loop, serving whichever bot is mounted.

    The ASGI app uvicorn runs is this object: it answers the lifespan itself and hands
    each HTTP request to the mounted bot's SlackASGI, so a test's bot starts (auth.test,
    like a real start-up) and stops (finishing the work it acked) without restarting
    the server. Between mounts nothing is served."""

    def __init__(self) -> None:
        self.mounted: SlackASGI | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._sock = bind_socket()
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # The production uvicorn configuration; make_server only hands the callable on.
        self._server = make_server(
            cast(SlackASGI, self), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"bot-server:{self.port}",
            daemon=True,
        )
        # Tasks that belong to the server, not to a bot: whatever else is left on the
        # loop when a bot is unmounted is that bot's unfinished work.
        self._own_tasks: set[asyncio.Task[Any]] = set()

    def start(self) -> BotServer:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the bot server did not start")
        return self

    def stop(self) -> None:
        if self.mounted is not None:
            self.unmount()
        self._server.should_exit = True
        self._thread.join(15)
        self._sock.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.loop = asyncio.get_running_loop()
                    self._own_tasks = asyncio.all_tasks()
                    await send({"type": "lifespan.startup.complete"})
                    self._ready.set()
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        asgi = self.mounted
        if asgi is None:
            await _plain_response(send, 503, {"ok": False, "error": "no bot mounted"})
            return
        await asgi(scope, receive, send)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def mount(self, asgi: SlackASGI) -> None:
        if self.mounted is not None:
            raise RuntimeError("a bot is already mounted on this server")
        # SlackASGI's own start-up (as under the lifespan): records the loop, asks the
        # stand-in who we are.
        self.run(asgi.startup())
        self.mounted = asgi

    def unmount(self) -> None:
        asgi, self.mounted = self.mounted, None
        if asgi is not None:
            self.run(self._finish(asgi))

    async def _finish(self, asgi: SlackASGI) -> None:
        await asgi.shutdown()
        # Nothing of this bot may run on into the next test (and post into its stand-in).
        me = asyncio.current_task()
        left = {t for t in asyncio.all_tasks() if t is not me and t not in self._own_tasks}
        if left:
            _, pending = await asyncio.wait(left, timeout=5)
            for task in pending:
                log.warning("cancelling %r left running by the previous test", task.get_name())
                task.cancel()


async def _plain_response(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture(scope=SERVER_SCOPE)
def bot_server() -> Iterator[BotServer]:
    """The shared uvicorn server; `bot` mounts on it, and so can `start_bot(server=...)`."""
    server = BotServer().start()
    yield server
    server.stop()


# The shipped scripts never change during a run; reading and checking them is a good
# part of a bot's start-up, so bots without overrides share one (read-only) catalog.
_SHIPPED_CATALOG: list[ScriptCatalog] = []


def _catalog_for(settings: Settings) -> ScriptCatalog:
    if settings.scripts_dir is not None:
        return ScriptCatalog.load(settings.scripts_dir)
    if not _SHIPPED_CATALOG:
        _SHIPPED_CATALOG.append(ScriptCatalog.load(None))
    return _SHIPPED_CATALOG[0]


def start_bot(
    standin: SlackStandIn,
    clock: FakeClock,
    database_url: str,
    *,
    extra_env: dict[str, str] | None = None,
    server: BotServer | None = None,
    transport: str = "http",
) -> tuple[RunningBot, Callable[[], None]]:
    """A bot with its own settings, mounted on `server` (the shared `bot_server`) or,
    without one, on a server of its own; `stop()` unmounts it (and stops that server).
    With `transport="socket"` it also connects in Socket Mode to a local WebSocket end,
    and the tests' requests go that way."""
    socket = SocketModeStandIn().start() if transport == "socket" else None
    if socket is not None:
        standin.socket_mode = socket
        extra_env = {"SLACK_APP_TOKEN": standin.app_token, **(extra_env or {})}
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
    rt = build_runtime(settings, clock=clock, catalog=_catalog_for(settings))
    app = build_app(rt)
    asgi = SlackASGI(rt, app, run_dispatcher=False)
    own = server is None
    host = BotServer().start() if server is None else server
    try:
        host.mount(asgi)
    except BaseException:
        if own:
            host.stop()
        rt.engine.dispose()
        raise
    bot = RunningBot(
        rt=rt,
        url=host.url,
        slack=SlackRequests(SIGNING_SECRET, response_url_base=standin.base_url),
        standin=standin,
        asgi=asgi,
        socket=socket,
    )
    runner = SocketModeRunner(rt, app, dispatcher="off") if socket is not None else None
    if runner is not None and socket is not None:
        host.run(runner.start())
        socket.wait_connected()

    def stop() -> None:
        try:
            if runner is not None:
                host.run(runner.disconnect())
            host.unmount()
            if own:
                host.stop()
        finally:
            rt.engine.dispose()
            if socket is not None:
                socket.stop()
                standin.socket_mode = None

    return bot, stop


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database with every table, made once: copying it is much faster than
    creating the schema for each test."""
    path = tmp_path_factory.mktemp("template") / "feedback.db"
    engine = make_engine(f"sqlite:///{path}")
    create_db_and_tables(engine)
    # The last connection to close checkpoints the WAL into the file, so the file alone
    # is the whole database.
    engine.dispose()
    return path


# Scenario modules that also run once over Socket Mode: between them every kind of
# request Slack sends (events, slash commands, clicks, modal submissions, shortcuts, a
# workflow step) and the rituals end to end, so the same flows are shown to work when
# Slack delivers over the WebSocket. Not every module: the suite must stay well inside
# CI's time. (Modules about HTTP itself — signatures, bodies, status codes — are
# HTTP-only by nature; tests marked `http_only` too.)
SOCKET_MODE_TOO = frozenset(
    {
        "test_loss_debrief",
        "test_win_debrief",
        "test_call_flow",
        "test_concern",
        "test_home",
        "test_clicks",
        "test_deal_shortcuts",
        "test_deal_step",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    http_only = metafunc.definition.get_closest_marker("http_only") is not None
    if "bot" in metafunc.fixturenames and module in SOCKET_MODE_TOO and not http_only:
        metafunc.parametrize("transport", ["http", "socket"], indirect=True)


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    """How Slack reaches the `bot`: "http" (POST /slack/events) or "socket"."""
    return str(getattr(request, "param", "http"))


@pytest.fixture
def bot(
    standin: SlackStandIn,
    clock: FakeClock,
    sqlite_url: str,
    sqlite_template: Path,
    bot_server: BotServer,
    transport: str,
) -> Iterator[RunningBot]:
    shutil.copyfile(sqlite_template, sqlite_url.removeprefix("sqlite:///"))
    running, stop = start_bot(standin, clock, sqlite_url, server=bot_server, transport=transport)
    yield running
    stop()
