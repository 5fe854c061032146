"""`/loop prep <account>`: the feedback-session cheat sheet, answered in the ack
(ephemeral), with what the team already knows about that account."""

from __future__ import annotations

from datetime import datetime

from slack_bolt.async_app import AsyncApp

from bot.access import may_read_private
from bot.messages.prep import AccountKnowledge, prep_sheet
from bot.runtime import Runtime
from handlers.loop_command import CommandCall, LoopCommand
from handlers.screen_out import zone
from handlers.tee_up import parse_account
from storage.accounts import last_deal, last_visible_debrief, open_concerns, teeup_agreement
from storage.db import unit_of_work
from storage.people import get_person


def _local_date(when: datetime | None, tz: str | None) -> str:
    return when.astimezone(zone(tz)).date().isoformat() if when else ""


def read_knowledge(rt: Runtime, *, team_id: str, user_id: str, account: str) -> AccountKnowledge:
    """A few indexed reads on the local database: quick enough to answer in the ack."""
    with unit_of_work(rt.engine) as session:
        person = get_person(session=session, team_id=team_id, slack_id=user_id)
        tz = person.tz if person else None
        deal = last_deal(session=session, team_id=team_id, account=account)
        # Another rep's notes only when they shared the lesson (bot/access.py).
        debrief = last_visible_debrief(
            session=session, team_id=team_id, account=account, viewer=user_id
        )
        concerns = [
            c
            for c in open_concerns(session=session, team_id=team_id, account=account)
            if may_read_private(user_id, c.user_slack_id)
        ]
        agreed = teeup_agreement(session, team_id, account) is not None
    data = debrief.data if debrief is not None else {}
    return AccountKnowledge(
        outcome=deal.outcome if deal else None,
        outcome_date=_local_date(deal.created_at, tz) if deal else "",
        client=dict(data.get("client") or {}),
        win=dict(data.get("win") or {}),
        concerns=[
            (str(c.data.get("concern") or ""), _local_date(c.created_at, tz))
            for c in concerns
            if c.data.get("concern")
        ],
        teed_up=agreed,
        shared_by=(
            debrief.user_slack_id
            if debrief is not None
            and debrief.user_slack_id != user_id
            and (debrief.data or {}).get("shared")
            else None
        ),
    )


async def prep_command(call: CommandCall) -> None:
    account = parse_account(call.args)
    if not account:
        await call.reply(call.t("prep.usage"))
        return
    known = await call.rt.db(
        read_knowledge, call.rt, team_id=call.team_id, user_id=call.user_id, account=account
    )
    built = prep_sheet(call.t, account=account, known=known)
    await call.ack(text=built.text, blocks=built.blocks, response_type="ephemeral")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("prep", prep_command, help_key="help.line_prep")
