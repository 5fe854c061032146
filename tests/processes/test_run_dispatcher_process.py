"""`feedback-loop run --http` as a real process: its dispatcher runs as a child process
of its own (DISPATCHER=process, the default), supervised; `inline` keeps it on the
server's event loop; `off` leaves the sending to a `feedback-loop dispatch` beside it.

The server is the real CLI under the real clock, against the Slack stand-in (a thread
of this process, reached over HTTP). The nudge that must go through the dispatcher is a
deal DM for a rep who is snoozed for two seconds: the server's immediate attempt holds
it back until the snooze ends (bot/nudges/delivery.py, `_hold_back`), so only a
dispatcher can send it. Waits poll a condition with a timeout; nothing sleeps."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.devkit.requests import SlackRequests
from bot.devkit.standin import SlackStandIn
from storage.db import make_engine
from storage.models import Nudge
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SECRET = "run-process-signing-secret-0123456789"
DEALS = "C0DEALS"
REP = "U0RITA"
MANAGER = "U0MAYA"
STARTED = re.compile(r"dispatcher process (\d+) started")
SNOOZE_SECONDS = 2


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as s:
        s.add_user(
            REP,
            name="rita",
            real_name="Rita Reyes",
            tz="UTC",
            locale="en-US",
            email="rita@acme.test",
        )
        s.add_user(MANAGER, name="maya", real_name="Maya Manager", tz="UTC", locale="en-US")
        s.add_channel(DEALS, "deals")
        yield s
        assert not s.server_errors and not s.block_errors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bot:
    """`feedback-loop run --http` in a process; its stderr (and its child's) in a file."""

    def __init__(
        self,
        slack: SlackStandIn,
        db_url: str,
        log: Path,
        dispatcher: str,
        *,
        session: bool,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.log = log
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "SLACK_APP_TOKEN": "",
            "SCRIPTS_DIR": "",
            "DATABASE_URL": db_url,
            "DEALS_CHANNELS": DEALS,
            "TICK_SECONDS": "0.2",
            "LOG_LEVEL": "INFO",
            "DISPATCHER": dispatcher,
            **(env or {}),
        }
        argv = ["run", "--http", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *argv],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            # A process group of its own, as a terminal gives it, for Ctrl-C.
            start_new_session=session,
        )
        self.requests = SlackRequests(SECRET, response_url_base=slack.base_url)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def healthy(self) -> bool:
        assert self.proc.poll() is None, self.text()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def children(self) -> list[int]:
        """The server's child processes, as the kernel lists them."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def dispatcher_pids(self) -> list[int]:
        return [int(m) for m in STARTED.findall(self.text())]

    def announce_deal(self, account: str) -> None:
        """The manager posts a lost deal for the rep, who is snoozed for a moment."""
        self.slack_snooze()
        event = self.requests.message_event(
            f"Closed Lost: {account} ($48,000) - owner <@{REP}>", channel=DEALS, user=MANAGER
        )
        assert self.requests.event_request(event).post(self.url).status == 200

    def slack_snooze(self) -> None:
        self.standin.set_dnd(
            REP,
            dnd_enabled=False,
            snooze_enabled=True,
            snooze_endtime=int(time.time()) + SNOOZE_SECONDS,
        )

    standin: SlackStandIn

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


@pytest.fixture
def start_bot(slack: SlackStandIn, sqlite_url: str, tmp_path: Path) -> Iterator[Callable[..., Bot]]:
    started: list[Bot] = []

    def start(
        dispatcher: str = "process", *, session: bool = False, env: dict[str, str] | None = None
    ) -> Bot:
        log = tmp_path / f"run{len(started)}.log"
        bot = Bot(slack, sqlite_url, log, dispatcher, session=session, env=env)
        bot.standin = slack
        started.append(bot)
        wait_until(bot.healthy, 30, "the server to answer /healthz")
        return bot

    yield start
    for bot in started:
        if bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait(10)


def deal_dms(slack: SlackStandIn, account: str) -> list[dict[str, object]]:
    return [m for m in slack.messages(slack.dm_channel(REP)) if account in str(m.get("text"))]


def deal_nudges(db_url: str) -> list[Nudge]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(Nudge).where(Nudge.kind == "deal_dm")).all())
    finally:
        engine.dispose()


def gone(pid: int) -> bool:
    """Exited (and reaped, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.parametrize("dispatcher", ["process", "inline"])
def test_run_http_sends_a_held_deal_dm_when_due_and_sigterm_stops_everything(
    start_bot: Callable[..., Bot], slack: SlackStandIn, sqlite_url: str, dispatcher: str
) -> None:
    bot = start_bot(dispatcher)
    if dispatcher == "process":
        wait_until(bot.dispatcher_pids, 30, "the dispatcher process to start")
        [child] = bot.dispatcher_pids()
        assert bot.children() == [child]
    else:
        assert bot.children() == [] and not STARTED.search(bot.text())

    bot.announce_deal("Globex")
    # The server asked whether the rep is quiet and held the DM until the snooze ends.
    wait_until(lambda: deal_nudges(sqlite_url), 30, "the deal DM's nudge")
    wait_until(lambda: slack.calls_to("dnd.info"), 30, "the quiet check")
    assert not deal_dms(slack, "Globex")
    wait_until(lambda: deal_dms(slack, "Globex"), 60, "the dispatcher to send the deal DM")
    # Slack holds the DM a moment before the dispatcher's "sent" is committed (a loaded
    # machine widens that moment).
    wait_until(
        lambda: [n.state for n in deal_nudges(sqlite_url)] == ["sent"], 30, "the row marked sent"
    )

    [nudge] = deal_nudges(sqlite_url)
    assert nudge.state == "sent" and nudge.sent_ts == deal_dms(slack, "Globex")[0]["ts"]
    [post] = [c for c in slack.calls_to("chat.postMessage") if c.body.get("channel") != DEALS]
    assert nudge.due_at is not None and post.at >= nudge.due_at.timestamp()

    assert bot.stop() == 0, bot.text()
    log = bot.text()
    if dispatcher == "process":
        # It was the child that sent it: only a dispatcher process logs this.
        assert f"dispatcher[{child}]" in log
        assert "dispatcher stopped after sending 1 nudge(s)" in log
        assert "dispatcher process exited" not in log  # stopped, not restarted
        wait_until(lambda: gone(child), 30, "the dispatcher process to be gone")
    assert len(deal_dms(slack, "Globex")) == 1


def test_a_killed_dispatcher_process_is_started_again_and_sends_later_nudges(
    start_bot: Callable[..., Bot], slack: SlackStandIn, sqlite_url: str
) -> None:
    bot = start_bot()
    wait_until(bot.dispatcher_pids, 30, "the dispatcher process to start")
    [first] = bot.dispatcher_pids()
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: len(bot.dispatcher_pids()) == 2, 45, "a second dispatcher process")
    second = bot.dispatcher_pids()[1]
    assert second != first and gone(first)
    assert "dispatcher process exited (killed by SIGKILL); starting another in 1s" in bot.text()
    assert bot.children() == [second]

    bot.announce_deal("Initech")
    wait_until(lambda: deal_dms(slack, "Initech"), 60, "the new dispatcher to send the DM")
    assert bot.stop() == 0, bot.text()
    assert f"dispatcher[{second}]" in bot.text()
    assert "dispatcher stopped after sending 1 nudge(s)" in bot.text()
    assert len(deal_dms(slack, "Initech")) == 1
    wait_until(lambda: gone(second), 30, "the second dispatcher process to be gone")


def test_the_dispatcher_process_stops_when_the_server_is_killed(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot()
    wait_until(bot.dispatcher_pids, 30, "the dispatcher process to start")
    [child] = bot.dispatcher_pids()
    wait_until(lambda: "dispatcher running" in bot.text(), 45, "the dispatcher to tick")
    bot.proc.kill()
    bot.proc.wait(10)
    # Its pipe from the server closed: it stops as on SIGTERM, not orphaned for good.
    wait_until(lambda: gone(child), 45, "the orphaned dispatcher process to stop")
    assert "the server that started this dispatcher is gone: stopping" in bot.text()
    assert "dispatcher stopped after sending 0 nudge(s)" in bot.text()


def test_ctrl_c_reaches_both_and_the_server_stops_its_dispatcher_in_order(
    start_bot: Callable[..., Bot],
) -> None:
    bot = start_bot(session=True)
    wait_until(lambda: "dispatcher running" in bot.text(), 45, "the dispatcher to tick")
    [child] = bot.dispatcher_pids()
    # What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    os.killpg(bot.proc.pid, signal.SIGINT)
    assert bot.proc.wait(30) == 0, bot.text()
    log = bot.text()
    # The child ignored the SIGINT and stopped on the server's SIGTERM: not restarted.
    assert "dispatcher process exited" not in log
    assert "dispatcher stopped after sending 0 nudge(s)" in log
    assert "KeyboardInterrupt" not in log and "Traceback" not in log
    wait_until(lambda: gone(child), 30, "the dispatcher process to be gone")


def test_dispatcher_off_sends_nothing_and_a_dispatch_process_beside_it_does(
    start_bot: Callable[..., Bot], slack: SlackStandIn, sqlite_url: str, tmp_path: Path
) -> None:
    bot = start_bot("off")
    assert bot.children() == []
    bot.announce_deal("Globex")
    wait_until(lambda: deal_nudges(sqlite_url), 30, "the deal DM's nudge")
    [nudge] = deal_nudges(sqlite_url)
    assert nudge.due_at is not None
    # Past its due time, several ticks' worth: nobody sends it.
    with pytest.raises(AssertionError, match="timed out"):
        wait_until(
            lambda: deal_dms(slack, "Globex"),
            nudge.due_at.timestamp() - time.time() + 1.5,
            "a DM nobody should send",
        )
    assert [n.state for n in deal_nudges(sqlite_url)] == ["pending"]
    assert not STARTED.search(bot.text()) and bot.children() == []

    dispatch_log = tmp_path / "dispatch.log"
    dispatch = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "dispatch"],
        cwd=ROOT,
        env=bot.env,
        stdout=subprocess.DEVNULL,
        stderr=dispatch_log.open("wb"),
    )
    try:
        wait_until(lambda: deal_dms(slack, "Globex"), 60, "the dispatch process to send it")
    finally:
        dispatch.send_signal(signal.SIGTERM)
        assert dispatch.wait(30) == 0, dispatch_log.read_text()
    assert bot.stop() == 0, bot.text()
    assert len(deal_dms(slack, "Globex")) == 1


@pytest.mark.parametrize("dispatcher", ["process", "inline"])
def test_a_crm_webhook_wakes_the_dispatcher_which_sends_its_dm_without_waiting_for_a_tick(
    start_bot: Callable[..., Bot], slack: SlackStandIn, sqlite_url: str, dispatcher: str
) -> None:
    """The server answers the CRM once the deal and its DM's nudge are written, and
    leaves the DM to the dispatcher: it is woken (in-process, or the child through its
    standard input) rather than left until its next tick, an hour away here."""
    from bot.crm.signing import sign
    from bot.devkit.requests import SlackRequest

    secret = "crm-secret-for-the-process-test-0123"
    bot = start_bot(dispatcher, env={"CRM_WEBHOOK_SECRET": secret, "TICK_SECONDS": "3600"})
    wait_until(lambda: "dispatcher running" in bot.text() or dispatcher == "inline", 30, "it")
    slack.set_dnd(REP, dnd_enabled=False)
    url = f"http://127.0.0.1:{bot.port}/crm/webhook"
    for n, account in enumerate(["Globex", "Initech"]):
        body = json.dumps(
            {
                "crm": "generic",
                "record_id": f"opp-{n}",
                "outcome": "won",
                "account": account,
                "owner_email": "rita@acme.test",
            }
        ).encode()
        headers = {"Content-Type": "application/json", **sign(secret, body)}
        answer = SlackRequest(body=body, headers=headers).post(url)
        assert answer.status == 200 and answer.json()["dm"] == "queued", answer.body
        wait_until(lambda a=account: deal_dms(slack, a), 20, f"the DM about {account}")
    assert bot.stop() == 0, bot.text()
    assert len(deal_dms(slack, "Globex")) == 1 and len(deal_dms(slack, "Initech")) == 1
