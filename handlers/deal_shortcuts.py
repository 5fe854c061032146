"""The shortcuts "Log as a closed deal" (on any message) and "Log a closed deal" (global).

Both open one modal: outcome, account, amount and rep, pre-filled from what the parser
reads in the message (or blank), for the person to confirm or fix. The submission goes
through the one intake (handlers/deal_intake.py), so a message already read as a deal,
or the same deal announced elsewhere, sends no second DM. The modal answers at once with
"Logging…" and is updated with what happened once the intake has decided.
"""

from __future__ import annotations

import asyncio
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.deals.parser import DealSignal, parse_deal_message
from bot.messages import Texts
from bot.messages.blocks import read_metadata
from bot.messages.deal_entry import amount_text, done_modal, log_deal_modal
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.errors import api_error
from bot.slack.people import load_person
from handlers.deal_intake import find_rep, take_in
from handlers.loop_command import reader_texts
from storage import nudges
from storage.deals import NewDeal
from storage.intake import NEW, REPEAT, RITUAL_FOR, Intake

log = logging.getLogger(__name__)

_AMOUNT = re.compile(
    r"\s*(?P<pre>[A-Za-z]{3}|[$€£])?\s*(?P<num>[0-9][0-9 .,']*)\s*(?P<post>[A-Za-z]{3}|[$€£])?\s*"
)
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
# A person waits on the modal: the rep check before its answer gets this long.
PERSON_CHECK_BUDGET = 1.0


def read_amount(text: str) -> tuple[Decimal, str | None] | None:
    """ "48000", "48,000 USD", "€ 12.500,50", "12 500": the amount and its currency code.
    None when it is not an amount. The last separator followed by one or two digits is
    the decimal point; every other one groups thousands."""
    match = _AMOUNT.fullmatch(text or "")
    if not match or (match["pre"] and match["post"]):
        return None
    digits = match["num"].strip()
    last = max(digits.rfind("."), digits.rfind(","))
    if last != -1 and 1 <= len(digits) - last - 1 <= 2:
        whole, cents = digits[:last], digits[last + 1 :]
    else:
        whole, cents = digits, ""
    whole = re.sub(r"[ .,']", "", whole)
    try:
        amount = Decimal(f"{whole}.{cents or '0'}").quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    code = match["pre"] or match["post"]
    code = _SYMBOLS.get(code, code.upper()) if code else None
    return (amount, code) if amount < Decimal(10) ** 14 else None


def _team(rt: Runtime, body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or rt.team_id or "")


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


# --- opening the modal -------------------------------------------------------------------


async def on_message_shortcut(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The modal, pre-filled with what the parser reads in the message."""
    await ack()
    rt = rt_of(context)
    user = _user(body)
    message: dict[str, Any] = body["message"] if isinstance(body.get("message"), dict) else {}
    channel = str((body.get("channel") or {}).get("id") or "")
    signal = parse_deal_message({**message, "channel": channel})
    team = _team(rt, body)
    t = await reader_texts(rt, team, user)
    view = log_deal_modal(
        t,
        outcome=signal.outcome if signal is not None else None,
        account=signal.account if signal is not None else None,
        amount=amount_text(signal.amount, signal.currency) if signal is not None else "",
        rep=await _guess_rep(rt, team, signal, message) or user,
        metadata={"channel": channel, "ts": str(message.get("ts") or "")},
    )
    await client.views_open(trigger_id=body.get("trigger_id"), view=view)


async def _guess_rep(
    rt: Runtime, team: str, signal: DealSignal | None, message: dict[str, Any]
) -> str | None:
    """The rep the message names (a mention, or an owner's e-mail in a CRM's post), else
    its poster when a person posted it."""
    if signal is not None and signal.rep_user_id:
        return signal.rep_user_id
    if signal is not None and signal.rep_email:
        found = await find_rep(rt, team, slack_id=None, email=signal.rep_email)
        if found.user_id:
            return found.user_id
    poster = message.get("user")
    return str(poster) if poster and not message.get("bot_id") else None


async def on_global_shortcut(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The same modal, blank but for the rep (whoever opened it)."""
    await ack()
    rt = rt_of(context)
    user = _user(body)
    t = await reader_texts(rt, _team(rt, body), user)
    view = log_deal_modal(t, outcome=None, account=None, amount="", rep=user, metadata={})
    await client.views_open(trigger_id=body.get("trigger_id"), view=view)


# --- the submission ----------------------------------------------------------------------


def _value(view: dict[str, Any], block: str, key: str) -> Any:
    values = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    return (values.get(ids.DEAL_FIELD) or {}).get(key)


async def _is_person(rt: Runtime, team_id: str, user_id: str) -> bool:
    try:
        person = await asyncio.wait_for(
            load_person(rt, team_id=team_id, user_id=user_id), PERSON_CHECK_BUDGET
        )
    except TimeoutError:
        return True  # a slow Slack gets the benefit of the doubt; the DM then tells
    except SlackApiError:
        return False
    return not (person.is_bot or person.deleted)


async def on_submit(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    rt = rt_of(context)
    user, team = _user(body), _team(rt, body)
    view = body.get("view") or {}
    t = await reader_texts(rt, team, user)
    outcome = str((_value(view, ids.LOG_DEAL_OUTCOME_BLOCK, "selected_option") or {}).get("value"))
    account = " ".join(str(_value(view, ids.LOG_DEAL_ACCOUNT_BLOCK, "value") or "").split())
    amount_raw = str(_value(view, ids.LOG_DEAL_AMOUNT_BLOCK, "value") or "").strip()
    rep = str(_value(view, ids.LOG_DEAL_REP_BLOCK, "selected_user") or "")
    amount = read_amount(amount_raw) if amount_raw else None
    errors: dict[str, str] = {}
    if outcome not in RITUAL_FOR:
        errors[ids.LOG_DEAL_OUTCOME_BLOCK] = t("errors.required_field")
    if not account:
        errors[ids.LOG_DEAL_ACCOUNT_BLOCK] = t("errors.required_field")
    if amount_raw and amount is None:
        errors[ids.LOG_DEAL_AMOUNT_BLOCK] = t("deal_entry.amount_bad")
    if not rep:
        errors[ids.LOG_DEAL_REP_BLOCK] = t("errors.required_field")
    elif not await _is_person(rt, team, rep):
        errors[ids.LOG_DEAL_REP_BLOCK] = t("intake.handoff_not_person")
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    working = done_modal(t, t("deal_entry.working", account=account))
    await ack(response_action="update", view=working)
    meta = read_metadata(view)
    new = NewDeal(
        team_id=team,
        account=account[:200],
        outcome=outcome,
        rep_slack_id=rep,
        reported_by=user,
        amount=amount[0] if amount else None,
        currency=amount[1] if amount else None,
        source="shortcut",
        source_channel=str(meta.get("channel") or "") or None,
        source_ts=str(meta.get("ts") or "") or None,
    )
    rt.spawn(_log(rt, t, new, user, str(view.get("id") or "")), name=f"deal-shortcut:{user}")


async def _log(rt: Runtime, t: Texts, new: NewDeal, user: str, view_id: str) -> None:
    got = await take_in(rt, new)
    text = _result_text(t, got, new, user)
    try:
        await rt.client.views_update(view_id=view_id, view=done_modal(t, text))
    except SlackApiError as e:
        # The modal was closed already: the deal is logged either way.
        log.info("could not show the shortcut's result: %s", api_error(e))


def _result_text(t: Texts, got: Intake, new: NewDeal, user: str) -> str:
    account, rep = got.account or new.account, f"<@{new.rep_slack_id}>"
    word = messages.outcome_word(t, str(got.outcome or new.outcome))
    if got.status == REPEAT:
        return t("deal.duplicate", account=account, outcome=word)
    if got.status != NEW:
        return t("deal_entry.already")
    if got.dm_state in (nudges.SENT, None):
        key = "deal.logged_self" if new.rep_slack_id == user else "deal.logged"
        return t(key, account=account, outcome=word, rep=rep)
    if got.dm_state == nudges.PENDING:
        return t("deal.logged_later", account=account, outcome=word, rep=rep)
    return t("errors.dm_failed", account=account, outcome=word, rep=rep)


def register(app: AsyncApp, rt: Runtime) -> None:
    app.shortcut(ids.LOG_DEAL_MESSAGE_SHORTCUT)(on_message_shortcut)
    app.shortcut(ids.LOG_DEAL_GLOBAL_SHORTCUT)(on_global_shortcut)
    app.view(ids.LOG_DEAL_VIEW)(on_submit)
