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
from typing import Any, cast

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deals.commands import CommandOutcome, command_outcome
from bot.deals.parser import (
    PROPOSAL_OUTCOMES,
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
from bot.slack import ids
from bot.slack.errors import api_error
from bot.slack.people import load_person
from bot.workspace_settings import effective
from handlers.common import DealClick, deal_button, rt_of
from handlers.deal_intake import (
    correct,
    deal_dm_for,
    deal_is_open,
    may_correct,
    open_deal,
    payload_deal_id,
    resolve_rep,
    take_in,
    take_in_proposal,
)
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import nudges
from storage.deals import (
    NewDeal,
    add_ask,
    deal_by_message,
    get_ask,
    link_ask,
    mark_deal_dm_sent,
    settle_ask,
)
from storage.intake import DEAL_DM, NEW, OTHER_OUTCOME, RITUAL_FOR, Correction, Intake
from storage.kinds import AskState
from storage.models import Deal, DealAsk, Nudge, Person

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
    deal = await open_deal(rt, payload_deal_id(nudge.payload))
    # Withdrawn, or handed to someone else before this DM went out: nothing to send.
    if deal is None or deal.rep_slack_id != nudge.user_slack_id:
        return None
    return await deal_dm_for(rt, deal, person)


async def after_deal_dm(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    if nudge.ritual_run_id:
        await rt.tx(
            mark_deal_dm_sent,
            run_id=nudge.ritual_run_id,
            channel=channel,
            ts=ts,
            now=rt.clock.now(),
        )


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
        reported_by=_poster(event),
        amount=signal.amount,
        currency=signal.currency,
        source="channel",
        source_channel=event.get("channel"),
        source_ts=event.get("ts"),
        external_id=(f"{signal.outcome}:{link}" if (link := crm_record_link(event)) else None),
        raw_text=signal.source_text,
    )


def _poster(event: dict[str, Any]) -> str | None:
    """Who posted it (a bot's id for a bot): only ever a string. A malformed event (a
    `user` that is an object, say) must not reach the database as one."""
    poster = event.get("bot_id") or event.get("user")
    return poster if isinstance(poster, str) and poster else None


async def intake_message(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    if is_thread_reply(event) or event.get("subtype") == "thread_broadcast":
        return
    signal = parse_deal_message(event)
    if signal is not None and signal.outcome in PROPOSAL_OUTCOMES:
        await take_in_proposal(rt, body, event, signal)
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


async def _deal_at(rt: Runtime, team_id: str, channel: str, ts: str) -> Deal | None:
    """The deal this message first announced."""
    return await rt.tx(deal_by_message, write=False, team_id=team_id, channel=channel, ts=ts)


async def intake_correction(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    """The post a deal came from was edited or deleted: correct or withdraw the deal
    (only soon after, and only before the rep acted on the DM; see storage/intake.py)."""
    team_id = _team(rt, body, event)
    channel = str(event.get("channel") or "")
    if event.get("subtype") == "message_deleted":
        ts = str(event.get("deleted_ts") or "")
        deal = await _deal_at(rt, team_id, channel, ts)
        if deal is not None and deal.id is not None:
            await correct(rt, deal.id, Correction(withdraw="deleted", gate="delete"))
        return
    message = event.get("message")
    if not isinstance(message, dict) or is_thread_reply(message):
        return
    deal = await _deal_at(rt, team_id, channel, str(message.get("ts") or ""))
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


async def ask_poster(rt: Runtime, body: dict[str, Any], event: dict[str, Any]) -> None:
    """Ask only the poster, ephemerally, once per message."""
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if event.get("bot_id") or not (isinstance(user, str) and channel and ts):
        return
    team_id = _team(rt, body, event)
    ask = await rt.tx(
        add_ask,
        team_id=team_id,
        channel=str(channel),
        ts=str(ts),
        user=user,
        text=message_text(event),
        now=rt.clock.now(),
    )
    if ask is None or ask.id is None:
        return  # this message's poster was asked already
    ask_id = ask.id
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


def intake_reply(
    t: Texts, got: Intake, *, account: str, outcome: str, rep: str, user: str
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
    if not await rt.tx(settle_ask, ask_id=ask.id, state=AskState.ANSWERED):
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
    await rt.tx(link_ask, ask_id=ask.id, deal_id=got.deal_id)
    t = await reader_texts(rt, ask.team_id, user)
    return intake_reply(t, got, account=account, outcome=outcome, rep=rep, user=user)


def parse_deal_args(args: str) -> tuple[str | None, str, str | None, str | None]:
    """`<outcome> <account> [@rep]` -> (outcome, account, rep, bad word). The outcome may be
    several words and in any of our languages ("no decision", "perdida", "sans décision"):
    the deal words' [commands] and [stages] (bot/deals/commands.py)."""
    words = args.split()
    if not words:
        return None, "", None, None
    found = command_outcome(args)
    if found is None:
        # The parser's one-word forms too ("closedwon", "lose").
        single = parse_outcome(words[0])
        if single is None or single in PROPOSAL_OUTCOMES:
            return None, "", None, words[0]
        found = (cast(CommandOutcome, single), " ".join(words[1:]))
    outcome, rest = found
    mentions = MENTION.findall(rest)
    account = MENTION.sub(" ", rest)
    account = re.sub(r"\s+", " ", account).strip(" -—–:,")
    return outcome, account, (mentions[0] if mentions else None), None


async def deal_command(call: CommandCall) -> None:
    t = call.t
    outcome, account, rep, bad = parse_deal_args(call.args)
    if bad is not None:
        # One answer: the words it knows, with an example (the usage would repeat it).
        await call.reply(t("errors.deal_bad_outcome", word=bad[:40]))
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


def _team_of(rt: Runtime, body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or rt.team_id or "")


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


async def _may_change(rt: Runtime, deal: Deal, user: str) -> bool:
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


# "Not right?": its choices -------------------------------------------------------------


async def on_fix(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """The overflow's choice: wrong outcome (a picker), not my deal (a modal), not a deal."""
    await ack()
    rt = rt_of(context)
    user, team = _user(body), _team_of(rt, body)
    deal_id, fix = _split(str((_action(body).get("selected_option") or {}).get("value")))
    t = await reader_texts(rt, team, user)
    deal = await open_deal(rt, deal_id)
    if deal is None or deal.id is None:
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


async def _refuse(c: DealClick, outcome: str, *, may: bool) -> bool:
    """Say why the click does nothing (the deal is gone, or not theirs to change)."""
    if not deal_is_open(c.state.deal):
        await _say(c.respond, messages.ephemeral(c.t("errors.deal_gone")), replace=False)
        return True
    if outcome not in RITUAL_FOR or not may:
        await _say(c.respond, messages.ephemeral(c.t("intake.not_yours")), replace=False)
        return True
    return False


@deal_button("deal-outcome")
async def on_pick_outcome(c: DealClick) -> None:
    """The outcome it really was, picked from "Not right?"."""
    deal, outcome = c.state.deal, c.click.step
    may = deal_is_open(deal) and await may_correct(c.rt, deal, c.click.user_id)
    if await _refuse(c, outcome, may=may):
        return
    await correct(c.rt, c.deal_id, Correction(outcome=outcome))
    word = messages.outcome_word(c.t, outcome)
    done = c.t("intake.outcome_changed", account=deal.account, outcome=word)
    await _say(c.respond, messages.ephemeral(done), replace=True)


async def on_handoff(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    """ "Not my deal": hand it to the person picked, once they are someone it can go to."""
    rt = rt_of(context)
    user, team = _user(body), _team_of(rt, body)
    view = body.get("view") or {}
    t = await reader_texts(rt, team, user)
    deal_id, _ = _split(str(read_metadata(view).get("deal") or ""))
    chosen = _field(view, ids.DEAL_HANDOFF_BLOCK, "selected_user")
    deal = await open_deal(rt, deal_id)
    problem = await _handoff_problem(rt, deal, user, chosen)
    if problem is not None:
        await ack(response_action="errors", errors={ids.DEAL_HANDOFF_BLOCK: t(problem)})
        return
    await ack()
    assert deal is not None and deal.id is not None
    rt.spawn(correct(rt, deal.id, Correction(rep=chosen)), name=f"deal-handoff:{deal.id}")


async def _handoff_problem(rt: Runtime, deal: Deal | None, user: str, chosen: str) -> str | None:
    """The catalog key of what is wrong with this handoff, or None when it may go ahead."""
    if deal is None or deal.id is None:
        return "errors.deal_gone"
    if not await may_correct(rt, deal, user):
        return "intake.not_yours"
    if not chosen or chosen == deal.rep_slack_id:
        return "intake.handoff_self"
    if not await _is_person(rt, deal.team_id, chosen):
        return "intake.handoff_not_person"
    return None


# "Change it?" ---------------------------------------------------------------------------


@deal_button("deal-change")
async def on_change(c: DealClick) -> None:
    """A deal logged again with another outcome: change the first one, or keep it."""
    deal, outcome = c.state.deal, c.click.step
    keep = _action(c.body).get("action_id") == ids.DEAL_CHANGE_KEEP
    may = deal_is_open(deal) and await _may_change(c.rt, deal, c.click.user_id)
    if await _refuse(c, outcome, may=may):
        return
    old = messages.outcome_word(c.t, deal.outcome)
    if keep:
        kept = c.t("intake.change_kept", account=deal.account, old=old)
        await _say(c.respond, messages.ephemeral(kept), replace=True)
        return
    await correct(c.rt, c.deal_id, Correction(outcome=outcome))
    done = c.t(
        "intake.changed",
        account=deal.account,
        old=old,
        new=messages.outcome_word(c.t, outcome),
        rep=f"<@{deal.rep_slack_id}>",
    )
    await _say(c.respond, messages.ephemeral(done), replace=True)


# "Did a deal close?" --------------------------------------------------------------------


async def on_ask(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """The poster's answer: an outcome (logged, or first the account if their words don't
    say it), or "no deal"."""
    await ack()
    rt = rt_of(context)
    user, team = _user(body), _team_of(rt, body)
    action = _action(body)
    choice = str(action.get("action_id"))[len(ids.DEAL_ASK_PREFIX) :]
    ask_id, _ = _split(str(action.get("value")))
    t = await reader_texts(rt, team, user)
    ask = await _ask(rt, ask_id)
    if ask is None or ask.id is None or ask.user_slack_id != user:
        await _say(respond, messages.ephemeral(t("intake.not_yours")), replace=False)
        return
    if ask.state != AskState.ASKED:
        await _say(respond, messages.ephemeral(t("intake.ask_answered")), replace=True)
        return
    if choice == ids.DEAL_ASK_NONE:
        if await rt.tx(settle_ask, ask_id=ask.id, state=AskState.DISMISSED):
            await _say(respond, messages.ephemeral(t("intake.ask_dismissed")), replace=True)
        return
    account = guess_account(ask.text, choice, user)
    if not account:
        view = intake_msg.ask_account_modal(t, ask_id=ask.id, outcome=choice)
        await client.views_open(trigger_id=body.get("trigger_id"), view=view)
        return
    work = _answer_from_ask(rt, respond, t, ask, choice, account, user)
    rt.spawn(work, name=f"deal-ask:{ask.id}")


async def _answer_from_ask(
    rt: Runtime,
    respond: AsyncRespond,
    t: Texts,
    ask: DealAsk,
    outcome: str,
    account: str,
    user: str,
) -> None:
    """Log the deal the poster confirmed; the question is replaced by what was done."""
    built = await log_from_ask(rt, ask, outcome, account, user)
    await _say(respond, built or messages.ephemeral(t("intake.ask_answered")), replace=True)


async def on_ask_account(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The account the poster typed, for the outcome they chose."""
    rt = rt_of(context)
    user, team = _user(body), _team_of(rt, body)
    view = body.get("view") or {}
    meta = read_metadata(view)
    t = await reader_texts(rt, team, user)
    account = _field(view, ids.DEAL_ASK_ACCOUNT_BLOCK, "value").strip()
    outcome = str(meta.get("outcome") or "")
    ask_id, _ = _split(str(meta.get("ask") or ""))
    ask = await _ask(rt, ask_id)
    if not account:
        await ack(
            response_action="errors",
            errors={ids.DEAL_ASK_ACCOUNT_BLOCK: t("errors.required_field")},
        )
        return
    if ask is None or ask.user_slack_id != user or outcome not in RITUAL_FOR:
        await ack(
            response_action="errors", errors={ids.DEAL_ASK_ACCOUNT_BLOCK: t("intake.not_yours")}
        )
        return
    await ack()
    rt.spawn(_confirm_from_ask(rt, ask, outcome, account, user), name=f"deal-ask-account:{ask_id}")


async def _confirm_from_ask(
    rt: Runtime, ask: DealAsk, outcome: str, account: str, user: str
) -> None:
    built = await log_from_ask(rt, ask, outcome, account, user)
    if built is None:
        return  # answered already (a second submit): nothing new to say
    try:
        await rt.client.chat_postEphemeral(channel=ask.channel, user=user, **built.as_kwargs())
    except SlackApiError as e:
        log.warning("could not confirm the logged deal to %s: %s", user, api_error(e))


async def _ask(rt: Runtime, ask_id: int | None) -> DealAsk | None:
    return None if ask_id is None else await rt.tx(get_ask, write=False, ask_id=ask_id)


def _field(view: dict[str, Any], block: str, key: str) -> str:
    """One input's value in a submitted intake modal (each has a single input)."""
    values = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    return str((values.get(ids.DEAL_FIELD) or {}).get(key) or "")


# Channel messages -----------------------------------------------------------------------


async def channel_is_deals(rt: Runtime, team_id: str, channel: str) -> bool:
    """A deals channel of this workspace (DEALS_CHANNELS, or what an admin chose in App
    Home) by id, or by name (looked up once per channel, then remembered)."""
    settings = await effective(rt, team_id)
    if channel in settings.deals_channel_ids:
        return True
    name_channels = settings.deals_channel_names
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


def _event_team(rt: Runtime, body: dict[str, Any], context: AsyncBoltContext) -> str:
    return str(body.get("team_id") or context.get("team_id") or rt.team_id or "")


async def is_deal_candidate(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> bool:
    # Runs before the ack, so it must stay cheap: no parsing beyond what decides whether
    # the message is ours at all, and the workspace's settings come from memory (read
    # again from the database every few seconds at most).
    rt = rt_of(context)
    if event.get("subtype") not in DEAL_SUBTYPES or event.get("hidden"):
        return False
    if is_thread_reply(event):
        return False
    if rt.bot_user_id and event.get("user") == rt.bot_user_id:
        return False
    return await channel_is_deals(
        rt, _event_team(rt, body, context), str(event.get("channel") or "")
    )


async def is_correction(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> bool:
    if event.get("subtype") not in CORRECTION_SUBTYPES:
        return False
    rt = rt_of(context)
    return await channel_is_deals(
        rt, _event_team(rt, body, context), str(event.get("channel") or "")
    )


async def on_deals_channel_message(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    rt.spawn(intake_message(rt, body, event), name=f"deal-event:{body.get('event_id')}")


async def on_deals_channel_change(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
) -> None:
    rt = rt_of(context)
    rt.spawn(intake_correction(rt, body, event), name=f"deal-change:{body.get('event_id')}")


PICK_ACTIONS = re.compile(rf"^{ids.DEAL_PICK_PREFIX}(won|lost|no_decision)$")
CHANGE_ACTIONS = re.compile(rf"^(?:{ids.DEAL_CHANGE_YES}|{ids.DEAL_CHANGE_KEEP})$")
ASK_ACTIONS = re.compile(rf"^{ids.DEAL_ASK_PREFIX}(won|lost|no_decision|{ids.DEAL_ASK_NONE})$")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("deal", deal_command, help_key="help.line_deal")
    app.event("message", matchers=[is_deal_candidate])(on_deals_channel_message)
    app.event("message", matchers=[is_correction])(on_deals_channel_change)
    # "Not right?", its choices, "Change it?" and "Did a deal close?".
    app.action(ids.DEAL_FIX)(on_fix)
    app.action(PICK_ACTIONS)(on_pick_outcome)
    app.view(ids.DEAL_HANDOFF_VIEW)(on_handoff)
    app.action(CHANGE_ACTIONS)(on_change)
    app.action(ASK_ACTIONS)(on_ask)
    app.view(ids.DEAL_ASK_ACCOUNT_VIEW)(on_ask_account)


NUDGE_KINDS = (NudgeKind(DEAL_DM, render_deal_dm, after_deal_dm),)
