"""Privacy choices a person makes: sharing a logged lesson with the team, and
`/loop forget-me`. Who may click what is checked before these run (handlers/guard.py)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.messages import ephemeral
from bot.messages.privacy import forget_prompt
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.clicks import show_choice
from bot.slack.errors import api_error
from handlers.common import rt_of
from handlers.debrief_replies import Click, read_click, tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import debriefs, stories
from storage.forget import forget_person

log = logging.getLogger(__name__)


async def forget_command(call: CommandCall) -> None:
    built = forget_prompt(call.t)
    await call.ack(text=built.text, blocks=built.blocks, response_type="ephemeral")


async def _share(rt: Runtime, respond: AsyncRespond, click: Click, body: dict[str, Any]) -> None:
    t = await reader_texts(rt, click.team_id, click.user_id)
    account = (
        await rt.tx(debriefs.share_lesson, deal_id=click.deal_id, now=rt.clock.now())
        if click.deal_id
        else None
    )
    if account is None:
        await tell(respond, t("errors.deal_gone"))
        return
    # The Share button makes way for the choice; Edit and the rest stay on the row.
    await show_choice(t, rt.client, respond, body, whole_row=False)
    await tell(respond, t("privacy.shared", account=account))


async def on_share(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    click = read_click(body, rt)
    rt.spawn(_share(rt, respond, click, body), name=f"share:{click.value}")


async def _forget(rt: Runtime, respond: AsyncRespond, click: Click) -> None:
    # The words first: afterwards nothing about them (not even their language) is kept.
    t = await reader_texts(rt, click.team_id, click.user_id)
    posted = await rt.tx(stories.posted_by, write=False, team_id=click.team_id, rep=click.user_id)
    rows = await rt.tx(forget_person, team_id=click.team_id, slack_id=click.user_id)
    # The stories the bot posted for them in the stories channel go too.
    for channel, ts in posted:
        try:
            await rt.client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as e:
            log.warning("forget-me: story %s/%s not deleted: %s", channel, ts, api_error(e))
    rt.locales.pop(click.user_id, None)
    rt.person_locks.pop(click.user_id, None)
    rt.dm_channels.pop((click.team_id, click.user_id), None)
    log.info("forget-me: %d rows deleted or anonymised", rows)
    built = ephemeral(t("privacy.forgotten"))
    await respond(text=built.text, blocks=built.blocks, replace_original=True)
    # Their App Home still shows what it showed; replace it with the empty one.
    try:
        await rt.client.views_publish(
            user_id=click.user_id, view=messages.home_view(t, [], tz=None)
        )
    except SlackApiError as e:
        log.info("forget-me: App Home not cleared (%s)", api_error(e))


async def on_forget(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(_forget(rt, respond, read_click(body, rt)), name="forget-me")


async def on_keep(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    click = read_click(body, rt)
    t = await reader_texts(rt, click.team_id, click.user_id)
    built = ephemeral(t("privacy.kept"))
    await respond(text=built.text, blocks=built.blocks, replace_original=True)


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("forget-me", forget_command, help_key="privacy.help_forget", aliases=("forgetme",))
    app.action(ids.PRIVACY_SHARE)(on_share)
    app.action(ids.FORGET_CONFIRM)(on_forget)
    app.action(ids.FORGET_CANCEL)(on_keep)
