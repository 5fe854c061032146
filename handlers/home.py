"""App Home: what someone sees when they open the app — their open loops, their recent
deals and, for a manager, the team's latest deals."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.messages import TeamMember, Texts
from bot.runtime import Runtime, rt_of
from bot.slack.errors import api_error
from bot.slack.people import load_person
from storage.home import RepRecord, home_data

log = logging.getLogger(__name__)


def team_member(record: RepRecord) -> TeamMember:
    last = record.last
    if last is None:
        return TeamMember(record.rep)
    return TeamMember(record.rep, last.account, last.outcome, last.created_at, **record.counts)


async def publish_home(rt: Runtime, team_id: str, user_id: str) -> None:
    try:
        person = await load_person(rt, team_id=team_id, user_id=user_id)
    except SlackApiError as e:
        # A user Slack cannot describe (deleted, or an id from a forged event) has no
        # Home to draw: one line, no traceback.
        log.warning("no App Home for %s: %s", user_id, api_error(e))
        return
    data = await rt.tx(home_data, write=False, team_id=team_id, user_id=user_id)
    view = messages.home_view(
        Texts(rt.catalog, person.locale),
        data.deals,
        tz=person.tz,
        concerns=data.concerns,
        open_debriefs=data.open_debriefs,
        team=[team_member(r) for r in data.team],
        now=rt.clock.now(),
    )
    await rt.client.views_publish(user_id=user_id, view=view)


async def on_home_opened(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    user = event.get("user")
    if event.get("tab") != "home" or not user or not isinstance(user, str):
        return
    rt = rt_of(context)
    team_id = str(body.get("team_id") or rt.team_id or "")
    rt.spawn(publish_home(rt, team_id, user), name="home")


def register(app: AsyncApp, rt: Runtime) -> None:
    app.event("app_home_opened")(on_home_opened)
