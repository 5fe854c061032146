"""Deal triggers: a closed deal in a deals channel, or `/loop deal`, DMs the rep a script.

At most once: the event id, the source message (channel + ts) and the nudge's
idempotency key are each unique in the database, and all three are written in one
transaction before anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.blocks import context
from bot.deal_parser import DealSignal, parse_deal_message, parse_outcome
from bot.delivery import deliver, register_kind
from bot.messages import Texts
from bot.people import load_person, lookup_by_email
from bot.runtime import Runtime
from bot.slack_errors import api_error
from handlers.loop_command import CommandCall, LoopCommand
from storage import nudges
from storage.db import unit_of_work
from storage.deals import NewDeal, add_deal, get_deal, mark_event_seen, same_deal_since
from storage.debriefs import schedule_deal_followups, teeup_agreed
from storage.models import Nudge, Person, RitualRun

log = logging.getLogger(__name__)

# Subtypes that are real new messages; edits, deletions and joins are not deals.
DEAL_SUBTYPES = frozenset({None, "bot_message", "thread_broadcast", "file_share"})
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
RITUAL_FOR = {"won": "win_debrief", "lost": "loss_debrief", "no_decision": "loss_debrief"}


def record_deal(
    rt: Runtime, new: NewDeal, *, event_id: str | None
) -> tuple[int, int | None] | None:
    """Store the deal, its ritual run and the DM nudge in one transaction.

    Returns (deal id, nudge id), or None when this event or message was seen before."""
    now = rt.clock.now()
    # Immediate: on SQLite a read-then-write transaction cannot upgrade its lock once
    # another writer committed; taking the write lock first makes it wait instead.
    with unit_of_work(rt.engine, immediate=True) as session:
        if event_id and not mark_event_seen(
            session=session, team_id=new.team_id, event_id=event_id, now=now
        ):
            return None
        deal = add_deal(session=session, new=new, now=now)
        if deal is None or deal.id is None:
            return None
        if not new.rep_slack_id:
            return deal.id, None
        run = RitualRun(
            team_id=new.team_id,
            ritual=RITUAL_FOR[new.outcome],
            user_slack_id=new.rep_slack_id,
            deal_id=deal.id,
            account=new.account,
            state="dm_pending",
            created_at=now,
            updated_at=now,
        )
        session.add(run)
        session.flush()
        nudge = nudges.schedule(
            session=session,
            team_id=new.team_id,
            user_slack_id=new.rep_slack_id,
            kind="deal_dm",
            due_at=now,
            idempotency_key=f"deal:{deal.id}:dm",
            payload={"deal_id": deal.id},
            ritual_run_id=run.id,
            now=now,
        )
        # The reminder and a loss-streak offer are rows in this same transaction, so a
        # crash can never leave a deal whose follow-ups were forgotten.
        schedule_deal_followups(
            session=session,
            deal=deal,
            run=run,
            now=now,
            reminder_days=rt.settings.debrief_reminder_days,
            loss_streak_at=rt.settings.loss_streak,
        )
        return deal.id, nudge.id


async def render_deal_dm(rt: Runtime, nudge: Nudge, person: Person) -> messages.Built | None:
    deal_id = int(nudge.payload["deal_id"])

    def read() -> Any:
        with unit_of_work(rt.engine) as session:
            return get_deal(session=session, deal_id=deal_id)

    deal = await rt.db(read)
    if deal is None:
        return None

    def agreed() -> bool:
        with unit_of_work(rt.engine) as session:
            return teeup_agreed(session=session, team_id=deal.team_id, account=deal.account)

    t = Texts(rt.catalog, person.locale)
    # The tee-up note is worded for a no ("if it didn't go our way"), so wins skip it.
    note = deal.outcome != "won" and await rt.db(agreed)
    return messages.deal_dm(
        t,
        deal_id=deal_id,
        account=deal.account,
        outcome=deal.outcome,
        amount=deal.amount,
        currency=deal.currency,
        extra=[context(t("teeup.debrief_note", account=deal.account))] if note else (),
    )


async def after_deal_dm(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    def write() -> None:
        with unit_of_work(rt.engine) as session:
            run = session.get(RitualRun, nudge.ritual_run_id) if nudge.ritual_run_id else None
            if run is not None:
                run.state = "dm_sent"
                run.data = {**run.data, "dm_channel": channel, "dm_ts": ts}
                run.updated_at = rt.clock.now()
                session.add(run)

    await rt.db(write)


LOOKUP_TRIES = 3
# `/loop deal` has no idempotency key; the same deal typed again this soon is a double
# submit (or an impatient second try), not a second deal.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)


async def resolve_rep(rt: Runtime, signal: DealSignal, poster: str | None) -> str | None:
    """The rep's Slack id: a mention, else the owner's email looked up in Slack.

    The event was acked already and Slack will not resend it, so a transient failure
    (timeout, 5xx, 429 after the client's own waits) is retried here rather than
    losing the deal's DM."""
    if signal.rep_user_id:
        return signal.rep_user_id
    if signal.rep_email:
        for attempt in range(LOOKUP_TRIES):
            try:
                found = await lookup_by_email(rt, signal.rep_email)
            except SlackApiError as e:
                log.warning("users.lookupByEmail failed: %s", api_error(e))
                if e.response.status_code < 500 and e.response.status_code != 429:
                    break
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                log.warning("users.lookupByEmail failed: %r", e)
            else:
                if found:
                    return found
                break
            await asyncio.sleep(0.5 * 2**attempt)
    return poster


def crm_record_link(event: dict[str, Any]) -> str | None:
    """The CRM record a bot post is about (its attachment's title link), so the same
    opportunity announced twice is still one deal."""
    if not event.get("bot_id"):
        return None
    for attachment in event.get("attachments") or []:
        if isinstance(attachment, dict) and attachment.get("title_link"):
            return str(attachment["title_link"])[:300]
    return None


async def unnamed_account(rt: Runtime, team_id: str, rep: str | None) -> str:
    """The stand-in name for a deal posted without one, in the rep's language: it is
    stored, and every DM about the deal shows it."""
    locale: str | None = None
    if rep:
        try:
            locale = (await load_person(rt, team_id=team_id, user_id=rep)).locale
        except Exception:  # noqa: BLE001 - an unknown language must not lose the deal
            log.warning("could not read %s's language; naming the account in English", rep)
    return Texts(rt.catalog, locale)("deal.unnamed_account")


async def intake_message(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    signal = parse_deal_message(event)
    if signal is not None and signal.outcome == "proposal_sent":
        from handlers.tee_up import intake_proposal  # tee_up imports this module

        await intake_proposal(rt, body, event, signal)
        return
    if signal is None or signal.outcome not in RITUAL_FOR:
        return
    team_id = str(body.get("team_id") or event.get("team") or rt.team_id or "")
    rep = await resolve_rep(rt, signal, None)
    new = NewDeal(
        team_id=team_id,
        account=signal.account or await unnamed_account(rt, team_id, rep),
        outcome=signal.outcome,
        rep_slack_id=rep,
        reported_by=event.get("user") if not event.get("bot_id") else event.get("bot_id"),
        amount=signal.amount,
        currency=signal.currency,
        source="channel",
        source_channel=event.get("channel"),
        source_ts=event.get("ts"),
        external_id=(f"{signal.outcome}:{link}" if (link := crm_record_link(event)) else None),
        raw_text=signal.source_text,
    )
    recorded = await rt.db(record_deal, rt, new, event_id=body.get("event_id"))
    if recorded is None:
        log.info("deal message %s/%s seen before; no second DM", new.source_channel, new.source_ts)
        return
    deal_id, nudge_id = recorded
    if nudge_id is None:
        log.warning("deal %s (%s) has no rep to DM", deal_id, new.account)
        return
    await deliver(rt, nudge_id)


def parse_deal_args(args: str) -> tuple[str | None, str, str | None, str | None]:
    """`won|lost|no-decision <account> [@rep]` -> (outcome, account, rep, bad word)."""
    words = args.split()
    if not words:
        return None, "", None, None
    outcome = parse_outcome(words[0])
    if outcome is None or outcome == "proposal_sent":
        return None, "", None, words[0]
    rest = " ".join(words[1:])
    mentions = MENTION.findall(rest)
    account = MENTION.sub(" ", rest)
    account = re.sub(r"\s+", " ", account).strip(" -—–:,")
    return outcome, account, (mentions[0] if mentions else None), None


async def deal_command(call: CommandCall) -> None:
    t = call.t
    outcome, account, rep, bad = parse_deal_args(call.args)
    if bad is not None:
        await call.reply(
            t("errors.deal_bad_outcome", word=bad[:40]) + "\n" + t("errors.deal_usage")
        )
        return
    if outcome is None or not account:
        await call.reply(t("errors.deal_usage"))
        return
    await call.ack()
    rep = rep or call.user_id
    rt = call.rt
    new = NewDeal(
        team_id=call.team_id,
        account=account[:200],
        outcome=outcome,
        rep_slack_id=rep,
        reported_by=call.user_id,
        source="command",
        source_channel=call.channel_id or None,
        raw_text=call.args,
    )

    def logged_just_now() -> bool:
        with unit_of_work(rt.engine, immediate=False) as session:
            since = rt.clock.now() - DOUBLE_SUBMIT_WINDOW
            found = same_deal_since(
                session=session,
                team_id=new.team_id,
                account=new.account,
                outcome=outcome,
                rep_slack_id=rep,
                since=since,
            )
            return found is not None

    async def work() -> None:
        word = messages.outcome_word(t, outcome)
        if await rt.db(logged_just_now):
            built = messages.ephemeral(t("deal.duplicate", account=account, outcome=word))
            await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")
            return
        recorded = await rt.db(record_deal, rt, new, event_id=None)
        assert recorded is not None  # commands carry no source ts, so never a duplicate
        _deal_id, nudge_id = recorded
        state = await deliver(rt, nudge_id) if nudge_id is not None else None
        if state in (nudges.SENT, None):
            key = "deal.logged_self" if rep == call.user_id else "deal.logged"
            text = t(key, account=account, outcome=word, rep=f"<@{rep}>")
        elif state == nudges.PENDING:
            text = t("deal.logged_later", account=account, outcome=word, rep=f"<@{rep}>")
        else:
            text = t("errors.dm_failed", account=account, outcome=word, rep=f"<@{rep}>")
        built = messages.ephemeral(text)
        await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")

    async def tell_user() -> None:
        built = messages.ephemeral(t("errors.generic"))
        await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")

    rt.spawn(work(), name=f"deal-command:{call.user_id}", on_error=tell_user)


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    register_kind(rt, "deal_dm", render_deal_dm, after_deal_dm)
    commands.add("deal", deal_command, help_key="help.line_deal")
    id_channels = rt.settings.deals_channel_ids
    name_channels = rt.settings.deals_channel_names

    async def channel_is_deals(channel: str) -> bool:
        if channel in id_channels:
            return True
        if not name_channels or not channel or channel[0] not in "CG":
            return False
        name = rt.channel_names.get(channel)
        if name is None:
            try:
                info = await rt.client.conversations_info(channel=channel)
                name = str(info["channel"].get("name") or "").lower()
            except SlackApiError as e:
                log.warning("conversations.info %s failed: %s", channel, api_error(e))
                # Remembered as "not a deals channel" so one failure does not mean a
                # Slack call for every later message in that channel.
                rt.channel_names[channel] = ""
                return False
            rt.channel_names[channel] = name
        return name in name_channels

    async def is_deal_candidate(event: dict[str, Any]) -> bool:
        # Runs before the ack, so it must stay cheap: no database, no parsing beyond
        # what decides whether the message is ours at all.
        if event.get("subtype") not in DEAL_SUBTYPES or event.get("hidden"):
            return False
        if rt.bot_user_id and event.get("user") == rt.bot_user_id:
            return False
        return await channel_is_deals(str(event.get("channel") or ""))

    @app.event("message", matchers=[is_deal_candidate])
    async def on_deals_channel_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        rt.spawn(intake_message(rt, body, event), name=f"deal-event:{body.get('event_id')}")
