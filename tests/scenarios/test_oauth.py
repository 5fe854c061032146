"""OAuth mode: two workspaces install the app through the flow (GET /slack/install, the
stand-in's consent, GET /slack/oauth_redirect); each one's deal DM goes out with its own
token; a token about to expire is refreshed before a scheduled send; uninstalling
deletes the tokens at once and the data after the grace period. The stand-in refuses a
token used on another workspace's user or channel, so a crossed token fails here."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.clock import FakeClock
from bot.crm.signing import sign, team_secret
from bot.devkit.requests import SlackRequest, SlackRequests
from bot.devkit.standin import SlackStandIn
from storage.db import unit_of_work
from storage.models import SLACK_INSTALLATIONS, Deal, Nudge, Person, Workspace
from storage.scope import TeamScopeMissing, team_select
from tests.conftest import DEALS, MANAGER, REP, SIGNING_SECRET, BotServer, RunningBot, start_bot

T1, T2 = "T0001", "T0002"
DEALS2 = "C0DEALS2"
REP9, MANAGER9 = "U0REP9", "U0MGR9"
STATE_SECRET = "state-secret-0123456789abcdef"
CRM_SECRET = "crm-secret-0123456789abcdef0123456789"


@pytest.fixture
def oauth_bot(
    standin: SlackStandIn, clock: FakeClock, db_url: str, bot_server: BotServer
) -> Iterator[RunningBot]:
    """An OAuth-mode bot on SQLite, and on PostgreSQL with TEST_DATABASE_URL."""
    standin.add_team(T2, "Globex Sales")
    standin.add_user(REP9, name="gina", real_name="Gina Globex", team_id=T2)
    standin.add_user(MANAGER9, name="gus", real_name="Gus Globex", team_id=T2)
    standin.set_dnd(REP9, dnd_enabled=False)
    standin.add_channel(DEALS2, "globex-deals", team_id=T2)
    # Token expiry by the test's clock.
    standin.follow_clock(lambda: clock.now().timestamp())
    env = {
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": standin.client_id,
        "SLACK_CLIENT_SECRET": standin.client_secret,
        "SLACK_STATE_SECRET": STATE_SECRET,
        "DEALS_CHANNELS": f"{DEALS},{DEALS2}",
        "CRM_WEBHOOK_SECRET": CRM_SECRET,
    }
    running, stop = start_bot(standin, clock, db_url, extra_env=env, server=bot_server)
    assert running.rt.tokens is not None
    yield running
    stop()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def install(bot: RunningBot, team: str, installer: str) -> tuple[int, str]:
    """The installer opens the install page, says yes on Slack's, and is sent back."""
    status, headers, page = _get(bot.url + "/slack/install")
    assert status == 200, page
    state = re.search(r"state=([^&\"']+)", page)
    assert state is not None, page
    cookie = headers["set-cookie"].split(";", 1)[0]
    code = bot.standin.consent(team, installer)
    status, _, page = _get(
        f"{bot.url}/slack/oauth_redirect?code={code}&state={state[1]}", {"Cookie": cookie}
    )
    return status, page


def requests_for(team: str, bot: RunningBot) -> SlackRequests:
    return SlackRequests(
        SIGNING_SECRET,
        team_id=team,
        bot_user_id=bot.standin.teams[team]["bot_user_id"],
        bot_id=bot.standin.teams[team]["bot_id"],
        response_url_base=bot.standin.base_url,
    )


def deal_in(bot: RunningBot, team: str, channel: str, rep: str, by: str) -> None:
    slack = requests_for(team, bot)
    event = slack.message_event(f"Closed Won: Globex <@{rep}>", channel=channel, user=by)
    assert bot.send(slack.event_request(event)).status == 200


def posts_to(bot: RunningBot, user: str) -> list[tuple[str | None, str]]:
    """(the token's workspace, the DM channel) of each successful post to the user."""
    dm = bot.standin.dm_channel_id(user)
    return [
        (bot.standin.team_of_token(_token(c.headers)), str(c.body.get("channel")))
        for c in bot.standin.calls_to("chat.postMessage", ok=True)
        if c.body.get("channel") in (user, dm)
    ]


def _token(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    return auth.split(" ", 1)[1] if auth.lower().startswith("bearer ") else None


def test_two_workspaces_install_and_each_deal_dm_uses_its_own_token(oauth_bot: RunningBot) -> None:
    bot = oauth_bot
    assert install(bot, T1, MANAGER)[0] == 200
    assert install(bot, T2, MANAGER9)[0] == 200
    with unit_of_work(bot.rt.engine) as session:
        teams = sorted(session.exec(select(SLACK_INSTALLATIONS.c.team_id)).all())
        assert teams == [T1, T2]
        assert {w.team_id for w in session.exec(select(Workspace)).all()} >= {T1, T2}

    deal_in(bot, T1, DEALS, REP, MANAGER)
    deal_in(bot, T2, DEALS2, REP9, MANAGER9)
    bot.tick()

    assert posts_to(bot, REP) and {team for team, _ in posts_to(bot, REP)} == {T1}
    assert posts_to(bot, REP9) and {team for team, _ in posts_to(bot, REP9)} == {T2}
    # No call anywhere was refused for a token of the wrong workspace.
    crossed = [
        c
        for c in bot.standin.calls
        if c.response.get("error") in ("channel_not_found", "user_not_found", "invalid_auth")
    ]
    assert not crossed, crossed

    # Each workspace's rows are its own: T2's deal and rep are not in T1's reads.
    with unit_of_work(bot.rt.engine) as session:
        t1 = session.exec(team_select(Deal, T1)).all()
        t2 = session.exec(team_select(Deal, T2)).all()
        assert [d.rep_slack_id for d in t1] == [REP]
        assert [d.rep_slack_id for d in t2] == [REP9]
        assert REP9 not in {p.slack_id for p in session.exec(team_select(Person, T1)).all()}


def test_a_forged_state_or_a_reused_code_installs_nothing(oauth_bot: RunningBot) -> None:
    bot = oauth_bot
    _, headers, page = _get(bot.url + "/slack/install")
    cookie = headers["set-cookie"].split(";", 1)[0]
    code = bot.standin.consent(T1, MANAGER)
    status, _, _ = _get(
        f"{bot.url}/slack/oauth_redirect?code={code}&state=forged.0000", {"Cookie": cookie}
    )
    assert status in (400, 401)
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(select(SLACK_INSTALLATIONS.c.id)).all() == []


def test_an_expiring_token_is_refreshed_before_a_scheduled_send(
    oauth_bot: RunningBot, clock: FakeClock
) -> None:
    bot = oauth_bot
    assert install(bot, T2, MANAGER9)[0] == 200
    deal_in(bot, T2, DEALS2, REP9, MANAGER9)
    bot.tick()
    first = bot.standin.calls_to("chat.postMessage", ok=True)
    old_token = _token(first[-1].headers)
    # 11 hours on, the 12-hour token is within the refresh margin; nothing came in
    # from Slack meanwhile, so the dispatcher refreshes it itself before sending what
    # falls due (the deal's reminder, a reflection...).
    clock.advance(timedelta(hours=11))
    bot.standin.reset_calls()
    bot.rt.tokens.recheck_seconds = 0  # type: ignore[union-attr]
    with unit_of_work(bot.rt.engine) as session:
        pending = session.exec(
            select(Nudge).where(Nudge.team_id == T2, Nudge.state == "pending")
        ).all()
    assert pending, "a later nudge is scheduled for the rep"
    clock.advance(timedelta(days=3))
    bot.tick()
    refreshes = [
        c
        for c in bot.standin.calls_to("oauth.v2.access", ok=True)
        if c.body.get("grant_type") == "refresh_token"
    ]
    assert refreshes
    sent = [
        c for c in bot.standin.calls if c.method.startswith(("chat.", "conversations.", "users."))
    ]
    assert sent and all(c.response.get("ok") for c in sent), [
        c.response for c in sent if not c.response.get("ok")
    ]
    assert all(_token(c.headers) != old_token for c in sent)
    with unit_of_work(bot.rt.engine) as session:
        saved = session.exec(
            select(SLACK_INSTALLATIONS.c.bot_token).where(SLACK_INSTALLATIONS.c.team_id == T2)
        ).all()
        assert _token(sent[-1].headers) in saved


def test_uninstall_deletes_tokens_at_once_and_data_after_the_grace_period(
    oauth_bot: RunningBot, clock: FakeClock
) -> None:
    bot = oauth_bot
    install(bot, T1, MANAGER)
    install(bot, T2, MANAGER9)
    deal_in(bot, T1, DEALS, REP, MANAGER)
    deal_in(bot, T2, DEALS2, REP9, MANAGER9)
    bot.tick()

    slack2 = requests_for(T2, bot)
    event = {"type": "app_uninstalled", "event_ts": slack2.new_ts()}
    assert bot.send(slack2.event_request(event)).status == 200
    bot.standin.revoke_team(T2)
    with unit_of_work(bot.rt.engine) as session:
        teams = set(session.exec(select(SLACK_INSTALLATIONS.c.team_id)).all())
        assert teams == {T1}
        assert session.exec(team_select(Deal, T2)).all(), "the data stays during the grace period"
        left = session.exec(
            select(Nudge).where(Nudge.team_id == T2, Nudge.state == "pending")
        ).all()
        assert not left

    # Something planned for it during the grace period is skipped, never sent.
    with unit_of_work(bot.rt.engine) as session:
        now = clock.now()
        session.add(
            Nudge(
                team_id=T2,
                user_slack_id=REP9,
                kind="reflection",
                due_at=now,
                idempotency_key="planned-after-uninstall",
                created_at=now,
                updated_at=now,
            )
        )
    bot.standin.reset_calls()
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        late = session.exec(
            select(Nudge).where(Nudge.idempotency_key == "planned-after-uninstall")
        ).one()
        assert late.state == "skipped" and "uninstalled" in str(late.last_error)

    clock.advance(timedelta(days=31))
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(team_select(Deal, T2)).all() == []
        assert session.exec(team_select(Person, T2)).all() == []
        assert session.get(Workspace, T2) is None
        # The other workspace keeps everything.
        assert session.exec(team_select(Deal, T1)).all()
    # Nothing was sent with T2's revoked token.
    assert not [c for c in bot.standin.calls if c.response.get("error") == "token_revoked"]


def test_the_scoped_query_helper_refuses_without_a_workspace() -> None:
    with pytest.raises(TeamScopeMissing):
        team_select(Deal, "")
    with pytest.raises(TeamScopeMissing):
        team_select(Deal, None)


def test_in_oauth_mode_a_call_with_no_workspace_raises(oauth_bot: RunningBot) -> None:
    from bot.slack.teams import NoWorkspace

    with pytest.raises(NoWorkspace):
        oauth_bot.run(oauth_bot.rt.client.users_info(user=REP))


def test_while_one_workspace_works_no_statement_names_the_other(oauth_bot: RunningBot) -> None:
    """Every query a workspace's request makes is scoped to it: while T2's deal is taken
    and its DM sent, no statement the bot runs carries T1's id."""
    bot = oauth_bot
    install(bot, T1, MANAGER)
    install(bot, T2, MANAGER9)
    deal_in(bot, T1, DEALS, REP, MANAGER)
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(bot.rt.engine, "before_cursor_execute", record)
    try:
        deal_in(bot, T2, DEALS2, REP9, MANAGER9)
    finally:
        event.remove(bot.rt.engine, "before_cursor_execute", record)
    assert posts_to(bot, REP9)
    assert any(T2 in str(p) for _, p in seen), "the statements were recorded"
    crossing = [(st, p) for st, p in seen if T1 in str(p)]
    assert not crossing, crossing[:3]


def test_a_request_with_an_expiring_token_is_answered_with_a_fresh_one(
    oauth_bot: RunningBot, clock: FakeClock
) -> None:
    bot = oauth_bot
    install(bot, T2, MANAGER9)
    clock.advance(timedelta(hours=11))
    bot.rt.tokens.recheck_seconds = 0  # type: ignore[union-attr]
    bot.standin.reset_calls()
    deal_in(bot, T2, DEALS2, REP9, MANAGER9)
    refreshed = [
        c
        for c in bot.standin.calls_to("oauth.v2.access", ok=True)
        if c.body.get("grant_type") == "refresh_token"
    ]
    assert len(refreshed) == 1, "refreshed once, before the request's first call"
    assert posts_to(bot, REP9)
    assert all(c.ok for c in bot.standin.calls if c.method != "response_url")


def test_revoked_bot_token_and_a_reinstall_within_the_grace_period_keeps_the_data(
    oauth_bot: RunningBot, clock: FakeClock
) -> None:
    bot = oauth_bot
    install(bot, T2, MANAGER9)
    deal_in(bot, T2, DEALS2, REP9, MANAGER9)
    slack2 = requests_for(T2, bot)
    # Only a user's token: nothing of ours goes.
    only_user = {"type": "tokens_revoked", "tokens": {"oauth": [MANAGER9]}, "event_ts": "1.0"}
    assert bot.send(slack2.event_request(only_user)).status == 200
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(select(SLACK_INSTALLATIONS.c.id)).all()
    bot_token = {
        "type": "tokens_revoked",
        "tokens": {"bot": [bot.standin.teams[T2]["bot_user_id"]]},
        "event_ts": "2.0",
    }
    assert bot.send(slack2.event_request(bot_token)).status == 200
    bot.standin.revoke_team(T2)
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(select(SLACK_INSTALLATIONS.c.id)).all() == []
        ws = session.get(Workspace, T2)
        assert ws is not None and ws.uninstalled_at is not None

    clock.advance(timedelta(days=20))
    assert install(bot, T2, MANAGER9)[0] == 200
    clock.advance(timedelta(days=20))
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(team_select(Deal, T2)).all(), "installed again: nothing purged"
        ws = session.get(Workspace, T2)
        assert ws is not None and ws.uninstalled_at is None


def crm_post(bot: RunningBot, path: str, secret: str, **fields: Any) -> Any:
    payload = {"outcome": "won", "account": "Globex", "record_id": "1", **fields}
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **sign(secret, body)}
    return SlackRequest(body=body, headers=headers).post(bot.url + path)


def test_each_workspace_has_its_own_crm_webhook_url_and_secret(oauth_bot: RunningBot) -> None:
    """`/crm/webhook/T…` signed with that workspace's own secret (derived from
    CRM_WEBHOOK_SECRET): the deal is the workspace's, its owner is looked up and DMed
    with its own token; another workspace's secret, the shared secret itself, the
    one-workspace URL and a workspace that never installed are refused, storing nothing."""
    bot = oauth_bot
    assert install(bot, T1, MANAGER)[0] == 200
    assert install(bot, T2, MANAGER9)[0] == 200
    bot.standin.add_user("U0GINA2", name="gina2", email="gina2@globex.test", team_id=T2)
    t1_secret, t2_secret = team_secret(CRM_SECRET, T1), team_secret(CRM_SECRET, T2)

    refused = [
        (crm_post(bot, f"/crm/webhook/{T2}", t1_secret, owner_slack_id=REP9), 401),
        (crm_post(bot, f"/crm/webhook/{T2}", CRM_SECRET, owner_slack_id=REP9), 401),
        (crm_post(bot, "/crm/webhook", CRM_SECRET, owner_slack_id=REP9), 404),
        (crm_post(bot, "/crm/webhook/T0NEVER", team_secret(CRM_SECRET, "T0NEVER")), 404),
    ]
    assert [r.status for r, _ in refused] == [status for _, status in refused]
    assert "/crm/webhook/" in refused[2][0].json()["error"]
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(select(Deal)).all() == []

    by_email = crm_post(bot, f"/crm/webhook/{T2}", t2_secret, owner_email="gina2@globex.test")
    assert by_email.status == 200, by_email.body
    assert by_email.json()["rep"] == "U0GINA2"
    lookups = bot.standin.calls_to("users.lookupByEmail", ok=True)
    assert {bot.standin.team_of_token(_token(c.headers)) for c in lookups} == {T2}
    assert crm_post(bot, f"/crm/webhook/{T1}", t1_secret, owner_slack_id=REP).status == 200
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        assert sorted((d.team_id, d.rep_slack_id) for d in session.exec(select(Deal))) == [
            (T1, REP),
            (T2, "U0GINA2"),
        ]
    assert {team for team, _ in posts_to(bot, "U0GINA2")} == {T2}
    assert {team for team, _ in posts_to(bot, REP)} == {T1}
