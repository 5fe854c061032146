"""What the debrief listeners share: reading a click, finding the deal behind a button,
and answering — in the DM, in place, or ephemerally with what to do instead.

Buttons carry the deal id (sometimes `<id>:<step>`), never the state itself: the
database is the truth, so an old button on a deleted deal says so instead of failing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.access import MAX_ID
from bot.messages import Built, Texts
from bot.messages import manager as manager_msg
from bot.nudges.delivery import deliver
from bot.runtime import Runtime
from bot.slack import ids
from bot.slack.acks import open_view_after_ack
from bot.slack.clicks import put_in_place
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from handlers.deal_intake import show_logged
from handlers.loop_command import reader_texts
from storage import debriefs

# Its home is storage now; the listeners that share this module have always found it here.
from storage.debriefs import DealState as DealState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Click:
    team_id: str
    user_id: str
    value: str
    channel: str | None
    message_ts: str | None
    trigger_id: str | None

    @property
    def deal_id(self) -> int | None:
        return parse_deal_id(self.value)

    @property
    def step(self) -> str:
        return self.value.partition(":")[2]


def parse_deal_id(value: str | None) -> int | None:
    """The deal id a button or a modal carries; None for anything no row can have (the
    database would fail on an id past its integer range instead of answering)."""
    head = str(value or "").partition(":")[0]
    return int(head) if head.isascii() and head.isdigit() and int(head) <= MAX_ID else None


def team_of(body: dict[str, Any], rt: Runtime) -> str:
    team = body.get("team") or {}
    user = body.get("user") or {}
    return str(team.get("id") or user.get("team_id") or body.get("team_id") or rt.team_id or "")


def read_click(body: dict[str, Any], rt: Runtime) -> Click:
    action = (body.get("actions") or [{}])[0]
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return Click(
        team_id=team_of(body, rt),
        user_id=str((body.get("user") or {}).get("id") or ""),
        value=str(action.get("value") or ""),
        channel=str(channel) if channel else None,
        message_ts=container.get("message_ts"),
        trigger_id=body.get("trigger_id"),
    )


def read_deal(rt: Runtime, deal_id: int | None) -> DealState | None:
    """Blocking: call through `rt.db` (or use `load_deal`)."""
    return rt.tx_blocking(debriefs.deal_state, write=False, deal_id=deal_id)


async def load_deal(rt: Runtime, deal_id: int | None) -> DealState | None:
    return await rt.tx(debriefs.deal_state, write=False, deal_id=deal_id)


async def texts_for(rt: Runtime, team_id: str, user_id: str) -> Texts:
    return await reader_texts(rt, team_id, user_id)


async def tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral answer under the clicked message; the message itself stays."""
    built = messages.ephemeral(text)
    try:
        await respond(
            text=built.text, blocks=built.blocks, response_type="ephemeral", replace_original=False
        )
    except Exception:  # noqa: BLE001 - an expired response_url must not hide the real work
        log.warning("could not answer through response_url", exc_info=True)


async def deal_gone(respond: AsyncRespond, t: Texts) -> None:
    await tell(respond, t("errors.deal_gone"))


async def post_dm(
    rt: Runtime, team_id: str, user_id: str, built: Built, *, channel: str | None = None
) -> tuple[str, str]:
    """A reply to something the person just did, in their DM with the bot."""
    channel = channel or await open_dm(rt, team_id, user_id)
    resp = await rt.client.chat_postMessage(channel=channel, **built.as_kwargs())
    return str(resp.get("channel") or channel), str(resp.get("ts"))


async def update_in_place(rt: Runtime, click: Click, built: Built) -> tuple[str, str]:
    """Replace the clicked message (a script moving on, a summary confirmed); if it can't
    be found any more, post the new state instead so nothing is lost."""
    if click.channel and click.message_ts:
        try:
            await rt.client.chat_update(
                channel=click.channel, ts=click.message_ts, **built.as_kwargs()
            )
            return click.channel, click.message_ts
        except SlackApiError as e:
            log.warning("chat.update failed (%s); posting instead", api_error(e))
    return await post_dm(rt, click.team_id, click.user_id, built, channel=click.channel)


async def redraw_answered(
    rt: Runtime, body: dict[str, Any], respond: AsyncRespond, built: Built
) -> None:
    """The clicked question, redrawn with its answer; when Slack cannot change it, the
    answer (already recorded) is said under it instead."""
    container = body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if not channel or not ts:
        return
    try:
        await rt.client.chat_update(channel=channel, ts=ts, **built.as_kwargs())
    except SlackApiError as e:
        log.warning("answered message not redrawn: %s", api_error(e))
        await respond(replace_original=False, **built.as_kwargs())


def schedule_now(
    rt: Runtime,
    *,
    team_id: str,
    user_id: str,
    kind: str,
    key: str,
    payload: dict[str, Any],
    run_id: int | None = None,
) -> int | None:
    """Blocking: a bot-initiated DM is a nudge row first (then delivered at once)."""
    return rt.tx_blocking(
        debriefs.schedule_now,
        team_id=team_id,
        user_id=user_id,
        kind=kind,
        key=key,
        payload=payload,
        now=rt.clock.now(),
        run_id=run_id,
    )


def manager_of(rt: Runtime, team_id: str, user_id: str) -> str | None:
    """Blocking: the rep's manager, as set by `/loop team` or the CSV import."""
    return rt.tx_blocking(debriefs.manager_slack_id, write=False, team_id=team_id, user_id=user_id)


async def manager_for(rt: Runtime, team_id: str, user_id: str) -> str | None:
    return await rt.tx(debriefs.manager_slack_id, write=False, team_id=team_id, user_id=user_id)


async def no_manager_text(rt: Runtime, t: Texts, team_id: str) -> str:
    """The "no manager set" answer, naming the admins who can set one when known."""
    admins = await rt.tx(debriefs.admin_mentions, write=False, team_id=team_id)
    if not admins:
        return t("manager.none_set")
    return t("manager.none_set_admins", admins=", ".join(admins))


async def confirm_manager_log(
    rt: Runtime,
    client: AsyncWebClient,
    respond: AsyncRespond,
    click: Click,
    t: Texts,
    *,
    rev: int | None = None,
) -> None:
    """Confirm on the manager's loop-back: the call is logged and the rep is told. The
    loop-back's Confirm is one button for the rep and the manager, so both debriefs use it."""
    if click.deal_id is None or await load_deal(rt, click.deal_id) is None:
        await deal_gone(respond, t)
        return
    done = await rt.tx(debriefs.confirm_call, deal_id=click.deal_id, rev=rev, now=rt.clock.now())
    if done is None:
        return  # already saved: a double click changes nothing
    if done == debriefs.STALE:  # an older summary than the draft
        await tell(respond, t("log.newer_version"))
        return
    assert isinstance(done, debriefs.CallDone)
    built = manager_msg.manager_logged(t, deal_id=click.deal_id, rep=done.rep)
    await update_in_place(rt, click, built)
    # The caller's first DM and reminder show the call made (no more "Log the call").
    for channel, ts in await rt.tx(debriefs.sent_call_messages, write=False, deal_id=click.deal_id):
        await put_in_place(rt.client, None, channel=channel, ts=ts, built=built)
    # The rep's deal DM shows it is logged (heard / helped / hugged can't change now).
    await show_logged(rt, click.deal_id)
    if done.nudge_id is not None:
        await deliver(rt, done.nudge_id)


def open_call_log(
    rt: Runtime, client: AsyncWebClient, click: Click, t: Texts, state: DealState
) -> None:
    """The caller's own form ("Log the call", or Edit on their loop-back), prefilled with
    their draft or what they logged. Only the person the call was handed to reaches it:
    bot/access.py refuses anyone else before this runs."""
    call = state.call_data
    assert state.deal.id is not None
    view = manager_msg.call_log_modal(
        t,
        deal_id=state.deal.id,
        account=state.deal.account,
        rep=str(call.rep or state.deal.rep_slack_id or ""),
        initial=call.draft or call.client,
        audience=audience(t, state, "manager"),
    )
    open_view_after_ack(rt, client, click.trigger_id, view, name=ids.CALL_LOG_VIEW)


def audience(t: Texts, state: DealState, role: str) -> str:
    """The line a debrief form opens with: who will read what is typed (bot/access.py).
    The manager's form is read by the rep too; the rep's by the manager they asked to
    call; a shared lesson by the team."""
    if role == "manager":
        return t("privacy.you_and", who=f"<@{state.deal.rep_slack_id}>")
    if state.data.shared:
        return t("privacy.you_and_team")
    if state.call is not None and state.call.state != debriefs.DECLINED:
        return t("privacy.you_and", who=f"<@{state.call.user_slack_id}>")
    return t("privacy.only_you")
