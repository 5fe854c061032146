"""Lessons, the front half of story sharing (seed 004: lesson -> applied -> story, with
credit). "Keep a lesson" under a logged debrief, a manager's call result or a logged win
opens a small modal: one of the takeaways (or the rep's own words), kept private or
shared with the team. FOLLOWUP_DAYS later a `lesson_try` DM asks "Did you get to try
it?" — Yes opens the story modal with the lesson picked; Not yet asks once more; Drop it
ends it. A story that applies a teammate's shared lesson credits them in the thread,
and a `lesson_credit` DM tells them (bot/stories/thread.py plans it once per story).

Who may click is checked before these run (handlers/guard.py): Keep is the deal's
rep's; the ask's buttons are the nudge's person's."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Built, Texts, ephemeral
from bot.messages import lessons as msg
from bot.messages.blocks import read_metadata
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.acks import open_view_after_ack
from bot.stories.modal import open_story_modal
from bot.workspace_settings import effective
from handlers.common import DealClick, deal_button
from handlers.debrief_replies import parse_deal_id, post_dm, redraw_answered, team_of, tell
from handlers.loop_command import LoopCommand, reader_texts
from storage import debriefs
from storage import lessons as store
from storage.models import Nudge, Person

TRY_ACTIONS = re.compile(rf"^(?:{'|'.join(ids.LESSON_TRY_ANSWERS)})$")


async def ask_days(rt: Runtime, team_id: str) -> int:
    # The workspace's follow-up delay, as "Follow it up" uses: long enough for a next deal
    # to come along, and set by an admin in App Home.
    return (await effective(rt, team_id)).followup_days


# --- keeping a lesson --------------------------------------------------------------------------


@deal_button("lesson-keep")
async def on_keep(c: DealClick) -> None:
    """The modal, with the takeaways read from the stored debrief and call."""
    items = store.candidates(c.state.run, c.state.call)
    view = msg.keep_modal(
        c.t,
        deal_id=c.deal_id,
        account=c.state.deal.account,
        items=[item.text for item in items],
        metadata={"user": c.click.user_id},
    )
    open_view_after_ack(c.rt, c.client, c.click.trigger_id, view, name=ids.LESSON_KEEP_MODAL)


def _field(state: dict[str, Any], block: str) -> dict[str, Any]:
    return dict(((state.get(block) or {}).get("v")) or {})


def read_keep(view: dict[str, Any]) -> tuple[int | None, str, bool]:
    """(the takeaway picked, by its index; the words typed; shared with the team)."""
    state = (view.get("state") or {}).get("values") or {}
    picked = str((_field(state, ids.LESSON_PICK_FIELD).get("selected_option") or {}).get("value"))
    text = str(_field(state, ids.LESSON_TEXT_FIELD).get("value") or "").strip()
    share = _field(state, ids.LESSON_SHARE_FIELD).get("selected_option") or {}
    index = int(picked) if picked.isdigit() and len(picked) < 4 else None
    return index, text, share.get("value") == "team"


async def _keep(rt: Runtime, body: dict[str, Any], deal_id: int) -> None:
    team_id = team_of(body, rt)
    user_id = str((body.get("user") or {}).get("id") or "")
    t = await reader_texts(rt, team_id, user_id)
    index, typed, shared = read_keep(body.get("view") or {})
    state = await rt.tx(debriefs.deal_state, write=False, deal_id=deal_id)
    if state is None:
        await post_dm(rt, team_id, user_id, ephemeral(t("errors.deal_gone")))
        return
    items = store.candidates(state.run, state.call)
    chosen = items[index] if index is not None and index < len(items) else None
    text = typed or (chosen.text if chosen else "")
    days = await ask_days(rt, team_id)
    kept = await rt.tx(
        store.keep,
        team_id=team_id,
        owner=user_id,
        deal_id=deal_id,
        text=text,
        shared=shared,
        source=chosen.source if chosen else (items[0].source if items else "debrief"),
        now=rt.clock.now(),
        ask_after=timedelta(days=days),
    )
    if kept is None:
        await post_dm(rt, team_id, user_id, ephemeral(t("lessons.error_empty")))
        return
    lesson, new = kept
    reply = msg.kept_reply(t, text=lesson.text, shared=lesson.shared, new=new, days=days)
    await post_dm(rt, team_id, user_id, ephemeral(reply))


async def on_keep_submit(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    rt = rt_of(context)
    view = body.get("view") or {}
    index, typed, _shared = read_keep(view)
    if index is None and not typed:
        team_id = team_of(body, rt)
        t = await reader_texts(rt, team_id, str((body.get("user") or {}).get("id") or ""))
        await ack(
            response_action="errors", errors={ids.LESSON_TEXT_FIELD: t("lessons.error_empty")}
        )
        return
    await ack()
    deal_id = parse_deal_id(str(read_metadata(view).get("deal") or ""))
    if deal_id is None:
        return
    rt.spawn(_keep(rt, body, deal_id), name=f"lesson-keep:{deal_id}")


# --- "Did you get to try it?" --------------------------------------------------------------------


def try_built(t: Texts, ask: store.TryAsk, days: int, answer: str | None = None) -> Built:
    assert ask.nudge.id is not None
    return msg.try_dm(
        t,
        nudge_id=ask.nudge.id,
        lesson=ask.lesson.text,
        account=ask.lesson.account,
        answer=answer,
        last=ask.round >= store.LAST_ROUND,
        days=days,
    )


async def render_try(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    """None (skipped) when the lesson is gone, dropped, or already tried."""
    assert nudge.id is not None
    ask = await rt.tx(store.try_ask, write=False, nudge_id=nudge.id)
    if ask is None or ask.lesson.state != store.OPEN:
        return None
    days = await ask_days(rt, nudge.team_id)
    return try_built(Texts(rt.catalog, person.locale), ask, days)


async def _answer(
    rt: Runtime, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    action = body["actions"][0]
    user_id = str(body["user"]["id"])
    team_id = team_of(body, rt)
    value = str(action.get("value") or "")
    answer = msg.TRY_ANSWER_OF[str(action["action_id"])]
    days = await ask_days(rt, team_id)
    result = (
        await rt.tx(
            store.record_try,
            nudge_id=int(value),
            answer=answer,
            now=rt.clock.now(),
            again_after=timedelta(days=days),
        )
        if value.isdigit() and len(value) < 10
        else None
    )
    t = await reader_texts(rt, team_id, user_id)
    if result is None:
        await tell(respond, t("lessons.gone"))
        return
    ask, _new = result
    if answer == store.YES and ask.answer == store.YES:
        # Every "Yes" click opens the modal (the first one may have been closed unsent).
        problem = await open_story_modal(
            rt,
            client,
            t,
            trigger_id=str(body.get("trigger_id") or ""),
            team_id=team_id,
            user_id=user_id,
            deal_id=None,
            lesson=ask.lesson.text,
            lesson_id=ask.lesson.id,
        )
        if problem is not None:
            await tell(respond, problem)
    await redraw_answered(rt, body, respond, try_built(t, ask, days, ask.answer))


async def on_try_answer(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_answer(rt, body, client, respond), name="lesson-try-answer")


# --- the credit ----------------------------------------------------------------------------------


async def render_credit(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    """None when the story was deleted (or the lesson forgotten) before the DM went out."""
    assert nudge.id is not None
    found = await rt.tx(store.credit, write=False, nudge_id=nudge.id)
    if found is None:
        return None
    return msg.credit_dm(
        Texts(rt.catalog, person.locale),
        author=found.story.rep_slack_id,
        lesson=found.lesson.text,
        account=found.lesson.account,
        source=found.lesson.source,
        link=found.story.permalink,
    )


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    app.action(ids.LESSON_KEEP)(on_keep)
    app.view(ids.LESSON_KEEP_MODAL)(on_keep_submit)
    app.action(TRY_ACTIONS)(on_try_answer)


NUDGE_KINDS = (
    NudgeKind(store.LESSON_TRY, render_try, policy=KindPolicy(max_late=None, when_quiet="wait")),
    NudgeKind(store.LESSON_CREDIT, render_credit, policy=KindPolicy(when_quiet="wait")),
)
