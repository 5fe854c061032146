"""Win debrief: the deal DM's "Log what they said" opens a modal for why the client chose
us, what appealed most, a quote (with the client's permission to reuse it) and the
strengths the rep hadn't seen. Saving again edits the same answers."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Texts
from bot.messages import debrief as msg
from bot.messages.blocks import read_metadata
from bot.messages.quotes import read_tag
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.acks import open_view_after_ack
from handlers.common import DealClick, deal_button, rt_of
from handlers.debrief_replies import audience, parse_deal_id, post_dm, team_of, texts_for
from storage import debriefs, quotes

log = logging.getLogger(__name__)


@deal_button("win-log-open")
async def on_open(c: DealClick) -> None:
    initial = c.state.data.win
    tags = await c.rt.tx(quotes.team_tags, write=False, team_id=c.state.deal.team_id)
    view = msg.win_log_modal(
        c.t,
        deal_id=c.deal_id,
        initial=initial,
        audience=audience(c.t, c.state, "rep"),
        tags=tags,
    )
    open_view_after_ack(c.rt, c.client, c.click.trigger_id, view, name=ids.WIN_LOG_VIEW)


def _answers(t: Texts, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The win log's answers and Slack's field errors for them."""
    answers: dict[str, Any] = msg.read_text_values(values, msg.WIN_TEXT_FIELDS)
    answers[ids.QUOTE_OK_FIELD] = msg.read_checked(values, ids.QUOTE_OK_FIELD)
    answers[ids.QUOTE_TAG_FIELD] = read_tag(values)
    errors = msg.missing_required(answers, msg.WIN_REQUIRED, t("errors.required_field"))
    if answers[ids.QUOTE_OK_FIELD] and not answers["quote"]:
        errors["quote"] = t("errors.required_field")
    return answers, errors


async def on_submit(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    view = body["view"]
    user_id = str(body["user"]["id"])
    t = await texts_for(rt, team_of(body, rt), user_id)
    answers, errors = _answers(t, view["state"]["values"])
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    deal_id = parse_deal_id(str(read_metadata(view).get(ids.META_DEAL) or ""))
    if answers[ids.QUOTE_TAG_FIELD]:
        answers[ids.QUOTE_TAG_FIELD] = await rt.tx(
            quotes.canonical_tag,
            write=False,
            team_id=team_of(body, rt),
            tag=answers[ids.QUOTE_TAG_FIELD],
        )
    deal = (
        await rt.tx(debriefs.save_win, deal_id=deal_id, answers=answers, now=rt.clock.now())
        if deal_id
        else None
    )
    if deal is None or deal.id is None:
        await ack(response_action="errors", errors={"why": t("errors.deal_gone")})
        return
    await ack()
    built = msg.win_logged(
        t, deal_id=deal.id, account=deal.account, quote_ok=bool(answers[ids.QUOTE_OK_FIELD])
    )
    rt.spawn(post_dm(rt, team_of(body, rt), user_id, built), name=f"win-saved:{deal_id}")


def register(app: AsyncApp, rt: Runtime) -> None:
    app.action(ids.WIN_LOG_OPEN)(on_open)
    app.view(ids.WIN_LOG_VIEW)(on_submit)
