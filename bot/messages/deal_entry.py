"""Deals that come in without a channel post: the "Log a closed deal" modal (from the
message or the global shortcut) and what it answers, and, for admins in App Home, the
deals a CRM or a workflow sent that could not be taken in.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.clock import zone_of
from bot.messages import Texts, outcome_word
from bot.messages.blocks import (
    Block,
    context,
    header,
    input_block,
    modal_view,
    option,
    section,
    text_field,
)
from bot.slack import ids

OUTCOMES = ("won", "lost", "no_decision")
ACCOUNT_MAX = 200
AMOUNT_MAX = 40
PROBLEMS_SHOWN = 10


def amount_text(amount: Decimal | None, currency: str | None) -> str:
    """The amount as the modal shows it (and reads it back): "48000 USD"."""
    if amount is None:
        return ""
    shown = f"{amount:f}".rstrip("0").rstrip(".") if "." in f"{amount:f}" else f"{amount:f}"
    return f"{shown} {currency}" if currency else shown


def log_deal_modal(
    t: Texts,
    *,
    outcome: str | None,
    account: str | None,
    amount: str,
    rep: str | None,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """Outcome, account, amount and rep, pre-filled with what the parser read (or blank)."""
    outcome_select: Block = {
        "type": "static_select",
        "action_id": ids.DEAL_FIELD,
        "placeholder": {"type": "plain_text", "text": t("deal_entry.outcome_placeholder")[:150]},
        "options": [option(outcome_word(t, o), o) for o in OUTCOMES],
    }
    if outcome in OUTCOMES:
        outcome_select["initial_option"] = option(outcome_word(t, outcome), outcome)
    rep_select: Block = {
        "type": "users_select",
        "action_id": ids.DEAL_FIELD,
        "placeholder": {"type": "plain_text", "text": t("deal_entry.rep_placeholder")[:150]},
    }
    if rep:
        rep_select["initial_user"] = rep
    return modal_view(
        ids.LOG_DEAL_VIEW,
        title=t("deal_entry.title"),
        submit=t("deal_entry.submit"),
        close=t("intake.modal_close"),
        metadata=metadata,
        blocks=[
            input_block(ids.LOG_DEAL_OUTCOME_BLOCK, t("deal_entry.outcome_label"), outcome_select),
            text_field(
                ids.LOG_DEAL_ACCOUNT_BLOCK,
                t("deal_entry.account_label"),
                action_id=ids.DEAL_FIELD,
                max_length=ACCOUNT_MAX,
                initial=account,
            ),
            text_field(
                ids.LOG_DEAL_AMOUNT_BLOCK,
                t("deal_entry.amount_label"),
                action_id=ids.DEAL_FIELD,
                max_length=AMOUNT_MAX,
                initial=amount or None,
                optional=True,
                hint=t("deal_entry.amount_hint"),
            ),
            input_block(ids.LOG_DEAL_REP_BLOCK, t("deal_entry.rep_label"), rep_select),
            context(t("deal_entry.who_sees")),
        ],
    )


def done_modal(t: Texts, text: str) -> dict[str, Any]:
    """What the modal turns into once the deal is logged (or why it was not)."""
    return modal_view(
        ids.LOG_DEAL_DONE_VIEW,
        title=t("deal_entry.title"),
        close=t("deal_entry.done_close"),
        blocks=[section(text)],
    )


def problems_blocks(t: Texts, problems: Sequence[Any], *, tz: str | None) -> list[Block]:
    """For admins: deals a CRM or a workflow sent that reached no rep."""
    if not problems:
        return []
    lines = [
        t(
            "deal_entry.problem_line",
            date=_local(p.last_at, tz),
            source=t(f"deal_entry.source_{p.source}")
            if p.source in ("webhook", "workflow")
            else p.source,
            record=p.key,
            detail=p.detail,
            count=p.count,
        )
        for p in problems[:PROBLEMS_SHOWN]
    ]
    return [
        header(t("deal_entry.problems_header")),
        section("\n".join(lines)),
        context(t("deal_entry.problems_help")),
    ]


def _local(when: datetime | None, tz: str | None) -> str:
    return when.astimezone(zone_of(tz)).strftime("%Y-%m-%d %H:%M") if when else ""
