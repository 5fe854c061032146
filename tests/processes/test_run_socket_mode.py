"""`feedback-loop run` in Socket Mode as a real process (the laptop set-up): it opens
the link with its app-level token, answers a slash command in the envelope's ack, posts
a deal's DM, reconnects when asked, and stops cleanly (exit 0) on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devkit.socket_mode import SocketModeStandIn
from bot.devkit.standin import SlackStandIn
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEALS = "C0DEALS"
REP = "U0RITA"
MANAGER = "U0MAYA"


@pytest.fixture
def slack() -> Iterator[tuple[SlackStandIn, SocketModeStandIn]]:
    socket = SocketModeStandIn().start()
    with SlackStandIn() as s:
        s.socket_mode = socket
        s.add_user(REP, name="rita", real_name="Rita Reyes", tz="UTC", locale="en-US")
        s.add_user(MANAGER, name="maya", real_name="Maya Manager", tz="UTC", locale="en-US")
        s.add_channel(DEALS, "deals")
        yield s, socket
        assert not s.server_errors and not s.block_errors
    socket.stop()


def test_run_in_socket_mode_serves_reconnects_and_stops_cleanly(
    slack: tuple[SlackStandIn, SocketModeStandIn], tmp_path: Path
) -> None:
    standin, socket = slack
    env = {
        **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        "SLACK_BOT_TOKEN": standin.token,
        "SLACK_APP_TOKEN": standin.app_token,
        "SLACK_SIGNING_SECRET": "",
        "SLACK_API_URL": standin.api_url,
        "SCRIPTS_DIR": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.db'}",
        "DEALS_CHANNELS": DEALS,
        "DISPATCHER": "inline",
        "TICK_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "bot.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        socket.wait_connected(timeout=60)
        fields = {
            "token": "x",
            "team_id": standin.team_id,
            "channel_id": "D0RITA",
            "user_id": REP,
            "command": "/loop",
            "text": "help",
            "response_url": standin.response_url(),
            "trigger_id": "1.2.abc",
        }
        ack = socket.deliver("slash_commands", fields)
        assert ack.payload is not None and "/loop" in ack.payload["text"]

        event = {
            "type": "event_callback",
            "team_id": standin.team_id,
            "api_app_id": standin.app_id,
            "event_id": "Ev0SOCKET1",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": DEALS,
                "user": MANAGER,
                "text": f"Closed Lost: Globex <@{REP}>",
                "ts": f"{time.time():.6f}",
                "channel_type": "channel",
            },
        }
        assert socket.deliver("events_api", event).payload is not None
        wait_until(
            lambda: any(
                "Globex" in c.body.get("text", "") for c in standin.calls_to("chat.postMessage")
            ),
            30,
            "the deal's DM",
        )

        socket.disconnect("refresh_requested")
        socket.wait_connected(hellos=2, timeout=30)
        again = socket.deliver("slash_commands", {**fields, "trigger_id": "1.2.def"})
        assert again.payload is not None and "/loop" in again.payload["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0, log.read_text(errors="replace")[-3000:]
