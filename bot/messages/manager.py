"""Manager makes the call: the streak offer to the rep, the manager's DM with the deal,
the rep's notes and guess and a call script, and what the rep is told afterwards."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, actions, button, context, divider, header, section
from bot.messages.debrief import answer_lines, guess_vs_reason, log_step, plain_reply
from bot.slack import ids


def streak_offer(t: Texts, *, deal_id: int, account: str, count: int, manager: str) -> Built:
    text = t("manager.streak_offer", count=count, manager=manager, account=account)
    value = str(deal_id)
    blocks: list[Block] = [
        section(text),
        actions(
            ids.STREAK_OFFER_BLOCK,
            button(t("manager.button_yes"), ids.STREAK_YES, value, style="primary"),
            button(t("manager.button_no"), ids.STREAK_NO, value),
        ),
    ]
    return as_built(text, blocks)


def streak_no_manager(t: Texts, *, deal_id: int, account: str, count: int, who: str) -> Built:
    """The streak offer for a rep without a manager: nobody to ask, so it says who can
    set one and offers the rep's own debrief script."""
    text = t("manager.streak_no_manager", count=count, account=account, who=who)
    ready = button(t("mode.button_ready"), ids.DEBRIEF_START, str(deal_id), style="primary")
    return as_built(text, [section(text), actions(ids.STREAK_OFFER_BLOCK, ready)])


def manager_dm(
    t: Texts,
    *,
    deal_id: int,
    rep: str,
    account: str,
    amount: str,
    date: datetime.date | str,  # the deal's local day; Texts writes it the reader's way
    notes: Mapping[str, str] | None,
    guess: str | None,
) -> Built:
    rep_ref = f"<@{rep}>"
    empty = t("manager.dm_empty")
    note_text = answer_lines(t, notes) if notes else ""
    value = str(deal_id)
    script = "\n".join(t(f"manager.script_line{i}", rep=rep_ref) for i in range(1, 5))
    blocks: list[Block] = [
        header(t("manager.dm_header", account=account)),
        section(t("manager.dm_intro", account=account, rep=rep_ref)),
        section(t("manager.dm_deal", account=account, amount=amount, date=date)),
        section(t("manager.dm_notes", rep=rep_ref, notes=note_text or empty)),
        section(t("manager.dm_guess", rep=rep_ref, guess=guess or empty)),
        divider(),
        header(t("manager.script_header")),
        section(script),
        context(t("manager.script_tip", rep=rep_ref)),
        actions(
            ids.MANAGER_CALL_BLOCK,
            button(t("manager.button_log"), ids.MANAGER_LOG_OPEN, value, style="primary"),
            button(t("manager.button_decline"), ids.MANAGER_DECLINE, value),
        ),
    ]
    return as_built(t("manager.fallback", rep=rep_ref, account=account), blocks)


def manager_logged(t: Texts, *, deal_id: int, rep: str) -> Built:
    return plain_reply(
        t("manager.saved", rep=f"<@{rep}>"),
        actions(
            ids.LOG_AFTER_BLOCK,
            button(t("common.button_edit"), ids.LOG_EDIT, log_step(deal_id, "manager")),
        ),
    )


def rep_result(
    t: Texts, *, manager: str, account: str, answers: Mapping[str, str], guess: str | None
) -> Built:
    """What the rep sees once their manager logged the call: the client's words, and
    the rep's own guess next to the client's reason."""
    text = t(
        "manager.rep_result",
        manager=f"<@{manager}>",
        account=account,
        notes=answer_lines(t, answers),
    )
    return plain_reply(
        text, section(guess_vs_reason(t, guess=guess, reason=answers.get("reason", "")))
    )


def manager_call_reminder(t: Texts, *, deal_id: int, rep: str, account: str, days: int) -> Built:
    text = t("reminder.manager_call", rep=f"<@{rep}>", account=account, days=days)
    value = str(deal_id)
    blocks: list[Block] = [
        section(text),
        actions(
            ids.REMINDER_BLOCK,
            button(t("reminder.button_log"), ids.MANAGER_LOG_OPEN, value, style="primary"),
            button(t("manager.button_decline"), ids.MANAGER_DECLINE, value),
        ),
    ]
    return as_built(t("reminder.manager_call_fallback", account=account), blocks)


def call_declined(t: Texts, *, deal_id: int, manager: str, account: str) -> Built:
    """The rep hears their manager won't make the call, and can run the debrief themselves."""
    text = t("manager.rep_declined", manager=f"<@{manager}>", account=account)
    ready = button(t("mode.button_ready"), ids.DEBRIEF_START, str(deal_id), style="primary")
    return plain_reply(text, actions(ids.DECLINED_BLOCK, ready))
