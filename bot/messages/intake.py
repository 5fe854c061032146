"""Deal intake: the "Not right?" menu on every deal DM and what its choices show, the
"Did a deal close?" question to a poster, and "Change it?" for a deal logged twice with
different outcomes.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

from typing import Any

from bot.messages import Built, Texts, as_built, outcome_word
from bot.messages.blocks import (
    Block,
    actions,
    button,
    context,
    input_block,
    modal_view,
    option,
    section,
    text_field,
)
from bot.slack import ids

OUTCOMES = ("won", "lost", "no_decision")
FIXES = ("outcome", "owner", "withdraw")
FIX_LABELS = {
    "outcome": "intake.fix_outcome",
    "owner": "intake.fix_owner",
    "withdraw": "intake.fix_withdraw",
}
ASK_CHOICES = ("won", "lost", "no_decision", ids.DEAL_ASK_NONE)
ASK_LABELS = {
    "won": "intake.ask_won",
    "lost": "intake.ask_lost",
    "no_decision": "intake.ask_no_decision",
    ids.DEAL_ASK_NONE: "intake.ask_none",
}
ACCOUNT_MAX = 200


def fix_menu(t: Texts, *, deal_id: int) -> Block:
    """A small "Not right?" line with an overflow: wrong outcome, not my deal, not a deal."""
    overflow = {
        "type": "overflow",
        "action_id": ids.DEAL_FIX,
        "options": [option(t(FIX_LABELS[fix]), f"{deal_id}:{fix}") for fix in FIXES],
    }
    return section(t("intake.not_right"), block_id=ids.DEAL_FIX_BLOCK, accessory=overflow)


def withdrawn_dm(t: Texts, *, account: str, reason: str) -> Built:
    """What a deal DM becomes once the deal is withdrawn: no buttons left to press."""
    key = {
        "deleted": "intake.withdrawn_deleted",
        "edited": "intake.withdrawn_edited",
    }.get(reason, "intake.withdrawn_not_a_deal")
    text = t(key, account=account)
    return as_built(text, [section(text)])


def handed_dm(t: Texts, *, account: str, rep: str) -> Built:
    text = t("intake.handed_on", account=account, rep=f"<@{rep}>")
    return as_built(text, [section(text)])


def outcome_picker(t: Texts, *, deal_id: int, account: str, current: str) -> Built:
    """Which outcome it really was; the current one is left out."""
    text = t("intake.pick_outcome", account=account, outcome=outcome_word(t, current))
    buttons = [
        button(outcome_word(t, o).capitalize(), f"{ids.DEAL_PICK_PREFIX}{o}", f"{deal_id}:{o}")
        for o in OUTCOMES
        if o != current
    ]
    return as_built(text, [section(text), actions(ids.DEAL_PICK_BLOCK, *buttons)])


def handoff_modal(t: Texts, *, deal_id: int, account: str) -> dict[str, Any]:
    picker = {
        "type": "users_select",
        "action_id": ids.DEAL_FIELD,
        "placeholder": {"type": "plain_text", "text": t("intake.handoff_placeholder")[:150]},
    }
    return modal_view(
        ids.DEAL_HANDOFF_VIEW,
        title=t("intake.handoff_title"),
        submit=t("intake.handoff_submit"),
        close=t("intake.modal_close"),
        metadata={"deal": deal_id},
        blocks=[
            section(t("intake.handoff_intro", account=account)),
            input_block(ids.DEAL_HANDOFF_BLOCK, t("intake.handoff_label"), picker),
            context(t("intake.handoff_who_sees")),
        ],
    )


def ask_message(t: Texts, *, ask_id: int) -> Built:
    """The ephemeral "Did a deal close?" under a post the rules could not decide."""
    value = str(ask_id)
    buttons = [
        button(
            t(ASK_LABELS[c]),
            f"{ids.DEAL_ASK_PREFIX}{c}",
            value,
            style="primary" if c == "won" else None,
        )
        for c in ASK_CHOICES
    ]
    blocks = [section(t("intake.ask_question")), actions(ids.DEAL_ASK_BLOCK, *buttons)]
    return as_built(t("intake.ask_fallback"), blocks)


def ask_account_modal(t: Texts, *, ask_id: int, outcome: str) -> dict[str, Any]:
    return modal_view(
        ids.DEAL_ASK_ACCOUNT_VIEW,
        title=t("intake.ask_account_title"),
        submit=t("intake.ask_account_submit"),
        close=t("intake.modal_close"),
        metadata={"ask": ask_id, "outcome": outcome},
        blocks=[
            text_field(
                ids.DEAL_ASK_ACCOUNT_BLOCK,
                t("intake.ask_account_label", outcome=outcome_word(t, outcome)),
                action_id=ids.DEAL_FIELD,
                max_length=ACCOUNT_MAX,
            ),
        ],
    )


def change_question(t: Texts, *, deal_id: int, account: str, old: str, new: str) -> Built:
    """A deal logged again with another outcome: change the first, don't add a second."""
    old_word, new_word = outcome_word(t, old), outcome_word(t, new)
    text = t("intake.change_question", account=account, old=old_word, new=new_word)
    blocks = [
        section(text),
        actions(
            ids.DEAL_CHANGE_BLOCK,
            button(
                t("intake.change_yes"), ids.DEAL_CHANGE_YES, f"{deal_id}:{new}", style="primary"
            ),
            button(t("intake.change_keep", old=old_word), ids.DEAL_CHANGE_KEEP, f"{deal_id}:{old}"),
        ),
    ]
    return as_built(text, blocks)
