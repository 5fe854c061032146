"""`/loop prep <account>`: the feedback-session cheat sheet, answered in the ack
(ephemeral), with what the team already knows about that account."""

from __future__ import annotations

import re
from datetime import datetime

from slack_bolt.async_app import AsyncApp

from bot.access import may_read_debrief, may_read_private
from bot.accounts import parse_account
from bot.messages import lessons as lessons_msg
from bot.messages import quotes as quotes_msg
from bot.messages.prep import AccountKnowledge, prep_sheet
from bot.nudges.quiet import zone_of
from bot.runtime import Runtime
from handlers.loop_command import CommandCall, LoopCommand
from storage import lessons as lesson_store
from storage.accounts import AccountFacts, account_facts
from storage.debriefs import DebriefData, debrief_data
from storage.focus import current_focus_text
from storage.models import RitualRun
from storage.quotes import prep_quotes
from storage.run_data import concern_data


def _local_date(when: datetime | None, tz: str | None) -> str:
    # ISO text here; Texts writes it in the reader's locale (bot/messages/formats.py).
    return when.astimezone(zone_of(tz)).date().isoformat() if when else ""


def _readable_debrief(facts: AccountFacts, user_id: str) -> RitualRun | None:
    """The latest debrief the reader may read: theirs, one a rep shared with the team, or
    one whose manager call they were handed."""
    for seen in facts.debriefs:
        run = seen.run
        shared = bool(debrief_data(run).shared)
        owner = run.user_slack_id
        if may_read_debrief(user_id, owner=owner, shared=shared, call_manager=seen.call_manager):
            return run
    return None


def knowledge(facts: AccountFacts, user_id: str) -> AccountKnowledge:
    """What the reader may see of it: another rep's concerns only when private notes are
    theirs to read, another rep's debrief only when shared (bot/access.py)."""
    tz, deal, debrief = facts.reader_tz, facts.deal, _readable_debrief(facts, user_id)
    concerns = [c for c in facts.concerns if may_read_private(user_id, c.user_slack_id)]
    data = debrief_data(debrief) if debrief is not None else DebriefData()
    return AccountKnowledge(
        outcome=deal.outcome if deal else None,
        outcome_date=_local_date(deal.created_at, tz) if deal else "",
        client=dict(data.client or {}),
        win=dict(data.win or {}),
        concerns=[
            (concern_data(c).concern, _local_date(c.created_at, tz))
            for c in concerns
            if concern_data(c).concern
        ],
        teed_up=facts.teed_up,
        shared_by=(
            debrief.user_slack_id
            if debrief is not None and debrief.user_slack_id != user_id and data.shared
            else None
        ),
    )


# `/loop prep <account> — <tag>`: the industry or product line to find quotes for.
# A plain hyphen only with spaces round it: "Hewlett-Packard" is one account.
TAG_SEPARATOR = re.compile(r"\s+(?:—|–|--)\s*|\s+-\s+")


def split_tag(args: str) -> tuple[str, str]:
    account, _, tag = TAG_SEPARATOR.sub(" — ", args.strip(), count=1).partition(" — ")
    return account, " ".join(tag.split())


async def prep_command(call: CommandCall) -> None:
    account_text, tag = split_tag(call.args)
    account = parse_account(account_text)
    if not account:
        await call.reply(call.t("prep.usage"))
        return
    facts = await call.rt.tx(
        account_facts,
        write=False,
        team_id=call.team_id,
        user_id=call.user_id,
        account=account,
    )
    known = knowledge(facts, call.user_id)
    found = await call.rt.tx(
        prep_quotes, write=False, team_id=call.team_id, account=account, tag=tag
    )
    tz = facts.reader_tz
    shown = str(known.win.get("quote") or "").strip() if known.win.get("quote_ok") else ""
    lines = [
        quotes_msg.QuoteLine(q.account, q.rep, _local_date(q.won_at, tz), q.tag, q.text)
        for q in found[1]
        if q.text != shown
    ]
    quotes = (
        quotes_msg.prep_section(call.t, account=account, tag=found[0], quotes=lines)
        if lines
        else ""
    )
    focus = await call.rt.tx(
        current_focus_text, write=False, team_id=call.team_id, user_id=call.user_id
    )
    shared = await call.rt.tx(
        lesson_store.for_prep,
        write=False,
        team_id=call.team_id,
        viewer=call.user_id,
        account=account,
        outcome=facts.deal.outcome if facts.deal else None,
    )
    lessons = lessons_msg.prep_section(
        call.t, [lessons_msg.LessonLine(p.text, True, False, p.account, p.owner) for p in shared]
    )
    built = prep_sheet(
        call.t,
        account=account,
        known=known,
        quotes=quotes,
        focus=focus,
        lessons=lessons if shared else "",
    )
    await call.ack(text=built.text, blocks=built.blocks, response_type="ephemeral")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("prep", prep_command, help_key="help.line_prep")
