"""Privacy choices a person makes: sharing a logged lesson with the team, and
`/loop forget-me`. Who may click what is checked before these run (handlers/guard.py)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.messages import Built, Texts, as_built, ephemeral
from bot.messages.blocks import actions, button, section
from bot.runtime import Runtime
from bot.slack.errors import api_error
from handlers.debrief_replies import read_click, tell
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage.db import unit_of_work
from storage.debriefs import LOGGED, debrief_run, update_data
from storage.forget import forget_person
from storage.models import Deal

log = logging.getLogger(__name__)

SHARE_ACTION = "privacy_share"
FORGET_CONFIRM = "forget_me_confirm"
FORGET_CANCEL = "forget_me_cancel"


def share_button(t: Texts, deal_id: int) -> dict[str, Any]:
    return button(t("privacy.button_share"), SHARE_ACTION, str(deal_id))


def forget_prompt(t: Texts) -> Built:
    return as_built(
        t("privacy.forget_ask"),
        [
            section(t("privacy.forget_ask")),
            actions(
                "forget_me",
                button(t("privacy.button_forget"), FORGET_CONFIRM, "me", style="danger"),
                button(t("privacy.button_keep"), FORGET_CANCEL, "me"),
            ),
        ],
    )


def share_lesson(rt: Runtime, deal_id: int) -> str | None:
    """Blocking: mark the logged debrief shared; the account's name, or None when there
    is no logged debrief to share yet."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        run = debrief_run(session=session, deal_id=deal_id)
        if deal is None or run is None or run.state != LOGGED:
            return None
        update_data(run, now, shared=True, shared_at=now.isoformat())
        session.add(run)
        return deal.account


async def forget_command(call: CommandCall) -> None:
    built = forget_prompt(call.t)
    await call.ack(text=built.text, blocks=built.blocks, response_type="ephemeral")


def _forget(rt: Runtime, team_id: str, user_id: str) -> int:
    with unit_of_work(rt.engine) as session:
        return forget_person(session=session, team_id=team_id, slack_id=user_id)


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("forget-me", forget_command, help_key="privacy.help_forget", aliases=("forgetme",))

    @app.action(SHARE_ACTION)
    async def on_share(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = read_click(body, rt)

        async def work() -> None:
            t = await reader_texts(rt, click.team_id, click.user_id)
            account = await rt.db(share_lesson, rt, click.deal_id) if click.deal_id else None
            if account is None:
                await tell(respond, t("errors.deal_gone"))
                return
            await tell(respond, t("privacy.shared", account=account))

        rt.spawn(work(), name=f"share:{click.value}")

    @app.action(FORGET_CONFIRM)
    async def on_forget(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = read_click(body, rt)

        async def work() -> None:
            # The words first: afterwards nothing about them (not even their language) is kept.
            t = await reader_texts(rt, click.team_id, click.user_id)
            rows = await rt.db(_forget, rt, click.team_id, click.user_id)
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

        rt.spawn(work(), name="forget-me")

    @app.action(FORGET_CANCEL)
    async def on_keep(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = read_click(body, rt)
        t = await reader_texts(rt, click.team_id, click.user_id)
        built = ephemeral(t("privacy.kept"))
        await respond(text=built.text, blocks=built.blocks, replace_original=True)
