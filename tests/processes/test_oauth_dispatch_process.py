"""OAuth mode in a real `feedback-loop dispatch`-style process: two workspaces installed,
nudges due in both, tokens that expire within the refresh margin. The process refreshes
each workspace's token itself (no request comes in to do it) and sends every nudge with
its own workspace's new token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlmodel import Session, select

from bot.devkit.standin import SlackStandIn
from storage.db import create_db_and_tables, make_engine
from storage.installations import InstallationStore
from storage.models import Nudge, Person
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
TEAMS = {"T0001": "U0P001", "T0002": "U0P002"}

WORKER = """
from bot.cli import configure_logging
from bot.nudges.delivery import Message, register_kind
from bot.nudges.registry import KindPolicy
from bot.nudges.dispatcher import run_dispatch_process
from bot.runtime import build_runtime
from bot.settings import load_settings


async def render(rt, nudge, person):
    return Message(text="ping " + nudge.idempotency_key)


def setup(rt):
    register_kind(rt, "ping", render, policy=KindPolicy(respects_quiet=False))


settings = load_settings(env_file=None)
configure_logging(settings.log_level)
raise SystemExit(run_dispatch_process(build_runtime(settings), setup=setup))
"""


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as s:
        s.follow_clock(time.time)
        s.add_team("T0002", "Globex Sales")
        for team, user in TEAMS.items():
            s.add_user(user, tz="UTC", team_id=team)
            s.set_dnd(user, dnd_enabled=False)
        # 30 minutes: inside the two-hour refresh margin from the start.
        s.token_lifetime = 1800
        yield s
        assert not s.server_errors and not s.block_errors


def _install(slack: SlackStandIn, url: str) -> dict[str, str]:
    engine = make_engine(url)
    create_db_and_tables(engine)
    store = InstallationStore(slack.client_id, engine)
    api = WebClient(base_url=slack.api_url)
    first: dict[str, str] = {}
    now = datetime.now(UTC)
    for team, user in TEAMS.items():
        resp = api.oauth_v2_access(
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            code=slack.consent(team, user),
        )
        first[team] = str(resp["access_token"])
        store.save(
            Installation(
                app_id=slack.app_id,
                team_id=team,
                bot_token=resp["access_token"],
                bot_refresh_token=resp["refresh_token"],
                bot_token_expires_at=int(time.time()) + int(resp["expires_in"]),
                bot_user_id=resp["bot_user_id"],
                bot_scopes=resp["scope"],
                user_id=user,
            )
        )
    with Session(engine) as session:
        for team, user in TEAMS.items():
            session.add(Person(team_id=team, slack_id=user, tz="UTC", created_at=now))
            for n in range(3):
                session.add(
                    Nudge(
                        team_id=team,
                        user_slack_id=user,
                        kind="ping",
                        due_at=now,
                        idempotency_key=f"ping:{team}:{n}",
                        created_at=now,
                        updated_at=now,
                    )
                )
        session.commit()
    engine.dispose()
    return first


def test_a_dispatcher_process_refreshes_each_workspaces_token_and_sends_with_it(
    slack: SlackStandIn, db_url: str
) -> None:
    first = _install(slack, db_url)
    # Installed with 30-minute tokens; the refreshed ones last Slack's 12 hours.
    slack.token_lifetime = 12 * 3600
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "",
        "SLACK_APP_TOKEN": "",
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_STATE_SECRET": "state-secret-0123456789abcdef",
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_url,
        "TICK_SECONDS": "0.2",
        "SEND_RATE": "50",
        "LOG_LEVEL": "INFO",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: len(slack.calls_to("chat.postMessage", ok=True)) >= 6, 30, "six pings sent"
        )
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    posts = slack.calls_to("chat.postMessage")
    assert posts and all(c.ok for c in posts), [c.response for c in posts if not c.ok]
    refreshes = [
        c for c in slack.calls_to("oauth.v2.access") if c.body.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 2, "each workspace's token refreshed once"
    for call in posts:
        token = call.headers["authorization"].split(" ", 1)[1]
        team = slack.team_of_token(token)
        assert token != first[str(team)], "sent with the refreshed token"
        user = slack._users[slack._user_for_dm(str(call.response["channel"])) or ""]["id"]
        assert TEAMS[str(team)] == user, "to a member of the token's own workspace"
    engine = make_engine(db_url)
    with Session(engine) as session:
        states = {n.state for n in session.exec(select(Nudge)).all()}
    engine.dispose()
    assert states == {"sent"}
