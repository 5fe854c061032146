"""Follow it up ("tee it up, follow it up, close it up"; make a plan from what you
learned): FOLLOWUP_DAYS after a rep logged a debrief, win or loss, one DM asks "You
planned to <takeaway>. Done?" with Done / Still on it / Drop. The DM is a
`takeaway_followup` nudge that a planner adds; the click (the rep's own, checked by the
guard) records the answer once and the message shows it in place of the buttons.
"Still on it" asks once more after as long again; that second ask is the last."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.messages import Built, Texts
from bot.messages.followup import ANSWER_OF, followup_dm
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.people import load_person
from bot.workspace_settings import effective, for_all_teams_blocking
from handlers.debrief_replies import redraw_answered, tell
from handlers.loop_command import LoopCommand, reader_texts
from storage import followups
from storage import lessons as lesson_store
from storage.kinds import Ritual
from storage.models import Nudge, Person

ANSWER_ACTIONS = re.compile(rf"^(?:{'|'.join(ids.FOLLOWUP_ANSWERS)})$")
# How often the planner looks for newly logged debriefs: the follow-up is days away, so
# minutes late costs nothing, and the look is one query.
PLAN_EVERY = timedelta(minutes=10)


async def after(rt: Runtime, team_id: str) -> timedelta:
    return timedelta(days=(await effective(rt, team_id)).followup_days)


async def built_for(
    rt: Runtime, t: Texts, found: followups.FollowUp, answer: str | None = None
) -> Built:
    assert found.nudge.id is not None
    return followup_dm(
        t,
        nudge_id=found.nudge.id,
        account=found.deal.account,
        planned=followups.planned(found.run),
        won=found.run.ritual == Ritual.WIN_DEBRIEF,
        answer=answer,
        last=found.round >= followups.LAST_ROUND,
        days=(await effective(rt, found.nudge.team_id)).followup_days,
    )


async def render_followup(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    """None (skipped) when the deal or its debrief is gone, nothing is planned any more,
    or everything planned was kept as a lesson (asked about on its own)."""
    assert nudge.id is not None
    found = await rt.tx(followups.followup, write=False, nudge_id=nudge.id)
    if found is None or not followups.planned(found.run):
        return None
    kept = await rt.tx(
        lesson_store.all_kept,
        write=False,
        team_id=nudge.team_id,
        owner=nudge.user_slack_id,
        texts=followups.planned(found.run),
    )
    if kept:
        return None  # each is a kept lesson: its own "Did you get to try it?" asks
    return await built_for(rt, Texts(rt.catalog, person.locale), found)


class Planner:
    """Adds the follow-ups of debriefs logged lately, at most every PLAN_EVERY."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    async def __call__(self, rt: Runtime) -> None:
        now = rt.clock.now()
        if self.last is not None and now - self.last < PLAN_EVERY:
            return
        self.last = now
        # Each workspace's own delay, read once for the tick.
        teams = await rt.db(for_all_teams_blocking, rt)
        default = timedelta(days=teams.of("").followup_days)
        by_team = {team: timedelta(days=s.followup_days) for team, s in teams.by_team.items()}
        await rt.tx(
            followups.plan_followups,
            now=now,
            after=default,
            after_by_team=by_team,
            # Past this, a debrief's follow-up was planned long ago (or it was logged
            # before this ritual existed, and a late question would be a surprise).
            lookback=max([default, *by_team.values()]) + timedelta(days=1),
        )


async def answer(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    action = body["actions"][0]
    user_id = str(body["user"]["id"])
    value = str(action.get("value") or "")
    team_id = str((body.get("team") or {}).get("id") or rt.team_id or "")
    result = (
        await rt.tx(
            followups.record_answer,
            nudge_id=int(value),
            answer=ANSWER_OF[str(action["action_id"])],
            now=rt.clock.now(),
            again_after=await after(rt, team_id),
        )
        if value.isdigit()
        else None
    )
    if result is None:
        t = await reader_texts(rt, team_id, user_id)
        await tell(respond, t("privacy.gone"))
        return
    found, _new = result
    # A second click shows the first answer again: the message always says what counts.
    person = await load_person(rt, team_id=found.nudge.team_id, user_id=user_id)
    t = Texts(rt.catalog, person.locale)
    await redraw_answered(rt, body, respond, await built_for(rt, t, found, found.answer))


async def on_answer(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(answer(rt, body, respond), name="followup-answer")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    app.action(ANSWER_ACTIONS)(on_answer)


NUDGE_KINDS = (
    NudgeKind(followups.KIND, render_followup, policy=KindPolicy(max_late=None, when_quiet="wait")),
)
PLANNERS = (Planner,)
