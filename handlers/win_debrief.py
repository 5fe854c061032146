"""Win debrief: the deal DM's "Log what they said" opens a modal for why the client chose
us, what appealed most, a quote (with the client's permission to reuse it) and the
strengths the rep hadn't seen. Saving again edits the same answers."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import debrief as msg
from bot.messages.blocks import read_metadata
from bot.runtime import Runtime
from bot.slack.acks import open_view_after_ack
from handlers.debrief_replies import (
    audience,
    deal_gone,
    load_deal,
    parse_deal_id,
    post_dm,
    read_click,
    team_of,
    texts_for,
)
from storage.db import unit_of_work
from storage.debriefs import LOGGED, debrief_run, update_data
from storage.models import Deal

log = logging.getLogger(__name__)


def _save(rt: Runtime, deal_id: int, answers: dict[str, Any]) -> Deal | None:
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        deal = session.get(Deal, deal_id)
        run = debrief_run(session=session, deal_id=deal_id)
        if deal is None or run is None:
            return None
        update_data(run, now, win=answers, logged_at=now.isoformat())
        run.state = LOGGED
        session.add(run)
        return deal


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.action("win_log_open")
    async def on_open(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        click = read_click(body, rt)
        t = await texts_for(rt, click.team_id, click.user_id)
        state = await load_deal(rt, click.deal_id)
        if state is None or state.deal.id is None:
            await deal_gone(respond, t)
            return
        initial = state.run.data.get("win") if state.run is not None else None
        view = msg.win_log_modal(
            t, deal_id=state.deal.id, initial=initial, audience=audience(t, state, "rep")
        )
        open_view_after_ack(rt, client, click.trigger_id, view, name="win_log")

    @app.view("win_log")
    async def on_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body["view"]
        user_id = str(body["user"]["id"])
        t = await texts_for(rt, team_of(body, rt), user_id)
        values = view["state"]["values"]
        answers: dict[str, Any] = msg.read_text_values(values, msg.WIN_TEXT_FIELDS)
        answers["quote_ok"] = msg.read_checked(values, "quote_ok")
        errors = msg.missing_required(answers, msg.WIN_REQUIRED, t("errors.required_field"))
        if answers["quote_ok"] and not answers["quote"]:
            errors["quote"] = t("errors.required_field")
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        deal_id = parse_deal_id(str(read_metadata(view).get("deal") or ""))
        deal = await rt.db(_save, rt, deal_id, answers) if deal_id else None
        if deal is None or deal.id is None:
            await ack(response_action="errors", errors={"why": t("errors.deal_gone")})
            return
        await ack()
        built = msg.win_logged(
            t, deal_id=deal.id, account=deal.account, quote_ok=bool(answers["quote_ok"])
        )
        rt.spawn(post_dm(client, user_id, built), name=f"win-saved:{deal_id}")
