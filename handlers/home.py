"""App Home: what someone sees when they open the app — their open loops, their recent
deals and, for a manager, the team's latest deals."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot import messages
from bot.messages import TeamMember, Texts
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.slack.people import load_person
from storage.concerns import open_loops
from storage.db import unit_of_work
from storage.deals import recent_deals
from storage.debriefs import LOGGED
from storage.models import Deal, Person, RitualRun

log = logging.getLogger(__name__)

DEBRIEF_RITUALS = ("win_debrief", "loss_debrief")


@dataclass
class HomeData:
    deals: list[Deal] = field(default_factory=list)
    concerns: list[RitualRun] = field(default_factory=list)
    open_debriefs: list[Any] = field(default_factory=list)
    team: list[TeamMember] = field(default_factory=list)


@dataclass(frozen=True)
class OpenDebrief:
    account: str
    outcome: str


def _outcome_counts(session: Session, team_id: str, rep: str) -> dict[str, int]:
    rows = session.exec(
        select(Deal.outcome, func.count())
        .where(Deal.team_id == team_id, Deal.rep_slack_id == rep)
        .group_by(col(Deal.outcome))
    ).all()
    found = {str(outcome): int(n) for outcome, n in rows}
    return {k: found.get(k, 0) for k in ("won", "lost", "no_decision")}


def read_home(session: Session, team_id: str, user_id: str) -> HomeData:
    data = HomeData(
        deals=recent_deals(session=session, team_id=team_id, rep_slack_id=user_id),
        concerns=open_loops(session=session, team_id=team_id, user_slack_id=user_id),
    )
    rows = session.exec(
        select(RitualRun, Deal)
        .join(Deal, col(Deal.id) == col(RitualRun.deal_id))
        .where(
            RitualRun.team_id == team_id,
            RitualRun.user_slack_id == user_id,
            col(RitualRun.ritual).in_(DEBRIEF_RITUALS),
            RitualRun.state != LOGGED,
            Deal.status != "withdrawn",
        )
        .order_by(col(RitualRun.id).desc())
        .limit(10)
    ).all()
    data.open_debriefs = [OpenDebrief(deal.account, deal.outcome) for _run, deal in rows]
    reps = session.exec(
        select(Person.slack_id).where(Person.team_id == team_id, Person.manager_slack_id == user_id)
    ).all()
    for rep in reps:
        last = recent_deals(session=session, team_id=team_id, rep_slack_id=rep, limit=1)
        counts = _outcome_counts(session, team_id, rep)
        if last:
            data.team.append(
                TeamMember(rep, last[0].account, last[0].outcome, last[0].created_at, **counts)
            )
        else:
            data.team.append(TeamMember(rep))
    return data


async def publish_home(rt: Runtime, team_id: str, user_id: str) -> None:
    try:
        person = await load_person(rt, team_id=team_id, user_id=user_id)
    except SlackApiError as e:
        # A user Slack cannot describe (deleted, or an id from a forged event) has no
        # Home to draw: one line, no traceback.
        log.warning("no App Home for %s: %s", user_id, api_error(e))
        return

    def read() -> HomeData:
        with unit_of_work(rt.engine) as session:
            return read_home(session, team_id, user_id)

    data = await rt.db(read)
    view = messages.home_view(
        Texts(rt.catalog, person.locale),
        data.deals,
        tz=person.tz,
        concerns=data.concerns,
        open_debriefs=data.open_debriefs,
        team=data.team,
    )
    await rt.client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not user or not isinstance(user, str):
            return
        team_id = str(body.get("team_id") or rt.team_id or "")
        rt.spawn(publish_home(rt, team_id, user), name="home")
