"""Enterprise Grid, OAuth mode: an org installs the app org-wide (oauth.v2.access answers
`is_enterprise_install`, `enterprise`, no `team`); each workspace of the org is served
with the org's token, for its requests and for the dispatcher's sends; a workspace
outside the org is not; the org's token is refreshed once before a scheduled send;
uninstalling the org deletes its tokens at once and the data of each of its workspaces
after the grace period; a workspace's own install keeps working beside it. The
stand-in's org token acts in every workspace of the org and nowhere else, so a token
used across the org's edge fails here."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.clock import FakeClock
from bot.crm.signing import team_secret
from bot.devkit.requests import SlackRequests
from bot.devkit.standin import SlackStandIn
from bot.runtime import installed_teams
from storage.db import unit_of_work
from storage.models import SLACK_INSTALLATIONS, Deal, Nudge, Person, RitualRun, Workspace
from storage.scope import team_select
from tests.conftest import DEALS, MANAGER, REP, SIGNING_SECRET, BotServer, RunningBot, start_bot
from tests.scenarios.test_oauth import (
    CRM_SECRET,
    STATE_SECRET,
    _token,
    crm_post,
    install,
    posts_to,
    requests_for,
)
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    assert_all_block_kit_valid,
    click,
    last_modal,
    submit,
)

T1 = "T0001"  # the stand-in's first workspace: outside the org
ORG, ORG_NAME = "E0INITECH", "Initech"
EAST, WEST = "T0EAST", "T0WEST"
DEALS_EAST, DEALS_WEST = "C0DEALSE", "C0DEALSW"
REP_EAST, BOSS_EAST = "U0REPE", "U0BOSSE"
REP_WEST, BOSS_WEST = "U0REPW", "U0BOSSW"
ADMIN = "U0ORGADMIN"


@pytest.fixture
def grid_bot(
    standin: SlackStandIn, clock: FakeClock, db_url: str, bot_server: BotServer
) -> Iterator[RunningBot]:
    """An OAuth-mode bot, the stand-in knowing an org of two workspaces (a user in each,
    a deals channel in each) beside its first workspace (SQLite; PostgreSQL with
    TEST_DATABASE_URL)."""
    standin.add_enterprise(ORG, ORG_NAME, {EAST: "Initech East", WEST: "Initech West"})
    for user, name, team in (
        (REP_EAST, "erin", EAST),
        (BOSS_EAST, "ed", EAST),
        (REP_WEST, "wanda", WEST),
        (BOSS_WEST, "walt", WEST),
        (ADMIN, "ada", EAST),
    ):
        standin.add_user(user, name=name, team_id=team)
        standin.set_dnd(user, dnd_enabled=False)
    standin.add_channel(DEALS_EAST, "east-deals", team_id=EAST)
    standin.add_channel(DEALS_WEST, "west-deals", team_id=WEST)
    standin.follow_clock(lambda: clock.now().timestamp())
    env = {
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": standin.client_id,
        "SLACK_CLIENT_SECRET": standin.client_secret,
        "SLACK_STATE_SECRET": STATE_SECRET,
        "DEALS_CHANNELS": f"{DEALS},{DEALS_EAST},{DEALS_WEST}",
        "CRM_WEBHOOK_SECRET": CRM_SECRET,
    }
    running, stop = start_bot(standin, clock, db_url, extra_env=env, server=bot_server)
    assert running.rt.tokens is not None
    yield running
    stop()


def org_requests(team: str, bot: RunningBot) -> SlackRequests:
    """Requests from a workspace of the org, the app installed org-wide."""
    org = bot.standin.enterprises[ORG]
    return SlackRequests(
        SIGNING_SECRET,
        team_id=team,
        bot_user_id=org["bot_user_id"],
        bot_id=org["bot_id"],
        response_url_base=bot.standin.base_url,
        enterprise_id=ORG,
        enterprise_name=ORG_NAME,
        org_install=True,
    )


def org_deal(bot: RunningBot, team: str, channel: str, rep: str, by: str) -> int:
    slack = org_requests(team, bot)
    event = slack.message_event(f"Closed Won: Initech <@{rep}>", channel=channel, user=by)
    return bot.send(slack.event_request(event)).status


def crossed(bot: RunningBot) -> list[Any]:
    errors = ("channel_not_found", "user_not_found", "invalid_auth", "token_expired")
    return [c for c in bot.standin.calls if c.response.get("error") in errors]


def installations(bot: RunningBot) -> list[tuple[str | None, str | None, bool]]:
    c = SLACK_INSTALLATIONS.c
    with unit_of_work(bot.rt.engine) as session:
        rows = session.exec(select(c.team_id, c.enterprise_id, c.is_enterprise_install)).all()
    return sorted(((t, e, bool(i)) for t, e, i in rows), key=str)


def test_an_org_wide_install_serves_both_workspaces_and_a_single_install_beside_it(
    grid_bot: RunningBot,
) -> None:
    bot = grid_bot
    assert install(bot, ORG, ADMIN)[0] == 200
    assert install(bot, T1, MANAGER)[0] == 200
    # Stored as slack_sdk stores an org-wide install: no workspace, the org's id.
    assert installations(bot) == sorted([(None, ORG, True), (T1, None, False)], key=str)

    assert org_deal(bot, EAST, DEALS_EAST, REP_EAST, BOSS_EAST) == 200
    assert org_deal(bot, WEST, DEALS_WEST, REP_WEST, BOSS_WEST) == 200
    slack1 = requests_for(T1, bot)
    event = slack1.message_event(f"Closed Won: Acme <@{REP}>", channel=DEALS, user=MANAGER)
    assert bot.send(slack1.event_request(event)).status == 200
    bot.tick()

    # Each deal's DM went out, the org's workspaces' with the org's token.
    assert posts_to(bot, REP_EAST) and {t for t, _ in posts_to(bot, REP_EAST)} == {ORG}
    assert posts_to(bot, REP_WEST) and {t for t, _ in posts_to(bot, REP_WEST)} == {ORG}
    assert posts_to(bot, REP) and {t for t, _ in posts_to(bot, REP)} == {T1}
    assert not crossed(bot), crossed(bot)

    with unit_of_work(bot.rt.engine) as session:
        # Rows stay scoped by workspace; each workspace records its org.
        assert [d.rep_slack_id for d in session.exec(team_select(Deal, EAST))] == [REP_EAST]
        assert [d.rep_slack_id for d in session.exec(team_select(Deal, WEST))] == [REP_WEST]
        assert [d.rep_slack_id for d in session.exec(team_select(Deal, T1))] == [REP]
        orgs = {w.team_id: w.enterprise_id for w in session.exec(select(Workspace))}
        assert orgs[EAST] == ORG and orgs[WEST] == ORG and orgs.get(T1) is None


def test_the_dispatcher_finds_the_org_token_for_a_workspace_by_its_recorded_org(
    grid_bot: RunningBot, clock: FakeClock
) -> None:
    """What the dispatcher sends for a workspace of the org is found by the workspace
    alone (no request in flight): its recorded org's org-wide install."""
    bot = grid_bot
    install(bot, ORG, ADMIN)
    org_deal(bot, WEST, DEALS_WEST, REP_WEST, BOSS_WEST)
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        pending = session.exec(team_select(Nudge, WEST, Nudge.state == "pending")).all()
    assert pending, "a later nudge is scheduled for the rep"
    # Nothing held in memory: only the database says which org West belongs to.
    assert bot.rt.tokens is not None
    bot.rt.tokens.forget(WEST)
    bot.rt.tokens.forget_org(ORG)
    bot.standin.reset_calls()
    clock.advance(max(n.due_at for n in pending) - clock.now() + timedelta(minutes=1))
    bot.tick()
    sent = bot.standin.calls_to("chat.postMessage")
    assert sent and all(c.ok for c in sent), [c.response for c in sent]
    assert {bot.standin.team_of_token(_token(c.headers)) for c in sent} == {ORG}


def test_a_workspace_outside_the_org_is_refused(grid_bot: RunningBot) -> None:
    bot = grid_bot
    install(bot, ORG, ADMIN)
    # T1 never installed and is not of the org: its request is not authorized.
    slack1 = requests_for(T1, bot)
    event = slack1.message_event(f"Closed Won: Acme <@{REP}>", channel=DEALS, user=MANAGER)
    bot.send(slack1.event_request(event))
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(select(Deal)).all() == []
    assert not posts_to(bot, REP)

    # The org's token itself works in the org's workspaces and no other.
    c = SLACK_INSTALLATIONS.c
    with unit_of_work(bot.rt.engine) as session:
        token = session.exec(select(c.bot_token).where(c.enterprise_id == ORG)).one()
    client = AsyncWebClient(token=token, base_url=bot.standin.base_url + "/api/")
    inside = bot.run(client.users_info(user=REP_WEST))
    assert inside["ok"]
    with pytest.raises(SlackApiError) as outside:
        bot.run(client.users_info(user=REP))
    assert outside.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError):
        bot.run(client.chat_postMessage(channel=DEALS, text="hello"))


def test_an_expiring_org_token_is_refreshed_once_before_a_scheduled_send(
    grid_bot: RunningBot, clock: FakeClock
) -> None:
    bot = grid_bot
    install(bot, ORG, ADMIN)
    org_deal(bot, EAST, DEALS_EAST, REP_EAST, BOSS_EAST)
    org_deal(bot, WEST, DEALS_WEST, REP_WEST, BOSS_WEST)
    bot.tick()
    old_token = _token(bot.standin.calls_to("chat.postMessage", ok=True)[-1].headers)
    with unit_of_work(bot.rt.engine) as session:
        for team in (EAST, WEST):
            assert session.exec(team_select(Nudge, team, Nudge.state == "pending")).all()
    # 11 hours on the 12-hour token is inside the refresh margin; no request comes in,
    # so the dispatcher refreshes it itself: once for the org, whichever workspace's
    # nudge needs it first.
    clock.advance(timedelta(hours=11))
    assert bot.rt.tokens is not None
    bot.rt.tokens.recheck_seconds = 0
    bot.standin.reset_calls()
    clock.advance(timedelta(days=3))
    bot.tick()
    refreshes = [
        c
        for c in bot.standin.calls_to("oauth.v2.access")
        if c.body.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1 and refreshes[0].ok
    sent = [c for c in bot.standin.calls if c.method.startswith(("chat.", "conversations."))]
    assert {c.body.get("channel") for c in sent} & {
        bot.standin.dm_channel_id(REP_EAST),
        bot.standin.dm_channel_id(REP_WEST),
        REP_EAST,
        REP_WEST,
    }
    assert sent and all(c.ok for c in sent), [c.response for c in sent if not c.ok]
    assert all(_token(c.headers) != old_token for c in sent)
    # The old token, expired by now, is refused: it could not have been the one used.
    client = AsyncWebClient(token=old_token, base_url=bot.standin.base_url + "/api/")
    with pytest.raises(SlackApiError) as expired:
        bot.run(client.users_info(user=REP_EAST))
    assert expired.value.response["error"] == "token_expired"
    c = SLACK_INSTALLATIONS.c
    with unit_of_work(bot.rt.engine) as session:
        saved = session.exec(select(c.bot_token).where(c.enterprise_id == ORG)).all()
    assert _token(sent[-1].headers) in saved


@pytest.mark.parametrize("how", ["app_uninstalled", "tokens_revoked", "org_level"])
def test_uninstalling_the_org_deletes_its_tokens_now_and_both_workspaces_data_later(
    grid_bot: RunningBot, clock: FakeClock, how: str
) -> None:
    bot = grid_bot
    install(bot, ORG, ADMIN)
    install(bot, T1, MANAGER)
    org_deal(bot, EAST, DEALS_EAST, REP_EAST, BOSS_EAST)
    org_deal(bot, WEST, DEALS_WEST, REP_WEST, BOSS_WEST)
    slack1 = requests_for(T1, bot)
    event = slack1.message_event(f"Closed Won: Acme <@{REP}>", channel=DEALS, user=MANAGER)
    bot.send(slack1.event_request(event))
    bot.tick()

    assert bot.run(installed_teams(bot.rt)) == {T1, EAST, WEST}
    east = org_requests(EAST, bot)
    if how == "tokens_revoked":
        bot_user = bot.standin.enterprises[ORG]["bot_user_id"]
        revoked = {"type": "tokens_revoked", "tokens": {"bot": [bot_user]}, "event_ts": "2.0"}
        left = east.envelope(revoked)
    else:
        left = east.envelope({"type": "app_uninstalled", "event_ts": east.new_ts()})
    if how == "org_level":
        # Said of the org, naming no workspace at all.
        for key in ("team_id", "context_team_id"):
            left.pop(key)
    assert bot.send(east.event_request(left)).status == 200
    bot.standin.revoke_team(ORG)

    # The org's tokens are gone at once; T1's own install stays.
    assert installations(bot) == [(T1, None, False)]
    assert bot.run(installed_teams(bot.rt)) == {T1}
    with unit_of_work(bot.rt.engine) as session:
        for team in (EAST, WEST):
            ws = session.get(Workspace, team)
            assert ws is not None and ws.uninstalled_at is not None
            assert session.exec(team_select(Deal, team)).all(), "kept during the grace period"
            assert not session.exec(team_select(Nudge, team, Nudge.state == "pending")).all()
        t1 = session.get(Workspace, T1)
        assert t1 is None or t1.uninstalled_at is None

    # A request from the org now is not served.
    bot.standin.reset_calls()
    org_deal(bot, WEST, DEALS_WEST, REP_WEST, BOSS_WEST)
    bot.tick()
    assert not posts_to(bot, REP_WEST)

    clock.advance(timedelta(days=31))
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        for team in (EAST, WEST):
            assert session.exec(team_select(Deal, team)).all() == []
            assert session.exec(team_select(Person, team)).all() == []
            assert session.get(Workspace, team) is None
        assert session.exec(team_select(Deal, T1)).all(), "the other workspace keeps its data"
    assert not [c for c in bot.standin.calls if c.response.get("error") == "token_revoked"]


def test_installing_the_org_again_within_the_grace_period_keeps_the_data(
    grid_bot: RunningBot, clock: FakeClock
) -> None:
    bot = grid_bot
    install(bot, ORG, ADMIN)
    org_deal(bot, EAST, DEALS_EAST, REP_EAST, BOSS_EAST)
    east = org_requests(EAST, bot)
    uninstalled = east.event_request({"type": "app_uninstalled", "event_ts": "3.0"})
    assert bot.send(uninstalled).status == 200
    bot.standin.revoke_team(ORG)
    clock.advance(timedelta(days=20))
    assert install(bot, ORG, ADMIN)[0] == 200
    clock.advance(timedelta(days=20))
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(team_select(Deal, EAST)).all(), "installed again: nothing purged"
        ws = session.get(Workspace, EAST)
        assert ws is not None and ws.uninstalled_at is None
    bot.standin.reset_calls()
    org_deal(bot, EAST, DEALS_EAST, BOSS_EAST, REP_EAST)
    bot.tick()
    assert {t for t, _ in posts_to(bot, BOSS_EAST)} == {ORG}


def test_a_rep_of_the_org_clicks_through_a_loss_debrief_with_the_org_token(
    grid_bot: RunningBot,
) -> None:
    """Interactivity from a workspace of the org (block actions, a modal, its
    submission; the payloads carry the org and `is_enterprise_install`)."""
    install(grid_bot, ORG, ADMIN)
    bot = dataclasses.replace(grid_bot, slack=org_requests(WEST, grid_bot))
    slack = bot.slack
    event = slack.message_event(
        f"Closed Lost: Initech <@{REP_WEST}>", channel=DEALS_WEST, user=BOSS_WEST
    )
    assert bot.send(slack.event_request(event)).status == 200
    bot.tick()
    click(bot, REP_WEST, "loss_mode_helped")
    click(bot, REP_WEST, "loss_log_open")
    view = last_modal(bot)
    assert view["callback_id"] == "loss_log"
    submit(bot, REP_WEST, view, LOSS_ANSWERS)
    click(bot, REP_WEST, "log_confirm")
    with unit_of_work(bot.rt.engine) as session:
        [run] = session.exec(team_select(RitualRun, WEST)).all()
        assert run.state == "logged" and run.data["client"] == LOSS_ANSWERS
    used = {
        bot.standin.team_of_token(_token(c.headers))
        for c in bot.standin.calls
        if c.method.startswith(("chat.", "views.", "conversations."))
    }
    assert used == {ORG}
    assert not crossed(bot), crossed(bot)
    assert_all_block_kit_valid(bot)


def test_two_workspaces_needing_the_expiring_org_token_at_once_refresh_it_once(
    grid_bot: RunningBot, clock: FakeClock
) -> None:
    """The org's refresh token works once: East and West asking together for the
    expiring token share one refresh, and both get the new token."""
    bot = grid_bot
    install(bot, ORG, ADMIN)
    org_deal(bot, EAST, DEALS_EAST, REP_EAST, BOSS_EAST)
    org_deal(bot, WEST, DEALS_WEST, REP_WEST, BOSS_WEST)
    tokens = bot.rt.tokens
    assert tokens is not None
    clock.advance(timedelta(hours=11))
    tokens.recheck_seconds = 0
    bot.standin.reset_calls()

    async def both() -> list[str]:
        return list(await asyncio.gather(tokens.bot_token(EAST), tokens.bot_token(WEST)))

    east, west = bot.run(both())
    assert east == west
    refreshes = bot.standin.calls_to("oauth.v2.access")
    assert len(refreshes) == 1 and refreshes[0].ok, [c.response for c in refreshes]
    assert bot.standin.team_of_token(east) == ORG


def test_a_workspace_of_the_org_has_its_crm_webhook_once_seen(grid_bot: RunningBot) -> None:
    bot = grid_bot
    install(bot, ORG, ADMIN)
    secret = team_secret(CRM_SECRET, WEST)
    # Never seen yet: nothing says West is the org's.
    assert crm_post(bot, f"/crm/webhook/{WEST}", secret, owner_slack_id=REP_WEST).status == 404
    slack = org_requests(WEST, bot)
    event = slack.message_event("hello", channel=DEALS_WEST, user=BOSS_WEST)
    assert bot.send(slack.event_request(event)).status == 200
    result = crm_post(bot, f"/crm/webhook/{WEST}", secret, owner_slack_id=REP_WEST)
    assert result.status == 200, result.body
    # Another workspace's secret is still refused.
    other = team_secret(CRM_SECRET, EAST)
    assert crm_post(bot, f"/crm/webhook/{WEST}", other, owner_slack_id=REP_WEST).status == 401
    bot.tick()
    assert posts_to(bot, REP_WEST) and {t for t, _ in posts_to(bot, REP_WEST)} == {ORG}
    with unit_of_work(bot.rt.engine) as session:
        assert [d.rep_slack_id for d in session.exec(team_select(Deal, WEST))] == [REP_WEST]


def test_a_workspace_install_of_its_own_and_the_org_install_leave_separately(
    grid_bot: RunningBot, clock: FakeClock
) -> None:
    """East also installed the app itself: its own token comes first; uninstalling its
    own install leaves it served by the org's; the org leaving spares West's data only
    if West had its own install (it has not), and East's own install keeps East's."""
    bot = grid_bot
    install(bot, ORG, ADMIN)
    install(bot, EAST, BOSS_EAST)
    own = org_requests(EAST, bot)
    own.org_install = False  # East's requests now come for its own install
    event = own.message_event(
        f"Closed Won: Initech <@{REP_EAST}>", channel=DEALS_EAST, user=BOSS_EAST
    )
    assert bot.send(own.event_request(event)).status == 200
    bot.tick()
    assert {t for t, _ in posts_to(bot, REP_EAST)} == {EAST}

    # East removes its own install: the org's still serves it, nothing is marked.
    assert bot.send(own.event_request({"type": "app_uninstalled", "event_ts": "4.0"})).status == 200
    bot.standin.revoke_team(EAST)
    with unit_of_work(bot.rt.engine) as session:
        ws = session.get(Workspace, EAST)
        assert ws is not None and ws.uninstalled_at is None
    assert installations(bot) == [(None, ORG, True)]
    org_deal(bot, EAST, DEALS_EAST, BOSS_EAST, REP_EAST)
    bot.tick()
    assert {t for t, _ in posts_to(bot, BOSS_EAST)} == {ORG}

    # East installs itself again, then the org leaves: East keeps its data, West's goes.
    install(bot, EAST, BOSS_EAST)
    org_deal(bot, WEST, DEALS_WEST, REP_WEST, BOSS_WEST)
    west = org_requests(WEST, bot)
    assert (
        bot.send(west.event_request({"type": "app_uninstalled", "event_ts": "5.0"})).status == 200
    )
    bot.standin.revoke_team(ORG)
    clock.advance(timedelta(days=31))
    bot.tick()
    with unit_of_work(bot.rt.engine) as session:
        assert session.exec(team_select(Deal, EAST)).all()
        assert session.exec(team_select(Deal, WEST)).all() == []
