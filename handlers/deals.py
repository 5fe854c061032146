"""Deal triggers: a closed deal in a deals channel, or `/loop deal`, DMs the rep a script.

Every trigger goes through the one intake (handlers/deal_intake.py): at most once per
event id and per message, and one real deal announced twice is still one deal. Edits
and deletions of a deal's post correct it; a person's post the parser can't decide gets
an ephemeral "Did a deal close?" to its poster; every deal DM has a "Not right?" menu.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlmodel import col

from bot import messages
from bot.deals.parser import (
    DealSignal,
    message_text,
    needs_asking,
    parse_deal_message,
    parse_outcome,
)
from bot.messages import Texts
from bot.messages import intake as intake_msg
from bot.messages.blocks import read_metadata
from bot.nudges.registry import NudgeKind
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.slack.people import load_person, lookup_by_email
from handlers.deal_intake import (
    NEW,
    OTHER_OUTCOME,
    RITUAL_FOR,
    Correction,
    correct,
    deal_dm_for,
    deal_is_open,
    may_correct,
    payload_deal_id,
    read_deal,
    take_in,
)
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import nudges
from storage.db import unit_of_work
from storage.deals import NewDeal, add_ask, deal_by_message
from storage.models import DealAsk, Nudge, Person, RitualRun

log = logging.getLogger(__name__)

# Subtypes that are real new messages; edits, deletions, joins and thread replies
# broadcast to the channel are not deals.
DEAL_SUBTYPES = frozenset({None, "bot_message", "file_share"})
CORRECTION_SUBTYPES = frozenset({"message_changed", "message_deleted"})
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def is_thread_reply(message: dict[str, Any]) -> bool:
    """A reply in a thread (congratulations, commiserations) is chatter about a deal,
    never the deal itself; only the thread's root counts."""
    thread_ts = message.get("thread_ts")
    return bool(thread_ts) and thread_ts != message.get("ts")


async def render_deal_dm(rt: Runtime, nudge: Nudge, person: Person) -> messages.Built | None:
    deal = await rt.db(read_deal, rt, payload_deal_id(nudge.payload))
    # Withdrawn, or handed to someone else before this DM went out: nothing to send.
    if not deal_is_open(deal) or deal is None or deal.rep_slack_id != nudge.user_slack_id:
        return None
    return await deal_dm_for(rt, deal, person)


async def after_deal_dm(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    def write() -> None:
        with unit_of_work(rt.engine) as session:
            run = session.get(RitualRun, nudge.ritual_run_id) if nudge.ritual_run_id else None
            if run is not None and run.state != "withdrawn":
                run.state = "dm_sent"
                run.data = {**run.data, "dm_channel": channel, "dm_ts": ts}
                run.updated_at = rt.clock.now()
                session.add(run)

    await rt.db(write)


LOOKUP_TRIES = 3


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


def _team(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or rt.team_id or "")


async def _new_from_signal(
    rt: Runtime, team_id: str, signal: DealSignal, event: dict[str, Any]
) -> NewDeal:
    rep = await resolve_rep(rt, signal, None)
    return NewDeal(
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


async def intake_message(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    if is_thread_reply(event) or event.get("subtype") == "thread_broadcast":
        return
    signal = parse_deal_message(event)
    if signal is not None and signal.outcome == "proposal_sent":
        from handlers.tee_up import intake_proposal  # tee_up imports this module

        await intake_proposal(rt, body, event, signal)
        return
    if signal is None or signal.outcome not in RITUAL_FOR:
        if signal is None and needs_asking(event):
            await ask_poster(rt, body, event)
        return
    team_id = _team(rt, body, event)
    new = await _new_from_signal(rt, team_id, signal, event)
    got = await take_in(rt, new, event_id=body.get("event_id"))
    if got.status == NEW and got.nudge_id is None:
        log.warning("deal %s (%s) has no rep to DM", got.deal_id, new.account)


def _deal_at(rt: Runtime, team_id: str, channel: str, ts: str) -> Any:
    """Blocking: the deal this message first announced."""
    with unit_of_work(rt.engine) as session:
        return deal_by_message(session=session, team_id=team_id, channel=channel, ts=ts)


async def intake_correction(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    """The post a deal came from was edited or deleted: correct or withdraw the deal
    (only soon after, and only before the rep acted on the DM; see deal_intake)."""
    team_id = _team(rt, body, event)
    channel = str(event.get("channel") or "")
    if event.get("subtype") == "message_deleted":
        ts = str(event.get("deleted_ts") or "")
        deal = await rt.db(_deal_at, rt, team_id, channel, ts)
        if deal is not None and deal.id is not None:
            await correct(rt, deal.id, Correction(withdraw="deleted", gate="delete"))
        return
    message = event.get("message")
    if not isinstance(message, dict) or is_thread_reply(message):
        return
    deal = await rt.db(_deal_at, rt, team_id, channel, str(message.get("ts") or ""))
    if not deal_is_open(deal) or deal is None or deal.id is None:
        return
    signal = parse_deal_message({**message, "channel": channel})
    if signal is None or signal.outcome not in RITUAL_FOR:
        fix = Correction(withdraw="edited", gate="edit")
    else:
        fix = Correction(
            outcome=signal.outcome,
            account=signal.account or deal.account,
            amount=signal.amount,
            currency=signal.currency,
            set_amount=True,
            rep=await resolve_rep(rt, signal, None),
            gate="edit",
        )
    await correct(rt, deal.id, fix)


# --- "Did a deal close?" ------------------------------------------------------------------


def _new_ask(rt: Runtime, team_id: str, channel: str, ts: str, user: str, text: str) -> int | None:
    """Blocking: the ask's row, or None when this message's poster was asked already."""
    with unit_of_work(rt.engine, immediate=True) as session:
        ask = add_ask(
            session=session,
            team_id=team_id,
            channel=channel,
            ts=ts,
            user=user,
            text=text,
            now=rt.clock.now(),
        )
        if ask is None:
            return None
        session.flush()
        return ask.id


async def ask_poster(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    """Ask only the poster, ephemerally, once per message."""
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if event.get("bot_id") or not (isinstance(user, str) and channel and ts):
        return
    team_id = _team(rt, body, event)
    ask_id = await rt.db(_new_ask, rt, team_id, str(channel), str(ts), user, message_text(event))
    if ask_id is None:
        return
    t = await reader_texts(rt, team_id, user)
    built = intake_msg.ask_message(t, ask_id=ask_id)
    try:
        await rt.client.chat_postEphemeral(channel=str(channel), user=user, **built.as_kwargs())
    except SlackApiError as e:
        log.warning("could not ask %s about a possible deal: %s", user, api_error(e))


# What a chosen outcome would look like stated: the parser then reads the account out of
# the poster's own words the way it reads any deal post.
_QUESTION = re.compile(r"[?¿]")
STATED = {"won": "Closed won", "lost": "Closed lost", "no_decision": "Closed - no decision"}


def guess_account(text: str, outcome: str, user: str) -> str | None:
    """The account the poster most likely meant, read with the outcome they chose. The
    question marks go first: the post was asked about because it was unsure, and the
    parser rightly reads a question as no statement at all."""
    stated = _QUESTION.sub(" ", text)
    signal = parse_deal_message(
        {"type": "message", "user": user, "text": f"{STATED[outcome]}: {stated}"}
    )
    return signal.account if signal is not None and signal.outcome == outcome else None


def _read_ask(rt: Runtime, ask_id: int | None) -> DealAsk | None:
    if ask_id is None:
        return None
    with unit_of_work(rt.engine) as session:
        return session.get(DealAsk, ask_id)


def _settle_ask(rt: Runtime, ask_id: int, state: str) -> bool:
    """Blocking: asked -> answered | dismissed, once (a double click does nothing)."""
    with unit_of_work(rt.engine, immediate=True) as session:
        result = session.execute(
            update(DealAsk)
            .where(col(DealAsk.id) == ask_id, col(DealAsk.state) == "asked")
            .values(state=state)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _link_ask(rt: Runtime, ask_id: int, deal_id: int | None) -> None:
    with unit_of_work(rt.engine) as session:
        ask = session.get(DealAsk, ask_id)
        if ask is not None:
            ask.deal_id = deal_id
            session.add(ask)


def intake_reply(
    t: Texts, got: Any, *, account: str, outcome: str, rep: str, user: str
) -> messages.Built:
    """What the person who logged a deal (by command or by answering the question) sees."""
    if got.status == OTHER_OUTCOME and got.deal_id is not None:
        return intake_msg.change_question(
            t,
            deal_id=got.deal_id,
            account=got.account or account,
            old=str(got.outcome),
            new=outcome,
        )
    if got.status != NEW:
        shown = messages.outcome_word(t, str(got.outcome or outcome))
        return messages.ephemeral(
            t("deal.duplicate", account=got.account or account, outcome=shown)
        )
    word = messages.outcome_word(t, outcome)
    if got.dm_state in (nudges.SENT, None):
        key = "deal.logged_self" if rep == user else "deal.logged"
        return messages.ephemeral(t(key, account=account, outcome=word, rep=f"<@{rep}>"))
    if got.dm_state == nudges.PENDING:
        text = t("deal.logged_later", account=account, outcome=word, rep=f"<@{rep}>")
        return messages.ephemeral(text)
    return messages.ephemeral(t("errors.dm_failed", account=account, outcome=word, rep=f"<@{rep}>"))


async def log_from_ask(
    rt: Runtime, ask: DealAsk, outcome: str, account: str, user: str
) -> messages.Built | None:
    """The poster said which outcome: log it through the intake like `/loop deal`."""
    assert ask.id is not None
    if not await rt.db(_settle_ask, rt, ask.id, "answered"):
        return None
    mentions = [m for m in MENTION.findall(ask.text or "")]
    rep = mentions[0] if mentions else user
    new = NewDeal(
        team_id=ask.team_id,
        account=account[:200],
        outcome=outcome,
        rep_slack_id=rep,
        reported_by=user,
        source="ask",
        source_channel=ask.channel,
        source_ts=ask.ts,
        raw_text=ask.text,
    )
    got = await take_in(rt, new, ask_other_outcome=True)
    await rt.db(_link_ask, rt, ask.id, got.deal_id)
    t = await reader_texts(rt, ask.team_id, user)
    return intake_reply(t, got, account=account, outcome=outcome, rep=rep, user=user)


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

    async def work() -> None:
        got = await take_in(rt, new, ask_other_outcome=True)
        built = intake_reply(
            t, got, account=new.account, outcome=outcome, rep=rep, user=call.user_id
        )
        await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")

    async def tell_user() -> None:
        built = messages.ephemeral(t("errors.generic"))
        await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")

    rt.spawn(work(), name=f"deal-command:{call.user_id}", on_error=tell_user)


# --- listeners ------------------------------------------------------------------------------


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return {}
    return actions[0]


def _split(value: str) -> tuple[int | None, str]:
    head, _, tail = str(value or "").partition(":")
    return (int(head) if head.isdigit() and len(head) < 19 else None), tail


async def _say(respond: AsyncRespond, built: messages.Built, *, replace: bool) -> None:
    """Answer the clicker only: a new ephemeral line, or the clicked ephemeral replaced."""
    try:
        await respond(
            text=built.text,
            blocks=built.blocks,
            response_type="ephemeral",
            replace_original=replace,
        )
    except Exception:  # noqa: BLE001 - an expired response_url must not hide the real work
        log.warning("could not answer through response_url", exc_info=True)


async def _may_change(rt: Runtime, deal: Any, user: str) -> bool:
    """For "Change it?": the rep, an admin, whoever logged the deal, or the rep's manager
    (a manager who typed `/loop deal … @rep`)."""
    also = tuple(x for x in (deal.reported_by,) if x)
    if await may_correct(rt, deal, user, also=also):
        return True
    try:
        rep = await load_person(rt, team_id=deal.team_id, user_id=str(deal.rep_slack_id))
    except Exception:  # noqa: BLE001 - no rep we can read: no manager to allow either
        return False
    return bool(rep.manager_slack_id) and rep.manager_slack_id == user


# Checked before the modal's ack (Slack waits 3 s for it): a slow Slack gets the benefit
# of the doubt, and a DM to someone unreachable then fails as any other DM would.
PERSON_CHECK_BUDGET = 1.0


async def _is_person(rt: Runtime, team_id: str, user_id: str) -> bool:
    """Someone a deal can be handed to: a person in the workspace, not a bot."""
    try:
        person = await asyncio.wait_for(
            load_person(rt, team_id=team_id, user_id=user_id), PERSON_CHECK_BUDGET
        )
    except TimeoutError:
        return True
    except SlackApiError:
        return False
    return not (person.is_bot or person.deleted)


def register_corrections(app: AsyncApp, rt: Runtime) -> None:
    """The "Not right?" menu, its choices, "Change it?" and "Did a deal close?"."""

    @app.action(intake_msg.FIX_ACTION)
    async def on_fix(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        user, team = _user(body), str((body.get("team") or {}).get("id") or rt.team_id or "")
        deal_id, fix = _split(str((_action(body).get("selected_option") or {}).get("value")))
        t = await reader_texts(rt, team, user)
        deal = await rt.db(read_deal, rt, deal_id)
        if not deal_is_open(deal) or deal is None or deal.id is None:
            await _say(respond, messages.ephemeral(t("errors.deal_gone")), replace=False)
            return
        if not await may_correct(rt, deal, user):
            await _say(respond, messages.ephemeral(t("intake.not_yours")), replace=False)
            return
        if fix == "owner":
            view = intake_msg.handoff_modal(t, deal_id=deal.id, account=deal.account)
            await client.views_open(trigger_id=body.get("trigger_id"), view=view)
        elif fix == "outcome":
            picker = intake_msg.outcome_picker(
                t, deal_id=deal.id, account=deal.account, current=deal.outcome
            )
            await _say(respond, picker, replace=False)
        elif fix == "withdraw":
            rt.spawn(
                correct(rt, deal.id, Correction(withdraw="not_a_deal")),
                name=f"deal-withdraw:{deal.id}",
            )

    @app.action(re.compile(rf"^{intake_msg.PICK_PREFIX}(won|lost|no_decision)$"))
    async def on_pick_outcome(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user, team = _user(body), str((body.get("team") or {}).get("id") or rt.team_id or "")
        deal_id, outcome = _split(str(_action(body).get("value")))

        async def work() -> None:
            t = await reader_texts(rt, team, user)
            deal = await rt.db(read_deal, rt, deal_id)
            if not deal_is_open(deal) or deal is None or deal.id is None:
                await _say(respond, messages.ephemeral(t("errors.deal_gone")), replace=False)
                return
            if outcome not in RITUAL_FOR or not await may_correct(rt, deal, user):
                await _say(respond, messages.ephemeral(t("intake.not_yours")), replace=False)
                return
            await correct(rt, deal.id, Correction(outcome=outcome))
            word = messages.outcome_word(t, outcome)
            done = t("intake.outcome_changed", account=deal.account, outcome=word)
            await _say(respond, messages.ephemeral(done), replace=True)

        rt.spawn(work(), name=f"deal-outcome:{deal_id}")

    @app.view(intake_msg.HANDOFF_CALLBACK)
    async def on_handoff(ack: AsyncAck, body: dict[str, Any]) -> None:
        user, team = _user(body), str((body.get("team") or {}).get("id") or rt.team_id or "")
        view = body.get("view") or {}
        t = await reader_texts(rt, team, user)
        deal_id, _ = _split(str(read_metadata(view).get("deal") or ""))
        values = ((view.get("state") or {}).get("values") or {}).get("rep") or {}
        chosen = str((values.get(intake_msg.VALUE) or {}).get("selected_user") or "")
        deal = await rt.db(read_deal, rt, deal_id)
        if not deal_is_open(deal) or deal is None or deal.id is None:
            await ack(response_action="errors", errors={"rep": t("errors.deal_gone")})
            return
        if not await may_correct(rt, deal, user):
            await ack(response_action="errors", errors={"rep": t("intake.not_yours")})
            return
        if not chosen or chosen == deal.rep_slack_id:
            await ack(response_action="errors", errors={"rep": t("intake.handoff_self")})
            return
        if not await _is_person(rt, deal.team_id, chosen):
            await ack(response_action="errors", errors={"rep": t("intake.handoff_not_person")})
            return
        await ack()
        rt.spawn(correct(rt, deal.id, Correction(rep=chosen)), name=f"deal-handoff:{deal.id}")

    @app.action(re.compile(rf"^(?:{intake_msg.CHANGE_YES}|{intake_msg.CHANGE_KEEP})$"))
    async def on_change(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user, team = _user(body), str((body.get("team") or {}).get("id") or rt.team_id or "")
        action = _action(body)
        deal_id, outcome = _split(str(action.get("value")))
        keep = action.get("action_id") == intake_msg.CHANGE_KEEP

        async def work() -> None:
            t = await reader_texts(rt, team, user)
            deal = await rt.db(read_deal, rt, deal_id)
            if not deal_is_open(deal) or deal is None or deal.id is None:
                await _say(respond, messages.ephemeral(t("errors.deal_gone")), replace=False)
                return
            if outcome not in RITUAL_FOR or not await _may_change(rt, deal, user):
                await _say(respond, messages.ephemeral(t("intake.not_yours")), replace=False)
                return
            old = messages.outcome_word(t, deal.outcome)
            if keep:
                kept = t("intake.change_kept", account=deal.account, old=old)
                await _say(respond, messages.ephemeral(kept), replace=True)
                return
            await correct(rt, deal.id, Correction(outcome=outcome))
            done = t(
                "intake.changed",
                account=deal.account,
                old=old,
                new=messages.outcome_word(t, outcome),
                rep=f"<@{deal.rep_slack_id}>",
            )
            await _say(respond, messages.ephemeral(done), replace=True)

        rt.spawn(work(), name=f"deal-change:{deal_id}")

    @app.action(re.compile(rf"^{intake_msg.ASK_PREFIX}(won|lost|no_decision|none)$"))
    async def on_ask(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        user, team = _user(body), str((body.get("team") or {}).get("id") or rt.team_id or "")
        action = _action(body)
        choice = str(action.get("action_id"))[len(intake_msg.ASK_PREFIX) :]
        ask_id, _ = _split(str(action.get("value")))
        t = await reader_texts(rt, team, user)
        ask = await rt.db(_read_ask, rt, ask_id)
        if ask is None or ask.id is None or ask.user_slack_id != user:
            await _say(respond, messages.ephemeral(t("intake.not_yours")), replace=False)
            return
        if ask.state != "asked":
            await _say(respond, messages.ephemeral(t("intake.ask_answered")), replace=True)
            return
        if choice == "none":
            if await rt.db(_settle_ask, rt, ask.id, "dismissed"):
                await _say(respond, messages.ephemeral(t("intake.ask_dismissed")), replace=True)
            return
        account = guess_account(ask.text, choice, user)
        if not account:
            view = intake_msg.ask_account_modal(t, ask_id=ask.id, outcome=choice)
            await client.views_open(trigger_id=body.get("trigger_id"), view=view)
            return

        async def work() -> None:
            built = await log_from_ask(rt, ask, choice, account, user)
            await _say(respond, built or messages.ephemeral(t("intake.ask_answered")), replace=True)

        rt.spawn(work(), name=f"deal-ask:{ask.id}")

    @app.view(intake_msg.ASK_ACCOUNT_CALLBACK)
    async def on_ask_account(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        user, team = _user(body), str((body.get("team") or {}).get("id") or rt.team_id or "")
        view = body.get("view") or {}
        meta = read_metadata(view)
        t = await reader_texts(rt, team, user)
        values = ((view.get("state") or {}).get("values") or {}).get("account") or {}
        account = str((values.get(intake_msg.VALUE) or {}).get("value") or "").strip()
        outcome = str(meta.get("outcome") or "")
        ask_id, _ = _split(str(meta.get("ask") or ""))
        ask = await rt.db(_read_ask, rt, ask_id)
        if not account:
            await ack(response_action="errors", errors={"account": t("errors.required_field")})
            return
        if ask is None or ask.user_slack_id != user or outcome not in RITUAL_FOR:
            await ack(response_action="errors", errors={"account": t("intake.not_yours")})
            return
        await ack()

        async def work() -> None:
            built = await log_from_ask(rt, ask, outcome, account, user)
            if built is None:
                return  # answered already (a second submit): nothing new to say
            try:
                await client.chat_postEphemeral(channel=ask.channel, user=user, **built.as_kwargs())
            except SlackApiError as e:
                log.warning("could not confirm the logged deal to %s: %s", user, api_error(e))

        rt.spawn(work(), name=f"deal-ask-account:{ask_id}")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
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
        if is_thread_reply(event):
            return False
        if rt.bot_user_id and event.get("user") == rt.bot_user_id:
            return False
        return await channel_is_deals(str(event.get("channel") or ""))

    async def is_correction(event: dict[str, Any]) -> bool:
        if event.get("subtype") not in CORRECTION_SUBTYPES:
            return False
        return await channel_is_deals(str(event.get("channel") or ""))

    @app.event("message", matchers=[is_deal_candidate])
    async def on_deals_channel_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        rt.spawn(intake_message(rt, body, event), name=f"deal-event:{body.get('event_id')}")

    @app.event("message", matchers=[is_correction])
    async def on_deals_channel_change(body: dict[str, Any], event: dict[str, Any]) -> None:
        rt.spawn(intake_correction(rt, body, event), name=f"deal-change:{body.get('event_id')}")

    register_corrections(app, rt)


NUDGE_KINDS = (NudgeKind("deal_dm", render_deal_dm, after_deal_dm),)
